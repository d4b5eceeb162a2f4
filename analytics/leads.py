"""Lead analytics: scores, the hand-off list, scoring calibration, response and conversion.

Why these figures: marketing hands a lead to sales once its score passes a threshold
(MQL -> SQL); a rep should answer it fast (lead response time) and the lead should turn
into an opportunity. So the page and the `leads` report answer four questions:

- which qualified leads is nobody answering (the hand-off list, oldest first)?
- does a higher score really mean a likelier conversion (is the scoring calibrated)?
- how fast are leads answered, and how many convert, per source and per owner?
- where BANT fields exist, how qualified are the deals and does full BANT win more?

Scores are computed in SQL from `lead_events` joined to the scoring rules, which are
bound as parameters (`analytics.scoring.LeadScoring.sql_params`), never formatted into
the statement. Response and conversion follow exactly the definitions of the KPI table
(`analytics.metrics.efficiency`): same leads, same minutes, same SLA bands, so the
Overview cards and this page agree. Definitions: docs/metrics.md (Leads).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

import duckdb
import pandas as pd

from analytics.labels import NO_OWNER, NO_SDR, NO_SOURCE
from analytics.metrics.availability import NO_LEAD_LINK, NO_RESPONSE, no_data_reasons
from analytics.numbers import counted, number_or_none, verb
from analytics.scope import Period, Scope, data_as_of, owner_filter_sql
from analytics.scoring import LeadScoring, load_lead_scoring, unknown_event_types

# Score bands for the calibration table (edges: a band is [low, high)): below 0, 0-9,
# 10-19, 20 and more, which brackets the default threshold of 15.
DEFAULT_BAND_EDGES: tuple[float, ...] = (0.0, 10.0, 20.0)
# Lead-response SLA bands in minutes, the same as the KPI table's (5 minutes, 1 hour, 1 day).
SLA_MINUTES: dict[str, int] = {"5min": 5, "1h": 60, "1day": 24 * 60}
GROUPINGS: dict[str, str] = {"source": "l.source", "owner": "l.owner"}
Grouping = Literal["source", "owner"]

# What a blank group reads as in the page's tables (the downloads keep the blank), and
# the label of a table's total row.
NO_VALUE: dict[str, str] = {"source": NO_SOURCE, "owner": NO_OWNER}
# The linked lead -> deal tables' blank groups: the same "(no source)" as every other
# source table (they said "(none)", a second name for one row: a new user's report)
LINK_NO_VALUE: dict[str, str] = {"source": NO_SOURCE, "sdr": NO_SDR}
ALL_LEADS = "All leads"


def lead_count(con: duckdb.DuckDBPyConnection) -> int:
    """Leads in the database, whatever the scope: zero means none was ever uploaded."""
    return int(con.execute("SELECT count(*) FROM leads").fetchone()[0])


def named_groups(table: pd.DataFrame, blanks: dict[str, str]) -> pd.DataFrame:
    """A copy whose group columns read as words: a blank (None, NaN) becomes its label in
    `blanks`, and the total row (`is_total`, when the table has it) reads `All leads`.

    Why: a blank source is a real group of leads, and a total row's group is no group at
    all; neither should show as an empty cell, which reads as missing data.
    """
    out = table.copy()
    totals = out["is_total"] if "is_total" in out else pd.Series(False, index=out.index)
    for column, label in blanks.items():
        out[column] = [
            ALL_LEADS if is_total else (label if pd.isna(value) else value)
            for value, is_total in zip(out[column], totals, strict=True)
        ]
    return out


def counts_no_lead(table: pd.DataFrame) -> bool:
    """Whether a `calibration` or `lead_deal_conversion` table counts no lead at all.

    Why a function: calibration lists every band even when it is empty, and a conversion
    table has a total row, so "no row" and "no lead" differ; the page says "no lead was
    created" rather than drawing empty bars, and this is where that is decided.
    """
    return table.empty or int(table["leads"].sum()) == 0


NO_EVENTS = (
    "no lead events in the data: every lead scores 0, so no lead can be sales-qualified "
    "and the scoring cannot be judged; upload the lead events export (page visits, e-mail "
    "opens and clicks, ...) on the Data page"
)


def scores_no_data(con: duckdb.DuckDBPyConnection) -> str | None:
    """Why lead scores say nothing, or None: there are no lead events at all.

    Why: with leads but no events every score is 0; the page said "No sales-qualified lead
    is waiting" in green and drew a calibration of 0-point leads, which reads as a result
    (found by a new user who uploaded a leads file alone).
    """
    (events,) = con.execute("SELECT count(*) FROM (SELECT 1 FROM lead_events LIMIT 1)").fetchone()
    return None if events else NO_EVENTS


# --- scores ----------------------------------------------------------------------------

# One row per lead in scope with its score as of its score date. The score date is $as_of,
# or with $at_conversion the day the lead converted if that is earlier: calibration must
# judge the score a lead had when it converted, not one inflated by its later e-mails.
# Decay: an event D calendar days before the score date counts points * 0.5^(D / half-life).
LEAD_SCORES_CTE = f"""
rules AS (
    SELECT
        unnest(CAST($rule_types AS VARCHAR[]))   AS event_type,
        unnest(CAST($rule_points AS DOUBLE[]))   AS points,
        unnest(CAST($rule_decays AS BOOLEAN[]))  AS decays,
        unnest(CAST($rule_once AS BOOLEAN[]))    AS once
),
scoped_leads AS (
    SELECT
        l.lead_id, l.created_at, l.owner, l.source, l.status, l.company,
        l.first_response_at, l.converted_at, l.opportunity_id,
        -- a deal names the lead (a deals or won-deals file with a lead id): converted, as
        -- when the lead names its deal; the day is not known
        l.lead_id IN (SELECT lead_id FROM opportunities WHERE lead_id IS NOT NULL)
            AS deal_names_lead,
        CASE WHEN $at_conversion AND l.converted_at IS NOT NULL
             THEN least(CAST(l.converted_at AS DATE), CAST($as_of AS DATE))
             ELSE CAST($as_of AS DATE)
        END AS score_date
    FROM leads AS l
    LEFT JOIN reps AS r ON r.rep = l.owner
    WHERE {owner_filter_sql("l.owner")}
      AND CAST(l.created_at AS DATE) <= CAST($as_of AS DATE)
      AND (NOT $cohort OR (
            l.created_at >= CAST($period_start AS TIMESTAMP)
        AND l.created_at < CAST($period_end AS TIMESTAMP) + INTERVAL 1 DAY))
),
event_rows AS (
    SELECT
        s.lead_id,
        lower(trim(e.event_type)) AS event_type,
        date_diff('day', CAST(e.occurred_at AS DATE), s.score_date) AS age_days
    FROM scoped_leads AS s
    JOIN lead_events AS e ON e.lead_id = s.lead_id
    WHERE CAST(e.occurred_at AS DATE) <= s.score_date
),
weighted AS (
    SELECT
        ev.lead_id, ev.event_type, ru.points, ru.once,
        CASE WHEN CAST($half_life_days AS DOUBLE) IS NULL OR NOT ru.decays THEN 1.0
             ELSE pow(0.5, ev.age_days / CAST($half_life_days AS DOUBLE))
        END AS weight
    FROM event_rows AS ev
    JOIN rules AS ru ON ru.event_type = ev.event_type
),
per_type AS (
    -- a `once` rule counts its most recent occurrence only (the largest weight)
    SELECT
        lead_id,
        count(*) AS events,
        CASE WHEN bool_or(once) THEN any_value(points) * max(weight)
             ELSE any_value(points) * sum(weight)
        END AS points
    FROM weighted
    GROUP BY lead_id, event_type
),
lead_points AS (
    SELECT lead_id, sum(points) AS score, CAST(sum(events) AS BIGINT) AS scored_events
    FROM per_type
    GROUP BY lead_id
),
lead_events_seen AS (
    SELECT lead_id, count(*) AS events FROM event_rows GROUP BY lead_id
),
lead_scores AS (
    SELECT
        s.lead_id, s.created_at, s.owner, s.source, s.status, s.company,
        s.first_response_at, s.converted_at, s.opportunity_id, s.score_date,
        -- rounded so that 14.999999999 from decay arithmetic is not "below 15"
        round(coalesce(p.score, 0), 6)                                AS score,
        coalesce(p.scored_events, 0)                                  AS scored_events,
        coalesce(n.events, 0) - coalesce(p.scored_events, 0)          AS unscored_events,
        round(coalesce(p.score, 0), 6) >= $threshold                  AS qualified,
        s.first_response_at IS NOT NULL
            AND CAST(s.first_response_at AS DATE) <= CAST($as_of AS DATE) AS answered,
        (s.converted_at IS NOT NULL AND CAST(s.converted_at AS DATE) <= CAST($as_of AS DATE))
            OR (s.converted_at IS NULL
                AND (s.opportunity_id IS NOT NULL OR s.deal_names_lead))  AS converted,
        s.converted_at IS NOT NULL OR s.opportunity_id IS NOT NULL
            OR s.deal_names_lead                                      AS ever_converted
    FROM scoped_leads AS s
    LEFT JOIN lead_points AS p ON p.lead_id = s.lead_id
    LEFT JOIN lead_events_seen AS n ON n.lead_id = s.lead_id
)"""

SCORE_COLUMNS = (
    "lead_id",
    "created_at",
    "owner",
    "source",
    "status",
    "company",
    "first_response_at",
    "converted_at",
    "opportunity_id",
    "score",
    "scored_events",
    "unscored_events",
    "qualified",
    "answered",
    "converted",
)


def default_as_of(period: Period, today: date | None = None) -> date:
    """The day scores are computed for: the period's last day, or today if that is earlier.

    A past period is judged as it stood when it ended; the current one as it stands now
    (a period end in the future would decay nothing and count no future response).
    """
    return min(period.end, today or date.today())


def _params(
    scope: Scope,
    as_of: date,
    scoring: LeadScoring,
    *,
    cohort: bool,
    at_conversion: bool = False,
) -> dict[str, Any]:
    return (
        scope.params()
        | scoring.sql_params()
        | {"as_of": as_of, "cohort": bool(cohort), "at_conversion": bool(at_conversion)}
    )


def lead_scores(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    as_of: date | None = None,
    scoring: LeadScoring | None = None,
    created_in_period: bool = False,
) -> pd.DataFrame:
    """Every lead in scope created on or before `as_of`, with its score as of that day.

    Owner filters (team, region, rep) come from `scope`; the period only limits the leads
    when `created_in_period`. `answered` and `converted` are as of `as_of` too (a lead
    with an opportunity but no conversion date counts as converted). Highest score first.
    """
    rules = scoring if scoring is not None else load_lead_scoring(con)
    day = as_of or default_as_of(scope.period)
    sql = (
        f"WITH {LEAD_SCORES_CTE}\nSELECT {', '.join(SCORE_COLUMNS)} FROM lead_scores\n"
        "ORDER BY score DESC, created_at, lead_id"
    )
    return con.execute(sql, _params(scope, day, rules, cohort=created_in_period)).df()


def handoff_list(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    as_of: date | None = None,
    scoring: LeadScoring | None = None,
    created_in_period: bool = False,
) -> pd.DataFrame:
    """Sales-qualified leads nobody has answered and that have not converted, oldest first.

    Qualified = score at or past the threshold as of `as_of`; no response = no
    `first_response_at` by the end of `as_of` (a lead without an owner is included: it is
    the most urgent case). Columns: lead_id, created_at, days_waiting (calendar days from
    creation to `as_of`), owner, source, company, status, score, scored_events.
    """
    rules = scoring if scoring is not None else load_lead_scoring(con)
    day = as_of or default_as_of(scope.period)
    sql = f"""
