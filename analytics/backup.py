"""Nothing lost: backups, restore and the rollback of one import.

Backups use DuckDB's own consistent copy (`ATTACH` a new file, `COPY FROM DATABASE`), so a
backup taken while other sessions read or import is one transaction's snapshot, never a
torn file copy; the result is itself a DuckDB file anyone can open. A restore never writes
into the live file: it builds the new database beside it and swaps it in with os.replace,
so a crash leaves either the old database or the new one.

Rolling back an import undoes exactly what that import added or changed, using only what
the database itself keeps (see `rollback_import` for the rule and its limits). When the
earlier state is not in the database, the rollback refuses and points at the backups.

Writes are serialised by the application, not by files: DuckDB lets one process open a
database file for writing, so the dashboard holds the only connection and every session
takes a cursor of it. Another process (a second dashboard, the CLI) is refused with a
lock error while the dashboard runs; see tests/test_concurrency.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import pandas as pd

from analytics import audit
from analytics.access import Access, require
from analytics.db import data_dir_for, quote_ident, transaction
from analytics.leftovers import sweep_partials
from analytics.metrics.derived import DERIVED_SOURCES, refresh_derived
from analytics.numbers import counted

BACKUP_DIR_NAME = "backups"
BACKUP_SUFFIX = ".duckdb"
AUTO_REASON = "before-import"
SETTLE_SECONDS = 30.0  # longest wait for another session to let go of a fresh copy
KEEP_AUTOMATIC = 20  # automatic backups kept per database; older ones are pruned
REQUIRED_TABLES = frozenset({"imports", "opportunities"})


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is meant for the user."""


class BackupIncomplete(BackupError):
    """The copy's write-ahead log was still there when the wait ran out: another session
    held the copy open. Worth trying again, unlike a full disk or a bad path."""


class RollbackRefused(Exception):
    """A rollback that would not give back the earlier state; the message says why."""


