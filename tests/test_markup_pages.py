"""Every page, as each of the four roles, over a database whose every name is markup.

Why (issue 17.5 and 17.6): a rep, team, account, stage, source, plan or file named
``**Bold** [x](javascript:...) ![x](http://...) :red[r] $x^2$ <b>h</b>`` must read as typed
wherever Streamlit parses markdown or plotly parses HTML; and no page may fail for a role
because it links to a page outside that role's navigation (the Leads page's link to
Settings did, for everyone but sales operations).

The page-level check reads every markdown-parsed string (bodies, labels, help, options)
and every plotly text out of the run's element protos (tests/markup_check.py) and fails
when a raw marker is there: the text reached the screen without analytics.markup. The
last tests show that the check does fail when a page skips the helper.
"""

from __future__ import annotations

import ast
import csv
import io
from collections.abc import Iterator
from pathlib import Path

import markup_db
import pytest
from markup_check import leaks, rendered_texts
from markup_db import (
    ACCOUNTS,
    ANN,
    CARA,
    EVE,
    FILE_HOSTILE,
    HOSTILE,
    PASSWORD,
    PLAN,
    RAW_MARKERS,
)
from streamlit.testing.v1 import AppTest

from analytics import db
from analytics.markup import md, plain, plot_text
from analytics.users import add_user

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120  # seconds per script run: generous for loaded machines, never asserted on
HTML_MARKERS = ("<b>h</b>",)
ROLES = list(ACCOUNTS)
PAGES = ["overview", "reps", "funnel", "pipeline", "forecast", "leads", "commissions",
         "data", "settings"]  # fmt: skip
OPS_ONLY = {"data", "settings"}
ESCAPED = md(HOSTILE).casefold()
PLOT_ESCAPED = plot_text(HOSTILE).casefold()
# Pages that name something from the data in markdown for every role (the others show the
# names in tables and selectboxes only, which are plain text).
NAMES_SHOWN = {"reps", "funnel", "leads", "commissions", "settings"}


