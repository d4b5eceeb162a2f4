"""One small real-shaped export per source format: detection, row counts and parsed values.

Headers are copied exactly from /work/shared/export-headers.md; values follow each CRM's
quirks (Salesforce `USD 485,000.00`, `90%`, DD/MM/YYYY, `-` blanks and footers; Salesforce
API MM/DD/YY, TRUE/FALSE and `02/23/26 08:55 PM`; Pipedrive `Deal - Status`; Zoho `zcrm_`
ids; Odoo labels and technical names; Maven; the project template; Russian, Korean and
Chinese hand-made sheets).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from analytics.ingest import preview_file

D = Decimal

# file -> (kind, source_format, rows loaded, {opportunity_id: {column: expected}})
FORMATS = {
    "sf_report_custom.csv": (
        "opportunities",
        "salesforce_report",
        4,
        {
            "006U600000ZFcGz": {
                "opportunity_name": "RedSea Global Saudi B2B Marketplace",
                "account": "RedSea Global",
                "owner": None,  # this report has no owner column ("Assigned SE" is not one)
                "stage": "Final Decision",
                "source_stage": "Commit & Signing",
                "amount": D("485000.00"),
                "currency": "USD",
                "probability": 90.0,
                "forecast_category": "Commit",
                "created_date": date(2025, 10, 16),
                "close_date": date(2026, 9, 30),
                "deal_type": "New Client",
                "is_closed": False,
                "is_won": False,
            },
            "006U600000ZFcH1": {
                "stage": "Closed Won",
                "amount": D("120500.50"),
                "created_date": date(2025, 1, 3),
                "close_date": date(2026, 2, 15),
                "is_closed": True,
                "is_won": True,
            },
            "006U600000ZFcH2": {
                "stage": "Closed Lost",
                "probability": 0.0,
                "is_closed": True,
                "is_won": False,
            },
            "006U600000ZFcH3": {
                "stage": "Qualified",
                "amount": None,  # written as "-"
                "currency": None,
                # `Close Date (2)` is "-" on this row: close_date must come from `Close Date`
                "close_date": date(2026, 6, 30),
                "is_closed": False,
            },
        },
    ),
    "sf_report_standard.csv": (
        "opportunities",
        "salesforce_report",
        4,
        {
            # no id column in this report: the name is the natural key
            "Acme - 500 seats": {
                "owner": "Ana Ruiz",
                "account": "Acme Corp",
                "stage": "Final Decision",
                "source_stage": "Negotiation/Review",
                "amount": D("1234.56"),
                "currency": "USD",
                "probability": 90.0,
                "close_date": date(2026, 4, 30),
                "created_date": date(2026, 3, 21),
                "lead_source": "Web",
                "deal_type": "New Customer",
                "is_closed": False,
                "is_won": False,
            },
            "Globex renewal": {"stage": "Closed Won", "is_won": True, "is_closed": True},
            "Initech pilot": {"owner": "Ben Okafor", "stage": "Closed Lost", "is_won": False},
            "Umbrella expansion": {"stage": "Discovery", "amount": None, "is_closed": False},
        },
    ),
    "sf_report_multicurrency.csv": (
        "opportunities",
        "salesforce_report",
        2,
        {
            # a "... Currency" column beside each money column; Billed iARR is not the amount
            "Allianz RPA expansion": {
                "owner": "Lena Vogt",
                "stage": "Final Decision",
                "amount": D("250000.00"),
                "currency": "EUR",
                "forecast_category": "Commit",
                "close_date": date(2026, 9, 30),
                "deal_type": "Expansion",
            },
            "Citi renewal": {
                "amount": D("1200000.00"),
                "currency": "USD",
                "is_won": True,
            },
        },
    ),
    "sf_api.csv": (
        "opportunities",
        "salesforce_api",
        4,
        {
            "006bm00000LKJNNAA5": {
                "opportunity_name": "Dickenson Mobile Generators",
                "owner": "005bm00000NCJmQAAX",
                "stage": "Qualified",
                "source_stage": "Qualification",
                "amount": D("15000.00"),
                "probability": 10.0,
                "close_date": date(2024, 2, 3),  # 02/03/24, month first
                "created_date": date(2026, 2, 23),  # 02/23/26 08:55 PM
                "lead_source": "Purchased List",
                "is_closed": False,
                "is_won": False,
            },
            "006bm00000LKJNPAA5": {"stage": "Closed Won", "is_closed": True, "is_won": True},
            "006bm00000LKJNRAA5": {
                "stage": "Closed Lost",
                # 11/05/23 alone is ambiguous; the file's other dates (02/23/26) decide MDY
                "close_date": date(2023, 11, 5),
                "created_date": date(2023, 10, 2),
                "is_closed": True,
                "is_won": False,
            },
            "006bm00000LKJNTAA5": {"stage": "Demo", "amount": None, "probability": 50.0},
        },
    ),
    "hubspot.csv": (
        "opportunities",
        "hubspot",
        4,
        {
            "18223590901": {
                "opportunity_name": "Acme - annual plan",
                "owner": "Jane Doe",
                "stage": "Discovery",
                "source_stage": "Appointment Scheduled",
                "amount": D("12000.00"),
                "probability": pytest.approx(20.0),  # "Deal probability" is 0-1
                "created_date": date(2024, 2, 1),
                "close_date": date(2024, 6, 30),
                "is_closed": False,
                "is_won": False,
            },
            "18223590902": {"stage": "Qualified", "amount": D("5000.50")},
            "18223590903": {
                "owner": "John Roe",
                "stage": "Closed Won",
                "probability": pytest.approx(100.0),
                "is_closed": True,
                "is_won": True,
            },
            "18223590904": {"stage": "Closed Lost", "is_closed": True, "is_won": False},
        },
    ),
    "pipedrive.csv": (
        "opportunities",
        "pipedrive",
        3,
        {
            # `Deal - Status` decides the outcome; the stage stays where the deal was
            "101": {
                "opportunity_name": "Acme deal",
                "account": "Acme",
                "owner": "Maria Silva",
                "stage": "Final Decision",
                "source_stage": "Negotiations Started",
                "amount": D("1500.00"),
                "currency": "EUR",
                "created_date": date(2024, 1, 5),
                "close_date": date(2024, 2, 28),
                "is_closed": True,
                "is_won": True,
            },
            "102": {"stage": "Trial", "is_closed": True, "is_won": False},
            "103": {
                "owner": "Tom Hardy",
                "stage": "Qualified",
                "currency": "USD",
                "probability": 50.0,
                "is_closed": False,
                "is_won": False,
            },
        },
    ),
    "zoho.csv": (
        "opportunities",
        "zoho",
        3,
        {
            "zcrm_5725767000000412001": {
                "opportunity_name": "Benton Annual",
                "account": "Benton",
                "owner": "Priya Nair",
                "stage": "Trial",
                "source_stage": "Proposal/Price Quote",
                "amount": D("42000.00"),
                "currency": "USD",
                "close_date": date(2026, 11, 15),
                "created_date": date(2026, 9, 1),
                "is_closed": False,
            },
            "zcrm_5725767000000412002": {
                "amount": D("12400.00"),
                "stage": "Closed Won",
                "is_won": True,
            },
            "zcrm_5725767000000412003": {
                "owner": "Owen Park",
                "stage": "Closed Lost",
                "source_stage": "Closed-Lost to Competition",
                "amount": D("9999.99"),
                "is_closed": True,
                "is_won": False,
            },
        },
    ),
    "odoo_labels.csv": (
        "opportunities",
        "odoo_labels",
        3,
        {
            "Office Design Project": {
                "account": "Deco Addict",
                "owner": "Mitchell Admin",
                "stage": "Discovery",
                "source_stage": "New",
                "amount": D("24000.00"),
                "probability": 10.0,
                "close_date": date(2024, 4, 30),
                "created_date": date(2024, 3, 1),
                "is_closed": False,
            },
            "Quote for 12 Tables": {"owner": "Marc Demo", "stage": "Trial"},
            "Distributor Contract": {"stage": "Closed Won", "is_won": True, "is_closed": True},
        },
    ),
    "odoo_technical.csv": (
        "opportunities",
        "odoo_technical",
        3,
        {
            "__export__.crm_lead_21_4f1a": {
                "opportunity_name": "Office Design Project",
                "account": "Deco Addict",
                "owner": "Mitchell Admin",
                "stage": "Qualified",
                "amount": D("24000.00"),
                "probability": 20.0,
                "created_date": date(2024, 3, 1),
                "is_closed": False,
            },
            "__export__.crm_lead_23_77de": {
                "stage": "Closed Won",
                "close_date": date(2024, 3, 18),  # date_closed
                "is_won": True,
            },
        },
    ),
    "maven_pipeline.csv": (
        "opportunities",
        "maven_crm",
        5,
        {
            "1C1I7A6R": {
                "owner": "Moses Frase",
                "account": "Cancity",
                "product": "GTX Plus Basic",
                "stage": "Closed Won",
                "source_stage": "Won",
                "amount": D("1054.00"),
                "created_date": date(2016, 10, 20),
                "close_date": date(2017, 3, 1),
                "is_closed": True,
                "is_won": True,
            },
            "EC4QE1BX": {"stage": "Closed Lost", "amount": D("0.00"), "is_won": False},
            "HAXMC4IX": {
                "stage": "Qualified",
                "source_stage": "Engaging",
                "account": None,
                "amount": None,
                "close_date": None,
                "is_closed": False,
            },
            "UP409DSB": {"stage": "Discovery", "created_date": None},
        },
    ),
    "template.csv": (
        "opportunities",
        "template",
        3,
        {
            "T-1": {
                "opportunity_name": "Template deal one",
                "account": "Acme",
                "owner": "Ana Ruiz",
                "stage": "Discovery",
                "amount": D("1000.00"),
                "currency": "USD",
                "probability": 10.0,
                "created_date": date(2024, 1, 15),
                "close_date": date(2024, 6, 30),
                "lead_source": "Web",
                "deal_type": "New",
                "product": "Widget",
                "is_closed": False,
            },
            "T-2": {"stage": "Closed Won", "amount": D("2500.50"), "is_won": True},
            "T-3": {"stage": "Closed Lost", "amount": None, "is_closed": True, "is_won": False},
        },
    ),
    "ru.csv": (
        "opportunities",
        "generic",
        4,
        {
            "R-1": {
                "opportunity_name": "Поставка серверов",
                "account": "ООО Ромашка",
                "owner": "Иван Петров",
                "stage": "Discovery",
                "source_stage": "Новая",
                "amount": D("1234.56"),  # 1 234,56 ₽
                "currency": "RUB",
                "created_date": date(2024, 3, 5),  # 05.03.2024, decided by 30.04.2024
                "close_date": date(2024, 4, 30),
            },
            "R-2": {"stage": "Final Decision", "amount": D("150000.00")},
            "R-3": {"stage": "Closed Won", "is_won": True, "is_closed": True},
            "R-4": {"stage": "Closed Lost", "is_won": False, "is_closed": True},
        },
    ),
    "ko.csv": (
        "opportunities",
        "generic",
        4,
        {
            "K-1": {
                "opportunity_name": "서버 공급",
                "account": "삼성물산",
                "owner": "김민수",
                "stage": "Discovery",
                "source_stage": "신규",
                "amount": D("1234000.00"),
                "currency": "KRW",
                "created_date": date(2024, 3, 5),  # 2024. 3. 5.
                "close_date": date(2024, 4, 30),
            },
            "K-2": {"stage": "Final Decision"},
            "K-3": {"stage": "Closed Won", "is_won": True},
            "K-4": {"stage": "Closed Lost", "is_closed": True, "is_won": False},
        },
    ),
    "zh.csv": (
        "opportunities",
        "generic",
        4,
        {
            "Z-1": {
                "opportunity_name": "服务器采购",
                "account": "华为技术",
                "owner": "王伟",
                "stage": "Discovery",
                "source_stage": "初步接洽",
                "amount": D("12000.00"),
                "currency": "CNY",
                "created_date": date(2024, 3, 5),  # 2024年3月5日
                "close_date": date(2024, 4, 30),
            },
            "Z-2": {"stage": "Final Decision"},
            "Z-3": {"stage": "Closed Won", "is_won": True},
            "Z-4": {"stage": "Closed Lost", "is_closed": True, "is_won": False},
        },
    ),
}


@pytest.mark.parametrize("file_name", list(FORMATS))
def test_format_detected_loaded_and_parsed(file_name, ingest_data, run_import, con, opp):
    kind, source_format, n_rows, expected = FORMATS[file_name]

    result = run_import(ingest_data / file_name)

    assert result.status == "loaded", result.message
    assert result.ok
    assert (result.kind, result.source_format) == (kind, source_format)
    assert result.rows_read == n_rows
    assert result.rows_loaded == n_rows
    assert result.rows_inserted == n_rows
    assert result.rows_rejected == 0
    assert result.problems == []
    assert con.execute("SELECT count(*) FROM opportunities").fetchone()[0] == n_rows
    assert con.execute("SELECT count(*) FROM opportunity_snapshots").fetchone()[0] == n_rows
    recorded = con.execute(
        "SELECT file_name, kind, source_format, rows_read, rows_loaded, rows_rejected FROM imports"
    ).fetchall()
    assert recorded == [(file_name, kind, source_format, n_rows, n_rows, 0)]
    for opportunity_id, values in expected.items():
        row = opp(opportunity_id)
        got = {column: row[column] for column in values}
        assert got == values, opportunity_id


@pytest.mark.parametrize("file_name", list(FORMATS))
def test_preview_matches_import_detection(file_name, ingest_data):
    kind, source_format, n_rows, _ = FORMATS[file_name]

    preview = preview_file(ingest_data / file_name)

    assert preview.problem is None
    assert (preview.kind, preview.source_format) == (kind, source_format)
    assert preview.missing_required == []
    # the sample is the data rows: no blank lines, no report footers
    assert len(preview.sample) == n_rows


def test_maven_teams_load_as_reps(ingest_data, run_import, con):
    result = run_import(ingest_data / "maven_teams.csv")

    assert result.status == "loaded", result.message
    assert (result.kind, result.source_format) == ("reps", "maven_teams")
    assert result.rows_loaded == 3
    rows = con.execute(
        "SELECT rep, manager, team, region, active FROM reps ORDER BY rep"
    ).fetchall()
    assert rows == [
        ("Darcel Schlecht", "Melvin Marxen", "Melvin Marxen", "Central", True),
        ("James Ascencio", "Summer Sewald", "Summer Sewald", "West", True),
        ("Moses Frase", "Dustin Brinkmann", "Dustin Brinkmann", "Central", True),
    ]


def test_salesforce_history_loads_stage_changes(ingest_data, run_import, con):
    result = run_import(ingest_data / "sf_history.csv")

    assert result.status == "loaded", result.message
    assert (result.kind, result.source_format) == ("stage_history", "salesforce_history")
    rows = con.execute(
        "SELECT opportunity_id, stage, source_stage, entered_at, amount "
        "FROM stage_history_imported ORDER BY opportunity_id, entered_at"
    ).fetchall()
    assert rows == [
        (
            "006bm00000LKJNNAA5",
            "Discovery",
            "Prospecting",
            datetime(2026, 2, 23, 20, 55),  # 02/23/26 08:55 PM
            D("15000.00"),
        ),
        (
            "006bm00000LKJNNAA5",
            "Qualified",
            "Qualification",
            datetime(2026, 3, 7, 9, 0),
            D("15000"),
        ),
        (
            "006bm00000LKJNPAA5",
            "Closed Won",
            "Closed Won",
            datetime(2026, 2, 23, 20, 55),
            D("220000"),
        ),
    ]
    view = con.execute(
        "SELECT DISTINCT origin FROM opportunity_stage_history WHERE opportunity_id = ?",
        ["006bm00000LKJNNAA5"],
    ).fetchall()
    assert view == [("history",)]


def test_salesforce_report_keeps_both_duplicate_id_columns(ingest_data):
    preview = preview_file(ingest_data / "sf_report_custom.csv")

    # 22 headers in the file, 22 distinct columns: the repeated `Opportunity ID` is kept
    assert len(preview.headers) == 22
    assert len(set(preview.headers)) == 22
    assert preview.headers[20] == "Opportunity ID"
    assert preview.headers[21] != "Opportunity ID"
    assert "Opportunity ID" in preview.headers[21]
    assert "Close Date (2)" in preview.headers
    assert preview.columns["close_date"] == "Close Date"
    assert preview.columns["opportunity_id"] in (preview.headers[20], preview.headers[21])


FOOTERS = {
    "copyright (c)": [
        "",
        '"Grand Totals (2 records)"',
        "",
        '"Confidential Information - Do Not Distribute"',
        '"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."',
    ],
    "copyright ©": [
        "",
        '"Grand Totals (2 records)"',
        "",
        '"Confidential Information - Do Not Distribute"',
        '"Copyright © 2000-2023 salesforce.com, inc. All rights reserved."',
    ],
    "thousands in the total": [
        '"Grand Totals (5,700 records)"',
        '"Confidential Information - Do Not Distribute"',
        '"Copyright © 2000-2025 salesforce.com, inc. All rights reserved."',
        "",
    ],
    "re-saved by Excel (quotes only where needed)": [
        "",
        "Grand Totals (2 records)",
        "",
        "Confidential Information - Do Not Distribute",
        '"Copyright (c) 2000-2026 salesforce.com, inc. All rights reserved."',
    ],
}


@pytest.mark.parametrize("footer", list(FOOTERS))
def test_salesforce_report_footer_lines_are_not_data(footer, tmp_path, run_import, con):
    lines = [
        "Opportunity Owner,Account Name,Opportunity Name,Stage,Amount,Close Date",
        'Ana Ruiz,Acme,Acme deal,Closed Won,"USD 1,000.00",15/01/2026',
        "Ben Okafor,Globex,Globex deal,Prospecting,-,28/02/2026",
        *FOOTERS[footer],
    ]
    path = tmp_path / "report.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert result.rows_read == 2
    assert con.execute("SELECT opportunity_id FROM opportunities ORDER BY 1").fetchall() == [
        ("Acme deal",),
        ("Globex deal",),
    ]


def test_pipedrive_status_overrides_the_stage_outcome(tmp_path, run_import, opp):
    # Pipedrive keeps won and lost deals in their last stage: only the status says the outcome
    path = tmp_path / "pipedrive.csv"
    path.write_text(
        "Deal - ID,Deal - Title,Deal - Owner,Deal - Value,Deal - Stage,Deal - Status\n"
        "1,A,Maria,100,Qualified,won\n"
        "2,B,Maria,200,Qualified,lost\n"
        "3,C,Maria,300,Qualified,open\n",
        encoding="utf-8",
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    outcome = {i: (opp(i)["is_closed"], opp(i)["is_won"], opp(i)["stage"]) for i in "123"}
    assert outcome == {
        "1": (True, True, "Qualified"),
        "2": (True, False, "Qualified"),
        "3": (False, False, "Qualified"),
    }


def test_pipedrive_deleted_deals_are_skipped_not_lost(tmp_path, run_import, opp, con):
    # export-headers.md: Pipedrive statuses are open, won, lost and deleted; a deal deleted
    # in the CRM must not count as lost (win rate) nor as pipeline, and must not refuse
    # the file
    path = tmp_path / "pipedrive.csv"
    path.write_text(
        "Deal - ID,Deal - Title,Deal - Owner,Deal - Value,Deal - Stage,Deal - Status\n"
        "1,A,Maria,100,Qualified,won\n"
        "2,B,Maria,200,Qualified,deleted\n"
        "3,C,Maria,300,Qualified,open\n"
        "4,D,Maria,400,Qualified,Deleted\n",
        encoding="utf-8",
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert (result.rows_read, result.rows_loaded) == (4, 2)
    assert "2 deals marked deleted in the CRM skipped" in result.message
    assert con.execute("SELECT opportunity_id FROM opportunities ORDER BY 1").fetchall() == [
        ("1",),
        ("3",),
    ]
    assert opp("3")["is_closed"] is False


def test_salesforce_api_iswon_flags_win_over_stage(tmp_path, run_import, opp):
    path = tmp_path / "Opportunity.csv"
    path.write_text(
        "Id,Name,StageName,Amount,CloseDate,IsClosed,IsWon\n"
        "006A,Won,Negotiation/Review,10,2024-01-31,TRUE,TRUE\n"
        "006B,Lost,Negotiation/Review,10,2024-01-31,TRUE,FALSE\n"
        "006C,Open,Closed Won,10,2024-01-31,FALSE,FALSE\n",
        encoding="utf-8",
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    assert (opp("006A")["is_closed"], opp("006A")["is_won"]) == (True, True)
    assert (opp("006B")["is_closed"], opp("006B")["is_won"]) == (True, False)
    assert (opp("006C")["is_closed"], opp("006C")["is_won"]) == (False, False)


def test_odoo_open_deal_close_date_is_the_expected_closing(ingest_data, run_import, opp):
    """Odoo technical exports carry `date_closed` (won/lost) and `date_deadline` (expected).

    close_date means "closed, or expected to close" (docs/data-model.md): an open deal with
    an empty date_closed must take its date_deadline, or it drops out of every forecast.
    """
    result = run_import(ingest_data / "odoo_technical.csv")

    assert result.status == "loaded", result.message
    assert opp("__export__.crm_lead_21_4f1a")["close_date"] == date(2024, 4, 30)
    assert opp("__export__.crm_lead_22_9b2c")["close_date"] == date(2024, 5, 15)
    assert opp("__export__.crm_lead_23_77de")["close_date"] == date(2024, 3, 18)


def test_hubspot_date_entered_columns_become_stage_history(tmp_path, run_import, con):
    path = tmp_path / "hubspot-crm-exports-all-deals-2024-08-27.csv"
    path.write_text(
        '"Record ID","Deal Name","Deal Stage","Amount","Deal owner",'
        '"Date entered ""Appointment Scheduled (Sales Pipeline)""",'
        '"Date entered ""Closed Won (Sales Pipeline)"""\n'
        '"901","Acme","Closed Won","100","Jane Doe","2024-01-05 09:00","2024-03-01 10:30"\n'
        '"902","Globex","Appointment Scheduled","50","Jane Doe","2024-02-01 08:00",""\n',
        encoding="utf-8",
    )

    result = run_import(path)

    assert result.status == "loaded", result.message
    history = con.execute(
        "SELECT opportunity_id, stage, entered_at, origin FROM opportunity_stage_history "
        "ORDER BY opportunity_id, entered_at"
    ).fetchall()
    assert history == [
        ("901", "Discovery", datetime(2024, 1, 5, 9, 0), "history"),
        ("901", "Closed Won", datetime(2024, 3, 1, 10, 30), "history"),
        ("902", "Discovery", datetime(2024, 2, 1, 8, 0), "history"),
    ]


STAGE_LABELS = [
    ("Closed Won (Sales Pipeline)", "Closed Won"),  # HubSpot label with its pipeline
    ("Contract Sent (Sales Pipeline)", "Final Decision"),
    ("closedwon", "Closed Won"),  # HubSpot internal ids
    ("appointmentscheduled", "Discovery"),
    ("CLOSED-WON", "Closed Won"),
    ("closed lost", "Closed Lost"),
    ("Id. Decision Makers", "Demo"),
    ("Proposal/Price Quote", "Trial"),
    ("Negotiation/Review", "Final Decision"),
]


@pytest.mark.parametrize(("label", "stage"), STAGE_LABELS, ids=[s[0] for s in STAGE_LABELS])
def test_stage_labels_map_to_canonical_stages(label, stage, tmp_path, run_import, opp):
    path = tmp_path / "deals.csv"
    path.write_text(f'opportunity_id,stage\n00123,"{label}"\n', encoding="utf-8")

    result = run_import(path)

    assert result.status == "loaded", result.message
    row = opp("00123")  # ids are text: leading zeros stay
    assert (row["stage"], row["source_stage"]) == (stage, label)
