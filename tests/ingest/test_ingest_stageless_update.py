"""A deals file without a stage column updates the deals it names (issue 12.5).

Why: "a column that is absent changes nothing" held for every column but the stage; a
re-upload of owners and amounts without the stage column was refused whole unless it
was a won-deal list. Now each stored deal keeps its stage and outcome, the columns the
file carries update it, and a deal the database does not hold yet is refused, naming
its row and the stage field, with the whole file and nothing changed. A file none of
whose deals is stored is refused whole in one line (nothing in it could be imported).

Won-deal lists keep their rules (analytics.ingest.engine._won_list): a `Won Date` column
without a stage loads every row as won, stored deals included (a closed-deals export
names deals that were open before); a `Close Date` column means a won list too, unless
every deal of the file is stored already, when it is their expected close date and the
file an update; with stored and new deals mixed, it stays a won list (the result says
so, and a backup is taken first).

Real CSV and xlsx files, a real DuckDB file on disk (byte-for-byte for the refusals).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from apptest import assert_clean, open_page  # noqa: E402

from analytics import db  # noqa: E402
from analytics.ingest import import_file, preview_file  # noqa: E402
from analytics.ingest.stageless import preview_note  # noqa: E402
from analytics.markup import plain  # noqa: E402
from analytics.metrics.headline import headline  # noqa: E402
from analytics.pointintime import pipeline_as_of  # noqa: E402
from analytics.scope import Period, Scope  # noqa: E402

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


# --- A messy first export (custom stage names, mixed number styles, hostile text), then
# the partial re-uploads ops make of it. Stages are learned on the first import:
# Scoping Call (open, 10%), Tech Validation (open, 40%), Contract Signed (won: 100%),
# Dead (lost: 0%).
NAME = '**Bold** <b>deal</b> "quoted"'
OWNER = "Ann [x](javascript:1)"
MESSY = (
    "Opportunity ID,Opportunity Name,Account Name,Opportunity Owner,Stage,Amount,"
    "Close Date,Created Date,Probability (%)\n"
    'O-1,"**Bold** <b>deal</b> ""quoted""","Acme ""Corp""",Ann [x](javascript:1),'
    'Scoping Call,"$1,200.50",2024-06-30,2024-01-05,10\n'
    "O-2,Second,Globex,Bob,Tech Validation,3400,2024-07-31,2024-02-01,40\n"
    "O-3,Third,Initech,Cy,Contract Signed,500,2024-02-28,2024-01-10,100\n"
    "O-4,Fourth,Umbrella,Bob,Dead,900,2024-02-20,2024-01-12,0\n"
    'O-5,Fifth,Hooli,Ann,Tech Validation,"2 000",2024-08-15,2024-02-10,40\n'
)
MARCH, APRIL = date(2024, 3, 1), date(2024, 4, 1)
# id + amount + close date, amounts in mixed styles; O-4 is not in it. "Close Date"
# without a stage and every deal stored: an update, not a won list
UPDATE_ROWS = [
    ("O-1", "1,500.00", date(2024, 9, 30)),  # no sign: O-1 keeps its stored USD
    ("O-2", "$3,600", date(2024, 7, 31)),  # stored without a currency: now USD
    ("O-3", "550", date(2024, 2, 28)),
    ("O-5", "2100.50", date(2024, 10, 15)),
]
# (id, name, account, owner, stage, source stage, amount, currency, close, closed, won, prob)
AFTER_UPDATE = [
    ("O-1", NAME, 'Acme "Corp"', OWNER, "Scoping Call", "Scoping Call", Decimal("1500.00"),
     "USD", date(2024, 9, 30), False, False, 10.0),
    ("O-2", "Second", "Globex", "Bob", "Tech Validation", "Tech Validation",
     Decimal("3600.00"), "USD", date(2024, 7, 31), False, False, 40.0),
    ("O-3", "Third", "Initech", "Cy", "Closed Won", "Contract Signed", Decimal("550.00"),
     None, date(2024, 2, 28), True, True, 100.0),
    ("O-4", "Fourth", "Umbrella", "Bob", "Closed Lost", "Dead", Decimal("900.00"), None,
     date(2024, 2, 20), True, False, 0.0),
    ("O-5", "Fifth", "Hooli", "Ann", "Tech Validation", "Tech Validation",
     Decimal("2100.50"), None, date(2024, 10, 15), False, False, 40.0),
]  # fmt: skip


def deals(con: duckdb.DuckDBPyConnection, table: str = "opportunities") -> list[tuple]:
    return con.execute(
        "SELECT opportunity_id, opportunity_name, account, owner, stage, source_stage, amount, "
        f"currency, close_date, is_closed, is_won, probability FROM {table} ORDER BY ALL"
    ).fetchall()


