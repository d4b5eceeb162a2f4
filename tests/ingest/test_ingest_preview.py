"""preview_file (what the Data page shows before an import) and saved column mappings."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from analytics.ingest import Mapping, preview_file

UNKNOWN = (
    "Ref,Client Ref,Rep Code,Phase,Ticket Size,Expected On\n"
    'W-1,Acme,AR,Discovery,"1,000.00",2024-05-01\n'
    "W-2,Globex,BO,Closed Won,2000,2024-06-01\n"
    "W-3,Initech,AR,Demo,,2024-07-01\n"
)
UNKNOWN_MAPPING = {
    "opportunity_id": "Ref",
    "account": "Client Ref",
    "owner": "Rep Code",
    "stage": "Phase",
    "amount": "Ticket Size",
    "close_date": "Expected On",
}


@pytest.fixture
def unknown(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(UNKNOWN, encoding="utf-8")
    return path


def test_preview_of_a_known_format(ingest_data):
    preview = preview_file(ingest_data / "zoho.csv")

    assert preview.problem is None
    assert preview.file_name == "zoho.csv"
    assert (preview.encoding, preview.delimiter) == ("utf-8", ",")
    assert (preview.kind, preview.source_format) == ("opportunities", "zoho")
    assert preview.format_label == "Zoho CRM deals export"
    assert preview.missing_required == []
    assert preview.columns["opportunity_id"] == "Record Id"
    assert preview.columns["owner"] == "Deal Owner"
    assert preview.columns["close_date"] == "Closing Date"
    assert "Deal Owner.id" in preview.unmapped
    assert ("stage", True) in preview.fields and ("amount", False) in preview.fields
    assert isinstance(preview.sample, pd.DataFrame)
    assert list(preview.sample.columns) == preview.headers
    assert len(preview.sample) == 3
    # the sample shows the cells as written, before any parsing
    assert preview.sample.loc[1, "Amount"] == "$12,400.00"
    assert preview.sample.loc[0, "Record Id"] == "zcrm_5725767000000412001"


def test_preview_rows_limits_the_sample(ingest_data):
    preview = preview_file(ingest_data / "hubspot.csv", rows=2)

    assert preview.sample["Record ID"].tolist() == ["18223590901", "18223590902"]


def test_preview_sample_leaves_out_report_footers(ingest_data):
    preview = preview_file(ingest_data / "sf_report_standard.csv")

    first_column = preview.sample.iloc[:, 0].tolist()
    assert first_column == ["Ana Ruiz", "Ana Ruiz", "Ben Okafor", "Ben Okafor"]
    assert not any("Grand Totals" in str(v) or "Copyright" in str(v) for v in first_column)


def test_preview_of_an_unknown_header_set(unknown):
    preview = preview_file(unknown)

    assert preview.problem is None
    assert preview.kind == "opportunities"
    assert preview.source_format == "generic"
    assert preview.columns == {}
    assert preview.missing_required == ["opportunity_id (or opportunity_name)", "stage"]
    assert preview.unmapped == [
        "Ref",
        "Client Ref",
        "Rep Code",
        "Phase",
        "Ticket Size",
        "Expected On",
    ]
    assert preview.sample["Phase"].tolist() == ["Discovery", "Closed Won", "Demo"]


def test_preview_warns_when_the_chosen_kind_does_not_fit(ingest_data):
    preview = preview_file(ingest_data / "sf_api.csv", kind="reps")

    assert preview.kind == "reps"
    assert preview.problem is not None
    assert "Salesforce API export" in preview.problem and "not reps" in preview.problem


def test_mapping_save_load_round_trip(tmp_path):
    mapping = Mapping("opportunities", dict(UNKNOWN_MAPPING), "dmy")
    path = tmp_path / "mappings" / "nested" / "acme.json"

    mapping.save(path)
    loaded = Mapping.load(path)

    assert loaded == mapping
    assert json.loads(path.read_text("utf-8")) == {
        "kind": "opportunities",
        "columns": UNKNOWN_MAPPING,
        "date_order": "dmy",
    }


def test_mapping_keeps_non_ascii_headers(tmp_path):
    mapping = Mapping("opportunities", {"stage": "Этап", "amount": "금액", "owner": "负责人"})
    path = tmp_path / "m.json"

    mapping.save(path)

    assert "Этап" in path.read_text("utf-8")
    assert Mapping.load(path) == mapping


def test_mapping_with_an_unknown_kind_is_rejected(tmp_path):
    path = tmp_path / "m.json"
    path.write_text('{"kind": "deals", "columns": {}}', encoding="utf-8")

    with pytest.raises(ValueError, match="unknown kind"):
        Mapping.load(path)


def test_saved_mapping_makes_an_unknown_header_set_import(
    unknown, tmp_path, run_import, con, opp, fingerprint
):
    before = fingerprint()
    refused = run_import(unknown)
    assert refused.status == "refused"
    assert "missing required column" in refused.message
    assert fingerprint() == before
    Mapping("opportunities", dict(UNKNOWN_MAPPING)).save(tmp_path / "export.json")
    mapping = Mapping.load(tmp_path / "export.json")

    preview = preview_file(unknown, mapping=mapping)
    result = run_import(unknown, mapping=mapping)

    assert (preview.source_format, preview.columns, preview.missing_required) == (
        "custom",
        UNKNOWN_MAPPING,
        [],
    )
    assert result.status == "loaded", result.message
    assert (result.kind, result.source_format, result.rows_loaded) == ("opportunities", "custom", 3)
    w1 = opp("W-1")
    assert (w1["account"], w1["owner"], w1["stage"], w1["amount"], w1["close_date"]) == (
        "Acme",
        "AR",
        "Discovery",
        Decimal("1000.00"),
        date(2024, 5, 1),
    )
    assert (opp("W-2")["is_won"], opp("W-3")["amount"]) == (True, None)
    assert con.execute("SELECT source_format FROM imports").fetchall() == [("custom",)]


def test_mapping_can_unmap_and_move_headers(tmp_path, run_import, opp):
    path = tmp_path / "deals.csv"
    path.write_text(
        "opportunity_id,stage,owner,manager,amount\nA,Discovery,Ann,Mia,100\n", encoding="utf-8"
    )
    # `owner` moves to the manager column, `owner`'s own header becomes the account, and
    # the amount column is deliberately ignored
    mapping = Mapping(
        "opportunities",
        {"opportunity_id": "opportunity_id", "stage": "stage", "owner": "manager"}
        | {"account": "owner", "amount": ""},
    )

    preview = preview_file(path, mapping=mapping)
    result = run_import(path, mapping=mapping)

    assert preview.columns["owner"] == "manager"
    assert preview.columns["account"] == "owner"
    assert "amount" not in preview.columns
    assert result.status == "loaded", result.message
    row = opp("A")
    assert (row["owner"], row["account"], row["amount"]) == ("Mia", "Ann", None)


def test_mapping_to_a_header_the_file_lacks_leaves_the_field_missing(unknown, run_import):
    mapping = Mapping("opportunities", dict(UNKNOWN_MAPPING, stage="Deal Stage"))

    preview = preview_file(unknown, mapping=mapping)
    result = run_import(unknown, mapping=mapping)

    assert preview.missing_required == ["stage"]
    assert result.status == "refused"
    assert "missing required column(s) stage" in result.message


def test_preview_sample_counts_records_not_lines(tmp_path):
    # Salesforce descriptions span lines inside quotes; the sample shows whole records
    path = tmp_path / "Opportunity.csv"
    path.write_text(
        "Id,Name,Description,StageName\n"
        '006A,Acme,"line one\nline two\nline three",Prospecting\n'
        "006B,Globex,,Closed Won\n"
        '006C,Initech,"x\ny",Closed Lost\n',
        encoding="utf-8",
    )

    preview = preview_file(path, rows=2)

    assert preview.sample.values.tolist() == [
        ["006A", "Acme", "line one\nline two\nline three", "Prospecting"],
        ["006B", "Globex", "", "Closed Won"],
    ]
