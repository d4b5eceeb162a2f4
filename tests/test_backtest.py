"""Forecast vs actual: scores by hand, the backtest on the fixture, its blindness to later
data, convergence, the current period and the commands (the recommendation's own hand-worked
table: tests/test_forecast_recommend.py).

The fixture is tests/test_forecast_methods.py's (three exports: S1 2024-03-25, S2
2024-04-15, S3 2024-05-06 = the current data). What closed won in April 2024, by the
current data: A1 1000 + A2 10000 + A4 2000 + F1 7000 = 20000. F1 was created on 2024-04-02
and first appears in S2: the start-of-April forecast (from S1) must not know it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_forecast_methods import DEFAULTS, S1, S2, S3, load_forecast

from analytics import db
from analytics.cli import build_parser
from analytics.forecast import inputs as fi
from analytics.forecast.backtest import (
    accuracy,
    backtest,
    bias,
    completed_periods,
    convergence,
    forecast_values,
    start_ask,
    start_snapshot,
    wape,
)
from analytics.forecast.current import (
    calls_table,
    method_rows,
    period_forecast,
    roster,
    what_if,
)
from analytics.forecast.methods import (
    BEST_CASE,
    COMMIT,
    RECOMMENDED,
    RUN_RATE,
    SALES_CYCLE,
    STAGE_WEIGHTED,
    CategoryCall,
)
from analytics.forecast.tables import forecast_report_table
from analytics.scope import Period, Scope

# What each method said at the start of April 2024 (from S1; see test_forecast_methods.py).
APRIL = {STAGE_WEIGHTED: 6700, RUN_RATE: 17800, SALES_CYCLE: 5300, COMMIT: 2500, BEST_CASE: 14000}
APRIL_ACTUAL = 20000


# --- scores by hand -----------------------------------------------------------------

ACCURACY_CASES = [
    (100, 110, 0.9),  # 1 - 10/100
    (200, 150, 0.75),  # 1 - 50/200
    (20000, 6700, 0.335),  # 1 - 13300/20000
    (100, 250, -0.5),  # a forecast 2.5x the actual: below 0, not floored
    (100, 100, 1.0),
    (0, 50, None),  # nothing closed: accuracy undefined, not -inf
    (100, None, None),  # no forecast
]


@pytest.mark.parametrize(("actual", "forecast", "expected"), ACCURACY_CASES)
def test_accuracy(actual: float, forecast: float | None, expected: float | None) -> None:
    result = accuracy(actual, forecast)
    assert result == (None if expected is None else pytest.approx(expected))


def test_wape_and_bias_by_hand() -> None:
    """Actuals 100, 200, 0 against forecasts 110, 150, 50:
    WAPE = (10 + 50 + 50) / (100 + 200 + 0) = 110/300; bias = (10 - 50 + 50) / 300 = 10/300.
    The zero month has no accuracy of its own but its miss still counts in both."""
    actuals, forecasts = [100, 200, 0], [110, 150, 50]
    assert wape(actuals, forecasts) == pytest.approx(110 / 300)
    assert bias(actuals, forecasts) == pytest.approx(10 / 300)
    # periods without a forecast drop out of both: (10) / 100 and +10 / 100
    assert wape([100, 200], [110, None]) == pytest.approx(0.1)
    assert bias([100, 200], [110, None]) == pytest.approx(0.1)
    assert wape([0, 0], [5, 5]) is None and bias([], []) is None


def test_bias_sign_means_over_forecasting() -> None:
    assert bias([100], [120]) == pytest.approx(0.2)  # over-forecast: positive
    assert bias([100], [80]) == pytest.approx(-0.2)  # sandbagging: negative


# --- periods and snapshots --------------------------------------------------------------


def test_completed_periods_end_before_the_data_date() -> None:
    labels = [p.label for p in completed_periods("month", 3, date(2024, 5, 6))]
    assert labels == ["2024-02", "2024-03", "2024-04"]  # May is not over
    labels = [p.label for p in completed_periods("quarter", 2, date(2024, 6, 30))]
    assert labels == ["2024-Q1", "2024-Q2"]  # the data date is Q2's last day: complete


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 4, 1), S1),  # latest on or before, 7 days old
        (date(2024, 4, 15), S2),  # a snapshot on the day itself counts
        (date(2024, 3, 24), None),  # nothing before
        (date(2024, 5, 1), S2),  # 16 days old: still usable
        (date(2024, 6, 10), None),  # S3 is 35 days old (> 31): no basis
    ],
)
def test_start_snapshot(day: date, expected: date | None) -> None:
    assert start_snapshot([S1, S2, S3], day) == expected


# --- the backtest on the fixture -------------------------------------------------------


@pytest.fixture(scope="module")
def book(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, duckdb.DuckDBPyConnection]]:
    """The fixture loaded once for the tests that only read it (the file and a connection)."""
    folder = tmp_path_factory.mktemp("forecast")
    connection = db.connect(folder / "forecast.duckdb")
    load_forecast(connection, folder)
    yield folder / "forecast.duckdb", connection
    connection.close()


@pytest.fixture
def loaded(book: tuple[Path, duckdb.DuckDBPyConnection]) -> duckdb.DuckDBPyConnection:
    return book[1]


@pytest.fixture
def fresh(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A database of its own, for a test that changes it."""
    return load_forecast(con, tmp_path)


