"""A new user's hand-made exports (issue 12, found by a hostile tester): a German amount
header, common English headers without a mapping file, and the as-of date from a file
name that carries other digits or a date after today.

Each file is written by hand to tmp_path and goes through the real import_file.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

AS_OF = date(2026, 12, 5)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("header", "currency"),
    [
        ("Betrag (€)", "EUR"),  # the tester's header: was "1 column not used"
        ("Betrag (EUR)", "EUR"),
        ("Betrag", None),
        ("Deal - Wert", None),  # Pipedrive's German export
    ],
)
def test_a_german_amount_header_is_the_amount(run_import, con, tmp_path, header, currency):
    path = write(
        tmp_path,
        "deals.csv",
        f"Deal ID;Sales Person;Stage;{header};Close Date;Created Date\n"
        "D1;Ann;Closed Won;12.500,00;2026-09-28;2026-08-02\n"
        "D2;Bob;Demo;1.234,50;2027-01-31;2026-11-15\n",
    )

    result = run_import(path, as_of=AS_OF)

    assert result.status == "loaded", result.message
    assert "not used" not in result.message
    rows = con.execute(
        "SELECT opportunity_id, amount, currency FROM opportunities ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("D1", Decimal("12500.00"), currency),
        ("D2", Decimal("1234.50"), currency),
    ]


def test_common_english_headers_import_without_a_mapping(run_import, con, tmp_path):
    # the tester's header line, with no mapping file
    path = write(
        tmp_path,
        "deals.csv",
        "Deal Ref;Deal Name;Sales Person;Pipeline Step;Value (€);Opened;Won/Lost date;Result;"
        "Source\n"
        "D-101;Acme;Ann;Demo;12.500,00;02.08.2026;28.09.2026;Won;Webinar\n"
        "D-102;Beta;Bob;Demo;0;05.08.2026;15.09.2026;Lost;Messe\n"
        "D-104;Delta;Carla;Qualified;1.000,00;01.09.2026;;Open;Webinar\n",
    )

    result = run_import(path, as_of=AS_OF)

    assert result.status == "loaded", result.message
    assert "not used" not in result.message
    rows = con.execute(
        "SELECT opportunity_id, stage, amount, created_date, close_date, is_closed, is_won "
        "FROM opportunities ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("D-101", "Demo", Decimal("12500.00"), date(2026, 8, 2), date(2026, 9, 28), True, True),
        ("D-102", "Demo", Decimal("0.00"), date(2026, 8, 5), date(2026, 9, 15), True, False),
        ("D-104", "Qualified", Decimal("1000.00"), date(2026, 9, 1), None, False, False),
    ]


def test_the_date_after_other_digits_in_the_file_name(run_import, tmp_path):
    path = write(
        tmp_path,
        "deals_cp1252_2026-12-05.csv",
        "Deal ID,Owner,Stage,Amount,Created Date,Close Date\n"
        "D1,Ann,Closed Won,100,2026-11-02,2026-12-01\n"
        "D2,Bob,Demo,200,2026-11-20,2027-01-31\n",
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert result.as_of == date(2026, 12, 5)
    assert result.as_of_source == "file name"


def test_a_date_after_today_in_the_file_name_is_said_not_silent(run_import, tmp_path):
    # far in the future so that the test holds on any day it runs
    path = write(
        tmp_path,
        "deals_2999-01-15.csv",
        "Deal ID,Owner,Stage,Amount,Created Date,Close Date\n"
        "D1,Ann,Closed Won,100,2026-11-02,2026-12-01\n"
        "D2,Bob,Demo,200,2026-11-20,2027-01-31\n",
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert result.as_of == date(2026, 12, 1)  # the latest date the file proves
    assert result.as_of_source == "content"
    assert "the date 2999-01-15 in the file name is after today" in result.note
    assert "not used as the as-of date" in result.message


def test_a_given_date_needs_no_word_on_the_file_name(run_import, tmp_path):
    path = write(
        tmp_path,
        "deals_2999-01-15.csv",
        "Deal ID,Owner,Stage,Amount,Created Date,Close Date\nD1,Ann,Demo,100,2026-11-02,\n",
    )

    result = run_import(path, as_of=AS_OF)

    assert result.status == "loaded", result.message
    assert "in the file name" not in result.message