def _literal(value: str | os.PathLike[str]) -> str:
    """A SQL string literal: ATTACH takes no parameters, so paths are quoted by hand."""
    return "'" + str(value).replace("'", "''") + "'"


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable: without it, a power cut may forget the os.replace."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def _explain(exc: duckdb.Error, db_path: Path) -> str:
    """One sentence for a DuckDB error; a lock means another process holds the file."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if "lock" in text.lower():
        return (
            f"the database {db_path} is in use by another process (the dashboard or another "
            "command); stop it first, or use the Data page of the running dashboard"
        )
    return text


def backups_dir(data_dir: Path | str) -> Path:
    """Backups live beside the database, in <data dir>/backups/."""
    return Path(data_dir) / BACKUP_DIR_NAME


def _backup_name(db_path: Path, reason: str | None) -> str:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    tail = f"-{reason}" if reason else ""
    return f"{Path(db_path).stem}-{stamp}{tail}{BACKUP_SUFFIX}"


def _settled(partial: Path, timeout: float) -> bool:
    """Whether the copy has left its write-ahead log, waiting up to `timeout` seconds.

    Why: DETACH checkpoints the copy only once no transaction holds it. A transaction
    that another session opened on the same database and that read the catalog of every
    attached database (duckdb_tables(), information_schema) keeps the copy attached until
    it ends; the checkpoint then runs at its commit. A clean-clone run saw exactly that
    while a second upload of the same file was being staged, and the upload was refused.
    """
    deadline = time.monotonic() + timeout
    while _wal(partial).exists():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def backup_connection(
    con: duckdb.DuckDBPyConnection, dest: Path | str, *, settle_seconds: float = SETTLE_SECONDS
) -> Path:
    """Copy the database behind `con` into the new file `dest`; returns `dest`.

    The copy is one `COPY FROM DATABASE` statement, hence one transaction: other cursors
    may keep importing and the backup still holds either all of an import or none of it.
    It is written under a temporary name and renamed, so a crash never leaves a
    half-written file under a backup's name. Must not run inside an open transaction.
    """
    dest = Path(dest).resolve()
    if dest.exists():
        raise BackupError(f"{dest} already exists; choose a new file name for the backup")
    dest.parent.mkdir(parents=True, exist_ok=True)
    sweep_partials(dest.parent)  # what a killed backup left here (its process is gone)
    partial = dest.with_name(f".{dest.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    alias = f"backup_{uuid.uuid4().hex}"
    source = con.execute("SELECT current_database()").fetchone()[0]
    try:
        con.execute(f"ATTACH {_literal(partial)} AS {alias}")
        try:
            con.execute(f"COPY FROM DATABASE {quote_ident(source)} TO {alias}")
        finally:
            con.execute(f"DETACH {alias}")  # checkpoints: the copy is whole in one file
        if not _settled(partial, settle_seconds):
            raise BackupIncomplete(f"the backup {dest} was not written completely; try again")
        _fsync_file(partial)
        os.replace(partial, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        partial.unlink(missing_ok=True)
        _wal(partial).unlink(missing_ok=True)
        raise
    return dest


def backup(
    db_path: Path | str, dest: Path | str | None = None, *, reason: str | None = None
) -> Path:
    """Write a consistent copy of the database file `db_path`; returns the backup's path.

    `dest` may be a file (must not exist), a folder, or None for <data dir>/backups/.
    Opening the file takes DuckDB's lock, so a database held by another process is
    refused with a clear message instead of being copied half-way through a write.
    """
    db_path = Path(db_path).resolve()
    if not db_path.is_file():
        raise BackupError(f"there is no database at {db_path}")
    if dest is None:
        target = backups_dir(data_dir_for(db_path)) / _backup_name(db_path, reason)
    elif Path(dest).is_dir():
        target = Path(dest) / _backup_name(db_path, reason)
    else:
        target = Path(dest)
    if target.exists():  # checked before opening: a refusal must not even open the file
        raise BackupError(f"{target} already exists; choose a new file name for the backup")
    try:
        con = duckdb.connect(str(db_path))
    except duckdb.Error as exc:
        raise BackupError(f"cannot back up: {_explain(exc, db_path)}") from exc
    try:
        return backup_connection(con, target)
    except duckdb.Error as exc:
        raise BackupError(f"the backup failed: {_explain(exc, db_path)}") from exc
    finally:
        con.close()


# A backup this module names: <database stem>-<YYYYMMDD>-<HHMMSS>-<microseconds>[-reason].
_NAMED = re.compile(r"^(?P<stem>.+)-\d{8}-\d{6}-\d{6}(?:-[a-z-]+)?$")


def list_backups(data_dir: Path | str, db_path: Path | str | None = None) -> list[Path]:
    """The backups in <data dir>/backups/, newest first (by their time-stamped names).

    With `db_path`, only that database's: two databases in one folder share the backups
    folder, and the Data page of one listed the other's copies beside "restore one" (a
    new user's two databases). A copy named by hand is listed for every database.
    """
    folder = backups_dir(data_dir)
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob(f"*{BACKUP_SUFFIX}") if p.is_file()]
    if db_path is not None:
        stem = Path(db_path).stem
        found = [p for p in found if _backup_of(p) in (None, stem)]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name), reverse=True)


def _backup_of(path: Path) -> str | None:
    """The database stem an automatic or `backup` name carries, None for another name."""
    named = _NAMED.match(path.name.removesuffix(BACKUP_SUFFIX))
    return named["stem"] if named else None


def backups_table(data_dir: Path | str, db_path: Path | str | None = None) -> pd.DataFrame:
    """The backups as the Data page lists them, newest first: file, taken, size MB.

    `taken` is the file's time to the second (when it was written, which a copied-in
    backup's name may not say); the size is in MB with one decimal.
    """
    backups = list_backups(data_dir, db_path)
    return pd.DataFrame(
        {
            "file": [p.name for p in backups],
            "taken": [pd.Timestamp.fromtimestamp(p.stat().st_mtime).floor("s") for p in backups],
            "size MB": [round(p.stat().st_size / 1024 / 1024, 1) for p in backups],
        },
        columns=["file", "taken", "size MB"],
    )


def database_file(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The file behind `con`'s current database; None for an in-memory one."""
    row = con.execute(
        "SELECT file FROM pragma_database_list WHERE name = current_database()"
    ).fetchone()
    return Path(row[0]).resolve() if row and row[0] else None


