"""Who may change data, enforced in analytics and audited (issue 7).

Only sales operations may upload, roll back an import or change settings, whatever page
or URL the request came from; a refusal changes nothing (not even the audit log), and an
allowed change lands together with its audit row. Real CSV files, a real database file.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from analytics import audit
from analytics.access import Access, AccessDenied
from analytics.backup import rollback_import
from analytics.db import table_counts
from analytics.ingest import import_file
from analytics.scope import load_fiscal_start_month, save_fiscal_start_month
from analytics.scoring import load_lead_scoring, save_lead_scoring
from analytics.settings import load_stages, load_upload_limits, save_stages, save_upload_limits

FIXTURES = Path(__file__).resolve().parent / "data"
OPS = Access.ops("ops@example.com")
NOT_OPS = [
    Access.executive("exec@example.com"),
    Access.manager("maria@example.com", "East"),
    Access.for_rep("cara@example.com", "Cara Diaz"),
]


def upload(con: duckdb.DuckDBPyConnection, tmp_path: Path, access: Access | None):
    return import_file(
        con, FIXTURES / "app_seed_opps.csv", data_dir=tmp_path / "files", access=access
    )


@pytest.mark.parametrize("access", NOT_OPS, ids=lambda a: a.role)
def test_only_ops_may_upload_and_a_refusal_changes_nothing(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, access: Access
) -> None:
    before = table_counts(con)
    result = upload(con, tmp_path, access)
    assert result.status == "refused"
    assert "only sales operations" in result.message
    assert access.user in result.message
    assert table_counts(con) == before  # no deals, no imports row, no audit row
    assert not (tmp_path / "files").exists() or not any((tmp_path / "files").rglob("*.csv"))


def test_an_upload_is_audited_with_who_and_what(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    result = upload(con, tmp_path, OPS)
    assert result.status == "loaded", result.message
    rows = audit.entries(con, action="upload")
    assert len(rows) == 1
    assert rows.iloc[0]["actor"] == "ops@example.com"
    detail = json.loads(rows.iloc[0]["detail"])
    assert detail["file"] == "app_seed_opps.csv"
    assert detail["import_id"] == result.import_id
    assert detail["rows_loaded"] == result.rows_loaded > 0


def test_command_line_uploads_are_audited_as_such(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    assert upload(con, tmp_path, None).status == "loaded"
    assert audit.entries(con, action="upload").iloc[0]["actor"] == "command line"


def test_a_duplicate_upload_adds_no_audit_row(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    upload(con, tmp_path, OPS)
    assert upload(con, tmp_path, OPS).status == "duplicate"
    assert len(audit.entries(con, action="upload")) == 1


@pytest.mark.parametrize("access", NOT_OPS, ids=lambda a: a.role)
def test_only_ops_may_roll_back(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, access: Access
) -> None:
    result = upload(con, tmp_path, OPS)
    before = table_counts(con)
    with pytest.raises(AccessDenied):
        rollback_import(con, result.import_id, access=access)
    assert table_counts(con) == before


def test_a_rollback_is_audited(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    result = upload(con, tmp_path, OPS)
    rollback_import(con, result.import_id, access=OPS)
    rows = audit.entries(con, action="rollback")
    assert len(rows) == 1
    assert rows.iloc[0]["actor"] == "ops@example.com"
    assert json.loads(rows.iloc[0]["detail"])["import_id"] == result.import_id
    assert con.execute("SELECT count(*) FROM opportunities").fetchone()[0] == 0


SETTINGS_SAVES = {
    "stages": lambda con, a: save_stages(con, load_stages(con), access=a),
    "lead_scoring": lambda con, a: save_lead_scoring(con, load_lead_scoring(con), access=a),
    "fiscal_year_start_month": lambda con, a: save_fiscal_start_month(con, 4, access=a),
    "upload_limits": lambda con, a: save_upload_limits(con, load_upload_limits(con), access=a),
}


@pytest.mark.parametrize("setting", sorted(SETTINGS_SAVES))
@pytest.mark.parametrize("access", NOT_OPS, ids=lambda a: a.role)
def test_only_ops_may_change_settings(
    con: duckdb.DuckDBPyConnection, setting: str, access: Access
) -> None:
    before = con.execute("SELECT key, value FROM settings ORDER BY key").fetchall()
    audited = len(audit.entries(con))
    with pytest.raises(AccessDenied, match="may not change settings"):
        SETTINGS_SAVES[setting](con, access)
    assert con.execute("SELECT key, value FROM settings ORDER BY key").fetchall() == before
    assert len(audit.entries(con)) == audited


@pytest.mark.parametrize("setting", sorted(SETTINGS_SAVES))
def test_a_settings_change_is_audited_with_its_key(
    con: duckdb.DuckDBPyConnection, setting: str
) -> None:
    SETTINGS_SAVES[setting](con, OPS)
    rows = audit.entries(con, action="settings_edit")
    assert len(rows) == 1
    assert rows.iloc[0]["actor"] == "ops@example.com"
    detail = json.loads(rows.iloc[0]["detail"])
    assert detail["key"] == setting  # the settings key the save wrote
    if setting == "fiscal_year_start_month":
        assert load_fiscal_start_month(con) == 4
        assert detail["value"] == 4
