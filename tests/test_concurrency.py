"""Imports under load: at the same time as each other and as readers, in threads and processes.

Threads share one connection and take a cursor each, exactly as the dashboard's sessions do
(pages/_ui.py). Processes are real `python -m analytics import` runs: DuckDB admits one
writing process per file, so the second must be refused in plain words and change nothing.
Nothing here asserts on time; overlap is made likely with files big enough to take a while
and a barrier, and the assertions hold whatever the interleaving turned out to be.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics import db
from analytics.ingest import ImportResult, import_file

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "opportunity_id,opportunity_name,account,owner,stage,amount,currency,created_date,close_date"
)
STAGES = ("Discovery", "Qualified", "Demo", "Trial")
ROWS = 30_000  # big enough that two imports overlap in time on this machine


def write_deals(path: Path, ids: range, stage: str, amount_step: int = 1) -> Path:
    lines = [HEADER] + [
        f"D-{i},Deal {i},Account {i % 97},Rep {i % 13},{stage},{i * amount_step}.00,USD,"
        "2024-01-10,2024-06-30"
        for i in ids
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def state(con: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """One consistent reading (one statement, so one snapshot) of what an import changes."""
    return con.execute(
        """
        SELECT (SELECT count(*) FROM opportunities),
               (SELECT coalesce(sum(amount), 0) FROM opportunities),
               (SELECT count(*) FROM opportunity_snapshots),
               (SELECT count(*) FROM imports)
        """
    ).fetchone()


def current_deals(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.execute(
        "SELECT opportunity_id, stage, amount, snapshot_date FROM opportunities ORDER BY ALL"
    ).fetchall()


def import_in_threads(
    con: duckdb.DuckDBPyConnection, jobs: list[tuple[Path, date]], store: Path
) -> list[ImportResult]:
    """Start every import at the same moment, each on its own cursor of `con`."""
    barrier = threading.Barrier(len(jobs))
    results: list[ImportResult | BaseException | None] = [None] * len(jobs)

    def work(i: int, path: Path, as_of: date) -> None:
        cur = con.cursor()
        try:
            barrier.wait()
            results[i] = import_file(cur, path, as_of=as_of, data_dir=store)
        except BaseException as exc:  # reported below: a thread must not swallow it
            results[i] = exc
        finally:
            cur.close()

    threads = [threading.Thread(target=work, args=(i, *job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    assert all(isinstance(r, ImportResult) for r in results)
    return results  # type: ignore[return-value]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def seeded(con: duckdb.DuckDBPyConnection, tmp_path: Path, store: Path) -> tuple[Any, ...]:
    """A database holding one earlier import, so later imports replace data (and back up)."""
    base = write_deals(tmp_path / "base.csv", range(1_000_000, 1_000_500), "Discovery")
    assert import_file(con, base, as_of=date(2024, 2, 1), data_dir=store).status == "loaded"
    return state(con)


def test_two_imports_of_different_files_at_once_both_land_whole(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, store: Path, seeded: tuple[Any, ...]
) -> None:
    a = write_deals(tmp_path / "a.csv", range(0, ROWS), "Demo")
    b = write_deals(tmp_path / "b.csv", range(ROWS, 2 * ROWS), "Trial")
    results = import_in_threads(con, [(a, date(2024, 3, 1)), (b, date(2024, 3, 2))], store)

    assert [r.status for r in results] == ["loaded", "loaded"], [r.message for r in results]
    assert [r.rows_inserted for r in results] == [ROWS, ROWS]
    per_import = dict(
        con.execute("SELECT import_id, count(*) FROM opportunity_snapshots GROUP BY ALL").fetchall()
    )
    assert [per_import[r.import_id] for r in results] == [ROWS, ROWS]
    count, distinct = con.execute(
        "SELECT count(*), count(DISTINCT opportunity_id) FROM opportunities"
    ).fetchone()
    assert count == distinct == seeded[0] + 2 * ROWS
    # both replaced data (the table was not empty), so both took a backup first
    assert all(r.backup_path and Path(r.backup_path).is_file() for r in results)


def test_two_imports_of_the_same_deals_at_once_equal_one_after_the_other(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, store: Path, seeded: tuple[Any, ...]
) -> None:
    """Overlapping deals: without writers taking turns both imports inserted the new ones."""
    older = write_deals(tmp_path / "older.csv", range(0, ROWS), "Demo")
    newer = write_deals(tmp_path / "newer.csv", range(ROWS // 2, ROWS + ROWS // 2), "Trial", 2)
    jobs = [(older, date(2024, 3, 1)), (newer, date(2024, 3, 2))]
    results = import_in_threads(con, jobs, store)
    assert [r.status for r in results] == ["loaded", "loaded"], [r.message for r in results]

    serial_db = tmp_path / "serial" / "sales.duckdb"
    serial = db.connect(serial_db)
    try:
        base = tmp_path / "base.csv"
        import_file(serial, base, as_of=date(2024, 2, 1), data_dir=serial_db.parent)
        for path, as_of in jobs:
            assert import_file(serial, path, as_of=as_of, data_dir=serial_db.parent).ok
        expected = current_deals(serial)
        expected_snapshots = serial.execute(
            "SELECT count(*) FROM opportunity_snapshots"
        ).fetchone()[0]
    finally:
        serial.close()
    assert current_deals(con) == expected
    assert len(expected) == seeded[0] + ROWS + ROWS // 2  # each deal once
    assert con.execute("SELECT count(*) FROM opportunity_snapshots").fetchone()[0] == (
        expected_snapshots
    )


def test_the_same_file_uploaded_twice_at_once_lands_once(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, store: Path, seeded: tuple[Any, ...]
) -> None:
    a = write_deals(tmp_path / "a.csv", range(0, ROWS), "Demo")
    results = import_in_threads(con, [(a, date(2024, 3, 1)), (a, date(2024, 3, 1))], store)
    assert sorted(r.status for r in results) == ["duplicate", "loaded"]
    assert state(con)[0] == seeded[0] + ROWS
    assert state(con)[3] == seeded[3] + 1


def test_a_reader_sees_the_database_before_or_after_an_import_never_half(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, store: Path, seeded: tuple[Any, ...]
) -> None:
    """A session polling the figures while another imports sees only whole states."""
    big = write_deals(tmp_path / "big.csv", range(0, 4 * ROWS), "Demo", 3)
    seen: list[tuple[Any, ...]] = []
    done = threading.Event()
    failures: list[BaseException] = []

    def poll() -> None:
        cur = con.cursor()
        try:
            while not done.is_set():
                seen.append(state(cur))
            seen.append(state(cur))
        except BaseException as exc:
            failures.append(exc)
        finally:
            cur.close()

    reader = threading.Thread(target=poll)
    reader.start()
    cur = con.cursor()
    try:
        result = import_file(cur, big, as_of=date(2024, 3, 1), data_dir=store)
    finally:
        cur.close()
        done.set()
        reader.join(timeout=600)
    assert not failures, failures
    assert result.status == "loaded", result.message
    after = state(con)
    assert after[0] == seeded[0] + 4 * ROWS
    assert set(seen) <= {seeded, after}, sorted(set(seen) - {seeded, after})[:3]
    assert seen[-1] == after


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_second_process_is_refused_in_plain_words_and_changes_nothing(
    con: duckdb.DuckDBPyConnection, db_path: Path, tmp_path: Path, seeded: tuple[Any, ...]
) -> None:
    """This test's process holds the database, as the running dashboard would."""
    a = write_deals(tmp_path / "a.csv", range(0, 100), "Demo")
    before = state(con)
    run = cli("import", str(a), "--db", str(db_path))
    assert run.returncode == 2
    assert "is in use by another process" in run.stderr
    assert str(db_path) in run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert state(con) == before
    for command in (["backup"], ["rollback", "1"]):
        other = cli(*command, "--db", str(db_path))
        assert other.returncode == 2 and "in use by another process" in other.stderr
        assert "Traceback" not in other.stderr


