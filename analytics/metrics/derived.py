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

Imports and rollbacks of activities or opportunities always recount them. Why a stamp
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

# The import kinds (and tables) they are counted from: an import or rollback of one of
# these always recounts them.
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
WON_DEAL_TOUCHES_SQL = """
INSERT INTO won_deal_touches (opportunity_id, owner, close_date, touches)
WITH won AS (
    SELECT opportunity_id, owner, close_date
    FROM opportunities
    WHERE is_won AND close_date IS NOT NULL
),
linked AS (
    SELECT opportunity_id, started_at
    FROM activities
    WHERE opportunity_id IS NOT NULL
)
SELECT w.opportunity_id, w.owner, w.close_date, count(a.opportunity_id) AS touches
FROM won AS w
LEFT JOIN linked AS a
    ON a.opportunity_id = w.opportunity_id
   AND a.started_at < CAST(w.close_date AS TIMESTAMP) + INTERVAL 1 DAY
GROUP BY w.opportunity_id, w.owner, w.close_date
ORDER BY w.close_date, w.opportunity_id
"""

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
    """Count the derived tables again when stale (or `force`); True when it did.

    Runs in the caller's transaction, so an import and its derived figures land together.
    """
    stamp = source_stamp(con)
    stamps = _stamps(con)
    stale = [n for n in DERIVED_TABLES if force or stamps.get(n) != stamp]
    for name in stale:
        con.execute(f"DELETE FROM {name}")  # fixed names from DERIVED_TABLES, never input
        con.execute(_COUNT_SQL[name])
        con.execute("DELETE FROM derived_tables WHERE name = ?", [name])
        con.execute("INSERT INTO derived_tables (name, source_stamp) VALUES (?, ?)", [name, stamp])
    return bool(stale)
