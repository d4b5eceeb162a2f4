"""Forecast's "Open pipeline closing in <period>" when open deals have no close date or no
amount (issue 13, "missing is not zero"): analytics says "no data" and why; the page
shows it. Sparse exports written by hand below, as of 2025-03-16 (March is running):

    case       open deals (amount, close date)               pipeline  the note says
    undated    E1 2000 -, E2 - -, E3 - -                      no data   3 have no close date
    mixed      M1 2000 03-20, M2 - 03-25, E1 2000 -, E2 - -   2000      2 more have no close
                                                                        date; 1 of the 2 has
                                                                        no amount
    unpriced   M2 - 03-25                                     no data   none of the 1 has one
    elsewhere  A1 4000 04-10 (closes in April)                0         (whole: a true 0)
    dated      M1 2000 03-20                                  2000      (whole)

Every export also has W1, won 1000 on 2025-03-05, so March is never empty. Quota 5000 for
March: to go 4000; coverage = pipeline / 4000 or, where the pipeline has no data, none.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics import db
from analytics.forecast.current import period_forecast, what_if
from analytics.forecast.methods import STAGE_WEIGHTED
from analytics.ingest import import_file
from analytics.scope import Period, Scope

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2025, 3, 16)
HEADER = ["opportunity_id", "opportunity_name", "owner", "stage", "amount", "currency",
          "created_date", "close_date"]  # fmt: skip
WON = ["W1", "Won *one*", "Ann", "Closed Won", "1000", "USD", "2025-01-02", "2025-03-05"]
DEALS = {
    "M1": ["M1", "Dated", "Ann", "Demo", "2000", "USD", "2025-02-01", "2025-03-20"],
    "M2": ["M2", "Dated, no amount", "Ann", "Demo", "", "USD", "2025-02-01", "2025-03-25"],
    "E1": ["E1", "Undated", "Ann", "Demo", "2000", "USD", "2025-02-01", ""],
    "E2": ["E2", "Undated, no amount", "Ann", "Demo", "", "USD", "2025-02-01", ""],
    "E3": ["E3", "Undated, no amount", "Ann", "Demo", "", "USD", "2025-02-01", ""],
    "A1": ["A1", "April", "Ann", "Demo", "4000", "USD", "2025-02-01", "2025-04-10"],
}
CASES = [
    # (case, open deals, pipeline, coverage, words in the note)
    ("undated", ["E1", "E2", "E3"], None, None,
     ["No data", "3 open deals have no close date", "cannot be placed in a period"]),
    ("mixed", ["M1", "M2", "E1", "E2"], 2000.0, 2000 / 4000,
     ["2 more open deals have no close date", "1 of the 2 open deals", "priced part"]),
    ("unpriced", ["M2"], None, None, ["No data", "none of the 1 open deal"]),
    ("elsewhere", ["A1"], 0.0, 0.0, None),
    ("dated", ["M1"], 2000.0, 2000 / 4000, None),
]  # fmt: skip


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def load(con: duckdb.DuckDBPyConnection, folder: Path, ids: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    opps = write(folder / "deals.csv", [HEADER, WON, *[DEALS[i] for i in ids]])
    quotas = write(
        folder / "quotas.csv",
        [["owner", "period_start", "period_end", "amount"], ["Ann", "2025-03-01", "2025-03-31",
                                                             "5000"]],
    )  # fmt: skip
    for path, kind in ((opps, "opportunities"), (quotas, "quotas")):
        result = import_file(con, path, kind=kind, as_of=AS_OF, data_dir=folder / "kept")
        assert result.ok, result.message


@pytest.mark.parametrize(("case", "ids", "pipeline", "coverage", "words"), CASES)
def test_open_pipeline_says_what_it_cannot_place(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    case: str,
    ids: list[str],
    pipeline: float | None,
    coverage: float | None,
    words: list[str] | None,
) -> None:
    load(con, tmp_path / case, ids)
    result = period_forecast(con, Scope(Period.parse("2025-03")))
    assert result.status == "live"
    assert result.already_won == pytest.approx(1000)
    assert result.to_go == pytest.approx(4000)
    if pipeline is None:
        assert result.open_pipeline is None
        assert result.coverage is None and result.coverage_note == result.open_pipeline_note
    else:
        assert result.open_pipeline == pytest.approx(pipeline)
        assert result.coverage == pytest.approx(coverage)
    note = result.open_pipeline_note
    if words is None:
        assert note is None
    else:
        assert note is not None
        for word in words:
            assert word in note, (word, note)


def test_the_page_shows_no_data_and_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The running month with only undated open deals: the card says "no data" (never
    "0 USD"), its help and the caption say why, and coverage is "no data" too."""
    path = tmp_path / "app.duckdb"
    con = db.connect(path)
    try:
        load(con, tmp_path / "files", ["E1", "E2", "E3"])
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at = at.switch_page("pages/forecast.py").run()
    assert not at.exception, [e.value for e in at.exception]
    cards = {m.label: m for m in at.metric}
    card = cards["Open pipeline closing in 2025-03"]
    assert card.value == "no data"
    assert "3 open deals have no close date" in card.help
    cover = cards["Coverage by pipeline closing in 2025-03"]
    assert cover.value == "no data" and "no close date" in cover.help
    assert any("cannot be placed in a period" in c.value for c in at.caption)


def test_a_deal_without_an_amount_moves_nothing_and_has_no_amount(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """The table "Deals that move the number most": M2 (blank amount, closes 25 Mar) has no amount,
    weighted, if won, if lost or swing (NaN: the dash), never 0, and ranks after M1
    (2000 x 0.4 at Demo: weighted 800, swing max(1200, 800) = 1200). The what-if still
    adds only the priced deal: 1000 won + 800 = 1800."""
    load(con, tmp_path / "unpriced", ["M1", "M2"])
    result = period_forecast(con, Scope(Period.parse("2025-03")))
    top = result.top_deals().set_index("opportunity_id")
    assert list(top.index) == ["M1", "M2"]
    assert top.loc["M1", "amount"] == 2000 and top.loc["M1", "weighted"] == pytest.approx(800)
    assert top.loc["M1", "swing"] == pytest.approx(1200)
    for column in ("amount", "weighted", "upside", "downside", "swing"):
        assert pd.isna(top.loc["M2", column]), (column, top.loc["M2", column])
    assert top.loc["M2", "probability"] == pytest.approx(0.4)  # its stage's, still known
    assert what_if(result).scenario[STAGE_WEIGHTED] == pytest.approx(1800)


def test_the_page_shows_a_dash_for_a_deal_without_an_amount(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The top deals table on the page gets no 0 for M2: its amount and weighted are
    missing, and the table's placeholder for a missing value is the dash."""
    path = tmp_path / "app.duckdb"
    con = db.connect(path)
    try:
        load(con, tmp_path / "files", ["M1", "M2"])
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at = at.switch_page("pages/forecast.py").run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(d for d in at.dataframe if "swing" in d.value.columns)
    top = table.value.set_index("opportunity_id")
    assert top.loc["M1", "amount"] == 2000
    for column in ("amount", "weighted", "upside", "downside", "swing"):
        assert pd.isna(top.loc["M2", column]), (column, top.loc["M2", column])
    assert table.proto.placeholder == "—"
