"""Start empty, demo apart (issue 12.1).

A database path that does not exist yet opens empty: the app creates the file with the
schema and nothing else, and shows a first-run page (what to upload, the accepted formats,
the template to download) to sales operations, and a plain sentence to everyone else.
Demo data goes only into a database the demo builder made and marked; the sidebar says
"Demo data" when such a database is open. Real app in AppTest, real database files.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics import db
from analytics.demo import DemoError, build_demo, default_demo_db
from analytics.ingest import import_file
from analytics.ingest.template import template_csv, template_fields
from analytics.settings import is_demo_database, mark_demo_database
from analytics.users import Account, add_user

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "data"
PASSWORD = "correct horse battery staple"


def start() -> AppTest:
    return AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).run()


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def texts(at: AppTest) -> str:
    parts = [*at.markdown, *at.caption, *at.info, *at.subheader, *at.title]
    return " ".join(str(p.value) for p in parts).replace("\\", "")


def sidebar_text(at: AppTest) -> str:
    return " ".join(str(p.value) for p in [*at.sidebar.info, *at.sidebar.caption])


@pytest.fixture
def new_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "own" / "team.duckdb"
    assert not path.exists()
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def test_a_new_database_opens_empty_with_the_first_run_page_for_ops(new_path: Path) -> None:
    at = start()  # open mode: ops on this machine
    assert_clean(at)
    shown = texts(at)
    assert "First run: this database is empty" in shown
    assert "No deals in the database yet" in shown
    assert "Accepted formats: CSV or TSV" in shown and ".xlsx" in shown
    assert "Deals (opportunities)" in shown
    [button] = [b for b in at.get("download_button")]
    assert "template" in str(button.proto.label).lower()
    assert not at.metric  # no cards full of zeros
    assert "Demo data" not in sidebar_text(at)
    con = db.connect(new_path)
    try:
        assert db.table_counts(con)["opportunities"] == 0
        assert con.execute("SELECT count(*) FROM imports").fetchone()[0] == 0
        assert not is_demo_database(con)
    finally:
        con.close()


@pytest.mark.parametrize("page", ["pages/reps.py", "pages/pipeline.py", "pages/forecast.py"])
def test_other_pages_of_an_empty_database_say_the_same_without_error(
    new_path: Path, page: str
) -> None:
    at = start()
    at.switch_page(page).run()
    assert_clean(at)
    assert "No deals in the database yet" in texts(at)


@pytest.mark.parametrize(
    ("account", "says"),
    [
        (Account("cfo@example.com", "executive"), "Sales operations load the CRM exports"),
        (Account("boss@example.com", "manager", team="East"), "Sales operations load"),
        (Account("ops@example.com", "ops"), "First run: this database is empty"),
    ],
)
def test_each_role_sees_a_sensible_empty_database(
    new_path: Path, account: Account, says: str
) -> None:
    con = db.connect(new_path)
    try:
        add_user(con, account, PASSWORD)
    finally:
        con.close()
    at = start()
    at.text_input(key="auth:email").input(account.email)
    at.text_input(key="auth:password").input(PASSWORD)
    at = at.button[0].click().run()
    assert_clean(at)
    assert says in texts(at)
    if account.role != "ops":
        assert not at.get("download_button")  # the template is for whoever uploads


def test_the_template_imports_as_it_is(tmp_path: Path) -> None:
    """The downloaded template is a file the importer takes whole (as a first upload)."""
    path = tmp_path / "deals_template.csv"
    path.write_bytes(template_csv("opportunities"))
    assert template_fields()[0] == "stage"  # required first
    con = db.connect(tmp_path / "t.duckdb")
    try:
        result = import_file(con, path, as_of=date(2026, 4, 1), data_dir=tmp_path)
        assert result.ok and result.rows_loaded == 1, result.message
    finally:
        con.close()


def test_the_sidebar_says_demo_data_only_for_the_demo_database(new_path: Path) -> None:
    con = db.connect(new_path)
    try:
        mark_demo_database(con)
    finally:
        con.close()
    at = start()
    assert_clean(at)
    assert "Demo data" in sidebar_text(at)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("replace", [False, True])
@pytest.mark.parametrize("state", ["own imports", "own empty", "not a database"])
def test_the_demo_builder_never_writes_into_a_team_database(
    tmp_path: Path, state: str, replace: bool
) -> None:
    path = tmp_path / "team.duckdb"
    if state == "not a database":
        path.write_text("Stage,Amount\nWon,5\n", encoding="utf-8")
    else:
        con = db.connect(path)
        if state == "own imports":
            result = import_file(
                con, FIXTURES / "headline_opps.csv", as_of=date(2024, 7, 15), data_dir=tmp_path
            )
            assert result.ok, result.message
        con.close()
    before = _sha(path)
    with pytest.raises(DemoError, match="not a demo database|cannot be read as a database"):
        build_demo(path, tmp_path / "out", replace=replace)
    assert _sha(path) == before
    assert not (tmp_path / "out").exists()


def test_the_demo_has_its_own_default_file() -> None:
    assert default_demo_db().name == "demo.duckdb"
    assert default_demo_db() != db.DEFAULT_DB
