"""Which KPI figures have no data in a scope, and why: missing is never shown as zero.

Why here and not in the pages: a figure computed from data the export does not carry
(activities, response timestamps, lost amounts, a lead-to-deal link) comes out of the KPI
query as 0 or 100%, which reads as a fact. Analytics decides once per scope, with a few
cheap counts, which figures are "no data" and names the reason; every page and the CLI
show the same reason (docs/metrics.md, "When a figure is no data").

- `no_data_reasons(con, scope)`: KPI column -> reason, for the scope's period.
- `no_data_reasons_by_period(con, scope, periods)`: the same per period label, in one
  query for the period-dependent parts.
- `pipeline_note(con, scope)`: "N open deals have no amount" when some (not all) open deals
  are unpriced, so the open pipeline is shown as the priced part with that note.
- `blank_no_data(table, reasons)`: a KPI table with those figures emptied (NaN) and the
  reasons kept in `table.attrs["no_data"]`.
- `data_start(con, scope)`: the first day any deal in scope was created or closed, where
  trends begin.
- `undated_closed_text(won, lost)`: what closed deals without a close date mean (the
  import note and the no-data reason say the same); `no_closed_deal_text(period, reasons)`:
  the Overview's sentence for a period in which no deal closed, naming them when they are
  why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from analytics.metrics.fx import fx_params, priced_sql
from analytics.run_memo import fetch_one
from analytics.scope import Period, Scope, owner_filter_sql

NO_ACTIVITY = "no activity data"
NO_RESPONSE = "no response timestamps"
NO_LOST_AMOUNT = "lost deals carry no amount in this export"
NO_LEADS = "no lead data"
NO_LEAD_LINK = "no lead-to-deal link"
NO_QUOTAS = "no quotas in the data"

# Figures computed from the activities table.
ACTIVITY_COLUMNS = ("selling_time_share", "meeting_ratio", "touches_per_deal",
                    "won_5plus_touches_share")  # fmt: skip
# Figures computed from the leads' first response time.
RESPONSE_COLUMNS = (
    "lead_response_median_minutes",
    "lead_response_p90_minutes",
    "lead_sla_5min_share",
    "lead_sla_1h_share",
    "lead_sla_1day_share",
)
LEAD_COLUMNS = ("lead_to_opp_rate", *RESPONSE_COLUMNS)
OPEN_AMOUNT_COLUMNS = ("open_pipeline", "weighted_pipeline", "pipeline_coverage")
# Figures summed from the won deals' amounts: with won deals none of which can be valued in
# the reporting currency (no amount, or a currency without an exchange rate), they would
# read 0 ("Bookings 0" beside 4 deals won for 51,201 EUR), so they are no data.
WON_AMOUNT_COLUMNS = ("bookings", "avg_deal_size", "sales_velocity", "win_rate_value",
                      "quota_attainment", "at_or_above_quota")  # fmt: skip
# Figures that set won deals against lost (or still open) ones: with nothing but won deals
# in the database (a won-deal list, the common "closed deals" export), they would read
# 100% as a fact, while the export simply does not carry the others.
OUTCOME_COLUMNS = ("win_rate", "win_rate_value", "opp_to_won_rate")
ONLY_WON = "only won deals in the data (a won-deal list): lost and open deals are not known"
# Figures measured against a quota (the quotas table): none at all means no data, not 0%.
QUOTA_COLUMNS = ("quota", "quota_attainment", "at_or_above_quota", "pipeline_coverage")
# Figures that need a deal's created date: the cycle (created -> won), velocity (its mean
# cycle) and opportunity -> won (deals created in the period). A won-deal list or a
# closed-deals export often carries only the won date: the figures are then unknown, and
# a bare dash would not say why.
CYCLE_COLUMNS = ("median_cycle_days", "mean_cycle_days", "sales_velocity")
CREATED_COLUMNS = (*CYCLE_COLUMNS, "opp_to_won_rate")
NO_CREATED = "no created dates in this export: when a deal was opened is not known"
# Figures of the deals closed in a period. A closed deal without a close date belongs to no
# period (docs/metrics.md), so where the scope holds such deals and a period has no dated
# closed deal, these read 0 (Bookings 0, Won deals 0, Lost deals 0 beside a won deal of
# $12,400 in the data) although the undated ones may have closed in it: they are no data,
# with the undated deals named.
CLOSED_COLUMNS = ("bookings", "won_deals", "lost_deals", "win_rate", "win_rate_value",
                  "avg_deal_size", "median_cycle_days", "mean_cycle_days", "sales_velocity",
                  "quota_attainment", "at_or_above_quota")  # fmt: skip

# Facts that do not depend on the period: is there any activity, any lead, any response
# timestamp, any lead-to-deal link; how many open deals (in scope) lack an amount; where
# the scope's deals begin. One row, each a cheap count over one table.
FACTS_SQL = f"""
WITH open_deals AS (
    SELECT o.amount, nullif(upper(trim(o.currency)), '') AS currency_key
    FROM opportunities AS o
    LEFT JOIN reps AS r ON r.rep = o.owner
    WHERE NOT o.is_closed AND {owner_filter_sql("o.owner")}
),
scope_deals AS (
    SELECT least(o.created_date, o.close_date) AS first_day, o.is_closed, o.is_won,
           o.close_date
    FROM opportunities AS o
    LEFT JOIN reps AS r ON r.rep = o.owner
    WHERE {owner_filter_sql("o.owner")}
)
SELECT
    (SELECT count(*) FROM (SELECT 1 FROM activities LIMIT 1))                 AS activities,
    (SELECT count(*) FROM leads)                                              AS leads,
    (SELECT count(first_response_at) FROM leads)                              AS responses,
    (SELECT count(*) FROM leads
      WHERE opportunity_id IS NOT NULL OR converted_at IS NOT NULL
         OR lead_id IN (SELECT lead_id FROM opportunities
                        WHERE lead_id IS NOT NULL))                          AS linked_leads,
    (SELECT count(*) FROM open_deals)                                         AS open_deals,
    (SELECT count(*) FROM open_deals WHERE coalesce(amount, 0) = 0)           AS unpriced_open,
    (SELECT count(*) FROM open_deals
      WHERE coalesce(amount, 0) <> 0 AND currency_key <> $reporting_currency
        AND currency_key NOT IN (SELECT currency FROM fx_rates))              AS rateless_open,
    (SELECT count(*) FROM (SELECT 1 FROM quotas LIMIT 1))                     AS quotas,
    -- any export ever: deals open in an older export and won since are a pipeline, not
    -- a won-deal list (a team whose deals all closed won read "no win rate")
    (SELECT count(*) FROM (SELECT 1 FROM opportunity_snapshots WHERE NOT is_won LIMIT 1))
                                                                              AS not_won,
    (SELECT count(*) FROM (SELECT 1 FROM opportunities LIMIT 1))              AS any_deal,
    (SELECT count(*) FROM (SELECT 1 FROM opportunities
                           WHERE created_date IS NOT NULL LIMIT 1))           AS any_created,
    (SELECT count(*) FROM scope_deals
      WHERE is_closed AND is_won AND close_date IS NULL)                      AS undated_won,
    (SELECT count(*) FROM scope_deals
      WHERE is_closed AND NOT is_won AND close_date IS NULL)                  AS undated_lost,
    (SELECT min(first_day) FROM scope_deals)                                  AS first_day
