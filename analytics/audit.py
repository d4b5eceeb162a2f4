"""The audit log: who uploaded, edited a plan, locked a month or signed in, and when.

Why a table and not the server log: commission disputes and "who changed the plan?" are
asked months later by people who cannot read server logs, and the answer must survive a
restart and a backup. Rows are only ever appended. A record is written in the same
transaction as the change it describes when the caller has one open, so a change never
lands without its audit row (and a refused change leaves none).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb
import pandas as pd

# The actions recorded; `detail` says what exactly (file, rows, version, month, ...).
ACTIONS: tuple[str, ...] = (
    "sign_in",
    "sign_in_attempt",
    "sign_in_failed",
    "sign_out",
    "upload",
    "plan_edit",
    "commission_data_edit",
    "record_run",
    "lock_period",
    "settings_edit",
    "rollback",
    "user_add",
    "user_remove",
)


def record(con: duckdb.DuckDBPyConnection, actor: str, action: str, **detail: Any) -> None:
    """Append one row; `detail` values must be JSON-serialisable (dates become text)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}: use {', '.join(ACTIONS)}")
    con.execute(
        "INSERT INTO audit_log (logged_at, actor, action, detail) VALUES (?, ?, ?, ?)",
        [datetime.now(), actor or "unknown", action, json.dumps(detail, default=str)],
    )


def entries(
    con: duckdb.DuckDBPyConnection,
    *,
    limit: int = 200,
    action: str | None = None,
    actor: str | None = None,
) -> pd.DataFrame:
    """The newest entries first: logged_at, actor, action, detail (JSON text)."""
    return con.execute(
        """
        SELECT logged_at, actor, action, CAST(detail AS VARCHAR) AS detail
        FROM audit_log
        WHERE ($action IS NULL OR action = $action) AND ($actor IS NULL OR actor = $actor)
        ORDER BY logged_at DESC, audit_id DESC
        LIMIT $limit
        """,
        {"action": action, "actor": actor, "limit": int(limit)},
    ).df()
