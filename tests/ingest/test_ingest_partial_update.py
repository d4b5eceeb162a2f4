"""A column that is absent changes nothing (issue 12.5).

Why: a re-upload of a deals file without the owner column set the owner of all 8,800
deals to empty. Now a field the file does not carry keeps its stored value; only a
present column sets or blanks it; a new record lacking a field it needs is refused,
naming the field. Real CSV files into a real DuckDB file.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

FULL = (
    "Deal ID,Deal Name,Account Name,Owner,Stage,Amount,Currency,Created Date,Close Date,"
    "Probability\n"
    'D1,"**Big** deal",Acme "Corp",Ann [x](javascript:1),Discovery,"1,200.50",USD,2024-01-05,'
    "2024-06-30,10\n"
    "D2,Second,Globex,Bob,Demo,3400,EUR,2024-02-01,2024-07-31,40\n"
    "D3,Third,Initech,Cy,Closed Won,500,USD,2024-01-10,2024-03-01,100\n"
)
# the re-upload: no owner, amount, currency, account or probability; D2 moved on
PARTIAL = (
    "deal id,deal name,stage,close date\n"
    "D1,**Big** deal,Discovery,2024-06-30\n"
    "D2,Second,Trial,2024-08-15\n"
    "D3,Third,Closed Won,2024-03-01\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def row(con: duckdb.DuckDBPyConnection, sql: str, *params) -> dict:
    cur = con.execute(sql, list(params))
    values = cur.fetchone()
    assert values is not None, sql
    return dict(zip([d[0] for d in cur.description], values, strict=True))


def test_partial_reupload_keeps_owner_amount_and_account(run_import, con, tmp_path):
    first = run_import(write(tmp_path, "deals.csv", FULL), as_of=date(2024, 3, 1))
    assert first.status == "loaded", first.message

    second = run_import(write(tmp_path, "deals_later.csv", PARTIAL), as_of=date(2024, 4, 1))

    assert second.status == "loaded", second.message
    # D2 moved on; D1 and D3 are as stored in every column the file carries (issue 12)
    assert (second.rows_updated, second.rows_inserted, second.rows_unchanged) == (1, 0, 2)
    d1 = row(con, "SELECT * FROM opportunities WHERE opportunity_id = 'D1'")
    assert (d1["owner"], d1["account"], d1["amount"], d1["currency"]) == (
        "Ann [x](javascript:1)",
        'Acme "Corp"',
        Decimal("1200.50"),
        "USD",
    )
    assert d1["created_date"] == date(2024, 1, 5)
    assert d1["probability"] == 10  # same stage: its probability stands
    assert d1["snapshot_date"] == date(2024, 4, 1)
    d2 = row(con, "SELECT * FROM opportunities WHERE opportunity_id = 'D2'")
    assert (d2["stage"], d2["close_date"]) == ("Trial", date(2024, 8, 15))  # present: updated
    assert (d2["owner"], d2["account"], d2["amount"], d2["currency"]) == (
        "Bob",
        "Globex",
        Decimal("3400.00"),
        "EUR",
    )
    assert d2["probability"] is None  # it left the stage the 40 was given for
    # the new snapshot carries the kept values too, so history by owner stays whole
    snap = con.execute(
        "SELECT opportunity_id, owner, amount, account FROM opportunity_snapshots "
        "WHERE snapshot_date = DATE '2024-04-01' ORDER BY opportunity_id"
    ).fetchall()
    assert snap == [
        ("D1", "Ann [x](javascript:1)", Decimal("1200.50"), 'Acme "Corp"'),
        ("D2", "Bob", Decimal("3400.00"), "Globex"),
        ("D3", "Cy", Decimal("500.00"), "Initech"),
    ]
    assert con.execute(
        "SELECT count(*) FROM opportunities WHERE owner IS NULL OR amount IS NULL"
    ).fetchone() == (0,)


def test_a_present_column_can_blank_a_value(run_import, con, tmp_path):
    assert run_import(write(tmp_path, "deals.csv", FULL), as_of=date(2024, 3, 1)).ok
    blanking = "Deal ID,Stage,Owner,Amount\nD1,Discovery,,\nD2,Demo,Dee,\n"

    result = run_import(write(tmp_path, "owners.csv", blanking), as_of=date(2024, 4, 1))

    assert result.status == "loaded", result.message
    got = con.execute(
        "SELECT opportunity_id, owner, amount, account FROM opportunities ORDER BY 1"
    ).fetchall()
    assert got == [
        ("D1", None, None, 'Acme "Corp"'),
        ("D2", "Dee", None, "Globex"),
        ("D3", "Cy", Decimal("500.00"), "Initech"),  # not in the file: untouched
    ]


def test_a_new_deal_in_a_partial_file_gets_blanks_not_a_neighbours_values(
    run_import, con, tmp_path
):
    assert run_import(write(tmp_path, "deals.csv", FULL), as_of=date(2024, 3, 1)).ok
    text = PARTIAL + "D9,Ninth,Discovery,2024-09-30\n"

    assert run_import(write(tmp_path, "more.csv", text), as_of=date(2024, 4, 1)).ok

    d9 = row(con, "SELECT * FROM opportunities WHERE opportunity_id = 'D9'")
    assert (d9["owner"], d9["amount"], d9["account"]) == (None, None, None)


def test_bant_flags_recorded_earlier_survive_a_file_without_them(run_import, con, tmp_path):
    with_bant = "Deal ID,Stage,Owner,Budget,Need\nD1,Discovery,Ann,yes,no\n"
    assert run_import(write(tmp_path, "bant.csv", with_bant), as_of=date(2024, 3, 1)).ok

    assert run_import(
        write(tmp_path, "plain.csv", "Deal ID,Stage\nD1,Demo\n"), as_of=date(2024, 4, 1)
    ).ok

    d1 = row(con, "SELECT * FROM opportunities WHERE opportunity_id = 'D1'")
    assert (d1["stage"], d1["owner"], d1["bant_budget"], d1["bant_need"]) == (
        "Demo",
        "Ann",
        True,
        False,
    )
    assert d1["bant_authority"] is None  # never recorded


LEADS = (
    "lead id,created date,owner,lead source,status,company\n"
    "L1,2024-01-02 09:00,Sam,Webinar,Open,Acme\n"
    "L2,2024-01-03 10:00,Sue,Referral,Open,Globex\n"
)


def test_leads_update_without_created_dates_and_a_new_lead_is_refused_naming_it(
    run_import, con, tmp_path, fingerprint
):
    assert run_import(write(tmp_path, "leads.csv", LEADS)).status == "loaded"
    before = fingerprint()
    update = "lead id,status\nL1,Qualified\nL7,Open\nL2,Disqualified\n"

    refused = run_import(write(tmp_path, "status.csv", update))

    assert refused.status == "refused"
    assert fingerprint() == before
    [problem] = refused.problems
    assert (problem.line, problem.column, problem.value) == (3, "lead id", "L7")
    assert "created_at" in problem.problem and "new" in problem.problem

    kept = run_import(write(tmp_path, "status.csv", update), keep_valid=True)

    assert kept.status == "partial", kept.message
    assert (kept.rows_updated, kept.rows_inserted, kept.rows_rejected) == (2, 0, 1)
    got = con.execute(
        "SELECT lead_id, created_at::VARCHAR, owner, source, status, company FROM leads "
        "ORDER BY lead_id"
    ).fetchall()
    assert got == [
        ("L1", "2024-01-02 09:00:00", "Sam", "Webinar", "Qualified", "Acme"),
        ("L2", "2024-01-03 10:00:00", "Sue", "Referral", "Disqualified", "Globex"),
    ]


def test_a_leads_file_without_created_dates_into_an_empty_database_is_refused_whole(
    run_import, con, tmp_path, fingerprint
):
    before = fingerprint()

    result = run_import(write(tmp_path, "status.csv", "lead id,status\nL1,Open\n"), kind="leads")

    assert result.status == "refused"
    assert "missing required column(s) created_at" in result.message
    assert fingerprint() == before


def test_reps_reupload_without_manager_and_team_keeps_them(run_import, con, tmp_path):
    reps = "rep,manager,team,region,active\nAnn,Mia,East,NY,yes\nBob,Mia,East,NJ,no\n"
    assert run_import(write(tmp_path, "reps.csv", reps), kind="reps").ok

    result = run_import(write(tmp_path, "regions.csv", "rep,region\nAnn,Boston\n"), kind="reps")

    assert result.status == "loaded", result.message
    got = con.execute("SELECT rep, manager, team, region, active FROM reps ORDER BY rep").fetchall()
    assert got == [("Ann", "Mia", "East", "Boston", True), ("Bob", "Mia", "East", "NJ", False)]


@pytest.mark.parametrize(
    ("update", "kept"),
    [
        ("rep,manager\nBob,Zed\n", ("Bob", "Zed", "East", False)),  # the team is not named
        ("rep,team\nBob,West\n", ("Bob", "Mia", "West", False)),
        ("rep,active\nBob,yes\n", ("Bob", "Mia", "East", True)),
        ("rep,active\nBob,\n", ("Bob", "Mia", "East", True)),  # blank: the default, active
    ],
)
def test_reps_each_present_column_sets_only_itself(run_import, con, tmp_path, update, kept):
    reps = "rep,manager,team,active\nBob,Mia,East,no\n"
    assert run_import(write(tmp_path, "reps.csv", reps), kind="reps").ok

    assert run_import(write(tmp_path, "change.csv", update), kind="reps").ok

    assert con.execute("SELECT rep, manager, team, active FROM reps").fetchall() == [kept]
