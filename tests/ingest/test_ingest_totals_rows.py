"""A totals or subtotal row of an export is left out with a note, not loaded and not refused.

Why: people add a `Total` line under a deals list in a spreadsheet before uploading it, and
report exports end with one (Salesforce summary reports carry `Total` rows in the first
column, /work/shared/export-headers.md 1a). Such a row has no stage, so the whole file used
to be refused ("row 4, column 'Deal Stage': is empty"). A row named like a total that
carries a deal's identity (an owner, a stage, dates) is a deal and still loads. The same
holds in the middle of a file: a summary report's `Total` under each group, a subtotal
under each rep in a spreadsheet (once refused as a deal without a stage).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from openpyxl import Workbook

from analytics.ingest import ImportResult

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HUBSPOT = "Deal Name,Deal Owner,Deal Stage,Amount,Create Date,Close Date"
DEALS = [
    'Acme renewal,Ann Lee,Closed Won,"100,000.00",2026-01-05,2026-02-01',
    'Beta pilot,Bob Ray,Appointment Scheduled,"23,456.00",2026-01-10,2026-03-15',
]

# case -> (rows after the two deals, the deals loaded with their amounts, the note)
TOTALS = {
    "Total with the sum": (
        ['Total,,,"123,456.00",,'],
        {"Acme renewal": 100000, "Beta pilot": 23456},
        "row 4: a totals row ('Total'), left out",
    ),
    "Totals, label only": (
        ["Totals,,,,,"],
        {"Acme renewal": 100000, "Beta pilot": 23456},
        "row 4: a totals row ('Totals'), left out",
    ),
    "Grand Total in capitals with a colon": (
        ['GRAND TOTAL:,,,"123,456.00",,'],
        {"Acme renewal": 100000, "Beta pilot": 23456},
        "row 4: a totals row ('GRAND TOTAL:'), left out",
    ),
    "Sum": (
        ["Sum,,,123456,,"],
        {"Acme renewal": 100000, "Beta pilot": 23456},
        "row 4: a totals row ('Sum'), left out",
    ),
    "Salesforce grand totals with the sum beside it": (
        ['"Grand Totals (2 records)",,,"123,456.00",,'],
        {"Acme renewal": 100000, "Beta pilot": 23456},
        "row 4: a totals row ('Grand Totals (2 records)'), left out",
    ),
    "label in the second column (the first is empty)": (
        [',Total,,"123,456.00",,'],
        {"Acme renewal": 100000, "Beta pilot": 23456},
        "row 4: a totals row ('Total'), left out",
    ),
    "Russian": (
        ['Итого,,,"123,456.00",,'],
        {"Acme renewal": 100000, "Beta pilot": 23456},
        "row 4: a totals row ('Итого'), left out",
    ),
    "German": (
        ['Gesamtsumme,,,"123,456.00",,'],
        {"Acme renewal": 100000, "Beta pilot": 23456},
        "row 4: a totals row ('Gesamtsumme'), left out",
    ),
    "French": (
        ['Total général,,,"123,456.00",,'],
        {"Acme renewal": 100000, "Beta pilot": 23456},
        "row 4: a totals row ('Total général'), left out",
    ),
    "Chinese": (
        ['合计,,,"123,456.00",,'],
        {"Acme renewal": 100000, "Beta pilot": 23456},
        "row 4: a totals row ('合计'), left out",
    ),
    "Korean": (
        ['합계,,,"123,456.00",,'],
        {"Acme renewal": 100000, "Beta pilot": 23456},
        "row 4: a totals row ('합계'), left out",
    ),
    "a subtotal then a grand total": (
        ['Total,,,"123,456.00",,', 'Grand Total,,,"123,456.00",,'],
        {"Acme renewal": 100000, "Beta pilot": 23456},
        "row 4: a totals row ('Total'), left out; row 5: a totals row ('Grand Total'), left out",
    ),
    "a real deal named Total above the totals row still loads": (
        [
            "Total,Cy Moe,Closed Won,500,2026-01-02,2026-01-20",
            'Grand Total,,,"123,956.00",,',
        ],
        {"Acme renewal": 100000, "Beta pilot": 23456, "Total": 500},
        "row 5: a totals row ('Grand Total'), left out",
    ),
    "the totals row followed by a blank line and a Salesforce footer": (
        ['Total,,,"123,456.00",,', "", '"Confidential Information - Do Not Distribute"'],
        {"Acme renewal": 100000, "Beta pilot": 23456},
        "row 4: a totals row ('Total'), left out",
    ),
}


def _totals_notes(result: ImportResult) -> list[str]:
    """The import note's "a totals row" sentences, in order."""
    found = [part.strip() for part in result.note.replace(".", ";").split(";")]
    return [n for n in found if "totals row" in n]


