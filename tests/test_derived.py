"""Derived tables kept at import (analytics/metrics/derived.py), against the kpi fixture.

The linked activities of kpi_activities.csv (tests/test_efficiency.py lists them all):

    K-01 (won, closed 2024-04-15): A10 (March), A01-A05 -> 6; A06 (16 April) came after
    K-02 (won, closed 2024-05-20): A07 (10 May)           -> 1
    K-07 (won, closed 2024-06-05): B03, B04 (close day)   -> 2; B05 (10 June) after

No other activity names a deal, so every other won deal has 0 touches.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_efficiency import AS_OF, FIXTURES, KPI_FILES, rows

from analytics import db
from analytics.backup import rollback_import
from analytics.ingest import import_file
from analytics.metrics.derived import derived_current, refresh_derived
from analytics.metrics.efficiency import efficiency_params, efficiency_sql, efficiency_tables
from analytics.scope import Period, Scope

HAND_COUNTED = {"K-01": 6, "K-02": 1, "K-07": 2}


def stored(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The won deals' touches, those with none left out (as in HAND_COUNTED)."""
    return dict(
        con.execute(
            "SELECT opportunity_id, touches FROM won_deal_touches WHERE touches > 0"
        ).fetchall()
    )


def add_activity(con: duckdb.DuckDBPyConnection, activity_id: str, deal: str, day: str) -> None:
    """An activity written with a script's own SQL, not through the importer."""
    con.execute(
        "INSERT INTO activities (activity_id, owner, activity_type, started_at, "
        "duration_minutes, opportunity_id, import_id) VALUES (?, 'Bob Stone', 'call', ?, 10, ?, 0)",
        [activity_id, day, deal],
    )


