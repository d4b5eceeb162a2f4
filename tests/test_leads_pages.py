"""The Leads and Settings pages, driven headlessly with Streamlit's AppTest.

Each test points SALES_DB at its own temporary database. Data editors are edited the way
AppTest supports: by assigning the editor's edit state (edited_rows, added_rows,
deleted_rows) on `at.session_state` before the next run, exactly what the browser sends.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from analytics import db
from analytics.ingest import import_file
from analytics.markup import plain
from analytics.scope import load_fiscal_start_month
from analytics.scoring import LeadScoring, load_lead_scoring, save_lead_scoring
from analytics.settings import DEFAULT_STAGES, load_stages

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "data"
TIMEOUT = 60  # seconds per script run: generous for slow CI machines, never asserted on
STAGES_EDITOR = "settings:stages"
SCORING_EDITOR = "settings:scoring"


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def load(db_template: Callable[..., Path], path: Path, name: str, *names: str) -> None:
    """`names` imported once per test process into template `name` and copied to `path`
    (conftest `db_template`): a private file the app and the test may change."""

    def load_names(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
        for file_name in names:
            result = import_file(
                con, FIXTURES / file_name, as_of=date(2024, 7, 15), data_dir=folder
            )
            assert result.ok, result.message

    db_template(name, load_names, path)


@pytest.fixture
def leads_db(app_db: Path, db_template: Callable[..., Path]) -> Path:
    """tests/data/leads_*.csv (figures worked out in tests/test_leads.py)."""
    load(
        db_template, app_db, "test_leads_pages.leads",
        "leads_reps.csv", "leads_opps.csv", "leads_leads.csv", "leads_events.csv",
    )  # fmt: skip
    return app_db


@pytest.fixture
def headline_db(app_db: Path, db_template: Callable[..., Path]) -> Path:
    """The headline fixture: weighted pipeline 8,900 with the default stages (test_app.py)."""
    load(db_template, app_db, "test_leads_pages.headline", "headline_reps.csv", "headline_opps.csv")
    return app_db


def start(page: str, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    at.run()
    return at.switch_page(page).run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [plain(e.value) for e in at.error]


def metric(at: AppTest, label: str) -> str:
    matches = [m.value for m in at.metric if m.label == label]
    assert matches, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return matches[0]


# AppTest does not expose st.dataframe keys (no selection), so tables are found by a
# column that comes first only in them.
TABLES = {
    "leads:handoff": "lead_id",
    "leads:calibration": "band",
    "leads:by_source": "source",
    "leads:by_owner": "owner",
}


def table(at: AppTest, key: str) -> Any:
    """The table the page shows under `key`, recognised by its first column."""
    column = TABLES[key]
    matches = [d.value for d in at.dataframe if d.value.columns[0] == column]
    assert len(matches) == 1, f"{len(matches)} tables with a {column!r} column"
    return matches[0]


def editor(at: AppTest, name: str) -> Any:
    """The data editor `name` (its key carries a version that every save bumps)."""
    matches = [d for d in at.data_editor if d.key and d.key.rsplit(":", 1)[0] == name]
    assert len(matches) == 1, [d.key for d in at.data_editor]
    return matches[0]


def edit(at: AppTest, name: str, **state: Any) -> AppTest:
    """Apply data-editor edits as the browser would, then rerun."""
    at.session_state[editor(at, name).key] = {
        "edited_rows": state.get("edited_rows", {}),
        "added_rows": state.get("added_rows", []),
        "deleted_rows": state.get("deleted_rows", []),
    }
    return at.run()


def stored(path: Path, key: str) -> str | None:
    con = db.connect(path)
    try:
        row = con.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    finally:
        con.close()
    return None if row is None else str(row[0])


# --- Leads -------------------------------------------------------------------------------


def test_leads_page_without_leads_points_to_data(app_db: Path) -> None:
    at = start("pages/leads.py")
    assert_clean(at)
    assert any("No leads in the database yet" in plain(i.value) for i in at.info)
    assert not at.metric


def test_leads_page_shows_hand_computed_figures(leads_db: Path) -> None:
    at = start("pages/leads.py", {"kind": "Month", "period": "2024-06"})
    assert_clean(at)
    assert at.date_input(key="leads:as_of:2024-06").value == date(2024, 6, 30)
    assert metric(at, "Qualified leads without a response") == "4"
    assert list(table(at, "leads:handoff")["lead_id"]) == ["A8", "A1", "A4", "A9"]
    # A4 has no owner: shown as such, not as an empty cell
    assert table(at, "leads:handoff")["owner"].tolist()[2] == "(no owner)"

    calibration = table(at, "leads:calibration")
    assert list(calibration["leads"]) == [1, 3, 3, 2]
    # 0-9 converts 2/3, 10-19 only 1/3: the page says the scoring is not calibrated
    assert any("Conversion falls as the score rises" in plain(w.value) for w in at.warning)

    assert metric(at, "Leads") == "9"
    assert metric(at, "Median response") == "12 h 30 min"  # 750 minutes
    assert metric(at, "Lead → opportunity") == "33.3%"  # 3 of 9
    by_source = table(at, "leads:by_source")
    assert list(by_source["source"]) == ["web", "event", "referral", "All leads"]
    assert list(table(at, "leads:by_owner")["owner"])[-2:] == ["(no owner)", "All leads"]
    assert any("No BANT fields in the data" in plain(i.value) for i in at.info)
    keys = {b.key for b in at.download_button}
    assert {"dl:handoff:csv", "dl:calibration:csv", "dl:source:csv", "dl:owner:csv"} <= keys


def test_leads_page_without_bant_shows_no_percentages(leads_db: Path) -> None:
    """The leads fixture's deals have no BANT columns: a sentence, no 0% anywhere."""
    at = start("pages/leads.py", {"kind": "Month", "period": "2024-06"})
    assert_clean(at)
    assert any("No BANT fields in the data" in plain(i.value) for i in at.info)
    assert not [m.label for m in at.metric if "BANT" in m.label or "Qualified on" in m.label]
    assert not [d for d in at.dataframe if d.value.columns[0] in ("field", "group")]