"""

# Lost deals closed in each period: how many, and how many carry an amount other than 0.
LOST_SQL = f"""
WITH periods AS (
    SELECT unnest($period_nos) AS period_no,
           unnest($period_starts) AS period_start,
           unnest($period_ends) AS period_end
),
closed AS (
    SELECT o.close_date, o.is_won, o.amount, o.created_date,
           nullif(upper(trim(o.currency)), '') AS currency_key, o.close_date AS rate_day
    FROM opportunities AS o
    LEFT JOIN reps AS r ON r.rep = o.owner
    WHERE o.is_closed
      AND o.close_date BETWEEN $first_day AND $last_day
      AND {owner_filter_sql("o.owner")}
),
priced AS ({priced_sql("closed")})
SELECT
    p.period_no,
    count(l.close_date) FILTER (WHERE NOT l.is_won)                  AS lost_deals,
    count(l.close_date) FILTER (WHERE NOT l.is_won AND coalesce(l.amount, 0) <> 0)
                                                                     AS priced_lost,
    count(l.close_date) FILTER (WHERE l.is_won)                      AS won_deals,
    count(l.close_date) FILTER (WHERE l.is_won AND l.amount_rc IS NOT NULL)
                                                                     AS priced_won,
    count(l.close_date) FILTER (WHERE l.is_won AND l.unpriced)       AS rateless_won,
    count(l.close_date) FILTER (WHERE l.is_won AND l.created_date IS NOT NULL)
                                                                     AS dated_won
