"""The rep quadrant: performance level (x) against change since the window before (y).

Managers use it in the monthly or quarterly review to decide whom to coach (declining
laggards, falling stars) and whom to learn from (rising stars). See ../shared/domain.md.

- The **window**: the level is judged over a window long enough to mean something. When a
  month is viewed that is the trailing quarter (the month and the two before it;
  `window_months` changes it, 1 = the month alone); a quarter or a year is its own window.
  y compares with the window of the same length just before.
- x is the window's quota attainment (bookings / quota), or bookings when no rep in view
  has a quota in both windows (or when bookings are asked for);
- y is the same metric over the window minus over the window before (attainment in
  fractions of quota: +0.25 = 25 percentage points better; bookings in money);
- the x split defaults to 100% of quota when attainment is used, else to the median
  bookings of the reps who closed deals in the window; the y split defaults to 0.

Every figure comes from `analytics.metrics.kpis.kpi_table` (the window before from
`attainment_table`, the same query restricted to what y needs), so the quadrant, the
leaderboard and the `report scorecard` command can never disagree.

Tie rules (documented because a rep exactly on a line must land somewhere, always the
same place): x == x_split counts as high (on the line is not below it), and
y == y_split counts as up (holding level is not declining). Coaching attention goes to
reps who are strictly below a line.

A rep with no closed (won or lost) deal in either window is **not enough data**: not
placed, never a star for holding 0% twice. Reps with fewer than `min_closed_deals` closed
deals in the window are still classified and drawn, but flagged `low_sample`.

When the window before ends before the data starts (`availability.before_data`: no deal in
scope was created or closed yet), there is nothing to compare with: every rep's change is
no data (NaN, never a growth from 0), nobody is placed, and each note and the frame's
`attrs["no_change"]` say why in the Overview's words ("<window before>: no data yet: the
data starts on <day>").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any, Literal

import duckdb
import pandas as pd

from analytics.metrics.availability import before_data, data_start
from analytics.metrics.kpis import kpi_table
from analytics.metrics.performance import attainment_table
from analytics.scope import Period, Scope, same_days_end

XMetric = Literal["quota_attainment", "bookings"]
# kpi_table's signature: (con, scope, by) -> one row per group. Pages pass a cached
# wrapper of kpi_table so the leaderboard and the quadrant share one computation.
KpiFunction = Callable[[duckdb.DuckDBPyConnection, Scope, str], pd.DataFrame]
# attainment_table's signature: the window before's bookings and quota by rep
AttainmentFunction = Callable[[duckdb.DuckDBPyConnection, Scope, str], pd.DataFrame]
# kpi_tables' signature: (con, scope, periods, by) -> one row per period and group.
KpiTablesFunction = Callable[
    [duckdb.DuckDBPyConnection, Scope, tuple[Period, ...], str], pd.DataFrame
]

RISING_STAR = "rising star"
FALLING_STAR = "falling star"
IMPROVING_LAGGARD = "improving laggard"
DECLINING_LAGGARD = "declining laggard"
QUADRANTS: tuple[str, ...] = (RISING_STAR, FALLING_STAR, IMPROVING_LAGGARD, DECLINING_LAGGARD)

X_METRICS: dict[str, str] = {"quota_attainment": "Quota attainment", "bookings": "Bookings"}
DEFAULT_MIN_CLOSED_DEALS = 3
# Months a month's view is judged over (the trailing quarter); the choices a page offers.
DEFAULT_WINDOW_MONTHS = 3
WINDOW_CHOICES: tuple[int, ...] = (1, 3, 6, 12)
QUOTA_SPLIT = 1.0  # 100% of quota: the default x split when attainment is the measure
NOT_ENOUGH_DATA = "not enough data"

# Columns of the frame `quadrant` returns, in order.
QUADRANT_COLUMNS: tuple[str, ...] = (
    "rep",
    "team",
    "region",
    "x",
    "y",
    "quadrant",
    "low_sample",
    "open_pipeline",
    "closed_deals",
    "won_deals",
    "lost_deals",
    "bookings",
    "previous_bookings",
    "quota",
    "quota_attainment",
    "previous_quota_attainment",
    "win_rate",
    "avg_deal_size",
    "open_deals",
    "note",
)


def classify(x: float, y: float, x_split: float, y_split: float = 0.0) -> str:
    """The quadrant name for one point (ties: on a split line counts as high / up).

    Raises ValueError for a missing value (NaN or None): a rep without a figure cannot be
    placed, and silently calling it a laggard would be wrong.
    """
    values = {"x": x, "y": y, "x_split": x_split, "y_split": y_split}
    for name, value in values.items():
        if value is None or (isinstance(value, float) and math.isnan(value)):
            raise ValueError(f"cannot classify: {name} is missing")
    high = x >= x_split
    up = y >= y_split
    if high:
        return RISING_STAR if up else FALLING_STAR
    return IMPROVING_LAGGARD if up else DECLINING_LAGGARD


def quadrant_window(period: Period, window_months: int | None = None) -> Period:
    """The window a period's quadrant judges the level over (see the module docstring)."""
    if period.kind != "month":
        return period
    months = DEFAULT_WINDOW_MONTHS if window_months is None else int(window_months)
    return period.trailing(months)