@pytest.fixture
def bant_db(app_db: Path, db_template: Callable[..., Path]) -> Path:
    """Leads (the page needs some) and the BANT deals of tests/test_leads.py."""
    load(
        db_template, app_db, "test_leads_pages.bant",
        "leads_reps.csv", "leads_leads.csv", "bant_opps.csv", "bant_opps_plain.csv",
    )  # fmt: skip
    return app_db


def test_leads_page_bant_figures(bant_db: Path) -> None:
    """June (worked out in tests/test_leads.py): budget 5/7, authority 4/7, need 6/7,
    timing 5/7 of the deals with BANT recorded; win rate 3/4 with full BANT, 1/3 without."""
    at = start("pages/leads.py", {"kind": "Month", "period": "2024-06"})
    assert_clean(at)
    assert metric(at, "Qualified on budget") == "71.4%"
    assert metric(at, "Qualified on authority") == "57.1%"
    assert metric(at, "Qualified on need") == "85.7%"
    assert metric(at, "Qualified on timing") == "71.4%"
    assert metric(at, "Win rate, full BANT") == "75.0%"
    assert metric(at, "Win rate, not full BANT") == "33.3%"
    [fields] = [d.value for d in at.dataframe if d.value.columns[0] == "field"]
    assert list(fields["recorded"]) == [7, 7, 7, 7]
    assert any("1 deal closed in 2024-06 without all four" in plain(c.value) for c in at.caption)
    assert {"dl:bant_fields:csv", "dl:bant_rates:csv"} <= {b.key for b in at.download_button}


def test_leads_page_bant_scope_without_it(bant_db: Path) -> None:
    """Dan Ghost owns no deal: the data has BANT fields, his June has none to show."""
    at = start("pages/leads.py", {"kind": "Month", "period": "2024-06", "rep": "Dan Ghost"})
    assert_clean(at)
    assert any(
        "No BANT fields recorded on the deals created or closed in 2024-06" in plain(i.value)
        for i in at.info
    )
    assert not [m for m in at.metric if m.label.startswith("Qualified on")]


