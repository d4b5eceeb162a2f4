"""`python -m analytics import FILE... --db PATH`, run as a user would: a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
H = "opportunity_id,opportunity_name,owner,stage,amount,close_date\n"


def cli(*args: str | Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    env.pop("SALES_DB", None)
    proc = subprocess.run(
        [sys.executable, "-m", "analytics", *map(str, args)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    for stream in (proc.stdout, proc.stderr):
        assert "Traceback" not in stream, stream
    return proc


def query(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def cli_db(tmp_path) -> Path:
    return tmp_path / "cli" / "sales.duckdb"


def test_good_file_exits_zero_with_a_summary(ingest_data, cli_db):
    proc = cli("import", ingest_data / "hubspot.csv", "--db", cli_db)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "hubspot.csv: loaded: 4 of 4 rows as opportunities (hubspot)" in proc.stdout
    assert query(cli_db, "SELECT count(*) FROM opportunities") == [(4,)]
    stored = query(cli_db, "SELECT stored_path FROM imports")[0][0]
    assert Path(stored).is_relative_to(cli_db.parent / "uploads")
    assert Path(stored).read_bytes() == (ingest_data / "hubspot.csv").read_bytes()


def test_refused_files_exit_non_zero_with_the_report(tmp_path, cli_db):
    bad = tmp_path / "deals.csv"
    bad.write_text(
        H + "A1,One,Ann,Discovery,100,2024-01-02\nA2,Two,Ann,Discovery,12abc,2024-01-02\n",
        encoding="utf-8",
    )
    ambiguous = tmp_path / "ambiguous.csv"
    ambiguous.write_text(
        "opportunity_id,stage,close_date\nA,Discovery,03/05/2024\n", encoding="utf-8"
    )

    proc = cli("import", bad, ambiguous, "--db", cli_db)

    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "deals.csv: refused, nothing was loaded" in out
    assert "deals.csv, row 3, column 'amount': is not an amount (value '12abc')" in out
    assert "ambiguous.csv: refused" in out
    assert "--date-order" in out  # the report names the option that resolves it
    assert query(cli_db, "SELECT count(*) FROM opportunities") == [(0,)]
    assert query(cli_db, "SELECT count(*) FROM imports") == [(0,)]
    assert not (cli_db.parent / "uploads").exists()


def test_unusable_files_exit_non_zero_without_traceback(ingest_data, tmp_path, cli_db):
    (tmp_path / "noise.csv").write_bytes(bytes(range(256)) * 8)
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    files = [tmp_path / n for n in ("noise.csv", "old.xls", "missing.csv")]
    files.append(ingest_data / "maven_pipeline.csv")  # a good file, but not of --kind reps

    proc = cli("import", *files, "--db", cli_db, "--kind", "reps")

    assert proc.returncode != 0
    lines = proc.stdout.splitlines()
    assert any(ln.startswith("noise.csv: refused") for ln in lines), proc.stdout
    assert "not a text file" in proc.stdout
    assert any(ln.startswith("old.xls: refused") for ln in lines), proc.stdout
    assert ".xlsx" in proc.stdout
    assert any(ln.startswith("missing.csv: refused") for ln in lines), proc.stdout
    assert "not found" in proc.stdout
    assert any(ln.startswith("maven_pipeline.csv: refused") for ln in lines), proc.stdout
    assert "not reps" in proc.stdout
    assert query(cli_db, "SELECT count(*) FROM imports") == [(0,)]


def test_several_files_one_refused(ingest_data, tmp_path, cli_db):
    bad = tmp_path / "bad.csv"
    bad.write_text(H + "B1,One,Ann,Haggling,100,2024-01-02\n", encoding="utf-8")

    proc = cli(
        "import",
        ingest_data / "maven_teams.csv",
        bad,
        ingest_data / "template.csv",
        "--db",
        cli_db,
        "--no-new-stages",
    )

    assert proc.returncode == 1
    assert "maven_teams.csv: loaded" in proc.stdout
    assert "bad.csv: refused" in proc.stdout
    assert "is not a known stage" in proc.stdout
    assert "template.csv: loaded" in proc.stdout
    assert query(cli_db, "SELECT count(*) FROM reps") == [(3,)]
    assert query(cli_db, "SELECT count(*) FROM opportunities") == [(3,)]


def test_new_stages_are_learned_by_default_and_listed(tmp_path, cli_db):
    deals = tmp_path / "deals.csv"
    deals.write_text(H + "B1,One,Ann,Haggling,100,2024-01-02\n", encoding="utf-8")

    proc = cli("import", deals, "--db", cli_db)

    assert proc.returncode == 0, proc.stdout
    assert "1 new stage learned and saved to Settings" in proc.stdout
    assert "'Haggling': 1 row, open" in proc.stdout
    assert query(cli_db, "SELECT stage FROM opportunities") == [("Haggling",)]


def test_options_mapping_date_order_as_of_keep_valid(tmp_path, cli_db):
    deals = tmp_path / "deals.csv"
    deals.write_text(
        "Ref,Phase,Value,Due\n"
        "W-1,Discovery,1000,03/05/2024\n"
        "W-2,Demo,2000,12/11/2024\n"  # open: a plan, so after the as-of date is fine
        "W-3,Discovery,lots,01/02/2024\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "mapping.json"
    mapping.write_text(
        json.dumps(
            {
                "kind": "opportunities",
                "columns": {
                    "opportunity_id": "Ref",
                    "stage": "Phase",
                    "amount": "Value",
                    "close_date": "Due",
                },
            }
        ),
        encoding="utf-8",
    )

    proc = cli(
        "import",
        deals,
        "--db",
        cli_db,
        "--mapping",
        mapping,
        "--date-order",
        "dmy",
        "--as-of",
        "2024-01-31",
        "--keep-valid",
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "deals.csv: partial: 2 of 3 rows as opportunities (custom)" in proc.stdout
    assert "deals.csv, row 4, column 'Value': is not an amount (value 'lots')" in proc.stdout
    assert query(
        cli_db,
        "SELECT opportunity_id, amount, close_date, snapshot_date FROM opportunities ORDER BY 1",
    ) == [
        ("W-1", Decimal("1000.00"), date(2024, 5, 3), date(2024, 1, 31)),
        ("W-2", Decimal("2000.00"), date(2024, 11, 12), date(2024, 1, 31)),
    ]
    assert query(cli_db, "SELECT line, column_name, value FROM quarantine") == [
        (4, "Value", "lots")
    ]


def test_bad_option_value_is_a_usage_error(ingest_data, cli_db):
    proc = cli("import", ingest_data / "template.csv", "--db", cli_db, "--as-of", "last tuesday")

    assert proc.returncode == 2
    assert "--as-of" in proc.stderr
    assert not cli_db.exists() or query(cli_db, "SELECT count(*) FROM imports") == [(0,)]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("{not json", "json"), ('{"kind": "deals", "columns": {}}', "unknown kind")],
    ids=["invalid-json", "unknown-kind"],
)
def test_bad_mapping_file_is_a_clear_error(text, fragment, ingest_data, tmp_path, cli_db):
    mapping = tmp_path / "mapping.json"
    mapping.write_text(text, encoding="utf-8")

    proc = cli("import", ingest_data / "template.csv", "--db", cli_db, "--mapping", mapping)

    assert proc.returncode != 0
    # the error names the mapping file, so the user knows which file to fix
    assert "mapping.json" in proc.stdout + proc.stderr
    assert fragment in (proc.stdout + proc.stderr).lower()


def test_failing_upload_store_is_reported_without_traceback(ingest_data, cli_db):
    cli_db.parent.mkdir(parents=True)
    (cli_db.parent / "uploads").write_text("not a folder", encoding="utf-8")

    proc = cli("import", ingest_data / "template.csv", "--db", cli_db)  # asserts no Traceback

    assert proc.returncode != 0
    assert "template.csv: refused" in proc.stdout
    assert query(cli_db, "SELECT count(*) FROM opportunities") == [(0,)]
