"""The Data page proposes a mapping from column contents and uses it only once confirmed
(issue 12.7), with the real app in AppTest and a file written by the test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apptest import assert_clean, open_page  # noqa: E402

from analytics import db  # noqa: E402
from analytics.markup import plain  # noqa: E402

OWNERS = ["Ana Ruiz", "Ben Okafor", "Chen Li"]
STAGES = ["Discovery", "Qualified", "Closed Won"]
ROWS = "\n".join(
    f"X{1000 + i},2024-0{1 + i % 3}-1{i % 9},{1200 + 37 * i},{STAGES[i % 3]},{OWNERS[i % 3]}"
    for i in range(12)
)
CONTENT = ("Kod,Termin,Wert,Etap,Kto\n" + ROWS + "\n").encode()


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def test_a_proposed_mapping_is_shown_and_used_only_when_confirmed(app_db: Path) -> None:
    at = open_page("pages/data.py")
    at.file_uploader(key="uploads").set_value(("opaque.csv", CONTENT, "text/csv")).run()
    assert_clean(at)
    assert any("Proposed from the column contents" in plain(m.value) for m in at.markdown)
    table = next(d.value for d in at.dataframe if "column in your file" in list(d.value.columns))
    assert dict(zip(table["field"], table["column in your file"], strict=True)) == {
        "opportunity_id": "Kod",
        "close_date": "Termin",
        "amount": "Wert",
        "stage": "Etap",
        "owner": "Kto",
    }
    # not confirmed: the required columns are still missing
    assert any("Required fields without a column" in plain(w.value) for w in at.warning)

    next(c for c in at.checkbox if c.label == "Use the proposed columns").check().run()
    assert_clean(at)
    assert not any("Required fields without a column" in plain(w.value) for w in at.warning)
    at.button(key="import").click().run()
    assert_clean(at)
    assert any(plain(s.value).startswith("opaque.csv: loaded: 12 of 12") for s in at.success)
    con = db.connect(app_db)
    try:
        got = con.execute(
            "SELECT opportunity_id, owner, amount FROM opportunities ORDER BY 1 LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    assert got == ("X1000", "Ana Ruiz", 1200)