def test_leads_page_controls(leads_db: Path) -> None:
    at = start("pages/leads.py", {"kind": "Month", "period": "2024-06"})
    at.toggle(key="leads:handoff_period").set_value(True).run()
    assert list(table(at, "leads:handoff")["lead_id"]) == ["A1", "A4", "A9"]
    at.date_input(key="leads:as_of:2024-06").set_value(date(2024, 6, 20)).run()
    assert_clean(at)
    # On 20 June: A1 (16) and A4 (20) qualified and waiting; A9 not created yet
    assert list(table(at, "leads:handoff")["lead_id"]) == ["A1", "A4"]
    at.radio(key="leads:bands").set_value("Below vs at or above the threshold").run()
    assert_clean(at)
    assert list(table(at, "leads:calibration")["band"]) == ["< 15", "≥ 15"]


def test_scoring_day_follows_the_period(leads_db: Path) -> None:
    """A new period starts from its own default scoring day, not the one typed before."""
    at = start("pages/leads.py", {"kind": "Month", "period": "2024-06"})
    at.date_input(key="leads:as_of:2024-06").set_value(date(2024, 6, 20)).run()
    at.sidebar.selectbox(key="kind").set_value("Year").run()
    assert_clean(at)
    assert at.date_input(key="leads:as_of:2024").value == date(2024, 12, 31)
    # by the end of 2024 A9 was answered and A11 (20 points, never answered) joined
    assert list(table(at, "leads:handoff")["lead_id"]) == ["A8", "A1", "A4", "A11"]


def test_leads_page_follows_saved_scoring(leads_db: Path) -> None:
    con = db.connect(leads_db)
    try:
        save_lead_scoring(con, LeadScoring(rules=load_lead_scoring(con).rules, threshold=20))
    finally:
        con.close()
    at = start("pages/leads.py", {"kind": "Month", "period": "2024-06"})
    assert_clean(at)
    assert list(table(at, "leads:handoff")["lead_id"]) == ["A4", "A9"]