def _loaded(con: duckdb.DuckDBPyConnection) -> dict[str, Decimal]:
    return dict(con.execute("SELECT opportunity_name, amount FROM opportunities").fetchall())


def _nothing_else_kept(con: duckdb.DuckDBPyConnection, result: ImportResult) -> None:
    """The totals row is in no table a figure is read from, and is not a rejected row."""
    assert result.status == "loaded", result.message
    assert result.rows_rejected == 0
    assert con.execute("SELECT count(*) FROM quarantine").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM import_warnings").fetchone() == (0,)


@pytest.mark.parametrize("case", list(TOTALS))
def test_a_trailing_totals_row_is_left_out_with_a_note(
    case: str,
    import_text: Callable[..., ImportResult],
    con: duckdb.DuckDBPyConnection,
) -> None:
    after, deals, note = TOTALS[case]
    text = "\n".join([HUBSPOT, *DEALS, *after]) + "\n"

    result = import_text("hubspot-crm-exports-all-deals-2026-04-01.csv", text)

    _nothing_else_kept(con, result)
    assert note in result.note
    assert "totals row" in result.message
    assert _loaded(con) == {name: Decimal(amount) for name, amount in deals.items()}
    assert result.rows_read == len(deals)
    # the totals row's amount is in no figure: the stored amounts are the deals' own
    assert con.execute("SELECT sum(amount) FROM opportunities").fetchone()[0] == sum(
        Decimal(a) for a in deals.values()
    )


