"""No traceback or server path ever reaches a page; the details go to the server log.

Why: the dashboard runs on a server whose folders are nobody's business, and a stack
trace tells a sales manager nothing they can act on. Pages catch their failures and show
one sentence (pages/_ui.py `friendly_error`, worded by analytics/errors.py): a failure the
user can act on says what it is, anything else gets a generic sentence and a reference
that is also in the server log beside the traceback.

The failures here are real, not mocked: the database file locked by another process
holding a write connection, a file that is not a DuckDB database, a database whose tables
are another program's, and a directory where the database's folder should be. Every page
is opened on each, and no element may contain "Traceback", 'File "', a ".py" name or the
temporary folder's path.
"""

from __future__ import annotations

import logging
import re
import subprocess
import sys
import tomllib
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from markup_check import rendered_texts
from streamlit.testing.v1 import AppTest

from analytics import db
from analytics.errors import strip_paths, user_message
from analytics.ingest import import_file
from analytics.ingest.problems import refuse
from analytics.markup import plain

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "data"
TIMEOUT = 90  # seconds per script run on a loaded machine; never asserted on
PAGES = sorted(p.name for p in (ROOT / "pages").glob("*.py") if not p.name.startswith("_"))
REFERENCE = re.compile(r"reference ([0-9a-f]{8})", re.IGNORECASE)


# -- the wording rules, as a table ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ('IO Error: Could not set lock on file "/srv/app/data/sales.duckdb": held',
         'IO Error: Could not set lock on file "sales.duckdb": held'),
        ("[Errno 2] No such file or directory: '/home/ann/exports/deals.csv'",
         "[Errno 2] No such file or directory: 'deals.csv'"),
        ('File "/work/main/pages/data.py", line 3, in render',
         'File "(internal file)", line 3, in render'),
        (r"C:\Users\ann\Desktop\deals.csv: refused", "deals.csv: refused"),
        (r"\\fileserver\share\deals.csv", "deals.csv"),
        ("see ~/exports/q2/deals.csv.", "see deals.csv."),
        ("/tmp/a/b/, then", "b, then"),
        # not paths: left exactly as written
        ("status is not open / won / lost", "status is not open / won / lost"),
        ("and/or 1/2 a/b", "and/or 1/2 a/b"),
        ("=cmd|' /C calc'!A0", "=cmd|' /C calc'!A0"),
        ("https://duckdb.org/docs/x", "https://duckdb.org/docs/x"),
    ],
)  # fmt: skip
def test_strip_paths(text: str, shown: str) -> None:
    assert strip_paths(text) == shown


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (duckdb.IOException('IO Error: Could not set lock on file "/a/b/sales.duckdb": '
                            "Conflicting lock is held in /usr/bin/python3 (PID 7)"),
         "in use by another program"),
        (duckdb.IOException('IO Error: The file "/a/b/sales.duckdb" exists, but it is not a '
                            "valid DuckDB database file!"),
         "sales.duckdb is not a DuckDB database"),
        (duckdb.BinderException('Binder Error: Referenced column "owner" not found'),
         "tables are not the ones this version"),
        (refuse("deals.csv", "missing required column(s) stage", column="Stage"),
         "deals.csv, column 'Stage': missing required column(s) stage"),
        (PermissionError(13, "Permission denied", "/srv/app/data/sales.duckdb"),
         "not allowed to read or write sales.duckdb"),
    ],
)  # fmt: skip
def test_user_facing_failures_say_what_they_are(exc: BaseException, expected: str) -> None:
    message = user_message(exc)
    assert message is not None and expected in message
    assert "/a/b" not in message and "/srv" not in message and "PID" not in message


@pytest.mark.parametrize(
    "exc",
    [
        RuntimeError('File "/work/main/analytics/funnel.py", line 3'),
        KeyError("grp"),
        ValueError("could not convert string to float: 'abc'"),
        duckdb.ConversionException("Conversion Error: Could not convert string 'x' to INT32"),
        duckdb.IOException("disk on fire"),
        FileNotFoundError(2, "No such file or directory", "/srv/app/data/uploads/x.csv"),
    ],
)
def test_anything_else_is_not_shown(exc: BaseException) -> None:
    """Bugs and outages: their text (SQL, values, paths) is for the log, not the page."""
    assert user_message(exc) is None


# -- real failures, every page ---------------------------------------------------------------


def texts(at: AppTest) -> list[str]:
    """Everything on the page: each element's and block's protobuf, as text; and every
    markdown string as a reader sees it (analytics.markup escapes a path to `\\/tmp\\/...`,
    which the path checks must still see as `/tmp/...`)."""
    protos = [str(node.proto) for node in at._tree if getattr(node, "proto", None) is not None]
    return protos + [plain(text) for _, text in rendered_texts(at)]


def assert_nothing_leaks(at: AppTest, folder: Path) -> list[str]:
    """No exception element, no traceback, no code file, no server folder; the error texts."""
    assert not at.exception, [e.value for e in at.exception]
    forbidden = ("Traceback", 'File "', ".py", str(folder), str(ROOT), str(Path.home()))
    for text in texts(at):
        for bad in forbidden:
            assert bad not in text, (bad, text[:500])
    return [plain(e.value) for e in at.error]


