"""Cell text -> typed values: amounts, probabilities, dates, moments, booleans, empty cells.

Each case writes a small CSV with the project template's column names and imports it into
a real database; the assertion is on what landed in the canonical table. The big value
tables share one database file per module (each case is its own upload with its own ids),
which keeps them fast; the refusal tests use a fresh database each.
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from analytics import db
from analytics.ingest import Mapping, import_file

D = Decimal


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One real database file for this module's value tables."""
    folder = tmp_path_factory.mktemp("values")
    connection = db.connect(folder / "values.duckdb")
    yield connection, folder / "store"
    connection.close()


@pytest.fixture
def shared_import(shared, tmp_path):
    """(tag, import) on the shared database; ids must start with `tag` to stay apart."""
    con, store = shared

    def run(path: Path, **kwargs):
        return import_file(con, path, data_dir=store, **kwargs)

    return tmp_path.name, run


@pytest.fixture
def one_column(shared, shared_import, tmp_path):
    """Import `values` as one opportunities column (one row each); return (result, parsed)."""
    con, _ = shared
    tag, run_import = shared_import

    def run(column: str, values: list[str], select: str | None = None, **kwargs):
        rows = [[f"{tag}:{i}", "Discovery", v] for i, v in enumerate(values)]
        path = write_csv(tmp_path / f"{column}.csv", ["opportunity_id", "stage", column], rows)
        result = run_import(path, **kwargs)
        got = con.execute(
            f"SELECT {select or column} FROM opportunities "
            "WHERE split_part(opportunity_id, ':', 1) = ? "
            "ORDER BY CAST(split_part(opportunity_id, ':', 2) AS INT)",
            [tag],
        ).fetchall()
        return result, [g[0] if len(g) == 1 else g for g in got]

    return run


# ---------------------------------------------------------------- amounts
AMOUNTS = [
    ("$1,234.56", D("1234.56"), "USD"),
    ("USD 485,000.00", D("485000.00"), "USD"),
    ("1 234,56 ₽", D("1234.56"), "RUB"),
    ("1\u00a0234,56 ₽", D("1234.56"), "RUB"),  # non-breaking space (Excel, ru-RU)
    ("1\u202f234,56 ₽", D("1234.56"), "RUB"),  # narrow no-break space
    ("1 234,56 руб.", D("1234.56"), "RUB"),
    ("1 234,56 р.", D("1234.56"), "RUB"),
    ("1.234,56", D("1234.56"), None),
    ("€1.234,56", D("1234.56"), "EUR"),
    ("₩1,234,000", D("1234000.00"), "KRW"),
    ("￦1,234,000", D("1234000.00"), "KRW"),  # full-width won: the only won sign in CP949
    ("1,234,000원", D("1234000.00"), "KRW"),
    ("¥12,000.00", D("12000.00"), "CNY"),
    ("(1,200.00)", D("-1200.00"), None),
    ("-1,200.00", D("-1200.00"), None),
    ("1234.5", D("1234.50"), None),
    ("500.0", D("500.00"), None),
    ("42,000", D("42000.00"), None),
]


@pytest.mark.parametrize(("text", "amount", "currency"), AMOUNTS, ids=[a[0] for a in AMOUNTS])
def test_amount(text, amount, currency, one_column):
    result, got = one_column("amount", [text], "amount, currency")

    assert result.status == "loaded", result.message
    assert got == [(amount, currency)]


def test_amount_column_decides_decimal_comma_from_all_values(one_column):
    # "150 000" alone says nothing; "1 234,56" in the same column makes it a decimal comma
    result, got = one_column("amount", ["150 000", "1 234,56", "99,5"])

    assert result.status == "loaded", result.message
    assert got == [D("150000.00"), D("1234.56"), D("99.50")]


