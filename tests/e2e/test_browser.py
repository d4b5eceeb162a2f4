"""In a real browser: upload an export through the real file input, import, see Overview move.

The database starts with one seed deal (tests/data/app_seed_opps.csv: 500 won in March
2024), so the Overview already shows a Bookings card for 2024 before the upload. Uploading
tests/data/headline_opps.csv adds the 2024 wins worked out in tests/test_headline.py:
39,000, so the card must go from 500 to 39,500.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from analytics import db
from analytics.ingest import import_file

if TYPE_CHECKING:  # annotations only: playwright is imported lazily, inside the fixtures
    from conftest import Server
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "data"
SCREENSHOTS = Path(tempfile.gettempdir())


@pytest.fixture
def server(tmp_path: Path, streamlit_server: Callable[[Path], Server]) -> Server:
    """A server over a database holding only the seed deal."""
    db_path = tmp_path / "e2e.duckdb"
    con = db.connect(db_path)
    try:
        seed = import_file(
            con, FIXTURES / "app_seed_opps.csv", as_of=date(2024, 7, 15), data_dir=tmp_path
        )
        assert seed.ok, seed.message
    finally:
        con.close()  # the server process must be the only one holding the file
    return streamlit_server(db_path)


def bookings(page: Page) -> Locator:
    card = page.locator('[data-testid="stMetric"]').filter(has_text="Bookings").first
    return card.locator('[data-testid="stMetricValue"]')


def test_upload_import_and_overview_changes(browser_page: Page, server: Server) -> None:
    from playwright.sync_api import expect

    page = browser_page
    page.goto(f"{server.url}/?kind=Year&period=2024")
    expect(bookings(page)).to_have_text("500")
    page.screenshot(path=str(SCREENSHOTS / "sales_e2e_overview_before.png"), full_page=True)

    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Data").click()
    expect(page.get_by_role("heading", name="Data")).to_be_visible()
    page.locator('input[type="file"]').set_input_files(str(FIXTURES / "headline_opps.csv"))
    detected = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="Detected kind")
    expect(detected).to_contain_text("opportunities")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(
        re.compile(r"headline_opps\.csv: loaded: 12 of 12 rows")
    )
    page.screenshot(path=str(SCREENSHOTS / "sales_e2e_data.png"), full_page=True)

    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Overview").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    # The filters ride along in the URL across pages (a default, such as the latest period,
    # is left out of it), so the view is still the year 2024.
    expect(page).to_have_url(re.compile(r"[?&]kind=Year\b"))
    expect(page.get_by_role("combobox", name="Period", exact=True)).to_have_value("2024")
    expect(bookings(page)).to_have_text("39,500")  # 500 seed + 39,000 from the upload
    page.screenshot(path=str(SCREENSHOTS / "sales_e2e_overview_after.png"), full_page=True)
    assert "Traceback" not in page.content(), server.log()
