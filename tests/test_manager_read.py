"""What the screenshot pass as a sales manager found on Overview (issue 13, "Still open").

- "Unpriced deals 0" stood beside "27 open deals have no amount": two words for two
  things. The card counts deals whose currency has no exchange rate, and is now named so.
- Coverage showed a bare dash in a month whose quota was already reached; the card now
  says why (analytics decides: `coverage_reason`).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from apptest import open_page
from readable import build_sparse_db

from analytics.markup import plain
from analytics.metrics.availability import QUOTA_REACHED, coverage_reason


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"pipeline_coverage": math.nan, "quota": 100.0, "bookings": 130.0}, QUOTA_REACHED),
        ({"pipeline_coverage": math.nan, "quota": 100.0, "bookings": 100.0}, QUOTA_REACHED),
        ({"pipeline_coverage": None, "quota": 100.0, "bookings": 99.0}, None),  # other cause
        ({"pipeline_coverage": 2.5, "quota": 100.0, "bookings": 130.0}, None),  # has a value
        ({"pipeline_coverage": math.nan, "quota": math.nan, "bookings": 5.0}, None),  # no quota
        ({"pipeline_coverage": math.nan, "quota": 0.0, "bookings": 5.0}, None),
        ({}, None),
    ],
)
def test_coverage_reason(row: dict[str, object], reason: str | None) -> None:
    assert coverage_reason(row) == reason


def test_overview_names_the_rate_card_apart_from_unpriced_open_deals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_path = build_sparse_db(tmp_path / "sparse.duckdb", tmp_path / "work")
    monkeypatch.setenv("SALES_DB", str(db_path))
    at = open_page(None)
    assert not at.exception
    labels = [m.label for m in at.metric]
    assert "Deals without a rate" in labels
    assert "Unpriced deals" not in labels
    help_text = next(m.help for m in at.metric if m.label == "Deals without a rate")
    assert "exchange rate" in help_text and "without an amount are not counted" in help_text
    captions = " ".join(plain(c.value) for c in at.caption)
    assert "open deals have no amount" in captions  # the other figure keeps its own words


def test_drilldown_deal_tables_read_as_a_manager_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The open and closed deals of a rep: named columns, the stage probability as a per
    cent (a bare "20" was ambiguous), amounts with thousands separators."""
    import json

    db_path = build_sparse_db(tmp_path / "sparse.duckdb", tmp_path / "work")
    monkeypatch.setenv("SALES_DB", str(db_path))
    at = open_page("pages/reps.py", {"focus": "Anna *Snelling*"})
    assert not at.exception
    frames = {
        "open_deals": "stage_probability",  # a column only that table has
        "closed_deals": "cycle_days",
    }
    configs = {
        name: json.loads(d.proto.columns)
        for d in at.dataframe
        for name, column in frames.items()
        if column in d.value.columns
    }
    assert set(configs) == {"open_deals", "closed_deals"}
    opened = configs["open_deals"]
    assert opened["stage_probability"]["label"] == "Stage probability"
    assert opened["stage_probability"]["type_config"]["format"] == "%d%%"
    assert opened["amount"]["type_config"]["format"] == "localized"
    assert configs["closed_deals"]["cycle_days"]["label"] == "Cycle (days)"


def test_funnel_chart_labels_use_the_table_s_words_and_decimals() -> None:
    """The chart said "74% of initial" beside a table reading "73.9%" under "% of first"."""
    import pandas as pd

    from analytics.funnel import Funnel
    from analytics.scope import Period, Scope
    from pages._funnel_draw import funnel_chart

    table = pd.DataFrame({"stage": ["Discovery", "Qualified", "Won"], "reached": [188, 139, 4]})
    f = Funnel(Scope(Period.parse("2026-10")), table, 188, 188, 0)
    trace = funnel_chart(f, "reached").data[0]
    assert trace.texttemplate == (
        "%{x:,}<br>%{percentInitial:.1%} of first<br>%{percentPrevious:.1%} of previous"
    )
    assert "initial" not in trace.texttemplate


@pytest.mark.parametrize(
    ("day", "text"),
    [
        ("1900-01-01", "from the start"),  # the built-in default plan's sentinel
        ("2025-02-01", "2025-02-01"),
    ],
)
def test_plan_version_start_reads_as_a_person_reads_it(day: str, text: str) -> None:
    from datetime import date

    from analytics.commissions.plans import effective_from_text

    assert effective_from_text(date.fromisoformat(day)) == text


def test_settings_plan_table_never_shows_1900(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_path = build_sparse_db(tmp_path / "sparse.duckdb", tmp_path / "work")
    monkeypatch.setenv("SALES_DB", str(db_path))
    at = open_page("pages/settings.py")
    assert not at.exception
    versions = next(d.value for d in at.dataframe if "in force from" in d.value.columns)
    assert versions["in force from"].tolist()[0] == "from the start"
    assert "1900" not in versions.to_string()
