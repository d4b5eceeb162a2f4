"""Attainment is rounded halves away from zero, as every commission figure (cents.py).

Found by a new user checking a statement by hand: 13,234.50 credited on a 10,000.00 quota
is 132.345%; the statement sentence said 132.34% and the summary 1.3234 (the Decimal
default, halves to even), while every amount on the statement rounds halves up.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from test_commission_engine import FIXTURES

from tests.report_cli import import_texts, report

DEALS = (
    "opportunity_id,opportunity_name,account,owner,stage,amount,created_date,close_date\n"
    'D-01,Acme renewal,Acme,Ann Lee,Closed Won,"$1,234.50",2024-03-01,2024-05-03\n'
    'D-02,Birch upsell,Birch,Ann Lee,Closed Won,"$12,000.00",2024-03-05,2024-05-20\n'
)


def test_attainment_rounds_half_up(tmp_path: Path, capsys) -> None:
    reps = (FIXTURES / "commission_reps.csv").read_text(encoding="utf-8")
    files = [("commission_reps.csv", reps, None), ("deals.csv", DEALS, None)]
    path = import_texts(tmp_path, files, date(2024, 6, 5))
    (ann,), _ = report(capsys, path, "commissions", "--period", "2024-05", "--rep", "Ann Lee")
    assert ann["credited_bookings"] == "13234.50" and ann["quota"] == "10000.00"
    assert ann["attainment"] == "1.3235"
    rows, _ = report(
        capsys, path, "commissions", "--period", "2024-05", "--rep", "Ann Lee", "--table", "lines"
    )
    sentence = next(r["description"] for r in rows if r["kind"] == "total")
    assert "(132.35% of the 10,000.00 quota" in sentence, sentence
