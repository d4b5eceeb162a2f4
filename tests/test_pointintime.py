"""The pipeline as known on day D (analytics/pointintime.py), on hand-made exports and the demo.

One export as of 2024-09-30 (the "final" one), written by the tests below:

    deal owner  stage           amount  created     close       open on 03-31  on 06-30
    A1   Ann    Closed Won        1000  2024-01-10  2024-03-15  no (closed)    no
    A2   Ann    Final Decision       2000  2024-02-01  2024-10-31  yes            yes
    B1   Bob    Closed Lost       3000  2024-03-20  2024-06-30  yes            no (closed that day)
    B2   Bob    Demo              4000  2024-07-01  2024-12-15  no (not yet)   no (not yet)
    C1   Cara   Closed Won        5000  2024-03-31  2024-03-31  no (same day)  no
    C2   Cara   Closed Won        6000  2024-01-05  (none)      left out: closed, no close date

Stage history (CRM): A2 Discovery 02-01 (amount 1500), Demo 04-15 (1800), Final Decision 08-01
(2000); B1 Qualified 03-20. So on 2024-03-31: A2 Discovery 1500, B1 Qualified (amount as
exported, 3000); on 2024-06-30: A2 Demo 1800.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics.ingest import import_file
from analytics.pointintime import (
    Basis,
    bases,
    basis_for,
    pipeline_as_of,
    snapshot_dates,
)
from analytics.scope import Period, Scope

FINAL = date(2024, 9, 30)
MARCH, JUNE = date(2024, 3, 31), date(2024, 6, 30)
OPP_HEADER = [
    "opportunity_id",
    "opportunity_name",
    "account",
    "owner",
    "stage",
    "amount",
    "currency",
    "created_date",
    "close_date",
]
FINAL_ROWS = [
    ["A1", "Oak", "Oak", "Ann", "Closed Won", "1000", "USD", "2024-01-10", "2024-03-15"],
    ["A2", "Pine", "Pine", "Ann", "Final Decision", "2000", "USD", "2024-02-01", "2024-10-31"],
    ["B1", "Rowan", "Rowan", "Bob", "Closed Lost", "3000", "USD", "2024-03-20", "2024-06-30"],
    ["B2", "Yew", "Yew", "Bob", "Demo", "4000", "USD", "2024-07-01", "2024-12-15"],
    ["C1", "Elm", "Elm", "Cara", "Closed Won", "5000", "USD", "2024-03-31", "2024-03-31"],
    ["C2", "Ash", "Ash", "Cara", "Closed Won", "6000", "USD", "2024-01-05", ""],
]
HISTORY_ROWS = [
    ["A2", "Discovery", "2024-02-01 09:00", "1500"],
    ["A2", "Demo", "2024-04-15 10:00", "1800"],
    ["A2", "Final Decision", "2024-08-01 11:00", "2000"],
    ["B1", "Qualified", "2024-03-20 08:00", ""],
]
REPS = [
    ["rep", "team", "region"],
    ["Ann", "East", "EMEA"],
    ["Bob", "East", "EMEA"],
    ["Cara", "West", "AMER"],
]


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def load(con: duckdb.DuckDBPyConnection, path: Path, as_of: date, kind: str | None = None) -> None:
    result = import_file(con, path, as_of=as_of, kind=kind, data_dir=path.parent / "kept")
    assert result.ok, result.message


def one_upload(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    rows: list[list[str]] = FINAL_ROWS,
    history: list[list[str]] | None = None,
) -> duckdb.DuckDBPyConnection:
    load(con, write(tmp_path / "reps.csv", REPS), FINAL, "reps")
    load(con, write(tmp_path / "opps.csv", [OPP_HEADER, *rows]), FINAL, "opportunities")
    if history is not None:
        header = ["opportunity_id", "stage", "entered_at", "amount"]
        load(con, write(tmp_path / "hist.csv", [header, *history]), FINAL, "stage_history")
    return con


def by_id(frame: pd.DataFrame) -> dict[str, dict]:
    return {row["opportunity_id"]: row for row in frame.to_dict("records")}


# --- rebuilt from one export ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "open_ids"),
    [
        (date(2024, 1, 9), []),
        (date(2024, 1, 10), ["A1"]),
        (date(2024, 3, 15), ["A2"]),  # A1 closed that day: no longer open at its end
        (MARCH, ["A2", "B1"]),  # C1 created and closed on 03-31; C2 has no close date
        (JUNE, ["A2"]),
        (date(2024, 7, 1), ["A2", "B2"]),
        (FINAL, ["A2", "B2"]),
    ],
)
def test_rebuilt_open_deals_follow_created_and_close_dates(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, day: date, open_ids: list[str]
) -> None:
    one_upload(con, tmp_path)
    result = pipeline_as_of(con, day, source="rebuilt")
    assert list(result.deals["opportunity_id"]) == open_ids
    assert result.deals["stage"].isna().all()
    # chosen by itself: the rebuild, except on the export's own day (its snapshot)
    expected = Basis(day, "snapshot", FINAL) if day == FINAL else Basis(day, "rebuilt")
    assert basis_for(con, day) == expected


def test_rebuilt_hides_the_later_close_date_and_keeps_the_last_amount(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    one_upload(con, tmp_path)
    deals = by_id(pipeline_as_of(con, MARCH, source="rebuilt").deals)
    assert deals["B1"]["stage"] is None
    assert pd.isna(deals["B1"]["close_date"])  # it closed 06-30; on 03-31 no one knew when
    assert float(deals["B1"]["amount"]) == 3000
    assert deals["B1"]["owner"] == "Bob"


def test_the_final_export_is_the_snapshot_of_its_own_day(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    one_upload(con, tmp_path)
    assert snapshot_dates(con) == [FINAL]
    result = pipeline_as_of(con, FINAL)
    assert result.basis == Basis(FINAL, "snapshot", FINAL)
    assert by_id(result.deals)["B2"]["stage"] == "Demo"
    assert pd.Timestamp(by_id(result.deals)["B2"]["close_date"]).date() == date(2024, 12, 15)


# --- stage history -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        # a day before any stage change: no history to go by yet
        (date(2024, 1, 31), {"A1": (None, 1000)}),
        (MARCH, {"A2": ("Discovery", 1500), "B1": ("Qualified", 3000)}),
        (date(2024, 4, 15), {"A2": ("Demo", 1800), "B1": ("Qualified", 3000)}),
        (JUNE, {"A2": ("Demo", 1800)}),
        (date(2024, 8, 1), {"A2": ("Final Decision", 2000), "B2": (None, 4000)}),
    ],
)
def test_stage_history_gives_the_stage_on_the_day(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, day: date, expected: dict
) -> None:
    one_upload(con, tmp_path, history=HISTORY_ROWS)
    result = pipeline_as_of(con, day)
    assert result.source == ("rebuilt" if day < date(2024, 2, 1) else "stage history")
    got = {k: (v["stage"], float(v["amount"])) for k, v in by_id(result.deals).items()}
    assert got == expected


# --- which source ------------------------------------------------------------------------


def test_bases_prefer_a_recent_snapshot_then_history_then_the_rebuild(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    one_upload(con, tmp_path, history=HISTORY_ROWS)
    days = [date(2024, 1, 1), MARCH, date(2024, 10, 31), date(2024, 11, 1)]
    assert bases(con, days) == [
        Basis(date(2024, 1, 1), "rebuilt"),
        Basis(MARCH, "stage history"),
        Basis(date(2024, 10, 31), "snapshot", FINAL),  # 31 days after the export
        Basis(date(2024, 11, 1), "stage history"),  # 32 days: too old to stand for the day
    ]
    assert basis_for(con, MARCH, max_snapshot_age_days=400).source == "stage history"


def test_forcing_a_snapshot_without_one_is_refused(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="no snapshot on or before 2024-03-31"):
        pipeline_as_of(con, MARCH, source="snapshot")
    with pytest.raises(ValueError, match="unknown source"):
        pipeline_as_of(con, MARCH, source="guess")  # type: ignore[arg-type]


def test_scope_filters_apply(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    one_upload(con, tmp_path)
    period = Period.parse("2024-Q1")
    east = pipeline_as_of(con, MARCH, Scope(period, team="East")).deals
    assert list(east["opportunity_id"]) == ["A2", "B1"]
    bob = pipeline_as_of(con, MARCH, Scope(period, rep="Bob")).deals
    assert list(bob["opportunity_id"]) == ["B1"]
    west = pipeline_as_of(con, MARCH, Scope(period, team="West")).deals
    assert west.empty


# --- snapshots and the rebuild agree ---------------------------------------------------------


def test_rebuild_from_the_final_export_agrees_with_each_snapshot(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Three uploads of the same pipeline: the rebuild from the last one, as of each earlier
    upload's day, lists the same open deals with the same owners and amounts: a rebuilt
    day takes each open deal's amount from the export nearest it (B1 was 2500 in March and
    3000 later: the rebuild of March shows 2500, not the last 3000)."""
    march = [
        ["A1", "Oak", "Oak", "Ann", "Closed Won", "1000", "USD", "2024-01-10", "2024-03-15"],
        ["A2", "Pine", "Pine", "Ann", "Discovery", "1500", "USD", "2024-02-01", "2024-09-30"],
        ["B1", "Rowan", "Rowan", "Bob", "Qualified", "2500", "USD", "2024-03-20", "2024-05-31"],
        ["C1", "Elm", "Elm", "Cara", "Closed Won", "5000", "USD", "2024-03-31", "2024-03-31"],
        ["C2", "Ash", "Ash", "Cara", "Closed Won", "6000", "USD", "2024-01-05", "2024-02-01"],
    ]
    june = [
        ["A1", "Oak", "Oak", "Ann", "Closed Won", "1000", "USD", "2024-01-10", "2024-03-15"],
        ["A2", "Pine", "Pine", "Ann", "Demo", "1800", "USD", "2024-02-01", "2024-10-31"],
        ["B1", "Rowan", "Rowan", "Bob", "Closed Lost", "3000", "USD", "2024-03-20", "2024-06-30"],
        ["C1", "Elm", "Elm", "Cara", "Closed Won", "5000", "USD", "2024-03-31", "2024-03-31"],
    ]
    load(con, write(tmp_path / "reps.csv", REPS), MARCH, "reps")
    load(con, write(tmp_path / "m.csv", [OPP_HEADER, *march]), MARCH, "opportunities")
    load(con, write(tmp_path / "j.csv", [OPP_HEADER, *june]), JUNE, "opportunities")
    load(con, write(tmp_path / "f.csv", [OPP_HEADER, *FINAL_ROWS]), FINAL, "opportunities")
    assert snapshot_dates(con) == [MARCH, JUNE, FINAL]
    for day in (MARCH, JUNE, FINAL):
        snap = pipeline_as_of(con, day)
        assert snap.basis == Basis(day, "snapshot", day)
        rebuilt = pipeline_as_of(con, day, source="rebuilt")
        known = ["opportunity_id", "owner", "amount", "currency"]
        assert snap.deals[known].equals(rebuilt.deals[known]), day
    march_amounts = {
        src: float(by_id(pipeline_as_of(con, MARCH, source=src).deals)["B1"]["amount"])
        for src in ("snapshot", "rebuilt")
    }
    assert march_amounts == {"snapshot": 2500.0, "rebuilt": 2500.0}


