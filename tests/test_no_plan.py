"""A rep whom no plan covers is "no plan" with the reason and the fix, never paid 0.00
(issue 13, item 2): on the engine's summary, in `report commissions` and on the page.

The fixture is the commission fixture's deals with a roster that has no level column, so
the default plan (rules for level junior and senior only) covers nobody.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from apptest import assert_clean, metric, open_page
from test_commission_engine import FIXTURES, run_cli

from analytics import db
from analytics.commissions.approval import lock_period
from analytics.commissions.engine import Ledger
from analytics.commissions.statements import explain
from analytics.commissions.team import MonthTotals, TeamSummary, team_table
from analytics.ingest import import_file
from analytics.markup import plain
from analytics.scope import Period, Scope

ROSTER_NO_LEVEL = (
    "rep,manager,team,region,role\n"
    "Ann Lee,Maria Boss,East,EMEA,AE\n"
    "Bob Stone,Maria Boss,East,EMEA,AE\n"
    "Cara Diaz,Tom Chief,West,AMER,AE\n"
    "Dan Poe,Tom Chief,West,AMER,AE\n"
)
# every rep at a level the default plan has no rule for: the rule is missing, not the level
ROSTER_PRINCIPAL = ROSTER_NO_LEVEL.replace("role\n", "role,level\n").replace(
    "AE\n", "AE,principal\n"
)
MAY = Period.parse("2024-05")


def load_levelless(con: duckdb.DuckDBPyConnection, tmp_path: Path, roster: str) -> None:
    roster_file = tmp_path / "reps.csv"
    roster_file.write_text(roster, encoding="utf-8")
    for path in (roster_file, FIXTURES / "commission_opps.csv"):
        result = import_file(con, path, as_of=date(2024, 6, 5), data_dir=tmp_path / "store")
        assert result.ok, result.message


@pytest.mark.parametrize(
    ("roster", "rep", "reason_part"),
    [
        (ROSTER_NO_LEVEL, "Ann Lee", "no level on the roster"),
        (ROSTER_PRINCIPAL,
         "Bob Stone", "no rule of Default plan v0 covers role AE / level principal"),
    ],
)  # fmt: skip
def test_team_table_lists_no_plan_with_reason(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, roster: str, rep: str, reason_part: str
) -> None:
    load_levelless(con, tmp_path, roster)
    table = team_table(con, Scope(MAY)).set_index("rep")
    row = table.loc[rep]
    assert row["plan"] == "no plan"
    assert reason_part in row["no_plan_reason"]
    assert row["total"] is None and row["commission"] is None  # never a payout of 0.00
    assert row["credited_bookings"] > 0  # the deals are still credited and shown
    assert Ledger(con).no_plan_reason(rep, MAY) == row["no_plan_reason"]


def test_a_locked_month_keeps_its_no_plan_reason(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Once May is locked, Ann (no level, so no plan) still reads "no plan" with the
    reason the lock recorded, not a payout of 0.00 (a new user's locked month did, in the
    summary and so in the payroll export). Giving her a level afterwards does not change
    the locked month."""
    load_levelless(con, tmp_path, ROSTER_NO_LEVEL)
    before = team_table(con, Scope(MAY)).set_index("rep").loc["Ann Lee"]
    lock_period(con, MAY, by="ops")
    fixed = tmp_path / "reps_fixed.csv"
    fixed.write_text(ROSTER_NO_LEVEL.replace("role\n", "role,level\n")
                     .replace("AE\n", "AE,junior\n"), encoding="utf-8")  # fmt: skip
    result = import_file(con, fixed, as_of=date(2024, 6, 20), data_dir=tmp_path / "store")
    assert result.ok, result.message
    row = team_table(con, Scope(MAY)).set_index("rep").loc["Ann Lee"]
    assert row["plan"] == "no plan"
    assert "no level on the roster" in row["no_plan_reason"]
    assert row["no_plan_reason"] == before["no_plan_reason"]
    assert row["total"] is None and row["commission"] is None
    assert row["credited_bookings"] == before["credited_bookings"] > 0


