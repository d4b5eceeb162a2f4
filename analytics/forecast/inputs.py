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
from analytics.labels import NO_OWNER
from analytics.metrics.fx import fx_params, priced_sql
from analytics.pointintime import NEAREST_EXPORT, nearest_export_join, nearest_field
from analytics.run_memo import memoised
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


@dataclass(frozen=True)
class Gathered:
    """Inputs `gather` read for some asks, handed on so that a later `gather` of the same
    asks (`known`) reads none of them again: the scope and reporting currency they were
    read under, and the inputs per `Ask.key`.

    Why: the Forecast page's backtest and its convergence chart ask for different days of
    the same data, each a pass over every deal per source; gathered together, the rebuilt
    open deals, look-back windows and calls of both are one pass (issue 14). An ask's
    inputs depend only on the ask, the scope, the reporting currency and the data, never
    on the other asks of its pass (tests/test_forecast_inputs_batched.py), so they are
    reused only under the same scope and currency; the caller keeps the data the same
    (the page caches both by the data version).
    """

    scope: Scope
    reporting_currency: str
    inputs: dict[str, ForecastInputs]

    @classmethod
    def of(
        cls,
        con: duckdb.DuckDBPyConnection,
        scope: Scope,
        found: dict[str, ForecastInputs],
        asks: list[Ask],
        reporting_currency: str | None = None,
    ) -> Gathered:
        """`asks`' inputs from `gather`'s answer `found` (read under `scope` and
        `reporting_currency`, None: the settings')."""
        currency = fx_params(con, reporting_currency)["reporting_currency"]
        return cls(scope, currency, {a.key: found[a.key] for a in asks})


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
    spans: bool = False,
) -> str:
    """CTEs `src` (the source's rows per ask, scope-filtered) and `deals` (+ amount_rc).

    `rebuilt`: the name of a temp table already holding each ask's open deals' stage and
    amount from the stage history (`_materialise_stages`), read instead of the ASOF join.

    `closed`: what a closed rebuilt deal must also meet to be read; `open_deals=False`:
    no rebuilt open deal is read (`_rebuilt_sql`). `spans`: the imported stage changes
    are read from `stage_history_spans` (current only), as `_rebuilt_sql` says.

    `roster`: join `reps` for a team or region filter. Without one, the join filters
    nothing (deals of owners missing from the roster count), so it is left out: it is a
    join over every snapshot row. $team and $region are then referenced as the constant
    conditions they are (both NULL), so the parameters stay the same.
    """
    if source == "snapshot":
        origin = "JOIN opportunity_snapshots AS s ON s.snapshot_date = a.data_date"
    elif source in REBUILT_SOURCES:
        rows = _rebuilt_sql(source == "stage history", rebuilt, closed, open_deals, spans)
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
    spans: bool = False,
) -> str:
    """Each ask's deals as they stood at the end of its data date, rebuilt from the current
    export (analytics/pointintime.py, "rebuilt" / "stage history"): deals created by then;
    closed if they had closed by then (close date and outcome as known), else open with no
    expected close date, no forecast category and, `with_stages`, the stage (and amount,
    when recorded) of their last stage change on or before the date (else unknown). Reads
    nothing dated after the data date except the documented compromise: owners and deal
    types as last exported, and an open deal's amount and currency from the export nearest
    the data date (analytics.pointintime.NEAREST_EXPORT), which is after it when no export
    on or before it holds the deal. `stages`: a temp table of those stages and amounts
    per ask and open deal (`_materialise_stages`), read instead of the ASOF join.
    `spans`: the imported changes are looked up in `stage_history_spans` (only when it is
    current, `_spans_current`) and only the view's snapshot half by the ASOF join: the
    same stage and amount (the change entered last on or before the data date; a same-day
    change before the last of its day holds on no day), without sorting every imported
    change (issue 14: the Forecast page's deal list at 1,000,000 deals).

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
    # an open deal's amount and currency: from the export nearest the data date
    # (analytics.pointintime.NEAREST_EXPORT)
    nearest = nearest_export_join("o", "a.data_date")
    open_then = f"""
        SELECT a.ask, a.data_date AS ask_day,
               CAST(a.data_date AS TIMESTAMP) + INTERVAL 1 DAY AS day_over,
               o.* REPLACE ({nearest_field("amount", "o")} AS amount,
                            {nearest_field("currency", "o")} AS currency)
        FROM asks AS a
        JOIN opportunities AS o
          ON o.created_date <= a.data_date
         AND (NOT o.is_closed OR o.close_date > a.data_date)
        {nearest}"""
    if not with_stages:
        return f"""{closed_half}
    UNION ALL
    SELECT a.ask, o.opportunity_id, o.opportunity_name, o.account, o.owner,
           CAST(NULL AS VARCHAR), {nearest_field("amount", "o")},
           {nearest_field("currency", "o")}, CAST(NULL AS VARCHAR),
           o.created_date, CAST(NULL AS DATE), false, false, o.deal_type, true
    FROM asks AS a
    JOIN opportunities AS o
      ON o.created_date <= a.data_date AND (NOT o.is_closed OR o.close_date > a.data_date)
    {nearest}
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
    stage, amount = "h.stage", "h.amount"
    if spans and stages is None:
        # a deal's changes are all imported or all from snapshots (the view's anti join):
        # at most one of the two lookups finds a row, and the imported spans do not overlap
        stage = "CASE WHEN hi.opportunity_id IS NULL THEN hs.stage ELSE hi.stage END"
        amount = "CASE WHEN hi.opportunity_id IS NULL THEN hs.amount ELSE hi.amount END"
        lookup = """LEFT JOIN stage_history_spans AS hi
           ON hi.opportunity_id = k.opportunity_id
          AND hi.from_day <= k.ask_day AND hi.to_day > k.ask_day
    -- the snapshot half: each change until the deal's next one (one per snapshot date, so
    -- no ties), joined by deal and day like the spans, not by an ASOF join that sorts
    -- every open deal even when no deal has a snapshot change
    LEFT JOIN (
        SELECT opportunity_id, entered_at, stage, amount,
               lead(entered_at) OVER (PARTITION BY opportunity_id ORDER BY entered_at)
                   AS next_at
        FROM opportunity_stage_history
        WHERE origin = 'snapshot'
    ) AS hs
           ON hs.opportunity_id = k.opportunity_id
          AND hs.entered_at < k.day_over AND (hs.next_at IS NULL OR hs.next_at >= k.day_over)"""
    return f"""{closed_half}
    UNION ALL
    SELECT k.ask, k.opportunity_id, k.opportunity_name, k.account, k.owner, {stage},
           coalesce({amount}, k.amount), k.currency, CAST(NULL AS VARCHAR),
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
# A deal won in the period and closed by the data date needs a period that began by then:
# said of the ask alone, so the asks made before their period began (every start-of-period
# forecast of a backtest) are dropped before the range join of asks to every won deal.
_WON_IN_PERIOD = """o.is_won AND o.close_date BETWEEN a.period_start AND a.period_end
         AND a.period_start <= a.data_date"""
_WON_SINCE_PAST_HIRES = f"o.is_won AND o.close_date > a.data_date - {NEW_REP_HISTORY_DAYS}"


# Open pipeline of the period and what is already won: per stage, per (segment, age on the
# period's last day), and per ask (with how many of these deals carry a forecast category),
# in one scan (GROUPING SETS).
def pipeline_sql(
    source: Source,
    roster: bool = True,
    rebuilt: str | None = None,
    narrow: bool = True,
    open_deals: bool = True,
) -> str:
    """`open_deals=False` (rebuilt sources): the deals won in the period only; the open
    ones come from `open_spans_sql`."""
    closed = _WON_IN_PERIOD if narrow else None
    return f"""