def backup_before_import(db: Path | str | duckdb.DuckDBPyConnection) -> Path | None:
    """The automatic safety copy taken before an import that replaces data.

    `db` is the database file, or a connection to it (the importer passes its own, so the
    running dashboard backs up through the connection it already holds). Returns None when
    there is nothing to lose yet (no database file, an in-memory database, or no import
    in it). Keeps the newest KEEP_AUTOMATIC automatic backups of this database, so a busy
    month of uploads does not fill the disk; backups taken by hand are never pruned.
    Must not be called inside an open transaction of the same connection.
    """
    if isinstance(db, duckdb.DuckDBPyConnection):
        cur = db.cursor()  # a cursor of its own: never inside the caller's transaction
        try:
            return _backup_before_import(cur)
        finally:
            cur.close()
    db_path = Path(db).resolve()
    if not db_path.is_file():
        return None
    try:
        con = duckdb.connect(str(db_path))
    except duckdb.Error as exc:
        raise BackupError(f"cannot back up: {_explain(exc, db_path)}") from exc
    try:
        return _backup_before_import(con)
    finally:
        con.close()


def _backup_before_import(con: duckdb.DuckDBPyConnection) -> Path | None:
    db_path = database_file(con)
    if db_path is None:
        return None
    try:
        has_imports = (
            con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = 'main' AND table_name = 'imports'"
            ).fetchone()[0]
            and con.execute("SELECT count(*) FROM imports").fetchone()[0]
        )
        if not has_imports:
            return None
        folder = backups_dir(data_dir_for(db_path))
        made = backup_connection(con, folder / _backup_name(db_path, AUTO_REASON))
    except duckdb.Error as exc:
        raise BackupError(f"the backup failed: {_explain(exc, db_path)}") from exc
    pattern = f"{db_path.stem}-*-{AUTO_REASON}{BACKUP_SUFFIX}"
    automatic = sorted(folder.glob(pattern), key=lambda p: p.name, reverse=True)
    for old in automatic[KEEP_AUTOMATIC:]:
        old.unlink(missing_ok=True)
    return made


