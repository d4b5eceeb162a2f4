"""One rep's drill-down: KPIs over time, activity mix, their deals and the funnel of those deals.

Why these pieces: after the quadrant says *who* needs attention, the manager's next
questions are "since when?" (KPIs over the last 12 periods), "what does the rep spend
time on?" (activity mix), "what is on their desk?" (open deals, deals closed in the period)
and "where do their deals stall?" (the Funnel page's funnel, for the rep's deals).

Every function takes the page's Scope and a rep name; only the scope's period matters
(a rep's own figures do not depend on the team/region filters), and its access: a rep
outside it is refused (AccessDenied), since these reads go by owner name alone. The KPI history goes
through `kpi_tables` (all periods in one go), so each point equals the figure the
leaderboard shows when that period is selected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import duckdb
import pandas as pd

from analytics.access import EVERYTHING, Access
from analytics.funnel import Funnel, funnel
from analytics.metrics.availability import (
    NO_LOST_AMOUNT,
    data_start,
    no_data_reasons_by_period,
)
from analytics.metrics.kpis import KPI_COLUMNS, kpi_tables
from analytics.numbers import number_or_none
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
    `attrs["no_data"]`: per period label, the figures that have no data and why
    (`analytics.metrics.availability`), with the rep's own row reasons
    (`kpis.row_no_data`: all their won, or open, deals lack a value) where the table has them.
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
        every.attrs["row_no_data"] = {
            p.label: part.attrs.get("row_no_data") or {}
            for p, part in zip(wanted, parts, strict=True)
        }
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
    out = pd.DataFrame(rows, columns=["period", "period_start", *KPI_COLUMNS])
    # per period label: KPI column -> why it has no data (no quotas, no activity data ...),
    # so the page says "no data" with the reason instead of a dash or an empty chart
    reasons = no_data_reasons_by_period(con, everyone, wanted)
    # and this rep's own: won (open) deals that all lack a value (kpis.row_no_data)
    own = every.attrs.get("row_no_data") or {}
    for label in reasons:
        reasons[label] = own.get(label, {}).get(rep, {}) | reasons[label]
    out.attrs["no_data"] = reasons
    return out


def no_data_everywhere(history: pd.DataFrame) -> dict[str, str]:
    """KPI column -> reason, for the KPIs marked no data in every period of a `kpi_history`
    (its attrs) and without a value in any of them.

    Why: such a KPI (quota attainment without quotas, selling time without activities)
    drawn over time is an empty chart with a 0-400% axis; the page names it with the
    reason instead, and leaves it out of the default selection.
    """
    per_period = history.attrs.get("no_data", {})
    labels = list(history["period"])
    if not labels or not per_period:
        return {}
    first = per_period.get(labels[0], {})
    return {
        column: reason
        for column, reason in first.items()
        if column in history.columns
        and all(column in per_period.get(label, {}) for label in labels)
        and history[column].isna().all()
    }


def closed_count(figures: pd.Series) -> int:
    """Deals the rep closed in the period: won + lost of a `kpi_history` row.

    Why not a KPI column: the table keeps won and lost apart (win rate needs both); the
    card shows their sum, and a count the export does not carry counts as none.
    """
    return sum(int(number_or_none(figures.get(c)) or 0) for c in ("won_deals", "lost_deals"))


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


# Does the data record what lost deals were worth? Many exports write 0 (or nothing) for
# every lost deal; then a lost deal's 0 is "not recorded", not "worth nothing".
LOST_AMOUNTS_SQL = """
SELECT count(*)                                       AS lost_deals,
       count(*) FILTER (WHERE coalesce(amount, 0) <> 0) AS priced_lost
FROM opportunities
WHERE is_closed AND NOT is_won
"""


def lost_amounts_recorded(con: duckdb.DuckDBPyConnection) -> bool:
    """False when the data holds lost deals and not one of them carries an amount: the
    export does not record lost amounts (see NO_LOST_AMOUNT). True otherwise."""
    lost, priced = con.execute(LOST_AMOUNTS_SQL).fetchone()
    return not lost or bool(priced)


def closed_deals(con: duckdb.DuckDBPyConnection, scope: Scope, rep: str) -> pd.DataFrame:
    """The rep's deals closed (won or lost) in the scope's period, newest first.

    The period is the page's period on purpose: the won rows add up to the rep's
    bookings figure, so a manager can reconcile the number with the deals behind it.
    When the export records no lost amounts at all, a lost deal's amount is blank (no
    data), not 0, and `attrs["no_data"]["amount"]` says why.
    """
    check_rep(con, scope.access, rep)
    params = {"rep": rep, "period_start": scope.period.start, "period_end": scope.period.end}
    table = con.execute(CLOSED_DEALS_SQL, params).df()
    table.attrs["no_data"] = {}
    if not lost_amounts_recorded(con):
        lost = table["outcome"] == "lost"
        table.loc[lost, "amount"] = float("nan")  # shown blank; CSV cell empty
        if lost.any():
            table.attrs["no_data"]["amount"] = (
                f"{NO_LOST_AMOUNT} (every lost deal is written with 0 or no amount), so a "
                "lost deal's amount is blank, not 0"
            )
    return table


def deal_funnel(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    rep: str,
    stages: Sequence[Stage] | None = None,
) -> Funnel:
    """The Funnel page's funnel of the rep's deals: `analytics.funnel.funnel` on the scope's
    period with the rep filter (team and region filters dropped: a rep's own figures do not
    depend on them).

    Why not a funnel of its own: the drill-down used to draw "deals open now plus deals
    closed in the period" with every configured stage as a step and Closed Lost below
    Closed Won, so a rep's funnel disagreed with the Funnel page filtered to that rep. Now
    it is that funnel: the stages the rep's deals used, won and lost as outcomes, lost
    deals without history as "stage unknown", and the same "no data" reasons.
    """
    check_rep(con, scope.access, rep)
    mine = replace(scope, team=None, region=None, rep=rep)
    return funnel(con, mine, stages=list(stages) if stages is not None else None)
