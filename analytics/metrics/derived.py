"""Derived tables kept current by every import, so a page view does not re-read millions
of activities.

Why: on a million deals and five million activities, two parts of the efficiency query
were most of what the Overview and Reps pages spent: joining every deal-linked activity
to the deals won in the periods on view (touches per won deal), and grouping the
activities of the periods by owner and type (activity mix). Both only change when
activities or opportunities change, which only imports (and rollbacks, restores) do, so
the import counts them in its own transaction:

* ``won_deal_touches``: one row per won deal with a close date (its owner, close date and
  touches), in close-date order so a period's deals are a few blocks of the file;
* ``activity_months``: activities and minutes per calendar month, owner and type. Every
  period the pages offer (month, quarter, year, calendar or fiscal) is whole months, so
  a period's activity mix is a sum of its months.

Imports of activities or opportunities count again only what they changed
(`refresh_after_import`: the won deals among the deals they wrote, the activity months of
the activities they wrote or replaced; all of it when the change is large); rollbacks
recount them whole. Why a stamp
as well: scripts may write the canonical tables with their own SQL. ``derived_tables``
remembers the row counts and newest import ids of the tables they were counted from;
when those differ, the tables are stale, `derived_current` says so, and the efficiency
query reads the activities themselves (same definitions, slower) rather than showing
stale figures. A writable open of the database (``db.connect``) counts them again. A
script's UPDATE that changes no count nor import id cannot be seen this way:
``python -m analytics recount`` is for that.
"""

from __future__ import annotations

import duckdb

# The import kinds (and tables) they are counted from: an import of one of these counts
# again what it changed (`refresh_after_import`), a rollback recounts them whole.
DERIVED_SOURCES = ("activities", "opportunities")

# What the derived tables were counted from: any import or rollback of activities or
# opportunities changes a count or the newest import id.
STAMP_SQL = """
SELECT concat_ws(':',
    (SELECT count(*) FROM activities),
    coalesce((SELECT max(import_id) FROM activities), 0),
    (SELECT count(*) FROM opportunities),
    coalesce((SELECT max(import_id) FROM opportunities), 0)
)
"""

# A touch: an activity linked to the deal up to the end of its close day (after-sale
# onboarding calls did not win it). Every won deal has a row, with 0 touches if need be.
# {only}: empty for a full count, or a filter to the deals an import changed (see
# `refresh_after_import`); fixed text from this module, never input.
WON_DEAL_TOUCHES_TEMPLATE = """
INSERT INTO won_deal_touches (opportunity_id, owner, close_date, touches)
WITH won AS (
    SELECT opportunity_id, owner, close_date
    FROM opportunities
    WHERE is_won AND close_date IS NOT NULL {only}
),
linked AS (
    SELECT opportunity_id, started_at
    FROM activities
    WHERE opportunity_id IS NOT NULL {only}
)
SELECT w.opportunity_id, w.owner, w.close_date, count(a.opportunity_id) AS touches
FROM won AS w
LEFT JOIN linked AS a
    ON a.opportunity_id = w.opportunity_id
   AND a.started_at < CAST(w.close_date AS TIMESTAMP) + INTERVAL 1 DAY
GROUP BY w.opportunity_id, w.owner, w.close_date
ORDER BY w.close_date, w.opportunity_id
"""
WON_DEAL_TOUCHES_SQL = WON_DEAL_TOUCHES_TEMPLATE.format(only="")
_ONLY_CHANGED_DEALS = "AND opportunity_id IN (SELECT opportunity_id FROM derived_changed_deals)"

