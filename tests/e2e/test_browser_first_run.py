"""In a real browser: a database path that does not exist opens empty, on the first-run
page, and the deals template downloads and imports (issue 12.1).

The server is started on a path with no file behind it, as `make run DB=path/own.duckdb`
does for a new team: no demo deals, no error box, the template a click away.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # annotations only: playwright is imported lazily, inside the fixtures
    from conftest import Server
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e


def test_a_new_database_opens_on_the_first_run_page(
    browser_page: Page, tmp_path: Path, streamlit_server: Callable[[Path], Server]
) -> None:
    from playwright.sync_api import expect

    db_path = tmp_path / "own" / "new-team.duckdb"
    assert not db_path.exists()
    server = streamlit_server(db_path)
    page = browser_page
    page.goto(server.url)
    expect(page.get_by_role("heading", name="First run: this database is empty")).to_be_visible()
    expect(page.get_by_text("No deals in the database yet", exact=False)).to_be_visible()
    expect(page.get_by_text("Accepted formats", exact=False)).to_be_visible()
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_contain_text("No deals loaded yet")
    expect(sidebar).not_to_contain_text("Demo data")
    assert page.get_by_test_id("stException").count() == 0
    assert page.get_by_test_id("stAlertContentError").count() == 0

    with page.expect_download() as info:
        page.get_by_role("button", name="Download the deals template (CSV)").click()
    saved = tmp_path / "template.csv"
    info.value.save_as(saved)
    header = (
        saved.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    )  # BOM: Excel reads UTF-8
    assert header[0] == "stage" and "amount" in header and "close_date" in header

    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Data").click()
    expect(page.get_by_role("heading", name="Data")).to_be_visible()
    page.locator('input[type="file"]').set_input_files(str(saved))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("loaded: 1 of 1")
    assert "Traceback" not in page.content(), server.log()
