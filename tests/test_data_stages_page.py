"""The Data page shows the stages an upload would learn before Import (issue 12.2), and
the warnings of imported rows (issue 17.8), with the real app in AppTest."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apptest import assert_clean, open_page  # noqa: E402

from analytics import db  # noqa: E402
from analytics.markup import plain  # noqa: E402
from analytics.settings import load_stages  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "data"


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def test_proposed_stages_are_shown_before_import_and_learned_on_import(app_db: Path) -> None:
    at = open_page("pages/data.py")
    content = (FIXTURES / "ingest" / "learn_custom_plain.csv").read_bytes()
    at.file_uploader(key="uploads").set_value(("custom.csv", content, "text/csv")).run()
    assert_clean(at)

    assert any("New stages (5)" in plain(m.value) for m in at.markdown)
    grid = next(e for e in at.dataframe if e.key and e.key.endswith(":stages"))
    proposed = dict(zip(grid.value["stage in file"], grid.value["classified as"], strict=True))
    assert proposed == {
        "Closed - no decision": "lost",
        "Deal won": "won",
        "Intro call": "mapped",  # the first-contact step: it joins Discovery
        "Paperwork": "open",
        "Scoping": "open",
    }
    con = db.connect(app_db)
    assert "Intro call" not in [s.name for s in load_stages(con)]  # nothing saved yet
    con.close()

    at.button(key="import").click().run()
    assert_clean(at)
    assert any(plain(s.value).startswith("custom.csv: loaded: 8 of 8") for s in at.success)
    con = db.connect(app_db)
    stages = {s.name: s for s in load_stages(con)}
    con.close()
    assert {"Scoping", "Paperwork"} <= set(stages)
    assert "Intro call" in stages["Discovery"].aliases


def test_rows_loaded_with_a_warning_are_listed(app_db: Path) -> None:
    at = open_page("pages/data.py")
    content = (
        b"activity_id,owner,activity_type,started_at,duration_minutes\n"
        b"T1,Ann,call,2024-01-02 10:00,1000000000000\nT2,Ann,call,2024-01-02 11:00,15\n"
    )
    at.file_uploader(key="uploads").set_value(("calls.csv", content, "text/csv")).run()
    at.button(key="import").click().run()
    assert_clean(at)

    expander = next(e for e in at.expander if "Rows loaded with a warning (1)" in e.label)
    table = expander.dataframe[0].value
    assert list(table["line"]) == [2]
    assert "longer than a week" in table["warning"].iloc[0]
