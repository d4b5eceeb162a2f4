"""Convergence (issue 14 item 4): each method's forecast of a past period, as it could have
been made on each weekly day before the period's end, against the actual.

Hand-made fixture: the one export of tests/test_backtest_rebuilt.py (as of 2024-06-30;
no snapshot near May, so every point is rebuilt), May 2024, growth fixed at 0:

    deal  stage       amount  created     close
    W1-6  Closed Won    1000  2024-01-0i  2024-02-0i   (cycle 31 days each)
    O1    Demo          5000  2024-03-15  2024-09-30   open
    L1    Closed Won    3000  2024-03-20  2024-05-10   (May's actual: 3000)

    weeks  as of   won by then  90-day won   months left  run-rate               sales-cycle
    5      04-26   0            W1-6 6000    31/31        2000 x 1     = 2000     8000
    4      05-03   0            W4-6 3000    28/31        1000 x 28/31 = 903.23   8000
    3      05-10   L1 3000      L1 3000      21/31        3000 + 677.42          8000
    2      05-17   3000         L1 3000      14/31        3000 + 451.61          8000
    1      05-24   3000         L1 3000       7/31        3000 + 225.81          8000
    0      05-31   3000         L1 3000       0/31        3000                   8000

Sales-cycle: typical cycle 31 days (median of W1-6, and of W1-6 + L1's 51), win rate 1; a
rebuilt day knows no expected close date, so every deal open then is May's pipeline, each
past the typical cycle by 31 May: before 10 May O1 5000 + L1 3000 = 8000, after it
3000 won + O1 5000 = 8000.

Stage-weighted: no stage is known on a rebuilt day, so it is left out, saying why. With
the stage history (O1 Demo 40% from 03-15; L1 Trial 60% from 03-20, won 05-10): before 10
May 5000 x 0.4 + 3000 x 0.6 = 3800; from 10 May 3000 + 2000 = 5000.
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_backtest_rebuilt import HISTORY, ROWS, forecast_page_after_one_upload, upload

from analytics import db
from analytics.forecast.backtest import (
    LEFT_OUT_WHY,
    backtest,
    convergence,
    convergence_by_week,
    convergence_days,
    convergence_sources,
)
from analytics.forecast.methods import (
    BEST_CASE,
    COMMIT,
    METHODS,
    RUN_RATE,
    SALES_CYCLE,
    STAGE_WEIGHTED,
)
from analytics.markup import plain
from analytics.scope import Period, Scope

ROOT = Path(__file__).resolve().parent.parent
MAY = "2024-05"
DAYS = [date(2024, 4, 26), date(2024, 5, 3), date(2024, 5, 10), date(2024, 5, 17),
        date(2024, 5, 24), date(2024, 5, 31)]  # fmt: skip

# (weeks before end, as of, run-rate, sales-cycle, stage-weighted with history)
BY_HAND = [
    (5, DAYS[0], 2000.0, 8000.0, 3800.0),
    (4, DAYS[1], 1000 * 28 / 31, 8000.0, 3800.0),
    (3, DAYS[2], 3000 + 1000 * 21 / 31, 8000.0, 5000.0),
    (2, DAYS[3], 3000 + 1000 * 14 / 31, 8000.0, 5000.0),
    (1, DAYS[4], 3000 + 1000 * 7 / 31, 8000.0, 5000.0),
    (0, DAYS[5], 3000.0, 8000.0, 5000.0),
]


def may(con: duckdb.DuckDBPyConnection) -> dict[str, dict[int, float | None]]:
    """method -> {weeks before end: forecast} for May 2024 (growth fixed at 0)."""
    weekly = convergence(con, Scope(Period.parse("2024-06")), kind="month", periods=2,
                         growth=0.0)  # fmt: skip
    rows = weekly.for_period(MAY)
    return {
        m: dict(zip(r["weeks_before_end"], r["forecast"].map(_num), strict=True))
        for m, r in rows.groupby("method")
    }


def _num(value: object) -> float | None:
    return None if value is None or value != value else float(value)  # type: ignore[arg-type]


# --- the weekly days ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "first", "weeks"),
    [
        ("2024-05", date(2024, 4, 26), 5),  # 31 days: 35 days back is 4 days before the 1st
        ("2024-02", date(2024, 1, 25), 5),  # 29 days: 35 days back from 29 Feb
        ("2025-02", date(2025, 1, 31), 4),  # 28 days: 28 days back is the day before
        ("2024-Q2", date(2024, 3, 31), 13),  # 91 days: exactly 13 weeks back
        ("2024-Q3", date(2024, 6, 24), 14),  # 92 days: one more week
    ],
)
def test_weekly_days(label: str, first: date, weeks: int) -> None:
    period = Period.parse(label)
    days = convergence_days(period)
    assert days[0] == (weeks, first) and days[-1] == (0, period.end)
    assert [w for w, _ in days] == list(range(weeks, -1, -1))
    assert all((b - a).days == 7 for (_, a), (_, b) in zip(days, days[1:], strict=False))
    # nothing after the data's as-of date is asked
    assert convergence_days(period, period.end.replace(day=period.end.day - 3))[-1][0] == 1


# --- the hand-made fixture ---------------------------------------------------------------


@pytest.mark.parametrize(("weeks", "day", "run_rate", "cycle", "weighted"), BY_HAND)
def test_rebuilt_convergence_by_hand(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    weeks: int,
    day: date,
    run_rate: float,
    cycle: float,
    weighted: float,
) -> None:
    del weighted  # no stage history: left out
    upload(con, tmp_path, ROWS, None)
    got = may(con)
    assert got[RUN_RATE][weeks] == pytest.approx(run_rate)
    assert got[SALES_CYCLE][weeks] == pytest.approx(cycle)
    assert got[STAGE_WEIGHTED][weeks] is None
    weekly = convergence(con, Scope(Period.parse("2024-06")), kind="month", periods=2)
    rows = weekly.for_period(MAY)
    point = rows[(rows["weeks_before_end"] == weeks) & (rows["method"] == RUN_RATE)].iloc[0]
    assert (point["as_of"], point["source"]) == (day, "rebuilt")
    assert weekly.actuals[MAY] == pytest.approx(3000)
    # stage-weighted and the reps' calls have no line, each with its reason
    assert weekly.left_out[MAY] == {
        STAGE_WEIGHTED: LEFT_OUT_WHY[STAGE_WEIGHTED].replace("that day", "any of its weekly days"),
        COMMIT: LEFT_OUT_WHY[COMMIT].replace("that day", "any of its weekly days"),
        BEST_CASE: LEFT_OUT_WHY[BEST_CASE].replace("that day", "any of its weekly days"),
    }
    assert "neither a snapshot nor stage history" in weekly.left_out[MAY][STAGE_WEIGHTED]


@pytest.mark.parametrize(("weeks", "day", "run_rate", "cycle", "weighted"), BY_HAND)
def test_stage_history_brings_the_stage_weighted_line(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    weeks: int,
    day: date,
    run_rate: float,
    cycle: float,
    weighted: float,
) -> None:
    del day
    upload(con, tmp_path, ROWS, HISTORY)
    got = may(con)
    assert got[STAGE_WEIGHTED][weeks] == pytest.approx(weighted)
    assert got[RUN_RATE][weeks] == pytest.approx(run_rate)
    assert got[SALES_CYCLE][weeks] == pytest.approx(cycle)
    weekly = convergence(con, Scope(Period.parse("2024-06")), kind="month", periods=2)
    rows = weekly.for_period(MAY)
    assert set(rows["source"]) == {"stage history"}
    assert "stage history" in convergence_sources(rows)
    # June's last day reads the export itself: it is the snapshot of 30 June
    june = weekly.for_period("2024-06")
    assert list(june["source"].unique()) == ["stage history", "snapshot"]


@pytest.mark.parametrize(("weeks", "day", "run_rate", "cycle", "weighted"), BY_HAND)
def test_the_table_by_week_reads_the_hand_worked_points(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    weeks: int,
    day: date,
    run_rate: float,
    cycle: float,
    weighted: float,
) -> None:
    """The page's "Forecast of May by week" table (issue 16, item 6: reshaped in analytics,
    not in the page): one row per weekly day, 5 weeks before the end first, a column per
    method in METHODS order, each cell the hand-worked point; no call: commit is empty."""
    upload(con, tmp_path, ROWS, HISTORY)
    weekly = convergence(con, Scope(Period.parse("2024-06")), kind="month", periods=2,
                         growth=0.0)  # fmt: skip
    wide = convergence_by_week(weekly.for_period(MAY))
    assert list(wide.columns) == ["weeks_before_end", "as_of", "source", *METHODS]
    assert list(wide["weeks_before_end"]) == [5, 4, 3, 2, 1, 0]
    row = wide[wide["weeks_before_end"] == weeks].iloc[0]
    assert (row["as_of"], row["source"]) == (day, "stage history")
    assert row[RUN_RATE] == pytest.approx(run_rate)
    assert row[SALES_CYCLE] == pytest.approx(cycle)
    assert row[STAGE_WEIGHTED] == pytest.approx(weighted)
    assert _num(row[COMMIT]) is None


def test_the_table_by_week_of_no_rows_is_empty() -> None:
    wide = convergence_by_week(pd.DataFrame(columns=["weeks_before_end", "method"]))
    assert wide.empty and list(wide.columns) == ["weeks_before_end", "as_of", "source"]


def test_every_accuracy_note_is_text(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """The accuracy table's `note` column is shown as it is: text on every row, "" where a
    candidate has nothing to say, on a real backtest as on one with nothing to score."""
    upload(con, tmp_path, ROWS, HISTORY)
    for periods in (0, 2):
        past = backtest(con, Scope(Period.parse("2024-06")), kind="month", periods=periods)
        assert len(past.summary) and all(isinstance(n, str) for n in past.summary["note"])


# --- no peeking --------------------------------------------------------------------------

# The same export, but what happened after 17 May differs: O1 moved to Final Decision on
# 21 May and was lost on 28 May; a new deal N1 was created on 20 May and won on 25 May.
LATER_ROWS = [
    *ROWS[:6],
    ["O1", "Open one", "Oak", "Ann", "Closed Lost", "5000", "USD", "2024-03-15", "2024-05-28"],
    ROWS[7],
    ["N1", "New one", "Fir", "Bob", "Closed Won", "7000", "USD", "2024-05-20", "2024-05-25"],
]
LATER_HISTORY = [
    *HISTORY,
    ["O1", "Final Decision", "2024-05-21 09:00"],
    ["O1", "Closed Lost", "2024-05-28 09:00"],
    ["N1", "Closed Won", "2024-05-25 09:00"],
]


@pytest.mark.parametrize("with_history", [False, True])
def test_later_rows_do_not_move_earlier_points(tmp_path: Path, with_history: bool) -> None:
    """Two exports that agree up to 17 May: every point up to 17 May (weeks 5 to 2) is the
    same for every method; the point of 24 May, which may know N1, differs (so the test
    can fail), and so does the actual (3000 vs 3000 + 7000)."""
    found = []
    for name, rows, history in (("a", ROWS, HISTORY), ("b", LATER_ROWS, LATER_HISTORY)):
        con = db.connect(tmp_path / f"{name}.duckdb")
        try:
            upload(con, tmp_path / name, rows, history if with_history else None)
            found.append(may(con))
            weekly = convergence(con, Scope(Period.parse("2024-06")), kind="month", periods=2)
            found.append(weekly.actuals[MAY])  # type: ignore[arg-type]
        finally:
            con.close()
    first, first_actual, second, second_actual = found
    for method in METHODS:
        for weeks in (5, 4, 3, 2):
            assert first[method][weeks] == pytest.approx(second[method][weeks]), (method, weeks)
    assert first[SALES_CYCLE][1] != pytest.approx(second[SALES_CYCLE][1])  # N1 open on 24 May
    assert (first_actual, second_actual) == (pytest.approx(3000), pytest.approx(10000))


# --- the demo (weekly snapshots) and a one-export database (rebuilt) -------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory, copy_demo: Callable[[Path], Path]) -> Path:
    """A private copy of the seeded demo (seed 42, the default anchor; tests/conftest.py)."""
    return copy_demo(tmp_path_factory.mktemp("demo_conv"))


def test_demo_quarters_converge_from_the_weekly_snapshots(demo_db: Path) -> None:
    """The demo uploads a snapshot every week of its last year: every point of a quarter
    inside that year reads the snapshot of its own week (at most 6 days old), and its first
    point (the day before the quarter) is exactly the backtest's start-of-quarter forecast."""
    con = db.connect(demo_db)
    try:
        scope = Scope(Period.parse("2026-11"))
        weekly = convergence(con, scope, kind="quarter", periods=4)
        past = backtest(con, scope, kind="quarter", periods=4)
    finally:
        con.close()
    rows = weekly.for_period("2026-Q2")
    assert set(rows["source"]) == {"snapshot"}
    assert ((rows["as_of"] - rows["snapshot_date"]).map(lambda d: d.days).between(0, 6)).all()
    assert weekly.left_out.get("2026-Q2", {}) == {}
    start = past.table[past.table["period"] == "2026-Q2"].set_index("method")["forecast"]
    first = rows[rows["weeks_before_end"] == 13].set_index("method")["forecast"]
    for method in METHODS:
        assert first[method] == pytest.approx(start[method]), method
    actual = past.table[past.table["period"] == "2026-Q2"]["actual"].iloc[0]
    assert weekly.actuals["2026-Q2"] == pytest.approx(float(actual))
    # an older quarter, before the snapshots began, is rebuilt with the stage history
    assert set(weekly.for_period("2025-Q4")["source"]) >= {"stage history", "snapshot"}


