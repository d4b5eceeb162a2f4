"""Forecast methods: each pure function against figures worked out by hand, then the same
methods on a fixture database (imported through the real importer) as of a snapshot.

The fixture (tests/data/forecast_*.csv), three weekly-ish exports of one small team:

    reps: Ann Lee, Bob Stone (manager Mia Boss, team East, hired 2020);
          Cara Diaz (Max Chief, West, hired 2024-03-01: a *new* rep on 2024-03-25);
          Dan Ng (Max Chief, West, hired 2023-06-01: a past new hire).

    closed history (in every export)           cycle    closed in the 365 days to 2024-03-25?
    H01 Ann  won  10000 NB  2023-11-01 -> 2024-01-30   90   yes (and in the last 90 days)
    H02 Bob  won  20000 NB  2023-12-01 -> 2024-02-29   90   yes (last 90 days)
    H03 Ann  won   6000 NB  2023-12-11 -> 2024-03-10   90   yes (last 90 days)
    H04 Ann  won   4000 NB  2023-07-01 -> 2023-09-29   90   yes
    H05 Dan  won   1000 NB  2023-05-02 -> 2023-06-10   39   yes (Dan's first month)
    H06 Dan  won   3000 NB  2023-03-22 -> 2023-06-20   90   yes (Dan's first month)
    H07 Bob  lost 44000 NB                 2024-03-01        yes
    H08 Ann  won   2000 Renewal 2023-11-20 -> 2023-12-20 30  yes
    H09 Bob  lost  2000 Renewal            2024-02-01        yes
    H10 Ann  won  40000 NB  closed 2022-06-15  (the year before: growth basis)
    H11 Bob  lost  1000 NB  closed 2022-01-10  (the data reaches back two full years)

    open on 2024-03-25 (S1)  stage (prob.)        amount created     close       category
    A1 Ann   New Business    Trial (60)             1000 2024-01-31  2024-04-20  Commit
    A2 Bob   New Business    Demo (40)             10000 2024-03-16  2024-04-10  Best Case
    A3 Cara  New Business    Discovery (10)         5000 2024-03-07  2024-04-30  Pipeline
    A4 Ann   Renewal         Final Decision (80)    2000 2024-02-18  2024-04-05  Commit
    A5 Bob   New Business    Qualified (20)         8000 2024-02-15  2024-05-15  Pipeline
    A6 Ann   New Business    Trial (60)             3000 2023-12-01  2024-03-20  Commit (overdue)
    A7 Bob   New Business    Demo (40)              4000 2024-03-01  2024-07-10  Omitted

S2 (2024-04-15) and S3 (2024-05-06, the current data) move these on and add deals created
after S1 (F1, N1, M1): see tests/test_backtest.py, which checks that a forecast as of S1
never sees them.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from analytics.forecast import inputs as fi
from analytics.forecast.backtest import forecast_values, start_ask, total_call
from analytics.forecast.methods import (
    BEST_CASE,
    COMMIT,
    RUN_RATE,
    SALES_CYCLE,
    STAGE_WEIGHTED,
    CategoryCall,
    RunRateInputs,
    SegmentCycle,
    blend,
    call_from_fields,
    call_from_submission,
    category_of,
    cycle_close_probability,
    measured_growth,
    rollup_calls,
    run_rate_forecast,
    run_rate_from_inputs,
    sales_cycle_forecast,
    stage_probabilities,
    stage_weighted_forecast,
)
from analytics.ingest import import_file
from analytics.scope import Period, Scope
from analytics.settings import DEFAULT_STAGES

FIXTURES = Path(__file__).resolve().parent / "data"
S1, S2, S3 = date(2024, 3, 25), date(2024, 4, 15), date(2024, 5, 6)
SNAPSHOTS = {
    S1: "forecast_opps_2024-03-25.csv",
    S2: "forecast_opps_2024-04-15.csv",
    S3: "forecast_opps_2024-05-06.csv",
}
DEFAULTS = stage_probabilities(DEFAULT_STAGES)


def load_forecast(
    con: duckdb.DuckDBPyConnection, data_dir: Path, snapshots: tuple[date, ...] = (S1, S2, S3)
) -> duckdb.DuckDBPyConnection:
    """Roster, quotas, forecast calls and the chosen exports, each with its as-of date."""
    files = [(n, S3) for n in ("forecast_reps.csv", "forecast_quotas.csv")]
    files += [("forecast_submissions.csv", S3)]
    files += [(SNAPSHOTS[day], day) for day in snapshots]
    for name, as_of in files:
        result = import_file(con, FIXTURES / name, data_dir=data_dir, as_of=as_of)
        assert result.ok, result.message
        assert result.rows_rejected == 0, result.message
    return con


# --- 1. stage-weighted ------------------------------------------------------------------

STAGE_CASES = [
    # The domain brief's example: a $1,000 deal in Trial (60%) counts $600.
    ({"Trial": 1000}, {}, 0, 600),
    # Stage names match ignoring case and spaces: 2000 x 80% = 1600.
    ({" final decision ": 2000}, {}, 0, 1600),
    # Already won counts in full: 5000 + 10000 x 40% + 5000 x 10% = 5000 + 4000 + 500.
    ({"Demo": 10000, "Discovery": 5000}, {}, 5000, 9500),
    # A stage missing from the list weighs 0 (as on the Overview): only 1000 x 20% = 200.
    ({"Qualified": 1000, "Negotiating": 7000}, {}, 0, 200),
    # What-if override: Trial at 30% -> 1000 x 30% = 300.
    ({"Trial": 1000}, {"trial": 30}, 0, 300),
    # Nothing open, nothing won: 0, not None.
    ({}, {}, 0, 0),
]


@pytest.mark.parametrize(("open_amounts", "overrides", "won", "expected"), STAGE_CASES)
def test_stage_weighted_by_hand(
    open_amounts: dict[str, float], overrides: dict[str, float], won: float, expected: float
) -> None:
    probabilities = stage_probabilities(DEFAULT_STAGES, overrides)
    assert stage_weighted_forecast(open_amounts, probabilities, won) == pytest.approx(expected)


def test_stage_overrides_are_checked() -> None:
    with pytest.raises(ValueError, match="0-100"):
        stage_probabilities(DEFAULT_STAGES, {"Trial": 120})


# --- 2. historical run-rate ----------------------------------------------------------


def test_run_rate_domain_example_is_exact() -> None:
    """1,000,000 + 5% growth (50,000) + 5 new reps x 5 deals x 1,000 (25,000)."""
    forecast = run_rate_forecast(
        trailing_90_day_avg=1_000_000,
        growth=0.05,
        new_reps=5,
        deals_per_new_rep=5,
        avg_new_rep_deal=1_000,
    )
    assert forecast == 1_075_000


RUN_RATE_CASES = [
    # A quarter ahead: (12000 + 12000 x 0.15) x 3 + 1 x 2 x 2000 x 3 = 41400 + 12000.
    (12000, 0.15, 1, 2, 2000, 3.0, 0, 53400),
    # Half a month left, 5000 already won: 5000 + 10000 x 0.5 = 10000 (no growth, no hires).
    (10000, 0.0, 0, 0, 0, 0.5, 5000, 10000),
    # Shrinking: 10000 - 10% = 9000.
    (10000, -0.10, 0, 5, 1000, 1.0, 0, 9000),
]


@pytest.mark.parametrize(
    ("avg", "growth", "new_reps", "deals", "deal", "months", "won", "expected"), RUN_RATE_CASES
)
def test_run_rate_by_hand(
    avg: float,
    growth: float,
    new_reps: int,
    deals: float,
    deal: float,
    months: float,
    won: float,
    expected: float,
) -> None:
    value = run_rate_forecast(avg, growth, new_reps, deals, deal, months=months, already_won=won)
    assert value == pytest.approx(expected)


@pytest.mark.parametrize(
    ("trailing", "previous", "expected"),
    [
        (46000, 40000, 0.15),  # 46000 / 40000 - 1
        (90000, 40000, 0.25),  # +125% clamped to +25%
        (10000, 40000, -0.25),  # -75% clamped to -25%
        (10000, 0, 0.0),  # no earlier revenue: no basis for a trend
    ],
)
def test_measured_growth(trailing: float, previous: float, expected: float) -> None:
    assert measured_growth(trailing, previous) == pytest.approx(expected)


def test_run_rate_without_history_is_none() -> None:
    empty = RunRateInputs(0, 0, 0, 0, 0, 0, 1.0, 0, has_history=False)
    assert run_rate_from_inputs(empty) is None


# --- 3. sales-cycle length ----------------------------------------------------------

CYCLE_CURVE = [
    (60, 120, 0.5),  # the domain brief: 2 months into a 4-month cycle = 50%
    (45, 90, 0.5),
    (90, 90, 1.0),  # at the typical cycle
    (200, 90, 1.0),  # past it: capped at 1
    (0, 90, 0.0),
    (-5, 90, 0.0),  # created after the date: 0, never negative
]


@pytest.mark.parametrize(("age", "typical", "expected"), CYCLE_CURVE)
def test_cycle_curve(age: float, typical: float, expected: float) -> None:
    assert cycle_close_probability(age, typical) == pytest.approx(expected)


def test_sales_cycle_forecast_by_hand() -> None:
    """New Business: typical 90 days, win rate 0.5 (6 won deals); Renewal has 1 won deal,
    so it uses the overall figures (90 days, 0.5), not its own 30 days.

    1000 x min(90/90, 1) x 0.5 = 500;  10000 x 45/90 x 0.5 = 2500;  5000 x 54/90 x 0.5 = 1500;
    Renewal 2000 x 72/90 x 0.5 = 800 (with its own 30 days it would be 2000 x 1 x 0.5 = 1000).
    Sum 5300, plus 700 already won = 6000.
    """
    segments = {
        "New Business": SegmentCycle(90, 0.5, 6),
        "Renewal": SegmentCycle(30, 0.5, 1),
    }
    deals = [
        ("New Business", 90, 1000),
        ("New Business", 45, 10000),
        ("New Business", 54, 5000),
        ("Renewal", 72, 2000),
    ]
    overall = SegmentCycle(90, 0.5, 7)
    assert sales_cycle_forecast(deals, segments, overall, 700) == pytest.approx(6000)


def test_sales_cycle_needs_enough_won_deals() -> None:
    assert sales_cycle_forecast([("x", 10, 100)], {}, SegmentCycle(90, 0.5, 4)) is None
    assert sales_cycle_forecast([("x", 10, 100)], {}, SegmentCycle(None, None, 0)) is None


# --- 4. rep judgement / categories --------------------------------------------------


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Commit", "commit"),
        ("Closed", "commit"),
        ("Best Case", "best case"),
        ("best case", "best case"),
        ("Pipeline", "pipeline"),
        (None, "pipeline"),
        ("", "pipeline"),
        ("Omitted", None),
    ],
)
def test_category_of(label: str | None, expected: str | None) -> None:
    assert category_of(label) == expected


def test_calls_are_cumulative() -> None:
    # fields: commit = 1000 won + 2000 commit = 3000; best = 3000 + 4000; pipeline = 7000 + 500
    assert call_from_fields(1000, {"commit": 2000, "best case": 4000, "pipeline": 500}) == (
        CategoryCall(3000, 7000, 7500)
    )
    # a submission without a best case: best case = commit, pipeline as given
    assert call_from_submission({"commit": 5000, "pipeline": 9000}) == CategoryCall(
        5000, 5000, 9000
    )


def test_rollup_by_manager() -> None:
    calls = {
        "Ann": CategoryCall(2500, 4000, 6000),
        "Bob": CategoryCall(0, 10000, 10000),
        "Cara": CategoryCall(0, 0, 5000),
        "Zed": CategoryCall(1, 1, 1),  # not in the roster
    }
    managers = {"Ann": "Mia", "Bob": "Mia", "Cara": "Max"}
    assert rollup_calls(calls, managers) == {
        "Mia": CategoryCall(2500, 14000, 16000),
        "Max": CategoryCall(0, 0, 5000),
        "(none)": CategoryCall(1, 1, 1),
    }


def test_blend_is_the_plain_average() -> None:
    assert blend([100, 300]) == 200
    assert blend([100, None]) is None
    assert blend([]) is None


# --- the methods on the fixture, as of snapshot S1 ----------------------------------


@pytest.fixture
def loaded(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    return load_forecast(con, tmp_path)


# (period, filters, method -> expected) as of S1 (2024-03-25), calls submitted before the
# period's first day. Arithmetic in the comments.
S1_CASES = [
    (
        "2024-04",
        {},
        {
            # A1 1000 x 60% + A2 10000 x 40% + A3 5000 x 10% + A4 2000 x 80%
            # = 600 + 4000 + 500 + 1600; A5 (May), A6 (overdue, March), A7 (July) are out.
            STAGE_WEIGHTED: 6700,
            # last 90 days (2023-12-27..2024-03-25): H01 + H02 + H03 = 36000 -> 12000 a month;
            # growth: year 46000 (H01-H06, H08) / year before 40000 (H10) - 1 = 15% -> 1800;
            # new reps: Cara (hired 2024-03-01) x Dan's first month (H05 + H06: 2 deals,
            # average 2000) = 4000. 12000 + 1800 + 4000 = 17800.
            RUN_RATE: 17800,
            # ages on 2024-04-30 against 90 days, x win rate 0.5 (44000 won / 88000 closed):
            # A1 90 -> 1000 x 1 x .5 = 500; A2 45 -> 10000 x .5 x .5 = 2500;
            # A3 54 -> 5000 x .6 x .5 = 1500; A4 (Renewal: 1 won deal -> overall 90 days, 0.5)
            # 72 -> 2000 x .8 x .5 = 800. 500 + 2500 + 1500 + 800 = 5300.
            SALES_CYCLE: 5300,
            # Ann's call of 2024-03-28 (commit 2500, best 4000; her 03-20 call is older, the
            # 04-20 one is later than the cut-off); Bob's call comes on 04-02 (after day 1), so
            # his deals' fields count: A2 Best Case 10000; Cara: A3 Pipeline 5000.
            # commit 2500 + 0 + 0; best case 4000 + 10000 + 0.
            COMMIT: 2500,
            BEST_CASE: 14000,
        },
    ),
    (
        "2024-Q2",
        {},
        {
            # April's 6700 + A5 8000 x 20% (May) = 8300.
            STAGE_WEIGHTED: 8300,
            # three months: (12000 + 1800 + 4000) x 3 = 53400.
            RUN_RATE: 53400,
            # on 2024-06-30 every open deal is past 90 days: (1000 + 10000 + 5000 + 2000 + 8000)
            # x 1 x 0.5 = 13000.
            SALES_CYCLE: 13000,
            # Ann's April call covers her April deals; Bob: A2 best case 10000 + A5 pipeline.
            COMMIT: 2500,
            BEST_CASE: 14000,
        },
    ),
    (
        "2024-04",
        {"team": "East"},
        {
            # Ann and Bob only: 600 + 4000 + 1600 = 6200 (Cara's A3 is West).
            STAGE_WEIGHTED: 6200,
            # 36000 / 3 = 12000; growth: East's year 42000 (H01-H04, H08) / 40000 - 1 = 5%;
            # no new East rep and no past East hire: 12000 + 600 = 12600.
            RUN_RATE: 12600,
            COMMIT: 2500,
            BEST_CASE: 14000,
        },
    ),
]


@pytest.mark.parametrize(
    ("label", "filters", "expected"), S1_CASES, ids=["april", "q2", "april-east"]
)
def test_methods_on_the_fixture_as_of_s1(
    loaded: duckdb.DuckDBPyConnection,
    label: str,
    filters: dict[str, str],
    expected: dict[str, float],
) -> None:
    scope = Scope(Period.parse(label), **filters)
    ask = start_ask(scope.period, S1)
    values = forecast_values(fi.gather(loaded, [ask], scope)[ask.key], DEFAULTS)
    for method, value in expected.items():
        assert values[method] == pytest.approx(value), method


def test_fixture_inputs_as_of_s1(loaded: duckdb.DuckDBPyConnection) -> None:
    """The inputs behind the April figures, so a wrong one is named, not just the total."""
    scope = Scope(Period.parse("2024-04"))
    ask = start_ask(scope.period, S1)
    ins = fi.gather(loaded, [ask], scope)[ask.key]
    assert ins.already_won == 0
    assert ins.open_amount == 18000  # 1000 + 10000 + 5000 + 2000
    assert ins.open_deals == 4
    assert ins.open_by_stage == {"Trial": 1000, "Demo": 10000, "Discovery": 5000,
                                 "Final Decision": 2000}  # fmt: skip
    assert ins.segments["New Business"] == SegmentCycle(90.0, 0.5, 6)
    assert ins.segments["Renewal"] == SegmentCycle(30.0, 0.5, 1)
    assert ins.overall_cycle == SegmentCycle(90.0, 0.5, 7)
    rr = ins.run_rate
    assert rr is not None
    assert (rr.revenue_90, rr.revenue_year, rr.revenue_prev_year) == (36000, 46000, 40000)
    assert (rr.new_reps, rr.deals_per_new_rep, rr.avg_new_rep_deal) == (1, 2.0, 2000.0)
    assert rr.months_remaining == 1.0
    # Q2: Bob's fields add A5 (pipeline 8000): pipeline 6000 + 18000 + 5000 = 29000
    q2 = Scope(Period.parse("2024-Q2"))
    q2_ask = start_ask(q2.period, S1)
    assert total_call(fi.gather(loaded, [q2_ask], q2)[q2_ask.key]) == CategoryCall(
        2500, 14000, 29000
    )
    assert ins.calls == {
        "Ann Lee": CategoryCall(2500, 4000, 6000),
        "Bob Stone": CategoryCall(0, 10000, 10000),
        "Cara Diaz": CategoryCall(0, 0, 5000),
    }
    assert ins.submitted_owners == 1


def test_no_categories_anywhere_means_no_rep_forecast(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """An export without a forecast-category column and no calls: the method has no basis."""
    path = tmp_path / "plain.csv"
    path.write_text(
        "opportunity_id,opportunity_name,account,owner,stage,amount,created_date,close_date\n"
        "P1,Deal P1,Acme,Ann Lee,Trial,1000,2024-03-01,2024-04-20\n",
        encoding="utf-8",
    )
    assert import_file(con, path, data_dir=tmp_path, as_of=S1).ok
    scope = Scope(Period.parse("2024-04"))
    ask = start_ask(scope.period, S1)
    values = forecast_values(fi.gather(con, [ask], scope)[ask.key], DEFAULTS)
    assert values[STAGE_WEIGHTED] == pytest.approx(600)
    assert values[COMMIT] is None and values[BEST_CASE] is None
    assert values[RUN_RATE] is None  # nothing ever won: no run-rate
    assert values[SALES_CYCLE] is None  # no won deals: no typical cycle


@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        ({30: 1, 39: 1, 90: 5}, 90),  # the fixture's 7 won cycles: 30, 39, 90 x 5
        ({1: 1, 3: 1}, 2),  # even count: the mean of the two middle values
        ({5: 2, 7: 2}, 6),  # 5, 5, 7, 7
        ({10: 3}, 10),
        ({4: 1, 1: 1, 9: 1}, 4),  # given unsorted
        ({}, None),
    ],
)
def test_median_from_cycle_counts(counts: dict[float, int], expected: float | None) -> None:
    """The typical cycle is read from (cycle length -> deals) counts, exactly like SQL median."""
    assert fi.median_of(counts) == expected
