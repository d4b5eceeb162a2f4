"""What the forecast methods need, read from the data as it stood on a date.

Why a separate layer: the methods (methods.py) are arithmetic on sums and counts; this
module is the only place that decides *which rows* feed them, and the one rule that makes
a backtest honest lives here: a forecast "as of" a date reads one pipeline snapshot (the
export of that date, `opportunity_snapshots`) and the forecast calls submitted before a
given moment, never the current `opportunities` table. Only the live forecast of the
current period reads `opportunities` (source "current").

Many forecasts are asked at once (every past month of a backtest, every week of a
quarter): each is an `Ask`, and each query below answers all asks in one pass, joining a
small table of asks to the snapshot rows, so a backtest of 24 periods is a handful of
queries rather than hundreds. Values are always bound parameters; the only SQL that varies
is the source table, chosen by code.

Conventions (docs/metrics.md (Forecast), "What a forecast reads"):

* a snapshot shows everything up to and including its date; the days of the period *after*
  the data date are still to come (`remaining_days`);
* a period's pipeline is the open deals whose close date falls inside the period;
* amounts are converted to the reporting currency at the latest rate on or before the data
  date (the rate the forecaster knew); a deal whose currency has no such rate is unpriced
  and left out (counted, never worth 0).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import duckdb
import pandas as pd

from analytics.forecast.methods import (
    CategoryCall,
    RunRateInputs,
    SegmentCycle,
    call_from_fields,
    call_from_submission,
    category_of,
)
from analytics.metrics.fx import fx_params, priced_sql
from analytics.scope import Period, Scope, owner_filter_sql

Source = Literal["snapshot", "current", "stage history", "rebuilt"]
# Sources rebuilt from one export (analytics/pointintime.py): no snapshot near the date.
REBUILT_SOURCES: tuple[str, ...] = ("stage history", "rebuilt")

# Look-back windows, in days up to and including the data date.
CYCLE_LOOKBACK_DAYS = 365  # won/lost deals that give a segment's typical cycle and win rate
RUN_RATE_DAYS = 90  # the run-rate's trailing window
GROWTH_DAYS = 365  # growth: this many days' revenue against the same length before it
NEW_REP_DAYS = 90  # a rep hired within this many days is "new"
NEW_REP_HISTORY_DAYS = 730  # past hires whose first month measures a new rep's ramp
FIRST_MONTH_DAYS = 30  # a new rep's "first month"
NO_SEGMENT = "(none)"
MONTHS_IN = {"month": 1, "quarter": 3, "year": 12}


@dataclass(frozen=True)
class Ask:
    """One forecast to build: a period, the date of the data it may read, and a cut-off.

    `data_date` is the snapshot date (source "snapshot") or the data's as-of date (source
    "current"); `cutoff` admits forecast calls submitted strictly before it (None: all).
    """

    period: Period
    data_date: date
    cutoff: datetime | None = None
    source: Source = "snapshot"

    @property
    def key(self) -> str:
        """Unique per (period, data date, cut-off, source): two asks differing only in
        their cut-off are different forecasts."""
        cutoff = "all" if self.cutoff is None else self.cutoff.isoformat()
        return f"{self.period.label}@{self.data_date.isoformat()}<{cutoff}:{self.source}"

    @property
    def remaining_days(self) -> int:
        """Days of the period after the data date (all of them when it is before the start)."""
        first_to_come = max(self.period.start.toordinal(), self.data_date.toordinal() + 1)
        return max(0, self.period.end.toordinal() - first_to_come + 1)

    @property
    def months_remaining(self) -> float:
        """The period's length in months x the share of its days still to come."""
        days = self.period.end.toordinal() - self.period.start.toordinal() + 1
        return MONTHS_IN[self.period.kind] * self.remaining_days / days


@dataclass
class ForecastInputs:
    """Everything the five methods read for one Ask (amounts in the reporting currency)."""

    ask: Ask
    already_won: float = 0.0  # won with a close date in the period, as of the data date
    open_amount: float = 0.0  # open deals expected to close in the period
    open_deals: int = 0
    open_unvalued: int = 0  # of open_deals: no amount, or a currency without a rate
    open_undated: int = 0  # open deals with no expected close date: in no period at all
    unpriced_deals: int = 0  # open in the period or won in it, currency without a rate
    open_by_stage: dict[str, float] = field(default_factory=dict)
    cycle_deals: list[tuple[str, float, float]] = field(default_factory=list)
    undated_open: float = 0.0  # open amount without a created date (no age: not in cycle)
    segments: dict[str, SegmentCycle] = field(default_factory=dict)
    overall_cycle: SegmentCycle = field(default_factory=lambda: SegmentCycle(None, None, 0))
    run_rate: RunRateInputs | None = None
    calls: dict[str, CategoryCall] = field(default_factory=dict)  # per owner
    submitted_owners: int = 0  # owners with at least one submitted call in the period
    has_categories: bool = False  # a submitted call, or a forecast_category on a deal of
    # the period (open in it or won in it)


