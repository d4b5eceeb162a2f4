"""What every command shares: opening the database, reading a period, printing a table.

Why one module: a report, the backtest and any later command must refuse a missing
database the same way, read `2024-Q2` with the same fiscal year, and print the same CSV or
JSON, so a scheduled job can rely on one behaviour.
"""

from __future__ import annotations

import json
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

import duckdb
import pandas as pd

from analytics import db
from analytics.exports import escaped
from analytics.scope import Period, load_fiscal_start_month

FORMATS = ("csv", "json")


class ReportError(Exception):
    """Bad input a user can fix (period, database path): printed as one line, exit 2."""


def open_database(path: Path | None) -> duckdb.DuckDBPyConnection:
    """Open an existing database; a report never creates an empty one by mistake."""
    target = Path(path) if path is not None else db.default_db_path()
    if str(target) != ":memory:" and not target.is_file():
        raise ReportError(f"no database at {target} (import data first, or pass --db)")
    return db.connect(target)


def parse_period(con: duckdb.DuckDBPyConnection, text: str) -> Period:
    """Period.parse with the fiscal start month from settings, as the pages use it."""
    try:
        return Period.parse(text, load_fiscal_start_month(con))
    except ValueError as exc:
        raise ReportError(str(exc)) from None


def plain(value: Any) -> Any:
    """JSON-ready value: NaN/NaT -> null, numpy scalars -> Python, dates -> ISO text."""
    if value is None or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, int | float | str | bool):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    try:
        return float(value)  # Decimal
    except (TypeError, ValueError):
        return str(value)


def write(df: pd.DataFrame, fmt: str, out: TextIO) -> None:
    """CSV (header + rows, empty cell for a missing value) or a JSON array of objects.

    Numbers keep full precision in both, so a script comparing with the page gets
    exactly the same figure. CSV text cells that a spreadsheet would run as a formula
    (=, +, -, @...) get a leading quote, as in the pages' downloads: a scheduled report
    is often mailed and opened in Excel. JSON is for programs and keeps text as is.
    """
    if fmt == "csv":
        escaped(df).to_csv(out, index=False, lineterminator="\n")
    elif fmt == "json":
        records = [{str(k): plain(v) for k, v in row.items()} for row in df.to_dict("records")]
        json.dump(records, out, ensure_ascii=False, indent=1)
        out.write("\n")
    else:
        raise ReportError(f"unknown format {fmt!r}: use {' or '.join(FORMATS)}")
