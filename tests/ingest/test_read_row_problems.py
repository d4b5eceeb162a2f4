"""Values the reader would have dropped without a word are row problems (issue 17.4).

- an .xlsx formula cell with no saved value (openpyxl reads it as empty);
- a CSV row that ends early (after Stage): its amount and dates were loaded blank;
- two columns with the same header: the second was ignored.

Each is a problem naming the row and the column, so the file is refused, or with
"load the valid rows" those rows are rejected and counted in `imports.rows_rejected`.
All files are written by the tests.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from openpyxl import Workbook

from analytics.ingest import ImportResult
from analytics.ingest.stage import FORMULA_PROBLEM, SHORT_ROW_PROBLEM

HEADER = ["opportunity_id", "opportunity_name", "account", "owner", "stage", "amount"]


def write_xlsx(path: Path, rows: list[list[Any]], *, cache: dict[str, str] | None = None) -> Path:
    """A workbook as openpyxl writes it: formulas ('=...') carry no saved value, unless
    `cache` gives one for a cell (coordinate -> the <v> XML Excel would have written)."""
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    data = buffer.getvalue()
    if cache:
        out = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
            for item in src.infolist():
                body = src.read(item.filename)
                if item.filename == "xl/worksheets/sheet1.xml":
                    text = body.decode()
                    for ref, saved in cache.items():
                        text, n = re.subn(
                            rf'<c r="{ref}"([^>]*)><f>([^<]*)</f><v ?/>',
                            rf'<c r="{ref}"\1>{saved}',
                            text,
                        )
                        assert n == 1, ref
                    body = text.encode()
                dst.writestr(item, body)
        data = out.getvalue()
    path.write_bytes(data)
    return path


def imports_row(con: duckdb.DuckDBPyConnection, import_id: int) -> tuple:
    return con.execute(
        "SELECT rows_read, rows_loaded, rows_rejected FROM imports WHERE import_id = ?",
        [import_id],
    ).fetchone()


# -- formula cells without a saved value ------------------------------------------------------


def test_formula_cells_without_a_saved_value_are_named_by_row_and_column(
    run_import: Callable[..., ImportResult],
    fingerprint: Callable[[], dict],
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
) -> None:
    path = write_xlsx(
        tmp_path / "formulas.xlsx",
        [
            HEADER,
            ["F-1", "Deal 1", "Acme", "Ana Ruiz", "Discovery", 1000],
            ["F-2", "Deal 2", "Globex", "=B1", "Discovery", "=F2*2"],
            ["F-3", "Deal 3", "Initech", "Ben Okafor", "Qualified", "=SUM(F2:F3)"],
        ],
    )
    before = fingerprint()
    refused = run_import(path)
    assert refused.status == "refused", refused.message
    named = sorted((p.line, p.column) for p in refused.problems if p.problem == FORMULA_PROBLEM)
    assert named == [(3, "amount"), (3, "owner"), (4, "amount")]
    assert refused.problem_totals[FORMULA_PROBLEM] == 3
    assert fingerprint() == before

    partial = run_import(path, keep_valid=True)
    assert partial.status == "partial", partial.message
    assert (partial.rows_loaded, partial.rows_rejected) == (1, 2)
    assert imports_row(con, partial.import_id) == (3, 1, 2)
    quarantined = con.execute(
        "SELECT line, column_name FROM quarantine WHERE import_id = ? ORDER BY ALL",
        [partial.import_id],
    ).fetchall()
    assert quarantined == [(3, "amount"), (3, "owner"), (4, "amount")]


def test_formulas_with_saved_values_and_in_unmapped_columns_load(
    run_import: Callable[..., ImportResult],
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
) -> None:
    """What Excel writes after a recalculation (a number, or an empty text result) loads as
    the saved value; a formula in a column nobody imports is no problem."""
    path = write_xlsx(
        tmp_path / "saved.xlsx",
        [
            [*HEADER, "Scratch"],
            ["S-1", "Deal 1", "Acme", "Ana Ruiz", "Discovery", "=500*3", "=A1"],
            ["S-2", "Deal 2", '=IF(1=1,"","x")', "Ana Ruiz", "Discovery", 10, "=A2"],
        ],
        cache={"F2": "<f>500*3</f><v>1500</v>", "C3": '<f>IF(1=1,"","x")</f><v></v>'},
    )
    # the text result needs t="str", as Excel writes it
    data = path.read_bytes()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(b'<c r="C3">', b'<c r="C3" t="str">')
            dst.writestr(item, body)
    path.write_bytes(out.getvalue())
    result = run_import(path)
    assert result.status == "loaded", result.message
    rows = con.execute(
        "SELECT opportunity_id, account, amount FROM opportunities ORDER BY 1"
    ).fetchall()
    assert rows == [("S-1", "Acme", 1500), ("S-2", None, 10)]


def test_xlsx_rows_are_named_by_their_sheet_row_below_a_title(
    run_import: Callable[..., ImportResult], tmp_path: Path
) -> None:
    """Two blank rows above the header: the problem names the row Excel shows (4), not
    the fourth record's position."""
    path = write_xlsx(
        tmp_path / "titled.xlsx",
        [[None], [None], HEADER, ["T-1", "Deal", "Acme", "Ana", "Discovery", "=1/0"]],
    )
    result = run_import(path)
    assert result.status == "refused", result.message
    assert [(p.line, p.column) for p in result.problems] == [(4, "amount")]


