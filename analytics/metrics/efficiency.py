"""Efficiency KPIs per rep, team, region or company: activity mix, follow-ups, lead response.

Why one query: the three inputs (activities in the period, won deals with their touches,
leads created in the period) are grouped by the same key and land in the same leaderboard
row, so one statement reads each table once and a page pays one round trip. Activity
types are classified by the `activity_categories` setting (bound as parallel lists), so
ops decide what counts as selling time. Definitions: docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import duckdb
import pandas as pd

from analytics.metrics.derived import derived_current
from analytics.metrics.performance import PERIODS_SQL, group_expr, periods_params
from analytics.scope import Period, Scope, owner_filter_sql
from analytics.settings import ActivityCategory, load_activity_categories

# How many touches a won deal needs to count in `won_5plus_touches_share` (domain brief:
# 80% of deals need at least five follow-ups).
MIN_TOUCHES = 5
# Lead-response SLA bands, in minutes: 5 minutes, 1 hour, 1 day.
SLA_MINUTES = {"5min": 5, "1h": 60, "1day": 24 * 60}


# The two parts that read whole tables come from one of two sources. Counted: the
# derived tables every import keeps current (analytics/metrics/derived.py). Live: the
# same figures from the activities and deals themselves, for a database whose derived
# tables are stale (written by a script's own SQL) or absent (an old file read-only).
#
# Activities in a period, counted and summed per period, owner and type first: millions
# of rows (or a few thousand months) become a few thousand before the type is normalised
# and looked up or the roster joined. Counted: every period is whole months.
ACTIVITY_BUCKETS_COUNTED = """
activity_buckets AS (
    SELECT
        d.period_no,
        m.owner,
        m.activity_type,
        sum(m.activities)                                           AS activities,
        sum(m.minutes)                                              AS minutes
    FROM activity_months AS m
    JOIN period_days AS d ON d.day = m.month
    WHERE m.month BETWEEN $first_day AND $last_day
    GROUP BY ALL
)"""
ACTIVITY_BUCKETS_LIVE = """
activity_buckets AS (
    SELECT
        d.period_no,
        a.owner,
        a.activity_type,
        count(*)                                                    AS activities,
        sum(a.duration_minutes)                                     AS minutes
    FROM activities AS a
    JOIN period_days AS d ON d.day = CAST(a.started_at AS DATE)
    WHERE a.started_at >= CAST($first_day AS TIMESTAMP)
      AND a.started_at < CAST($last_day AS TIMESTAMP) + INTERVAL 1 DAY
    GROUP BY ALL
)"""

# Touches per deal won in a period: activities linked to it up to the end of its close
# day (after-sale onboarding calls did not win it); a won deal without any has 0.
WON_TOUCHES_COUNTED = """
won_touches AS (
    SELECT d.period_no, {grp} AS grp, t.touches
    FROM won_deal_touches AS t
    JOIN period_days AS d ON d.day = t.close_date
    LEFT JOIN reps AS r ON r.rep = t.owner
    WHERE {owner_filter}
      AND t.close_date BETWEEN $first_day AND $last_day
)"""
# Only activities up to the last period's last day can count, which spares reading the
# later ones; one join serves every period.
WON_TOUCHES_LIVE = """
won_in_period AS (
    SELECT d.period_no, {grp} AS grp, o.opportunity_id, o.close_date
    FROM opportunities AS o
    JOIN period_days AS d ON d.day = o.close_date
    LEFT JOIN reps AS r ON r.rep = o.owner
    WHERE {owner_filter}
      AND o.is_won
      AND o.close_date BETWEEN $first_day AND $last_day
),
linked_activities AS (
    SELECT a.opportunity_id, a.started_at
    FROM activities AS a
    WHERE a.opportunity_id IS NOT NULL
      AND a.started_at < CAST($last_day AS TIMESTAMP) + INTERVAL 1 DAY
),
won_touches AS (
    SELECT w.period_no, w.grp, count(a.opportunity_id) AS touches
    FROM won_in_period AS w
    LEFT JOIN linked_activities AS a
        ON a.opportunity_id = w.opportunity_id
       AND a.started_at < CAST(w.close_date AS TIMESTAMP) + INTERVAL 1 DAY
    GROUP BY w.period_no, w.grp, w.opportunity_id
)"""


def whole_months(periods: Sequence[Period]) -> bool:
    """Whether every period is whole calendar months, as `activity_months` needs.

    Every period the pages and reports build is; a hand-made one may not be, and is then
    counted live rather than rounded to months.
    """
    return all(p.start.day == 1 and (p.end + timedelta(days=1)).day == 1 for p in periods)


def _sources(by: str, counted: bool) -> tuple[str, str]:
    """The activity-buckets and won-touches CTEs for one grouping and source."""
    buckets = ACTIVITY_BUCKETS_COUNTED if counted else ACTIVITY_BUCKETS_LIVE
    touches = WON_TOUCHES_COUNTED if counted else WON_TOUCHES_LIVE
    table = "t" if counted else "o"
    touches = touches.format(
        grp=group_expr(by, f"{table}.owner"), owner_filter=owner_filter_sql(f"{table}.owner")
    )
    return buckets.strip(), touches.strip()


def efficiency_sql(by: str, *, counted: bool = True) -> str:
    """The efficiency query for one grouping (the group key and where the touches come
    from are the only varying SQL).

    Figures come per period of `PERIODS_SQL`'s bound lists and per group (`period_no`).
    `counted` reads the derived tables (only when `derived_current`).
    """
    buckets, touches = _sources(by, counted)
    return f"""
