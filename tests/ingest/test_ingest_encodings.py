"""Bytes on disk: encodings, BOMs, delimiters, line endings and .xlsx workbooks.

The bytes must be exact, so each file is generated into tmp_path from a committed UTF-8
fixture (or written with openpyxl) rather than committed in a legacy encoding.
"""

from __future__ import annotations

import codecs
import csv
import io
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from analytics.ingest import preview_file

D = Decimal


def _codec(name: str | None) -> str | None:
    return codecs.lookup(name).name if name else None


# Russian / Korean / Chinese sheets in their Windows encodings. Currency signs that the
# legacy code page cannot encode (₽ in CP1251, ₩ in CP949) are left out of the amounts:
# this table is about the bytes, test_ingest_values.py is about the amount spellings.
LEGACY = [
    # (fixture, transform, encoding, accepted codecs, opportunity id, {column: expected})
    pytest.param(
        "ru.csv",
        lambda t: t.replace(" ₽", ""),
        "cp1251",
        {"cp1251"},
        "R-1",
        {
            "opportunity_name": "Поставка серверов",
            "account": "ООО Ромашка",
            "owner": "Иван Петров",
            "stage": "Discovery",
            "source_stage": "Новая",
            "amount": D("1234.56"),
            "created_date": date(2024, 3, 5),
        },
        id="windows-1251",
    ),
    pytest.param(
        "ko.csv",
        lambda t: t.replace("₩", ""),
        "cp949",
        {"cp949", "euc_kr"},
        "K-1",
        {
            "opportunity_name": "서버 공급",
            "account": "삼성물산",
            "owner": "김민수",
            "stage": "Discovery",
            "source_stage": "신규",
            "amount": D("1234000.00"),
            "created_date": date(2024, 3, 5),
        },
        id="cp949",
    ),
    pytest.param(
        "ko.csv",
        lambda t: t.replace("₩", ""),
        "euc-kr",
        {"cp949", "euc_kr"},
        "K-3",
        {"owner": "김민수", "stage": "Closed Won", "source_stage": "성사", "is_won": True},
        id="euc-kr",
    ),
    pytest.param(
        "zh.csv",
        lambda t: t,
        "gb18030",
        {"gb18030"},
        "Z-1",
        {
            "opportunity_name": "服务器采购",
            "account": "华为技术",
            "owner": "王伟",
            "stage": "Discovery",
            "source_stage": "初步接洽",
            "amount": D("12000.00"),
            "currency": "CNY",
            "created_date": date(2024, 3, 5),
        },
        id="gb18030",
    ),
    pytest.param(
        "ru.csv",
        lambda t: t,
        "utf-16",
        {"utf-16", "utf-16-le"},
        "R-1",
        {"owner": "Иван Петров", "amount": D("1234.56"), "currency": "RUB"},
        id="utf-16-russian",
    ),
]


@pytest.mark.parametrize(
    ("fixture", "transform", "encoding", "codecs_ok", "key", "expected"), LEGACY
)
def test_legacy_encoding(
    fixture,
    transform,
    encoding,
    codecs_ok,
    key,
    expected,
    ingest_data,
    tmp_path,
    run_import,
    con,
    opp,
):
    text = transform((ingest_data / fixture).read_text(encoding="utf-8"))
    path = tmp_path / fixture
    path.write_bytes(text.encode(encoding))

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert result.rows_loaded == 4
    row = opp(key)
    assert {c: row[c] for c in expected} == expected
    recorded = con.execute("SELECT encoding FROM imports").fetchone()[0]
    assert _codec(recorded) in {_codec(c) for c in codecs_ok}
    # the preview decodes the same way: headers and first row as written in the file
    delimiter = ";" if fixture == "ru.csv" else ","
    header, first = list(csv.reader(io.StringIO(text), delimiter=delimiter))[:2]
    preview = preview_file(path)
    assert preview.headers == header
    assert preview.sample.iloc[0].tolist() == first


SF_REPORT_ROW = {
    "opportunity_name": "RedSea Global Saudi B2B Marketplace",
    "stage": "Final Decision",
    "amount": D("485000.00"),
    "currency": "USD",
    "probability": 90.0,
    "close_date": date(2026, 9, 30),
}

