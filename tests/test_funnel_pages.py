"""Funnel and Pipeline pages with AppTest, over the hand-made fixtures of test_funnel.py and
test_pipeline.py (the figures asserted here are worked out in those files' docstrings).

Each page must render for a month, a quarter and a year, show its numbers for the chosen
scope, and never show an exception: a failing analytics call becomes one friendly line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from analytics import db
from analytics.ingest import import_file
from analytics.markup import plain

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "data"
TIMEOUT = 90  # seconds per script run: generous for slow CI machines, never asserted on

FUNNEL_FILES = [
    ("funnel_reps.csv", date(2024, 7, 1)),
    ("funnel_opps_early.csv", date(2024, 5, 1)),
    ("funnel_opps.csv", date(2024, 7, 1)),
    ("funnel_history.csv", date(2024, 7, 1)),
]
PIPELINE_FILES = [
    ("funnel_reps.csv", date(2024, 7, 1)),
    ("funnel_pipe_fx.csv", date(2024, 7, 1)),
    ("funnel_pipe_s1.csv", date(2024, 7, 1)),
    ("funnel_pipe_s2.csv", date(2024, 8, 1)),
    ("funnel_pipe_s3.csv", date(2024, 9, 2)),
]
# A month, a quarter and a year each fixture's sidebar offers (periods with data).
FUNNEL_VIEWS = [
    {"kind": "Month", "period": "2024-05"},
    {"kind": "Quarter", "period": "2024-Q2"},
    {"kind": "Year", "period": "2024"},
]
PIPELINE_VIEWS = [
    {"kind": "Month", "period": "2024-08"},
    {"kind": "Quarter", "period": "2024-Q3"},
    {"kind": "Year", "period": "2024"},
]


def load_files(files: list[tuple[str, date]]) -> Callable[[duckdb.DuckDBPyConnection, Path], None]:
    """A loader importing `files` through the real importer, for conftest `db_template`."""

    def load(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
        for name, as_of in files:
            result = import_file(con, FIXTURES / name, as_of=as_of, data_dir=folder)
            assert result.ok, result.message

    return load


def make_db(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    db_template: Callable[..., Path],
    name: str,
    files: list[tuple[str, date]],
) -> Path:
    """`files` imported once per test process and copied for this test (conftest
    `db_template`): a private file the app and the test may change."""
    path = db_template(name, load_files(files), tmp_path / "pages.duckdb")
    monkeypatch.setenv("SALES_DB", str(path))
    return path


@pytest.fixture
def funnel_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_template: Callable[..., Path]
) -> Path:
    return make_db(tmp_path, monkeypatch, db_template, "test_funnel_pages.funnel", FUNNEL_FILES)


@pytest.fixture
def pipeline_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_template: Callable[..., Path]
) -> Path:
    return make_db(tmp_path, monkeypatch, db_template, "test_funnel_pages.pipeline", PIPELINE_FILES)


def start(page: str, query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    at.switch_page(page).run()
    return at


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [plain(e.value) for e in at.error]


def frame_with(at: AppTest, column: str):
    frames = [d.value for d in at.dataframe if column in d.value.columns]
    assert frames, f"no table with a {column!r} column"
    return frames[0]


def chart_specs(at: AppTest) -> list[dict]:
    """The plotly figures the page sent to the browser, as JSON."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


UNREADABLE = re.compile(r"\b(None|nan|NaN|NaT|inf)\b")


def assert_readable(at: AppTest) -> None:
    """No None / nan / NaN / NaT / inf in any table cell, metric, caption or alert."""
    texts = [str(v) for d in at.dataframe for v in d.value.astype(str).to_numpy().ravel()]
    texts += [str(m.value) for m in at.metric]
    texts += [plain(e.value) for e in [*at.caption, *at.info, *at.warning, *at.markdown]]
    bad = [t for t in texts if UNREADABLE.search(t)]
    assert not bad, bad


def downloads(at: AppTest) -> list[str]:
    return [b.proto.id for b in at.get("download_button")]


# --- Funnel ------------------------------------------------------------------------------


@pytest.mark.parametrize("query", FUNNEL_VIEWS, ids=[v["period"] for v in FUNNEL_VIEWS])
def test_funnel_page_renders(funnel_db: Path, query: dict[str, str]) -> None:
    at = start("pages/funnel.py", query)
    assert_clean(at)
    assert at.title[0].value == "Funnel"
    assert at.sidebar.selectbox(key="period").value == query["period"]


