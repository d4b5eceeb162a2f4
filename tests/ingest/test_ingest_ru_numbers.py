"""Russian deal exports whose amounts are written the Russian way load with no settings edited
(issue 12.7).

The fixtures have the columns of amoCRM's and Bitrix24's own Russian exports (see
`analytics/ingest/formats/amocrm_deals.toml` and `bitrix24_deals.toml` for the sources of
the labels), with amounts as a Russian spreadsheet writes them after a hand edit: "1 234,50"
(space), "1 000 000,00" (no-break space), "45 000,25" (narrow no-break space), "80 000",
"30000,75" and "12000" in one column. Names carry quotes, «guillemets» and semicolons;
stages are each company's own. Totals below are worked out by hand from the fixtures.

The .xlsx case is a sheet where some amounts are number cells and others were typed as
text: a number cell 1234.5 must not contradict a typed "45 000,25" (it was refused whole).
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

D = Decimal

AMO = "amocrm_deals_ru_numbers.csv"
BITRIX = "bitrix24_deals_ru_numbers.csv"


def test_amocrm_amounts_in_russian_styles(run_import, con, ingest_data: Path) -> None:
    result = run_import(ingest_data / AMO)

    assert result.status == "loaded", result.message
    assert (result.source_format, result.rows_loaded, result.problems) == ("amocrm_deals", 5, [])
    assert result.as_of == date(2026, 11, 12)  # the latest "Дата изменения"
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT opportunity_name, account, stage, amount, is_closed, is_won, close_date "
            "FROM opportunities"
        ).fetchall()
    }
    assert rows['Поставка "Север-2"'] == (
        "ООО «Север»",
        "Discovery",  # amoCRM's first contact: the step Discovery holds
        D("1234.50"),  # 1 234,50
        False,
        False,
        None,  # "не закрыта"
    )
    assert rows["Тендер; этап 2"][:3] == ('АО "Вектор"', "КП отправлено", D("1000000.00"))
    assert rows["Сервис"][1:] == ("Closed Won", D("80000.00"), True, True, date(2026, 10, 15))
    # the deal has no company: the contact's company stands in
    assert rows["Аудит"][:5] == ("ООО Дельта", "Closed Lost", D("45000.25"), True, False)
    assert rows["Лицензии 1С"][2] == D("12000.00")

    totals = con.execute(
        "SELECT sum(amount), sum(amount) FILTER (WHERE is_won), "
        "sum(amount) FILTER (WHERE is_closed AND NOT is_won), "
        "sum(amount) FILTER (WHERE NOT is_closed) FROM opportunities"
    ).fetchone()
    # by hand: 1234.50 + 1000000 + 80000 + 45000.25 + 12000; won 80000; lost 45000.25;
    # open 1234.50 + 1000000 + 12000
    assert totals == (D("1138234.75"), D("80000.00"), D("45000.25"), D("1013234.50"))


def test_bitrix24_amounts_in_russian_styles(run_import, con, ingest_data: Path) -> None:
    result = run_import(ingest_data / BITRIX)

    assert result.status == "loaded", result.message
    assert (result.source_format, result.rows_loaded, result.problems) == ("bitrix24_deals", 5, [])
    assert result.as_of == date(2026, 11, 14)
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT opportunity_id, opportunity_name, account, stage, amount, probability, "
            "is_closed, is_won, currency FROM opportunities"
        ).fetchall()
    }
    assert rows["201"] == (
        'Поставка "Альфа-3"',
        'ООО "Ромашка"',
        "Согласование договора",
        D("1234.50"),
        60.0,
        False,
        False,
        "RUB",
    )
    assert rows["202"][:4] == (
        "Лицензии; 50 мест",
        "АО «Вектор»",
        "Счёт на предоплату",
        D("250000"),
    )
    assert rows["203"][2:4] == ("Closed Won", D("45000.00"))
    assert rows["204"][2:4] == ("Closed Lost", D("30000.75"))
    assert rows["205"][0] == "Допродажа «Про»" and rows["205"][3] == D("12500.00")
    learned = {s.value: (s.classification, s.probability) for s in result.new_stages}
    assert learned["Счёт на предоплату"] == ("open", 80.0)  # the median of its two rows

    totals = con.execute(
        "SELECT sum(amount), sum(amount) FILTER (WHERE is_won), "
        "sum(amount) FILTER (WHERE NOT is_closed) FROM opportunities"
    ).fetchone()
    # by hand: 1234.50 + 250000 + 45000 + 30000.75 + 12500; won 45000;
    # open 1234.50 + 250000 + 12500
    assert totals == (D("338735.25"), D("45000.00"), D("263734.50"))


def _amo_sheet(source: Path, target: Path, numbers: dict[int, float]) -> Path:
    """The CSV as a real .xlsx, with some amounts as number cells ({row: value})."""
    rows = list(csv.reader(source.open(encoding="utf-8", newline=""), delimiter=";"))
    amount = rows[0].index("Бюджет")
    book = openpyxl.Workbook()
    sheet = book.active
    for i, row in enumerate(rows):
        cells: list[object] = list(row)
        if i in numbers:
            cells[amount] = numbers[i]
        sheet.append(cells)
    book.save(target)
    return target


def test_number_cells_beside_amounts_typed_in_russian_style(
    run_import, con, ingest_data: Path, tmp_path: Path
) -> None:
    # row 1 (1 234,50) and row 3 (80 000) as number cells; the rest stays typed text
    path = _amo_sheet(ingest_data / AMO, tmp_path / "Сделки.xlsx", {1: 1234.5, 3: 80000})

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert (result.source_format, result.problems) == ("amocrm_deals", [])
    got = dict(con.execute("SELECT opportunity_name, amount FROM opportunities").fetchall())
    assert got['Поставка "Север-2"'] == D("1234.50")  # the number cell, not 12345
    assert got["Аудит"] == D("45000.25")  # typed "45 000,25"
    assert sum(got.values()) == D("1138234.75")  # the same totals as the CSV


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("2 000,50", D("2000.50")), ("2,000.50", D("2000.50")), ("2000", D("2000.00"))],
    ids=["typed-comma", "typed-dot", "typed-plain"],
)
def test_a_number_cell_with_a_fraction_reads_as_itself_beside_any_typed_style(
    run_import, opp, tmp_path: Path, typed: str, expected: Decimal
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["opportunity_id", "stage", "amount"])
    sheet.append(["A", "Discovery", 108.512])  # a converted amount: three decimals
    sheet.append(["B", "Discovery", typed])
    path = tmp_path / "amounts.xlsx"
    book.save(path)

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert (opp("A")["amount"], opp("B")["amount"]) == (D("108.51"), expected)