# The Salesforce report (footers included) in the byte layouts exports and re-saves produce.
LAYOUTS = [
    pytest.param("utf-8", b"", ",", "\n", id="utf-8"),
    pytest.param("utf-8", b"\xef\xbb\xbf", ",", "\n", id="utf-8-bom"),
    pytest.param("utf-8", b"", ",", "\r\n", id="utf-8-crlf"),
    pytest.param("utf-8", b"\xef\xbb\xbf", ";", "\r\n", id="utf-8-bom-semicolon-crlf"),
    pytest.param("utf-8", b"", "\t", "\n", id="utf-8-tab"),
    pytest.param("utf-16-le", b"\xff\xfe", "\t", "\r\n", id="utf-16-le-bom-tab-crlf"),
    pytest.param("utf-16-le", b"\xff\xfe", ",", "\n", id="utf-16-le-bom-comma"),
    pytest.param("utf-16-le", b"", "\t", "\r\n", id="utf-16-le-no-bom-tab"),
    pytest.param("utf-16-be", b"\xfe\xff", "\t", "\n", id="utf-16-be-bom-tab"),
]


def _relayout(text: str, delimiter: str) -> str:
    """Re-delimit a CSV (blank footer separator lines stay blank)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    for row in csv.reader(io.StringIO(text)):
        writer.writerow(row)
    return out.getvalue()


@pytest.mark.parametrize(("encoding", "bom", "delimiter", "newline"), LAYOUTS)
def test_salesforce_report_byte_layouts(
    encoding, bom, delimiter, newline, ingest_data, tmp_path, run_import, con, opp
):
    text = _relayout((ingest_data / "sf_report_custom.csv").read_text("utf-8"), delimiter)
    path = tmp_path / "report.csv"
    path.write_bytes(bom + text.replace("\n", newline).encode(encoding))

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert result.source_format == "salesforce_report"
    assert result.rows_read == 4
    row = opp("006U600000ZFcGz")
    assert {c: row[c] for c in SF_REPORT_ROW} == SF_REPORT_ROW
    # the last column of the last row carries no stray "\r"; nothing carries the BOM
    assert opp("006U600000ZFcH3")["deal_type"] == "New Client"
    assert con.execute("SELECT delimiter FROM imports").fetchone()[0] == delimiter


@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"], ids=["no-bom", "bom"])
@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_template_first_and_last_columns_are_clean(
    bom, newline, ingest_data, tmp_path, run_import, opp
):
    # the first header is `opportunity_id`: a BOM left on it would unmap the id column, and
    # the last column (`product`) would keep a "\r" if CRLF were split wrongly
    text = (ingest_data / "template.csv").read_text("utf-8").replace("\n", newline)
    path = tmp_path / "template.csv"
    path.write_bytes(bom + text.encode("utf-8"))

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert opp("T-1")["product"] == "Widget"
    assert opp("T-3")["product"] == "Widget"


@pytest.mark.parametrize(
    "delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"]
)
def test_delimiters_give_the_same_rows(delimiter, ingest_data, tmp_path, run_import, con):
    text = _relayout((ingest_data / "template.csv").read_text("utf-8"), delimiter)
    path = tmp_path / "template.csv"
    path.write_text(text, encoding="utf-8")

    result = run_import(path)

    assert result.status == "loaded", result.message
    rows = con.execute(
        "SELECT opportunity_id, owner, stage, amount, close_date FROM opportunities ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("T-1", "Ana Ruiz", "Discovery", D("1000.00"), date(2024, 6, 30)),
        ("T-2", "Ben Okafor", "Closed Won", D("2500.50"), date(2024, 3, 15)),
        ("T-3", "Ben Okafor", "Closed Lost", None, date(2024, 4, 1)),
    ]


def test_semicolon_file_with_decimal_commas(tmp_path, run_import, opp):
    path = tmp_path / "eu.csv"
    path.write_text(
        "opportunity_id;opportunity_name;stage;amount;close_date\n"
        "E1;Acme, Inc.;Closed Won;1.234,56;16.10.2025\n"
        "E2;Globex;Discovery;99,5;01.02.2026\n",
        encoding="utf-8",
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert (opp("E1")["opportunity_name"], opp("E1")["amount"]) == ("Acme, Inc.", D("1234.56"))
    assert (opp("E2")["amount"], opp("E2")["close_date"]) == (D("99.50"), date(2026, 2, 1))


def test_quoted_field_with_a_line_break_loads(tmp_path, run_import, opp):
    # Salesforce Description / Next Step fields are often multi-line; CSV quotes them
    path = tmp_path / "Opportunity.csv"
    path.write_text(
        "Id,Name,Description,StageName,Amount,CloseDate\n"
        '006A,Acme,"First line\nsecond line, with a comma",Prospecting,100,2024-01-31\n'
        "006B,Globex,,Closed Won,200,2024-02-29\n",
        encoding="utf-8",
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert result.rows_read == 2
    assert (opp("006A")["stage"], opp("006B")["amount"]) == ("Discovery", D("200.00"))


def _workbook(path, header, rows, title="Deals"):
    wb = Workbook()
    ws = wb.active
    ws.title = title
    ws.append(header)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


def test_xlsx_with_date_number_and_percent_cells(tmp_path, run_import, con, opp):
    path = _workbook(
        tmp_path / "hubspot-crm-exports-all-deals-2024-08-27.xlsx",
        ["Record ID", "Deal Name", "Deal Stage", "Amount", "Deal owner", "Close Date"]
        + ["Create Date", "Deal probability"],
        [
            [18223590901, "Acme", "Closed Won", 12000.5, "Jane Doe", date(2024, 3, 5)]
            + [datetime(2024, 1, 2, 9, 30), 1],
            [18223590902, "Globex", "Qualified To Buy", 5000, "John Roe", datetime(2024, 6, 30)]
            + [datetime(2024, 2, 3, 14, 5), 0.4],
            [18223590903, "Initech", "Closed Lost", None, "John Roe", date(2024, 4, 1)]
            + [datetime(2024, 2, 3), 0],
            [],
            ["Grand Totals (3 records)"],
        ],
    )
    wb_cells = load_workbook(path).active
    assert wb_cells["F2"].is_date and isinstance(wb_cells["D2"].value, float)

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert (result.kind, result.source_format, result.rows_read) == ("opportunities", "hubspot", 3)
    a, b, c = opp("18223590901"), opp("18223590902"), opp("18223590903")
    assert (a["amount"], a["close_date"], a["created_date"]) == (
        D("12000.50"),
        date(2024, 3, 5),
        date(2024, 1, 2),
    )
    assert (a["probability"], a["is_won"], a["stage"]) == (pytest.approx(100.0), True, "Closed Won")
    assert (b["amount"], b["close_date"], b["probability"]) == (
        D("5000.00"),
        date(2024, 6, 30),
        pytest.approx(40.0),
    )
    assert (c["amount"], c["is_closed"], c["is_won"]) == (None, True, False)
    assert con.execute("SELECT encoding FROM imports").fetchone()[0] == "xlsx"


@pytest.mark.parametrize(
    ("third", "expected"),
    [(10.5, D("10.50")), ("-", None), (" ", None), ("10.5", D("10.50"))],
    ids=["all-numbers", "dash-cell", "space-cell", "text-number-cell"],
)
def test_xlsx_numeric_cells_are_not_re_guessed_as_text(third, expected, tmp_path, run_import, opp):
    # A number cell is unambiguous: 108.512 is a hundred and eight, whatever a CSV column of
    # "108.512" strings might mean (converted amounts often carry three decimals), and a
    # hand-made sheet's "-" or stray space in the same column does not change that
    path = _workbook(
        tmp_path / "amounts.xlsx",
        ["opportunity_id", "stage", "amount"],
        [["A", "Discovery", 108.512], ["B", "Discovery", 7.259], ["C", "Discovery", third]],
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert [opp(i)["amount"] for i in "ABC"] == [D("108.51"), D("7.26"), expected]


def test_xlsx_with_russian_headers_and_text_cells(tmp_path, run_import, opp):
    path = _workbook(
        tmp_path / "сделки.xlsx",
        ["ID сделки", "Название сделки", "Ответственный", "Этап", "Сумма", "Дата закрытия"],
        [
            ["R-1", "Поставка серверов", "Иван Петров", "Успешно", "1 234,56 ₽", "30.04.2024"],
            ["R-2", "Лицензии", "Мария Смирнова", "Переговоры", 150000, date(2024, 5, 31)],
        ],
        title="Лист1",
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert result.file_name == "сделки.xlsx"
    r1, r2 = opp("R-1"), opp("R-2")
    assert (r1["owner"], r1["stage"], r1["amount"], r1["close_date"]) == (
        "Иван Петров",
        "Closed Won",
        D("1234.56"),
        date(2024, 4, 30),
    )
    assert (r2["stage"], r2["amount"], r2["close_date"]) == (
        "Final Decision",
        D("150000.00"),
        date(2024, 5, 31),
    )


def test_xlsx_preview_shows_the_first_sheet(tmp_path):
    path = _workbook(
        tmp_path / "deals.xlsx",
        ["opportunity_id", "stage", "amount", "close_date"],
        [["X1", "Discovery", 10, date(2024, 1, 31)], ["X2", "Closed Won", 20.5, date(2024, 2, 1)]],
    )

    preview = preview_file(path)

    assert preview.problem is None
    assert (preview.kind, preview.source_format) == ("opportunities", "template")
    assert list(preview.sample.columns) == ["opportunity_id", "stage", "amount", "close_date"]
    assert preview.sample["opportunity_id"].tolist() == ["X1", "X2"]
    assert preview.sample["close_date"].tolist() == ["2024-01-31", "2024-02-01"]


def test_iso_8859_1_salesforce_report(tmp_path, run_import, opp):
    # older Salesforce orgs export ISO-8859-1 (see export-headers.md)
    path = tmp_path / "report.csv"
    path.write_bytes(
        (
            "Opportunity Owner,Account Name,Opportunity Name,Stage,Amount,Close Date\n"
            'José Muñoz,Café Société,Société renewal,Closed Won,"USD 1,000.00",31/01/2024\n'
            'Zoë Brontë,Müller GmbH,Größe Ärger,Prospecting,"EUR 2,500.00",29/02/2024\n'
        ).encode("latin-1")
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    row = opp("Société renewal")
    assert (row["owner"], row["account"], row["currency"]) == ("José Muñoz", "Café Société", "USD")
    assert opp("Größe Ärger")["owner"] == "Zoë Brontë"


STRAY_BYTE = [
    pytest.param(
        "Opportunity Owner,Account Name,Opportunity Name,Stage,Amount\n"
        "José Muñoz,Acme,Deal 1,Closed Won,100\n"
        "Ann Lee,Globex,Deal 2,Prospecting,200\n",
        b"Ren\xe9 Roy,Initech,Deal 3,Prospecting,300\n",  # one Windows-1252 byte
        4,
        ("Deal 1", "José Muñoz"),
        id="latin-text",
    ),
    pytest.param(
        "ID сделки;Название сделки;Ответственный;Этап;Сумма\n"
        + "".join(f"R-{i};Поставка {i};Иван Петров;Новая;1 000,00\n" for i in range(4000)),
        "R-x;Плохая".encode() + b"\xff" + ";Иван;Новая;5\n".encode(),
        4002,
        ("R-0", "Иван Петров"),
        id="cyrillic-text-past-the-first-256kb",
    ),
]


@pytest.mark.parametrize(("good", "bad", "bad_row", "check"), STRAY_BYTE)
def test_utf8_file_with_one_stray_byte(good, bad, bad_row, check, tmp_path, run_import, con):
    """A UTF-8 export with one invalid byte must not be re-read in a legacy code page.

    Acceptable: refuse naming the row that holds the bad byte, or load with the valid
    UTF-8 text intact. Not acceptable: "José Muñoz" landing as "JosÃ© MuÃ±oz", or a
    message that only says the encoding is unknown.
    """
    path = tmp_path / "export.csv"
    path.write_bytes(good.encode("utf-8") + bad)

    result = run_import(path)

    if result.status == "refused":
        assert f"row {bad_row}" in result.message, result.message
        assert con.execute("SELECT count(*) FROM imports").fetchone()[0] == 0
    else:
        key, owner = check
        got = con.execute(
            "SELECT owner FROM opportunities WHERE opportunity_id = ?", [key]
        ).fetchall()
        assert got == [(owner,)]