# --- no peeking ----------------------------------------------------------------------------

LATER_ROWS = [
    # A1..C2 as in FINAL_ROWS except what happened after 03-31: B1 closed later and for
    # another amount is not shown; A2's stage history gains later changes with amounts.
    ["A1", "Oak", "Oak", "Ann", "Closed Won", "1000", "USD", "2024-01-10", "2024-03-15"],
    ["A2", "Pine", "Pine", "Ann", "Closed Lost", "9999", "USD", "2024-02-01", "2024-09-01"],
    ["B1", "Rowan", "Rowan", "Bob", "Closed Won", "3000", "USD", "2024-03-20", "2024-08-20"],
    ["B2", "Yew", "Yew", "Bob", "Closed Won", "4000", "USD", "2024-07-01", "2024-07-02"],
    ["C1", "Elm", "Elm", "Cara", "Closed Won", "5000", "USD", "2024-03-31", "2024-03-31"],
    ["C2", "Ash", "Ash", "Cara", "Closed Won", "6000", "USD", "2024-01-05", ""],
    ["D1", "Fir", "Fir", "Dan", "Demo", "7000", "USD", "2024-04-01", "2024-11-30"],
]
LATER_HISTORY = [
    *HISTORY_ROWS,
    ["A2", "Closed Lost", "2024-09-01 12:00", "9999"],
    ["B1", "Demo", "2024-04-01 00:00", "8888"],
    ["B1", "Closed Won", "2024-08-20 12:00", "3000"],
    ["D1", "Demo", "2024-04-01 00:00", "7000"],
]


