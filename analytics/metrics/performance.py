"""Performance KPIs per rep, team, region or the company, in one query over the deals.

Why one query: every figure of a leaderboard row (bookings, win rate, attainment, velocity,
coverage ...) must come from the same set of deals, converted with the same rates, or the
row can disagree with itself. The query reads the deals closed in the period one by one,
and the deals open now counted and summed per owner, currency and stage (a million-row
table shrinks to a few thousand rows before any string is normalised or rate looked up);
it prices them with the period's dated rates (`analytics.metrics.fx.period_rates_sql`, the
ASOF rule of `priced_sql`), weighs open deals by the stage probabilities ops keep in
settings, adds quotas (pro-rated to the period) and the roster (so a rep with no deals
still gets a row). Definitions: docs/metrics.md."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pandas as pd

from analytics.metrics.derived import stage_spans_current
from analytics.metrics.fx import fx_params, period_rates_sql
from analytics.pointintime import (
    Basis,
    as_of_params,
    as_of_totals_sql,
    bases,
    needs_created_stages,
)
from analytics.run_memo import fetch_frame
from analytics.scope import Period, Scope, data_as_of, owner_filter_sql
from analytics.settings import Stage, load_stages

GROUPINGS = ("rep", "team", "region", "company")


# The periods a KPI query answers, from bound parallel lists ($period_nos, $period_starts,
# $period_ends; see `periods_params`), and their days: a deal, activity or lead is matched
# to its period by a hash join on its date, so one query serves a whole trend and a single
# period costs no more than a range filter. `$first_day`/`$last_day` bound the scans.
PERIODS_SQL = """
periods AS (
    SELECT
        unnest($period_nos)    AS period_no,
        unnest($period_starts) AS period_start,
        unnest($period_ends)   AS period_end
),
period_days AS (
    SELECT
        p.period_no,
        CAST(unnest(generate_series(p.period_start, p.period_end, INTERVAL 1 DAY)) AS DATE)
            AS day
    FROM periods AS p
)"""


def periods_params(scope: Scope, periods: Sequence[Period]) -> dict[str, Any]:
    """`scope.params()` with the period given as `PERIODS_SQL`'s lists, numbered in order.

    The periods must not overlap (a deal open now is due in at most one of them).
    """
    if not periods:
        raise ValueError("at least one period is needed")
    ordered = sorted(periods, key=lambda p: p.start)
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.start <= before.end:
            raise ValueError(f"periods {before.label} and {after.label} overlap")
    params = {k: v for k, v in scope.params().items() if k not in ("period_start", "period_end")}
    return params | {
        "period_nos": list(range(len(periods))),
        "period_starts": [p.start for p in periods],
        "period_ends": [p.end for p in periods],
        "first_day": ordered[0].start,
        "last_day": max(p.end for p in periods),
    }


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


def performance_sql(
    by: str,
    *,
    attainment_only: bool = False,
    history: bool = True,
    spans: bool = False,
    created: bool = True,
) -> str:
    """The performance query for one grouping (the group key is the only varying SQL).

    Figures come per period of the bound `periods_sql` lists and per group, keyed by
    `period_no`. With `attainment_only`, only what quota attainment needs (deals closed in
    the period, quotas, the roster): the quadrant's previous period and the share of reps
    at quota. `history` False: no period's open figures come from the stage history
    (`pointintime.as_of_totals_sql`), so it is not read. `spans`: the imported changes
    come from `stage_history_spans` (only when `stage_spans_current`). `created` False:
    the deals created after a snapshot that answers a later day take no stage from the
    stage history (`pointintime.needs_created_stages`).
    """
    closed_group = group_expr(by, "o.owner")
    quota_group = group_expr(by, "q.owner")
    closed_ctes = f"""
{PERIODS_SQL},
period_rates AS ({period_rates_sql()}),
-- Deals closed in a period, one row each, priced on their close day. The periods' deals
-- are a small share of the table, so the roster join comes after the scan's filters.
closed_deals AS (
    SELECT
        d.period_no,
        {closed_group}                                                AS grp,
        o.amount,
        nullif(upper(trim(o.currency)), '')                           AS currency_key,
        o.close_date                                                  AS rate_day,
        o.is_won,
        CASE WHEN o.is_won AND o.close_date >= o.created_date
             THEN o.close_date - o.created_date END                   AS cycle_days
    FROM opportunities AS o
    JOIN period_days AS d ON d.day = o.close_date
    LEFT JOIN reps AS r ON r.rep = o.owner
    WHERE o.is_closed
      AND o.close_date BETWEEN $first_day AND $last_day
      AND {owner_filter_sql("o.owner")}
),
closed_priced AS ({_priced("closed_deals")}),
closed_figures AS (
    SELECT
        period_no,
        grp,
        count(*)                                                      AS closed_deals,
        count(*) FILTER (WHERE is_won)                                AS won_deals,
        count(*) FILTER (WHERE NOT is_won)                            AS lost_deals,
        sum(amount_rc) FILTER (WHERE is_won)                          AS won_amount,
        sum(amount_rc) FILTER (WHERE NOT is_won)                      AS lost_amount,
        avg(amount_rc) FILTER (WHERE is_won)                          AS avg_deal_size,
        count(*) FILTER (WHERE rate_missing AND amount IS NOT NULL)   AS unpriced_deals,
        count(*) FILTER (WHERE is_won AND amount_rc IS NOT NULL)      AS priced_won,
        count(*) FILTER (WHERE is_won AND rate_missing AND amount IS NOT NULL)
                                                                      AS rateless_won,
        median(cycle_days)                                            AS median_cycle_days,
        avg(cycle_days)                                               AS mean_cycle_days
    FROM closed_priced
    GROUP BY period_no, grp
),
-- Quotas overlapping a period, pro-rated by the days that fall inside it.
quota_figures AS (
    SELECT
        p.period_no,
        {quota_group} AS grp,
        sum(
            CAST(q.amount AS DOUBLE)
            * (least(q.period_end, p.period_end) - greatest(q.period_start, p.period_start) + 1)
            / (q.period_end - q.period_start + 1)
        ) AS quota
    FROM quotas AS q
    JOIN periods AS p ON q.period_start <= p.period_end AND q.period_end >= p.period_start
    LEFT JOIN reps AS r ON r.rep = q.owner
    WHERE {owner_filter_sql("q.owner")}
      AND q.period_end >= q.period_start
    GROUP BY ALL
),
roster AS (
    SELECT p.period_no, g.grp FROM periods AS p, ({roster_sql(by)}) AS g
)"""
    if attainment_only:
        return f"""
