"""Backups, restore and the rollback of one import, on real DuckDB files and real CSV files.

"Identical" is checked on every table's full contents (ORDER BY ALL), not on row counts,
because a backup that drops a column or a NULL would still have the right counts.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics import db
from analytics.backup import (
    BackupError,
    BackupIncomplete,
    RollbackRefused,
    backup,
    backup_before_import,
    backup_connection,
    list_backups,
    restore,
    rollback_import,
)
from analytics.db import quote_ident
from analytics.ingest import import_file

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "opportunity_id,opportunity_name,account,owner,stage,amount,currency,created_date,close_date"
)
DAY1 = date(2024, 3, 1)
DAY2 = date(2024, 3, 2)


def fingerprint(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Every base table's full contents, plus where the import id sequence stands.

    Except the audit log: it is append-only, so a rollback adds its own row rather than
    taking the import's away (tests/test_write_access.py checks those rows).
    """
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "AND schema_name = 'main' AND table_name <> 'audit_log' ORDER BY table_name"
        ).fetchall()
    ]
    out: dict[str, Any] = {
        t: con.execute(f"SELECT * FROM {quote_ident(t)} ORDER BY ALL").fetchall() for t in tables
    }
    out["(view) opportunity_stage_history"] = con.execute(
        "SELECT * FROM opportunity_stage_history ORDER BY ALL"
    ).fetchall()
    return out


def write_csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command line, in its own process, as ops would run it."""
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def day1(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "deals-day1.csv",
        [
            "D-1,Alpha,Acme,Ana Ruiz,Discovery,1000.00,USD,2024-01-10,2024-06-30",
            "D-2,Beta,Globex,Ben Okafor,Demo,2500.50,USD,2024-01-20,2024-05-31",
            "D-3,Gamma,Initech,Ana Ruiz,Qualified,,EUR,2024-02-01,2024-07-15",
        ],
    )


@pytest.fixture
def day2(tmp_path: Path) -> Path:
    """A newer export of the same deals (all changed) plus one new deal."""
    return write_csv(
        tmp_path / "deals-day2.csv",
        [
            "D-1,Alpha,Acme,Ana Ruiz,Demo,1200.00,USD,2024-01-10,2024-06-30",
            "D-2,Beta,Globex,Ben Okafor,Closed Won,2600.00,USD,2024-01-20,2024-03-01",
            "D-3,Gamma,Initech,Cy Tran,Trial,900.00,EUR,2024-02-01,2024-08-15",
            "D-4,Delta,Umbrella,Ben Okafor,Discovery,400.00,USD,2024-03-01,2024-09-30",
        ],
    )


@pytest.fixture
def reps_csv(tmp_path: Path) -> Path:
    return write_csv(
        tmp_path / "reps.csv",
        ["Ana Ruiz,Mia Chen,East", "Ben Okafor,Mia Chen,East"],
        header="rep,manager,team",
    )


def test_backup_then_restore_gives_identical_tables(
    con: duckdb.DuckDBPyConnection, db_path: Path, store: Path, day1: Path, day2: Path,
    reps_csv: Path, tmp_path: Path,
) -> None:  # fmt: skip
    assert import_file(con, day1, as_of=DAY1, data_dir=store).status == "loaded"
    assert import_file(con, reps_csv, data_dir=store).status == "loaded"
    before = fingerprint(con)
    made = backup(db_path, tmp_path / "saved.duckdb")
    assert made == (tmp_path / "saved.duckdb").resolve()
    # the database moves on after the backup ...
    assert import_file(con, day2, as_of=DAY2, data_dir=store).status == "loaded"
    assert fingerprint(con) != before
    con.close()
    # ... and the restore brings it back exactly, keeping the replaced one aside
    replaced = restore(made, db_path)
    assert replaced is not None and replaced.is_file()
    again = db.connect(db_path)
    try:
        assert fingerprint(again) == before
        # the import id sequence came back too: the next import does not collide
        later = import_file(again, day2, as_of=DAY2, data_dir=store)
        assert later.status == "loaded" and later.import_id == 3
    finally:
        again.close()
    with duckdb.connect(str(replaced), read_only=True) as old:
        assert old.execute("SELECT count(*) FROM opportunities").fetchone()[0] == 4


def test_backup_while_an_import_is_open_holds_none_of_it(
    con: duckdb.DuckDBPyConnection, db_path: Path, store: Path, day1: Path, tmp_path: Path
) -> None:
    """A backup taken while another cursor's transaction is open sees the committed state."""
    assert import_file(con, day1, as_of=DAY1, data_dir=store).status == "loaded"
    before = fingerprint(con)
    writer = con.cursor()
    writer.execute("BEGIN TRANSACTION")
    writer.execute("DELETE FROM opportunities")

    made = backup_connection(con.cursor(), tmp_path / "during.duckdb")
    writer.execute("ROLLBACK")
    with duckdb.connect(str(made), read_only=True) as copy:
        assert fingerprint(copy) == before


