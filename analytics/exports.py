"""Tables as downloadable files: CSV and Excel bytes from a DataFrame.

Why a module of its own: every table on the pages (leaderboard, drill-down deals, funnel)
offers the same two downloads, and both must be safe to open. Rep names, account names and
deal names come from users' CRM files, so a cell such as ``=HYPERLINK(...)`` or
``+1+2`` would run as a formula when a manager opens the file in a spreadsheet
("CSV injection"). Text cells that start with ``= + - @`` (or a tab / carriage return,
which some spreadsheets strip before reading a formula) are written with a leading single
quote, the spreadsheet convention for "this is text". Numbers are never touched: -5 stays
the number -5.

It also says how each KPI column is read (`KPI_UNITS`, `LOWER_IS_BETTER`, `NOW_ONLY`), so
every page formats and colours a figure the same way. These live here, in a module that
imports nothing of the analytics, so a page showing KPIs does not depend on every report.
"""

from __future__ import annotations

import io
import math
from datetime import date, datetime, time
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
EXCEL_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIME = "text/csv"
# How each KPI column is read, for anyone presenting it (pages, e-mails): money in the
# reporting currency, share 0-1, count, days, minutes, ratio (x times), number, flag.
KPI_UNITS: dict[str, str] = {
    "bookings": "money",
    "won_deals": "count",
    "lost_deals": "count",
    "win_rate": "share",
    "win_rate_value": "share",
    "avg_deal_size": "money",
    "open_pipeline": "money",
    "weighted_pipeline": "money",
    "open_deals": "count",
    "quota": "money",
    "quota_attainment": "share",
    "at_or_above_quota": "flag",
    "leads": "count",
    "lead_to_opp_rate": "share",
    "opp_to_won_rate": "share",
    "sales_velocity": "money",
    "pipeline_coverage": "ratio",
    "unpriced_deals": "count",
    "selling_time_share": "share",
    "meeting_ratio": "share",
    "median_cycle_days": "days",
    "mean_cycle_days": "days",
    "lead_response_median_minutes": "minutes",
    "lead_response_p90_minutes": "minutes",
    "lead_sla_5min_share": "share",
    "lead_sla_1h_share": "share",
    "lead_sla_1day_share": "share",
    "touches_per_deal": "number",
    "won_5plus_touches_share": "share",
}
# A rise is bad news for these (a red delta when they go up).
LOWER_IS_BETTER: frozenset[str] = frozenset(
    {
        "lost_deals",
        "median_cycle_days",
        "mean_cycle_days",
        "lead_response_median_minutes",
        "lead_response_p90_minutes",
        "unpriced_deals",
    }
)
# Figures about the deals open *now*: the database holds no past pipeline, so a past
# period's value is today's pipeline again and a change against it means nothing.
NOW_ONLY: frozenset[str] = frozenset(
    {"open_pipeline", "weighted_pipeline", "open_deals", "pipeline_coverage", "sales_velocity"}
)
# Excel number formats per unit: the stored value keeps full precision, the format only
# decides how a cell reads (thousands separators on money, shares as percentages).
EXCEL_FORMATS: dict[str, str] = {
    "money": "#,##0.00",
    "share": "0.0%",
    "count": "#,##0",
    "days": "0.0",
    "minutes": "#,##0.0",
    "ratio": '0.00"x"',
    "number": "#,##0.00",
}
# Columns outside KPI_UNITS, read by the end of their name (first match wins). A share
# suffix counts only when every value could be a share (see `column_unit`).
_SUFFIX_UNITS: tuple[tuple[str, str], ...] = (
    ("_days", "days"),
    ("_minutes", "minutes"),
    ("_share", "share"),
    ("_rate", "share"),
    ("attainment", "share"),
    ("accuracy", "share"),
    ("wape", "share"),
    ("bias", "share"),
    ("amount", "money"),
    ("amount_reporting", "money"),
    ("bookings", "money"),
    ("pipeline", "money"),
    ("quota", "money"),
    ("payout", "money"),
    ("commission", "money"),
    ("credited", "money"),
    ("forecast", "money"),
    ("actual", "money"),
    ("_deals", "count"),
)
_SHARE_LIMIT = 10.0  # a "share" column holding 37.5 means per cent already: left as is
_MAX_SHEET_TITLE = 31  # Excel's limit on a worksheet name
_MAX_COLUMN_WIDTH = 60


