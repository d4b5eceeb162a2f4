"""Unfamiliar, messy exports a new sales-ops user brings, with no settings edited (12.7).

Written by hand in `tests/data/ingest/`:
- `messy_hubspot_like.csv`: custom and Russian stage names, "1,234.50" amounts, blank
  amounts for open deals, names full of markdown, HTML, quotes and a spreadsheet formula;
- `messy_zoho_ru.csv`: ';'-separated, "1 234,50" amounts, Russian stage names, no deal id;
- `messy_zoho_en.csv`: a BOM, padded headers, "$ 1,200.00" / "€1,234.50" amounts, month
  names ("Dec 20, 2026"), 12-hour times, "20%" probabilities, currencies by name.
Imported through the real command line (a subprocess) into a real DuckDB file, and
through the Data page in AppTest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
from apptest import assert_clean, open_page  # noqa: E402

from analytics import db  # noqa: E402
from analytics.markup import plain  # noqa: E402


def cli(*args: str | Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("SALES_DB", None)
    proc = subprocess.run(
        [sys.executable, "-m", "analytics", *map(str, args)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    return proc


def query(db_file: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db_file), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_two_messy_exports_load_through_the_command_line(ingest_data: Path, tmp_path: Path):
    db_file = tmp_path / "own.duckdb"

    proc = cli(
        "import",
        ingest_data / "messy_hubspot_like.csv",
        ingest_data / "messy_zoho_ru.csv",
        "--db",
        db_file,
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "messy_hubspot_like.csv: loaded: 6 of 6 rows" in proc.stdout
    assert "messy_zoho_ru.csv: loaded: 5 of 5 rows" in proc.stdout
    assert "'Discovery Call Booked'" in proc.stdout  # a custom stage, learned and said
    rows = dict(
        (r[0], r[1:])
        for r in query(
            db_file,
            "SELECT opportunity_id, opportunity_name, owner, amount, is_closed, is_won "
            "FROM opportunities",
        )
    )
    assert len(rows) == 11
    # text exactly as typed: markdown, HTML, quotes, a formula
    assert rows["9001"][0] == '**Renewal** - "Acme, Inc."'
    assert rows["9002"][0] == "<script>alert(1)</script> expansion"
    assert rows["9006"][1] == "=cmd|' /C calc'!A0"
    assert rows['Поставка "серверов"'][2] == Decimal("1234.50")  # 1 234,50
    assert rows["9003"][2] == Decimal("1234.50")  # 1,234.50
    assert rows["9001"][2] is None and rows["9006"][2] is None  # open, blank amount
    # by hand: won 1,234.50 (HubSpot) + 45 000 (Zoho); lost 2,000.00 and a blank;
    # open: 12,500.00 + 3,000 + 1 234,50 + 12 000,00
    totals = query(
        db_file,
        "SELECT sum(amount) FILTER (WHERE is_won), count(*) FILTER (WHERE is_won), "
        "count(*) FILTER (WHERE is_closed AND NOT is_won), "
        "sum(amount) FILTER (WHERE NOT is_closed), count(*) FILTER (WHERE NOT is_closed) "
        "FROM opportunities",
    )[0]
    assert totals == (Decimal("46234.50"), 2, 2, Decimal("28734.50"), 7)


def test_month_names_currency_names_and_a_bom(run_import, con, ingest_data: Path) -> None:
    result = run_import(ingest_data / "messy_zoho_en.csv")

    assert result.status == "loaded", result.message
    got = con.execute(
        "SELECT opportunity_id, owner, amount, currency, probability, created_date, "
        "close_date, is_won FROM opportunities ORDER BY 1"
    ).fetchall()
    assert got == [
        ("Big one", "Priya Nair", Decimal("1200.00"), "USD", 20.0, date(2026, 11, 2),
         date(2026, 12, 20), False),
        ("Second", "Priya Nair", Decimal("1234.50"), "EUR", 50.0, date(2026, 10, 20),
         date(2027, 1, 5), False),
        ("Third", "Tom O'Neil", Decimal("1000.00"), "USD", 100.0, date(2026, 9, 1),
         date(2026, 10, 30), True),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Dec 20, 2026", date(2026, 12, 20)),
        ("December 20, 2026", date(2026, 12, 20)),
        ("20 Dec 2026", date(2026, 12, 20)),
        ("20-Dec-2026", date(2026, 12, 20)),
        ("20-Dec-26", date(2026, 12, 20)),
        ("Jan 5, 2027 10:15 AM", date(2027, 1, 5)),
        ("не закрыта", None),  # amoCRM: not closed yet
    ],
)
def test_date_spellings(run_import, con, tmp_path: Path, value: str, expected) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(
        f'Deal ID,Stage,Amount,Close Date\nD1,Discovery,10,"{value}"\n', encoding="utf-8"
    )
    result = run_import(path, as_of=date(2026, 11, 1))
    assert result.status == "loaded", result.message
    assert con.execute("SELECT close_date FROM opportunities").fetchone() == (expected,)


@pytest.mark.parametrize(
    ("written", "code"),
    [("US Dollar", "USD"), ("Euro", "EUR"), ("Российский рубль", "RUB"), ("€", "EUR"),
     ("usd", "usd"), ("Doubloons", "Doubloons")],
)  # fmt: skip
def test_currency_names_become_codes(run_import, con, tmp_path: Path, written, code) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(f"Deal ID,Stage,Amount,Currency\nD1,Discovery,10,{written}\n", "utf-8")
    assert run_import(path, as_of=date(2026, 11, 1)).ok
    assert con.execute("SELECT currency FROM opportunities").fetchone() == (code,)


def test_two_number_styles_in_one_column_are_refused_as_one_line(
    run_import, con, ingest_data: Path, tmp_path: Path, fingerprint
) -> None:
    assert run_import(ingest_data / "messy_hubspot_like.csv").ok
    before = fingerprint()
    text = (ingest_data / "messy_zoho_en.csv").read_text(encoding="utf-8-sig")
    mixed = text.replace('"€1,234.50"', '"€1.234,50"').replace('"1,000"', '"2.000,00"')
    path = tmp_path / "zoho_mixed.csv"
    path.write_text(mixed, encoding="utf-8")

    result = run_import(path)

    assert result.status == "refused"
    assert fingerprint() == before
    # two rows now write "1.234,50", one "1,200.00": the one that differs is named, once
    [group] = [g for g in result.problem_groups if g.column == "Amount"]
    assert (group.count, group.lines, group.values) == (1, (2,), ("$ 1,200.00",))
    assert "writes its decimals with '.'" in group.problem


def test_a_messy_export_through_the_data_page(
    ingest_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db_file = tmp_path / "app.duckdb"
    monkeypatch.setenv("SALES_DB", str(db_file))
    at = open_page("pages/data.py")
    content = (ingest_data / "messy_zoho_ru.csv").read_bytes()
    at.file_uploader(key="uploads").set_value(("сделки.csv", content, "text/csv")).run()
    assert_clean(at)
    grid = next(e for e in at.dataframe if e.key and e.key.endswith(":stages"))
    assert "Коммерческое предложение" in list(grid.value["stage in file"])

    at.button(key="import").click().run()

    assert_clean(at)
    assert any(plain(s.value).startswith("сделки.csv: loaded: 5 of 5") for s in at.success)
    con = db.connect(db_file)  # the app's own settings: it holds the file open
    try:
        total = con.execute("SELECT sum(amount) FROM opportunities").fetchone()
    finally:
        con.close()
    assert total == (Decimal("58234.50"),)  # 1 234,50 + 12 000,00 + 45 000


@pytest.mark.parametrize(
    ("header", "cell", "amount", "currency"),
    [
        ("Value (EUR)", "1.234,50", Decimal("1234.50"), "EUR"),
        ("Сумма, руб.", "1 234,50", Decimal("1234.50"), "RUB"),
        ("금액(원)", "1,234,000", Decimal("1234000.00"), "KRW"),
        ("Amount [USD]", "$1,234.50", Decimal("1234.50"), "USD"),
        ("Value (EUR)", "$1,234.50", Decimal("1234.50"), "USD"),  # the cell's own sign wins
    ],
)
def test_a_unit_after_the_amount_header_maps_it_and_names_its_currency(
    run_import, con, tmp_path: Path, header: str, cell: str, amount, currency
) -> None:
    path = tmp_path / "sheet.csv"
    path.write_text(f'Deal,Stage,"{header}"\nOne,Discovery,"{cell}"\n', encoding="utf-8")

    result = run_import(path, as_of=date(2026, 11, 1))

    assert result.status == "loaded", result.message
    assert con.execute("SELECT amount, currency FROM opportunities").fetchone() == (
        amount,
        currency,
    )


@pytest.mark.parametrize("header", ["Сумма, тыс. руб.", "Value ($000s)", "Amount (k)"])
def test_an_amount_in_thousands_is_not_taken_as_the_amount(
    run_import, con, tmp_path: Path, header: str
) -> None:
    # 1 234,5 thousand read as 1 234,50 would understate every deal a thousandfold: the
    # column stays unmapped (the Data page proposes it for a person to confirm)
    path = tmp_path / "sheet.csv"
    path.write_text(f'Deal,Stage,"{header}"\nOne,Discovery,"1234"\n', encoding="utf-8")

    result = run_import(path, as_of=date(2026, 11, 1))

    assert result.status == "loaded", result.message
    assert con.execute("SELECT amount FROM opportunities").fetchone() == (None,)