WITH {LEAD_SCORES_CTE}
SELECT
    lead_id, created_at,
    date_diff('day', CAST(created_at AS DATE), CAST($as_of AS DATE)) AS days_waiting,
    owner, source, company, status, score, scored_events
FROM lead_scores
WHERE qualified AND NOT answered AND NOT converted
ORDER BY created_at, lead_id
"""
    return con.execute(sql, _params(scope, day, rules, cohort=created_in_period)).df()


# --- calibration -------------------------------------------------------------------------


def band_label(low: float | None, high: float | None) -> str:
    """'< 0', '0 to < 10', '≥ 20': bands are [low, high)."""
    if low is None and high is None:
        return "all"
    if low is None:
        return f"< {high:g}"
    if high is None:
        return f"≥ {low:g}"
    return f"{low:g} to < {high:g}"


def quantile_edges(scores: Sequence[float], bands: int = 4) -> tuple[float, ...]:
    """Interior edges splitting `scores` into about `bands` equal groups (ties merge bands).

    For a calibration table by quantile instead of fixed points; with many leads on the
    same score (often 0) fewer bands come back, never an empty duplicate.
    """
    values = sorted(float(s) for s in scores if s is not None and not math.isnan(float(s)))
    if len(values) < 2 or bands < 2:
        return ()
    edges: list[float] = []
    for k in range(1, bands):
        edge = values[min(len(values) - 1, math.ceil(k * len(values) / bands))]
        if edge > values[0] and (not edges or edge > edges[-1]):
            edges.append(edge)
    return tuple(edges)


def calibration(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    as_of: date | None = None,
    scoring: LeadScoring | None = None,
    edges: Sequence[float] = DEFAULT_BAND_EDGES,
) -> pd.DataFrame:
    """Score band against actual conversion, for leads created in the scope's period.

    Each lead is scored as of the day it converted (or `as_of` if earlier or never), so
    events after the conversion cannot make the scoring look better than it was.
    Converted = has an opportunity (the lead names it, or a deal names the lead by lead id)
    or a conversion date, whenever (the KPI table's cohort rule). Every band is listed, an
    empty one with conversion_rate None. Columns: band, low, high, leads, converted,
    conversion_rate, avg_score. A calibrated scoring shows a conversion rate that rises
    band by band.
    """
    cuts = sorted({float(e) for e in edges})
    lows: list[float | None] = [None, *cuts]
    highs: list[float | None] = [*cuts, None]
    rules = scoring if scoring is not None else load_lead_scoring(con)
    day = as_of or default_as_of(scope.period)
    sql = f"""
WITH {LEAD_SCORES_CTE},
bands AS (
    SELECT
        unnest(range(len($band_lows)))             AS band_no,
        unnest(CAST($band_lows AS DOUBLE[]))       AS low,
        unnest(CAST($band_highs AS DOUBLE[]))      AS high
)
SELECT
    b.band_no,
    b.low,
    b.high,
    count(s.lead_id)                                       AS leads,
    count(s.lead_id) FILTER (WHERE s.ever_converted)       AS converted,
    (count(s.lead_id) FILTER (WHERE s.ever_converted))::DOUBLE
        / nullif(count(s.lead_id), 0)                      AS conversion_rate,
    avg(s.score)                                           AS avg_score
FROM bands AS b
LEFT JOIN lead_scores AS s
    ON (b.low IS NULL OR s.score >= b.low) AND (b.high IS NULL OR s.score < b.high)
GROUP BY b.band_no, b.low, b.high
ORDER BY b.band_no
"""
    params = _params(scope, day, rules, cohort=True, at_conversion=True) | {
        "band_lows": lows,
        "band_highs": highs,
    }
    frame = con.execute(sql, params).df()
    frame.insert(
        0,
        "band",
        [
            band_label(_opt(lo), _opt(hi))
            for lo, hi in zip(frame["low"], frame["high"], strict=True)
        ],
    )
    frame["conversion_rate"] = (
        frame["conversion_rate"].astype(object).where(frame["leads"] > 0, None)
    )
    return frame.drop(columns=["band_no"])


def calibration_falls(table: pd.DataFrame) -> list[str]:
    """'low band → high band' wherever conversion falls as the score rises (`calibration`).

    Bands without leads have no rate and are skipped, so an empty band between two others
    never reads as a fall. An empty list: the scoring is calibrated (or too thin to say).
    """
    bands = [
        (str(band), number_or_none(rate))
        for band, rate in zip(table["band"], table["conversion_rate"], strict=True)
        if number_or_none(rate) is not None
    ]
    return [
        f"{low} → {high}"
        for (low, low_rate), (high, high_rate) in zip(bands, bands[1:], strict=False)
        if (high_rate or 0.0) < (low_rate or 0.0)
    ]


def calibration_bands_compared(table: pd.DataFrame) -> int:
    """How many bands have a conversion rate (at least two are needed to compare)."""
    return sum(number_or_none(rate) is not None for rate in table["conversion_rate"])


def _opt(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return None if math.isnan(number) else number


# --- response time and conversion by source / owner --------------------------------------


# response_by's columns -> the KPI whose "no data" reason they share (metrics/availability)
RESPONSE_BY_KPI: dict[str, str] = {
    # without any response timestamp no lead is known to be answered or unanswered: a
    # leads file with no response column read "answered 0, unanswered 29"
    "answered": "lead_response_median_minutes",
    "unanswered": "lead_response_median_minutes",
    "median_minutes": "lead_response_median_minutes",
    "p90_minutes": "lead_response_p90_minutes",
    "sla_5min_share": "lead_sla_5min_share",
    "sla_1h_share": "lead_sla_1h_share",
    "sla_1day_share": "lead_sla_1day_share",
    "converted": "lead_to_opp_rate",
    "conversion_rate": "lead_to_opp_rate",
    "won": "lead_to_opp_rate",
    "lead_to_won_rate": "lead_to_opp_rate",
}


def response_by(con: duckdb.DuckDBPyConnection, scope: Scope, by: Grouping) -> pd.DataFrame:
    """Lead response time and lead-to-opportunity conversion per lead source or owner.

    Leads created in the scope's period, filtered by owner like every other figure. The
    definitions are the KPI table's: response minutes = first response - created, never
    below 0, answered leads only (median and interpolated p90); SLA shares and conversion
    over **all** leads of the group, so an unanswered lead misses every band. `won` counts
    converted leads whose opportunity is won. The last row (is_total) is all leads in scope.
    Columns: <by>, is_total, leads, answered, unanswered, median_minutes, p90_minutes,
    sla_5min_share, sla_1h_share, sla_1day_share, converted, conversion_rate, won,
    lead_to_won_rate. Without response timestamps (or a lead-to-deal link) in the export
    the response (or conversion) columns are empty, the reason in `attrs["no_data"]`.
    """
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}: use {' or '.join(GROUPINGS)}")
    sql = f"""
WITH period_leads AS (
    SELECT
        {GROUPINGS[by]} AS grp,
        -- as the KPI table: a deal that names the lead (lead id) converts it too
        l.opportunity_id IS NOT NULL OR l.converted_at IS NOT NULL
            OR l.lead_id IN (SELECT lead_id FROM opportunities WHERE lead_id IS NOT NULL)
            AS converted,
        coalesce(o.is_won, false)
            OR l.lead_id IN (SELECT lead_id FROM opportunities WHERE lead_id IS NOT NULL
                             AND is_won) AS won,
        CASE WHEN l.first_response_at IS NOT NULL
             THEN greatest(date_diff('second', l.created_at, l.first_response_at), 0) / 60.0
        END AS response_minutes
    FROM leads AS l
    LEFT JOIN reps AS r ON r.rep = l.owner
    LEFT JOIN opportunities AS o ON o.opportunity_id = l.opportunity_id
    WHERE {owner_filter_sql("l.owner")}
      AND l.created_at >= CAST($period_start AS TIMESTAMP)
      AND l.created_at < CAST($period_end AS TIMESTAMP) + INTERVAL 1 DAY
),
counts AS (
    SELECT
        grp,
        grouping(grp) = 1                                       AS is_total,
        count(*)                                                AS leads,
        count(response_minutes)                                 AS answered,
        quantile_cont(response_minutes, 0.5)                    AS median_minutes,
        quantile_cont(response_minutes, 0.9)                    AS p90_minutes,
        count(*) FILTER (WHERE response_minutes <= $sla_5min)   AS sla_5min,
        count(*) FILTER (WHERE response_minutes <= $sla_1h)     AS sla_1h,
        count(*) FILTER (WHERE response_minutes <= $sla_1day)   AS sla_1day,
        count(*) FILTER (WHERE converted)                       AS converted,
        count(*) FILTER (WHERE converted AND won)               AS won
    FROM period_leads
    GROUP BY GROUPING SETS ((grp), ())
)
SELECT
    grp                                         AS "{by}",
    is_total,
    leads,
    answered,
    leads - answered                            AS unanswered,
    median_minutes,
    p90_minutes,
    sla_5min::DOUBLE / nullif(leads, 0)         AS sla_5min_share,
    sla_1h::DOUBLE / nullif(leads, 0)           AS sla_1h_share,
    sla_1day::DOUBLE / nullif(leads, 0)         AS sla_1day_share,
    converted,
    converted::DOUBLE / nullif(leads, 0)        AS conversion_rate,
    won,
    won::DOUBLE / nullif(leads, 0)              AS lead_to_won_rate
FROM counts
ORDER BY is_total, leads DESC, grp NULLS LAST
"""
    params = scope.params() | {f"sla_{k}": float(v) for k, v in SLA_MINUTES.items()}
    frame = con.execute(sql, params).df()
    # no response timestamps / no lead-to-deal link in the export: no figure, not 0%
    reasons = no_data_reasons(con, scope)
    missing = {
        column: reasons[kpi]
        for column, kpi in RESPONSE_BY_KPI.items()
        if kpi in reasons and reasons[kpi] in (NO_RESPONSE, NO_LEAD_LINK)
    }
    for column in missing:
        frame[column] = float("nan")
    frame.attrs["no_data"] = missing
    return frame


# --- lead -> opportunity -> won, across a leads file and a deals file --------------------

# A lead's deals: those whose `lead_id` names it (a deals or won-deals export), or the one
# the lead names (`leads.opportunity_id`, a CRM's converted-opportunity id).
LINK_GROUPINGS: dict[str, str] = {"source": "l.source", "sdr": "coalesce(d.sdr, l.owner)"}
LinkGrouping = Literal["source", "sdr"]
LINK_SQL = """
WITH linked AS (
    SELECT o.lead_id, o.opportunity_id, o.is_won, o.sdr
    FROM opportunities AS o
    WHERE o.lead_id IS NOT NULL
    UNION
    SELECT l.lead_id, o.opportunity_id, o.is_won, o.sdr
    FROM leads AS l
    JOIN opportunities AS o ON o.opportunity_id = l.opportunity_id
),
per_lead AS (
    SELECT lead_id, count(*) AS deals, bool_or(coalesce(is_won, false)) AS won,
           min(sdr) AS sdr
    FROM linked
    GROUP BY lead_id
),
lead_rows AS (
    SELECT {grp} AS grp, d.lead_id IS NOT NULL AS has_deal, coalesce(d.won, false) AS won
    FROM leads AS l
    LEFT JOIN per_lead AS d ON d.lead_id = l.lead_id
    LEFT JOIN reps AS r ON r.rep = l.owner
    WHERE {owner_filter}
      AND ($start IS NULL OR l.created_at >= CAST($start AS TIMESTAMP))
      AND ($end IS NULL OR l.created_at < CAST($end AS TIMESTAMP) + INTERVAL 1 DAY)
),
counts AS (
    SELECT grp, grouping(grp) = 1 AS is_total, count(*) AS leads,
           count(*) FILTER (WHERE has_deal) AS opportunities,
           count(*) FILTER (WHERE won) AS won
    FROM lead_rows
    GROUP BY GROUPING SETS ((grp), ())
)
SELECT grp AS "{by}", is_total, leads, opportunities, won,
       opportunities::DOUBLE / nullif(leads, 0) AS lead_to_opportunity_rate,
       won::DOUBLE / nullif(opportunities, 0)   AS opportunity_to_won_rate,
       won::DOUBLE / nullif(leads, 0)           AS lead_to_won_rate
FROM counts
ORDER BY is_total, leads DESC, grp NULLS LAST
"""


def lead_deal_conversion(
    con: duckdb.DuckDBPyConnection,
    by: LinkGrouping,
    start: date | None = None,
    end: date | None = None,
    *,
    scope: Scope | None = None,
) -> pd.DataFrame:
    """Lead -> opportunity -> won per lead source or per SDR, leads and deals linked by id.

    Why: the common export is two files, the marketing leads and the closed (or all)
    deals, joined by a lead id; conversion must work from that pair alone. A lead counts
    once however many deals it has: `opportunities` = leads with a deal, `won` = leads
    with a won deal. By SDR: the SDR on the lead's deal, else the lead's owner. Leads
    created from `start` to `end` (inclusive; None = open). Definitions: docs/metrics.md
    ("Lead to deal conversion across files"). The last row (is_total) is all leads.

    `scope`: the leads a person may see and asked for (the lead owner's team, region or
    rep, as on the rest of the Leads page), and its period when `start`/`end` are None.
    """
    if by not in LINK_GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}: use {' or '.join(LINK_GROUPINGS)}")
    sql = LINK_SQL.format(grp=LINK_GROUPINGS[by], by=by, owner_filter=owner_filter_sql("l.owner"))
    params: dict[str, Any] = {"team": None, "region": None, "rep": None}
    if scope is not None:
        params |= {k: v for k, v in scope.params().items() if k in ("team", "region", "rep")}
        start = scope.period.start if start is None else start
        end = scope.period.end if end is None else end
    return con.execute(sql, params | {"start": start, "end": end}).df()


NO_LINK_MESSAGE = (
    "no data: no deal names its lead and no lead names its deal (no lead id, MQL id or "
    "converted-lead column on the deals, no opportunity column on the leads)"
)


def has_lead_deal_link(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any deal names its lead (lead_id) or any lead names its deal: without such a
    link, conversion across the two files is "no data", never 0%."""
    row = con.execute(
        "SELECT (SELECT count(*) FROM opportunities WHERE lead_id IS NOT NULL) "
        "+ (SELECT count(*) FROM leads WHERE opportunity_id IS NOT NULL)"
    ).fetchone()
    return bool(row and row[0])


# --- BANT --------------------------------------------------------------------------------

# BANT field -> its column on `opportunities` (nullable BOOLEAN, see docs/data-model.md):
# NULL = the export the deal came from had no such column ("not recorded"), FALSE = it had
# one and the deal is not qualified on it.
BANT_COLUMNS: dict[str, str] = {
    "budget": "bant_budget",
    "authority": "bant_authority",
    "need": "bant_need",
    "timing": "bant_timing",
}
NO_BANT_MESSAGE = "no BANT fields in the data"
BY_FIELD_COLUMNS = ("field", "column", "opportunities", "recorded", "qualified", "share")
WIN_RATE_COLUMNS = ("group", "closed", "won", "win_rate")


@dataclass(frozen=True)
class BantSummary:
    """BANT figures for a scope; `available` False (with `message`) when there are none.

    `by_field`: one row per field the data carries (BY_FIELD_COLUMNS); `win_rates`: "full
    BANT" and "not full BANT" (WIN_RATE_COLUMNS), empty when a field is missing from the
    data or no closed deal has all four recorded. `missing`: fields no deal has.
    `unrecorded_closed`: deals closed in the period left out of the win rates.
    """

    available: bool
    message: str
    columns: dict[str, str] = field(default_factory=dict)  # field -> column, fields in data
    by_field: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=BY_FIELD_COLUMNS))
    win_rates: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=WIN_RATE_COLUMNS))
    missing: tuple[str, ...] = ()
    unrecorded_closed: int = 0