def restore(backup_path: Path | str, db_path: Path | str) -> Path | None:
    """Replace the database `db_path` by the backup `backup_path`, atomically.

    The backup is checked first (a DuckDB file holding this project's tables); the new
    database is built beside the live one and swapped in with os.replace, so at every
    moment the path holds a whole database. The database being replaced is first backed
    up itself (its path is returned; None when there was no database), so a wrong restore
    can be undone. The database must not be open elsewhere: another process is refused by
    DuckDB's lock; in this process, close its connections first.
    """
    source = Path(backup_path).resolve()
    db_path = Path(db_path).resolve()
    if not source.is_file():
        raise BackupError(f"there is no backup file at {source}")
    if source == db_path:
        raise BackupError("the backup and the database are the same file")
    problem = not_a_duckdb_file(source)
    if problem:
        raise BackupError(
            f"{source} is not a usable backup: {problem}. A backup is a DuckDB file written "
            "by `python -m analytics backup` (or before each import, under backups/)"
        )
    db_path.parent.mkdir(parents=True, exist_ok=True)
    fresh = db_path.with_name(f".{db_path.name}.restore-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        _build_from_backup(source, fresh)
        saved = backup(db_path, reason="before-restore") if db_path.exists() else None
        if _wal(db_path).exists():  # a clean close leaves none; replaying it would corrupt
            raise BackupError(
                f"{db_path} has unsaved changes in {_wal(db_path).name}; open and close the "
                "database once (any command does), then restore again"
            )
        os.replace(fresh, db_path)
        _fsync_dir(db_path.parent)
    finally:
        fresh.unlink(missing_ok=True)
        _wal(fresh).unlink(missing_ok=True)
    return saved


# Bytes 8-11 of every DuckDB database file (the first 8 are a checksum).
DUCKDB_MAGIC = b"DUCK"


def not_a_duckdb_file(path: Path) -> str | None:
    """Why `path` cannot be a DuckDB database, in words; None when its header says it is.

    Why look before DuckDB does: ATTACH of a CSV guesses a different reader and answers
    with a catalog error about in-memory databases, which tells ops nothing.
    """
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if not head:
        return "the file is empty"
    if head[8:12] == DUCKDB_MAGIC:
        return None
    if head.startswith(b"PK"):
        return "it is a zip archive (an .xlsx workbook?), not a DuckDB database"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\0" not in head:
        return "it is a text file (a CSV export?), not a DuckDB database"
    return "it is not a DuckDB database file"


def _build_from_backup(source: Path, fresh: Path) -> None:
    """Copy a checked backup into the new file `fresh` (which is then fsynced)."""
    alias = f"restore_{uuid.uuid4().hex}"
    con = duckdb.connect(str(fresh))
    try:
        try:
            con.execute(f"ATTACH {_literal(source)} AS {alias} (READ_ONLY)")
        except duckdb.Error as exc:
            raise BackupError(f"{source} is not a usable backup: {_explain(exc, source)}") from exc
        try:
            tables = {
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
                    "AND schema_name = 'main'",
                    [alias],
                ).fetchall()
            }
            missing = sorted(REQUIRED_TABLES - tables)
            if missing:
                raise BackupError(
                    f"{source} is a DuckDB file but not a backup of this dashboard's database "
                    f"(no {', '.join(missing)} table)"
                )
            target = con.execute("SELECT current_database()").fetchone()[0]
            con.execute(f"COPY FROM DATABASE {alias} TO {quote_ident(target)}")
        finally:
            con.execute(f"DETACH {alias}")
        con.execute("CHECKPOINT")
    except duckdb.Error as exc:
        raise BackupError(f"the restore failed: {_explain(exc, source)}") from exc
    finally:
        con.close()
    if _wal(fresh).exists():
        raise BackupError("the restored database was not written completely; nothing changed")
    _fsync_file(fresh)


# --- rollback of one import ---------------------------------------------------------------

# kind -> (table, natural key). Entities are replaced by key on import (the old values are
# gone); events are only ever added (an event already present is left as it was).
ENTITY_TABLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "reps": ("reps", ("rep",)),
    "activities": ("activities", ("activity_id",)),
    "leads": ("leads", ("lead_id",)),
    "quotas": ("quotas", ("owner", "period_start", "period_end")),
    "forecast_submissions": (
        "forecast_submissions",
        ("owner", "period_start", "period_end", "category", "submitted_at"),
    ),
    "fx_rates": ("fx_rates", ("currency", "rate_date")),
}
EVENT_TABLES: dict[str, str] = {
    "stage_history": "stage_history_imported",
    "lead_events": "lead_events",
}
OPP_COLUMNS = (
    "opportunity_id, opportunity_name, account, owner, stage, source_stage, amount, currency, "
    "probability, forecast_category, created_date, close_date, is_closed, is_won, lead_source, "
    "deal_type, product, bant_budget, bant_authority, bant_need, bant_timing"
)