@pytest.mark.parametrize("source", ["stage history", "rebuilt"])
def test_rows_dated_after_the_day_change_nothing(tmp_path: Path, source: str) -> None:
    """Two databases that agree up to 31 March and differ only in what came later (close
    dates, stages, amounts recorded with later stage changes, a deal created later): the
    pipeline as of 31 March is the same in both. Only the rebuild's last-exported amount may
    differ (the documented compromise), so the later export keeps A2's March amount known
    through its stage history, and the rebuild is compared without amounts."""
    from analytics import db

    answers = []
    for name, rows, history in (("a", FINAL_ROWS, HISTORY_ROWS), ("b", LATER_ROWS, LATER_HISTORY)):
        folder = tmp_path / name
        folder.mkdir()
        con = db.connect(folder / "sales.duckdb")
        try:
            one_upload(con, folder, rows, history)
            result = pipeline_as_of(con, MARCH, source=source)  # type: ignore[arg-type]
            answers.append(result.deals)
        finally:
            con.close()
    first, second = answers
    columns = (
        list(first.columns)
        if source == "stage history"
        else [c for c in first.columns if c != "amount"]
    )
    assert first[columns].equals(second[columns])
    # the later rows are really there: they change the answer for a later day
    assert len(first) == 2


def test_a_later_answer_does_see_the_later_rows(tmp_path: Path) -> None:
    """The control for the test above: the same two databases differ as of 31 August."""
    from analytics import db

    answers = []
    for name, rows, history in (("a", FINAL_ROWS, HISTORY_ROWS), ("b", LATER_ROWS, LATER_HISTORY)):
        folder = tmp_path / name
        folder.mkdir()
        con = db.connect(folder / "sales.duckdb")
        try:
            one_upload(con, folder, rows, history)
            answers.append(pipeline_as_of(con, date(2024, 8, 31), source="stage history").deals)
        finally:
            con.close()
    assert list(answers[0]["opportunity_id"]) == ["A2", "B2"]
    assert list(answers[1]["opportunity_id"]) == ["A2", "D1"]