WITH {_ASKS_SQL},
{_deals_sql(source, roster, rebuilt, closed, open_deals)}
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


# --- rebuilt sources, aggregated first (issue 14, "Speed") --------------------------------
#
# After one upload every ask is rebuilt from the current export, and reading it per ask and
# deal made each query form a row per deal per ask (10 to 14 million at 1,000,000 deals).
# The two parts that read most of the deals are answered without that:
#
# * the deals open on each ask's data date (`open_spans_sql`): a deal is open over the
#   asks' data dates from its created date until its close date, so it is one span of day
#   numbers [lo, hi) over the distinct data dates, whatever the number of asks (with stage
#   history, one span per stage it held then); each span adds itself at lo and takes itself
#   away at hi, and a running sum per group gives each day's open deals, as
#   analytics/pointintime.py `as_of_totals_sql` does;
# * the closed deals of the look-back windows (`history_grouped_sql`): grouped by close day
#   first (a few thousand groups), then summed per ask's windows.
#
# The deals won in the period (pipeline, calls) and the ramp's first months stay per deal
# (few). `gather(spans=False)` reads every ask's deals per deal, as before;
# tests/test_forecast_inputs_spans.py and tests/test_forecast_inputs_narrow.py compare them.


def _spans_filter(roster: bool, owner: str = "o.owner") -> tuple[str, str]:
    """(join, condition) that keep a deal of the scope, as `_deals_sql` filters them."""
    if roster:
        return f"LEFT JOIN reps AS r ON r.rep = {owner}", owner_filter_sql(owner)
    return "", f"$team IS NULL AND $region IS NULL AND ($rep IS NULL OR {owner} = $rep)"