# --- shared SQL ---------------------------------------------------------------------------

_ASKS_SQL = """
asks AS (
    SELECT
        unnest($ask_keys)                          AS ask,
        CAST(unnest($period_starts) AS DATE)       AS period_start,
        CAST(unnest($period_ends) AS DATE)         AS period_end,
        CAST(unnest($data_dates) AS DATE)          AS data_date,
        CAST(unnest($cutoffs) AS TIMESTAMP)        AS cutoff
),
rates AS (
    SELECT a.ask, f.currency, CAST(arg_max(f.rate, f.rate_date) AS DOUBLE) AS rate
    FROM asks AS a
    JOIN fx_rates AS f ON f.rate_date <= a.data_date
    GROUP BY a.ask, f.currency
)"""


def _deals_sql(
    source: Source,
    roster: bool = True,
    rebuilt: str | None = None,
    closed: str | None = None,
    open_deals: bool = True,
) -> str:
    """CTEs `src` (the source's rows per ask, scope-filtered) and `deals` (+ amount_rc).

    `rebuilt`: the name of a temp table already holding each ask's open deals' stage and
    amount from the stage history (`_materialise_stages`), read instead of the ASOF join.

    `closed`: what a closed rebuilt deal must also meet to be read; `open_deals=False`:
    no rebuilt open deal is read (`_rebuilt_sql`).

    `roster`: join `reps` for a team or region filter. Without one, the join filters
    nothing (deals of owners missing from the roster count), so it is left out: it is a
    join over every snapshot row. $team and $region are then referenced as the constant
    conditions they are (both NULL), so the parameters stay the same.
    """
    if source == "snapshot":
        origin = "JOIN opportunity_snapshots AS s ON s.snapshot_date = a.data_date"
    elif source in REBUILT_SOURCES:
        rows = _rebuilt_sql(source == "stage history", rebuilt, closed, open_deals)
        origin = f"JOIN ({rows}) AS s ON s.ask = a.ask"
    else:
        origin = "CROSS JOIN opportunities AS s"
    if roster:
        join = "LEFT JOIN reps AS r ON r.rep = s.owner"
        where = owner_filter_sql("s.owner")
    else:
        join = ""
        where = "$team IS NULL AND $region IS NULL AND ($rep IS NULL OR s.owner = $rep)"
    return f"""
src AS NOT MATERIALIZED (
    SELECT
        a.ask, a.period_start, a.period_end, a.data_date,
        s.opportunity_id, s.opportunity_name, s.account, s.owner, s.stage, s.amount,
        nullif(upper(trim(s.currency)), '')                          AS currency_key,
        s.forecast_category, s.created_date, s.close_date, s.is_closed, s.is_won,
        coalesce(nullif(trim(s.deal_type), ''), '{NO_SEGMENT}')      AS segment,
        {"s.close_unknown" if source in REBUILT_SOURCES else "false"}  AS close_unknown
    FROM asks AS a
    {origin}
    {join}
    WHERE {where}
),
deals AS NOT MATERIALIZED (
    SELECT
        d.*,
        CASE
            WHEN d.amount IS NULL THEN NULL
            WHEN d.currency_key IS NULL OR d.currency_key = $reporting_currency
                THEN CAST(d.amount AS DOUBLE)
            ELSE CAST(d.amount AS DOUBLE) * x.rate
        END                                                          AS amount_rc,
        -- a rebuilt open deal has no expected close date (unknown on the data date):
        -- every deal open then counts as the period's pipeline
        NOT d.is_closed AND (d.close_unknown
                             OR d.close_date BETWEEN d.period_start AND d.period_end)
                                                                     AS open_in_period,
        d.is_won AND d.close_date BETWEEN d.period_start AND d.period_end
                                                                     AS won_in_period
    FROM src AS d
    LEFT JOIN rates AS x ON x.ask = d.ask AND x.currency = d.currency_key
)"""


