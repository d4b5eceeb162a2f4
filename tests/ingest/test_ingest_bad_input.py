"""Bad uploads: a clear report (file, row, column, value, problem) and an untouched database.

The table of bad files runs against a database that already holds a good import; each case
takes a full fingerprint (every table's contents, the stage-history view and the stored
uploads) before and after importing its bad file, and compares.
"""

from __future__ import annotations

import csv
import random
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook

from analytics.ingest import import_file, preview_file
from analytics.settings import load_stages, save_stages

H = "opportunity_id,opportunity_name,owner,stage,amount,close_date\n"
OK1 = "A1,One,Ann,Discovery,100,2024-01-02\n"
OK2 = "A2,Two,Ann,Qualified,200,2024-01-03\n"
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)


def _xlsx(path: Path, rows: list[list]) -> None:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    wb.save(path)


def _bytes(content) -> bytes:
    return content if isinstance(content, bytes) else content.encode("utf-8")


# (file name, content, import kwargs, fragments the message must contain, row, column)
BAD = [
    pytest.param(
        "missing.csv",
        "opportunity_id,owner,amount\nA1,Ann,100\n",
        {},
        # no stage column updates stored deals (issue 12.5); its only deal A1 is new:
        # nothing could be imported, so the whole file is refused in one line
        ["has no stage column", "none of its deals is in the database yet", "'A1' on row 2"],
        None,
        "stage",
        id="missing-required-column",
    ),
    pytest.param(
        "no_id.csv",
        "Owner,Stage,Amount\nAnn,Discovery,100\n",
        {},
        ["missing required column", "opportunity_id (or opportunity_name)", "'Owner', 'Stage'"],
        None,
        None,
        id="missing-id-and-name",
    ),
    pytest.param(
        "amount.csv",
        H + OK1 + "A2,Two,Ann,Discovery,12abc,2024-01-02\n",
        {},
        ["row 3", "'amount'", "is not an amount", "'12abc'"],
        3,
        "amount",
        id="unparsable-amount",
    ),
    pytest.param(
        "date.csv",
        H + OK1 + "A2,Two,Ann,Discovery,100,next week\n",
        {},
        ["row 3", "'close_date'", "is not a date", "'next week'"],
        3,
        "close_date",
        id="unparsable-date",
    ),
    pytest.param(
        "impossible_date.csv",
        H + OK1 + "A2,Two,Ann,Discovery,100,2024-02-30\n",
        {},
        ["row 3", "'close_date'", "is not a date", "'2024-02-30'"],
        3,
        "close_date",
        id="impossible-date",
    ),
    pytest.param(
        "year.csv",
        H + "A1,One,Ann,Discovery,100,0024-01-02\n",
        {},
        ["row 2", "'close_date'", "outside 1900-2100"],
        2,
        "close_date",
        id="implausible-year",
    ),
    pytest.param(
        "stage.csv",
        H + OK1 + "A2,Two,Ann,Contract Haggling,100,2024-01-02\n",
        {"learn_stages": False},  # opted out of learning new stages (issue 12.2)
        ["row 3", "'stage'", "is not a known stage", "'Contract Haggling'"],
        3,
        "stage",
        id="unknown-stage",
    ),
    pytest.param(
        "no_stage.csv",
        H + "A1,One,Ann,,100,2024-01-02\n",
        {},
        ["row 2", "'stage'", "is empty"],
        2,
        "stage",
        id="empty-required-stage",
    ),
    pytest.param(
        "probability.csv",
        "opportunity_id,stage,probability\nA1,Discovery,150%\n",
        {},
        ["row 2", "'probability'", "percentage", "'150%'"],
        2,
        "probability",
        id="probability-out-of-range",
    ),
    pytest.param(
        "dups.csv",
        H + OK1 + OK2 + "A1,Again,Bob,Discovery,300,2024-01-04\n",
        {},
        ["row 4", "'opportunity_id'", "repeats", "row 2", "'A1'"],
        4,
        "opportunity_id",
        id="duplicate-id-in-file",
    ),
    pytest.param("empty.csv", b"", {}, ["empty.csv", "empty"], None, None, id="empty-file"),
    pytest.param(
        "blank.csv", "\n \r\n\t\n", {}, ["blank.csv", "empty"], None, None, id="blank-lines-only"
    ),
    pytest.param("header.csv", H, {}, ["header.csv", "no data rows"], None, None, id="header-only"),
    pytest.param(
        "report.csv",
        "Opportunity Name,Stage,Amount\n\n"
        '"Grand Totals (0 records)"\n\n"Confidential Information - Do Not Distribute"\n'
        '"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."\n',
        {},
        ["report.csv", "no data rows"],
        None,
        None,
        id="report-with-only-footers",
    ),
    pytest.param(
        "random.csv",
        random.Random(20240305).randbytes(4096),
        {},
        ["random.csv", "not a text file"],
        None,
        None,
        id="random-bytes",
    ),
    pytest.param(
        "image.csv",
        PNG + random.Random(7).randbytes(512),
        {},
        ["image.csv", "not a text file"],
        None,
        None,
        id="png-header",
    ),
    pytest.param(
        "huge.csv",
        H + "A1," + "x" * 1_000_000 + ",Ann,Discovery,100,2024-01-02\n",
        {},
        ["row 2", "'opportunity_name'", "1000000 characters", "limit"],
        2,
        "opportunity_name",
        id="one-megabyte-field",
    ),
    pytest.param(
        "wide.csv",
        H + OK1 + "A2,Two,Ann,Discovery,100,2024-01-02,extra,more\n",
        {},
        ["row 3", "fields", "header has 6"],
        3,
        None,
        id="too-many-fields",
    ),
    pytest.param(
        "quote.csv",
        H + 'A1,"One,Ann,Discovery,100,2024-01-02\n',
        {},
        ["quote.csv", "row 2", "quoted field is not closed"],
        2,
        None,
        id="unclosed-quote",
    ),
    pytest.param(
        "legacy.xls", OLE, {}, ["legacy.xls", ".xls", ".xlsx"], None, None, id="xls-ole-file"
    ),
    pytest.param(
        "broken.xlsx",
        b"PK\x03\x04" + random.Random(3).randbytes(600),
        {},
        ["broken.xlsx", "cannot be read"],
        None,
        None,
        id="damaged-xlsx",
    ),
    pytest.param("gone.csv", None, {}, ["gone.csv", "not found"], None, None, id="file-not-found"),
    pytest.param(
        "pipeline.csv",
        "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value\n"
        "1C1I7A6R,Moses Frase,GTX Plus Basic,Cancity,Won,2016-10-20,2017-03-01,1054\n",
        {"kind": "reps"},
        ["pipeline.csv", "opportunities", "not reps"],
        None,
        None,
        id="wrong-kind",
    ),
    pytest.param(
        "deals.csv",
        H + OK1,
        {"kind": "deals"},
        ["deals.csv", "unknown kind 'deals'"],
        None,
        None,
        id="unknown-kind",
    ),
]


