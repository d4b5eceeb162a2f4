"""In a real browser: the Reps page, a click on a rep's point, the drill-down, a shared link.

The database holds the quadrant fixture (tests/test_quadrant.py): in 2024-Q2 Dan Ghost
booked 4,000 (40% of his 10,000 quota, a declining laggard) and Bob Stone 12,000 with a
75% win rate (a falling star). Clicking Dan's point in the quadrant must open his
drill-down and put him in the URL; choosing Bob in the "Drill down into" box must switch
to Bob's figures; opening the resulting URL in a fresh page must show Bob again.
"""

from __future__ import annotations

import io
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openpyxl
import pytest
from test_quadrant import load_fixture  # tests/ is on sys.path: its conftest.py lives there

from analytics import db

if TYPE_CHECKING:  # annotations only: playwright is imported lazily, inside the fixtures
    from conftest import Server
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(tempfile.gettempdir())
# Playwright's expect() waits 5 s by default; a rerun on a busy CI machine can take longer.
# Generous, and never asserted on: a fast machine passes as soon as the text appears.
WAIT = 30_000

# Where a rep's point is on screen: plotly's own axes convert data to pixels.
POINT_POSITION_JS = """(name) => {
  const gd = document.querySelector('.js-plotly-plot');
  if (!gd || !gd._fullData) return null;
  for (const trace of gd._fullData) {
    const custom = trace.customdata || [];
    for (let j = 0; j < custom.length; j++) {
      if (custom[j][0] === name) {
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
        const box = gd.getBoundingClientRect();
        return {x: box.left + xa._offset + xa.c2p(trace.x[j]),
                y: box.top + ya._offset + ya.c2p(trace.y[j])};
      }
    }
  }
  return null;
}"""


@pytest.fixture
def server(tmp_path: Path, streamlit_server: Callable[[Path], Server]) -> Server:
    """A server over the quadrant fixture (imported through the real importer)."""
    db_path = tmp_path / "e2e_reps.duckdb"
    con = db.connect(db_path)
    try:
        load_fixture(con, tmp_path)
    finally:
        con.close()  # the server process must be the only one holding the file
    return streamlit_server(db_path)


def card(page: Page, label: str) -> Locator:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]')


def settled(page: Page) -> None:
    """Wait until the script run is over (the page is greyed out while it runs)."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=WAIT)


def click_point(page: Page, rep: str) -> None:
    """Click the rep's marker in the quadrant, as a manager would."""
    from playwright.sync_api import expect

    chart = page.locator(".js-plotly-plot").first
    expect(chart).to_be_visible(timeout=WAIT)
    chart.scroll_into_view_if_needed()
    page.wait_for_function(f"({POINT_POSITION_JS})({rep!r}) !== null")
    where: dict[str, Any] = page.evaluate(POINT_POSITION_JS, rep)
    page.mouse.move(where["x"], where["y"])
    # Hovering shows the rep's key figures (before the click reruns the page).
    hover = chart.locator(".hoverlayer")
    expect(hover).to_contain_text(rep, timeout=WAIT)
    expect(hover).to_contain_text("Open pipeline", timeout=WAIT)
    page.mouse.click(where["x"], where["y"])


def test_reps_quadrant_click_and_drill_down(browser_page: Page, server: Server) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{server.url}/reps?kind=Quarter&period=2024-Q2")
    expect(page.get_by_role("heading", name="Reps", exact=True)).to_be_visible(timeout=WAIT)
    expect(page.get_by_text("2 rising stars, 1 falling stars")).to_be_visible(timeout=WAIT)
    leaderboard = page.get_by_role("heading", name="Leaderboard")
    expect(leaderboard).to_be_visible(timeout=WAIT)
    # Every placed rep is drawn, including those without open pipeline (smallest size).
    points = page.locator(".js-plotly-plot .scatterlayer path.point")
    expect(points).to_have_count(5, timeout=WAIT)
    for i in range(5):
        box = points.nth(i).bounding_box()
        assert box is not None and box["width"] >= 8, (i, box)
    settled(page)
    page.screenshot(path=str(SCREENSHOTS / "sales_e2e_reps.png"))

    # Clicking a point (after its hover label shows) opens the drill-down.
    click_point(page, "Dan Ghost")
    expect(page.get_by_role("heading", name="Drill-down: Dan Ghost")).to_be_visible(timeout=WAIT)
    expect(card(page, "Rep bookings")).to_have_text("4,000", timeout=WAIT)
    expect(card(page, "Rep quota attainment")).to_have_text("40.0%", timeout=WAIT)
    expect(page.get_by_text("declining laggard").first).to_be_visible(timeout=WAIT)
    expect(page).to_have_url(re.compile(r"[?&]focus=Dan(\+|%20)Ghost\b"), timeout=WAIT)
    settled(page)
    page.screenshot(path=str(SCREENSHOTS / "sales_e2e_reps_dan.png"))

    # The box does the same, and the URL follows.
    box = page.get_by_role("combobox", name="Drill down into")
    box.click()
    page.get_by_role("option", name="Bob Stone").click()
    expect(page.get_by_role("heading", name="Drill-down: Bob Stone")).to_be_visible(timeout=WAIT)
    expect(card(page, "Rep bookings")).to_have_text("12,000", timeout=WAIT)
    expect(card(page, "Rep win rate")).to_have_text("75.0%", timeout=WAIT)
    expect(page).to_have_url(re.compile(r"[?&]focus=Bob(\+|%20)Stone\b"), timeout=WAIT)
    expect(page.get_by_role("heading", name="Deals closed in 2024-Q2")).to_be_visible(timeout=WAIT)
    history = page.get_by_role("heading", name="KPIs over the last 12 quarters")
    expect(history).to_be_visible(timeout=WAIT)
    page.get_by_role("heading", name="Deals closed in 2024-Q2").scroll_into_view_if_needed()
    settled(page)
    page.screenshot(path=str(SCREENSHOTS / "sales_e2e_reps_bob.png"))
    shared = page.url
    assert "Traceback" not in page.content(), server.log()

    # The leaderboard downloads as Excel (built on click) with the same figures.
    with page.expect_download() as download:
        page.get_by_role("button", name="Excel").last.click()
    workbook = openpyxl.load_workbook(io.BytesIO(download.value.path().read_bytes()))
    rows = list(workbook.active.iter_rows(values_only=True))
    header = rows[0]
    bob = next(r for r in rows[1:] if r[0] == "Bob Stone")
    assert bob[header.index("bookings")] == 12000
    assert bob[header.index("quadrant")] == "falling star"
    assert download.value.suggested_filename == "rep scorecard 2024-Q2.xlsx"

    # A manager shares the link: a fresh page opens on Bob's drill-down.
    other = page.context.new_page()
    other.goto(shared)
    expect(other.get_by_role("heading", name="Drill-down: Bob Stone")).to_be_visible(timeout=WAIT)
    expect(card(other, "Rep bookings")).to_have_text("12,000", timeout=WAIT)
    period = other.get_by_role("combobox", name="Period", exact=True)
    expect(period).to_have_value("2024-Q2", timeout=WAIT)
    assert "Traceback" not in other.content(), server.log()
    assert "Traceback" not in server.log(), server.log()
