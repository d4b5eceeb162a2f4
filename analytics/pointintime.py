"""The pipeline as known on any day D, from the best source the database holds.

Why one layer: every "as it was then" figure (a past period's open pipeline, the waterfall
between two dates, a backtested forecast) must agree on what "open on D" means, and must
say where that answer came from. A team that uploaded one export has no snapshots, yet its
export already holds much of the history. Three sources, best first:

- ``snapshot``: the newest upload of deals (`opportunity_snapshots`) on or before D, no
  older than `max_snapshot_age_days`. Exact on its own day: the deals open in it, with
  their owner, stage, amount and expected close date as exported then. For a later D,
  the deals the data shows closed after it and on or before D are taken out (they were
  no longer open on D), and the deals created between the snapshot and D and still open
  on D are added, their owner as last exported and their amount from the export nearest
  D, their stage from the stage history when it has one on D, else unknown
  (`CREATED_SINCE_SNAPSHOT`).
- ``stage history``: no such snapshot, but stage changes dated on or before D exist
  (`opportunity_stage_history`: the CRM's own history, else the one derived from
  snapshots). The deals open on D are rebuilt from their dates (below); each one's stage
  is the last one it entered on or before D (unknown when it entered none by then), its
  amount the one recorded with that change when the CRM recorded one, else as below.
- ``rebuilt``: neither. A deal was open on D when it was created on or before D and had
  not closed by then: ``created_date <= D`` and (still open, or ``close_date > D``). Its
  stage is unknown and its amount and currency are those of the export nearest D that
  holds the deal: the latest one on or before D, else the first one after it
  (`NEAREST_EXPORT`; after one upload, that upload).

No peeking: a rebuilt answer reads the close date only to learn whether the deal had
closed by D, and never shows it as an expected close date (that is unknown for D). Owners
of rebuilt deals are the last exported ones, and their amounts come from an export after
D when none on or before it holds the deal: the documented compromise (docs/metrics.md,
"Point in time"); with a recent snapshot, the snapshot's own values are used.
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

from analytics.run_memo import memoised
from analytics.scope import Scope, owner_filter_sql

Source = Literal["snapshot", "stage history", "rebuilt"]
SOURCES: tuple[Source, ...] = ("snapshot", "stage history", "rebuilt")

# A snapshot older than this says too little about day D (the backtest's own limit).
MAX_SNAPSHOT_AGE_DAYS = 31

# What each source means, for help texts and the CLI's JSON.
SOURCE_HELP: dict[str, str] = {
    "snapshot": "as uploaded in the snapshot of that date (exact)",
    "stage history": (
        "rebuilt from created and close dates, stage from the stage history; amounts "
        "as the history records them, else from the export nearest the day (the latest on "
        "or before it, else the first after); owners as last exported"
    ),
    "rebuilt": (
        "rebuilt from created and close dates; stage unknown, amounts from the export "
        "nearest the day (the latest on or before it, else the first after), owners as "
        "last exported"
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

    @property
    def after_snapshot(self) -> bool:
        """Answered by a snapshot older than the day: the deals closed since are taken out
        and those created since added (`CLOSED_SINCE_SNAPSHOT`, `CREATED_SINCE_SNAPSHOT`)."""
        return (
            self.source == "snapshot"
            and self.snapshot_date is not None
            and self.snapshot_date < self.day
        )

    def describe(self) -> str:
        """One line for a help text: 'as of 2024-06-30: snapshot of 2024-06-24 (exact)'."""
        if self.source == "snapshot":
            if self.after_snapshot:
                return (
                    f"as of {self.day}: snapshot of {self.snapshot_date} (as uploaded, less the "
                    f"deals closed between it and {self.day}, plus those created between, "
                    "their amounts from the export nearest the day, their stage from the "
                    "stage history if it has one)"
                )
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


# Dates that hold rows of a whole pipeline export: a date whose rows all come from partial
# imports (a won-deal list, a stage-less update: `imports.partial`) shows a few deals, not
# the pipeline, and would read as "nothing else was open that day".
WHOLE_EXPORTS = (
    "(import_id IS NULL OR import_id NOT IN "
    "(SELECT import_id FROM imports WHERE coalesce(partial, false)))"
)
SNAPSHOT_DATES_SQL = f"""
SELECT DISTINCT snapshot_date
FROM opportunity_snapshots
WHERE {WHOLE_EXPORTS}
ORDER BY 1
"""


@memoised
def snapshot_dates(con: duckdb.DuckDBPyConnection) -> list[date]:
    """Every pipeline snapshot date, oldest first: the one list the point-in-time layer,
    the Pipeline page's date pickers and the forecast's "export used" choose from.

    Why not every as-of date: a won-deal list imported on 28 Nov made 28 Nov a
    "snapshot" holding four won deals, and November's open pipeline read 0.
    """
    return [r[0] for r in con.execute(SNAPSHOT_DATES_SQL).fetchall()]


@memoised
def first_stage_change(con: duckdb.DuckDBPyConnection) -> date | None:
    """The day of the earliest stage change on record (None: no stage history at all).

    The same day as `min(entered_at)` over the `opportunity_stage_history` view, without
    the view's window over every snapshot row (0.3-0.8 s at 1,000,000 deals) in the usual
    case. The view's snapshot half has, per deal without imported history, a change at the
    deal's first snapshot with a stage, its earliest; so the earliest snapshot with a stage
    bounds that half from below, and when the imported history starts on or before it, the
    imported start is the answer. Otherwise the snapshot half's deals with imported history
    are left out (the view's anti join) and the two halves compared. Rows of partial
    imports (a won-deal list) are no stage history of the pipeline: left out, as from
    `snapshot_dates`.
    """
    imported, snapped = con.execute(
        f"""
        SELECT
            (SELECT min(entered_at) FROM stage_history_imported),
            (SELECT CAST(min(snapshot_date) AS TIMESTAMP) FROM opportunity_snapshots
             WHERE stage IS NOT NULL AND {WHOLE_EXPORTS})
        """
    ).fetchone()
    if snapped is not None and imported is not None and snapped < imported:
        snapped = con.execute(
            f"""
            SELECT CAST(min(s.snapshot_date) AS TIMESTAMP)
            FROM opportunity_snapshots AS s
            ANTI JOIN stage_history_imported AS h ON h.opportunity_id = s.opportunity_id
            WHERE s.stage IS NOT NULL AND {WHOLE_EXPORTS.replace("(import_id", "(s.import_id")}
            """
        ).fetchone()[0]
    first = min((t for t in (imported, snapped) if t is not None), default=None)
    return None if first is None else first.date()


def bases(
    con: duckdb.DuckDBPyConnection,
    days: Sequence[date],
    *,
    max_snapshot_age_days: int = MAX_SNAPSHOT_AGE_DAYS,
) -> list[Basis]:
    """The source for each of `days`, in at most two small queries for all of them (the
    stage history's first day, a pass over every snapshot, only when a day needs it)."""
    snaps = snapshot_dates(con)
    history_from: date | None = None
    history_read = False
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
            continue
        if not history_read:
            history_from, history_read = first_stage_change(con), True
        if history_from is not None and history_from <= day:
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


# A snapshot answers a later day D (up to MAX_SNAPSHOT_AGE_DAYS after it) with the deals
# open in it; those the data shows closed after it and on or before D were no longer open
# on D (a monthly export of 1 Nov answering 30 Nov counted the deals won on 10 Nov as open
# at the month's end, beside them as won). Their close date is dated on or before D, so
# nothing after D is read; on the snapshot's own day nothing is taken out (exact). "The
# data" is the latest export or any later one: a deal the export of 1 Sep shows won on
# 28 Aug was not open on 31 Aug, even when the export of 1 Oct shows it lost on 20 Sep (the
# customer walked away later). `s` is the snapshot row, `a` the day asked (`a.day`).
CLOSED_SINCE_SNAPSHOT = """(EXISTS (
              SELECT 1 FROM opportunities AS closed_since
              WHERE closed_since.opportunity_id = s.opportunity_id
                AND closed_since.is_closed
                AND closed_since.close_date > s.snapshot_date
                AND closed_since.close_date <= a.day)
           OR EXISTS (
              SELECT 1 FROM opportunity_snapshots AS closed_later
              WHERE closed_later.opportunity_id = s.opportunity_id
                AND closed_later.snapshot_date > s.snapshot_date
                AND closed_later.is_closed
                AND closed_later.close_date > s.snapshot_date
                AND closed_later.close_date <= a.day))"""


# A deal open on a day that no snapshot answers exactly (a rebuilt or stage-history day, or
# a deal created after the snapshot that answers a later day) takes its amount and currency
# from the export nearest that day: the latest one on or before it that holds the deal, else
# the first one after it. Why: "as last exported" put a later amount on an earlier day, so a
# waterfall from a rebuilt day to a snapshot showed a rise made later as a fall (a deal at
# 20,000 on 28 Oct and 22,000 on 18 Nov read 22,000 on 1 Oct: "decreased -2,000" in
# October). One row per export of each deal that more than one export holds, valid on the
# days [valid_from, valid_to): its first export from the start of time on. A deal that one
# export holds has no row: its row in `opportunities` is that export. Owners and deal types
# stay as last exported (they decide the scope). See `nearest_export_join`.
NEAREST_EXPORT = """(
        SELECT opportunity_id, amount, currency,
               CASE WHEN lag(snapshot_date) OVER w IS NULL THEN DATE '0001-01-01'
                    ELSE snapshot_date END                              AS valid_from,
               coalesce(lead(snapshot_date) OVER w, DATE '9999-12-31')  AS valid_to
        FROM opportunity_snapshots
        WHERE opportunity_id IN (SELECT opportunity_id FROM opportunity_snapshot_history)
        WINDOW w AS (PARTITION BY opportunity_id ORDER BY snapshot_date)
    )"""


def nearest_export_join(deal: str, day: str, alias: str = "ne", condition: str = "TRUE") -> str:
    """A LEFT JOIN of `NEAREST_EXPORT` as `alias` to the deal `deal` (an alias with an
    opportunity_id) on the day expression `day`: at most one row, none for a deal that one
    export holds or that fails `condition` (fixed text of the caller). Read the fields with
    `nearest_field`."""
    return (
        f"LEFT JOIN {NEAREST_EXPORT} AS {alias}\n"
        f"          ON {alias}.opportunity_id = {deal}.opportunity_id\n"
        f"         AND {alias}.valid_from <= {day} AND {day} < {alias}.valid_to\n"
        f"         AND {condition}"
    )


def nearest_field(column: str, deal: str, alias: str = "ne") -> str:
    """The deal's `column` (amount or currency) from the export nearest the day joined by
    `nearest_export_join`, else its row in `opportunities` (`deal`)."""
    return (
        f"CASE WHEN {alias}.opportunity_id IS NULL THEN {deal}.{column} ELSE {alias}.{column} END"
    )


# A snapshot answering a later day D holds only what was uploaded then: the deals created
# after it and on or before D, and not closed by D, were open on D all the same (a monthly
# export of 1 Aug answering 31 Aug lacked every deal created in August). They are taken
# with their owner as last exported and their amount and currency from the export nearest
# D (`NEAREST_EXPORT`: the compromise of a rebuild), their expected
# close date unknown then, their stage the last one the stage history gives on or before D
# (an ASOF join: no later change is read), else unknown. "Closed by D" reads the latest
# export and any later one, as `CLOSED_SINCE_SNAPSHOT` does; only dates on or before D are
# read. A deal the snapshot holds (a created date edited later) is never added twice. On
# the snapshot's own day no deal is created after it: the snapshot stays exact. Rows: the
# columns of `as_of_open`; `{stage}` and `{changes}` from `created_since_sql`.
_CREATED_SINCE = """
        SELECT n.as_of_key, n.source, n.opportunity_id, n.opportunity_name, n.account,
               n.owner, {stage} AS stage, n.amount, n.currency, n.created_date,
               CAST(NULL AS DATE) AS close_date
        FROM (
            SELECT a.as_of_key, a.source, CAST(a.day AS TIMESTAMP) + INTERVAL 1 DAY AS day_over,
                   o.opportunity_id, o.opportunity_name, o.account, o.owner,
                   {nearest_amount} AS amount, {nearest_currency} AS currency, o.created_date
            FROM opportunities AS o
            JOIN as_of_days AS a
              ON a.source = 'snapshot'
             AND o.created_date > a.snapshot_date
             AND o.created_date <= a.day
            {nearest_join}
            WHERE (NOT o.is_closed OR o.close_date > a.day)
              AND NOT EXISTS (
                  SELECT 1 FROM opportunity_snapshots AS closed_later
                  WHERE closed_later.opportunity_id = o.opportunity_id
                    AND closed_later.is_closed
                    AND closed_later.close_date <= a.day)
              AND NOT EXISTS (
                  SELECT 1 FROM opportunity_snapshots AS held
                  WHERE held.opportunity_id = o.opportunity_id
                    AND held.snapshot_date = a.snapshot_date)
        ) AS n
        {changes}"""


def created_since_sql(changes: str | None) -> str:
    """`_CREATED_SINCE` with each deal's stage on D from the relation `changes` (columns
    opportunity_id, entered_at, stage: a constant of this module), or unknown (None: no
    stage history, or none to read)."""
    nearest = {
        "nearest_amount": nearest_field("amount", "o"),
        "nearest_currency": nearest_field("currency", "o"),
        "nearest_join": nearest_export_join("o", "a.day"),
    }
    if changes is None:
        return _CREATED_SINCE.format(stage="CAST(NULL AS VARCHAR)", changes="", **nearest)
    join = (
        f"ASOF LEFT JOIN {changes} AS h\n"
        "          ON h.opportunity_id = n.opportunity_id AND n.day_over > h.entered_at"
    )
    return _CREATED_SINCE.format(stage="h.stage", changes=join, **nearest)


CREATED_SINCE_SNAPSHOT = created_since_sql("as_of_changes")


# The deals open on each bound day ($as_of_keys, $as_of_days, $as_of_sources,
# $as_of_snapshots: parallel lists, one entry per day, see `as_of_params`), from the source
# chosen for that day. The one definition of "open on D": pages, the KPI query and the
# forecast backtest all read it. No owner filter here: callers filter by scope.
#   now            -- the deals open in `opportunities` (the live period);
#   snapshot       -- the deals open in that snapshot, exactly as uploaded (for a later
#                     D: less those closed since, plus those created since);
#   stage history  -- rebuilt (below), stage and amount from the deal's last stage change
#                     on or before D (ASOF join: changes after D are never read), the
#                     amount else from the export nearest D;
#   rebuilt        -- created on or before D and not closed by D; stage unknown, amount
#                     from the export nearest D (`NEAREST_EXPORT`), close date not shown
#                     (it was not known on D).
AS_OF_SQL = f"""
    as_of_days AS (
        SELECT CAST(unnest($as_of_keys) AS BIGINT)    AS as_of_key,
               CAST(unnest($as_of_days) AS DATE)      AS day,
               CAST(unnest($as_of_sources) AS VARCHAR) AS source,
               CAST(unnest($as_of_snapshots) AS DATE) AS snapshot_date
    ),
    as_of_rebuild_days AS (
        SELECT as_of_key, day, source,
               CAST(day AS TIMESTAMP) + INTERVAL 1 DAY AS day_over
        FROM as_of_days
        WHERE source IN ('stage history', 'rebuilt')
    ),
    as_of_rebuilt AS (
        SELECT a.as_of_key, a.source, a.day_over, o.opportunity_id, o.opportunity_name,
               o.account, o.owner, {nearest_field("amount", "o")} AS amount,
               {nearest_field("currency", "o")} AS currency, o.created_date
        FROM opportunities AS o
        JOIN as_of_rebuild_days AS a
          ON o.created_date <= a.day
         AND (NOT o.is_closed OR o.close_date > a.day)
        {nearest_export_join("o", "a.day")}
    ),
    as_of_changes AS (
        SELECT opportunity_id, entered_at, stage, amount FROM opportunity_stage_history
    ),
    as_of_open AS (
        SELECT a.as_of_key, a.source, o.opportunity_id, o.opportunity_name, o.account,
               o.owner, o.stage, o.amount, o.currency, o.created_date, o.close_date
        FROM opportunities AS o
        JOIN as_of_days AS a ON a.source = 'now'
        WHERE NOT o.is_closed
        UNION ALL
        SELECT a.as_of_key, a.source, s.opportunity_id, s.opportunity_name, s.account,
               s.owner, s.stage, s.amount, s.currency, s.created_date, s.close_date
        FROM opportunity_snapshots AS s
        JOIN as_of_days AS a ON a.source = 'snapshot' AND s.snapshot_date = a.snapshot_date
        WHERE NOT s.is_closed
          AND NOT {CLOSED_SINCE_SNAPSHOT}
        UNION ALL
        {CREATED_SINCE_SNAPSHOT}
        UNION ALL
        -- rebuilt: no stage is read, so no stage history either (the ASOF join below
        -- would sort every deal-day for nothing)
        SELECT d.as_of_key, d.source, d.opportunity_id, d.opportunity_name, d.account,
               d.owner, CAST(NULL AS VARCHAR), d.amount, d.currency, d.created_date,
               CAST(NULL AS DATE)
        FROM as_of_rebuilt AS d
        WHERE d.source = 'rebuilt'
        UNION ALL
        SELECT d.as_of_key, d.source, d.opportunity_id, d.opportunity_name, d.account,
               d.owner, h.stage, coalesce(h.amount, d.amount), d.currency, d.created_date,
               CAST(NULL AS DATE)
        FROM (SELECT * FROM as_of_rebuilt WHERE source = 'stage history') AS d
        ASOF LEFT JOIN as_of_changes AS h
          ON h.opportunity_id = d.opportunity_id AND d.day_over > h.entered_at
    )"""


# The same answer as totals, for callers that need only sums per day (KPIs over periods,
# the point-in-time benchmark): `as_of_totals` has one row per (as_of_key, source, owner,
# currency, stage, close_date) with `deals`, `with_amount` (deals with an amount) and
# `amount` (NULL when none has one, as `sum` gives it). Same bound lists as `AS_OF_SQL`.
# Snapshot and "now" days group their own rows. Rebuilt days never form a row per deal and
# day: each deal is open over the day numbers [lo, hi) of the rebuilt days (lo: the days
# before it was created, hi: the days before it closed), each stage change holds from the
# day it was entered to the next change's, clipped to the deal's open days; every span
# adds itself at its first day number and takes itself away at its end, and a running sum
# over the day numbers gives each day's totals. A change counts from the day it was entered
# (the ASOF rule of `AS_OF_SQL`: entered before the day's end); changes after the last day
# asked are never read. Close dates are not known then: `close_date` is NULL on those rows.
_AS_OF_TOTALS = """
    as_of_days AS (
        SELECT CAST(unnest($as_of_keys) AS BIGINT)    AS as_of_key,
               CAST(unnest($as_of_days) AS DATE)      AS day,
               CAST(unnest($as_of_sources) AS VARCHAR) AS source,
               CAST(unnest($as_of_snapshots) AS DATE) AS snapshot_date
    ),
    -- the rebuilt days of each source, numbered from 0, oldest first
    as_of_day_numbers AS (
        SELECT source, day,
               CAST(row_number() OVER (PARTITION BY source ORDER BY day) - 1 AS INTEGER)
                   AS day_no
        FROM (SELECT DISTINCT source, day FROM as_of_days
              WHERE source IN ('stage history', 'rebuilt'))
    ),
    as_of_extent AS (
        SELECT source, min(day) AS first_day, max(day) AS last_day,
               CAST(count(*) AS INTEGER) AS days
        FROM as_of_day_numbers
        GROUP BY source
    ),
    -- every date from the first rebuilt day to the last, in `calendar` (a list, the first
    -- day first): how many rebuilt days come before it. A deal created, closed or changed
    -- on that date counts from / stops at that day number.
    as_of_bounds AS (
        SELECT b.source, b.first_day, b.last_day, b.days,
               list(CAST((SELECT count(*) FROM as_of_day_numbers AS n
                          WHERE n.source = b.source AND n.day < c.date) AS INTEGER)
                    ORDER BY c.date) AS calendar
        FROM as_of_extent AS b,
             LATERAL (SELECT CAST(unnest(generate_series(b.first_day, b.last_day,
                                                         INTERVAL 1 DAY)) AS DATE) AS date) AS c
        GROUP BY ALL
    ),
    -- the days [lo, hi) each export of a deal that several exports hold is nearest to
    -- (`NEAREST_EXPORT`), as day numbers of each source; none when no deal has two exports
    as_of_nearest AS (
        SELECT b.source, e.opportunity_id, e.amount, e.currency,
               CASE WHEN e.valid_from > b.first_day
                    THEN b.calendar[e.valid_from - b.first_day + 1] ELSE 0 END AS lo,
               CASE WHEN e.valid_to <= b.last_day
                    THEN b.calendar[e.valid_to - b.first_day + 1] ELSE b.days END AS hi
        FROM {nearest} AS e
        JOIN as_of_bounds AS b ON e.valid_from <= b.last_day AND e.valid_to > b.first_day
    ),
    -- each deal's open days [lo, hi) as day numbers (split where its nearest export
    -- changes); deals open on none are left out
    as_of_deal_spans AS (
        SELECT source, days, opportunity_id, owner, currency, amount, lo, hi
        FROM (
            SELECT b.source, b.days, o.opportunity_id, o.owner,
                   {nearest_currency} AS currency, {nearest_amount} AS amount,
                   greatest(b.calendar[greatest(o.created_date, b.first_day)
                                       - b.first_day + 1],
                            coalesce(e.lo, 0)) AS lo,
                   least(CASE WHEN o.is_closed AND o.close_date <= b.last_day
                              THEN b.calendar[o.close_date - b.first_day + 1]
                              ELSE b.days END,
                         coalesce(e.hi, b.days)) AS hi
            FROM opportunities AS o
            CROSS JOIN as_of_bounds AS b
            LEFT JOIN as_of_nearest AS e
              ON e.opportunity_id = o.opportunity_id AND e.source = b.source
            WHERE o.created_date <= b.last_day
              AND (NOT o.is_closed OR o.close_date > b.first_day)
        )
        WHERE lo < hi
    ),
{change_spans}
    -- what each deal is counted as over which day numbers: rebuilt, the deal with stage
    -- unknown over all its open days; with stage history, unknown until its first change,
    -- then each change's stage (and amount, when recorded) while it holds
    as_of_spans AS (
        SELECT source, days, owner, currency, CAST(NULL AS VARCHAR) AS stage, amount, lo, hi
        FROM as_of_deal_spans
        WHERE source = 'rebuilt'
{history_spans}    ),
    -- +1 at a span's first day number, -1 at its end, per owner, currency and stage
    as_of_steps AS (
        SELECT source, owner, currency, stage, day_no,
               sum(deals) AS deals, sum(with_amount) AS with_amount, sum(amount) AS amount
        FROM (
            SELECT source, owner, currency, stage, lo AS day_no,
                   1 AS deals, CASE WHEN amount IS NULL THEN 0 ELSE 1 END AS with_amount,
                   amount
            FROM as_of_spans WHERE lo < hi
            UNION ALL
            SELECT source, owner, currency, stage, hi,
                   -1, CASE WHEN amount IS NULL THEN 0 ELSE -1 END, -amount
            FROM as_of_spans WHERE lo < hi AND hi < days
        )
        GROUP BY ALL
    ),
    -- running totals: each holds from its day number until the next step of its group
    as_of_running AS (
        SELECT source, owner, currency, stage, day_no AS lo,
               coalesce(lead(day_no) OVER w, 2147483647) AS hi,
               sum(deals) OVER w AS deals, sum(with_amount) OVER w AS with_amount,
               sum(amount) OVER w AS amount
        FROM as_of_steps
        WINDOW w AS (PARTITION BY source, owner, currency, stage ORDER BY day_no)
    ),
    as_of_totals AS (
        SELECT a.as_of_key, a.source, r.owner, r.currency, r.stage,
               CAST(NULL AS DATE) AS close_date, CAST(r.deals AS BIGINT) AS deals,
               CAST(r.with_amount AS BIGINT) AS with_amount,
               CASE WHEN r.with_amount > 0 THEN r.amount END AS amount
        FROM as_of_days AS a
        JOIN as_of_day_numbers AS n ON n.source = a.source AND n.day = a.day
        JOIN as_of_running AS r
          ON r.source = a.source AND n.day_no >= r.lo AND n.day_no < r.hi
        WHERE r.deals > 0
        UNION ALL
        SELECT a.as_of_key, a.source, o.owner, o.currency, o.stage, o.close_date,
               count(*), count(o.amount), sum(o.amount)
        FROM opportunities AS o
        JOIN as_of_days AS a ON a.source = 'now'
        WHERE NOT o.is_closed
        GROUP BY ALL
        UNION ALL
        SELECT a.as_of_key, a.source, s.owner, s.currency, s.stage, s.close_date,
               count(*), count(s.amount), sum(s.amount)
        FROM opportunity_snapshots AS s
        JOIN as_of_days AS a ON a.source = 'snapshot' AND s.snapshot_date = a.snapshot_date
        WHERE NOT s.is_closed
          AND NOT {closed_since}
        GROUP BY ALL
        UNION ALL
        SELECT n.as_of_key, n.source, n.owner, n.currency, n.stage, n.close_date,
               count(*), count(n.amount), sum(n.amount)
        FROM ({created_since}) AS n
        GROUP BY ALL
    )"""


def _numbered_spans(name: str, changes: str) -> str:
    """The CTE `name`: the stage changes of relation `changes` up to the last stage-history
    day, each holding from its day number to the next change's (same-day changes before the
    last of a day hold on no day). One text for the view's changes and for the snapshot
    changes of deals without imported history (both constants of this module)."""
    return f"""
    {name} AS (
        SELECT h.opportunity_id, h.stage, h.amount,
               lag(h.entered_at) OVER w IS NULL                       AS first_change,
               h.day_no                                               AS lo,
               coalesce(lead(h.day_no) OVER w, b.days)                AS hi
        FROM (
            SELECT h.opportunity_id, h.stage, h.amount, h.entered_at,
                   b.calendar[greatest(CAST(h.entered_at AS DATE), b.first_day)
                              - b.first_day + 1] AS day_no
            FROM {changes} AS h, as_of_bounds AS b
            WHERE b.source = 'stage history' AND CAST(h.entered_at AS DATE) <= b.last_day
        ) AS h
        JOIN as_of_bounds AS b ON b.source = 'stage history'
        WINDOW w AS (PARTITION BY h.opportunity_id ORDER BY h.entered_at)
    ),"""


_CHANGE_SPANS = _numbered_spans("as_of_change_spans", "opportunity_stage_history") + "\n"

_HISTORY_SPANS = """        UNION ALL
        SELECT d.source, d.days, d.owner, d.currency, CAST(NULL AS VARCHAR), d.amount, d.lo,
               least(d.hi, coalesce(c.lo, d.hi))
        FROM as_of_deal_spans AS d
        LEFT JOIN as_of_change_spans AS c
          ON c.opportunity_id = d.opportunity_id AND c.first_change
        WHERE d.source = 'stage history'
        UNION ALL
        SELECT d.source, d.days, d.owner, d.currency, c.stage, coalesce(c.amount, d.amount),
               greatest(d.lo, c.lo), least(d.hi, c.hi)
        FROM as_of_deal_spans AS d
        JOIN as_of_change_spans AS c ON c.opportunity_id = d.opportunity_id
        WHERE d.source = 'stage history'
"""


# The same spans from `stage_history_spans` (analytics/metrics/derived.py: each imported
# change with the day the deal's next one was entered, counted at import), which spares the
# window over every change and the view's anti join of every snapshot row with every
# imported change. Only the changes that hold on some stage-history day are read, and each
# deal's first change (its stage is unknown until then), so every deal with imported history
# has a row: the deals without one, and only those, take their history from the snapshots
# (the view's other half, worked out for them alone).
_CHANGE_SPANS_DERIVED = (
    """
    as_of_imported_spans AS (
        SELECT c.opportunity_id, c.stage, c.amount, c.first_change,
               CASE WHEN c.from_day <= b.last_day
                    THEN b.calendar[greatest(c.from_day, b.first_day) - b.first_day + 1]
                    ELSE b.days END AS lo,
               CASE WHEN c.to_day <= b.last_day
                    THEN b.calendar[c.to_day - b.first_day + 1] ELSE b.days END AS hi
        FROM stage_history_spans AS c, as_of_bounds AS b
        WHERE b.source = 'stage history' AND c.to_day > b.first_day
          AND (c.from_day <= b.last_day OR c.first_change)
    ),
    as_of_history_deals AS (
        SELECT d.source, d.days, d.opportunity_id, d.owner, d.currency, d.amount, d.lo, d.hi,
               c.stage AS c_stage, c.amount AS c_amount, c.first_change, c.lo AS c_lo,
               c.hi AS c_hi
        FROM as_of_deal_spans AS d
        LEFT JOIN as_of_imported_spans AS c ON c.opportunity_id = d.opportunity_id
        WHERE d.source = 'stage history'
    ),
    -- no amount, as the view's snapshot rows: the nearest export's stands
    as_of_snapshot_changes AS (
        SELECT opportunity_id, stage, CAST(NULL AS DECIMAL(18, 2)) AS amount,
               CAST(snapshot_date AS TIMESTAMP) AS entered_at
        FROM (
            SELECT s.opportunity_id, s.stage, s.snapshot_date,
                   lag(s.stage) OVER (PARTITION BY s.opportunity_id ORDER BY s.snapshot_date)
                       AS previous_stage
            FROM opportunity_snapshots AS s
            SEMI JOIN (SELECT opportunity_id FROM as_of_history_deals WHERE c_lo IS NULL) AS n
                ON n.opportunity_id = s.opportunity_id
        )
        WHERE previous_stage IS DISTINCT FROM stage
    ),
"""
    + _numbered_spans("as_of_snapshot_spans", "as_of_snapshot_changes").lstrip("\n")
    + """
    -- the deals without imported history, one row per snapshot change (or one, without any)
    as_of_snapshot_rows AS (
        SELECT d.source, d.days, d.owner, d.currency, d.amount, d.lo, d.hi,
               c.stage AS c_stage, c.amount AS c_amount, c.first_change, c.lo AS c_lo,
               c.hi AS c_hi
        FROM as_of_history_deals AS d
        LEFT JOIN as_of_snapshot_spans AS c ON c.opportunity_id = d.opportunity_id
        WHERE d.c_lo IS NULL
    ),
"""
)

_HISTORY_SPANS_DERIVED = """        UNION ALL
        SELECT source, days, owner, currency, CAST(NULL AS VARCHAR), amount, lo,
               least(hi, c_lo)
        FROM as_of_history_deals
        WHERE first_change
        UNION ALL
        SELECT source, days, owner, currency, c_stage, coalesce(c_amount, amount),
               greatest(lo, c_lo), least(hi, c_hi)
        FROM as_of_history_deals
        WHERE c_lo IS NOT NULL
        UNION ALL
        SELECT source, days, owner, currency, CAST(NULL AS VARCHAR), amount, lo,
               least(hi, coalesce(c_lo, hi))
        FROM as_of_snapshot_rows
        WHERE first_change IS NOT FALSE
        UNION ALL
        SELECT source, days, owner, currency, c_stage, coalesce(c_amount, amount),
               greatest(lo, c_lo), least(hi, c_hi)
        FROM as_of_snapshot_rows
        WHERE c_lo IS NOT NULL
"""


def as_of_totals_sql(*, history: bool = True, spans: bool = False, created: bool = True) -> str:
    """`as_of_totals` (see above); `history` False leaves the stage history unread (no day
    is answered from it), which spares a scan of every stage change. `spans` True reads
    the imported changes from `stage_history_spans`: only when it is current
    (`analytics.metrics.derived.stage_spans_current`), else the answer would be stale.
    `created` False: the deals created after a snapshot that answers a later day take no
    stage from the stage history (there is none, or no such day: `needs_created_stages`)."""
    created_since = created_since_sql(
        "(SELECT opportunity_id, entered_at, stage FROM opportunity_stage_history)"
        if created
        else None
    )
    change_spans = _CHANGE_SPANS_DERIVED if spans else _CHANGE_SPANS
    history_spans = _HISTORY_SPANS_DERIVED if spans else _HISTORY_SPANS
    return _AS_OF_TOTALS.format(
        change_spans=change_spans if history else "",
        history_spans=history_spans if history else "",
        closed_since=CLOSED_SINCE_SNAPSHOT,
        created_since=created_since,
        nearest=NEAREST_EXPORT,
        nearest_currency=nearest_field("currency", "o", "e"),
        nearest_amount=nearest_field("amount", "o", "e"),
    )


def needs_created_stages(con: duckdb.DuckDBPyConnection, found: Sequence[Basis | None]) -> bool:
    """Whether a day is answered by a snapshot older than it (deals created in between are
    added) and the stage history can give their stage on it: only then is it read."""
    gap = any(b is not None and b.after_snapshot for b in found)
    return gap and first_stage_change(con) is not None


AS_OF_TOTALS_SQL = as_of_totals_sql()


def as_of_params(keyed: Sequence[tuple[int, Basis | None]]) -> dict[str, Any]:
    """`AS_OF_SQL`'s bound lists from (key, basis) pairs; a basis of None means "now"."""
    return {
        "as_of_keys": [key for key, _ in keyed],
        "as_of_days": [None if b is None else b.day for _, b in keyed],
        "as_of_sources": ["now" if b is None else b.source for _, b in keyed],
        "as_of_snapshots": [None if b is None else b.snapshot_date for _, b in keyed],
    }


_PIPELINE_SQL = f"""
WITH {AS_OF_SQL}
SELECT x.opportunity_id, x.opportunity_name, x.account, x.owner, x.stage, x.amount,
       x.currency, x.created_date, x.close_date
FROM as_of_open AS x
LEFT JOIN reps AS r ON r.rep = x.owner
WHERE {owner_filter_sql("x.owner")}
ORDER BY x.opportunity_id
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
    params = _filters(scope) | as_of_params([(0, basis)])
    frame = con.execute(_PIPELINE_SQL, params).df()
    frame["stage"] = frame["stage"].astype(object).where(frame["stage"].notna(), None)
    return PipelineAsOf(basis, frame[list(DEAL_COLUMNS)].reset_index(drop=True))


def open_figures_note(basis: Basis | None) -> str:
    """What a period's open figures (open pipeline, open deals, coverage, velocity) are
    about, for help texts: the deals open now (None: a period not over yet), or the
    pipeline as known on the period's last day and the source it came from."""
    if basis is None:
        return "Open figures: the deals open now (latest export)."
    return f"Open figures: the deals open at the period's end, {basis.describe()}."


def open_figures_fields(basis: Basis | None) -> dict[str, Any]:
    """The same as `open_figures_note`, as fields for CSV/JSON: open_as_of (ISO date, or
    None for now), open_source ('now', 'snapshot', 'stage history', 'rebuilt') and
    open_snapshot_date."""
    if basis is None:
        return {"open_as_of": None, "open_source": "now", "open_snapshot_date": None}
    fields = basis.as_dict()
    return {
        "open_as_of": fields["as_of"],
        "open_source": fields["source"],
        "open_snapshot_date": fields["snapshot_date"],
    }
