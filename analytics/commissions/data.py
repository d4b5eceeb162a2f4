"""The rows ops keep beside the CRM exports: credit splits, SPIFFs, draws, refunds/churn.

Why here and validated as a whole: CRM exports carry none of these, yet each changes a
payout. The Plans tab edits each table as one grid and saves it whole, so every save is
checked in full first (a split that sums to 90% would pay 10% of a deal to nobody) and
lands in one transaction or not at all. A locked month is unaffected by any save here:
its changes are paid as corrections in the next open month. Deleting a SPIFF a locked
month paid is refused (`_removed_but_paid`): tidying an ended one would claw it back.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb
import pandas as pd

from analytics import audit
from analytics.access import EVERYTHING, Access, require
from analytics.commissions.plans import to_decimal
from analytics.commissions.schema import ensure_schema
from analytics.db import transaction

REVERSAL_KINDS: tuple[str, ...] = ("refund", "churn", "lost")
SHARE_TOLERANCE = Decimal("0.0001")  # 3 x 0.3333 is a whole deal

SPLIT_COLUMNS = ("opportunity_id", "rep", "share")
SPIFF_COLUMNS = (
    "spiff_id", "name", "product", "role", "level", "start_date", "end_date",
    "amount_per_deal", "rate", "min_amount",
)  # fmt: skip
DRAW_COLUMNS = ("rep", "start_month", "end_month", "amount", "recoverable")
REVERSAL_COLUMNS = ("event_id", "opportunity_id", "event_date", "kind", "share", "note")


def _blank(value: Any) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _text(value: Any) -> str | None:
    return None if _blank(value) else str(value).strip()


def _day(value: Any, what: str) -> date | None:
    if _blank(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not a date (YYYY-MM-DD)") from None


def _number(value: Any, what: str) -> Decimal | None:
    return None if _blank(value) else to_decimal(value, what)


def _rows(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(rows, pd.DataFrame):
        return rows.to_dict("records")
    return [dict(r) for r in rows]


def _load(con: duckdb.DuckDBPyConnection, table: str, columns: tuple[str, ...]) -> pd.DataFrame:
    ensure_schema(con)
    return con.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY ALL").df()


def _replace(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: tuple[str, ...],
    values: list[tuple],
    access: Access,
) -> None:
    """Replace the table's rows and audit it, in one transaction (ops only)."""
    require(access, "edit_plans")
    marks = ", ".join("?" for _ in columns)
    with transaction(con):
        con.execute(f"DELETE FROM {table}")
        if values:
            con.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", values)
        audit.record(con, access.user, "commission_data_edit", table=table, rows=len(values))


# -- credit splits ---------------------------------------------------------------------------


