"""The rep quadrant: performance level (x) against change since the previous period (y).

Managers use it in the monthly or quarterly review to decide whom to coach (declining
laggards, falling stars) and whom to learn from (rising stars). See ../shared/domain.md.

- x is this period's quota attainment (bookings / quota), or bookings when quotas are
  missing or when bookings are asked for;
- y is the same metric this period minus the previous period (attainment in fractions of
  quota: +0.25 = 25 percentage points better; bookings in money);
- the x split defaults to the median x of the reps placed, the y split to 0.

Every figure comes from `analytics.metrics.kpis.kpi_table` (the previous period's from
`attainment_table`, the same query restricted to what y needs), so the quadrant, the
leaderboard and the `report scorecard` command can never disagree.

Tie rules (documented because a rep exactly on a line must land somewhere, always the
same place): x == x_split counts as high (on the median is not below it), and
y == y_split counts as up (holding level is not declining). Coaching attention goes to
reps who are strictly below a line.

Reps with fewer than `min_closed_deals` closed (won + lost) deals this period are still
classified and drawn, but flagged `low_sample`: one large deal must not make a star.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Literal

import duckdb
import pandas as pd

from analytics.metrics.kpis import kpi_table
from analytics.metrics.performance import attainment_table
from analytics.scope import Period, Scope

XMetric = Literal["quota_attainment", "bookings"]
# kpi_table's signature: (con, scope, by) -> one row per group. Pages pass a cached
# wrapper of kpi_table so the leaderboard and the quadrant share one computation.
KpiFunction = Callable[[duckdb.DuckDBPyConnection, Scope, str], pd.DataFrame]
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


def roster(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Team and region of every rep on the roster (owners missing from it get none)."""
    return con.execute("SELECT rep, team, region FROM reps").df()


def _has_quota(table: pd.DataFrame) -> bool:
    quota = pd.to_numeric(table.get("quota"), errors="coerce")
    return bool(quota is not None and (quota > 0).any())


def resolve_x_metric(current: pd.DataFrame, previous: pd.DataFrame, wanted: str) -> str:
    """The x metric actually used: quota attainment needs quotas in both periods.

    With no quota for any rep this period (or the previous one, which y needs), attainment
    is undefined for everybody, so the quadrant falls back to bookings rather than showing
    an empty chart.
    """
    if wanted not in X_METRICS:
        raise ValueError(f"unknown x metric {wanted!r}: use {' or '.join(X_METRICS)}")
    if wanted == "quota_attainment" and not (_has_quota(current) and _has_quota(previous)):
        return "bookings"
    return wanted


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
    kpi: KpiFunction = kpi_table,
    current: pd.DataFrame | None = None,
    previous: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per selling rep of `scope` with x, y, quadrant and the figures for the hover.

    Which reps: every rep `kpi_table(by="rep")` returns for the scope who sold anything to
    judge: a quota, a closed deal (this or the previous period) or an open deal. Managers,
    SDRs and leavers with none of those are left out, so they cannot pull the median down.

    A rep whose x or y is undefined (attainment without a quota in one of the periods) is
    kept with quadrant None and a `note` saying why, rather than being guessed into a
    corner. The frame's `attrs` carry the metric used (`x_metric`, which differs from the
    one asked for after a fallback), `x_split`, `y_split` and `min_closed_deals`.

    `current`: this period's `kpi(con, scope, "rep")` when the caller has it already (the
    leaderboard's), so it is not computed twice. `previous`: the previous period's table
    by rep, by default `attainment_table` (bookings, deals closed, quota and attainment are
    all y needs); a full kpi_table of that period works too.
    """
    if min_closed_deals < 0:
        raise ValueError("min_closed_deals must be 0 or more")
    if current is None:
        current = kpi(con, scope, "rep")
    if previous is None:
        previous = attainment_table(con, scope.previous(), "rep")
    metric = resolve_x_metric(current, previous, str(x_metric))

    # plain dicts: one lookup per rep instead of a pandas row selection per rep
    before = {r["rep"]: r for r in previous.to_dict("records") if isinstance(r["rep"], str)}
    rows: list[dict[str, Any]] = []
    for rec in current.to_dict("records"):
        rep = rec["rep"]
        if rep is None or (isinstance(rep, float) and math.isnan(rep)):
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
        # was booked, so for the quadrant that is 0 (as is a missing row last period).
        # Attainment without last period's row is unknown (no quota known): it stays NaN.
        bookings = _booked(rec)
        prev_bookings = 0.0 if prev is None else _booked(prev)
        attainment = _float(rec.get("quota_attainment"))
        prev_attainment = math.nan if prev is None else _float(prev.get("quota_attainment"))
        if metric == "bookings":
            x, before_x = bookings, prev_bookings
        else:
            x, before_x = attainment, prev_attainment
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
                "note": _unplaced_note(metric, x, x - before_x, scope),
            }
        )

    out = pd.DataFrame(rows, columns=[c for c in QUADRANT_COLUMNS if c not in ("team", "region")])
    out = out.merge(roster(con), on="rep", how="left")
    placed = out["note"].isna()
    split = x_split
    if split is None:
        split = float(out.loc[placed, "x"].median()) if placed.any() else math.nan
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
            "y_split": float(y_split),
            "min_closed_deals": int(min_closed_deals),
            "period": scope.period.label,
            "previous_period": scope.period.previous().label,
        }
    )
    return out


def _unplaced_note(metric: str, x: float, y: float, scope: Scope) -> str | None:
    """Why a rep cannot be placed, or None when it can."""
    if not math.isnan(x) and not math.isnan(y):
        return None
    if metric == "quota_attainment":
        if math.isnan(x):
            return f"no quota in {scope.period.label}"
        return f"no quota in {scope.period.previous().label}"
    return "no figure to compare"
