"""A won-deal list is no pipeline snapshot: importing one never empties a past period's
open pipeline (issue 14 / issue 12, found by a new user).

Why: a won list imported on 28 Nov became the "snapshot" of 28 Nov, holding four won
deals; November's open pipeline, open deals and velocity then read 0 on the Overview and
Reps, and the Pipeline page's waterfall started from it. Files written here, imported by
the real importer into a real DuckDB file. By hand:

    export 1, as of 2024-05-10: D-1 Ann Discovery 1000 open; D-2 Bob Demo 2000 open;
                                D-3 Ann Closed Won 500 (5 May)
    won list, as of 2024-05-28: W-1 Ann won 20 May, 700 (a lead id, no stage)
    export 2, as of 2024-06-15: D-1 won on 1 June; D-2 still open; D-3 as before

    May is over on the data's date (15 June): its open figures are the pipeline as known
    on 31 May, i.e. export 1 (the newest whole export on or before that day), not the won
    list: 2 open deals, 3000. Bookings of May: D-3 500 + W-1 700 = 1200.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from analytics.ingest import import_file
from analytics.metrics.kpis import kpi_table
from analytics.pipeline import default_snapshot_pair
from analytics.pointintime import bases, snapshot_dates
from analytics.scope import Period, Scope

HEAD = "opportunity_id,opportunity_name,account,owner,stage,amount,currency,created_date,close_date"
EXPORT_1 = f"""{HEAD}
D-1,One,Acme,Ann Lee,Discovery,1000,USD,2024-04-01,2024-07-30
D-2,Two,Birch,Bob Stone,Demo,2000,USD,2024-04-02,2024-08-15
D-3,Three,Cedar,Ann Lee,Closed Won,500,USD,2024-03-01,2024-05-05
"""
EXPORT_2 = f"""{HEAD}
D-1,One,Acme,Ann Lee,Closed Won,1000,USD,2024-04-01,2024-06-01
D-2,Two,Birch,Bob Stone,Demo,2000,USD,2024-04-02,2024-08-15
D-3,Three,Cedar,Ann Lee,Closed Won,500,USD,2024-03-01,2024-05-05
"""
WON_LIST = "Lead ID,Seller,Won date,Deal value\nW-1,Ann Lee,2024-05-20,700\n"
MAY = Scope(Period.parse("2024-05"))


@pytest.fixture
def loaded(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    for name, text, as_of in [
        ("export_1.csv", EXPORT_1, date(2024, 5, 10)),
        ("won.csv", WON_LIST, date(2024, 5, 28)),
        ("export_2.csv", EXPORT_2, date(2024, 6, 15)),
    ]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = import_file(con, path, as_of=as_of, data_dir=tmp_path / "store", backup=False)
        assert result.ok, result.message
    return con


def test_the_won_list_is_a_partial_import(loaded: duckdb.DuckDBPyConnection) -> None:
    rows = loaded.execute("SELECT file_name, partial FROM imports ORDER BY import_id").fetchall()
    assert rows == [("export_1.csv", False), ("won.csv", True), ("export_2.csv", False)]


def test_snapshot_dates_leave_out_the_won_list(loaded: duckdb.DuckDBPyConnection) -> None:
    assert snapshot_dates(loaded) == [date(2024, 5, 10), date(2024, 6, 15)]
    (basis,) = bases(loaded, [date(2024, 5, 31)])
    assert (basis.source, basis.snapshot_date) == ("snapshot", date(2024, 5, 10))


def test_may_keeps_its_open_pipeline(loaded: duckdb.DuckDBPyConnection) -> None:
    (row,) = kpi_table(loaded, MAY, "company").to_dict("records")
    assert row["open_deals"] == 2
    assert row["open_pipeline"] == pytest.approx(3000)
    assert row["bookings"] == pytest.approx(1200)
    assert row["won_deals"] == 2


def test_the_waterfall_does_not_start_from_the_won_list(
    loaded: duckdb.DuckDBPyConnection,
) -> None:
    start, end = default_snapshot_pair(loaded, Scope(Period.parse("2024-06")))
    assert start == date(2024, 5, 10)  # the whole export before June, not 28 May
    assert end == date(2024, 6, 15)


def test_a_won_list_is_no_stage_history(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """One deals export as of 5 June, then a won list as of 28 May: 31 May is still
    rebuilt from created and close dates (the won list's 'Closed Won' rows say nothing of
    the open deals' stages then), so the weighted pipeline is no data with its reason."""
    from analytics.pointintime import first_stage_change

    for name, text, as_of in [
        ("export.csv", EXPORT_2, date(2024, 6, 5)),
        ("won.csv", WON_LIST, date(2024, 5, 28)),
    ]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = import_file(con, path, as_of=as_of, data_dir=tmp_path / "store", backup=False)
        assert result.ok, result.message
    assert first_stage_change(con) == date(2024, 6, 5)
    (basis,) = bases(con, [date(2024, 5, 31)])
    assert basis.source == "rebuilt"
    table = kpi_table(con, MAY, "company")
    assert "weighted_pipeline" in table.attrs["no_data"]
