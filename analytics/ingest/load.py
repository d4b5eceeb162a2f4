"""`staged` -> canonical tables, inside the caller's transaction.

One function per kind, each a few set-based statements. Upserts go by natural key; an
opportunities upload also becomes a snapshot as of its as-of date, and the current
state only moves forward in time (an older export never overwrites a newer one). Each
deal's newest snapshot row is its `opportunities` row, stored once (issue 15.1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

from analytics.db import quote_ident
from analytics.ingest.stage import Staged
from analytics.pointintime import WHOLE_EXPORTS


@dataclass
class LoadCounts:
    loaded: int = 0  # valid rows written
    inserted: int = 0  # new records
    updated: int = 0  # existing records replaced by this file's version
    unchanged: int = 0  # rows already present (events) or older than what we hold
    # of `updated`: records replaced by a version equal in every column the file carries
    # (an absent column keeps its stored value, so it cannot make a record differ). They
    # are still replaced (a snapshot row of this import, which rollback counts on), but
    # reported as unchanged, not updated.
    same: int = 0
    not_in_file: int = 0  # records the database holds that this export no longer lists
    # an export older than the newest whole export loaded: its open deals that the newer
    # one does not list (they became current from this older file), and that newer date
    open_not_in_newer: int = 0
    newer_export: date | None = None
    # stored won deals this export shows lost or open again: how many, and the first few
    # (id, name, won on, amount, currency, closed now, closed on)
    no_longer_won: int = 0
    no_longer_won_rows: list[tuple[Any, ...]] = field(default_factory=list)


def _col(staged: Staged, name: str, sql_type: str, table: str | None = None) -> str:
    if name not in staged.fields:
        return f"CAST(NULL AS {sql_type})"
    return f"{table}.{quote_ident(name)}" if table else quote_ident(name)


def _valid_rows(con: duckdb.DuckDBPyConnection, staged: Staged) -> None:
    # Views, not copies: on a clean million-row file a copy costs as much as the parse.
    where = "" if not staged.problem_count else " WHERE __line NOT IN (SELECT line FROM problems)"
    con.execute(f"CREATE OR REPLACE TEMP VIEW valid AS SELECT * FROM staged{where}")


def load(con: duckdb.DuckDBPyConnection, staged: Staged, import_id: int, as_of: date) -> LoadCounts:
    _valid_rows(con, staged)
    loader = {
        "opportunities": _opportunities,
        "stage_history": _stage_history,
        "reps": _reps,
        "activities": _activities,
        "leads": _leads,
        "lead_events": _lead_events,
        "quotas": _quotas,
        "forecast_submissions": _forecast_submissions,
        "fx_rates": _fx_rates,
    }[staged.kind.name]
    return loader(con, staged, import_id, as_of)


BANT_FIELDS = ("bant_budget", "bant_authority", "bant_need", "bant_timing")
OPP_COLUMNS = (
    "opportunity_id, opportunity_name, account, owner, stage, source_stage, amount, currency, "
    "probability, forecast_category, created_date, close_date, is_closed, is_won, lead_source, "
    "deal_type, product, lead_id, sdr, " + ", ".join(BANT_FIELDS)
)


def _absent(staged: Staged, columns: list[str], derived: dict[str, str] | None = None) -> list[str]:
    """Table columns this file does not carry (nor derive from a column it carries)."""
    derived = derived or {}
    return [
        c
        for c in columns
        if c != "import_id" and c not in staged.fields and derived.get(c, "") not in staged.fields
    ]


def _derived(name: str, staged: Staged) -> bool:
    """Whether a field absent from the file still gets a value from what it carries."""
    return name == "currency" and "amount" in staged.fields


# A column the file lacks is carried over from the stored deal as of the file's date: its
# snapshot row on or before that date (the latest), else its first one after. Only for an
# older export arriving late (some stored row is newer): otherwise that row is the current
# one. Why: a late export of 1 Mar without an amount column took June's amount and currency
# (the current row's), so the day of 1 Mar, and every rebuilt day read from it, showed a
# value from three months later. Two bound parameters: the file's as-of date, twice.
_NEAREST_ROW = """(
        SELECT * EXCLUDE (nearness)
        FROM (
            SELECT s.*, row_number() OVER (
                       PARTITION BY s.opportunity_id
                       ORDER BY s.snapshot_date > CAST(? AS DATE),
                                abs(s.snapshot_date - CAST(? AS DATE))) AS nearness
            FROM opportunity_snapshots AS s
        )
        WHERE nearness = 1
    )"""


def _opportunities(con, staged: Staged, import_id: int, as_of: date) -> LoadCounts:
    # qualified: the file's columns are joined to the stored deals of the same names
    c = lambda n, t="VARCHAR": _col(staged, n, t, "valid")  # noqa: E731
    ident = (
        "coalesce("
        + ", ".join(
            f"valid.{quote_ident(f)}"
            for f in ("opportunity_id", "opportunity_name")
            if f in staged.fields
        )
        + ")"
    )
    if staged.won_stage is not None and ident == "coalesce()":
        ident = "valid.lead_id"  # a won-deal list keyed by lead: one deal per lead
    source = "valid"
    if staged.won_stage is not None:
        # no stage column: every row is won, in the settings' won stage (bound, it is text
        # from settings), through a one-row table the rows are joined to
        con.execute(
            "CREATE OR REPLACE TEMP TABLE won_stage AS SELECT CAST(? AS VARCHAR) AS "
            "canonical_stage, TRUE AS stage_won, TRUE AS stage_closed, "
            "CAST(NULL AS VARCHAR) AS source_stage",
            [staged.won_stage],
        )
        source = "valid CROSS JOIN won_stage"
    status = c("status")
    is_won = f"coalesce({c('is_won', 'BOOLEAN')}, {status} = 'won', stage_won)"
    is_closed = (
        f"coalesce({c('is_closed', 'BOOLEAN')}, {status} IN ('won', 'lost'), stage_closed) "
        f"OR {is_won}"
    )
    currency = (
        f"coalesce({c('currency')}, amount_currency)"
        if "amount" in staged.fields
        else c("currency")
    )
    fields = {
        "opportunity_name": c("opportunity_name"),
        "account": c("account"),
        "owner": c("owner"),
        "amount": c("amount", "DECIMAL(18, 2)"),
        "currency": currency,
        "probability": c("probability", "DOUBLE"),
        "forecast_category": c("forecast_category"),
        "created_date": c("created_date", "DATE"),
        "close_date": c("close_date", "DATE"),
        "lead_source": c("lead_source"),
        "deal_type": c("deal_type"),
        "product": c("product"),
        "lead_id": c("lead_id"),
        "sdr": c("sdr"),
    }
    # A column the file does not carry changes nothing: an update keeps the stored value
    # (issue 12.5). A stored probability only while the deal stays in its stage.
    absent = [f for f in fields if f not in staged.fields and not _derived(f, staged)]
    absent += [f for f in BANT_FIELDS if f not in staged.fields]
    stored = absent and con.execute("SELECT EXISTS (SELECT 1 FROM opportunities)").fetchone()[0]
    if stored:
        for f in absent:
            if f == "probability":
                fields[f] = f"CASE WHEN o.stage IS NOT DISTINCT FROM canonical_stage THEN o.{f} END"
            elif f in fields:
                fields[f] = f"o.{f}"
        if "currency" not in staged.fields and "amount" in staged.fields:
            # no currency column: an amount without a sign of its own keeps the stored
            # deal's currency, as if the file had repeated it
            fields["currency"] = "coalesce(amount_currency, o.currency)"
    bant = ", ".join(
        f"coalesce(valid.{quote_ident(f)}, false) AS {f}"
        if f in staged.fields
        else (f"o.{f}" if stored else "NULL::BOOLEAN") + f" AS {f}"
        for f in BANT_FIELDS
    )
    # BANT: a column in the file and a blank cell = not qualified; no column = not recorded
    # (for a new deal; a stored deal keeps what an earlier file recorded)
    # joined to the stored rows it must be a table: the view would see them deleted below
    late = (
        stored
        and con.execute(
            "SELECT EXISTS (SELECT 1 FROM opportunities WHERE snapshot_date > ?)", [as_of]
        ).fetchone()[0]
    )
    stored_rows = _NEAREST_ROW if late else "opportunities"
    join = f"LEFT JOIN {stored_rows} o ON o.opportunity_id = {ident}" if stored else ""
    body = ", ".join(f"{sql} AS {name}" for name, sql in fields.items())
    con.execute(
        f"""
        CREATE OR REPLACE TEMP {"TABLE" if stored or staged.won_stage else "VIEW"} incoming AS
        SELECT {ident} AS opportunity_id, canonical_stage AS stage,
               {"won_stage.source_stage" if staged.won_stage else "valid.stage"} AS source_stage,
               {is_closed} AS is_closed, {is_won} AS is_won, {body}, {bant}
        FROM {source} {join}
        """,
        [as_of, as_of] if late else [],
    )
    counts = LoadCounts(loaded=con.execute("SELECT count(*) FROM incoming").fetchone()[0])
    # Each row is written once (issue 15.1): a deal's newest snapshot row is its row in
    # `opportunities`, the rows newer exports superseded are in the history table, and the
    # view `opportunity_snapshots` is both. So: the current rows this export supersedes
    # move to the history; this export's rows become current, except for deals the
    # database holds in a newer state, whose row is history from the start.
    # a first import has no stored deal that could be missing from it (a full scan saved)
    held_before = con.execute("SELECT count(*) FROM opportunities").fetchone()[0]
    newest_before = (
        con.execute(
            f"SELECT max(snapshot_date) FROM opportunities WHERE {WHOLE_EXPORTS}"
        ).fetchone()[0]
        if held_before
        else None
    )
    existing_newer, existing_same_day, existing_older = con.execute(
        """
        SELECT count(*) FILTER (WHERE o.snapshot_date > ?),
               count(*) FILTER (WHERE o.snapshot_date = ?),
               count(*) FILTER (WHERE o.snapshot_date < ?)
        FROM opportunities o JOIN incoming i USING (opportunity_id)
        """,
        [as_of, as_of, as_of],
    ).fetchone()
    same = 0
    if existing_older or existing_same_day:
        same = _same_as_stored(con, as_of)
        counts.no_longer_won, counts.no_longer_won_rows = _no_longer_won(con, as_of)
    if existing_older:
        con.execute(
            f"INSERT INTO opportunity_snapshot_history (snapshot_date, {OPP_COLUMNS}, import_id) "
            f"SELECT snapshot_date, {OPP_COLUMNS}, import_id FROM opportunities "
            "WHERE snapshot_date < ? AND opportunity_id IN (SELECT opportunity_id FROM incoming)",
            [as_of],
        )
    if existing_newer:
        # an older export arriving late: its rows are history (a re-export of that same
        # day replaces the rows it had there)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE held_newer AS SELECT opportunity_id "
            "FROM opportunities WHERE snapshot_date > ? "
            "AND opportunity_id IN (SELECT opportunity_id FROM incoming)",
            [as_of],
        )
        con.execute(
            "DELETE FROM opportunity_snapshot_history WHERE snapshot_date = ? "
            "AND opportunity_id IN (SELECT opportunity_id FROM held_newer)",
            [as_of],
        )
        con.execute(
            f"INSERT INTO opportunity_snapshot_history (snapshot_date, {OPP_COLUMNS}, import_id) "
            f"SELECT ?, {OPP_COLUMNS}, ? FROM incoming "
            "WHERE opportunity_id IN (SELECT opportunity_id FROM held_newer)",
            [as_of, import_id],
        )
    if existing_older or existing_same_day:
        con.execute(
            "DELETE FROM opportunities WHERE snapshot_date <= ? "
            "AND opportunity_id IN (SELECT opportunity_id FROM incoming)",
            [as_of],
        )
    # only rows the database holds in a newer state survived the delete: skip just those
    newer_filter = (
        " WHERE opportunity_id NOT IN (SELECT opportunity_id FROM held_newer)"
        if existing_newer
        else ""
    )
    con.execute(
        f"INSERT INTO opportunities ({OPP_COLUMNS}, snapshot_date, import_id) "
        f"SELECT {OPP_COLUMNS}, ?, ? FROM incoming{newer_filter}",
        [as_of, import_id],
    )
    if existing_newer:
        con.execute("DROP TABLE IF EXISTS held_newer")  # never left for the next import
    existing_older += existing_same_day
    counts.updated = existing_older
    counts.same = same
    counts.unchanged = existing_newer
    counts.inserted = counts.loaded - existing_older - existing_newer
    for name, stage in staged.entered.items():
        con.execute(
            f"""
            INSERT INTO stage_history_imported
                (opportunity_id, stage, source_stage, entered_at, amount, import_id)
            SELECT DISTINCT {ident}, ?, ?, valid.{quote_ident(name)},
                   {c("amount", "DECIMAL(18, 2)")}, ?
            FROM valid
            WHERE valid.{quote_ident(name)} IS NOT NULL
            ON CONFLICT DO NOTHING
            """,
            [stage, stage, import_id],
        )
    if newest_before is not None and as_of < newest_before:
        # An older export arriving late: the deals the newer export lists stay as it has
        # them, but a deal only this file lists becomes current, open as it was then. The
        # newer export no longer listing it usually means it was closed or deleted since:
        # said, so ops can check (a new-user test found a 50,000 deal added to today's
        # pipeline without a word).
        counts.open_not_in_newer = con.execute(
            "SELECT count(*) FROM opportunities WHERE import_id = ? AND NOT is_closed",
            [import_id],
        ).fetchone()[0]
        counts.newer_export = newest_before
    counts.not_in_file = (
        con.execute(
            "SELECT count(*) FROM opportunities "
            "WHERE opportunity_id NOT IN (SELECT opportunity_id FROM incoming)"
        ).fetchone()[0]
        if held_before
        else 0
    )
    return counts


# How many examples the import's note names.
NO_LONGER_WON_NAMED = 5


def _no_longer_won(con: duckdb.DuckDBPyConnection, as_of: date) -> tuple[int, list[tuple]]:
    """Stored won deals that this export (replacing their row) shows lost or open again.

    Why: their bookings leave the period they were won in, and a month already reviewed
    changes. A new user's August fell from 21,000 to 14,000 when the export of 1 Oct
    showed a deal won on 28 Aug as lost on 20 Sep, and nothing said so. Legitimate (a
    customer walked away), so a note, never a refusal: the count and the first few, oldest
    win first.
    """
    rows = con.execute(
        """
        SELECT o.opportunity_id, o.opportunity_name, o.close_date, o.amount, o.currency,
               coalesce(i.is_closed, false), i.close_date, count(*) OVER () AS deals
        FROM opportunities AS o
        JOIN incoming AS i USING (opportunity_id)
        WHERE o.is_won AND NOT coalesce(i.is_won, false) AND o.snapshot_date <= ?
        ORDER BY o.close_date NULLS LAST, o.opportunity_id
        LIMIT ?
        """,
        [as_of, NO_LONGER_WON_NAMED],
    ).fetchall()
    return (rows[0][-1] if rows else 0), [r[:-1] for r in rows]


def no_longer_won_note(count: int, rows: list[tuple[Any, ...]]) -> str:
    """The import's words for `_no_longer_won`: "1 deal won in an earlier export is not won
    in this one ...: 'Wayne & Sons' (won 2026-08-28, 7,000.00 USD) is lost on 2026-09-20"."""
    one = count == 1
    named = []
    for opp_id, name, won_on, amount, currency, closed, closed_on in rows:
        label = repr(str(name if name is not None else opp_id))
        worth = "" if amount is None else f", {amount:,.2f}{' ' + currency if currency else ''}"
        won = f"won {won_on}" if won_on is not None else "won"
        if not closed:
            now = "is open again"
        elif closed_on is not None:
            now = f"is lost on {closed_on}"
        else:
            now = "is lost"
        named.append(f"{label} ({won}{worth}) {now}")
    more = count - len(rows)
    leave = (
        "its bookings leave the period it was"
        if one
        else "their bookings leave the periods they were"
    )
    # the bookings leave the month; a commission already paid on it does not (a new user
    # read this note as "the rep's commission for that month changes")
    paid = (
        "Commission statements keep it credited in that month and claw it back"
        if one
        else "Commission statements keep them credited in those months and claw them back"
    )
    return (
        f"{'1 deal' if one else f'{count:,} deals'} won in an earlier export "
        f"{'is' if one else 'are'} not won in this one, so {leave} won in: "
        f"{', '.join(named)}{f' and {more:,} more' if more > 0 else ''}. "
        f"{paid} where the plan has clawback days. "
        "If that is not what happened, check in the CRM"
    )