class CatalogReader(threading.Thread):
    """Another session whose open transaction reads every attached database's catalog
    until it has seen the backup's copy, which DuckDB then keeps attached for it."""

    def __init__(self, con: duckdb.DuckDBPyConnection, hold: float | None) -> None:
        super().__init__()
        self.cursor = con.cursor()
        self.cursor.execute("BEGIN TRANSACTION")
        self.hold = hold  # seconds to keep the transaction after that; None: until told
        self.seen = False
        self.release = threading.Event()

    def run(self) -> None:
        deadline = time.monotonic() + 20
        while not self.seen and time.monotonic() < deadline:
            names = self.cursor.execute("SELECT database_name FROM duckdb_databases()")
            if any(n.startswith("backup_") for (n,) in names.fetchall()):
                # reading its catalog starts this transaction on the copy too
                self.cursor.execute("SELECT count(*) FROM duckdb_tables()").fetchall()
                self.seen = True
        self.release.wait(timeout=self.hold)
        self.cursor.execute("COMMIT")


def slow_to_copy(con: duckdb.DuckDBPyConnection) -> None:
    """Enough rows that the copy is attached long enough for the reader to see it."""
    con.execute("CREATE TABLE ballast AS SELECT range AS i, md5(range::VARCHAR) AS h "
                "FROM range(1000000)")  # fmt: skip


def test_backup_waits_for_a_session_that_holds_the_copy_open(
    con: duckdb.DuckDBPyConnection, store: Path, day1: Path, tmp_path: Path
) -> None:
    """A transaction of another session that read every database's catalog holds the
    fresh copy attached, so DETACH cannot checkpoint it yet. The backup waits for that
    session rather than refusing the upload (a clean-clone CI run refused one)."""
    assert import_file(con, day1, as_of=DAY1, data_dir=store).status == "loaded"
    slow_to_copy(con)
    before = fingerprint(con)
    reader = CatalogReader(con, hold=0.5)
    reader.start()
    try:
        made = backup_connection(con.cursor(), tmp_path / "held.duckdb", settle_seconds=15)
    finally:
        reader.join()
    assert reader.seen, "the reader never saw the copy: the test proved nothing"
    assert not Path(str(made) + ".wal").exists()
    with duckdb.connect(str(made), read_only=True) as copy:
        assert fingerprint(copy) == before
        assert copy.execute("SELECT count(*) FROM ballast").fetchone() == (1000000,)


def test_backup_gives_up_on_a_copy_held_open_too_long(
    con: duckdb.DuckDBPyConnection, store: Path, day1: Path, tmp_path: Path
) -> None:
    """When the other session does not let go in time, the backup says so, leaves no
    file under the backup's name (the import tries such a backup again)."""
    assert import_file(con, day1, as_of=DAY1, data_dir=store).status == "loaded"
    slow_to_copy(con)
    reader = CatalogReader(con, hold=None)
    reader.start()
    try:
        with pytest.raises(BackupIncomplete, match="not written completely"):
            backup_connection(con.cursor(), tmp_path / "held.duckdb", settle_seconds=0.5)
    finally:
        reader.release.set()
        reader.join()
    assert reader.seen
    assert not (tmp_path / "held.duckdb").exists()


