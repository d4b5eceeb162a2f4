"""What the Settings, Leads, Commissions and Data pages used to compute, now in analytics.

Why tested here, without a browser: the pages only draw these results (issue 16, item 6),
so the rules they follow (which editor rows make a stage list, what a blank group reads
as, when a scoring is miscalibrated, what the team's payout sums to) are checked once,
directly, with a real DuckDB file where data is read.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from analytics.backup import backups_table
from analytics.commissions.engine import Ledger
from analytics.commissions.team import month_totals, scoped_reps, team_summary, team_table
from analytics.drilldown import closed_count
from analytics.forecast.current import what_if_change, what_if_stages
from analytics.funnel import Funnel
from analytics.ingest import import_file
from analytics.leads import (
    ALL_LEADS,
    calibration,
    calibration_falls,
    counts_no_lead,
    lead_count,
    lead_deal_conversion,
    named_groups,
)
from analytics.numbers import blank_cell
from analytics.pipeline import WATERFALL_BUCKETS, Waterfall
from analytics.scope import Period, Scope
from analytics.settings import (
    DEFAULT_STAGES,
    Stage,
    stages_from_rows,
    stages_in_use,
    stages_to_rows,
)

FIXTURES = Path(__file__).resolve().parent / "data"
MAY = Period.parse("2024-05")
NAN = float("nan")


def row(**cells: Any) -> dict[str, Any]:
    return {"order": None, "name": None, "probability": None, "won": None, "lost": None,
            "aliases": None} | cells  # fmt: skip


# --- the stage editor -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "blank"),
    [(None, True), (NAN, True), (pd.NA, True), ("", True), ("  ", True), ("x", False),
     (0, False), (False, False), (math.inf, False)],
)  # fmt: skip
def test_blank_cell(value: Any, blank: bool) -> None:
    assert blank_cell(value) is blank


@pytest.mark.parametrize(
    ("rows", "names", "problems"),
    [
        # the editor's new row (all blank, NaN from pandas) is skipped
        ([row(name="A", probability=10), row(order=NAN, probability=NAN)], ["A"], []),
        # rows go by `order`; rows without one go last, in table order
        ([row(order=2, name="B", probability=50), row(name="C", probability=0, lost=True),
          row(order=1, name="A", probability=10)], ["A", "B", "C"], []),
        ([row(probability=10)], [], ["row 1 has no stage name"]),
        ([row(name="A")], [], ["stage 'A' has no probability (0-100)"]),
        ([row(name="A", probability="ten")], [], ["stage 'A' has no probability (0-100)"]),
        ([row(name="A", probability=math.inf)], [], ["stage 'A' has no probability (0-100)"]),
        ([row(name="A", probability=100, won=True, lost=True)], ["A"],
         ["stage 'A' cannot be both won and lost"]),
        ([row(name="A", probability=10), row(name=" a ", probability=20)], ["A", "a"],
         ["stage name 'a' is listed twice"]),
        ([], [], ["the stage list is empty"]),
    ],
)  # fmt: skip
def test_stages_from_rows(
    rows: list[dict[str, Any]], names: list[str], problems: list[str]
) -> None:
    stages, found = stages_from_rows(rows)
    assert [s.name for s in stages] == names
    assert found == problems


def test_stage_flags_and_aliases_from_rows() -> None:
    stages, problems = stages_from_rows(
        [row(name="Won", probability=100, won=True, aliases="Closed Won; cw,\nWON ;"),
         row(name="Lost", probability=0, lost=True, won=NAN)]
    )  # fmt: skip
    assert problems == []
    assert stages == [
        Stage("Won", 100.0, is_closed=True, is_won=True, aliases=("Closed Won", "cw", "WON")),
        Stage("Lost", 0.0, is_closed=True, is_won=False),
    ]


def test_default_stages_survive_the_editor() -> None:
    stages, problems = stages_from_rows(stages_to_rows(DEFAULT_STAGES))
    assert problems == []
    assert tuple(stages) == DEFAULT_STAGES


def test_stages_in_use_refuses_dropping_a_stage_deals_have(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    result = import_file(con, FIXTURES / "commission_opps.csv", as_of=date(2024, 6, 5),
                         data_dir=tmp_path / "store")  # fmt: skip
    assert result.ok, result.message
    assert stages_in_use(con, DEFAULT_STAGES) == []
    kept = [s for s in DEFAULT_STAGES if s.name != "Closed Won"]
    (problem,) = stages_in_use(con, kept)
    assert problem.startswith("stage 'Closed Won' is used by ")
    # case and spaces do not make a stage new
    assert stages_in_use(con, [*kept, Stage(" closed won ", 100, True, True)]) == []


# --- leads ------------------------------------------------------------------------------------


def test_lead_count_on_a_real_file(con: duckdb.DuckDBPyConnection) -> None:
    assert lead_count(con) == 0


def test_named_groups_labels_blanks_and_the_total_row() -> None:
    table = pd.DataFrame(
        {"source": ["Web", None, NAN, None], "leads": [3, 2, 1, 6],
         "is_total": [False, False, False, True]}
    )  # fmt: skip
    shown = named_groups(table, {"source": "(no source)"})
    assert list(shown["source"]) == ["Web", "(no source)", "(no source)", ALL_LEADS]
    assert list(table["source"][:1]) == ["Web"] and table["source"].isna().sum() == 3  # a copy
    handoff = pd.DataFrame({"owner": [None, "Ann"], "source": ["Web", None]})
    shown = named_groups(handoff, {"owner": "(no owner)", "source": "(no source)"})
    assert shown.to_dict("list") == {
        "owner": ["(no owner)", "Ann"],
        "source": ["Web", "(no source)"],
    }


@pytest.mark.parametrize(
    ("rates", "falls"),
    [
        ([0.1, 0.2, 0.5], []),
        ([0.3, 0.2, 0.5], ["b0 → b1"]),
        ([0.3, None, 0.2], ["b0 → b2"]),  # an empty band is skipped, not a fall to 0
        ([None, None, 0.4], []),
        ([0.5, 0.5, 0.1], ["b1 → b2"]),
    ],
)
def test_calibration_falls(rates: list[float | None], falls: list[str]) -> None:
    table = pd.DataFrame(
        {"band": [f"b{i}" for i in range(len(rates))],
         "conversion_rate": pd.Series(rates, dtype=object)}
    )  # fmt: skip
    assert calibration_falls(table) == falls


@pytest.mark.parametrize(
    ("leads", "none"),
    [
        ([], True),  # no row at all
        ([0, 0, 0, 0], True),  # calibration lists every band, each empty
        ([0, 0], True),  # a conversion table: one blank group and its total row, no lead
        ([0, 3, 0, 0], False),  # three leads in the second band
        ([2, 2], False),  # one group of two leads and its total row
    ],
)
def test_counts_no_lead(leads: list[int], none: bool) -> None:
    assert counts_no_lead(pd.DataFrame({"leads": pd.Series(leads, dtype="int64")})) is none


def test_counts_no_lead_on_a_real_file(con: duckdb.DuckDBPyConnection) -> None:
    """A database without leads: the bands and the total row are there, and count none."""
    scope = Scope(MAY)
    bands = calibration(con, scope, as_of=date(2024, 5, 31))
    assert len(bands) > 1 and counts_no_lead(bands)
    assert counts_no_lead(lead_deal_conversion(con, "source", scope=scope))


# --- funnel and pipeline cards ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("deals", "won", "share"),
    [(8, 3, 0.375), (4, 4, 1.0), (5, 0, 0.0), (0, 0, None)],  # no deal: no share, not 0%
)
def test_funnel_won_share(deals: int, won: int, share: float | None) -> None:
    f = Funnel(Scope(MAY), pd.DataFrame(), deals=deals, from_history=0,
               from_current_stage=deals, won=won)  # fmt: skip
    assert f.won_share == share


def test_waterfall_imbalance_is_the_check_the_page_prints() -> None:
    """10,000.00 at the start; +2,500.50 new, -1,200.25 lost; 11,300.25 at the end: the
    bars explain the change exactly. One cent more at the end is a 0.01 gap."""
    buckets = dict.fromkeys(WATERFALL_BUCKETS, Decimal("0.00"))
    first, second = WATERFALL_BUCKETS[0], WATERFALL_BUCKETS[1]
    buckets[first], buckets[second] = Decimal("2500.50"), Decimal("-1200.25")
    w = Waterfall(date(2024, 5, 1), date(2024, 5, 31), Decimal("10000.00"),
                  Decimal("11300.25"), buckets)  # fmt: skip
    assert w.imbalance == 0 and w.balanced and str(w.imbalance) == "0.00"
    off = Waterfall(w.start_date, w.end_date, w.start, Decimal("11300.26"), buckets)
    assert off.imbalance == Decimal("-0.01") and not off.balanced


@pytest.mark.parametrize(
    ("won", "lost", "closed"),
    [(3, 2, 5), (3.0, 0.0, 3), (None, 2, 2), (NAN, NAN, 0), (0, 0, 0)],
)  # a count the export does not carry (None, NaN) counts as none, never fails the card
def test_drilldown_closed_count(won: Any, lost: Any, closed: int) -> None:
    assert (
        closed_count(pd.Series({"bookings": 1.0, "won_deals": won, "lost_deals": lost})) == closed
    )


# --- forecast what-if -------------------------------------------------------------------------

WHAT_IF_STAGES = (
    Stage("Discovery", 10),
    Stage("Demo", 40),
    Stage("Final Decision", 80),
    Stage("Closed Won", 100, is_closed=True, is_won=True),
    Stage("Closed Lost", 0, is_closed=True),
)


@pytest.mark.parametrize(
    ("deal_stages", "offered"),
    [
        # settings order, not the deals' order; each stage once however many deals
        (["Final Decision", "Discovery", "Discovery"], [("Discovery", 10.0),
                                                        ("Final Decision", 80.0)]),
        ([" demo ", "DEMO"], [("Demo", 40.0)]),  # matched as the forecast does
        (["Closed Won", "Demo"], [("Demo", 40.0)]),  # a closed stage is no what-if
        (["Negotiation", None], []),  # a stage the settings do not know: nothing to change
        ([], []),
    ],
)  # fmt: skip
def test_what_if_stages(deal_stages: list[str | None], offered: list[tuple[str, float]]) -> None:
    assert what_if_stages(WHAT_IF_STAGES, deal_stages) == offered


@pytest.mark.parametrize(
    ("before", "after", "change"),
    [
        (1000.0, 1250.0, 250.0),
        (1000.0, 999.7, 0.0),  # -0.3: float noise of per-deal sums, shown as no change
        (1000.0, 1000.5, 0.5),  # half a unit is a change
        (1000.0, 999.5, -0.5),
        (1000.0, 1000.126, 0.0),  # 0.126 -> 0.13 at the cent, still under half a unit
        (1000.0, 1200.456, 200.46),  # to the cent
        (None, 1000.0, None),  # no base forecast: no change to show
        (1000.0, None, None),
    ],
)
def test_what_if_change(before: float | None, after: float | None, change: float | None) -> None:
    assert what_if_change(before, after) == change


# --- commissions ------------------------------------------------------------------------------


def test_team_summary_sums_the_team_table(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    roster = tmp_path / "reps.csv"
    roster.write_text(
        "rep,manager,team,region,role,level\n"
        "Ann Lee,Maria Boss,East,EMEA,AE,junior\nBob Stone,Maria Boss,East,EMEA,AE,junior\n"
        "Cara Diaz,Tom Chief,West,AMER,AE,junior\nDan Poe,Tom Chief,West,AMER,AE,junior\n",
        encoding="utf-8",
    )
    for path in (roster, FIXTURES / "commission_opps.csv"):
        result = import_file(con, path, as_of=date(2024, 6, 5), data_dir=tmp_path / "store")
        assert result.ok, result.message
    ledger = Ledger(con)
    table = team_table(con, Scope(MAY), ledger)
    summary = team_summary(table)
    assert summary.total == sum(table["total"].dropna(), Decimal("0.00"))
    assert summary.commission == sum(table["commission"].dropna(), Decimal("0.00"))
    assert summary.with_quota == int(table["quota"].notna().sum())
    assert summary.at_quota == int((table["attainment"].dropna() >= 1).sum())
    assert summary.locked is False
    totals = month_totals(ledger, MAY)
    assert (totals.statements, totals.total, totals.corrections) == (
        len(ledger.payable(MAY)), summary.total, Decimal("0.00"))  # fmt: skip
    assert summary.total is not None and summary.total > 0 and summary.uncovered == ()
    assert scoped_reps(ledger, MAY, Scope(MAY)) == list(ledger.payable(MAY))
    # the scope's team filters; its rep does not (the page picks the rep itself)
    east = Scope(MAY, team="East", rep="Ann Lee")
    assert scoped_reps(ledger, MAY, east) == ["Ann Lee", "Bob Stone"]


def test_team_summary_without_any_plan_has_no_payout() -> None:
    table = pd.DataFrame(
        {"rep": ["Ann"], "plan": ["no plan"], "quota": [None], "attainment": [None],
         "total": [None], "commission": [None], "locked": [False],
         "no_plan_reason": ["no level on the roster"]}
    )  # fmt: skip
    summary = team_summary(table)
    assert summary.total is None and summary.commission is None  # a dash, never 0.00
    assert summary.uncovered == (("Ann", "no level on the roster"),)
    assert (summary.at_quota, summary.with_quota) == (0, 0)


# --- data -------------------------------------------------------------------------------------


def test_backups_table(tmp_path: Path) -> None:
    empty = backups_table(tmp_path)
    assert empty.empty and list(empty.columns) == ["file", "taken", "size MB"]
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "sales-20240601-before-import.duckdb").write_bytes(b"x" * 3 * 1024 * 1024)
    (folder / "notes.txt").write_text("not a backup")
    table = backups_table(tmp_path)
    assert list(table["file"]) == ["sales-20240601-before-import.duckdb"]
    assert list(table["size MB"]) == [3.0]
    assert table["taken"].iloc[0] == table["taken"].iloc[0].floor("s")