def bant_columns(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """BANT field -> column, for the fields at least one opportunity has recorded.

    A file opened read-only from before the BANT columns existed has none of them (the
    schema is only applied on a writable open): that reads as no BANT data, not an error.
    """
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'opportunities' AND table_schema = current_schema()"
    ).fetchall()
    present = {name for (name,) in rows}
    columns = {f: c for f, c in BANT_COLUMNS.items() if c in present}
    if not columns:
        return {}
    # column names are the fixed ones above, never user text
    counts = ", ".join(f"count({c})" for c in columns.values())
    recorded = con.execute(f"SELECT {counts} FROM opportunities").fetchone()
    return {f: c for (f, c), n in zip(columns.items(), recorded, strict=True) if n}


def _bant_sql(columns: dict[str, str]) -> str:
    """Per field: deals created in the period, recorded, qualified; then the closed deals
    of the period by full / not full BANT (only deals with all four fields recorded)."""
    per_field = ",\n".join(
        f"count(*) FILTER (WHERE created AND {c} IS NOT NULL) AS {f}_recorded,\n"
        f"count(*) FILTER (WHERE created AND {c}) AS {f}_qualified"
        for f, c in columns.items()
    )
    all_four = len(columns) == len(BANT_COLUMNS)
    recorded = " AND ".join(f"{c} IS NOT NULL" for c in columns.values())
    full = " AND ".join(columns.values())
    rates = (
        f""",
        count(*) FILTER (WHERE closed AND {recorded} AND {full}) AS full_closed,
        count(*) FILTER (WHERE closed AND {recorded} AND {full} AND is_won) AS full_won,
        count(*) FILTER (WHERE closed AND {recorded} AND NOT ({full})) AS partial_closed,
        count(*) FILTER (WHERE closed AND {recorded} AND NOT ({full}) AND is_won)
            AS partial_won,
        count(*) FILTER (WHERE closed AND NOT ({recorded})) AS unrecorded_closed"""
        if all_four
        else ""
    )
    return f"""
    WITH deals AS (
        SELECT o.created_date BETWEEN $period_start AND $period_end AS created,
               o.is_closed AND o.close_date BETWEEN $period_start AND $period_end AS closed,
               o.is_won, {", ".join(f"o.{c}" for c in columns.values())}
        FROM opportunities AS o
        LEFT JOIN reps AS r ON r.rep = o.owner
        WHERE {owner_filter_sql("o.owner")}
    )
    SELECT count(*) FILTER (WHERE created) AS created_deals,
           {per_field}{rates}
    FROM deals
    """


