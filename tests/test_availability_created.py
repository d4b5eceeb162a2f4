"""Deals without created dates: the sales cycle, velocity and opportunity -> won are "no
data" with the reason, never a bare dash (issue 13, item 2).

Why (a won-deals export tried as a new user): it carries the won date and the value, not
when each deal was opened, so the Overview showed "—" under Velocity / day, Opportunity ->
won and Sales cycle with nothing to say why. Files written by the test, imported by the
real importer; by hand, March 2025:
- the won list: W1 and W2 won, no created date anywhere -> the export has none;
- mixed: W1 and W2 won in March without a created date, D1 won in April created 1 March
  (cycle 40 days) -> March's cycle is unknown (its won deals lack the date), April's is 40.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from apptest import assert_clean, metric, open_page

from analytics import db
from analytics.ingest import import_file
from analytics.metrics.availability import (
    CREATED_COLUMNS,
    CYCLE_COLUMNS,
    NO_CREATED,
    ONLY_WON,
    no_data_reasons,
    unknown_cycle_text,
)
from analytics.metrics.kpis import kpi_table
from analytics.scope import Period, Scope

WON_LIST = "Lead ID,Seller,Won date,Deal value\nW1,Ana,2025-03-03,100\nW2,Tom,2025-03-20,200\n"
MIXED = (
    "opportunity_id,owner,stage,amount,created_date,close_date\n"
    "W1,Ana,Closed Won,100,,2025-03-03\n"
    "W2,Tom,Closed Won,200,,2025-03-20\n"
    "L1,Tom,Closed Lost,50,,2025-03-21\n"
    "D1,Ana,Closed Won,300,2025-03-01,2025-04-10\n"
)
MARCH = Scope(Period.parse("2025-03"))
APRIL = Scope(Period.parse("2025-04"))


def load(con: duckdb.DuckDBPyConnection, tmp_path: Path, text: str) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(text, encoding="utf-8")
    result = import_file(con, path, data_dir=tmp_path / "store", backup=False)
    assert result.ok, result.message


def test_won_list_without_created_dates(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    load(con, tmp_path, WON_LIST)
    reasons = no_data_reasons(con, MARCH)
    for column in CYCLE_COLUMNS:
        assert reasons[column] == NO_CREATED, column
    # opportunity -> won is also unknown for the stronger reason that only wins are known
    assert reasons["opp_to_won_rate"] == ONLY_WON
    row = kpi_table(con, MARCH, "company").iloc[0]
    assert row["won_deals"] == 2
    for column in CREATED_COLUMNS:
        assert row[column] != row[column], column  # NaN, no data


@pytest.mark.parametrize(
    ("scope", "reason", "cycle"),
    [(MARCH, unknown_cycle_text(2), None), (APRIL, None, 40.0)],
    ids=["march-undated-wins", "april-dated-win"],
)
def test_cycle_is_judged_per_period(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    scope: Scope,
    reason: str | None,
    cycle: float | None,
) -> None:
    load(con, tmp_path, MIXED)
    reasons = no_data_reasons(con, scope)
    row = kpi_table(con, scope, "company").iloc[0]
    if reason is None:
        assert not set(CYCLE_COLUMNS) & set(reasons)
        assert row["median_cycle_days"] == pytest.approx(cycle)
    else:
        assert (
            reason == "none of the 2 won deals has a created date, so the sales cycle is not known"
        )
        assert {reasons[c] for c in CYCLE_COLUMNS} == {reason}
        assert row["median_cycle_days"] != row["median_cycle_days"]
    assert "opp_to_won_rate" not in reasons  # some deals carry a created date


def test_one_undated_win_reads_singular() -> None:
    assert unknown_cycle_text(1) == (
        "the won deal has no created date, so the sales cycle is not known"
    )


@pytest.fixture
def won_list_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "won.duckdb"
    con = db.connect(path)
    try:
        load(con, tmp_path, WON_LIST)
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    return path


@pytest.mark.parametrize(
    ("label", "reason"),
    [("Sales cycle (median)", NO_CREATED), ("Velocity / day", NO_CREATED)],
)
def test_overview_names_the_reason(won_list_db: Path, label: str, reason: str) -> None:
    at = open_page(query={"kind": "Month", "period": "2025-03"})
    assert_clean(at)
    assert metric(at, label) == "no data"
    assert reason in (next(m.help for m in at.metric if m.label == label) or "")
