"""KPI tables for one reader's filters, cut from figures computed once for every group.

Why (issue 15, "many managers at once"): on review morning every manager opens the same
pages for the same period, each with their own team. `kpi_tables` per scope ran the two
KPI queries once per team; the figures of a group do not depend on the filters (a rep's
row is the rep's own deals, leads and activities; the company row of a scope filtered to
one team covers exactly the deals of that team's row by team), so pages compute them once
for the whole company per data version, periods and grouping (`kpi_parts`, cached in
pages/) and cut each reader's rows out here. What does depend on the filters, the no-data
verdicts (a scope without quotas, without lost amounts ...), is then applied to the cut
rows for the reader's own scope by the very function `kpi_tables` uses
(`kpis.with_no_data`), so the result equals `kpi_tables(con, scope, periods, by)`
(tests/test_kpi_shared.py compares them).

Access: the rows are cut with the Scope's filters, which `Scope` clamps to the reader's
access (a manager's Scope always has their team, a rep's their own name), so a reader only
ever gets rows they may see; the company-wide figures never leave the cache otherwise.

Pure pandas and DuckDB: no streamlit (pages do the caching).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

import duckdb
import pandas as pd

from analytics.access import EVERYTHING
from analytics.metrics.kpis import kpi_tables, merge_parts, with_no_data
from analytics.scope import Period, Scope

# rep -> (team, region) from the roster; owners missing from it have neither
Roster = Mapping[str, tuple[str | None, str | None]]
# (company-wide scope, periods, grouping) -> `kpis.kpi_parts` of that scope: the pages' cache
PartsFunction = Callable[[Scope, tuple[Period, ...], str], tuple[pd.DataFrame, pd.DataFrame]]


def roster(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str | None, str | None]]:
    """Each roster rep's team and region: what `OWNER_FILTER_SQL` matches a rep's rows by."""
    rows = con.execute("SELECT rep, team, region FROM reps WHERE rep IS NOT NULL").fetchall()
    return {rep: (team, region) for rep, team, region in rows}


def company_scope(scope: Scope, periods: Sequence[Period]) -> Scope:
    """The scope the shared figures are computed for: no filters, everything visible, and
    the first period (the figures read the `periods` given, never the scope's own), so
    every reader of the same periods shares one cache entry."""
    return replace(scope, period=periods[0], team=None, region=None, rep=None, access=EVERYTHING)


def shared_grouping(scope: Scope, by: str) -> str | None:
    """Which grouping of the company-wide figures holds `scope`'s rows by `by`; None
    when they must be computed for the scope itself.

    By rep, always (whatever the filters, they only choose which reps are listed). By
    company, when the only filter is a team: that team's row by team. A scope without
    filters is the company-wide table itself; other combinations (a region, a rep, or a
    team and a region at once) are rare enough to be computed as asked.
    """
    if by == "rep":
        return "rep"
    if by == "company" and scope.team is not None and scope.region is None and scope.rep is None:
        return "team"
    return None


def _visible(rep: object, scope: Scope, people: Roster) -> bool:
    """Whether `OWNER_FILTER_SQL` with the scope's filters keeps a row of owner `rep`."""
    if rep is None or pd.isna(rep):  # deals without an owner: only when nothing is filtered
        return scope.team is None and scope.region is None and scope.rep is None
    team, region = people.get(str(rep), (None, None))
    return (
        (scope.team is None or team == scope.team)
        and (scope.region is None or region == scope.region)
        and (scope.rep is None or rep == scope.rep)
    )


def scope_rows(
    part: pd.DataFrame, scope: Scope, by: str, grouping: str, people: Roster
) -> pd.DataFrame:
    """`scope`'s rows by `by` (as `kpi_parts(con, scope, periods, by)` gives them) cut from
    one of the company-wide parts by `grouping`."""
    if grouping == "rep" and by == "rep":
        # a boolean Series, not a list: `part[[]]` (no row at all) would pick no *columns*
        keep = pd.Series([_visible(r, scope, people) for r in part["rep"]], index=part.index)
        return part[keep.astype(bool)].reset_index(drop=True)
    if grouping == "team" and by == "company":
        rows = part[part["team"] == scope.team].rename(columns={"team": "company"})
        rows["company"] = "company"  # performance.group_expr's key of the one company row
        return rows.reset_index(drop=True)
    raise ValueError(f"no {by!r} rows in figures by {grouping!r}")


def shared_kpi_tables(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    periods: Sequence[Period],
    by: str,
    parts: PartsFunction,
    people: Roster,
) -> pd.DataFrame:
    """`kpi_tables(con, scope, periods, by)`, cut from the company-wide `parts` when they
    hold the scope's rows (`shared_grouping`), else computed for the scope itself.

    Both parts are cut before they are merged (`kpis.merge_parts`, as `kpi_tables` does),
    so a column's type is the scope's own (a company-wide row that only one part has would
    otherwise turn another team's counts into floats). A cut with no row at all (a team
    nobody on the roster is in) is left to `kpi_tables`, for an empty table's types.
    """
    periods = tuple(periods)
    grouping = shared_grouping(scope, by)
    if grouping is not None:
        perf, eff = parts(company_scope(scope, periods), periods, grouping)
        perf = scope_rows(perf, scope, by, grouping, people)
        if not perf.empty:
            eff = scope_rows(eff, scope, by, grouping, people)
            return with_no_data(con, scope, periods, by, merge_parts(perf, eff, periods, by))
    return kpi_tables(con, scope, periods, by)


def shared_kpi_table(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    by: str,
    parts: PartsFunction,
    people: Roster,
) -> pd.DataFrame:
    """`kpi_table(con, scope, by)` through `shared_kpi_tables` (the same shape: no
    `period` column, the scope's period's verdicts in `attrs`)."""
    table = shared_kpi_tables(con, scope, [scope.period], by, parts, people)
    out = table.drop(columns="period").reset_index(drop=True)
    label = scope.period.label
    out.attrs["no_data"] = table.attrs.get("no_data", {}).get(label, {})
    out.attrs["row_no_data"] = table.attrs.get("row_no_data", {}).get(label, {})
    return out