def _rebuilt_sql(
    with_stages: bool,
    stages: str | None = None,
    closed: str | None = None,
    open_deals: bool = True,
) -> str:
    """Each ask's deals as they stood at the end of its data date, rebuilt from the current
    export (analytics/pointintime.py, "rebuilt" / "stage history"): deals created by then;
    closed if they had closed by then (close date and outcome as known), else open with no
    expected close date, no forecast category and, `with_stages`, the stage (and amount,
    when recorded) of their last stage change on or before the date (else unknown). Reads
    nothing dated after the data date except the documented compromise: amounts, owners
    and deal types as last exported. `stages`: a temp table of those stages and amounts
    per ask and open deal (`_materialise_stages`), read instead of the ASOF join.

    `closed`: a condition on the deal `o` and its ask `a` that the closed deals must also
    meet, where the query reading these rows drops every other closed deal anyway (e.g.
    the pipeline reads only the deals won in the period). Why: every deal closed by the
    data date is otherwise a row per ask, two thirds of the rows on a multi-year export
    (10 million at 1,000,000 deals for 14 asks), and the range join forms them all before
    any later filter. The open deals are never narrowed, but a query that reads only
    closed deals (the history, the ramp) leaves them out with `open_deals=False`: the
    planner does not drop the half that its later filter empties, and with stage history
    that half is the join of every open deal per ask to its stage.
    """
    narrow = f"AND ({closed})" if closed is not None else ""
    closed_half = f"""
    SELECT a.ask, o.opportunity_id, o.opportunity_name, o.account, o.owner, o.stage,
           o.amount, o.currency, o.forecast_category, o.created_date, o.close_date,
           true AS is_closed, o.is_won, o.deal_type, false AS close_unknown
    FROM asks AS a
    JOIN opportunities AS o
      ON o.created_date <= a.data_date AND o.is_closed AND o.close_date <= a.data_date
         {narrow}"""
    if not open_deals:
        return closed_half
    open_then = """
        SELECT a.ask, CAST(a.data_date AS TIMESTAMP) + INTERVAL 1 DAY AS day_over, o.*
        FROM asks AS a
        JOIN opportunities AS o
          ON o.created_date <= a.data_date
         AND (NOT o.is_closed OR o.close_date > a.data_date)"""
    if not with_stages:
        return f"""{closed_half}
    UNION ALL
    SELECT a.ask, o.opportunity_id, o.opportunity_name, o.account, o.owner,
           CAST(NULL AS VARCHAR), o.amount, o.currency, CAST(NULL AS VARCHAR),
           o.created_date, CAST(NULL AS DATE), false, false, o.deal_type, true
    FROM asks AS a
    JOIN opportunities AS o
      ON o.created_date <= a.data_date AND (NOT o.is_closed OR o.close_date > a.data_date)
    """
    # With stage history, only the deals still open then read it: the ASOF join sorts
    # every row it is given, and the deals closed by then (most of them, on a multi-year
    # export) need nothing from it.
    lookup = (
        f"LEFT JOIN {stages} AS h ON h.ask = k.ask AND h.opportunity_id = k.opportunity_id"
        if stages is not None
        else """ASOF LEFT JOIN (
        SELECT opportunity_id, entered_at, stage, amount FROM opportunity_stage_history
    ) AS h ON h.opportunity_id = k.opportunity_id AND k.day_over > h.entered_at"""
    )
    return f"""{closed_half}
    UNION ALL
    SELECT k.ask, k.opportunity_id, k.opportunity_name, k.account, k.owner, h.stage,
           coalesce(h.amount, k.amount), k.currency, CAST(NULL AS VARCHAR),
           k.created_date, CAST(NULL AS DATE), false, false, k.deal_type, true
    FROM ({open_then}
    ) AS k
    {lookup}
    """


_STAGES_SQL = """
CREATE TEMP TABLE {name} AS
WITH asks AS (
    SELECT unnest($ask_keys) AS ask, CAST(unnest($data_dates) AS DATE) AS data_date
),
open_then AS (
    SELECT a.ask, o.opportunity_id, CAST(a.data_date AS TIMESTAMP) + INTERVAL 1 DAY AS day_over
    FROM asks AS a
    JOIN opportunities AS o ON o.created_date <= a.data_date
    WHERE NOT o.is_closed OR o.close_date > a.data_date
),
changes AS (
    SELECT opportunity_id, entered_at, stage, amount FROM opportunity_stage_history
)
SELECT k.ask, k.opportunity_id, h.stage, h.amount
FROM open_then AS k
ASOF JOIN changes AS h
  ON h.opportunity_id = k.opportunity_id AND k.day_over > h.entered_at
"""


# The closed deals each query reads at all, as conditions on a rebuilt deal `o` and its ask
# `a` (`_rebuilt_sql`'s `closed`): the pipeline and the calls read the deals won in the
# period; the ramp, the deals won since the earliest past hire it looks at (a first month
# starts on the hire date, after the data date minus NEW_REP_HISTORY_DAYS). `narrow=False`
# reads every closed deal, as before (tests/test_forecast_inputs_rebuilt.py compares them).
_WON_IN_PERIOD = "o.is_won AND o.close_date BETWEEN a.period_start AND a.period_end"
_WON_SINCE_PAST_HIRES = f"o.is_won AND o.close_date > a.data_date - {NEW_REP_HISTORY_DAYS}"