# The asks' distinct data dates numbered from 0, oldest first, and in `fc_calendar`, for
# every date from the first data date to the last, how many data dates come before it: a
# deal created, closed or changed on that date counts from / stops at that day number.
# Rows joined on the date, not a list indexed per deal: a list column carried along a
# million rows (or through a window) was most of the query's time.
_DAY_NUMBERS_SQL = """
fc_days AS (
    SELECT day, CAST(row_number() OVER (ORDER BY day) - 1 AS INTEGER) AS day_no
    FROM (SELECT DISTINCT data_date AS day FROM asks)
),
fc_bounds AS (
    SELECT min(day) AS first_day, max(day) AS last_day, CAST(count(*) AS INTEGER) AS days
    FROM fc_days
),
fc_calendar AS (
    SELECT c.date,
           CAST((SELECT count(*) FROM fc_days AS n WHERE n.day < c.date) AS INTEGER) AS day_no
    FROM fc_bounds AS b,
         LATERAL (SELECT CAST(unnest(generate_series(b.first_day, b.last_day,
                                                     INTERVAL 1 DAY)) AS DATE) AS date) AS c
)"""


def _numbered_changes(only: str = "TRUE") -> str:
    """The stage changes (those matching `only`, a constant of this module) of the deals
    open on some data date, each numbered from its day to the next change's by a window."""
    return f"""
    SELECT h.opportunity_id, h.stage, h.amount,
           lag(h.entered_at) OVER w IS NULL                       AS first_change,
           h.day_no                                               AS lo,
           coalesce(lead(h.day_no) OVER w, h.days)                AS hi
    FROM (
        SELECT h.opportunity_id, h.stage, h.amount, h.entered_at, b.days, c.day_no
        FROM opportunity_stage_history AS h
        CROSS JOIN fc_bounds AS b
        JOIN fc_calendar AS c ON c.date = greatest(CAST(h.entered_at AS DATE), b.first_day)
        -- only the deals open on some data date: the others' changes are never joined,
        -- and the window over every change was most of the query
        SEMI JOIN fc_deal_spans AS d ON d.opportunity_id = h.opportunity_id
        WHERE ({only}) AND CAST(h.entered_at AS DATE) <= b.last_day
    ) AS h
    WINDOW w AS (PARTITION BY h.opportunity_id ORDER BY h.entered_at)"""


# With stage history: each stage change up to the last data date holds from its day number
# to the next change's (same-day changes before the last of a day hold on no day): the
# ASOF rule of `_rebuilt_sql`, a change counts from the day it was entered.
_CHANGE_SPANS_SQL = (
    """
fc_changes AS (
"""
    + _numbered_changes()
    + """
),"""
)

# The same spans, the imported changes read from `stage_history_spans`
# (analytics/metrics/derived.py: each imported change with the day the deal's next one was
# entered, counted at import), so no window runs over every imported change; only the deals
# without imported history (the view's snapshot half) still number theirs here. Each deal's
# first change is kept whenever it falls (its stage is unknown until then); a change from
# after the last data date holds on no day, and one that ended by the first holds on none.
# Only the open deals' changes count: `_STAGE_SPANS_SQL` joins them to the deals (no semi
# join first: a second hash join of the 3 million changes to the deals).
_DERIVED_CHANGE_SPANS_SQL = (
    """
fc_changes AS (
    SELECT c.opportunity_id, c.stage, c.amount, c.first_change,
           CASE WHEN c.from_day <= b.last_day THEN lo.day_no ELSE b.days END  AS lo,
           CASE WHEN c.to_day <= b.last_day THEN hi.day_no ELSE b.days END    AS hi
    FROM stage_history_spans AS c
    CROSS JOIN fc_bounds AS b
    LEFT JOIN fc_calendar AS lo ON lo.date = greatest(c.from_day, b.first_day)
    LEFT JOIN fc_calendar AS hi ON hi.date = greatest(c.to_day, b.first_day)
    WHERE c.to_day > b.first_day OR c.first_change
    UNION ALL
"""
    + _numbered_changes("h.origin = 'snapshot'")
    + """
),"""
)

