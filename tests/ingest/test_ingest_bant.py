"""BANT flags from real export shapes into `opportunities.bant_*` (nullable BOOLEAN).

A flag is TRUE/FALSE when the file has the column (a blank cell is FALSE: the deal is not
qualified on it) and NULL when it has none (not recorded). Files: tests/data/bant_opps.csv
(a hand-made sheet with Budget / Authority / Need / Timing written every way ops write
yes/no), tests/data/bant_opps_plain.csv (an older export without them), and Salesforce
API-name and report-label exports written here with the org's custom checkbox fields.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.ingest.detect import detect

FIXTURES = Path(__file__).resolve().parent.parent / "data"
AS_OF = date(2024, 7, 15)
FLAGS = ("bant_budget", "bant_authority", "bant_need", "bant_timing")


def flags(con: duckdb.DuckDBPyConnection, opportunity_id: str, table: str = "opportunities"):
    return con.execute(
        f"SELECT {', '.join(FLAGS)} FROM {table} WHERE opportunity_id = ?", [opportunity_id]
    ).fetchone()


@pytest.fixture
def loaded(run_import: Callable[..., Any], con: duckdb.DuckDBPyConnection):
    for name in ("bant_opps.csv", "bant_opps_plain.csv"):
        result = run_import(FIXTURES / name, as_of=AS_OF)
        assert result.status == "loaded", result.message
    return con


@pytest.mark.parametrize(
    ("deal", "cells", "expected"),
    [
        ("B-1", "yes, Yes, TRUE, x", (True, True, True, True)),
        ("B-2", "1, true, y, X", (True, True, True, True)),
        ("B-3", "yes, no, yes, yes", (True, False, True, True)),
        ("B-4", "(blank), yes, yes, yes", (False, True, True, True)),
        ("B-5", "0, false, N, (blank)", (False, False, False, False)),
        ("B-6", "TRUE x4", (True, True, True, True)),
        ("B-7", "yes, (blank), yes, no", (True, False, True, False)),
        ("B-9", "no x4", (False, False, False, False)),
        ("P-1", "export without the columns", (None, None, None, None)),
        ("P-2", "export without the columns", (None, None, None, None)),
    ],
)
def test_sheet_values_become_flags(
    loaded: duckdb.DuckDBPyConnection, deal: str, cells: str, expected: tuple
) -> None:
    assert flags(loaded, deal) == expected, cells
    # the snapshot of the upload carries the same flags
    assert flags(loaded, deal, "opportunity_snapshots") == expected


def test_sheet_headers_map_to_the_bant_fields() -> None:
    headers = "Deal ID,Deal,Rep,Stage,Amount,Created,Close Date,Budget,Authority,Need,Timing"
    columns = detect(headers.split(",")).columns
    assert {f: columns.get(f) for f in FLAGS} == {
        "bant_budget": "Budget",
        "bant_authority": "Authority",
        "bant_need": "Need",
        "bant_timing": "Timing",
    }


def test_a_later_export_without_the_columns_keeps_them(
    loaded: duckdb.DuckDBPyConnection, run_import: Callable[..., Any], tmp_path: Path
) -> None:
    """B-1 re-exported later by a report without BANT columns: a column that is absent
    changes nothing (issue 12.5), so the flags stay as recorded; the July snapshot too."""
    later = tmp_path / "later.csv"
    later.write_text(
        "Deal ID,Deal,Rep,Stage,Amount,Created,Close Date\n"
        "B-1,Alder renewal,Ann Lee,Closed Won,4000,2024-06-03,2024-06-20\n",
        encoding="utf-8",
    )
    assert run_import(later, as_of=date(2024, 8, 1)).status == "loaded"
    assert flags(loaded, "B-1") == (True, True, True, True)
    kept = loaded.execute(
        f"SELECT {', '.join(FLAGS)} FROM opportunity_snapshots "
        "WHERE opportunity_id = 'B-1' AND snapshot_date = ?",
        [AS_OF],
    ).fetchone()
    assert kept == (True, True, True, True)


SALESFORCE_API = (
    "Id,Name,StageName,Amount,CloseDate,CreatedDate,IsClosed,IsWon,"
    "Budget_Confirmed__c,Decision_Maker_Identified__c,Need__c,Timing__c\n"
    "006A1,Won deal,Closed Won,1000,2024-06-20,2024-06-01T10:00:00.000Z,true,true,"
    "true,true,true,true\n"
    "006A2,Open deal,Prospecting,2000,2024-08-30,2024-06-02T10:00:00.000Z,false,false,"
    "false,true,,false\n"
)
SALESFORCE_REPORT = (
    "Opportunity ID,Opportunity Name,Opportunity Owner,Stage,Amount,Close Date,Created Date,"
    "Budget Confirmed,Decision Maker Identified,Need Identified,Timing Confirmed\n"
    "006B1,Won deal,Ann Lee,Closed Won,1000,2024-06-20,2024-06-01,1,1,1,1\n"
    "006B2,Open deal,Ann Lee,Prospecting,2000,2024-08-30,2024-06-02,0,1,0,-\n"
)


@pytest.mark.parametrize(
    ("name", "text", "source_format", "expected"),
    [
        (
            "Opportunity.csv",
            SALESFORCE_API,
            "salesforce_api",
            {"006A1": (True, True, True, True), "006A2": (False, True, False, False)},
        ),
        (
            "report1718000000000.csv",
            SALESFORCE_REPORT,
            "salesforce_report",
            {"006B1": (True, True, True, True), "006B2": (False, True, False, False)},
        ),
    ],
)
def test_salesforce_checkbox_fields(
    con: duckdb.DuckDBPyConnection,
    run_import: Callable[..., Any],
    tmp_path: Path,
    name: str,
    text: str,
    source_format: str,
    expected: dict[str, tuple],
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = run_import(path, as_of=AS_OF)
    assert result.status == "loaded", result.message
    assert result.source_format == source_format
    assert {deal: flags(con, deal) for deal in expected} == expected


def test_a_value_that_is_not_yes_or_no_is_reported(
    con: duckdb.DuckDBPyConnection, run_import: Callable[..., Any], tmp_path: Path
) -> None:
    """'maybe' is neither: the file is refused naming the row, the column and the value,
    and nothing is loaded (with --keep-valid the other rows would load)."""
    path = tmp_path / "bant_bad.csv"
    path.write_text(
        "Deal ID,Deal,Stage,Created,Budget,Authority,Need,Timing\n"
        "X-1,Fine,Demo,2024-06-01,yes,yes,yes,yes\n"
        "X-2,Unsure,Demo,2024-06-02,maybe,yes,yes,yes\n",
        encoding="utf-8",
    )
    result = run_import(path, as_of=AS_OF)
    assert result.status == "refused"
    [problem] = result.problems
    assert (problem.line, problem.column, problem.value) == (3, "Budget", "maybe")
    assert "yes/no" in problem.problem
    assert con.execute("SELECT count(*) FROM opportunities").fetchone()[0] == 0
