"""Touches per closed deal, counted once at import instead of on every page view.

Why: "touches per won deal" joins every deal-linked activity (millions of rows) to the
deals closed in the periods on view; on a million deals that join was half of what the
Overview and Reps pages spent. The count only changes when activities or opportunities
change, which only imports (and rollbacks, restores) do, so the import counts it in its
own transaction and the pages read ``deal_touches``.

Why a stamp: scripts may write the canonical tables with their own SQL. ``deal_touches``
remembers the row counts and newest import ids of both tables it was counted from; when
they differ, the table is stale and `touches_current` says so, and the efficiency query
counts the touches live (same definition, slower) instead of showing stale figures. A
writable open of the database (``db.connect``) counts them again.
"""

from __future__ import annotations

import duckdb

NAME = "deal_touches"

# What the derived table was counted from: any import or rollback of activities or
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
# onboarding calls did not win it). Closed deals only; a deal with no touch has no row.
COUNT_SQL = """
INSERT INTO deal_touches (opportunity_id, touches)
WITH closed AS (
    SELECT opportunity_id, close_date
    FROM opportunities
    WHERE is_closed AND close_date IS NOT NULL
),
linked AS (
    SELECT opportunity_id, started_at
    FROM activities
    WHERE opportunity_id IS NOT NULL
)
SELECT c.opportunity_id, count(*) AS touches
FROM closed AS c
JOIN linked AS a
    ON a.opportunity_id = c.opportunity_id
   AND a.started_at < CAST(c.close_date AS TIMESTAMP) + INTERVAL 1 DAY
GROUP BY c.opportunity_id
"""


def source_stamp(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute(STAMP_SQL).fetchone()[0]


def touches_current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``deal_touches`` was counted from the activities and deals there are now.

    False, never an error, on a database from before the table existed (opened read-only,
    the schema was not brought up to date).
    """
    try:
        row = con.execute(
            "SELECT source_stamp FROM derived_tables WHERE name = ?", [NAME]
        ).fetchone()
    except duckdb.CatalogException:
        return False
    return row is not None and row[0] == source_stamp(con)


def refresh_touches(con: duckdb.DuckDBPyConnection, *, force: bool = False) -> bool:
    """Count the touches again when stale (or `force`); True when it did.

    Runs in the caller's transaction, so an import and its touches land together.
    """
    stamp = source_stamp(con)
    if not force:
        row = con.execute(
            "SELECT source_stamp FROM derived_tables WHERE name = ?", [NAME]
        ).fetchone()
        if row is not None and row[0] == stamp:
            return False
    con.execute("DELETE FROM deal_touches")
    con.execute(COUNT_SQL)
    con.execute("DELETE FROM derived_tables WHERE name = ?", [NAME])
    con.execute("INSERT INTO derived_tables (name, source_stamp) VALUES (?, ?)", [NAME, stamp])
    return True
