"""The Data page's "Roll back an import" section and backup list, driven with AppTest.

The database is a real file with real imports; the page must undo exactly the chosen
import after a confirmation, refuse in plain words when the earlier state is gone (and
change nothing), and list the backup taken before an import that replaced data.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics import db
from analytics.ingest import import_file
from analytics.markup import plain

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 90  # seconds per script run on a loaded machine; never asserted on
HEADER = (
    "opportunity_id,opportunity_name,account,owner,stage,amount,currency,created_date,close_date"
)


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def deals(db_path: Path) -> list[tuple[str, str, float]]:
    con = db.connect(db_path)  # the app in this process holds it: same settings, shared
    try:
        return con.execute(
            "SELECT opportunity_id, stage, amount::DOUBLE FROM opportunities ORDER BY 1"
        ).fetchall()
    finally:
        con.close()


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data" / "app.duckdb"
    monkeypatch.setenv("SALES_DB", str(path))
    con = db.connect(path)
    try:
        day1 = write_csv(
            tmp_path / "deals-day1.csv",
            [
                "D-1,Alpha,Acme,Ana Ruiz,Discovery,1000.00,USD,2024-01-10,2024-06-30",
                "D-2,Beta,Globex,Ben Okafor,Demo,2500.00,USD,2024-01-20,2024-05-31",
            ],
        )
        day2 = write_csv(
            tmp_path / "deals-day2.csv",
            [
                "D-1,Alpha,Acme,Ana Ruiz,Trial,1200.00,USD,2024-01-10,2024-06-30",
                "D-3,Gamma,Initech,Ana Ruiz,Discovery,300.00,USD,2024-02-01,2024-07-15",
            ],
        )
        reps1 = write_csv(tmp_path / "reps1.csv", ["Ana Ruiz,Mia Chen,East"], "rep,manager,team")
        reps2 = write_csv(tmp_path / "reps2.csv", ["Ana Ruiz,Mia Chen,West"], "rep,manager,team")
        for upload, as_of in ((day1, date(2024, 3, 1)), (day2, date(2024, 3, 2))):
            assert import_file(con, upload, as_of=as_of).status == "loaded"
        for upload in (reps1, reps2):  # the second replaces a rep: not exactly undoable
            assert import_file(con, upload).status == "loaded"
    finally:
        con.close()
    return path


def data_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=TIMEOUT).run()
    at.switch_page("pages/data.py").run()
    assert not at.exception, at.exception
    return at


def rollback_pick(at: AppTest):  # noqa: ANN201 - AppTest's selectbox element
    return next(s for s in at.selectbox if s.key and s.key.startswith("rollback_pick"))


def import_offered(labels: list[str], file_name: str) -> int:
    """The import id of the option naming `file_name` (options read '#ID · file · ...')."""
    label = next(label for label in labels if f" {file_name} " in label)
    return int(label.split(" ", 1)[0].lstrip("#"))


def test_rollback_needs_a_confirmation_then_undoes_the_import(app_db: Path) -> None:
    before = deals(app_db)
    at = data_page()
    pick = rollback_pick(at)
    labels = pick.options  # as shown: the formatted labels
    assert any("deals-day2.csv" in label and "as of 2024-03-02" in label for label in labels)
    assert any("2 rows" in label for label in labels)
    assert pick.value is None  # nothing chosen until ops choose
    assert not any(b.key == "rollback" for b in at.button)

    day2 = import_offered(labels, "deals-day2.csv")
    pick.set_value(day2).run()
    assert at.button(key="rollback").disabled  # not before the confirmation
    assert deals(app_db) == before

    next(c for c in at.checkbox if c.key and c.key.startswith("rollback_confirm")).check().run()
    at.button(key="rollback").click().run()
    assert not at.exception
    assert any(f"Import #{day2}" in s.value and "rolled back" in plain(s.value) for s in at.success)
    assert deals(app_db) == [("D-1", "Discovery", 1000.0), ("D-2", "Demo", 2500.0)]
    history = next(d.value for d in at.dataframe if "file_name" in d.value.columns)
    assert "deals-day2.csv" not in set(history["file_name"])
    assert rollback_pick(at).value is None  # a fresh choice after a rollback


def test_a_rollback_that_cannot_be_exact_is_refused_and_changes_nothing(app_db: Path) -> None:
    before = deals(app_db)
    at = data_page()
    pick = rollback_pick(at)
    reps2 = import_offered(pick.options, "reps2.csv")
    pick.set_value(reps2).run()
    next(c for c in at.checkbox if c.key and c.key.startswith("rollback_confirm")).check().run()
    at.button(key="rollback").click().run()
    assert not at.exception
    refusal = " ".join(plain(w.value) for w in at.warning)
    assert f"import #{reps2} cannot be rolled back exactly" in refusal
    assert "Nothing was changed" in refusal
    assert "/" not in refusal.split("restore BACKUP")[0]  # no server path on the page
    assert deals(app_db) == before
    history = next(d.value for d in at.dataframe if "file_name" in d.value.columns)
    assert "reps2.csv" in set(history["file_name"])


def test_backups_taken_before_imports_are_listed(app_db: Path) -> None:
    at = data_page()
    expander = next(e for e in at.expander if e.label.startswith("Backups"))
    backups = sorted((app_db.parent / "backups").glob("*-before-import.duckdb"))
    assert len(backups) == 2  # day2 replaced deals, reps2 replaced a rep
    assert expander.label == "Backups (2)"
    listed = next(d.value for d in at.dataframe if "size MB" in d.value.columns)
    assert sorted(listed["file"]) == [p.name for p in backups]


def test_import_history_reads_in_words(app_db: Path) -> None:
    """The history table's headers are words, not column names, and the as-of date is a
    day (issue 13, "nothing unreadable": ops read 'as_of_date 2024-03-01 00:00:00')."""
    import json

    at = data_page()
    history = next(d for d in at.dataframe if "as_of_source" in d.value.columns)
    config = json.loads(history.proto.columns)
    # every column of the table has its words (the config also holds the hidden index)
    labels = {column: config.get(column, {}).get("label") for column in history.value.columns}
    assert labels["file_name"] == "File" and labels["as_of_date"] == "As of"
    assert labels["rows_loaded"] == "Loaded" and labels["as_of_source"] == "As-of date from"
    assert config["as_of_date"]["type_config"]["format"] == "YYYY-MM-DD"
    assert all(label and "_" not in label for label in labels.values()), labels