def update_csv(tmp_path: Path, name: str = "update.csv", newline: str = "\n") -> Path:
    lines = ["Opportunity ID,Amount,Close Date"]
    lines += [f'{i},"{amount}",{day.isoformat()}' for i, amount, day in UPDATE_ROWS]
    path = tmp_path / name
    path.write_bytes(newline.join([*lines, ""]).encode("utf-8"))
    return path


def update_xlsx(tmp_path: Path) -> Path:
    """The same update as a workbook: a number cell, text amounts and date cells."""
    wb = Workbook()
    ws = wb.active
    ws.append(["Opportunity ID", "Amount", "Close Date"])
    for i, amount, day in UPDATE_ROWS:
        cell = float(amount) if amount.replace(".", "").isdigit() else amount
        ws.append([i, cell, datetime(day.year, day.month, day.day)])
    path = tmp_path / "update.xlsx"
    wb.save(path)
    return path


@pytest.fixture
def messy(run_import, tmp_path: Path):
    first = run_import(write(tmp_path, "deals.csv", MESSY), as_of=MARCH)
    assert first.status == "loaded", first.message
    assert len(first.new_stages) == 4
    return first


@pytest.mark.parametrize("make", [update_csv, update_xlsx], ids=["csv", "xlsx"])
def test_update_keeps_stage_and_absent_fields_and_sets_the_present_ones(
    messy, make, run_import, con, tmp_path
):
    result = run_import(make(tmp_path), as_of=APRIL)

    assert result.status == "loaded", result.message
    assert (result.rows_inserted, result.rows_updated, result.rows_not_in_file) == (0, 4, 1)
    # the page and the command line print result.message: it says what happened and why
    assert "0 new, 4 updated" in result.message
    assert (
        "stage and outcome kept from the stored deals (4 deals): the file has no stage column"
        in result.message
    )
    assert "won deal" not in result.message  # "Close Date" of stored deals: not a won list
    assert deals(con) == AFTER_UPDATE
    # the snapshot of the update's day is the same state; March's is the first export's
    april = con.execute(
        "SELECT opportunity_id, stage, is_closed, is_won, owner, amount "
        "FROM opportunity_snapshots WHERE snapshot_date = ? ORDER BY 1",
        [APRIL],
    ).fetchall()
    assert april == [(d[0], d[4], d[9], d[10], d[3], d[6]) for d in AFTER_UPDATE if d[0] != "O-4"]
    march = con.execute(
        "SELECT opportunity_id, stage, amount FROM opportunity_snapshots "
        "WHERE snapshot_date = ? ORDER BY 1",
        [MARCH],
    ).fetchall()
    assert march == [
        ("O-1", "Scoping Call", Decimal("1200.50")),
        ("O-2", "Tech Validation", Decimal("3400.00")),
        ("O-3", "Closed Won", Decimal("500.00")),
        ("O-4", "Closed Lost", Decimal("900.00")),
        ("O-5", "Tech Validation", Decimal("2000.00")),
    ]


def test_kpis_after_the_update_by_hand(messy, run_import, con, tmp_path):
    assert run_import(update_csv(tmp_path), as_of=APRIL).status == "loaded"

    # open pipeline on each snapshot: March 1200.50 + 3400 + 2000; April 1500 + 3600 + 2100.50
    for day, total in ((MARCH, 6600.50), (APRIL, 7200.50), (date(2024, 3, 20), 6600.50)):
        known = pipeline_as_of(con, day, source="snapshot")
        assert known.deals["amount"].sum() == pytest.approx(total), day
        assert sorted(known.deals["opportunity_id"]) == ["O-1", "O-2", "O-5"]
    # Q1 2024: won O-3 550 (its amount updated), lost O-4 900: win rate 1 of 2, by value
    # 550 / 1450; open at the quarter's end 7200.50, weighted 1500 x 10% + 3600 x 40%
    # + 2100.50 x 40% = 150 + 1440 + 840.20 = 2430.20
    figures = headline(con, Scope(Period.parse("2024-Q1")))
    assert (figures.bookings, figures.won_deals, figures.lost_deals) == (550.0, 1, 1)
    assert figures.win_rate_count == 0.5
    assert figures.win_rate_value == pytest.approx(550 / 1450)
    assert (figures.open_pipeline, figures.weighted_pipeline, figures.open_deals) == (
        7200.50,
        2430.20,
        3,
    )


