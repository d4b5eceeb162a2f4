"""An export older than the newest one loaded says which of its open deals the newer one
no longer lists (the new-user report: an export of 1 Nov imported after the one of 5 Dec
added a 50,000 deal to today's open pipeline with only "1 new" said about it)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from analytics import db
from analytics.ingest import import_file

HEADER = "Opportunity ID,Opportunity Name,Stage,Amount,Created Date,Close Date\n"


def _import(con, folder: Path, name: str, rows: str, day: date):
    path = folder / name
    path.write_text(HEADER + rows, encoding="utf-8")
    result = import_file(con, path, as_of=day, data_dir=folder)
    assert result.ok, result.message
    return result


def test_an_older_export_names_the_open_deals_the_newer_one_does_not_list(tmp_path: Path) -> None:
    con = db.connect(tmp_path / "sales.duckdb")
    try:
        newer = _import(
            con, tmp_path, "dec.csv",
            "A,Deal A,Closed Won,100,2026-09-01,2026-11-10\n"
            "B,Deal B,Proposal,200,2026-09-02,2027-01-31\n",
            date(2026, 12, 5),
        )  # fmt: skip
        assert newer.open_not_in_newer == 0
        older = _import(
            con, tmp_path, "nov.csv",
            "A,Deal A,Proposal,100,2026-09-01,2026-11-10\n"
            "B,Deal B,Proposal,200,2026-09-02,2027-01-31\n"
            "G,Ghost deal,Negotiation,50000,2026-09-03,2026-12-20\n"  # only here, open
            "L,Lost deal,Closed Lost,10,2026-09-04,2026-10-01\n",  # only here, closed
            date(2026, 11, 1),
        )  # fmt: skip
        assert (older.open_not_in_newer, older.newer_export) == (1, date(2026, 12, 5))
        assert (
            "1 open deal of this export (as of 2026-11-01) is not in the newer export of "
            "2026-12-05 already loaded: it counts as open now"
        ) in older.message
        # the newer export's deals keep their newer state; the ghost is open, as said
        state = dict(con.execute("SELECT opportunity_id, is_closed FROM opportunities").fetchall())
        assert state == {"A": True, "B": False, "G": False, "L": True}
    finally:
        con.close()


def test_exports_in_date_order_say_nothing_of_the_kind(tmp_path: Path) -> None:
    con = db.connect(tmp_path / "sales.duckdb")
    try:
        _import(con, tmp_path, "nov.csv", "A,Deal A,Proposal,100,2026-09-01,2026-11-10\n",
                date(2026, 11, 1))  # fmt: skip
        later = _import(
            con, tmp_path, "dec.csv",
            "A,Deal A,Proposal,100,2026-09-01,2026-11-10\n"
            "B,Deal B,Proposal,2,2026-09-02,2027-01-31\n",
            date(2026, 12, 5),
        )  # fmt: skip
        assert later.open_not_in_newer == 0 and "newer export" not in later.message
    finally:
        con.close()
