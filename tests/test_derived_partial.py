"""An import counts again only what it changed in the derived tables (issue 15.1).

Each import below is checked against a full count of the same data, taken in a transaction
that is rolled back, so a partial count that missed a deal or a month would differ. The
share above which an import counts whole tables is raised so these small files take the
partial path, and the import's log line says which path each table took.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import date, timedelta
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


STAGES = ("Discovery", "Proposal", "Closed Won", "Closed Lost")
OWNERS = ("Ann", "Bob", "Cé **Li**")
TYPES = ("call", "email", "meeting", "demo")


def _deals_file(rng, deals: list[str]) -> str:
    """Some of the deals, each in a random state: won, lost or open, any owner, any close."""
    rows = []
    for deal in rng.sample(deals, rng.randint(1, len(deals))):
        close = date(2024, rng.randint(4, 7), rng.randint(1, 28))
        rows.append(
            f"{deal},{rng.choice(OWNERS)},{rng.choice(STAGES)},100,USD,2024-01-01,{close}\n"
        )
    return OPPS + "".join(rows)


def _activities_file(rng, acts: list[str], deals: list[str], fresh: str) -> str:
    """Some activities, new or replacing stored ones (moved to another deal, owner, type,
    month, or unlinked); now and then without the opportunity_id or duration column, so a
    replaced activity keeps its stored link or minutes; now and then only new activities
    (ids starting with `fresh`), an import a rollback can delete."""
    columns = ["activity_id", "owner", "activity_type", "started_at"]
    if rng.random() < 0.8:
        columns.append("duration_minutes")
    if rng.random() < 0.8:
        columns.append("opportunity_id")
    rows = []
    chosen = rng.sample(acts, rng.randint(1, len(acts) // 2))
    if rng.random() < 0.3:
        chosen = [f"{fresh}{i}" for i in range(len(chosen))]
    for act in chosen:
        started = f"2024-{rng.randint(4, 6):02d}-{rng.randint(1, 28):02d} 09:00:00"
        cells = {
            "activity_id": act,
            "owner": rng.choice(OWNERS),
            "activity_type": rng.choice(TYPES),
            "started_at": started,
            "duration_minutes": rng.choice(["", "15", "30"]),
            "opportunity_id": rng.choice(["", *deals[3:]] if rng.random() < 0.3 else deals[:3]),
        }
        rows.append(",".join(cells[c] for c in columns) + "\n")
    return ",".join(columns) + "\n" + "".join(rows)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_random_walk_of_imports_and_rollbacks_counts_as_a_full_count(
    con, tmp_path: Path, partial, caplog: pytest.LogCaptureFixture, seed: int
) -> None:
    """Deals move between won, lost and open, change owner and close date; activities are
    replaced (other deal, owner, type, month, unlinked) and rolled back (deleted); late
    and same-day deal exports; after every step the partial count equals a full count."""
    import random

    from analytics.backup import RollbackRefused, rollback_import

    rng = random.Random(seed)
    deals = [f"D{i}" for i in range(8)]
    acts = [f"A{i}" for i in range(14)]
    ids: list[int] = []
    touched = 0  # steps at which some won deal had touches
    rolled_back: list[str] = []
    caplog.set_level(logging.INFO, logger="analytics.ingest.engine")
    for step in range(30):
        roll = rng.random()
        if roll < 0.2 and ids:
            # refused when it replaced what it cannot bring back: nothing changes then
            with contextlib.suppress(RollbackRefused):
                rolled_back.append(rollback_import(con, ids.pop()).kind)
        else:
            opportunities = roll < 0.5
            text = (
                _deals_file(rng, deals)
                if opportunities
                else _activities_file(rng, acts, deals, f"N{step}_")
            )
            path = tmp_path / f"step{step}.csv"
            path.write_text(text, encoding="utf-8")
            # mostly the next day's export; now and then a same-day or a late, older one
            as_of = date(2024, 8, 1) + timedelta(days=step - rng.choice([0, 0, 0, 1, 3]))
            result = import_file(
                con,
                path,
                kind="opportunities" if opportunities else "activities",
                as_of=as_of,
                data_dir=tmp_path,
                backup=False,
            )
            assert result.ok, result.message
            ids.append(result.import_id)
            stamps = con.execute("SELECT count(*) FROM derived_tables").fetchone()[0]
            assert stamps == 3  # the two tables here and stage_history_spans
        assert counts(con) == full_count(con), f"step {step}"
        assert derived_current(con)
        touched += any(row[3] for row in counts(con)[0])
    # the walk took the partial path for both tables, with touches to count
    log = " ".join(r.getMessage() for r in caplog.records if "derived tables" in r.getMessage())
    assert "activity_months=partial" in log and "won_deal_touches=partial" in log
    assert touched
    assert "activities" in rolled_back  # activities deleted, not only replaced