# Each open deal joined once to its changes: every change's own span, and the unknown span
# before the deal's first change (all its open days when it has none), from the same row.
# Why one join: the two spans as two joins (LEFT for the first change, INNER for every
# change) joined the 3 million changes to the deals twice.
_STAGE_SPANS_SQL = """
    SELECT d.owner, d.currency_key, d.segment, d.created_date,
           CASE WHEN k.unknown THEN NULL ELSE c.stage END                     AS stage,
           CASE WHEN k.unknown THEN d.amount
                ELSE coalesce(c.amount, d.amount) END                         AS amount,
           CASE WHEN k.unknown THEN d.lo ELSE greatest(d.lo, c.lo) END        AS lo,
           CASE WHEN k.unknown THEN least(d.hi, coalesce(c.lo, d.hi))
                ELSE least(d.hi, c.hi) END                                    AS hi
    FROM fc_deal_spans AS d
    -- a change that holds on no data date has no span of its own (its deal's first change
    -- still ends the unknown one): between the asks' days, most changes
    LEFT JOIN (SELECT * FROM fc_changes WHERE lo < hi OR first_change) AS c
           ON c.opportunity_id = d.opportunity_id
    JOIN (VALUES (true), (false)) AS k(unknown)
      ON CASE WHEN k.unknown THEN c.opportunity_id IS NULL OR c.first_change
              ELSE c.opportunity_id IS NOT NULL END"""


_UNKNOWN_STAGE_SPANS_SQL = """
    SELECT owner, currency_key, segment, created_date, CAST(NULL AS VARCHAR) AS stage,
           amount, lo, hi
    FROM fc_deal_spans"""


