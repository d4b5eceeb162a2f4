"""Leads without lead events: no hand-off list and no calibration, "no data" with the
reason, never a green "no sales-qualified lead is waiting" (issue 13.2; found by a new
user who uploaded a leads file alone). With events the sections stay (the demo's tests).
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import duckdb
import pytest
from apptest import assert_clean, open_page
from test_availability import DEALS, LEADS_FULL, deals, load

from analytics import db
from analytics.leads import NO_EVENTS, scores_no_data
from analytics.markup import plain


def test_no_events_is_no_data(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    load(con, tmp_path, {"deals.csv": deals(DEALS), "leads.csv": LEADS_FULL})
    assert scores_no_data(con) == NO_EVENTS
    con.execute(
        "INSERT INTO lead_events (lead_id, event_type, occurred_at, import_id) "
        "VALUES ('L1', 'email_open', TIMESTAMP '2024-05-01 10:00:00', 1)"
    )
    assert scores_no_data(con) is None


@pytest.fixture
def leads_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "leads.duckdb"
    con = db.connect(path)
    try:
        load(con, tmp_path, {"deals.csv": deals(DEALS), "leads.csv": LEADS_FULL})
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def test_leads_page_says_why(leads_db: Path) -> None:
    at = open_page("pages/leads.py", {"kind": "Month", "period": "2024-05"})
    assert_clean(at)
    infos = [plain(i.value) for i in at.info]
    assert any("no lead events in the data" in i for i in infos), infos
    assert not at.success  # never "No sales-qualified lead is waiting"
    assert not any("Is the scoring calibrated" in h.value for h in at.subheader)


@pytest.mark.parametrize("table", ["handoff", "scores", "calibration"])
def test_leads_report_says_why(leads_db: Path, table: str) -> None:
    """The CLI printed every lead with score 0 and a calibration of 0-point leads (2 leads
    in "0 to < 10", 50% converted) where the page says no data: it now prints the reason."""
    from analytics.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["report", "leads", "--db", str(leads_db), "--period", "2024-05",
                     "--table", table, "--format", "json"])  # fmt: skip
    assert code in (0, None)
    rows = json.loads(out.getvalue())
    assert rows == [{"note": f"No data: {NO_EVENTS}."}], rows