# Open pipeline of the period and what is already won: per stage, per (segment, age on the
# period's last day), and per ask (with how many of these deals carry a forecast category),
# in one scan (GROUPING SETS).
def pipeline_sql(
    source: Source, roster: bool = True, rebuilt: str | None = None, narrow: bool = True
) -> str:
    closed = _WON_IN_PERIOD if narrow else None
    return f"""
WITH {_ASKS_SQL},
{_deals_sql(source, roster, rebuilt, closed)}
SELECT
    grouping(stage, segment, age_end)                                 AS level,
    ask, stage, segment, age_end,
    coalesce(sum(amount_rc) FILTER (WHERE open_in_period), 0)         AS open_amount,
    count(*) FILTER (WHERE open_in_period)                            AS open_deals,
    coalesce(sum(amount_rc) FILTER (WHERE won_in_period), 0)          AS won_amount,
    count(*) FILTER (WHERE amount IS NOT NULL AND amount_rc IS NULL)  AS unpriced_deals,
    count(*) FILTER (WHERE trim(coalesce(forecast_category, '')) <> '') AS labelled,
    count(*) FILTER (WHERE open_in_period AND amount_rc IS NULL)      AS open_unvalued,
    count(*) FILTER (WHERE undated_open)                              AS open_undated
FROM (
    SELECT *, period_end - created_date AS age_end,
           -- open, but the export gives no expected close date: it belongs to no period
           -- (a rebuilt deal's close date is unknown by design and counts, see `deals`)
           NOT is_closed AND close_date IS NULL AND NOT close_unknown  AS undated_open
    FROM deals
    WHERE open_in_period OR won_in_period
       OR (NOT is_closed AND close_date IS NULL AND NOT close_unknown)
)
GROUP BY GROUPING SETS ((ask), (ask, stage), (ask, segment, age_end))
"""


# Closed deals in the look-back windows: each segment's typical cycle and win rate (last
# 365 days), the run-rate's 90-day window and its two years for growth, and whether
# anything was ever won. Grouped by (ask, segment, cycle length): every figure but the
# median adds up across groups, and the medians are read exactly from the cycle-length
# counts (`median_of`). A median per group in SQL would sort millions of rows twice (per
# segment and overall); a histogram is one hash aggregate of a few thousand rows.
def history_sql(
    source: Source, roster: bool = True, rebuilt: str | None = None, narrow: bool = True
) -> str:
    """`narrow` (rebuilt sources only): the closed deals of the last two years are read
    per deal (every window ends there), and the older ones per (owner, segment) only for
    what they still decide (`_OLDER_CLOSED_SQL`); else every closed deal per deal."""
    narrow = narrow and source in REBUILT_SOURCES
    closed = _CLOSED_IN_WINDOWS if narrow else None
    older, older_rows = "", ""
    if narrow:
        filters = (
            f"LEFT JOIN reps AS r ON r.rep = g.owner WHERE {owner_filter_sql('g.owner')}"
            if roster
            else "WHERE $team IS NULL AND $region IS NULL AND ($rep IS NULL OR g.owner = $rep)"
        )
        older = _OLDER_CLOSED_SQL.format(filters=filters) + ","
        older_rows = """
UNION ALL
SELECT ask, segment, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL, true, has_history
FROM older"""
    return f"""
WITH {_ASKS_SQL},
{_deals_sql(source, roster, rebuilt, closed, open_deals=not narrow)},
{older}
closed AS NOT MATERIALIZED (
    SELECT
        ask, data_date, segment, is_won, amount_rc,
        close_date > data_date - {CYCLE_LOOKBACK_DAYS} AND close_date <= data_date
                                                                      AS in_lookback,
        CASE WHEN is_won AND close_date >= created_date
             THEN close_date - created_date END                       AS cycle_days,
        close_date > data_date - {RUN_RATE_DAYS} AND close_date <= data_date
                                                                      AS in_last_90,
        close_date > data_date - {GROWTH_DAYS} AND close_date <= data_date
                                                                      AS in_year,
        close_date > data_date - {2 * GROWTH_DAYS}
            AND close_date <= data_date - {GROWTH_DAYS}               AS in_prev_year,
        close_date <= data_date                                       AS known,
        close_date
    FROM deals
    WHERE is_closed
)
SELECT
    ask, segment, cycle_days,
    count(*) FILTER (WHERE in_lookback AND cycle_days IS NOT NULL)    AS cycles,
    count(*) FILTER (WHERE in_lookback AND is_won)                    AS won_deals,
    sum(amount_rc) FILTER (WHERE in_lookback AND is_won)              AS won_amount,
    sum(amount_rc) FILTER (WHERE in_lookback)                         AS closed_amount,
    sum(amount_rc) FILTER (WHERE is_won AND in_last_90)               AS revenue_90,
    sum(amount_rc) FILTER (WHERE is_won AND in_year)                  AS revenue_year,
    sum(amount_rc) FILTER (WHERE is_won AND in_prev_year)             AS revenue_prev_year,
    -- the earlier year is a basis for growth only if the data reaches back over all of it
    min(close_date) <= min(data_date) - {2 * GROWTH_DAYS} + 1         AS covers_prev_year,
    bool_or(is_won AND known)                                         AS has_history
FROM closed
GROUP BY ask, segment, cycle_days{older_rows}
"""


