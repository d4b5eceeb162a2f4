"""An import counts again only what it changed in the derived tables (issue 15.1).

Each import below is checked against a full count of the same data, taken in a transaction
that is rolled back, so a partial count that missed a deal or a month would differ. The
share above which an import counts whole tables is raised so these small files take the
partial path, and the import's log line says which path each table took.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import duckdb
import pytest

from analytics.ingest import import_file
from analytics.metrics import derived
from analytics.metrics.derived import derived_current, refresh_derived

OPPS = "opportunity_id,owner,stage,amount,currency,created_date,close_date\n"
ACTS = "activity_id,owner,activity_type,started_at,duration_minutes,opportunity_id\n"


def counts(con: duckdb.DuckDBPyConnection) -> tuple[list, list]:
    return (
        sorted(con.execute("SELECT * FROM won_deal_touches").fetchall()),
        sorted(con.execute("SELECT * FROM activity_months").fetchall(), key=str),
    )


def full_count(con: duckdb.DuckDBPyConnection) -> tuple[list, list]:
    """Both tables counted whole from the data there is now; nothing kept."""
    con.execute("BEGIN TRANSACTION")
    try:
        refresh_derived(con, force=True)
        return counts(con)
    finally:
        con.execute("ROLLBACK")


@pytest.fixture
def load(con: duckdb.DuckDBPyConnection, tmp_path: Path, caplog: pytest.LogCaptureFixture):
    """Import a text file; returns how the import counted each derived table."""
    caplog.set_level(logging.INFO, logger="analytics.ingest.engine")

    def run(name: str, text: str, kind: str, as_of: date) -> dict[str, str]:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        caplog.clear()
        result = import_file(con, path, kind=kind, as_of=as_of, data_dir=tmp_path, backup=False)
        assert result.ok, result.message
        lines = [r.getMessage() for r in caplog.records if "derived tables" in r.getMessage()]
        assert len(lines) == 1, lines
        return dict(part.split("=") for part in lines[0].split(": ", 1)[1].split(", "))

    return run


@pytest.fixture
def partial(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(derived, "PARTIAL_SHARE", 1000.0)


def test_partial_counts_equal_full_counts(con, load, partial) -> None:
    deals = (
        "X,Ann,Closed Won,100,USD,2024-01-01,2024-05-10\n"
        "Y,Ann,Discovery,100,USD,2024-01-01,2024-08-10\n"
        "Z,Bob,Closed Won,300,USD,2024-01-01,2024-06-20\n"
    )
    load("o1.csv", OPPS + deals, "opportunities", date(2024, 7, 1))
    touches = (
        "A1,Ann,call,2024-05-01 09:00:00,10,X\n"
        "A2,Ann,call,2024-05-02 09:00:00,10,X\n"
        "A3,Bob,email,2024-06-01 09:00:00,,Z\n"
        "A4,Bob,meeting,2024-06-02 09:00:00,30,\n"
    )
    done = load("a1.csv", ACTS + touches, "activities", date(2024, 7, 2))
    # the months were empty: any change is all of them
    assert done == {"won_deal_touches": "partial", "activity_months": "full"}
    assert counts(con) == full_count(con)
    assert {r[0]: r[3] for r in counts(con)[0]} == {"X": 2, "Z": 1}

    # A1 moves to Z and into June, A2 becomes an email, A5 is new on Y: the groups and
    # deals A1 and A2 left must be counted again as well as those they joined
    moved = (
        "A1,Bob,call,2024-06-03 09:00:00,10,Z\n"
        "A2,Ann,email,2024-05-02 09:00:00,10,X\n"
        "A5,Ann,demo,2024-06-05 09:00:00,45,Y\n"
    )
    done = load("a2.csv", ACTS + moved, "activities", date(2024, 7, 3))
    assert done == {"won_deal_touches": "partial", "activity_months": "partial"}
    assert counts(con) == full_count(con)
    assert {r[0]: r[3] for r in counts(con)[0]} == {"X": 1, "Z": 2}
    assert not [m for m in counts(con)[1] if m[:3] == (date(2024, 5, 1), "Ann", "call")]

    # deals: X lost, Z closed before A1 and A3, Y won; activities are not counted again
    later = (
        "X,Ann,Closed Lost,100,USD,2024-01-01,2024-05-10\n"
        "Y,Ann,Closed Won,100,USD,2024-01-01,2024-06-10\n"
        "Z,Bob,Closed Won,300,USD,2024-01-01,2024-05-31\n"
    )
    done = load("o2.csv", OPPS + later, "opportunities", date(2024, 7, 4))
    assert done == {"won_deal_touches": "partial", "activity_months": "kept"}
    assert counts(con) == full_count(con)
    assert {r[0]: r[3] for r in counts(con)[0]} == {"Y": 1, "Z": 0}
    assert derived_current(con)


def test_a_large_change_or_stale_tables_count_whole(con, load, monkeypatch) -> None:
    load("o1.csv", OPPS + "X,Ann,Closed Won,100,USD,2024-01-01,2024-05-10\n",
         "opportunities", date(2024, 7, 1))  # fmt: skip
    # every deal changed: more than the share, the whole table is counted
    done = load("a1.csv", ACTS + "A1,Ann,call,2024-05-01 09:00:00,10,X\n", "activities",
                date(2024, 7, 1))  # fmt: skip
    assert done == {"won_deal_touches": "full", "activity_months": "full"}
    # a script's own write made the tables stale: the next import counts them whole
    con.execute(
        "INSERT INTO activities (activity_id, owner, activity_type, started_at, import_id) "
        "VALUES ('S1', 'Ann', 'call', TIMESTAMP '2024-05-03 09:00:00', 0)"
    )
    assert not derived_current(con)
    monkeypatch.setattr(derived, "PARTIAL_SHARE", 1000.0)  # stale wins over small
    done = load("o2.csv", OPPS + "Y,Ann,Discovery,100,USD,2024-01-01,2024-06-10\n",
                "opportunities", date(2024, 7, 2))  # fmt: skip
    assert done == {"won_deal_touches": "full", "activity_months": "full"}
    assert counts(con) == full_count(con)
    assert derived_current(con)