def _same_as_stored(con: duckdb.DuckDBPyConnection, as_of: date) -> int:
    """Incoming deals that replace a stored row (same day or older) without changing any
    of its values. Every field the file does not carry was already taken from the stored
    row in `incoming`, so comparing all the columns compares what the file carries."""
    compared = [c for c in OPP_COLUMNS.split(", ") if c != "opportunity_id"]
    differs = " OR ".join(f"i.{c} IS DISTINCT FROM o.{c}" for c in compared)
    return con.execute(
        f"""
        WITH replaced AS (
            SELECT i.opportunity_id, ({differs}) AS differs
            FROM incoming i JOIN opportunities o USING (opportunity_id)
            WHERE o.snapshot_date <= ?
        )
        SELECT count(*) FILTER (WHERE NOT differs) FROM replaced
        """,
        [as_of],
    ).fetchone()[0]


def _upsert(
    con,
    table: str,
    select_sql: str,
    key: tuple[str, ...],
    columns: list[str],
    *,
    events: bool = False,
    params: list | None = None,
    keep: list[str] | tuple[str, ...] = (),
    keep_replaced: bool = False,
) -> LoadCounts:
    """Insert `select_sql` rows into `table`, replacing (or for events keeping) key matches.

    `keep`: columns the file does not carry; a replaced record keeps its stored values
    there (a column that is absent changes nothing), a new one gets the select's default.
    `keep_replaced`: the stored rows about to be replaced are kept in the temp table
    `replaced` first, so the derived tables can count again just what they were part of.
    """
    con.execute("DROP TABLE IF EXISTS temp.replaced")
    con.execute(f"CREATE OR REPLACE TEMP TABLE incoming AS {select_sql}", params or [])
    if events:  # the same event listed twice in one export is one event
        con.execute(
            "CREATE OR REPLACE TEMP TABLE incoming AS SELECT * FROM incoming "
            f"QUALIFY row_number() OVER (PARTITION BY {', '.join(key)}) = 1"
        )
    loaded = con.execute("SELECT count(*) FROM incoming").fetchone()[0]
    on = " AND ".join(f"t.{k} IS NOT DISTINCT FROM i.{k}" for k in key)
    matched = con.execute(
        f"SELECT count(*) FROM incoming i WHERE EXISTS (SELECT 1 FROM {table} t WHERE {on})"
    ).fetchone()[0]
    cols = ", ".join(columns)
    if events:
        con.execute(
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM incoming i "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE {on})"
        )
        return LoadCounts(loaded=loaded, inserted=loaded - matched, unchanged=matched)
    if keep and matched:
        sets = ", ".join(f"{quote_ident(k)} = t.{quote_ident(k)}" for k in keep)
        con.execute(f"UPDATE incoming i SET {sets} FROM {table} t WHERE {on}")
    same = 0
    if matched:  # replaced by an equal version: reported unchanged (see LoadCounts.same)
        equal = " AND ".join(
            f"t.{quote_ident(c)} IS NOT DISTINCT FROM i.{quote_ident(c)}"
            for c in columns
            if c != "import_id"
        )
        same = con.execute(
            f"SELECT count(*) FROM incoming i WHERE EXISTS (SELECT 1 FROM {table} t WHERE {equal})"
        ).fetchone()[0]
    if keep_replaced and matched:
        con.execute(
            f"CREATE TEMP TABLE replaced AS SELECT * FROM {table} t "
            f"WHERE EXISTS (SELECT 1 FROM incoming i WHERE {on})"
        )
    con.execute(f"DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM incoming i WHERE {on})")
    con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM incoming")
    return LoadCounts(loaded=loaded, inserted=loaded - matched, updated=matched, same=same)