# Minutes stay NULL for a month whose activities of that type all lack a duration, as
# sum() over the activities would be.
ACTIVITY_MONTHS_SQL = """
INSERT INTO activity_months (month, owner, activity_type, activities, minutes)
SELECT
    CAST(date_trunc('month', started_at) AS DATE) AS month,
    owner,
    activity_type,
    count(*)                                      AS activities,
    sum(duration_minutes)                         AS minutes
FROM activities
GROUP BY ALL
ORDER BY month, owner, activity_type
"""
# The same count for the (month, owner, type) groups an import changed. The time range
# first: activities are appended import by import, so it skips most of the table's blocks.
ACTIVITY_MONTHS_CHANGED_SQL = """
INSERT INTO activity_months (month, owner, activity_type, activities, minutes)
WITH span AS (
    SELECT min(month) AS first_month, max(month) + INTERVAL 1 MONTH AS after_last
    FROM derived_changed_groups
)
SELECT
    CAST(date_trunc('month', a.started_at) AS DATE) AS month,
    a.owner,
    a.activity_type,
    count(*)                                        AS activities,
    sum(a.duration_minutes)                         AS minutes
FROM activities AS a
SEMI JOIN derived_changed_groups AS g
    ON g.month = CAST(date_trunc('month', a.started_at) AS DATE)
   AND g.owner = a.owner
   AND g.activity_type = a.activity_type
WHERE a.started_at >= (SELECT first_month FROM span)
  AND a.started_at < (SELECT after_last FROM span)
GROUP BY ALL
ORDER BY month, owner, activity_type
"""

# Each derived table and the statement that counts it.
_COUNT_SQL = {"won_deal_touches": WON_DEAL_TOUCHES_SQL, "activity_months": ACTIVITY_MONTHS_SQL}
DERIVED_TABLES = tuple(_COUNT_SQL)