def open_spans_sql(source: Source, roster: bool = True, derived: bool = False) -> str:
    """The deals open on each rebuilt ask's data date, summed without a row per deal and
    ask (see above): per ask (`level` 'ask'), per stage ('stage'), per segment and age on
    the period's last day ('segment') and per owner ('owner'), each with the open amount
    in the reporting currency, the deals, those without a value and those unpriced.

    The same deals as `_rebuilt_sql`'s open half: created on or before the data date and
    not closed by then; stage and amount from the last stage change on or before it with
    stage history (`source`), else unknown and from the export nearest the day (split
    where that export changes: `fc_nearest`). Reads nothing dated after
    the last data date: later changes are never read, and a close date only says whether
    the deal had closed by each day. Deals without a created date, or closed without a
    close date, are open on no day. `derived`: the imported changes' spans from
    `stage_history_spans`, only when it is current (`_spans_current`).
    """
    history = source == "stage history"
    join, where = _spans_filter(roster)
    return f"""
WITH {_ASKS_SQL},
{_DAY_NUMBERS_SQL},
-- the day numbers [lo, hi) each export of a deal that several exports hold is nearest to
-- (analytics.pointintime.NEAREST_EXPORT); no row when no deal has two exports
fc_nearest AS (
    SELECT e.opportunity_id, e.amount, e.currency,
           coalesce(f.day_no, 0) AS lo, coalesce(t.day_no, b.days) AS hi
    FROM {NEAREST_EXPORT} AS e
    JOIN fc_bounds AS b ON e.valid_from <= b.last_day AND e.valid_to > b.first_day
    LEFT JOIN fc_calendar AS f ON f.date = e.valid_from
    LEFT JOIN fc_calendar AS t ON t.date = e.valid_to
),
-- each open deal's day numbers, split where its nearest export changes
fc_deal_spans AS (
    SELECT *
    FROM (
        SELECT o.opportunity_id, o.owner,
               nullif(upper(trim({nearest_field("currency", "o", "e")})), '')
                                                                        AS currency_key,
               coalesce(nullif(trim(o.deal_type), ''), '{NO_SEGMENT}')  AS segment,
               o.created_date,
               {nearest_field("amount", "o", "e")}                       AS amount,
               greatest(lo.day_no, coalesce(e.lo, 0))                   AS lo,
               least(CASE WHEN o.is_closed AND o.close_date <= b.last_day
                          THEN hi.day_no ELSE b.days END,
                     coalesce(e.hi, b.days))                            AS hi
        FROM opportunities AS o
        CROSS JOIN fc_bounds AS b
        JOIN fc_calendar AS lo ON lo.date = greatest(o.created_date, b.first_day)
        LEFT JOIN fc_calendar AS hi ON hi.date = o.close_date
        LEFT JOIN fc_nearest AS e ON e.opportunity_id = o.opportunity_id
        {join}
        WHERE o.created_date <= b.last_day
          AND (NOT o.is_closed OR o.close_date > b.first_day)
          AND {where}
    )
    WHERE lo < hi
),
{(_DERIVED_CHANGE_SPANS_SQL if derived else _CHANGE_SPANS_SQL) if history else ""}
-- what each open deal counts as over which day numbers: without stage history, stage
-- unknown over all its open days; with it, unknown until its first change, then each
-- change's stage (and amount, when recorded) while it holds
fc_spans AS (
{_STAGE_SPANS_SQL if history else _UNKNOWN_STAGE_SPANS_SQL}
),
-- +1 at a span's first day number, -1 at its end, per group of each level (each span read
-- once, a step of each sign per span: not the spans materialised and read twice)
fc_group_steps AS (
    SELECT
        grouping(stage, segment, created_date, owner)                   AS grouped,
        currency_key, stage, segment, created_date, owner, day_no,
        sum(deals) AS deals, sum(with_amount) AS with_amount, sum(amount) AS amount
    FROM (
        SELECT s.currency_key, s.stage, s.segment, s.created_date, s.owner,
               CASE WHEN k.step = 1 THEN s.lo ELSE s.hi END                AS day_no,
               k.step                                                      AS deals,
               CASE WHEN s.amount IS NULL THEN 0 ELSE k.step END           AS with_amount,
               CASE WHEN k.step = 1 THEN s.amount ELSE -s.amount END       AS amount
        FROM fc_spans AS s
        CROSS JOIN fc_bounds AS b
        JOIN (VALUES (1), (-1)) AS k(step) ON k.step = 1 OR s.hi < b.days
        WHERE s.lo < s.hi
    )
    GROUP BY GROUPING SETS (
        (currency_key, stage, day_no),
        (currency_key, segment, created_date, day_no),
        (currency_key, owner, day_no)
    )
),
fc_steps AS (
    SELECT CASE grouped WHEN 7 THEN 'stage' WHEN 9 THEN 'segment' ELSE 'owner' END AS level,
           currency_key, stage, segment, created_date, owner, day_no, deals, with_amount,
           amount
    FROM fc_group_steps
    UNION ALL
    -- per ask: the stages' steps added up (a few thousand rows, not every span again)
    SELECT 'ask', currency_key, NULL, NULL, NULL, NULL, day_no,
           sum(deals), sum(with_amount), sum(amount)
    FROM fc_group_steps
    WHERE grouped = 7
    GROUP BY currency_key, day_no
),
-- running totals: each holds from its day number until the next step of its group
fc_running AS (
    SELECT level, currency_key, stage, segment, created_date, owner, day_no AS lo,
           coalesce(lead(day_no) OVER w, 2147483647) AS hi,
           sum(deals) OVER w AS deals, sum(with_amount) OVER w AS with_amount,
           sum(amount) OVER w AS amount
    FROM fc_steps
    WINDOW w AS (PARTITION BY level, currency_key, stage, segment, created_date, owner
                 ORDER BY day_no)
),
fc_open AS (
    SELECT a.ask, a.period_end, r.level, r.stage, r.segment, r.created_date, r.owner,
           r.deals, r.with_amount,
           CASE
               WHEN r.with_amount = 0 THEN NULL
               WHEN r.currency_key IS NULL OR r.currency_key = $reporting_currency
                   THEN CAST(r.amount AS DOUBLE)
               ELSE CAST(r.amount AS DOUBLE) * x.rate
           END                                                          AS amount_rc,
           r.with_amount > 0 AND NOT (r.currency_key IS NULL
                                      OR r.currency_key = $reporting_currency)
               AND x.rate IS NULL                                       AS unpriced
    FROM asks AS a
    JOIN fc_days AS n ON n.day = a.data_date
    JOIN fc_running AS r ON n.day_no >= r.lo AND n.day_no < r.hi
    LEFT JOIN rates AS x ON x.ask = a.ask AND x.currency = r.currency_key
    WHERE r.deals > 0
)
SELECT
    level, ask, stage, segment, period_end - created_date AS age_end, owner,
    coalesce(sum(amount_rc), 0)                                        AS open_amount,
    sum(deals)                                                         AS open_deals,
    sum(deals - with_amount) + coalesce(sum(with_amount) FILTER (WHERE unpriced), 0)
                                                                       AS open_unvalued,
    coalesce(sum(with_amount) FILTER (WHERE unpriced), 0)              AS unpriced_deals
FROM fc_open
GROUP BY ALL
"""