def _stage_history(con, staged: Staged, import_id: int, as_of: date) -> LoadCounts:
    c = lambda n, t="VARCHAR": _col(staged, n, t)  # noqa: E731
    sql = f"""
        SELECT opportunity_id, canonical_stage AS stage, valid.stage AS source_stage, entered_at,
               {c("amount", "DECIMAL(18, 2)")} AS amount, {import_id} AS import_id
        FROM valid
    """
    cols = ["opportunity_id", "stage", "source_stage", "entered_at", "amount", "import_id"]
    return _upsert(
        con,
        "stage_history_imported",
        sql,
        ("opportunity_id", "stage", "entered_at"),
        cols,
        events=True,
    )


def _reps(con, staged: Staged, import_id: int, as_of: date) -> LoadCounts:
    c = lambda n, t="VARCHAR": _col(staged, n, t)  # noqa: E731
    # Without a team column, a new rep's team is their manager's team (named after them).
    sql = f"""
        SELECT rep, {c("manager")} AS manager, coalesce({c("team")}, {c("manager")}) AS team,
               {c("region")} AS region, {c("role")} AS role, {c("level")} AS level,
               {c("hire_date", "DATE")} AS hire_date,
               coalesce({c("active", "BOOLEAN")}, TRUE) AS active, {import_id} AS import_id
        FROM valid
    """
    cols = ["rep", "manager", "team", "region", "role", "level", "hire_date", "active", "import_id"]
    # a stored rep keeps a team the file does not name, even when it names a manager
    return _upsert(con, "reps", sql, ("rep",), cols, keep=_absent(staged, cols))