def check_splits(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> tuple[list[tuple], list[str]]:
    """Clean rows and every problem: shares above 0, one row per deal and rep, and the
    shares of each deal summing to 1 (within 0.0001)."""
    problems: list[str] = []
    values: list[tuple] = []
    totals: dict[str, Decimal] = defaultdict(Decimal)
    seen: set[tuple[str, str]] = set()
    for n, row in enumerate(_rows(rows), start=1):
        if all(_blank(row.get(c)) for c in SPLIT_COLUMNS):
            continue
        opp, rep = _text(row.get("opportunity_id")), _text(row.get("rep"))
        try:
            share = _number(row.get("share"), f"split row {n}: share")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        if not opp or not rep:
            problems.append(f"split row {n}: needs an opportunity_id and a rep")
            continue
        if share is None or not 0 < share <= 1:
            problems.append(f"split row {n}: share must be above 0 and at most 1 (0.5 = half)")
            continue
        if (opp, rep) in seen:
            problems.append(f"split row {n}: {rep} is listed twice on {opp}")
            continue
        seen.add((opp, rep))
        totals[opp] += share
        values.append((opp, rep, share))
    for opp, total in sorted(totals.items()):
        if abs(total - 1) > SHARE_TOLERANCE:
            problems.append(f"the shares of {opp} sum to {total.normalize():f}, not 1")
    return values, problems


def load_splits(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _load(con, "credit_splits", SPLIT_COLUMNS)


def save_splits(
    con: duckdb.DuckDBPyConnection,
    rows: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    access: Access = EVERYTHING,
) -> int:
    """Replace every credit split; ValueError listing all problems, nothing saved."""
    ensure_schema(con)
    values, problems = check_splits(rows)
    if problems:
        raise ValueError("; ".join(problems))
    _replace(con, "credit_splits", SPLIT_COLUMNS, values, access)
    return len(values)


# -- SPIFFs ---------------------------------------------------------------------------------


def check_spiffs(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> tuple[list[tuple], list[str]]:
    problems: list[str] = []
    values: list[tuple] = []
    seen: set[str] = set()
    for n, row in enumerate(_rows(rows), start=1):
        if all(_blank(row.get(c)) for c in SPIFF_COLUMNS):
            continue
        where = f"SPIFF row {n}"
        try:
            start = _day(row.get("start_date"), f"{where}: start_date")
            end = _day(row.get("end_date"), f"{where}: end_date")
            per_deal = _number(row.get("amount_per_deal"), f"{where}: amount_per_deal")
            rate = _number(row.get("rate"), f"{where}: rate")
            minimum = _number(row.get("min_amount"), f"{where}: min_amount")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        spiff_id = _text(row.get("spiff_id"))
        name = _text(row.get("name")) or spiff_id
        per_deal, rate = per_deal or Decimal(0), rate or Decimal(0)
        if not spiff_id:
            problems.append(f"{where}: needs a spiff_id")
            continue
        if spiff_id in seen:
            problems.append(f"{where}: spiff_id {spiff_id!r} is used twice")
        seen.add(spiff_id)
        if start is None or end is None or end < start:
            problems.append(f"{where}: needs start_date <= end_date")
        if per_deal < 0 or not 0 <= rate <= 1:
            problems.append(f"{where}: amount_per_deal must be >= 0 and rate within 0-1")
        if per_deal == 0 and rate == 0:
            problems.append(f"{where}: pays nothing (set amount_per_deal or rate)")
        values.append(
            (spiff_id, name, _text(row.get("product")), _text(row.get("role")),
             _text(row.get("level")), start, end, per_deal, rate, minimum)
        )  # fmt: skip
    return values, problems


def load_spiffs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _load(con, "spiffs", SPIFF_COLUMNS)


def save_spiffs(
    con: duckdb.DuckDBPyConnection,
    rows: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    access: Access = EVERYTHING,
) -> int:
    ensure_schema(con)
    values, problems = check_spiffs(rows)
    problems += _removed_but_paid(con, {v[0] for v in values})
    if problems:
        raise ValueError("; ".join(problems))
    _replace(con, "spiffs", SPIFF_COLUMNS, values, access)
    return len(values)


def _removed_but_paid(con: duckdb.DuckDBPyConnection, kept: set[str]) -> list[str]:
    """A problem per SPIFF the save would delete although a locked month's statements pay
    it. Why: a locked month's changes are paid as corrections in the next open month, so
    deleting an ended SPIFF to tidy the list would take back everything it paid, which is
    never what tidying means. Editing its row stays a deliberate correction."""
    paid = con.execute(
        """
        -- a SPIFF line's key is spiff:<spiff_id>:<deal> (analytics.commissions.spiffs); a
        -- correction of one (an adjustment line in a later month) keeps the key
        WITH paid AS (
            SELECT l.line_key, l.opportunity_id, k.period_label
            FROM commission_locks AS k
            JOIN commission_statement_lines AS l ON l.run_id = k.run_id
            WHERE l.kind IN ('spiff', 'adjustment') AND starts_with(l.line_key, 'spiff:')
        )
        SELECT s.spiff_id, s.name,
               string_agg(DISTINCT p.period_label, ', ' ORDER BY p.period_label) AS months
        FROM spiffs AS s
        JOIN paid AS p ON p.line_key = 'spiff:' || s.spiff_id || ':' || p.opportunity_id
        GROUP BY s.spiff_id, s.name
        ORDER BY s.spiff_id
        """
    ).fetchall()
    return [
        f"SPIFF {spiff_id!r} ({name}) is paid in locked months ({months}): deleting it would "
        "take back what it paid there in the next open month. Keep its row: it pays nothing "
        "after its end date"
        for spiff_id, name, months in paid
        if spiff_id not in kept
    ]


# -- draws ----------------------------------------------------------------------------------


def check_draws(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> tuple[list[tuple], list[str]]:
    problems: list[str] = []
    values: list[tuple] = []
    spans: dict[str, list[tuple[date, date | None]]] = defaultdict(list)
    for n, row in enumerate(_rows(rows), start=1):
        if all(_blank(row.get(c)) for c in DRAW_COLUMNS if c != "recoverable"):
            continue
        where = f"draw row {n}"
        try:
            start = _day(row.get("start_month"), f"{where}: start_month")
            end = _day(row.get("end_month"), f"{where}: end_month")
            amount = _number(row.get("amount"), f"{where}: amount")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        rep = _text(row.get("rep"))
        if not rep or start is None:
            problems.append(f"{where}: needs a rep and a start_month")
            continue
        if start.day != 1 or (end is not None and end.day != 1):
            problems.append(f"{where}: draws start and end on the first day of a month")
        if end is not None and end < start:
            problems.append(f"{where}: end_month is before start_month")
        if amount is None or amount <= 0:
            problems.append(f"{where}: amount must be above 0")
        for other_start, other_end in spans[rep]:
            if (end is None or other_start <= end) and (other_end is None or start <= other_end):
                problems.append(f"{where}: {rep} already has a draw in those months")
                break
        spans[rep].append((start, end))
        recoverable = row.get("recoverable")
        flag = str(recoverable).strip().lower() in ("true", "1", "yes", "y")
        values.append((rep, start, end, amount, flag))
    return values, problems


def load_draws(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _load(con, "draws", DRAW_COLUMNS)


def save_draws(
    con: duckdb.DuckDBPyConnection,
    rows: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    access: Access = EVERYTHING,
) -> int:
    ensure_schema(con)
    values, problems = check_draws(rows)
    if problems:
        raise ValueError("; ".join(problems))
    _replace(con, "draws", DRAW_COLUMNS, values, access)
    return len(values)


# -- refunds and churn ------------------------------------------------------------------------


def check_reversals(
    rows: pd.DataFrame | Iterable[Mapping[str, Any]],
) -> tuple[list[tuple], list[str]]:
    problems: list[str] = []
    values: list[tuple] = []
    seen: set[str] = set()
    for n, row in enumerate(_rows(rows), start=1):
        if all(_blank(row.get(c)) for c in REVERSAL_COLUMNS):
            continue
        where = f"refund/churn row {n}"
        try:
            day = _day(row.get("event_date"), f"{where}: event_date")
            share = _number(row.get("share"), f"{where}: share")
        except ValueError as exc:
            problems.append(str(exc))
            continue
        opp = _text(row.get("opportunity_id"))
        kind = (_text(row.get("kind")) or "refund").lower()
        event_id = _text(row.get("event_id")) or (f"{kind}:{opp}:{day}" if opp and day else None)
        share = Decimal(1) if share is None else share
        if not opp or day is None:
            problems.append(f"{where}: needs an opportunity_id and an event_date")
            continue
        if kind not in REVERSAL_KINDS:
            problems.append(f"{where}: kind must be one of {', '.join(REVERSAL_KINDS)}")
        if not 0 < share <= 1:
            problems.append(f"{where}: share must be above 0 and at most 1 (1 = all of it)")
        if event_id in seen:
            problems.append(f"{where}: event_id {event_id!r} is used twice")
        seen.add(str(event_id))
        values.append((event_id, opp, day, kind, share, _text(row.get("note"))))
    return values, problems


def load_reversals(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return _load(con, "commission_reversals", REVERSAL_COLUMNS)


def save_reversals(
    con: duckdb.DuckDBPyConnection,
    rows: pd.DataFrame | Iterable[Mapping[str, Any]],
    *,
    access: Access = EVERYTHING,
) -> int:
    ensure_schema(con)
    values, problems = check_reversals(rows)
    if problems:
        raise ValueError("; ".join(problems))
    _replace(con, "commission_reversals", REVERSAL_COLUMNS, values, access)
    return len(values)
