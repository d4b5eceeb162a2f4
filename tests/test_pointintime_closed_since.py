"""A snapshot answering a later day leaves out the deals closed in between (the new-user
report: an export of 1 Nov imported after one of 5 Dec made November's open pipeline on
30 Nov count the deals won and lost in November, beside them as won and lost).

The fixture, through the real importer: an export of 5 Dec where A was won on 10 Nov, B
lost on 30 Nov, E won on 3 Dec and C is still open; then the export of 1 Nov, imported
after it, where all four were open. 30 Nov is answered by the 1 Nov snapshot (29 days
old), and by hand:

* open on 1 Nov (the snapshot's own day, exact): A, B, C, E = 1,000 + 2,000 + 4,000 + 8,000
  = 15,000;
* open on 30 Nov: C and E = 4,000 + 8,000 = 12,000 (A closed on 10 Nov; B closed on 30 Nov
  and a deal that closed on D is not open on D; E closed on 3 Dec, after the day: open),
  amounts as uploaded on 1 Nov;
* the waterfall from 1 Nov to 30 Nov: 15,000 - 1,000 won - 2,000 lost = 12,000.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from analytics import db
from analytics.ingest import import_file
from analytics.metrics.kpis import kpi_table
from analytics.pipeline import waterfall
from analytics.pointintime import pipeline_as_of
from analytics.scope import Period, Scope

HEADER = "Opportunity ID,Opportunity Name,Owner,Stage,Amount,Created Date,Close Date\n"
LATER = (
    "A,Deal A,Ann Lee,Closed Won,1000,2026-09-01,2026-11-10\n"
    "B,Deal B,Ann Lee,Closed Lost,2500,2026-09-02,2026-11-30\n"
    "C,Deal C,Bob Ray,Negotiation,4500,2026-09-03,2027-01-15\n"
    "E,Deal E,Bob Ray,Closed Won,8000,2026-09-04,2026-12-03\n"
)
EARLIER = (
    "A,Deal A,Ann Lee,Proposal,1000,2026-09-01,2026-11-10\n"
    "B,Deal B,Ann Lee,Proposal,2000,2026-09-02,2026-11-30\n"
    "C,Deal C,Bob Ray,Qualification,4000,2026-09-03,2026-12-20\n"
    "E,Deal E,Bob Ray,Negotiation,8000,2026-09-04,2026-12-03\n"
)
NOV_1, NOV_30 = date(2026, 11, 1), date(2026, 11, 30)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[Any]:
    connection = db.connect(tmp_path / "sales.duckdb")
    for name, rows, day in (
        ("deals-2026-12-05.csv", LATER, date(2026, 12, 5)),
        ("deals-2026-11-01.csv", EARLIER, NOV_1),  # the older export, imported after
    ):
        path = tmp_path / name
        path.write_text(HEADER + rows, encoding="utf-8")
        result = import_file(connection, path, as_of=day, data_dir=tmp_path)
        assert result.ok, result.message
    try:
        yield connection
    finally:
        connection.close()


def test_the_snapshots_own_day_is_exact(con: Any) -> None:
    found = pipeline_as_of(con, NOV_1)
    assert (found.source, found.basis.snapshot_date) == ("snapshot", NOV_1)
    assert sorted(found.deals["opportunity_id"]) == ["A", "B", "C", "E"]
    assert "(exact)" in found.basis.describe()


def test_a_later_day_leaves_out_the_deals_closed_since(con: Any) -> None:
    found = pipeline_as_of(con, NOV_30)
    assert (found.source, found.basis.snapshot_date) == ("snapshot", NOV_1)
    deals = found.deals.set_index("opportunity_id")
    assert sorted(deals.index) == ["C", "E"]
    # the rest is as uploaded on 1 Nov: C's amount then, not the 4,500 of 5 Dec
    assert float(deals.loc["C", "amount"]) == 4000.0
    assert "less the deals closed between it and 2026-11-30" in found.basis.describe()


def test_the_month_end_figures_agree_with_the_month_won_and_lost(con: Any) -> None:
    row = kpi_table(con, Scope(Period.parse("2026-11")), by="company").iloc[0]
    assert (int(row["won_deals"]), int(row["lost_deals"])) == (1, 1)  # A won, B lost
    assert int(row["open_deals"]) == 2
    assert float(row["open_pipeline"]) == 12000.0


def test_the_waterfall_shows_the_closes_between_the_days(con: Any) -> None:
    scope = Scope(Period.parse("2026-11"))
    fall = waterfall(con, scope, start_date=NOV_1, end_date=NOV_30, kind="all open deals")
    assert fall.no_change_reason is None
    assert (fall.start, fall.end) == (Decimal("15000.00"), Decimal("12000.00"))
    assert fall.buckets["won"] == Decimal("-1000.00") and fall.deals["won"] == 1
    assert fall.buckets["lost"] == Decimal("-2000.00") and fall.deals["lost"] == 1
    assert fall.balanced
