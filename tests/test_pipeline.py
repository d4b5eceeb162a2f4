"""Pipeline health against hand-made fixtures, every number worked out by hand below.

Waterfall and slipped deals: three weekly exports of the same pipeline,
tests/data/funnel_pipe_s1.csv (as of 2024-07-01), _s2 (2024-08-01), _s3 (2024-09-02), plus
EUR rates (funnel_pipe_fx.csv: 1.20 from 1 June, 1.10 from 1 September) and the roster
funnel_reps.csv (Ann, Bob: East; Cara: West; Dan Ghost not on it). Period 2024-Q3, so the
pipeline is "open, close date 1 July .. 30 September".

    deal owner  S1 07-01               S2 08-01            S3 09-02              bucket S1->S3
    P01  Ann    10000 close 08-15      same                12000 close 08-20     increased +2000
    P02  Ann     8000 09-10            same                 5000 09-10           decreased -3000
    P03  Bob     6000 07-20            won 07-18           won                   won -6000
    P04  Bob     4000 08-30            same                lost                  lost -4000
    P05  Cara    7000 09-15            7000 10-15          7500 11-30            pushed out -7000
    P06  Cara    9000 10-20 (outside)  same                9000 09-25            pulled in +9000
    P07  Ann     -                     3000 09-30 (new)    same                  new +3000
    P08  Bob     5000 08-10            same                same                  unchanged
    P09  Ann     2000 12-01 (outside)  same                same                  none
    P10  Cara    EUR 1000 09-01        same                same                  unchanged (1100)
    P11  Dan     1500 09-05            not listed          not listed            unchanged
    P12  Bob     lost (06-20)          lost                reopened 2500 09-20   new +2500
    P13  Ann     no amount 09-05       same                4000 09-05            increased +4000
    P14  Ann     2000 09-20            2000 09-28          2000 10-05            pushed out -2000

P11 is carried forward (its latest row on or before each date); P10 is converted at the
end date's rate (1.10) on both sides, so 1000 EUR is 1100 at the start and at the end.
Start (S1): 10000+8000+6000+4000+7000+5000+1100+1500+0+2000 = 44600 (10 deals).
End (S3): 12000+5000+9000+3000+5000+1100+1500+2500+4000 = 43100 (9 deals).
Buckets: new 5500 (2), pulled in 9000 (1), pushed out -9000 (2), increased 6000 (2),
decreased -3000 (1), won -6000 (1), lost -4000 (1): 44600 + 5500 + 9000 - 9000 + 6000
- 3000 - 6000 - 4000 = 43100.

Stalled deals and follow-up gaps: funnel_stall_opps.csv (as of 2024-06-30), its stage
history and activities. Won deals W1-W4 each spent 1 day in Discovery, 5 in Qualified and
10, 20, 30, 40 days in Demo (75th percentile, linear: 30 + 0.25 x 10 = 32.5); they had 1
touch before leaving Discovery (median 1), 2, 2, 1, 3 before leaving Qualified (median 2)
and 4, 3, 1, 6 before closing (median 3.5, also the yardstick for Trial and Final Decision,
which they skipped). Open deals on 30 June:

    deal owner  stage      amount  last touch   idle  in stage (since)            touches
    S1   Ann    Demo        50000  06-25          5   60 (05-01)                  1
    S2   Bob    Demo        30000  05-01         60   20 (06-10)   07-05 ignored  1
    S3   Cara   Demo        20000  none         121   90 (04-01)   idle since created 03-01  0
    S4   Ann    Qualified   10000  06-29          1    2 (06-28)                  1
    S5   Bob    Demo        40000  06-20         10   15 (06-15: back from Qualified) 4
    S6   Ann    Trial       60000  06-29          1  121 (03-01)   no won Trial times  1
    S7   Dan    Discovery    5000  06-01         29   29 (06-01)                  1
    S8   Bob    Demo        35000  05-31         30   10 (06-20)                  1
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics import db
from analytics.ingest import import_file
from analytics.numbers import round_half_up
from analytics.pipeline import (
    WATERFALL_BUCKETS,
    Waterfall,
    deals_worth,
    default_snapshot_pair,
    follow_up_gaps,
    pipeline_report_table,
    slipped_deals,
    stalled_deals,
    time_in_stage_text,
    waterfall,
    waterfall_deals,
)
from analytics.scope import Period, Scope

FIXTURES = Path(__file__).resolve().parent / "data"
S1, S2, S3 = date(2024, 7, 1), date(2024, 8, 1), date(2024, 9, 2)
Q3 = Scope(Period.parse("2024-Q3"))


def day(value: object) -> date:
    """A date from a DataFrame cell (DuckDB DATE columns arrive as pandas Timestamps)."""
    return pd.Timestamp(value).date()


def load(con: duckdb.DuckDBPyConnection, tmp_path: Path, files: list[tuple[str, date]]) -> None:
    for name, as_of in files:
        result = import_file(con, FIXTURES / name, as_of=as_of, data_dir=tmp_path)
        assert result.ok, result.message
        assert result.rows_rejected == 0, result.message


SNAPSHOT_FILES = [
    ("funnel_reps.csv", S1),
    ("funnel_pipe_fx.csv", S1),
    ("funnel_pipe_s1.csv", S1),
    ("funnel_pipe_s2.csv", S2),
    ("funnel_pipe_s3.csv", S3),
]
STALL_AS_OF = date(2024, 6, 30)
STALL_FILES = [
    ("funnel_reps.csv", STALL_AS_OF),
    ("funnel_stall_opps.csv", STALL_AS_OF),
    ("funnel_stall_history.csv", STALL_AS_OF),
    ("funnel_stall_activities.csv", STALL_AS_OF),
]


@pytest.fixture
def snapshots(
    db_path: Path, db_template: Callable[..., Path]
) -> Iterator[duckdb.DuckDBPyConnection]:
    """The three weekly snapshots, imported once per test process and copied for this test
    (conftest `db_template`): a private file the test may change."""
    path = db_template(
        "test_pipeline.snapshots", lambda c, folder: load(c, folder, SNAPSHOT_FILES), db_path
    )
    connection = db.connect(path)
    yield connection
    connection.close()


@pytest.fixture
def stalls(db_path: Path, db_template: Callable[..., Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    """The stalls fixture, imported once per test process and copied for this test."""
    path = db_template(
        "test_pipeline.stalls", lambda c, folder: load(c, folder, STALL_FILES), db_path
    )
    connection = db.connect(path)
    yield connection
    connection.close()


# --- waterfall -------------------------------------------------------------------------

D = Decimal
# (scope, start, end, start amount, end amount, {bucket: (amount, deals)}) -- see the docstring.
WATERFALLS = [
    (Q3, None, None, D("44600"), D("43100"), {
        "new": (D("5500"), 2), "pulled in": (D("9000"), 1), "pushed out": (D("-9000"), 2),
        "increased": (D("6000"), 2), "decreased": (D("-3000"), 1), "won": (D("-6000"), 1),
        "lost": (D("-4000"), 1)}),
    # S2 -> S3: at S2, P03 is already won and P05 already outside (both in no bucket); P07
    # is in both (unchanged); P14 (close 09-28 at S2) is pushed out; P12 reopens (new).
    # Start 10000+8000+4000+3000+5000+1100+1500+0+2000 = 34600.
    (Q3, S2, S3, D("34600"), D("43100"), {
        "new": (D("2500"), 1), "pulled in": (D("9000"), 1), "pushed out": (D("-2000"), 1),
        "increased": (D("6000"), 2), "decreased": (D("-3000"), 1), "won": (D("0"), 0),
        "lost": (D("-4000"), 1)}),
    # Team East (owner at the end date Ann or Bob): P01-P04, P07, P08, P12-P14.
    # Start 10000+8000+6000+4000+5000+0+2000 = 35000; end 12000+5000+3000+5000+2500+4000.
    (Scope(Q3.period, team="East"), None, None, D("35000"), D("31500"), {
        "new": (D("5500"), 2), "pulled in": (D("0"), 0), "pushed out": (D("-2000"), 1),
        "increased": (D("6000"), 2), "decreased": (D("-3000"), 1), "won": (D("-6000"), 1),
        "lost": (D("-4000"), 1)}),
    # Rep Cara: P05 pushed out, P06 pulled in, P10 unchanged at 1100.
    (Scope(Q3.period, rep="Cara Diaz"), None, None, D("8100"), D("10100"), {
        "new": (D("0"), 0), "pulled in": (D("9000"), 1), "pushed out": (D("-7000"), 1),
        "increased": (D("0"), 0), "decreased": (D("0"), 0), "won": (D("0"), 0),
        "lost": (D("0"), 0)}),
    # The same snapshot twice: nothing moves.
    (Q3, S3, S3, D("43100"), D("43100"), {b: (D("0"), 0) for b in WATERFALL_BUCKETS}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("scope", "start", "end", "start_amount", "end_amount", "buckets"),
    WATERFALLS,
    ids=["q3", "s2-s3", "east", "cara", "same-day"],
)
def test_waterfall_buckets_add_up_exactly(
    snapshots: duckdb.DuckDBPyConnection,
    scope: Scope,
    start: date | None,
    end: date | None,
    start_amount: Decimal,
    end_amount: Decimal,
    buckets: dict[str, tuple[Decimal, int]],
) -> None:
    w = waterfall(snapshots, scope, start_date=start, end_date=end)
    assert (w.start, w.end) == (start_amount, end_amount)
    assert {b: (w.buckets[b], w.deals[b]) for b in WATERFALL_BUCKETS} == buckets
    # The identity, exactly (Decimal): start + every bucket = end.
    assert w.start + sum(w.buckets.values(), Decimal(0)) == w.end
    assert w.balanced
    table = w.table()
    assert table["step"].tolist() == ["starting pipeline", *WATERFALL_BUCKETS, "ending pipeline"]
    assert table["amount"].iloc[0] + table["amount"].iloc[1:-1].sum() == table["amount"].iloc[-1]
    labels = table["rounded"].tolist()  # what the chart prints: they add up too
    assert labels[0] + sum(labels[1:-1]) == labels[-1] == round_half_up(w.end)


def test_waterfall_defaults_and_counts(snapshots: duckdb.DuckDBPyConnection) -> None:
    w = waterfall(snapshots, Q3)
    assert (w.start_date, w.end_date) == (S1, S3)  # at the period start; the latest in it
    assert (w.start_deals, w.end_deals, w.unchanged_deals, w.unpriced) == (10, 9, 3, 0)
    table = w.table()
    assert table["measure"].tolist() == ["absolute", *["relative"] * 7, "total"]


def test_default_snapshot_pair(snapshots: duckdb.DuckDBPyConnection) -> None:
    assert default_snapshot_pair(snapshots, Q3) == (S1, S3)
    # August: the latest snapshot on or before 1 Aug is S2, and S2 is also its latest one.
    assert default_snapshot_pair(snapshots, Scope(Period.parse("2024-08"))) == (S2, S2)
    # June: no snapshot on or before its start, none inside it.
    assert default_snapshot_pair(snapshots, Scope(Period.parse("2024-06"))) == (None, None)
    # 2024: none at the year's start -> the first inside it.
    assert default_snapshot_pair(snapshots, Scope(Period.parse("2024"))) == (S1, S3)


def test_waterfall_without_snapshots_is_empty(con: duckdb.DuckDBPyConnection) -> None:
    w = waterfall(con, Q3)
    assert (w.start_date, w.end_date, w.start, w.end) == (None, None, 0, 0)
    assert w.balanced


def test_waterfall_refuses_reversed_dates(snapshots: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="before the start"):
        waterfall(snapshots, Q3, start_date=S3, end_date=S1)


def test_unpriced_deal_counts_but_adds_nothing(
    snapshots: duckdb.DuckDBPyConnection,
) -> None:
    """Without any EUR rate P10 is unpriced: counted, left out of both sides (0)."""
    snapshots.execute("DELETE FROM fx_rates")
    w = waterfall(snapshots, Q3)
    assert w.unpriced == 1
    assert (w.start, w.end) == (D("43500"), D("42000"))  # 44600 - 1100, 43100 - 1100
    assert w.balanced


# --- slipped deals ---------------------------------------------------------------------

SLIPPED = [
    # P05: 09-15 -> 10-15 -> 11-30 (76 days, pushed twice); P14: 09-20 -> 09-28 -> 10-05
    # (15 days, twice: the first push stayed inside the quarter). Largest amount first.
    (Q3, None, None, [("P05", 7500.0, date(2024, 9, 15), date(2024, 11, 30), 76, 2),
                      ("P14", 2000.0, date(2024, 9, 20), date(2024, 10, 5), 15, 2)]),
    # Judged at S2: only P05 is out yet (10-15), pushed once.
    (Q3, S1, S2, [("P05", 7000.0, date(2024, 9, 15), date(2024, 10, 15), 30, 1)]),
    (Scope(Q3.period, team="East"), None, None,
     [("P14", 2000.0, date(2024, 9, 20), date(2024, 10, 5), 15, 2)]),
    (Scope(Q3.period, rep="Bob Stone"), None, None, []),
    # August: the start and latest snapshot are both S2 -> nothing to compare.
    (Scope(Period.parse("2024-08")), None, None, []),
]  # fmt: skip


@pytest.mark.parametrize(
    ("scope", "base", "latest", "expected"), SLIPPED, ids=["q3", "s1-s2", "east", "bob", "aug"]
)
def test_slipped_deals(
    snapshots: duckdb.DuckDBPyConnection,
    scope: Scope,
    base: date | None,
    latest: date | None,
    expected: list[tuple],
) -> None:
    table = slipped_deals(snapshots, scope, base_date=base, latest_date=latest)
    cols = ["opportunity_id", "amount", "old_close_date", "new_close_date", "days_pushed"]
    got = [
        (r[0], float(r[1]), day(r[2]), day(r[3]), int(r[4]), int(r[5]))
        for r in table[[*cols, "times_pushed"]].itertuples(index=False)
    ]
    assert got == expected


def test_slipped_names_its_snapshots(snapshots: duckdb.DuckDBPyConnection) -> None:
    table = slipped_deals(snapshots, Q3)
    assert (table.attrs["base_date"], table.attrs["latest_date"]) == (S1, S3)
    assert table["owner"].tolist() == ["Cara Diaz", "Ann Lee"]


# --- stalled deals ---------------------------------------------------------------------

STALLED = [
    # Defaults (idle 30 days, 75th percentile; 4 won deals are enough here):
    # S1 stage (60 > 32.5), S8 idle (30 >= 30), S2 idle (60), S3 both, S7 stage (29 > 1).
    (30, 0.75, 4, [("S1", False, True), ("S8", True, False), ("S2", True, False),
                   ("S3", True, True), ("S7", False, True)]),
    # 60 idle days: S8 (30) is no longer idle.
    (60, 0.75, 4, [("S1", False, True), ("S2", True, False), ("S3", True, True),
                   ("S7", False, True)]),
    # 25th percentile: Demo limit 10 + 0.75 x 10 = 17.5 -> S2 (20 days) stalls by stage too;
    # S8 (10) and S5 (15) do not.
    (30, 0.25, 4, [("S1", False, True), ("S8", True, False), ("S2", True, True),
                   ("S3", True, True), ("S7", False, True)]),
    # Five won deals needed, four exist: no stage limit at all, only the idle rule.
    (30, 0.75, 5, [("S8", True, False), ("S2", True, False), ("S3", True, False)]),
]  # fmt: skip


@pytest.mark.parametrize(("idle", "percentile", "min_won", "expected"), STALLED)
def test_stalled_deals(
    stalls: duckdb.DuckDBPyConnection,
    idle: int,
    percentile: float,
    min_won: int,
    expected: list[tuple[str, bool, bool]],
) -> None:
    table = stalled_deals(
        stalls, Q3, idle_days=idle, stage_percentile=percentile, min_won_deals=min_won
    )
    got = list(zip(table["opportunity_id"], table["idle_rule"], table["stage_rule"], strict=True))
    assert got == expected


# What the stalled list is worth (the Pipeline page's "worth ..."), by hand from the
# docstring's amounts, per STALLED case: S1 50,000 + S8 35,000 + S2 30,000 + S3 20,000 +
# S7 5,000 = 140,000; without S8 105,000; the 25th percentile adds nobody with an amount
# change (S2 was in already): 140,000; idle rule only: 35,000 + 30,000 + 20,000 = 85,000.
STALLED_WORTH = [140000.0, 105000.0, 140000.0, 85000.0]


@pytest.mark.parametrize(
    ("idle", "percentile", "min_won", "total"),
    [(*case[:3], total) for case, total in zip(STALLED, STALLED_WORTH, strict=True)],
)
def test_stalled_deals_worth(
    stalls: duckdb.DuckDBPyConnection, idle: int, percentile: float, min_won: int, total: float
) -> None:
    table = stalled_deals(
        stalls, Q3, idle_days=idle, stage_percentile=percentile, min_won_deals=min_won
    )
    worth = deals_worth(table)
    assert (worth.total, worth.unpriced) == (pytest.approx(total), 0)


@pytest.mark.parametrize(
    ("amounts", "total", "unpriced"),
    [
        ([], 0.0, 0),  # nothing listed: worth 0, truly
        ([7500.0, 2000.0], 9500.0, 0),  # the slipped P05 and P14 above
        ([7500.0, None], 7500.0, 1),  # no amount, or no rate: left out and counted
        ([None, float("nan")], None, 2),  # not one priced: unknown, never 0
        ([Decimal("1100.50"), 100], 1200.5, 0),  # DuckDB decimals and ints alike
    ],
)
def test_deals_worth_edges(amounts: list[object], total: float | None, unpriced: int) -> None:
    table = pd.DataFrame({"amount_reporting": pd.Series(amounts, dtype=object)})
    worth = deals_worth(table)
    assert worth.unpriced == unpriced
    assert worth.total == (None if total is None else pytest.approx(total))


def test_stalled_figures_and_reasons(stalls: duckdb.DuckDBPyConnection) -> None:
    table = stalled_deals(stalls, Q3, min_won_deals=4).set_index("opportunity_id")
    assert table.attrs["as_of"] == date(2024, 6, 30)  # the latest export, not today
    assert table.loc["S1", ["days_idle", "days_in_stage"]].tolist() == [5, 60]
    assert table.loc["S3", ["days_idle", "days_in_stage"]].tolist() == [121, 90]
    assert table.loc["S2", "days_idle"] == 60  # the 5 July call is after the as-of date
    assert table.loc["S1", "stage_limit_days"] == pytest.approx(32.5)
    assert table.loc["S7", "stage_limit_days"] == pytest.approx(1.0)
    assert table.loc["S7", "owner"] == "Dan Ghost"
    assert table.loc["S1", "reason"] == "60 days in Demo (won deals' 75th percentile: 32.5)"
    assert table.loc["S8", "reason"] == "no activity for 30 days (limit 30)"
    assert table.loc["S3", "reason"].startswith("no activity (none since created) for 121 days")
    assert list(table["amount"]) == sorted(table["amount"], reverse=True)


def test_stalled_filters_and_latest_stay(stalls: duckdb.DuckDBPyConnection) -> None:
    """Team East: Ann and Bob only. S5's long first Demo stay does not count: it moved back
    to Qualified and re-entered Demo on 15 June (15 days)."""
    east = stalled_deals(stalls, Scope(Q3.period, team="East"), min_won_deals=4)
    assert east["opportunity_id"].tolist() == ["S1", "S8", "S2"]
    assert "S5" not in stalled_deals(stalls, Q3, min_won_deals=4)["opportunity_id"].tolist()


def test_stalled_refuses_bad_thresholds(stalls: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError):
        stalled_deals(stalls, Q3, idle_days=0)
    with pytest.raises(ValueError):
        stalled_deals(stalls, Q3, stage_percentile=1.5)


# Time in stage known from exports only (no CRM history for X deals): two exports, 30
# April (A) and 30 June (B), on top of the stalls fixture (won deals timed by CRM history,
# Demo limit 32.5 days at the 75th percentile with four won deals).
#
#   deal  A (04-30)   B (06-30)  created  touched      days in Demo        rule    listed
#   X1    Demo        Demo       03-01    never        61 to 121 (>= 61)   stage   yes (idle too)
#   X2    Qualified   Demo       04-01    06-29        0 to 61             --      no
#   X3    -           Demo       06-20    06-29        0 to 10: fresh      no      no
#   X4    -           Demo       01-01    06-29        0 to 181: unknown   --      no
#   X5    -           Demo       01-01    never        0 to 181: unknown   --      yes (idle)
X_HEADER = (FIXTURES / "funnel_stall_opps.csv").read_text().splitlines()[0]
X_ROWS = {
    "X1": ("X1,Seen twice,Oak,Ann Lee,{},7000,USD,2024-03-01,2024-09-01", "Demo", "Demo"),
    "X2": ("X2,Moved on,Pine,Ann Lee,{},6000,USD,2024-04-01,2024-09-01", "Qualified", "Demo"),
    "X3": ("X3,Brand new,Rowan,Ann Lee,{},5000,USD,2024-06-20,2024-09-01", None, "Demo"),
    "X4": ("X4,Old but busy,Sage,Ann Lee,{},4000,USD,2024-01-01,2024-09-01", None, "Demo"),
    "X5": ("X5,Old and quiet,Teak,Ann Lee,{},3000,USD,2024-01-01,2024-09-01", None, "Demo"),
}
EXPORT_A, EXPORT_B = date(2024, 4, 30), date(2024, 6, 30)


@pytest.fixture
def export_stages(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    base = (FIXTURES / "funnel_stall_opps.csv").read_text().splitlines()
    first = [X_HEADER] + [row.format(a) for row, a, _ in X_ROWS.values() if a]
    second = base + [row.format(b) for row, _, b in X_ROWS.values()]
    (tmp_path / "opps_a.csv").write_text("\n".join(first) + "\n")
    (tmp_path / "opps_b.csv").write_text("\n".join(second) + "\n")
    touches = ["activity_id,owner,activity_type,started_at,duration_minutes,opportunity_id"] + [
        f"XT{d},Ann Lee,call,2024-06-29 10:00,15,{d}" for d in ("X2", "X3", "X4")
    ]
    (tmp_path / "x_touches.csv").write_text("\n".join(touches) + "\n")
    for path, as_of in [
        (FIXTURES / "funnel_reps.csv", EXPORT_B),
        (tmp_path / "opps_a.csv", EXPORT_A),
        (tmp_path / "opps_b.csv", EXPORT_B),
        (FIXTURES / "funnel_stall_history.csv", EXPORT_B),
        (FIXTURES / "funnel_stall_activities.csv", EXPORT_B),
        (tmp_path / "x_touches.csv", EXPORT_B),
    ]:
        result = import_file(con, path, as_of=as_of, data_dir=tmp_path / "store")
        assert result.ok and result.rows_rejected == 0, result.message
    return con


def test_time_in_stage_from_exports_is_a_range_not_a_zero(
    export_stages: duckdb.DuckDBPyConnection,
) -> None:
    table = stalled_deals(export_stages, Q3, min_won_deals=4).set_index("opportunity_id")
    assert {"X1", "X5"} <= set(table.index)
    assert not {"X2", "X3", "X4"} & set(table.index)
    x1, x5 = table.loc["X1"], table.loc["X5"]
    assert (bool(x1["idle_rule"]), bool(x1["stage_rule"])) == (True, True)
    assert x1["days_in_stage"] == 61  # the low end: in Demo on 30 April and on 30 June
    assert x1["time_in_stage"] == "at least 61 days: in Demo in every export since 2024-04-30"
    assert "at least 61 days in Demo (won deals' 75th percentile: 32.5)" in x1["reason"]
    # X5: first seen in the latest export, no history -> unknown, never 0, no stage verdict
    assert pd.isna(x5["days_in_stage"])
    assert (bool(x5["idle_rule"]), bool(x5["stage_rule"])) == (True, False)
    assert x5["time_in_stage"].startswith("unknown: no stage history; in Demo in the first")
    assert "days in Demo" not in x5["reason"]
    # CRM history stays exact
    assert table.loc["S1", "time_in_stage"] == "exact: entered Demo on 2024-05-01 (stage history)"
    assert table.loc["S1", "days_in_stage"] == 60
    # X2 (0-61 straddles 32.5), X4 (0-181), X5: not judged by time in stage; X3 (at most 10
    # days old) is fresh by its created date. Shown as "—": X2, X3, X4, X5.
    counts = table.attrs["counts"]
    assert counts["stage_unknown"] == 3
    assert table.attrs["no_data"]["days_in_stage"].startswith("4 open deals")


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ({"stage_origin": None}, "unknown: no stage change into Demo on record"),
        ({"stage_origin": "history", "in_stage_min": 5, "in_stage_max": 5},
         "exact: entered Demo on 2024-06-25 (stage history)"),
        ({"stage_origin": "snapshot", "in_stage_min": 0, "in_stage_max": 7,
          "seen_before": date(2024, 6, 23)},
         "0 to 7 days: entered Demo between the exports of 2024-06-23 and 2024-06-25"),
        ({"stage_origin": "snapshot", "in_stage_min": 0, "in_stage_max": None},
         "unknown: no stage history; in Demo in the first export showing the deal (2024-06-25)"),
        ({"stage_origin": "snapshot", "in_stage_min": 0, "in_stage_max": 40},
         "unknown: no stage history; in Demo in the first export showing the deal "
         "(2024-06-25) (at most 40 days: created 40 days before)"),
        ({"stage_origin": "snapshot", "in_stage_min": 12, "in_stage_max": None},
         "at least 12 days: in Demo in every export since 2024-06-25"),
    ],
    ids=["no-entry", "crm", "between-exports", "first-seen", "first-seen-created", "at-least"],
)  # fmt: skip
def test_time_in_stage_text(row: dict[str, object], expected: str) -> None:
    base = {"stage": "Demo", "in_stage_min": None, "in_stage_max": None,
            "entered_stage": date(2024, 6, 25), "seen_before": None}  # fmt: skip
    assert time_in_stage_text(pd.Series(base | row)) == expected


def test_no_activity_data_calls_nobody_idle(
    stalls: duckdb.DuckDBPyConnection,
) -> None:
    """Without any activity data, "idle since created" would be a guess: nobody is idle."""
    stalls.execute("DELETE FROM activities")
    table = stalled_deals(stalls, Q3, min_won_deals=4)
    assert not table["idle_rule"].any()
    assert table["opportunity_id"].tolist() == ["S1", "S3", "S7"]  # by time in stage only
    assert table.attrs["no_data"]["days_idle"].startswith("no activity data")
    assert table.attrs["counts"]["idle_unknown"] == 8
    # follow-up gaps: 0 touches against a won median of 0 is no comparison either
    gaps = follow_up_gaps(stalls, Q3, min_won_deals=4)
    assert gaps.empty
    assert gaps.attrs["no_data"]["touches"].startswith("no activity data")


def test_no_stage_limit_is_said(stalls: duckdb.DuckDBPyConnection) -> None:
    """Five won deals needed per stage, four exist: no stage has a limit, and it says so."""
    table = stalled_deals(stalls, Q3, min_won_deals=5)
    assert not table["stage_rule"].any()
    assert table.attrs["counts"]["no_limit"] == table.attrs["counts"]["open_deals"] == 8
    assert (
        "no stage of an open deal has 5 or more won deals"
        in (table.attrs["no_data"]["stage_limit_days"])
    )
    assert "stage_limit_days" not in stalled_deals(stalls, Q3, min_won_deals=4).attrs["no_data"]


# --- follow-up gaps --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "min_won", "expected"),
    [
        # Yardsticks: Discovery 1, Qualified 2, Demo / Trial 3.5. S5 (4 touches) and S7 (1
        # in Discovery) are not short. Largest amount first.
        (Q3, 4, [("S6", 1, 3.5), ("S1", 1, 3.5), ("S8", 1, 3.5), ("S2", 1, 3.5),
                 ("S3", 0, 3.5), ("S4", 1, 2.0)]),
        (Scope(Q3.period, team="West"), 4, [("S3", 0, 3.5)]),
        (Q3, 5, []),  # no stage has five won deals to compare with
    ],
    ids=["all", "west", "too-few-won"],
)  # fmt: skip
def test_follow_up_gaps(
    stalls: duckdb.DuckDBPyConnection, scope: Scope, min_won: int, expected: list[tuple]
) -> None:
    table = follow_up_gaps(stalls, scope, min_won_deals=min_won)
    got = [
        (r[0], int(r[1]), float(r[2]))
        for r in table[["opportunity_id", "touches", "won_median_touches"]].itertuples(index=False)
    ]
    assert got == expected
    assert (table["touches_short"] == table["won_median_touches"] - table["touches"]).all()


def test_empty_database_gives_empty_tables(con: duckdb.DuckDBPyConnection) -> None:
    assert stalled_deals(con, Q3).empty
    assert follow_up_gaps(con, Q3).empty
    assert slipped_deals(con, Q3).empty


def test_report_pipeline_cli(tmp_path: Path) -> None:
    """`python -m analytics report pipeline`: the waterfall (default) and the slipped table."""
    path = tmp_path / "report.duckdb"
    con = db.connect(path)
    try:
        load(con, tmp_path, [("funnel_reps.csv", S1), ("funnel_pipe_fx.csv", S1),
                             ("funnel_pipe_s1.csv", S1), ("funnel_pipe_s2.csv", S2),
                             ("funnel_pipe_s3.csv", S3)])  # fmt: skip
    finally:
        con.close()
    root = FIXTURES.parent.parent
    env = os.environ | {"PYTHONPATH": str(root)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "analytics", "report", "pipeline", "--db", str(path),
             "--period", "2024-Q3", *args],
            cwd=root, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    done = cli("--format", "json")
    assert done.returncode == 0, done.stderr
    first_rows = json.loads(done.stdout)
    steps = {r["step"]: r["amount"] for r in first_rows}
    assert steps["starting pipeline"] == 44600 and steps["ending pipeline"] == 43100
    assert steps["pushed out"] == -9000
    done = cli("--part", "slipped")
    assert done.returncode == 0, done.stderr
    assert [r["opportunity_id"] for r in csv.DictReader(io.StringIO(done.stdout))] == ["P05", "P14"]
    # each row names where each day's pipeline came from, and which pipeline it is
    row = first_rows[0]
    assert (row["start_source"], row["start_snapshot_date"]) == ("snapshot", "2024-07-01")
    assert (row["end_source"], row["pipeline"]) == ("snapshot", "closing in the period")
    # any two days: 15 June is rebuilt (no export on or before it), so all open deals
    done = cli("--format", "json", "--from", "2024-06-15", "--to", "2024-09-02")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert (rows[0]["start_source"], rows[0]["pipeline"]) == ("rebuilt", "all open deals")
    steps = {r["step"]: r["amount"] for r in rows}
    assert (steps["starting pipeline"], steps["ending pipeline"]) == (58100, 54600)
    assert "a rebuilt day does not know the expected close dates" in done.stderr
    done = cli("--part", "slipped", "--format", "json", "--from", "2024-06-15")
    assert done.returncode == 0 and json.loads(done.stdout) == []
    assert "no export on or before 2024-06-15" in done.stderr
    bad = cli("--from", "2024-09-02", "--to", "2024-07-01")
    assert bad.returncode == 2 and "before the start" in bad.stderr


# --- waterfall labels: rounded parts add up to the rounded total ------------------------

D = Decimal
# (start, {bucket: change}, labels expected in table order: start, the seven buckets, end).
# End = start + changes exactly; labels: start and end half up, the changes by largest
# remainder to (rounded end - rounded start).
LABEL_CASES = [
    # The case: rounding each bar alone gives 1,000,001 + 351,505 = 1,351,506
    # against an ending figure of 1,351,505. Largest remainder: the change is 351,504.
    (D("1000000.50"), {"new": D("351504.50")}, [1_000_001, 351_504, 0, 0, 0, 0, 0, 0, 1_351_505]),
    # Three halves: each alone rounds up (+3) but the total moves by 2 (10 -> 11.50 -> 12):
    # the tie goes to the earlier bars, the third gives way.
    (D("10.00"), {"new": D("0.50"), "pulled in": D("0.50"), "increased": D("0.50")},
     [10, 1, 1, 0, 0, 0, 0, 0, 12]),
    # Signed changes: -100.40 and +50.30 from 1,000.00 -> 949.90 shown as 950.
    (D("1000.00"), {"lost": D("-100.40"), "new": D("50.30")}, [1000, 50, 0, 0, 0, 0, 0, -100, 950]),
    # Nothing to round: labels are the amounts.
    (D("500.00"), {"won": D("-200.00")}, [500, 0, 0, 0, 0, 0, -200, 0, 300]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("start", "changes", "labels"), LABEL_CASES, ids=["issue", "halves", "signed", "whole"]
)
def test_waterfall_labels_add_up_to_the_ending_figure(
    start: Decimal, changes: dict[str, Decimal], labels: list[int]
) -> None:
    buckets = {b: changes.get(b, D("0.00")) for b in WATERFALL_BUCKETS}
    end = start + sum(buckets.values(), D(0))
    w = Waterfall(S1, S2, start, end, buckets, dict.fromkeys(WATERFALL_BUCKETS, 1))
    assert list(WATERFALL_BUCKETS) == [
        "new", "pulled in", "pushed out", "increased", "decreased", "won", "lost"
    ]  # fmt: skip
    got = w.table()["rounded"].tolist()
    assert got == labels
    assert got[0] + sum(got[1:-1]) == got[-1]
    exact = [w.start, *buckets.values(), w.end]
    assert all(abs(D(g) - x) < 1 for g, x in zip(got, exact, strict=True))


# --- the waterfall between any two dates, from the point-in-time layer ----------------------
#
# Over the same three exports, "all open deals" (no close-date filter: a rebuilt day does
# not know the expected close dates then). opportunities holds each deal's latest row: S3's,
# and P11's from S1 (still open, 1500). End-date rates: 1000 EUR = 1100 on both sides.
#
# snapshot S1 -> S3 (each deal's latest row on or before each snapshot):
#   start (S1 open): P01 10000, P02 8000, P03 6000, P04 4000, P05 7000, P06 9000, P08 5000,
#   P09 2000, P10 1100, P11 1500, P13 (no amount) 0, P14 2000 = 55600, 12 deals (P12 lost)
#   end (S3 open, P11 carried): P01 12000, P02 5000, P05 7500, P06 9000, P07 3000, P08 5000,
#   P09 2000, P10 1100, P11 1500, P12 2500, P13 4000, P14 2000 = 54600, 12 deals
#   new P07 +3000, P12 +2500 (reopened); increased P01 +2000, P05 +500, P13 +4000;
#   decreased P02 -3000; won P03 -6000; lost P04 -4000.
# rebuilt 07-01 -> 09-02 (created on or before the day and not closed by it; each open
#   deal's amount from the export nearest the day: the latest on or before it, else the
#   first after): start = every deal but P07 (created 07-15), P03 (won 07-18) and P04 (lost
#   08-30) still open, and P12 too (its June loss is not in its latest row: a reopened
#   deal looks open throughout, the rebuild's known limit), at their S1 amounts (P12's S1
#   row 2500, P13 none) = 10000+8000+6000+4000+7000+9000+5000+2000+1100+1500+2500+0+2000
#   = 58100, 13 deals; end at S3's (P11 S1's) = 54600, 12 deals: new P07 +3000; increased
#   P01 +2000, P05 +500, P13 +4000; decreased P02 -3000; won P03 -6000; lost P04 -4000.
#   (As last exported, the start was 61600 and nothing increased or decreased.)
# stage history (derived from the snapshots here, so its changes carry no amount of their
#   own: each is its export's, and the nearest export is that one or newer): the same
#   amounts as the rebuild, 58100 (13) -> 54600 (12), the same bars. (With the derived
#   changes' amounts, P02 and P05 stayed at their S1 8000 and 7000 on 09-02: 57100.)
# auto 06-15 -> 09-02: no snapshot on or before 15 June, no stage change yet -> rebuilt
#   start, each deal at the first export after the day, S1 (as the rebuild above: 58100,
#   13) against the S3 snapshot (54600, 12): the same buckets as the rebuild above. As last
#   exported, P01, P02, P05 and P13 showed no change: their S3 amounts on both days.
ALL_OPEN = "all open deals"
ANY_DATES = [
    ("snapshot", S1, S3, ("snapshot", "snapshot"), D("55600"), D("54600"), 12, 12, {
        "new": (D("5500"), 2), "increased": (D("6500"), 3), "decreased": (D("-3000"), 1),
        "won": (D("-6000"), 1), "lost": (D("-4000"), 1)}),
    ("rebuilt", S1, S3, ("rebuilt", "rebuilt"), D("58100"), D("54600"), 13, 12, {
        "new": (D("3000"), 1), "increased": (D("6500"), 3), "decreased": (D("-3000"), 1),
        "won": (D("-6000"), 1), "lost": (D("-4000"), 1)}),
    ("stage history", S1, S3, ("stage history", "stage history"), D("58100"), D("54600"),
     13, 12, {"new": (D("3000"), 1), "increased": (D("6500"), 3), "decreased": (D("-3000"), 1),
              "won": (D("-6000"), 1), "lost": (D("-4000"), 1)}),
    (None, date(2024, 6, 15), S3, ("rebuilt", "snapshot"), D("58100"), D("54600"), 13, 12, {
        "new": (D("3000"), 1), "increased": (D("6500"), 3), "decreased": (D("-3000"), 1),
        "won": (D("-6000"), 1), "lost": (D("-4000"), 1)}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("source", "start", "end", "sources", "start_amount", "end_amount", "n0", "n1", "buckets"),
    ANY_DATES,
    ids=["snapshot", "rebuilt", "stage-history", "auto-mixed"],
)
def test_waterfall_between_any_two_dates(
    snapshots: duckdb.DuckDBPyConnection,
    source: str | None,
    start: date,
    end: date,
    sources: tuple[str, str],
    start_amount: Decimal,
    end_amount: Decimal,
    n0: int,
    n1: int,
    buckets: dict[str, tuple[Decimal, int]],
) -> None:
    kind = None if source is None else ALL_OPEN
    w = waterfall(snapshots, Q3, start_date=start, end_date=end, kind=kind, source=source)
    assert w.kind == ALL_OPEN
    assert (w.start_basis.source, w.end_basis.source) == sources
    assert (w.start, w.end, w.start_deals, w.end_deals) == (start_amount, end_amount, n0, n1)
    expected = {b: buckets.get(b, (D("0"), 0)) for b in WATERFALL_BUCKETS}
    assert {b: (w.buckets[b], w.deals[b]) for b in WATERFALL_BUCKETS} == expected
    assert w.balanced
    labels = w.table()["rounded"].tolist()
    assert labels[0] + sum(labels[1:-1]) == labels[-1]
    fields = w.sources()
    assert (fields["start_source"], fields["end_source"]) == sources
    # the deals behind the bars are the same deals, bucket by bucket
    deals = waterfall_deals(snapshots, Q3, start_date=start, end_date=end, kind=kind,
                            source=source)  # fmt: skip
    counted = deals[deals["bucket"] != "unchanged"].groupby("bucket").size().to_dict()
    assert counted == {b: n for b, (_, n) in buckets.items()}
    assert int(deals["in_start"].sum()) == n0 and int(deals["in_end"].sum()) == n1


def test_waterfall_names_what_it_could_not_know(snapshots: duckdb.DuckDBPyConnection) -> None:
    """A rebuilt day has no expected close dates: the period pipeline is refused, and the
    default falls back to all open deals; the snapshot count of unpriced deals is kept."""
    with pytest.raises(ValueError, match="needs a snapshot on or before both dates"):
        waterfall(snapshots, Q3, start_date=date(2024, 6, 15), end_date=S3,
                  kind="closing in the period")  # fmt: skip
    w = waterfall(snapshots, Q3, start_date=S1, end_date=S3, kind=ALL_OPEN, source="snapshot")
    assert (w.start_no_amount, w.end_no_amount) == (1, 0)  # P13 had no amount on 1 July
    assert w.priced_note(0) == "1 open deal has no amount"
    assert w.priced_note(1) is None


def _export(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join(rows) + "\n")
    return path


def test_waterfall_and_slipped_do_not_peek(tmp_path: Path) -> None:
    """Two databases agree up to 1 August (S1, S2) and differ after: the second also holds
    an export of 2 September in which P04 is lost (30 Aug), P08 won (25 Aug), P01 moved to
    Trial and its close date to 20 Aug, P14's close date to 5 Oct, and a deal P20 created
    on 15 August. Amounts stay as they were (last-exported amounts are the rebuild's one
    documented compromise, tested apart). Every source's waterfall from 1 July to 1 August
    and the slipped list are the same in both: nothing dated after 1 August is read."""
    header, *s2 = (FIXTURES / "funnel_pipe_s2.csv").read_text().splitlines()
    later = []
    for row in s2:
        if row.startswith("P04,"):
            row = row.replace(",Qualified,", ",Closed Lost,")
            row = row.replace(",2024-08-30", ",2024-08-30")
        elif row.startswith("P08,"):
            row = row.replace(",Trial,", ",Closed Won,").replace(",2024-08-10", ",2024-08-25")
        elif row.startswith("P01,"):
            row = row.replace(",Demo,", ",Trial,").replace(",2024-08-15", ",2024-08-20")
        elif row.startswith("P14,"):
            row = row.replace(",2024-09-28", ",2024-10-05")
        later.append(row)
    later.append("P20,Elm late deal,Elm,Ann Lee,Discovery,3500,USD,2024-08-15,2024-09-25")
    later_file = _export(tmp_path / "later.csv", [header, *later])
    answers = []
    for name, extra in (("early", []), ("late", [(later_file, S3)])):
        con = db.connect(tmp_path / f"{name}.duckdb")
        try:
            files = [(FIXTURES / n, d) for n, d in (
                ("funnel_reps.csv", S1), ("funnel_pipe_fx.csv", S1),
                ("funnel_pipe_s1.csv", S1), ("funnel_pipe_s2.csv", S2))] + extra  # fmt: skip
            for path, as_of in files:
                result = import_file(con, path, as_of=as_of, data_dir=tmp_path / name)
                assert result.ok and result.rows_rejected == 0, result.message
            got = []
            for source in (None, "rebuilt", "stage history"):
                kind = None if source is None else ALL_OPEN
                w = waterfall(con, Q3, start_date=S1, end_date=S2, kind=kind, source=source)
                deals = waterfall_deals(con, Q3, start_date=S1, end_date=S2, kind=kind,
                                        source=source)  # fmt: skip
                got.append((w.start, w.end, w.buckets, w.deals,
                            deals[["opportunity_id", "bucket", "in_start", "in_end",
                                   "end_close_date"]].to_dict("records")))  # fmt: skip
            slipped = slipped_deals(con, Q3, base_date=S1, latest_date=S2)
            got.append(slipped[["opportunity_id", "new_close_date"]].to_dict("records"))
            answers.append(got)
        finally:
            con.close()
    early, late = answers
    assert early == late
    # and the later rows would have changed the answer: as of 2 September P04 is lost
    con = db.connect(tmp_path / "late.duckdb")
    try:
        moved = waterfall(con, Q3, start_date=S1, end_date=S3, kind=ALL_OPEN, source="rebuilt")
    finally:
        con.close()
    assert moved.deals["lost"] == 1 and moved.deals["won"] == 2 and moved.deals["new"] == 2


def test_slipped_needs_a_snapshot_on_both_days(snapshots: duckdb.DuckDBPyConnection) -> None:
    """15 June has no export on or before it: the expected close dates then are unknown,
    so no list (and the reason); 20 August is answered by the export of 1 August."""
    none = slipped_deals(snapshots, Q3, base_date=date(2024, 6, 15), latest_date=S3)
    assert none.empty
    assert "no export on or before 2024-06-15" in none.attrs["no_data"]["slipped"]
    later = slipped_deals(snapshots, Q3, base_date=S1, latest_date=date(2024, 8, 20))
    assert later.attrs["latest_basis"].snapshot_date == S2
    assert later["opportunity_id"].tolist() == ["P05"]


# --- the demo: the rebuilt / stage-history waterfall against the snapshot one -----------------


@pytest.fixture(scope="module")
def demo_con(
    tmp_path_factory: pytest.TempPathFactory, copy_demo: Callable[[Path], Path]
) -> duckdb.DuckDBPyConnection:
    """A private copy of the seeded demo (seed 42, the default anchor; tests/conftest.py)."""
    con = db.connect(copy_demo(tmp_path_factory.mktemp("demo_wf")))
    yield con
    con.close()


@pytest.mark.parametrize("pair", ["four weeks", "a quarter", "the last month"])
def test_demo_waterfall_agrees_across_sources(
    demo_con: duckdb.DuckDBPyConnection, pair: str
) -> None:
    """Between two weekly uploads, the waterfall of all open deals rebuilt from the final
    export (and from the stage history) has the same deals open on each day, the same
    counts, and the same deals new, won and lost as the one from the snapshots. The
    amounts too (each day reads the export nearest it, here that day's own; the stage
    history derived from the exports records none of its own), so the bars are the
    snapshots' bar for bar."""
    from analytics.pipeline import snapshot_dates

    dates = snapshot_dates(demo_con)
    first, last = {"four weeks": (dates[10], dates[14]), "a quarter": (dates[20], dates[33]),
                   "the last month": (dates[-5], dates[-1])}[pair]  # fmt: skip
    scope = Scope(Period.containing(last, "quarter"))

    def answer(source: str) -> tuple[Waterfall, pd.DataFrame]:
        w = waterfall(demo_con, scope, start_date=first, end_date=last, kind=ALL_OPEN,
                      source=source)  # fmt: skip
        deals = waterfall_deals(demo_con, scope, start_date=first, end_date=last,
                                kind=ALL_OPEN, source=source)  # fmt: skip
        return w, deals

    snap_w, snap = answer("snapshot")
    assert snap_w.start_deals > 100 and snap_w.end_deals > 100
    opened = {(r.opportunity_id, r.in_start, r.in_end) for r in snap.itertuples()}
    moved = {
        b: set(snap.loc[snap["bucket"] == b, "opportunity_id"]) for b in ("new", "won", "lost")
    }
    assert moved["won"] and moved["lost"] and moved["new"]
    for source in ("rebuilt", "stage history"):
        w, deals = answer(source)
        assert (w.start_deals, w.end_deals) == (snap_w.start_deals, snap_w.end_deals), source
        assert {(r.opportunity_id, r.in_start, r.in_end) for r in deals.itertuples()} == opened
        for bucket, ids in moved.items():
            assert set(deals.loc[deals["bucket"] == bucket, "opportunity_id"]) == ids, bucket
        assert w.balanced
        assert (w.start, w.end, w.buckets) == (snap_w.start, snap_w.end, snap_w.buckets)


