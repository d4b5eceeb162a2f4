"""A backtested month that ended before the data starts has no actual (found by a new user).

An export whose first deal was created on 3 Aug 2026 showed "actual 0.0" for every month
from Dec 2025 to Jul 2026: a 0 that only meant "no data yet", beside months whose 0 is a
real month without a win. The Overview's rule (`before_data`) now holds in the backtest,
its CLI output and the Forecast page's period table.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pytest
from apptest import ROOT, assert_clean
from streamlit.testing.v1 import AppTest

from analytics import db
from analytics.forecast.backtest import Backtest, backtest, no_data_reason
from analytics.ingest import import_file
from analytics.markup import plain
from analytics.scope import Period, Scope

# Deals from 3 Aug 2026: August has a win, September none (a true zero), October one.
EXPORT = """Deal Name,Deal Owner,Deal Stage,Amount,Create Date,Close Date
"Won <b>early</b>",Ann Lee,Closed Won,"1,000",2026-08-03,2026-08-20
Open one,Ann Lee,Negotiation,2000,2026-08-10,2026-12-20
Lost one,Bo Chen,Closed Lost,0,2026-08-12,2026-09-15
Won later,Bo Chen,Closed Won,3000,2026-09-02,2026-10-05
Open two,Bo Chen,Discovery,,2026-10-01,2026-12-30
"""

STARTS = "no data yet: the data starts on 03 Aug 2026"


@pytest.fixture
def loaded(tmp_path: Path) -> Path:
    path = tmp_path / "sales.duckdb"
    source = tmp_path / "deals.csv"
    source.write_text(EXPORT, encoding="utf-8")
    con = db.connect(path)
    try:
        result = import_file(con, source, as_of=date(2026, 11, 2), data_dir=tmp_path)
        assert result.ok, result.message
    finally:
        con.close()
    return path


def _actuals(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[object, object]]:
    result = backtest(con, Scope(Period.parse("2026-11")), kind="month", periods=6)
    rows = result.table[result.table["method"] == "run_rate"]
    return {p: (a, n) for p, a, n in zip(rows["period"], rows["actual"], rows["note"], strict=True)}


def test_months_before_the_data_have_no_actual(loaded: Path) -> None:
    con = db.connect(loaded)
    try:
        got = _actuals(con)
        result = backtest(con, Scope(Period.parse("2026-11")), kind="month", periods=6)
    finally:
        con.close()
    for month in ("2026-05", "2026-06", "2026-07"):
        actual, note = got[month]
        assert actual is None or actual != actual, (month, actual)  # None, never 0.0
        assert note == STARTS
    assert got["2026-08"][0] == pytest.approx(1000.0)
    assert got["2026-09"][0] == 0.0  # a month inside the data without a win: a real zero
    assert got["2026-10"][0] == pytest.approx(3000.0)
    assert "3 of the last 6 ended before the data starts on 03 Aug 2026" in result.no_data
    rows = result.table[result.table["period"] == "2026-06"]
    assert rows["error"].isna().all() and rows["accuracy"].isna().all()


@pytest.mark.parametrize(
    ("wanted", "skipped", "window", "before", "expected"),
    [
        (12, 0, 2, 8, "Only 2 past months can be backtested (8 of the last 12 ended before the "
                      "data starts on 03 Aug 2026, so they have no actual; in 2 months some "
                      "method has no forecast); 3 are needed to compare methods by their error."),
        (12, 0, 2, 10, "Only 2 past months can be backtested (10 of the last 12 ended before "
                       "the data starts on 03 Aug 2026, so they have no actual); 3 are needed "
                       "to compare methods by their error."),
        (12, 0, 0, 1, "No month among the last 12 has a forecast to score: each was rebuilt "
                      "for its start from the current export, and no method had a basis then "
                      "(no deal won before it to learn a run rate or a sales cycle from, no "
                      "stage known then, no forecast call), e.g. because the data starts after "
                      "them."),
        (12, 0, 11, 1, None),
    ],
)  # fmt: skip
def test_the_reason_counts_the_months_before_the_data(
    wanted: int, skipped: int, window: int, before: int, expected: str | None
) -> None:
    got = no_data_reason("month", wanted, skipped, window, before, date(2026, 8, 3))
    assert got == expected


def test_forecast_page_shows_no_actual_before_the_data(
    loaded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALES_DB", str(loaded))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.query_params.update({"kind": "Month", "period": "2026-11"})
    at = at.switch_page("pages/forecast.py").run()
    assert_clean(at)
    tables = [t.value for t in at.dataframe if "Actual" in t.value.columns]
    table = next(t for t in tables if "Period" in t.columns and "Note" in t.columns)
    before = table[table["Period"] == "2026-07"]
    assert len(before) and set(before["Actual"]) == {"—"}
    assert set(before["Note"]) == {STARTS}
    september = table[table["Period"] == "2026-09"]
    assert len(september) and all(a.startswith("0") for a in september["Actual"])


def test_forecast_chart_leaves_off_the_months_before_the_data(
    loaded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The chart (12 months) once kept Nov 2025 to Jul 2026 as a blank stretch of axis
    before the first bar: no actual, no forecast. They are left off it, and a caption says
    which and why."""
    monkeypatch.setenv("SALES_DB", str(loaded))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.query_params.update({"kind": "Month", "period": "2026-11"})
    at = at.switch_page("pages/forecast.py").run()
    assert_clean(at)
    chart = next(c for c in at.get("plotly_chart") if "forecast:history" in c.proto.id)
    figure = json.loads(chart.proto.spec)
    periods = {x for trace in figure["data"] for x in trace["x"]}
    assert periods and min(periods) == "2026-08", periods
    assert {"2026-09", "2026-10"} <= periods
    captions = [plain(c.value) for c in at.caption]
    assert any(
        c.startswith("Not drawn: 2025-11 … 2026-07 (9 periods), which ended before the data starts "
                     "on 03 Aug 2026") for c in captions
    ), captions  # fmt: skip
    with_data = backtest_of(loaded)
    assert with_data.before_data == ("2026-05", "2026-06", "2026-07")
    assert with_data.data_start == date(2026, 8, 3)


def backtest_of(path: Path) -> Backtest:
    con = db.connect(path)
    try:
        return backtest(con, Scope(Period.parse("2026-11")), kind="month", periods=6)
    finally:
        con.close()
