"""Idempotence, snapshots and the kept originals.

Three exports of the same pipeline: January, February (newer: stages moved, one deal gone,
one new) and December (older, imported last). The current state follows the newest export,
every export is kept as its own snapshot, and stage history is derived from the snapshots.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

D = Decimal
H = "opportunity_id,opportunity_name,owner,stage,amount,close_date\n"
JAN = H + (
    "A1,One,Ann,Discovery,100,2024-03-01\n"
    "A2,Two,Ann,Qualified,200,2024-03-02\n"
    "A3,Three,Bob,Demo,300,2024-03-03\n"
)
FEB = H + (
    "A1,One,Ann,Demo,150,2024-03-01\n"
    "A2,Two,Ann,Closed Won,200,2024-02-27\n"  # won before the as-of date
    "A4,Four,Bob,Discovery,400,2024-04-01\n"
)
DEC = H + ("A1,One,Ann,Prospecting,90,2024-03-01\nA2,Two,Ann,Discovery,180,2024-03-02\n")
JAN_ASOF, FEB_ASOF, DEC_ASOF = date(2024, 1, 31), date(2024, 2, 29), date(2023, 12, 31)


@pytest.fixture
def export(tmp_path):
    def write(name: str, text: str) -> Path:
        path = tmp_path / "exports" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return write


def current(con):
    return con.execute(
        "SELECT opportunity_id, stage, amount, snapshot_date FROM opportunities ORDER BY 1"
    ).fetchall()


def test_same_file_again_is_a_duplicate_and_adds_nothing(export, run_import, fingerprint, con):
    path = export("pipeline.csv", JAN)
    first = run_import(path, as_of=JAN_ASOF)
    assert first.status == "loaded", first.message
    before = fingerprint()

    again = run_import(path, as_of=FEB_ASOF)

    assert again.status == "duplicate"
    assert again.ok
    assert again.import_id == first.import_id
    assert "already imported" in again.message
    assert again.rows_loaded == 0
    assert fingerprint() == before


def test_same_bytes_under_another_name_is_a_duplicate(export, run_import, fingerprint):
    assert run_import(export("pipeline.csv", JAN), as_of=JAN_ASOF).status == "loaded"
    before = fingerprint()

    again = run_import(export("pipeline (1).csv", JAN))

    assert again.status == "duplicate"
    assert fingerprint() == before


def test_newer_export_updates_by_key_and_keeps_missing_records(export, run_import, con):
    run_import(export("jan.csv", JAN), as_of=JAN_ASOF)

    result = run_import(export("feb.csv", FEB), as_of=FEB_ASOF)

    assert result.status == "loaded", result.message
    assert (result.rows_loaded, result.rows_inserted, result.rows_updated) == (3, 1, 2)
    assert result.rows_not_in_file == 1
    assert "not in this file" in result.message
    assert current(con) == [
        ("A1", "Demo", D("150.00"), FEB_ASOF),
        ("A2", "Closed Won", D("200.00"), FEB_ASOF),
        ("A3", "Demo", D("300.00"), JAN_ASOF),  # not in February's export: kept as it was
        ("A4", "Discovery", D("400.00"), FEB_ASOF),
    ]
    won = con.execute("SELECT is_won, is_closed FROM opportunities WHERE opportunity_id = 'A2'")
    assert won.fetchone() == (True, True)
    snapshots = con.execute(
        "SELECT opportunity_id, snapshot_date, stage FROM opportunity_snapshots ORDER BY 1, 2"
    ).fetchall()
    assert snapshots == [
        ("A1", JAN_ASOF, "Discovery"),
        ("A1", FEB_ASOF, "Demo"),
        ("A2", JAN_ASOF, "Qualified"),
        ("A2", FEB_ASOF, "Closed Won"),
        ("A3", JAN_ASOF, "Demo"),
        ("A4", FEB_ASOF, "Discovery"),
    ]


def test_older_export_does_not_overwrite_but_is_kept_as_a_snapshot(export, run_import, con):
    run_import(export("jan.csv", JAN), as_of=JAN_ASOF)
    run_import(export("feb.csv", FEB), as_of=FEB_ASOF)
    state = current(con)

    result = run_import(export("dec.csv", DEC), as_of=DEC_ASOF)

    assert result.status == "loaded", result.message
    assert (result.rows_loaded, result.rows_inserted, result.rows_updated) == (2, 0, 0)
    assert result.rows_unchanged == 2
    assert current(con) == state
    dec = con.execute(
        "SELECT opportunity_id, stage, amount FROM opportunity_snapshots "
        "WHERE snapshot_date = ? ORDER BY 1",
        [DEC_ASOF],
    ).fetchall()
    assert dec == [("A1", "Discovery", D("90.00")), ("A2", "Discovery", D("180.00"))]
    days = con.execute("SELECT DISTINCT snapshot_date FROM opportunity_snapshots ORDER BY 1")
    assert days.fetchall() == [(DEC_ASOF,), (JAN_ASOF,), (FEB_ASOF,)]


def test_older_export_adds_records_the_database_does_not_have(export, run_import, con):
    run_import(export("feb.csv", FEB), as_of=FEB_ASOF)

    result = run_import(export("jan.csv", JAN), as_of=JAN_ASOF)

    assert result.status == "loaded", result.message
    assert result.rows_inserted == 1  # A3 only exists in the older export
    assert ("A3", "Demo", D("300.00"), JAN_ASOF) in current(con)
    assert ("A1", "Demo", D("150.00"), FEB_ASOF) in current(con)


def test_stage_history_is_derived_from_snapshots(export, run_import, con):
    run_import(export("jan.csv", JAN), as_of=JAN_ASOF)
    run_import(export("feb.csv", FEB), as_of=FEB_ASOF)
    run_import(export("dec.csv", DEC), as_of=DEC_ASOF)

    history = con.execute(
        "SELECT opportunity_id, stage, entered_at, origin FROM opportunity_stage_history "
        "ORDER BY opportunity_id, entered_at"
    ).fetchall()

    midnight = lambda d: datetime(d.year, d.month, d.day)  # noqa: E731
    assert history == [
        ("A1", "Discovery", midnight(DEC_ASOF), "snapshot"),  # January repeats it: no row
        ("A1", "Demo", midnight(FEB_ASOF), "snapshot"),
        ("A2", "Discovery", midnight(DEC_ASOF), "snapshot"),
        ("A2", "Qualified", midnight(JAN_ASOF), "snapshot"),
        ("A2", "Closed Won", midnight(FEB_ASOF), "snapshot"),
        ("A3", "Demo", midnight(JAN_ASOF), "snapshot"),
        ("A4", "Discovery", midnight(FEB_ASOF), "snapshot"),
    ]


def test_re_export_with_the_same_as_of_date_replaces_that_days_snapshot(export, run_import, con):
    run_import(export("jan.csv", JAN), as_of=JAN_ASOF)
    corrected = JAN.replace("A1,One,Ann,Discovery,100", "A1,One,Ann,Qualified,110")

    result = run_import(export("jan-corrected.csv", corrected), as_of=JAN_ASOF)

    assert result.status == "loaded", result.message
    rows = con.execute(
        "SELECT snapshot_date, stage, amount FROM opportunity_snapshots WHERE opportunity_id = 'A1'"
    ).fetchall()
    assert rows == [(JAN_ASOF, "Qualified", D("110.00"))]
    assert ("A1", "Qualified", D("110.00"), JAN_ASOF) in current(con)
    unique = con.execute(
        "SELECT count(*) = count(DISTINCT (snapshot_date, opportunity_id)) "
        "FROM opportunity_snapshots"
    ).fetchone()[0]
    assert unique


def test_as_of_defaults_to_today(export, run_import, con):
    result = run_import(export("jan.csv", JAN))

    assert result.as_of == date.today()
    assert con.execute("SELECT DISTINCT snapshot_date FROM opportunities").fetchall() == [
        (date.today(),)
    ]
    assert con.execute("SELECT as_of_date FROM imports").fetchall() == [(date.today(),)]


@pytest.mark.parametrize(
    "source",
    ["template.csv", "sf_report_custom.csv", "sf_api.csv", "ru.csv"],
)
def test_original_is_kept_byte_for_byte(source, ingest_data, tmp_path, run_import, con, data_dir):
    path = tmp_path / "uploads-in" / source
    path.parent.mkdir()
    shutil.copyfile(ingest_data / source, path)
    raw = path.read_bytes()
    sha = hashlib.sha256(raw).hexdigest()

    result = run_import(path)

    assert result.status == "loaded", result.message
    stored = data_dir / "uploads" / sha[:2] / sha / source
    assert Path(result.stored_path) == stored
    assert stored.read_bytes() == raw
    recorded = con.execute("SELECT file_name, sha256, stored_path FROM imports").fetchall()
    assert recorded == [(source, sha, str(stored))]
    assert [p for p in data_dir.rglob("*") if p.is_file()] == [stored]


def test_file_name_argument_names_the_upload(export, run_import, con, data_dir):
    # the Data page saves the browser upload to a temp path and passes the user's file name
    path = export("tmp3x9k2.upload", JAN)
    sha = hashlib.sha256(JAN.encode()).hexdigest()

    result = run_import(path, file_name="Pipeline January.csv", as_of=JAN_ASOF)

    assert result.status == "loaded", result.message
    assert result.file_name == "Pipeline January.csv"
    assert (data_dir / "uploads" / sha[:2] / sha / "Pipeline January.csv").read_text() == JAN
    assert con.execute("SELECT file_name FROM imports").fetchone()[0] == "Pipeline January.csv"


def test_import_ids_and_rows_point_at_their_upload(export, run_import, con):
    jan = run_import(export("jan.csv", JAN), as_of=JAN_ASOF)
    feb = run_import(export("feb.csv", FEB), as_of=FEB_ASOF)

    assert feb.import_id > jan.import_id
    ids = con.execute("SELECT opportunity_id, import_id FROM opportunities ORDER BY 1").fetchall()
    assert ids == [
        ("A1", feb.import_id),
        ("A2", feb.import_id),
        ("A3", jan.import_id),
        ("A4", feb.import_id),
    ]
    imports = con.execute(
        "SELECT import_id, file_name, kind, as_of_date, rows_read, rows_loaded, "
        "rows_rejected, rows_inserted, rows_updated FROM imports ORDER BY import_id"
    ).fetchall()
    assert imports == [
        (jan.import_id, "jan.csv", "opportunities", JAN_ASOF, 3, 3, 0, 3, 0),
        (feb.import_id, "feb.csv", "opportunities", FEB_ASOF, 3, 3, 0, 1, 2),
    ]


def test_reps_file_upserts_by_rep(tmp_path, run_import, con):
    first = tmp_path / "teams-1.csv"
    first.write_text(
        "sales_agent,manager,regional_office\nAnn,Mia,East\nBob,Mia,East\n", encoding="utf-8"
    )
    second = tmp_path / "teams-2.csv"
    second.write_text(
        "sales_agent,manager,regional_office\nBob,Max,West\nCy,Max,West\n", encoding="utf-8"
    )

    run_import(first)
    result = run_import(second)

    assert result.status == "loaded", result.message
    assert (result.rows_inserted, result.rows_updated) == (1, 1)
    assert con.execute("SELECT rep, manager, region FROM reps ORDER BY rep").fetchall() == [
        ("Ann", "Mia", "East"),
        ("Bob", "Max", "West"),
        ("Cy", "Max", "West"),
    ]


def test_stage_history_export_twice_adds_no_repeats(ingest_data, tmp_path, run_import, con):
    run_import(ingest_data / "sf_history.csv")
    # a later OpportunityHistory export repeats the old rows and adds one
    later = tmp_path / "OpportunityHistory.csv"
    later.write_text(
        (ingest_data / "sf_history.csv").read_text("utf-8")
        + "008bm00000UoqOmAAJ,006bm00000LKJNNAA5,005bm00000NCJmQAAX,03/20/26 10:00 AM,"
        "Needs Analysis,15000,3000,01/27/21,20,Pipeline,03/20/26 10:00 AM,FALSE,x\n",
        encoding="utf-8",
    )

    result = run_import(later)

    assert result.status == "loaded", result.message
    assert (result.rows_inserted, result.rows_unchanged) == (1, 3)
    assert con.execute("SELECT count(*) FROM stage_history_imported").fetchone()[0] == 4


# Names that climb at most 4 levels (store/uploads/<sha[:2]>/<sha>) or point into tmp_path,
# so a failing importer writes inside this test's tmp_path and nowhere else.
HOSTILE_NAMES = ["../../escape.csv", "../../../../escape.csv", "reports/2024/jan.csv", "{abs}"]


@pytest.mark.parametrize("file_name", HOSTILE_NAMES)
def test_uploaded_name_cannot_place_the_original_outside_its_folder(
    file_name, export, tmp_path, run_import, data_dir
):
    # the Data page passes the browser's file name through; it must not pick the path
    file_name = file_name.format(abs=tmp_path / "elsewhere" / "jan.csv")
    path = export("upload.bin", JAN)
    sha = hashlib.sha256(JAN.encode()).hexdigest()
    folder = (data_dir / "uploads" / sha[:2] / sha).resolve()
    before = {p for p in tmp_path.rglob("*") if p.is_file()}

    result = run_import(path, file_name=file_name, as_of=JAN_ASOF)

    assert result.status == "loaded", result.message
    stored = Path(result.stored_path).resolve()
    assert stored.parent == folder
    assert stored.read_text("utf-8") == JAN
    created = {p.resolve() for p in tmp_path.rglob("*") if p.is_file()} - {
        p.resolve() for p in before
    }
    assert {p for p in created if not p.name.startswith("sales.duckdb")} == {stored}


SCRATCH_NAMES = ["raw", "staged_text", "staged", "stage_map", "problems", "valid", "incoming"]


def test_users_own_tables_survive_imports(ingest_data, tmp_path, run_import, con):
    # the database file is a public contract: people add their own tables to it, and
    # "raw" or "staged" are natural names for those; an import must not touch them
    for name in SCRATCH_NAMES:
        con.execute(f"CREATE TABLE main.{name} (note VARCHAR)")
        con.execute(f"INSERT INTO main.{name} VALUES ('mine')")
    bad = tmp_path / "bad.csv"
    bad.write_text(H + "A1,One,Ann,Discovery,lots,2024-01-02\n", encoding="utf-8")

    good = run_import(ingest_data / "hubspot.csv")
    refused = run_import(bad)

    assert (good.status, refused.status) == ("loaded", "refused")
    for name in SCRATCH_NAMES:
        assert con.execute(f"SELECT note FROM main.{name}").fetchall() == [("mine",)], name


def test_imports_leave_no_temporary_objects_behind(ingest_data, tmp_path, run_import, con):
    bad = tmp_path / "bad.csv"
    bad.write_text(H + "A1,One,Ann,Discovery,lots,2024-01-02\n", encoding="utf-8")

    run_import(ingest_data / "hubspot.csv")
    run_import(bad)
    run_import(bad, keep_valid=True)

    tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    views = con.execute(
        "SELECT view_name FROM duckdb_views() WHERE temporary AND NOT internal"
    ).fetchall()
    assert (tables, views) == ([], [])
