"""`python -m analytics report` prints only rows the data backs, and names every row (QA).

Found by a tester on a small HubSpot export:

- `report pipeline --period <a period after the data ends>` printed a waterfall of zeros
  with empty dates and no note, while the Pipeline page says the data ends before the
  period starts: nothing is known about that period, so the report has no row and says
  why (`note: no data: ...` on stderr, as the other reports do);
- `report funnel --by period` printed a block of made-up steps ("Demo, reached 0", method
  "none", deals 0) for a period in which no deal was created, beside the real period, and
  for two such periods a whole made-up comparison with no "nothing to compare": a period
  without a created deal now has no block, and a note names it;
- `report scorecard --by region` printed an empty name (JSON: null) for the row of deals
  whose owner has no region (not on the roster, no owner, or a roster row without one),
  while the rep and team rows say "(no owner)" / "(no team)": it is "(no region)".

The fixture is a HubSpot-style export (its own header, "$5,000.00", "closed won" in lower
case, a blank owner, a blank amount, US dates) and a reps file in which Cara has no
region, imported through the real importer as of 15 Jul 2024:

    deal      owner      stage                   amount  created     closed/close
    Acme      Ann Lee    Closed Won               5,000  2024-04-02  2024-05-10
    Globex    Bob Ray    closed won               2,000  2024-04-05  2024-05-12  (no roster)
    Initech   (none)     Closed Won               1,000  2024-04-08  2024-05-15
    Umbrella  Ann Lee    Presentation Scheduled   3,000  2024-04-09  2024-08-30  (open)
    Hooli     Cara Diaz  Closed Lost             (blank) 2024-05-03  2024-06-01
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from report_cli import import_texts, report

from analytics.cli import main
from analytics.markup import plain
from analytics.scorecard import MISSING_LABELS

AS_OF = date(2024, 7, 15)
REPS_CSV = "rep,manager,team,region,role\nAnn Lee,,East,EMEA,AE\nCara Diaz,,West,,AE\n"
DEALS_CSV = """Deal Name,Deal Owner,Deal Stage,Amount,Create Date,Close Date
Acme,Ann Lee,Closed Won,"$5,000.00",04/02/2024,05/10/2024
Globex,Bob Ray,closed won,"2,000",04/05/2024,05/12/2024
Initech,,Closed Won,1000,04/08/2024,05/15/2024
Umbrella,Ann Lee,Presentation Scheduled,3000,04/09/2024,08/30/2024
Hooli,Cara Diaz,Closed Lost,,05/03/2024,06/01/2024
"""


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return import_texts(
        tmp_path, [("reps.csv", REPS_CSV, "reps"), ("deals.csv", DEALS_CSV, None)], AS_OF
    )


NOT_STARTED = (
    "no data: the data ends on 2024-07-15, before {} starts: nothing is known about it yet"
)


@pytest.mark.parametrize("period", ["2024-09", "2024-Q4", "2025"])
@pytest.mark.parametrize("part", ["waterfall", "slipped"])
def test_pipeline_of_a_period_after_the_data_says_no_data_not_zeros(
    book: Path, capsys: pytest.CaptureFixture[str], period: str, part: str
) -> None:
    rows, notes = report(capsys, book, "pipeline", "--period", period, "--part", part)
    assert rows == []  # never "starting pipeline,0.0,0,0" with empty dates
    assert notes == [f"note: {NOT_STARTED.format(period)}"]
    assert main(["report", "pipeline", "--period", period, "--part", part,
                 "--db", str(book), "--format", "json"]) == 0  # fmt: skip
    assert capsys.readouterr().out.strip() == "[]"


def test_pipeline_of_a_period_with_data_keeps_its_waterfall(
    book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """July has started on the as-of date: 1 to 15 July, Umbrella open throughout."""
    rows, notes = report(capsys, book, "pipeline", "--period", "2024-07")
    assert [(r["step"], r["amount"], r["deals"]) for r in rows][0::8] == [
        ("starting pipeline", "3000.0", "1"),
        ("ending pipeline", "3000.0", "1"),
    ]
    assert (rows[0]["start_date"], rows[0]["end_date"]) == ("2024-07-01", "2024-07-15")
    assert not any("no data" in n for n in notes)


FUNNEL_BY_PERIOD = [
    # (--period, extra args, blocks printed: group -> reached per step, notes)
    ("2024-04", [], {"2024-04": [4, 3]},
     ["note: No deal was created in 2024-03: no funnel to compare 2024-04 with.",
      "note: Discovery, Qualified, Trial, Final Decision not used by any deal in scope: "
      "not shown as steps."]),
    ("2024-08", ["--versus", "2024-04"], {"2024-04": [4, 3]},
     ["note: No deal was created in 2024-08: no funnel to compare 2024-04 with.",
      "note: Discovery, Qualified, Trial, Final Decision not used by any deal in scope: "
      "not shown as steps."]),
    ("2024-09", [], {},
     ["note: No deal was created in 2024-09 or 2024-08: nothing to compare."]),
]  # fmt: skip


@pytest.mark.parametrize(("period", "extra", "blocks", "notes"), FUNNEL_BY_PERIOD)
def test_funnel_by_period_has_no_block_for_a_period_without_a_created_deal(
    book: Path,
    capsys: pytest.CaptureFixture[str],
    period: str,
    extra: list[str],
    blocks: dict[str, list[int]],
    notes: list[str],
) -> None:
    """April's cohort: Acme, Globex, Initech (won) and Umbrella (open at Demo, the only
    listed open stage a deal is at): 4 reached Demo, 3 won. March, August and September
    have no created deal: no block (never "Demo 0, Closed Won 0, method none")."""
    rows, err = report(capsys, book, "funnel", "--period", period, "--by", "period", *extra)
    got: dict[str, list[int]] = {}
    for row in rows:
        got.setdefault(row["group"], []).append(int(row["reached"]))
    assert got == blocks
    assert all(row["method"] != "none" and row["deals"] != "0" for row in rows)
    assert err == notes


def test_funnel_page_compares_no_made_up_period(
    book: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Funnel page's "Two periods" reads the same comparison: April alone, and why."""
    from apptest import assert_clean, open_page

    monkeypatch.setenv("SALES_DB", str(book))
    at = open_page("pages/funnel.py", {"kind": "Month", "period": "2024-04"})
    at.selectbox(key="funnel:compare_by").set_value("Two periods").run()
    assert_clean(at)
    wide = [d.value for d in at.dataframe if "method" in d.value.columns]
    assert [list(w["group"]) for w in wide] == [["2024-04"]]  # no "2024-03" row of dashes
    captions = [plain(c.value) for c in at.caption]
    assert any(
        "No deal was created in 2024-03: no funnel to compare 2024-04 with." in c for c in captions
    ), captions


def test_scorecard_by_region_names_the_row_without_a_region(
    book: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Q2: EMEA is Ann (Acme 5,000 won). No region: Globex 2,000 (Bob, not on the
    roster), Initech 1,000 (no owner) won, and Hooli lost (Cara, on the roster without a
    region): one row named "(no region)", never an empty name or null."""
    rows, notes = report(capsys, book, "scorecard", "--period", "2024-Q2", "--by", "region")
    by_region = {r["region"]: (float(r["bookings"]), int(r["lost_deals"])) for r in rows}
    assert by_region == {"EMEA": (5000.0, 0), "(no region)": (3000.0, 1)}
    assert not any("the row without a region" in n for n in notes)
    assert main(["report", "scorecard", "--period", "2024-Q2", "--by", "region",
                 "--db", str(book), "--format", "json"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert '"region": "(no region)"' in out and '"region": null' not in out
    assert MISSING_LABELS.get("region") == "(no region)"  # named once, beside the others