def test_leads_page_error_is_friendly(leads_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import analytics.leads as leads

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("scores on strike")

    monkeypatch.setattr(leads, "handoff_list", broken)
    at = start("pages/leads.py", {"kind": "Month", "period": "2024-06"})
    assert not at.exception
    # an unexpected failure's text stays in the server log; the page shows a reference
    assert any("Sorry" in e.value and "reference" in plain(e.value) for e in at.error)
    assert not any("scores on strike" in plain(e.value) for e in at.error)


# --- Settings ----------------------------------------------------------------------------


def test_settings_page_renders_on_an_empty_database(app_db: Path) -> None:
    at = start("pages/settings.py")
    assert_clean(at)
    stages = editor(at, STAGES_EDITOR).value
    assert list(stages["name"]) == [s.name for s in DEFAULT_STAGES]
    assert list(stages["probability"]) == [s.probability for s in DEFAULT_STAGES]
    assert list(stages["won"]) == [False] * 5 + [True, False]
    assert list(stages["lost"]) == [False] * 6 + [True]
    rules = editor(at, SCORING_EDITOR).value
    assert dict(zip(rules["event_type"], rules["points"], strict=True))["pricing_page_visit"] == 10
    assert at.number_input(key="settings:threshold").value == 15
    assert at.selectbox(key="settings:fiscal_month").value == 1


def test_saving_stages_changes_the_weighted_pipeline(headline_db: Path) -> None:
    query = {
        "kind": "Quarter",
        "period": "2024-Q3",
    }  # the live quarter: weighted on the deals open now
    at = start("pages/overview.py", query)
    assert metric(at, "Weighted pipeline") == "8,900"

    at.switch_page("pages/settings.py").run()
    names = list(editor(at, STAGES_EDITOR).value["name"])
    trial = names.index("Trial")
    edit(at, STAGES_EDITOR, edited_rows={trial: {"probability": 70}})
    at.button(key="settings:save_stages").click().run()
    assert_clean(at)
    assert any("Saved 7 stages" in plain(s.value) for s in at.success)
    # the editor starts afresh from the saved list: its pending edit is not applied twice
    saved = editor(at, STAGES_EDITOR)
    assert saved.key == f"{STAGES_EDITOR}:1"
    assert saved.value["probability"].tolist()[trial] == 70
    assert not at.session_state[saved.key]["edited_rows"]

    at.switch_page("pages/overview.py").run()
    # O-009 10,000 in Trial: 6,000 -> 7,000
    assert metric(at, "Weighted pipeline") == "9,900"
    con = db.connect(headline_db)
    try:
        assert {s.name: s.probability for s in load_stages(con)}["Trial"] == 70
    finally:
        con.close()


def test_stage_order_aliases_and_a_new_stage(headline_db: Path) -> None:
    at = start("pages/settings.py")
    edit(
        at,
        STAGES_EDITOR,
        edited_rows={0: {"aliases": "Discovery call; First call, Intro"}},
        added_rows=[
            {
                "order": 1.5,
                "name": "Scoping",
                "probability": 15,
                "won": False,
                "lost": False,
                "aliases": "Scope",
            }
        ],  # fmt: skip
    )
    at.button(key="settings:save_stages").click().run()
    assert_clean(at)
    con = db.connect(headline_db)
    try:
        stages = load_stages(con)
    finally:
        con.close()
    assert [s.name for s in stages][:3] == ["Discovery", "Scoping", "Qualified"]
    assert stages[0].aliases == ("Discovery call", "First call", "Intro")
    assert (stages[1].probability, stages[1].is_closed, stages[1].aliases) == (
        15,
        False,
        ("Scope",),
    )


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        ({"edited_rows": {5: {"lost": True}}}, "cannot be both won and lost"),
        ({"edited_rows": {5: {"won": False}}}, "no stage is marked won"),
        ({"edited_rows": {1: {"probability": None}}}, "has no probability"),
        ({"edited_rows": {2: {"name": "Qualified"}}}, "listed twice"),
        ({"edited_rows": {3: {"aliases": "Negotiation"}}}, "maps to both"),
        ({"edited_rows": {3: {"name": "Pilot"}}}, "'Trial' is used by 1 deal"),
        # O-011 was imported as "Negotiation/Review", stored as its canonical stage
        ({"deleted_rows": [4]}, "'Final Decision' is used by 1 deal"),
        ({"added_rows": [{"probability": 50, "won": False, "lost": False}]}, "has no stage name"),
    ],
)
def test_invalid_stages_show_an_error_and_save_nothing(
    headline_db: Path, edits: dict[str, Any], message: str
) -> None:
    before = stored(headline_db, "stages")
    at = start("pages/settings.py")
    edit(at, STAGES_EDITOR, **edits)
    at.button(key="settings:save_stages").click().run()
    assert not at.exception
    errors = [plain(e.value) for e in at.error]
    assert any(e.startswith("Nothing saved") and message in e for e in errors), errors
    assert stored(headline_db, "stages") == before


def test_saving_lead_scoring(leads_db: Path) -> None:
    at = start("pages/settings.py")
    assert any("webinar_attended" in plain(c.value) for c in at.caption)  # a type without a rule
    edit(
        at,
        SCORING_EDITOR,
        added_rows=[{"event_type": "webinar_attended", "points": 7, "decays": True, "once": False}],
    )
    at.number_input(key="settings:threshold").set_value(20.0)
    at.toggle(key="settings:decay").set_value(True).run()  # enables the half-life box
    at.number_input(key="settings:half_life").set_value(45.0).run()
    at.button(key="settings:save_scoring").click().run()
    assert_clean(at)
    assert any("Saved 6 scoring rules, threshold 20" in plain(s.value) for s in at.success)
    con = db.connect(leads_db)
    try:
        scoring = load_lead_scoring(con)
    finally:
        con.close()
    assert (scoring.threshold, scoring.half_life_days) == (20, 45)
    assert scoring.points_for("webinar_attended") == 7
    assert not any("webinar_attended" in plain(c.value) for c in at.caption)


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        ({"edited_rows": {1: {"event_type": "pricing_page_visit"}}}, "more than one rule"),
        ({"edited_rows": {0: {"points": None}}}, "points must be a number"),
        ({"added_rows": [{"points": 4, "decays": True, "once": False}]}, "but no event type"),
        ({"deleted_rows": [0, 1, 2, 4]}, "no rule adds points"),
    ],
)
def test_invalid_lead_scoring_shows_an_error_and_saves_nothing(
    leads_db: Path, edits: dict[str, Any], message: str
) -> None:
    at = start("pages/settings.py")
    edit(at, SCORING_EDITOR, **edits)
    at.button(key="settings:save_scoring").click().run()
    assert not at.exception
    errors = [plain(e.value) for e in at.error]
    assert any(e.startswith("Nothing saved") and message in e for e in errors), errors
    assert stored(leads_db, "lead_scoring") is None


