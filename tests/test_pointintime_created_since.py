"""A snapshot answering a later day holds the deals created in between (a new user's
monthly exports: the export of 1 Aug answered 31 Aug without any deal created in August).

Two HubSpot exports, 1 Aug and 1 Sep 2026, loaded by the real importer; 31 Aug is answered
by the export of 1 Aug (the newest on or before it). By hand, open on 31 Aug:

* from the export of 1 Aug: C (5,000, Demo Scheduled) and E (4,000, Contract Sent; the
  export of 1 Sep dates its creation 3 Aug, an edit: it is counted once, as uploaded);
* created in August and not closed by its end, as last exported, stage unknown: N (8,000,
  created 12 Aug), L (2,500, created 20 Aug, lost on 1 Sep: open on 31 Aug) and U
  (created 15 Aug, no amount);
* not open: M (created 5 Aug, won 25 Aug) and F (created 1 Sep, after the day).

So 5 deals, 19,500 over the 4 with an amount. On 1 Aug, the snapshot's own day, only C and E
(exact: nothing is created after it by then).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analytics import db
from analytics.pipeline import waterfall, waterfall_deals
from analytics.pointintime import basis_for, pipeline_as_of
from analytics.scope import Period, Scope
from tests.report_cli import import_texts, report

HEADER = '"Record ID","Deal Name","Deal Stage","Close Date","Deal owner","Amount","Create Date"\n'
EXPORTS = {
    date(2026, 8, 1): (
        '"C","<b>Globex</b> add-on","Demo Scheduled","2026-09-30","Bob Ray","5000","2026-06-01"\n'
        '"E","Initech ""Phase 2""","Contract Sent","2026-09-15","Ann Lee","4000","2026-07-20"\n'
    ),
    date(2026, 9, 1): (
        '"C","<b>Globex</b> add-on","Demo Scheduled","2026-09-30","Bob Ray","5000","2026-06-01"\n'
        '"E","Initech ""Phase 2""","Contract Sent","2026-09-15","Ann Lee","4000","2026-08-03"\n'
        '"N","**New** deal","Contract Sent","2026-10-15","Ann Lee","8000","2026-08-12"\n'
        '"M","Won in August","Closed Won","2026-08-25","Bob Ray","3000","2026-08-05"\n'
        '"L","Lost after the month","Closed Lost","2026-09-01","Bob Ray","2500","2026-08-20"\n'
        '"U","No amount yet","Demo Scheduled","2026-10-30","Ann Lee","","2026-08-15"\n'
        '"F","Created after the day","Demo Scheduled","2026-10-30","Ann Lee","900","2026-09-01"\n'
    ),
}


@pytest.fixture
def book(tmp_path: Path) -> Path:
    for day, rows in EXPORTS.items():
        import_texts(
            tmp_path, [(f"hubspot-crm-exports-all-deals-{day}.csv", HEADER + rows, None)], day
        )
    return tmp_path / "sales.duckdb"


def test_deals_created_after_the_snapshot_are_open_on_the_later_day(book: Path) -> None:
    con = db.connect(book)
    try:
        end = pipeline_as_of(con, date(2026, 8, 31))
        start = pipeline_as_of(con, date(2026, 8, 1))
        basis = basis_for(con, date(2026, 8, 31))
    finally:
        con.close()
    assert (end.source, end.basis.snapshot_date) == ("snapshot", date(2026, 8, 1))
    deals = end.deals.set_index("opportunity_id")
    assert sorted(deals.index) == ["C", "E", "L", "N", "U"]
    assert deals["amount"].sum() == pytest.approx(19500)
    assert deals["amount"].notna().sum() == 4
    # the snapshot's deals as uploaded; the ones created since: stage and close unknown
    assert deals.loc["C", "stage"] == "Demo" and deals.loc["E", "stage"] is not None
    assert deals.loc[["N", "L", "U"], "stage"].isna().all()
    assert deals.loc[["N", "L", "U"], "close_date"].isna().all()
    assert sorted(start.deals["opportunity_id"]) == ["C", "E"]  # exact on its own day
    assert "plus those created between" in basis.describe()


