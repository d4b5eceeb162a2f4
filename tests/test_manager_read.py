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
