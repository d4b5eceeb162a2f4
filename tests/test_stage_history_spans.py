"""`stage_history_spans` (the derived spans of the imported stage changes) against a count
from scratch after every import of a messy export, and the point-in-time totals read from it
against the per-deal rows of `AS_OF_SQL` (issue 14, "Speed").

Why: the point-in-time totals with stage history read each imported change's span from this
table instead of a window over every change; an import counts it again only for the deals
it touched. A wrong partial count would show a past pipeline with stale stages, silently.
So after each step of a messy sequence (custom stage names, missing amounts, deals without
a created date, two changes on one day, a change before the deal was created, snapshots as
well as imported history, the same file twice, a later file that moves a deal on, a deals
export with "Date entered" columns, a rollback) the table must equal a count from scratch
written differently (correlated sub-queries, not a window), be current, and give the same
totals as the per-deal definition on daily and irregular days, for both rebuilt sources.
"""

from __future__ import annotations

import csv
import logging
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics.backup import rollback_import
from analytics.ingest import import_file
from analytics.metrics.derived import stage_spans_current
from analytics.pointintime import AS_OF_SQL, Basis, as_of_params, as_of_totals_sql

HEADER = ["opportunity_id", "owner", "stage", "amount", "currency", "created_date", "close_date"]
HISTORY = ["opportunity_id", "stage", "entered_at", "amount"]
# 30 plain deals, so that a later import touching a few is a partial count (under 10% of rows)
PLAIN = [
    [f"P{i}", "Dee", "Discovery", str(100 + i), "USD", f"2024-02-{1 + i % 27:02d}", ""]
    for i in range(30)
]
PLAIN_HISTORY = [
    row
    for i in range(30)
    for row in (
        [f"P{i}", "Discovery", f"2024-02-{1 + i % 27:02d} 09:00", ""],
        [f"P{i}", "Verhandlung", f"2024-03-{1 + i % 27:02d} 11:00", str(90 + i)],  # custom
    )
]
DEALS = [
    ["D1", "Ann", "Closed Won", "1000", "USD", "2024-03-01", "2024-03-20"],
    ["D2", "Ann", "Angebot erstellt", "", "USD", "2024-03-05", ""],  # custom stage, no amount
    ["D3", "Bob", "Qualified", "700", "EUR", "2024-03-10", ""],  # no imported history
    ["D4", "Bob", "Demo", "900", "EUR", "", ""],  # no created date: never placed
    ["D5", "Cara", "Trial", "2500.50", "", "2024-02-20", ""],  # no currency
    ["D6", "", "Discovery", "40", "USD", "2024-03-03", ""],  # no owner
]
CHANGES = [
    ["D1", "Discovery", "2024-02-25 09:00", "900"],  # before the deal was created
    ["D1", "Demo", "2024-03-08 10:00", ""],
    ["D1", "Verhandlung", "2024-03-08 15:00", "1100"],  # the same day: this one holds
    ["D1", "Closed Won", "2024-03-20 17:00", ""],
    ["D2", "Discovery", "2024-03-12 00:00", ""],
    ["D2", "Angebot erstellt", "2024-04-20 09:00", "5000"],
    ["D5", "Qualified", "2024-02-21 09:00", "2000"],
    ["D6", "Discovery", "2024-05-02 09:00", ""],  # after every day asked below
]
DAYS = [date(2024, 2, 28) + timedelta(days=k) for k in range(45)]  # 02-28 .. 04-12, daily
ODD = [date(2024, 1, 15), date(2024, 3, 8), date(2024, 3, 12), date(2024, 4, 30)]

# Each imported change from scratch: its day, the day of the deal's next change in
# (entered_at, stage) order ('infinity' when none), and whether none comes before it.
FROM_SCRATCH = """
SELECT h.opportunity_id, h.stage, h.amount, CAST(h.entered_at AS DATE),
       coalesce((SELECT CAST(min(n.entered_at) AS DATE) FROM stage_history_imported AS n
                 WHERE n.opportunity_id = h.opportunity_id
                   AND (n.entered_at > h.entered_at
                        OR (n.entered_at = h.entered_at AND n.stage > h.stage))),
                DATE 'infinity'),
       NOT EXISTS (SELECT 1 FROM stage_history_imported AS p
                   WHERE p.opportunity_id = h.opportunity_id
                     AND (p.entered_at < h.entered_at
                          OR (p.entered_at = h.entered_at AND p.stage < h.stage)))
FROM stage_history_imported AS h
"""
STORED = """
SELECT opportunity_id, stage, amount, from_day, to_day, first_change FROM stage_history_spans
"""


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def _per_deal(con: duckdb.DuckDBPyConnection, params: dict) -> dict[tuple, tuple]:
    rows = con.execute(
        f"""WITH {AS_OF_SQL}
        SELECT as_of_key, owner, currency, stage, count(*), count(amount), sum(amount)
        FROM as_of_open GROUP BY ALL""",
        params,
    ).fetchall()
    return {tuple(r[:4]): tuple(r[4:]) for r in rows}