@pytest.mark.parametrize(("name", "content", "kwargs", "fragments", "line", "column"), BAD)
def test_bad_file_is_refused_and_changes_nothing(
    name, content, kwargs, fragments, line, column, tmp_path, preloaded
):
    path = tmp_path / "upload" / name
    path.parent.mkdir()
    if content is not None:
        path.write_bytes(_bytes(content))
    before = preloaded.fingerprint()
    assert before["opportunities"] and before["imports"]  # there is data to protect

    result = preloaded.run(path, **kwargs)

    assert result.status == "refused"
    assert not result.ok
    assert result.import_id is None
    assert result.stored_path is None
    assert result.rows_loaded == 0
    message = result.message
    assert message.startswith(f"{name}: refused")
    assert "Traceback" not in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in: {message}"
    assert result.problems, message
    first = result.problems[0]
    assert first.file == name
    assert (first.line, first.column) == (line, column)
    assert sum(result.problem_totals.values()) >= 1
    assert preloaded.fingerprint() == before


def test_too_many_fields_message_counts_the_fields(tmp_path, run_import):
    path = tmp_path / "wide.csv"
    path.write_text(H + OK1 + "A2,Two,Ann,Discovery,100,2024-01-02,extra,more\n", encoding="utf-8")

    result = run_import(path)

    assert result.status == "refused"
    assert "row 3: the row has 8 fields but the header has 6" in result.message