def window_before(period: Period, window: Period) -> Period:
    """The window of the same length just before `window` (y's baseline).

    A period that is its own window steps back as periods do (2024-Q2 -> 2024-Q1, fiscal
    quarters included); a trailing window ends the month before `window` starts.
    """
    if window == period:
        return period.previous()
    months = (window.end.year - window.start.year) * 12 + window.end.month - window.start.month
    before = Period.containing(window.start - timedelta(days=1), "month").trailing(months + 1)
    if period.is_to_date:  # like for like: as many days as the window holds
        cut = same_days_end(window.start, window.end, before.start)
        if cut < before.end:
            before = replace(before, end=cut)
    return before


def roster(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Team and region of every rep on the roster (owners missing from it get none)."""
    return con.execute("SELECT rep, team, region FROM reps").df()


def _has_quota(table: pd.DataFrame) -> bool:
    quota = pd.to_numeric(table.get("quota"), errors="coerce")
    return bool(quota is not None and (quota > 0).any())


def resolve_x_metric(current: pd.DataFrame, previous: pd.DataFrame, wanted: str) -> str:
    """The x metric actually used: quota attainment needs quotas in both windows.

    With no quota for any rep in the window (or the one before, which y needs), attainment
    is undefined for everybody, so the quadrant falls back to bookings rather than showing
    an empty chart; the frame's attrs and every label then say bookings.
    """
    if wanted not in X_METRICS:
        raise ValueError(f"unknown x metric {wanted!r}: use {' or '.join(X_METRICS)}")
    if wanted == "quota_attainment" and not (_has_quota(current) and _has_quota(previous)):
        return "bookings"
    return wanted


def attainment_available(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    window_months: int | None = None,
    *,
    kpi: KpiFunction = kpi_table,
    attainment: AttainmentFunction = attainment_table,
) -> bool:
    """Whether quota attainment can be the x measure for `scope` (quotas in both windows).

    Pages ask before drawing their controls, so the controls name the measure that will
    actually be used instead of offering "% of quota" on an export without quotas. It
    judges from the same two tables `quadrant` falls back by (the window's `kpi` table,
    the window before's `attainment` table), so the controls and the chart cannot
    disagree, and a page passing cached ones computes each table once for both.
    """
    window = quadrant_window(scope.period, window_months)
    current = kpi(con, scope.with_period(window), "rep")
    before = attainment(con, scope.with_period(window_before(scope.period, window)), "rep")
    return resolve_x_metric(current, before, "quota_attainment") == "quota_attainment"


def _float(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def _booked(row: Any) -> float:
    """Bookings of a kpi_table row; empty with no won deal means 0 booked.

    Empty with won deals (every won deal unpriced) stays NaN: that amount is unknown.
    """
    value = _float(row.get("bookings"))
    if math.isnan(value) and _count(row.get("won_deals")) == 0:
        return 0.0
    return value


def _count(value: Any) -> int:
    """A deal count; missing means none."""
    out = _float(value)
    return 0 if math.isnan(out) else int(out)


def quadrant(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    x_metric: XMetric | str = "quota_attainment",
    x_split: float | None = None,
    y_split: float = 0.0,
    min_closed_deals: int = DEFAULT_MIN_CLOSED_DEALS,
    *,
    window_months: int | None = None,
    kpi: KpiFunction = kpi_table,
    current: pd.DataFrame | None = None,
    previous: pd.DataFrame | None = None,
    attainment: AttainmentFunction = attainment_table,
) -> pd.DataFrame:
    """One row per selling rep of `scope` with x, y, quadrant and the figures for the hover.

    The figures are over the window (`quadrant_window(scope.period, window_months)`: the
    trailing quarter for a month, the period itself otherwise) and y against the window
    before it (`window_before`).

    Which reps: every rep `kpi_table(by="rep")` returns for the window who sold anything to
    judge: a quota, a closed deal (in either window) or an open deal. Managers, SDRs and
    leavers with none of those are left out, so they cannot pull a median down.

    A rep who cannot be placed is kept with quadrant None and a `note` saying why: no
    closed deal in either window ("not enough data"), the window before ending before the
    data starts (no change to judge: `attrs["no_change"]` says so once for all),
    attainment without a quota in one of the windows, or bookings when no rep won a deal
    in the window and no split is set (the median has no rep to come from, so there is no
    line; deals without an owner never count as a rep's). The frame's `attrs` carry the metric
    used (`x_metric`, which differs from the one asked for after a fallback), `x_split`
    and how it was chosen (`x_split_rule`), `y_split`, `min_closed_deals`, `no_change`
    (why no rep has a change, or None), and the windows (`period`,
    `previous_period`, `window_months`).

    `current`: the window's `kpi(con, window scope, "rep")` when the caller has it already
    (the leaderboard's, when the window is the period itself), so it is not computed
    twice. `previous`: the window before, by rep, by default from `attainment`.
    """
    if min_closed_deals < 0:
        raise ValueError("min_closed_deals must be 0 or more")
    window = quadrant_window(scope.period, window_months)
    before_window = window_before(scope.period, window)
    if current is None or window != scope.period:
        current = kpi(con, scope.with_period(window), "rep")
    if previous is None:
        previous = attainment(con, scope.with_period(before_window), "rep")
    metric = resolve_x_metric(current, previous, str(x_metric))
    # the window before ends before any deal in scope: its 0s mean "no data yet"
    early = before_data(before_window, data_start(con, scope))
    no_change = None if early is None else f"{before_window.name}: {early}"

    # plain dicts: one lookup per rep instead of a pandas row selection per rep
    before = {r["rep"]: r for r in previous.to_dict("records") if isinstance(r["rep"], str)}
    rows: list[dict[str, Any]] = []
    unowned_won = 0  # the window's won deals without an owner: said when no rep won one
    for rec in current.to_dict("records"):
        rep = rec["rep"]
        if rep is None or (isinstance(rep, float) and math.isnan(rep)):
            unowned_won += _count(rec.get("won_deals"))
            continue  # deals without an owner belong to nobody's review
        prev = before.get(rep)
        won, lost = _count(rec.get("won_deals")), _count(rec.get("lost_deals"))
        prev_closed = (
            0 if prev is None else _count(prev.get("won_deals")) + _count(prev.get("lost_deals"))
        )
        quota = _float(rec.get("quota"))
        prev_quota = math.nan if prev is None else _float(prev.get("quota"))
        open_deals = _float(rec.get("open_deals"))
        sells = (
            won + lost + prev_closed > 0
            or (quota > 0)
            or (prev_quota > 0)
            or (not math.isnan(open_deals) and open_deals > 0)
        )
        if not sells:
            continue
        # kpi_table leaves bookings empty for a rep without any deal in scope: nothing
        # was booked, so for the quadrant that is 0 (as is a missing row last window).
        # Attainment without last window's row is unknown (no quota known): it stays NaN.
        bookings = _booked(rec)
        prev_bookings = 0.0 if prev is None else _booked(prev)
        attainment = _float(rec.get("quota_attainment"))
        prev_attainment = math.nan if prev is None else _float(prev.get("quota_attainment"))
        if no_change is not None:  # no figure before the data starts, not a 0 to grow from
            prev_bookings = prev_attainment = math.nan
        if metric == "bookings":
            x, before_x = bookings, prev_bookings
        else:
            x, before_x = attainment, prev_attainment
        if no_change is not None:
            note: str | None = no_change
        elif won + lost + prev_closed == 0:
            note = f"{NOT_ENOUGH_DATA}: no deal closed in {window.name} or {before_window.name}"
        else:
            note = _unplaced_note(metric, x, x - before_x, window, before_window)
        rows.append(
            {
                "rep": rep,
                "x": x,
                "y": x - before_x,
                "low_sample": won + lost < min_closed_deals,
                "open_pipeline": _float(rec.get("open_pipeline")),
                "closed_deals": won + lost,
                "won_deals": won,
                "lost_deals": lost,
                "bookings": bookings,
                "previous_bookings": prev_bookings,
                "quota": quota,
                "quota_attainment": attainment,
                "previous_quota_attainment": prev_attainment,
                "win_rate": _float(rec.get("win_rate")),
                "avg_deal_size": _float(rec.get("avg_deal_size")),
                "open_deals": open_deals,
                "note": note,
            }
        )

    out = pd.DataFrame(rows, columns=[c for c in QUADRANT_COLUMNS if c not in ("team", "region")])
    out = out.merge(roster(con), on="rep", how="left")
    placed = out["note"].isna()
    split, rule = x_split, "set by hand"
    if split is None:
        # without a change nobody is placed, but the level line is still the reps' own
        split, rule = default_x_split(metric, out if no_change else out.loc[placed])
    if math.isnan(split) and no_change is None:
        # no line to place by (no rep won a deal): each rep still to place says so, or the
        # result reads as a fault; the window's wins may all be the unowned row's
        out.loc[placed, "note"] = _no_line_note(window, unowned_won)
    # object columns, so "not placed" is None (pandas would turn it into NaN in a str column)
    out["quadrant"] = pd.Series(
        [
            classify(x, y, split, y_split) if ok and not math.isnan(split) else None
            for x, y, ok in zip(out["x"], out["y"], placed, strict=True)
        ],
        index=out.index,
        dtype=object,
    )
    out["low_sample"] = out["low_sample"].astype(bool)
    out["note"] = pd.Series(
        [None if pd.isna(n) else str(n) for n in out["note"]], index=out.index, dtype=object
    )
    out = out[list(QUADRANT_COLUMNS)].sort_values(["rep"], kind="stable").reset_index(drop=True)
    out.attrs.update(
        {
            "x_metric": metric,
            "x_metric_requested": str(x_metric),
            "x_split": split,
            "x_split_rule": rule,
            "y_split": float(y_split),
            "min_closed_deals": int(min_closed_deals),
            "period": window.name,
            "previous_period": before_window.name,
            "viewed_period": scope.period.name,
            "window_months": _months(window),
            "no_change": (
                None if no_change is None else f"No rep is placed: change has no data. {no_change}."
            ),
        }
    )
    return out


def default_x_split(metric: str, placed: pd.DataFrame) -> tuple[float, str]:
    """The x split when none is set, and the words that say how it was chosen.

    Attainment: 100% of quota, the line a manager already judges by (a median split calls
    half the team laggards whatever they did, and sits at 0% on a quiet month). Bookings
    has no such line: the median bookings of the reps who won deals in the window, so
    reps with nothing won cannot drag it to 0, and a rep with no bookings is never above
    it (a split of 0 would make a rep who only lost deals a "rising star").
    """
    if metric == "quota_attainment":
        return QUOTA_SPLIT, "100% of quota"
    won = placed[placed["won_deals"] > 0]["x"] if len(placed) else pd.Series(dtype=float)
    won = won[won > 0]
    if won.empty:
        return math.nan, "no rep won a deal"
    return float(won.median()), "median of the reps who won deals"


def _no_line_note(window: Period, unowned_won: int) -> str:
    """Why nobody is placed when no rep won a deal in the window (bookings' line is the
    median of the reps who won), naming the window's wins that have no owner: a won-deal
    export with blank owners places nobody, and this is where it says why."""
    note = f"no rep won a deal in {window.name}: bookings have no line to judge by"
    if unowned_won:
        deals = "1 deal won" if unowned_won == 1 else f"{unowned_won:,} deals won"
        note += f" (the {deals} in {window.name} {'has' if unowned_won == 1 else 'have'} no owner)"
    return note


def _months(window: Period) -> int:
    return (window.end.year - window.start.year) * 12 + window.end.month - window.start.month + 1


def _unplaced_note(metric: str, x: float, y: float, window: Period, before: Period) -> str | None:
    """Why a rep cannot be placed, or None when it can."""
    if not math.isnan(x) and not math.isnan(y):
        return None
    if metric == "quota_attainment":
        if math.isnan(x):
            return f"no quota in {window.name}"
        return f"no quota in {before.name}"
    return "no figure to compare"


def placed_points(q: pd.DataFrame, no_team: str) -> pd.DataFrame:
    """The reps `quadrant` placed, as the chart draws them, with two columns added.

    `team_label`: the rep's team, `no_team` (the page's words) where the roster gives none,
    so every point has a legend entry and a colour. `pipeline_share`: the rep's open
    pipeline over the largest among the placed reps, 0 to 1; a missing or negative
    pipeline counts 0, and all are 0 when nobody has any. The marker's area follows it,
    so a rep without pipeline is still drawn, at the smallest size.

    Why here: the share is a figure (what "largest" means, what a negative amount counts
    as), and a page only draws (issue 16, item 6).
    """
    placed = q[q["quadrant"].notna()].copy()
    placed["team_label"] = placed["team"].fillna(no_team)
    pipeline = pd.to_numeric(placed["open_pipeline"], errors="coerce").fillna(0.0).clip(lower=0.0)
    biggest = float(pipeline.max()) if len(pipeline) else 0.0
    placed["pipeline_share"] = (pipeline / biggest) if biggest > 0 else pipeline * 0.0
    return placed


def quadrant_counts(q: pd.DataFrame) -> dict[str, int]:
    """How many reps each quadrant holds, every quadrant named (0 when empty), in
    QUADRANTS order: the caption under the chart lists all four."""
    counts = q["quadrant"].value_counts()
    return {name: int(counts.get(name, 0)) for name in QUADRANTS}
