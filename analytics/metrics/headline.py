"""Headline figures for a Scope: bookings, win rates, deal size and the open pipeline.

One query answers all of them so the Overview cards can never disagree with each other,
and the same query runs for the previous period to give the deltas. Definitions (which
deals count, denominators, edge cases) are in docs/metrics.md, one line per figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd

from analytics.metrics.availability import data_start
from analytics.scope import Period, Scope, owner_filter_sql
from analytics.settings import Stage, load_stages

# One statement serves a period and the one before it: deals closed in either and deals
# open now, each counted and summed per currency (and outcome or stage) first, so the
# stage's probability is looked up a handful of times, not once per deal, and only the
# columns the cards use are read. The stage probabilities come from settings (bound as two
# parallel lists), not from the file's probability column, so every weighted figure
# follows the one stage list ops keep. `$previous_start` is the previous period's first
# day, or `$period_start` when only the period is asked for.
HEADLINE_SQL = f"""
WITH stage_probability AS (
    SELECT unnest($stage_keys) AS stage_key, unnest($stage_probabilities) AS probability
),
closed_buckets AS (
    SELECT
        o.close_date >= $period_start                       AS is_current,
        o.is_won,
        o.currency,
        count(*)                                            AS deals,
        count(o.amount)                                     AS with_amount,
        sum(o.amount)                                       AS amount
    FROM opportunities AS o
    LEFT JOIN reps AS r ON r.rep = o.owner
    WHERE o.is_closed
      AND o.close_date BETWEEN $previous_start AND $period_end
      AND {owner_filter_sql("o.owner")}
    GROUP BY ALL
),
closed_in_periods AS (
    SELECT
        is_current,
        coalesce(sum(deals) FILTER (WHERE is_won), 0)       AS won_deals,
        coalesce(sum(deals) FILTER (WHERE NOT is_won), 0)   AS lost_deals,
        coalesce(sum(amount) FILTER (WHERE is_won), 0)      AS bookings,
        coalesce(sum(amount) FILTER (WHERE NOT is_won), 0)  AS lost_amount,
        CAST(sum(amount) FILTER (WHERE is_won) AS DOUBLE)
            / nullif(sum(with_amount) FILTER (WHERE is_won), 0) AS avg_deal_size,
        list(DISTINCT currency) FILTER (WHERE currency IS NOT NULL) AS currencies
    FROM closed_buckets
    GROUP BY is_current
),
open_buckets AS (
    SELECT o.stage, o.currency, count(*) AS deals, sum(o.amount) AS amount
    FROM opportunities AS o
    LEFT JOIN reps AS r ON r.rep = o.owner
    WHERE NOT o.is_closed AND {owner_filter_sql("o.owner")}
    GROUP BY ALL
),
open_now AS (
    SELECT
        coalesce(sum(b.deals), 0)                           AS open_deals,
        coalesce(sum(b.amount), 0)                          AS open_pipeline,
        coalesce(sum(b.amount * coalesce(s.probability, 0) / 100.0), 0) AS weighted_pipeline,
        list(DISTINCT b.currency) FILTER (WHERE b.currency IS NOT NULL) AS currencies
    FROM open_buckets AS b
    LEFT JOIN stage_probability AS s ON s.stage_key = lower(trim(b.stage))
),
periods AS (SELECT unnest([true, false]) AS is_current)
SELECT
    k.is_current,
    coalesce(c.bookings, 0)                                        AS bookings,
    CAST(coalesce(c.won_deals, 0) AS BIGINT)                       AS won_deals,
    CAST(coalesce(c.lost_deals, 0) AS BIGINT)                      AS lost_deals,
    c.won_deals::DOUBLE / nullif(c.won_deals + c.lost_deals, 0)   AS win_rate_count,
    c.bookings::DOUBLE / nullif(c.bookings + c.lost_amount, 0)     AS win_rate_value,
    c.avg_deal_size,
    p.open_pipeline,
    p.weighted_pipeline,
    CAST(p.open_deals AS BIGINT)                                   AS open_deals,
    list_sort(list_distinct(
        coalesce(c.currencies, []) || coalesce(p.currencies, [])
    ))                                                             AS currencies
FROM periods AS k
LEFT JOIN closed_in_periods AS c ON c.is_current = k.is_current
CROSS JOIN open_now AS p
ORDER BY k.is_current DESC
"""

# Bookings per calendar month for the `$months` months ending with $last_month, zero-filled
# so a month without wins shows as 0 instead of vanishing from the chart. Won deals are
# summed per close day first (a date key), so the month is worked out once per day.
MONTHLY_BOOKINGS_SQL = f"""
WITH months AS (
    SELECT CAST(m AS DATE) AS month
    FROM generate_series(
        CAST($last_month AS DATE) - to_months($months - 1),
        CAST($last_month AS DATE),
        INTERVAL 1 MONTH
    ) AS t(m)
),
won_days AS (
    SELECT o.close_date, sum(o.amount) AS amount, count(*) AS won_deals
    FROM opportunities AS o
    LEFT JOIN reps AS r ON r.rep = o.owner
    WHERE o.is_won
      AND o.close_date >= CAST($last_month AS DATE) - to_months($months - 1)
      AND o.close_date < CAST($last_month AS DATE) + INTERVAL 1 MONTH
      AND {owner_filter_sql("o.owner")}
    GROUP BY o.close_date
),
won AS (
    SELECT CAST(date_trunc('month', close_date) AS DATE) AS month, amount, won_deals
    FROM won_days
)
SELECT
    m.month,
    coalesce(sum(w.amount), 0)::DOUBLE        AS bookings,
    coalesce(sum(w.won_deals), 0)::BIGINT     AS won_deals
