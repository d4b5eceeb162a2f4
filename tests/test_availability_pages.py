"""Overview on a sparse database: one deals export, no activities, leads or quotas; open
deals without amounts and lost deals with amount 0. Every figure the export cannot give
reads "no data" with its reason, never 0 or 100% (issue 13, item 2)."""

from __future__ import annotations

from pathlib import Path

import pytest
from apptest import assert_clean, metric, open_page
from test_availability import DEALS, DEALS_ALL_OPEN_UNPRICED, HEAD, LEADS_NO_RESPONSE, load

from analytics import db
from analytics.markup import plain

SPARSE = [
    *(r.replace(",4000,", ",0,") for r in DEALS_ALL_OPEN_UNPRICED),
    "D-9,Nine,Pine,Bob Stone,Closed Lost,0,USD,2024-04-01,2024-05-28",
]


@pytest.fixture
def sparse_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "sparse.duckdb"
    con = db.connect(path)
    try:
        load(con, tmp_path, {"deals.csv": HEAD + "\n" + "\n".join(SPARSE) + "\n"})
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def help_of(at: object, label: str) -> str:
    return next(m.help for m in at.metric if m.label == label) or ""


@pytest.mark.parametrize(
    ("label", "reason"),
    [
        ("Win rate by value", "lost deals carry no amount in this export"),
        ("Open pipeline", "2 open deals have no amount"),
        ("Weighted pipeline", "2 open deals have no amount"),
        ("Touches / won deal", "no activity data"),
        ("Selling time", "no activity data"),
        ("Prospect meetings", "no activity data"),
        ("Lead → opportunity", "no lead data"),
        ("Answered < 1 h", "no lead data"),
    ],
)
def test_sparse_overview_says_no_data_with_reason(sparse_db: Path, label: str, reason: str) -> None:
    at = open_page(query={"kind": "Month", "period": "2024-05"})
    assert_clean(at)
    assert metric(at, label) == "no data"
    assert reason in help_of(at, label)
    assert f"No data: {reason}" in [plain(c.value) for c in at.caption]


def test_sparse_overview_keeps_real_figures_and_starts_trend_at_data(sparse_db: Path) -> None:
    at = open_page(query={"kind": "Month", "period": "2024-05"})
    assert_clean(at)
    assert metric(at, "Bookings") == "16,000"  # D-1 10,000 + D-3 6,000
    assert metric(at, "Win rate") == "50.0%"  # 2 won of 4 closed (D-2, D-9 lost)
    assert metric(at, "Open deals") == "2"
    captions = [plain(c.value) for c in at.caption]
    # the first deal was created on 1 March 2024: Dec-Feb are not drawn as 0 bars
    assert any(c.startswith("The data starts on 01 Mar 2024") for c in captions), captions
    assert any("Bookings, last 3 months" in plain(s.value) for s in at.subheader)


def test_sparse_reps_leaderboard_names_what_has_no_data(sparse_db: Path) -> None:
    at = open_page("pages/reps.py", {"kind": "Month", "period": "2024-05"})
    assert_clean(at)
    captions = [plain(c.value) for c in at.caption]
    note = next((c for c in captions if c.startswith("No data: ")), None)
    assert note is not None, captions
    assert "win rate value (lost deals carry no amount in this export)" in note
    assert "touches per deal" in note and "no activity data" in note
    board = next(d.value for d in at.dataframe if "quadrant" in d.value.columns)
    assert board["win_rate_value"].isna().all()  # drawn as —, never 100%
    assert board["touches_per_deal"].isna().all()


def test_leads_page_says_no_response_timestamps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "noresponse.duckdb"
    con = db.connect(path)
    try:
        load(con, tmp_path, {"deals.csv": HEAD + "\n" + "\n".join(DEALS) + "\n",
                             "leads.csv": LEADS_NO_RESPONSE})  # fmt: skip
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    at = open_page("pages/leads.py", {"kind": "Month", "period": "2024-05"})
    assert_clean(at)
    answered = [m for m in at.metric if m.label == "Answered ≤ 1 h"]
    assert answered and all(m.value == "no data" for m in answered)
    assert all("no response timestamps" in (m.help or "") for m in answered)
    assert metric(at, "Lead → opportunity") == "50.0%"  # L1 of L1, L2 converted