def test_rerunning_the_update_is_idempotent(messy, run_import, con, tmp_path, fingerprint):
    assert run_import(update_csv(tmp_path), as_of=APRIL).status == "loaded"
    once = fingerprint()

    same_bytes = run_import(update_csv(tmp_path, "update (1).csv"), as_of=APRIL)

    assert same_bytes.status == "duplicate", same_bytes.message
    assert fingerprint() == once
    # the same rows in other bytes (CRLF) are imported again and change no value
    snapshots = deals(con, "opportunity_snapshots")
    again = run_import(update_csv(tmp_path, "update-crlf.csv", "\r\n"), as_of=APRIL)
    assert again.status == "loaded", again.message
    assert (again.rows_inserted, again.rows_updated, again.rows_unchanged) == (0, 0, 4)
    assert deals(con) == AFTER_UPDATE
    assert deals(con, "opportunity_snapshots") == snapshots


def test_new_ids_are_refused_with_their_rows_in_one_report_line(
    messy, run_import, con, tmp_path, fingerprint
):
    before = fingerprint()
    mixed = "Opportunity ID,Amount\nO-1,1\nN-7,2\nO-2,3\nN-8,4\n"

    result = run_import(write(tmp_path, "mixed.csv", mixed), as_of=APRIL)

    assert result.status == "refused"
    assert fingerprint() == before
    assert [(p.line, p.column, p.value) for p in result.problems] == [
        (3, "Opportunity ID", "N-7"),
        (5, "Opportunity ID", "N-8"),
    ]
    [group] = result.problem_groups
    line = group.describe()
    assert "mixed.csv, column 'Opportunity ID'" in line
    assert "needs stage" in line and "(2 rows: 3, 5)" in line and "'N-7', 'N-8'" in line
    assert result.message.count("needs stage") == 1  # one line, not one per row


def test_keep_valid_loads_the_stored_deals_and_quarantines_the_new(
    messy, run_import, con, tmp_path
):
    mixed = "Opportunity ID,Amount\nO-1,1\nN-7,2\n"

    result = run_import(write(tmp_path, "mixed.csv", mixed), as_of=APRIL, keep_valid=True)

    assert result.status == "partial", result.message
    assert (result.rows_updated, result.rows_rejected) == (1, 1)
    assert "kept from the stored deals (1 deal)" in result.message
    assert con.execute(
        "SELECT stage, amount FROM opportunities WHERE opportunity_id = 'O-1'"
    ).fetchone() == ("Scoping Call", Decimal("1.00"))
    assert con.execute("SELECT line, value FROM quarantine").fetchall() == [(3, "N-7")]


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("Opportunity ID,Opportunity Owner\nN-1,Zed\nN-2,<i>Zed</i>\n", False),
        # a close date not read as wins (a status column beside it): the won-list way on
        ("Opportunity ID,Status,Expected Close Date\nN-1,won,2024-03-20\n", True),
    ],
    ids=["no-close-date", "expected-close-date"],
)
def test_a_file_of_new_deals_only_is_refused_whole_byte_for_byte(text, hint, tmp_path):
    db_file = tmp_path / "sales.duckdb"
    store = tmp_path / "store"
    con = db.connect(db_file)
    try:
        first = import_file(con, write(tmp_path, "deals.csv", MESSY), data_dir=store, as_of=MARCH)
        assert first.status == "loaded", first.message
        con.execute("CHECKPOINT")
        before = _sha(db_file)
        kept = sorted(p.relative_to(store) for p in store.rglob("*"))

        result = import_file(con, write(tmp_path, "new.csv", text), data_dir=store, as_of=APRIL)

        assert result.status == "refused"
        [problem] = result.problems
        assert (problem.file, problem.column, problem.line) == ("new.csv", "stage", None)
        assert "has no stage column" in problem.problem
        assert "none of its deals is in the database yet" in problem.problem
        assert "the first 'N-1' on row 2" in problem.problem
        assert ("--all-won" in problem.problem) is hint
        assert ("'Expected Close Date'" in problem.problem) is hint
        con.execute("CHECKPOINT")
        assert _sha(db_file) == before
        assert sorted(p.relative_to(store) for p in store.rglob("*")) == kept
    finally:
        con.close()


def test_an_export_arriving_late_takes_the_stage_it_had_on_its_date(
    messy, run_import, con, tmp_path
):
    # April's full export: O-2 was signed on 03-20. Then a stage-less export of 03-15
    # arrives: on that day O-2 was still in Tech Validation (March's snapshot), so its
    # history row says so, not today's Closed Won
    april = MESSY.replace(
        "O-2,Second,Globex,Bob,Tech Validation,3400,2024-07-31",
        "O-2,Second,Globex,Bob,Contract Signed,3400,2024-03-20",
    )
    assert run_import(write(tmp_path, "april.csv", april), as_of=APRIL).status == "loaded"
    late = "Opportunity ID,Amount\nO-2,3500\n"

    result = run_import(write(tmp_path, "late.csv", late), as_of=date(2024, 3, 15))

    assert result.status == "loaded", result.message
    assert result.rows_unchanged == 1  # the stored deal is newer: history only
    assert con.execute(
        "SELECT snapshot_date, stage, is_closed, amount FROM opportunity_snapshots "
        "WHERE opportunity_id = 'O-2' ORDER BY 1"
    ).fetchall() == [
        (MARCH, "Tech Validation", False, Decimal("3400.00")),
        (date(2024, 3, 15), "Tech Validation", False, Decimal("3500.00")),
        (APRIL, "Closed Won", True, Decimal("3400.00")),
    ]
    on_15th = pipeline_as_of(con, date(2024, 3, 15), source="snapshot").deals
    assert on_15th.set_index("opportunity_id").loc["O-2", "stage"] == "Tech Validation"


