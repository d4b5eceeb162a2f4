"""The rep quadrant: the classification rule case by case, then `quadrant` on a hand-made book.

The fixture (written by `write_fixture`, imported through the real importer) has two
quarters, 2024-Q1 (previous) and 2024-Q2 (current), a quota of 10,000 per rep and quarter,
and one rep per quadrant plus a low-sample one:

    rep        team  Q1 won   Q2 won  Q2 closed  attained Q2  change (pp)  quadrant
    Ann Lee    East   8,000   15,000  3          150%         +70          rising star
    Bob Stone  East  20,000   12,000  4          120%         -80          falling star
    Cara Diaz  West   2,000    6,000  3           60%         +40          improving laggard
    Dan Ghost  West   9,000    4,000  3           40%         -50          declining laggard
    Eve Moss   West       0   30,000  1          300%        +300          rising star, low sample

The x split is 100% of quota (the default when quotas exist). Max Boss manages and sells
nothing: he is on the roster but not in the quadrant. A quarter is its own window; a month
is judged over the trailing quarter (2024-06 over April-June, against January-March).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics import db
from analytics.ingest import import_file
from analytics.metrics.kpis import kpi_table
from analytics.metrics.performance import attainment_table
from analytics.quadrant import (
    DECLINING_LAGGARD,
    FALLING_STAR,
    IMPROVING_LAGGARD,
    QUADRANT_COLUMNS,
    RISING_STAR,
    attainment_available,
    classify,
    default_x_split,
    quadrant,
)
from analytics.scope import Period, Scope

AS_OF = date(2024, 7, 15)
Q2 = Scope(Period.parse("2024-Q2"))

REPS_CSV = """rep,manager,team,region,role,level
Ann Lee,Max Boss,East,EMEA,AE,senior
Bob Stone,Max Boss,East,EMEA,AE,junior
Cara Diaz,Max Boss,West,AMER,AE,senior
Dan Ghost,Max Boss,West,AMER,AE,junior
Eve Moss,Max Boss,West,AMER,AE,junior
Max Boss,,East,EMEA,manager,senior
"""

QUOTAS_CSV = "owner,period_start,period_end,amount\n" + "".join(
    f"{rep},{start},{end},10000\n"
    for rep in ("Ann Lee", "Bob Stone", "Cara Diaz", "Dan Ghost", "Eve Moss")
    for start, end in (("2024-01-01", "2024-03-31"), ("2024-04-01", "2024-06-30"))
)

# (owner, stage, amount, created, closed)
DEALS: list[tuple[str, str, int, str, str]] = [
    # Ann: Q1 8,000 won + 1 lost; Q2 15,000 won (3 deals); one open deal of 5,000 (Demo).
    ("Ann Lee", "Closed Won", 4000, "2023-12-01", "2024-02-10"),
    ("Ann Lee", "Closed Won", 4000, "2023-12-05", "2024-03-12"),
    ("Ann Lee", "Closed Lost", 3000, "2023-12-10", "2024-03-20"),
    ("Ann Lee", "Closed Won", 5000, "2024-02-01", "2024-04-10"),
    ("Ann Lee", "Closed Won", 5000, "2024-02-15", "2024-05-10"),
    ("Ann Lee", "Closed Won", 5000, "2024-03-01", "2024-06-10"),
    ("Ann Lee", "Demo", 5000, "2024-06-01", "2024-09-30"),
    # Bob: Q1 20,000 won + 1 lost; Q2 12,000 won (3 deals) + 1 lost.
    ("Bob Stone", "Closed Won", 10000, "2023-11-01", "2024-01-20"),
    ("Bob Stone", "Closed Won", 10000, "2023-11-15", "2024-02-20"),
    ("Bob Stone", "Closed Lost", 2000, "2023-12-01", "2024-03-05"),
    ("Bob Stone", "Closed Won", 4000, "2024-02-01", "2024-04-15"),
    ("Bob Stone", "Closed Won", 4000, "2024-02-10", "2024-05-15"),
    ("Bob Stone", "Closed Won", 4000, "2024-03-01", "2024-06-15"),
    ("Bob Stone", "Closed Lost", 6000, "2024-03-10", "2024-06-20"),
    # Cara: Q1 2,000 won + 2 lost; Q2 6,000 won (2 deals) + 1 lost.
    ("Cara Diaz", "Closed Won", 2000, "2023-12-01", "2024-01-30"),
    ("Cara Diaz", "Closed Lost", 1000, "2023-12-02", "2024-02-02"),
    ("Cara Diaz", "Closed Lost", 1000, "2023-12-03", "2024-03-03"),
    ("Cara Diaz", "Closed Won", 3000, "2024-03-01", "2024-04-20"),
    ("Cara Diaz", "Closed Won", 3000, "2024-03-05", "2024-05-20"),
    ("Cara Diaz", "Closed Lost", 2500, "2024-03-10", "2024-06-05"),
    # Dan: Q1 9,000 won (3 deals); Q2 4,000 won + 2 lost.
    ("Dan Ghost", "Closed Won", 3000, "2023-12-01", "2024-01-10"),
    ("Dan Ghost", "Closed Won", 3000, "2023-12-02", "2024-02-11"),
    ("Dan Ghost", "Closed Won", 3000, "2023-12-03", "2024-03-12"),
    ("Dan Ghost", "Closed Won", 4000, "2024-03-01", "2024-04-25"),
    ("Dan Ghost", "Closed Lost", 1500, "2024-03-02", "2024-05-25"),
    ("Dan Ghost", "Closed Lost", 1500, "2024-03-03", "2024-06-25"),
    # Eve: nothing in Q1; one 30,000 win in Q2.
    ("Eve Moss", "Closed Won", 30000, "2024-03-15", "2024-05-30"),
]

EXPECTED = {
    # rep: (x = attainment, y = change, quadrant, low sample, closed deals in Q2)
    "Ann Lee": (1.5, 0.7, RISING_STAR, False, 3),
    "Bob Stone": (1.2, -0.8, FALLING_STAR, False, 4),
    "Cara Diaz": (0.6, 0.4, IMPROVING_LAGGARD, False, 3),
    "Dan Ghost": (0.4, -0.5, DECLINING_LAGGARD, False, 3),
    "Eve Moss": (3.0, 3.0, RISING_STAR, True, 1),
}


def write_fixture(folder: Path, *, quotas: bool = True) -> list[tuple[Path, str]]:
    """Write the fixture's CSV files; returns (path, kind) in import order."""
    folder.mkdir(parents=True, exist_ok=True)
    reps = folder / "quadrant_reps.csv"
    reps.write_text(REPS_CSV, encoding="utf-8")
    opps = folder / "quadrant_opps.csv"
    lines = ["opportunity_id,opportunity_name,account,owner,stage,amount,currency,"
             "created_date,close_date"]  # fmt: skip
    for i, (owner, stage, amount, created, closed) in enumerate(DEALS, start=1):
        lines.append(
            f"Q-{i:03d},Deal {i},Account {i},{owner},{stage},{amount},USD,{created},{closed}"
        )
    opps.write_text("\n".join(lines) + "\n", encoding="utf-8")
    files = [(reps, "reps"), (opps, "opportunities")]
    if quotas:
        quota_file = folder / "quadrant_quotas.csv"
        quota_file.write_text(QUOTAS_CSV, encoding="utf-8")
        files.append((quota_file, "quotas"))
    return files


