"""A crash (kill -9) in the middle of an import leaves the database as it was, or imported whole.

Each run is the real command line (`python -m analytics import`) in its own process on a
copy of one database, killed with SIGKILL at a chosen point. The points are found from the
outside, without hooks in the code: the upload file open in the child (/proc/PID/fd), the
backup's temporary file, the finished backup, the kept copy of the upload (made inside the
import's transaction, just before its `imports` row and COMMIT), and then plain delays
(fractions of a complete run's time) that land wherever the import happens to be
(inserting, committing, checkpointing at close). Afterwards the database must open and
hold exactly the state before the import or the state after a complete one: row counts
and a checksum of every row of the tables an import writes.
"""

from __future__ import annotations

import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from analytics import db
from analytics.db import quote_ident
from analytics.ingest import import_file

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/fd").is_dir(), reason="finds crash points through Linux's /proc"
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "opportunity_id,opportunity_name,account,owner,stage,amount,currency,created_date,close_date"
)
BASE_ROWS = 150_000  # the backup before the import takes long enough to be caught
IMPORT_ROWS = 300_000  # half of them replace deals of the base
TABLES = ("opportunities", "opportunity_snapshots", "imports", "stage_history_imported")
# differ between two runs of the same import: where the upload is kept, and when
VOLATILE = {"stored_path", "started_at", "finished_at"}
POLL = 0.002


def write_deals(path: Path, ids: range, stage: str) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        fh.write(HEADER + "\n")
        for i in ids:
            fh.write(
                f"D-{i},Deal {i},Account {i % 97},Rep {i % 13},{stage},{i}.00,USD,"
                "2024-01-10,2024-06-30\n"
            )
    return path


def checksum(db_file: Path) -> dict[str, tuple[int, int]]:
    """Per table: row count and the sum of every row's hash (order-independent)."""
    con = db.connect(db_file)  # opening replays the WAL, as the next user's open would
    try:
        out = {}
        for table in TABLES:
            cols = [
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE database_name = "
                    "current_database() AND table_name = ? ORDER BY column_index",
                    [table],
                ).fetchall()
                if r[0] not in VOLATILE
            ]
            row_hash = f"hash({', '.join(quote_ident(c) for c in cols)})"
            out[table] = con.execute(
                f"SELECT count(*), coalesce(sum({row_hash}::HUGEINT), 0) FROM {quote_ident(table)}"
            ).fetchone()
        return out
    finally:
        con.close()