@dataclass
class RollbackResult:
    """What a rollback did, in numbers the Data page and the CLI can show."""

    import_id: int
    kind: str
    file_name: str
    restored: int = 0  # records put back to their state before the import
    removed: int = 0  # records the import had added, now gone
    snapshot_rows: int = 0  # opportunity_snapshots rows of the import, now gone
    quarantined: int = 0  # its quarantine rows, now gone

    @property
    def message(self) -> str:
        parts = [f"Import #{self.import_id} ({self.file_name}, {self.kind}) was rolled back"]
        if self.kind == "opportunities":
            parts.append(
                f"{counted(self.restored, 'deal')} restored to their earlier state, "
                f"{counted(self.removed, 'new deal')} removed, "
                f"{counted(self.snapshot_rows, 'snapshot row')} removed"
            )
        else:
            parts.append(f"{counted(self.removed, 'row')} removed")
        return ": ".join(parts) + "."


def _later_imports(con: duckdb.DuckDBPyConnection, ids: list[int]) -> str:
    rows = con.execute(
        "SELECT import_id, file_name FROM imports WHERE import_id IN "
        "(SELECT unnest(?)) ORDER BY import_id",
        [ids],
    ).fetchall()
    named = {r[0]: r[1] for r in rows}
    return ", ".join(f"#{i} ({named[i]})" if i in named else f"#{i}" for i in sorted(ids))


def rollback_import(
    con: duckdb.DuckDBPyConnection, import_id: int, *, access: Access | None = None
) -> RollbackResult:
    """Undo one import exactly, in one transaction, or refuse and change nothing.

    Only sales operations may (`access` None: the command line); the rollback is audited
    in the same transaction.

    The rule, per kind:

    - opportunities: each deal whose current row came from this import goes back to its
      row in the latest remaining snapshot (the state it had before), or is deleted when
      no earlier import held it; this import's snapshot rows and the stage-history rows it
      added (HubSpot "Date entered" columns) are deleted.
    - stage_history, lead_events (events, only ever added): the rows carrying its import_id
      are deleted; events it listed that were already present belong to the earlier import
      and stay.
    - reps, activities, leads, quotas, forecast_submissions, fx_rates (replaced by key):
      the rows carrying its import_id are deleted, which is exact only when the import
      replaced nothing (imports.rows_updated = 0): no earlier import held any of its keys.

    Then its quarantine rows, its warnings (import_warnings) and its `imports` row go;
    nothing else is written (the original file stays under uploads/, content-addressed,
    and is reused if uploaded again).

    Refused (RollbackRefused, nothing changed) when:
    - the import does not exist;
    - a later import touched the same records (roll that one back first): for
      opportunities, a later snapshot of the same deals; for entities, some of its rows
      now carry a later import's id; for events, a later import of the same table found
      events already present (they may be this import's; conservative);
    - the earlier state is not in the database: an entity import that replaced existing
      keys (their old values are not kept), an opportunities import that replaced rows of
      an earlier import with the same as-of date (same-day rows are replaced, not kept),
      or deals whose earlier state has no snapshot. Restore the backup taken before it.
    """
    if access is not None:
        require(access, "upload")
    try:
        with transaction(con):
            result = _rollback(con, int(import_id))
            audit.record(
                con, access.user if access else "command line", "rollback",
                import_id=result.import_id, kind=result.kind, file=result.file_name,
            )  # fmt: skip
            return result
    except duckdb.TransactionException as exc:
        raise RollbackRefused(
            f"import #{import_id} changed while it was being rolled back (another session "
            "imported at the same moment); try again."
        ) from exc


