"""A waterfall step that holds deals but moves the pipeline by nothing says so (issue 13:
"lost 0" beside 5 lost deals read as "nothing was lost" on a one-export database whose
lost deals are exported at 0).

One export as of 2025-03-16, waterfall of March from 03-01 to 03-16 (rebuilt both days):

    deal  outcome by 03-16        amount        step        moves the figure by
    L0    lost 03-05              0             lost        nothing (0 in the export)
    L1    lost 03-06              500           lost        -500
    N0    open, created 03-05     blank         new         nothing (no amount)
    N1    open, created 03-07     300           new         +300
    W1    won 03-10               1,000         won         -1,000
    O1    open since January      2,000         (unchanged)

start = L0 0 + L1 500 + W1 1,000 + O1 2,000 = 3,500; end = O1 2,000 + N0 + N1 300 = 2,300;
3,500 - 500 + 300 - 1,000 = 2,300.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from analytics import db
from analytics.ingest import import_file
from analytics.pipeline import waterfall, waterfall_notes
from analytics.scope import Period, Scope

ROWS = [
    ["opportunity_id", "opportunity_name", "owner", "stage", "amount", "currency",
     "created_date", "close_date"],
    ["L0", 'Lost "zero" <b>', "Ann", "Closed Lost", "0", "USD", "2025-02-01", "2025-03-05"],
    ["L1", "Lost *one*", "Ann", "Closed Lost", "500", "USD", "2025-02-01", "2025-03-06"],
    ["N0", "New [no amount]", "Bo", "Discovery", "", "USD", "2025-03-05", "2025-04-30"],
    ["N1", "New one", "Bo", "Discovery", "300", "USD", "2025-03-07", "2025-04-30"],
    ["W1", "Won one", "Ann", "Closed Won", "1,000", "USD", "2025-02-01", "2025-03-10"],
    ["O1", "Old open", "Bo", "Proposal", "2000", "USD", "2025-01-10", "2025-05-31"],
]  # fmt: skip


@pytest.fixture
def con(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    path = tmp_path / "deals.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(ROWS)
    c = db.connect(tmp_path / "w.duckdb")
    result = import_file(
        c, path, kind="opportunities", as_of=date(2025, 3, 16), data_dir=tmp_path / "kept"
    )
    assert result.ok, result.message
    yield c
    c.close()


def test_steps_that_move_nothing_are_counted_and_named(con: duckdb.DuckDBPyConnection) -> None:
    w = waterfall(
        con, Scope(Period.parse("2025-03")),
        start_date=date(2025, 3, 1), end_date=date(2025, 3, 16),
    )  # fmt: skip
    assert w.balanced
    assert (w.start, w.end) == (Decimal("3500.00"), Decimal("2300.00"))
    assert w.buckets["lost"] == Decimal("-500.00") and w.deals["lost"] == 2
    assert w.buckets["new"] == Decimal("300.00") and w.deals["new"] == 2
    assert w.buckets["won"] == Decimal("-1000.00") and w.deals["won"] == 1
    assert w.unvalued == {"lost": 1, "new": 1}
    assert w.unvalued_notes() == [
        "New: 1 of its 2 deals moves the pipeline by nothing: its amount on 2025-03-16 is "
        "blank or 0 in the data.",
        "Lost: 1 of its 2 deals moves the pipeline by nothing: its amount on 2025-03-01 is "
        "blank or 0 in the data.",
    ]
    notes = waterfall_notes(w)  # the CLI prints the same sentences
    assert any(n.startswith("Lost: 1 of its 2 deals moves") for n in notes), notes


def test_a_step_whose_every_deal_is_unvalued(con: duckdb.DuckDBPyConnection) -> None:
    # from 03-05 on, L0 is already lost: the lost step holds L1 only (valued) and the new
    # step N1 only; from 03-01 to 03-05, L0 (0) is lost, and nothing else moved
    w = waterfall(
        con, Scope(Period.parse("2025-03")),
        start_date=date(2025, 3, 1), end_date=date(2025, 3, 5),
    )  # fmt: skip
    assert w.deals["lost"] == 1 and w.buckets["lost"] == Decimal("0.00")
    assert (
        "Lost: its 1 deal moves the pipeline by nothing: its amount on 2025-03-01 is blank "
        "or 0 in the data." in w.unvalued_notes()
    )