def test_report_groups_problems_and_keeps_fifty_rows_of_detail(tmp_path, run_import, fingerprint):
    path = tmp_path / "many.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["opportunity_id", "stage", "amount"])
        for i in range(150):
            writer.writerow([f"X{i}", "Discovery", "lots" if i < 120 else "10"])
    before = fingerprint()

    result = run_import(path)

    assert result.status == "refused"
    assert len(result.problems) == 50
    assert [p.line for p in result.problems] == list(range(2, 52))
    assert result.problem_totals == {"is not an amount": 120}
    # issue 12.3: one line per column and problem, never one per row
    lines = result.message.splitlines()
    assert lines[1:] == [
        "  many.csv, column 'amount': is not an amount (120 rows: 2, 3, 4, 5, 6, ...); value 'lots'"
    ]
    (group,) = result.problem_groups
    assert (group.count, group.lines, group.values) == (120, (2, 3, 4, 5, 6), ("lots",))
    assert fingerprint() == before


def test_totals_per_problem_kind(tmp_path, run_import):
    path = tmp_path / "mixed.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["opportunity_id", "stage", "amount", "close_date"])
        for i in range(100):
            amount = "n/a" if i % 2 == 0 else "5"  # 50 bad amounts
            when = "soon" if i % 10 == 0 else "2024-01-01"  # 10 bad dates
            stage = "Haggling" if i % 20 == 1 else "Discovery"  # 5 unknown stages
            writer.writerow([f"X{i}", stage, amount, when])

    result = run_import(path, learn_stages=False)

    assert result.status == "refused"
    assert result.problem_totals == {
        "is not an amount": 50,
        "is not a date": 10,
        next(k for k in result.problem_totals if k.startswith("is not a known stage")): 5,
    }
    assert len(result.problems) == 50
    assert [p.line for p in result.problems] == sorted(p.line for p in result.problems)
    lines = result.message.splitlines()[1:]
    assert len(lines) == 3  # one per column and problem
    assert lines[0].startswith("  mixed.csv, column 'amount': is not an amount (50 rows: 2, 4, 6")
    assert "value 'n/a'" in lines[0]
    assert "is not a date (10 rows: 2, 12, 22, 32, 42, ...); value 'soon'" in lines[1]
    assert "(5 rows: 3, 23, 43, 63, 83); value 'Haggling'" in lines[2]


@pytest.mark.parametrize(
    ("encoding", "delimiter"),
    [("utf-8", ","), ("utf-8-sig", ","), ("utf-16", "\t"), ("cp1251", ";")],
    ids=["utf-8", "utf-8-bom", "utf-16-tab", "cp1251-semicolon"],
)
def test_problem_row_counts_blank_lines_in_the_middle(encoding, delimiter, tmp_path, run_import):
    # the user opens the file at the row the report names: blank rows count as rows
    text = H + "A1,Один,Ann,Discovery,100,2024-01-02\n\nA2,Два,Ann,Discovery,bad,2024-01-02\n"
    path = tmp_path / "gap.csv"
    path.write_bytes(text.replace(",", delimiter).encode(encoding))

    result = run_import(path)

    assert result.status == "refused"
    assert [(p.line, p.column, p.value) for p in result.problems] == [(4, "amount", "bad")]


def test_too_many_fields_after_a_blank_line(tmp_path, run_import):
    path = tmp_path / "gap.csv"
    path.write_text(
        H + OK1 + "\n" + "A2,Two,Ann,Discovery,100,2024-01-02,extra,more\n", encoding="utf-8"
    )

    result = run_import(path)

    assert result.status == "refused"
    assert "row 4: the row has 8 fields but the header has 6" in result.message


