"""Files left behind are removed, and only those (issue 17.10).

A real `python -m analytics backup` is killed with SIGKILL in the middle of its copy and
leaves its `.partial-…` file; the next start (the sweep) and the next backup remove it,
while the partial of a backup that is still running is left alone. Stashed uploads of
sessions that are gone are removed; the Data page removes its own after an import or a
refusal once they leave the uploader, and sweeps others' after each import.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics import db, leftovers

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "data"
FILLER_ROWS = 1_500_000  # enough that a backup takes a noticeable moment to copy


@pytest.fixture
def big_db(tmp_path: Path) -> Path:
    path = tmp_path / "sales.duckdb"
    con = db.connect(path)
    con.execute(
        "CREATE TABLE filler AS SELECT range AS id, md5(range::VARCHAR) || "
        "md5((range * 7)::VARCHAR) AS t FROM range(?)",
        [FILLER_ROWS],
    )
    con.close()
    return path


def _start_backup(db_path: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "analytics", "backup", "--db", str(db_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _partials(folder: Path) -> list[Path]:
    return sorted(folder.glob(".*.partial-*")) if folder.is_dir() else []


def _wait_for_partial(proc: subprocess.Popen, folder: Path) -> list[Path]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        found = _partials(folder)
        if found:
            return found
        time.sleep(0.005)
    pytest.fail("the backup finished or stalled before its partial file could be seen")


def test_a_backup_killed_mid_copy_leaves_a_partial_the_next_start_removes(
    big_db: Path,
) -> None:
    backups = big_db.parent / "backups"
    proc = _start_backup(big_db)
    _wait_for_partial(proc, backups)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    left = _partials(backups)
    assert left, "kill -9 should have left the partial behind (else the test proves nothing)"
    assert not [p for p in backups.iterdir() if p not in left]  # no finished backup

    swept = leftovers.sweep(big_db.parent)  # what the dashboard does when it starts
    assert sorted(swept.removed) == left
    assert list(backups.iterdir()) == []
    con = db.connect(big_db)  # the database itself is untouched and whole
    assert con.execute("SELECT count(*) FROM filler").fetchone()[0] == FILLER_ROWS
    con.close()


def test_the_next_backup_removes_what_a_killed_one_left(big_db: Path) -> None:
    backups = big_db.parent / "backups"
    proc = _start_backup(big_db)
    _wait_for_partial(proc, backups)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert _partials(backups)
    done = subprocess.run(
        [sys.executable, "-m", "analytics", "backup", "--db", str(big_db)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _partials(backups) == []
    assert len(list(backups.glob("*.duckdb"))) == 1


def test_a_running_backups_partial_is_left_alone(big_db: Path) -> None:
    backups = big_db.parent / "backups"
    proc = _start_backup(big_db)
    seen = _wait_for_partial(proc, backups)
    swept = leftovers.sweep(big_db.parent)
    still_running = proc.poll() is None
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    if still_running:  # the sweep ran while the copy was under way: it must not touch it
        assert not set(swept.removed) & set(seen)
    assert _partials(backups) == []
    assert len(list(backups.glob("*.duckdb"))) == 1


def _gone_pid() -> int:
    """The id of a process that has just exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _stash(pending: Path, name: str, age: float = 0.0) -> Path:
    folder = pending / name / "file_id_1"
    folder.mkdir(parents=True)
    path = folder / "deals.csv"
    path.write_text("Stage,Amount\nWon,5\n", encoding="utf-8")
    if age:
        stamp = time.time() - age
        for p in (path, folder, folder.parent):
            os.utime(p, (stamp, stamp))
    return folder.parent


