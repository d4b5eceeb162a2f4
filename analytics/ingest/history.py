"""What has been imported: the Data page's history table and the CLI's listing."""

from __future__ import annotations

import duckdb
import pandas as pd

HISTORY_SQL = """
WITH recent AS (
    SELECT import_id, file_name, kind, source_format, encoding, as_of_date,
           rows_read, rows_loaded, rows_rejected, rows_inserted, rows_updated,
           started_at, finished_at
    FROM imports
    ORDER BY import_id DESC
    LIMIT ?
)
SELECT * FROM recent ORDER BY import_id DESC
"""


def import_history(con: duckdb.DuckDBPyConnection, limit: int = 200) -> pd.DataFrame:
    """The latest uploads, newest first."""
    return con.execute(HISTORY_SQL, [limit]).df()
