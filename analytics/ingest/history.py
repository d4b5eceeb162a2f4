"""What has been imported: the Data page's history table and the CLI's listing."""

from __future__ import annotations

import duckdb
import pandas as pd

HISTORY_SQL = """
WITH recent AS (
    SELECT import_id, file_name, kind, source_format, encoding, as_of_date, as_of_source,
           rows_read, rows_loaded, rows_rejected, rows_warned, rows_inserted,
           -- replaced records that changed (imports before rows_unchanged: all replaced)
           CASE WHEN rows_unchanged IS NULL THEN rows_updated
                ELSE greatest(rows_loaded - rows_inserted - rows_unchanged, 0)
           END AS rows_updated,
           rows_unchanged, started_at, finished_at
    FROM imports
    ORDER BY import_id DESC
    LIMIT ?
)
SELECT * FROM recent ORDER BY import_id DESC
"""


def import_history(con: duckdb.DuckDBPyConnection, limit: int = 200) -> pd.DataFrame:
    """The latest uploads, newest first."""
    return con.execute(HISTORY_SQL, [limit]).df()


# The row-level records of the latest uploads, one query for both tables: `table` and its
# `what` column are fixed names from `_ROW_TABLES`, never user text.
_ROWS_SQL = """
WITH recent AS (
    SELECT import_id FROM imports ORDER BY import_id DESC LIMIT ?
)
SELECT t.import_id, i.file_name, t.line, t.column_name, t.value, t.{what}
FROM {table} t
JOIN imports i USING (import_id)
WHERE t.import_id IN (SELECT import_id FROM recent)
ORDER BY t.import_id DESC, t.line, t.column_name
"""
_ROW_TABLES = {"import_warnings": "warning", "quarantine": "problem"}


def _recent_rows(con: duckdb.DuckDBPyConnection, table: str, limit: int) -> pd.DataFrame:
    return con.execute(_ROWS_SQL.format(table=table, what=_ROW_TABLES[table]), [limit]).df()


def import_warnings(con: duckdb.DuckDBPyConnection, limit: int = 200) -> pd.DataFrame:
    """Rows of the latest uploads that loaded with a warning: ops check them in the CRM."""
    return _recent_rows(con, "import_warnings", limit)


def quarantined_rows(con: duckdb.DuckDBPyConnection, limit: int = 200) -> pd.DataFrame:
    """Rows of the latest uploads left out with "load valid rows, quarantine the rest":
    the file, row, column, value and problem of each, kept until the import is rolled
    back. Why: the result listing them is gone once the page reruns, and ops fix them in
    the CRM later, from this list."""
    return _recent_rows(con, "quarantine", limit)
