"""A statement file writes each value alike, open or locked (found by a new user reading
a downloaded statement): a locked month's lines, read back from the database, said share
1.000000000000, rate 0.05000000 and multiplier 1.00000000 where the same line of the open
month said 1, 0.05 and 1; a band's part of a deal said 2000.000 next to 12000.00.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

from test_commission_engine import load_commission_fixture

from analytics import db
from analytics.cli import main
from analytics.commissions.approval import lock_period
from analytics.commissions.plans import plan_from_json, save_plan
from analytics.scope import Period

PLAN = """{"name": "Tiered", "rules": [{"name": "Junior AE", "level": "junior",
  "quota": "10000", "tiers": [{"from_attainment": "0", "rate": "0.05"},
  {"from_attainment": "1", "rate": "0.10"}],
  "accelerators": [{"from_attainment": "1.2", "multiplier": "2"}]}]}"""
TRAILING_ZEROS = re.compile(r"^-?\d+\.\d*000$")


def lines(path: Path, capsys) -> list[dict[str, str]]:
    args = ["report", "commissions", "--db", str(path), "--period", "2024-05"]
    assert main([*args, "--table", "lines"]) == 0
    return list(csv.DictReader(io.StringIO(capsys.readouterr().out)))


def test_statement_values_read_alike_open_and_locked(tmp_path: Path, capsys) -> None:
    path = tmp_path / "sales.duckdb"
    con = db.connect(path)
    try:
        load_commission_fixture(con, tmp_path / "store")
        save_plan(con, plan_from_json(PLAN), date(2024, 1, 1))
    finally:
        con.close()
    before = lines(path, capsys)
    con = db.connect(path)
    try:
        lock_period(con, Period.parse("2024-05"), by="ops")
    finally:
        con.close()
    after = lines(path, capsys)
    assert len(before) == len(after)
    for a, b in zip(before, after, strict=True):
        if a["kind"] == "total":
            continue  # the sentence says "(locked)"
        assert a == b
    cells = [v for row in before + after for k, v in row.items() if k != "description"]
    assert not [c for c in cells if TRAILING_ZEROS.match(c)]
    assert any(r["band"].startswith("100%") for r in before)  # a deal split over bands
