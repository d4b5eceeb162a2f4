"""The shared real exports (../shared/realdata): the facts its README states must hold.

Maven Analytics "CRM Sales Opportunities" (8,800 deals, 35 agents) and a Salesforce
Developer Edition org's API export (36 opportunities, 48 OpportunityHistory rows).
"""

from __future__ import annotations

import shutil
from datetime import date, datetime
from decimal import Decimal

import pytest

pytestmark = pytest.mark.realdata


@pytest.fixture
def maven(realdata, run_import):
    pipeline = run_import(realdata / "maven_crm" / "sales_pipeline.csv", as_of=date(2017, 12, 31))
    teams = run_import(realdata / "maven_crm" / "sales_teams.csv")
    assert pipeline.status == "loaded", pipeline.message
    assert teams.status == "loaded", teams.message
    return pipeline, teams


@pytest.fixture
def salesforce(realdata, run_import):
    opportunities = run_import(realdata / "salesforce_devorg" / "Opportunity.csv")
    history = run_import(realdata / "salesforce_devorg" / "OpportunityHistory.csv")
    assert opportunities.status == "loaded", opportunities.message
    assert history.status == "loaded", history.message
    return opportunities, history


def test_maven_pipeline_and_teams_load_whole(maven, con):
    pipeline, teams = maven

    assert (pipeline.kind, pipeline.source_format) == ("opportunities", "maven_crm")
    assert (pipeline.rows_read, pipeline.rows_loaded, pipeline.rows_rejected) == (8800, 8800, 0)
    assert (teams.kind, teams.source_format) == ("reps", "maven_teams")
    assert (teams.rows_read, teams.rows_loaded) == (35, 35)
    assert con.execute("SELECT count(*) FROM opportunities").fetchone()[0] == 8800
    assert con.execute("SELECT count(*) FROM opportunity_snapshots").fetchone()[0] == 8800
    assert con.execute("SELECT count(*) FROM reps").fetchone()[0] == 35


def test_maven_won_amounts_sum_to_the_published_total(maven, con):
    won = con.execute(
        "SELECT count(*), sum(amount) FROM opportunities WHERE is_won AND is_closed"
    ).fetchone()

    assert won == (4238, Decimal("10005534.00"))


def test_maven_deal_stages_map_to_canonical_stages(maven, con):
    rows = con.execute(
        "SELECT source_stage, stage, is_closed, is_won, count(*) FROM opportunities "
        "GROUP BY ALL ORDER BY count(*) DESC"
    ).fetchall()

    assert rows == [
        ("Won", "Closed Won", True, True, 4238),
        ("Lost", "Closed Lost", True, False, 2473),
        ("Engaging", "Qualified", False, False, 1589),
        ("Prospecting", "Discovery", False, False, 500),
    ]


def test_maven_readme_facts_survive_the_import(maven, con):
    facts = con.execute(
        """
        SELECT
            count(*) FILTER (WHERE source_stage = 'Lost' AND amount <> 0),
            count(*) FILTER (
                WHERE NOT is_closed AND (amount IS NOT NULL OR close_date IS NOT NULL)
            ),
            count(*) FILTER (WHERE source_stage = 'Prospecting' AND created_date IS NOT NULL),
            count(*) FILTER (WHERE account IS NULL),
            min(created_date), max(close_date),
            count(*) FILTER (WHERE product = 'GTXPro')
        FROM opportunities
        """
    ).fetchone()

    assert facts[:4] == (0, 0, 0, 1425)
    assert facts[4] >= date(2016, 10, 1) and facts[5] <= date(2017, 12, 31)
    assert facts[6] > 0  # spelled as the pipeline spells it, not "GTX Pro"


def test_maven_agents_without_deals_are_reps(maven, con):
    idle = con.execute(
        "SELECT rep, manager, region FROM reps "
        "WHERE rep NOT IN (SELECT owner FROM opportunities) ORDER BY rep"
    ).fetchall()
    orphans = con.execute(
        "SELECT count(DISTINCT owner) FROM opportunities WHERE owner NOT IN (SELECT rep FROM reps)"
    ).fetchone()[0]

    assert len(idle) == 5
    assert all(manager and region for _, manager, region in idle)
    assert orphans == 0  # every deal owner is on the roster


def test_maven_pipeline_again_is_a_duplicate(maven, realdata, run_import, fingerprint):
    before = fingerprint()

    result = run_import(realdata / "maven_crm" / "sales_pipeline.csv")

    assert result.status == "duplicate"
    assert fingerprint() == before


def test_maven_problem_rows_are_the_files_rows(realdata, tmp_path, run_import, fingerprint):
    lines = (realdata / "maven_crm" / "sales_pipeline.csv").read_text("utf-8").splitlines()
    for row in (3000, 8801):  # spreadsheet rows: the header is row 1
        lines[row - 1] = lines[row - 1].rsplit(",", 1)[0] + ",n/a"
    path = tmp_path / "sales_pipeline.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = fingerprint()

    result = run_import(path)

    assert result.status == "refused"
    assert [(p.line, p.column, p.value) for p in result.problems] == [
        (3000, "close_value", "n/a"),
        (8801, "close_value", "n/a"),
    ]
    assert fingerprint() == before