# The rebuilt closed deals `history_sql` reads per deal: closed within its longest window.
_CLOSED_IN_WINDOWS = f"o.close_date > a.data_date - {2 * GROWTH_DAYS}"

# The closed deals before that, per ask and segment. Such a deal adds nothing to any sum or
# count of `history_sql` (every window is within two years), but as a row of the per-deal
# query it still made its segment known (an entry in `ForecastInputs.segments`), made the
# data reach back over the earlier year (`covers_prev_year`: closed 729 days or more
# before) and, won, made `has_history`. So one row per (ask, segment) with any such deal
# says the same, and is found without a row per ask and deal: a closed deal is one of
# these for every data date from max(created, close + 730 days) on, so the earliest such
# day per (owner, segment) decides it for all asks at once (200 owners x a few segments
# instead of millions of rows). Owners are filtered as `_deals_sql` filters them.
_OLDER_CLOSED_SQL = f"""
older_groups AS (
    SELECT
        o.owner,
        coalesce(nullif(trim(o.deal_type), ''), '{NO_SEGMENT}')          AS segment,
        min(greatest(o.created_date, o.close_date + {2 * GROWTH_DAYS})) AS first_day,
        min(greatest(o.created_date, o.close_date + {2 * GROWTH_DAYS}))
            FILTER (WHERE o.is_won)                                     AS first_won_day
    FROM opportunities AS o
    WHERE o.is_closed AND o.close_date IS NOT NULL AND o.created_date IS NOT NULL
    GROUP BY ALL
),
older AS (
    SELECT a.ask, g.segment, bool_or(g.first_won_day <= a.data_date) AS has_history
    FROM asks AS a
    JOIN (SELECT g.* FROM older_groups AS g {{filters}}) AS g ON g.first_day <= a.data_date
    GROUP BY a.ask, g.segment
)"""


# New reps and the ramp of past new reps: reps (scope-filtered) hired in the 90 days up to
# the data date, and what reps hired earlier won in their first 30 days.
def ramp_sql(
    source: Source, roster: bool = True, rebuilt: str | None = None, narrow: bool = True
) -> str:
    closed = _WON_SINCE_PAST_HIRES if narrow else None
    return f"""
WITH {_ASKS_SQL},
{_deals_sql(source, roster, rebuilt, closed, open_deals=not narrow)},
roster AS (
    SELECT r.rep, r.hire_date
    FROM reps AS r
    WHERE r.hire_date IS NOT NULL AND {owner_filter_sql("r.rep")}
),
new_reps AS (
    SELECT a.ask, count(ro.rep) AS new_reps
    FROM asks AS a
    LEFT JOIN roster AS ro
        ON ro.hire_date > a.data_date - {NEW_REP_DAYS} AND ro.hire_date <= a.data_date
    GROUP BY a.ask
),
past_hires AS (
    SELECT a.ask, a.data_date, ro.rep, ro.hire_date
    FROM asks AS a
    JOIN roster AS ro
        ON ro.hire_date > a.data_date - {NEW_REP_HISTORY_DAYS}
       AND ro.hire_date <= a.data_date - {FIRST_MONTH_DAYS}
),
first_month AS (
    SELECT h.ask, count(d.opportunity_id) AS deals, coalesce(sum(d.amount_rc), 0) AS amount
    FROM past_hires AS h
    JOIN deals AS d
        ON d.ask = h.ask AND d.owner = h.rep AND d.is_won
       AND d.close_date >= h.hire_date
       AND d.close_date < h.hire_date + {FIRST_MONTH_DAYS}
       AND d.close_date <= h.data_date
    GROUP BY h.ask
)
SELECT
    n.ask,
    n.new_reps,
    (SELECT count(*) FROM past_hires AS h WHERE h.ask = n.ask)        AS past_hires,
    coalesce(f.deals, 0)                                              AS first_month_deals,
    coalesce(f.amount, 0)                                             AS first_month_amount
FROM new_reps AS n
LEFT JOIN first_month AS f ON f.ask = n.ask
"""