def _april(table: pd.DataFrame) -> dict[str, float]:
    rows = table[(table["period"] == "2024-04") & (table["method"] != RECOMMENDED)]
    return dict(zip(rows["method"], rows["forecast"], strict=True))


def test_backtest_april_by_hand(loaded: duckdb.DuckDBPyConnection) -> None:
    result = backtest(loaded, Scope(Period.parse("2024-05")), kind="month", periods=2)
    assert result.skipped == ["2024-03"]  # no snapshot on or before 1 March
    table = result.table
    april = table[table["period"] == "2024-04"].set_index("method")
    for method, value in APRIL.items():
        assert april.loc[method, "forecast"] == pytest.approx(value), method
        assert april.loc[method, "actual"] == APRIL_ACTUAL
        assert april.loc[method, "error"] == pytest.approx(value - APRIL_ACTUAL)
        assert april.loc[method, "accuracy"] == pytest.approx(1 - abs(APRIL_ACTUAL - value) / 2e4)
    assert set(april["snapshot_date"]) == {S1}
    # 1 - 2200/20000 = 0.89 for the run-rate; 1 - 14700/20000 = 0.265 for the cycle
    assert april.loc[RUN_RATE, "accuracy"] == pytest.approx(0.89)
    assert april.loc[SALES_CYCLE, "accuracy"] == pytest.approx(0.265)
    # March: H03 6000 closed won on 2024-03-10, but no forecast to compare
    march = table[table["period"] == "2024-03"]
    assert march["forecast"].isna().all() and set(march["actual"]) == {6000}
    # one month with a forecast is not a track record: the default, and why
    assert result.recommendation.candidate.components == (STAGE_WEIGHTED,)
    assert not result.recommendation.by_error
    assert "Not enough history" in result.recommendation.reason
    assert "1 past month" in result.recommendation.reason
    assert result.window == ("2024-04",)
    assert "Only 1 past month can be backtested" in (result.no_data or "")
    assert april.loc[RECOMMENDED, "forecast"] == pytest.approx(6700)
    summary = result.summary.set_index("candidate")
    assert summary.loc[STAGE_WEIGHTED, "recommended"]
    assert summary["recommended"].sum() == 1
    # a blend is scored on its own forecasts: (6700 + 17800) / 2 = 12250 vs 20000
    assert summary.loc["stage_weighted+run_rate", "wape"] == pytest.approx(7750 / 20000)
    assert summary.loc[STAGE_WEIGHTED, "wape"] == pytest.approx(13300 / 20000)
    assert summary.loc[STAGE_WEIGHTED, "bias"] == pytest.approx(-13300 / 20000)
    assert summary.loc[BEST_CASE, "periods"] == 1