def load_fixture(con: duckdb.DuckDBPyConnection, folder: Path, *, quotas: bool = True) -> None:
    """Import the fixture through the real importer (as ops would upload it)."""
    for path, kind in write_fixture(folder / "files", quotas=quotas):
        result = import_file(con, path, kind=kind, as_of=AS_OF, data_dir=folder)
        assert result.ok, result.message


# --- classify ------------------------------------------------------------------------------

CASES = [
    # x, y, x_split, y_split, expected
    (1.5, 0.2, 1.0, 0.0, RISING_STAR),
    (1.5, -0.2, 1.0, 0.0, FALLING_STAR),
    (0.5, 0.2, 1.0, 0.0, IMPROVING_LAGGARD),
    (0.5, -0.2, 1.0, 0.0, DECLINING_LAGGARD),
    # boundaries: on the x split counts as high, on the y split as up
    (1.0, 0.0, 1.0, 0.0, RISING_STAR),
    (1.0, -0.0001, 1.0, 0.0, FALLING_STAR),
    (0.9999, 0.0, 1.0, 0.0, IMPROVING_LAGGARD),
    (0.9999, -0.0001, 1.0, 0.0, DECLINING_LAGGARD),
    # a non-zero y split moves the line: growth below it is not enough
    (2.0, 0.05, 1.0, 0.1, FALLING_STAR),
    (2.0, 0.1, 1.0, 0.1, RISING_STAR),
    (0.2, -0.1, 1.0, -0.1, IMPROVING_LAGGARD),
    # negative and zero values (bookings can be 0, changes negative)
    (0.0, 0.0, 0.0, 0.0, RISING_STAR),
    (0.0, -5000.0, 1000.0, 0.0, DECLINING_LAGGARD),
    (-1.0, 1.0, 0.0, 0.0, IMPROVING_LAGGARD),
    # money-sized figures (the bookings axis)
    (120_000.0, -1.0, 120_000.0, 0.0, FALLING_STAR),
    (119_999.99, 1.0, 120_000.0, 0.0, IMPROVING_LAGGARD),
]