def test_salesforce_org_opportunities(salesforce, con):
    opportunities, _ = salesforce

    assert (opportunities.kind, opportunities.source_format) == ("opportunities", "salesforce_api")
    assert opportunities.rows_loaded == 36
    figures = con.execute(
        """
        SELECT
            count(*),
            count(*) FILTER (WHERE source_stage = 'Closed Won'),
            sum(amount) FILTER (WHERE source_stage = 'Closed Won'),
            count(*) FILTER (WHERE source_stage = 'Closed Lost'),
            count(*) FILTER (WHERE amount IS NULL),
            count(*) FILTER (WHERE is_won),
            count(*) FILTER (WHERE is_closed),
            count(*) FILTER (WHERE close_date IS NULL OR created_date IS NULL),
            count(DISTINCT length(opportunity_id))
        FROM opportunities
        """
    ).fetchone()

    assert figures == (36, 12, Decimal("2815000.00"), 8, 5, 12, 20, 0, 1)
    stages = dict(con.execute("SELECT DISTINCT source_stage, stage FROM opportunities").fetchall())
    assert stages == {
        "Prospecting": "Discovery",
        "Qualification": "Qualified",
        "Needs Analysis": "Qualified",
        "Value Proposition": "Demo",
        "Id. Decision Makers": "Demo",
        "Perception Analysis": "Trial",
        "Proposal/Price Quote": "Trial",
        "Negotiation/Review": "Final Decision",
        "Closed Won": "Closed Won",
        "Closed Lost": "Closed Lost",
    }
    first = con.execute(
        "SELECT close_date, created_date, amount, probability, lead_source, is_closed "
        "FROM opportunities WHERE opportunity_id = '006bm00000LKJNNAA5'"
    ).fetchone()
    # CloseDate 02/03/24 and CreatedDate 02/23/26: US month-first, 2-digit years
    assert first == (
        date(2024, 2, 3),
        date(2026, 2, 23),
        Decimal("15000.00"),
        10.0,
        "Purchased List",
        False,
    )


def test_salesforce_org_closed_deal_dated_after_the_last_modified_day_is_said(salesforce):
    # row 34, Jackson Controls: Closed Lost with CloseDate 03/31/26, last modified 02/24/26,
    # in a file whose latest LastModifiedDate is 03/07/26. Salesforce keeps a planned close
    # date when a deal is closed, so the file loads; the result says so instead of nothing.
    opportunities, _ = salesforce

    assert "As of 2026-03-07 (from the column 'LastModifiedDate')." in opportunities.message
    assert (
        "1 closed deal carries a close date after the as-of day 2026-03-07 (row 34: "
        "Closed Lost on 2026-03-31); counted as closed on its close date"
    ) in opportunities.message


def test_salesforce_org_history_loads_as_stage_history(salesforce, con):
    _, history = salesforce

    assert (history.kind, history.source_format) == ("stage_history", "salesforce_history")
    assert history.rows_loaded == 48
    counts = con.execute(
        "SELECT count(*), count(DISTINCT opportunity_id), min(entered_at), "
        "count(*) FILTER (WHERE origin = 'history') FROM opportunity_stage_history"
    ).fetchone()
    assert counts == (48, 36, datetime(2026, 2, 23, 20, 55), 48)  # 02/23/26 08:55 PM
    unmapped = con.execute("SELECT count(*) FROM stage_history_imported WHERE stage IS NULL")
    assert unmapped.fetchone()[0] == 0


@pytest.mark.parametrize(
    ("relative", "what", "shown"),
    [
        ("maven_crm/accounts.csv", "an accounts list", ["'sector'", "'employees'"]),
        ("maven_crm/products.csv", "a products list", ["'series'", "'sales_price'"]),
        ("salesforce_devorg/Account.csv", "an accounts list", ["'Industry'", "'AnnualRevenue'"]),
    ],
)
def test_non_pipeline_files_are_refused_clearly(
    relative, what, shown, realdata, tmp_path, run_import, fingerprint
):
    """An export folder's accounts and products lists are named for what they are, not
    called deals exports with missing columns; nothing is loaded."""
    path = tmp_path / relative.split("/")[1]
    shutil.copyfile(realdata / relative, path)
    before = fingerprint()

    result = run_import(path)

    assert result.status == "refused"
    message = result.message
    assert message.startswith(f"{path.name}: refused")
    assert f"this is {what}" in message, message
    assert all(h in message for h in shown), message
    assert "the dashboard does not read such lists" in message
    assert "missing required column" not in message
    assert fingerprint() == before


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("account,sector,employees", "an accounts list (one row per company)"),
        (
            "Id,Name,Industry,AnnualRevenue,NumberOfEmployees",
            "an accounts list (one row per company)",
        ),
        ("product,series,sales_price", "a products list (one row per product)"),
        ("account,owner,stage,amount", None),  # a deals export
        ("account,employees", "an accounts list (one row per company)"),
        ("Id,Name,Industry", None),  # one telling column without its key is not enough
    ],
)
def test_reference_list_is_recognised_from_its_headers(header: str, expected: str | None) -> None:
    from analytics.ingest.detect import reference_list

    found = reference_list(header.split(","))
    assert (found[0] if found else None) == expected


@pytest.mark.parametrize(
    "text",
    [
        "opportunity_id,account,amount\nD-1,Acme,100\n",
        # a deals export with company details beside each deal is still a deals export
        "opportunity_id,account,industry,employees,amount\nD-1,Acme,Retail,50,100\n",
    ],
)
def test_a_deals_file_lacking_a_stage_is_still_told_what_is_missing(
    text, tmp_path, run_import, fingerprint
):
    """The accounts-list wording only replaces the message for such lists."""
    path = tmp_path / "deals.csv"
    path.write_text(text, encoding="utf-8")
    before = fingerprint()
    result = run_import(path)
    assert result.status == "refused"
    assert "missing required column" in result.message
    assert fingerprint() == before
