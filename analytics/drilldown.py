"""One rep's drill-down: KPIs over time, activity mix, their deals and the funnel of those deals.

Why these pieces: after the quadrant says *who* needs attention, the manager's next
questions are "since when?" (KPIs over the last 12 periods), "what does the rep spend
time on?" (activity mix), "what is on their desk?" (open deals, deals closed in the period)
and "where do their deals stall?" (funnel over the stage list ops keep in settings).

Every function takes the page's Scope and a rep name; only the scope's period matters
(a rep's own figures do not depend on the team/region filters), and its access: a rep
outside it is refused (AccessDenied), since these reads go by owner name alone. The KPI history goes
through `kpi_tables` (all periods in one go), so each point equals the figure the
leaderboard shows when that period is selected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from analytics.access import EVERYTHING, Access
from analytics.metrics.availability import data_start
from analytics.metrics.kpis import KPI_COLUMNS, kpi_tables
from analytics.quadrant import KpiFunction, KpiTablesFunction
from analytics.scope import Scope, check_rep
from analytics.settings import Stage, load_activity_categories, load_stages

DEFAULT_HISTORY_PERIODS = 12


def data_version(con: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """Changes whenever an import lands or a setting is saved (stages, currency, fiscal
    year, activity categories ...): pages put it in their cache keys, so a cached figure
    never outlives the data it was computed from."""
    imports = con.execute("SELECT max(import_id), count(*) FROM imports").fetchone()
    settings = con.execute("SELECT max(updated_at), count(*) FROM settings").fetchone()
    return (*imports, str(settings[0]), settings[1])


def kpi_history(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    rep: str,
    periods: int = DEFAULT_HISTORY_PERIODS,
    *,
    kpi: KpiFunction | None = None,
    tables: KpiTablesFunction = kpi_tables,
) -> pd.DataFrame:
    """The rep's KPI row for each of the last `periods` periods, oldest first.

    Each period's row is the rep's row of the whole company's rep table for that period:
    a rep's figures do not depend on the team/region filters (they only choose which reps
    are listed), and asking for every rep lets a cached `tables` serve the next rep's
    drill-down from the same tables. By default all periods come from one `kpi_tables`
    call (two queries in all); with `kpi` (kpi_table's signature) one call per period.
    Columns: period (label), period_start (date), then every KPI column. A period in which
    the rep has no row (not yet hired, no data) gets an all-missing row, so the line chart
    shows a gap instead of skipping the period. Periods that end before the first deal
    of the data are left out (the history starts where the data starts).
    """
    if periods < 1:
        raise ValueError("periods must be at least 1")
    check_rep(con, scope.access, rep)
    everyone = Scope(period=scope.period, access=scope.access)
    wanted = tuple(scope.period.shifted(-back) for back in range(periods - 1, -1, -1))
    # the history starts where the data starts: no 0 bookings before the first deal
    first = data_start(con, everyone)
    if first is not None:
        wanted = tuple(p for p in wanted if p.full_end >= first) or wanted[-1:]
    if kpi is not None:
        parts = [kpi(con, everyone.with_period(p), "rep").assign(period=p.label) for p in wanted]
        every = pd.concat(parts, ignore_index=True)
    else:
        every = tables(con, everyone, wanted, "rep")
    mine = every[every["rep"] == rep].set_index("period")
    rows: list[dict[str, Any]] = []
    for period in wanted:
        row: dict[str, Any] = {"period": period.label, "period_start": period.start}
        if period.label in mine.index:
            match = mine.loc[period.label]
            row |= {c: match[c] for c in KPI_COLUMNS if c in mine.columns}
        rows.append(row)
    return pd.DataFrame(rows, columns=["period", "period_start", *KPI_COLUMNS])


ACTIVITY_MIX_SQL = """
SELECT
    activity_type,
    count(*)                                         AS activities,
    round(coalesce(sum(duration_minutes), 0) / 60.0, 1) AS hours,
    count(*)::DOUBLE / sum(count(*)) OVER ()         AS share
FROM activities
WHERE owner = $rep
  AND started_at >= CAST($period_start AS TIMESTAMP)
  AND started_at < CAST($period_end AS TIMESTAMP) + INTERVAL 1 DAY
GROUP BY activity_type
ORDER BY activities DESC, activity_type
"""


def activity_mix(con: duckdb.DuckDBPyConnection, scope: Scope, rep: str) -> pd.DataFrame:
    """Activities the rep logged in the period by type: count, hours, share of count, and
    the category ops gave the type in settings (customer-facing, internal, other): the
    same mapping the selling-time KPI uses."""
    check_rep(con, scope.access, rep)
    params = {"rep": rep, "period_start": scope.period.start, "period_end": scope.period.end}
    mix = con.execute(ACTIVITY_MIX_SQL, params).df()
    categories = {c.activity_type: c for c in load_activity_categories(con)}

    def category(activity_type: str) -> str:
        found = categories.get(str(activity_type).strip().lower())
        if found is None:
            return "other"
        if found.customer_facing:
            return "customer-facing"
        return "internal" if found.internal else "other"

    mix["category"] = [category(t) for t in mix["activity_type"]]
    return mix


def _stage_frame(stages: Sequence[Stage]) -> dict[str, Any]:
    return {
        "stage_keys": [s.name.strip().lower() for s in stages],
        "stage_names": [s.name for s in stages],
        "stage_probabilities": [float(s.probability) for s in stages],
        "stage_order": list(range(len(stages))),
    }


OPEN_DEALS_SQL = """
WITH stage_list AS (
    SELECT unnest($stage_keys) AS stage_key, unnest($stage_probabilities) AS probability
)
SELECT
    o.opportunity_id,
    o.opportunity_name,
    o.account,
    o.stage,
    o.amount::DOUBLE                                      AS amount,
    o.currency,
    s.probability                                         AS stage_probability,
    (o.amount * coalesce(s.probability, 0) / 100.0)::DOUBLE AS weighted_amount,
    o.created_date,
    o.close_date                                          AS expected_close_date,
    o.snapshot_date - o.created_date                      AS age_days,
    o.close_date < o.snapshot_date                        AS past_close_date
FROM opportunities AS o
LEFT JOIN stage_list AS s ON s.stage_key = lower(trim(o.stage))
WHERE o.owner = $rep AND NOT o.is_closed
ORDER BY o.close_date NULLS LAST, o.amount DESC NULLS LAST, o.opportunity_id
"""


def open_deals(
    con: duckdb.DuckDBPyConnection,
    rep: str,
    stages: Sequence[Stage] | None = None,
    *,
    access: Access = EVERYTHING,
) -> pd.DataFrame:
    """The rep's deals open now (latest export), soonest expected close first.

    Age and "past close date" are measured on the export's as-of date, not today, so an
    old database does not make every deal look overdue.
    """
    check_rep(con, access, rep)
    stage_list = stages if stages is not None else load_stages(con)
    frame = _stage_frame(stage_list)
    params = {
        "rep": rep,
        "stage_keys": frame["stage_keys"],
        "stage_probabilities": frame["stage_probabilities"],
    }
    return con.execute(OPEN_DEALS_SQL, params).df()


CLOSED_DEALS_SQL = """
SELECT
    o.opportunity_id,
    o.opportunity_name,
    o.account,
    CASE WHEN o.is_won THEN 'won' ELSE 'lost' END AS outcome,
    o.amount::DOUBLE                               AS amount,
    o.currency,
    o.created_date,
    o.close_date,
    o.close_date - o.created_date                  AS cycle_days
FROM opportunities AS o
WHERE o.owner = $rep AND o.is_closed
  AND o.close_date BETWEEN $period_start AND $period_end
ORDER BY o.close_date DESC, o.opportunity_id
"""


def closed_deals(con: duckdb.DuckDBPyConnection, scope: Scope, rep: str) -> pd.DataFrame:
    """The rep's deals closed (won or lost) in the scope's period, newest first.

    The period is the page's period on purpose: the won rows add up to the rep's
    bookings figure, so a manager can reconcile the number with the deals behind it.
    """
    check_rep(con, scope.access, rep)
    params = {"rep": rep, "period_start": scope.period.start, "period_end": scope.period.end}
    return con.execute(CLOSED_DEALS_SQL, params).df()


# For each deal in the drill-down (open now, or closed in the period): the furthest open
# stage it reached in the stage list's order. Evidence: its current stage when open, the
# stage history (CRM's or derived from snapshots), and "won" (a won deal went through all
# open stages). Every deal reached at least the first stage.
FUNNEL_SQL = """
WITH stage_list AS (
    SELECT unnest($stage_keys) AS stage_key, unnest($stage_names) AS stage_name,
           unnest($stage_probabilities) AS probability, unnest($stage_order) AS stage_order,
           unnest($stage_closed) AS is_closed_stage
),
open_stages AS (SELECT * FROM stage_list WHERE NOT is_closed_stage),
deals AS (
    SELECT o.opportunity_id, o.stage, o.amount, o.is_closed, o.is_won
    FROM opportunities AS o
    WHERE o.owner = $rep
      AND (NOT o.is_closed OR o.close_date BETWEEN $period_start AND $period_end)
),
evidence AS (
    SELECT d.opportunity_id, s.stage_order
    FROM deals AS d JOIN open_stages AS s ON s.stage_key = lower(trim(d.stage))
    WHERE NOT d.is_closed
    UNION ALL
    SELECT h.opportunity_id, s.stage_order
    FROM opportunity_stage_history AS h
    JOIN deals AS d USING (opportunity_id)
    JOIN open_stages AS s ON s.stage_key = lower(trim(h.stage))
    UNION ALL
    SELECT d.opportunity_id, (SELECT max(stage_order) FROM open_stages)
    FROM deals AS d WHERE d.is_won
    UNION ALL
    SELECT d.opportunity_id, (SELECT min(stage_order) FROM open_stages)
    FROM deals AS d
),
furthest AS (
    SELECT opportunity_id, max(stage_order) AS furthest FROM evidence GROUP BY opportunity_id
),
per_deal AS (
    SELECT d.*, f.furthest, s.stage_order AS current_order
    FROM deals AS d
    JOIN furthest AS f USING (opportunity_id)
    LEFT JOIN stage_list AS s ON s.stage_key = lower(trim(d.stage))
)
SELECT
    s.stage_name                                                       AS stage,
    s.probability                                                      AS stage_probability,
    CASE
        WHEN NOT s.is_closed_stage
            THEN count(p.opportunity_id) FILTER (WHERE p.furthest >= s.stage_order)
        WHEN $won_stage = s.stage_order
            THEN count(p.opportunity_id) FILTER (WHERE p.is_won)
        ELSE count(p.opportunity_id) FILTER (WHERE p.is_closed AND NOT p.is_won
                                              AND p.current_order = s.stage_order)
    END                                                                AS reached,
    count(p.opportunity_id) FILTER (WHERE NOT p.is_closed AND p.current_order = s.stage_order)
                                                                       AS open_now,
    coalesce(sum(p.amount) FILTER (
        WHERE NOT p.is_closed AND p.current_order = s.stage_order), 0)::DOUBLE
                                                                       AS open_amount,
    count(p.opportunity_id) FILTER (WHERE NOT s.is_closed_stage AND p.is_closed AND NOT p.is_won
                                     AND p.furthest = s.stage_order)   AS lost_after,
    CASE WHEN NOT s.is_closed_stage THEN 'step'
         WHEN $won_stage = s.stage_order THEN 'won'
         ELSE 'lost' END                                               AS kind
FROM stage_list AS s
LEFT JOIN per_deal AS p ON TRUE
GROUP BY s.stage_name, s.probability, s.stage_order, s.is_closed_stage
ORDER BY s.stage_order
"""


def deal_funnel(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    rep: str,
    stages: Sequence[Stage] | None = None,
) -> pd.DataFrame:
    """Funnel of the rep's open deals and deals closed in the period, one row per stage.

    Columns: stage, stage_probability, reached (deals that got at least this far; for
    the closed stages, deals that ended there), open_now (open deals sitting at the stage
    now), open_amount, lost_after (deals lost whose furthest open stage was this one:
    where deals drop out), kind ('step' for an open stage, 'won', 'lost': won and lost
    are outcomes; `chart_rows` keeps lost off the drawn funnel). Stages come from settings
    in their funnel order; a deal whose stage is not in the list counts only towards the
    first stage.
    """
    check_rep(con, scope.access, rep)
    stage_list = list(stages if stages is not None else load_stages(con))
    won = [i for i, s in enumerate(stage_list) if s.is_won]
    params = _stage_frame(stage_list) | {
        "stage_closed": [bool(s.is_closed) for s in stage_list],
        "won_stage": won[0] if won else -1,
        "rep": rep,
        "period_start": scope.period.start,
        "period_end": scope.period.end,
    }
    return con.execute(FUNNEL_SQL, params).df()


def chart_rows(funnel: pd.DataFrame) -> pd.DataFrame:
    """The rows of `deal_funnel` drawn as a funnel: the stages some deal reached, then won.

    Lost is an outcome, not a step: drawn below Closed Won it would read as a stage after
    winning (issue 13.6). Its count stays in the table and in `lost_after`.
    """
    return funnel[(funnel["reached"] > 0) & (funnel["kind"] != "lost")]