def escape_text(value: Any) -> Any:
    """A text value a spreadsheet would read as a formula gets a leading quote; others pass."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def escaped(df: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell (and the column names) escaped; numbers unchanged.

    Every column that is not numbers, flags or dates is checked cell by cell, whatever
    its dtype says: a categorical column of rep names holds text too.
    """
    out = df.copy()
    out.columns = [escape_text(str(c)) for c in out.columns]
    for index in range(out.shape[1]):
        series = out.iloc[:, index]
        dtype = series.dtype
        if (
            pd.api.types.is_bool_dtype(dtype)
            or pd.api.types.is_numeric_dtype(dtype)
            or pd.api.types.is_datetime64_any_dtype(dtype)
            or pd.api.types.is_timedelta64_dtype(dtype)
        ):
            continue
        out.isetitem(index, series.map(escape_text).astype(object))
    return out


def _without_infinities(df: pd.DataFrame) -> pd.DataFrame:
    """Infinities (a ratio over 0) as missing: pandas would write them as 'inf'."""
    out = df.copy()
    for index in range(out.shape[1]):
        series = out.iloc[:, index]
        if pd.api.types.is_float_dtype(series.dtype) and not series.empty:
            out.isetitem(index, series.where(~series.isin([math.inf, -math.inf])))
    return out


def column_unit(name: str, series: pd.Series) -> str | None:
    """How a numeric column reads (a key of EXCEL_FORMATS), or None to leave it general.

    KPI columns by their definition (KPI_UNITS); other columns by the end of their name.
    Text, dates and flags get no number format.
    """
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return None
    key = str(name).strip().lower()
    unit = KPI_UNITS.get(key)
    if unit is None:
        unit = next((u for suffix, u in _SUFFIX_UNITS if key.endswith(suffix)), None)
        if unit == "share":
            values = pd.to_numeric(series, errors="coerce").abs()
            if bool((values > _SHARE_LIMIT).any()):
                return "number"
    if unit == "flag":
        return None
    if unit == "count" and pd.api.types.is_float_dtype(dtype):
        values = series.dropna()
        if not bool((values == values.round()).all()):
            return "number"
    return unit


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    """UTF-8 CSV with a byte-order mark (so Excel detects UTF-8 for names like 'Müller').

    Missing values (and infinities) are empty cells, never 'nan', 'None' or 'inf'; numbers
    keep their full precision (no rounding: the file is for recomputing).
    """
    text = escaped(_without_infinities(df)).to_csv(index=False, lineterminator="\r\n")
    return ("\ufeff" + text).encode("utf-8")


def _cell_value(value: Any) -> Any:
    """A value openpyxl can store as-is: plain Python numbers, text, dates; None for missing."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, str):
        # Control characters (other than tab and newlines) are invalid in the xlsx XML.
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    if isinstance(value, date | time | bool | int):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if hasattr(value, "item"):  # numpy scalars, decimals via float below
        return _cell_value(value.item())
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, int | float):
        return value
    try:
        return float(value)  # Decimal
    except (TypeError, ValueError):
        return str(value)


def to_excel_bytes(df: pd.DataFrame, sheet_name: str = "data") -> bytes:
    """One-sheet .xlsx: bold header, frozen first row, columns sized to their content.

    Numbers keep full precision and get a number format by unit (`column_unit`): money
    with thousands separators, shares as percentages, days with one decimal. Missing
    values and infinities are empty cells.

    Written with openpyxl cell by cell rather than `DataFrame.to_excel`, because openpyxl
    stores any string starting with '=' as a formula; here every text cell is forced to
    the string type after escaping, so nothing from a CRM file can become a formula.
    """
    wb = Workbook()
    ws = wb.active
    title = "".join(ch for ch in sheet_name if ch not in "[]:*?/\\")[:_MAX_SHEET_TITLE]
    ws.title = title or "data"
    safe = escaped(df)
    ws.append([str(c) for c in safe.columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.data_type = "s"
    for row in safe.itertuples(index=False, name=None):
        ws.append([_cell_value(v) for v in row])
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never "f", whatever the text looks like
    for index, column in enumerate(df.columns, start=1):
        unit = column_unit(str(column), df.iloc[:, index - 1])
        if unit is None:
            continue
        for (cell,) in ws.iter_rows(min_row=2, min_col=index, max_col=index):
            if isinstance(cell.value, int | float) and not isinstance(cell.value, bool):
                cell.number_format = EXCEL_FORMATS[unit]
    ws.freeze_panes = "A2"
    for index, column in enumerate(safe.columns, start=1):
        values = [str(column), *(str(v) for v in safe.iloc[:200, index - 1] if v is not None)]
        width = min(_MAX_COLUMN_WIDTH, max(len(v) for v in values) + 2)
        ws.column_dimensions[get_column_letter(index)].width = width
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