def bant_summary(con: duckdb.DuckDBPyConnection, scope: Scope) -> BantSummary:
    """Share of opportunities qualified on each BANT field, and win rate with vs without.

    Shares: deals created in the period with the field recorded. Win rates: deals closed in
    the period with all four fields recorded, won / closed, split by "qualified on all
    four". Definitions: docs/metrics.md (BANT). Without BANT data the summary says so
    rather than showing 0%, and names what is missing when only some fields exist.
    """
    columns = bant_columns(con)
    if not columns:
        return BantSummary(False, NO_BANT_MESSAGE, missing=tuple(BANT_COLUMNS))
    missing = tuple(f for f in BANT_COLUMNS if f not in columns)
    row = con.execute(_bant_sql(columns), scope.params()).fetchone()
    created = int(row[0])
    by_field = pd.DataFrame(
        [
            {
                "field": f,
                "column": c,
                "opportunities": created,
                "recorded": int(row[1 + 2 * i]),
                "qualified": int(row[2 + 2 * i]),
                "share": _ratio(row[2 + 2 * i], row[1 + 2 * i]),
            }
            for i, (f, c) in enumerate(columns.items())
        ],
        columns=list(BY_FIELD_COLUMNS),
    )
    rates = row[1 + 2 * len(columns) :]
    win_rates = pd.DataFrame(columns=list(WIN_RATE_COLUMNS))
    unrecorded = 0
    if rates:
        full_closed, full_won, partial_closed, partial_won, unrecorded = map(int, rates)
        if full_closed or partial_closed:
            win_rates = pd.DataFrame(
                [
                    ("full BANT", full_closed, full_won, _ratio(full_won, full_closed)),
                    (
                        "not full BANT",
                        partial_closed,
                        partial_won,
                        _ratio(partial_won, partial_closed),
                    ),
                ],
                columns=list(WIN_RATE_COLUMNS),
            )
    shown = int(by_field["recorded"].sum()) > 0 or not win_rates.empty
    if not shown:
        return BantSummary(
            False,
            f"no BANT fields recorded on the deals created or closed in {scope.period.label}",
            columns,
            missing=missing,
            unrecorded_closed=unrecorded,
        )
    notes = [f"BANT fields in the data: {', '.join(columns)}"]
    if missing:
        notes.append(
            f"missing: {', '.join(missing)}, so win rate with versus without full BANT "
            "cannot be computed"
        )
    elif win_rates.empty:
        notes.append(f"no deal closed in {scope.period.label} has all four fields recorded")
    if unrecorded:
        notes.append(
            f"{counted(unrecorded, 'deal')} closed in {scope.period.label} without all four fields "
            f"recorded {verb(unrecorded, 'is', 'are')} left out of the win rates"
        )
    return BantSummary(True, "; ".join(notes), columns, by_field, win_rates, missing, unrecorded)