def test_rows_after_a_multi_line_record(tmp_path, run_import):
    # a quoted line break keeps the record on one spreadsheet row, as Excel shows it
    multi = 'A1,"One\nline two\nline three",Ann,Discovery,100,2024-01-02\n'
    bad_amount = tmp_path / "amount.csv"
    bad_amount.write_text(H + multi + "A2,Two,Ann,Discovery,bad,2024-01-02\n", encoding="utf-8")
    wide = tmp_path / "wide.csv"
    wide.write_text(H + multi + "A2,Two,Ann,Discovery,100,2024-01-02,x,y\n", encoding="utf-8")

    amount_result = run_import(bad_amount)
    wide_result = run_import(wide)

    assert [(p.line, p.column) for p in amount_result.problems] == [(3, "amount")]
    assert "row 3: the row has 8 fields but the header has 6" in wide_result.message


def test_problem_row_after_leading_blank_lines(tmp_path, run_import):
    path = tmp_path / "lead.csv"
    path.write_text("\n\n" + H + OK1 + "A2,Two,Ann,Discovery,bad,2024-01-02\n", encoding="utf-8")

    result = run_import(path)

    assert [(p.line, p.column) for p in result.problems] == [(5, "amount")]


def test_xlsx_problem_names_the_spreadsheet_row(tmp_path, run_import, fingerprint):
    path = tmp_path / "deals.xlsx"
    _xlsx(
        path,
        [
            ["opportunity_id", "stage", "amount"],
            ["X1", "Discovery", 10],
            ["X2", "Discovery", "ten"],
        ],
    )
    before = fingerprint()

    result = run_import(path)

    assert result.status == "refused"
    assert [(p.line, p.column, p.value) for p in result.problems] == [(3, "amount", "ten")]
    assert "deals.xlsx, row 3, column 'amount'" in result.message
    assert fingerprint() == before


def test_xlsx_with_an_empty_first_sheet(tmp_path, run_import, fingerprint):
    path = tmp_path / "blank.xlsx"
    _xlsx(path, [])
    before = fingerprint()

    result = run_import(path)

    assert result.status == "refused"
    assert "blank.xlsx" in result.message and "empty" in result.message
    assert fingerprint() == before


def test_refused_file_can_be_fixed_and_imported(tmp_path, run_import, con):
    path = tmp_path / "deals.csv"
    path.write_text(H + "A1,One,Ann,Haggling,lots,2024-01-02\n", encoding="utf-8")
    assert run_import(path).status == "refused"
    assert run_import(path).status == "refused"  # a refused file is not "already imported"

    path.write_text(H + OK1, encoding="utf-8")
    result = run_import(path)

    assert result.status == "loaded", result.message
    assert con.execute("SELECT count(*) FROM imports").fetchone()[0] == 1


def test_keep_valid_loads_good_rows_and_quarantines_the_rest(tmp_path, run_import, con, data_dir):
    path = tmp_path / "partial.csv"
    path.write_text(
        H
        + OK1
        + OK2
        + "A3,Three,Bob,Haggling,300,2024-01-04\n"  # row 4: unknown stage
        + "A4,Four,Bob,Discovery,lots,someday\n"  # row 5: two problems
        + "A5,Five,Cy,Closed Won,500,2024-01-06\n"
        + "A1,Dup,Cy,Discovery,600,2024-01-07\n",  # row 7: repeats A1
        encoding="utf-8",
    )

    result = run_import(path, keep_valid=True, learn_stages=False)

    assert result.status == "partial", result.message
    assert result.ok
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (6, 3, 3)
    assert "3 rows rejected" in result.message
    loaded = con.execute("SELECT opportunity_id, amount FROM opportunities ORDER BY 1").fetchall()
    assert loaded == [
        ("A1", Decimal("100.00")),
        ("A2", Decimal("200.00")),
        ("A5", Decimal("500.00")),
    ]
    quarantine = con.execute(
        "SELECT import_id, line, column_name, value, problem FROM quarantine "
        "ORDER BY line, column_name"
    ).fetchall()
    assert [(q[0], q[1], q[2], q[3]) for q in quarantine] == [
        (result.import_id, 4, "stage", "Haggling"),
        (result.import_id, 5, "amount", "lots"),
        (result.import_id, 5, "close_date", "someday"),
        (result.import_id, 7, "opportunity_id", "A1"),
    ]
    assert quarantine[0][4].startswith("is not a known stage")
    assert [q[4] for q in quarantine[1:3]] == ["is not an amount", "is not a date"]
    assert "repeats" in quarantine[3][4]
    assert con.execute("SELECT rows_loaded, rows_rejected FROM imports").fetchall() == [(3, 3)]
    assert Path(result.stored_path).is_file()


