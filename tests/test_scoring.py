"""Lead-scoring rules as data: defaults, JSON round trip, validation, editor rows.

The scores these rules produce are checked against hand-computed figures in
tests/test_leads.py; here the rules themselves.
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

import duckdb
import pytest

from analytics.ingest import import_file
from analytics.scoring import (
    DEFAULT_LEAD_SCORING,
    DEFAULT_RULES,
    LEAD_SCORING_KEY,
    LeadScoring,
    ScoringRule,
    lead_scoring_from_json,
    lead_scoring_to_json,
    load_lead_scoring,
    save_lead_scoring,
    scoring_from_rows,
    unknown_event_types,
    validate_lead_scoring,
)

FIXTURES = Path(__file__).resolve().parent / "data"


def stored(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("SELECT value FROM settings WHERE key = ?", [LEAD_SCORING_KEY]).fetchone()
    return None if row is None else row[0]


def test_defaults_follow_the_domain_brief() -> None:
    points = {r.event_type: r.points for r in DEFAULT_RULES}
    assert points == {
        "pricing_page_visit": 10,
        "email_open": 1,
        "email_click": 3,
        "inaccurate_company_details": -5,
        "fits_buyer_persona": 5,
    }
    assert DEFAULT_LEAD_SCORING.threshold == 15
    assert DEFAULT_LEAD_SCORING.half_life_days is None  # decay is off by default
    assert validate_lead_scoring(DEFAULT_LEAD_SCORING) == []


def test_points_for_ignores_case_and_unknown_types_score_zero() -> None:
    assert DEFAULT_LEAD_SCORING.points_for(" Pricing_Page_Visit ") == 10
    assert DEFAULT_LEAD_SCORING.points_for("webinar_attended") == 0


def test_sql_params_are_parallel_lists() -> None:
    params = LeadScoring(
        rules=(ScoringRule(" Demo_Request ", 8, decays=False, once=True),),
        threshold=12,
        half_life_days=45,
    ).sql_params()
    assert params == {
        "rule_types": ["demo_request"],
        "rule_points": [8.0],
        "rule_decays": [False],
        "rule_once": [True],
        "threshold": 12.0,
        "half_life_days": 45.0,
    }


def test_load_without_saved_rules_gives_defaults(con: duckdb.DuckDBPyConnection) -> None:
    assert load_lead_scoring(con) == DEFAULT_LEAD_SCORING
    assert stored(con) is None  # loading never writes


def test_save_and_load_round_trip(con: duckdb.DuckDBPyConnection) -> None:
    custom = LeadScoring(
        rules=(
            ScoringRule("Pricing_Page_Visit", 12, "pricing page"),
            ScoringRule("webinar_attended", 6, decays=True),
            ScoringRule("fits_buyer_persona", 4.5, decays=False, once=True),
        ),
        threshold=20,
        half_life_days=30,
    )
    save_lead_scoring(con, custom)
    loaded = load_lead_scoring(con)
    assert loaded.threshold == 20 and loaded.half_life_days == 30
    assert [(r.event_type, r.points, r.decays, r.once) for r in loaded.rules] == [
        ("pricing_page_visit", 12, True, False),  # stored as compared: lower-case
        ("webinar_attended", 6, True, False),
        ("fits_buyer_persona", 4.5, False, True),
    ]
    document = json.loads(stored(con) or "")
    assert set(document) == {"rules", "threshold", "half_life_days"}

    save_lead_scoring(con, DEFAULT_LEAD_SCORING)  # saving again replaces the document
    assert load_lead_scoring(con) == DEFAULT_LEAD_SCORING
    assert con.execute("SELECT count(*) FROM settings WHERE key = 'lead_scoring'").fetchone() == (
        1,
    )


def test_json_round_trip_without_a_database() -> None:
    assert lead_scoring_from_json(lead_scoring_to_json(DEFAULT_LEAD_SCORING)) == (
        DEFAULT_LEAD_SCORING
    )


@pytest.mark.parametrize(
    ("scoring", "problem"),
    [
        (LeadScoring(rules=()), "there are no scoring rules"),
        (
            LeadScoring(rules=(ScoringRule("email_open", 1), ScoringRule(" EMAIL_OPEN", 2))),
            "event type 'email_open' has more than one rule",
        ),
        (LeadScoring(rules=(ScoringRule("  ", 1),)), "rule 1 has no event type"),
        (LeadScoring(rules=(ScoringRule("email_open", math.nan),)), "must be a finite number"),
        (LeadScoring(rules=(ScoringRule("email_open", 5000),)), "outside ±1000"),
        (LeadScoring(rules=(ScoringRule("bounce", -3),), threshold=15), "no rule adds points"),
        (LeadScoring(rules=DEFAULT_RULES, threshold=math.inf), "threshold must be a finite"),
        (LeadScoring(rules=DEFAULT_RULES, half_life_days=0), "half-life must be more than 0"),
        (LeadScoring(rules=DEFAULT_RULES, half_life_days=-7), "half-life must be more than 0"),
    ],
)
def test_validation_names_the_problem(scoring: LeadScoring, problem: str) -> None:
    problems = validate_lead_scoring(scoring)
    assert any(problem in p for p in problems), problems


def test_invalid_rules_are_refused_and_nothing_is_saved(con: duckdb.DuckDBPyConnection) -> None:
    save_lead_scoring(con, LeadScoring(rules=DEFAULT_RULES, threshold=18))
    before = stored(con)
    bad = LeadScoring(rules=(ScoringRule("email_open", 1), ScoringRule("email_open", 2)))
    with pytest.raises(ValueError, match="more than one rule"):
        save_lead_scoring(con, bad)
    assert stored(con) == before
    assert load_lead_scoring(con).threshold == 18


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        '{"rules": "pricing"}',
        '{"rules": [{"points": 3}]}',
        '{"rules": [{"event_type": "email_open", "points": "many"}]}',
        '{"rules": [{"event_type": "email_open", "points": 1}], "half_life_days": 0}',
    ],
)
def test_unreadable_stored_rules_fall_back_to_defaults(
    con: duckdb.DuckDBPyConnection, document: str
) -> None:
    """Only a hand edit in the database can store these; pages keep working on defaults."""
    con.execute(
        "INSERT INTO settings (key, value) VALUES (?, ?)",
        [LEAD_SCORING_KEY, json.dumps(document) if document == "not json" else document],
    )
    assert load_lead_scoring(con) == DEFAULT_LEAD_SCORING


def test_scoring_from_editor_rows() -> None:
    rows = [
        {"event_type": "pricing_page_visit", "points": 10, "description": None, "decays": True},
        {"event_type": "webinar_attended", "points": 4.0, "decays": None, "once": None},
        {"event_type": None, "points": None, "description": None},  # the editor's blank row
        {"event_type": "  ", "points": float("nan")},  # also blank
    ]
    scoring, problems = scoring_from_rows(rows, threshold=12, half_life_days=None)
    assert problems == []
    assert scoring is not None
    assert [(r.event_type, r.points, r.decays, r.once) for r in scoring.rules] == [
        ("pricing_page_visit", 10, True, False),
        ("webinar_attended", 4, True, False),  # unset flags take the defaults
    ]
    assert (scoring.threshold, scoring.half_life_days) == (12, None)


@pytest.mark.parametrize(
    ("rows", "threshold", "half_life", "problem"),
    [
        ([{"event_type": None, "points": 3}], 15, None, "rule 1 has points but no event type"),
        ([{"event_type": "email_open", "points": None}], 15, None, "email_open: points must"),
        ([{"event_type": "email_open", "points": "x"}], 15, None, "email_open: points must"),
        ([{"event_type": "email_open", "points": 1}], None, None, "threshold must be a number"),
        ([{"event_type": "email_open", "points": 1}], 15, -1, "half-life must be more than 0"),
        ([], 15, None, "there are no scoring rules"),
    ],
)
def test_scoring_from_rows_problems(
    rows: list[dict[str, object]], threshold: object, half_life: object, problem: str
) -> None:
    scoring, problems = scoring_from_rows(rows, threshold, half_life)
    assert scoring is None
    assert any(problem in p for p in problems), problems


def test_unknown_event_types_are_listed(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """tests/data/leads_events.csv: webinar_attended (A6) and form_submit (D6) have no rule."""
    result = import_file(
        con, FIXTURES / "leads_events.csv", as_of=date(2024, 7, 15), data_dir=tmp_path
    )
    assert result.ok, result.message
    table = unknown_event_types(con, DEFAULT_LEAD_SCORING)
    assert sorted(zip(table["event_type"], table["events"], table["leads"], strict=True)) == [
        ("form_submit", 1, 1),
        ("webinar_attended", 1, 1),
    ]
    with_webinar = LeadScoring(rules=(*DEFAULT_RULES, ScoringRule("webinar_attended", 7)))
    assert list(unknown_event_types(con, with_webinar)["event_type"]) == ["form_submit"]
    save_lead_scoring(con, with_webinar)
    assert list(unknown_event_types(con)["event_type"]) == ["form_submit"]  # saved rules
