"""The smaller kinds (activities, leads, lead events, quotas, forecast submissions)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

D = Decimal

KIND_FILES = [
    pytest.param(
        "activities.csv",
        "Assigned To,Activity Type,Activity Date,Subject,Duration (minutes)\n"
        "Ann,Call,2024-01-05 10:00,Intro,15\n"
        "Ann,Email,2024-01-05 11:00,Follow-up,\n",
        "activities",
        "SELECT owner, activity_type, started_at, duration_minutes, subject FROM activities "
        "ORDER BY started_at",
        [
            ("Ann", "call", datetime(2024, 1, 5, 10, 0), 15.0, "Intro"),
            ("Ann", "email", datetime(2024, 1, 5, 11, 0), None, "Follow-up"),
        ],
        id="activities",
    ),
    pytest.param(
        "leads.csv",
        "Lead ID,Created Date,Lead Owner,Lead Source,Status,Company\n"
        "L1,2024-01-02 09:15,Ann,Web,Open,Acme\n",
        "leads",
        "SELECT lead_id, created_at, owner, source, status, company FROM leads",
        [("L1", datetime(2024, 1, 2, 9, 15), "Ann", "Web", "Open", "Acme")],
        id="leads",
    ),
    pytest.param(  # Zoho CRM's leads export: "Created Time", a converted deal's id
        "Leads_2026_11_18.csv",
        "Record Id,Lead Owner,Lead Source,Lead Status,Company,Created Time,First Response,"
        "Converted Deal Id\n"
        'zcrm_1,"O\'Brien ""**Max**"" <i>",Web,Converted,A1,2026-11-02 09:00:00,'
        "2026-11-02 09:04:00,113\n"
        "zcrm_2,Kim,,Contacted,A2,2026-11-03 10:00:00,,\n",
        "leads",
        "SELECT lead_id, created_at, owner, source, first_response_at, opportunity_id "
        "FROM leads ORDER BY lead_id",
        [
            (
                "zcrm_1",
                datetime(2026, 11, 2, 9, 0),
                'O\'Brien "**Max**" <i>',
                "Web",
                datetime(2026, 11, 2, 9, 4),
                "113",
            ),
            ("zcrm_2", datetime(2026, 11, 3, 10, 0), "Kim", None, None, None),
        ],  # fmt: skip
        id="zoho-leads",
    ),
    pytest.param(
        "lead_events.csv",
        "lead_id,event_type,occurred_at\n"
        "L1,Email_Open,2024-01-03 10:00\n"
        "L1,Email_Open,2024-01-03 10:00\n"  # the same event twice is one event
        "L1,Pricing_Page_Visit,2024-01-04 08:00\n",
        "lead_events",
        "SELECT lead_id, event_type, occurred_at FROM lead_events ORDER BY occurred_at",
        [
            ("L1", "email_open", datetime(2024, 1, 3, 10, 0)),
            ("L1", "pricing_page_visit", datetime(2024, 1, 4, 8, 0)),
        ],
        id="lead-events",
    ),
    pytest.param(
        "quotas.csv",
        'owner,period_start,amount\nAnn,2024-01-01,50000\nBob,2024-02-01,"$40,000"\n',
        "quotas",
        "SELECT owner, period_start, period_end, amount FROM quotas ORDER BY owner",
        [
            ("Ann", date(2024, 1, 1), date(2024, 1, 31), D("50000.00")),
            ("Bob", date(2024, 2, 1), date(2024, 2, 29), D("40000.00")),
        ],
        id="quotas",
    ),
    pytest.param(
        "quotas-by-month.csv",
        "Owner,Month,Quota\nAnn,2024-01,50000\nAnn,2024-02,55000\n",
        "quotas",
        "SELECT owner, period_start, period_end, amount FROM quotas ORDER BY period_start",
        [
            ("Ann", date(2024, 1, 1), date(2024, 1, 31), D("50000.00")),
            ("Ann", date(2024, 2, 1), date(2024, 2, 29), D("55000.00")),
        ],
        id="quotas-by-month",
    ),
    pytest.param(
        "forecast.csv",
        "owner,period_start,category,amount,submitted_at\n"
        "Ann,2024-01-01,Commit,100000,2024-01-05 17:00\n"
        "Ann,2024-01-01,Best Case,150000,2024-01-05 17:00\n",
        "forecast_submissions",
        "SELECT owner, period_start, period_end, category, amount, submitted_at "
        "FROM forecast_submissions ORDER BY amount",
        [
            (
                "Ann",
                date(2024, 1, 1),
                date(2024, 1, 31),
                "commit",
                D("100000.00"),
                datetime(2024, 1, 5, 17, 0),
            ),
            (
                "Ann",
                date(2024, 1, 1),
                date(2024, 1, 31),
                "best case",
                D("150000.00"),
                datetime(2024, 1, 5, 17, 0),
            ),
        ],
        id="forecast-submissions",
    ),
]


@pytest.mark.parametrize(("name", "text", "kind", "sql", "expected"), KIND_FILES)
def test_kind_is_detected_and_loaded(name, text, kind, sql, expected, tmp_path, run_import, con):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert result.kind == kind
    assert con.execute(sql).fetchall() == expected


def test_activity_export_again_replaces_rather_than_duplicates(tmp_path, run_import, con):
    # no activity id in the export: a stable id from the values keeps re-exports idempotent
    first = tmp_path / "activities-1.csv"
    first.write_text(
        "Assigned To,Activity Type,Activity Date,Subject\nAnn,Call,2024-01-05 10:00,Intro\n",
        encoding="utf-8",
    )
    second = tmp_path / "activities-2.csv"
    second.write_text(
        "Assigned To,Activity Type,Activity Date,Subject\n"
        "Ann,Call,2024-01-05 10:00,Intro\n"
        "Ann,Meeting,2024-01-06 14:00,Demo\n",
        encoding="utf-8",
    )

    run_import(first)
    result = run_import(second)

    assert result.status == "loaded", result.message
    # the call is listed again as it was: replaced, reported unchanged (issue 12)
    assert (result.rows_inserted, result.rows_updated, result.rows_unchanged) == (1, 0, 1)
    assert con.execute("SELECT count(*) FROM activities").fetchone()[0] == 2