WITH categories AS (
    SELECT
        unnest($activity_types)   AS activity_type,
        unnest($customer_facing)  AS customer_facing,
        unnest($internal)         AS internal,
        unnest($prospecting)      AS prospecting,
        unnest($meeting)          AS meeting
),
{PERIODS_SQL},
{buckets},
period_activities AS (
    SELECT
        b.period_no,
        {group_expr(by, "b.owner")}        AS grp,
        b.activities,
        b.minutes,
        coalesce(c.customer_facing, false) AS customer_facing,
        coalesce(c.internal, false)        AS internal,
        coalesce(c.prospecting, false)     AS prospecting,
        coalesce(c.meeting, false)         AS meeting
    FROM activity_buckets AS b
    LEFT JOIN reps AS r ON r.rep = b.owner
    LEFT JOIN categories AS c ON c.activity_type = lower(trim(b.activity_type))
    WHERE {owner_filter_sql("b.owner")}
),
activity_figures AS (
    SELECT
        period_no,
        grp,
        CAST(sum(activities) AS BIGINT)                             AS activities,
        sum(minutes) FILTER (WHERE customer_facing)                 AS customer_facing_minutes,
        sum(minutes) FILTER (WHERE internal)                        AS internal_minutes,
        CAST(coalesce(sum(activities) FILTER (WHERE prospecting), 0) AS BIGINT)
                                                                    AS prospecting_activities,
        CAST(coalesce(sum(activities) FILTER (WHERE meeting), 0) AS BIGINT)
                                                                    AS meetings
    FROM period_activities
    GROUP BY period_no, grp
),
{touches},
touch_figures AS (
    SELECT
        period_no,
        grp,
        avg(touches)                                              AS touches_per_deal,
        avg(CASE WHEN touches >= $min_touches THEN 1.0 ELSE 0.0 END) AS won_5plus_touches_share
    FROM won_touches
    GROUP BY period_no, grp
),
period_leads AS (
    SELECT
        d.period_no,
        {group_expr(by, "l.owner")} AS grp,
        -- converted: the lead names its deal or has a conversion date, or a deal names the
        -- lead (a deals or won-deals file with a lead id, uploaded apart from the leads)
        l.opportunity_id IS NOT NULL OR l.converted_at IS NOT NULL
            OR l.lead_id IN (SELECT lead_id FROM opportunities WHERE lead_id IS NOT NULL)
                                    AS converted,
        -- greatest() skips NULLs, so an unanswered lead must stay NULL explicitly; a
        -- response logged before the lead (clock skew, lead made from a call) counts as 0
        CASE WHEN l.first_response_at IS NOT NULL
             THEN greatest(date_diff('second', l.created_at, l.first_response_at), 0) / 60.0
        END                         AS response_minutes
    FROM leads AS l
    JOIN period_days AS d ON d.day = CAST(l.created_at AS DATE)
    LEFT JOIN reps AS r ON r.rep = l.owner
    WHERE {owner_filter_sql("l.owner")}
      AND l.created_at >= CAST($first_day AS TIMESTAMP)
      AND l.created_at < CAST($last_day AS TIMESTAMP) + INTERVAL 1 DAY
),
lead_figures AS (
    SELECT
        period_no,
        grp,
        count(*)                                                    AS leads,
        count(*) FILTER (WHERE converted)                           AS converted_leads,
        count(response_minutes)                                     AS answered_leads,
        quantile_cont(response_minutes, 0.5)                        AS lead_response_median_minutes,
        quantile_cont(response_minutes, 0.9)                        AS lead_response_p90_minutes,
        count(*) FILTER (WHERE response_minutes <= $sla_5min)       AS sla_5min,
        count(*) FILTER (WHERE response_minutes <= $sla_1h)         AS sla_1h,
        count(*) FILTER (WHERE response_minutes <= $sla_1day)       AS sla_1day
    FROM period_leads
    GROUP BY period_no, grp
),
groups AS (
    SELECT period_no, grp FROM activity_figures
    UNION SELECT period_no, grp FROM touch_figures
    UNION SELECT period_no, grp FROM lead_figures
)
SELECT
    g.period_no,
    g.grp,
    coalesce(a.activities, 0)                                          AS activities,
    coalesce(a.customer_facing_minutes, 0) / nullif(
        coalesce(a.customer_facing_minutes, 0) + coalesce(a.internal_minutes, 0), 0
    )                                                                  AS selling_time_share,
    coalesce(a.prospecting_activities, 0)                              AS prospecting_activities,
    coalesce(a.meetings, 0)                                            AS meetings,
    a.meetings::DOUBLE / nullif(a.prospecting_activities, 0)           AS meeting_ratio,
    t.touches_per_deal,
    t.won_5plus_touches_share,
    coalesce(l.leads, 0)                                               AS leads,
    coalesce(l.converted_leads, 0)                                     AS converted_leads,
    l.converted_leads::DOUBLE / nullif(l.leads, 0)                     AS lead_to_opp_rate,
    l.lead_response_median_minutes,
    l.lead_response_p90_minutes,
    l.sla_5min::DOUBLE / nullif(l.leads, 0)                            AS lead_sla_5min_share,
    l.sla_1h::DOUBLE / nullif(l.leads, 0)                              AS lead_sla_1h_share,
    l.sla_1day::DOUBLE / nullif(l.leads, 0)                            AS lead_sla_1day_share
