"""Detection names a CRM only for its whole export, and finds a leads file (issues 12.5, 12.6).

A re-upload of a Pipedrive deals file without the owner column was reported as a
"pipedrive" export; a marketing-leads file (lead id, first contact date, origin) was
detected as opportunities with nothing mapped. Files here are written by the tests.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from analytics.ingest import ImportResult, preview_file
from analytics.ingest.detect import detect

PIPEDRIVE = ["Deal - ID", "Deal - Title", "Deal - Owner", "Deal - Stage", "Deal - Value"]


@pytest.mark.parametrize(
    ("headers", "source_format", "lacks"),
    [
        (PIPEDRIVE, "pipedrive", None),
        ([h for h in PIPEDRIVE if h != "Deal - Owner"], "generic", "'Deal - Owner'"),
        ([h for h in PIPEDRIVE if h != "Deal - Value"], "generic", "'Deal - Value'"),
        (["Deal - Stage", "Deal - Owner", "Deal - Value"], "generic", "'Deal - ID'"),
        (["Deal - Title", "Deal - Owner", "Deal - Stage", "Deal - Value"], "pipedrive", None),
        # Salesforce reports and API exports: columns are the user's choice, owner optional
        (["Opportunity Name", "Stage", "Amount"], "salesforce_report", None),
        (["Opportunity Name", "Stage"], "generic", "'Amount'"),
        (["Id", "Name", "StageName", "CloseDate", "Amount"], "salesforce_api", None),
    ],
)
def test_a_crm_is_named_only_when_its_core_columns_are_all_there(
    headers: list[str], source_format: str, lacks: str | None
) -> None:
    det = detect(headers)
    assert det.kind.name == "opportunities"
    assert det.source_format == source_format
    if lacks:
        assert lacks in det.format_label and "partly like" in det.format_label
        # the format's own headers still map what is there
        assert "Deal - Stage" in det.columns.values() or "Stage" in det.columns.values()


def test_a_pipedrive_reupload_without_owner_is_reported_generic(
    run_import: Callable[..., ImportResult], con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    full = tmp_path / "deals.csv"
    full.write_text(
        ",".join(PIPEDRIVE) + "\n1,Big deal,Ana Ruiz,Discovery,1000\n", encoding="utf-8"
    )
    assert run_import(full).source_format == "pipedrive"
    partial = tmp_path / "deals-again.csv"
    partial.write_text(
        "Deal - ID,Deal - Title,Deal - Stage,Deal - Value\n1,Big deal,Qualified,1200\n",
        encoding="utf-8",
    )
    result = run_import(partial)
    assert result.source_format == "generic", result.message
    assert preview_file(partial).source_format == "generic"
    stored = con.execute(
        "SELECT source_format FROM imports ORDER BY import_id DESC LIMIT 1"
    ).fetchone()
    assert stored == ("generic",)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        # Olist's marketing-qualified-leads file, as published
        (
            ["mql_id", "first_contact_date", "landing_page_id", "origin"],
            {"lead_id": "mql_id", "created_at": "first_contact_date", "source": "origin"},
        ),
        (
            ["Lead ID", "First Contact Date", "Origin"],
            {"lead_id": "Lead ID", "created_at": "First Contact Date", "source": "Origin"},
        ),
        (
            ["id", "created", "source"],
            {"lead_id": "id", "created_at": "created", "source": "source"},
        ),
    ],
)
def test_a_leads_file_is_detected_from_its_columns(
    headers: list[str], expected: dict[str, str]
) -> None:
    det = detect(headers)
    assert det.kind.name == "leads"
    assert det.missing_required == []
    assert {f: det.columns[f] for f in expected} == expected


def test_the_olist_leads_file_imports_as_leads(
    run_import: Callable[..., ImportResult], con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = tmp_path / "olist_marketing_qualified_leads_dataset.csv"
    path.write_text(
        "mql_id,first_contact_date,landing_page_id,origin\n"
        "dac32acd4db4c29c230538b72f8dd87d,2018-02-01,88740e65d5d6b056e0cda098e1ea6313,social\n"
        "8c18d1de7f67e60dbd64e3c07d7e9d5d,2017-10-20,007f9098284a86ee80ddeb25d53e0af8,"
        "paid_search\n"
        "b4bc852d233dfefc5131f593b538befa,2018-03-22,a7982125ff7aa3b2054c6e44f9d28522,"
        "organic_search\n",
        encoding="utf-8",
    )
    result = run_import(path)
    assert (result.status, result.kind, result.source_format) == (
        "loaded",
        "leads",
        "olist_mql",
    ), result.message
    rows = con.execute("SELECT source, count(*) FROM leads GROUP BY 1 ORDER BY 1").fetchall()
    assert rows == [("organic_search", 1), ("paid_search", 1), ("social", 1)]


BITRIX_BI = ["ID", "DATE_CREATE", "ASSIGNED_BY_NAME", "LEAD_ID", "COMPANY_NAME", "TITLE",
             "STAGE_ID", "STAGE", "STAGE_SEMANTIC_ID"]  # fmt: skip


def test_a_bitrix24_bi_builder_deals_dataset_is_recognised(
    run_import: Callable[..., ImportResult], con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """The crm_deal dataset's documented field names (see formats/bitrix24_bi.toml)."""
    path = tmp_path / "crm_deal.csv"
    path.write_text(
        ",".join(BITRIX_BI) + "\n"
        "101,2024-03-01 10:00:00,Иван Петров,7,ООО Ромашка,Поставка,NEW,Новая,P\n"
        "102,2024-03-02 11:00:00,Анна Смирнова,,ИП Соколов,Сервис,WON,Сделка успешна,S\n",
        encoding="utf-8",
    )
    det = detect(BITRIX_BI)
    assert det.source_format == "bitrix24_bi"
    assert det.columns["owner"] == "ASSIGNED_BY_NAME" and det.columns["stage"] == "STAGE"
    result = run_import(path)
    assert result.source_format == "bitrix24_bi", result.message
    assert result.status == "loaded", result.message
    owners = con.execute("SELECT owner FROM opportunities ORDER BY opportunity_id").fetchall()
    assert owners == [("Иван Петров",), ("Анна Смирнова",)]
    # without the owner column it is not named Bitrix24 (issue 12.5)
    partial = [h for h in BITRIX_BI if h != "ASSIGNED_BY_NAME"]
    assert detect(partial).source_format == "generic"
