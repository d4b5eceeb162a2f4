"""The commissions tables, applied on first use by every commissions entry point.

Why not in analytics/schema.sql: that file is the canonical CRM model applied on every
open; the commissions tables are this feature's own bookkeeping (plans, runs, frozen
statements, locks, splits, SPIFFs, draws, refunds). Keeping them here lets the feature
ship without touching the shared schema; moving the file's statements there later is a
pure cut-and-paste because every statement is idempotent.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

SCHEMA_PATH = Path(__file__).with_name("schema.sql")
TABLES: frozenset[str] = frozenset(
    {
        "commission_plans",
        "commission_runs",
        "commission_run_reps",
        "commission_statement_lines",
        "commission_locks",
        "credit_splits",
        "spiffs",
        "draws",
        "commission_reversals",
    }
)


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create any missing commissions table (cheap when all exist: one catalogue query)."""
    present = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_catalog = current_database()"
        ).fetchall()
    }
    if TABLES - present:
        con.execute(SCHEMA_PATH.read_text(encoding="utf-8"))
