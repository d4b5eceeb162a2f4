"""In a real browser: every page, on the demo and on one sparse export, reads clean.

Issue 13.7: no "None", "nan", "NaN", "NaT" or "inf" anywhere a person reads. Each page is
opened in chromium with every expander unfolded; the visible text (innerText) must hold
none of those words standing alone (tests/readable.py). Streamlit's st.dataframe draws its
cells on a canvas, which innerText cannot read: those tables are checked in AppTest, on the
same two databases (the demo template and `build_sparse_db`) and the same pages, by
tests/test_readable_pages.py::test_page_has_nothing_unreadable (placeholder set, no such
text, no infinity). This walk once repeated that check after the browser's; it ran the same
AppTest code on a copy of the same file, so it is left to that test alone.

A full-page screenshot of every page goes to /tmp/shots/{demo,sparse}/ for a person to look
at (the closing note of the issue lists them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import browser_waits  # tests/ is on sys.path: its conftest.py lives there
import pytest
from readable import PAGES, build_sparse_db, unreadable_words

if TYPE_CHECKING:  # annotations only: playwright is imported lazily, inside the fixtures
    from conftest import Server
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.e2e

SHOTS = Path("/tmp/shots")
WAIT = 60_000  # upper bound for a page's script run on a busy machine, never measured
DATABASES = ("demo", "sparse")
# One test per database and page, so the eighteen spread over the test processes.
CASES = [(which, name) for which in DATABASES for name in PAGES]


@pytest.fixture
def server(
    which: str,
    module_servers: Callable[[str, Callable[[Path], Path]], Server],
    request: pytest.FixtureRequest,
) -> Server:
    """A server on database `which`, shared by this module's tests in this test process.

    Why shared: nothing here changes the database, and every test opens its page in its
    own browser context (its own session); a server start and the sparse import cost CPU
    seconds each. The demo database is a copy of the run's template.
    """

    def build(folder: Path) -> Path:
        if which == "demo":
            return request.getfixturevalue("copy_demo")(folder, "demo.duckdb")
        return build_sparse_db(folder / "sparse.duckdb", folder / "sparse_work")

    return module_servers(which, build)


@pytest.fixture(scope="module")
def context(browser: Browser) -> Iterator[BrowserContext]:
    """One browser context for the module's pages in this test process, as the walk had when
    it was one test per database: its HTTP cache keeps Streamlit's scripts (plotly's alone
    is 4.7 MB) parsed and compiled once rather than once per page. Each test still opens
    its own page, so its own Streamlit session; nothing here signs in or stores anything."""
    opened = browser.new_context(viewport={"width": 1440, "height": 1000})
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    from playwright.sync_api import expect

    expect.set_options(timeout=30_000)
    opened = context.new_page()
    opened.set_default_timeout(30_000)
    try:
        yield opened
    finally:
        opened.close()


def settled(page: Page) -> None:
    browser_waits.settled(page, WAIT)


def next_frame(page: Page) -> None:
    """Until the browser has laid out and painted what changed (two animation frames)."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def unfold(page: Page) -> None:
    """Open every expander, so text folded away is read (and photographed) too.

    Each folded summary gets a click event of its own (`dispatch_event`), not a mouse click
    at its place on the screen: on a loaded machine the page could still shift (a table or
    chart drawn late) between Playwright's scroll and its click, and the click then landed
    beside the summary; that expander stayed folded and the wait below ran out (CI, stop
    29). The folded ones are taken once per round, as elements: a locator of "not open"
    ones would move on to the next one as each opens, and skip every other. A round waits
    for its expanders to open; one that did not gets another round, three at most.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    selector = '[data-testid="stExpander"] details:not([open]) > summary'
    for _ in range(3):
        # one in a tab not shown stays folded (AppTest reads it)
        folded = [s for s in page.query_selector_all(selector) if s.is_visible()]
        if not folded:
            break
        for summary in folded:
            summary.dispatch_event("click")
        try:  # a <details> is open once its unfolding has begun
            page.wait_for_function(
                "summaries => summaries.every(s => !s.isConnected || s.parentElement.open)",
                arg=folded, timeout=WAIT // 3,
            )  # fmt: skip
        except PlaywrightTimeout:
            continue
    next_frame(page)
    still = [s.inner_text() for s in page.query_selector_all(selector) if s.is_visible()]
    assert still == [], f"expanders that would not open: {still}"


def photograph(page: Page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main block, so the window is made as
    tall as the tallest scrolling content first (full_page alone stops at the window)."""
    tallest = (
        "() => Math.max(...Array.from(document.querySelectorAll("
        "'[data-testid=stMainBlockContainer], [data-testid=stSidebarContent]'),"
        " e => e.getBoundingClientRect().top + e.scrollHeight))"
    )
    # Unfolding expanders scrolled the page: back to the top, or the picture starts midway.
    page.evaluate("() => document.querySelectorAll('*').forEach(e => { e.scrollTop = 0; })")
    for _ in range(3):  # a taller window can reflow the page: measure until it fits
        height = min(int(page.evaluate(tallest)) + 40, 16_000)
        if height <= page.viewport_size["height"]:  # type: ignore[index]
            break
        page.set_viewport_size({"width": 1440, "height": height})
        next_frame(page)  # the width stays: the charts keep their size, the page reflows
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 1000})


def visible_problems(page: Page) -> list[str]:
    text = page.locator('[data-testid="stMain"]').inner_text()
    text += "\n" + page.locator('[data-testid="stSidebar"]').inner_text()
    return [line.strip()[:160] for line in text.splitlines() if unreadable_words(line)]


@pytest.mark.parametrize(("which", "name"), CASES, ids=[f"{w}-{n}" for w, n in CASES])
def test_every_page_reads_clean(which: str, name: str, server: Server, page: Page) -> None:
    shots = SHOTS / which
    shots.mkdir(parents=True, exist_ok=True)
    page.goto(f"{server.url}/{'' if name == 'overview' else name}")
    settled(page)
    unfold(page)
    photograph(page, shots / f"{name}.png")
    assert "Traceback" not in page.content(), server.log()
    assert visible_problems(page) == [], f"{which} database, {name} page"