def _activities(con, staged: Staged, import_id: int, as_of: date) -> LoadCounts:
    c = lambda n, t="VARCHAR": _col(staged, n, t)  # noqa: E731
    # An export without activity ids gets a stable id from the activity's own values, so a
    # later export of the same activity replaces it instead of adding it twice.
    synthetic = (
        f"md5(concat_ws('|', {c('owner')}, {c('activity_type')}, "
        f"CAST({c('started_at', 'TIMESTAMP')} AS VARCHAR), "
        f"{c('subject')}, {c('opportunity_id')}, {c('lead_id')}))"
    )
    ident = f"coalesce({c('activity_id')}, {synthetic})"
    sql = f"""
        SELECT {ident} AS activity_id, {c("owner")} AS owner,
               lower({c("activity_type")}) AS activity_type,
               {c("started_at", "TIMESTAMP")} AS started_at,
               {c("duration_minutes", "DOUBLE")} AS duration_minutes,
               {c("opportunity_id")} AS opportunity_id, {c("lead_id")} AS lead_id,
               {c("account")} AS account, {c("subject")} AS subject, {import_id} AS import_id
        FROM valid
        QUALIFY row_number() OVER (PARTITION BY {ident}) = 1
    """
    cols = [
        "activity_id",
        "owner",
        "activity_type",
        "started_at",
        "duration_minutes",
        "opportunity_id",
        "lead_id",
        "account",
        "subject",
        "import_id",
    ]
    return _upsert(
        con,
        "activities",
        sql,
        ("activity_id",),
        cols,
        keep=_absent(staged, cols),
        keep_replaced=True,
    )


