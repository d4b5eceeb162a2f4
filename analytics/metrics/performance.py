"""Performance KPIs per rep, team, region or the company, in one query over the deals.

Why one query: every figure of a leaderboard row (bookings, win rate, attainment, velocity,
coverage ...) must come from the same set of deals, converted with the same rates, or the
row can disagree with itself. The query reads `opportunities` once, prices each deal with
`analytics.metrics.fx.priced_sql` (ASOF JOIN on the dated rates), weighs open deals by the
stage probabilities ops keep in settings, adds quotas (pro-rated to the period) and the
roster (so a rep with no deals still gets a row). Definitions: docs/metrics.md.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd

from analytics.metrics.fx import fx_params, priced_sql
from analytics.scope import Scope, owner_filter_sql
from analytics.settings import Stage, load_stages

GROUPINGS = ("rep", "team", "region", "company")


def group_expr(by: str, owner_column: str) -> str:
    """SQL for the group key of a row joined to `reps AS r` (fixed identifiers only).

    rep -> the owner name; team/region -> the owner's roster attribute (NULL for owners
    missing from the roster); company -> the constant 'company'.
    """
    if by == "rep":
        return owner_column
    if by in ("team", "region"):
        return f"r.{by}"
    if by == "company":
        return "'company'"
    raise ValueError(f"unknown grouping {by!r}: use one of {', '.join(GROUPINGS)}")


def roster_sql(by: str) -> str:
    """The groups that must appear even without any deal: the roster within the filters."""
    if by == "company":
        return "SELECT 'company' AS grp"
    return f"""
    SELECT DISTINCT {group_expr(by, "r.rep")} AS grp
    FROM reps AS r
    WHERE {owner_filter_sql("r.rep")} AND {group_expr(by, "r.rep")} IS NOT NULL
    """


def performance_sql(by: str) -> str:
    """The performance query for one grouping (the group key is the only varying SQL)."""
    deal_group = group_expr(by, "o.owner")
    quota_group = group_expr(by, "q.owner")
    return f"""