@pytest.fixture(scope="module")
def markup_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = markup_db.build(tmp_path_factory.mktemp("markup"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SALES_DB", str(path))
        yield path


def signed_in(role: str, query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=TIMEOUT)
    at.query_params.update(query)
    at.run()
    at.text_input(key="auth:email").input(ACCOUNTS[role].email)
    at.text_input(key="auth:password").input(PASSWORD)
    return at.button[0].click().run()


PERIODS = {"quarter": ("Quarter", "2024-Q2"), "month": ("Month", "2024-05")}


def query_for(role: str, period: str = "quarter") -> dict[str, str]:
    """Q2 2024 (or May: month views have their own controls, e.g. the quadrant's window and
    the commission month); the Reps drill-down opened on Ann (a rep's own opens by itself)."""
    kind, label = PERIODS[period]
    query = {"kind": kind, "period": label}
    if role in ("ops", "executive", "manager"):
        query["focus"] = ANN
    return query


def open_as(role: str, page: str, period: str = "quarter") -> AppTest:
    at = signed_in(role, query_for(role, period))
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page(f"pages/{page}.py").run()
    return at


def assert_clean(at: AppTest, what: str) -> None:
    assert not at.exception, (what, [e.value for e in at.exception])
    assert not at.error, (what, [e.value for e in at.error])


CASES = [(role, page) for role in ROLES for page in PAGES if role == "ops" or page not in OPS_ONLY]


@pytest.mark.parametrize("period", list(PERIODS))
@pytest.mark.parametrize(("role", "page"), CASES, ids=[f"{r}-{p}" for r, p in CASES])
def test_every_page_for_every_role_shows_markup_as_text(
    markup_path: Path, role: str, page: str, period: str
) -> None:
    at = open_as(role, page, period)
    assert_clean(at, f"{role} on {page}")
    assert [t.value for t in at.title][:1] == [page.capitalize()], "not the page asked for"
    found = leaks(at, RAW_MARKERS, HTML_MARKERS)
    assert not found, f"{role} on {page}: data reached markup unescaped: {found[:3]}"
    shown = [
        (PLOT_ESCAPED if where.startswith("plotly.") else ESCAPED) in text.casefold()
        for where, text in rendered_texts(at)
    ]
    # the sidebar names a manager's team and a rep; no deal was created in May (empty funnel)
    if (page in NAMES_SHOWN and period == "quarter") or role in ("manager", "rep"):
        assert any(shown), f"{role} on {page}: no name from the data shown, escaped or not"


@pytest.mark.parametrize("role", [r for r in ROLES if r != "ops"])
@pytest.mark.parametrize("page", sorted(OPS_ONLY))
def test_data_and_settings_stay_out_of_other_roles_navigation(
    markup_path: Path, role: str, page: str
) -> None:
    at = signed_in(role, query_for(role))
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(f"pages/{page}.py")


# --- the spots the issue found, read as a user reads them ---------------------------------------


def markdown_texts(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown] + [c.value for c in at.caption]


def test_reps_not_placed_caption_and_drill_down_header(markup_path: Path) -> None:
    at = open_as("ops", "reps")
    assert_clean(at, "reps")
    not_placed = [t for t in markdown_texts(at) if t.startswith("Not placed:")]
    assert len(not_placed) == 1
    assert plain(not_placed[0]).startswith(f"Not placed: {EVE} (")
    assert md(EVE) in not_placed[0]
    headers = [h.value for h in at.header if h.value.startswith("Drill-down:")]
    assert headers == [f"Drill-down: {md(ANN)}"]
    assert plain(headers[0]) == f"Drill-down: {ANN}"


def test_commission_statement_sentence(markup_path: Path) -> None:
    at = open_as("rep", "commissions")
    assert_clean(at, "commissions")
    sentences = [t for t in markdown_texts(at) if t.startswith(f"**{md(CARA)} is paid ")]
    assert sentences, markdown_texts(at)
    assert plain(sentences[0]).startswith(f"**{CARA} is paid ")
    scope = [t for t in markdown_texts(at) if "Plan in force:" in t]
    assert scope and md(PLAN) in scope[0]


def test_sidebar_names_the_manager_team_escaped(markup_path: Path) -> None:
    at = open_as("manager", "overview")
    signed = [c.value for c in at.sidebar.caption if c.value.startswith("Signed in as")]
    assert signed and plain(signed[0]) == (
        f"Signed in as **boss@example.com** (manager of team {markup_db.EAST})"
    )
    # selectbox options are plain text in Streamlit: the name as typed, no backslashes
    team = at.sidebar.selectbox(key="team")
    assert team.value == markup_db.EAST


def test_leads_page_links_to_settings_for_ops_only(markup_path: Path) -> None:
    for role in ROLES:
        at = open_as(role, "leads")
        assert_clean(at, f"{role} on leads")
        links = [n.proto.page for n in _nodes(at) if type(n.proto).__name__ == "PageLink"]
        # the proto holds the page's URL path: "settings" for pages/settings.py
        assert [p.rsplit("/", 1)[-1] for p in links] == (["settings"] if role == "ops" else [])


def _nodes(at: AppTest) -> list:
    out, todo = [], [at._tree]
    while todo:
        node = todo.pop()
        if hasattr(node, "proto") and node.proto is not None:
            out.append(node)
        todo.extend((getattr(node, "children", None) or {}).values())
    return out


# --- the check itself can fail ----------------------------------------------------------------


def test_the_check_fails_when_a_page_skips_the_helper(
    markup_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With md() turned into str() the pages' names reach markdown raw: the check sees it.

    Page scripts import `md` afresh on every run, so patching the module is enough.
    """
    import analytics.markup

    monkeypatch.setattr(analytics.markup, "md", lambda v: "" if v is None else str(v))
    at = open_as("ops", "reps")
    found = leaks(at, RAW_MARKERS, HTML_MARKERS)
    assert any(text.startswith("Not placed:") for _, text in found), found
    assert any(text.startswith("Drill-down:") for _, text in found), found


def test_the_check_reads_plotly_text(markup_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import analytics.markup

    monkeypatch.setattr(analytics.markup, "plot_text", lambda v: "" if v is None else str(v))
    at = open_as("ops", "funnel")
    found = leaks(at, RAW_MARKERS, HTML_MARKERS)
    assert any(where.startswith("plotly.") for where, _ in found), found


# --- every role on an empty database ----------------------------------------------------------


@pytest.fixture
def empty_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "empty.duckdb"
    con = db.connect(path)
    try:
        for account in ACCOUNTS.values():
            add_user(con, account, PASSWORD)
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    return path


@pytest.mark.parametrize("role", ROLES)
def test_every_page_on_an_empty_database(empty_path: Path, role: str) -> None:
    """The empty-database hint links to the Data page only for those who may open it."""
    at = signed_in(role, {})
    for page in PAGES:
        if role != "ops" and page in OPS_ONLY:
            continue
        at.switch_page(f"pages/{page}.py").run()
        assert_clean(at, f"{role} on {page}")


# --- page_link goes through the helper ---------------------------------------------------------


def test_pages_link_only_through_the_helper() -> None:
    """st.page_link raises for a page outside the role's navigation: only _ui.page_link,
    which checks, may call it."""
    offenders = []
    for path in [ROOT / "dashboard.py", *sorted((ROOT / "pages").glob("*.py"))]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "page_link"
                and isinstance(node.value, ast.Name)
                and node.value.id == "st"
                and path.name != "_ui.py"
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, offenders


# --- the Data page: a file named with markup, loaded and refused -----------------------------


def csv_text(*rows: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def test_data_page_reports_a_hostile_file_name_as_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The result box starts with the file's name: it must read as typed, loaded or not."""
    monkeypatch.setenv("SALES_DB", str(markup_db.build(tmp_path)))
    at = open_as("ops", "data")
    assert_clean(at, "data")
    good = f"more {FILE_HOSTILE}.csv"
    reps = csv_text(
        ["rep", "manager", "team", "region", "role", "level", "hire_date", "active"],
        [markup_db.h("Zed"), "M", markup_db.WEST, "X", "AE", "junior", "2024-01-01", "TRUE"],
    )
    at.file_uploader(key="uploads").set_value((good, reps.encode(), "text/csv")).run()
    assert not leaks(at, RAW_MARKERS, HTML_MARKERS)
    at.button(key="import").click().run()
    assert_clean(at, "data after a good import")
    assert not leaks(at, RAW_MARKERS, HTML_MARKERS)
    loaded = [plain(s.value) for s in at.success]
    assert any(text.startswith(f"{good}: loaded") for text in loaded), loaded

    bad = f"bad {FILE_HOSTILE}.csv"
    deals = csv_text(
        ["opportunity_id", "owner", "stage", "amount", "close_date"],
        ["X-1", ANN, "Closed Won", HOSTILE, "2024-05-01"],
    )
    at.file_uploader(key="uploads").set_value((bad, deals.encode(), "text/csv")).run()
    at.button(key="import").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not leaks(at, RAW_MARKERS, HTML_MARKERS)
    refused = [plain(e.value) for e in at.error]
    assert any(text.startswith(f"{bad}: refused") for text in refused), refused