def test_saving_the_fiscal_year(headline_db: Path) -> None:
    at = start("pages/settings.py")
    at.selectbox(key="settings:fiscal_month").set_value(4).run()
    at.button(key="settings:save_fiscal").click().run()
    assert_clean(at)
    assert any("starts in April" in plain(s.value) for s in at.success)
    assert "Fiscal quarter" in at.sidebar.selectbox(key="kind").options
    con = db.connect(headline_db)
    try:
        assert load_fiscal_start_month(con) == 4
    finally:
        con.close()


def test_a_failing_save_is_one_sentence(headline_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import analytics.settings as settings

    def locked(*_args: object, **_kwargs: object) -> None:
        raise OSError("database is locked")

    monkeypatch.setattr(settings, "save_stages", locked)
    before = stored(headline_db, "stages")
    at = start("pages/settings.py")
    at.button(key="settings:save_stages").click().run()
    assert not at.exception
    assert any("Sorry" in e.value and "reference" in plain(e.value) for e in at.error)
    assert not any("database is locked" in plain(e.value) for e in at.error)
    assert stored(headline_db, "stages") == before
    # the other sections still render
    assert editor(at, SCORING_EDITOR) is not None
    assert at.button(key="settings:save_fiscal") is not None


def test_settings_show_whole_points_and_days_as_the_leads_page_does(leads_db: Path) -> None:
    """'15', as the Leads page says '15 points', never '15.00' (the browser formats the
    widget's value with its printf format; %g drops trailing zeros)."""
    at = start("pages/settings.py")
    assert at.number_input(key="settings:threshold").proto.format == "%g"
    assert at.number_input(key="settings:half_life").proto.format == "%g"


@pytest.mark.parametrize(
    ("period", "noted"), [("2024-07", True), ("2024-06", False)], ids=["to-date", "over"]
)
def test_a_month_not_over_says_so_beside_the_lead_tables(
    leads_db: Path, period: str, noted: bool
) -> None:
    """The data is as of 15 Jul 2024: July is only 1–15 Jul, and its newest leads have had
    days to convert. The Leads page and `report leads` say so, as the funnel and the
    scorecard do; June, which was over, has no such note (a new user's half November read
    as a collapse in conversion)."""
    from analytics.leads import leads_report_table
    from analytics.scope import Period, Scope

    words = "2024-07 was not over on 15 Jul 2024, the data's date"
    at = start("pages/leads.py", {"kind": "Month", "period": period})
    assert_clean(at)
    assert any(words in plain(c.value) for c in at.caption) == noted
    # the sidebar's note names the Leads page among those that read the period to date
    sidebar = "Leads counts the leads created to date"
    assert any(sidebar in plain(c.value) for c in at.sidebar.caption) == noted
    con = db.connect(leads_db)
    try:
        scope = Scope(Period.parse(period))
        for table in ("source", "owner", "linked-source"):
            notes = leads_report_table(con, scope, table).attrs.get("notes", [])
            assert any(words in n for n in notes) == noted, table
        assert not leads_report_table(con, scope, "handoff").attrs.get("notes")  # as of a day
    finally:
        con.close()