def source_stamp(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute(STAMP_SQL).fetchone()[0]


def _stamps(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute("SELECT name, source_stamp FROM derived_tables").fetchall()
    return dict(rows)


def derived_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the derived tables were counted from the activities and deals there are now.

    False, never an error, on a database from before they existed (opened read-only, the
    schema was not brought up to date).
    """
    try:
        stamps = _stamps(con)
    except duckdb.CatalogException:
        return False
    now = source_stamp(con)
    return all(stamps.get(name) == now for name in DERIVED_TABLES)


def refresh_derived(con: duckdb.DuckDBPyConnection, *, force: bool = False) -> bool:
    """Count the derived tables (and `stage_history_spans`) again when stale (or `force`);
    True when it did.

    Runs in the caller's transaction, so an import and its derived figures land together.
    """
    stamp = source_stamp(con)
    stamps = _stamps(con)
    stale = [n for n in DERIVED_TABLES if force or stamps.get(n) != stamp]
    for name in stale:
        _count(con, name)
        _stamp(con, name, stamp)
    spans = refresh_stage_spans(con, force=force)
    return bool(stale) or spans


# Above this share of a derived table's rows, an import counts the whole table again:
# cheaper than a filtered count by then, and it restores the table's sort order (a partial
# count appends the changed rows at the end).
PARTIAL_SHARE = 0.1


def refresh_after_import(
    con: duckdb.DuckDBPyConnection, kind: str, stamp_before: str
) -> dict[str, str]:
    """Bring the derived tables up to date after an import of `kind`, counting only what
    it changed; returns table -> "kept" | "partial" | "full".

    Why: a full count re-reads every activity (0.9 s at five million) for an import of a
    few rows, and an opportunities import does not change `activity_months` at all. Only
    exact when the tables were current before the import (`stamp_before`, the source stamp
    taken before it loaded); otherwise, or when the change is large, the whole table is
    counted. Reads the load's temp tables: `incoming` (the rows written) and, for
    activities, `replaced` (the stored rows they replaced, before the replacement).
    Runs in the import's transaction.
    """
    if kind not in DERIVED_SOURCES:  # only what a script's own SQL made stale
        refresh_derived(con)
        return {name: "kept" for name in DERIVED_TABLES}
    stamps = _stamps(con)
    done: dict[str, str] = {}
    stale = {name for name in DERIVED_TABLES if stamps.get(name) != stamp_before}
    with_replaced = kind == "activities" and _has_replaced(con)
    replaced = "UNION ALL SELECT opportunity_id FROM replaced" if with_replaced else ""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE derived_changed_deals AS SELECT DISTINCT opportunity_id "
        f"FROM (SELECT opportunity_id FROM incoming {replaced}) WHERE opportunity_id IS NOT NULL"
    )
    if "won_deal_touches" in stale or _large(con, "derived_changed_deals", "won_deal_touches"):
        _count(con, "won_deal_touches")
        done["won_deal_touches"] = "full"
    else:
        con.execute(
            "DELETE FROM won_deal_touches "
            "WHERE opportunity_id IN (SELECT opportunity_id FROM derived_changed_deals)"
        )
        con.execute(WON_DEAL_TOUCHES_TEMPLATE.format(only=_ONLY_CHANGED_DEALS))
        done["won_deal_touches"] = "partial"
    if kind == "activities":
        month = "CAST(date_trunc('month', started_at) AS DATE)"
        old = f"UNION SELECT {month}, owner, activity_type FROM replaced" if with_replaced else ""
        con.execute(
            "CREATE OR REPLACE TEMP TABLE derived_changed_groups AS "
            f"SELECT {month} AS month, owner, activity_type FROM incoming {old}"
        )
        if "activity_months" in stale or _large(con, "derived_changed_groups", "activity_months"):
            _count(con, "activity_months")
            done["activity_months"] = "full"
        else:
            con.execute(
                "DELETE FROM activity_months AS m WHERE EXISTS (SELECT 1 FROM "
                "derived_changed_groups g WHERE g.month = m.month AND g.owner = m.owner "
                "AND g.activity_type = m.activity_type)"
            )
            con.execute(ACTIVITY_MONTHS_CHANGED_SQL)
            done["activity_months"] = "partial"
    elif "activity_months" in stale:
        _count(con, "activity_months")
        done["activity_months"] = "full"
    else:
        done["activity_months"] = "kept"  # deals do not change activities
    stamp = source_stamp(con)
    for name in DERIVED_TABLES:
        _stamp(con, name, stamp)
    con.execute("DROP TABLE IF EXISTS temp.replaced")
    con.execute("DROP TABLE IF EXISTS temp.derived_changed_deals")
    con.execute("DROP TABLE IF EXISTS temp.derived_changed_groups")
    return done


def _has_replaced(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = 'replaced'"
        ).fetchone()[0]
    )


def _large(con: duckdb.DuckDBPyConnection, changed: str, table: str) -> bool:
    """Whether the change is more than PARTIAL_SHARE of the table (fixed names only)."""
    n_changed, n_table = con.execute(
        f"SELECT (SELECT count(*) FROM {changed}), (SELECT count(*) FROM {table})"
    ).fetchone()
    return n_changed > PARTIAL_SHARE * n_table


def _count(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(f"DELETE FROM {name}")  # fixed names from DERIVED_TABLES, never input
    con.execute(_COUNT_SQL[name])


def _stamp(con: duckdb.DuckDBPyConnection, name: str, stamp: str) -> None:
    con.execute("DELETE FROM derived_tables WHERE name = ?", [name])
    con.execute("INSERT INTO derived_tables (name, source_stamp) VALUES (?, ?)", [name, stamp])


# --- stage_history_spans: each imported stage change and the day the deal's next one came ---
#
# Why: the point-in-time totals with stage history (analytics/pointintime.py) need, for every
# change, the day it was entered and the day the deal's next change was entered. Working that
# out on each read is a window over every imported change (4.2 million at a million deals),
# sorted by deal: most of what a year of weekly "as it was then" figures cost. The changes
# only move when an import of stage history (or of deals with "Date entered" columns) adds
# some, or a rollback removes them, so those count it again for the deals they touched.
# Kept apart from the tables above: an opportunities import without entered dates does not
# touch it, and its stamp is of `stage_history_imported` alone (count and newest import id;
# changes are only ever added by imports and removed by rollbacks, so both move together).
SPANS_TABLE = "stage_history_spans"
SPANS_STAMP_SQL = """
SELECT concat_ws(':', 'spans', (SELECT count(*) FROM stage_history_imported),
                 coalesce((SELECT max(import_id) FROM stage_history_imported), 0))
"""
# {only}: empty, or a filter to the deals an import touched; fixed text from this module.
# Ties (two stages entered at the same instant) are ordered by stage, so a recount always
# gives the same table. In `to_day` order ('infinity' last): a read for recent days skips
# the blocks of changes superseded long before.
SPANS_TEMPLATE = """
INSERT INTO stage_history_spans (opportunity_id, stage, amount, from_day, to_day, first_change)
SELECT opportunity_id, stage, amount, CAST(entered_at AS DATE) AS from_day,
       coalesce(CAST(lead(entered_at) OVER w AS DATE), DATE 'infinity') AS to_day,
       row_number() OVER w = 1 AS first_change
FROM stage_history_imported
WHERE true {only}
WINDOW w AS (PARTITION BY opportunity_id ORDER BY entered_at, stage)
ORDER BY to_day
"""
_SPANS_TOUCHED = "AND opportunity_id IN (SELECT opportunity_id FROM spans_touched_deals)"


def spans_stamp(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute(SPANS_STAMP_SQL).fetchone()[0]


def stage_spans_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether `stage_history_spans` was counted from the stage changes there are now.

    False, never an error, on a database from before it existed (opened read-only). A
    stale table is not read: the point-in-time layer then works the spans out itself.
    """
    try:
        stamps = _stamps(con)
    except duckdb.CatalogException:
        return False
    return SPANS_TABLE in stamps and stamps[SPANS_TABLE] == spans_stamp(con)


def refresh_stage_spans(con: duckdb.DuckDBPyConnection, *, force: bool = False) -> bool:
    """Count `stage_history_spans` again, whole, when stale (or `force`); True when it did.
    Runs in the caller's transaction."""
    stamp = spans_stamp(con)
    if not force and _stamps(con).get(SPANS_TABLE) == stamp:
        return False
    con.execute("DELETE FROM stage_history_spans")
    con.execute(SPANS_TEMPLATE.format(only=""))
    _stamp(con, SPANS_TABLE, stamp)
    return True


def refresh_stage_spans_after_import(
    con: duckdb.DuckDBPyConnection, import_id: int, stamp_before: str
) -> str:
    """Bring `stage_history_spans` up to date after import `import_id`; "kept" | "partial" |
    "full".

    An import only adds changes (an event already stored is left as it was), all carrying
    its import id, so the deals it touched are those of its rows: their spans are counted
    again, the rest kept. Whole when the table was stale before the import
    (`stamp_before`) or the deals touched are more than PARTIAL_SHARE of its rows. An
    import that added no change (any other kind, a re-import of the same file) keeps it.
    """
    stamp = spans_stamp(con)
    stored = _stamps(con).get(SPANS_TABLE)
    if stamp == stamp_before and stored == stamp:
        return "kept"
    if stored != stamp_before:
        refresh_stage_spans(con, force=True)
        return "full"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE spans_touched_deals AS SELECT DISTINCT opportunity_id "
        "FROM stage_history_imported WHERE import_id = ?",
        [import_id],
    )
    try:
        if _large(con, "spans_touched_deals", SPANS_TABLE):
            refresh_stage_spans(con, force=True)
            return "full"
        con.execute(
            "DELETE FROM stage_history_spans "
            "WHERE opportunity_id IN (SELECT opportunity_id FROM spans_touched_deals)"
        )
        con.execute(SPANS_TEMPLATE.format(only=_SPANS_TOUCHED))
        _stamp(con, SPANS_TABLE, stamp)
        return "partial"
    finally:
        con.execute("DROP TABLE IF EXISTS temp.spans_touched_deals")