def _rollback(con: duckdb.DuckDBPyConnection, import_id: int) -> RollbackResult:
    row = con.execute(
        "SELECT kind, file_name, as_of_date, rows_loaded, rows_inserted, rows_updated "
        "FROM imports WHERE import_id = ?",
        [import_id],
    ).fetchone()
    if row is None:
        raise RollbackRefused(
            f"there is no import #{import_id}; the import history on the Data page lists them."
        )
    kind, file_name, as_of, loaded, _inserted, updated = row
    result = RollbackResult(import_id, kind, file_name)
    if kind == "opportunities":
        _rollback_opportunities(con, result, as_of, loaded, updated)
    elif kind in EVENT_TABLES:
        result.removed = _rollback_events(con, result, EVENT_TABLES[kind])
    elif kind in ENTITY_TABLES:
        _rollback_entities(con, result, loaded, updated)
    else:
        raise RollbackRefused(
            f"import #{import_id} is of kind {kind!r}, which cannot be rolled back."
        )
    result.quarantined = con.execute(
        "DELETE FROM quarantine WHERE import_id = ?", [import_id]
    ).fetchone()[0]
    con.execute("DELETE FROM import_warnings WHERE import_id = ?", [import_id])
    con.execute("DELETE FROM imports WHERE import_id = ?", [import_id])
    # Forced: undoing an update-only import that is not the newest changes no row count
    # nor newest import id, so the stamp alone would miss it.
    refresh_derived(con, force=kind in DERIVED_SOURCES)
    return result


def _refuse_later(con: duckdb.DuckDBPyConnection, import_id: int, later: list[int]) -> None:
    if later:
        raise RollbackRefused(
            f"import #{import_id} cannot be rolled back: later "
            f"{'import' if len(later) == 1 else 'imports'} "
            f"{_later_imports(con, later)} changed the same records. Roll back the later "
            f"{'one' if len(later) == 1 else 'ones'} first, newest first."
        )


def _rollback_opportunities(
    con: duckdb.DuckDBPyConnection,
    result: RollbackResult,
    as_of: object,
    loaded: int,
    updated: int | None,
) -> None:
    import_id = result.import_id
    later = [
        r[0]
        for r in con.execute(
            """
            SELECT DISTINCT import_id FROM opportunity_snapshots
            WHERE import_id > $id AND opportunity_id IN
                (SELECT opportunity_id FROM opportunity_snapshots WHERE import_id = $id)
            """,
            {"id": import_id},
        ).fetchall()
    ]
    _refuse_later(con, import_id, later)
    held = con.execute(
        "SELECT count(*) FROM opportunity_snapshots WHERE import_id = ?", [import_id]
    ).fetchone()[0]
    if held < loaded:
        same_day = [
            r[0]
            for r in con.execute(
                "SELECT import_id FROM imports WHERE kind = 'opportunities' AND import_id > ? "
                "AND as_of_date = ?",
                [import_id, as_of],
            ).fetchall()
        ]
        _refuse_later(con, import_id, same_day)
        raise RollbackRefused(
            f"import #{import_id} cannot be rolled back: {loaded - held:,} of its snapshot rows "
            "are gone; restore the backup taken before it instead."
        )
    overwritten = con.execute(
        """
        SELECT i.import_id FROM imports i
        WHERE i.kind = 'opportunities' AND i.import_id < ? AND i.as_of_date = ?
          AND (SELECT count(*) FROM opportunity_snapshots s WHERE s.import_id = i.import_id)
              < i.rows_loaded
        ORDER BY i.import_id
        """,
        [import_id, as_of],
    ).fetchall()
    if overwritten:
        raise RollbackRefused(
            f"import #{import_id} cannot be rolled back: it replaced rows of "
            f"{'import' if len(overwritten) == 1 else 'imports'} "
            f"{_later_imports(con, [r[0] for r in overwritten])} with the same as-of date, "
            "and those earlier rows are not kept. Restore the backup taken before it instead."
        )
    previous = """
        SELECT * FROM opportunity_snapshots
        WHERE import_id <> $id
          AND opportunity_id IN (SELECT opportunity_id FROM opportunities WHERE import_id = $id)
        QUALIFY row_number() OVER (
            PARTITION BY opportunity_id ORDER BY snapshot_date DESC, import_id DESC) = 1
    """
    owned, restorable = con.execute(
        f"""
        SELECT (SELECT count(*) FROM opportunities WHERE import_id = $id),
               (SELECT count(*) FROM ({previous}))
        """,
        {"id": import_id},
    ).fetchone()
    if updated is not None and restorable != updated:
        raise RollbackRefused(
            f"import #{import_id} cannot be rolled back exactly: it updated "
            f"{counted(updated, 'deal')} "
            f"but the snapshots hold the earlier state of {restorable:,}. Restore the backup "
            "taken before it instead."
        )
    # Each deal's newest snapshot row is its `opportunities` row (issue 15.1): the rows
    # restored as current leave the history table, and this import's rows go from both.
    con.execute(f"CREATE OR REPLACE TEMP TABLE restored AS {previous}", {"id": import_id})
    con.execute(
        f"INSERT INTO opportunities ({OPP_COLUMNS}, snapshot_date, import_id) "
        f"SELECT {OPP_COLUMNS}, snapshot_date, import_id FROM restored"
    )
    con.execute(
        "DELETE FROM opportunity_snapshot_history AS h WHERE EXISTS (SELECT 1 FROM restored r "
        "WHERE r.opportunity_id = h.opportunity_id AND r.snapshot_date = h.snapshot_date)"
    )
    current_rows = con.execute(
        "DELETE FROM opportunities WHERE import_id = ?", [import_id]
    ).fetchone()[0]
    result.restored = restorable
    result.removed = owned - restorable
    result.snapshot_rows = (
        current_rows
        + con.execute(
            "DELETE FROM opportunity_snapshot_history WHERE import_id = ?", [import_id]
        ).fetchone()[0]
    )
    con.execute("DROP TABLE IF EXISTS temp.restored")
    _rollback_events(con, result, "stage_history_imported")


