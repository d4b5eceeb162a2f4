"""A re-upload reports as updated only the records it changed (issue 12).

Why: a re-export of 18 deals in which 2 had moved was reported "0 new, 18 updated, 0
unchanged": every stored deal it named counted as updated, and a column the re-upload
lacked (the owner) could not have changed anything (an absent column keeps its stored
value). Now "unchanged" compares the columns the file carries; the record is still
replaced (a snapshot of this import, which a rollback restores from), and the history
shows the same figures as the result.

Hand-made CSV files, a real DuckDB file, the real rollback.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analytics import db
from analytics.backup import rollback_import
from analytics.ingest import import_file, import_history

FULL = (
    "Deal ID,Deal Name,Owner,Stage,Amount,Created Date,Close Date\n"
    "D1,One,Ann Lee,Discovery,1000,2024-01-05,2024-06-30\n"
    "D2,Two,Bob Stone,Demo,2000,2024-01-06,2024-06-30\n"
    "D3,Three,Cy Park,Discovery,3000,2024-01-07,2024-06-30\n"
    "D4,Four,Ann Lee,Closed Won,4000,2024-01-08,2024-02-01\n"
    "D5,Five,Bob Stone,Closed Lost,5000,2024-01-09,2024-02-02\n"
)
# the owner column dropped; D2 moved on to Closed Won, D3's amount changed
NO_OWNER = (
    "Deal ID,Deal Name,Stage,Amount,Created Date,Close Date\n"
    "D1,One,Discovery,1000,2024-01-05,2024-06-30\n"
    "D2,Two,Closed Won,2000,2024-01-06,2024-03-15\n"
    "D3,Three,Discovery,3300,2024-01-07,2024-06-30\n"
    "D4,Four,Closed Won,4000,2024-01-08,2024-02-01\n"
    "D5,Five,Closed Lost,5000,2024-01-09,2024-02-02\n"
)

REORDERED = "\n".join([FULL.split("\n")[0], *reversed(FULL.strip().split("\n")[1:])]) + "\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("second", "as_of", "counts", "updated", "unchanged"),
    [
        # a later export without the owner column: 2 changed, 3 as stored
        (NO_OWNER, date(2024, 4, 1), "0 new, 2 updated, 3 unchanged", 2, 3),
        # the same deals again (in another order: not the same file), a day later
        (REORDERED, date(2024, 4, 1), "0 new, 0 updated, 5 unchanged", 0, 5),
        # a re-export of the same day that changes 2 deals
        (NO_OWNER, date(2024, 3, 31), "0 new, 2 updated, 3 unchanged", 2, 3),
    ],
)
def test_a_reupload_counts_only_the_deals_it_changed(
    tmp_path: Path, second: str, as_of: date, counts: str, updated: int, unchanged: int
) -> None:
    con = db.connect(tmp_path / "app.duckdb")
    try:
        first = import_file(con, write(tmp_path, "full.csv", FULL), as_of=date(2024, 3, 31))
        assert first.status == "loaded", first.message
        again = import_file(con, write(tmp_path, "again.csv", second), as_of=as_of)
        assert again.status == "loaded", again.message
        assert counts in again.message.split("\n")[0], again.message
        assert (again.rows_updated, again.rows_unchanged) == (updated, unchanged)
        # the history says the same as the result
        row = import_history(con).iloc[0]
        assert (int(row["rows_updated"]), int(row["rows_unchanged"])) == (updated, unchanged)
        # the absent owner column kept every owner
        owners = con.execute(
            "SELECT list(owner ORDER BY opportunity_id) FROM opportunities"
        ).fetchone()[0]
        assert owners == ["Ann Lee", "Bob Stone", "Cy Park", "Ann Lee", "Bob Stone"]
    finally:
        con.close()


def test_an_unchanged_reupload_still_rolls_back_exactly(tmp_path: Path) -> None:
    """The replaced records are still counted for the rollback (imports.rows_updated)."""
    con = db.connect(tmp_path / "app.duckdb")
    try:
        import_file(con, write(tmp_path, "full.csv", FULL), as_of=date(2024, 3, 31))
        again = import_file(con, write(tmp_path, "again.csv", NO_OWNER), as_of=date(2024, 4, 1))
        assert (again.rows_updated, again.rows_unchanged) == (2, 3)
        rollback_import(con, again.import_id)
        got = con.execute(
            "SELECT list(stage ORDER BY opportunity_id), list(amount ORDER BY opportunity_id) "
            "FROM opportunities"
        ).fetchone()
        assert got[0] == ["Discovery", "Demo", "Discovery", "Closed Won", "Closed Lost"]
        assert [int(a) for a in got[1]] == [1000, 2000, 3000, 4000, 5000]
    finally:
        con.close()


LEADS = "Lead ID,Created Date,Lead Source\nL1,2024-01-05,Web\nL2,2024-01-06,Event\n"
LEADS_AGAIN = "Lead ID,Created Date,Lead Source\nL1,2024-01-05,Web\nL2,2024-01-06,Referral\n"


def test_a_reupload_of_leads_counts_the_changed_ones(tmp_path: Path) -> None:
    con = db.connect(tmp_path / "app.duckdb")
    try:
        first = import_file(con, write(tmp_path, "leads.csv", LEADS), kind="leads")
        assert first.status == "loaded", first.message
        again = import_file(con, write(tmp_path, "leads2.csv", LEADS_AGAIN), kind="leads")
        assert again.status == "loaded", again.message
        assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 1, 1)
    finally:
        con.close()