# --- the demo: weekly snapshots against the rebuild from its final export ------------------


@pytest.fixture(scope="module")
def demo_con(
    tmp_path_factory: pytest.TempPathFactory, copy_demo: Callable[[Path], Path]
) -> duckdb.DuckDBPyConnection:
    from analytics import db

    con = db.connect(copy_demo(tmp_path_factory.mktemp("demo_pit")))
    yield con
    con.close()


def differ(left: pd.Series, right: pd.Series) -> int:
    """How many rows hold different amounts (two blanks are the same)."""
    return int((~((left == right) | (left.isna() & right.isna()))).sum())


def test_demo_rebuild_agrees_with_every_weekly_snapshot(
    demo_con: duckdb.DuckDBPyConnection,
) -> None:
    """For each of the demo's 53 weekly uploads: the rebuild from the final export lists
    exactly the deals the snapshot had open, with the same owners; the stage from the stage
    history is the snapshot's stage. Amounts too: a rebuilt day takes each open deal's
    amount from the export nearest it: here that day's own, not the last exported one."""
    dates = snapshot_dates(demo_con)
    assert len(dates) >= 50
    rebuilt_amounts_differ = history_amounts_differ = compared = 0
    for day in dates:
        snap = pipeline_as_of(demo_con, day)
        assert snap.basis == Basis(day, "snapshot", day)
        rebuilt = pipeline_as_of(demo_con, day, source="rebuilt").deals
        history = pipeline_as_of(demo_con, day, source="stage history").deals
        deals = snap.deals
        assert len(deals) > 100
        for other in (rebuilt, history):
            assert list(other["opportunity_id"]) == list(deals["opportunity_id"]), day
            assert list(other["owner"]) == list(deals["owner"]), day
        assert list(history["stage"]) == list(deals["stage"]), day
        compared += len(deals)
        rebuilt_amounts_differ += differ(rebuilt["amount"], deals["amount"])
        history_amounts_differ += differ(history["amount"], deals["amount"])
    assert compared > 10_000
    assert (rebuilt_amounts_differ, history_amounts_differ) == (0, 0)
