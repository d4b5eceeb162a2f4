"""The pipeline as known on any day D, from the best source the database holds.

Why one layer: every "as it was then" figure (a past period's open pipeline, the waterfall
between two dates, a backtested forecast) must agree on what "open on D" means, and must
say where that answer came from. A team that uploaded one export has no snapshots, yet its
export already holds much of the history. Three sources, best first:

- ``snapshot``: the newest upload of deals (`opportunity_snapshots`) on or before D, no
  older than `max_snapshot_age_days`. Exact: the deals open in it, with their owner,
  stage, amount and expected close date as exported then. Deals created between the
  snapshot and D are not in it (it is what was known then).
- ``stage history``: no such snapshot, but stage changes dated on or before D exist
  (`opportunity_stage_history`: the CRM's own history, else the one derived from
  snapshots). The deals open on D are rebuilt from their dates (below); each one's stage
  is the last one it entered on or before D (unknown when it entered none by then), its
  amount the one recorded with that change when the CRM recorded one.
- ``rebuilt``: neither. A deal was open on D when it was created on or before D and had
  not closed by then: ``created_date <= D`` and (still open, or ``close_date > D``). Its
  stage is unknown and its amount is the last exported one.

No peeking: a rebuilt answer reads the close date only to learn whether the deal had
closed by D, and never shows it as an expected close date (that is unknown for D). Owners
and amounts of rebuilt deals are the last exported ones: the documented compromise
(docs/metrics.md, "Point in time"); with snapshots, the snapshot's own values are used.
Deals without a created date, and closed deals without a close date, cannot be placed on
a day and are left out of a rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import duckdb
import pandas as pd

from analytics.scope import Scope, owner_filter_sql

Source = Literal["snapshot", "stage history", "rebuilt"]
SOURCES: tuple[Source, ...] = ("snapshot", "stage history", "rebuilt")

# A snapshot older than this says too little about day D (the backtest's own limit).
MAX_SNAPSHOT_AGE_DAYS = 31

# What each source means, for help texts and the CLI's JSON.
SOURCE_HELP: dict[str, str] = {
    "snapshot": "as uploaded in the snapshot of that date (exact)",
    "stage history": (
        "rebuilt from created and close dates, stage from the stage history; "
        "amounts and owners as last exported unless the history records them"
    ),
    "rebuilt": (
        "rebuilt from created and close dates; stage unknown, amounts and owners as last exported"
    ),
    "now": "the deals open in the latest export",
}

# The columns of `PipelineAsOf.deals`, in order.
DEAL_COLUMNS = (
    "opportunity_id",
    "opportunity_name",
    "account",
    "owner",
    "stage",
    "amount",
    "currency",
    "created_date",
    "close_date",
)


@dataclass(frozen=True)
class Basis:
    """Which source answers "the pipeline on `day`" (and from which snapshot, if one)."""

    day: date
    source: Source
    snapshot_date: date | None = None

    def describe(self) -> str:
        """One line for a help text: 'as of 2024-06-30: snapshot of 2024-06-24 (exact)'."""
        if self.source == "snapshot":
            return f"as of {self.day}: snapshot of {self.snapshot_date} (exact)"
        return f"as of {self.day}: {self.source} ({SOURCE_HELP[self.source]})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.day.isoformat(),
            "source": self.source,
            "snapshot_date": None if self.snapshot_date is None else self.snapshot_date.isoformat(),
        }


@dataclass(frozen=True)
class PipelineAsOf:
    """The open deals as known on `basis.day`: one row each, `DEAL_COLUMNS`.

    `stage` is None where it is unknown; `close_date` is the expected close date as known
    then (None when rebuilt: the later close date is not shown, it was not known on D).
    """

    basis: Basis
    deals: pd.DataFrame

    @property
    def source(self) -> Source:
        return self.basis.source


def snapshot_dates(con: duckdb.DuckDBPyConnection) -> list[date]:
    """Every snapshot date, oldest first."""
    rows = con.execute(
        "SELECT DISTINCT snapshot_date FROM opportunity_snapshots ORDER BY 1"
    ).fetchall()
    return [r[0] for r in rows]


def first_stage_change(con: duckdb.DuckDBPyConnection) -> date | None:
    """The day of the earliest stage change on record (None: no stage history at all)."""
    row = con.execute(
        "SELECT CAST(min(entered_at) AS DATE) FROM opportunity_stage_history"
    ).fetchone()
    return row[0] if row else None


def bases(
    con: duckdb.DuckDBPyConnection,
    days: Sequence[date],
    *,
    max_snapshot_age_days: int = MAX_SNAPSHOT_AGE_DAYS,
) -> list[Basis]:
    """The source for each of `days`, in two small queries for all of them."""
    snaps = snapshot_dates(con)
    history_from = first_stage_change(con)
    out = []
    for day in days:
        best = None
        for snap in snaps:
            if snap <= day:
                best = snap
            else:
                break
        if best is not None and (day - best).days <= max_snapshot_age_days:
            out.append(Basis(day, "snapshot", best))
        elif history_from is not None and history_from <= day:
            out.append(Basis(day, "stage history"))
        else:
            out.append(Basis(day, "rebuilt"))
    return out


def basis_for(
    con: duckdb.DuckDBPyConnection,
    day: date,
    *,
    max_snapshot_age_days: int = MAX_SNAPSHOT_AGE_DAYS,
) -> Basis:
    """The source that answers "the pipeline on `day`" (see the module docstring)."""
    return bases(con, [day], max_snapshot_age_days=max_snapshot_age_days)[0]


# The deals open in one snapshot, exactly as uploaded then.
_SNAPSHOT_SQL = f"""
WITH snapshot_deals AS (
    SELECT s.*
    FROM opportunity_snapshots AS s
    LEFT JOIN reps AS r ON r.rep = s.owner
    WHERE s.snapshot_date = $snapshot_date
      AND NOT s.is_closed
      AND {owner_filter_sql("s.owner")}
)
SELECT opportunity_id, opportunity_name, account, owner, stage, amount, currency,
       created_date, close_date