def _rollback_events(con: duckdb.DuckDBPyConnection, result: RollbackResult, table: str) -> int:
    import_id = result.import_id
    mine = con.execute(
        f"SELECT count(*) FROM {quote_ident(table)} WHERE import_id = ?", [import_id]
    ).fetchone()[0]
    if not mine:
        return 0
    kinds = [k for k, t in EVENT_TABLES.items() if t == table]
    overlapping = [
        r[0]
        for r in con.execute(
            "SELECT import_id FROM imports WHERE import_id > ? AND kind IN (SELECT unnest(?)) "
            "AND rows_loaded > coalesce(rows_inserted, 0) + coalesce(rows_updated, 0)",
            [import_id, kinds],
        ).fetchall()
    ]
    _refuse_later(con, import_id, overlapping)
    return con.execute(
        f"DELETE FROM {quote_ident(table)} WHERE import_id = ?", [import_id]
    ).fetchone()[0]


def _rollback_entities(
    con: duckdb.DuckDBPyConnection, result: RollbackResult, loaded: int, updated: int | None
) -> None:
    import_id = result.import_id
    table, _key = ENTITY_TABLES[result.kind]
    mine = con.execute(
        f"SELECT count(*) FROM {quote_ident(table)} WHERE import_id = ?", [import_id]
    ).fetchone()[0]
    if mine < loaded:
        later = [
            r[0]
            for r in con.execute(
                f"SELECT DISTINCT import_id FROM {quote_ident(table)} WHERE import_id > ?",
                [import_id],
            ).fetchall()
        ]
        _refuse_later(con, import_id, later)
        raise RollbackRefused(
            f"import #{import_id} cannot be rolled back: {loaded - mine:,} of its rows are gone."
        )
    if updated:
        raise RollbackRefused(
            f"import #{import_id} cannot be rolled back exactly: it replaced "
            f"{counted(updated, 'existing ' + result.kind + ' record')} whose earlier values "
            "are not kept in the "
            "database (only opportunities keep snapshots). Restore the backup taken before "
            "it instead (python -m analytics restore BACKUP)."
        )
    result.removed = con.execute(
        f"DELETE FROM {quote_ident(table)} WHERE import_id = ?", [import_id]
    ).fetchone()[0]
