"""The import's fast paths give the answers the slow ones gave (issue 15.1).

- rows are numbered from their position in the cells' table (rowid), not a window over
  the read, so a row after a deleted empty or footer row must keep its spreadsheet row;
- a file with fewer lines than the row limit is read without a LIMIT, so the limit is
  still enforced by the count after the read;
- text amounts are parsed, their currency read and their decimal style checked once per
  distinct value, then joined back: every row holding a value gets its result;
- repeated ids are found by a count of keys first, then numbered only among repeats.

All files are written by the tests; the database is a real DuckDB file.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from analytics.ingest import ImportResult
from analytics.settings import UploadLimits

HEADER = "Opportunity ID,Opportunity Name,Account Name,Opportunity Owner,Stage,Amount,Close Date"


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def row(n: int, amount: str = '"1,200.00"', close: str = "03/15/2024") -> str:
    return f"006A{n:014d},Deal {n},Acme,Ann Lee,Prospecting,{amount},{close}"


@pytest.mark.parametrize(
    ("filler", "why"),
    [
        (",,,,,,", "a row of empty cells (deleted by the reader)"),
        ("  ,  , ,,,,", "a row of spaces only"),
        ('"Grand Totals (2 records)",,,,,,', "a footer line in the middle"),
    ],
)
def test_row_after_a_dropped_row_keeps_its_spreadsheet_row(
    tmp_path: Path, run_import: Callable[..., ImportResult], filler: str, why: str
) -> None:
    path = write(tmp_path / "deals.csv", [row(1), filler, row(2), row(3, close="13/45/2024")])
    result = run_import(path)
    assert result.status == "refused", why
    (problem,) = result.problems
    # header = row 1, deal 1 = row 2, the dropped row = 3, deal 2 = 4, deal 3 = 5
    assert (problem.line, problem.column, problem.value) == (5, "Close Date", "13/45/2024"), why


@pytest.mark.parametrize(
    ("rows", "limit", "status"),
    [(3, 3, "loaded"), (4, 3, "refused"), (10, 3, "refused")],
)
def test_row_limit_holds_without_a_read_limit(
    tmp_path: Path,
    run_import: Callable[..., ImportResult],
    rows: int,
    limit: int,
    status: str,
) -> None:
    path = write(tmp_path / "deals.csv", [row(i) for i in range(rows)])
    result = run_import(path, limits=UploadLimits(max_rows=limit))
    assert result.status == status
    if status == "refused":
        assert "more than 3 rows" in result.message


def test_text_amounts_parsed_once_per_value_reach_every_row(
    tmp_path: Path, run_import: Callable[..., ImportResult], con: duckdb.DuckDBPyConnection
) -> None:
    amounts = ['"1,200.00"', '"$1,200.00"', '"EUR 1,200.00"', '"1,200.00"', "", '"(300.50)"']
    path = write(tmp_path / "deals.csv", [row(i, a) for i, a in enumerate(amounts)])
    result = run_import(path)
    assert result.status == "loaded", result.message
    got = con.execute(
        "SELECT opportunity_name, amount, currency FROM opportunities ORDER BY opportunity_name"
    ).fetchall()
    assert got == [
        ("Deal 0", Decimal("1200.00"), None),
        ("Deal 1", Decimal("1200.00"), "USD"),
        ("Deal 2", Decimal("1200.00"), "EUR"),
        ("Deal 3", Decimal("1200.00"), None),
        ("Deal 4", None, None),
        ("Deal 5", Decimal("-300.50"), None),
    ]


def test_a_value_in_the_other_decimal_style_is_named_on_every_row_holding_it(
    tmp_path: Path, run_import: Callable[..., ImportResult]
) -> None:
    amounts = ['"1,200.00"', '"1.200,00"', '"2,500.00"', '"1.200,00"', "abc", "abc"]
    path = write(tmp_path / "deals.csv", [row(i, a) for i, a in enumerate(amounts)])
    result = run_import(path)
    assert result.status == "refused"
    found = sorted((p.line, p.value, p.problem.split(" (")[0]) for p in result.problems)
    assert found == [
        (3, "1.200,00", "writes its decimals with ','"),
        (5, "1.200,00", "writes its decimals with ','"),
        (6, "abc", "is not an amount"),
        (7, "abc", "is not an amount"),
    ]


def test_repeated_ids_name_the_first_row(
    tmp_path: Path, run_import: Callable[..., ImportResult]
) -> None:
    lines = [row(1), row(2), row(1), row(3), row(1), row(3)]
    result = run_import(write(tmp_path / "deals.csv", lines))
    assert result.status == "refused"
    found = sorted((p.line, p.problem) for p in result.problems)
    assert found == [
        (4, "repeats the opportunity_id of row 2"),
        (6, "repeats the opportunity_id of row 2"),
        (7, "repeats the opportunity_id of row 5"),
    ]