def load_kpi_files(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """Every kpi_*.csv through the real importer (as tests/test_efficiency.py loads them)."""
    for name in KPI_FILES:
        result = import_file(con, FIXTURES / f"kpi_{name}.csv", as_of=AS_OF, data_dir=tmp_path)
        assert result.ok, result.message
    return con


@pytest.fixture(scope="module")
def kpi_db_read_only(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The same database as `kpi_db`, built once for the module's read-only comparisons
    and opened read-only, so none of the tests sharing it can change it for the others."""
    folder = tmp_path_factory.mktemp("kpi_read_only")
    path = folder / "sales.duckdb"
    con = db.connect(path)
    try:
        load_kpi_files(con, folder)
    finally:
        con.close()
    read_only = duckdb.connect(str(path), read_only=True)
    yield read_only
    read_only.close()


@pytest.fixture
def kpi_db(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """A private database holding every kpi_*.csv: the test may change it."""
    return load_kpi_files(con, tmp_path)


def database_file(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute(
        "SELECT file FROM pragma_database_list WHERE name = current_database()"
    ).fetchone()[0]


def test_the_import_counts_the_touches_of_won_deals(kpi_db: duckdb.DuckDBPyConnection) -> None:
    assert stored(kpi_db) == HAND_COUNTED
    assert derived_current(kpi_db)
    assert refresh_derived(kpi_db) is False  # nothing changed since: nothing recounted


def test_every_won_deal_has_a_row(kpi_db: duckdb.DuckDBPyConnection) -> None:
    """K-01, K-02, K-07, K-09, K-10, K-13 to K-17 are won: 10 rows, 7 of them with 0."""
    rows_ = kpi_db.execute(
        "SELECT opportunity_id, owner, close_date, touches FROM won_deal_touches"
    ).fetchall()
    assert len(rows_) == 10
    assert ("K-07", "Bob Stone", date(2024, 6, 5), 2) in rows_
    assert ("K-09", "Cara Diaz", date(2024, 6, 30), 0) in rows_
    dates = [r[2] for r in rows_]
    assert dates == sorted(dates)  # close-date order: a period's deals are adjacent


# (owner, month, type) -> (activities, minutes), from the table in tests/test_efficiency.py
ACTIVITY_MONTHS = [
    ("Ann Lee", date(2024, 4, 1), "call", 3, 65.0),  # A01 30 + A05 20 + A06 15
    ("Ann Lee", date(2024, 3, 1), "meeting", 1, 60.0),  # A10
    ("Ann Lee", date(2024, 6, 1), "call", 1, None),  # A12 has no duration: NULL, not 0
    ("Bob Stone", date(2024, 6, 1), "call", 1, 10.0),  # B04
    ("Finn New", date(2024, 7, 1), "call", 1, 10.0),  # F03, first minute of July
]


@pytest.mark.parametrize(("owner", "month", "kind", "count", "minutes"), ACTIVITY_MONTHS)
def test_activity_months_by_hand(
    kpi_db: duckdb.DuckDBPyConnection,
    owner: str,
    month: date,
    kind: str,
    count: int,
    minutes: float | None,
) -> None:
    got = kpi_db.execute(
        "SELECT activities, minutes FROM activity_months "
        "WHERE owner = ? AND month = ? AND activity_type = ?",
        [owner, month, kind],
    ).fetchall()
    assert got == [(count, minutes)]


def test_activity_months_hold_every_activity(kpi_db: duckdb.DuckDBPyConnection) -> None:
    total = kpi_db.execute("SELECT sum(activities) FROM activity_months").fetchone()[0]
    assert total == kpi_db.execute("SELECT count(*) FROM activities").fetchone()[0] == 21


def _fiscal(label: str) -> Period:
    return Period.parse(label, fiscal_start_month=4)


PERIOD_SETS = {
    "quarter": [Period.parse("2024-Q2")],
    "trend of quarters": [Period.parse(x) for x in ("2024-Q1", "2024-Q2", "2024-Q3")],
    "months with a gap": [Period.parse(x) for x in ("2024-03", "2024-04", "2024-06", "2024-07")],
    "year": [Period.parse("2024")],
    "fiscal quarters": [_fiscal("FY2025-Q1"), _fiscal("FY2025-Q2")],
    "fiscal year": [_fiscal("FY2025")],
}
FILTERS = [{}, {"team": "East"}, {"region": "AMER"}, {"rep": "Bob Stone"}, {"team": "Nobody"}]


@pytest.mark.parametrize("periods", PERIOD_SETS.values(), ids=PERIOD_SETS.keys())
@pytest.mark.parametrize("by", ["rep", "team", "region", "company"])
@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f.values()) or "all")
def test_counted_and_live_give_the_same_figures(
    kpi_db_read_only: duckdb.DuckDBPyConnection,
    by: str,
    periods: list[Period],
    filters: dict[str, str],
) -> None:
    """The two sources of the efficiency query agree on every column, group and period."""
    kpi_db = kpi_db_read_only
    params = efficiency_params(kpi_db, Scope(periods[-1], **filters), periods)
    counted = kpi_db.execute(efficiency_sql(by, counted=True), params).df()
    live = kpi_db.execute(efficiency_sql(by, counted=False), params).df()
    pd.testing.assert_frame_equal(counted, live)


def test_the_comparison_sees_touches_and_activities(
    kpi_db_read_only: duckdb.DuckDBPyConnection,
) -> None:
    """Guard for the test above (on its very database): its figures are not all empty."""
    kpi_db = kpi_db_read_only
    periods = PERIOD_SETS["trend of quarters"]
    counted = kpi_db.execute(
        efficiency_sql("rep", counted=True), efficiency_params(kpi_db, Scope(periods[-1]), periods)
    ).df()
    assert counted["touches_per_deal"].notna().sum() >= 3
    assert counted["selling_time_share"].notna().sum() >= 3


def test_a_direct_write_is_not_hidden_by_stale_counts(kpi_db: duckdb.DuckDBPyConnection) -> None:
    """A script's INSERT makes the counts stale: the page counts live, then a refresh catches up.

    Bob's K-07 gets a third touch (1 June, before its 5 June close): 3 per deal.
    """
    add_activity(kpi_db, "X01", "K-07", "2024-06-01 09:00:00")
    assert not derived_current(kpi_db)
    assert rows(kpi_db, "2024-Q2", "rep")["Bob Stone"]["touches_per_deal"] == 3.0
    assert stored(kpi_db)["K-07"] == 2  # the stale table is left alone by a read

    assert refresh_derived(kpi_db) is True
    assert derived_current(kpi_db)
    assert stored(kpi_db) == HAND_COUNTED | {"K-07": 3}
    assert rows(kpi_db, "2024-Q2", "rep")["Bob Stone"]["touches_per_deal"] == 3.0


def test_a_writable_open_counts_stale_touches_again(kpi_db: duckdb.DuckDBPyConnection) -> None:
    path = database_file(kpi_db)
    add_activity(kpi_db, "X01", "K-02", "2024-05-19 09:00:00")
    kpi_db.close()
    again = db.connect(path)
    try:
        assert derived_current(again)
        assert stored(again) == HAND_COUNTED | {"K-02": 2}
    finally:
        again.close()


def test_an_activities_import_and_its_rollback_keep_the_counts(
    kpi_db: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Two more touches on K-02 (one before its close, one after): +1; the rollback: back."""
    extra = tmp_path / "more_activities.csv"
    extra.write_text(
        "activity_id,owner,activity_type,started_at,duration_minutes,opportunity_id\n"
        "Z01,Ann Lee,call,2024-05-15 09:00:00,15,K-02\n"
        "Z02,Ann Lee,call,2024-05-21 09:00:00,15,K-02\n",
        encoding="utf-8",
    )
    result = import_file(kpi_db, extra, kind="activities", as_of=AS_OF, data_dir=tmp_path)
    assert result.ok, result.message
    assert stored(kpi_db) == HAND_COUNTED | {"K-02": 2}
    assert derived_current(kpi_db)

    rollback_import(kpi_db, result.import_id)
    assert stored(kpi_db) == HAND_COUNTED
    assert derived_current(kpi_db)


def test_a_later_export_moving_a_close_date_recounts(
    kpi_db: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """K-01 now closed on 20 April: A06 (16 April) came before the close -> 7 touches."""
    lines = (FIXTURES / "kpi_opps.csv").read_text(encoding="utf-8").splitlines()
    moved = [line.replace("2024-01-10,2024-04-15", "2024-01-10,2024-04-20") for line in lines]
    assert moved != lines
    later = tmp_path / "kpi_opps_later.csv"
    later.write_text("\n".join(moved) + "\n", encoding="utf-8")
    result = import_file(
        kpi_db, later, kind="opportunities", as_of=date(2024, 7, 20), data_dir=tmp_path
    )
    assert result.ok, result.message
    assert stored(kpi_db) == HAND_COUNTED | {"K-01": 7}
    # Ann's Q2 wins: K-01 7 and K-02 1 -> 4 per deal.
    assert rows(kpi_db, "2024-Q2", "rep")["Ann Lee"]["touches_per_deal"] == 4.0


def test_a_database_from_before_the_table_is_read_live(
    kpi_db: duckdb.DuckDBPyConnection,
) -> None:
    """An older file opened read-only (no schema update) has no derived tables: live counts."""
    path = database_file(kpi_db)
    kpi_db.execute("DROP TABLE won_deal_touches")
    kpi_db.execute("DROP TABLE activity_months")
    kpi_db.execute("DROP TABLE derived_tables")
    kpi_db.close()
    old = db.connect(path, read_only=True)
    try:
        assert not derived_current(old)
        ann = rows(old, "2024-Q2", "rep")["Ann Lee"]
        assert ann["touches_per_deal"] == 3.5
        assert ann["won_5plus_touches_share"] == 0.5
    finally:
        old.close()


OPPS_HEADER = "opportunity_id,owner,stage,amount,currency,created_date,close_date\n"


def test_rolling_back_an_older_update_only_import_recounts(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Undoing import 3 (X won) while import 4 (Y) stays changes no count nor newest import
    id; X is open again, so it must leave won_deal_touches (its 2 touches no longer count).
    """

    def load(name: str, text: str, kind: str, as_of: date) -> int:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = import_file(con, path, kind=kind, as_of=as_of, data_dir=tmp_path, backup=False)
        assert result.ok, result.message
        return result.import_id

    load("o1.csv", OPPS_HEADER + "X,Ann,Discovery,100,USD,2024-01-01,2024-05-10\n"
         "Y,Ann,Discovery,100,USD,2024-01-01,2024-06-10\n",
         "opportunities", date(2024, 4, 1))  # fmt: skip
    load("a.csv", "activity_id,owner,activity_type,started_at,duration_minutes,opportunity_id\n"
         "A1,Ann,call,2024-05-01 09:00:00,10,X\nA2,Ann,call,2024-05-02 09:00:00,10,X\n",
         "activities", date(2024, 7, 1))  # fmt: skip
    won = load("o2.csv", OPPS_HEADER + "X,Ann,Closed Won,100,USD,2024-01-01,2024-05-10\n",
               "opportunities", date(2024, 5, 15))  # fmt: skip
    load("o3.csv", OPPS_HEADER + "Y,Ann,Demo,100,USD,2024-01-01,2024-06-10\n",
         "opportunities", date(2024, 5, 20))  # fmt: skip
    assert stored(con) == {"X": 2}

    rollback_import(con, won)
    assert con.execute(
        "SELECT is_won FROM opportunities WHERE opportunity_id = 'X'"
    ).fetchone() == (False,)
    assert con.execute("SELECT count(*) FROM won_deal_touches").fetchone() == (0,)
    periods = [Period.parse("2024-Q2")]
    params = efficiency_params(con, Scope(periods[0]), periods)
    pd.testing.assert_frame_equal(
        con.execute(efficiency_sql("rep", counted=True), params).df(),
        con.execute(efficiency_sql("rep", counted=False), params).df(),
    )


def test_an_update_the_stamp_cannot_see_is_fixed_by_recount(
    kpi_db: duckdb.DuckDBPyConnection,
) -> None:
    """Moving A07 from K-02 to K-07 changes no count: `python -m analytics recount` helps."""
    from analytics.cli import main

    path = database_file(kpi_db)
    kpi_db.execute("UPDATE activities SET opportunity_id = 'K-07' WHERE activity_id = 'A07'")
    assert derived_current(kpi_db)  # documented: the stamp cannot see this
    kpi_db.close()
    assert main(["recount", "--db", path]) == 0
    again = db.connect(path)
    try:
        assert stored(again) == {"K-01": 6, "K-07": 3}  # A07 (10 May) is before K-07's close
    finally:
        again.close()


def test_a_period_that_is_not_whole_months_is_counted_live(
    kpi_db: duckdb.DuckDBPyConnection,
) -> None:
    """A hand-made period of 15 April - 14 May holds 3 of Ann's activities: A06 (16 Apr),
    A07 (10 May), A08 (11 May). Rounded to its months it would be 9 (A01-A08, A11).
    """
    period = Period("month", date(2024, 4, 15), date(2024, 5, 14), "mid-month")
    table = efficiency_tables(kpi_db, Scope(period), [period], "rep")
    assert table.set_index("rep").loc["Ann Lee", "activities"] == 3
