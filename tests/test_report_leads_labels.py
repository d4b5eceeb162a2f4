"""`report leads` names the rows the Leads page names (found by a new user with a lead
export whose last lead had no owner): --table owner printed an empty owner for that lead
and an empty owner for the total row, two blank rows the page calls "(no owner)" and
"All leads"; the linked tables and the hand-off list did the same.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from analytics import db
from analytics.cli import main
from analytics.ingest import import_file

LEADS = (
    "lead_id,created_at,owner,source,status,company,first_response_at,converted_at\n"
    "L-03,2024-05-03 09:00,Cara Diaz,event,new,Heading Co,,\n"
    "L-04,2024-05-04 10:00,,,converted,Dangle,2024-05-04 11:00,2024-05-05 10:00\n"
)


@pytest.fixture
def leads_db(tmp_path: Path) -> Path:
    path = tmp_path / "sales.duckdb"
    leads = tmp_path / "leads.csv"
    leads.write_text(LEADS, encoding="utf-8")
    con = db.connect(path)
    try:
        result = import_file(con, leads, as_of=date(2024, 6, 5), data_dir=tmp_path / "store")
        assert result.ok, result.message
    finally:
        con.close()
    return path


@pytest.mark.parametrize(("table", "blank"), [("owner", "(no owner)"), ("source", "(no source)")])
def test_response_rows_are_named(leads_db: Path, table: str, blank: str, capsys) -> None:
    args = ["report", "leads", "--db", str(leads_db), "--period", "2024-05", "--table", table]
    assert main(args) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    names = {r[table]: r["leads"] for r in rows}
    assert names.get(blank) == "1", rows
    assert names.get("All leads") == "2", rows
    assert "" not in names