MIXED_AMOUNT_COLUMNS = [
    pytest.param(
        ["1.234,56", "(1.200,00)", "99,5", "1 000,00", "-2.000,00", "€ 10,00"],
        [D("1234.56"), D("-1200.00"), D("99.50"), D("1000.00"), D("-2000.00"), D("10.00")],
        id="decimal-comma",
    ),
    pytest.param(
        ["1,234.56", "(1,200.00)", "$99.50", "1 000.00", "-2,000", "USD 10"],
        [D("1234.56"), D("-1200.00"), D("99.50"), D("1000.00"), D("-2000.00"), D("10.00")],
        id="decimal-point",
    ),
]


@pytest.mark.parametrize(("values", "expected"), MIXED_AMOUNT_COLUMNS)
def test_amount_column_mixing_plain_and_decorated_cells(values, expected, one_column):
    result, got = one_column("amount", values)

    assert result.status == "loaded", result.message
    assert got == expected


def test_date_column_mixing_iso_and_day_first(one_column):
    result, got = one_column("close_date", ["16/10/2025", "2025-03-05", "03/05/2025", "1/2/2025"])

    assert result.status == "loaded", result.message
    assert got == [date(2025, 10, 16), date(2025, 3, 5), date(2025, 5, 3), date(2025, 2, 1)]


def test_amount_column_of_dot_thousands_is_not_read_as_decimals(one_column):
    """A column whose dots are always followed by three digits uses them as thousands.

    "1.500" / "12.000" are German/Russian-style thousands; reading them as 1.50 and 12.00
    would silently divide the deal value by 1,000 (and DECIMAL(18,2) cannot hold 3 decimals).
    """
    result, got = one_column("amount", ["1.500", "12.000", "250"])

    assert result.status == "loaded", result.message
    assert got == [D("1500.00"), D("12000.00"), D("250.00")]


@pytest.mark.parametrize("text", ["", "  ", "-"])
def test_amount_blank_is_null(text, one_column):
    result, got = one_column("amount", [text], "amount, currency")

    assert result.status == "loaded", result.message
    assert got == [(None, None)]


# ---------------------------------------------------------------- probabilities
PROBABILITIES = [
    (["90%"], [90.0]),
    (["90"], [90.0]),
    (["90.5%"], [90.5]),
    (["12,5%"], [12.5]),
    (["0.9"], [90.0]),  # a 0-1 column (HubSpot)
    (["0.1", "0.55", "1"], [10.0, 55.0, 100.0]),
    (["1", "50", "100"], [1.0, 50.0, 100.0]),  # a 0-100 column with a 1 in it
    ([""], [None]),
]


@pytest.mark.parametrize(
    ("values", "expected"), PROBABILITIES, ids=[str(p[0]) for p in PROBABILITIES]
)
def test_probability(values, expected, one_column):
    result, got = one_column("probability", values)

    assert result.status == "loaded", result.message
    assert got == [pytest.approx(e) if e is not None else None for e in expected]


# ---------------------------------------------------------------- dates
DATES = [
    ("2024-03-05", date(2024, 3, 5)),
    ("2024-3-5", date(2024, 3, 5)),
    ("2024-03-05T14:30:00Z", date(2024, 3, 5)),
    ("2024-03-05T14:30:00.000Z", date(2024, 3, 5)),
    ("2024-03-05 14:30", date(2024, 3, 5)),
    ("10/16/2025", date(2025, 10, 16)),  # MM/DD/YYYY
    ("10/16/25", date(2025, 10, 16)),  # MM/DD/YY
    ("16/10/2025", date(2025, 10, 16)),  # DD/MM/YYYY
    ("16.10.2025", date(2025, 10, 16)),  # DD.MM.YYYY
    ("16-10-2025", date(2025, 10, 16)),  # DD-MM-YYYY
    ("2024. 3. 5.", date(2024, 3, 5)),  # Korean
    ("2024年3月5日", date(2024, 3, 5)),  # Chinese
    ("2024/03/05", date(2024, 3, 5)),
    ("10/16/25 08:55 PM", date(2025, 10, 16)),
    ("16/10/2025 20:55", date(2025, 10, 16)),
]