WITH
{closed_ctes},
groups AS (
    SELECT period_no, grp FROM roster
    UNION SELECT period_no, grp FROM closed_figures
    UNION SELECT period_no, grp FROM quota_figures
),
figures AS (
    SELECT
        g.period_no,
        g.grp,
        coalesce(c.won_deals, 0)                                        AS won_deals,
        coalesce(c.lost_deals, 0)                                       AS lost_deals,
        -- won deals none of which can be valued: the group's bookings are unknown, not 0
        coalesce(c.won_deals > 0 AND c.priced_won = 0, false)          AS won_unvalued,
        CASE WHEN c.closed_deals > 0 AND NOT coalesce(c.won_deals > 0 AND c.priced_won = 0, false)
             THEN coalesce(c.won_amount, 0) END                         AS bookings,
        nullif(qf.quota, 0)                                             AS quota
    FROM groups AS g
    LEFT JOIN closed_figures AS c
        ON c.period_no = g.period_no AND c.grp IS NOT DISTINCT FROM g.grp
    LEFT JOIN quota_figures AS qf
        ON qf.period_no = g.period_no AND qf.grp IS NOT DISTINCT FROM g.grp
)
SELECT
    period_no,
    grp,
    bookings,
    won_deals,
    lost_deals,
    quota,
    CASE WHEN NOT won_unvalued THEN coalesce(bookings, 0) / quota END  AS quota_attainment,
    CASE WHEN NOT won_unvalued THEN coalesce(bookings, 0) / quota >= 1 END
                                                                        AS at_or_above_quota
FROM figures
ORDER BY period_no, grp NULLS LAST
"""
    return f"""