FROM snapshot_deals
ORDER BY opportunity_id
"""

# Deals open on $day by their dates (created on or before it, not closed by it). Reads the
# close date only to decide that; the rebuilt rows carry no close date.
REBUILT_OPEN_SQL = """
    rebuilt_open AS (
        SELECT o.opportunity_id, o.opportunity_name, o.account, o.owner, o.amount,
               o.currency, o.created_date
        FROM opportunities AS o
        LEFT JOIN reps AS r ON r.rep = o.owner
        WHERE o.created_date <= $day
          AND (NOT o.is_closed OR o.close_date > $day)
          AND {owner_filter}
    )"""

_REBUILT_SQL = f"""
WITH {REBUILT_OPEN_SQL.format(owner_filter=owner_filter_sql("o.owner"))}
SELECT opportunity_id, opportunity_name, account, owner, CAST(NULL AS VARCHAR) AS stage,
       amount, currency, created_date, CAST(NULL AS DATE) AS close_date
FROM rebuilt_open
ORDER BY opportunity_id
"""

# Rebuilt, with each deal's stage (and amount, when recorded) from its last stage change
# on or before $day. Changes after $day are filtered out before anything is picked.
_HISTORY_SQL = f"""
WITH {REBUILT_OPEN_SQL.format(owner_filter=owner_filter_sql("o.owner"))},
known_changes AS (
    SELECT h.opportunity_id, h.stage, h.amount, h.entered_at
    FROM opportunity_stage_history AS h
    SEMI JOIN rebuilt_open AS d ON d.opportunity_id = h.opportunity_id
    WHERE h.entered_at < CAST($day AS TIMESTAMP) + INTERVAL 1 DAY
),
stage_on_day AS (
    SELECT opportunity_id,
           arg_max(stage, entered_at)                                    AS stage,
           arg_max(amount, entered_at) FILTER (WHERE amount IS NOT NULL) AS amount
    FROM known_changes
    GROUP BY opportunity_id
)
SELECT d.opportunity_id, d.opportunity_name, d.account, d.owner, s.stage,
       coalesce(s.amount, d.amount) AS amount, d.currency, d.created_date,
       CAST(NULL AS DATE) AS close_date
FROM rebuilt_open AS d
LEFT JOIN stage_on_day AS s ON s.opportunity_id = d.opportunity_id
ORDER BY d.opportunity_id
"""


def _filters(scope: Scope | None) -> dict[str, Any]:
    if scope is None:
        return {"team": None, "region": None, "rep": None}
    return {"team": scope.team, "region": scope.region, "rep": scope.rep}


def pipeline_as_of(
    con: duckdb.DuckDBPyConnection,
    day: date,
    scope: Scope | None = None,
    *,
    source: Source | None = None,
    max_snapshot_age_days: int = MAX_SNAPSHOT_AGE_DAYS,
) -> PipelineAsOf:
    """The open deals as known on `day`, within `scope`'s team/region/rep filters.

    The source is the best available (`basis_for`) unless `source` forces one (tests use
    that to compare a rebuild with a snapshot of the same day); a forced "snapshot" uses
    the newest snapshot on or before `day` whatever its age, and raises ValueError when
    there is none. The scope's period plays no part.
    """
    if source is None:
        basis = basis_for(con, day, max_snapshot_age_days=max_snapshot_age_days)
    elif source == "snapshot":
        older = [d for d in snapshot_dates(con) if d <= day]
        if not older:
            raise ValueError(f"no snapshot on or before {day}")
        basis = Basis(day, "snapshot", older[-1])
    elif source in SOURCES:
        basis = Basis(day, source)
    else:
        raise ValueError(f"unknown source {source!r}: use one of {', '.join(SOURCES)}")
    params = _filters(scope)
    if basis.source == "snapshot":
        frame = con.execute(_SNAPSHOT_SQL, params | {"snapshot_date": basis.snapshot_date}).df()
    elif basis.source == "stage history":
        frame = con.execute(_HISTORY_SQL, params | {"day": day}).df()
    else:
        frame = con.execute(_REBUILT_SQL, params | {"day": day}).df()
    frame["stage"] = frame["stage"].astype(object).where(frame["stage"].notna(), None)
    return PipelineAsOf(basis, frame[list(DEAL_COLUMNS)].reset_index(drop=True))


def period_end_day(end: date, data_date: date | None) -> date | None:
    """The day a period's open figures are taken on: its last day when it was over by the
    data's date, else None (the period is live: the deals open now)."""
    if data_date is None or end >= data_date:
        return None
    return end