@pytest.mark.parametrize(("text", "expected"), DATES, ids=[d[0] for d in DATES])
def test_date(text, expected, one_column):
    result, got = one_column("close_date", [text])

    assert result.status == "loaded", result.message
    assert got == [expected]


TIMESTAMPS = [
    ("2026-02-23T20:55:00.000Z", datetime(2026, 2, 23, 20, 55)),
    ("2026-02-23T20:55:00.000+0000", datetime(2026, 2, 23, 20, 55)),
    ("2026-02-23 20:55", datetime(2026, 2, 23, 20, 55)),
    ("02/23/26 08:55 PM", datetime(2026, 2, 23, 20, 55)),  # Salesforce, 12-hour clock
    ("02/23/26 08:55 AM", datetime(2026, 2, 23, 8, 55)),
    ("12/23/26 12:05 AM", datetime(2026, 12, 23, 0, 5)),
    ("12/23/26 12:05 PM", datetime(2026, 12, 23, 12, 5)),
    ("23.02.2026 20:55", datetime(2026, 2, 23, 20, 55)),
    ("2026年2月23日 20:55", datetime(2026, 2, 23, 20, 55)),
    ("2026. 2. 23. 오후 8:55", datetime(2026, 2, 23, 20, 55)),  # Korean Excel: 오후 = PM
]


@pytest.mark.parametrize(("text", "expected"), TIMESTAMPS, ids=[t[0] for t in TIMESTAMPS])
def test_timestamp(text, expected, tmp_path, shared, shared_import):
    con, _ = shared
    tag, run_import = shared_import
    path = write_csv(
        tmp_path / "history.csv",
        ["opportunity_id", "stage", "entered_at"],
        [[tag, "Discovery", text]],
    )

    result = run_import(path, kind="stage_history")

    assert result.status == "loaded", result.message
    got = con.execute(
        "SELECT entered_at FROM stage_history_imported WHERE opportunity_id = ?", [tag]
    ).fetchall()
    assert got == [(expected,)]


def test_day_month_order_is_decided_per_column(tmp_path, run_import, opp):
    # close_date is day-first (16/10), created_date month-first (10/16); 03/05 follows each
    path = write_csv(
        tmp_path / "orders.csv",
        ["opportunity_id", "stage", "created_date", "close_date"],
        [
            ["A", "Discovery", "10/16/2025", "16/10/2025"],
            ["B", "Discovery", "03/05/2025", "03/05/2025"],
        ],
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert (opp("A")["created_date"], opp("A")["close_date"]) == (
        date(2025, 10, 16),
        date(2025, 10, 16),
    )
    assert (opp("B")["created_date"], opp("B")["close_date"]) == (
        date(2025, 3, 5),
        date(2025, 5, 3),
    )


def test_ambiguous_column_follows_the_files_other_date_column(tmp_path, run_import, opp):
    path = write_csv(
        tmp_path / "orders.csv",
        ["opportunity_id", "stage", "created_date", "close_date"],
        [["A", "Discovery", "25/01/2024", "03/05/2024"], ["B", "Discovery", "02/01/2024", ""]],
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert opp("A")["close_date"] == date(2024, 5, 3)
    assert opp("B")["created_date"] == date(2024, 1, 2)


AMBIGUOUS = [["A", "Discovery", "03/05/2024"], ["B", "Discovery", "12/11/2024"]]


def test_ambiguous_dates_are_refused_naming_the_date_order(tmp_path, run_import, fingerprint):
    path = write_csv(
        tmp_path / "ambiguous.csv", ["opportunity_id", "stage", "close_date"], AMBIGUOUS
    )
    before = fingerprint()

    result = run_import(path)

    assert result.status == "refused"
    assert not result.ok
    assert "ambiguous.csv" in result.message
    assert "close_date" in result.message
    assert "day-first or month-first" in result.message
    assert "date order" in result.message
    assert fingerprint() == before


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("dmy", [date(2024, 5, 3), date(2024, 11, 12)]),
        ("mdy", [date(2024, 3, 5), date(2024, 12, 11)]),
    ],
)
def test_date_order_resolves_ambiguous_dates(order, expected, tmp_path, run_import, con):
    path = write_csv(
        tmp_path / "ambiguous.csv", ["opportunity_id", "stage", "close_date"], AMBIGUOUS
    )

    result = run_import(path, date_order=order)

    assert result.status == "loaded", result.message
    got = con.execute("SELECT close_date FROM opportunities ORDER BY opportunity_id").fetchall()
    assert [g[0] for g in got] == expected


