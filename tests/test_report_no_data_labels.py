"""`python -m analytics report` says what the pages say where a figure has no data or a
row has no name (QA, db1):

- `report funnel` for a month in which no deal was created printed a made-up step
  `1,Closed Won,0,...` and no note, while the Funnel page says "No deal was created in this
  period.": the report now has no row and that note (stderr), and compared funnels say the
  page's "nothing to compare";
- `report scorecard --by rep / --by team` printed an empty name for deals without an owner
  and owners not on the roster, while the pages say "(no owner)" / "(no team)".

The fixture, imported through the real importer as of 15 Jul 2024 (the CLI reads it):

    deal  owner        stage        amount  created     closed      team
    D1    Ann          Closed Won    5,000  2024-04-02  2024-05-10  East (roster)
    D2    Bob          Closed Won    2,000  2024-04-05  2024-05-12  not on the roster
    D3    (no owner)   Closed Won    1,000  2024-04-08  2024-05-15  -
    D4    Ann          Demo          3,000  2024-04-09  2024-08-30  East
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from report_cli import import_texts, report

from analytics.cli import main
from analytics.colours import NO_TEAM
from analytics.scorecard import NO_OWNER

AS_OF = date(2024, 7, 15)
REPS_CSV = "rep,manager,team,region,role\nAnn,,East,EMEA,AE\n"
DEALS_CSV = """opportunity_id,opportunity_name,owner,stage,amount,currency,created_date,close_date
D1,Deal one,Ann,Closed Won,5000,USD,2024-04-02,2024-05-10
D2,Deal two,Bob,Closed Won,2000,USD,2024-04-05,2024-05-12
D3,Deal three,,Closed Won,1000,USD,2024-04-08,2024-05-15
D4,Deal four,Ann,Demo,3000,USD,2024-04-09,2024-08-30
"""


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return import_texts(
        tmp_path, [("reps.csv", REPS_CSV, "reps"), ("deals.csv", DEALS_CSV, "opportunities")], AS_OF
    )


def test_funnel_without_a_created_deal_says_so_and_makes_up_no_row(
    book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows, notes = report(capsys, book, "funnel", "--period", "2024-06")
    assert rows == []  # never "1,Closed Won,0,..."
    assert notes == ["note: No deal was created in this period."]  # the Funnel page's words
    json_rows = main(["report", "funnel", "--period", "2024-06", "--db", str(book),
                      "--format", "json"])  # fmt: skip
    assert json_rows == 0 and capsys.readouterr().out.strip() == "[]"
    # a month with a cohort still has its steps
    rows, _ = report(capsys, book, "funnel", "--period", "2024-04")
    assert [r["stage"] for r in rows][-1] == "Closed Won"
    assert rows[0]["reached"] == "4"


def test_compared_funnels_without_a_created_deal_say_nothing_to_compare(
    book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows, notes = report(capsys, book, "funnel", "--period", "2024-06", "--by", "team")
    assert rows == []
    assert notes == ["note: No deal was created in this period: nothing to compare."]


def test_scorecard_names_the_ownerless_and_teamless_rows_as_the_pages_do(
    book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (NO_OWNER, NO_TEAM) == ("(no owner)", "(no team)")
    rows, _ = report(capsys, book, "scorecard", "--period", "2024-05", "--by", "rep")
    by_rep = {r["rep"]: r for r in rows}
    assert set(by_rep) == {"Ann", "Bob", NO_OWNER}
    assert float(by_rep[NO_OWNER]["bookings"]) == 1000
    assert by_rep[NO_OWNER]["quadrant"] == ""  # deals without an owner are nobody's review
    rows, _ = report(capsys, book, "scorecard", "--period", "2024-05", "--by", "team")
    by_team = {r["team"]: float(r["bookings"]) for r in rows}
    assert by_team == {"East": 5000, NO_TEAM: 3000}  # Bob (not on the roster) + no owner