def test_keep_valid_still_refuses_an_unusable_file(tmp_path, run_import, fingerprint):
    path = tmp_path / "missing.csv"
    path.write_text("opportunity_id,amount\nA1,100\n", encoding="utf-8")
    before = fingerprint()

    result = run_import(path, keep_valid=True)

    assert result.status == "refused"
    assert "missing required column" in result.message
    assert fingerprint() == before


@pytest.mark.parametrize(
    ("name", "content"),
    [("random.csv", random.Random(1).randbytes(2048)), ("legacy.xls", OLE), ("empty.csv", b"")],
)
def test_preview_reports_unreadable_files_without_raising(name, content, tmp_path):
    path = tmp_path / name
    path.write_bytes(content)

    preview = preview_file(path)

    assert preview.problem is not None
    assert name in preview.problem
    assert preview.sample.empty


def test_unknown_stage_loads_once_added_on_settings(tmp_path, run_import, con, opp):
    # opted out of learning (issue 12.2): the alias typed on Settings is what lets it in
    path = tmp_path / "deals.csv"
    path.write_text(H + "A1,One,Ann,Contract Haggling,100,2024-01-02\n", encoding="utf-8")
    assert run_import(path, learn_stages=False).status == "refused"
    stages = list(load_stages(con))
    final = next(i for i, s in enumerate(stages) if s.name == "Final Decision")
    stages[final] = replace(stages[final], aliases=(*stages[final].aliases, "Contract Haggling"))
    save_stages(con, stages)

    result = run_import(path, learn_stages=False)

    assert result.status == "loaded", result.message
    assert (opp("A1")["stage"], opp("A1")["source_stage"]) == (
        "Final Decision",
        "Contract Haggling",
    )


def test_failure_to_keep_the_original_rolls_everything_back(
    ingest_data, tmp_path, con, fingerprint
):
    assert import_file(con, ingest_data / "template.csv", data_dir=tmp_path / "store").ok
    before = fingerprint()
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the upload folder should be", encoding="utf-8")

    result = import_file(con, ingest_data / "hubspot.csv", data_dir=blocked)

    assert result.status == "refused"
    assert result.message.startswith("hubspot.csv: refused")
    assert fingerprint() == before


def test_keep_valid_with_no_valid_row_loads_nothing(tmp_path, run_import, fingerprint):
    # "load the valid rows" of a file without one is a refusal, not a success: the CLI
    # would otherwise exit 0 and the file would count as imported
    path = tmp_path / "allbad.csv"
    path.write_text("opportunity_id,stage,amount\nA,Discovery,x\nB,Discovery,y\n", "utf-8")
    before = fingerprint()

    result = run_import(path, keep_valid=True)

    assert result.status == "refused"
    assert not result.ok
    assert "column 'amount': is not an amount (2 rows: 2, 3); values 'x', 'y'" in result.message
    assert fingerprint() == before


def test_partial_file_loads_the_rest_after_settings_learn_its_stage(tmp_path, run_import, con, opp):
    # keep_valid loads 2 of 3 rows; ops add the unknown stage on Settings and upload the
    # same file again: its third row must load now (not "already imported")
    path = tmp_path / "pipeline.csv"
    path.write_text(H + OK1 + OK2 + "A3,Three,Bob,Contract Haggling,300,2024-01-04\n", "utf-8")
    first = run_import(path, keep_valid=True, learn_stages=False)
    assert (first.status, first.rows_loaded) == ("partial", 2)
    stages = list(load_stages(con))
    final = next(i for i, s in enumerate(stages) if s.name == "Final Decision")
    stages[final] = replace(stages[final], aliases=(*stages[final].aliases, "Contract Haggling"))
    save_stages(con, stages)

    again = run_import(path)

    assert again.status == "loaded", again.message
    assert opp("A3")["stage"] == "Final Decision"
