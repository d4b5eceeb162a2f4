"""An amoCRM deals export in Russian loads with no settings edited (issue 12.7).

The headers (`analytics/ingest/formats/amocrm_deals.toml`) are the columns amoCRM's own
help page "Экспорт сделок" lists for the exported file. The fixture
`tests/data/ingest/amocrm_deals.csv` has those columns in that order: no id column (a
deal is known by its name), "Статус сделки" as the stage, "Дата закрытия" saying
"не закрыта" for a deal still open, amoCRM's closed statuses "Успешно реализовано" and
"Закрыто и не реализовано". Read as CSV and as a real .xlsx written by the test.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

FIXTURE = "amocrm_deals.csv"


def _as_xlsx(source: Path, target: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    with source.open(encoding="utf-8", newline="") as f:
        for row in csv.reader(f, delimiter=";"):
            sheet.append(row)
    book.save(target)
    return target


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_an_amocrm_deals_export_loads_every_field(
    run_import, con, ingest_data: Path, tmp_path: Path, suffix: str
) -> None:
    source = ingest_data / FIXTURE
    path = source if suffix == ".csv" else _as_xlsx(source, tmp_path / "amocrm_export.xlsx")

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert result.source_format == "amocrm_deals"
    assert result.as_of == date(2026, 11, 12)  # the latest "Дата изменения"
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT opportunity_name, account, owner, stage, amount, created_date, close_date, "
            "is_closed, is_won FROM opportunities"
        ).fetchall()
    }
    assert rows["Поставка оборудования"] == (
        "ООО Альфа",
        "Анна Смирнова",
        "Discovery",  # amoCRM's first contact: the step Discovery holds
        Decimal("150000.00"),
        date(2026, 10, 1),
        None,  # "не закрыта"
        False,
        False,
    )
    assert rows['Сервис "Гамма"'][2:] == (
        "Closed Won",
        Decimal("45000.00"),
        date(2026, 8, 14),
        date(2026, 10, 15),
        True,
        True,
    )
    assert rows["<i>Дельта</i>"][0] == "ООО Дельта"  # the contact's company, deal's blank
    assert rows["<i>Дельта</i>"][2] == "Closed Lost"
    assert rows["Новый лид [сайт](http://x)"][3] is None  # blank budget stays blank
    assert "Договор «Бета» **срочно**" in rows  # names kept as typed

    totals = con.execute(
        "SELECT count(*), sum(amount), sum(amount) FILTER (WHERE is_won), "
        "count(*) FILTER (WHERE is_closed AND NOT is_won), "
        "sum(amount) FILTER (WHERE NOT is_closed) FROM opportunities"
    ).fetchone()
    # by hand: 150000 + 80000 + 45000 + 30000; won 45000; open 150000 + 80000 (+ blank)
    assert totals == (5, Decimal("305000.00"), Decimal("45000.00"), 1, Decimal("230000.00"))


def test_a_reexport_updates_deals_by_name(run_import, con, ingest_data: Path, tmp_path: Path):
    assert run_import(ingest_data / FIXTURE).ok
    text = (ingest_data / FIXTURE).read_text(encoding="utf-8")
    later = text.replace(
        "Переговоры;80000;05.09.2026 10:00:00;Олег Кузнецов;11.11.2026 16:45:00",
        "Успешно реализовано;82000;05.09.2026 10:00:00;Олег Кузнецов;20.11.2026 16:45:00",
    ).replace(";не закрыта;Перезвонить", ";20.11.2026;Перезвонить")
    assert later != text
    path = tmp_path / "amocrm_export_later.csv"
    path.write_text(later, encoding="utf-8")

    result = run_import(path)

    assert result.status == "loaded", result.message
    # one deal won, the other four as stored: unchanged, not updated (issue 12)
    assert (result.rows_inserted, result.rows_updated, result.rows_unchanged) == (0, 1, 4)
    assert con.execute(
        "SELECT stage, amount, is_won, close_date FROM opportunities "
        "WHERE opportunity_name = 'Договор «Бета» **срочно**'"
    ).fetchone() == ("Closed Won", Decimal("82000.00"), True, date(2026, 11, 20))