def test_rep_missing_from_roster_is_named_so(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Cara Diaz (a won deal in May) is not on a roster that has levels: the reason said
    "no level on the roster ... add the rep's level to the reps roster" (found with an
    owner spelt 'ann lee' on a later export, 'Ann Lee' on the roster) and her statement's
    note said "No rule covers role — / level —". Both now say she is not on the roster."""
    roster = ROSTER_NO_LEVEL.replace("role\n", "role,level\n").replace("AE\n", "AE,junior\n")
    load_levelless(con, tmp_path, roster.replace("Cara Diaz,Tom Chief,West,AMER,AE,junior\n", ""))
    table = team_table(con, Scope(MAY)).set_index("rep")
    reason = table.loc["Cara Diaz", "no_plan_reason"]
    assert reason.startswith("not on the reps roster"), reason
    assert "no level on the roster" not in reason
    st = Ledger(con).statement("Cara Diaz", MAY)
    notes = [x.description for x in st.lines if x.kind == "note"]
    assert any("not on the reps roster" in n for n in notes), notes
    assert table.loc["Ann Lee", "plan"] != "no plan"


def test_no_level_reason_names_the_fix(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    load_levelless(con, tmp_path, ROSTER_NO_LEVEL)
    reason = Ledger(con).no_plan_reason("Ann Lee", MAY)
    assert reason is not None
    assert "import it again" in reason and "default rate" in reason


def test_covered_rep_has_no_reason(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    load_levelless(con, tmp_path, ROSTER_NO_LEVEL.replace("role\n", "role,level\n").replace(
        "AE\n", "AE,junior\n"))  # fmt: skip
    table = team_table(con, Scope(MAY)).set_index("rep")
    assert table.loc["Ann Lee", "plan"] != "no plan"
    assert table["no_plan_reason"].isna().all()


def test_report_command_says_no_plan(tmp_path: Path) -> None:
    path = tmp_path / "levelless.duckdb"
    con = db.connect(path)
    try:
        load_levelless(con, tmp_path, ROSTER_NO_LEVEL)
    finally:
        con.close()
    done = run_cli("--db", str(path), "--period", "2024-05", "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = {r["rep"]: r for r in csv.DictReader(io.StringIO(done.stdout))}
    ann = rows["Ann Lee"]
    assert ann["plan"] == "no plan"
    assert ann["total"] == "" and ann["commission"] == ""  # not 0.00
    assert "no level on the roster" in ann["no_plan_reason"]


def test_commissions_page_lists_no_plan_reps_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "levelless.duckdb"
    con = db.connect(path)
    try:
        load_levelless(con, tmp_path, ROSTER_NO_LEVEL)
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    at = open_page("pages/commissions.py", {"kind": "Month", "period": "2024-05"})
    assert_clean(at)
    warnings = [plain(w.value) for w in at.warning]
    assert any("4 reps have no plan" in w and "no level on the roster" in w for w in warnings)
    frame = next(d.value for d in at.dataframe if "no_plan_reason" in d.value.columns)
    assert set(frame["plan"]) == {"no plan"}
    assert frame["total"].isna().all()  # shown as —, never 0.00
    # nobody is covered: no total, not 0.00, and the card says why
    assert metric(at, "Total payout") == "no data"
    assert metric(at, "Commission") == "no data"
    captions = [plain(c.value) for c in at.caption]
    assert (
        "No data: the 4 reps in view have no plan, so no payout is computed (why and how "
        "to fix it: below)" in captions
    )


@pytest.mark.parametrize(
    ("total", "uncovered", "note"),
    [
        (Decimal("10.00"), (), None),  # a payout: nothing to explain
        (Decimal("10.00"), (("Ann", "no level"),), None),  # some paid, one not: the list says
        (None, (("Ann", "no level"),), "the rep in view has no plan, so no payout is computed"),
        (None, (("Ann", "x"), ("Bo", "y")), "the 2 reps in view have no plan, so no payout"),
        (None, (), "no rep in view is paid under a plan this month"),
    ],
)
def test_payout_note_says_why_the_total_is_missing(
    total: Decimal | None, uncovered: tuple[tuple[str, str], ...], note: str | None
) -> None:
    summary = TeamSummary(total, total, 0, 0, False, uncovered)
    if note is None:
        assert summary.payout_note is None
    else:
        assert summary.payout_note is not None and summary.payout_note.startswith(note)


def test_rep_statement_and_month_line_say_no_plan_not_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rep's own statement, the what-if cards and the month line: "no plan", not 0.00.

    Why: with the summary fixed, a German export with no levels still showed "Total 0.00",
    "Commission 0.00" (under the summary's "Commission: no data"), "Payout now 0.00" and
    "2026-10 is open: 3 statements, total 0.00" for reps no rule covers.
    """
    path = tmp_path / "levelless.duckdb"
    con = db.connect(path)
    try:
        load_levelless(con, tmp_path, ROSTER_NO_LEVEL)
        statement = Ledger(con).statement("Ann Lee", MAY)
    finally:
        con.close()
    assert statement is not None and statement.no_plan
    assert explain(statement).startswith(
        "Ann Lee has no plan for 2024-05, so no payout is computed: no commission rule covers"
    )
    monkeypatch.setenv("SALES_DB", str(path))
    at = open_page("pages/commissions.py", {"kind": "Month", "period": "2024-05"})
    assert_clean(at)
    cards = [(m.label, m.value) for m in at.metric]
    for label in ("Total", "Payout now", "Projected payout"):
        assert (label, "no plan") in cards, cards
    assert ("Commission", "no plan") in cards and ("Commission", "0.00") not in cards
    assert not any(value == "0.00" for _, value in cards), cards
    texts = [plain(m.value) for m in at.markdown]
    assert (
        "2024-05 is open: 4 statements, none computed: no plan covers these reps (see above)."
        in texts
    )


@pytest.mark.parametrize(
    ("statements", "no_plan", "corrections", "text"),
    [
        (3, 0, "0", "M is open: 3 statements, total 12.00."),
        (3, 1, "0", "M is open: 3 statements (1 with no plan, nothing computed), total 12.00."),
        (3, 3, "0",
         "M is open: 3 statements, none computed: no plan covers these reps (see above)."),
        (2, 0, "2",
         "M is open: 2 statements, total 12.00, including 2.00 of corrections of locked months."),
    ],
)  # fmt: skip
def test_month_line(statements: int, no_plan: int, corrections: str, text: str) -> None:
    totals = MonthTotals(statements, Decimal("12.00"), Decimal(corrections), no_plan)
    assert totals.describe("M", lambda d: f"{d:,.2f}") == text
