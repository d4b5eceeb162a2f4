"""Periods before the data starts have nothing to compare with: "no data yet", never a
count change against a 0 that only means "not in the export" (issue 13.2; found by a new
user: "Won deals +7 vs 2025-11" for an export starting in August 2026).

The export, written here: deals created and closed in March 2025 only. By hand, March
2025: 2 won, 1 lost. February 2025 and March 2024 end before 1 March 2025, the first day
of the data, so neither has a figure: no delta on any card, and the last-year line says
why.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from apptest import assert_clean, open_page

from analytics import db
from analytics.ingest import import_file
from analytics.markup import plain
from analytics.metrics.availability import before_data
from analytics.scope import Period

DEALS = (
    "opportunity_id,owner,stage,amount,created_date,close_date\n"
    "W1,Ana,Closed Won,100,2025-03-01,2025-03-03\n"
    "W2,Tom,Closed Won,200,2025-03-02,2025-03-20\n"
    "L1,Tom,Closed Lost,50,2025-03-05,2025-03-21\n"
)


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("2025-02", "no data yet: the data starts on 01 Mar 2025"),
        ("2024-03", "no data yet: the data starts on 01 Mar 2025"),
        ("2025-03", None),
        ("2025-Q1", None),  # ends after the first day: it has data
    ],
)
def test_before_data(label: str, expected: str | None) -> None:
    assert before_data(Period.parse(label), date(2025, 3, 1)) == expected
    assert before_data(Period.parse(label), None) is None


@pytest.fixture
def march_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "march.duckdb"
    con = db.connect(path)
    try:
        (tmp_path / "deals.csv").write_text(DEALS, encoding="utf-8")
        result = import_file(
            con, tmp_path / "deals.csv", as_of=date(2025, 4, 2), data_dir=tmp_path / "store"
        )
        assert result.ok, result.message
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def test_cards_compare_nothing_before_the_data(march_db: Path) -> None:
    at = open_page(query={"kind": "Month", "period": "2025-03"})
    assert_clean(at)
    cards = {m.label: m for m in at.metric}
    assert cards["Won deals"].value == "2"
    for label in ("Won deals", "Lost deals", "Bookings"):
        assert not cards[label].delta, (label, cards[label].delta)  # no "+2 vs 2025-02"
    captions = [plain(c.value) for c in at.caption]
    assert "2024-03: no data yet: the data starts on 01 Mar 2025" in captions
    assert not any(c.endswith("vs 2024-03") for c in captions), captions