def test_backtest_never_reads_later_data(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """Only S1 loaded, then S2 and S3 (a deal created later, stage changes, wins, a call
    submitted after day 1): the start-of-April forecast must not move; only the actual does.
    """
    scope = Scope(Period.parse("2024-05"))
    load_forecast(con, tmp_path, snapshots=(S1,))
    before = backtest(con, scope, periods=1, data_date=S3)
    assert _april(before.table) == pytest.approx(APRIL)
    assert set(before.table["actual"]) == {0.0}  # S1's current state: nothing won in April

    load_forecast_rest(con, tmp_path)
    after = backtest(con, scope, periods=1, data_date=S3)
    assert _april(after.table) == pytest.approx(APRIL)
    assert set(after.table["actual"]) == {APRIL_ACTUAL}  # F1's 7000 is in the actual only


def load_forecast_rest(con: duckdb.DuckDBPyConnection, data_dir: Path) -> None:
    """The two later exports on top of an S1-only database."""
    from test_forecast_methods import FIXTURES, SNAPSHOTS

    from analytics.ingest import import_file

    for day in (S2, S3):
        result = import_file(con, FIXTURES / SNAPSHOTS[day], data_dir=data_dir, as_of=day)
        assert result.ok, result.message


def test_a_planted_future_deal_is_ignored(fresh: duckdb.DuckDBPyConnection) -> None:
    """A huge deal created and won in April, planted into S2 and S3 by hand: invisible as of
    S1, visible as of S2 (a forecast from S2 reads S2)."""
    for day in (S2, S3):
        fresh.execute(
            """
            INSERT INTO opportunity_snapshot_history (snapshot_date, opportunity_id, owner, stage,
                amount, created_date, close_date, is_closed, is_won, import_id)
            VALUES (?, 'ZZ', 'Ann Lee', 'Closed Won', 1000000, DATE '2024-04-03',
                    DATE '2024-04-10', true, true, 0)
            """,
            [day],
        )
    scope = Scope(Period.parse("2024-04"))
    early, later = start_ask(scope.period, S1), fi.Ask(scope.period, S2, None)
    found = fi.gather(fresh, [early, later], scope)
    assert forecast_values(found[early.key], DEFAULTS) == pytest.approx(APRIL)
    assert found[early.key].already_won == 0
    # S2: A2 10000 + A4 2000 won, plus the planted 1,000,000
    assert found[later.key].already_won == 1_012_000


def test_calls_after_the_cut_off_are_ignored(loaded: duckdb.DuckDBPyConnection) -> None:
    """Ann's 99,999 call (submitted 2024-04-20) and Bob's (04-02) are invisible on 1 April;
    with a cut-off after both, Ann's latest is 99,999 and Bob's own call replaces his fields.
    """
    scope = Scope(Period.parse("2024-04"))
    late = fi.Ask(scope.period, S1, pd.Timestamp("2024-04-21").to_pydatetime())
    found = fi.gather(loaded, [start_ask(scope.period, S1), late], scope)
    assert found[start_ask(scope.period, S1).key].calls["Ann Lee"] == CategoryCall(2500, 4000, 6000)
    assert found[late.key].calls["Ann Lee"] == CategoryCall(99999, 99999, 99999)
    assert found[late.key].calls["Bob Stone"] == CategoryCall(9000, 12000, 15000)
    assert found[late.key].submitted_owners == 2


def test_convergence_by_week(loaded: duckdb.DuckDBPyConnection) -> None:
    """April 2024, week by week back from 30 April: 26 Mar, 2 and 9 Apr read S1 (the
    start-of-April figures, stage-weighted 6700); 16, 23 and 30 Apr read S2 (2024-04-15):
    won A2 10000 + A4 2000, open in April A1 1000 x 80% (Final Decision) + A3 5000 x 10%
    + F1 7000 x 60% = 12000 + 800 + 500 + 4200 = 17500. Actual 20000."""
    weekly = convergence(loaded, Scope(Period.parse("2024-05")), kind="month", periods=1)
    sw = weekly.for_period("2024-04")
    sw = sw[sw["method"] == STAGE_WEIGHTED]
    assert list(sw["weeks_before_end"]) == [5, 4, 3, 2, 1, 0]
    assert list(sw["snapshot_date"]) == [S1, S1, S1, S2, S2, S2]
    assert set(sw["source"]) == {"snapshot"}
    assert list(sw["forecast"]) == pytest.approx([6700] * 3 + [17500] * 3)
    assert weekly.actuals == {"2024-04": APRIL_ACTUAL}
    assert weekly.left_out == {}


# --- the current period -------------------------------------------------------------------


def test_live_month_by_hand(loaded: duckdb.DuckDBPyConnection) -> None:
    """May 2024 on 2024-05-06 (current data): won M1 3000 (3 May); open in May: A5 8000 and
    N1 6000, both Demo (40%). Stage-weighted 3000 + 3200 + 2400 = 8600 (the recommendation:
    too little history). Range: Ann's May call (5000 / 8000 / 9000) + Bob's fields (won 3000,
    A5 pipeline 8000 -> 3000 / 3000 / 11000) = 8000 / 11000 / 20000. Quota 10000 + 10000 +
    5000 = 25000: to go 22000, gap 25000 - 8600 = 16400, coverage 14000 / 22000."""
    result = period_forecast(loaded, Scope(Period.parse("2024-05")))
    assert (result.status, result.data_date) == ("live", S3)
    assert result.values[STAGE_WEIGHTED] == pytest.approx(8600)
    assert result.recommended == pytest.approx(8600)
    assert result.range == CategoryCall(8000, 11000, 20000)
    assert result.already_won == 3000 and result.actual == 3000
    assert (result.open_amount, result.open_deals) == (14000, 2)
    assert result.quota == 25000 and result.to_go == 22000
    assert result.gap_to_quota == pytest.approx(16400)
    assert result.coverage == pytest.approx(14000 / 22000)
    # swing = max(amount x (1 - p), amount x p): A5 8000 x 0.6 = 4800, N1 6000 x 0.6 = 3600
    top = result.top_deals()
    assert list(top["opportunity_id"]) == ["A5", "N1"]
    assert list(top["swing"]) == [4800, 3600]
    assert list(top["downside"]) == [3200, 2400]
    by_manager = calls_table(result.calls, roster(loaded), "manager")
    assert by_manager.to_dict("records") == [
        {"manager": "Mia Boss", "commit": 8000, "best_case": 11000, "pipeline": 20000}
    ]


WHAT_IF_CASES = [
    # Demo at 50%: 3000 + 8000 x .5 + 6000 x .5 = 10000
    ({"Demo": 50}, (), 10000),
    # A5 left out: 3000 + 6000 x .4 = 5400
    ({}, ("A5",), 5400),
    # both, and an unknown id is ignored: 3000 + 6000 x .5 = 6000
    ({"demo": 50}, ("A5", "nope"), 6000),
    # nothing changed
    ({}, (), 8600),
]


@pytest.mark.parametrize(("overrides", "exclude", "expected"), WHAT_IF_CASES)
def test_what_if(
    loaded: duckdb.DuckDBPyConnection,
    overrides: dict[str, float],
    exclude: tuple[str, ...],
    expected: float,
) -> None:
    result = period_forecast(loaded, Scope(Period.parse("2024-05")))
    scenario = what_if(result, overrides=overrides, exclude=exclude)
    assert scenario.scenario[STAGE_WEIGHTED] == pytest.approx(expected)
    assert scenario.scenario_recommended == pytest.approx(expected)  # it is stage-weighted
    assert scenario.base[STAGE_WEIGHTED] == pytest.approx(8600)
    assert scenario.delta(STAGE_WEIGHTED) == pytest.approx(expected - 8600)
    assert scenario.scenario[RUN_RATE] == result.values[RUN_RATE]  # not deal-based
    assert scenario.excluded == tuple(x for x in exclude if x == "A5")
    # the settings are untouched: the next forecast is the base again
    assert period_forecast(loaded, Scope(Period.parse("2024-05"))).values[
        STAGE_WEIGHTED
    ] == pytest.approx(8600)


def test_a_closed_period_shows_its_start_of_period_forecast(
    loaded: duckdb.DuckDBPyConnection,
) -> None:
    result = period_forecast(loaded, Scope(Period.parse("2024-04")))
    assert (result.status, result.data_date) == ("closed", S1)
    assert result.values == pytest.approx(APRIL)
    assert result.actual == APRIL_ACTUAL and result.quota == 20000
    # finished: judged by its actual, never by a gap computed from a forecast
    assert result.finished and result.gap_to_quota is None
    assert result.actual_vs_quota == 0  # 20000 won against a 20000 quota
    rows = method_rows(result).set_index("method")
    assert rows.loc[RUN_RATE, "error"] == pytest.approx(17800 - 20000)
    assert rows.loc[RUN_RATE, "accuracy"] == pytest.approx(0.89)
    assert set(rows["actual"]) == {APRIL_ACTUAL}
    assert list(result.top_deals()["opportunity_id"])[:1] == ["A2"]  # 10000 x 0.6 = 6000


def test_empty_database(con: duckdb.DuckDBPyConnection) -> None:
    scope = Scope(Period.parse("2024-05"))
    result = backtest(con, scope)
    assert result.table.empty and "Not enough history" in result.recommendation.reason
    assert convergence(con, scope).table.empty
    current = period_forecast(con, scope)
    assert current.status == "no data" and current.recommended is None
    assert current.top_deals().empty


# --- commands --------------------------------------------------------------------------


def test_report_forecast_rows(loaded: duckdb.DuckDBPyConnection) -> None:
    table = forecast_report_table(loaded, Scope(Period.parse("2024-04")), history=12)
    assert list(table.columns[:5]) == ["period", "method", "forecast", "actual", "accuracy"]
    rows = table.set_index("method")
    assert rows.loc[STAGE_WEIGHTED, "forecast"] == pytest.approx(6700)
    assert rows.loc[STAGE_WEIGHTED, "accuracy"] == pytest.approx(0.335)
    assert rows.loc[RECOMMENDED, "label"] == "Recommended: Stage-weighted"
    assert set(rows["actual"]) == {APRIL_ACTUAL} and set(rows["period"]) == {"2024-04"}
    assert rows.loc[STAGE_WEIGHTED, "error"] == pytest.approx(6700 - 20000)
    # a running period: no accuracy yet
    may = forecast_report_table(loaded, Scope(Period.parse("2024-05")), history=3)
    assert may["accuracy"].isna().all() and set(may["status"]) == {"live"}
    assert may["error"].isna().all()


def test_backtest_command(book: tuple[Path, duckdb.DuckDBPyConnection]) -> None:
    db_path = book[0]
    for fmt in ("csv", "json"):
        out = io.StringIO()
        args = build_parser().parse_args(
            ["backtest", "--db", str(db_path), "--periods", "2", "--format", fmt]
        )
        assert args.func(args, out) == 0
        text = out.getvalue()
        frame = (
            pd.read_csv(io.StringIO(text))
            if fmt == "csv"
            else pd.DataFrame(json.loads(text)["rows"])
        )
        april = frame[(frame["period"] == "2024-04") & (frame["method"] == RUN_RATE)]
        assert float(april["forecast"].iloc[0]) == pytest.approx(17800)
        assert float(april["accuracy"].iloc[0]) == pytest.approx(0.89)
    out = io.StringIO()
    args = build_parser().parse_args(["backtest", "--db", str(db_path), "--summary"])
    assert args.func(args, out) == 0
    summary = pd.read_csv(io.StringIO(out.getvalue()))
    chosen = summary[summary["recommended"]]
    assert list(chosen["candidate"]) == [STAGE_WEIGHTED]
    assert "Not enough history" in chosen["reason"].iloc[0]
    assert set(summary["window"]) == {"the month 2024-04"}


def test_backtest_command_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = build_parser().parse_args(["backtest", "--db", str(tmp_path / "missing.duckdb")])
    assert args.func(args) == 2
    assert "no database" in capsys.readouterr().err
    args = build_parser().parse_args(["backtest", "--db", "x", "--periods", "0"])
    assert args.func(args) == 2


def test_report_forecast_command(book: tuple[Path, duckdb.DuckDBPyConnection]) -> None:
    """`python -m analytics report forecast` goes through the shared report plumbing."""
    out = io.StringIO()
    argv = ["report", "forecast", "--db", str(book[0]), "--period", "2024-04", "--format", "json"]
    args = build_parser().parse_args(argv)
    assert args.func(args, out) == 0
    rows = {r["method"]: r for r in json.loads(out.getvalue())}
    assert rows[BEST_CASE]["forecast"] == pytest.approx(14000)
    assert rows[BEST_CASE]["accuracy"] == pytest.approx(0.7)  # 1 - 6000 / 20000
    assert rows[RECOMMENDED]["actual"] == APRIL_ACTUAL


@pytest.mark.parametrize(
    ("amounts", "expected", "note"),
    [
        # one open May deal without an amount on top of A5 8000 + N1 6000: the priced part
        ([None], 14000, "1 of the 3 open deals closing in the period has no amount"),
        ([], 14000, None),  # nothing missing: whole, no note
    ],
)
def test_open_pipeline_without_amounts_is_the_priced_part_with_a_count(
    fresh: duckdb.DuckDBPyConnection, amounts: list, expected: float, note: str | None
) -> None:
    for i, amount in enumerate(amounts):
        fresh.execute(
            """
            INSERT INTO opportunities (opportunity_id, owner, stage, amount, created_date,
                close_date, is_closed, is_won, snapshot_date, import_id)
            VALUES (?, 'Ann Lee', 'Demo', ?, DATE '2024-04-20', DATE '2024-05-20', false,
                    false, ?, 0)
            """,
            [f"X{i}", amount, S3],
        )
    result = period_forecast(fresh, Scope(Period.parse("2024-05")))
    assert result.open_pipeline == expected
    assert result.open_unvalued == len(amounts)
    if note is None:
        assert result.open_pipeline_note is None
    else:
        assert note in (result.open_pipeline_note or "")


def test_open_pipeline_with_no_priced_deal_is_no_data(fresh: duckdb.DuckDBPyConnection) -> None:
    """Every open May deal without an amount: no data (not 0), and coverage undefined."""
    fresh.execute("UPDATE opportunities SET amount = NULL WHERE NOT is_closed")
    result = period_forecast(fresh, Scope(Period.parse("2024-05")))
    assert result.open_deals == 2 and result.open_pipeline is None
    assert result.coverage is None
    assert "No data: none of the 2 open deals" in (result.open_pipeline_note or "")


def test_a_running_period_with_nothing_to_go_on_is_no_data(
    loaded: duckdb.DuckDBPyConnection,
) -> None:
    """A rep with no deal at all: stage-weighted says 0 (nothing won, nothing open), the
    other methods have no basis. That is "no data" with the reason, never a forecast of 0."""
    result = period_forecast(loaded, Scope(Period.parse("2024-05"), rep="Nobody Here"))
    assert result.status == "live" and result.open_deals == 0 and result.already_won == 0
    assert "no open deal closes in it" in (result.no_basis or "")
    # the whole team has deals in May: a forecast, no such note
    assert period_forecast(loaded, Scope(Period.parse("2024-05"))).no_basis is None
    # a finished period is judged by its actual instead
    assert (
        period_forecast(loaded, Scope(Period.parse("2024-04"), rep="Nobody Here")).no_basis is None
    )