def _ratio(part: Any, whole: Any) -> float | None:
    return float(part) / float(whole) if whole else None


# --- the `leads` report --------------------------------------------------------------------

LEADS_TABLES = (
    "handoff", "scores", "calibration", "source", "owner", "unknown-events", "bant",
    "linked-source", "linked-sdr",
)  # fmt: skip


# The tables that count the leads created in the period (the others are as of a day).
PERIOD_TABLES = ("source", "owner", "bant", "linked-source", "linked-sdr")


def leads_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The day the leads data describes: the newest leads upload's as-of date, else the
    newest deals export's (`scope.data_as_of`), never after today."""
    row = con.execute("SELECT max(as_of_date) FROM imports WHERE kind = 'leads'").fetchone()
    day = row[0] if row and row[0] is not None else data_as_of(con)
    return None if day is None else min(day, date.today())


def to_date_note(con: duckdb.DuckDBPyConnection, period: Period) -> str:
    """What the Leads page and `report leads` say of a period that was not over on the
    data's date; empty for a period that was.

    Why: the funnel and the scorecard said "2026-11 to date (1–18 Nov)", the leads tables
    said nothing, and a half month's conversion reads as a collapse: its newest leads have
    had days, not weeks, to be answered and to become deals (a new user's November).
    """
    cut = period.to_date(leads_as_of(con))
    if not cut.is_to_date:
        return ""
    return (
        f"{cut.label} was not over on {cut.end:%-d %b %Y}, the data's date: these figures "
        f"count the leads created in {cut.name}, and the newest of them have had less time "
        "to be answered and to become deals."
    )