def history_grouped_sql(roster: bool = True) -> str:
    """`history_sql`'s rows for rebuilt sources, from the closed deals grouped first.

    A rebuilt ask reads a closed deal once it was created and closed by the data date,
    i.e. from max(created, close) on (`known_from`), and each window is a range of close
    dates ending on the data date. So the closed deals are grouped by (segment, currency,
    outcome, close day, known_from) (a few thousand groups) and each ask sums the groups in
    its windows; the cycle lengths' counts in the 365-day look-back are a running count per
    (segment, cycle length) over close days, read at the data date minus at 365 days
    before it. Per segment, the first day it is known at all, the first with a won deal
    (`has_history`) and the first with a deal closed 729 days or more before
    (`covers_prev_year`) decide those for every ask at once. Exact integers and decimal
    sums throughout; amounts are converted per ask at its rate.
    """
    join, where = _spans_filter(roster)
    return f"""
WITH {_ASKS_SQL},
h_closed AS (
    SELECT coalesce(nullif(trim(o.deal_type), ''), '{NO_SEGMENT}')   AS segment,
           nullif(upper(trim(o.currency)), '')                       AS currency_key,
           o.is_won, o.amount, o.created_date, o.close_date,
           greatest(o.created_date, o.close_date)                    AS known_from,
           CASE WHEN o.is_won AND o.close_date >= o.created_date
                THEN o.close_date - o.created_date END               AS cycle_days
    FROM opportunities AS o
    {join}
    WHERE o.is_closed AND o.close_date IS NOT NULL AND o.created_date IS NOT NULL
      AND {where}
),
h_segments AS (
    SELECT segment,
           min(known_from)                                           AS first_day,
           min(known_from) FILTER (WHERE is_won)                     AS first_won_day,
           min(greatest(created_date, close_date + {2 * GROWTH_DAYS - 1}))
                                                                     AS first_covering_day
    FROM h_closed
    GROUP BY segment
),
h_groups AS (
    SELECT segment, currency_key, is_won, close_date, known_from,
           count(*) AS deals, sum(amount) AS amount
    FROM h_closed
    WHERE close_date > (SELECT min(data_date) FROM asks) - {2 * GROWTH_DAYS}
    GROUP BY ALL
),
h_windows AS (
    SELECT a.ask, g.segment, g.is_won, g.deals,
           g.close_date > a.data_date - {CYCLE_LOOKBACK_DAYS}           AS in_lookback,
           g.close_date > a.data_date - {RUN_RATE_DAYS}                 AS in_last_90,
           g.close_date > a.data_date - {GROWTH_DAYS}                   AS in_year,
           g.close_date <= a.data_date - {GROWTH_DAYS}                  AS in_prev_year,
           CASE
               WHEN g.amount IS NULL THEN NULL
               WHEN g.currency_key IS NULL OR g.currency_key = $reporting_currency
                   THEN CAST(g.amount AS DOUBLE)
               ELSE CAST(g.amount AS DOUBLE) * x.rate
           END                                                         AS amount_rc
    FROM h_groups AS g
    JOIN asks AS a
      ON g.known_from <= a.data_date AND g.close_date > a.data_date - {2 * GROWTH_DAYS}
    LEFT JOIN rates AS x ON x.ask = a.ask AND x.currency = g.currency_key
),
-- the cycle lengths' counts: each window (D - 365, D] is the running count per (segment,
-- cycle length) at D minus the one at D - 365. The window ends are numbered (oldest first)
-- and each won deal's close day becomes the number of the first end on or after it.
h_ends AS (
    SELECT day, CAST(row_number() OVER (ORDER BY day) - 1 AS INTEGER) AS end_no
    FROM (SELECT data_date AS day FROM asks
          UNION
          SELECT data_date - {CYCLE_LOOKBACK_DAYS} FROM asks)
),
h_end_bounds AS (
    SELECT b.first_day, b.last_day,
           list(CAST((SELECT count(*) FROM h_ends AS n WHERE n.day < c.date) AS INTEGER)
                ORDER BY c.date) AS calendar
    FROM (SELECT min(day) AS first_day, max(day) AS last_day FROM h_ends) AS b,
         LATERAL (SELECT CAST(unnest(generate_series(b.first_day, b.last_day,
                                                     INTERVAL 1 DAY)) AS DATE) AS date) AS c
    GROUP BY ALL
),
h_cycle_steps AS (
    SELECT d.segment, d.cycle_days,
           b.calendar[greatest(d.close_date, b.first_day) - b.first_day + 1] AS end_no,
           count(*) AS deals
    FROM h_closed AS d, h_end_bounds AS b
    WHERE d.cycle_days IS NOT NULL AND d.close_date <= b.last_day
    GROUP BY ALL
),
-- closed on or before end number `lo` .. `hi` - 1: `running` deals
h_cycle_running AS (
    SELECT segment, cycle_days, end_no AS lo,
           coalesce(lead(end_no) OVER w, 2147483647) AS hi,
           sum(deals) OVER w AS running
    FROM h_cycle_steps
    WINDOW w AS (PARTITION BY segment, cycle_days ORDER BY end_no)
),
h_cycles AS (
    SELECT e.ask, r.segment, r.cycle_days, sum(e.sign * r.running) AS cycles
    FROM (
        SELECT a.ask, n.end_no, 1 AS sign
        FROM asks AS a JOIN h_ends AS n ON n.day = a.data_date
        UNION ALL
        SELECT a.ask, n.end_no, -1
        FROM asks AS a JOIN h_ends AS n ON n.day = a.data_date - {CYCLE_LOOKBACK_DAYS}
    ) AS e
    JOIN h_cycle_running AS r ON e.end_no >= r.lo AND e.end_no < r.hi
    GROUP BY ALL
)
SELECT ask, segment, cycle_days, cycles, 0, NULL, NULL, NULL, NULL, NULL, false, false
FROM h_cycles
WHERE cycles > 0
UNION ALL
SELECT
    ask, segment, NULL, 0,
    coalesce(sum(deals) FILTER (WHERE in_lookback AND is_won), 0),
    sum(amount_rc) FILTER (WHERE in_lookback AND is_won),
    sum(amount_rc) FILTER (WHERE in_lookback),
    sum(amount_rc) FILTER (WHERE is_won AND in_last_90),
    sum(amount_rc) FILTER (WHERE is_won AND in_year),
    sum(amount_rc) FILTER (WHERE is_won AND in_prev_year),
    false, false
FROM h_windows
GROUP BY ask, segment
UNION ALL
SELECT a.ask, s.segment, NULL, 0, 0, NULL, NULL, NULL, NULL, NULL,
       coalesce(s.first_covering_day <= a.data_date, false),
       coalesce(s.first_won_day <= a.data_date, false)
FROM asks AS a
JOIN h_segments AS s ON s.first_day <= a.data_date
"""


