"""Nothing silently wrong (issue 17): mixed decimal marks, impossible values, misleading
date messages. Each refused file names its row, column and value and changes nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

OPP = "opportunity_id,owner,stage,amount,close_date\n"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# (file name, content, expected (row, column, value) of every problem, message fragment)
REFUSED = [
    pytest.param(
        "us_mixed.csv",
        OPP + 'A1,Ann,Discovery,"1,200.00",2024-01-02\n'
        'A2,Ann,Discovery,"3,400.00",2024-01-02\n'
        'A3,Ann,Discovery,"1.200,00",2024-01-02\n',
        [(4, "amount", "1.200,00")],
        "writes its decimals with ','",
        id="us-column-one-european-value",
    ),
    pytest.param(
        "eu_mixed.csv",
        OPP.replace(",", ";") + "A1;Ann;Discovery;1.200,00;2024-01-02\n"
        "A2;Ann;Discovery;3.400,00;2024-01-02\n"
        "A3;Ann;Discovery;1,200.00;2024-01-02\n",
        [(4, "amount", "1,200.00")],
        "writes its decimals with '.'",
        id="european-column-one-us-value",
    ),
    pytest.param(
        "us_mixed_dots.csv",
        OPP + 'A1,Ann,Discovery,"1,200.00",2024-01-02\n'
        'A2,Ann,Discovery,"3,400.50",2024-01-02\n'
        "A3,Ann,Discovery,1.200.000,2024-01-02\n",
        [(4, "amount", "1.200.000")],
        "the column writes them with '.'",
        id="us-column-dotted-thousands",
    ),
    pytest.param(
        "fx.csv",
        "currency,rate_date,rate\nEUR,2024-01-01,0\nGBP,2024-01-01,-1.25\n",
        [(2, "rate", "0"), (3, "rate", "-1.25")],
        "is not a positive exchange rate",
        id="fx-rate-zero-and-negative",
    ),
    pytest.param(
        "quota_negative.csv",
        "owner,period_start,period_end,amount\nAnn,2024-01-01,2024-01-31,-5000\n"
        "Bob,2024-01-01,2024-01-31,5000\n",
        [(2, "amount", "-5000")],
        "is a negative quota",
        id="negative-quota",
    ),
    pytest.param(
        "quota_backwards.csv",
        "owner,period_start,period_end,amount\nAnn,2024-03-01,2024-01-31,5000\n",
        [(2, "period_end", "2024-01-31")],
        "period ends before it starts",
        id="quota-period-ends-before-start",
    ),
    pytest.param(
        "activity_negative.csv",
        "activity_id,owner,activity_type,started_at,duration_minutes\n"
        "T1,Ann,call,2024-01-02 10:00,-30\nT2,Ann,call,2024-01-02 11:00,15\n",
        [(2, "duration_minutes", "-30")],
        "is a negative duration",
        id="negative-activity-duration",
    ),
    pytest.param(
        "date_impossible.csv",
        OPP + "A1,Ann,Discovery,1,31/31/2017\nA2,Ann,Discovery,1,25/01/2017\n",
        [(2, "close_date", "31/31/2017")],
        "is not a date",
        id="impossible-day-month-is-not-a-date",
    ),
    pytest.param(
        "date_impossible_iso.csv",
        OPP + "A1,Ann,Discovery,1,31/31/2017\nA2,Ann,Discovery,1,2017-01-02\n",
        [(2, "close_date", "31/31/2017")],
        "is not a date",
        id="impossible-day-month-among-iso-dates",
    ),
]


@pytest.mark.parametrize(("name", "content", "expected", "fragment"), REFUSED)
def test_refused_naming_row_column_value_and_nothing_changes(
    preloaded, tmp_path, name, content, expected, fragment
):
    path = _write(tmp_path, name, content)
    before = preloaded.fingerprint()

    result = preloaded.run(path)

    assert result.status == "refused", result.message
    assert [(p.line, p.column, p.value) for p in result.problems] == expected
    assert all(fragment in p.problem for p in result.problems), result.message
    assert "dates are written both" not in result.message
    assert preloaded.fingerprint() == before


def test_keep_valid_counts_bad_fx_rates_as_rejected(run_import, con, tmp_path):
    path = _write(
        tmp_path,
        "fx.csv",
        "currency,rate_date,rate\nEUR,2024-01-01,0\nGBP,2024-01-01,-1.25\nSEK,2024-01-01,0.09\n",
    )

    result = run_import(path, keep_valid=True)

    assert result.status == "partial", result.message
    assert (result.rows_loaded, result.rows_rejected) == (1, 2)
    assert con.execute("SELECT rows_rejected FROM imports").fetchone()[0] == 2
    assert con.execute("SELECT line FROM quarantine ORDER BY line").fetchall() == [(2,), (3,)]


def test_consistent_columns_still_load_both_styles(run_import, con, tmp_path):
    us = _write(tmp_path, "us.csv", OPP + 'A1,Ann,Discovery,"1,200.00",2024-01-02\n')
    eu_text = OPP.replace(",", ";") + "A2;Ann;Discovery;1.200,50;2024-01-02\n"
    eu = _write(tmp_path, "eu.csv", eu_text)

    assert run_import(us).status == "loaded"
    assert run_import(eu).status == "loaded"

    amounts = con.execute("SELECT amount FROM opportunities ORDER BY opportunity_id").fetchall()
    assert amounts == [(Decimal("1200.00"),), (Decimal("1200.50"),)]


def test_a_genuine_mix_of_date_orders_names_rows_of_each(preloaded, tmp_path):
    path = _write(
        tmp_path,
        "mixed_dates.csv",
        OPP
        + "A1,Ann,Discovery,1,31/01/2017\nA2,Ann,Discovery,1,01/31/2017\n"
        + "A3,Ann,Discovery,1,25/01/2017\nA4,Ann,Discovery,1,05/01/2017\n",
    )
    before = preloaded.fingerprint()

    result = preloaded.run(path)

    assert result.status == "refused"
    (problem,) = result.problems
    assert problem.column == "close_date"
    assert "day-first in rows 2, 4 (like '31/01/2017')" in problem.problem
    assert "month-first in row 3 (like '01/31/2017')" in problem.problem
    assert preloaded.fingerprint() == before


ACTIVITIES = "activity_id,owner,activity_type,started_at,duration_minutes\n"


def test_unlikely_rows_load_with_a_warning_kept_with_the_import(run_import, con, tmp_path):
    path = _write(
        tmp_path,
        "long.csv",
        ACTIVITIES + "T1,Ann,call,2024-01-02 10:00,1000000000000\n"
        "T2,Ann,call,2024-01-02 11:00,15\nT3,Ann,meeting,2024-01-02 12:00,10081\n",
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert result.rows_warned == 2
    assert "2 rows loaded with a warning" in result.message
    # grouped: one line for the column and warning, naming its rows and values
    assert (
        "column 'duration_minutes': is longer than a week (10,080 minutes); check the unit "
        "(2 rows: 2, 4); values '1000000000000', '10081'"
    ) in result.message
    assert [(p.line, p.value) for p in result.warnings] == [(2, "1000000000000"), (4, "10081")]
    stored = con.execute(
        "SELECT import_id, line, column_name, value FROM import_warnings ORDER BY line"
    ).fetchall()
    assert stored == [
        (result.import_id, 2, "duration_minutes", "1000000000000"),
        (result.import_id, 4, "duration_minutes", "10081"),
    ]
    assert con.execute("SELECT rows_warned FROM imports").fetchone()[0] == 2


def test_open_deal_closing_before_created_is_a_warning(run_import, tmp_path):
    path = _write(
        tmp_path,
        "backwards.csv",
        "opportunity_id,owner,stage,amount,created_date,close_date\n"
        "A1,Ann,Closed Won,100,2024-05-01,2024-02-01\nA2,Ann,Discovery,100,2024-01-01,2024-02-01\n",
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert [(p.line, p.column) for p in result.warnings] == [(2, "close_date")]


def test_a_negative_deal_amount_loads_with_a_warning(run_import, con, tmp_path):
    """A credit or a correction is possible, so it loads; but it lowers bookings (a won
    deal of -500 took a new user's bookings from 3,000 to 2,500 without a word)."""
    path = _write(
        tmp_path,
        "credit.csv",
        OPP + "A1,Ann,Closed Won,-500,2024-02-01\nA2,Ann,Closed Won,3000,2024-02-02\n",
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert [(p.line, p.column, p.value) for p in result.warnings] == [(2, "amount", "-500")]
    assert "is a negative amount: it lowers bookings" in result.message
    assert con.execute("SELECT sum(amount) FROM opportunities").fetchone()[0] == Decimal("2500")


def test_rollback_removes_the_warnings(run_import, con, tmp_path):
    from analytics.backup import rollback_import

    path = _write(tmp_path, "long.csv", ACTIVITIES + "T1,Ann,call,2024-01-02 10:00,20000\n")
    result = run_import(path)
    assert con.execute("SELECT count(*) FROM import_warnings").fetchone()[0] == 1

    rollback_import(con, result.import_id)

    assert con.execute("SELECT count(*) FROM import_warnings").fetchone()[0] == 0


def test_a_database_from_before_warnings_gains_the_table_and_column(tmp_path):
    from analytics import db

    path = tmp_path / "old.duckdb"
    con = db.connect(path)
    con.execute("DROP TABLE import_warnings")
    con.execute("ALTER TABLE imports DROP COLUMN rows_warned")
    con.close()

    con = db.connect(path)
    columns = [r[0] for r in con.execute("DESCRIBE imports").fetchall()]
    assert "rows_warned" in columns
    assert con.execute("SELECT count(*) FROM import_warnings").fetchone() == (0,)
    con.close()
