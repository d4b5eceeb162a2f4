"""An export older than the newest one loaded says which of its open deals the newer one
no longer lists (the new-user report: an export of 1 Nov imported after the one of 5 Dec
added a 50,000 deal to today's open pipeline with only "1 new" said about it)."""

from __future__ import annotations

from datetime import date

HEADER = "Opportunity ID,Opportunity Name,Stage,Amount,Created Date,Close Date\n"
NOV_1, DEC_5 = date(2026, 11, 1), date(2026, 12, 5)


def test_an_older_export_names_the_open_deals_the_newer_one_does_not_list(con, import_text) -> None:
    newer = import_text(
        "dec.csv",
        HEADER + "A,Deal A,Closed Won,100,2026-09-01,2026-11-10\n"
        "B,Deal B,Proposal,200,2026-09-02,2027-01-31\n",
        as_of=DEC_5,
    )
    assert newer.open_not_in_newer == 0
    older = import_text(
        "nov.csv",
        HEADER + "A,Deal A,Proposal,100,2026-09-01,2026-11-10\n"
        "B,Deal B,Proposal,200,2026-09-02,2027-01-31\n"
        "G,Ghost deal,Negotiation,50000,2026-09-03,2026-12-20\n"  # only here, open
        "L,Lost deal,Closed Lost,10,2026-09-04,2026-10-01\n",  # only here, closed
        as_of=NOV_1,
    )
    assert (older.open_not_in_newer, older.newer_export) == (1, DEC_5)
    assert (
        "1 open deal of this export (as of 2026-11-01) is not in the newer export of "
        "2026-12-05 already loaded: it counts as open now"
    ) in older.message
    # the newer export's deals keep their newer state; the ghost is open, as said
    state = dict(con.execute("SELECT opportunity_id, is_closed FROM opportunities").fetchall())
    assert state == {"A": True, "B": False, "G": False, "L": True}


def test_exports_in_date_order_say_nothing_of_the_kind(import_text) -> None:
    import_text("nov.csv", HEADER + "A,Deal A,Proposal,100,2026-09-01,2026-11-10\n", as_of=NOV_1)
    later = import_text(
        "dec.csv",
        HEADER + "A,Deal A,Proposal,100,2026-09-01,2026-11-10\n"
        "B,Deal B,Proposal,2,2026-09-02,2027-01-31\n",
        as_of=DEC_5,
    )
    assert later.open_not_in_newer == 0 and "newer export" not in later.message