@pytest.mark.parametrize("bad", ["missing", "garbage", "empty", "other-duckdb"])
def test_restore_refuses_a_bad_backup_and_leaves_the_database(
    con: duckdb.DuckDBPyConnection, db_path: Path, store: Path, day1: Path, tmp_path: Path,
    bad: str,
) -> None:  # fmt: skip
    assert import_file(con, day1, as_of=DAY1, data_dir=store).status == "loaded"
    before = fingerprint(con)
    con.close()
    digest = sha(db_path)
    source = tmp_path / f"{bad}.duckdb"
    if bad == "garbage":
        source.write_bytes(b"this is not a database\n" * 1000)
    elif bad == "empty":
        source.write_bytes(b"")
    elif bad == "other-duckdb":
        with duckdb.connect(str(source)) as other:
            other.execute("CREATE TABLE something (x INTEGER)")
    with pytest.raises(BackupError) as refused:
        restore(source, db_path)
    expected = {
        "missing": "there is no backup file",
        "garbage": "is not a usable backup",
        "empty": "is not a usable backup",
        "other-duckdb": "not a backup of this dashboard's database",
    }[bad]
    assert expected in str(refused.value)
    assert sha(db_path) == digest
    assert not list(db_path.parent.glob(".*restore*"))
    again = db.connect(db_path)
    try:
        assert fingerprint(again) == before
    finally:
        again.close()


def test_backup_and_restore_on_the_command_line(
    con: duckdb.DuckDBPyConnection, db_path: Path, store: Path, day1: Path, day2: Path,
    tmp_path: Path,
) -> None:  # fmt: skip
    assert import_file(con, day1, as_of=DAY1, data_dir=store).status == "loaded"
    before = fingerprint(con)
    con.close()
    target = tmp_path / "cli-backup.duckdb"
    done = cli("backup", "--db", str(db_path), "--to", str(target))
    assert done.returncode == 0, done.stderr
    assert str(target) in done.stdout and target.is_file()
    listed = cli("backup", "--db", str(db_path), "--list")
    assert listed.returncode == 0
    later = db.connect(db_path)
    assert import_file(later, day2, as_of=DAY2, data_dir=store).status == "loaded"
    later.close()
    done = cli("restore", str(target), "--db", str(db_path))
    assert done.returncode == 0, done.stderr
    assert "saved as" in done.stdout
    again = db.connect(db_path)
    try:
        assert fingerprint(again) == before
    finally:
        again.close()
    # refusals: one sentence, exit 2, no traceback, database untouched
    for args in (
        ("restore", str(tmp_path / "nope.duckdb"), "--db", str(db_path)),
        ("restore", str(day1), "--db", str(db_path)),
        ("backup", "--db", str(tmp_path / "absent.duckdb")),
        ("backup", "--db", str(db_path), "--to", str(target)),  # exists: never overwritten
        ("rollback", "999", "--db", str(db_path)),
    ):
        failed = cli(*args)
        assert failed.returncode == 2, (args, failed.stdout, failed.stderr)
        assert failed.stderr.startswith("error: "), failed.stderr
        assert "Traceback" not in failed.stderr + failed.stdout
    again = db.connect(db_path)
    try:
        assert fingerprint(again) == before
    finally:
        again.close()


def test_rollback_of_the_newer_export_gives_back_the_older_state(
    con: duckdb.DuckDBPyConnection, store: Path, day1: Path, day2: Path
) -> None:
    a = import_file(con, day1, as_of=DAY1, data_dir=store)
    assert a.status == "loaded"
    after_a = fingerprint(con)
    b = import_file(con, day2, as_of=DAY2, data_dir=store)
    assert b.status == "loaded" and b.rows_updated == 3 and b.rows_inserted == 1

    # the older import cannot go while the newer one holds the same deals
    with pytest.raises(RollbackRefused, match=rf"later import #{b.import_id}.*the later one first"):
        rollback_import(con, a.import_id)
    assert con.execute("SELECT count(*) FROM opportunity_snapshots").fetchone()[0] == 7

    done = rollback_import(con, b.import_id)
    assert (done.restored, done.removed, done.snapshot_rows) == (3, 1, 4)
    assert "rolled back" in done.message
    # counts read in the right number, never "deal(s)"
    assert "3 deals restored to their earlier state, 1 new deal removed, 4 snapshot rows" in (
        done.message
    )
    assert fingerprint(con) == after_a
    assert not con.execute(
        "SELECT * FROM opportunity_snapshots WHERE snapshot_date = ?", [DAY2]
    ).fetchall()
    assert not con.execute("SELECT * FROM opportunities WHERE opportunity_id = 'D-4'").fetchall()

    # then the older one can go too, back to an empty pipeline
    rollback_import(con, a.import_id)
    assert con.execute("SELECT count(*) FROM opportunities").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM imports").fetchone()[0] == 0
    # the same file can be imported again afterwards (it is no longer a duplicate)
    assert import_file(con, day1, as_of=DAY1, data_dir=store).status == "loaded"


