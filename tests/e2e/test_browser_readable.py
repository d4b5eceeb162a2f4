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

import pytest
from readable import PAGES, build_sparse_db, unreadable_words

if TYPE_CHECKING:  # annotations only: playwright is imported lazily, inside the fixtures
    from conftest import Server
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e

SHOTS = Path("/tmp/shots")
WAIT = 60_000  # upper bound for a page's script run on a busy machine, never measured


@pytest.fixture(params=["demo", "sparse"])
def database(
    request: pytest.FixtureRequest, tmp_path: Path, copy_demo: Callable[..., Path]
) -> Iterator[tuple[str, Path]]:
    which = request.param
    if which == "demo":
        yield which, copy_demo(tmp_path, "demo.duckdb")
    else:
        yield which, build_sparse_db(tmp_path / "sparse.duckdb", tmp_path / "sparse_work")


def settled(page: Page) -> None:
    """Wait until the script run is over: the status widget shows only while it runs."""
    from playwright.sync_api import expect

    page.wait_for_selector('[data-testid="stMain"]', timeout=WAIT)
    page.wait_for_timeout(500)  # a rerun starts a moment after the first paint
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=WAIT)
    page.wait_for_timeout(300)


def unfold(page: Page) -> None:
    """Open every expander, so text folded away is read (and photographed) too."""
    for summary in page.locator('[data-testid="stExpander"] details:not([open]) > summary').all():
        if summary.is_visible():  # one in a tab not shown stays folded (AppTest reads it)
            summary.click()
    page.wait_for_timeout(300)


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
        page.wait_for_timeout(800)  # charts redraw at the new size
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1440, "height": 1000})


def visible_problems(page: Page) -> list[str]:
    text = page.locator('[data-testid="stMain"]').inner_text()
    text += "\n" + page.locator('[data-testid="stSidebar"]').inner_text()
    return [line.strip()[:160] for line in text.splitlines() if unreadable_words(line)]


def test_every_page_reads_clean(
    database: tuple[str, Path],
    streamlit_server: Callable[[Path], Server],
    browser_page: Page,
) -> None:
    which, db_path = database
    shots = SHOTS / which
    shots.mkdir(parents=True, exist_ok=True)
    server = streamlit_server(db_path)
    page = browser_page
    found: dict[str, list[str]] = {}
    for name in PAGES:
        page.goto(f"{server.url}/{'' if name == 'overview' else name}")
        settled(page)
        unfold(page)
        photograph(page, shots / f"{name}.png")
        assert "Traceback" not in page.content(), server.log()
        problems = visible_problems(page)
        if problems:
            found[name] = problems
    assert found == {}
