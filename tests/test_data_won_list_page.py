"""The Data page's preview of a won-deal list says what Import will do (issue 12): the
won-list detection is the import's own, so no refusal is announced for a file that loads.

A hand-made .xlsx like a bookings export (lead id, seller, won date, value), in AppTest."""

from __future__ import annotations

import io
import sys
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apptest import assert_clean, open_page  # noqa: E402

from analytics import db  # noqa: E402
from analytics.markup import plain  # noqa: E402

WON_LABEL = "Every row is a won deal (a list of closed sales, no stage column)"


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def _xlsx(headers: list[str], rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


WON_ROWS = [
    ["L-1", "Ann Lee", datetime(2026, 11, 10), 1000],
    ["L-2", "Bob Stone", datetime(2026, 11, 12), 1500],
    ["L-5", "Carla Núñez", datetime(2026, 11, 20), 2500],
    ["L-8", "Dieter Müller", "28.11.2026", 3000.5],
]


def test_a_detected_won_list_is_previewed_as_won_deals_and_loads_so(app_db: Path) -> None:
    content = _xlsx(["lead id", "seller", "won date", "value"], WON_ROWS)
    at = open_page("pages/data.py")
    at.file_uploader(key="uploads").set_value(
        ("won_deals.xlsx", content, "application/octet-stream")
    ).run()
    assert_clean(at)
    warnings = [plain(w.value) for w in at.warning]
    assert not any("Required fields without a column" in w for w in warnings), warnings
    infos = [plain(i.value) for i in at.info]
    assert any(
        "Every row will be loaded as a won deal (a won date column without a stage" in i
        for i in infos
    ), infos
    box = next(c for c in at.checkbox if c.label == WON_LABEL)
    assert box.value is True and box.disabled

    at.button(key="import").click().run()
    assert_clean(at)
    assert any(plain(s.value).startswith("won_deals.xlsx: loaded: 4 of 4") for s in at.success)
    con = db.connect(app_db)
    try:
        won = con.execute("SELECT count(*) FROM opportunities WHERE is_won").fetchone()[0]
    finally:
        con.close()
    assert won == 4


def test_a_stageless_file_without_a_won_date_keeps_the_box_free(app_db: Path) -> None:
    """No won or closed date: not a won-deal list unless ops say so; ticking it drops the
    stage from the missing fields, as the import does."""
    content = _xlsx(["lead id", "seller", "value"], [[r[0], r[1], r[3]] for r in WON_ROWS])
    at = open_page("pages/data.py")
    at.file_uploader(key="uploads").set_value(
        ("sellers.xlsx", content, "application/octet-stream")
    ).run()
    assert_clean(at)
    assert not any("will be loaded as a won deal" in plain(i.value) for i in at.info)
    box = next(c for c in at.checkbox if c.label == WON_LABEL)
    assert box.value is False and not box.disabled
