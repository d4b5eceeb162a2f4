"""In a real browser: Bitrix24's "Export to Excel" (an HTML table saved as .xls, in
windows-1251) goes through the Data page's own file picker and imports with no settings
edited. The picker once refused the .xls suffix, so the format worked only from the CLI."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "ingest"))

from test_ingest_bitrix24 import _as_bitrix_excel  # noqa: E402

if TYPE_CHECKING:
    from conftest import Server
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e
FIXTURE = TESTS / "data" / "ingest" / "bitrix24_deals.csv"


def test_a_bitrix_excel_export_uploads_through_the_data_page(
    browser_page: Page, tmp_path: Path, streamlit_server: Callable[[Path], Server]
) -> None:
    from playwright.sync_api import expect

    upload = tmp_path / "upload" / "Сделки.xls"
    upload.parent.mkdir()
    upload.write_bytes(_as_bitrix_excel(FIXTURE.read_text("utf-8"), "windows-1251"))
    db_path = tmp_path / "team.duckdb"
    server = streamlit_server(db_path)

    page = browser_page
    page.goto(f"{server.url}/data")
    expect(page.get_by_role("heading", name="Data")).to_be_visible()
    page.locator('input[type="file"]').set_input_files(str(upload))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(
        re.compile(r"Сделки\.xls: loaded: 5 of 5 rows")
    )
    assert "Traceback" not in page.content(), server.log()
