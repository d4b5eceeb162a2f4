"""One person under several spellings is named at import (the new-user report: `Ann Lee`,
`ann lee `, `ANN LEE` and `Ann  Lee` became four reps without a word; the roster's
`Ann Lee` then matched only one of them)."""

from __future__ import annotations

from datetime import date

from analytics.ingest.owners import spelling_variants

HEADER = "Opportunity ID,Opportunity Owner,Stage,Amount,Close Date\n"
DAY = date(2026, 12, 5)


def test_spellings_that_differ_in_case_or_blanks_are_named(con, import_text) -> None:
    result = import_text(
        "deals.csv",
        HEADER + "1,Ann Lee,Closed Won,100,2026-11-02\n2,ANN LEE,Closed Lost,100,2026-11-03\n"
        '3,"Ann  Lee",Closed Won,100,2026-11-04\n4,Bob Ray,Closed Won,100,2026-11-05\n'
        "5,**Bob** <b>Ray</b>,Closed Won,100,2026-11-05\n",
        as_of=DAY,
    )
    assert spelling_variants(con) == [["ANN LEE", "Ann  Lee", "Ann Lee"]]
    assert (
        "owner names that differ only in case or spacing count as different reps: "
        "'ANN LEE' / 'Ann  Lee' / 'Ann Lee'"
    ) in result.message
    # the roster's spelling joins the group; a roster import says it too
    roster = import_text("reps.csv", "rep,team\nann lee,East\n", as_of=DAY)
    assert spelling_variants(con) == [["ANN LEE", "Ann  Lee", "Ann Lee", "ann lee"]]
    assert "differ only in case or spacing" in roster.message


def test_one_spelling_each_says_nothing(con, import_text) -> None:
    result = import_text(
        "deals.csv",
        HEADER + "1,Ann Lee,Closed Won,100,2026-11-02\n2,Anne Lee,Closed Lost,100,2026-11-03\n",
        as_of=DAY,
    )
    assert spelling_variants(con) == []
    assert "differ only in case" not in result.message