def test_close_dates_of_stored_and_new_deals_mixed_stay_a_won_list(
    messy, run_import, con, tmp_path
):
    # kept behaviour, documented: with a new deal among them, "Close Date" without a stage
    # reads as a closed-deals export, so the stored open deal O-1 becomes a win
    wins = "Opportunity ID,Amount,Close Date\nO-1,1300,2024-03-25\nN-9,800,2024-03-26\n"

    result = run_import(write(tmp_path, "closed.csv", wins), as_of=APRIL)

    assert result.status == "loaded", result.message
    assert "every row loaded as a won deal" in result.message
    assert con.execute(
        "SELECT opportunity_id, stage, is_won, amount, owner FROM opportunities "
        "WHERE opportunity_id IN ('O-1', 'N-9') ORDER BY 1"
    ).fetchall() == [
        ("N-9", "Closed Won", True, Decimal("800.00"), None),
        ("O-1", "Closed Won", True, Decimal("1300.00"), OWNER),
    ]


def test_the_command_line_says_what_happened(tmp_path):
    # `python -m analytics import` prints result.message, as the Data page shows it
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("SALES_DB", None)
    target = tmp_path / "cli" / "sales.duckdb"

    def cli(path: Path, as_of: date) -> subprocess.CompletedProcess:
        args = ["import", str(path), "--db", str(target), "--as-of", as_of.isoformat()]
        proc = subprocess.run(
            [sys.executable, "-m", "analytics", *args],
            cwd=root, env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert "Traceback" not in proc.stdout + proc.stderr
        return proc

    assert cli(write(tmp_path, "deals.csv", MESSY), MARCH).returncode == 0
    updated = cli(update_csv(tmp_path), APRIL)
    assert updated.returncode == 0, updated.stdout
    assert "update.csv: loaded: 4 of 4 rows as opportunities (generic); 0 new, 4 updated" in (
        updated.stdout
    )
    assert (
        "  stage and outcome kept from the stored deals (4 deals): the file has no stage "
        "column.\n" in updated.stdout
    )
    refused = cli(write(tmp_path, "new.csv", "Opportunity ID,Amount\nN-1,5\n"), APRIL)
    assert refused.returncode == 1
    assert refused.stdout.startswith("new.csv: refused, nothing was loaded (1 problem).\n")
    assert "new.csv, column 'stage': the file has no stage column" in refused.stdout


def test_the_data_page_preview_calls_it_an_update_not_a_refusal(tmp_path):
    # the page shows preview_note instead of "the import will be refused"
    preview = preview_file(update_csv(tmp_path))
    assert (preview.kind, preview.missing_required) == ("opportunities", ["stage"])
    note = preview_note(preview.kind, preview.missing_required)
    assert note is not None
    assert "can only update deals already in the database" in note
    assert "Every row is a won deal" in note
    assert preview_note("opportunities", ["opportunity_id", "stage"]) is None
    assert preview_note("leads", ["stage"]) is None


def test_the_data_page_announces_the_update_and_reports_it(tmp_path, monkeypatch):
    db_file = tmp_path / "app.duckdb"
    con = db.connect(db_file)
    try:
        first = import_file(con, write(tmp_path, "deals.csv", MESSY), as_of=MARCH)
        assert first.status == "loaded", first.message
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(db_file))
    at = open_page("pages/data.py")
    # dated by its name: the page's as-of date stays empty
    content = update_csv(tmp_path).read_bytes()
    at.file_uploader(key="uploads").set_value(("update_2024-04-01.csv", content, "text/csv"))
    at.run()
    assert_clean(at)
    assert any("can only update deals already in the database" in i.value for i in at.info)
    assert not any("will be refused" in w.value for w in at.warning)

    at.button(key="import").click().run()

    assert_clean(at)
    assert any(
        plain(s.value).startswith("update_2024-04-01.csv: loaded: 4 of 4 rows") for s in at.success
    )
    report = "\n".join(t.value for t in at.text)
    assert "stage and outcome kept from the stored deals (4 deals): the file has no stage" in (
        report
    )
    con = db.connect(db_file)
    try:
        assert deals(con) == AFTER_UPDATE
    finally:
        con.close()
