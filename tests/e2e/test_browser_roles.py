"""In a real browser: a manager signs in and another team is nowhere to be seen.

The database holds the quadrant fixture (tests/test_quadrant.py): team East = Ann Lee, Bob
Stone (and their manager Max Boss on the roster); team West = Cara Diaz, Dan Ghost, Eve
Moss. The manager's account sees team East. The link they open asks for team West, and
the page must still show East only: in the filters, the quadrant's points, the page text
and the leaderboard's Excel download. Data and Settings are not in their navigation.

Without accounts the app is open, but to this machine only: a request that came through a
proxy on behalf of another address (X-Forwarded-For) is refused before any figure.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import openpyxl
import pytest
from test_quadrant import load_fixture  # tests/ is on sys.path: its conftest.py lives there

from analytics import db
from analytics.users import Account, add_user

if TYPE_CHECKING:  # annotations only: playwright is imported lazily, inside the fixtures
    from conftest import Server
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(tempfile.gettempdir())
WAIT = 30_000  # ms for expect(): generous for a loaded machine, never asserted on
PASSWORD = "correct horse battery staple"
WEST = ("Cara Diaz", "Dan Ghost", "Eve Moss")
EAST = {"Ann Lee", "Bob Stone", "Max Boss"}

# The rep names behind the quadrant's points (plotly keeps them in customdata).
POINT_NAMES_JS = """() => {
  const gd = document.querySelector('.js-plotly-plot');
  if (!gd || !gd._fullData) return null;
  return gd._fullData.flatMap(t => (t.customdata || []).map(c => c[0]));
}"""


def _fixture_db(tmp_path: Path, *accounts: Account) -> Path:
    db_path = tmp_path / "e2e_roles.duckdb"
    con = db.connect(db_path)
    try:
        load_fixture(con, tmp_path)
        for account in accounts:
            add_user(con, account, PASSWORD)
    finally:
        con.close()  # the server process must be the only one holding the file
    return db_path


def settled(page: Page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=WAIT)


def test_manager_signs_in_and_sees_only_their_team(
    browser_page: Page, tmp_path: Path, streamlit_server: Callable[[Path], Server]
) -> None:
    from playwright.sync_api import expect

    server = streamlit_server(
        _fixture_db(
            tmp_path,
            Account("boss@example.com", "manager", team="East"),
            Account("ops@example.com", "ops"),
        )
    )
    page = browser_page
    page.goto(f"{server.url}/?kind=Quarter&period=2024-Q2&team=West")

    # Before signing in: a form, and no figure of anyone.
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT)
    assert page.locator('[data-testid="stMetric"]').count() == 0
    page.get_by_role("textbox", name="E-mail").fill("boss@example.com")
    page.get_by_role("textbox", name="Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("wrong e-mail or password")).to_be_visible(timeout=WAIT)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # Signed in: the team filter is fixed to East although the link asked for West.
    expect(page.get_by_text("manager of team East")).to_be_visible(timeout=WAIT)
    team = page.get_by_role("combobox", name="Team")
    expect(team).to_have_value("East", timeout=WAIT)
    expect(team).to_be_disabled()
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav.get_by_text("Reps", exact=True)).to_be_visible(timeout=WAIT)
    for hidden in ("Data", "Settings"):
        expect(nav.get_by_text(hidden, exact=True)).to_have_count(0)

    # The Reps page: every point and every name is East's.
    nav.get_by_text("Reps", exact=True).click()
    expect(page.get_by_role("heading", name="Leaderboard")).to_be_visible(timeout=WAIT)
    page.wait_for_function(f"({POINT_NAMES_JS})() !== null")
    settled(page)
    names = set(page.evaluate(POINT_NAMES_JS))
    assert names and names <= EAST, names
    content = page.content()
    for other in WEST:
        assert other not in content, other
    page.screenshot(path=str(SCREENSHOTS / "sales_e2e_roles_manager.png"))

    with page.expect_download() as download:
        page.get_by_role("button", name="Excel").last.click()
    workbook = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()))
    reps = {row[0] for row in list(workbook.active.iter_rows(values_only=True))[1:]}
    assert reps and reps <= EAST, reps

    # The rep filter offers East's reps only.
    page.get_by_role("combobox", name="Rep").click()
    options = {o.strip() for o in page.get_by_role("option").all_inner_texts()}
    assert options - {"All reps"} == EAST, options
    page.keyboard.press("Escape")
    assert "Traceback" not in page.content(), server.log()
    assert "Traceback" not in server.log(), server.log()


def test_open_mode_refuses_a_request_from_elsewhere(
    browser_page: Page, tmp_path: Path, streamlit_server: Callable[[Path], Server]
) -> None:
    from playwright.sync_api import expect

    server = streamlit_server(_fixture_db(tmp_path))  # no accounts: open mode
    page = browser_page
    page.goto(f"{server.url}/?kind=Quarter&period=2024-Q2")
    expect(page.get_by_text("open to this machine only")).to_be_visible(timeout=WAIT)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=WAIT)

    # The same server seen through a proxy on behalf of another machine (only a header:
    # 203.0.113.7 is a documentation address, no traffic goes anywhere but loopback).
    other = page.context.browser.new_context(
        extra_http_headers={"X-Forwarded-For": "203.0.113.7"}
    ).new_page()
    other.goto(f"{server.url}/?kind=Quarter&period=2024-Q2")
    expect(other.get_by_text("only opens on the machine it runs on")).to_be_visible(timeout=WAIT)
    assert other.locator('[data-testid="stMetric"]').count() == 0
    expect(other.get_by_role("heading", name="Overview")).to_have_count(0)
    other.screenshot(path=str(SCREENSHOTS / "sales_e2e_roles_remote.png"))
