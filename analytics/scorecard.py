"""The scorecard: one row per rep, team or region with every KPI, plus the quadrant.

Why its own module: the monthly review is also mailed out, and a cron job
(`python -m analytics report scorecard`) must get exactly the numbers a manager sees on the
Reps page, so both read this one table.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from analytics.colours import NO_TEAM
from analytics.labels import NO_OWNER, NO_REGION
from analytics.metrics.kpis import KPI_COLUMNS, kpi_table, open_basis
from analytics.pointintime import open_figures_fields
from analytics.quadrant import quadrant
from analytics.scope import Scope, data_as_of

SCORECARD_GROUPINGS = ("rep", "team", "region")
# The row of deals whose group is not known, named as the pages name it: deals without an
# owner ("(no owner)", the leaderboard's row), owners the roster gives no team ("(no
# team)", the quadrant's legend and the drill-down) and owners it gives no region (not on
# the roster, no owner, or a roster row with a blank region): "(no region)", in the same
# words, so no grouping prints an empty name (or JSON null) for a real row.
MISSING_LABELS: dict[str, str] = {"rep": NO_OWNER, "team": NO_TEAM, "region": NO_REGION}


def scorecard(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    by: str = "rep",
    window_months: int | None = None,
) -> pd.DataFrame:
    """One row per rep, team or region: every KPI column, plus the quadrant for reps.

    The same `kpi_table` the leaderboard shows; for `by="rep"` the quadrant (its low-sample
    flag, and `quadrant_note`: why a rep is not placed, e.g. "not enough data: no deal
    closed in ...") comes from `analytics.quadrant.quadrant` with its defaults, as on the
    Reps page before any control is moved: the same window (the trailing quarter for a
    month, `window_months` to change it) and the same 100%-of-quota line. Reps the
    quadrant leaves out (no quota, deal or pipeline to judge) have an empty quadrant.
    Deals without an owner are the row "(no owner)", owners without a team on the roster
    the row "(no team)", owners without a region "(no region)" (`MISSING_LABELS`), as the
    pages name them, never an empty name.

    As on the pages, a period that was not over on the data's as-of date is taken to date
    and its changes are against the same days before (`Period.to_date`). A period that was
    over takes its open figures as of its last day; `open_as_of`, `open_source` and
    `open_snapshot_date` say where they came from (analytics/pointintime.py).
    """
    if by not in SCORECARD_GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}: use one of {', '.join(SCORECARD_GROUPINGS)}")
    scope = scope.to_date(data_as_of(con))
    table = kpi_table(con, scope, by)
    reasons: dict[str, str] = dict(table.attrs.get("no_data") or {})
    row_reasons: dict[object, dict[str, str]] = dict(table.attrs.get("row_no_data") or {})
    columns = [by, *[c for c in KPI_COLUMNS if c in table.columns]]
    table = table[columns].copy()
    # where the open figures' "then" came from (docs/metrics.md, "Point in time")
    for name, value in open_figures_fields(open_basis(con, scope.period)).items():
        table[name] = value
    if by == "rep":
        placed = quadrant(con, scope, window_months=window_months)[
            ["rep", "quadrant", "low_sample", "note"]
        ].rename(columns={"note": "quadrant_note"})
        table = table.merge(placed, on="rep", how="left")
    missing = MISSING_LABELS.get(by)
    if missing is not None:
        table[by] = table[by].astype(object).where(table[by].notna(), missing)
    out = table.reset_index(drop=True)
    out.attrs["no_data"] = reasons
    out.attrs["row_no_data"] = row_reasons
    out.attrs["notes"] = no_data_notes(reasons) + [
        f"no data for {(missing or f'the row without a {by}') if key is None else key}: {text}"
        for key, text in row_notes(row_reasons, column_names=True).items()
    ]
    return out


def no_data_notes(reasons: dict[str, str]) -> list[str]:
    """'no data: quota, quota_attainment ...: no quotas in the data', one line per reason.

    Why: the CLI writes a figure without data as an empty cell, which a reader of the CSV
    cannot tell from a figure not computed; the note (stderr, as the pages' help) says
    which columns are empty on purpose and why, in the pages' words.
    """
    by_reason: dict[str, list[str]] = {}
    for column, reason in reasons.items():
        by_reason.setdefault(reason, []).append(column)
    return [f"no data: {', '.join(cols)}: {reason}" for reason, cols in by_reason.items()]


def row_notes(
    row_reasons: dict[object, dict[str, str]], *, column_names: bool = False
) -> dict[object, str]:
    """Row key -> 'bookings, avg deal size: the 2 won deals carry no amount in this export'.

    Why: a rep whose own deals lack amounts has empty figures beside reps with real ones;
    a dash alone reads as "not defined" (no quota, no deal), so the row says which figures
    are no data and why (`kpis.row_no_data`), on the leaderboard and in the CLI's notes
    (`column_names`: the CSV's column names, as the CLI's other notes give them).
    """
    out: dict[object, str] = {}
    for key, reasons in row_reasons.items():
        by_reason: dict[str, list[str]] = {}
        for column, reason in reasons.items():
            if column in KPI_COLUMNS:  # the columns a reader sees (not pipeline_in_period)
                shown = column if column_names else column.replace("_", " ")
                by_reason.setdefault(reason, []).append(shown)
        if by_reason:
            out[key] = "; ".join(f"{', '.join(cols)}: {why}" for why, cols in by_reason.items())
    return out


def leaderboard(board: pd.DataFrame, placed: pd.DataFrame, roster: pd.DataFrame) -> pd.DataFrame:
    """The Reps page's leaderboard: one row per rep of `board` (`kpi_table(..., "rep")`).

    Columns: rep, team (from `roster`), quadrant and low_sample (from `placed`, the
    `quadrant` frame; empty for a rep it left out), `no_data` when some rep's own figures
    are no data (`row_notes`: which and why; empty for the others), then every KPI column
    of the board in
    KPI_COLUMNS order. Rows by bookings, highest first, reps without bookings last, ties
    in the board's order. Deals without an owner form one row, named NO_OWNER.

    Why here and not in the page: which rep sits where on the board is a figure the tests
    and a cron job must be able to reach (issue 16, item 6); the page only draws it.
    """
    rows = board[["rep", *[c for c in KPI_COLUMNS if c in board.columns]]].copy()
    rows = rows.merge(roster[["rep", "team"]], on="rep", how="left")
    rows = rows.merge(placed[["rep", "quadrant", "low_sample"]], on="rep", how="left")
    rows["rep"] = rows["rep"].fillna(NO_OWNER)
    first = ["rep", "team", "quadrant", "low_sample"]
    rows = rows[first + [c for c in rows.columns if c not in first]]
    rows = rows.sort_values("bookings", ascending=False, na_position="last", kind="stable")
    notes = row_notes(board.attrs.get("row_no_data") or {})
    if notes:
        # which of this rep's own figures are no data, and why (a dash alone reads as
        # "not defined"): only when some row has such a figure
        keyed = {NO_OWNER if k is None else k: text for k, text in notes.items()}
        rows.insert(rows.columns.get_loc("low_sample") + 1, "no_data", rows["rep"].map(keyed))
    return rows.reset_index(drop=True)
