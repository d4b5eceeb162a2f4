"""The kept original under uploads/ is always the whole upload, never a fragment.

Why: a kill during the copy used to leave part of the file under its final name, and a
re-import then trusted it (issue 17.3). The copy goes to a temporary name (under
uploads/.incoming/, written in the same pass that hashes the upload), is synced, then
renamed into place; an existing copy is hashed before it is trusted. The kill test is a
real `python -m analytics import` killed with SIGKILL while the copy is half written
($SALES_TEST_COPY_PAUSE holds it there after its first chunk).
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from analytics.ingest import import_file
from analytics.ingest.read import CHUNK

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HEADER = "opportunity_id,opportunity_name,account,owner,stage,amount,currency,close_date\n"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_deals(path: Path, rows: int) -> Path:
    """A deals file of `rows` rows: 150,000 make about 11 MB, two copy chunks."""
    with path.open("w", encoding="utf-8") as fh:
        fh.write(HEADER)
        for i in range(rows):
            fh.write(
                f"D-{i},Deal {i},Account {i % 97},Rep {i % 13},Discovery,{i}.50,USD,2024-06-30\n"
            )
    return path


def kept_folder(store: Path, original: Path) -> Path:
    digest = sha256(original)
    return store / "uploads" / digest[:2] / digest


def incoming(store: Path) -> Path:
    """Where an import writes its own copy while hashing the upload (read.PrivateCopy)."""
    return store / "uploads" / ".incoming"


def cli_import(file: Path, db_file: Path, **env: str) -> subprocess.Popen:
    environ = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), **env)
    environ.pop("SALES_DB", None)
    return subprocess.Popen(
        [sys.executable, "-m", "analytics", "import", str(file), "--db", str(db_file)],
        cwd=PROJECT_ROOT,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_partial(folder: Path, proc: subprocess.Popen, timeout: float = 90) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the import ended before its copy: {proc.communicate()}")
        partials = [p for p in folder.glob(".*.partial-*")] if folder.is_dir() else []
        if partials and partials[0].stat().st_size > 0:
            return partials[0]
        time.sleep(0.01)
    raise AssertionError("the copy never started")


def test_kill_during_the_copy_then_reimport_keeps_the_whole_file(tmp_path: Path) -> None:
    original = write_deals(tmp_path / "deals.csv", 150_000)
    size = original.stat().st_size
    assert size > CHUNK  # the pause comes after the first of two chunks
    db_file = tmp_path / "db" / "sales.duckdb"
    folder = kept_folder(db_file.parent, original)

    proc = cli_import(original, db_file, SALES_TEST_COPY_PAUSE="120")
    try:
        partial = wait_for_partial(incoming(db_file.parent), proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # the crash left a fragment, but only under its temporary name
    assert 0 < partial.stat().st_size < size
    assert not folder.exists()
    with duckdb.connect(str(db_file)) as con:
        assert con.execute("SELECT count(*) FROM imports").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM opportunities").fetchone() == (0,)

    again = cli_import(original, db_file)
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, out + err
    assert "Traceback" not in out + err
    assert "loaded: 150,000 of 150,000 rows" in out

    with duckdb.connect(str(db_file)) as con:
        (stored,) = con.execute("SELECT stored_path FROM imports").fetchone()
    assert Path(stored) == folder / "deals.csv"
    assert sha256(Path(stored)) == sha256(original)
    # the dead import's fragment is cleaned up by the next import
    assert sorted(p.name for p in folder.iterdir()) == ["deals.csv"]
    assert not partial.exists()
    assert not incoming(db_file.parent).exists()  # the copy was kept, its folder removed


def test_a_fragment_under_the_final_name_is_replaced(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """What a kill during the old in-place copy left: the start of the file, final name."""
    original = write_deals(tmp_path / "deals.csv", 2_000)
    store = tmp_path / "store"
    folder = kept_folder(store, original)
    folder.mkdir(parents=True)
    (folder / "deals.csv").write_bytes(original.read_bytes()[:5_000])

    result = import_file(con, original, data_dir=store)

    assert result.status == "loaded", result.message
    assert Path(result.stored_path) == folder / "deals.csv"
    assert sha256(Path(result.stored_path)) == sha256(original)
    (recorded,) = con.execute("SELECT stored_path FROM imports").fetchone()
    assert sha256(Path(recorded)) == sha256(original)


def test_a_duplicate_upload_repairs_a_damaged_kept_copy(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    original = write_deals(tmp_path / "deals.csv", 500)
    store = tmp_path / "store"
    first = import_file(con, original, data_dir=store)
    assert first.status == "loaded", first.message
    kept = Path(first.stored_path)
    kept.write_bytes(kept.read_bytes()[:1_000])  # damaged after the fact

    again = import_file(con, original, data_dir=store)

    assert again.status == "duplicate"
    assert "kept original was incomplete and has been replaced" in again.message
    assert sha256(kept) == sha256(original)
    assert con.execute("SELECT count(*) FROM imports").fetchone() == (1,)
    # a whole copy is left alone, and says nothing
    assert "kept original" not in import_file(con, original, data_dir=store).message


def test_leftovers_of_dead_imports_go_those_of_running_ones_stay(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    original = write_deals(tmp_path / "deals.csv", 100)
    store = tmp_path / "store"
    folder = kept_folder(store, original)
    folder.mkdir(parents=True)
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)  # fmt: skip
    dead = folder / f".deals.csv.partial-{finished.stdout.strip()}-0badc0de"
    running = folder / f".deals.csv.partial-{os.getpid()}-0badc0de"
    for leftover in (dead, running):
        leftover.write_bytes(b"opportunity_id,")

    assert import_file(con, original, data_dir=store).status == "loaded"

    assert not dead.exists()
    assert running.exists()
    assert sha256(folder / "deals.csv") == sha256(original)


def test_a_file_changed_during_the_copy_is_refused_and_changes_nothing(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fingerprint,
    data_dir: Path,
) -> None:
    original = write_deals(tmp_path / "deals.csv", 150_000)
    folder = kept_folder(data_dir, original)
    before = fingerprint()
    monkeypatch.setenv("SALES_TEST_COPY_PAUSE", "2")

    def append_while_copying() -> None:
        wait_until = time.monotonic() + 60
        while time.monotonic() < wait_until:
            if incoming(data_dir).is_dir() and any(incoming(data_dir).glob(".*.partial-*")):
                with original.open("a", encoding="utf-8") as fh:
                    fh.write("D-extra,Extra,Acme,Rep 1,Discovery,1.00,USD,2024-06-30\n")
                return
            time.sleep(0.005)

    writer = threading.Thread(target=append_while_copying)
    writer.start()
    result = import_file(con, original, data_dir=data_dir)
    writer.join()

    assert result.status == "refused"
    assert "the file changed while it was being imported" in result.message
    assert fingerprint() == before
    assert not folder.exists()
    assert not incoming(data_dir).exists()  # its own copy removed, and the emptied folder
