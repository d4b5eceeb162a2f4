"""In a real browser: every page, as each of the four roles, over names made of markup.

The database is tests/markup_db.py's: every rep, team, account, stage, source, event type,
currency, plan and file name holds ``**Bold** [x](javascript:alert(1))
![x](http://127.0.0.1:9/x.png) :red[r] $x^2$ <b>h</b> ...``. For each role the test signs
in and opens every page in its navigation (issue 17.6: the Leads page failed for every
role but sales operations), and on each page checks what a user would see:

- no error box and no exception;
- no request to the image's address (Playwright records every request the page makes:
  an image in rendered markdown is fetched the moment it is drawn; issue 17.5 saw six);
- no image, no javascript: link, no LaTeX and no bold "Bold" made from the names;
- the names that are shown read as typed (the sidebar caption of a manager and a rep,
  the Reps page's "Not placed:" caption, the rep's drill-down header).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import browser_waits  # tests/ is on sys.path: its conftest.py lives there
import markup_db  # tests/ is on sys.path: its conftest.py lives there
import pytest
from markup_db import ACCOUNTS, CARA, EAST, EVE, IMAGE_URL, PASSWORD

if TYPE_CHECKING:  # annotations only: playwright is imported lazily, inside the fixtures
    from conftest import Server
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

WAIT = 30_000  # ms for expect(): generous for a loaded machine, never asserted on
PAGES = ["Overview", "Reps", "Funnel", "Pipeline", "Forecast", "Leads", "Commissions",
         "Data", "Settings"]  # fmt: skip
OPS_ONLY = {"Data", "Settings"}
TEXT = '[data-testid="stMarkdownContainer"], [data-testid="stCaptionContainer"]'

# What rendered markup from a name would leave in the page (none of it is ours).
RENDERED_MARKUP_JS = """() => {
  const main = document.body;  // the sidebar too
  const texts = (sel) => [...main.querySelectorAll(sel)].map(e => e.textContent.trim());
  return {
    images: [...main.querySelectorAll('img')].map(i => i.getAttribute('src') || '')
              .filter(src => src.includes('127.0.0.1:9') || src.endsWith('x.png')),
    links: [...main.querySelectorAll('a')].map(a => a.getAttribute('href') || '')
             .filter(h => h.trim().toLowerCase().startsWith('javascript')
                          || h.includes('127.0.0.1:9') || h.startsWith('mailto:')),
    latex: main.querySelectorAll('.katex').length,
    boldNames: texts('strong, b').filter(t => t === 'Bold'),
    underlined: texts('em, i').filter(t => t === 'u'),
    plotlyBold: [...main.querySelectorAll('.js-plotly-plot tspan')]
                  .filter(t => (t.getAttribute('style') || '').includes('bold'))
                  .map(t => t.textContent).filter(t => t === 'h'),
  };
}"""


def settled(page: Page) -> None:
    browser_waits.settled(page, WAIT)


def sign_in(page: Page, server: Server, email: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.url}/?kind=Quarter&period=2024-Q2")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible(timeout=WAIT)
    page.get_by_role("textbox", name="E-mail").fill(email)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible(timeout=WAIT)
    settled(page)


def seen(text: str) -> str:
    """What a reader sees: analytics.markup puts invisible word joiners in URLs."""
    return text.replace("\u2060", "")


def assert_nothing_rendered(page: Page, where: str) -> None:
    found = page.evaluate(RENDERED_MARKUP_JS)
    assert found == {
        "images": [], "links": [], "latex": 0, "boldNames": [], "underlined": [],
        "plotlyBold": [],
    }, (where, found)  # fmt: skip


@pytest.mark.parametrize("role", list(ACCOUNTS))
def test_every_page_shows_markup_as_text(
    browser_page: Page,
    module_server: Callable[[Callable[[Path], Path]], Server],
    role: str,
) -> None:
    from playwright.sync_api import expect

    # One database and one server for the four roles (per test process): nothing here
    # changes the data, and each role signs in in its own browser context.
    server = module_server(markup_db.build)
    page = browser_page
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    sign_in(page, server, ACCOUNTS[role].email)

    nav = page.get_by_test_id("stSidebarNav")
    visited = []
    for title in PAGES:
        link = nav.get_by_role("link", name=title, exact=True)
        if role != "ops" and title in OPS_ONLY:
            expect(link).to_have_count(0)
            continue
        link.click()
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible(timeout=WAIT)
        settled(page)
        where = f"{role} on {title}"
        assert page.get_by_test_id("stAlertContentError").count() == 0, (
            where, page.get_by_test_id("stAlertContentError").all_inner_texts()
        )  # fmt: skip
        assert page.get_by_test_id("stException").count() == 0, where
        assert_nothing_rendered(page, where)
        markdown = page.locator(TEXT)
        if title == "Reps" and role in ("ops", "executive"):
            caption = markdown.filter(has_text="Not placed:")
            expect(caption).to_have_count(1, timeout=WAIT)
            text = seen(caption.inner_text())
            assert text.startswith(f"Not placed: {EVE} ("), text
        if title == "Reps" and role == "rep":
            header = page.get_by_role("heading", name="Drill-down:")
            expect(header).to_be_visible(timeout=WAIT)
            assert seen(header.inner_text()) == f"Drill-down: {CARA}"
        if title == "Commissions" and role == "rep":
            page.get_by_role("tab", name="Statement").click()
            panel = page.get_by_role("tabpanel", name="Statement")
            sentence = panel.locator(TEXT).filter(has_text=" is paid ")
            expect(sentence.first).to_be_visible(timeout=WAIT)
            text = seen(sentence.first.inner_text())
            assert text.startswith(f"{CARA} is paid "), text
        assert_nothing_rendered(page, where)  # again, with everything drawn
        visited.append(title)
    expected = [p for p in PAGES if role == "ops" or p not in OPS_ONLY]
    assert visited == expected

    settled(page)
    sidebar = page.get_by_test_id("stSidebar").locator(TEXT)
    expected_caption = {
        "manager": f"Signed in as boss@example.com (manager of team {EAST})",
        "rep": f"Your own figures: {CARA}",
    }.get(role)
    if expected_caption is not None:
        caption = sidebar.filter(has_text=expected_caption.split(" ", 3)[0])
        expect(caption.last).to_be_visible(timeout=WAIT)
        captions = [seen(t) for t in sidebar.all_inner_texts()]
        assert expected_caption in captions, captions
    fetched = [url for url in requests if IMAGE_URL in url or url.endswith("/x.png")]
    assert not fetched, fetched
    assert "Traceback" not in server.log(), server.log()