def test_funnel_page_shows_the_hand_computed_funnel(funnel_db: Path) -> None:
    at = start("pages/funnel.py", {"kind": "Quarter", "period": "2024-Q2"})
    assert_clean(at)
    table = frame_with(at, "reached")
    assert table["reached"].tolist()[:6] == [10, 9, 9, 7, 4, 3]  # F07: stage unknown
    assert table["dropped"].tolist()[:6] == [0, 0, 1, 1, 1, 0]
    assert table["conversion_from_previous"].tolist() == ["—", "90.0%", "100.0%", "77.8%",
                                                         "57.1%", "75.0%"]  # fmt: skip
    assert table["median_days_in_stage"].tolist() == ["7.0 days", "15.0 days", "14.5 days",
                                                     "22.0 days", "15.0 days", "—"]  # fmt: skip
    assert any("Mixed: 9 deals placed from stage history" in plain(i.value) for i in at.info)
    assert any("Stage unknown: 1 deal (1 lost)" in plain(i.value) for i in at.info)
    assert len(at.get("plotly_chart")) == 2  # the funnel and the comparison
    assert len(downloads(at)) == 2
    assert [(m.label, m.value) for m in at.metric] == [
        ("Deals created", "11"), ("Won deals so far", "3"), ("Created → won", "27.3%"),
        ("Still open", "4"), ("Stage unknown", "1"),
    ]  # fmt: skip
    assert_readable(at)

    at.selectbox(key="funnel:compare_by").set_value("Reps").run()
    assert_clean(at)
    wide = frame_with(at, "method")
    assert wide["group"].tolist() == ["Bob Stone", "Ann Lee", "Cara Diaz", "Dan Ghost"]
    assert wide["stage_unknown"].tolist() == [0, 1, 0, 0]
    assert_readable(at)

    at.selectbox(key="funnel:compare_by").set_value("Two periods").run()
    assert_clean(at)
    two = frame_with(at, "method")
    assert two["group"].tolist() == ["2024-Q2", "2024-Q1"]
    # Q1 beside Q2: Qualified 0 of 1 is 0%; later steps after nobody are undefined, "—"
    assert two.loc[1, ["Discovery", "Qualified", "Demo"]].tolist() == ["100.0%", "0.0%", "0.0%"]
    assert_readable(at)

    at.sidebar.selectbox(key="team").set_value("East").run()
    assert_clean(at)
    assert frame_with(at, "reached")["reached"].tolist()[:6] == [6, 5, 5, 3, 2, 2]


def test_funnel_page_with_no_deal_in_the_period(funnel_db: Path) -> None:
    at = start("pages/funnel.py", {"kind": "Quarter", "period": "2024-Q1", "rep": "Dan Ghost"})
    assert_clean(at)
    assert any("No deal was created in this period" in plain(i.value) for i in at.info)


