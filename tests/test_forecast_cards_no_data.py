"""Forecast's Quota, Gap to quota, Actual vs quota and reps' call cards when the figure
does not exist (issue 13, "missing is not zero"): analytics says why, the card reads
"no data" and carries that reason in its help, never a bare dash.

A sparse export written by hand, as of 2025-03-16 (March running, February over):

    W1  won 1000, closed 2025-03-05        O1  Demo, 4000, closing 2025-03-20
    no forecast category, no forecast calls

    case            quotas file                     March (live)            February (over)
    no quotas       none                            quota: no quotas in     quota: no quotas
                                                    the data; gap: same     in the data
    other periods   Ann, April only                 quota: none covers      quota: none covers
                                                    this scope and period   this scope ...
    March quota     Ann, March 5000                 quota 5000, gap shown   (not asked)

The reps' call cards: no calls and no category anywhere, so "no data" in every case.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from analytics import db
from analytics.forecast.current import period_forecast
from analytics.ingest import import_file
from analytics.markup import plain
from analytics.scope import Period, Scope

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2025, 3, 16)
DEALS = [
    ["opportunity_id", "opportunity_name", "owner", "stage", "amount", "currency",
     "created_date", "close_date"],
    ["W1", "Won <b>one</b>", "Ann", "Closed Won", "1000", "USD", "2025-01-02", "2025-03-05"],
    ["O1", "Open *one*", "Ann", "Demo", "4000", "USD", "2025-02-01", "2025-03-20"],
]  # fmt: skip
QUOTAS = {
    "no quotas": None,
    "other periods": ["Ann", "2025-04-01", "2025-04-30", "6000"],
    "March quota": ["Ann", "2025-03-01", "2025-03-31", "5000"],
}
NO_QUOTAS = "no quotas in the data"
NOT_COVERED = "no quota covers this scope and period"
NO_CALLS = "no forecast calls and no forecast category"
BARE = ("—", "-", "", "None", "nan")  # a card value that says nothing


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


# The export of 2025-01-31: W1 still open. It is the basis of February's forecast, so
# February (over) has its cards rather than "no export at its start".
EARLY = [DEALS[0], ["W1", "Won <b>one</b>", "Ann", "Demo", "1000", "USD", "2025-01-02",
                    "2025-03-05"]]  # fmt: skip


def load(con: duckdb.DuckDBPyConnection, folder: Path, case: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    early = write(folder / "early.csv", EARLY)
    result = import_file(
        con, early, kind="opportunities", as_of=date(2025, 1, 31), data_dir=folder / "kept"
    )
    assert result.ok, result.message
    files = [(write(folder / "deals.csv", DEALS), "opportunities")]
    if QUOTAS[case] is not None:
        header = ["owner", "period_start", "period_end", "amount"]
        files.append((write(folder / "quotas.csv", [header, QUOTAS[case]]), "quotas"))
    for path, kind in files:
        result = import_file(con, path, kind=kind, as_of=AS_OF, data_dir=folder / "kept")
        assert result.ok, result.message


CASES = [
    # (case, period, quota, the quota note says, gap to quota, the gap note says)
    ("no quotas", "2025-03", None, NO_QUOTAS, None, NO_QUOTAS),
    ("other periods", "2025-03", None, NOT_COVERED, None, NOT_COVERED),
    # 1000 won + 4000 x 40% (Demo) = 2600 forecast; gap = 5000 - 2600
    ("March quota", "2025-03", 5000.0, None, 2400.0, None),
]


@pytest.mark.parametrize(("case", "period", "quota", "quota_says", "gap", "gap_says"), CASES)
def test_live_period_says_why_quota_and_gap_are_missing(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    case: str,
    period: str,
    quota: float | None,
    quota_says: str | None,
    gap: float | None,
    gap_says: str | None,
) -> None:
    load(con, tmp_path / case, case)
    result = period_forecast(con, Scope(Period.parse(period)))
    assert result.status == "live"
    assert result.quota == (None if quota is None else pytest.approx(quota))
    assert result.gap_to_quota == (None if gap is None else pytest.approx(gap))
    for note, says in ((result.quota_note, quota_says), (result.gap_note, gap_says)):
        if says is None:
            assert note is None
        else:
            assert note is not None and note.startswith("No data") and says in note, note
    # no calls and no category on any deal: the range is missing, and says so
    assert result.range is None or result.range_note is None
    assert result.range_note is not None and NO_CALLS in result.range_note


@pytest.mark.parametrize(
    ("case", "says"), [("no quotas", NO_QUOTAS), ("other periods", NOT_COVERED)]
)
def test_finished_period_says_why_actual_vs_quota_is_missing(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, case: str, says: str
) -> None:
    load(con, tmp_path / case, case)
    result = period_forecast(con, Scope(Period.parse("2025-02")))
    assert result.finished
    assert result.actual_vs_quota is None
    assert result.actual_vs_quota_note is not None and says in result.actual_vs_quota_note
    assert result.gap_note is None  # a finished period is judged by its actual, not a gap


def open_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, period: str) -> AppTest:
    path = tmp_path / "app.duckdb"
    con = db.connect(path)
    try:
        load(con, tmp_path / "files", case)
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.query_params["period"] = period
    at = at.switch_page("pages/forecast.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def test_page_live_cards_read_no_data_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(tmp_path, monkeypatch, "no quotas", "2025-03")
    cards = {m.label: m for m in at.metric}
    for label in ("Quota", "Gap to quota"):
        assert cards[label].value == "no data", (label, cards[label].value)
        assert NO_QUOTAS in plain(cards[label].help), (label, cards[label].help)
    for label in ("Reps' call: commit", "Reps' call: best case", "Reps' call: all categories"):
        assert cards[label].value == "no data", (label, cards[label].value)
        assert NO_CALLS in plain(cards[label].help), (label, cards[label].help)
    # one won deal: too few for a typical sales cycle; February, the one period of the
    # track record, won nothing: no error to score. Both say so.
    cycle = cards["Sales-cycle length (what-if)"]
    assert cycle.value == "no data" and "needs at least 5" in plain(cycle.help), cycle.help
    wape = cards["Error (WAPE)"]
    assert wape.value == "no data" and "nothing was won in 2025-02" in plain(wape.help), wape.help
    assert not [m.label for m in at.metric if m.value in BARE]


def test_page_finished_cards_read_no_data_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page(tmp_path, monkeypatch, "other periods", "2025-02")
    cards = {m.label: m for m in at.metric}
    assert at.sidebar.selectbox(key="period").value == "2025-02"
    for label in ("Quota", "Actual vs quota"):
        assert cards[label].value == "no data", (label, cards[label].value)
        assert NOT_COVERED in plain(cards[label].help), (label, cards[label].help)
    assert not [m.label for m in at.metric if m.value in BARE]