def visit_every_page(folder: Path) -> dict[str, list[str]]:
    """Open the app, then each page it lists in this state; the error boxes per page.

    Which pages exist depends on who is signed in (pages/_auth.py), and that cannot be
    decided while the database is unusable, so a page the app does not list is not
    visited (AppTest refuses to switch to it, as a browser would get the default page).
    """
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=TIMEOUT).run()
    errors = {"(start)": assert_nothing_leaks(at, folder)}
    for page in PAGES:
        try:
            at.switch_page(f"pages/{page}")
        except ValueError as exc:
            assert "Could not find a navigation page" in str(exc)
            continue
        at.run()
        errors[page] = assert_nothing_leaks(at, folder)
    return errors


def seeded(path: Path) -> Path:
    """A real database with the headline fixture, closed so another process can take it."""
    con = db.connect(path)
    try:
        for name in ("headline_reps.csv", "headline_opps.csv"):
            result = import_file(con, FIXTURES / name, as_of=date(2024, 7, 15))
            assert result.ok, result.message
    finally:
        con.close()
    return path


@pytest.fixture
def holder() -> Iterator[Callable[[Path], None]]:
    """Start a separate process holding a write connection to a file until the test ends."""
    procs: list[subprocess.Popen[str]] = []

    def hold(path: Path) -> None:
        code = (
            "import sys, time, duckdb\n"
            "con = duckdb.connect(sys.argv[1])\n"
            "con.execute('CREATE TABLE IF NOT EXISTS held (x INTEGER)')\n"
            "print('ready', flush=True)\n"
            "time.sleep(600)\n"
        )
        proc = subprocess.Popen(
            [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True
        )
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait(timeout=30)


def test_database_locked_by_another_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, holder: Callable[[Path], None]
) -> None:
    path = seeded(tmp_path / "sales.duckdb")
    holder(path)
    monkeypatch.setenv("SALES_DB", str(path))
    errors = visit_every_page(tmp_path)
    assert errors["(start)"], "the lock went unnoticed"
    for page, shown in errors.items():
        assert shown, f"{page}: no error shown while the database is locked"
        assert all(e.startswith("Sorry") for e in shown), shown
        assert any("in use by another" in e for e in shown), (page, shown)


def test_database_file_is_not_duckdb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "sales.duckdb"
    path.write_bytes(b"opportunity_id,stage\nO-1,Discovery\n" * 200)  # a CSV saved by mistake
    monkeypatch.setenv("SALES_DB", str(path))
    errors = visit_every_page(tmp_path)
    for page, shown in errors.items():
        assert any("sales.duckdb is not a DuckDB database" in e for e in shown), (page, shown)


@pytest.mark.parametrize(
    "ddl",
    [
        "CREATE TABLE opportunities (id INTEGER, title VARCHAR, value DOUBLE)",
        "CREATE TABLE settings (k INTEGER, v INTEGER)",
    ],
)
def test_database_of_another_program(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ddl: str
) -> None:
    path = tmp_path / "sales.duckdb"
    con = duckdb.connect(str(path))
    con.execute(ddl)
    con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    errors = visit_every_page(tmp_path)
    assert errors["(start)"]
    assert any("tables are not the ones" in e for shown in errors.values() for e in shown)


def test_unexpected_failure_shows_a_reference_that_is_in_the_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug whose text holds a server path and code location: the page shows neither."""
    import analytics.metrics.headline as headline

    secret = tmp_path / "srv" / "secret.csv"

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError(f'File "{ROOT}/analytics/metrics/headline.py", line 1: {secret}')

    monkeypatch.setenv("SALES_DB", str(seeded(tmp_path / "sales.duckdb")))
    monkeypatch.setattr(headline, "headline_with_previous", broken)
    with caplog.at_level(logging.ERROR, logger="dashboard"):
        at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=TIMEOUT).run()
    (shown,) = assert_nothing_leaks(at, tmp_path)
    assert "secret" not in shown
    match = REFERENCE.search(shown)
    assert match, shown
    logged = [r for r in caplog.records if match.group(1) in r.getMessage()]
    assert logged and logged[0].exc_info is not None  # the traceback is in the log
    assert str(secret) in str(logged[0].exc_info[1])


def test_data_page_upload_shows_file_names_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upload flow stores the file beside the database; the page names it, no folder."""
    monkeypatch.setenv("SALES_DB", str(tmp_path / "sales.duckdb"))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=TIMEOUT).run()
    at.switch_page("pages/data.py").run()
    content = (FIXTURES / "headline_opps.csv").read_bytes()
    at.file_uploader(key="uploads").set_value(("headline_opps.csv", content, "text/csv")).run()
    assert_nothing_leaks(at, tmp_path)
    at.button(key="import").click().run()
    assert_nothing_leaks(at, tmp_path)
    assert any(plain(s.value).startswith("headline_opps.csv: loaded") for s in at.success)
    stored = duckdb.connect(str(tmp_path / "sales.duckdb"))  # same instance as the app
    try:
        (kept,) = stored.execute("SELECT stored_path FROM imports").fetchone()
    finally:
        stored.close()
    assert Path(kept).is_file()
    assert not any(kept in t for t in texts(at))


# -- the code: no st.exception, no traceback formatting -------------------------------------


def test_pages_never_render_exceptions() -> None:
    sources = [ROOT / "dashboard.py", *sorted((ROOT / "pages").glob("*.py"))]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert "st.exception" not in text and ".exception(" not in text, path.name
        assert "import traceback" not in text and "format_exc" not in text, path.name


def test_streamlit_config_hides_error_details() -> None:
    """The safety net under `friendly_error`: anything uncaught shows no details."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["showErrorDetails"] == "none"
