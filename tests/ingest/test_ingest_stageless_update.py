"""A deals file without a stage column updates the deals it names (issue 12.5).

Why: "a column that is absent changes nothing" held for every column but the stage; a
re-upload of owners and amounts without the stage column was refused whole unless it
was a won-deal list. Now each stored deal keeps its stage and outcome, the columns the
file carries update it, and a deal the database does not hold yet is refused, naming
its row and the stage field, with the whole file and nothing changed. Real CSV files,
a real DuckDB file on disk, the real command line for the byte-for-byte check.
"""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from analytics import db
from analytics.ingest import import_file

FULL = (
    "Deal ID,Deal Name,Account Name,Owner,Stage,Amount,Created Date,Close Date,Probability\n"
    'D1,"**Big** deal","Acme ""Corp""",Ann,Discovery,"1,200.50",2024-01-05,2024-06-30,10\n'
    "D2,Second,Globex,Bob,Demo,3400,2024-02-01,2024-07-31,40\n"
    "D3,Third,Initech,Cy,Closed Won,500,2024-01-10,2024-03-01,100\n"
    "D4,Fourth,Umbrella,Bob,Closed Lost,900,2024-01-12,2024-02-20,0\n"
)
# the re-upload: new owners and amounts, no stage, no probability
NO_STAGE = "Deal ID,Owner,Amount\nD1,Dee,1500\nD2,<b>Bob</b>,3600\nD3,Cy,550\nD4,Eve,\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def state(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "SELECT opportunity_id, stage, source_stage, is_closed, is_won, probability, owner, "
        "amount, account FROM opportunities ORDER BY opportunity_id"
    ).fetchall()


def test_a_reupload_without_stages_keeps_each_deals_stage_and_outcome(run_import, con, tmp_path):
    assert run_import(write(tmp_path, "deals.csv", FULL), as_of=date(2024, 3, 1)).ok

    result = run_import(write(tmp_path, "owners.csv", NO_STAGE), as_of=date(2024, 4, 1))

    assert result.status == "loaded", result.message
    assert (result.rows_updated, result.rows_inserted) == (4, 0)
    assert result.note == (
        "stage and outcome kept from the stored deals (4 deals): the file has no stage column"
    )
    assert state(con) == [
        ("D1", "Discovery", "Discovery", False, False, 10.0, "Dee", Decimal("1500.00"),
         'Acme "Corp"'),
        ("D2", "Demo", "Demo", False, False, 40.0, "<b>Bob</b>", Decimal("3600.00"), "Globex"),
        ("D3", "Closed Won", "Closed Won", True, True, 100.0, "Cy", Decimal("550.00"),
         "Initech"),
        ("D4", "Closed Lost", "Closed Lost", True, False, 0.0, "Eve", None, "Umbrella"),
    ]  # fmt: skip
    # the snapshot of the later date carries the kept stages too
    snap = con.execute(
        "SELECT opportunity_id, stage, is_won, owner FROM opportunity_snapshots "
        "WHERE snapshot_date = DATE '2024-04-01' ORDER BY 1"
    ).fetchall()
    assert snap == [
        ("D1", "Discovery", False, "Dee"),
        ("D2", "Demo", False, "<b>Bob</b>"),
        ("D3", "Closed Won", True, "Cy"),
        ("D4", "Closed Lost", False, "Eve"),
    ]
    # totals, by hand: open 1500 + 3600, won 550
    assert con.execute(
        "SELECT sum(amount) FILTER (WHERE NOT is_closed), sum(amount) FILTER (WHERE is_won), "
        "count(*) FILTER (WHERE is_closed AND NOT is_won) FROM opportunities"
    ).fetchone() == (Decimal("5100.00"), Decimal("550.00"), 1)


def test_a_new_deal_without_a_stage_is_refused_naming_row_and_field(
    run_import, con, tmp_path, fingerprint
):
    assert run_import(write(tmp_path, "deals.csv", FULL), as_of=date(2024, 3, 1)).ok
    before = fingerprint()
    mixed = NO_STAGE + "D9,Zoe,700\n"

    refused = run_import(write(tmp_path, "mixed.csv", mixed), as_of=date(2024, 4, 1))

    assert refused.status == "refused"
    assert fingerprint() == before
    [problem] = refused.problems
    assert (problem.line, problem.column, problem.value) == (6, "Deal ID", "D9")
    assert "stage" in problem.problem and "not in the database yet" in problem.problem


def test_a_stageless_file_into_an_empty_database_is_refused(run_import, con, tmp_path, fingerprint):
    before = fingerprint()

    result = run_import(write(tmp_path, "owners.csv", NO_STAGE))

    assert result.status == "refused"
    assert "missing required column(s) stage" in result.message
    assert fingerprint() == before


def test_stored_deals_with_their_expected_close_date_are_an_update_not_a_won_list(
    run_import, con, tmp_path
):
    # "Close Date" without a stage reads as a won-deal list (issue 12.6) - unless every
    # deal in the file is stored already: then it is their expected close date
    assert run_import(write(tmp_path, "deals.csv", FULL), as_of=date(2024, 3, 1)).ok
    dates = "Deal ID,Close Date\nD1,2024-09-30\nD2,2024-10-31\n"

    result = run_import(write(tmp_path, "dates.csv", dates), as_of=date(2024, 4, 1))

    assert result.status == "loaded", result.message
    got = con.execute(
        "SELECT opportunity_id, stage, is_won, close_date FROM opportunities "
        "WHERE opportunity_id IN ('D1', 'D2') ORDER BY 1"
    ).fetchall()
    assert got == [
        ("D1", "Discovery", False, date(2024, 9, 30)),
        ("D2", "Demo", False, date(2024, 10, 31)),
    ]


def test_a_won_date_file_is_still_a_won_list(run_import, con, tmp_path):
    assert run_import(write(tmp_path, "deals.csv", FULL), as_of=date(2024, 3, 1)).ok
    wins = "Deal ID,Amount,Won Date\nD2,3400,2024-03-20\n"

    result = run_import(write(tmp_path, "wins.csv", wins), as_of=date(2024, 4, 1))

    assert result.status == "loaded", result.message
    assert con.execute(
        "SELECT stage, is_won FROM opportunities WHERE opportunity_id = 'D2'"
    ).fetchone() == ("Closed Won", True)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_refused_mixed_file_leaves_the_database_file_byte_for_byte(tmp_path: Path) -> None:
    # Opening a database recounts its derived tables (analytics.db.apply_schema), so the
    # file is compared within one connection, each side checkpointed to disk.
    db_file = tmp_path / "sales.duckdb"
    con = db.connect(db_file)
    try:
        store = tmp_path / "store"
        full = import_file(con, write(tmp_path, "deals.csv", FULL), data_dir=store,
                           as_of=date(2024, 3, 1))  # fmt: skip
        assert full.status == "loaded", full.message
        con.execute("CHECKPOINT")
        before = _sha(db_file)

        mixed = import_file(con, write(tmp_path, "mixed.csv", NO_STAGE + "D9,Zoe,700\n"),
                            data_dir=store)  # fmt: skip

        assert mixed.status == "refused"
        assert "D9" in mixed.message
        con.execute("CHECKPOINT")
        assert _sha(db_file) == before
        assert sorted(p.name for p in tmp_path.glob("sales.duckdb*")) == ["sales.duckdb"]
    finally:
        con.close()