def _leads(con, staged: Staged, import_id: int, as_of: date) -> LoadCounts:
    c = lambda n, t="VARCHAR": _col(staged, n, t)  # noqa: E731
    sql = f"""
        SELECT lead_id, {c("created_at", "TIMESTAMP")} AS created_at, {c("owner")} AS owner,
               {c("source")} AS source,
               {c("status")} AS status, {c("company")} AS company,
               {c("first_response_at", "TIMESTAMP")} AS first_response_at,
               {c("converted_at", "TIMESTAMP")} AS converted_at,
               {c("opportunity_id")} AS opportunity_id, {import_id} AS import_id
        FROM valid
    """
    cols = [
        "lead_id",
        "created_at",
        "owner",
        "source",
        "status",
        "company",
        "first_response_at",
        "converted_at",
        "opportunity_id",
        "import_id",
    ]
    return _upsert(con, "leads", sql, ("lead_id",), cols, keep=_absent(staged, cols))


def _lead_events(con, staged: Staged, import_id: int, as_of: date) -> LoadCounts:
    sql = f"""
        SELECT lead_id, lower(event_type) AS event_type, occurred_at, {import_id} AS import_id
        FROM valid
    """
    return _upsert(
        con,
        "lead_events",
        sql,
        ("lead_id", "event_type", "occurred_at"),
        ["lead_id", "event_type", "occurred_at", "import_id"],
        events=True,
    )