def leads_report_table(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    table: str = "handoff",
    as_of: date | None = None,
) -> pd.DataFrame:
    """One of the Leads page's tables (LEADS_TABLES), as `report leads` prints it, with
    the page's note on a period not over yet in `attrs["notes"]`."""
    out = _leads_report_table(con, scope, table, as_of)
    note = to_date_note(con, scope.period) if table in PERIOD_TABLES else ""
    if note:
        out.attrs["notes"] = [*out.attrs.get("notes", []), note]
    return out


def _leads_report_table(
    con: duckdb.DuckDBPyConnection, scope: Scope, table: str, as_of: date | None
) -> pd.DataFrame:
    if table in ("handoff", "scores", "calibration"):
        # as the page: without lead events every score is a made-up 0, so no table
        no_scores = scores_no_data(con)
        if no_scores:
            return pd.DataFrame({"note": [f"No data: {no_scores}."]})
    # rows without a name read as the page's words ("(no owner)", "All leads"), never blank
    if table == "handoff":
        return named_groups(handoff_list(con, scope, as_of=as_of), NO_VALUE)
    if table == "scores":
        return named_groups(lead_scores(con, scope, as_of=as_of), NO_VALUE)
    if table == "calibration":
        return calibration(con, scope, as_of=as_of)
    if table in GROUPINGS:
        grouped = response_by(con, scope, table)  # type: ignore[arg-type]
        return named_groups(grouped, {table: NO_VALUE[table]})
    if table == "unknown-events":
        return unknown_event_types(con, scope=scope)
    if table in ("linked-source", "linked-sdr"):
        if not has_lead_deal_link(con):
            return pd.DataFrame({"note": [NO_LINK_MESSAGE]})
        by = "source" if table == "linked-source" else "sdr"
        return named_groups(lead_deal_conversion(con, by, scope=scope), {by: LINK_NO_VALUE[by]})
    if table == "bant":
        summary = bant_summary(con, scope)
        if not summary.available:
            return pd.DataFrame({"note": [summary.message]})
        # deals: those with the field recorded (shares) or closed (win rates)
        rows = [
            {"figure": f"qualified on {r['field']}", "deals": r["recorded"],
             "count": r["qualified"], "rate": r["share"]}
            for r in summary.by_field.to_dict("records")
        ]  # fmt: skip
        rows += [
            {"figure": f"win rate, {r['group']}", "deals": r["closed"],
             "count": r["won"], "rate": r["win_rate"]}
            for r in summary.win_rates.to_dict("records")
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=["figure", "deals", "count", "rate"])
    raise ValueError(f"unknown leads table {table!r}: use one of {', '.join(LEADS_TABLES)}")