WITH
{closed_ctes},
-- Deals open at each period's end (now, for a period not over yet: analytics/pointintime.py
-- says which source answers each past day), counted and summed per period, owner,
-- currency, stage and whether they were due to close in the period: a quarter of a million
-- deals become a few thousand rows before any string is normalised, any rate looked up (at
-- each period's end) or the roster joined. A rebuilt day knows no expected close dates
-- (`close_known` false), so coverage is left empty rather than read from later dates.
-- Rebuilt days come as totals (interval arithmetic), never as a row per deal and day.
{as_of_totals_sql(history=history, spans=spans, created=created)},
open_buckets AS (
    SELECT
        x.as_of_key                                                   AS period_no,
        x.owner,
        x.currency,
        x.stage,
        x.source NOT IN ('stage history', 'rebuilt')                  AS close_known,
        coalesce(x.close_date BETWEEN p.period_start AND p.period_end, false)
                                                                      AS closes_in_period,
        CAST(sum(x.deals) AS BIGINT)                                  AS deals,
        CAST(sum(x.with_amount) AS BIGINT)                            AS with_amount,
        sum(x.amount)                                                 AS amount
    FROM as_of_totals AS x
    JOIN periods AS p ON p.period_no = x.as_of_key
    GROUP BY ALL
),
open_deals AS (
    SELECT
        p.period_no,
        {group_expr(by, "b.owner")}                                   AS grp,
        b.deals,
        b.with_amount,
        b.amount,
        nullif(upper(trim(b.currency)), '')                           AS currency_key,
        p.period_end                                                  AS rate_day,
        b.close_known,
        b.closes_in_period,
        -- the stage's probability from settings (bound lists; a lookup, not a join);
        -- an unknown stage (rebuilt) weighs nothing and makes the weighted figure unknown
        CASE WHEN b.stage IS NOT NULL THEN coalesce(list_extract(
            $stage_probabilities, list_position($stage_keys, lower(trim(b.stage)))
        ), 0) END                                                     AS stage_probability
    FROM open_buckets AS b
    JOIN periods AS p ON p.period_no = b.period_no
    LEFT JOIN reps AS r ON r.rep = b.owner
    WHERE {owner_filter_sql("b.owner")}
),
open_priced AS ({_priced("open_deals")}),
open_figures AS (
    SELECT
        period_no,
        grp,
        CAST(sum(deals) AS BIGINT)                                    AS open_deals,
        sum(amount_rc)                                                AS open_pipeline,
        sum(amount_rc * stage_probability / 100.0)                    AS weighted_pipeline,
        sum(amount_rc) FILTER (WHERE closes_in_period)                AS pipeline_in_period,
        bool_and(close_known)                                         AS close_known,
        bool_and(stage_probability IS NOT NULL)                       AS stage_known,
        CAST(coalesce(sum(deals) FILTER (WHERE stage_probability IS NULL), 0) AS BIGINT)
                                                                      AS stage_unknown_deals,
        CAST(coalesce(sum(with_amount) FILTER (WHERE rate_missing), 0) AS BIGINT)
                                                                      AS unpriced_deals,
        CAST(coalesce(sum(with_amount) FILTER (WHERE NOT rate_missing), 0) AS BIGINT)
                                                                      AS priced_open
    FROM open_priced
    GROUP BY period_no, grp
),
-- Deals created in a period, won or not (for opportunity -> won).
created_figures AS (
    SELECT
        b.period_no,
        {group_expr(by, "b.owner")}                                   AS grp,
        CAST(sum(b.created_deals) AS BIGINT)                          AS created_deals,
        CAST(sum(b.created_won) AS BIGINT)                            AS created_won
    FROM (
        SELECT
            d.period_no,
            o.owner,
            count(*)                                                  AS created_deals,
            count(*) FILTER (WHERE o.is_won)                          AS created_won
        FROM opportunities AS o
        JOIN period_days AS d ON d.day = o.created_date
        WHERE o.created_date BETWEEN $first_day AND $last_day
        GROUP BY ALL
    ) AS b
    LEFT JOIN reps AS r ON r.rep = b.owner
    WHERE {owner_filter_sql("b.owner")}
    GROUP BY ALL
),
groups AS (
    SELECT period_no, grp FROM roster
    UNION SELECT period_no, grp FROM closed_figures
    UNION SELECT period_no, grp FROM open_figures
    UNION SELECT period_no, grp FROM created_figures
    UNION SELECT period_no, grp FROM quota_figures
),
joined AS (
    SELECT
        g.period_no,
        g.grp,
        coalesce(c.closed_deals, 0) + coalesce(p.open_deals, 0) > 0     AS has_deals,
        coalesce(c.won_deals, 0)                                        AS won_deals,
        coalesce(c.lost_deals, 0)                                       AS lost_deals,
        coalesce(p.open_deals, 0)                                       AS open_deals,
        coalesce(c.unpriced_deals, 0) + coalesce(p.unpriced_deals, 0)   AS unpriced_deals,
        -- a group whose won deals (or open deals) all lack a value in the reporting
        -- currency: its bookings (or open pipeline) are unknown, never 0 (per row, so a
        -- rep's figure never depends on which other reps are in scope)
        coalesce(c.won_deals > 0 AND c.priced_won = 0, false)           AS won_unvalued,
        coalesce(c.rateless_won, 0)                                     AS rateless_won,
        coalesce(p.open_deals > 0 AND p.priced_open = 0, false)         AS open_unpriced,
        coalesce(p.unpriced_deals, 0)                                   AS rateless_open,
        coalesce(n.created_deals, 0)                                    AS created_deals,
        coalesce(n.created_won, 0)                                      AS created_won,
        c.won_amount, c.lost_amount, c.avg_deal_size, p.open_pipeline,
        p.weighted_pipeline, p.pipeline_in_period,
        coalesce(p.close_known, true)                                   AS close_known,
        coalesce(p.stage_known, true)                                   AS stage_known,
        coalesce(p.stage_unknown_deals, 0)                              AS stage_unknown_deals,
        c.median_cycle_days, c.mean_cycle_days,
        nullif(qf.quota, 0)                                             AS quota
    FROM groups AS g
    LEFT JOIN closed_figures AS c
        ON c.period_no = g.period_no AND c.grp IS NOT DISTINCT FROM g.grp
    LEFT JOIN open_figures AS p
        ON p.period_no = g.period_no AND p.grp IS NOT DISTINCT FROM g.grp
    LEFT JOIN created_figures AS n
        ON n.period_no = g.period_no AND n.grp IS NOT DISTINCT FROM g.grp
    LEFT JOIN quota_figures AS qf
        ON qf.period_no = g.period_no AND qf.grp IS NOT DISTINCT FROM g.grp
),
figures AS (
    SELECT
        *,
        CASE WHEN has_deals AND NOT won_unvalued THEN coalesce(won_amount, 0) END
                                                                        AS bookings,
        CASE WHEN has_deals THEN coalesce(lost_amount, 0) END           AS lost_bookings,
        won_deals::DOUBLE / nullif(won_deals + lost_deals, 0)           AS win_rate
    FROM joined
)
SELECT
    period_no,
    grp,
    bookings,
    won_deals,
    lost_deals,
    win_rate,
    CASE WHEN won_deals + lost_deals > 0
         THEN bookings / nullif(bookings + lost_bookings, 0) END        AS win_rate_value,
    avg_deal_size,
    CASE WHEN has_deals AND NOT open_unpriced THEN coalesce(open_pipeline, 0) END
                                                                        AS open_pipeline,
    CASE WHEN has_deals AND stage_known AND NOT open_unpriced
         THEN coalesce(weighted_pipeline, 0) END                        AS weighted_pipeline,
    open_deals,
    quota,
    CASE WHEN NOT won_unvalued THEN coalesce(bookings, 0) / quota END  AS quota_attainment,
    CASE WHEN NOT won_unvalued THEN coalesce(bookings, 0) / quota >= 1 END
                                                                        AS at_or_above_quota,
    created_deals,
    created_won::DOUBLE / nullif(created_deals, 0)                      AS opp_to_won_rate,
    open_deals * win_rate * avg_deal_size / nullif(mean_cycle_days, 0)  AS sales_velocity,
    CASE WHEN has_deals AND close_known AND NOT open_unpriced
         THEN coalesce(pipeline_in_period, 0) END                       AS pipeline_in_period,
    CASE WHEN close_known AND NOT open_unpriced AND NOT won_unvalued
              AND quota - coalesce(bookings, 0) > 0
         THEN coalesce(pipeline_in_period, 0) / (quota - coalesce(bookings, 0)) END
                                                                        AS pipeline_coverage,
    unpriced_deals,
    won_unvalued,
    rateless_won,
    open_unpriced,
    rateless_open,
    stage_unknown_deals,
    median_cycle_days::DOUBLE                                           AS median_cycle_days,
    mean_cycle_days::DOUBLE                                             AS mean_cycle_days
FROM figures
ORDER BY period_no, grp NULLS LAST
"""


def _priced(source: str) -> str:
    """SELECT over CTE `source` (amount, currency_key, rate_day) adding `amount_rc` and
    `rate_missing` (a foreign currency without a rate on or before the rate day).

    The rates come from the `period_rates` CTE (`fx.period_rates_sql`), a hash join on a
    few hundred rows, with the same ASOF rule as `fx.priced_sql`.
    """
    return f"""
    SELECT
        s.*,
        CASE WHEN s.currency_key IS NULL OR s.currency_key = $reporting_currency
             THEN CAST(s.amount AS DOUBLE)
             ELSE CAST(s.amount AS DOUBLE) * CAST(pr.rate AS DOUBLE) END  AS amount_rc,
        coalesce(s.currency_key <> $reporting_currency AND pr.rate IS NULL, false)
                                                                      AS rate_missing
    FROM {source} AS s
    LEFT JOIN period_rates AS pr
        ON pr.currency = s.currency_key AND pr.rate_day = s.rate_day
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
    frame = performance_tables(
        con, scope, [scope.period], by, stages=stages, reporting_currency=reporting_currency
    )
    return frame.drop(columns="period_no")


def performance_tables(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    periods: Sequence[Period],
    by: str,
    *,
    stages: tuple[Stage, ...] | list[Stage] | None = None,
    reporting_currency: str | None = None,
) -> pd.DataFrame:
    """Performance KPIs for the scope's filters over each of `periods` (not overlapping),
    in one query: rows ordered by `period_no` (the index in `periods`), then group."""
    params = (
        periods_params(scope, periods)
        | stage_params(stages if stages is not None else load_stages(con))
        | fx_params(con, reporting_currency)
    )
    found = open_bases(con, periods)
    params |= as_of_params(list(enumerate(found)))
    history = any(b is not None and b.source == "stage history" for b in found)
    spans = history and stage_spans_current(con)
    created = needs_created_stages(con, found)
    frame = con.execute(
        performance_sql(by, history=history, spans=spans, created=created), params
    ).df()
    return frame.rename(columns={"grp": by})


def open_bases(con: duckdb.DuckDBPyConnection, periods: Sequence[Period]) -> list[Basis | None]:
    """Where each period's open figures come from: None (the deals open now) for a period
    not over by the data's date, else the pipeline as known on its last day (its Basis).

    Why: a past quarter's open pipeline, open deals, coverage and velocity are what was
    open when it ended, not today's deals; the live period keeps the deals open now.
    """
    data_date = data_as_of(con)
    past = [p.end for p in periods if data_date is not None and p.end < data_date]
    known = dict(zip(past, bases(con, past), strict=True))
    return [
        known.get(p.end) if data_date is not None and p.end < data_date else None for p in periods
    ]


# Columns of `attainment_table`, after the group key.
ATTAINMENT_COLUMNS = (
    "bookings",
    "won_deals",
    "lost_deals",
    "quota",
    "quota_attainment",
    "at_or_above_quota",
)


def attainment_table(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    by: str,
    *,
    reporting_currency: str | None = None,
) -> pd.DataFrame:
    """Bookings, won/lost deals, quota and attainment for `scope`, one row per group.

    Why apart from `performance_table`: a previous period's quadrant position and the
    share of reps at quota need only these, which the deals closed in the period and the
    quotas answer without reading the open pipeline or the deals created. The figures
    equal `performance_table`'s, except that bookings is empty for a group without a deal
    closed in the period (there: without any deal closed in it or open); attainment counts
    empty bookings as 0 in both.
    """
    frame = attainment_tables(con, scope, [scope.period], by, reporting_currency=reporting_currency)
    return frame.drop(columns="period_no")


def attainment_tables(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    periods: Sequence[Period],
    by: str,
    *,
    reporting_currency: str | None = None,
) -> pd.DataFrame:
    """`attainment_table` over each of `periods` in one query, keyed by `period_no`."""
    params = periods_params(scope, periods) | fx_params(con, reporting_currency)
    # keyed by the statement: the Scope's own period is not in it, and the Reps page asks
    # for the same windows under the scopes of two periods
    frame = fetch_frame(con, performance_sql(by, attainment_only=True), params)
    return frame.rename(columns={"grp": by})