def test_two_processes_importing_at_once_each_land_whole_or_are_refused(
    db_path: Path, tmp_path: Path
) -> None:
    files = [
        write_deals(tmp_path / "a.csv", range(0, ROWS), "Demo"),
        write_deals(tmp_path / "b.csv", range(ROWS, 2 * ROWS), "Trial"),
    ]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "analytics", "import", str(f), "--db", str(db_path)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in files
    ]
    outcomes = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    landed = []
    for (code, out, err), path in zip(outcomes, files, strict=True):
        assert "Traceback" not in out + err
        if code == 0:
            landed.append(path.name)
        else:
            assert code == 2 and "is in use by another process" in err, (code, out, err)
    assert landed, outcomes
    with duckdb.connect(str(db_path), read_only=True) as check:
        names = [r[0] for r in check.execute("SELECT file_name FROM imports ORDER BY 1").fetchall()]
        assert names == sorted(landed)
        per_import = check.execute(
            "SELECT count(*) FROM opportunity_snapshots GROUP BY import_id"
        ).fetchall()
        assert sorted(n for (n,) in per_import) == [ROWS] * len(landed)
        assert check.execute("SELECT count(*) FROM opportunities").fetchone()[0] == (
            ROWS * len(landed)
        )


def test_a_backup_that_cannot_be_written_refuses_the_import_and_changes_nothing(
    con: duckdb.DuckDBPyConnection,
    db_path: Path,
    tmp_path: Path,
    store: Path,
    seeded: tuple[Any, ...],
) -> None:
    """A folder problem (here a file where the backups folder goes) is not retried as a
    DuckDB conflict would be: the import is refused at once, naming the backup, and the
    database is as it was."""
    folder = db_path.parent / "backups"
    if folder.is_dir():  # the seeded import may have made it (nothing to back up then)
        shutil.rmtree(folder)
    folder.write_text("not a folder", encoding="utf-8")
    later = write_deals(tmp_path / "later.csv", range(0, 10), "Demo")
    result = import_file(con, later, as_of=date(2024, 3, 1), data_dir=store)
    assert result.status == "refused"
    assert "the backup before this import could not be written" in result.message
    assert state(con) == seeded