def start_import(db_file: Path, upload: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "analytics", "import", str(upload), "--db", str(db_file),
         "--as-of", "2024-03-02"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def upload_open(pid: int, upload: Path) -> bool:
    """The child has the upload open and has read part of it."""
    for fd in Path(f"/proc/{pid}/fd").glob("*"):
        try:
            if os.readlink(fd) != str(upload):
                continue
            info = Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text()
        except OSError:
            continue
        if int(info.split("pos:")[1].split()[0]) > 0:
            return True
    return False


def backup_partial(run: Path) -> bool:
    return any((run / "backups").glob(".*partial*"))


def backup_done(run: Path) -> bool:
    return any((run / "backups").glob("*-before-import.duckdb"))


def upload_kept(run: Path) -> bool:
    return any(p.is_file() for p in (run / "uploads").glob("*/*/*"))


class AfterUploadKept:
    """Stages seen from outside once the upload is kept (inside the transaction).

    The WAL exists from the start (opening applies the schema), so the commit shows as the
    WAL growing past its size at that moment; the checkpoint at close then rewrites the
    database file itself. Each condition remembers what it saw, so one is made per run.
    """

    # DuckDB may commit a large transaction by checkpointing at once instead of writing its
    # changes to the WAL (the WAL then only gains a marker of a few bytes, and COMMIT
    # returns once the database file is rewritten). That rewrite IS the commit: a kill
    # during it must leave the database before or after, not necessarily after.
    MARKER_BYTES = 1024

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.wal_at_keep: int | None = None
        self.db_at_commit: tuple[int, int] | None = None
        self.commit_by_checkpoint = False

    def __call__(self, pid: int, run: Path, upload: Path) -> bool:
        wal = run / "sales.duckdb.wal"
        wal_size = wal.stat().st_size if wal.is_file() else 0
        if self.wal_at_keep is None:
            if upload_kept(run):
                self.wal_at_keep = wal_size
            return False
        if self.db_at_commit is None:
            if wal_size > self.wal_at_keep:
                stat = (run / "sales.duckdb").stat()
                self.db_at_commit = (stat.st_mtime_ns, stat.st_size)
                self.commit_by_checkpoint = wal_size - self.wal_at_keep < self.MARKER_BYTES
                return self.stage == "commit"
            return False
        stat = (run / "sales.duckdb").stat()
        return (stat.st_mtime_ns, stat.st_size) != self.db_at_commit


# name -> (a new condition on (pid, run dir, upload) per run, whether the import cannot
# have committed yet, whether it must have)
POINTS: dict[str, tuple[Callable[[], Callable[[int, Path, Path], bool]], bool, bool]] = {
    "reading the upload (hash pass)": (
        lambda: lambda pid, run, up: upload_open(pid, up),
        True,
        False,
    ),
    "writing the backup before the import": (
        lambda: lambda pid, run, up: backup_partial(run),
        True,
        False,
    ),
    "backup written, import transaction starting": (
        lambda: lambda pid, run, up: backup_done(run),
        True,
        False,
    ),
    "in the transaction: upload kept, imports row and COMMIT next": (
        lambda: lambda pid, run, up: upload_kept(run),
        False,  # the commit may beat the kill by the poll interval
        False,
    ),
    "committing: the WAL grows after the upload was kept": (
        lambda: AfterUploadKept("commit"),
        False,
        False,
    ),
    "checkpoint at close: the database file rewritten after the commit": (
        lambda: AfterUploadKept("checkpoint"),
        False,
        True,
    ),
}
# fractions of a complete run's time (measured in `setup`): wherever the import is by then
DELAYS = (0.2, 0.4, 0.6, 0.75, 0.85, 0.9, 0.95, 0.98)


@pytest.fixture(scope="module")
def setup(build_once_per_run: Callable[[str, Callable[[Path], object]], Path]) -> dict[str, Any]:
    """The database before the import, and the state after a complete one.

    Built once per test run (tests/conftest.py `built_once_per_run`): the tests only ever
    copy the base database and read the upload; each run of theirs gets its own folder.
    """

    def build(root: Path) -> None:
        (root / "setup.pickle").write_bytes(pickle.dumps(build_setup(root)))

    root = build_once_per_run("crash-setup", build)
    loaded: dict[str, Any] = pickle.loads((root / "setup.pickle").read_bytes())
    return loaded


def build_setup(root: Path) -> dict[str, Any]:
    base_db = root / "base" / "sales.duckdb"
    con = db.connect(base_db)
    try:
        base = write_deals(root / "base.csv", range(0, BASE_ROWS), "Discovery")
        assert import_file(con, base, data_dir=base_db.parent, backup=False).status == "loaded"
    finally:
        con.close()
    upload = write_deals(
        root / "upload.csv", range(BASE_ROWS // 2, BASE_ROWS // 2 + IMPORT_ROWS), "Demo"
    )
    complete = fresh_copy(base_db, root / "complete")
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "analytics", "import", str(upload), "--db", str(complete),
         "--as-of", "2024-03-02"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    duration = time.monotonic() - started
    before, after = checksum(base_db), checksum(complete)
    assert before != after
    return {
        "root": root,
        "base": base_db,
        "upload": upload,
        "before": before,
        "after": after,
        "duration": duration,
    }


def fresh_copy(base_db: Path, folder: Path) -> Path:
    folder.mkdir(parents=True)
    target = folder / "sales.duckdb"
    shutil.copyfile(base_db, target)
    return target


def kill_when(
    proc: subprocess.Popen[str], condition: Callable[[], bool], timeout: float = 300
) -> bool:
    """SIGKILL the child as soon as `condition` holds; False if it exited first."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            hit = condition()
        except (OSError, IndexError, ValueError):  # the child's /proc entry changing under us
            hit = False
        if hit:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            return True
        time.sleep(POLL)
    proc.wait(timeout=60)
    return False


def check_after_crash(setup: dict[str, Any], db_file: Path, must_be_before: bool) -> str:
    state = checksum(db_file)
    assert state in (setup["before"], setup["after"]), {
        table: "as before"
        if value == setup["before"][table]
        else "as after"
        if value == setup["after"][table]
        else f"neither: {value} (before {setup['before'][table]}, after {setup['after'][table]})"
        for table, value in state.items()
    }
    if must_be_before:
        assert state == setup["before"]
    # the crash left nothing in the way: the same upload imports cleanly now
    con = db.connect(db_file)
    try:
        result = import_file(con, setup["upload"], data_dir=db_file.parent)
    finally:
        con.close()
    if state == setup["before"]:
        assert result.status == "loaded", result.message
    else:
        assert result.status == "duplicate", result.message
    return "before" if state == setup["before"] else "after"


@pytest.mark.parametrize("point", list(POINTS))
def test_kill_at_a_point_leaves_the_database_before_or_after(
    setup: dict[str, Any], point: str
) -> None:
    make_condition, must_be_before, must_be_after = POINTS[point]
    for attempt in range(3):  # a point passed between two polls is tried again
        db_file = fresh_copy(setup["base"], setup["root"] / f"{point[:20]}-{attempt}")
        proc = start_import(db_file, setup["upload"])
        pid, run, upload, condition = proc.pid, db_file.parent, setup["upload"], make_condition()
        if kill_when(proc, lambda c=condition, pid=pid, run=run, up=upload: c(pid, run, up)):
            assert proc.returncode == -signal.SIGKILL
            outcome = check_after_crash(setup, db_file, must_be_before)
            print(f"killed at {point!r} (run {attempt + 1}): database as {outcome} the import")
            if must_be_after and not getattr(condition, "commit_by_checkpoint", False):
                assert outcome == "after"
            return
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    pytest.fail(f"the import never stopped at {point!r} in 3 runs")


@pytest.mark.parametrize("fraction", DELAYS)
def test_kill_after_a_delay_leaves_the_database_before_or_after(
    setup: dict[str, Any], fraction: float
) -> None:
    delay = fraction * setup["duration"]
    db_file = fresh_copy(setup["base"], setup["root"] / f"delay-{fraction}")
    proc = start_import(db_file, setup["upload"])
    started = time.monotonic()
    killed = kill_when(proc, lambda: time.monotonic() - started >= delay)
    if not killed:  # finished before the delay: it must then be complete
        assert proc.returncode == 0
    outcome = check_after_crash(setup, db_file, must_be_before=False)
    what = "killed" if killed else "finished before the kill"
    print(f"{what} at {delay:.1f} s ({fraction:.0%} of a full run): database as {outcome} it")
