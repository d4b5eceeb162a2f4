"""One person under several spellings is named at import (the new-user report: `Ann Lee`,
`ann lee `, `ANN LEE` and `Ann  Lee` became four reps without a word; the roster's
`Ann Lee` then matched only one of them)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from analytics import db
from analytics.ingest import import_file
from analytics.ingest.owners import spelling_variants


def _import(con, folder: Path, name: str, text: str):
    path = folder / name
    path.write_text(text, encoding="utf-8")
    result = import_file(con, path, as_of=date(2026, 12, 5), data_dir=folder)
    assert result.ok, result.message
    return result


def test_spellings_that_differ_in_case_or_blanks_are_named(tmp_path: Path) -> None:
    con = db.connect(tmp_path / "sales.duckdb")
    try:
        result = _import(
            con, tmp_path, "deals.csv",
            "Opportunity ID,Opportunity Owner,Stage,Amount,Close Date\n"
            "1,Ann Lee,Closed Won,100,2026-11-02\n2,ANN LEE,Closed Lost,100,2026-11-03\n"
            '3,"Ann  Lee",Closed Won,100,2026-11-04\n4,Bob Ray,Closed Won,100,2026-11-05\n'
            "5,**Bob** <b>Ray</b>,Closed Won,100,2026-11-05\n",
        )  # fmt: skip
        assert spelling_variants(con) == [["ANN LEE", "Ann  Lee", "Ann Lee"]]
        assert (
            "owner names that differ only in case or spacing count as different reps: "
            "'ANN LEE' / 'Ann  Lee' / 'Ann Lee'"
        ) in result.message
        # the roster's spelling joins the group; a roster import says it too
        roster = _import(con, tmp_path, "reps.csv", "rep,team\nann lee,East\n")
        assert spelling_variants(con) == [["ANN LEE", "Ann  Lee", "Ann Lee", "ann lee"]]
        assert "differ only in case or spacing" in roster.message
    finally:
        con.close()


def test_one_spelling_each_says_nothing(tmp_path: Path) -> None:
    con = db.connect(tmp_path / "sales.duckdb")
    try:
        result = _import(
            con, tmp_path, "deals.csv",
            "Opportunity ID,Opportunity Owner,Stage,Amount,Close Date\n"
            "1,Ann Lee,Closed Won,100,2026-11-02\n2,Anne Lee,Closed Lost,100,2026-11-03\n",
        )  # fmt: skip
        assert spelling_variants(con) == []
        assert "differ only in case" not in result.message
    finally:
        con.close()