def test_one_export_database_converges_from_the_rebuild(tmp_path: Path) -> None:
    """The sparse one-export database (no stage history): every point rebuilt, and
    stage-weighted left out of every period with the reason."""
    from readable import build_sparse_db

    path = build_sparse_db(tmp_path / "sparse.duckdb", tmp_path / "files")
    con = db.connect(path)
    try:
        weekly = convergence(con, Scope(Period.parse("2025-03")), kind="month", periods=6)
    finally:
        con.close()
    assert len(weekly.periods) == 6
    assert set(weekly.table["source"]) == {"rebuilt"}
    for period in weekly.periods:
        assert STAGE_WEIGHTED in weekly.left_out[period.label]
        assert RUN_RATE not in weekly.left_out[period.label]


# --- the command's JSON and the page ---------------------------------------------------


def test_backtest_json_carries_convergence(tmp_path: Path) -> None:
    path = tmp_path / "one.duckdb"
    con = db.connect(path)
    try:
        upload(con, tmp_path / "files", ROWS, None)
    finally:
        con.close()
    from analytics.cli.backtest import run_backtest

    out = io.StringIO()
    args = argparse.Namespace(db=path, kind="month", periods=2, team=None, region=None,
                              rep=None, summary=False, format="json")  # fmt: skip
    assert run_backtest(args, out) == 0
    got = json.loads(out.getvalue())
    assert set(got) == {"rows", "convergence"}
    assert {r["source"] for r in got["rows"]} == {"rebuilt"}
    assert set(got["convergence"]) == {"2024-05", "2024-06"}
    may_ = got["convergence"][MAY]
    assert may_["actual"] == pytest.approx(3000)
    assert (may_["period_start"], may_["period_end"]) == ("2024-05-01", "2024-05-31")
    assert STAGE_WEIGHTED in may_["left_out"] and STAGE_WEIGHTED not in may_["methods"]
    points = may_["methods"][RUN_RATE]
    assert [p["as_of"] for p in points] == [d.isoformat() for d in DAYS]
    assert {"as_of", "forecast", "source"} <= set(points[0])
    assert {p["source"] for p in points} == {"rebuilt"}
    assert points[0]["forecast"] == pytest.approx(2000, rel=0.5)  # measured growth here
    # too short a track record, and no stage-weighted forecast on a rebuilt pipeline: the
    # default is the first method that has forecasts (run-rate), drawn as its own line
    assert may_["recommended_as"] == "Historical run-rate"
    assert "recommended" not in may_["left_out"]
    assert [p["forecast"] for p in may_["methods"]["recommended"]] == pytest.approx(
        [p["forecast"] for p in points]
    )


