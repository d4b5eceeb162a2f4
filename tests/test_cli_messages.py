"""The maintenance commands speak in whole sentences and change nothing when they refuse
(issue 17.9): `restore` of a file that is not a DuckDB database says what the file is
instead of passing on DuckDB's catalog error, and every refusal ends with a full stop.

The real command line runs in its own process against a real database file; each bad
"backup" is a real file written by the test.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from analytics import db

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DUCKDB_WORDS = ("Catalog Error", "IO Error", "Binder Error", "in-memory", "Traceback")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _contents(path: Path) -> dict[str, object]:
    """Row counts of every table and the whole audit log: a command that opens the file
    for writing may checkpoint it (new bytes), but must not change what it holds."""
    con = db.connect(path)
    try:
        return {
            "counts": db.table_counts(con),
            "audit": con.execute("SELECT * FROM audit_log ORDER BY audit_id").fetchall(),
        }
    finally:
        con.close()


@pytest.fixture
def live(tmp_path: Path) -> Path:
    """A real, closed database with the schema (what `restore` would replace)."""
    path = tmp_path / "live" / "sales.duckdb"
    db.connect(path).close()
    return path


def _write(kind: str, path: Path) -> None:
    if kind == "csv":
        path.write_text(
            'Opportunity ID,Stage,Amount\nO-1,Closed Won,"1,200.00"\n', encoding="utf-8"
        )
    elif kind == "xlsx":
        with zipfile.ZipFile(path, "w") as book:
            book.writestr("[Content_Types].xml", "<Types/>")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "binary":
        path.write_bytes(bytes(range(256)) * 20)
    elif kind == "utf16":
        path.write_text("Stage\tAmount\nWon\t5\n", encoding="utf-16")


@pytest.mark.parametrize(
    ("kind", "name", "says"),
    [
        ("csv", "deals.csv", "it is a text file (a CSV export?), not a DuckDB database"),
        ("csv", "looks-like-a-backup.duckdb", "it is a text file"),
        ("xlsx", "deals.xlsx", "it is a zip archive (an .xlsx workbook?)"),
        ("empty", "empty.duckdb", "the file is empty"),
        ("binary", "noise.bin", "it is not a DuckDB database file"),
        ("utf16", "export.tsv", "it is a text file (a CSV export?)"),
    ],
)
def test_restore_of_a_file_that_is_no_database_says_so_and_changes_nothing(
    live: Path, tmp_path: Path, kind: str, name: str, says: str
) -> None:
    source = tmp_path / name
    _write(kind, source)
    before = sha(live)
    siblings = sorted(p.name for p in live.parent.iterdir())
    done = cli("restore", str(source), "--db", str(live))
    assert done.returncode == 2
    assert done.stdout == ""
    message = done.stderr.strip()
    assert message.count("\n") == 0, message  # one line
    assert message.startswith(f"error: {source} is not a usable backup: {says}")
    assert message.endswith("Nothing was restored; the database was left as it was.")
    assert not any(word in message for word in DUCKDB_WORDS), message
    assert sha(live) == before
    assert sorted(p.name for p in live.parent.iterdir()) == siblings  # no backup, no temp


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("rollback", "99999"), "there is no import #99999; the import history on the Data "
                                "page lists them. Nothing was changed."),
        (("rollback", "0"), "there is no import #0;"),
        (("restore", "{tmp}/absent.duckdb"), "there is no backup file at"),
    ],
)  # fmt: skip
def test_refusals_are_sentences_ending_with_a_full_stop(
    live: Path, tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    before = _contents(live)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = cli(*argv, "--db", str(live))
    assert done.returncode == 2
    message = done.stderr.strip()
    assert message.startswith("error: ")
    assert says in message
    assert message.endswith(".") and not message.endswith("..")
    assert ". ." not in message and " ." not in message
    assert _contents(live) == before


def test_rollback_without_a_database_is_a_sentence(tmp_path: Path) -> None:
    done = cli("rollback", "1", "--db", str(tmp_path / "nowhere.duckdb"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: there is no database at {tmp_path / 'nowhere.duckdb'}."
    assert not (tmp_path / "nowhere.duckdb").exists()