def test_the_scorecard_counts_them_at_the_months_end(
    book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows, notes = report(
        capsys, book, "scorecard", "--period", "2026-08", "--by", "team", "--format", "csv"
    )
    assert [(r["open_pipeline"], r["open_deals"], r["open_source"]) for r in rows] == [
        ("19500.0", "5", "snapshot")
    ]
    # no stage history: the three deals created in August have no stage on its last day,
    # so the weighted pipeline is no data, and says why (never a bare blank)
    assert rows[0]["weighted_pipeline"] == ""
    assert (
        "note: no data for (no team): weighted_pipeline: 3 open deals have no known stage on "
        "the period's last day" in " ".join(notes)
    ), notes


def test_the_waterfall_to_that_day_ends_at_the_same_pipeline(book: Path) -> None:
    """The Pipeline page's "Pipeline on 31 Aug" (all open deals) is the Overview's open
    pipeline at August's end: the deals created in August are new there, and the next day
    L is lost and F (created 1 Sep) is new."""
    august = Scope(Period.parse("2026-08"))
    kind = "all open deals"
    con = db.connect(book)
    try:
        month = waterfall(con, august, start_date=date(2026, 8, 1), end_date=date(2026, 8, 31),
                          kind=kind)  # fmt: skip
        deals = waterfall_deals(con, august, start_date=date(2026, 8, 1),
                                end_date=date(2026, 8, 31), kind=kind)  # fmt: skip
        day = waterfall(con, august, start_date=date(2026, 8, 31), end_date=date(2026, 9, 1),
                        kind=kind)  # fmt: skip
    finally:
        con.close()
    assert (month.start, month.end, month.buckets["new"], month.deals["new"]) == (
        9000,
        19500,
        10500,
        3,
    )
    assert month.balanced
    buckets = dict(zip(deals["opportunity_id"], deals["bucket"], strict=True))
    assert buckets == {"C": "unchanged", "E": "unchanged", "N": "new", "L": "new", "U": "new"}
    assert (day.start, day.end, day.buckets["lost"], day.buckets["new"]) == (
        19500,
        17900,
        -2500,
        900,
    )
    assert day.balanced


# The export of 1 Sep with HubSpot's "Date entered" columns (stage history): N was in Demo
# Scheduled from 14 Aug and in Contract Sent only from 1 Sep, after the day; L and U in
# Demo Scheduled from the 21st and the 15th.
ENTERED = ('Date entered "Demo Scheduled (Sales Pipeline)"',
           'Date entered "Contract Sent (Sales Pipeline)"')  # fmt: skip
DATES = {"N": ("2026-08-14 09:00", "2026-09-01 10:00"), "L": ("2026-08-21 09:00", ""),
         "U": ("2026-08-15 09:00", "")}  # fmt: skip


def with_entered_dates(rows: str) -> str:
    out = []
    for line in rows.splitlines():
        key = line.split(",")[0].strip('"')
        demo, contract = DATES.get(key, ("", ""))
        out.append(f'{line},"{demo}","{contract}"')
    return "\n".join(out) + "\n"


@pytest.fixture
def book_with_history(tmp_path: Path) -> Path:
    header = HEADER.rstrip("\n") + "," + ",".join(f'"{h.replace(chr(34), chr(34) * 2)}"'
                                                  for h in ENTERED) + "\n"  # fmt: skip
    for day, rows in EXPORTS.items():
        name = f"hubspot-crm-exports-all-deals-{day}.csv"
        import_texts(tmp_path, [(name, header + with_entered_dates(rows), None)], day)
    return tmp_path / "sales.duckdb"


def test_with_stage_history_their_stage_on_the_day_is_known(
    book_with_history: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from analytics.settings import load_stages

    con = db.connect(book_with_history)
    try:
        end = pipeline_as_of(con, date(2026, 8, 31))
        p = {s.name: float(s.probability) for s in load_stages(con)}
    finally:
        con.close()
    assert end.source == "snapshot"
    stages = dict(zip(end.deals["opportunity_id"], end.deals["stage"], strict=True))
    # N entered Contract Sent on 1 Sep, after the day: Demo on 31 Aug (no peeking)
    # (HubSpot's Contract Sent is the settings' Final Decision, by its alias)
    assert stages == {"C": "Demo", "E": "Final Decision", "N": "Demo", "L": "Demo", "U": "Demo"}
    rows, _ = report(capsys, book_with_history, "scorecard", "--period", "2026-08", "--by",
                     "team", "--format", "csv")  # fmt: skip
    weighted = (5000 * p["Demo"] + 4000 * p["Final Decision"] + 8000 * p["Demo"]
                + 2500 * p["Demo"]) / 100  # fmt: skip
    assert float(rows[0]["open_pipeline"]) == pytest.approx(19500)
    assert float(rows[0]["weighted_pipeline"]) == pytest.approx(weighted)