def test_saved_mapping_date_order_resolves_ambiguous_dates(tmp_path, run_import, opp):
    path = write_csv(tmp_path / "ambiguous.csv", ["Deal", "Phase", "Due"], AMBIGUOUS)
    mapping = Mapping(
        "opportunities", {"opportunity_id": "Deal", "stage": "Phase", "close_date": "Due"}, "dmy"
    )

    result = run_import(path, mapping=mapping)

    assert result.status == "loaded", result.message
    assert opp("A")["close_date"] == date(2024, 5, 3)


def test_column_written_both_ways_is_refused(tmp_path, run_import, fingerprint):
    path = write_csv(
        tmp_path / "mixed.csv",
        ["opportunity_id", "stage", "close_date"],
        [["A", "Discovery", "13/01/2024"], ["B", "Discovery", "01/13/2024"]],
    )
    before = fingerprint()

    result = run_import(path)

    assert result.status == "refused"
    assert "close_date" in result.message
    assert "both day-first and month-first" in result.message
    assert fingerprint() == before


# ---------------------------------------------------------------- booleans and empty cells
BOOLEANS = [
    ("TRUE", True),
    ("FALSE", False),
    ("true", True),
    ("false", False),
    ("yes", True),
    ("no", False),
    ("Yes", True),
    ("No", False),
]


@pytest.mark.parametrize(("text", "expected"), BOOLEANS, ids=[b[0] for b in BOOLEANS])
def test_boolean(text, expected, tmp_path, shared, shared_import):
    con, _ = shared
    tag, run_import = shared_import
    path = write_csv(
        tmp_path / "bools.csv",
        ["opportunity_id", "stage", "is_closed", "is_won"],
        [[tag, "Final Decision", text, text]],
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    got = con.execute(
        "SELECT is_closed, is_won FROM opportunities WHERE opportunity_id = ?", [tag]
    ).fetchall()
    assert got == [(expected, expected)]


def test_empty_cells_are_null_and_flags_come_from_the_stage(tmp_path, run_import, opp):
    header = ["opportunity_id", "opportunity_name", "account", "owner", "stage", "amount"]
    header += ["probability", "created_date", "close_date", "is_closed", "is_won", "lead_source"]
    path = write_csv(
        tmp_path / "empty.csv",
        header,
        [
            ["A", "", "", "", "Closed Won", "", "", "", "", "", "", ""],
            ["B", "-", "-", "-", "Discovery", "-", "-", "-", "-", "-", "-", "-"],
        ],
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    for opportunity_id, won in (("A", True), ("B", False)):
        row = opp(opportunity_id)
        empty = ["opportunity_name", "account", "owner", "amount", "probability"]
        empty += ["created_date", "close_date", "lead_source"]
        assert {c: row[c] for c in empty} == dict.fromkeys(empty)
        assert (row["is_closed"], row["is_won"]) == (won, won)


def test_text_is_trimmed(tmp_path, run_import, opp):
    path = write_csv(
        tmp_path / "spaces.csv",
        ["opportunity_id", "owner", "stage", "amount"],
        [["  A  ", "  Ann Lee ", " Closed Won ", " 1,000.00 "]],
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    row = opp("A")
    assert (row["owner"], row["stage"], row["amount"]) == ("Ann Lee", "Closed Won", D("1000.00"))
