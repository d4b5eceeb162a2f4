"""Owner names that differ only in case or spacing: one person the data splits in several.

Why: CRMs do not normalise what was typed (a Salesforce report shows `Diego cione` beside
`Diego Cione`; shared/export-headers.md), and every figure groups by the name as written:
a new-user test's `Ann Lee`, `ANN LEE` and `Ann  Lee` became three reps, one of them in
no team and without a commission level. Merging them silently could join two people, so
the import names them instead, for ops to fix at the source.
"""

from __future__ import annotations

import duckdb

# Names as one key: trimmed, inner runs of blanks as one space, case folded.
_VARIANTS_SQL = """
WITH names AS (
    SELECT DISTINCT owner AS name FROM opportunities WHERE owner IS NOT NULL
    UNION
    SELECT DISTINCT rep FROM reps WHERE rep IS NOT NULL
)
SELECT list(name ORDER BY name) AS spellings
FROM names
GROUP BY lower(regexp_replace(trim(name), '\\s+', ' ', 'g'))
HAVING count(*) > 1
ORDER BY min(lower(name))
"""


def spelling_variants(con: duckdb.DuckDBPyConnection) -> list[list[str]]:
    """Groups of owner names (deal owners and the reps roster) equal but for case or
    blanks, each sorted; empty when every person has one spelling."""
    return [list(row[0]) for row in con.execute(_VARIANTS_SQL).fetchall()]


def variants_note(groups: list[list[str]], shown: int = 3) -> str:
    """One sentence naming the groups (the first `shown`), spellings quoted literally."""
    named = "; ".join(" / ".join(repr(n) for n in g) for g in groups[:shown])
    more = len(groups) - shown
    extra = f" and {more} more" if more > 0 else ""
    return (
        f"owner names that differ only in case or spacing count as different reps: "
        f"{named}{extra}; give each person one spelling in the CRM and the reps roster"
    )