def test_page_draws_the_chosen_period(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """AppTest: the Forecast page on the one-export fixture draws May's convergence (one
    line per method with a forecast, the actual as a reference line), names the source
    and says why stage-weighted has no line; choosing April redraws April."""
    at = forecast_page_after_one_upload(tmp_path, monkeypatch)
    assert not at.exception, [e.value for e in at.exception]
    choice = at.selectbox(key="forecast:conv_period")
    assert choice.value == MAY
    captions = " ".join(plain(c.value) for c in at.caption)
    assert "Source: weeks 5 to 0: the pipeline rebuilt from created and close dates" in captions
    assert "Left out (no line): stage-weighted: neither a snapshot nor stage history" in captions
    chart = next(c for c in at.get("plotly_chart") if "convergence" in c.proto.id)
    figure = json.loads(chart.proto.spec)
    names = [t["name"] for t in figure["data"]]
    assert "Historical run-rate" in names and not any("Stage-weighted" in n for n in names)
    assert any("Actual 3,000" in a["text"] for a in figure["layout"]["annotations"])
    assert figure["layout"]["xaxis"]["autorange"] == "reversed"
    at = choice.set_value("2024-04").run()
    assert not at.exception
    chart = next(c for c in at.get("plotly_chart") if "convergence" in c.proto.id)
    figure = json.loads(chart.proto.spec)
    assert not any("Actual 3,000" in a["text"] for a in figure["layout"]["annotations"])


def test_the_source_words_name_only_the_weeks_drawn() -> None:
    """Weeks 5 and 4 have no forecast at all (not drawn): the caption's weeks are the
    chart's, 3 to 0 (a new-user test read 'weeks 5 to 0' under an axis of 3 to 0)."""
    rows = pd.DataFrame(
        {
            "weeks_before_end": [5, 4, 3, 2, 1, 0],
            "source": ["rebuilt"] * 6,
            "forecast": [None, None, 100.0, 120.0, 130.0, 150.0],
        }
    )
    assert convergence_sources(rows) == (
        "weeks 3 to 0: the pipeline rebuilt from created and close dates (stage unknown)"
    )
    # nothing drawn at all: every week is named, as before
    assert convergence_sources(rows.assign(forecast=None)).startswith("weeks 5 to 0")
