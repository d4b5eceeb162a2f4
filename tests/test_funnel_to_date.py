"""The funnel of a period that was not over on the data's date is taken to date (QA).

Found by a tester on the demo (data as of 16 Nov 2026): `report funnel --by period
--period 2026-11` compared the deals created 1-16 Nov with ALL of October and labelled the
blocks "2026-11" and "2026-10", so November read as a collapse (108 deals reached
Discovery against 188). The scorecard and the Overview take such a period to date and
compare it with the same days before (`Period.to_date`); the funnel now does the same, on
the page and in the report, and says so in its labels.

The fixture is a HubSpot-style export (its own header, US dates, "$" amounts, stages in
lower case, a blank owner, a blank amount) imported through the real importer as of
16 Nov 2024. No stage history: each deal is placed at its current stage.

    deal     stage         amount  created     closed      cohort
    Jade     Closed Won     1,000  2024-09-12  2024-10-01  Sep
    Acme     discovery      2,000  2024-10-02              Oct 1-16
    Bolt     Closed Won     3,000  2024-10-05  2024-10-20  Oct 1-16
    Echo     demo          (blank) 2024-10-10              Oct 1-16
    Cane     Demo           4,000  2024-10-20              Oct 17-31
    Dune     Closed Lost    5,000  2024-10-25  2024-11-05  Oct 17-31 (stage unknown)
    Fern     Discovery      6,000  2024-11-03              Nov 1-16
    Gale     Demo           7,000  2024-11-10              Nov 1-16
    Hive     closed won     8,000  2024-11-14  2024-11-15  Nov 1-16
    Iris     Discovery      9,000  2024-11-15              Nov 1-16

Steps (stages some deal was seen at): Discovery, Demo, Closed Won. Reached per step:
Nov 1-16 [4, 2, 1]; Oct 1-16 [3, 2, 1]; all of October [4, 3, 1] (5 deals, Dune at no
step); September [1, 1, 1]; Q3 1 Jul-16 Aug: no deal.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from report_cli import import_texts
from report_cli import report as run_report

from analytics.markup import plain

AS_OF = date(2024, 11, 16)
DEALS_CSV = """Deal Name,Deal Owner,Deal Stage,Amount,Create Date,Close Date
Jade,Ann Lee,Closed Won,"$1,000.00",09/12/2024,10/01/2024
Acme,Ann Lee,discovery,"$2,000.00",10/02/2024,12/20/2024
Bolt,,Closed Won,3000,10/05/2024,10/20/2024
Echo,Bob Ray,demo,,10/10/2024,12/20/2024
Cane,Ann Lee,Demo,4000,10/20/2024,12/20/2024
Dune,Bob Ray,Closed Lost,5000,10/25/2024,11/05/2024
Fern,Ann Lee,Discovery,6000,11/03/2024,12/20/2024
Gale,Bob Ray,Demo,7000,11/10/2024,12/20/2024
Hive,Ann Lee,closed won,8000,11/14/2024,11/15/2024
Iris,Bob Ray,Discovery,9000,11/15/2024,12/20/2024
"""
NOV = "2024-11 to date (1–16 Nov)"
OCT_SAME_DAYS = "2024-10 (1–16 Oct)"  # October was over: the same days, not "to date"


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return import_texts(tmp_path, [("deals.csv", DEALS_CSV, None)], AS_OF)


def report(
    capsys: pytest.CaptureFixture[str], book: Path, *args: str
) -> tuple[list[dict[str, str]], list[str]]:
    """Run `report funnel ...` through the CLI entry point: (CSV rows, stderr lines)."""
    return run_report(capsys, book, "funnel", *args)


BY_PERIOD = [
    # (--period, extra args, blocks: label -> (deals, reached per step), a note expected)
    ("2024-11", [], {NOV: (4, [4, 2, 1]), OCT_SAME_DAYS: (3, [3, 2, 1])}, None),
    ("2024-11", ["--versus", "2024-10"], {NOV: (4, [4, 2, 1]), OCT_SAME_DAYS: (3, [3, 2, 1])},
     None),
    # the other way round: the finished month is cut to the days the other one has
    ("2024-10", ["--versus", "2024-11"], {OCT_SAME_DAYS: (3, [3, 2, 1]), NOV: (4, [4, 2, 1])},
     None),
    # finished periods compare whole
    ("2024-10", [], {"2024-10": (5, [4, 3, 1]), "2024-09": (1, [1, 1, 1])}, None),
    ("2024-Q4", [], {"2024-Q4 to date (1 Oct–16 Nov)": (9, [8, 5, 2])},
     "note: No deal was created in 2024-Q3 (1 Jul–16 Aug): no funnel to compare "
     "2024-Q4 to date (1 Oct–16 Nov) with."),
]  # fmt: skip


@pytest.mark.parametrize(("period", "extra", "blocks", "note"), BY_PERIOD)
def test_funnel_by_period_compares_a_period_to_date_with_the_same_days(
    book: Path,
    capsys: pytest.CaptureFixture[str],
    period: str,
    extra: list[str],
    blocks: dict[str, tuple[int, list[int]]],
    note: str | None,
) -> None:
    """November to 16 Nov against 1-16 Oct (3 deals), never against all of October (5)."""
    rows, err = report(capsys, book, "--period", period, "--by", "period", *extra)
    got: dict[str, tuple[int, list[int]]] = {}
    for row in rows:
        deals, reached = got.setdefault(row["group"], (int(row["deals"]), []))
        reached.append(int(row["reached"]))
    assert got == blocks
    if note is not None:
        assert note in err


@pytest.mark.parametrize(
    ("period", "note"),
    [
        ("2024-11", "note: 2024-11 was not over on 16 Nov 2024, the data's date: this funnel "
         "follows the deals created in 2024-11 to date (1–16 Nov)."),
        ("2024-10", None),
    ],
)  # fmt: skip
def test_the_single_funnel_says_it_is_to_date(
    book: Path, capsys: pytest.CaptureFixture[str], period: str, note: str | None
) -> None:
    rows, err = report(capsys, book, "--period", period)
    assert [int(r["reached"]) for r in rows] == ([4, 2, 1] if period == "2024-11" else [4, 3, 1])
    if note is None:
        assert not any("was not over" in line for line in err), err
    else:
        assert note in err, err


def test_funnel_page_compares_november_to_date_with_the_same_days_of_october(
    book: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's "Two periods" reads the same blocks and labels as the report, and the
    single funnel's caption names the days its cohort covers."""
    from apptest import assert_clean, open_page

    monkeypatch.setenv("SALES_DB", str(book))
    at = open_page("pages/funnel.py", {"kind": "Month", "period": "2024-11"})
    assert_clean(at)
    captions = [plain(c.value) for c in at.caption]
    assert any(f"Scope: {NOV}." in c and "to 16 Nov 2024" in c for c in captions), captions
    at.selectbox(key="funnel:compare_by").set_value("Two periods").run()
    assert_clean(at)
    assert at.selectbox(key="funnel:versus").options[0] == f"Previous: {OCT_SAME_DAYS}"
    wide = [d.value for d in at.dataframe if "method" in d.value.columns]
    assert [list(w["group"]) for w in wide] == [[NOV, OCT_SAME_DAYS]]
    assert [list(w["deals"]) for w in wide] == [[4, 3]]