WITH
-- Deals a figure can look at: closed in the period, open now, or created in the period.
scoped AS NOT MATERIALIZED (
    SELECT
        {deal_group}                                                  AS grp,
        o.amount,
        nullif(upper(trim(o.currency)), '')                           AS currency_key,
        o.stage,
        o.is_won,
        o.close_date,
        o.created_date,
        coalesce(o.is_closed AND o.close_date BETWEEN $period_start AND $period_end, false)
                                                                      AS closed_in_period,
        NOT o.is_closed                                               AS is_open,
        coalesce(o.created_date BETWEEN $period_start AND $period_end, false)
                                                                      AS created_in_period,
        CASE WHEN o.is_closed THEN o.close_date ELSE CAST($period_end AS DATE) END
                                                                      AS rate_day
    FROM opportunities AS o
    LEFT JOIN reps AS r ON r.rep = o.owner
    WHERE {owner_filter_sql("o.owner")}
      AND (
            NOT o.is_closed
         OR o.close_date BETWEEN $period_start AND $period_end
         OR o.created_date BETWEEN $period_start AND $period_end
      )
),
priced AS ({priced_sql("scoped")}),
deals AS (
    SELECT
        p.*,
        -- the stage's probability from settings (bound lists; a lookup, not a join)
        CASE WHEN p.is_open THEN coalesce(list_extract(
            $stage_probabilities, list_position($stage_keys, lower(trim(p.stage)))
        ), 0) END                                                     AS stage_probability,
        CASE WHEN p.closed_in_period AND p.is_won AND p.close_date >= p.created_date
             THEN p.close_date - p.created_date END                   AS cycle_days
    FROM priced AS p
),
deal_figures AS (
    SELECT
        grp,
        count(*) FILTER (WHERE closed_in_period OR is_open)           AS deals_in_scope,
        count(*) FILTER (WHERE closed_in_period AND is_won)           AS won_deals,
        count(*) FILTER (WHERE closed_in_period AND NOT is_won)       AS lost_deals,
        sum(amount_rc) FILTER (WHERE closed_in_period AND is_won)     AS won_amount,
        sum(amount_rc) FILTER (WHERE closed_in_period AND NOT is_won) AS lost_amount,
        avg(amount_rc) FILTER (WHERE closed_in_period AND is_won)     AS avg_deal_size,
        count(*) FILTER (WHERE is_open)                               AS open_deals,
        sum(amount_rc) FILTER (WHERE is_open)                         AS open_pipeline,
        sum(amount_rc * stage_probability / 100.0) FILTER (WHERE is_open)
                                                                      AS weighted_pipeline,
        sum(amount_rc) FILTER (
            WHERE is_open AND close_date BETWEEN $period_start AND $period_end
        )                                                             AS pipeline_in_period,
        count(*) FILTER (WHERE unpriced AND (closed_in_period OR is_open))
                                                                      AS unpriced_deals,
        count(*) FILTER (WHERE created_in_period)                     AS created_deals,
        count(*) FILTER (WHERE created_in_period AND is_won)          AS created_won,
        median(cycle_days)                                            AS median_cycle_days,
        avg(cycle_days)                                               AS mean_cycle_days
    FROM deals
    GROUP BY grp
),
-- Quotas overlapping the period, pro-rated by the days that fall inside it.
quota_figures AS (
    SELECT
        {quota_group} AS grp,
        sum(
            CAST(q.amount AS DOUBLE)
            * (least(q.period_end, CAST($period_end AS DATE))
               - greatest(q.period_start, CAST($period_start AS DATE)) + 1)
            / (q.period_end - q.period_start + 1)
        ) AS quota
    FROM quotas AS q
    LEFT JOIN reps AS r ON r.rep = q.owner
    WHERE {owner_filter_sql("q.owner")}
      AND q.period_start <= $period_end
      AND q.period_end >= $period_start
      AND q.period_end >= q.period_start
    GROUP BY ALL
),
groups AS (
    {roster_sql(by)}
    UNION SELECT grp FROM deal_figures
    UNION SELECT grp FROM quota_figures
),
joined AS (
    SELECT
        g.grp,
        coalesce(d.deals_in_scope, 0) > 0                               AS has_deals,
        coalesce(d.won_deals, 0)                                        AS won_deals,
        coalesce(d.lost_deals, 0)                                       AS lost_deals,
        coalesce(d.open_deals, 0)                                       AS open_deals,
        coalesce(d.unpriced_deals, 0)                                   AS unpriced_deals,
        coalesce(d.created_deals, 0)                                    AS created_deals,
        coalesce(d.created_won, 0)                                      AS created_won,
        d.won_amount, d.lost_amount, d.avg_deal_size, d.open_pipeline,
        d.weighted_pipeline, d.pipeline_in_period,
        d.median_cycle_days, d.mean_cycle_days,
        nullif(qf.quota, 0)                                             AS quota
    FROM groups AS g
    LEFT JOIN deal_figures AS d ON d.grp IS NOT DISTINCT FROM g.grp
    LEFT JOIN quota_figures AS qf ON qf.grp IS NOT DISTINCT FROM g.grp
),
figures AS (
    SELECT
        *,
        CASE WHEN has_deals THEN coalesce(won_amount, 0) END            AS bookings,
        CASE WHEN has_deals THEN coalesce(lost_amount, 0) END           AS lost_bookings,
        won_deals::DOUBLE / nullif(won_deals + lost_deals, 0)           AS win_rate
    FROM joined
)
SELECT
    grp,
    bookings,
    won_deals,
    lost_deals,
    win_rate,
    CASE WHEN won_deals + lost_deals > 0
         THEN bookings / nullif(bookings + lost_bookings, 0) END        AS win_rate_value,
    avg_deal_size,
    CASE WHEN has_deals THEN coalesce(open_pipeline, 0) END             AS open_pipeline,
    CASE WHEN has_deals THEN coalesce(weighted_pipeline, 0) END         AS weighted_pipeline,
    open_deals,
    quota,
    coalesce(bookings, 0) / quota                                       AS quota_attainment,
    coalesce(bookings, 0) / quota >= 1                                  AS at_or_above_quota,
    created_deals,
    created_won::DOUBLE / nullif(created_deals, 0)                      AS opp_to_won_rate,
    open_deals * win_rate * avg_deal_size / nullif(mean_cycle_days, 0)  AS sales_velocity,
    CASE WHEN has_deals THEN coalesce(pipeline_in_period, 0) END        AS pipeline_in_period,
    CASE WHEN quota - coalesce(bookings, 0) > 0
         THEN coalesce(pipeline_in_period, 0) / (quota - coalesce(bookings, 0)) END
                                                                        AS pipeline_coverage,
    unpriced_deals,
    median_cycle_days::DOUBLE                                           AS median_cycle_days,
    mean_cycle_days::DOUBLE                                             AS mean_cycle_days
FROM figures
ORDER BY grp NULLS LAST
"""


def stage_params(stages: tuple[Stage, ...] | list[Stage]) -> dict[str, Any]:
    """Stage probabilities as two parallel bound lists (names matched ignoring case)."""
    return {
        "stage_keys": [s.name.strip().lower() for s in stages],
        "stage_probabilities": [float(s.probability) for s in stages],
    }


def performance_table(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    by: str,
    *,
    stages: tuple[Stage, ...] | list[Stage] | None = None,
    reporting_currency: str | None = None,
) -> pd.DataFrame:
    """Performance KPIs for `scope`, one row per group; the key column is named `by`."""
    sql = performance_sql(by)
    params = (
        scope.params()
        | stage_params(stages if stages is not None else load_stages(con))
        | fx_params(con, reporting_currency)
    )
    frame = con.execute(sql, params).df()
    return frame.rename(columns={"grp": by})
