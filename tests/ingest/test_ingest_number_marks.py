"""Exchange rates and other plain numbers keep their decimals, whichever mark they use.

Why: a rate column of 0.925 and 0.875 was read as thousands (925 and 875), because a dot
with three digits after it votes for a thousands separator in amounts (12.500 = 12,500).
Plain numbers keep three or more decimals, so their last separator is the decimal mark;
an amount starting with a 0 group (0.925) is a decimal too.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from analytics import db
from analytics.ingest import import_file


@pytest.mark.parametrize(
    ("eur", "gbp", "expected"),
    [
        ("0.925", "0.875", (Decimal("0.925"), Decimal("0.875"))),
        ("1.085", "1.274", (Decimal("1.085"), Decimal("1.274"))),
        ('"0,925"', '"0,875"', (Decimal("0.925"), Decimal("0.875"))),
        ('"1,0850"', '"1,2745"', (Decimal("1.085"), Decimal("1.2745"))),
        ("0.9", "1.27", (Decimal("0.9"), Decimal("1.27"))),
    ],
)
def test_rates_keep_their_decimals(
    tmp_path: Path, eur: str, gbp: str, expected: tuple[Decimal, Decimal]
) -> None:
    path = tmp_path / "fx.csv"
    path.write_text(f"currency,rate,rate_date\nEUR,{eur},2026-01-01\nGBP,{gbp},2026-01-01\n")
    con = db.connect(tmp_path / "sales.duckdb")
    try:
        result = import_file(con, path, kind="fx_rates", data_dir=tmp_path / "store")
        assert result.status == "loaded", result.message
        rates = con.execute("SELECT rate FROM fx_rates ORDER BY currency").fetchall()
    finally:
        con.close()
    assert tuple(r[0] for r in rates) == expected


def test_a_rate_in_the_other_style_is_refused_by_row(tmp_path: Path) -> None:
    path = tmp_path / "fx.csv"
    path.write_text('currency,rate,rate_date\nEUR,0.925,2026-01-01\nGBP,"0,875",2026-01-01\n')
    con = db.connect(tmp_path / "sales.duckdb")
    try:
        result = import_file(con, path, kind="fx_rates", data_dir=tmp_path / "store")
        assert result.status == "refused"
        assert "row 3" in result.message and "0,875" in result.message
        assert con.execute("SELECT count(*) FROM fx_rates").fetchone() == (0,)
    finally:
        con.close()


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [
        (["0.925", "12.50"], [Decimal("0.93"), Decimal("12.50")]),  # 0.925 is not 925
        (["12.500", "1.234.567"], [Decimal("12500"), Decimal("1234567")]),  # thousands
        (["1.234,56", "12,5"], [Decimal("1234.56"), Decimal("12.5")]),
    ],
)
def test_amounts_read_the_column_style(
    tmp_path: Path, amounts: list[str], expected: list[Decimal]
) -> None:
    rows = "\n".join(f'D{i},Discovery,"{a}",USD,2026-01-02' for i, a in enumerate(amounts, start=1))
    path = tmp_path / "deals_2026-02-01.csv"
    path.write_text(f"opportunity_id,stage,amount,currency,created_date\n{rows}\n")
    con = db.connect(tmp_path / "sales.duckdb")
    try:
        result = import_file(con, path, data_dir=tmp_path / "store")
        assert result.status == "loaded", result.message
        got = con.execute("SELECT amount FROM opportunities ORDER BY opportunity_id").fetchall()
    finally:
        con.close()
    assert [r[0] for r in got] == expected