def test_stashed_uploads_of_gone_sessions_go_and_live_ones_stay(tmp_path: Path) -> None:
    pending = tmp_path / "uploads" / "pending"
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = _stash(pending, f"session-{_gone_pid()}-abc123")
        since_start = time.time() - leftovers.PROCESS_STARTED
        before_start = _stash(pending, f"session-{os.getpid()}-old111", age=since_start + 5)
        mine = _stash(pending, f"session-{os.getpid()}-new222")
        other_live = _stash(pending, f"session-{sleeper.pid}-live33")
        other_idle = _stash(
            pending, f"session-{sleeper.pid}-idle44", age=leftovers.STASH_MAX_AGE + 60
        )
        legacy_fresh = _stash(pending, "session-x1y2z3")  # old name, no pid: by age
        legacy_old = _stash(pending, "session-q9w8e7", age=leftovers.STASH_MAX_AGE + 60)
        unrelated = pending / "notes.txt"
        unrelated.write_text("not a stash", encoding="utf-8")

        swept = leftovers.sweep(tmp_path)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert sorted(swept.removed) == sorted([dead, before_start, other_idle, legacy_old])
    for kept in (mine, other_live, legacy_fresh, unrelated):
        assert kept.exists()


def test_partials_in_uploads_and_restore_temporaries(tmp_path: Path) -> None:
    gone = _gone_pid()
    kept_dir = tmp_path / "uploads" / "ab" / ("ab" + "0" * 62)
    kept_dir.mkdir(parents=True)
    original = kept_dir / "deals.csv"
    original.write_text("whole\n", encoding="utf-8")
    dead_copy = kept_dir / f".deals.csv.partial-{gone}-0a1b2c3d"
    live_copy = kept_dir / f".deals.csv.partial-{os.getpid()}-0a1b2c3e"
    restore_tmp = tmp_path / f".sales.duckdb.restore-{gone}-deadbeef"
    restore_wal = tmp_path / f".sales.duckdb.restore-{gone}-deadbeef.wal"
    # an import's own copy, written while it hashed the upload (read.PrivateCopy)
    incoming = tmp_path / "uploads" / ".incoming"
    incoming.mkdir()
    dead_incoming = incoming / f".deals.csv.partial-{gone}-0a1b2c3f"
    live_incoming = incoming / f".deals.csv.partial-{os.getpid()}-0a1b2c40"
    for p in (dead_copy, live_copy, restore_tmp, restore_wal, dead_incoming, live_incoming):
        p.write_bytes(b"half")
    swept = leftovers.sweep(tmp_path)
    assert sorted(swept.removed) == sorted([dead_copy, restore_tmp, restore_wal, dead_incoming])
    assert original.exists() and live_copy.exists() and live_incoming.exists()


# --- the Data page ---------------------------------------------------------------------------


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def _session_files(pending: Path) -> list[Path]:
    return sorted(p for p in pending.rglob("*") if p.is_file()) if pending.is_dir() else []


@pytest.mark.parametrize(
    ("fixture", "outcome"),
    [("headline_opps.csv", "loaded"), ("app_bad_opps.csv", "refused")],
)
def test_data_page_leaves_no_stash_after_an_import_or_a_refusal(
    app_db: Path, fixture: str, outcome: str
) -> None:
    pending = app_db.parent / "uploads" / "pending"
    gone_session = _stash(pending, f"session-{_gone_pid()}-zz9988")
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60).run()
    assert not gone_session.exists()  # swept when the app opened its database
    gone_again = _stash(pending, f"session-{_gone_pid()}-yy7766")  # a session lost since
    at.switch_page("pages/data.py").run()
    content = (FIXTURES / fixture).read_bytes()
    at.file_uploader(key="uploads").set_value((fixture, content, "text/csv")).run()
    own = [p for p in _session_files(pending) if gone_again not in p.parents]
    assert len(own) == 1  # stashed while it is shown
    at.button(key="import").click().run()
    assert not at.exception
    shown = " ".join(m.value for m in [*at.success, *at.error, *at.warning]).replace("\\", "")
    assert f"{fixture}: {outcome}" in shown
    assert not gone_again.exists()  # swept after the import
    at.file_uploader(key="uploads").set_value([]).run()  # ops clears the uploader
    assert not at.exception
    assert _session_files(pending) == []
    assert list(pending.iterdir()) == []