def _period_end(staged: Staged) -> str:
    # Without an end column a period is the calendar month its start falls in.
    return f"coalesce({_col(staged, 'period_end', 'DATE')}, last_day(period_start))"


def _quotas(con, staged: Staged, import_id: int, as_of: date) -> LoadCounts:
    sql = f"""
        SELECT owner, period_start, {_period_end(staged)} AS period_end, amount,
               {import_id} AS import_id
        FROM valid
    """
    return _upsert(
        con,
        "quotas",
        sql,
        ("owner", "period_start", "period_end"),
        ["owner", "period_start", "period_end", "amount", "import_id"],
    )


def _forecast_submissions(con, staged: Staged, import_id: int, as_of: date) -> LoadCounts:
    # Without a submission time, the forecast counts as submitted on the export's as-of date.
    submitted = f"coalesce({_col(staged, 'submitted_at', 'TIMESTAMP')}, CAST(? AS TIMESTAMP))"
    sql = f"""
        SELECT owner, period_start, {_period_end(staged)} AS period_end,
               lower(category) AS category, amount, {submitted} AS submitted_at,
               {import_id} AS import_id
        FROM valid
    """
    key = ("owner", "period_start", "period_end", "category", "submitted_at")
    columns = list(key) + ["amount", "import_id"]
    return _upsert(con, "forecast_submissions", sql, key, columns, params=[as_of])


def _fx_rates(con, staged: Staged, import_id: int, as_of: date) -> LoadCounts:
    sql = f"""
        SELECT upper(currency) AS currency, rate_date, CAST(rate AS DECIMAL(18, 8)) AS rate,
               {import_id} AS import_id
        FROM valid
        WHERE rate > 0
    """
    cols = ["currency", "rate_date", "rate", "import_id"]
    return _upsert(con, "fx_rates", sql, ("currency", "rate_date"), cols)
