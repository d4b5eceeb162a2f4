"""A team that exports its deals once a month, on the 1st (the new-user report of three
HubSpot exports of 1 Aug, 1 Sep and 1 Oct 2026, loaded by the real importer).

The export of 1 Sep is what the team knows about the end of August, as the one of 1 Aug
is what it knew at its start (the backtest reads an export on a period's first day so).
By hand, for August:

* due in August on 1 Aug: A (10,000, won 18 Aug), B (12,000, lost 25 Aug, amount 0 once
  lost), C (5,000, 31 Aug -> 15 Oct), D (15,000, 31 Aug -> 30 Sep), W (7,000, won 28 Aug)
  = 49,000;
* on 1 Sep nothing is due in August any more: won 17,000 (A, W), lost 12,000 (B), pushed
  out 20,000 (C, D), ending 0;
* slipped in August: C by 45 days and D by 30;
* open on 31 Aug, as the scorecard answers it from the export of 1 Aug (the newest on or
  before that day): C and D = 20,000, 2 deals. Not W: the export of 1 Sep shows it won on
  28 Aug, a close dated on or before 31 Aug, though the export of 1 Oct shows it lost on
  20 Sep (it was once counted open on 31 Aug: 27,000, 3 deals).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analytics import db
from analytics.pipeline import default_dates, waterfall
from analytics.pointintime import pipeline_as_of
from analytics.scope import Period, Scope
from tests.report_cli import import_texts, report

HEADER = '"Record ID","Deal Name","Deal Stage","Close Date","Deal owner","Amount","Create Date"\n'
EXPORTS = {
    date(2026, 8, 1): (
        '"A","Acme **Bold** renewal","Contract Sent","2026-08-20","Ann Lee","10000","2026-05-10"\n'
        '"B","Umbrella, Inc. | pilot","Pilot Running","2026-08-15","Bob Ray","12000","2026-03-01"\n'
        '"C","<b>Globex</b> add-on","Demo Scheduled","2026-08-31","Bob Ray","5000","2026-06-01"\n'
        '"D","Initech ""Phase 2""","Contract Sent","2026-08-31","Ann Lee","15000","2026-07-01"\n'
        '"W","Wayne & Sons","Contract Sent","2026-08-28","Ann Lee","7000","2026-06-10"\n'
    ),
    date(2026, 9, 1): (
        '"A","Acme **Bold** renewal","Closed Won","2026-08-18","Ann Lee","10000","2026-05-10"\n'
        '"B","Umbrella, Inc. | pilot","Closed Lost","2026-08-25","Bob Ray","0","2026-03-01"\n'
        '"C","<b>Globex</b> add-on","Demo Scheduled","2026-10-15","Bob Ray","5000","2026-06-01"\n'
        '"D","Initech ""Phase 2""","Contract Sent","2026-09-30","Cara Diaz","15000","2026-07-01"\n'
        '"W","Wayne & Sons","Closed Won","2026-08-28","Ann Lee","7000","2026-06-10"\n'
    ),
    # W, won in August, is shown lost on 20 Sep (the customer walked away)
    date(2026, 10, 1): (
        '"A","Acme **Bold** renewal","Closed Won","2026-08-18","Ann Lee","10000","2026-05-10"\n'
        '"B","Umbrella, Inc. | pilot","Closed Lost","2026-08-25","Bob Ray","0","2026-03-01"\n'
        '"C","<b>Globex</b> add-on","Demo Scheduled","2026-10-31","Bob Ray","5000","2026-06-01"\n'
        '"D","Initech ""Phase 2""","Contract Sent","2026-10-31","Cara Diaz","15000","2026-07-01"\n'
        '"W","Wayne & Sons","Closed Lost","2026-09-20","Ann Lee","7000","2026-06-10"\n'
    ),
}
AUGUST = Scope(Period.parse("2026-08"))


@pytest.fixture
def book(tmp_path: Path) -> Path:
    path = tmp_path / "sales.duckdb"
    for day, rows in EXPORTS.items():
        import_texts(
            tmp_path, [(f"hubspot-crm-exports-all-deals-{day}.csv", HEADER + rows, None)], day
        )
    return path


def test_a_month_runs_from_its_export_to_the_next_months(book: Path) -> None:
    con = db.connect(book)
    try:
        assert default_dates(con, AUGUST) == (date(2026, 8, 1), date(2026, 9, 1))
        w = waterfall(con, AUGUST)
    finally:
        con.close()
    assert (w.start_date, w.end_date, w.kind) == (
        date(2026, 8, 1), date(2026, 9, 1), "closing in the period",
    )  # fmt: skip
    assert (w.start, w.end) == (49000, 0)
    assert (w.buckets["won"], w.buckets["lost"], w.buckets["pushed out"]) == (
        -17000, -12000, -20000,
    )  # fmt: skip
    assert w.balanced


def test_slipped_deals_of_a_month_by_default(
    book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows, err = report(capsys, book, "pipeline", "--period", "2026-08", "--part", "slipped")
    assert not [line for line in err if "no data" in line], err
    assert {r["opportunity_id"]: r["days_pushed"] for r in rows} == {"C": "45", "D": "30"}
    assert {r["latest_snapshot_date"] for r in rows} == {"2026-09-01"}


def test_a_deal_a_later_export_shows_closed_in_the_month_is_not_open_at_its_end(
    book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    con = db.connect(book)
    try:
        found = pipeline_as_of(con, date(2026, 8, 31))
        w = waterfall(con, AUGUST, start_date=date(2026, 8, 1), end_date=date(2026, 8, 31))
    finally:
        con.close()
    assert (found.source, found.basis.snapshot_date) == ("snapshot", date(2026, 8, 1))
    assert sorted(found.deals["opportunity_id"]) == ["C", "D"]
    # the waterfall to 31 Aug reads the same rule: W is won in August, not still due
    assert (w.end, w.buckets["won"], w.deals["won"]) == (20000, -17000, 2)
    assert w.balanced

    rows, _ = report(
        capsys, book, "scorecard", "--period", "2026-08", "--by", "team", "--format", "csv"
    )
    assert [(r["open_pipeline"], r["open_deals"], r["open_source"]) for r in rows] == [
        ("20000.0", "2", "snapshot")
    ]
