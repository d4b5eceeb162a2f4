"""Forecast vs actual after one upload: the backtest rebuilt from the export (no snapshots).

One export as of 2024-06-30, written below; May 2024 is forecast as of 30 April:

    deal  stage        amount  created     close       on 30 April
    W1-6  Closed Won     1000  2024-01-0i  2024-02-0i  won (cycle 31 days each)
    O1    Demo           5000  2024-03-15  2024-09-30  open
    L1    Closed Won     3000  2024-03-20  2024-05-10  open (won in May: May's actual)

Run-rate (growth fixed at 0): 90-day revenue 6000 / 3 = 2000 a month x 1 month = 2000.
Sales-cycle: typical cycle 31 days, win rate by value 1.0 (6 won, none lost); a rebuilt
open deal has no expected close date, so every deal open on 30 April is the pipeline: O1
is 77 days old on 31 May, L1 72 (both past 31: chance 1) -> 5000 + 3000 = 8000.
Stage-weighted: left out without stage history (no stage known on 30 April); with it
(O1 Demo 40%, L1 Trial 60%): 2000 + 1800 = 3800.
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
from analytics.forecast.backtest import NO_STAGES, backtest, no_data_reason
from analytics.forecast.current import period_forecast
from analytics.forecast.methods import RUN_RATE, SALES_CYCLE, STAGE_WEIGHTED
from analytics.ingest import import_file
from analytics.scope import Period, Scope
from tests.apptest import ROOT

AS_OF = date(2024, 6, 30)
HEADER = ["opportunity_id", "opportunity_name", "account", "owner", "stage", "amount",
          "currency", "created_date", "close_date"]  # fmt: skip
WON = [
    [f"W{i}", f"Won {i}", f"Acc {i}", "Ann", "Closed Won", "1000", "USD",
     f"2024-01-0{i}", f"2024-02-0{i}"]
    for i in range(1, 7)
]  # fmt: skip
ROWS = [
    *WON,
    ["O1", "Open one", "Oak", "Ann", "Demo", "5000", "USD", "2024-03-15", "2024-09-30"],
    ["L1", "Late win", "Elm", "Bob", "Closed Won", "3000", "USD", "2024-03-20", "2024-05-10"],
]
HISTORY = [
    ["O1", "Demo", "2024-03-15 09:00"],
    ["L1", "Trial", "2024-03-20 09:00"],
    ["L1", "Closed Won", "2024-05-10 09:00"],
]
# What happened after 30 April, differently: O1 moved on and was lost in June, L1 won on
# another day, a new deal was created and won in May.
LATER_ROWS = [
    *WON,
    ["O1", "Open one", "Oak", "Ann", "Closed Lost", "5000", "USD", "2024-03-15", "2024-06-15"],
    ["L1", "Late win", "Elm", "Bob", "Closed Won", "3000", "USD", "2024-03-20", "2024-05-25"],
    ["N1", "New one", "Fir", "Bob", "Closed Won", "7000", "USD", "2024-05-05", "2024-05-20"],
]
LATER_HISTORY = [
    ["O1", "Demo", "2024-03-15 09:00"],
    ["O1", "Final Decision", "2024-05-02 09:00"],
    ["O1", "Closed Lost", "2024-06-15 09:00"],
    ["L1", "Trial", "2024-03-20 09:00"],
    ["L1", "Closed Won", "2024-05-25 09:00"],
    ["N1", "Closed Won", "2024-05-20 09:00"],
]


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def upload(
    con: duckdb.DuckDBPyConnection,
    folder: Path,
    rows: list[list[str]],
    history: list[list[str]] | None,
) -> duckdb.DuckDBPyConnection:
    folder.mkdir(parents=True, exist_ok=True)
    files = [(write(folder / "opps.csv", [HEADER, *rows]), "opportunities")]
    if history is not None:
        header = ["opportunity_id", "stage", "entered_at"]
        files.append((write(folder / "hist.csv", [header, *history]), "stage_history"))
    for path, kind in files:
        result = import_file(con, path, kind=kind, as_of=AS_OF, data_dir=folder / "kept")
        assert result.ok, result.message
    return con


def forecast_page_after_one_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, period: str = "2024-05"
) -> AppTest:
    """The Forecast page on month `period`, the app's database holding this module's one
    export (no stage history): what a first upload shows."""
    path = tmp_path / "app.duckdb"
    con = db.connect(path)
    try:
        upload(con, tmp_path / "files", ROWS, None)
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.query_params.update({"kind": "Month", "period": period})
    return at.switch_page("pages/forecast.py").run()


def may(con: duckdb.DuckDBPyConnection) -> dict:
    result = backtest(con, Scope(Period.parse("2024-06")), kind="month", periods=2, growth=0.0)
    assert result.skipped == []
    rows = result.table[result.table["period"] == "2024-05"].set_index("method")
    return {"rows": rows, "result": result}


def test_one_upload_backtests_run_rate_and_sales_cycle(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    upload(con, tmp_path, ROWS, None)
    got = may(con)
    rows = got["rows"]
    assert set(rows["source"]) == {"rebuilt"}
    assert set(rows["snapshot_date"]) == {date(2024, 4, 30)}  # the day before May began
    assert rows.loc[RUN_RATE, "forecast"] == pytest.approx(2000)
    assert rows.loc[SALES_CYCLE, "forecast"] == pytest.approx(8000)
    assert rows.loc[RUN_RATE, "actual"] == pytest.approx(3000)
    assert rows["forecast"].isna()[STAGE_WEIGHTED]  # left out, saying why:
    assert rows.loc[STAGE_WEIGHTED, "note"] == NO_STAGES
    assert got["result"].no_data is not None  # 2 months: not yet a track record to rank
    assert "can be backtested" in got["result"].no_data


def test_stage_history_brings_stage_weighted_back(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    upload(con, tmp_path, ROWS, HISTORY)
    rows = may(con)["rows"]
    assert set(rows["source"]) == {"stage history"}
    assert rows.loc[STAGE_WEIGHTED, "forecast"] == pytest.approx(3800)
    assert rows.loc[SALES_CYCLE, "forecast"] == pytest.approx(8000)
    assert rows["note"].isna().all()


@pytest.mark.parametrize("with_history", [False, True])
def test_later_rows_do_not_move_the_forecast(tmp_path: Path, with_history: bool) -> None:
    """Two exports that agree up to 30 April: every May forecast is the same; only the
    actual differs (3000 vs 3000 + 7000)."""
    found = []
    for name, rows, history in (("a", ROWS, HISTORY), ("b", LATER_ROWS, LATER_HISTORY)):
        con = db.connect(tmp_path / f"{name}.duckdb")
        try:
            upload(con, tmp_path / name, rows, history if with_history else None)
            found.append(may(con)["rows"])
        finally:
            con.close()
    first, second = found
    methods = [RUN_RATE, SALES_CYCLE, *([STAGE_WEIGHTED] if with_history else [])]
    for method in methods:
        assert first.loc[method, "forecast"] == pytest.approx(second.loc[method, "forecast"])
    assert first.loc[RUN_RATE, "actual"] == pytest.approx(3000)
    assert second.loc[RUN_RATE, "actual"] == pytest.approx(10000)


def test_snapshots_keep_the_snapshot_track(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """With a snapshot near a period's start, the backtest stays on snapshots (one kind of
    source per window): the rebuild is only for a database with none."""
    upload(con, tmp_path, ROWS, None)
    may_first = [*ROWS[:-1], ["L1", "Late win", "Elm", "Bob", "Trial", "3000", "USD",
                              "2024-03-20", "2024-05-31"]]  # fmt: skip
    result = import_file(
        con, write(tmp_path / "s.csv", [HEADER, *may_first]), kind="opportunities",
        as_of=date(2024, 5, 1), data_dir=tmp_path / "kept2",
    )  # fmt: skip
    assert result.ok, result.message
    table = backtest(con, Scope(Period.parse("2024-06")), kind="month", periods=2).table
    sources = dict(zip(table["period"], table["source"], strict=True))
    assert sources == {"2024-05": "snapshot", "2024-06": "snapshot"}


def test_backtest_json_names_the_source(tmp_path: Path) -> None:
    """`backtest --format json` after one upload: every row says where its "then" came from."""
    import argparse
    import io
    import json

    from analytics.cli.backtest import run_backtest

    path = tmp_path / "one.duckdb"
    con = db.connect(path)
    try:
        upload(con, tmp_path / "files", ROWS, None)
    finally:
        con.close()
    out = io.StringIO()
    args = argparse.Namespace(db=path, kind="month", periods=2, team=None, region=None,
                              rep=None, summary=False, format="json")  # fmt: skip
    assert run_backtest(args, out) == 0
    rows = json.loads(out.getvalue())["rows"]
    assert {r["source"] for r in rows} == {"rebuilt"}
    weighted = [r for r in rows if r["method"] == STAGE_WEIGHTED]
    assert weighted and all(r["forecast"] is None and r["note"] == NO_STAGES for r in weighted)
    cycle = next(r for r in rows if r["method"] == SALES_CYCLE and r["period"] == "2024-05")
    assert cycle["forecast"] == pytest.approx(8000)


@pytest.mark.parametrize("with_history", [False, True])
def test_a_finished_period_shows_the_forecast_the_backtest_rebuilt(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, with_history: bool
) -> None:
    """The Forecast page's headline for May after one upload: the same start-of-May
    forecast the backtest rebuilt, named as rebuilt (a new-user test found "No forecast:
    no export of that time" beside the convergence chart's rebuilt forecast)."""
    upload(con, tmp_path, ROWS, HISTORY if with_history else None)
    rows = may(con)["rows"]
    result = period_forecast(con, Scope(Period.parse("2024-05")), growth=0.0)
    assert result.status == "closed"
    assert result.source == ("stage history" if with_history else "rebuilt")
    assert result.data_date == date(2024, 4, 30)  # the day before May began
    for method in (RUN_RATE, SALES_CYCLE, STAGE_WEIGHTED):
        expected = rows.loc[method, "forecast"]
        got = result.values[method]
        assert (got is None) == bool(pd.isna(expected)), method
        if got is not None:
            assert got == pytest.approx(expected), method
    assert result.actual == pytest.approx(3000)
    if with_history:
        assert result.values[STAGE_WEIGHTED] == pytest.approx(3800)
    else:  # no stage known then, and said so, as in the backtest
        assert result.values[STAGE_WEIGHTED] is None
        assert result.method_note(STAGE_WEIGHTED) == NO_STAGES


@pytest.mark.parametrize(
    ("wanted", "skipped", "window", "says"),
    [
        (12, 0, 0, "No month among the last 12 has a forecast to score: each was rebuilt"),
        (12, 12, 0, "No month among the last 12 can be backtested: a forecast is rebuilt from "
                    "the pipeline export"),
        (12, 5, 0, "No month among the last 12 has a forecast to score (5 of the last 12 have "
                   "no export near their start; in 7 months some method has no forecast"),
        (12, 0, 2, "Only 2 past months can be backtested"),
        (12, 0, 3, None),
    ],
)  # fmt: skip
def test_why_the_track_record_is_short(
    wanted: int, skipped: int, window: int, says: str | None
) -> None:
    reason = no_data_reason("month", wanted, skipped, window)
    assert (reason is None) if says is None else says in (reason or ""), reason


def test_the_page_shows_may_rebuilt_and_says_why_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the Forecast page, May after one upload: the actual against the forecasts rebuilt
    for its start, named so (no "no forecast: no export of that time"); the track record's
    reason is said once, not in both the recommendation box and the history section."""
    from analytics.markup import plain
    from tests.apptest import assert_clean

    at = forecast_page_after_one_upload(tmp_path, monkeypatch)
    assert_clean(at)
    texts = [plain(c.value) for c in [*at.caption, *at.info, *at.markdown]]
    assert not any("No forecast for 2024-05" in t for t in texts), texts
    assert any("rebuilt for its start from the current export, as it stood on 30 Apr 2024" in t
               for t in texts), texts  # fmt: skip
    assert {m.label: m.value for m in at.metric}["Actual won 2024-05"] == "3,000 USD"
    reasons = [t for t in texts if "has a forecast to score" in t or "can be backtested" in t]
    assert len(reasons) <= 1, reasons
