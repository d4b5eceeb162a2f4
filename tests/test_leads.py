"""Lead analytics against hand-computed figures (tests/data/leads_*.csv).

The fixture, imported through the real importer: leads A1-A11 (mostly June 2024) for the
hand-off list, calibration and response tables; D1-D7 (created 1 May 2024, answered, owner
Dan Ghost) for scores with and without decay. Scores are as of 30 June 2024 unless a
test says otherwise. Every expected number is worked out in the comments.
"""

from __future__ import annotations

import argparse
import io
import math
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics import db, leads
from analytics.cli.report import REPORTS, run
from analytics.ingest import import_file
from analytics.metrics.efficiency import efficiency_table
from analytics.scope import Period, Scope
from analytics.scoring import DEFAULT_LEAD_SCORING, DEFAULT_RULES, LeadScoring, ScoringRule

FIXTURES = Path(__file__).resolve().parent / "data"
JUNE = Scope(Period.parse("2024-06"))
AS_OF = date(2024, 6, 30)
FILES = ("leads_reps.csv", "leads_opps.csv", "leads_leads.csv", "leads_events.csv")


def load_fixture(con: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    for name in FILES:
        result = import_file(con, FIXTURES / name, as_of=date(2024, 7, 15), data_dir=data_dir)
        assert result.ok, result.message


@pytest.fixture(scope="module")
def leads_db(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    """One imported database for the module; tests pass rules explicitly and never write."""
    folder = tmp_path_factory.mktemp("leads")
    con = db.connect(folder / "leads.duckdb")
    load_fixture(con, folder)
    yield con
    con.close()


def with_half_life(days: float | None, threshold: float = 15) -> LeadScoring:
    return LeadScoring(rules=DEFAULT_RULES, threshold=threshold, half_life_days=days)


def scores_by_lead(
    con: duckdb.DuckDBPyConnection, scoring: LeadScoring, as_of: date = AS_OF
) -> dict[str, float]:
    table = leads.lead_scores(con, JUNE, as_of=as_of, scoring=scoring)
    return dict(zip(table["lead_id"], table["score"], strict=True))


def test_fixture_event_types_are_lower_cased(leads_db: duckdb.DuckDBPyConnection) -> None:
    """D7's 'Email_Click' is scored as email_click: the importer lower-cases event types."""
    assert scores_by_lead(leads_db, DEFAULT_LEAD_SCORING)["D7"] == 3


# --- scores --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lead_id", "half_life", "expected"),
    [
        # pricing page visit on 31 May: 30 days before 30 June
        ("D1", None, 10),
        ("D1", 30, 5),  # 10 x 0.5^(30/30): the brief's example
        ("D1", 15, 2.5),  # 10 x 0.5^(30/15)
        ("D1", 60, 10 * 0.5**0.5),
        # + an email click on the scoring day itself (0 days old counts in full)
        ("D2", None, 13),
        ("D2", 30, 8),  # 5 + 3
        # persona fit and a pricing visit 120 days old: persona fit does not decay
        ("D3", None, 15),
        ("D3", 30, 5.625),  # 5 + 10 x 0.5^4
        # three email opens 0, 30 and 60 days old
        ("D4", None, 3),
        ("D4", 30, 1.75),  # 1 + 0.5 + 0.25
        # inaccurate company details logged twice: counted once, never decays
        ("D5", None, -5),
        ("D5", 30, -5),
        # a pricing visit after the scoring day and an event type without a rule
        ("D6", None, 0),
        ("D6", 30, 0),
        # A-leads, no decay: A1 10+3+3; A2 10+5+1+3+10; A3 1+1-5; A5 persona twice = once
        ("A1", None, 16),
        ("A2", None, 29),
        ("A3", None, -3),
        ("A5", None, 18),
        ("A6", None, 1),  # webinar_attended has no rule: 0, plus an email open
        ("A7", None, 0),  # no events at all
    ],
)
def test_hand_computed_scores(
    leads_db: duckdb.DuckDBPyConnection, lead_id: str, half_life: float | None, expected: float
) -> None:
    assert scores_by_lead(leads_db, with_half_life(half_life))[lead_id] == pytest.approx(expected)


def test_scores_only_count_leads_and_events_up_to_the_day(
    leads_db: duckdb.DuckDBPyConnection,
) -> None:
    june = scores_by_lead(leads_db, DEFAULT_LEAD_SCORING)
    assert "A11" not in june  # created 5 July
    july = scores_by_lead(leads_db, DEFAULT_LEAD_SCORING, as_of=date(2024, 7, 10))
    assert july["A11"] == 20
    assert july["D6"] == 10  # its 1 July pricing visit now counts
    early = scores_by_lead(leads_db, DEFAULT_LEAD_SCORING, as_of=date(2024, 6, 5))
    assert early["A2"] == 15  # pricing + persona on 5 June; the 6 June open not yet


def test_score_columns_count_scored_and_unscored_events(
    leads_db: duckdb.DuckDBPyConnection,
) -> None:
    table = leads.lead_scores(leads_db, JUNE, as_of=AS_OF, scoring=DEFAULT_LEAD_SCORING)
    rows = table.set_index("lead_id")
    assert (rows.loc["A6", "scored_events"], rows.loc["A6", "unscored_events"]) == (1, 1)
    assert (rows.loc["D6", "scored_events"], rows.loc["D6", "unscored_events"]) == (0, 1)
    assert (rows.loc["A5", "scored_events"], rows.loc["A5", "unscored_events"]) == (4, 0)
    assert bool(rows.loc["A10", "converted"])  # an opportunity without a conversion date
    assert not bool(rows.loc["A9", "answered"])  # answered on 2 July, after the day
    assert list(table.columns) == list(leads.SCORE_COLUMNS)
    assert list(table["score"]) == sorted(table["score"], reverse=True)


def test_custom_rules_score_new_event_types(leads_db: duckdb.DuckDBPyConnection) -> None:
    rules = LeadScoring(rules=(*DEFAULT_RULES, ScoringRule("webinar_attended", 7)), threshold=15)
    assert scores_by_lead(leads_db, rules)["A6"] == 8  # 7 + 1


def test_threshold_is_reached_exactly_after_decay(leads_db: duckdb.DuckDBPyConnection) -> None:
    """D1 with a 30-day half-life scores exactly 5: qualified at threshold 5, not at 5.01."""
    at_five = leads.lead_scores(leads_db, JUNE, as_of=AS_OF, scoring=with_half_life(30, 5))
    assert bool(at_five.set_index("lead_id").loc["D1", "qualified"])
    above = leads.lead_scores(leads_db, JUNE, as_of=AS_OF, scoring=with_half_life(30, 5.01))
    assert not bool(above.set_index("lead_id").loc["D1", "qualified"])


# --- hand-off list ------------------------------------------------------------------------


def handoff_ids(con: duckdb.DuckDBPyConnection, **kwargs: object) -> list[str]:
    scope = kwargs.pop("scope", JUNE)
    kwargs.setdefault("as_of", AS_OF)
    kwargs.setdefault("scoring", DEFAULT_LEAD_SCORING)
    return list(leads.handoff_list(con, scope, **kwargs)["lead_id"])  # type: ignore[arg-type]


def test_handoff_list_oldest_first(leads_db: duckdb.DuckDBPyConnection) -> None:
    """Qualified (>= 15), unanswered and unconverted by 30 June: A8 (16, 20 May), A1 (16),
    A4 (20, no owner), A9 (20, answered only on 2 July). A5 (18) was answered, A2
    converted, the D-leads were answered."""
    table = leads.handoff_list(leads_db, JUNE, as_of=AS_OF, scoring=DEFAULT_LEAD_SCORING)
    assert list(table["lead_id"]) == ["A8", "A1", "A4", "A9"]
    assert list(table["days_waiting"]) == [41, 29, 20, 5]
    assert list(table["score"]) == [16, 16, 20, 20]
    assert table["owner"].isna().tolist() == [False, False, True, False]


def test_handoff_threshold_and_period(leads_db: duckdb.DuckDBPyConnection) -> None:
    assert handoff_ids(leads_db, scoring=with_half_life(None, 20)) == ["A4", "A9"]
    assert handoff_ids(leads_db, scoring=with_half_life(None, 16)) == ["A8", "A1", "A4", "A9"]
    assert handoff_ids(leads_db, created_in_period=True) == ["A1", "A4", "A9"]
    # With a 7-day half-life A8's May events fade below 15: 10 x 0.5^(40/7) + 3 x ... < 15.
    assert "A8" not in handoff_ids(leads_db, scoring=with_half_life(7))


def test_handoff_as_of_later_day(leads_db: duckdb.DuckDBPyConnection) -> None:
    """On 10 July A9 has been answered (2 July) and A11 (created 5 July) scores 20."""
    july = Scope(Period.parse("2024-07"))
    assert handoff_ids(leads_db, scope=july, as_of=date(2024, 7, 10)) == ["A8", "A1", "A4", "A11"]
    assert handoff_ids(leads_db, scope=july, as_of=date(2024, 7, 5)) == ["A8", "A1", "A4"]


def test_handoff_follows_team_filter(leads_db: duckdb.DuckDBPyConnection) -> None:
    """Team East = Ann and Bob: A8 and A1. The ownerless A4 has no team."""
    assert handoff_ids(leads_db, scope=Scope(JUNE.period, team="East")) == ["A8", "A1"]
    assert handoff_ids(leads_db, scope=Scope(JUNE.period, rep="Cara Diaz")) == ["A9"]


def test_default_as_of_is_period_end_or_today() -> None:
    june = Period.parse("2024-06")
    assert leads.default_as_of(june, today=date(2025, 1, 1)) == date(2024, 6, 30)
    assert leads.default_as_of(june, today=date(2024, 6, 12)) == date(2024, 6, 12)


# --- calibration ---------------------------------------------------------------------------


def test_calibration_bands(leads_db: duckdb.DuckDBPyConnection) -> None:
    """Leads created in June (A1-A7, A9, A10), scored on their conversion day:
    < 0: A3 (-3); 0-9: A6 (1, converted), A7 (0), A10 (1, converted);
    10-19: A1 (16), A2 (16 on 20 June, converted; 29 with its later events), A5 (18);
    20+: A4 (20), A9 (20)."""
    table = leads.calibration(leads_db, JUNE, as_of=AS_OF, scoring=DEFAULT_LEAD_SCORING)
    assert list(table["band"]) == ["< 0", "0 to < 10", "10 to < 20", "≥ 20"]
    assert list(table["leads"]) == [1, 3, 3, 2]
    assert list(table["converted"]) == [0, 2, 1, 0]
    assert table["conversion_rate"].tolist() == pytest.approx([0, 2 / 3, 1 / 3, 0])
    assert table["avg_score"].tolist() == pytest.approx([-3, 2 / 3, 50 / 3, 20])


def test_calibration_empty_band_has_no_rate(leads_db: duckdb.DuckDBPyConnection) -> None:
    table = leads.calibration(
        leads_db, JUNE, as_of=AS_OF, scoring=DEFAULT_LEAD_SCORING, edges=(0, 10, 20, 100)
    )
    last = table.iloc[-1]
    assert (last["band"], int(last["leads"])) == ("≥ 100", 0)
    assert last["conversion_rate"] is None


def test_calibration_around_the_threshold(leads_db: duckdb.DuckDBPyConnection) -> None:
    table = leads.calibration(
        leads_db, JUNE, as_of=AS_OF, scoring=DEFAULT_LEAD_SCORING, edges=(15,)
    )
    assert list(table["band"]) == ["< 15", "≥ 15"]
    assert list(table["leads"]) == [4, 5]
    assert list(table["converted"]) == [2, 1]


@pytest.mark.parametrize(
    ("scores", "bands", "edges"),
    [
        ([1, 2, 3, 4, 5, 6, 7, 8], 4, (3.0, 5.0, 7.0)),
        ([0, 0, 0, 0, 0, 0, 5, 9], 4, (5.0,)),  # ties at 0 merge the lower bands
        ([3], 4, ()),
        ([], 4, ()),
        ([1, 2], 1, ()),
    ],
)
def test_quantile_edges(scores: list[float], bands: int, edges: tuple[float, ...]) -> None:
    assert leads.quantile_edges(scores, bands) == edges


def test_band_labels() -> None:
    assert leads.band_label(None, 0) == "< 0"
    assert leads.band_label(0, 10) == "0 to < 10"
    assert leads.band_label(20, None) == "≥ 20"
    assert leads.band_label(2.5, 7.25) == "2.5 to < 7.25"


# --- response time and conversion --------------------------------------------------------


def rows_by(table: pd.DataFrame, by: str) -> dict[object, dict[str, object]]:
    out: dict[object, dict[str, object]] = {}
    for row in table.to_dict("records"):
        key = "ALL" if row["is_total"] else (None if pd.isna(row[by]) else row[by])
        out[key] = row
    return out


def close(value: object, expected: float | None) -> bool:
    if expected is None:
        return value is None or (isinstance(value, float) and math.isnan(value))
    return value == pytest.approx(expected)


def test_response_by_source(leads_db: duckdb.DuckDBPyConnection) -> None:
    """June leads. Response minutes: A2 4, A5 60, A6 1440, A7 2880, A9 10080, A10 0 (logged
    5 minutes before the lead: counted as 0); A1, A3, A4 unanswered."""
    rows = rows_by(leads.response_by(leads_db, JUNE, "source"), "source")
    assert set(rows) == {"web", "event", "referral", "ALL"}
    web = rows["web"]  # A1, A2, A4, A7, A9: answered 4, 2880, 10080
    assert (web["leads"], web["answered"], web["unanswered"]) == (5, 3, 2)
    assert close(web["median_minutes"], 2880)
    assert close(web["p90_minutes"], 2880 + 0.8 * (10080 - 2880))  # position 1.8
    assert close(web["sla_5min_share"], 1 / 5)
    assert close(web["sla_1h_share"], 1 / 5)
    assert close(web["sla_1day_share"], 1 / 5)
    assert (web["converted"], web["won"]) == (1, 1)  # A2 -> O-1, won
    assert close(web["conversion_rate"], 1 / 5)
    referral = rows["referral"]  # A5 60 (exactly 1 h counts), A6 1440 (exactly 1 day)
    assert close(referral["median_minutes"], 750)
    assert close(referral["p90_minutes"], 60 + 0.9 * 1380)
    assert close(referral["sla_5min_share"], 0)
    assert close(referral["sla_1h_share"], 1 / 2)
    assert close(referral["sla_1day_share"], 1)
    assert (referral["converted"], referral["won"]) == (1, 0)  # O-2 was lost
    event = rows["event"]  # A3 unanswered, A10 0 minutes and converted (no date)
    assert close(event["median_minutes"], 0)
    assert close(event["sla_5min_share"], 1 / 2)
    assert close(event["conversion_rate"], 1 / 2)
    total = rows["ALL"]
    assert (total["leads"], total["answered"], total["converted"], total["won"]) == (9, 6, 3, 1)
    assert close(total["median_minutes"], (60 + 1440) / 2)
    assert close(total["p90_minutes"], 2880 + 0.5 * (10080 - 2880))  # position 4.5
    assert close(total["sla_5min_share"], 2 / 9)
    assert close(total["sla_1h_share"], 3 / 9)
    assert close(total["sla_1day_share"], 4 / 9)


def test_response_by_owner(leads_db: duckdb.DuckDBPyConnection) -> None:
    rows = rows_by(leads.response_by(leads_db, JUNE, "owner"), "owner")
    assert set(rows) == {"Ann Lee", "Bob Stone", "Cara Diaz", None, "ALL"}
    ann = rows["Ann Lee"]  # A1, A3, A7 (2880), A10 (0)
    assert (ann["leads"], ann["answered"]) == (4, 2)
    assert close(ann["median_minutes"], 1440)
    assert close(ann["p90_minutes"], 0.9 * 2880)
    assert close(ann["sla_1day_share"], 1 / 4)
    bob = rows["Bob Stone"]  # A2 (4), A6 (1440), both converted, O-1 won
    assert close(bob["median_minutes"], 722)
    assert close(bob["conversion_rate"], 1)
    assert close(bob["lead_to_won_rate"], 1 / 2)
    nobody = rows[None]  # A4: no owner, never answered
    assert (nobody["leads"], nobody["answered"]) == (1, 0)
    assert close(nobody["median_minutes"], None)
    assert close(nobody["sla_5min_share"], 0)
    east = rows_by(leads.response_by(leads_db, Scope(JUNE.period, team="East"), "owner"), "owner")
    assert set(east) == {"Ann Lee", "Bob Stone", "ALL"}
    assert east["ALL"]["leads"] == 6


def test_response_by_owner_agrees_with_kpi_table(leads_db: duckdb.DuckDBPyConnection) -> None:
    """The Leads page and the Overview/Reps KPI columns are the same figures."""
    mine = rows_by(leads.response_by(leads_db, JUNE, "owner"), "owner")
    kpis = efficiency_table(leads_db, JUNE, "rep").set_index("rep")
    pairs = {
        "leads": "leads",
        "median_minutes": "lead_response_median_minutes",
        "p90_minutes": "lead_response_p90_minutes",
        "sla_5min_share": "lead_sla_5min_share",
        "sla_1h_share": "lead_sla_1h_share",
        "sla_1day_share": "lead_sla_1day_share",
        "conversion_rate": "lead_to_opp_rate",
    }
    for rep in ("Ann Lee", "Bob Stone", "Cara Diaz"):
        for ours, theirs in pairs.items():
            expected = kpis.loc[rep, theirs]
            assert close(mine[rep][ours], None if pd.isna(expected) else float(expected))


def test_response_by_rejects_unknown_grouping(leads_db: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="unknown grouping"):
        leads.response_by(leads_db, JUNE, "team")  # type: ignore[arg-type]


def test_no_leads_in_period_gives_an_empty_total(leads_db: duckdb.DuckDBPyConnection) -> None:
    table = leads.response_by(leads_db, Scope(Period.parse("2023-01")), "source")
    assert len(table) == 1 and bool(table["is_total"].iloc[0])
    assert int(table["leads"].iloc[0]) == 0
    assert close(table["conversion_rate"].iloc[0], None)


# --- BANT ------------------------------------------------------------------------------------
#
# tests/data/bant_opps.csv (a sheet with Budget / Authority / Need / Timing) and
# bant_opps_plain.csv (an export without them), flags as imported (tests/ingest/
# test_ingest_bant.py): B-1 YYYY won, B-2 YYYY won, B-3 YNYY lost, B-4 NYYY lost,
# B-5 NNNN won, B-6 YYYY lost, B-7 YNYN open, all created in June; B-8 YYYY won, created
# in May, closed 14 June; B-9 NNNN open, created in July; P-1 won and P-2 open, created in
# June, nothing recorded. Reps: Ann Lee, Bob Stone (East), Cara Diaz (West).
#
# June, everyone: 9 deals created, 7 with BANT recorded (B-1..B-7). Qualified: budget
# B-1,2,3,6,7 = 5; authority B-1,2,4,6 = 4; need all but B-5 = 6; timing B-1,2,3,4,6 = 5.
# Closed in June with all four recorded: full B-1 won, B-2 won, B-6 lost, B-8 won -> 3/4;
# not full B-3 lost, B-4 lost, B-5 won -> 1/3; P-1 (closed, nothing recorded) left out.
# June, team West (Cara): created B-5, B-6 -> budget 1/2, authority 1/2, need 1/2, timing
# 1/2; closed: full B-6 lost -> 0/1, not full B-5 won -> 1/1.

BANT_FILES = ("leads_reps.csv", "bant_opps.csv", "bant_opps_plain.csv")


@pytest.fixture(scope="module")
def bant_db(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    folder = tmp_path_factory.mktemp("bant")
    con = db.connect(folder / "bant.duckdb")
    for name in BANT_FILES:
        result = import_file(con, FIXTURES / name, as_of=date(2024, 7, 15), data_dir=folder)
        assert result.ok, result.message
    yield con
    con.close()


def test_bant_absent_from_the_data(leads_db: duckdb.DuckDBPyConnection) -> None:
    """The leads fixture's deals came from an export without BANT columns: no figures at
    all (never a 0% share), however many deals there are."""
    summary = leads.bant_summary(leads_db, JUNE)
    assert not summary.available
    assert summary.message == "no BANT fields in the data"
    assert summary.by_field.empty and summary.win_rates.empty
    assert summary.missing == ("budget", "authority", "need", "timing")


@pytest.mark.parametrize(
    ("scope", "shares", "rates"),
    [
        (
            JUNE,
            {"budget": (9, 7, 5), "authority": (9, 7, 4), "need": (9, 7, 6), "timing": (9, 7, 5)},
            {"full BANT": (4, 3, 3 / 4), "not full BANT": (3, 1, 1 / 3)},
        ),
        (
            Scope(Period.parse("2024-06"), team="West"),
            {"budget": (2, 2, 1), "authority": (2, 2, 1), "need": (2, 2, 1), "timing": (2, 2, 1)},
            {"full BANT": (1, 0, 0.0), "not full BANT": (1, 1, 1.0)},
        ),
        (
            Scope(Period.parse("2024-06"), rep="Bob Stone"),
            # created: B-3, B-4 and P-2 (not recorded); closed: B-3, B-4 (not full), B-8 (full)
            {"budget": (3, 2, 1), "authority": (3, 2, 1), "need": (3, 2, 2), "timing": (3, 2, 2)},
            {"full BANT": (1, 1, 1.0), "not full BANT": (2, 0, 0.0)},
        ),
    ],
)
def test_bant_shares_and_win_rates(
    bant_db: duckdb.DuckDBPyConnection,
    scope: Scope,
    shares: dict[str, tuple[int, int, int]],
    rates: dict[str, tuple[int, int, float]],
) -> None:
    summary = leads.bant_summary(bant_db, scope)
    assert summary.available
    by_field = summary.by_field.set_index("field")
    got = {
        f: (int(r["opportunities"]), int(r["recorded"]), int(r["qualified"]))
        for f, r in by_field.iterrows()
    }
    assert got == shares
    for f, (_, recorded, qualified) in shares.items():
        assert by_field.at[f, "share"] == pytest.approx(qualified / recorded)
    win = summary.win_rates.set_index("group")
    got_rates = {
        g: (int(r["closed"]), int(r["won"]), float(r["win_rate"])) for g, r in win.iterrows()
    }
    assert got_rates.keys() == rates.keys()
    for group, (closed, won, rate) in rates.items():
        assert got_rates[group][:2] == (closed, won)
        assert got_rates[group][2] == pytest.approx(rate)


def test_bant_names_the_deals_left_out_of_the_win_rates(bant_db: duckdb.DuckDBPyConnection) -> None:
    summary = leads.bant_summary(bant_db, JUNE)
    assert summary.unrecorded_closed == 1  # P-1
    assert "1 deal closed in 2024-06 without all four fields" in summary.message


def test_bant_period_without_recorded_deals_says_so(bant_db: duckdb.DuckDBPyConnection) -> None:
    """March: no deal created or closed. The data has BANT fields, this period none: a
    message, no table of zeros."""
    summary = leads.bant_summary(bant_db, Scope(Period.parse("2024-03")))
    assert not summary.available
    assert summary.message == "no BANT fields recorded on the deals created or closed in 2024-03"
    assert summary.by_field.empty and summary.win_rates.empty


def test_bant_with_some_fields_only(tmp_path: Path) -> None:
    """A sheet with Budget and Need only: their shares, and no with/without comparison.
    Created in June: S-1 (yes, yes), S-2 (no, yes), S-3 (blank, no) -> budget 1/3, need 2/3."""
    sheet = tmp_path / "two_fields.csv"
    sheet.write_text(
        "Deal ID,Stage,Created,Close Date,Budget,Need\n"
        "S-1,Closed Won,2024-06-01,2024-06-10,yes,yes\n"
        "S-2,Closed Lost,2024-06-02,2024-06-11,no,yes\n"
        "S-3,Demo,2024-06-03,2024-07-30,,no\n",
        encoding="utf-8",
    )
    con = db.connect(tmp_path / "bant.duckdb")
    try:
        assert import_file(con, sheet, as_of=date(2024, 7, 15), data_dir=tmp_path).ok
        summary = leads.bant_summary(con, JUNE)
    finally:
        con.close()
    assert summary.available and summary.win_rates.empty
    assert summary.missing == ("authority", "timing")
    assert "missing: authority, timing" in summary.message
    shares = summary.by_field.set_index("field")
    assert shares["qualified"].to_dict() == {"budget": 1, "need": 2}
    assert shares["share"].to_dict() == pytest.approx({"budget": 1 / 3, "need": 2 / 3})


def test_bant_in_a_file_from_before_the_columns(tmp_path: Path) -> None:
    """A file without the BANT columns (opened read-only, the schema is not applied):
    no BANT data, not an error."""
    path = tmp_path / "old.duckdb"
    con = db.connect(path)
    con.execute(
        "ALTER TABLE opportunities DROP COLUMN bant_budget;"
        "ALTER TABLE opportunities DROP COLUMN bant_authority;"
        "ALTER TABLE opportunities DROP COLUMN bant_need;"
        "ALTER TABLE opportunities DROP COLUMN bant_timing;"
    )
    con.close()
    old = db.connect(path, read_only=True)
    try:
        summary = leads.bant_summary(old, JUNE)
    finally:
        old.close()
    assert not summary.available and summary.message == "no BANT fields in the data"


def test_bant_report_table(bant_db: duckdb.DuckDBPyConnection) -> None:
    table = leads.leads_report_table(bant_db, JUNE, "bant")
    rows = {r["figure"]: (r["deals"], r["count"]) for r in table.to_dict("records")}
    assert rows == {
        "qualified on budget": (7, 5),
        "qualified on authority": (7, 4),
        "qualified on need": (7, 6),
        "qualified on timing": (7, 5),
        "win rate, full BANT": (4, 3),
        "win rate, not full BANT": (3, 1),
    }


# --- the `leads` report ----------------------------------------------------------------------


def run_report(db_file: Path, *extra: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    from analytics.cli.report import register

    register(sub)
    args = parser.parse_args(["report", "leads", "--db", str(db_file), *extra])
    out = io.StringIO()
    return run(args, out), out.getvalue()


@pytest.fixture
def report_db(tmp_path: Path) -> Path:
    path = tmp_path / "report.duckdb"
    con = db.connect(path)
    try:
        load_fixture(con, tmp_path)
    finally:
        con.close()
    return path


def test_leads_report_is_registered() -> None:
    assert "leads" in REPORTS


def test_leads_report_handoff_csv(report_db: Path) -> None:
    code, text = run_report(report_db, "--period", "2024-06")
    assert code == 0
    table = pd.read_csv(io.StringIO(text))
    assert list(table["lead_id"]) == ["A8", "A1", "A4", "A9"]


@pytest.mark.parametrize(
    ("table", "first_column", "rows"),
    [
        ("calibration", "band", 4),
        ("source", "source", 4),
        ("owner", "owner", 5),
        ("scores", "lead_id", 17),  # every lead created by 30 June
        ("unknown-events", "event_type", 2),
        ("bant", "note", 1),
    ],
)
def test_leads_report_tables(report_db: Path, table: str, first_column: str, rows: int) -> None:
    code, text = run_report(report_db, "--period", "2024-06", "--table", table, "--format", "json")
    assert code == 0
    records = pd.read_json(io.StringIO(text))
    assert records.columns[0] == first_column
    assert len(records) == rows


def test_leads_report_as_of(report_db: Path) -> None:
    code, text = run_report(report_db, "--period", "2024-07", "--as-of", "2024-07-05")
    assert code == 0
    assert list(pd.read_csv(io.StringIO(text))["lead_id"]) == ["A8", "A1", "A4"]
