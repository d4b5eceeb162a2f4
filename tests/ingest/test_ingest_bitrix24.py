"""A Bitrix24 deal export in Russian loads with no settings edited (issue 12.7).

The headers (`analytics/ingest/formats/bitrix24_deals.toml`) are Bitrix24's own column
titles, from the deal list's Russian language file in the Bitrix24 source; the fixture
`tests/data/ingest/bitrix24_deals.csv` is written the way that list's CSV template
writes it: ';'-separated, every value quoted, a ';' closing each line, the stage by its
name, "Сделка закрыта" as Да/Нет, dates as dd.mm.yyyy. Real file, real DuckDB file.
"""

from __future__ import annotations

import csv
import html
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

FIXTURE = "bitrix24_deals.csv"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1251"])
def test_a_bitrix24_deal_export_loads_every_field(
    run_import, con, ingest_data: Path, tmp_path: Path, encoding: str
) -> None:
    text = (ingest_data / FIXTURE).read_text(encoding="utf-8")
    path = tmp_path / "Сделки.csv"
    path.write_bytes(text.encode(encoding))

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert result.source_format == "bitrix24_deals"
    assert result.as_of == date(2026, 11, 14)  # the latest "Дата изменения"
    rows = {
        r[0]: r[1:]
        for r in con.execute(
            "SELECT opportunity_id, opportunity_name, account, owner, stage, amount, "
            "probability, created_date, close_date, is_closed, is_won, lead_source, deal_type "
            "FROM opportunities"
        ).fetchall()
    }
    assert sorted(rows) == ["101", "102", "103", "104", "105"]
    assert rows["101"] == (
        "Поставка серверов",
        'ООО "Ромашка"',
        "Иван Петров",
        "Discovery",  # "Новая" is a known alias
        Decimal("120000.00"),
        10.0,
        date(2026, 3, 5),
        date(2026, 12, 30),
        False,
        False,
        "Веб-сайт",
        "Продажа",
    )
    assert rows["102"][0] == "Лицензии **1С**"  # text kept as typed
    assert rows["102"][3] == "В работе"  # a new stage, learned as open
    assert rows["103"][3:5] == ("Closed Won", Decimal("45000.50"))  # "Сделка успешна"
    assert rows["103"][8:10] == (True, True)
    assert rows["104"][3] == "Closed Lost"  # "Сделка провалена"
    assert rows["104"][8:10] == (True, False)
    assert rows["105"][1] is None and rows["105"][4] is None  # blanks stay blank
    # the export names the currency ("Российский рубль"): stored as its code, for fx rates
    assert con.execute("SELECT DISTINCT currency FROM opportunities").fetchall() == [("RUB",)]

    totals = con.execute(
        "SELECT count(*), sum(amount), count(*) FILTER (WHERE is_won), "
        "sum(amount) FILTER (WHERE is_won), count(*) FILTER (WHERE NOT is_closed), "
        "sum(amount) FILTER (WHERE NOT is_closed) FROM opportunities"
    ).fetchone()
    # worked out by hand from the fixture: 120000 + 80000 + 45000.50 + 30000 (+ blank)
    assert totals == (5, Decimal("275000.50"), 1, Decimal("45000.50"), 3, Decimal("200000.00"))


def test_bitrix24_stage_names_are_learned_from_the_file(run_import, ingest_data: Path) -> None:
    result = run_import(ingest_data / FIXTURE)

    learned = {s.value: (s.classification, s.probability) for s in result.new_stages}
    assert learned["Сделка успешна"] == ("won", 100.0)
    assert learned["Сделка провалена"] == ("lost", 0.0)
    assert learned["В работе"] == ("open", 40.0)  # the file's own probability
    assert learned["Счёт на предоплату"][0] == "open"


def _as_bitrix_excel(csv_text: str, charset: str) -> bytes:
    """The rows as Bitrix24's "Export to Excel" writes them: an HTML table saved as .xls
    (crm.deal.list/templates/.default/excel.php: a <meta> naming the charset, one table,
    <th> headers, <td> cells holding the HTML-escaped values)."""
    rows = list(csv.reader(csv_text.splitlines(), delimiter=";"))
    rows = [r[:-1] if r and r[-1] == "" else r for r in rows]  # the CSV's closing ';'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in r) + "</tr>\n" for r in rows[1:]
    )
    page = (
        f'<meta http-equiv="Content-type" content="text/html;charset={charset}" />\n'
        f'<table border="1">\n<thead>\n<tr>{head}</tr>\n</thead>\n<tbody>{body}</tbody>\n</table>'
    )
    return page.encode(charset)


@pytest.mark.parametrize("charset", ["UTF-8", "windows-1251"])
def test_the_excel_export_an_html_table_loads_the_same(
    run_import, con, ingest_data: Path, tmp_path: Path, charset: str
) -> None:
    path = tmp_path / "Сделки.xls"
    path.write_bytes(_as_bitrix_excel((ingest_data / FIXTURE).read_text("utf-8"), charset))

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert result.source_format == "bitrix24_deals"
    got = con.execute(
        "SELECT opportunity_id, opportunity_name, account, stage, amount FROM opportunities "
        "ORDER BY opportunity_id"
    ).fetchall()
    assert got[0] == ("101", "Поставка серверов", 'ООО "Ромашка"', "Discovery",
                      Decimal("120000.00"))  # fmt: skip
    assert got[3][1] == "Внедрение <b>CRM</b>"  # the escaped text, as typed, not markup
    assert con.execute("SELECT sum(amount) FROM opportunities").fetchone() == (
        Decimal("275000.50"),
    )


def test_an_html_page_without_a_table_is_refused(run_import, tmp_path: Path, fingerprint):
    before = fingerprint()
    path = tmp_path / "Сделки.xls"
    path.write_text("<html><body><p>Session expired, please log in</p></body></html>", "utf-8")

    result = run_import(path)

    assert result.status == "refused"
    assert "HTML page without a table" in result.message
    assert fingerprint() == before
