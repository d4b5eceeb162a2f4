"""A pipeline day whose open deals all lack an amount is "no data", not 0 (issue 13.2).

Why: on the Maven export every one of the 2,089 deals open on 2017-12-31 has no amount.
The Pipeline page read "Pipeline on 2017-12-31: 0 USD", as if nothing were open, while
the Overview called the same open pipeline "no data". The file below, written by the test
and imported as of 2025-03-16, waterfall of March from 03-01 to 03-16 (rebuilt both days):

    deal  on 03-01                 on 03-16                 amount
    W1    open since February      won 03-10                1,000
    N0    not yet created          open, created 03-05      blank
    N1    not yet created          open, created 03-07      blank

start = W1 1,000 (one deal, priced): 1,000. end = N0 + N1, two deals, neither priced:
no data. A day with no open deal at all keeps its true 0.
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
    ["opportunity_id", "owner", "stage", "amount", "created_date", "close_date"],
    ["W1", "Ann", "Closed Won", "1000", "2025-02-01", "2025-03-10"],
    ["N0", "Bo", "Discovery", "", "2025-03-05", ""],
    ["N1", "Bo", "Discovery", "", "2025-03-07", ""],
]


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


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # (start, end): 1,000 priced on 03-01; on 03-16 two open deals, none priced
        (date(2025, 3, 1), date(2025, 3, 16), (Decimal("1000.00"), None)),
        # 02-15: W1 open and priced; 03-01 too
        (date(2025, 2, 15), date(2025, 3, 1), (Decimal("1000.00"), Decimal("1000.00"))),
        # 01-15: nothing created yet, a true 0; 03-16 no data
        (date(2025, 1, 15), date(2025, 3, 16), (Decimal("0.00"), None)),
    ],
    ids=["end-unpriced", "both-priced", "empty-start-keeps-zero"],
)
def test_a_day_without_a_priced_open_deal_is_no_data(
    con: duckdb.DuckDBPyConnection, start: date, end: date, expected: tuple
) -> None:
    w = waterfall(con, Scope(Period.parse("2025-03")), start_date=start, end_date=end)
    assert w.balanced
    assert (w.amount_on(0), w.amount_on(1)) == expected


def test_the_cli_notes_say_no_data(con: duckdb.DuckDBPyConnection) -> None:
    w = waterfall(
        con, Scope(Period.parse("2025-03")), start_date=date(2025, 3, 1),
        end_date=date(2025, 3, 16),
    )  # fmt: skip
    assert (
        "end pipeline: no data, not one open deal is priced: 2 open deals have no amount"
        in waterfall_notes(w)
    )


def test_the_pipeline_page_card_reads_no_data(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from apptest import metric, open_page

    con.close()  # the page opens the file itself
    monkeypatch.setenv("SALES_DB", str(tmp_path / "w.duckdb"))
    at = open_page("pages/pipeline.py", {"kind": "Month", "period": "2025-03"})
    assert not at.exception, [e.value for e in at.exception]
    assert metric(at, "Pipeline on 2025-03-01") == "1,000 USD"
    assert metric(at, "Pipeline on 2025-03-16") == "no data"
    captions = [c.value for c in at.caption]
    assert "No data: 2 open deals have no amount." in captions, captions