# Forecast calls visible to each ask (latest per owner, sub-period and category, submitted
# before the cut-off, for sub-periods inside the period), and the deals' own categories for
# the deals no call covers (grouped by owner and raw category label).
def calls_sql(
    source: Source, roster: bool = True, rebuilt: str | None = None, narrow: bool = True
) -> str:
    closed = _WON_IN_PERIOD if narrow else None
    return f"""
WITH {_ASKS_SQL},
calls AS (
    SELECT
        a.ask, f.owner, f.period_start AS unit_start, f.period_end AS unit_end,
        lower(trim(f.category))                                       AS category,
        CAST(arg_max(f.amount, f.submitted_at) AS DOUBLE)             AS amount
    FROM asks AS a
    JOIN forecast_submissions AS f
        ON f.period_start >= a.period_start AND f.period_end <= a.period_end
       AND (a.cutoff IS NULL OR f.submitted_at < a.cutoff)
    LEFT JOIN reps AS r ON r.rep = f.owner
    WHERE {owner_filter_sql("f.owner")}
    GROUP BY ALL
),
units AS (SELECT DISTINCT ask, owner, unit_start, unit_end FROM calls),
{_deals_sql(source, roster, rebuilt, closed)},
uncovered AS (
    -- the deals no call covers: an anti join, which is NOT EXISTS without the
    -- correlated subquery's second pass over `deals` (each pass rebuilds it per ask)
    SELECT d.*
    FROM deals AS d
    ANTI JOIN units AS u
        ON u.ask = d.ask AND u.owner IS NOT DISTINCT FROM d.owner
       AND d.close_date BETWEEN u.unit_start AND u.unit_end
    WHERE d.open_in_period OR d.won_in_period
)
SELECT 'call' AS kind, ask, owner, unit_start, category AS label, amount, NULL AS won
FROM calls
UNION ALL
SELECT 'fields', ask, owner, NULL, forecast_category,
       coalesce(sum(amount_rc) FILTER (WHERE open_in_period), 0),
       coalesce(sum(amount_rc) FILTER (WHERE won_in_period), 0)
FROM uncovered
GROUP BY ALL
"""


# The deals behind a live forecast: each open deal expected to close in the period.
def open_deals_sql(source: Source, roster: bool = True) -> str:
    return f"""
WITH {_ASKS_SQL},
{_deals_sql(source, roster)}
SELECT
    ask, opportunity_id, opportunity_name, account, owner, stage, forecast_category,
    segment, created_date, close_date, amount_rc AS amount,
    period_end - created_date AS age_end
FROM deals
WHERE open_in_period
ORDER BY amount_rc DESC NULLS LAST, opportunity_id
"""


# What actually closed won in each period, from the current opportunities: converted at
# the close date's rate, as the KPI table does.
ACTUALS_SQL = f"""
WITH periods AS (
    SELECT unnest($labels)                         AS label,
           CAST(unnest($period_starts) AS DATE)    AS period_start,
           CAST(unnest($period_ends) AS DATE)      AS period_end
),
won AS (
    SELECT o.amount, nullif(upper(trim(o.currency)), '') AS currency_key,
           o.close_date, o.close_date AS rate_day
    FROM opportunities AS o
    LEFT JOIN reps AS r ON r.rep = o.owner
    WHERE o.is_won AND o.close_date BETWEEN $first_day AND $last_day
      AND {owner_filter_sql("o.owner")}
),
priced AS ({priced_sql("won")})
SELECT
    p.label,
    coalesce(sum(w.amount_rc), 0)           AS actual,
    count(w.close_date)                     AS won_deals,
    count(*) FILTER (WHERE w.unpriced)      AS unpriced_deals
FROM periods AS p
LEFT JOIN priced AS w ON w.close_date BETWEEN p.period_start AND p.period_end
GROUP BY p.label
"""


# --- running the queries ----------------------------------------------------------------


def _params(
    con: duckdb.DuckDBPyConnection, asks: list[Ask], scope: Scope, currency: str | None
) -> dict[str, Any]:
    return {
        # each ask is its position in `asks` inside SQL: an integer key joins and groups
        # millions of rows (deals per ask) faster than the ask's text key
        "ask_keys": list(range(len(asks))),
        "period_starts": [a.period.start for a in asks],
        "period_ends": [a.period.end for a in asks],
        "data_dates": [a.data_date for a in asks],
        "cutoffs": [a.cutoff for a in asks],
        "team": scope.team,
        "region": scope.region,
        "rep": scope.rep,
    } | fx_params(con, currency)


def _float(value: Any) -> float:
    return 0.0 if value is None or pd.isna(value) else float(value)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[tuple]:
    return con.execute(sql, params).fetchall()