FROM periods AS p
LEFT JOIN priced AS l ON l.close_date BETWEEN p.period_start AND p.period_end
GROUP BY p.period_no
ORDER BY p.period_no
"""


@dataclass(frozen=True)
class DataFacts:
    """The period-free counts behind the reasons (see FACTS_SQL)."""

    activities: int
    leads: int
    responses: int
    linked_leads: int
    open_deals: int
    unpriced_open: int
    rateless_open: int  # open deals with an amount in a currency fx_rates never prices
    quotas: int
    not_won: int  # 1 when any export held a deal not won (open or lost), else 0
    any_deal: int  # 1 when it holds any deal
    any_created: int  # 1 when any deal carries a created date
    undated_won: int  # won deals in scope without a close date: in no period
    undated_lost: int  # lost deals in scope without a close date: in no period
    first_day: date | None


def _filter_params(scope: Scope) -> dict[str, object]:
    return {k: v for k, v in scope.params().items() if k not in ("period_start", "period_end")}


def data_facts(con: duckdb.DuckDBPyConnection, scope: Scope) -> DataFacts:
    """The counts every period of `scope` shares (one query, once per page run: its
    filters, not its period, decide the answer, so the statement is the memo's key)."""
    row = fetch_one(con, FACTS_SQL, _filter_params(scope) | fx_params(con))
    assert row is not None
    *counts, first_day = row
    return DataFacts(*(int(c or 0) for c in counts), first_day=first_day)


def _shared_reasons(facts: DataFacts) -> dict[str, str]:
    reasons: dict[str, str] = {}
    if facts.activities == 0:
        reasons |= dict.fromkeys(ACTIVITY_COLUMNS, NO_ACTIVITY)
    if facts.leads == 0:
        reasons |= dict.fromkeys(LEAD_COLUMNS, NO_LEADS)
    else:
        if facts.responses == 0:
            reasons |= dict.fromkeys(RESPONSE_COLUMNS, NO_RESPONSE)
        if facts.linked_leads == 0:
            reasons["lead_to_opp_rate"] = NO_LEAD_LINK
    if facts.quotas == 0:
        reasons |= dict.fromkeys(QUOTA_COLUMNS, NO_QUOTAS)
    if facts.any_deal and not facts.any_created:
        reasons |= dict.fromkeys(CREATED_COLUMNS, NO_CREATED)
    if facts.any_deal and not facts.not_won:
        reasons |= dict.fromkeys(OUTCOME_COLUMNS, ONLY_WON)
    if facts.open_deals and facts.unpriced_open + facts.rateless_open == facts.open_deals:
        reasons |= dict.fromkeys(
            OPEN_AMOUNT_COLUMNS, unpriced_open_text(facts.unpriced_open, facts.rateless_open)
        )
    return reasons


def unpriced_open_text(count: int, rateless: int = 0) -> str:
    """'N open deals have no amount' (singular for one); with `rateless` open deals whose
    currency has no exchange rate, those are named too (they are left out of the sums the
    same way)."""
    parts = []
    if count:
        parts.append(
            "1 open deal has no amount" if count == 1 else f"{count:,} open deals have no amount"
        )
    if rateless:
        parts.append(
            f"{rateless:,} open deal{'s' if rateless != 1 else ''} "
            f"{'are' if rateless != 1 else 'is'} in a currency without an exchange rate"
        )
    return "; ".join(parts) or "0 open deals have no amount"


def unpriced_won_text(won: int, rateless: int) -> str:
    """Why the won deals of a period have no value: no amount, or no exchange rate."""
    deals = "the won deal" if won == 1 else f"the {won:,} won deals"
    if rateless == won:
        return (
            f"{deals} {'is' if won == 1 else 'are'} in a currency without an exchange rate "
            "to the reporting currency (upload its exchange rates on the Data page)"
        )
    if rateless:
        return (
            f"{deals} have no value in the reporting currency: {rateless:,} in a currency "
            f"without an exchange rate, {won - rateless:,} without an amount"
        )
    return f"{deals} {'carries' if won == 1 else 'carry'} no amount in this export"


def undated_closed_text(won: int, lost: int) -> str:
    """'2 closed deals (1 won, 1 lost) have no close date: they count in no period's
    bookings, win rate or cycle'. Why: a deal belongs to a period by its close date, so
    these are in no period's figures, and without a word the figures read as if they did
    not exist (a won $12,400 deal behind "Bookings 0")."""
    n = won + lost
    parts = ", ".join(
        f"{count:,} {word}" for count, word in ((won, "won"), (lost, "lost")) if count
    )
    return (
        f"{n:,} closed deal{'s' if n != 1 else ''} ({parts}) "
        f"{'has' if n == 1 else 'have'} no close date: {'it counts' if n == 1 else 'they count'} "
        "in no period's bookings, win rate or cycle"
    )


def undated_closed_reason(reasons: Mapping[str, str]) -> str | None:
    """The reason a period's closed-deal figures are no data because closed deals in scope
    have no close date (`undated_closed_text`), or None. Only that rule gives `lost_deals`
    a reason; it is a verdict on the whole scope (every group of it has no dated closed
    deal in the period either), so it blanks every row's figures, not only the company's.
    """
    return reasons.get("lost_deals")


def no_closed_deal_text(period_name: str, reasons: Mapping[str, str]) -> str:
    """The Overview's sentence for a period in which no deal closed (by close date).

    `reasons` are the period's no-data reasons: where closed deals without a close date
    are why (`undated_closed_reason`), the sentence names them rather than saying plainly
    that no deal closed, which is not known."""
    undated = undated_closed_reason(reasons)
    if undated:
        return (
            f"No deal closed in {period_name} by its close date, but {undated}, so those "
            "figures are shown as no data rather than 0."
        )
    return (
        f"No deal closed in {period_name}: win rates, average deal size and cycle "
        "length are shown as — (not defined) rather than 0."
    )


def unknown_cycle_text(won: int) -> str:
    """Why a period's sales cycle (and velocity) is unknown: its won deals lack created dates."""
    deals = "the won deal has no" if won == 1 else f"none of the {won:,} won deals has a"
    return f"{deals} created date, so the sales cycle is not known"


def no_data_reasons_by_period(
    con: duckdb.DuckDBPyConnection, scope: Scope, periods: Sequence[Period]
) -> dict[str, dict[str, str]]:
    """Per period label: KPI column -> why it has no data (absent: the figure is real).

    Two queries whatever the number of periods: the shared facts and the lost deals'
    amounts per period. Periods may overlap.
    """
    periods = list(periods)
    if not periods:
        return {}
    facts = data_facts(con, scope)
    shared = _shared_reasons(facts)
    undated = facts.undated_won + facts.undated_lost
    params = _filter_params(scope) | {
        "period_nos": list(range(len(periods))),
        "period_starts": [p.start for p in periods],
        "period_ends": [p.end for p in periods],
        "first_day": min(p.start for p in periods),
        "last_day": max(p.end for p in periods),
    }
    out: dict[str, dict[str, str]] = {}
    params |= fx_params(con)
    rows = con.execute(LOST_SQL, params).fetchall()
    for number, lost, priced, won, priced_won, rateless_won, dated_won in rows:
        reasons = dict(shared)
        if undated and not (won or lost):
            # nothing closed in the period by its close date, but closed deals without one
            # may have: a reason given (no quotas, only won deals) stays the one shown
            reasons = (
                dict.fromkeys(
                    CLOSED_COLUMNS, undated_closed_text(facts.undated_won, facts.undated_lost)
                )
                | reasons
            )
        if lost and not priced:
            reasons["win_rate_value"] = NO_LOST_AMOUNT
        if won and not dated_won:
            # won deals without a created date have no cycle; a reason given stays
            reasons = dict.fromkeys(CYCLE_COLUMNS, unknown_cycle_text(won)) | reasons
        if won and not priced_won:
            # a reason already given (no quotas, lost deals at 0) stays the one shown
            reasons = dict.fromkeys(WON_AMOUNT_COLUMNS, unpriced_won_text(won, rateless_won)) | (
                reasons
            )
        out[periods[number].label] = reasons
    return out


def no_data_reasons(con: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, str]:
    """KPI column -> reason it has no data in `scope` (its period and filters)."""
    return no_data_reasons_by_period(con, scope, [scope.period])[scope.period.label]


def pipeline_note(con: duckdb.DuckDBPyConnection, scope: Scope) -> str | None:
    """'N open deals have no amount' when some open deals in scope are unpriced, else None.

    The open pipeline is then the priced part; when every open deal is unpriced the figure
    is no data instead (`no_data_reasons`)."""
    facts = data_facts(con, scope)
    if not (facts.unpriced_open or facts.rateless_open):
        return None
    return unpriced_open_text(facts.unpriced_open, facts.rateless_open)


def before_data(period: Period, first_day: date | None) -> str | None:
    """Why `period` has no figure to compare with: it ends before the data starts
    (`data_start`), else None.

    Why: a count there is a 0 that only means "no data yet": the Overview read "Won deals
    +7 vs 2025-11" for an export starting in August 2026, beside "Bookings: 2025-11: no
    figure to compare".
    """
    if first_day is None or period.full_end >= first_day:
        return None
    return f"no data yet: the data starts on {first_day:%d %b %Y}"


def data_start(con: duckdb.DuckDBPyConnection, scope: Scope) -> date | None:
    """The first day a deal in scope was created or closed: trends begin there."""
    return data_facts(con, scope).first_day


QUOTA_REACHED = "quota already reached: nothing left to book, so nothing to cover"


def coverage_reason(row: Mapping[str, object]) -> str | None:
    """Why a KPI row's `pipeline_coverage` is empty although the period has a quota, or
    None when it has a value (or no quota: then `no_data_reasons` names it).

    Why: coverage divides by the quota left to book; once bookings reach the quota there
    is nothing left, and the card would show a bare dash a manager cannot read.
    """
    coverage, quota, bookings = (
        _float(row.get(c)) for c in ("pipeline_coverage", "quota", "bookings")
    )
    if coverage is not None or quota is None or quota <= 0:
        return None
    if bookings is not None and bookings >= quota:
        return QUOTA_REACHED
    return None


def _float(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if number != number else number  # NaN is no value


def blank_no_data(table: pd.DataFrame, reasons: Mapping[str, str]) -> pd.DataFrame:
    """`table` with every column named in `reasons` emptied and the reasons in attrs.

    Why: a 0 or 100% computed from data the export does not carry must not reach a page,
    the CLI or a download as a number.
    """
    out = table.copy()
    for column in reasons:
        if column in out.columns:
            out[column] = float("nan")
    out.attrs["no_data"] = dict(reasons)
    return out
