"""`python -m analytics backup | restore | rollback | recount`: ops' maintenance commands.

Every failure is one plain sentence on stderr and exit status 2, never a traceback: these
commands are run by ops in a hurry, often while something else has gone wrong already.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import duckdb

from analytics import db
from analytics.backup import (
    BackupError,
    RollbackRefused,
    backup,
    list_backups,
    restore,
    rollback_import,
)
from analytics.metrics.derived import DERIVED_TABLES, refresh_derived


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("backup", help="write a consistent copy of the database")
    p.add_argument("--db", type=Path, default=None, help="database file (default: $SALES_DB)")
    p.add_argument(
        "--to", type=Path, default=None, metavar="FILE",
        help="backup file or folder (default: <data dir>/backups/)",
    )  # fmt: skip
    p.add_argument("--list", action="store_true", help="list the backups instead")
    p.set_defaults(func=run_backup)

    p = sub.add_parser("restore", help="replace the database by a backup (dashboard stopped)")
    p.add_argument("backup", type=Path, metavar="BACKUP")
    p.add_argument("--db", type=Path, default=None, help="database file (default: $SALES_DB)")
    p.set_defaults(func=run_restore)

    p = sub.add_parser("rollback", help="undo one import (see the import history)")
    p.add_argument("import_id", type=int, metavar="IMPORT_ID")
    p.add_argument("--db", type=Path, default=None, help="database file (default: $SALES_DB)")
    p.set_defaults(func=run_rollback)

    p = sub.add_parser(
        "recount", help="count the derived tables again (after editing tables with own SQL)"
    )
    p.add_argument("--db", type=Path, default=None, help="database file (default: $SALES_DB)")
    p.set_defaults(func=run_recount)


def _db(args: argparse.Namespace) -> Path:
    return Path(args.db) if args.db is not None else db.default_db_path()


def _sentence(text: str) -> str:
    """The text ending in a full stop (messages are joined into sentences here)."""
    text = str(text).strip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _fail(message: str) -> int:
    print(f"error: {_sentence(message)}", file=sys.stderr)
    return 2


def run_backup(args: argparse.Namespace) -> int:
    path = _db(args)
    if args.list:
        found = list_backups(db.data_dir_for(path), path)  # this database's only
        for item in found:
            print(f"{item}  ({item.stat().st_size:,} bytes)")
        if not found:
            print(f"no backups in {db.data_dir_for(path) / 'backups'}")
        return 0
    try:
        made = backup(path, args.to)
    except (BackupError, duckdb.Error, OSError) as exc:
        return _fail(str(exc))
    print(f"backup written to {made}")
    return 0


def run_restore(args: argparse.Namespace) -> int:
    path = _db(args)
    try:
        saved = restore(args.backup, path)
    except (BackupError, duckdb.Error, OSError) as exc:
        return _fail(f"{_sentence(exc)} Nothing was restored; the database was left as it was.")
    print(f"restored {path.resolve()} from {args.backup}")
    if saved is not None:
        print(f"the database it replaced was saved as {saved}")
    return 0


def _open(path: Path, what: str) -> duckdb.DuckDBPyConnection | str:
    """A writable connection, or the sentence saying why there is none."""
    if not path.is_file():
        return f"there is no database at {path}"
    try:
        return db.connect(path)
    except db.DatabaseInUse:
        return (
            f"the database {path} is in use by another process (the dashboard?); "
            f"{what}, or stop it first. Nothing was changed."
        )
    except duckdb.Error as exc:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def run_rollback(args: argparse.Namespace) -> int:
    con = _open(_db(args), "roll back on its Data page")
    if isinstance(con, str):
        return _fail(con)
    try:
        result = rollback_import(con, args.import_id)
    except RollbackRefused as exc:
        return _fail(f"{_sentence(exc)} Nothing was changed.")
    except duckdb.Error as exc:
        return _fail(f"the rollback failed and nothing was changed ({type(exc).__name__})")
    finally:
        con.close()
    print(result.message)
    return 0


def run_recount(args: argparse.Namespace) -> int:
    """Why: a script's own UPDATE of activities or deals that changes no row count or
    import id cannot be detected (docs/data-model.md, "Derived tables"); this recounts."""
    con = _open(_db(args), "stop it first")
    if isinstance(con, str):
        return _fail(con)
    try:
        start = time.perf_counter()
        with db.transaction(con):
            refresh_derived(con, force=True)
        took = time.perf_counter() - start
    except duckdb.Error as exc:
        return _fail(f"the recount failed and nothing was changed ({type(exc).__name__})")
    finally:
        con.close()
    print(f"derived tables counted again: {', '.join(DERIVED_TABLES)} ({took:.1f} s)")
    return 0