NO_CHANGE = [
    # (start, end, source, what the reason says; None = a change can be shown)
    (S3, S3, None, "same day"),  # the same day
    (S1, S3, None, None),  # two exports
    # 2 Aug and 9 Aug both read the export of 1 Aug (S2): the same state twice
    (date(2024, 8, 2), date(2024, 8, 9), None, "same export, of 2024-08-01"),
    # forced rebuilt: created and close dates move the pipeline between the two days
    (date(2024, 8, 2), date(2024, 8, 9), "rebuilt", None),
]


@pytest.mark.parametrize(("start", "end", "source", "says"), NO_CHANGE)
def test_waterfall_says_when_it_cannot_show_a_change(
    snapshots: duckdb.DuckDBPyConnection,
    start: date,
    end: date,
    source: str | None,
    says: str | None,
) -> None:
    """A waterfall between one state and itself is two equal bars and empty steps, which
    reads as "nothing changed": analytics says why instead, and the CLI's notes lead with it."""
    kind = None if source is None else ALL_OPEN
    w = waterfall(snapshots, Q3, start_date=start, end_date=end, kind=kind, source=source)
    if says is None:
        assert w.no_change_reason is None
        return
    reason = w.no_change_reason
    assert reason is not None and says in reason, reason
    assert all(v == 0 for v in w.buckets.values()) and w.start == w.end
    table = pipeline_report_table(snapshots, Q3, part="waterfall", start_date=start, end_date=end)
    assert table.attrs["notes"][0] == reason