# case -> (the file's rows under the header, the deals loaded, the notes in row order)
MIDDLE = {
    "a Salesforce summary report: a Total under each owner's group": (
        [
            'Ana Ruiz,Acme,Acme deal,Closed Won,"USD 1,000.00",15/01/2026',
            'Ana Ruiz,Initech,Initech deal,Prospecting,"USD 500.00",20/03/2026',
            'Total,-,-,-,"USD 1,500.00",-',
            'Ben Okafor,Globex,Globex deal,Prospecting,"USD 2,000.00",28/02/2026',
            'Total,-,-,-,"USD 2,000.00",-',
            "",
            '"Grand Totals (3 records)"',
        ],
        {"Acme deal": 1000, "Initech deal": 500, "Globex deal": 2000},
        ["row 4: a totals row ('Total'), left out",
         "row 6: a totals row ('Total'), left out"],
    ),
    "a subtotal in a sheet, then a grand total": (
        [
            'Ana Ruiz,Acme,Acme deal,Closed Won,"1,000.00",15/01/2026',
            'Subtotal,,,,"1,000.00",',
            'Ben Okafor,Globex,Globex deal,Prospecting,"2,000.00",28/02/2026',
            'Zwischensumme:,,,,"2,000.00",',
            'Grand Total,,,,"3,000.00",',
        ],
        {"Acme deal": 1000, "Globex deal": 2000},
        ["row 3: a totals row ('Subtotal'), left out",
         "row 5: a totals row ('Zwischensumme:'), left out",
         "row 6: a totals row ('Grand Total'), left out"],
    ),
    "a deal named Subtotal in the middle still loads": (
        [
            'Ana Ruiz,Acme,Subtotal,Closed Won,"1,000.00",15/01/2026',
            'Ben Okafor,Globex,Globex deal,Prospecting,"2,000.00",28/02/2026',
        ],
        {"Subtotal": 1000, "Globex deal": 2000},
        [],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(MIDDLE))
def test_totals_rows_between_groups_are_left_out_with_a_note(
    case: str, import_text: Callable[..., ImportResult], con: duckdb.DuckDBPyConnection
) -> None:
    rows, deals, notes = MIDDLE[case]
    header = "Opportunity Owner,Account Name,Opportunity Name,Stage,Amount,Close Date"
    result = import_text("report.csv", "\n".join([header, *rows]) + "\n")

    _nothing_else_kept(con, result)
    assert _loaded(con) == {name: Decimal(amount) for name, amount in deals.items()}
    assert result.rows_read == len(deals)
    assert _totals_notes(result) == notes


def test_a_salesforce_report_total_row_with_dashes_for_blanks_is_left_out(
    import_text: Callable[..., ImportResult], con: duckdb.DuckDBPyConnection
) -> None:
    # export-headers.md 1a: summary reports carry `Total` rows in the first column, blanks
    # are written '-', amounts 'USD 485,000.00'
    text = (
        "Opportunity Owner,Account Name,Opportunity Name,Stage,Amount,Close Date\n"
        'Ana Ruiz,Acme,Acme deal,Closed Won,"USD 1,000.00",15/01/2026\n'
        'Ben Okafor,Globex,Globex deal,Prospecting,"USD 2,000.00",28/02/2026\n'
        'Total,-,-,-,"USD 3,000.00",-\n'
        "\n"
        '"Grand Totals (2 records)"\n'
    )

    result = import_text("report.csv", text)

    _nothing_else_kept(con, result)
    assert "row 4: a totals row ('Total'), left out" in result.note
    assert _loaded(con) == {"Acme deal": Decimal(1000), "Globex deal": Decimal(2000)}


# the totals cell of a sheet: a number, or a formula a script wrote with no saved value
XLSX_TOTALS = {"a number": 123456, "a formula with no saved value": "=SUM(D2:D3)"}


@pytest.mark.parametrize("total", list(XLSX_TOTALS))
def test_a_trailing_totals_row_in_an_xlsx_is_left_out(
    total: str,
    tmp_path: Path,
    run_import: Callable[..., ImportResult],
    con: duckdb.DuckDBPyConnection,
) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(HUBSPOT.split(","))
    sheet.append(["Acme renewal", "Ann Lee", "Closed Won", 100000, date(2026, 1, 5), None])
    sheet.append(["Beta pilot", "Bob Ray", "Appointment Scheduled", 23456, date(2026, 1, 10), None])
    sheet.append(["Total", None, None, XLSX_TOTALS[total], None, None])
    path = tmp_path / "deals.xlsx"
    book.save(path)

    result = run_import(path, as_of=date(2026, 4, 1))

    _nothing_else_kept(con, result)
    assert "row 4: a totals row ('Total'), left out" in result.note
    assert _loaded(con) == {"Acme renewal": Decimal(100000), "Beta pilot": Decimal(23456)}


def test_the_command_line_names_the_totals_row(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_text("\n".join([HUBSPOT, *DEALS, 'Total,,,"123,456.00",,']) + "\n")
    db = tmp_path / "sales.duckdb"

    done = subprocess.run(
        [sys.executable, "-m", "analytics", "import", str(path), "--db", str(db)],
        cwd=PROJECT_ROOT,
        env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "loaded: 2 of 2 rows" in done.stdout
    assert "row 4: a totals row ('Total'), left out" in done.stdout


def _many_unowned(count: int) -> list[str]:
    return [f"D{i},,Qualified,1" for i in range(count)]


# a reviewer's cases: (the file's lines, deals loaded, the totals rows' notes)
HARD = {
    "10,001 unowned deals, then a Total": (
        ["Deal Name,Deal Owner,Deal Stage,Amount", *_many_unowned(10_001), "Total,,,10001"],
        10_001,
        ["row 10003: a totals row ('Total'), left out"],
    ),
    "one identity column, a Subtotal in the middle": (
        ["Deal Name,Deal Stage,Amount", "Acme,Closed Won,100", "Subtotal,,100",
         "Beta,Qualified,200", *[f"D{i},Qualified,1" for i in range(20)]],
        22,
        ["row 3: a totals row ('Subtotal'), left out"],
    ),
    "blank cells of ten spaces": (
        ["Deal Name,Deal Owner,Deal Stage,Amount", "Acme,Ann,Closed Won,100",
         f"Total,{' ' * 10},{' ' * 10},100"],
        1,
        ["row 3: a totals row ('Total'), left out"],
    ),
    "blank cells written ' - '": (
        ["Deal Name,Deal Owner,Deal Stage,Amount", "Acme,Ann,Closed Won,100",
         "Total, - , - ,100"],
        1,
        ["row 3: a totals row ('Total'), left out"],
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(HARD))
def test_totals_rows_the_quick_scan_must_not_miss(
    case: str, import_text: Callable[..., ImportResult], con: duckdb.DuckDBPyConnection
) -> None:
    lines, deals, notes = HARD[case]
    result = import_text("deals.csv", "\n".join(lines) + "\n")

    _nothing_else_kept(con, result)
    assert con.execute("SELECT count(*) FROM opportunities").fetchone()[0] == deals
    assert _totals_notes(result) == notes