def _totals(con: duckdb.DuckDBPyConnection, params: dict) -> dict[tuple, tuple]:
    rows = con.execute(
        f"""WITH {as_of_totals_sql(history=True, spans=True)}
        SELECT as_of_key, owner, currency, stage, sum(deals), sum(with_amount), sum(amount)
        FROM as_of_totals GROUP BY ALL""",
        params,
    ).fetchall()
    return {tuple(r[:4]): (int(r[4]), int(r[5]), r[6]) for r in rows}


def _check(con: duckdb.DuckDBPyConnection, step: str) -> None:
    """The table equals a count from scratch, is current, and gives AS_OF_SQL's totals."""
    stored = sorted(con.execute(STORED).fetchall(), key=str)
    assert stored == sorted(con.execute(FROM_SCRATCH).fetchall(), key=str), step
    assert stage_spans_current(con), step
    for days in (DAYS, ODD):
        for source in ("stage history", "rebuilt"):
            params = as_of_params([(k, Basis(d, source)) for k, d in enumerate(days)])  # type: ignore[arg-type]
            expected = _per_deal(con, params)
            assert expected, step
            assert _totals(con, params) == expected, f"{step}: {source} {days[0]}"


def _spans_log(caplog: pytest.LogCaptureFixture) -> str:
    lines = [
        r.getMessage() for r in caplog.records if "stage_history_spans after" in r.getMessage()
    ]
    caplog.clear()
    return lines[-1].rsplit(": ", 1)[1] if lines else "not imported"


def test_spans_equal_a_count_from_scratch_after_every_import(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="analytics.ingest.engine")
    kept = tmp_path / "kept"

    def load(name: str, rows: list[list[str]], kind: str, as_of: date) -> int:
        result = import_file(con, _write(tmp_path / name, rows), kind=kind, as_of=as_of,
                             data_dir=kept)  # fmt: skip
        assert result.ok, result.message
        return result.import_id

    load("opps_march.csv", [HEADER, *DEALS, *PLAIN], "opportunities", date(2024, 3, 31))
    assert _spans_log(caplog) == "kept"  # no stage change anywhere yet
    _check(con, "one export, history from its snapshot")

    history = [HISTORY, *CHANGES, *PLAIN_HISTORY]
    load("history.csv", history, "stage_history", date(2024, 4, 30))
    assert _spans_log(caplog) == "full"  # the table was empty: everything is new
    _check(con, "imported history")

    before = sorted(con.execute(STORED).fetchall(), key=str)
    load("history.csv", history, "stage_history", date(2024, 4, 30))
    assert _spans_log(caplog) == "not imported"  # the very same file: recognised as such
    load("again.csv", [HISTORY, *reversed(history[1:])], "stage_history", date(2024, 5, 1))
    assert _spans_log(caplog) == "kept"  # the same changes again add nothing
    assert sorted(con.execute(STORED).fetchall(), key=str) == before
    _check(con, "the same history again")

    # a later export: D3 (no imported history) moves on, so its snapshot history grows
    later = [row[:] for row in DEALS + PLAIN]
    later[2][2] = "Final Decision"
    load("opps_june.csv", [HEADER, *later], "opportunities", date(2024, 6, 30))
    assert _spans_log(caplog) == "kept"
    _check(con, "a second snapshot")

    # a later history file: D1 gets a change between two of its own, D3 its first imported
    # one (its snapshots no longer count), D5 a change without an amount
    moves = [
        HISTORY,
        ["D1", "Trial", "2024-03-14 08:00", "1200"],
        ["D3", "Demo", "2024-03-18 09:30", ""],
        ["D5", "Final Decision", "2024-03-25 12:00", ""],
    ]
    moved = load("moves.csv", moves, "stage_history", date(2024, 6, 30))
    assert _spans_log(caplog) == "partial"  # 3 deals of about 70 changes
    _check(con, "a later history file")

    # a HubSpot-style deals export whose "Date entered" columns are stage history too
    hubspot = _write(
        tmp_path / "hubspot.csv",
        [
            ["Record ID", "Deal Stage", "Amount", "Deal owner", "Create Date",
             'Date entered "Appointment Scheduled (Sales Pipeline)"'],
            ["P1", "Appointment Scheduled", "101", "Dee", "2024-02-02", "2024-03-20 10:00"],
        ],
    )  # fmt: skip
    result = import_file(con, hubspot, kind="opportunities", as_of=date(2024, 7, 1), data_dir=kept)
    assert result.ok, result.message
    assert _spans_log(caplog) == "partial"
    _check(con, "a deals export with entered dates")

    rollback_import(con, result.import_id)
    _check(con, "the deals export rolled back")
    rollback_import(con, moved)
    _check(con, "the later history file rolled back")


def test_a_stale_table_is_not_current(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """A script's own INSERT into the imported history makes the table stale: it is not
    read then (the caller falls back to the window over the view)."""
    path = _write(tmp_path / "h.csv", [HISTORY, *CHANGES])
    assert import_file(con, path, kind="stage_history", as_of=date(2024, 4, 30),
                       data_dir=tmp_path / "kept").ok  # fmt: skip
    assert stage_spans_current(con)
    con.execute(
        "INSERT INTO stage_history_imported (opportunity_id, stage, entered_at, import_id) "
        "VALUES ('D9', 'Demo', TIMESTAMP '2024-03-01 09:00', 999)"
    )
    assert not stage_spans_current(con)
