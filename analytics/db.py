"""Open the DuckDB file, apply the canonical schema, run work in one transaction.

The database is a plain file so users and scheduled scripts can query it directly;
every open applies the idempotent schema so an old file picks up new tables.

What a fresh database holds is data beside this module: `schema.sql` (the tables) and
`default_settings.json` (the settings rows a new file starts with, such as the stage
list). Why data and not `analytics.settings`' constants: opening a database must not
need the settings module, which itself needs this one for its transactions; settings
reads its defaults from the same file (`default_settings`), so there is one definition.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

SCHEMA_PATH = Path(__file__).with_name("schema.sql")
DEFAULT_SETTINGS_PATH = Path(__file__).with_name("default_settings.json")
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = PROJECT_ROOT / "data" / "sales.duckdb"


MEMORY_LIMIT_ENV = "SALES_MEMORY_LIMIT"


def default_db_path() -> Path:
    """The database path: $SALES_DB when set, so tests and deployments can point elsewhere."""
    return Path(os.environ.get("SALES_DB", DEFAULT_DB))


def data_dir_for(db_path: Path | str) -> Path:
    """Uploads and saved mappings live beside the database they belong to."""
    return Path(db_path).resolve().parent


class DatabaseInUse(duckdb.IOException):
    """Another process holds the database file: the message says so in plain words.

    DuckDB lets one process open a file for writing (the dashboard, or one command), so a
    second one gets a lock error naming a PID and a URL. A subclass of duckdb.IOException,
    so code that already handles DuckDB errors keeps working; its text is meant for users.
    """


def is_lock_error(exc: BaseException) -> bool:
    """DuckDB's refusal to open a file another process holds (its only lock error)."""
    text = str(exc).lower()
    return isinstance(exc, duckdb.Error) and (
        "could not set lock" in text or "lock on file" in text
    )


def in_use_message(path: Path | str) -> str:
    return (
        f"the database {path} is in use by another process (the dashboard or another "
        "command); nothing was changed. Stop that process first, or use the Data page of "
        "the running dashboard"
    )


def connect(
    path: Path | str | None = None, *, read_only: bool = False
) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) a database and make sure the schema is current.

    Raises DatabaseInUse, with a message fit for users, when another process holds it.
    $SALES_MEMORY_LIMIT (a DuckDB size such as "2GB") caps DuckDB's memory for the whole
    process; beyond it, big imports and queries spill to a temp folder beside the file.
    """
    target = Path(path) if path is not None else default_db_path()
    if str(target) != ":memory:":
        target.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(target), read_only=read_only)
    except duckdb.Error as exc:
        if is_lock_error(exc):
            raise DatabaseInUse(in_use_message(target)) from exc
        raise
    limit = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if limit:
        try:
            con.execute("SET memory_limit = ?", [limit])
        except duckdb.Error as exc:
            con.close()
            raise ValueError(
                f"{MEMORY_LIMIT_ENV}={limit!r} is not a memory size DuckDB understands "
                "(write it like 2GB or 512MB)"
            ) from exc
    if not read_only:
        apply_schema(con)
    return con


def default_settings() -> dict[str, Any]:
    """The settings a new database starts with, key -> value (`default_settings.json`)."""
    return json.loads(DEFAULT_SETTINGS_PATH.read_text(encoding="utf-8"))


def apply_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create missing tables, seed missing default settings, recount the derived tables.

    A seeded setting is only inserted where the key is absent: an edited one is kept.
    """
    _store_snapshots_once(con)
    con.execute(SCHEMA_PATH.read_text(encoding="utf-8"))
    from analytics.metrics.derived import refresh_derived

    for key, value in default_settings().items():
        con.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
            [key, json.dumps(value, ensure_ascii=False)],
        )
    # Tables written by other means than an import (a script's own SQL) are counted again
    # here, so the next page view reads current figures from the derived tables.
    with transaction(con):
        refresh_derived(con)


SNAPSHOT_COLUMNS = (
    "snapshot_date, opportunity_id, opportunity_name, account, owner, stage, source_stage, "
    "amount, currency, probability, forecast_category, created_date, close_date, is_closed, "
    "is_won, lead_source, deal_type, product, import_id, lead_id, sdr, bant_budget, "
    "bant_authority, bant_need, bant_timing"
)
_ADDED_LATER = (
    "lead_id VARCHAR", "sdr VARCHAR", "bant_budget BOOLEAN", "bant_authority BOOLEAN",
    "bant_need BOOLEAN", "bant_timing BOOLEAN",
)  # fmt: skip


def _store_snapshots_once(con: duckdb.DuckDBPyConnection) -> None:
    """Bring a file from before issue 15.1 to the one-write layout, in one transaction.

    Until then every snapshot row was a table row of its own, and each deal's newest one
    was written a second time to `opportunities`. Now `opportunity_snapshots` is a view:
    `opportunity_snapshot_history` (the superseded rows) plus `opportunities`. The old
    table's rows that are exactly a deal's current row are that row already; the rest
    move to the history table, and the old table is dropped. Nothing else changes, so the
    view returns what the table held.
    """
    kind = con.execute(
        "SELECT table_type FROM information_schema.tables "
        "WHERE table_schema = 'main' AND table_name = 'opportunity_snapshots'"
    ).fetchone()
    if kind is None or kind[0] != "BASE TABLE":
        return
    with transaction(con):
        for table in ("opportunity_snapshots", "opportunities"):
            for column in _ADDED_LATER:
                con.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column}")
        schema = SCHEMA_PATH.read_text(encoding="utf-8")
        start = schema.index("CREATE TABLE IF NOT EXISTS opportunity_snapshot_history")
        con.execute(schema[start : schema.index(");", start) + 2])
        same = " AND ".join(
            f"o.{c} IS NOT DISTINCT FROM s.{c}" for c in SNAPSHOT_COLUMNS.split(", ")
        )
        con.execute(
            f"INSERT INTO opportunity_snapshot_history ({SNAPSHOT_COLUMNS}) "
            f"SELECT {SNAPSHOT_COLUMNS} FROM opportunity_snapshots AS s "
            f"WHERE NOT EXISTS (SELECT 1 FROM opportunities AS o WHERE {same})"
        )
        con.execute("DROP VIEW IF EXISTS opportunity_stage_history")
        con.execute("DROP TABLE opportunity_snapshots")


# One write transaction at a time in this process. DuckDB's snapshot isolation lets two
# transactions both insert the same new deal (no unique index, for load speed) without a
# conflict, so concurrent sessions of the dashboard (one connection, a cursor each) take
# turns to write; readers are never blocked. Other processes cannot write at the same
# time at all: DuckDB's file lock admits one writing process.
WRITE_LOCK = threading.RLock()


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: an import or settings change either lands whole or not at all.

    Holds WRITE_LOCK for its duration (re-entrant: code that holds it may open one).
    """
    with WRITE_LOCK:
        yield from _transaction(con)


def _transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")


def quote_ident(name: str) -> str:
    """Quote an identifier that came from a user's file; never format one in raw."""
    return '"' + str(name).replace('"', '""') + '"'


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Row count of every canonical table: a cheap fingerprint tests use to prove 'unchanged'."""
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
    ]
    return {n: con.execute(f"SELECT count(*) FROM {quote_ident(n)}").fetchone()[0] for n in names}
