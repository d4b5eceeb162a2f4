"""KPI tables cut from company-wide figures equal the tables computed per scope.

Pages compute the KPI figures once for every rep (and every team) of the company and cut
each reader's rows out (analytics/metrics/shared.py, issue 15 "many managers at once").
That is only allowed if every cut gives exactly what `kpi_tables` gives for the scope:
the same rows, the same figures (medians and ratios of a team are the team's own, not a
sum of rep rows), the same no-data verdicts. Checked on the demo database (eight teams,
regions, quotas) for rep rows, team rows and the company row, by month and by quarter,
and for every role.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics import db
from analytics.access import Access
from analytics.metrics.kpis import kpi_parts, kpi_table, kpi_tables
from analytics.metrics.shared import (
    company_scope,
    roster,
    shared_grouping,
    shared_kpi_table,
    shared_kpi_tables,
)
from analytics.scope import Period, Scope, data_as_of


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, copy_demo: Callable[[Path], Path]):
    path = copy_demo(tmp_path_factory.mktemp("shared"))
    con = db.connect(path)
    yield con
    con.close()


class Figures:
    """`kpi_parts` without a cache, counting what it was asked for."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.asked: list[tuple[Scope, tuple[Period, ...], str]] = []

    def __call__(
        self, scope: Scope, periods: tuple[Period, ...], by: str
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        self.asked.append((scope, periods, by))
        return kpi_parts(self.con, scope, periods, by)


def trend(con: duckdb.DuckDBPyConnection, kind: str) -> list[Period]:
    """The Overview's periods: the last whole one and the five before, and last year's."""
    last = Period.containing(data_as_of(con), kind).previous()  # type: ignore[arg-type]
    wanted = [*(last.shifted(-k) for k in range(5, -1, -1)), last.same_last_year()]
    return list(dict.fromkeys(wanted))  # a quarter's year ago is among its six


def same(shared: pd.DataFrame, direct: pd.DataFrame) -> None:
    """Equal rows, columns, types and verdicts; counts, names and flags exactly, amounts up
    to the last bits of a float sum taken in another order (DuckDB adds a team's deals in
    a different order when the whole company is read: 1e-12 apart, never a cent)."""
    pd.testing.assert_frame_equal(shared, direct, check_exact=False, rtol=1e-9, atol=1e-6)
    for column in direct.columns:
        if not pd.api.types.is_float_dtype(direct[column]):
            assert shared[column].equals(direct[column]), column
    assert shared.attrs.get("no_data") == direct.attrs.get("no_data")
    assert shared.attrs.get("row_no_data") == direct.attrs.get("row_no_data")


def teams(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute("SELECT DISTINCT team FROM reps WHERE team IS NOT NULL ORDER BY 1")
    return [r[0] for r in rows.fetchall()]


@pytest.mark.parametrize("kind", ["month", "quarter"])
def test_rep_and_company_rows_of_every_team_equal_the_direct_tables(
    demo: duckdb.DuckDBPyConnection, kind: str
) -> None:
    periods = trend(demo, kind)
    people = roster(demo)
    figures = Figures(demo)
    names = teams(demo)
    assert len(names) >= 2
    for team in names:
        scope = Scope(periods[-2], team=team)
        for by in ("rep", "company"):
            shared = shared_kpi_tables(demo, scope, periods, by, figures, people)
            same(shared, kpi_tables(demo, scope, periods, by))
        reps = kpi_table(demo, scope, "rep")
        assert set(reps["rep"].dropna()) <= {r for r, (t, _) in people.items() if t == team}
    # every team was cut from two company-wide tables (by rep, by team), not computed alone
    assert {by for _, _, by in figures.asked} == {"rep", "team"}
    assert {s for s, _, _ in figures.asked} == {company_scope(Scope(periods[-2]), periods)}


def test_company_row_is_the_team_s_own_not_a_sum_of_rep_rows(
    demo: duckdb.DuckDBPyConnection,
) -> None:
    """The team's median cycle (a company row's figure) is not any mix of its reps'."""
    periods = trend(demo, "quarter")
    scope = Scope(periods[-2], team=teams(demo)[0])
    row = shared_kpi_tables(demo, scope, periods, "company", Figures(demo), roster(demo))
    reps = kpi_tables(demo, scope, periods, "rep")
    assert list(row["company"].unique()) == ["company"]
    mine = row[row["period"] == periods[-2].label].iloc[0]
    rep_rows = reps[reps["period"] == periods[-2].label]
    assert mine["won_deals"] == rep_rows["won_deals"].sum()
    assert mine["median_cycle_days"] == pytest.approx(
        kpi_table(demo, scope, "company").iloc[0]["median_cycle_days"]
    )


@pytest.mark.parametrize(
    "filters",
    [{}, {"region": "EMEA"}, {"rep": None}, {"team": None, "region": "EMEA"}],
    ids=["company", "region", "rep", "team and region"],
)
def test_other_filters_equal_the_direct_tables(
    demo: duckdb.DuckDBPyConnection, filters: dict[str, str | None]
) -> None:
    periods = trend(demo, "month")
    people = roster(demo)
    filters = dict(filters)
    if "rep" in filters:
        filters["rep"] = sorted(people)[0]
    if "team" in filters:
        filters["team"] = teams(demo)[0]
    regions = {region for _, region in people.values() if region}
    if filters.get("region") and filters["region"] not in regions:
        filters["region"] = sorted(regions)[0]
    scope = Scope(periods[-1], **filters)  # type: ignore[arg-type]
    for by in ("rep", "company"):
        shared = shared_kpi_tables(demo, scope, periods, by, Figures(demo), people)
        same(shared, kpi_tables(demo, scope, periods, by))
    single = shared_kpi_table(demo, scope, "rep", Figures(demo), people)
    same(single, kpi_table(demo, scope, "rep"))


def test_a_manager_gets_their_own_team_s_rows_only(demo: duckdb.DuckDBPyConnection) -> None:
    periods = trend(demo, "month")
    people = roster(demo)
    east, west = teams(demo)[:2]
    manager = Scope(periods[-1], access=Access.manager("m@example.com", east))
    shared = shared_kpi_tables(demo, manager, periods, "rep", Figures(demo), people)
    same(shared, kpi_tables(demo, Scope(periods[-1], team=east), periods, "rep"))
    assert {people[r][0] for r in shared["rep"].dropna()} == {east}
    everyone = kpi_tables(demo, Scope(periods[-1]), periods, "rep")
    assert {people.get(r, (None, None))[0] for r in everyone["rep"].dropna()} >= {east, west}


@pytest.mark.parametrize(
    ("filters", "by", "grouping"),
    [
        ({}, "rep", "rep"),
        ({"team": "East"}, "rep", "rep"),
        ({"team": "East"}, "company", "team"),
        ({}, "company", None),
        ({"region": "EMEA"}, "company", None),
        ({"team": "East", "region": "EMEA"}, "company", None),
        ({"team": "East"}, "team", None),
    ],
)
def test_which_scopes_are_cut(filters: dict[str, str], by: str, grouping: str | None) -> None:
    assert shared_grouping(Scope(Period.parse("2024-05"), **filters), by) == grouping


@pytest.mark.parametrize("kind", ["month", "quarter"])
def test_periods_without_activities_or_deals(demo: duckdb.DuckDBPyConnection, kind: str) -> None:
    """A period long before the data: no activity and no deal, only the roster's rows.
    (The efficiency part is then empty; cutting it must keep its columns: the Reps page
    failed while an import landed in the load benchmark.)"""
    first = Period.parse("2001-01" if kind == "month" else "2001-Q1")
    periods = [first, first.shifted(1)]
    people = roster(demo)
    for filters in ({}, {"team": teams(demo)[0]}):
        scope = Scope(first, **filters)  # type: ignore[arg-type]
        for by in ("rep", "company"):
            shared = shared_kpi_tables(demo, scope, periods, by, Figures(demo), people)
            same(shared, kpi_tables(demo, scope, periods, by))