FROM groups AS g
LEFT JOIN activity_figures AS a
    ON a.period_no = g.period_no AND a.grp IS NOT DISTINCT FROM g.grp
LEFT JOIN touch_figures AS t
    ON t.period_no = g.period_no AND t.grp IS NOT DISTINCT FROM g.grp
LEFT JOIN lead_figures AS l
    ON l.period_no = g.period_no AND l.grp IS NOT DISTINCT FROM g.grp
ORDER BY g.period_no, g.grp NULLS LAST
"""


def category_params(categories: tuple[ActivityCategory, ...] | list) -> dict[str, Any]:
    """The activity categories as parallel bound lists (types lower-cased)."""
    return {
        "activity_types": [c.activity_type.strip().lower() for c in categories],
        "customer_facing": [bool(c.customer_facing) for c in categories],
        "internal": [bool(c.internal) for c in categories],
        "prospecting": [bool(c.prospecting) for c in categories],
        "meeting": [bool(c.meeting) for c in categories],
    }


def efficiency_table(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    by: str,
    *,
    categories: tuple[ActivityCategory, ...] | list | None = None,
) -> pd.DataFrame:
    """Efficiency KPIs for `scope`, one row per group found in activities, won deals or leads.

    Groups with no data at all are absent here; `kpis.kpi_table` adds the roster.
    """
    frame = efficiency_tables(con, scope, [scope.period], by, categories=categories)
    return frame.drop(columns="period_no")


def efficiency_tables(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    periods: Sequence[Period],
    by: str,
    *,
    categories: tuple[ActivityCategory, ...] | list | None = None,
) -> pd.DataFrame:
    """`efficiency_table` for the scope's filters over each of `periods` (not overlapping)
    in one query, keyed by `period_no` (the index in `periods`): one join of activities to
    the won deals serves every period."""
    params = efficiency_params(con, scope, periods, categories)
    counted = whole_months(periods) and derived_current(con)
    sql = efficiency_sql(by, counted=counted)
    frame = con.execute(sql, params).df()
    return frame.rename(columns={"grp": by})


def efficiency_params(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    periods: Sequence[Period],
    categories: tuple[ActivityCategory, ...] | list | None = None,
) -> dict[str, Any]:
    """The values `efficiency_sql` binds (categories default to the setting)."""
    cats = categories if categories is not None else load_activity_categories(con)
    return (
        periods_params(scope, periods)
        | category_params(cats)
        | {"min_touches": MIN_TOUCHES}
        | {f"sla_{k}": float(v) for k, v in SLA_MINUTES.items()}
    )
