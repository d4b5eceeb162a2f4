"""Approval: a locked month never changes; later data is paid as corrections in the next
open month, once; runs compare line by line; exports escape formula-looking cells.

Fixture and May figures: tests/test_commission_engine.py. The late export adds O-13
(Ann, 2,500, closed 2024-05-25) after May is locked: 10% x 2,500 = 250 more for May.
"""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest
from test_commission_engine import JUNE, MAY, _clawback_plan, load_commission_fixture

from analytics.commissions.approval import (
    is_locked,
    lock_period,
    locks,
    next_open_month,
    record_run,
    run_statements,
    runs,
)
from analytics.commissions.data import load_spiffs, save_reversals, save_spiffs, save_splits
from analytics.commissions.engine import Ledger
from analytics.commissions.lines import Line, Statement
from analytics.commissions.plans import DEFAULT_PLAN, Plan, save_plan
from analytics.commissions.statements import (
    diff_statements,
    explain_change,
    export_bytes,
    statement_frame,
)
from analytics.ingest import import_file
from analytics.scope import Period

FIXTURES = Path(__file__).resolve().parent / "data"
JULY = Period.parse("2024-07")
D = Decimal


@pytest.fixture
def book(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    load_commission_fixture(con, tmp_path)
    return con


def late(con: duckdb.DuckDBPyConnection, tmp_path: Path, name: str, day: date) -> None:
    result = import_file(con, FIXTURES / name, as_of=day, data_dir=tmp_path)
    assert result.ok, result.message


def stored_lines(con: duckdb.DuckDBPyConnection, run_id: int) -> list[tuple]:
    return con.execute(
        "SELECT * FROM commission_statement_lines WHERE run_id = ? ORDER BY rep, line_no",
        [run_id],
    ).fetchall()


def test_lock_freezes_and_corrections_go_to_the_next_open_month_once(
    book: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    before = Ledger(book).payable(MAY)
    run_id = lock_period(book, MAY, by="ops")
    frozen_rows = stored_lines(book, run_id)
    assert is_locked(book, MAY) and not is_locked(book, JUNE)
    assert Ledger(book).payable(MAY) == {
        rep: st.__class__(**{**st.__dict__, "locked": True, "run_id": run_id})
        for rep, st in before.items()
    }

    late(book, tmp_path, "commission_opps_late.csv", date(2024, 6, 10))
    ledger = Ledger(book)
    may = ledger.statement("Ann Lee", MAY)
    assert (may.locked, may.total, may.credited_bookings) == (True, D("1200.00"), D("12000.00"))
    june = ledger.statement("Ann Lee", JUNE)
    assert [(x.kind, x.home_period, x.key, x.amount) for x in june.lines] == [
        ("adjustment", "2024-05", "commission:O-13:0", D("250.00"))
    ]
    assert "(paid 0.00, now 250.00)" in june.lines[0].description
    assert june.prior_adjustments == D("250.00")
    assert next_open_month(book, MAY.start) == JUNE

    lock_period(book, JUNE)  # the 250 is paid (frozen in June) ...
    assert Ledger(book).statement("Ann Lee", JULY).lines == ()  # ... and never again
    late(book, tmp_path, "commission_opps_late_fix.csv", date(2024, 7, 2))
    july = Ledger(book).statement("Ann Lee", JULY)
    # O-13 is now 3,500: 350 for May, 250 of it paid in June -> 100 in July.
    assert [(x.home_period, x.amount) for x in july.lines] == [("2024-05", D("100.00"))]
    assert stored_lines(book, run_id) == frozen_rows  # May's rows were never touched


def test_a_correction_can_take_back(book: duckdb.DuckDBPyConnection) -> None:
    lock_period(book, MAY)
    # After the lock, O-05 is split half to Bob: Dan drops to 15,000 (below quota, 0)
    # and Bob rises to 35,000 (3,500): June corrects both.
    save_splits(book, [{"opportunity_id": "O-05", "rep": "Dan Poe", "share": "0.5"},
                       {"opportunity_id": "O-05", "rep": "Bob Stone", "share": "0.5"}])  # fmt: skip
    ledger = Ledger(book)
    assert ledger.statement("Dan Poe", JUNE).prior_adjustments == D("-3000.00")
    assert ledger.statement("Bob Stone", JUNE).prior_adjustments == D("3500.00")
    assert ledger.statement("Dan Poe", MAY).total == D("3000.00")  # frozen


def _refund(con: duckdb.DuckDBPyConnection, opp: str, day: str) -> None:
    save_reversals(con, [{"opportunity_id": opp, "event_date": day, "kind": "refund"}])


def _export_again(con: duckdb.DuckDBPyConnection, tmp_path: Path, row: str, day: date) -> None:
    """An export of the same deals with one row changed, as of `day`."""
    rows = (FIXTURES / "commission_opps.csv").read_text(encoding="utf-8").splitlines()
    changed = [row if line.split(",")[0] == row.split(",")[0] else line for line in rows]
    path = tmp_path / "commission_opps_again.csv"
    path.write_text("\n".join(changed) + "\n", encoding="utf-8")
    result = import_file(con, path, as_of=day, data_dir=tmp_path)
    assert result.ok, result.message


def test_a_clawback_takes_back_what_the_corrections_left_paid(
    book: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """May pays 10% x 7,000 = 700 on O-01 and is locked. An export of 10 June lowers O-01
    to 6,000: June corrects May by -100 (600 is what O-01 pays in the end). O-01 is then
    refunded on 20 June, 48 days after its close: the clawback takes back 600, not the 700
    the frozen statement shows, so that O-01 nets 700 - 100 - 600 = 0."""
    _clawback_plan(book, 90)
    lock_period(book, MAY)
    assert Ledger(book).statement("Ann Lee", MAY).total == D("1200.00")
    _export_again(book, tmp_path, "O-01,Acme renewal,Acme,Ann Lee,Closed Won,6000,2024-03-01,"
                  "2024-05-03,Platform", date(2024, 6, 10))  # fmt: skip
    _refund(book, "O-01", "2024-06-20")
    june = Ledger(book).statement("Ann Lee", JUNE)
    assert [(x.kind, x.opportunity_id, x.amount) for x in june.lines] == [
        ("clawback", "O-01", D("-600.00")),
        ("adjustment", "O-01", D("-100.00")),
    ]
    assert "600.00 paid in 2024-05 (commission 600.00) taken back" in june.lines[0].description
    assert june.total == D("-700.00")  # all of May's 700 on O-01, and nothing more


def test_a_deal_added_after_the_lock_is_clawed_back_too(
    book: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """O-13 (2,500, closed 25 May) arrives after May is locked: June pays 10% = 250 as a
    correction. Refunded on 20 June, the 250 comes back in the same statement. The frozen
    May statement never had O-13, and the old rule clawed back nothing."""
    _clawback_plan(book, 90)
    lock_period(book, MAY)
    late(book, tmp_path, "commission_opps_late.csv", date(2024, 6, 10))
    _refund(book, "O-13", "2024-06-20")
    june = Ledger(book).statement("Ann Lee", JUNE)
    assert [(x.kind, x.opportunity_id, x.amount) for x in june.lines] == [
        ("clawback", "O-13", D("-250.00")),
        ("adjustment", "O-13", D("250.00")),
    ]
    assert june.total == D("0.00")


def test_roster_changes_after_the_lock_are_not_corrections(
    book: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # Base salary 1,000 for juniors, then lock May.
    junior = DEFAULT_PLAN.rules[0].__class__(**{**DEFAULT_PLAN.rules[0].__dict__,
                                                "base_salary": D(1000)})  # fmt: skip
    save_plan(book, Plan("With base", (junior, DEFAULT_PLAN.rules[1])), date(2024, 5, 1))
    lock_period(book, MAY)
    # Later Ann is promoted to senior (her 12,000 would be below a senior quota) and Cara
    # leaves. The roster has no history: May stays as approved, June corrects nothing.
    late(book, tmp_path, "commission_reps_later.csv", date(2024, 6, 15))
    ledger = Ledger(book)
    assert ledger.statement("Ann Lee", JUNE).prior_adjustments == D("0.00")
    assert ledger.statement("Ann Lee", JUNE).level == "senior"
    assert ledger.statement("Cara Diaz", JUNE) is None  # left: no base for June
    assert ledger.statement("Ann Lee", MAY).total == D("2200.00")  # 1,000 + 1,200, frozen


def test_a_month_is_locked_once(book: duckdb.DuckDBPyConnection) -> None:
    lock_period(book, MAY)
    with pytest.raises(ValueError, match="already locked"):
        lock_period(book, MAY)
    with pytest.raises(ValueError, match="paid per month"):
        lock_period(book, Period.parse("2024-Q2"))
    listing = locks(book)
    assert listing[["period", "reps"]].to_dict("records") == [{"period": "2024-05", "reps": 4}]
    assert listing["total"].iloc[0] == pytest.approx(5100)  # 1,200 + 0 + 900 + 3,000


def test_a_new_plan_after_the_lock_pays_only_later_months(book: duckdb.DuckDBPyConnection) -> None:
    lock_period(book, MAY)
    generous = Plan("Generous", tuple(r.__class__(**{**r.__dict__, "threshold": D(0)})
                                      for r in DEFAULT_PLAN.rules))  # fmt: skip
    save_plan(book, generous, date(2024, 6, 1))
    ledger = Ledger(book)
    assert ledger.statement("Bob Stone", MAY).total == D("0.00")  # frozen, old plan
    assert ledger.statement("Bob Stone", JUNE).lines == ()  # June has no deal of Bob's
    assert ledger.statement("Bob Stone", JUNE).plan_name == "Generous v1 · Senior"


def test_runs_explain_why_a_payout_changed(book: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    first = record_run(book, MAY, note="before the late export")
    late(book, tmp_path, "commission_opps_late.csv", date(2024, 6, 10))
    second = record_run(book, MAY)
    assert runs(book, MAY)["run_id"].tolist() == [second, first]
    a = run_statements(book, first)["Ann Lee"]
    b = run_statements(book, second)["Ann Lee"]
    diff = diff_statements(a, b)
    assert diff[["key", "before", "after", "change", "status"]].to_dict("records") == [
        {"key": "commission:O-13:0", "before": None, "after": D("250.00"),
         "change": D("250.00"), "status": "added"},
    ]  # fmt: skip
    assert explain_change(a, b) == (
        "The payout went from 1,200.00 to 1,450.00 (+250.00): 1 line added; "
        "credited bookings 12,000.00 -> 14,500.00."
    )
    assert explain_change(b, b) == "Nothing changed: the payout is 1,450.00 in both runs."
    # Against the current data, nothing has moved since the second run.
    assert diff_statements(b, Ledger(book).statement("Ann Lee", MAY)).empty


def test_diff_shows_changed_and_removed_lines() -> None:
    def statement(*lines: tuple[str, str]) -> Statement:
        return Statement("Ann", "2024-05", date(2024, 5, 1), D(0), tuple(
            Line("commission", key, key, D(amount), "2024-05") for key, amount in lines
        ))  # fmt: skip

    diff = diff_statements(statement(("a", "10"), ("b", "5")), statement(("a", "12")))
    assert diff[["key", "change", "status"]].to_dict("records") == [
        {"key": "a", "change": D(2), "status": "changed"},
        {"key": "b", "change": D(-5), "status": "removed"},
    ]


# --- exports ------------------------------------------------------------------------------------

NASTY = '=HYPERLINK("http://x","pay me")'


def _nasty_statement() -> Statement:
    lines = (
        Line("commission", "commission:O-1:0", "+1+2 deal", D("100.00"), "2024-05",
             opportunity_id="@O-1", band="-band"),
        Line("clawback", "clawback:x", "Clawback", D("-40.00"), "2024-05"),
    )  # fmt: skip
    return Statement(NASTY, "2024-05", date(2024, 5, 1), D("1000.00"), lines)


def test_statement_export_escapes_formula_cells() -> None:
    frame = statement_frame(_nasty_statement())
    text = export_bytes(frame, "csv").decode("utf-8-sig")
    back = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    assert set(back["rep"]) == {"'" + NASTY}
    assert back["description"].iloc[0] == "'+1+2 deal"
    assert back["opportunity_id"].iloc[0] == "'@O-1"
    assert back["band"].iloc[0] == "'-band"
    assert back["amount"].tolist()[:2] == ["100.00", "-40.00"]  # numbers stay numbers
    assert back["kind"].iloc[-1] == "total" and back["amount"].iloc[-1] == "60.00"

    book = openpyxl.load_workbook(io.BytesIO(export_bytes(frame, "xlsx", "statement")))
    cells = [c for row in book.active.iter_rows() for c in row]
    assert not [c for c in cells if c.data_type == "f"]
    assert any(c.value == "'" + NASTY for c in cells)
    amounts = [c.value for c in cells if c.data_type == "n"]
    assert -40 in amounts  # a number cell, not the text "-40.00"


def test_unknown_export_format() -> None:
    with pytest.raises(ValueError, match="csv or xlsx"):
        export_bytes(pd.DataFrame(), "pdf")


def test_deleting_a_spiff_a_locked_month_paid_is_refused(book: duckdb.DuckDBPyConnection) -> None:
    """May's Analytics SPIFF paid Ann 150 on O-02 (tests/test_commission_engine.py). Once
    May is locked, deleting the ended SPIFF to tidy the list would claw the 150 back in
    June: the save is refused, names the SPIFF and the month, and changes nothing. A SPIFF
    no locked month paid can still go, and editing a paid one stays a correction."""
    spiff = {"spiff_id": "S1", "name": "Analytics <b>push</b>", "product": "analytics",
             "start_date": "2024-05-01", "end_date": "2024-05-31", "amount_per_deal": "100",
             "rate": "0.01"}  # fmt: skip
    unpaid = {**spiff, "spiff_id": "S2", "name": "Never paid", "product": "nothing"}
    save_spiffs(book, [spiff, unpaid])
    lock_period(book, MAY)
    with pytest.raises(ValueError) as refused:
        save_spiffs(book, [])
    assert str(refused.value) == (
        "SPIFF 'S1' (Analytics <b>push</b>) is paid in locked months (2024-05): deleting it "
        "would take back what it paid there in the next open month. Keep its row: it pays "
        "nothing after its end date"
    )
    assert list(load_spiffs(book)["spiff_id"]) == ["S1", "S2"]  # nothing changed
    assert Ledger(book).statement("Ann Lee", JUNE).prior_adjustments == D("0.00")
    save_spiffs(book, [spiff])  # S2 paid nothing locked: it may go
    assert list(load_spiffs(book)["spiff_id"]) == ["S1"]
    save_spiffs(book, [{**spiff, "amount_per_deal": "50"}])  # a deliberate edit: corrected
    assert Ledger(book).statement("Ann Lee", JUNE).prior_adjustments == D("-50.00")


def test_a_spiff_paid_through_a_correction_cannot_be_deleted_either(
    book: duckdb.DuckDBPyConnection,
) -> None:
    """May is locked before the SPIFF exists; June pays its 150 as May's correction and is
    locked too. Deleting it would take that back in July (a reviewer's case): refused,
    naming June, where it was paid."""
    spiff = {"spiff_id": "S1", "name": "Analytics push", "product": "analytics",
             "start_date": "2024-05-01", "end_date": "2024-05-31", "amount_per_deal": "100",
             "rate": "0.01"}  # fmt: skip
    lock_period(book, MAY)
    save_spiffs(book, [spiff])
    assert Ledger(book).statement("Ann Lee", JUNE).prior_adjustments == D("150.00")
    lock_period(book, JUNE)
    with pytest.raises(ValueError, match=r"SPIFF 'S1' \(Analytics push\) is paid in locked "
                       r"months \(2024-06\)"):  # fmt: skip
        save_spiffs(book, [])
    assert list(load_spiffs(book)["spiff_id"]) == ["S1"]


def test_a_spiff_id_that_begins_another_is_not_mistaken_for_it(
    book: duckdb.DuckDBPyConnection,
) -> None:
    """'S1:x' paid in May, 'S1' never paid: deleting 'S1' is allowed (its key spiff:S1:...
    begins the other's, spiff:S1:x:O-02)."""
    paid = {"spiff_id": "S1:x", "name": "Paid", "product": "analytics",
            "start_date": "2024-05-01", "end_date": "2024-05-31",
            "amount_per_deal": "100"}  # fmt: skip
    never = {**paid, "spiff_id": "S1", "name": "Never paid", "product": "nothing"}
    save_spiffs(book, [paid, never])
    lock_period(book, MAY)
    save_spiffs(book, [paid])
    assert list(load_spiffs(book)["spiff_id"]) == ["S1:x"]
    with pytest.raises(ValueError, match="SPIFF 'S1:x'"):
        save_spiffs(book, [])