def gather(
    con: duckdb.DuckDBPyConnection,
    asks: list[Ask],
    scope: Scope,
    *,
    reporting_currency: str | None = None,
    narrow: bool = True,
) -> dict[str, ForecastInputs]:
    """The inputs of every Ask (keyed by `Ask.key`); the scope's period is not used.

    Asks are grouped by source; each group costs four queries whatever its size.
    `narrow=False` has the rebuilt sources read every closed deal per ask and deal, as
    before the queries read only the closed deals they use (`_rebuilt_sql`): the same
    inputs, slower; tests/test_forecast_inputs_narrow.py compares the two.
    """
    out: dict[str, ForecastInputs] = {}
    unique = list({a.key: a for a in asks}.values())
    for source in ("snapshot", "current", *REBUILT_SOURCES):
        group = [a for a in unique if a.source == source]
        if not group:
            continue
        params = _params(con, group, scope, reporting_currency)
        roster = scope.team is not None or scope.region is not None
        found = {a.key: ForecastInputs(ask=a) for a in group}
        by_position = {i: found[a.key] for i, a in enumerate(group)}  # the SQL's `ask`
        rebuilt = _materialise_stages(con, params) if source == "stage history" else None
        try:
            sqls = [
                make(source, roster, rebuilt, narrow)
                for make in (pipeline_sql, history_sql, ramp_sql, calls_sql)
            ]
            _read_pipeline(by_position, _rows(con, sqls[0], params))
            history, ramp = _rows(con, sqls[1], params), _rows(con, sqls[2], params)
            _read_history(by_position, history, ramp)
            _read_calls(by_position, _rows(con, sqls[3], params))
        finally:
            if rebuilt is not None:
                con.execute(f"DROP TABLE IF EXISTS {rebuilt}")
        out.update(found)
    return out


def _materialise_stages(con: duckdb.DuckDBPyConnection, params: dict[str, Any]) -> str:
    """Each ask's open deals' stage and amount from the stage history, once per gather,
    into a temp table; its name (made by code, not from data).

    Why: the four queries of `gather` each read the rebuilt rows, some twice (`calls_sql`),
    and a CTE over a subquery is recomputed at every reference, so the ASOF join of every
    deal open then per ask (most of the Forecast page's time with stage history) ran six
    to eight times per gather. Only its result is kept (ask, id, stage, amount), so the
    rest of the rebuild still reads just the columns each query needs. The same rows as
    the inline join (tests/test_forecast_inputs_rebuilt.py). A temp table is per
    connection (each page's cursor), so concurrent pages never share one, and it works on
    a read-only database.
    """
    name = f"fc_stages_{uuid.uuid4().hex}"
    con.execute(
        _STAGES_SQL.format(name=name),
        {"ask_keys": params["ask_keys"], "data_dates": params["data_dates"]},
    )
    return name


def _read_pipeline(found: dict[int, ForecastInputs], rows: list[tuple]) -> None:
    for row in rows:
        level, ask, stage, segment, age_end, open_amount, open_n, won, unpriced, labelled = row[:10]
        inputs = found[ask]
        if level == 0b111:  # per ask
            inputs.already_won = _float(won)
            inputs.open_amount = _float(open_amount)
            inputs.open_deals = int(open_n)
            inputs.open_unvalued = int(row[10])
            inputs.open_undated = int(row[11])
            inputs.unpriced_deals = int(unpriced)
            inputs.has_categories = inputs.has_categories or int(labelled) > 0
        elif level == 0b011:  # per stage
            if open_n:
                inputs.open_by_stage[stage] = _float(open_amount)
        elif open_n:  # per segment and age
            if age_end is None:
                inputs.undated_open += _float(open_amount)
            else:
                inputs.cycle_deals.append((segment, float(age_end), _float(open_amount)))


