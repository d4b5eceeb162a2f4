"""Pipeline health: stalled deals, slipped deals, the snapshot waterfall and follow-up gaps.

Why these four: a manager's pipeline review asks which deals are stuck (no one has touched
them, or they sit in a stage far longer than won deals did), which deals keep sliding out
of the period (close dates pushed), how the pipeline for the period changed between two
weekly exports and why, and which open deals get fewer follow-ups than the deals we won
(80% of deals need five or more touches, domain brief). Definitions are in
docs/metrics.md, "Pipeline health"; each figure is one SQL query with bound parameters.

"Now" for stalled deals and follow-up gaps is the data's as-of date (the latest export
date in `opportunities`, overridable), not the wall clock, so a figure does not change
overnight without new data and tests do not depend on today's date.

The waterfall reads `opportunity_snapshots`: the state of a deal *on* a date is its row in
the latest snapshot on or before that date (as `opportunities` keeps a deal that a later
export no longer lists). Its money is exact: amounts stay DECIMAL, converted to the
reporting currency at one rate per currency (the end date's) and rounded to cents per
deal, so start + every bucket = end to the cent, by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import pandas as pd

from analytics.metrics.availability import unpriced_open_text
from analytics.metrics.fx import fx_params
from analytics.numbers import counted, largest_remainder, round_half_up, verb
from analytics.pointintime import (
    MAX_SNAPSHOT_AGE_DAYS,
    Basis,
    Source,
    bases,
    nearest_export_join,
    nearest_field,
    snapshot_dates,  # the one list (partial imports left out)
)
from analytics.scope import Scope, data_as_of, owner_filter_sql
from analytics.settings import Stage, load_stages
from analytics.sql import bind, run_sql, stage_history_ctes, step_keys

DEFAULT_IDLE_DAYS = 30
DEFAULT_STAGE_PERCENTILE = 0.75
# Fewer won deals than this with a time (or touches) for a stage: no yardstick for it.
DEFAULT_MIN_WON_DEALS = 5

# Waterfall buckets in chart order, between the starting and the ending pipeline.
WATERFALL_BUCKETS: tuple[str, ...] = (
    "new",
    "pulled in",
    "pushed out",
    "increased",
    "decreased",
    "won",
    "lost",
)

# One rate per currency: the latest on or before $rate_date (reporting currency needs none).
_RATES_SQL = """
    rates AS (
        SELECT currency, arg_max(rate, rate_date) AS rate
        FROM fx_rates WHERE rate_date <= CAST($rate_date AS DATE)
        GROUP BY currency
    )"""


def _in_reporting(amount: str, currency_key: str, rate: str) -> str:
    """SQL: `amount` in the reporting currency, DECIMAL rounded to cents; NULL if unpriced."""
    return f"""CASE
        WHEN {amount} IS NULL THEN NULL
        WHEN {currency_key} IS NULL OR {currency_key} = $reporting_currency THEN {amount}
        ELSE CAST(round({amount} * {rate}, 2) AS DECIMAL(18, 2)) END"""


def before_period_reason(con: duckdb.DuckDBPyConnection, scope: Scope) -> str | None:
    """Why `scope`'s period has no waterfall and no slipped deals by default, else None:
    the data ends before the period starts (or nothing is imported).

    Why: with no day of the period in the data there is no pipeline to read on any day of
    it; the waterfall was all zeros ("starting pipeline 0, ending pipeline 0"), which reads
    as an empty pipeline when nothing about the period is known yet. One sentence for the
    Pipeline page and `report pipeline` (its stderr note).
    """
    as_of = data_as_of(con)
    if as_of is None:
        return "no deal data has been imported yet"
    if as_of < scope.period.start:
        return (
            f"the data ends on {as_of}, before {scope.period.label} starts: "
            "nothing is known about it yet"
        )
    return None


def default_snapshot_pair(
    con: duckdb.DuckDBPyConnection, scope: Scope
) -> tuple[date | None, date | None]:
    """The snapshots a period is judged between: at its start, and its latest.

    Start: the latest snapshot on or before the period's first day, else the first one
    inside the period. End: the latest snapshot on or before the period's last day. Either
    is None when no snapshot qualifies.
    """
    start, end = scope.period.start, scope.period.end
    dates = snapshot_dates(con)
    before = [d for d in dates if d <= start]
    inside = [d for d in dates if start <= d <= end]
    first = before[-1] if before else (inside[0] if inside else None)
    upto = [d for d in dates if d <= end]
    last = upto[-1] if upto else None
    if first is not None and last is not None and last < first:
        last = None
    return first, last


# --- per-stage times of won deals (the stalled-deal yardstick) -----------------------------

# Per won deal and open step: days from entering the step to the next stage-history entry,
# summed over its stays (the funnel's "days in stage" rule), then the percentile per step.
_WON_STAGE_LIMIT_SQL = f"""
    won_deals AS (SELECT opportunity_id FROM opportunities WHERE is_won),
    {stage_history_ctes("won_deals", "won_history")},
    won_stays AS (
        SELECT h.opportunity_id, st.step,
               epoch(lead(h.entered_at) OVER (
                   PARTITION BY h.opportunity_id
                   ORDER BY h.entered_at, st.step NULLS LAST
               ) - h.entered_at) / 86400.0 AS days
        FROM won_history AS h
        LEFT JOIN steps AS st ON st.stage_key = lower(trim(h.stage))
    ),
    won_days AS (
        SELECT opportunity_id, step, sum(days) AS days
        FROM won_stays
        WHERE step IS NOT NULL AND step < $won_step AND days IS NOT NULL
        GROUP BY opportunity_id, step
    ),
    stage_limit AS (
        SELECT step, quantile_cont(days, $stage_percentile) AS limit_days, count(*) AS won_deals
        FROM won_days GROUP BY step
        HAVING count(*) >= $min_won_deals
    )"""

_STALLED_CTES = f"""
steps AS (
    SELECT unnest($step_keys) AS stage_key, unnest($step_numbers) AS step
),
{_RATES_SQL},
open_deals AS (
    SELECT o.opportunity_id, o.opportunity_name, o.account, o.owner, o.stage, o.amount,
           o.currency, upper(nullif(trim(o.currency), '')) AS currency_key, o.created_date,
           o.close_date, st.step
    FROM opportunities AS o
    LEFT JOIN reps AS r ON r.rep = o.owner
    LEFT JOIN steps AS st ON st.stage_key = lower(trim(o.stage))
    WHERE NOT o.is_closed AND {owner_filter_sql("o.owner")}
),
touch AS (
    SELECT a.opportunity_id, max(a.started_at) AS last_activity_at
    FROM activities AS a
    SEMI JOIN open_deals AS d ON d.opportunity_id = a.opportunity_id
    WHERE a.started_at < CAST($as_of AS DATE) + INTERVAL 1 DAY
    GROUP BY a.opportunity_id
),
{stage_history_ctes("open_deals", "open_history")},
marked AS (
    SELECT h.opportunity_id, h.entered_at, h.origin,
           lower(trim(h.stage)) = lower(trim(d.stage)) AS is_current
    FROM open_history AS h
    JOIN open_deals AS d ON d.opportunity_id = h.opportunity_id
    WHERE h.entered_at < CAST($as_of AS DATE) + INTERVAL 1 DAY
),
last_other AS (
    SELECT opportunity_id, max(entered_at) FILTER (WHERE NOT is_current) AS last_other
    FROM marked GROUP BY opportunity_id
),
stage_entry AS (
    -- the start of the latest stay in the current stage; 'history' (the CRM's own: exact)
    -- or 'snapshot' (first export showing the stage: the deal entered it on or before)
    SELECT m.opportunity_id, min(m.entered_at) AS entered_stage_at,
           arg_min(m.origin, m.entered_at) AS origin
    FROM marked AS m
    LEFT JOIN last_other AS l ON l.opportunity_id = m.opportunity_id
    WHERE m.is_current AND (l.last_other IS NULL OR m.entered_at > l.last_other)
    GROUP BY m.opportunity_id
),
seen_before AS (
    -- a snapshot-dated entry: the deal's previous export, when there is one, showed another
    -- stage (or no such deal), so it entered the stage after that export
    SELECT e.opportunity_id, max(s.snapshot_date) AS seen_before
    FROM stage_entry AS e
    JOIN opportunity_snapshots AS s
      ON s.opportunity_id = e.opportunity_id
     AND s.snapshot_date < CAST(e.entered_stage_at AS DATE)
    WHERE e.origin = 'snapshot'
    GROUP BY e.opportunity_id
),
{_WON_STAGE_LIMIT_SQL},
timed AS (
    SELECT d.*, e.origin AS stage_origin,
           CAST(e.entered_stage_at AS DATE) AS entered_stage,
           b.seen_before,
           {_in_reporting("d.amount", "d.currency_key", "x.rate")} AS amount_reporting,
           CAST(t.last_activity_at AS DATE) AS last_activity,
           CASE WHEN $has_activities THEN
               date_diff('day', coalesce(CAST(t.last_activity_at AS DATE), d.created_date),
                         CAST($as_of AS DATE)) END AS days_idle,
           -- days in stage lie in [in_stage_min, in_stage_max] (max NULL: no upper bound)
           date_diff('day', CAST(e.entered_stage_at AS DATE), CAST($as_of AS DATE))
               AS in_stage_min,
           CASE
               WHEN e.origin = 'history' THEN
                   date_diff('day', CAST(e.entered_stage_at AS DATE), CAST($as_of AS DATE))
               WHEN b.seen_before IS NOT NULL THEN
                   date_diff('day', b.seen_before, CAST($as_of AS DATE))
               WHEN d.created_date <= CAST(e.entered_stage_at AS DATE) THEN
                   date_diff('day', d.created_date, CAST($as_of AS DATE))
           END AS in_stage_max,
           sl.limit_days AS stage_limit_days,
           sl.won_deals AS stage_limit_won_deals
    FROM open_deals AS d
    LEFT JOIN rates AS x ON x.currency = d.currency_key
    LEFT JOIN touch AS t ON t.opportunity_id = d.opportunity_id
    LEFT JOIN stage_entry AS e ON e.opportunity_id = d.opportunity_id
    LEFT JOIN seen_before AS b ON b.opportunity_id = d.opportunity_id
    LEFT JOIN stage_limit AS sl ON sl.step = d.step
),
judged AS (
    SELECT *,
           days_idle >= $idle_days AS idle_rule,
           -- true when even the fewest possible days exceed the limit, false when even the
           -- most possible do not, NULL (not judged) when the limit lies in between
           CASE
               WHEN stage_limit_days IS NULL OR in_stage_min IS NULL THEN NULL
               WHEN in_stage_min > stage_limit_days THEN true
               WHEN in_stage_max <= stage_limit_days THEN false
           END AS stage_rule
    FROM timed
)"""

_STALLED_LIST_SQL = f"""
WITH {_STALLED_CTES}
SELECT opportunity_id, opportunity_name, account, owner, stage, amount, currency,
       amount_reporting, close_date, last_activity, days_idle,
       CASE WHEN stage_origin = 'history' OR in_stage_min > 0 THEN in_stage_min END
           AS days_in_stage,
       in_stage_min, in_stage_max, stage_origin, entered_stage, seen_before,
       stage_limit_days, stage_limit_won_deals,
       coalesce(idle_rule, false)  AS idle_rule,
       coalesce(stage_rule, false) AS stage_rule
FROM judged
WHERE coalesce(idle_rule, false) OR coalesce(stage_rule, false)
ORDER BY amount_reporting DESC NULLS LAST, opportunity_id
"""

# How many open deals in scope each rule could not judge (the caption's "not judged").
_STALLED_COUNTS_SQL = f"""
WITH {_STALLED_CTES}
SELECT count(*)                                                       AS open_deals,
       count(*) FILTER (WHERE idle_rule IS NULL)                      AS idle_unknown,
       count(*) FILTER (WHERE stage_rule IS NULL
                          AND stage_limit_days IS NOT NULL)           AS stage_unknown,
       count(*) FILTER (WHERE stage_limit_days IS NULL)               AS no_limit,
       count(*) FILTER (WHERE stage_origin IS DISTINCT FROM 'history'
                          AND coalesce(in_stage_min, 0) = 0)          AS entry_unknown
FROM judged
"""


def _stage_params(
    con: duckdb.DuckDBPyConnection, stages: tuple[Stage, ...] | list[Stage] | None
) -> dict[str, Any]:
    return step_keys(stages if stages is not None else load_stages(con))


def _reason(row: pd.Series, idle_days: int, percentile: float) -> str:
    parts = []
    if row["idle_rule"]:
        since = "activity" if pd.notna(row["last_activity"]) else "activity (none since created)"
        parts.append(f"no {since} for {int(row['days_idle'])} days (limit {idle_days})")
    if row["stage_rule"]:
        exact = row["stage_origin"] == "history"
        parts.append(
            f"{'' if exact else 'at least '}{int(row['in_stage_min'])} days in {row['stage']} "
            f"(won deals' {percentile * 100:.0f}th percentile: "
            f"{float(row['stage_limit_days']):.1f})"
        )
    return "; ".join(parts)


def _day(value: Any) -> str:
    return pd.Timestamp(value).date().isoformat()


def time_in_stage_text(row: pd.Series) -> str:
    """How well the deal's days in its current stage are known, in words.

    Why: only the CRM's own stage history dates a stage change. A stage seen in an export
    says the deal was in it on that day, so it entered on or before: a lower bound (and an
    upper one when an earlier export showed another stage, or from the created date).
    """
    stage = row["stage"]
    if pd.isna(row["stage_origin"]):
        return f"unknown: no stage change into {stage} on record"
    low = int(row["in_stage_min"])
    high = None if pd.isna(row["in_stage_max"]) else int(row["in_stage_max"])
    entered = _day(row["entered_stage"])
    if row["stage_origin"] == "history":
        return f"exact: entered {stage} on {entered} (stage history)"
    if pd.notna(row["seen_before"]):
        return (
            f"{low} to {high} days: entered {stage} between the exports of "
            f"{_day(row['seen_before'])} and {entered}"
        )
    if low == 0:
        bound = "" if high is None else f" (at most {high} days: created {high} days before)"
        return (
            f"unknown: no stage history; in {stage} in the first export showing the deal "
            f"({entered}){bound}"
        )
    return f"at least {low} days: in {stage} in every export since {entered}"


def stalled_deals(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    idle_days: int = DEFAULT_IDLE_DAYS,
    stage_percentile: float = DEFAULT_STAGE_PERCENTILE,
    min_won_deals: int = DEFAULT_MIN_WON_DEALS,
    as_of: date | None = None,
    stages: tuple[Stage, ...] | list[Stage] | None = None,
) -> pd.DataFrame:
    """Open deals in scope that stalled, largest (reporting-currency) amount first.

    A deal is stalled when either rule holds (columns `idle_rule`, `stage_rule`, and
    `reason` in words):

    * **idle**: no linked activity for `idle_days` days or more up to `as_of` (a deal never
      touched is idle since its created date). Without any activity data the rule judges
      nobody (`attrs["no_data"]["days_idle"]`): "never touched" would be a guess.
    * **stage**: longer in its current stage than the `stage_percentile` of won deals' time
      in that stage (won deals of the whole company, so every rep meets the same yardstick;
      a stage with fewer than `min_won_deals` such won deals has no limit). Time in the
      current stage runs from the start of its latest stay in the stage history. Only the
      CRM's own history dates it exactly; a stay seen in exports only is known as a range
      (`time_in_stage`), and the rule holds when even its low end exceeds the limit, fails
      when even its high end does not, and otherwise judges nothing. `days_in_stage` is
      the exact figure or the low end when above 0, else empty ("—"), never a made-up 0;
      `attrs["no_data"]["days_in_stage"]` says how many deals that is and why.

    The period is not used: stalled deals are about deals open *now* (`as_of`, default the
    data's latest as-of date); team / region / rep filters apply. `attrs["counts"]` has
    the open deals in scope and how many each rule could not judge.
    """
    if idle_days < 1:
        raise ValueError("idle_days must be at least 1")
    if not 0 < stage_percentile <= 1:
        raise ValueError("stage_percentile must be within (0, 1]")
    when = as_of or data_as_of(con)
    if when is None:
        return _empty_stalled()
    has_activities = _has_activities(con)
    params = (
        scope.params()
        | _stage_params(con, stages)
        | fx_params(con)
        | {
            "as_of": when,
            "rate_date": when,
            "idle_days": int(idle_days),
            "stage_percentile": float(stage_percentile),
            "min_won_deals": int(min_won_deals),
            "has_activities": has_activities,
        }
    )
    table = run_sql(con, _STALLED_LIST_SQL, params)
    counts_row = con.execute(_STALLED_COUNTS_SQL, bind(_STALLED_COUNTS_SQL, params)).fetchone()
    counts = dict(
        zip(("open_deals", "idle_unknown", "stage_unknown", "no_limit", "entry_unknown"),
            (int(c or 0) for c in counts_row), strict=True)
    )  # fmt: skip
    if table.empty:
        table = _empty_stalled()
    else:
        table["time_in_stage"] = [time_in_stage_text(row) for _, row in table.iterrows()]
        table["reason"] = [_reason(row, idle_days, stage_percentile) for _, row in table.iterrows()]
        table = table[list(STALLED_COLUMNS)]
    no_data: dict[str, str] = {}
    if not has_activities:
        no_data["days_idle"] = "no activity data: idle days are unknown, so no deal is called idle"
    if counts["entry_unknown"]:
        n = counts["entry_unknown"]
        no_data["days_in_stage"] = (
            f"{n:,} open deal{'s' if n != 1 else ''}: no stage history dates the entry "
            "into the current stage, and no earlier export shows the deal in it, so days "
            f"in stage are not known (shown as {DASH}, not 0). Such a deal is called stalled "
            "by time in stage only when even the fewest possible days exceed the limit"
        )
    if counts["open_deals"] and counts["no_limit"] == counts["open_deals"]:
        no_data["stage_limit_days"] = (
            f"no stage of an open deal has {min_won_deals} or more won deals timed in it (the "
            "stage history shows too few won deals' stays), so no deal is judged by time "
            "in stage"
        )
    table.attrs["as_of"] = when
    table.attrs["counts"] = counts
    table.attrs["no_data"] = no_data
    return table


DASH = "—"

STALLED_COLUMNS = (
    "opportunity_id", "opportunity_name", "account", "owner", "stage", "amount",
    "currency", "amount_reporting", "close_date", "last_activity", "days_idle",
    "days_in_stage", "time_in_stage", "stage_limit_days", "stage_limit_won_deals",
    "idle_rule", "stage_rule", "reason",
)  # fmt: skip


def _empty_stalled() -> pd.DataFrame:
    return pd.DataFrame(columns=list(STALLED_COLUMNS))


@dataclass(frozen=True)
class Worth:
    """What a list of deals is worth in the reporting currency.

    `total` sums the deals that have an amount there (0 for an empty list; None when not
    one deal has one: "worth 0" would claim what no data says). `unpriced` counts the
    deals left out of it: no amount, or no rate for their currency.
    """

    total: float | None
    unpriced: int


def deals_worth(table: pd.DataFrame) -> Worth:
    """The `Worth` of a deal list with an `amount_reporting` column (stalled, slipped):
    the figure the Pipeline page's captions give, computed here so a page only words it
    (issue 16, item 6)."""
    amounts = pd.to_numeric(table["amount_reporting"], errors="coerce").astype(float)
    priced = amounts.dropna()
    if table.empty:
        return Worth(0.0, 0)
    return Worth(float(priced.sum()) if len(priced) else None, int(amounts.isna().sum()))


# --- slipped deals ------------------------------------------------------------------------

_SLIPPED_SQL = f"""
WITH {_RATES_SQL.strip()},
base AS (
    SELECT opportunity_id, close_date AS old_close_date
    FROM opportunity_snapshots
    WHERE snapshot_date = $base_date AND NOT is_closed
      AND close_date BETWEEN $period_start AND $period_end
),
latest AS (
    SELECT s.opportunity_id,
           arg_max(s, s.snapshot_date) AS row
    FROM opportunity_snapshots AS s
    SEMI JOIN base AS b ON b.opportunity_id = s.opportunity_id
    WHERE s.snapshot_date <= $latest_date
    GROUP BY s.opportunity_id
),
pushes AS (
    SELECT opportunity_id,
           count(*) FILTER (WHERE close_date > previous_close) AS times_pushed
    FROM (
        SELECT s.opportunity_id, s.close_date,
               lag(s.close_date) OVER (PARTITION BY s.opportunity_id ORDER BY s.snapshot_date)
                   AS previous_close
        FROM opportunity_snapshots AS s
        SEMI JOIN base AS b ON b.opportunity_id = s.opportunity_id
        WHERE s.snapshot_date BETWEEN $base_date AND $latest_date
    )
    GROUP BY opportunity_id
),
slipped AS (
    SELECT b.opportunity_id, l.row.opportunity_name AS opportunity_name,
           l.row.account AS account, l.row.owner AS owner, l.row.stage AS stage,
           l.row.amount AS amount, l.row.currency AS currency,
           upper(nullif(trim(l.row.currency), '')) AS currency_key,
           b.old_close_date, l.row.close_date AS new_close_date, p.times_pushed
    FROM base AS b
    JOIN latest AS l ON l.opportunity_id = b.opportunity_id
    LEFT JOIN pushes AS p ON p.opportunity_id = b.opportunity_id
    WHERE NOT l.row.is_closed AND l.row.close_date > $period_end
)
SELECT s.opportunity_id, s.opportunity_name, s.account, s.owner, s.stage, s.amount,
       s.currency, {_in_reporting("s.amount", "s.currency_key", "x.rate")} AS amount_reporting,
       s.old_close_date, s.new_close_date,
       date_diff('day', s.old_close_date, s.new_close_date) AS days_pushed,
       coalesce(s.times_pushed, 0) AS times_pushed
FROM slipped AS s
LEFT JOIN reps AS r ON r.rep = s.owner
LEFT JOIN rates AS x ON x.currency = s.currency_key
WHERE {owner_filter_sql("s.owner")}
ORDER BY amount_reporting DESC NULLS LAST, s.opportunity_id
"""


SLIPPED_COLUMNS = (
    "opportunity_id", "opportunity_name", "account", "owner", "stage", "amount",
    "currency", "amount_reporting", "old_close_date", "new_close_date",
    "days_pushed", "times_pushed",
)  # fmt: skip


def slipped_deals(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    base_date: date | None = None,
    latest_date: date | None = None,
) -> pd.DataFrame:
    """Deals whose close date was pushed out of the period, between any two dates.

    A deal slipped when, as known on `base_date`, it was open with a close date inside the
    period, and as known on `latest_date` it is still open with a close date after the
    period's end. A deal won, lost, or moved within the period did not slip. Each date is
    answered by the point-in-time layer (`analytics.pointintime.bases`): only a snapshot
    on or before it knows the expected close date then, so both dates need one; otherwise
    the table is empty and `attrs["no_data"]["slipped"]` says why (a rebuild knows which
    deals were open on a day, not when they were expected to close). The base is that
    snapshot; the latest state is each deal's latest snapshot row on or before the latest
    date's snapshot. `times_pushed` counts consecutive snapshots (base .. latest) in
    which its close date moved later; `days_pushed` is new close date - old close date.
    Filters use the deal's owner at the latest date. Dates default to `default_dates`
    (the snapshots at the period start and its latest, as before dates could be picked).
    `attrs`: `base_date`, `latest_date` (the days asked about), `base_basis`,
    `latest_basis` (`Basis`: source and snapshot used) and `no_data`.
    """
    default_base, default_latest = default_dates(con, scope)
    base = base_date or default_base
    latest = latest_date or default_latest
    table = pd.DataFrame(columns=list(SLIPPED_COLUMNS))
    no_data: dict[str, str] = {}
    base_basis = latest_basis = None
    if base is None or latest is None:  # no day of the period to read (it has not started)
        no_data["slipped"] = before_period_reason(con, scope) or "no day of the period has data"
    else:
        if latest < base:
            raise ValueError(f"the end date {latest} is before the start date {base}")
        base_basis, latest_basis = bases(con, [base, latest])
        missing = [b for b in (base_basis, latest_basis) if b.source != "snapshot"]
        if missing:
            days = " and ".join(str(b.day) for b in missing)
            no_data["slipped"] = (
                f"no export on or before {days} (within {MAX_SNAPSHOT_AGE_DAYS} days) says "
                "when the open deals were expected to close then; a rebuild from created "
                "and close dates knows which deals were open, not their expected close date"
            )
        elif latest_basis.snapshot_date > base_basis.snapshot_date:
            params = (
                scope.params()
                | fx_params(con)
                | {
                    "base_date": base_basis.snapshot_date,
                    "latest_date": latest_basis.snapshot_date,
                    "rate_date": latest_basis.snapshot_date,
                }
            )
            table = run_sql(con, _SLIPPED_SQL, params)
        else:
            no_data["slipped"] = (
                f"both dates are answered by the same export ({base_basis.snapshot_date}): "
                "pick dates with a later export between them"
            )
    table.attrs["base_date"] = base
    table.attrs["latest_date"] = latest
    table.attrs["base_basis"] = base_basis
    table.attrs["latest_basis"] = latest_basis
    table.attrs["no_data"] = no_data
    return table


# --- waterfall ----------------------------------------------------------------------------

# Each deal's state on the two days (side 0: start, side 1: end), from each day's source
# (`analytics.pointintime.bases`):
#   snapshot       -- its latest snapshot row on or before that day's snapshot (a deal a
#                     later export no longer lists keeps its last known state): exact;
#   stage history  -- rebuilt from created / close dates, its amount the one recorded with
#                     its last stage change on or before the day (else the nearest export's);
#   rebuilt        -- rebuilt from created / close dates, an open deal's amount from the
#                     export nearest the day (analytics.pointintime.NEAREST_EXPORT), owner
#                     last exported.
# A rebuilt deal open on the day has no expected close date (it was not known then): the
# "closing in the period" pipeline needs snapshots on both days. Nothing dated after a
# day is read for that day: snapshots after it, stage changes after it, and close dates
# after it (a deal closed later is open on the day, its outcome unread).
# A snapshot day later than its snapshot: the deals the data shows closed after the
# snapshot and on or before the day are closed on it (analytics.pointintime
# CLOSED_SINCE_SNAPSHOT: the same rule for "open on D"), with the latest export's close
# date and outcome, else those of the newest later export that shows it closed then (the
# export of 1 Sep showing a deal won on 28 Aug that the latest one shows lost on 20 Sep);
# on the snapshot's own day nothing changes. close0 / close1 (won0 / won1): the close
# date (outcome) when it applies to the start / end day, else NULL.
_CLOSED_SINCE_SQL = """
closed_rows AS (
    SELECT o.opportunity_id, o.close_date, o.is_won, DATE '9999-12-31' AS seen
    FROM opportunities AS o
    WHERE o.is_closed
      AND o.opportunity_id IN (SELECT opportunity_id FROM candidates)
    UNION ALL
    SELECT s.opportunity_id, s.close_date, s.is_won, s.snapshot_date
    FROM opportunity_snapshots AS s
    WHERE s.is_closed
      AND s.opportunity_id IN (SELECT opportunity_id FROM candidates)
),
closed_since AS (
    SELECT opportunity_id,
           arg_max(close_date, seen) FILTER (WHERE $start_source = 'snapshot'
               AND seen > $start_snapshot AND close_date > $start_snapshot
               AND close_date <= $start_day) AS close0,
           arg_max(is_won, seen) FILTER (WHERE $start_source = 'snapshot'
               AND seen > $start_snapshot AND close_date > $start_snapshot
               AND close_date <= $start_day) AS won0,
           arg_max(close_date, seen) FILTER (WHERE $end_source = 'snapshot'
               AND seen > $end_snapshot AND close_date > $end_snapshot
               AND close_date <= $end_day) AS close1,
           arg_max(is_won, seen) FILTER (WHERE $end_source = 'snapshot'
               AND seen > $end_snapshot AND close_date > $end_snapshot
               AND close_date <= $end_day) AS won1
    FROM closed_rows
    GROUP BY opportunity_id
)"""

_WATERFALL_SIDES_SQL = f"""
WITH {_RATES_SQL.strip()},
sides AS (
    SELECT 0 AS side, CAST($start_day AS DATE) AS day, CAST($start_source AS VARCHAR) AS source,
           CAST($start_snapshot AS DATE) AS snapshot_date
    UNION ALL
    SELECT 1, CAST($end_day AS DATE), CAST($end_source AS VARCHAR),
           CAST($end_snapshot AS DATE)
),
candidates AS (
    -- {{candidates}}
),
snap_latest AS (
    -- one pass: each deal's latest snapshot row on or before each snapshot day
    SELECT s.opportunity_id,
           max(s.snapshot_date) FILTER (WHERE s.snapshot_date <= $start_snapshot) AS date0,
           max(s.snapshot_date) FILTER (WHERE s.snapshot_date <= $end_snapshot) AS date1
    FROM opportunity_snapshots AS s
    WHERE s.snapshot_date <= greatest(CAST($start_snapshot AS DATE),
                                      CAST($end_snapshot AS DATE))
      AND s.opportunity_id IN (SELECT opportunity_id FROM candidates)
    GROUP BY s.opportunity_id
),
{_CLOSED_SINCE_SQL},
snap_state AS (
    SELECT 0 AS side, s.opportunity_id, s.owner, s.amount, s.currency,
           coalesce(c.close0, s.close_date) AS close_date,
           s.is_closed OR c.close0 IS NOT NULL AS is_closed,
           CASE WHEN c.close0 IS NOT NULL THEN c.won0 ELSE s.is_won END AS is_won,
           s.created_date
    FROM snap_latest AS l
    JOIN opportunity_snapshots AS s
      ON s.opportunity_id = l.opportunity_id AND s.snapshot_date = l.date0
    LEFT JOIN closed_since AS c ON c.opportunity_id = l.opportunity_id
    UNION ALL
    SELECT 1 AS side, s.opportunity_id, s.owner, s.amount, s.currency,
           coalesce(c.close1, s.close_date) AS close_date,
           s.is_closed OR c.close1 IS NOT NULL AS is_closed,
           CASE WHEN c.close1 IS NOT NULL THEN c.won1 ELSE s.is_won END AS is_won,
           s.created_date
    FROM snap_latest AS l
    JOIN opportunity_snapshots AS s
      ON s.opportunity_id = l.opportunity_id AND s.snapshot_date = l.date1
    LEFT JOIN closed_since AS c ON c.opportunity_id = l.opportunity_id
    -- {{created_state}}
)"""

# A day later than the snapshot answering it: the deals created after that snapshot and on
# or before the day, which no snapshot on or before it holds (analytics.pointintime
# CREATED_SINCE_SNAPSHOT: the same rule for "open on D"), owner as last exported, amount
# from the export nearest the day, their expected
# close date unknown then; one closed by the day carries the outcome `closed_since` reads.
# Only for the pipeline of all open deals (`_CANDIDATES_ALL` lists them): without a close
# date then, such a deal is in no pipeline closing in the period. Rows of `snap_state`.
_CREATED_STATE_SQL = """
    UNION ALL
    SELECT d.side, o.opportunity_id, o.owner, {nearest_fields},
           CASE WHEN d.side = 0 THEN c.close0 ELSE c.close1 END              AS close_date,
           (CASE WHEN d.side = 0 THEN c.close0 ELSE c.close1 END) IS NOT NULL AS is_closed,
           coalesce(CASE WHEN d.side = 0 THEN c.won0 ELSE c.won1 END, false)  AS is_won,
           o.created_date
    FROM sides AS d
    JOIN opportunities AS o
      ON d.source = 'snapshot'
     AND o.created_date > d.snapshot_date
     AND o.created_date <= d.day
    LEFT JOIN snap_latest AS l ON l.opportunity_id = o.opportunity_id
    LEFT JOIN closed_since AS c ON c.opportunity_id = o.opportunity_id
    {nearest_join}
    WHERE (CASE WHEN d.side = 0 THEN l.date0 ELSE l.date1 END) IS NULL"""

# Only when a day is rebuilt or from stage history (chosen by code: reading the stage
# history view costs a pass over every snapshot, which two snapshot days never need).
_WATERFALL_REBUILT_SQL = """
rebuilt_days AS (
    SELECT side, day, source, CAST(day AS TIMESTAMP) + INTERVAL 1 DAY AS day_over
    FROM sides WHERE source IN ('stage history', 'rebuilt')
),
rebuilt_deals AS (
    -- known on the day: created by then, or closed by then; a closed deal without a close
    -- date cannot be placed on a day
    -- a deal open on the day: amount and currency from the export nearest it
    -- (analytics.pointintime.NEAREST_EXPORT); a closed one's as last exported
    SELECT d.side, d.source, d.day_over, o.opportunity_id, o.owner, {nearest_fields},
           o.is_won, o.close_date, o.created_date,
           o.is_closed AND o.close_date <= d.day AS closed_by_day
    FROM opportunities AS o
    JOIN rebuilt_days AS d
      ON (o.created_date <= d.day OR (o.is_closed AND o.close_date <= d.day))
     AND (NOT o.is_closed OR o.close_date IS NOT NULL)
    {nearest_join}
),
rebuilt_state AS (
    SELECT r.side, r.opportunity_id, r.owner,
           {amount} AS amount,
           r.currency,
           CASE WHEN r.closed_by_day THEN r.close_date END AS close_date,
           r.closed_by_day AS is_closed,
           r.closed_by_day AND r.is_won AS is_won,
           r.created_date
    FROM rebuilt_deals AS r
    {history_join}
)"""

# The amount of a deal open on a stage-history day: the one recorded with its last stage
# change on or before the day (an ASOF join never reads a later change), else the nearest
# export's (`rebuilt_deals`).
_HISTORY_AMOUNT = """CASE WHEN r.source = 'stage history' AND NOT r.closed_by_day
                THEN coalesce(h.amount, r.amount) ELSE r.amount END"""
_HISTORY_JOIN = """ASOF LEFT JOIN (
        SELECT opportunity_id, entered_at, amount FROM opportunity_stage_history
    ) AS h
      ON h.opportunity_id = r.opportunity_id AND r.day_over > h.entered_at"""

# The export nearest the day, for a deal open on it (analytics.pointintime.NEAREST_EXPORT):
# every deal created since the snapshot is open on the day (its close is `closed_since`'s).
_NEAREST_JOIN_CREATED = nearest_export_join("o", "d.day")
_NEAREST_FIELDS = (
    f"{nearest_field('amount', 'o')} AS amount, {nearest_field('currency', 'o')} AS currency"
)
_NEAREST_JOIN_REBUILT = nearest_export_join(
    "o", "d.day", condition="NOT (o.is_closed AND o.close_date <= d.day)"
)

_WATERFALL_PAIR_SQL = """
pair AS (
    -- a deal known at the start but not at the end keeps its start state (carried forward)
    SELECT coalesce(a.opportunity_id, b.opportunity_id) AS opportunity_id,
           a.opportunity_id IS NOT NULL AS known0,
           CASE WHEN a.opportunity_id IS NOT NULL THEN {
               'owner': a.owner, 'amount': a.amount, 'currency': a.currency,
               'close_date': a.close_date, 'is_closed': a.is_closed, 'is_won': a.is_won}
           END AS s0,
           CASE WHEN b.opportunity_id IS NOT NULL THEN {
               'owner': b.owner, 'amount': b.amount, 'currency': b.currency,
               'close_date': b.close_date, 'is_closed': b.is_closed, 'is_won': b.is_won}
           ELSE {
               'owner': a.owner, 'amount': a.amount, 'currency': a.currency,
               'close_date': a.close_date, 'is_closed': a.is_closed, 'is_won': a.is_won}
           END AS s1,
           coalesce(b.created_date, a.created_date) AS created_date
    FROM (SELECT * FROM {states} WHERE side = 0) AS a
    FULL OUTER JOIN (SELECT * FROM {states} WHERE side = 1) AS b
      ON a.opportunity_id = b.opportunity_id
)"""

# Both days snapshots: each deal's two rows straight from its latest snapshot dates (any
# deal known at the start is known at the end), without stacking the two sides first.
_SNAPSHOT_PAIR_SQL = """
pair AS (
    SELECT l.opportunity_id,
           a.opportunity_id IS NOT NULL AS known0,
           CASE WHEN a.opportunity_id IS NOT NULL THEN {
               'owner': a.owner, 'amount': a.amount, 'currency': a.currency,
               'close_date': coalesce(c.close0, a.close_date),
               'is_closed': a.is_closed OR c.close0 IS NOT NULL,
               'is_won': CASE WHEN c.close0 IS NOT NULL THEN c.won0 ELSE a.is_won END}
           END AS s0,
           {'owner': b.owner, 'amount': b.amount, 'currency': b.currency,
            'close_date': coalesce(c.close1, b.close_date),
            'is_closed': b.is_closed OR c.close1 IS NOT NULL,
            'is_won': CASE WHEN c.close1 IS NOT NULL THEN c.won1 ELSE b.is_won END} AS s1,
           b.created_date
    FROM snap_latest AS l
    JOIN opportunity_snapshots AS b
      ON b.opportunity_id = l.opportunity_id AND b.snapshot_date = l.date1
    LEFT JOIN opportunity_snapshots AS a
      ON a.opportunity_id = l.opportunity_id AND a.snapshot_date = l.date0
    LEFT JOIN closed_since AS c ON c.opportunity_id = l.opportunity_id
)"""

_WATERFALL_BUCKETS_SQL = f"""
flagged AS (
    SELECT *,
           coalesce(NOT s0.is_closed, false) AS open0,
           coalesce(NOT s1.is_closed, false) AS open1,
           coalesce(NOT s0.is_closed AND (NOT $by_close_date
               OR s0.close_date BETWEEN $period_start AND $period_end), false) AS in0,
           coalesce(NOT s1.is_closed AND (NOT $by_close_date
               OR s1.close_date BETWEEN $period_start AND $period_end), false) AS in1,
           upper(nullif(trim(s0.currency), '')) AS cur0,
           upper(nullif(trim(s1.currency), '')) AS cur1
    FROM pair
),
valued AS (
    SELECT f.*,
           {_in_reporting("f.s0.amount", "f.cur0", "x0.rate")} AS rc0,
           {_in_reporting("f.s1.amount", "f.cur1", "x1.rate")} AS rc1
    FROM flagged AS f
    LEFT JOIN rates AS x0 ON x0.currency = f.cur0
    LEFT JOIN rates AS x1 ON x1.currency = f.cur1
    WHERE f.in0 OR f.in1
),
scoped AS (
    SELECT v.*,
           CASE WHEN v.in0 THEN coalesce(v.rc0, 0) ELSE 0 END AS a0,
           CASE WHEN v.in1 THEN coalesce(v.rc1, 0) ELSE 0 END AS a1,
           (v.in0 AND v.s0.amount IS NOT NULL AND v.rc0 IS NULL)
               OR (v.in1 AND v.s1.amount IS NOT NULL AND v.rc1 IS NULL) AS unpriced,
           v.in0 AND coalesce(v.s0.amount, 0) = 0 AS no_amount0,
           v.in1 AND coalesce(v.s1.amount, 0) = 0 AS no_amount1
    FROM valued AS v
    LEFT JOIN reps AS r ON r.rep = v.s1.owner
    WHERE {owner_filter_sql("v.s1.owner")}
),
bucketed AS (
    SELECT *,
           CASE
               WHEN in0 AND in1 THEN
                   CASE WHEN a1 > a0 THEN 'increased' WHEN a1 < a0 THEN 'decreased'
                        ELSE 'unchanged' END
               WHEN in0 THEN
                   CASE WHEN s1.is_won THEN 'won' WHEN s1.is_closed THEN 'lost'
                        ELSE 'pushed out' END
               WHEN open0 THEN 'pulled in'
               ELSE 'new'
           END AS bucket
    FROM scoped
)"""


# Which deals' snapshot rows are read: for the pipeline closing in the period only deals
# with a snapshot row open and due in the period (on or before the later day) can be in it.
_CANDIDATES_PERIOD = """SELECT DISTINCT opportunity_id FROM opportunity_snapshots
    WHERE NOT is_closed
      AND snapshot_date <= greatest(CAST($start_snapshot AS DATE), CAST($end_snapshot AS DATE))
      AND close_date BETWEEN $period_start AND $period_end"""
_CANDIDATES_ALL = """SELECT opportunity_id FROM opportunity_snapshots
    WHERE snapshot_date <= greatest(CAST($start_snapshot AS DATE), CAST($end_snapshot AS DATE))
    UNION
    SELECT o.opportunity_id
    FROM opportunities AS o
    JOIN sides AS d
      ON d.source = 'snapshot' AND o.created_date > d.snapshot_date AND o.created_date <= d.day"""


def _waterfall_ctes(sources: tuple[str, str], by_period: bool, created: bool = False) -> str:
    """The waterfall's CTEs (ending in `bucketed`) for the two days' sources: the rebuild
    only when a day needs it, the stage history only when a day is from it. `created`: a
    snapshot day is later than its snapshot, so the deals created in between are read
    (`_CREATED_STATE_SQL`) unless the pipeline is the one closing in the period. Every
    piece is fixed text chosen by code; values stay bound parameters."""
    by_close_date = sources == ("snapshot", "snapshot") and by_period
    created = created and not by_close_date
    parts = [
        _WATERFALL_SIDES_SQL.strip()
        .removeprefix("WITH")
        .strip()
        .replace("-- {candidates}", _CANDIDATES_PERIOD if by_close_date else _CANDIDATES_ALL)
        .replace(
            "    -- {created_state}",
            _CREATED_STATE_SQL.replace("{nearest_join}", _NEAREST_JOIN_CREATED)
            .replace("{nearest_fields}", _NEAREST_FIELDS)
            .strip("\n")
            if created
            else "",
        )
    ]
    if sources == ("snapshot", "snapshot") and not created:
        parts.append(_SNAPSHOT_PAIR_SQL.strip())
        parts.append(_WATERFALL_BUCKETS_SQL.strip())
        return ",\n".join(parts)
    states = "snap_state"
    if set(sources) & {"stage history", "rebuilt"}:
        history = "stage history" in sources
        parts.append(
            _WATERFALL_REBUILT_SQL.replace("{amount}", _HISTORY_AMOUNT if history else "r.amount")
            .replace("{history_join}", _HISTORY_JOIN if history else "")
            .replace("{nearest_join}", _NEAREST_JOIN_REBUILT)
            .replace("{nearest_fields}", _NEAREST_FIELDS)
            .strip()
        )
        parts.append(
            "all_states AS (\n    SELECT * FROM snap_state\n    UNION ALL\n"
            "    SELECT * FROM rebuilt_state\n)"
        )
        states = "all_states"
    parts.append(_WATERFALL_PAIR_SQL.replace("{states}", states).strip())
    parts.append(_WATERFALL_BUCKETS_SQL.strip())
    return ",\n".join(parts)


_WATERFALL_SUM_SQL = """
WITH {ctes}
SELECT bucket,
       count(*)                             AS deals,
       CAST(sum(a1 - a0) AS DECIMAL(38, 2)) AS change,
       CAST(sum(a0) AS DECIMAL(38, 2))      AS start_amount,
       CAST(sum(a1) AS DECIMAL(38, 2))      AS end_amount,
       count(*) FILTER (WHERE in0)          AS start_deals,
       count(*) FILTER (WHERE in1)          AS end_deals,
       count(*) FILTER (WHERE unpriced)     AS unpriced,
       count(*) FILTER (WHERE no_amount0)   AS start_no_amount,
       count(*) FILTER (WHERE no_amount1)   AS end_no_amount,
       count(*) FILTER (WHERE NOT known0 AND created_date IS NULL) AS undated_new,
       count(*) FILTER (WHERE a1 = a0)      AS unvalued
FROM bucketed
GROUP BY bucket
"""

# One row per deal in either pipeline: which bar it is in and its two amounts (the page's
# "which deals" table and the tests' deal-set comparisons).
_WATERFALL_DEALS_SQL = """
WITH {ctes}
SELECT b.opportunity_id, o.opportunity_name, o.account, b.s1.owner AS owner, b.bucket,
       b.in0 AS in_start, b.in1 AS in_end,
       CAST(CASE WHEN b.in0 THEN b.rc0 END AS DOUBLE) AS start_amount,
       CAST(CASE WHEN b.in1 THEN b.rc1 END AS DOUBLE) AS end_amount,
       CAST(b.a1 - b.a0 AS DOUBLE) AS change,
       b.s0.close_date AS start_close_date, b.s1.close_date AS end_close_date
FROM bucketed AS b
LEFT JOIN opportunities AS o ON o.opportunity_id = b.opportunity_id
ORDER BY abs(b.a1 - b.a0) DESC, b.opportunity_id
"""

PIPELINE_KINDS = ("closing in the period", "all open deals")


@dataclass(frozen=True)
class Waterfall:
    """The pipeline at two dates and the buckets that explain the change.

    Pipeline (`kind`) = deals open with an amount and a close date inside the period
    ("closing in the period"; needs a snapshot on both days, which alone know the expected
    close date then), or every open deal ("all open deals"), in the reporting currency.
    Each deal in either pipeline falls into exactly one bucket, and its contribution is
    (its amount at the end if in the end pipeline, else 0) - (its amount at the start if
    in the start pipeline, else 0), so `start + sum(buckets) == end` exactly (Decimal, to
    the cent). `buckets` holds every name of WATERFALL_BUCKETS. `start_basis` and
    `end_basis` name where each day's state came from (snapshot, stage history, rebuilt).
    """

    start_date: date | None
    end_date: date | None
    start: Decimal
    end: Decimal
    buckets: dict[str, Decimal] = field(default_factory=dict)
    deals: dict[str, int] = field(default_factory=dict)
    start_deals: int = 0
    end_deals: int = 0
    unchanged_deals: int = 0
    unpriced: int = 0
    kind: str = PIPELINE_KINDS[0]
    start_basis: Basis | None = None
    end_basis: Basis | None = None
    start_no_amount: int = 0
    end_no_amount: int = 0
    undated_new: int = 0
    # per step: its deals that move the figure by nothing (amount blank or 0 on its day)
    unvalued: dict[str, int] = field(default_factory=dict)
    # why there is no waterfall at all (no day to compare: `before_period_reason`), else ""
    no_data: str = ""

    @property
    def imbalance(self) -> Decimal:
        """start + every change - end: 0 exactly when the bars explain the whole change
        (the page prints it as the check a reader can redo)."""
        return self.start + sum(self.buckets.values(), Decimal(0)) - self.end

    @property
    def balanced(self) -> bool:
        return self.imbalance == 0

    def rounded(self) -> list[int]:
        """Whole-currency labels, in `table()` order, that add up: start + changes = end.

        Start and end are rounded half up; the changes are rounded by largest remainder to
        (rounded end - rounded start), so the labels a reader adds up give the ending
        figure shown, never one off (each label is within 1 of its exact amount).
        """
        start, end = round_half_up(self.start), round_half_up(self.end)
        changes = largest_remainder([self.buckets[b] for b in WATERFALL_BUCKETS], end - start)
        return [start, *changes, end]

    def table(self) -> pd.DataFrame:
        """Chart-ready rows: starting pipeline, each bucket, ending pipeline.

        `amount` is exact (to the cent); `rounded` is the whole-currency label (see
        `rounded`); `measure` is plotly's go.Waterfall measure (absolute / relative / total).
        """
        rows = [("starting pipeline", self.start, self.start_deals, "absolute")]
        rows += [(b, self.buckets[b], self.deals[b], "relative") for b in WATERFALL_BUCKETS]
        rows.append(("ending pipeline", self.end, self.end_deals, "total"))
        return pd.DataFrame(
            [
                (name, float(amount), label, int(n), m)
                for (name, amount, n, m), label in zip(rows, self.rounded(), strict=True)
            ],
            columns=["step", "amount", "rounded", "deals", "measure"],
        )

    @property
    def no_change_reason(self) -> str | None:
        """Why this waterfall cannot show any change, or None when it can: the two days are
        the same, or both are read from one and the same export (every day up to 31 days
        after an export reads it, so after a single upload any two later days compare that
        export with itself). The chart would be two equal bars and empty steps, which
        reads as "nothing happened" when the data simply holds no second state."""
        if self.start_date is not None and self.start_date == self.end_date:
            return (
                f"From and To are the same day ({self.start_date}): there is no change to "
                "show. Pick two different days."
            )
        a, b = self.start_basis, self.end_basis
        if (
            a is not None
            and b is not None
            and a.source == b.source == "snapshot"
            and a.snapshot_date == b.snapshot_date
            # deals that closed between the two days (known from a later export) are
            # changes the one export can show (analytics.pointintime CLOSED_SINCE_SNAPSHOT)
            and not any(self.deals.values())
        ):
            return (
                f"Both days read the same export, of {a.snapshot_date}: the data holds no "
                "later state of these deals, so no change can be shown between "
                f"{self.start_date} and {self.end_date}. Pick a From day before that export "
                "or a To day on or after a later one."
            )
        return None

    def unvalued_notes(self) -> list[str]:
        """One sentence per step holding deals that move the figure by nothing.

        A step that leaves the pipeline (won, lost, pushed out) reads the deal's amount on
        the start day; one that joins it (new, pulled in) the amount on the end day. Where
        that amount is blank or 0 (an export that records lost deals at 0, open deals not
        yet priced), the bar is 0 or short although deals moved: the reader is told how
        many, so "lost 0" never reads as "nothing was lost".
        """
        out = []
        for bucket in WATERFALL_BUCKETS:
            n = self.unvalued.get(bucket, 0)
            if not n:
                continue
            day = self.start_date if bucket in ("won", "lost", "pushed out") else self.end_date
            total = self.deals.get(bucket, 0)
            if n == total:
                who = f"its {n:,} deal moves" if n == 1 else f"its {n:,} deals move"
            else:
                who = f"{n:,} of its {total:,} deals " + ("moves" if n == 1 else "move")
            their = "its" if n == 1 else "their"
            out.append(
                f"{bucket.capitalize()}: {who} the pipeline by nothing: {their} amount on "
                f"{day} is blank or 0 in the data."
            )
        return out

    def amount_on(self, side: int = 1) -> Decimal | None:
        """The pipeline figure of the start (0) or end (1) day, or None: no data.

        Why: when that day has open deals and not one of them carries an amount, the sum
        is 0 only because nothing could be added; "0 USD" would read as an empty pipeline
        (a Maven export's 2,089 open deals, all unpriced, showed "Pipeline on 2017-12-31:
        0 USD" while the Overview said no data). With some deals priced the figure is the
        priced part, named by `priced_note`. A day without open deals keeps its true 0.
        """
        deals, blank, amount = (
            (self.end_deals, self.end_no_amount, self.end)
            if side
            else (self.start_deals, self.start_no_amount, self.start)
        )
        return None if deals and blank >= deals else amount

    def priced_note(self, side: int = 1) -> str | None:
        """'N open deals have no amount' for the start (0) or end (1) pipeline, else None:
        the pipeline figure is then the priced part (the Overview's wording)."""
        n = self.end_no_amount if side else self.start_no_amount
        return unpriced_open_text(n) if n else None

    def sources(self) -> dict[str, Any]:
        """Where each day's state came from, as JSON fields (the CLI and downloads)."""
        out: dict[str, Any] = {"pipeline": self.kind}
        for name, basis in (("start", self.start_basis), ("end", self.end_basis)):
            out[f"{name}_source"] = None if basis is None else basis.source
            out[f"{name}_snapshot_date"] = (
                None if basis is None or basis.snapshot_date is None
                else basis.snapshot_date.isoformat()
            )  # fmt: skip
        return out


def default_dates(con: duckdb.DuckDBPyConnection, scope: Scope) -> tuple[date | None, date | None]:
    """The two days a period's waterfall compares by default.

    The snapshots at the period's start and its latest (`default_snapshot_pair`, the
    behaviour before any date could be picked) when they are two different days. When the
    only export in reach is the one that opened the period and the next one is dated the
    day after the period ends (a team exporting on the 1st of every month: the export of
    1 Sep closes August as the one of 1 Aug opened it, the backtest's own reading of an
    export on a period's first day), the period runs from the one to the other: else
    August would be judged by the export of 1 Aug alone, with no slipped deal and every
    deal still due in August looking open on its last day. Else, after a single upload,
    the period's first day and its last day with data (the data's as-of date if earlier),
    rebuilt where no snapshot covers them. None, None when the period starts after the
    data ends.
    """
    first, last = default_snapshot_pair(con, scope)
    if first is not None and last is not None and first < last:
        return first, last
    closing = scope.period.end + timedelta(days=1)
    if first is not None and closing in snapshot_dates(con):
        return first, closing
    as_of = data_as_of(con)
    if as_of is None or as_of < scope.period.start:
        return None, None
    return scope.period.start, min(scope.period.end, as_of)


def _waterfall_params(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    first: date,
    last: date,
    kind: str | None,
    source: Source | None,
) -> tuple[dict[str, Any], str, Basis, Basis]:
    if source is None:
        start_basis, end_basis = bases(con, [first, last])
    elif source == "snapshot":
        dates = snapshot_dates(con)
        picked = []
        for day in (first, last):
            older = [d for d in dates if d <= day]
            if not older:
                raise ValueError(f"no snapshot on or before {day}")
            picked.append(Basis(day, "snapshot", older[-1]))
        start_basis, end_basis = picked
    else:
        start_basis, end_basis = Basis(first, source), Basis(last, source)
    both_snapshots = start_basis.source == end_basis.source == "snapshot"
    if kind is None:
        kind = PIPELINE_KINDS[0] if both_snapshots else PIPELINE_KINDS[1]
    if kind not in PIPELINE_KINDS:
        raise ValueError(f"unknown pipeline {kind!r}: use one of {', '.join(PIPELINE_KINDS)}")
    if kind == PIPELINE_KINDS[0] and not both_snapshots:
        raise ValueError(
            "the pipeline closing in the period needs a snapshot on or before both dates: "
            "without one the expected close date on that day is not known"
        )
    params = (
        scope.params()
        | fx_params(con)
        | {
            "start_day": first, "end_day": last, "rate_date": last,
            "start_source": start_basis.source, "end_source": end_basis.source,
            "start_snapshot": start_basis.snapshot_date,
            "end_snapshot": end_basis.snapshot_date,
            "by_close_date": kind == PIPELINE_KINDS[0],
        }
    )  # fmt: skip
    return params, kind, start_basis, end_basis


def waterfall(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    start_date: date | None = None,
    end_date: date | None = None,
    kind: str | None = None,
    source: Source | None = None,
) -> Waterfall:
    """How the pipeline changed between two dates, any two, after a single upload too.

    Dates default to `default_dates`. Each day's state comes from the point-in-time layer's
    best source for it (`analytics.pointintime.bases`: a snapshot on or before the day,
    else stage history, else rebuilt from created and close dates); `source` forces one
    (tests compare a rebuild with the snapshots). `kind`: "closing in the period" (the
    default when both days have a snapshot) or "all open deals" (the default otherwise,
    and the only one possible: a rebuild does not know the expected close date then).
    Amounts are converted at the end date's rates (both sides, so exchange-rate moves are
    no bucket). Buckets, for deals in either pipeline (docs/metrics.md, "Pipeline
    waterfall"):

    * in both: **increased** / **decreased** by the amount change (unchanged: no bucket);
    * only at the start: **won** / **lost** (closed by the end date), else **pushed out**
      (still open, close date now outside the period);
    * only at the end: **pulled in** (open at the start with a close date outside the
      period), else **new** (created after the start date, or reopened).

    Filters (team / region / rep) use the deal's owner at the end date.
    """
    default_start, default_end = default_dates(con, scope)
    first = start_date or default_start
    last = end_date or default_end
    zero = Decimal("0.00")
    if first is None or last is None:
        reason = before_period_reason(con, scope) or "no day of the period has data"
        return Waterfall(first, last, zero, zero, dict.fromkeys(WATERFALL_BUCKETS, zero),
                         dict.fromkeys(WATERFALL_BUCKETS, 0), no_data=reason)  # fmt: skip
    if last < first:
        raise ValueError(f"the end date {last} is before the start date {first}")
    params, kind, start_basis, end_basis = _waterfall_params(con, scope, first, last, kind, source)
    # fetchall, not a DataFrame: DECIMAL sums arrive as Decimal, exact to the cent.
    sql = _WATERFALL_SUM_SQL.replace(
        "{ctes}",
        _waterfall_ctes(
            (start_basis.source, end_basis.source),
            params["by_close_date"],
            start_basis.after_snapshot or end_basis.after_snapshot,
        ),
    )
    rows = con.execute(sql, bind(sql, params)).fetchall()
    buckets = dict.fromkeys(WATERFALL_BUCKETS, zero)
    deals = dict.fromkeys(WATERFALL_BUCKETS, 0)
    start = end = zero
    n = dict.fromkeys(("start", "end", "unchanged", "unpriced", "no0", "no1", "undated"), 0)
    unvalued: dict[str, int] = {}
    for bucket, count, change, start_amount, end_amount, *counts in rows:
        n_start, n_end, n_unpriced, n_no0, n_no1, n_undated, n_unvalued = (int(c) for c in counts)
        start += start_amount
        end += end_amount
        n["start"] += n_start
        n["end"] += n_end
        n["unpriced"] += n_unpriced
        n["no0"] += n_no0
        n["no1"] += n_no1
        n["undated"] += n_undated
        if bucket == "unchanged":
            n["unchanged"] = int(count)
            continue
        buckets[bucket] = change
        deals[bucket] = int(count)
        if n_unvalued:
            unvalued[bucket] = n_unvalued
    return Waterfall(
        first, last, start, end, buckets, deals, n["start"], n["end"], n["unchanged"],
        n["unpriced"], kind, start_basis, end_basis, n["no0"], n["no1"], n["undated"],
        unvalued,
    )  # fmt: skip


def waterfall_deals(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    start_date: date,
    end_date: date,
    kind: str | None = None,
    source: Source | None = None,
) -> pd.DataFrame:
    """The deals behind `waterfall`'s bars: one row per deal in either pipeline, with its
    bucket ('unchanged' too), amounts (reporting currency) and close dates as known on
    each day (empty where a rebuild does not know it). Largest change first."""
    if end_date < start_date:
        raise ValueError(f"the end date {end_date} is before the start date {start_date}")
    params, _, first, last = _waterfall_params(con, scope, start_date, end_date, kind, source)
    sql = _WATERFALL_DEALS_SQL.replace(
        "{ctes}",
        _waterfall_ctes(
            (first.source, last.source),
            params["by_close_date"],
            first.after_snapshot or last.after_snapshot,
        ),
    )
    return run_sql(con, sql, params)


# --- follow-up gaps -----------------------------------------------------------------------

_GAPS_SQL = f"""
WITH steps AS (
    SELECT unnest($step_keys) AS stage_key, unnest($step_numbers) AS step
),
{_RATES_SQL},
open_deals AS (
    SELECT o.opportunity_id, o.opportunity_name, o.account, o.owner, o.stage, o.amount,
           o.currency, upper(nullif(trim(o.currency), '')) AS currency_key, o.close_date,
           st.step
    FROM opportunities AS o
    LEFT JOIN reps AS r ON r.rep = o.owner
    JOIN steps AS st ON st.stage_key = lower(trim(o.stage))
    WHERE NOT o.is_closed AND st.step < $won_step AND {owner_filter_sql("o.owner")}
),
open_touches AS (
    SELECT a.opportunity_id, count(*) AS touches, CAST(max(a.started_at) AS DATE) AS last_touch
    FROM activities AS a
    SEMI JOIN open_deals AS d ON d.opportunity_id = a.opportunity_id
    WHERE a.started_at < CAST($as_of AS DATE) + INTERVAL 1 DAY
    GROUP BY a.opportunity_id
),
won_deals AS (SELECT opportunity_id FROM opportunities WHERE is_won),
{stage_history_ctes("won_deals", "won_history")},
won_hist AS (
    SELECT h.opportunity_id, h.entered_at, st.step
    FROM won_history AS h
    JOIN steps AS st ON st.stage_key = lower(trim(h.stage))
),
won_exit AS (
    -- the moment a won deal first got past step k: its first entry into any later step
    SELECT w.opportunity_id, k.step, min(w.entered_at) AS exit_at
    FROM won_hist AS w
    JOIN (SELECT DISTINCT step FROM steps WHERE step < $won_step) AS k ON w.step > k.step
    GROUP BY w.opportunity_id, k.step
),
won_touches AS (
    SELECT e.opportunity_id, e.step, count(a.opportunity_id) AS touches
    FROM won_exit AS e
    LEFT JOIN activities AS a
        ON a.opportunity_id = e.opportunity_id AND a.started_at < e.exit_at
    GROUP BY e.opportunity_id, e.step
),
yardstick AS (
    SELECT step, median(touches) AS won_median_touches, count(*) AS won_deals
    FROM won_touches GROUP BY step
    HAVING count(*) >= $min_won_deals
)
SELECT d.opportunity_id, d.opportunity_name, d.account, d.owner, d.stage, d.amount,
       d.currency, {_in_reporting("d.amount", "d.currency_key", "x.rate")} AS amount_reporting,
       d.close_date, coalesce(t.touches, 0) AS touches, t.last_touch,
       y.won_median_touches, y.won_median_touches - coalesce(t.touches, 0) AS touches_short,
       y.won_deals AS won_deals_compared
FROM open_deals AS d
JOIN yardstick AS y ON y.step = d.step
LEFT JOIN open_touches AS t ON t.opportunity_id = d.opportunity_id
LEFT JOIN rates AS x ON x.currency = d.currency_key
WHERE coalesce(t.touches, 0) < y.won_median_touches
ORDER BY amount_reporting DESC NULLS LAST, d.opportunity_id
"""


def follow_up_gaps(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    min_won_deals: int = DEFAULT_MIN_WON_DEALS,
    as_of: date | None = None,
    stages: tuple[Stage, ...] | list[Stage] | None = None,
) -> pd.DataFrame:
    """Open deals with fewer touches than won deals had by the same stage.

    Touches are activities linked to the deal (`activities.opportunity_id`) up to `as_of`.
    The yardstick for stage k is the median, over won deals (whole company) with stage
    history, of their touches before they first got past stage k (their first entry into
    any later stage, so a skipped stage is passed when the next one is entered); a stage
    with fewer than `min_won_deals` such won deals has no yardstick and its open deals are
    not listed. Largest amount first.
    """
    empty = pd.DataFrame(
        columns=[
            "opportunity_id", "opportunity_name", "account", "owner", "stage", "amount",
            "currency", "amount_reporting", "close_date", "touches", "last_touch",
            "won_median_touches", "touches_short", "won_deals_compared",
        ]
    )  # fmt: skip
    when = as_of or data_as_of(con)
    if when is None:
        return empty
    if not _has_activities(con):
        # 0 touches against a won median of 0 would list nobody and read as "all followed
        # up": without activity data the comparison is no data, said so
        empty.attrs["as_of"] = when
        empty.attrs["no_data"] = {"touches": NO_ACTIVITY_GAPS}
        return empty
    params = (
        scope.params()
        | _stage_params(con, stages)
        | fx_params(con)
        | {"as_of": when, "rate_date": when, "min_won_deals": int(min_won_deals)}
    )
    table = run_sql(con, _GAPS_SQL, params)
    table.attrs["as_of"] = when
    table.attrs["no_data"] = {}
    return table


NO_ACTIVITY_GAPS = (
    "no activity data: touches are unknown, so no deal can be compared with the won deals"
)


def _has_activities(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the database holds any activity at all (else idle days and touches are
    unknown, not 0)."""
    row = con.execute("SELECT count(*) FROM (SELECT 1 FROM activities LIMIT 1)").fetchone()
    return bool(row and row[0])


# --- the tables `python -m analytics report pipeline` prints ---------------------------

PIPELINE_PARTS: tuple[str, ...] = ("waterfall", "stalled", "slipped", "gaps")


def pipeline_report_table(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    part: str = "waterfall",
    idle_days: int = DEFAULT_IDLE_DAYS,
    stage_percentile: float = DEFAULT_STAGE_PERCENTILE,
    start_date: date | None = None,
    end_date: date | None = None,
) -> pd.DataFrame:
    """One of the Pipeline page's tables (PIPELINE_PARTS). Bad dates raise ValueError with
    a sentence a user can act on. What the page says beside a table is in attrs["notes"]."""
    if part == "stalled":
        table = stalled_deals(con, scope, idle_days=idle_days, stage_percentile=stage_percentile)
        # printed on stderr by the CLI, as the page shows them beside the table
        table.attrs["notes"] = [f"{k}: {v}" for k, v in table.attrs["no_data"].items()]
        return table
    if part == "slipped":
        table = slipped_deals(con, scope, base_date=start_date, latest_date=end_date)
        for name in ("base", "latest"):  # where each day's state came from
            basis = table.attrs[f"{name}_basis"]
            fields = {} if basis is None else basis.as_dict()
            table[f"{name}_source"] = fields.get("source")
            table[f"{name}_snapshot_date"] = fields.get("snapshot_date")
        # "no data: why", as the waterfall and the other reports word a table left empty
        table.attrs["notes"] = [f"no data: {why}" for why in table.attrs["no_data"].values()]
        return table
    if part == "gaps":
        table = follow_up_gaps(con, scope)
        table.attrs["notes"] = list(table.attrs.get("no_data", {}).values())
        return table
    if part != "waterfall":
        raise ValueError(f"unknown pipeline table {part!r}: use one of {', '.join(PIPELINE_PARTS)}")
    result = waterfall(con, scope, start_date=start_date, end_date=end_date)
    table = result.table().drop(columns="measure")
    table.insert(0, "end_date", result.end_date)
    table.insert(0, "start_date", result.start_date)
    for column, value in result.sources().items():  # which pipeline, and each day's source
        table[column] = value
    if result.no_data:  # no day to read: no row (never a waterfall of zeros), and why
        table = table.iloc[0:0]
        table.attrs["no_data"] = {"waterfall": result.no_data}
        table.attrs["notes"] = [f"no data: {result.no_data}"]
        return table
    table.attrs["notes"] = waterfall_notes(result)
    return table


def waterfall_notes(w: Waterfall) -> list[str]:
    """What the page says under the waterfall, in words (the CLI prints them on stderr)."""
    notes = [] if w.no_change_reason is None else [w.no_change_reason]
    for name, basis in (("start", w.start_basis), ("end", w.end_basis)):
        if basis is not None:
            notes.append(f"{name}: {basis.describe()}")
    if w.kind == PIPELINE_KINDS[1] and not (
        w.start_basis and w.end_basis and w.start_basis.source == w.end_basis.source == "snapshot"
    ):
        notes.append(
            "all open deals, not those closing in the period: a rebuilt day does not know "
            "the expected close dates then"
        )
    for side, name in ((0, "start"), (1, "end")):
        note = w.priced_note(side)
        if note and w.amount_on(side) is None:
            notes.append(f"{name} pipeline: no data, not one open deal is priced: {note}")
        elif note:
            notes.append(f"{name} pipeline is the priced deals only: {note}")
    if w.undated_new:
        notes.append(
            f"{w.undated_new:,} of the new deals have no created date: they may have been "
            "open on the start date already"
        )
    notes.extend(n.rstrip(".") for n in w.unvalued_notes())
    if w.unpriced:
        notes.append(
            f"{counted(w.unpriced, 'deal')} {verb(w.unpriced, 'has', 'have')} no exchange rate: "
            "counted as 0"
        )
    return notes
