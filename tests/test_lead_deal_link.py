"""A leads file plus a won-deals file, linked by lead id: conversion by source and by SDR.

Why (issue 12.6): the common "leads file plus closed-deals file" export could not be
loaded (no stage column) nor joined. Now a won-deal list imports as won deals (asked for,
or detected from a won date without a stage), deals carry an optional `lead_id`, and
`lead_deal_conversion` follows lead -> opportunity -> won. Files written by the test, a
real DuckDB file, the real command line; the expected figures are worked out by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from analytics.ingest import import_file
from analytics.leads import lead_deal_conversion

PROJECT_ROOT = Path(__file__).resolve().parent.parent
LEADS = (
    "mql_id,first_contact_date,landing_page_id,origin\n"
    "L1,2024-01-02,p1,paid_search\n"
    "L2,2024-01-03,p1,paid_search\n"
    "L3,2024-01-04,p2,paid_search\n"
    "L4,2024-01-05,p2,organic_search\n"
    "L5,2024-01-06,p3,organic_search\n"
    'L6,2024-01-07,p3,"**social** [x](javascript:1)"\n'
)
# Olist-style closed deals: no stage, a won date; one deal per lead
WON = (
    "mql_id,seller_id,sdr_id,sr_id,won_date,business_segment\n"
    "L1,S1,sdr_a,rep_x,2024-02-01,pet\n"
    "L3,S3,sdr_b,rep_y,2024-02-10,home\n"
    "L4,S4,sdr_a,rep_x,2024-02-12,pet\n"
)
# a CRM deals export: L2 became an open deal
DEALS = "Deal ID,Stage,Converted Lead,SDR,Amount,Created Date\nD9,Demo,L2,sdr_b,900,2024-01-20\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def linked(con, tmp_path):
    store = tmp_path / "store"
    results = [
        import_file(con, write(tmp_path, name, text), data_dir=store)
        for name, text in (("leads.csv", LEADS), ("won.csv", WON), ("deals.csv", DEALS))
    ]
    return con, results


def test_the_pair_is_detected_and_the_won_list_loads_as_wins(linked):
    con, (leads, won, deals) = linked
    assert (leads.status, leads.kind) == ("loaded", "leads"), leads.message
    assert (won.status, won.kind) == ("loaded", "opportunities"), won.message
    assert "every row loaded as a won deal (the column 'won_date' stands without a stage" in (
        won.message
    )
    assert deals.status == "loaded", deals.message
    # the won list is dated by its latest win, not today
    assert won.as_of == date(2024, 2, 12)
    got = con.execute(
        "SELECT opportunity_id, lead_id, sdr, owner, stage, is_closed, is_won, close_date "
        "FROM opportunities ORDER BY opportunity_id"
    ).fetchall()
    assert got == [
        ("D9", "L2", "sdr_b", None, "Demo", False, False, None),
        ("L1", "L1", "sdr_a", "rep_x", "Closed Won", True, True, date(2024, 2, 1)),
        ("L3", "L3", "sdr_b", "rep_y", "Closed Won", True, True, date(2024, 2, 10)),
        ("L4", "L4", "sdr_a", "rep_x", "Closed Won", True, True, date(2024, 2, 12)),
    ]


def rows(frame, by: str) -> dict:
    return {
        (None if r["is_total"] else r[by]): (
            r["leads"],
            r["opportunities"],
            r["won"],
            round(r["lead_to_opportunity_rate"], 4),
            None if r["opportunity_to_won_rate"] != r["opportunity_to_won_rate"]
            else round(r["opportunity_to_won_rate"], 4),
            round(r["lead_to_won_rate"], 4),
        )
        for _, r in frame.iterrows()
    }  # fmt: skip


def test_conversion_by_source_worked_out_by_hand(linked):
    con, _ = linked
    table = rows(lead_deal_conversion(con, "source"), "source")
    assert table == {
        # L1, L2, L3: deals for all three (L2 open), L1 and L3 won
        "paid_search": (3, 3, 2, 1.0, 0.6667, 0.6667),
        # L4 won, L5 nothing
        "organic_search": (2, 1, 1, 0.5, 1.0, 0.5),
        "**social** [x](javascript:1)": (1, 0, 0, 0.0, None, 0.0),
        None: (6, 4, 3, 0.6667, 0.75, 0.5),  # all leads
    }


def test_conversion_by_sdr_worked_out_by_hand(linked):
    con, _ = linked
    by_sdr = lead_deal_conversion(con, "sdr")
    total = by_sdr[by_sdr["is_total"]].iloc[0]
    assert (total["leads"], total["opportunities"], total["won"]) == (6, 4, 3)
    groups = by_sdr[~by_sdr["is_total"] & by_sdr["sdr"].notna()].set_index("sdr")
    assert groups.loc["sdr_a", ["leads", "opportunities", "won"]].tolist() == [2, 2, 2]
    assert groups.loc["sdr_b", ["leads", "opportunities", "won"]].tolist() == [2, 2, 1]
    # L5 and L6: no deal, no owner on the lead: no SDR
    unassigned = by_sdr[~by_sdr["is_total"] & by_sdr["sdr"].isna()].iloc[0]
    assert (unassigned["leads"], unassigned["opportunities"], unassigned["won"]) == (2, 0, 0)


def test_a_period_counts_only_leads_created_in_it(linked):
    con, _ = linked
    frame = lead_deal_conversion(con, "source", date(2024, 1, 4), date(2024, 1, 5))
    assert rows(frame, "source")[None] == (2, 2, 2, 1.0, 1.0, 1.0)  # L3 and L4


BOOKINGS = "Deal ID,Owner,Amount\nB1,Ann,100\nB2,Bob,250.50\n"


def test_asked_for_a_won_list_without_any_won_date(con, tmp_path):
    path = write(tmp_path, "bookings.csv", BOOKINGS)
    refused = import_file(con, path, data_dir=tmp_path / "store")
    assert refused.status == "refused"
    assert "stage" in refused.message

    result = import_file(con, path, data_dir=tmp_path / "store", all_won=True)

    assert result.status == "loaded", result.message
    assert "every row loaded as a won deal (as asked" in result.message
    assert con.execute(
        "SELECT opportunity_id, owner, stage, is_won, is_closed FROM opportunities ORDER BY 1"
    ).fetchall() == [
        ("B1", "Ann", "Closed Won", True, True),
        ("B2", "Bob", "Closed Won", True, True),
    ]


def test_a_file_with_a_stage_is_not_a_won_list(con, tmp_path):
    result = import_file(
        con, write(tmp_path, "deals.csv", DEALS), data_dir=tmp_path / "store", all_won=True
    )
    assert result.status == "refused"
    assert "has a stage column, so it is not a won-deal list" in result.message
    assert con.execute("SELECT count(*) FROM imports").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM opportunities").fetchone() == (0,)


def test_the_command_line_flag(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    env.pop("SALES_DB", None)
    bookings = write(tmp_path, "bookings.csv", BOOKINGS)
    proc = subprocess.run(
        [sys.executable, "-m", "analytics", "import", str(bookings), "--all-won",
         "--db", str(tmp_path / "db" / "s.duckdb")],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "every row loaded as a won deal (as asked" in proc.stdout


def test_a_scope_counts_its_period_and_only_the_leads_its_reader_may_see(linked):
    from analytics.access import Access
    from analytics.scope import Period, Scope

    con, _ = linked
    january = Scope(Period.parse("2024-01"))
    assert rows(lead_deal_conversion(con, "source", scope=january), "source")[None] == (
        6, 4, 3, 0.6667, 0.75, 0.5,
    )  # fmt: skip
    february = Scope(Period.parse("2024-02"))
    assert rows(lead_deal_conversion(con, "source", scope=february), "source")[None][0] == 0
    # a rep sees the leads they own: none of these (the leads file names no owner)
    rep = Scope(Period.parse("2024-01"), access=Access.for_rep("rep_x", "rep_x"))
    assert rows(lead_deal_conversion(con, "source", scope=rep), "source")[None][0] == 0


def test_the_leads_report_and_page_show_the_linked_conversion(linked, db_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    con, _ = linked
    con.close()
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "analytics", "report", "leads", "--table", "linked-source",
         "--period", "2024-01", "--format", "csv", "--db", str(db_path)],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "paid_search,False,3,3,2" in proc.stdout
    monkeypatch.setenv("SALES_DB", str(db_path))
    at = AppTest.from_file(str(PROJECT_ROOT / "dashboard.py"), default_timeout=90)
    at.query_params.update({"kind": "Month", "period": "2024-01"})
    at.switch_page("pages/leads.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Leads to deals, linked by lead id" in [s.value for s in at.subheader]
    table = next(d.value for d in at.dataframe if "lead_to_opportunity_rate" in d.value.columns)
    total = table[table["lead source"] == "All leads"].iloc[0]
    assert (total["leads"], total["opportunities"], total["won"]) == (6, 4, 3)


def test_without_a_link_the_report_says_no_data(con):
    from analytics.leads import leads_report_table
    from analytics.scope import Period, Scope

    out = leads_report_table(con, Scope(Period.parse("2024-01")), "linked-sdr")
    assert out["note"].iloc[0].startswith("no data: no deal names its lead")


def test_a_lead_without_a_source_has_one_name_in_every_table(con, tmp_path):
    """A lead with a blank source is "(no source)" in the response table and in the
    linked lead -> deal table alike; the linked table said "(none)", a second name for
    the same row (a new user's Zoho export). A lead without an SDR is "(no SDR)"."""
    from analytics.labels import NO_SDR, NO_SOURCE
    from analytics.leads import leads_report_table
    from analytics.scope import Period, Scope

    store = tmp_path / "store"
    blank = LEADS + "L7,2024-01-08,p4,\n"
    for name, text in (("leads.csv", blank), ("won.csv", WON), ("deals.csv", DEALS)):
        assert import_file(con, write(tmp_path, name, text), data_dir=store).ok
    scope = Scope(Period.parse("2024-01"))
    response = leads_report_table(con, scope, "source")
    linked = leads_report_table(con, scope, "linked-source")
    by_sdr = leads_report_table(con, scope, "linked-sdr")
    assert NO_SOURCE in set(response["source"]) and NO_SOURCE in set(linked["source"])
    assert "(none)" not in set(linked["source"]) | set(by_sdr["sdr"])
    assert NO_SDR in set(by_sdr["sdr"])