def test_rollback_of_an_older_export_imported_later(
    con: duckdb.DuckDBPyConnection, store: Path, day1: Path, day2: Path
) -> None:
    """An older export imported after a newer one only added snapshots: only they go."""
    assert import_file(con, day2, as_of=DAY2, data_dir=store).status == "loaded"
    after_newer = fingerprint(con)
    late = import_file(con, day1, as_of=DAY1, data_dir=store)
    assert late.status == "loaded" and late.rows_unchanged == 3
    done = rollback_import(con, late.import_id)
    assert (done.restored, done.removed, done.snapshot_rows) == (0, 0, 3)
    assert fingerprint(con) == after_newer


def test_rollback_refuses_when_a_same_day_import_replaced_rows(
    con: duckdb.DuckDBPyConnection, store: Path, day1: Path, day2: Path
) -> None:
    """Same as-of date: the second export replaced the first one's snapshot rows for good."""
    assert import_file(con, day1, as_of=DAY1, data_dir=store).status == "loaded"
    second = import_file(con, day2, as_of=DAY1, data_dir=store)
    assert second.status == "loaded"
    before = fingerprint(con)
    with pytest.raises(RollbackRefused, match="Restore the backup"):
        rollback_import(con, second.import_id)
    assert fingerprint(con) == before


def test_rollback_of_an_unknown_import(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(RollbackRefused, match="there is no import #42"):
        rollback_import(con, 42)


def test_rollback_of_reps_that_replaced_nothing_and_of_reps_that_did(
    con: duckdb.DuckDBPyConnection, store: Path, reps_csv: Path, tmp_path: Path
) -> None:
    first = import_file(con, reps_csv, data_dir=store)
    assert first.status == "loaded"
    after_first = fingerprint(con)
    moved = write_csv(tmp_path / "reps-moved.csv", ["Ana Ruiz,Li Wei,West"], "rep,manager,team")
    second = import_file(con, moved, data_dir=store)
    assert second.status == "loaded" and second.rows_updated == 1
    # the first one's Ana row was replaced by the second: roll that back first ...
    with pytest.raises(RollbackRefused, match=rf"#{second.import_id}"):
        rollback_import(con, first.import_id)
    # ... which cannot bring back Ana's old team: reps keep no history, a backup does
    with pytest.raises(RollbackRefused, match="earlier values are not kept"):
        rollback_import(con, second.import_id)
    assert fingerprint(con) == {
        **after_first,
        "reps": con.execute("SELECT * FROM reps ORDER BY ALL").fetchall(),
        "imports": con.execute("SELECT * FROM imports ORDER BY ALL").fetchall(),
    }
    other = tmp_path / "other.duckdb"
    fresh = db.connect(other)
    try:
        empty = fingerprint(fresh)
        only = import_file(fresh, reps_csv, data_dir=store)
        rollback_import(fresh, only.import_id)
        assert fingerprint(fresh) == empty
    finally:
        fresh.close()


def test_backup_before_import(
    con: duckdb.DuckDBPyConnection, db_path: Path, store: Path, day1: Path, tmp_path: Path
) -> None:
    assert backup_before_import(tmp_path / "no-such.duckdb") is None
    assert backup_before_import(db_path) is None  # nothing imported: nothing to lose
    assert import_file(con, day1, as_of=DAY1, data_dir=store).status == "loaded"
    before = fingerprint(con)
    made = backup_before_import(db_path)  # works while this process holds the database
    assert made is not None and made.parent == db_path.parent / "backups"
    assert list_backups(db_path.parent) == [made]
    with duckdb.connect(str(made), read_only=True) as copy:
        assert fingerprint(copy) == before


def test_two_databases_in_one_folder_list_their_own_backups(tmp_path: Path) -> None:
    """own.duckdb and ui.duckdb share <folder>/backups/: each lists its own copies (and a
    copy named by hand), never the other's beside "restore one" (found by a new user)."""
    paths = {}
    for name in ("own", "ui"):
        path = tmp_path / f"{name}.duckdb"
        db.connect(path).close()
        paths[name] = path
    own = backup(paths["own"])
    ui = backup(paths["ui"], reason="before-import")
    by_hand = tmp_path / "backups" / "keep-this.duckdb"
    by_hand.write_bytes(own.read_bytes())
    assert set(list_backups(tmp_path, paths["own"])) == {own, by_hand}
    assert set(list_backups(tmp_path, paths["ui"])) == {ui, by_hand}
    assert set(list_backups(tmp_path)) == {own, ui, by_hand}  # the folder as a whole