# Forecast calls visible to each ask (latest per owner, sub-period and category, submitted
# before the cut-off, for sub-periods inside the period), and the deals' own categories for
# the deals no call covers (grouped by owner and raw category label).
def calls_sql(
    source: Source,
    roster: bool = True,
    rebuilt: str | None = None,
    narrow: bool = True,
    open_deals: bool = True,
) -> str:
    """`open_deals=False` (rebuilt sources): the deals won in the period only. A rebuilt
    open deal has no expected close date, so no call covers it: its owner's share comes
    from `open_spans_sql` (`_read_open`)."""
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
{_deals_sql(source, roster, rebuilt, closed, open_deals)},
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
def open_deals_sql(source: Source, roster: bool = True, spans: bool = False) -> str:
    """Each ask's open deals in its period, one row per deal, largest first. `spans`: the
    imported stage changes from `stage_history_spans` (only when it is current)."""
    return f"""
WITH {_ASKS_SQL},
{_deals_sql(source, roster, spans=spans)}
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
    """The value as a float, 0.0 when missing (None, NaN). Called per row of every answer
    (hundreds of thousands of times a page): `float` first, pandas' test only for what
    `float` refuses (pd.NA)."""
    if value is None:
        return 0.0
    try:
        number = float(value)
    except TypeError:
        if pd.isna(value):
            return 0.0
        raise
    return 0.0 if number != number else number


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> list[tuple]:
    return con.execute(sql, params).fetchall()


def gather(
    con: duckdb.DuckDBPyConnection,
    asks: list[Ask],
    scope: Scope,
    *,
    reporting_currency: str | None = None,
    narrow: bool = True,
    spans: bool = True,
    known: Gathered | None = None,
) -> dict[str, ForecastInputs]:
    """The inputs of every Ask (keyed by `Ask.key`); the scope's period is not used.

    `known`: inputs gathered before (`Gathered`); the asks found there under the same
    scope and reporting currency are taken from it, not read again.

    Asks are grouped by source; each group costs four or five queries whatever its size.
    The rebuilt sources read their open deals and look-back windows aggregated first
    (`open_spans_sql`, `history_grouped_sql`); `spans=False` reads them per ask and deal,
    and `narrow=False` also every closed deal per ask, as before the queries read only the
    closed deals they use (`_rebuilt_sql`): the same inputs, slower;
    tests/test_forecast_inputs_spans.py and tests/test_forecast_inputs_narrow.py compare
    them.
    """
    out: dict[str, ForecastInputs] = {}
    unique = list({a.key: a for a in asks}.values())
    if known is not None and known.scope == scope:
        currency = fx_params(con, reporting_currency)["reporting_currency"]
        if known.reporting_currency == currency:
            out = {a.key: known.inputs[a.key] for a in unique if a.key in known.inputs}
            unique = [a for a in unique if a.key not in out]
    for source in ("snapshot", "current", *REBUILT_SOURCES):
        group = [a for a in unique if a.source == source]
        if not group:
            continue
        params = _params(con, group, scope, reporting_currency)
        roster = scope.team is not None or scope.region is not None
        found = {a.key: ForecastInputs(ask=a) for a in group}
        by_position = {i: found[a.key] for i, a in enumerate(group)}  # the SQL's `ask`
        if source in REBUILT_SOURCES and narrow and spans:
            _gather_spans(con, source, roster, params, by_position)
            out.update(found)
            continue
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


def _gather_spans(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    roster: bool,
    params: dict[str, Any],
    found: dict[int, ForecastInputs],
) -> None:
    """`gather` of one rebuilt source: the deals won in the period per deal (pipeline,
    calls), the open deals from spans (`open_spans_sql`), the look-back windows grouped
    first (`history_grouped_sql`), the ramp per deal (only deals won in a past hire's
    first month are read)."""
    _read_pipeline(found, _rows(con, pipeline_sql(source, roster, open_deals=False), params))
    derived = source == "stage history" and _spans_current(con)
    owners = _read_open(found, _rows(con, open_spans_sql(source, roster, derived), params))
    history = _rows(con, history_grouped_sql(roster), params)
    ramp = _rows(con, ramp_sql(source, roster), params)
    _read_history(found, history, ramp)
    _read_calls(found, _rows(con, calls_sql(source, roster, open_deals=False), params) + owners)


def _spans_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether `stage_history_spans` matches the stage changes there are now (a stale or
    missing one is never read: the changes are then numbered per query)."""
    from analytics.metrics.derived import stage_spans_current

    return stage_spans_current(con)


