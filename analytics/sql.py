"""The SQL helpers every query module shares: bound parameters, frames, stage steps, history.

Why one module: binding values as parameters (never formatted in), running a statement
into a DataFrame, mapping stage labels to funnel steps and reading each deal's stage
history are the same in the funnel, the pipeline and the other queries; a copy per
module would drift (one binding extras DuckDB refuses, one reading history differently).
The stage-history CTEs return the rows of the `opportunity_stage_history` view for the
deals asked about only (tests/test_funnel.py checks the two agree).
"""

from __future__ import annotations

import re
from typing import Any

import duckdb
import pandas as pd

from analytics.settings import Stage


def bind(sql: str, params: dict[str, Any]) -> dict[str, Any]:
    """The named parameters `sql` uses, out of `params` (DuckDB refuses extra ones)."""
    used = set(re.findall(r"\$(\w+)", sql))
    return {k: v for k, v in params.items() if k in used}


def run_sql(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pd.DataFrame:
    """Run `sql` with the parameters it uses, as a DataFrame."""
    return con.execute(sql, bind(sql, params)).df()


# -- stage steps ------------------------------------------------------------------------------


def funnel_steps(stages: tuple[Stage, ...] | list[Stage]) -> list[Stage]:
    """The funnel's steps: open stages in their configured order, then the (first) won stage.

    Lost stages are outcomes, not steps. A second won stage (unusual) is folded into the
    won step by `step_keys`.
    """
    open_stages = [s for s in stages if not s.is_closed]
    won = [s for s in stages if s.is_won]
    return [*open_stages, *won[:1]]


def step_keys(stages: tuple[Stage, ...] | list[Stage]) -> dict[str, Any]:
    """Bound parameters mapping each stage label (lower-cased) to its step number (0-based).

    Labels are the stage's name and its aliases, so rows stored under a stage's old name
    still count after ops rename it (keeping the old name as an alias). Every won stage maps
    to the won step; lost stages and unknown labels have no step.
    """
    steps = funnel_steps(stages)
    won_step = len(steps) - 1
    mapping: dict[str, int] = {}
    for number, stage in enumerate(steps[:-1]):
        for label in (stage.name, *stage.aliases):
            mapping.setdefault(label.strip().lower(), number)
    for stage in stages:
        if stage.is_won:
            for label in (stage.name, *stage.aliases):
                mapping.setdefault(label.strip().lower(), won_step)
    return {
        "step_keys": list(mapping),
        "step_numbers": list(mapping.values()),
        "won_step": won_step,
    }


# -- stage history ----------------------------------------------------------------------------


def crm_history_sql(deals: str, key: str = "opportunity_id") -> str:
    """SELECT of the CRM's stage-history rows (`key`, stage, entered_at) of the deals in CTE
    `deals` (origin 'history' in `opportunity_stage_history`).

    `key` is the deal column carried into the rows: `opportunity_id`, or a unique number
    the caller gave each deal in `deals` (a number partitions and joins faster than the
    text id). `deals` and `key` are fixed identifiers chosen by code.
    """
    if key == "opportunity_id":  # a semi join: one row per history row whatever `deals` holds
        return f"""
        SELECT h.opportunity_id, h.stage, h.entered_at
        FROM stage_history_imported AS h
        SEMI JOIN {deals} AS d ON d.opportunity_id = h.opportunity_id"""
    return f"""
        SELECT d.{key}, h.stage, h.entered_at
        FROM stage_history_imported AS h
        JOIN {deals} AS d ON d.opportunity_id = h.opportunity_id"""


def snapshot_history_sql(deals: str, key: str = "opportunity_id") -> str:
    """SELECT of the stage-history rows derived from the snapshots of the deals in CTE
    `deals` (`key`, stage, entered_at): a row whenever a snapshot shows another stage than
    the deal's previous one (origin 'snapshot' in `opportunity_stage_history`, which uses
    them for deals without CRM history: the caller picks those deals). Identifiers as in
    `crm_history_sql`.
    """
    by_id = key == "opportunity_id"
    join = "SEMI JOIN" if by_id else "JOIN"
    snap_key = "s.opportunity_id" if by_id else f"d.{key}"
    return f"""
        SELECT {key}, stage, CAST(snapshot_date AS TIMESTAMP) AS entered_at
        FROM (
            SELECT {snap_key}, s.stage, s.snapshot_date,
                   lag(s.stage) OVER (PARTITION BY {snap_key} ORDER BY s.snapshot_date)
                       AS previous_stage
            FROM opportunity_snapshots AS s
            {join} {deals} AS d ON d.opportunity_id = s.opportunity_id
        )
        WHERE previous_stage IS DISTINCT FROM stage"""


def stage_history_ctes(deals: str, name: str, key: str = "opportunity_id") -> str:
    """CTEs ending in `name`: the `opportunity_stage_history` rows of the deals in CTE `deals`.

    Same rows and columns (`key`, stage, entered_at, origin) as the view, for those deals
    only. Why not read the view: even with its filters pushed down, it decides "has CRM
    history" against every imported row; restricting both sources to the deals asked about
    first is cheaper (tests/test_funnel.py checks the two agree). `deals`, `name` and `key`
    are fixed identifiers chosen by code (see `crm_history_sql`).
    """
    bare = "d.opportunity_id" if key == "opportunity_id" else f"d.opportunity_id, d.{key}"
    return f"""
    {name}_crm AS ({crm_history_sql(deals, key)}
    ),
    {name}_bare AS (
        -- deals without CRM history: usually few, and when none the snapshots go unread
        SELECT {bare} FROM {deals} AS d
        ANTI JOIN {name}_crm AS c ON c.{key} = d.{key}
    ),
    {name} AS (
        SELECT {key}, stage, entered_at, 'history' AS origin FROM {name}_crm
        UNION ALL
        SELECT {key}, stage, entered_at, 'snapshot' AS origin
        FROM ({snapshot_history_sql(f"{name}_bare", key)}
        )
    )"""
