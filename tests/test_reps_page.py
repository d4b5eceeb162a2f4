"""Overview and Reps pages with AppTest, over the quadrant fixture (tests/test_quadrant.py).

Both pages must render for every period kind (month, quarter, year, fiscal quarter), follow
the filters, never show an exception or an error box, and choosing a rep on the Reps page
must open that rep's drill-down. The drill-down's queries are checked here too, against
the fixture's hand-made deals.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from test_quadrant import AS_OF, DEALS, EXPECTED, Q2, load_fixture

from analytics import db, drilldown
from analytics.funnel import NO_STAGES_SEEN
from analytics.ingest import import_file
from analytics.markup import plain
from analytics.metrics.kpis import KPI_COLUMNS, kpi_table
from analytics.scope import Period, Scope, save_fiscal_start_month

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 90  # seconds per script run: generous for slow CI machines, never asserted on

PERIOD_VIEWS = [
    # (query string, a period label the sidebar should show)
    ({"kind": "Month", "period": "2024-05"}, "2024-05"),
    ({"kind": "Quarter", "period": "2024-Q2"}, "2024-Q2"),
    ({"kind": "Year", "period": "2024"}, "2024"),
    ({"kind": "Fiscal quarter", "period": "FY2025-Q1"}, "FY2025-Q1"),
    ({"kind": "Fiscal year", "period": "FY2025"}, "FY2025"),
]


def load_april_fixture(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """The quadrant fixture with an April fiscal year."""
    load_fixture(con, folder)
    save_fiscal_start_month(con, 4)


@pytest.fixture
def app_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_template: Callable[..., Path]
) -> Path:
    """The fixture with an April fiscal year, so fiscal periods are offered: imported once per
    test process and copied for this test (conftest `db_template`), a private file."""
    path = db_template("test_reps_page.app_db", load_april_fixture, tmp_path / "reps.duckdb")
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def start(page: str | None = None, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    at.run()
    if page:
        at.switch_page(page).run()
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [plain(e.value) for e in at.error]


def metric(at: AppTest, label: str) -> str:
    matches = [m.value for m in at.metric if m.label == label]
    assert matches, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return matches[0]


def metric_delta(at: AppTest, label: str) -> str:
    return next(m.delta for m in at.metric if m.label == label)


def headers(at: AppTest) -> list[str]:
    return [h.value for h in at.header]


def leaderboard(at: AppTest) -> object:
    frames = [d.value for d in at.dataframe if "quadrant" in d.value.columns]
    assert frames, "no leaderboard"
    return frames[-1]


# --- Overview --------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "label"), PERIOD_VIEWS)
def test_overview_renders_for_every_period_kind(app_db: Path, query: dict, label: str) -> None:
    at = start(query=query)
    assert_clean(at)
    assert at.sidebar.selectbox(key="period").value == label
    assert metric(at, "Bookings") != ""
    assert any("last year" in plain(c.value) for c in at.caption)


def test_overview_cards_compare_with_previous_period_and_last_year(app_db: Path) -> None:
    at = start(query={"kind": "Quarter", "period": "2024-Q2"})
    assert_clean(at)
    assert metric(at, "Bookings") == "67,000"  # 15,000 + 12,000 + 6,000 + 4,000 + 30,000
    assert metric_delta(at, "Bookings") == "+28,000"  # 2024-Q1: 8,000 + 20,000 + 2,000 + 9,000
    assert metric(at, "Quota attainment") == "134.0%"  # 67,000 / (5 x 10,000)
    assert metric(at, "Reps at quota") == "60.0%"  # Ann, Bob, Eve of five with a quota
    assert metric(at, "Won deals") == "10"
    captions = [plain(c.value) for c in at.caption]
    # Last year (2023-Q2) no deal had been created yet (the data starts on 1 Nov 2023):
    # no figure to compare with on any card, counts included, never a change against 0.
    assert not any("67,000] vs 2023-Q2" in c for c in captions), captions
    yearly = [c for c in captions if "2023-Q2" in c and not c.startswith("Scope")]
    early = "2023-Q2: no data yet: the data starts on 01 Nov 2023"
    assert yearly[0] == early  # the first card: bookings
    assert not any(c.endswith("vs 2023-Q2") for c in captions), captions  # won deals too


def test_overview_follows_the_filters(app_db: Path) -> None:
    at = start(query={"kind": "Quarter", "period": "2024-Q2"})
    total = metric(at, "Bookings")
    at.sidebar.selectbox(key="team").set_value("East").run()
    assert_clean(at)
    assert metric(at, "Bookings") == "27,000"  # Ann 15,000 + Bob 12,000
    assert metric(at, "Bookings") != total
    at.sidebar.selectbox(key="rep").set_value("Ann Lee").run()
    assert metric(at, "Bookings") == "15,000"
    assert metric(at, "Win rate") == "100.0%"
    at.sidebar.selectbox(key="period").set_value("2024-Q1").run()
    assert metric(at, "Bookings") == "8,000"
    assert_clean(at)


# --- Reps -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "label"), PERIOD_VIEWS)
def test_reps_page_renders_for_every_period_kind(app_db: Path, query: dict, label: str) -> None:
    at = start("pages/reps.py", query)
    assert_clean(at)
    assert at.title[0].value == "Reps"
    assert at.sidebar.selectbox(key="period").value == label
    board = leaderboard(at)
    assert {"rep", "team", "quadrant", *KPI_COLUMNS} <= set(board.columns)
    assert "Leaderboard" in headers(at)


def test_reps_page_shows_the_quadrant_and_the_leaderboard(app_db: Path) -> None:
    at = start("pages/reps.py", {"kind": "Quarter", "period": "2024-Q2"})
    assert_clean(at)
    board = leaderboard(at).set_index("rep")
    for rep, (_, _, where, low, _) in EXPECTED.items():
        assert board.loc[rep, "quadrant"] == where
        assert bool(board.loc[rep, "low_sample"]) is low
    assert board.loc["Ann Lee", "bookings"] == 15000
    assert board.index[0] == "Eve Moss"  # sorted by bookings, highest first
    summary = " ".join(plain(c.value) for c in at.caption)
    assert "2 rising stars, 1 falling stars, 1 improving laggards, 1 declining laggards" in summary
    assert "x split 100.0% (100% of quota)" in summary
    assert "Judged over 2024-Q2 against 2024-Q1" in summary
    assert len(at.get("plotly_chart")) >= 1
    assert not headers(at)[0].startswith("Drill-down")  # nobody chosen yet


def test_reps_page_follows_the_filters(app_db: Path) -> None:
    at = start("pages/reps.py", {"kind": "Quarter", "period": "2024-Q2"})
    at.sidebar.selectbox(key="team").set_value("West").run()
    assert_clean(at)
    board = leaderboard(at)
    assert set(board["rep"]) == {"Cara Diaz", "Dan Ghost", "Eve Moss"}
    summary = " ".join(plain(c.value) for c in at.caption)
    assert "x split 100.0% (100% of quota)" in summary  # a quota line, not the team's median
    assert "1 rising stars, 0 falling stars, 1 improving laggards, 1 declining laggards" in summary
    at.sidebar.selectbox(key="period").set_value("2024-Q1").run()
    assert_clean(at)
    board = leaderboard(at).set_index("rep")
    assert board.loc["Dan Ghost", "bookings"] == 9000


def test_quadrant_settings_change_the_classification(app_db: Path) -> None:
    at = start("pages/reps.py", {"kind": "Quarter", "period": "2024-Q2"})
    at.selectbox(key="x_metric").set_value("bookings").run()
    assert_clean(at)
    summary = " ".join(plain(c.value) for c in at.caption)
    assert "x split 12,000 (median of the reps who won deals)" in summary
    at.number_input(key="x_split:bookings").set_value(20000).run()
    board = leaderboard(at).set_index("rep")
    assert board.loc["Ann Lee", "quadrant"] == "improving laggard"  # 15,000 < 20,000
    at.number_input(key="min_closed").set_value(0).run()
    assert not leaderboard(at)["low_sample"].fillna(False).any()
    assert_clean(at)


def test_choosing_a_rep_opens_the_drill_down(app_db: Path) -> None:
    at = start("pages/reps.py", {"kind": "Quarter", "period": "2024-Q2"})
    at.selectbox(key="focus").set_value("Bob Stone").run()
    assert_clean(at)
    assert "Drill-down: Bob Stone" in headers(at)
    assert metric(at, "Rep bookings") == "12,000"
    assert metric(at, "Rep win rate") == "75.0%"
    assert metric(at, "Rep closed deals") == "4"
    assert any("falling star" in plain(c.value) for c in at.caption)
    subheaders = [s.value for s in at.subheader]
    assert "KPIs over the last 12 quarters" in subheaders
    assert "Deals closed in 2024-Q2" in subheaders
    closed = next(d.value for d in at.dataframe if "outcome" in d.value.columns)
    assert sorted(closed["outcome"]) == ["lost", "won", "won", "won"]
    # AppTest does not write bound widgets back to its query_params; that the choice lands
    # in the URL is checked in the real browser (tests/e2e/test_browser_reps.py), and
    # test_drill_down_opens_from_a_shared_url checks the way back.


def test_drill_down_opens_from_a_shared_url(app_db: Path) -> None:
    at = start("pages/reps.py", {"kind": "Quarter", "period": "2024-Q2", "focus": "Ann Lee"})
    assert_clean(at)
    assert "Drill-down: Ann Lee" in headers(at)
    assert metric(at, "Rep bookings") == "15,000"
    assert metric(at, "Rep open pipeline") == "5,000"
    opened = next(d.value for d in at.dataframe if "expected_close_date" in d.value.columns)
    assert list(opened["stage"]) == ["Demo"]


def test_sidebar_rep_filter_opens_the_drill_down_and_keeps_the_peers(app_db: Path) -> None:
    at = start("pages/reps.py", {"kind": "Quarter", "period": "2024-Q2", "rep": "Dan Ghost"})
    assert_clean(at)
    assert "Drill-down: Dan Ghost" in headers(at)
    assert len(leaderboard(at)) > 1  # the quadrant and leaderboard still compare peers


def test_unknown_rep_in_url_is_ignored(app_db: Path) -> None:
    at = start("pages/reps.py", {"kind": "Quarter", "period": "2024-Q2", "focus": "Nobody"})
    assert_clean(at)
    assert not any(h.startswith("Drill-down") for h in headers(at))


def test_empty_database_points_to_data_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALES_DB", str(tmp_path / "empty.duckdb"))
    at = start("pages/reps.py")
    assert_clean(at)
    assert any("No deals in the database yet" in plain(i.value) for i in at.info)
    assert not at.dataframe


# --- drill-down queries ---------------------------------------------------------------------


@pytest.fixture
def book(db_path: Path, db_template: Callable[..., Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    """The quadrant fixture, imported once per test process and copied for this test (the
    same template as tests/test_quadrant.py's `book`): a private file the test may change."""
    connection = db.connect(db_template("test_quadrant.book", load_fixture, db_path))
    yield connection
    connection.close()


def test_kpi_history_is_kpi_table_per_period(book: duckdb.DuckDBPyConnection) -> None:
    history = drilldown.kpi_history(book, Q2, "Ann Lee")
    # 12 quarters asked; the history starts where the data starts (first deal in 2023-Q4),
    # so 2021-Q3 .. 2023-Q3 are left out rather than drawn as 0 bookings
    assert len(history) == 3
    assert history["period"].iloc[-1] == "2024-Q2"
    assert history["period"].iloc[-2] == "2024-Q1"
    assert history["period"].iloc[0] == "2023-Q4"
    assert list(history.columns) == ["period", "period_start", *KPI_COLUMNS]
    table = kpi_table(book, Scope(Period.parse("2024-Q1"), rep="Ann Lee"), "rep")
    assert history["bookings"].iloc[-2] == table["bookings"].iloc[0] == 8000
    assert history["quota_attainment"].iloc[-1] == pytest.approx(1.5)


def test_kpi_history_in_one_go_equals_one_table_per_period(
    book: duckdb.DuckDBPyConnection,
) -> None:
    """The drill-down reads its 12 periods with kpi_tables; kpi_table per period (the
    `kpi=` path) must give the same history."""
    together = drilldown.kpi_history(book, Q2, "Ann Lee")
    one_by_one = drilldown.kpi_history(book, Q2, "Ann Lee", kpi=kpi_table)
    assert together["period"].tolist() == one_by_one["period"].tolist()
    for column in KPI_COLUMNS:
        got, want = together[column].tolist(), one_by_one[column].tolist()
        if column == "at_or_above_quota":
            assert [None if pd.isna(v) else bool(v) for v in got] == [
                None if pd.isna(v) else bool(v) for v in want
            ], column
        else:
            assert got == pytest.approx(want, nan_ok=True), column


def test_closed_deals_add_up_to_bookings(book: duckdb.DuckDBPyConnection) -> None:
    closed = drilldown.closed_deals(book, Q2, "Bob Stone")
    assert len(closed) == 4
    won = closed[closed["outcome"] == "won"]
    assert won["amount"].sum() == 12000
    assert closed["close_date"].is_monotonic_decreasing


def test_open_deals_and_funnel(book: duckdb.DuckDBPyConnection) -> None:
    opened = drilldown.open_deals(book, "Ann Lee")
    assert list(opened["opportunity_id"]) == [
        f"Q-{i:03d}" for i, d in enumerate(DEALS, 1) if d[0] == "Ann Lee" and d[1] == "Demo"
    ]
    assert opened["weighted_amount"].iloc[0] == pytest.approx(2000)  # 5,000 x 40% (Demo)
    # The drill-down's funnel is the Funnel page's for the rep: deals created in Q2 (Ann's
    # open Demo deal only), steps the stages used, won an outcome.
    ann = drilldown.deal_funnel(book, Q2, "Ann Lee")
    assert ann.table["stage"].tolist() == ["Demo", "Closed Won"]
    assert ann.table["reached"].tolist() == [1, 0]
    assert ann.table["open"].tolist() == [1, 0]
    # Dan's Q1 cohort: 1 won, 2 lost without stage history. Those are "stage unknown" (not
    # "lost after Discovery"), and with no open stage seen there is no funnel to draw.
    dan = drilldown.deal_funnel(book, Scope(Period.parse("2024-Q1")), "Dan Ghost")
    assert (dan.deals, dan.won, dan.stage_unknown, dan.stage_unknown_lost) == (3, 1, 2, 2)
    assert dan.no_data == NO_STAGES_SEEN
    assert "Closed Lost" not in dan.table["stage"].tolist()


def test_activity_mix_uses_the_activity_categories(
    book: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    from analytics.ingest import import_file

    path = tmp_path / "acts.csv"
    path.write_text(
        "activity_id,owner,activity_type,started_at,duration_minutes\n"
        "A1,Ann Lee,call,2024-04-02 10:00,30\n"
        "A2,Ann Lee,call,2024-04-03 10:00,30\n"
        "A3,Ann Lee,admin,2024-04-04 10:00,60\n"
        "A4,Ann Lee,call,2024-07-04 10:00,60\n"
        "A5,Bob Stone,call,2024-04-04 10:00,60\n",
        encoding="utf-8",
    )
    assert import_file(book, path, kind="activities", data_dir=tmp_path).ok
    mix = drilldown.activity_mix(book, Q2, "Ann Lee").set_index("activity_type")
    assert mix.loc["call", "activities"] == 2  # July is outside Q2, Bob is someone else
    assert mix.loc["call", "hours"] == 1.0
    assert mix.loc["call", "category"] == "customer-facing"
    assert mix.loc["admin", "category"] == "internal"
    assert mix["share"].sum() == pytest.approx(1.0)


# --- the quadrant's window, measure and shading (issue: a monthly review that never misleads) --


def test_a_month_is_judged_over_the_trailing_quarter_by_default(app_db: Path) -> None:
    at = start("pages/reps.py", {"kind": "Month", "period": "2024-05"})
    assert_clean(at)
    assert at.selectbox(key="window_months").value == 3
    summary = " ".join(c.value for c in at.caption)
    assert "Judged over 2024-03 – 2024-05 against 2023-12 – 2024-02" in summary
    assert "The quadrant column is judged over 2024-03 – 2024-05, as in the chart." in summary
    at.selectbox(key="window_months").set_value(1).run()
    assert_clean(at)
    summary = " ".join(c.value for c in at.caption)
    assert "Judged over 2024-05 against 2024-04" in summary


def test_a_quarter_has_no_window_control(app_db: Path) -> None:
    at = start("pages/reps.py", {"kind": "Quarter", "period": "2024-Q2"})
    assert_clean(at)
    assert not [s for s in at.selectbox if s.key == "window_months"]


def test_the_four_quadrants_are_shaded(app_db: Path) -> None:
    import json

    at = start("pages/reps.py", {"kind": "Quarter", "period": "2024-Q2"})
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    fills = [s["fillcolor"] for s in chart["layout"]["shapes"] if s.get("type") == "rect"]
    assert len(set(fills)) == 4


def test_without_quotas_the_controls_name_bookings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "no_quotas.duckdb"
    con = db.connect(path)
    try:
        load_fixture(con, tmp_path, quotas=False)
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    at = start("pages/reps.py", {"kind": "Quarter", "period": "2024-Q2"})
    assert_clean(at)
    control = next(s for s in at.selectbox if s.label == "Performance (x axis)")
    assert control.options == ["Bookings"]
    labels = [n.label for n in at.number_input]
    assert "x split (bookings)" in labels
    assert not any("% of quota" in label for label in labels)
    assert any("measures **bookings**" in i.value for i in at.info)
    summary = " ".join(c.value for c in at.caption)
    assert "median of the reps who won deals" in summary
    assert "5 rising stars" not in summary  # a bookings split, not everyone above 0


def test_an_import_in_the_same_session_moves_the_cached_quadrant(
    app_db: Path, tmp_path: Path
) -> None:
    """The quadrant, its attainment check and the roster are cached per data version: a
    rerun after an import must show the new figures, not the cached ones."""
    at = start("pages/reps.py", {"kind": "Quarter", "period": "2024-Q2"})
    assert leaderboard(at).set_index("rep").loc["Dan Ghost", "quadrant"] == "declining laggard"
    at.run()  # a warm rerun reads the cache: still the same
    assert leaderboard(at).set_index("rep").loc["Dan Ghost", "quadrant"] == "declining laggard"
    more = tmp_path / "dan_more.csv"
    more.write_text(
        "opportunity_id,opportunity_name,account,owner,stage,amount,currency,"
        "created_date,close_date\n"
        "Q-900,Big one,Account 900,Dan Ghost,Closed Won,20000,USD,2024-04-01,2024-06-01\n"
        "Q-901,New rep's deal,Account 901,Fay Newton,Closed Won,7000,USD,2024-04-02,2024-06-02\n",
        encoding="utf-8",
    )
    con = db.connect(app_db)
    try:
        result = import_file(con, more, kind="opportunities", as_of=AS_OF, data_dir=tmp_path)
        assert result.ok, result.message
    finally:
        con.close()
    at.run()
    assert_clean(at)
    board = leaderboard(at).set_index("rep")
    assert board.loc["Dan Ghost", "bookings"] == 24000
    assert board.loc["Dan Ghost", "quadrant"] == "rising star"  # 2.4x quota, up on Q1's 9,000
    assert "Fay Newton" in board.index  # the roster is read again too