FROM months AS m
LEFT JOIN won AS w USING (month)
GROUP BY m.month
ORDER BY m.month
"""


@dataclass(frozen=True)
class Headline:
    """The Overview cards for one period. None means "not defined", never "zero".

    Pipeline fields describe open deals *now* (the current state of `opportunities`); they
    are None in a previous-period Headline, because the table holds no past pipeline.
    """

    period: Period
    bookings: float
    won_deals: int
    lost_deals: int
    win_rate_count: float | None  # 0-1; None when no deal closed in the period
    win_rate_value: float | None  # 0-1; None when closed deals have no amount
    avg_deal_size: float | None  # None when nothing was won
    open_pipeline: float | None
    weighted_pipeline: float | None
    open_deals: int | None
    currencies: tuple[str, ...] = ()

    @property
    def closed_deals(self) -> int:
        return self.won_deals + self.lost_deals


@dataclass(frozen=True)
class HeadlineComparison:
    """This period's figures next to the previous period's, for st.metric deltas."""

    current: Headline
    previous: Headline

    def delta(self, name: str) -> float | None:
        """current - previous for a figure; None when either side is undefined."""
        now, before = getattr(self.current, name), getattr(self.previous, name)
        if now is None or before is None:
            return None
        return float(now) - float(before)


def _stage_params(stages: tuple[Stage, ...] | list[Stage]) -> dict[str, Any]:
    return {
        "stage_keys": [s.name.strip().lower() for s in stages],
        "stage_probabilities": [float(s.probability) for s in stages],
    }


def _money(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def _headline(row: tuple[Any, ...], period: Period, include_pipeline: bool) -> Headline:
    (_, bookings, won, lost, rate_count, rate_value, avg_size, pipe, weighted, open_n, cur) = row
    return Headline(
        period=period,
        bookings=_money(bookings) or 0.0,
        won_deals=int(won),
        lost_deals=int(lost),
        win_rate_count=None if rate_count is None else float(rate_count),
        win_rate_value=None if rate_value is None else float(rate_value),
        avg_deal_size=_money(avg_size),
        open_pipeline=_money(pipe) if include_pipeline else None,
        weighted_pipeline=_money(weighted) if include_pipeline else None,
        open_deals=int(open_n) if include_pipeline else None,
        currencies=tuple(cur or ()),
    )


def _headline_rows(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    previous: Period | None,
    stages: tuple[Stage, ...] | list[Stage] | None,
) -> list[tuple[Any, ...]]:
    """HEADLINE_SQL's rows: this period's, then the previous period's (when asked)."""
    params = scope.params() | _stage_params(stages if stages is not None else load_stages(con))
    params["previous_start"] = previous.start if previous is not None else scope.period.start
    return con.execute(HEADLINE_SQL, params).fetchall()


def headline(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    stages: tuple[Stage, ...] | list[Stage] | None = None,
    include_pipeline: bool = True,
) -> Headline:
    """The headline figures for `scope` (stages default to the ones saved in settings)."""
    current = _headline_rows(con, scope, None, stages)[0]
    return _headline(current, scope.period, include_pipeline)


def headline_with_previous(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    stages: tuple[Stage, ...] | list[Stage] | None = None,
) -> HeadlineComparison:
    """Headline for `scope` and for the same filters over the previous period (one query:
    the previous period ends the day before this one starts)."""
    before = scope.period.previous()
    current, previous = _headline_rows(con, scope, before, stages)
    return HeadlineComparison(
        current=_headline(current, scope.period, True),
        previous=_headline(previous, before, False),
    )


def monthly_bookings(
    con: duckdb.DuckDBPyConnection, scope: Scope, months: int = 12
) -> pd.DataFrame:
    """Bookings and won deals per month, the `months` months up to the scope's last month.

    Columns: month (date, first of month), bookings (float), won_deals (int). Uses the
    scope's team/region/rep filters; the period only fixes where the series ends. Months
    before the scope's first deal are left out (the trend starts where the data starts).
    """
    if months < 1:
        raise ValueError("months must be at least 1")
    last = scope.period.end.replace(day=1)
    # every owner-filter parameter the scope binds (team, region, rep and any access
    # limits), without the period bounds this query does not use
    params = {k: v for k, v in scope.params().items() if k not in ("period_start", "period_end")}
    params |= {"last_month": last, "months": int(months)}
    frame = con.execute(MONTHLY_BOOKINGS_SQL, params).df()
    # the series starts where the data starts: no 0 months before the first deal
    first = data_start(con, scope)
    if first is not None:
        keep = pd.to_datetime(frame["month"]) >= pd.Timestamp(first.replace(day=1))
        frame = frame[keep].reset_index(drop=True)
    return frame