def test_funnel_page_error_is_friendly(funnel_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import analytics.funnel as funnel_module

    def broken(*_args: object, **_kwargs: object) -> None:
        raise duckdb.IOException("disk on fire")

    monkeypatch.setattr(funnel_module, "funnel", broken)
    at = start("pages/funnel.py", {"kind": "Quarter", "period": "2024-Q2"})
    assert not at.exception
    # an unexpected failure's text stays in the server log; the page shows a reference
    assert any("Sorry" in e.value and "reference" in plain(e.value) for e in at.error)
    assert not any("disk on fire" in plain(e.value) for e in at.error)
    assert frame_with(at, "method") is not None  # the comparison still renders


# --- Pipeline ----------------------------------------------------------------------------


@pytest.mark.parametrize("query", PIPELINE_VIEWS, ids=[v["period"] for v in PIPELINE_VIEWS])
def test_pipeline_page_renders(pipeline_db: Path, query: dict[str, str]) -> None:
    at = start("pages/pipeline.py", query)
    assert_clean(at)
    assert at.title[0].value == "Pipeline"
    assert [s.value for s in at.main.subheader] == [
        "Stalled deals", "Slipped deals", "Pipeline changes", "Follow-up gaps",
    ]  # fmt: skip


def test_pipeline_page_shows_the_hand_computed_figures(pipeline_db: Path) -> None:
    at = start("pages/pipeline.py", {"kind": "Quarter", "period": "2024-Q3"})
    assert_clean(at)
    steps = frame_with(at, "step")
    assert steps["rounded"].tolist() == [44600, 5500, 9000, -9000, 6000, -3000, -6000, -4000, 43100]
    labels = [int(t.replace(",", "")) for t in chart_specs(at)[0]["data"][0]["text"]]
    assert labels[0] + sum(labels[1:-1]) == labels[-1] == 43100  # the labels add up
    assert any("= 0.00 (exact)" in plain(c.value) for c in at.caption)
    slipped = frame_with(at, "times_pushed")
    assert slipped["opportunity_id"].tolist() == ["P05", "P14"]
    assert len(at.get("plotly_chart")) == 1  # the waterfall
    # CSV and Excel of: stalled, slipped, waterfall, the deals behind its bars (no follow-up
    # gaps: the fixture has no activity data, which the page says instead of listing none)
    assert len(downloads(at)) == 8
    assert any("No follow-up gaps: no activity data" in plain(i.value) for i in at.info)
    behind = frame_with(at, "bucket").set_index("opportunity_id")["bucket"]
    assert behind[["P05", "P14"]].tolist() == ["pushed out", "pushed out"]
    assert behind[["P06", "P12"]].tolist() == ["pulled in", "new"]

    # each day names where its pipeline came from (help of its card)
    cards = {m.label: m for m in at.metric}
    assert cards["Pipeline on 2024-07-01"].value == "44,600 USD"
    assert "export of 2024-07-01 (a snapshot: exact)" in cards["Pipeline on 2024-07-01"].help
    assert cards["Pipeline on 2024-09-02"].value == "43,100 USD"

    # all open deals between the same snapshots (hand-worked in test_pipeline.py)
    at.radio(key="pipeline:kind").set_value("all open deals").run()
    assert_clean(at)
    assert frame_with(at, "step")["rounded"].tolist()[0] == 55600
    cards = {m.label: m for m in at.metric}
    assert cards["Pipeline on 2024-07-01"].value == "55,600 USD"
    captions = [plain(c.value) for c in at.caption]
    assert "From 11 priced deals; 1 open deal has no amount." in captions  # P13
    at.radio(key="pipeline:kind").set_value("closing in the period").run()

    at.date_input(key="pipeline:from").set_value(date(2024, 8, 1)).run()
    assert_clean(at)
    assert frame_with(at, "step")["rounded"].tolist()[0] == 34600  # start at S2

    # any day: 20 August is answered by the export of 1 August (19 days older)
    at.date_input(key="pipeline:from").set_value(date(2024, 8, 20)).run()
    assert_clean(at)
    assert frame_with(at, "step")["rounded"].tolist()[0] == 34600
    assert "export of 2024-08-01" in {m.label: m for m in at.metric}["Pipeline on 2024-08-20"].help

    # the same day twice: no empty chart, a sentence saying why there is no change
    at.date_input(key="pipeline:from").set_value(date(2024, 9, 2)).run()
    assert_clean(at)
    assert any("same day (2024-09-02)" in plain(i.value) for i in at.info)
    assert len(at.get("plotly_chart")) == 0  # the waterfall was the only chart
    assert not [f for f in at.dataframe if "rounded" in f.value.columns]

    at.date_input(key="pipeline:to").set_value(date(2024, 7, 1)).run()
    assert not at.exception
    assert any("before the 'From' date" in plain(w.value) for w in at.warning)


def test_pipeline_thresholds_change_the_stalled_list(pipeline_db: Path, tmp_path: Path) -> None:
    """As of 2 Sept only P01 has an activity (1 Sept): every other open deal is idle since
    it was created (May or mid-July). 100 days catches the May deals only, not P07 (created
    15 July)."""
    touches = tmp_path / "touches.csv"
    touches.write_text(
        "activity_id,owner,activity_type,started_at,duration_minutes,opportunity_id\n"
        "A1,Ann Lee,call,2024-09-01 10:00,15,P01\n"
    )
    con = db.connect(pipeline_db)
    try:
        assert import_file(con, touches, as_of=date(2024, 9, 2), data_dir=tmp_path).ok
    finally:
        con.close()
    at = start("pages/pipeline.py", {"kind": "Quarter", "period": "2024-Q3"})
    before = frame_with(at, "idle_rule")["opportunity_id"].tolist()
    assert "P07" in before
    at.number_input(key="pipeline:idle_days").set_value(100).run()
    assert_clean(at)
    after = frame_with(at, "idle_rule")["opportunity_id"].tolist()
    assert "P07" not in after and set(after) < set(before)


def test_pipeline_without_activity_data_calls_nobody_idle(pipeline_db: Path) -> None:
    """No activity in the database: "idle since created" would be a guess, so the page
    lists nobody as idle and says why; days in stage from exports only are never a 0."""
    at = start("pages/pipeline.py", {"kind": "Quarter", "period": "2024-Q3"})
    assert_clean(at)
    stalled = frame_with(at, "idle_rule")
    assert not stalled["idle_rule"].any()
    captions = " ".join(plain(c.value) for c in at.caption)
    assert "Days idle: no activity data" in captions
    from readable import apptest_problems

    assert not apptest_problems(at)


def test_pipeline_total_matches_the_overview_open_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One export (the sparse database): the Pipeline page's pipeline on the last day of
    February (all open deals, rebuilt) is the Overview's "Open pipeline" for February, and
    it says how many open deals have no amount, in the Overview's words."""
    from readable import build_sparse_db

    path = build_sparse_db(tmp_path / "sparse.duckdb", tmp_path / "work")
    monkeypatch.setenv("SALES_DB", str(path))
    query = {"kind": "Month", "period": "2025-02"}
    overview = start("pages/overview.py", query)
    assert_clean(overview)
    open_pipeline = {m.label: m.value for m in overview.metric}["Open pipeline"]
    at = start("pages/pipeline.py", query)
    assert_clean(at)
    cards = {m.label: m.value for m in at.metric}
    assert cards["Pipeline on 2025-02-28"] == f"{open_pipeline} USD"
    notes = [plain(c.value) for c in at.caption]
    assert any(n.startswith("From ") and "open deals have no amount." in n for n in notes)
    assert any("All open deals, not only those closing in 2025-02" in n for n in notes)


def test_pipeline_page_without_snapshots_in_the_period(pipeline_db: Path) -> None:
    at = start("pages/pipeline.py", {"kind": "Month", "period": "2024-06"})
    assert_clean(at)
    texts = " ".join(plain(i.value) for i in at.info)
    # 1-30 June: no export on or before 1 June says when deals were expected to close
    assert "No slipped-deal list: no export on or before 2024-06-01" in texts
    # the waterfall still works, rebuilt on 1 June, over all open deals
    captions = " ".join(plain(c.value) for c in at.caption)
    assert "All open deals, not only those closing in 2024-06" in captions
    cards = {m.label: m for m in at.metric}
    assert 'Source "rebuilt": rebuilt from created and close dates' in (
        cards["Pipeline on 2024-06-01"].help
    )


def test_pipeline_page_error_is_friendly(
    pipeline_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import analytics.pipeline as pipeline_module

    def broken(*_args: object, **_kwargs: object) -> None:
        raise duckdb.IOException("disk on fire")

    monkeypatch.setattr(pipeline_module, "waterfall", broken)
    at = start("pages/pipeline.py", {"kind": "Quarter", "period": "2024-Q3"})
    assert not at.exception
    assert any("waterfall" in e.value and "reference" in plain(e.value) for e in at.error)
    assert not any("disk on fire" in plain(e.value) for e in at.error)
    assert frame_with(at, "times_pushed")["opportunity_id"].tolist() == ["P05", "P14"]


@pytest.mark.parametrize("page", ["pages/funnel.py", "pages/pipeline.py"])
def test_pages_on_an_empty_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    monkeypatch.setenv("SALES_DB", str(tmp_path / "empty.duckdb"))
    at = start(page, {})
    assert_clean(at)
    assert any("No deals in the database yet" in plain(i.value) for i in at.info)


def test_compare_chart_labels_every_segment_and_keeps_team_colours(funnel_db: Path) -> None:
    """Every trace of the comparison labels its segments (outside the bar, so none is
    dropped for lack of room), and a team's colour comes from the whole roster (East,
    West sorted): East is the first colour in Q2 (with "(no team)" and West beside it)
    and in Q1 (East alone), never re-dealt by the teams a period happens to show."""
    from analytics.colours import NO_TEAM_COLOUR, TEAM_PALETTE

    colours = {}
    for period in ("2024-Q2", "2024-Q1"):
        at = start("pages/funnel.py", {"kind": "Quarter", "period": period})
        assert_clean(at)
        compare = chart_specs(at)[-1]
        for trace in compare["data"]:
            assert trace["textposition"] == "outside"
            assert "%{x" in trace["texttemplate"] and "percentInitial" in trace["texttemplate"]
            colours.setdefault(trace["name"], set()).add(trace["marker"]["color"])
        assert compare["layout"]["funnelmode"] == "group"
    assert colours == {
        "East": {TEAM_PALETTE[0]}, "West": {TEAM_PALETTE[1]}, "(no team)": {NO_TEAM_COLOUR},
    }  # fmt: skip