@pytest.mark.parametrize(("x", "y", "x_split", "y_split", "expected"), CASES)
def test_classify(x: float, y: float, x_split: float, y_split: float, expected: str) -> None:
    assert classify(x, y, x_split, y_split) == expected


def test_classify_default_y_split_is_zero() -> None:
    assert classify(2.0, 0.0, 1.0) == RISING_STAR
    assert classify(2.0, -0.01, 1.0) == FALLING_STAR


@pytest.mark.parametrize("missing", ["x", "y", "x_split", "y_split"])
@pytest.mark.parametrize("value", [math.nan, None])
def test_classify_refuses_a_missing_value(missing: str, value: float | None) -> None:
    args = {"x": 1.0, "y": 1.0, "x_split": 1.0, "y_split": 0.0} | {missing: value}
    with pytest.raises(ValueError, match=missing):
        classify(**args)


# --- quadrant over the fixture -----------------------------------------------------------------


@pytest.fixture
def book(db_path: Path, db_template: Callable[..., Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    """The fixture with quotas, imported once per test process and copied for this test (conftest
    `db_template`): a private file the test may change."""
    con = db.connect(db_template("test_quadrant.book", load_fixture, db_path))
    yield con
    con.close()


def _by_rep(frame: object) -> dict[str, dict]:
    return {r["rep"]: r for r in frame.to_dict("records")}  # type: ignore[attr-defined]


def test_one_rep_per_quadrant_and_a_low_sample_one(book: duckdb.DuckDBPyConnection) -> None:
    q = quadrant(book, Q2)
    assert list(q.columns) == list(QUADRANT_COLUMNS)
    assert q.attrs["x_metric"] == "quota_attainment"
    assert q.attrs["x_split"] == pytest.approx(1.0)  # 100% of quota, not a median
    assert q.attrs["x_split_rule"] == "100% of quota"
    assert q.attrs["period"] == "2024-Q2"
    assert q.attrs["previous_period"] == "2024-Q1"
    rows = _by_rep(q)
    assert set(rows) == set(EXPECTED)  # Max Boss sells nothing: not in the quadrant
    for rep, (x, y, where, low, closed) in EXPECTED.items():
        row = rows[rep]
        assert row["x"] == pytest.approx(x), rep
        assert row["y"] == pytest.approx(y), rep
        assert row["quadrant"] == where, rep
        assert row["low_sample"] is low, rep
        assert row["closed_deals"] == closed, rep
        assert row["note"] is None, rep
    assert rows["Ann Lee"]["team"] == "East"
    assert rows["Dan Ghost"]["region"] == "AMER"
    assert rows["Ann Lee"]["open_pipeline"] == pytest.approx(5000)
    assert rows["Bob Stone"]["bookings"] == pytest.approx(12000)
    assert rows["Bob Stone"]["previous_bookings"] == pytest.approx(20000)
    assert rows["Bob Stone"]["win_rate"] == pytest.approx(0.75)


def test_quadrant_figures_are_kpi_table_figures(book: duckdb.DuckDBPyConnection) -> None:
    """The quadrant never computes a KPI itself: x is the leaderboard's attainment."""
    table = kpi_table(book, Q2, "rep").set_index("rep")
    for row in quadrant(book, Q2).to_dict("records"):
        assert row["x"] == pytest.approx(table.loc[row["rep"], "quota_attainment"])
        assert row["bookings"] == pytest.approx(table.loc[row["rep"], "bookings"])


@pytest.mark.parametrize("x_metric", ["quota_attainment", "bookings"])
@pytest.mark.parametrize("scope", [Q2, Scope(Q2.period, team="West")], ids=["all", "West"])
def test_given_tables_give_the_same_quadrant(
    book: duckdb.DuckDBPyConnection, x_metric: str, scope: Scope
) -> None:
    """The page hands the quadrant its leaderboard table; the previous period's full
    kpi_table and the default attainment_table must place every rep alike."""
    alone = quadrant(book, scope, x_metric=x_metric)
    board = kpi_table(book, scope, "rep")
    given = quadrant(book, scope, x_metric=x_metric, current=board)
    full_before = quadrant(
        book, scope, x_metric=x_metric, previous=kpi_table(book, scope.previous(), "rep")
    )
    for other in (given, full_before):
        assert other.attrs == alone.attrs
        assert other[["rep", "quadrant", "low_sample", "note"]].equals(
            alone[["rep", "quadrant", "low_sample", "note"]]
        )
        for column in ("x", "y", "bookings", "previous_bookings", "previous_quota_attainment"):
            assert other[column].tolist() == pytest.approx(alone[column].tolist(), nan_ok=True)


def test_low_sample_threshold_is_adjustable(book: duckdb.DuckDBPyConnection) -> None:
    rows = _by_rep(quadrant(book, Q2, min_closed_deals=4))
    assert [r for r in rows if rows[r]["low_sample"]] == [
        "Ann Lee", "Cara Diaz", "Dan Ghost", "Eve Moss",
    ]  # fmt: skip
    rows = _by_rep(quadrant(book, Q2, min_closed_deals=0))
    assert not any(r["low_sample"] for r in rows.values())
    with pytest.raises(ValueError):
        quadrant(book, Q2, min_closed_deals=-1)


def test_splits_are_adjustable(book: duckdb.DuckDBPyConnection) -> None:
    rows = _by_rep(quadrant(book, Q2, x_split=2.0, y_split=0.5))
    assert rows["Ann Lee"]["quadrant"] == IMPROVING_LAGGARD  # 150% < 200%, +70 pp >= +50
    assert rows["Cara Diaz"]["quadrant"] == DECLINING_LAGGARD  # +40 pp < +50 pp
    assert rows["Eve Moss"]["quadrant"] == RISING_STAR
    q = quadrant(book, Q2, x_split=2.0, y_split=0.5)
    assert (q.attrs["x_split"], q.attrs["y_split"]) == (2.0, 0.5)


def test_bookings_on_request(book: duckdb.DuckDBPyConnection) -> None:
    q = quadrant(book, Q2, x_metric="bookings")
    assert q.attrs["x_metric"] == "bookings"
    assert q.attrs["x_split"] == pytest.approx(12000)  # median bookings of who closed: Bob
    assert q.attrs["x_split_rule"] == "median of the reps who won deals"
    rows = _by_rep(q)
    assert rows["Ann Lee"]["y"] == pytest.approx(7000)
    assert rows["Eve Moss"]["y"] == pytest.approx(30000)  # nothing in Q1 counts as 0
    assert {r: rows[r]["quadrant"] for r in rows} == {r: e[2] for r, e in EXPECTED.items()}


def test_falls_back_to_bookings_without_quotas(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    load_fixture(con, tmp_path, quotas=False)
    q = quadrant(con, Q2)
    assert q.attrs["x_metric_requested"] == "quota_attainment"
    assert q.attrs["x_metric"] == "bookings"
    rows = _by_rep(q)
    assert rows["Dan Ghost"]["x"] == pytest.approx(4000)
    assert rows["Dan Ghost"]["quadrant"] == DECLINING_LAGGARD
    assert set(rows) == set(EXPECTED)


def test_rep_without_a_quota_is_kept_but_not_placed(book: duckdb.DuckDBPyConnection) -> None:
    """Others have quotas, so attainment stays; the rep without one is listed, not guessed."""
    book.execute("DELETE FROM quotas WHERE owner = 'Cara Diaz' AND period_start = '2024-04-01'")
    rows = _by_rep(quadrant(book, Q2))
    assert rows["Cara Diaz"]["quadrant"] is None
    assert rows["Cara Diaz"]["note"] == "no quota in 2024-Q2"
    assert rows["Ann Lee"]["quadrant"] == RISING_STAR
    book.execute("DELETE FROM quotas WHERE owner = 'Dan Ghost' AND period_start = '2024-01-01'")
    assert _by_rep(quadrant(book, Q2))["Dan Ghost"]["note"] == "no quota in 2024-Q1"


def test_team_filter_narrows_the_reps_not_the_quota_line(book: duckdb.DuckDBPyConnection) -> None:
    q = quadrant(book, Scope(Q2.period, team="West"))
    assert set(q["rep"]) == {"Cara Diaz", "Dan Ghost", "Eve Moss"}
    assert q.attrs["x_split"] == pytest.approx(1.0)
    # 60% of quota is below the line whoever her peers are: no star among laggards.
    assert _by_rep(q)["Cara Diaz"]["quadrant"] == IMPROVING_LAGGARD
    on_bookings = quadrant(book, Scope(Q2.period, team="West"), x_metric="bookings")
    assert on_bookings.attrs["x_split"] == pytest.approx(6000)  # median of 6,000, 4,000, 30,000
    assert _by_rep(on_bookings)["Cara Diaz"]["quadrant"] == RISING_STAR  # on the line: high


def test_period_without_closed_deals_is_not_enough_data(book: duckdb.DuckDBPyConnection) -> None:
    """2020: no deal existed yet. Ann's one open deal was created in June 2024, so on 31
    March 2020 (the period's end, when its open deals are counted) nobody had a deal, and
    nobody is placed (never a star at 0)."""
    q = quadrant(book, Scope(Period.parse("2020-Q1")))
    assert q.attrs["x_metric"] == "bookings"
    assert q.empty


def test_empty_roster_gives_an_empty_frame(con: duckdb.DuckDBPyConnection) -> None:
    q = quadrant(con, Q2)
    assert q.empty
    assert list(q.columns) == list(QUADRANT_COLUMNS)


# --- windows, splits and sparse data, case by case ------------------------------------------


def test_a_month_is_judged_over_the_trailing_quarter(book: duckdb.DuckDBPyConnection) -> None:
    """June 2024 is judged over April-June against January-March: the Q2 figures."""
    month = quadrant(book, Scope(Period.parse("2024-06")))
    assert month.attrs["period"] == "2024-04 – 2024-06"
    assert month.attrs["previous_period"] == "2024-01 – 2024-03"
    assert month.attrs["viewed_period"] == "2024-06"
    assert month.attrs["window_months"] == 3
    rows = _by_rep(month)
    for rep, (x, y, where, _low, closed) in EXPECTED.items():
        assert rows[rep]["x"] == pytest.approx(x), rep
        assert rows[rep]["y"] == pytest.approx(y), rep
        assert rows[rep]["quadrant"] == where, rep
        assert rows[rep]["closed_deals"] == closed, rep


@pytest.mark.parametrize(
    ("months", "period", "previous"),
    [
        (1, "2024-06", "2024-05"),
        (3, "2024-04 – 2024-06", "2024-01 – 2024-03"),
        (6, "2024-01 – 2024-06", "2023-07 – 2023-12"),
        (12, "2023-07 – 2024-06", "2022-07 – 2023-06"),
    ],
)
def test_window_is_configurable(
    book: duckdb.DuckDBPyConnection, months: int, period: str, previous: str
) -> None:
    q = quadrant(book, Scope(Period.parse("2024-06")), window_months=months)
    assert (q.attrs["period"], q.attrs["previous_period"]) == (period, previous)
    assert q.attrs["window_months"] == months


def test_one_month_window_counts_that_month_only(book: duckdb.DuckDBPyConnection) -> None:
    """June alone: Ann won 5,000, Bob 4,000 + a loss; Eve won 30,000 in May and nothing in
    June: placed (she closed in the window before) and declining, not "not enough data"."""
    rows = _by_rep(quadrant(book, Scope(Period.parse("2024-06")), window_months=1))
    assert rows["Ann Lee"]["bookings"] == pytest.approx(5000)
    assert rows["Bob Stone"]["closed_deals"] == 2
    assert rows["Eve Moss"]["x"] == pytest.approx(0.0)
    assert rows["Eve Moss"]["quadrant"] == DECLINING_LAGGARD


def test_all_zero_months_make_no_star(book: duckdb.DuckDBPyConnection) -> None:
    """August 2024 alone: nobody closed anything in July or August. Holding 0 is not a
    rising star: every rep is not enough data."""
    q = quadrant(book, Scope(Period.parse("2024-08")), window_months=1)
    assert len(q) >= 1
    assert q["quadrant"].isna().all()
    assert all(n.startswith("not enough data") for n in q["note"])


def test_no_quotas_split_is_the_median_of_reps_who_closed(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Without quotas the measure is bookings, and the line is the median of the reps who
    closed deals: 12,000 (Bob) of 15,000, 12,000, 6,000, 4,000, 30,000."""
    load_fixture(con, tmp_path, quotas=False)
    q = quadrant(con, Q2)
    assert q.attrs["x_metric"] == "bookings"
    assert q.attrs["x_split"] == pytest.approx(12000)
    assert q.attrs["x_split_rule"] == "median of the reps who won deals"
    assert (q["quadrant"] == RISING_STAR).sum() == 2  # Ann and Eve, not everybody


def test_attainment_available_says_whether_quotas_exist(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    load_fixture(con, tmp_path, quotas=False)
    assert attainment_available(con, Q2) is False
    other = db.connect(tmp_path / "with_quotas.duckdb")
    try:
        load_fixture(other, tmp_path / "q")
        assert attainment_available(other, Q2) is True
        assert attainment_available(other, Scope(Period.parse("2024-06"))) is True
        assert attainment_available(other, Scope(Period.parse("2025-06"))) is False
    finally:
        other.close()


def test_one_rep_in_view(book: duckdb.DuckDBPyConnection) -> None:
    """A manager looking at one rep: the quota line still applies (150% is high)."""
    q = quadrant(book, Scope(Q2.period, rep="Ann Lee"))
    assert list(q["rep"]) == ["Ann Lee"]
    assert q["quadrant"].iloc[0] == RISING_STAR
    alone = quadrant(book, Scope(Q2.period, rep="Dan Ghost"), x_metric="bookings")
    # on bookings a lone rep is the median: on the line counts as high
    assert alone.attrs["x_split"] == pytest.approx(4000)
    assert alone["quadrant"].iloc[0] == FALLING_STAR


def test_rep_exactly_at_quota_is_high(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """Cara with one more 4,000 win in Q2 reaches exactly 10,000 = 100%: on the line
    counts as high, so she is a rising star (+80 pp)."""
    load_fixture(con, tmp_path)
    extra = tmp_path / "extra.csv"
    extra.write_text(
        "opportunity_id,opportunity_name,account,owner,stage,amount,currency,created_date,"
        "close_date\nQ-900,Deal 900,Account 900,Cara Diaz,Closed Won,4000,USD,2024-03-20,"
        "2024-06-28\n",
        encoding="utf-8",
    )
    done = import_file(con, extra, kind="opportunities", as_of=AS_OF, data_dir=tmp_path)
    assert done.ok, done.message
    cara = _by_rep(quadrant(con, Q2))["Cara Diaz"]
    assert cara["x"] == pytest.approx(1.0)
    assert cara["y"] == pytest.approx(0.8)
    assert cara["quadrant"] == RISING_STAR


def test_a_rep_who_only_lost_is_never_a_star_on_bookings() -> None:
    """Without quotas, reps with 0 bookings (only lost deals) are below the split: the
    median is taken over the reps who won, so it is never 0."""
    placed = pd.DataFrame(
        {"x": [0.0, 0.0, 5000.0, 9000.0], "won_deals": [0, 0, 1, 2],
         "closed_deals": [2, 1, 1, 2]}
    )  # fmt: skip
    split, rule = default_x_split("bookings", placed)
    assert (split, rule) == (7000.0, "median of the reps who won deals")
    assert classify(0.0, 0.0, split) == IMPROVING_LAGGARD
    nobody_won = placed.assign(x=0.0, won_deals=0)
    assert math.isnan(default_x_split("bookings", nobody_won)[0])


@pytest.mark.parametrize("quotas", [True, False])
@pytest.mark.parametrize("period", ["2024-Q2", "2024-06", "2024-05", "2025-06"])
def test_attainment_available_agrees_with_the_quadrants_fallback(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, quotas: bool, period: str
) -> None:
    """The Reps page's controls (attainment_available) and the chart (quadrant's x_metric)
    judge from the same tables, so "% of quota" is offered exactly when it is drawn; and
    the page's cached stand-ins give the same verdict as the defaults."""
    load_fixture(con, tmp_path, quotas=quotas)
    scope = Scope(Period.parse(period))
    seen: list[str] = []

    def attainment(c: duckdb.DuckDBPyConnection, s: Scope, by: str) -> pd.DataFrame:
        seen.append(s.period.label)
        return attainment_table(c, s, by)

    available = attainment_available(con, scope)
    assert available is attainment_available(con, scope, kpi=kpi_table, attainment=attainment)
    assert seen, "the attainment function given was not used"
    drawn = quadrant(con, scope, x_metric="quota_attainment").attrs["x_metric"]
    assert available is (drawn == "quota_attainment")