def _read_open(found: dict[int, ForecastInputs], rows: list[tuple]) -> list[tuple]:
    """Adds `open_spans_sql`'s figures to the inputs read from the won deals
    (`_read_pipeline`); returns the per-owner open amounts as `calls_sql`'s 'fields' rows
    (no forecast category: a rebuilt open deal has none)."""
    owners = []
    for level, ask, stage, segment, age_end, owner, amount, deals, unvalued, unpriced in rows:
        inputs = found[ask]
        if level == "ask":
            inputs.open_amount = _float(amount)
            inputs.open_deals = int(deals)
            inputs.open_unvalued = int(unvalued)
            inputs.unpriced_deals += int(unpriced)
        elif level == "stage":
            inputs.open_by_stage[stage] = _float(amount)
        elif level == "segment":
            if age_end is None:
                inputs.undated_open += _float(amount)
            else:
                inputs.cycle_deals.append((segment, float(age_end), _float(amount)))
        else:
            owners.append(("fields", ask, owner, None, None, amount, 0.0))
    return owners


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
        # most rows carry a cycle length's count only (`history_grouped_sql`): what is
        # missing adds nothing (adding 0.0 to a sum that starts at 0.0 never changes it)
        if cycle is not None and cycles:
            days = float(cycle)
            self.counts[days] = self.counts.get(days, 0) + int(cycles)
        if won:
            self.won += int(won)
        if won_amt is not None:
            self.won_amount += _float(won_amt)
        if closed_amt is not None:
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
    for row in history:  # tens of thousands of rows: nothing built per row but once
        ask, segment, cycle, cycles, won, won_amt, closed_amt = row[:7]
        r90, year, prev_year, covers, has = row[7:]
        segment_tally = per_segment.get((ask, segment))
        if segment_tally is None:
            segment_tally = per_segment[(ask, segment)] = _Tally()
        ask_tally = per_ask.get(ask)
        if ask_tally is None:
            ask_tally = per_ask[ask] = _Tally()
        segment_tally.add(cycle, cycles, won, won_amt, closed_amt)
        ask_tally.add(cycle, cycles, won, won_amt, closed_amt)
        total = totals.get(ask)
        if total is None:
            total = totals[ask] = [0.0, 0.0, 0.0, False, False]
        # a missing sum adds nothing (adding 0.0 changes no sum that starts at 0.0)
        if r90 is not None:
            total[0] += _float(r90)
        if year is not None:
            total[1] += _float(year)
        if prev_year is not None:
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
        key = owner if owner is not None else NO_OWNER
        inputs.calls[key] = inputs.calls.get(key, CategoryCall(0, 0, 0)) + call_from_fields(
            won_sum, by_cat
        )
    for ask, owners in owners_with_calls.items():
        found[ask].submitted_owners = len(owners)


@memoised
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
    spans = ask.source == "stage history" and _spans_current(con)
    frame = con.execute(open_deals_sql(ask.source, roster, spans), params).df()
    return frame.drop(columns=["ask"])