def median_of(counts: dict[float, int]) -> float | None:
    """The exact median of values given as value -> count (the middle value, or the mean
    of the two middle ones, as SQL `median` has it); None when there are none."""
    n = sum(counts.values())
    if n == 0:
        return None
    wanted = {(n - 1) // 2, n // 2}
    picked: list[float] = []
    seen = 0
    for value in sorted(counts):
        count = counts[value]
        picked += [float(value)] * len({w for w in wanted if seen <= w < seen + count})
        seen += count
        if seen > n // 2:
            break
    return sum(picked) / len(picked)


@dataclass
class _Tally:
    """Won deals, cycle lengths and amounts of one segment (or all) in the look-back."""

    counts: dict[float, int] = field(default_factory=dict)
    won: int = 0
    won_amount: float = 0.0
    closed_amount: float = 0.0

    def add(self, cycle: Any, cycles: int, won: int, won_amt: Any, closed_amt: Any) -> None:
        if cycle is not None and cycles:
            self.counts[float(cycle)] = self.counts.get(float(cycle), 0) + int(cycles)
        self.won += int(won or 0)
        self.won_amount += _float(won_amt)
        self.closed_amount += _float(closed_amt)

    def cycle(self) -> SegmentCycle:
        rate = self.won_amount / self.closed_amount if self.closed_amount > 0 else None
        return SegmentCycle(typical_days=median_of(self.counts), win_rate=rate, won_deals=self.won)


def _read_history(
    found: dict[int, ForecastInputs], history: list[tuple], ramp: list[tuple]
) -> None:
    per_segment: dict[tuple[int, str], _Tally] = {}
    per_ask: dict[int, _Tally] = {}
    totals: dict[int, list] = {}
    for row in history:
        ask, segment, cycle, cycles, won, won_amt, closed_amt = row[:7]
        r90, year, prev_year, covers, has = row[7:]
        for tally in (
            per_segment.setdefault((ask, segment), _Tally()),
            per_ask.setdefault(ask, _Tally()),
        ):
            tally.add(cycle, cycles, won, won_amt, closed_amt)
        total = totals.setdefault(ask, [0.0, 0.0, 0.0, False, False])
        total[0] += _float(r90)
        total[1] += _float(year)
        total[2] += _float(prev_year)
        total[3] = total[3] or bool(covers)
        total[4] = total[4] or bool(has)
    for (ask, segment), tally in per_segment.items():
        found[ask].segments[segment] = tally.cycle()
    for ask, tally in per_ask.items():
        found[ask].overall_cycle = tally.cycle()
    for ask, new_reps, past_hires, fm_deals, fm_amount in ramp:
        inputs = found[ask]
        r90, year, prev_year, covers, has = totals.get(ask, (0.0, 0.0, 0.0, False, False))
        if not covers:  # growth needs a full earlier year; 0 prior revenue = "no basis"
            prev_year = 0.0
        hires, deals = int(past_hires), int(fm_deals)
        inputs.run_rate = RunRateInputs(
            revenue_90=r90,
            revenue_year=year,
            revenue_prev_year=prev_year,
            new_reps=int(new_reps),
            deals_per_new_rep=deals / hires if hires else 0.0,
            avg_new_rep_deal=_float(fm_amount) / deals if deals else 0.0,
            months_remaining=inputs.ask.months_remaining,
            already_won=inputs.already_won,
            has_history=has,
        )
    for inputs in found.values():  # an ask with no rows at all still gets run-rate inputs
        if inputs.run_rate is None:
            inputs.run_rate = RunRateInputs(
                0.0, 0.0, 0.0, 0, 0.0, 0.0, inputs.ask.months_remaining, inputs.already_won, False
            )


def _read_calls(found: dict[int, ForecastInputs], rows: list[tuple]) -> None:
    submitted: dict[tuple[int, str, Any], dict[str, float]] = {}
    fields: dict[tuple[int, str], tuple[float, dict[str, float]]] = {}
    for kind, ask, owner, unit_start, label, amount, won in rows:
        if kind == "call":
            submitted.setdefault((ask, owner, unit_start), {})[label] = _float(amount)
        else:
            won_sum, by_cat = fields.get((ask, owner), (0.0, {}))
            category = category_of(label)
            if category is not None:
                by_cat[category] = by_cat.get(category, 0.0) + _float(amount)
            fields[(ask, owner)] = (won_sum + _float(won), by_cat)
    owners_with_calls: dict[int, set[str]] = {}
    for (ask, owner, _unit), cats in submitted.items():
        inputs = found[ask]
        inputs.calls[owner] = inputs.calls.get(owner, CategoryCall(0, 0, 0)) + (
            call_from_submission(cats)
        )
        owners_with_calls.setdefault(ask, set()).add(owner)
        inputs.has_categories = True
    for (ask, owner), (won_sum, by_cat) in fields.items():
        inputs = found[ask]
        key = owner if owner is not None else "(no owner)"
        inputs.calls[key] = inputs.calls.get(key, CategoryCall(0, 0, 0)) + call_from_fields(
            won_sum, by_cat
        )
    for ask, owners in owners_with_calls.items():
        found[ask].submitted_owners = len(owners)


def actuals(
    con: duckdb.DuckDBPyConnection,
    periods: list[Period],
    scope: Scope,
    *,
    reporting_currency: str | None = None,
) -> dict[str, tuple[float, int]]:
    """Period label -> (won amount, won deals) from the current opportunities."""
    if not periods:
        return {}
    params = {
        "labels": [p.label for p in periods],
        "period_starts": [p.start for p in periods],
        "period_ends": [p.end for p in periods],
        "first_day": min(p.start for p in periods),
        "last_day": max(p.end for p in periods),
        "team": scope.team,
        "region": scope.region,
        "rep": scope.rep,
    } | fx_params(con, reporting_currency)
    rows = con.execute(ACTUALS_SQL, params).fetchall()
    return {label: (_float(amount), int(n)) for label, amount, n, _unpriced in rows}


def open_deals(
    con: duckdb.DuckDBPyConnection,
    ask: Ask,
    scope: Scope,
    *,
    reporting_currency: str | None = None,
) -> pd.DataFrame:
    """The open deals behind one Ask's forecast, largest first (one row per deal)."""
    params = _params(con, [ask], scope, reporting_currency)
    roster = scope.team is not None or scope.region is not None
    frame = con.execute(open_deals_sql(ask.source, roster), params).df()
    return frame.drop(columns=["ask"])


def data_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The current data's as-of date: the newest export date in `opportunities`."""
    return con.execute("SELECT max(snapshot_date) FROM opportunities").fetchone()[0]