# -- rows that end early ----------------------------------------------------------------------


def test_a_row_ending_after_stage_names_the_row_and_the_missing_columns(
    run_import: Callable[..., ImportResult],
    fingerprint: Callable[[], dict],
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
) -> None:
    path = tmp_path / "short.csv"
    path.write_text(
        "opportunity_id,account,stage,amount,close_date\n"
        "R-1,Acme,Discovery,1000,2024-06-30\n"
        "R-2,Globex,Qualified\n"  # ends after Stage
        "R-3,Initech,Discovery,,\n",  # empty cells, written: not short
        encoding="utf-8",
    )
    before = fingerprint()
    refused = run_import(path)
    assert refused.status == "refused", refused.message
    assert sorted((p.line, p.column, p.problem) for p in refused.problems) == [
        (3, "amount", SHORT_ROW_PROBLEM),
        (3, "close_date", SHORT_ROW_PROBLEM),
    ]
    assert "row 3, column 'amount': is missing" in refused.message
    assert fingerprint() == before

    partial = run_import(path, keep_valid=True)
    assert partial.status == "partial", partial.message
    assert imports_row(con, partial.import_id) == (3, 2, 1)
    assert con.execute("SELECT opportunity_id FROM opportunities ORDER BY 1").fetchall() == [
        ("R-1",),
        ("R-3",),
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "cp1251", "utf-16"])
def test_short_rows_are_found_in_every_read_path(
    run_import: Callable[..., ImportResult], tmp_path: Path, encoding: str
) -> None:
    """UTF-8 is read in place; legacy code pages and UTF-16 through a numbered copy."""
    path = tmp_path / f"short-{encoding}.csv"
    path.write_bytes(
        "opportunity_id;account;stage;amount\nК-1;Иванов;Discovery;10\nК-2;Петров\n".encode(
            encoding
        )
    )
    result = run_import(path)
    assert result.status == "refused", result.message
    assert {(p.line, p.column) for p in result.problems} == {(3, "stage"), (3, "amount")}


def test_a_salesforce_footer_is_still_not_a_short_row(
    run_import: Callable[..., ImportResult], tmp_path: Path
) -> None:
    path = tmp_path / "report.csv"
    path.write_text(
        '"Opportunity Name","Stage","Amount"\n"Big deal","Discovery","100"\n\n'
        '"Grand Totals (1 records)"\n"Confidential Information - Do Not Distribute"\n',
        encoding="utf-8",
    )
    result = run_import(path)
    assert result.status == "loaded", result.message


# -- two columns with one name ---------------------------------------------------------------


def test_two_amount_columns_that_differ_are_refused_naming_both_positions(
    run_import: Callable[..., ImportResult],
    fingerprint: Callable[[], dict],
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
) -> None:
    path = tmp_path / "two-amounts.csv"
    path.write_text(
        "opportunity_id,stage,Amount,account,Amount\n"
        "D-1,Discovery,100,Acme,100\n"
        "D-2,Discovery,200,Globex,250\n"
        "D-3,Discovery,,Initech,300\n",
        encoding="utf-8",
    )
    before = fingerprint()
    refused = run_import(path)
    assert refused.status == "refused", refused.message
    problem = (
        "two columns are named 'Amount' (columns 3 and 5) and they differ in this row; "
        "keep one of them"
    )
    assert [(p.line, p.column, p.value, p.problem) for p in refused.problems] == [
        (3, "Amount", "200 / 250", problem),
        (4, "Amount", "(empty) / 300", problem),
    ]
    assert fingerprint() == before
    partial = run_import(path, keep_valid=True)
    assert imports_row(con, partial.import_id) == (3, 1, 2)


def test_identical_duplicate_columns_load_with_a_note(
    run_import: Callable[..., ImportResult], con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "same.csv"
    path.write_text(
        "opportunity_id,stage,amount,AMOUNT\nI-1,Discovery,100,100\nI-2,Discovery,,\n",
        encoding="utf-8",
    )
    result = run_import(path)
    assert result.status == "loaded", result.message
    assert "column 4 is a second 'amount' with the same values as column 3; it was ignored" in (
        result.message
    )
    assert con.execute("SELECT sum(amount) FROM opportunities").fetchone()[0] == 100


def test_duplicate_columns_in_an_xlsx_are_compared_too(
    run_import: Callable[..., ImportResult], tmp_path: Path
) -> None:
    path = write_xlsx(
        tmp_path / "dup.xlsx",
        [["opportunity_id", "stage", "owner", "owner"], ["X-1", "Discovery", "Ana", "Ben"]],
    )
    result = run_import(path)
    assert result.status == "refused", result.message
    assert "(columns 3 and 4)" in result.problems[0].problem
    assert result.problems[0].line == 2
