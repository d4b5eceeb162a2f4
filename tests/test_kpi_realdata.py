"""The KPI table on the real Maven CRM export, checked against the raw file read with csv.

Why: the hand-made fixtures prove the definitions; this proves the whole path (importer,
stage mapping, roster join, period bounds) on 8,800 real deals. The expected figures are
computed here straight from sales_pipeline.csv with Python's csv module, independently
of the importer and of SQL: deals by close_date in 2017-Q2, `deal_stage` Won or Lost,
bookings = sum of close_value of the won ones. Maven has no currency column, so nothing
needs a rate and nothing is unpriced.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics.ingest import import_file
from analytics.metrics.kpis import kpi_table
from analytics.scope import Period, Scope

pytestmark = pytest.mark.realdata

Q2_START, Q2_END = date(2017, 4, 1), date(2017, 6, 30)


@pytest.fixture
def maven(realdata: Path, con: duckdb.DuckDBPyConnection, tmp_path: Path) -> Path:
    folder = realdata / "maven_crm"
    for name in ("sales_teams.csv", "sales_pipeline.csv"):
        result = import_file(con, folder / name, as_of=date(2017, 12, 31), data_dir=tmp_path)
        assert result.status == "loaded", result.message
    return folder


def _expected(folder: Path) -> tuple[dict[str, dict], list[str], dict[str, str]]:
    """Per agent (won, lost, bookings) in 2017-Q2, the roster, and each agent's manager."""
    figures: dict[str, dict] = defaultdict(lambda: {"won": 0, "lost": 0, "bookings": 0.0})
    with (folder / "sales_pipeline.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if not row["close_date"]:
                continue
            closed = date.fromisoformat(row["close_date"])
            if not Q2_START <= closed <= Q2_END:
                continue
            agent = figures[row["sales_agent"]]
            if row["deal_stage"] == "Won":
                agent["won"] += 1
                agent["bookings"] += float(row["close_value"] or 0)
            elif row["deal_stage"] == "Lost":
                agent["lost"] += 1
    with (folder / "sales_teams.csv").open(encoding="utf-8", newline="") as fh:
        teams = list(csv.DictReader(fh))
    return (
        dict(figures),
        [t["sales_agent"] for t in teams],
        {t["sales_agent"]: t["manager"] for t in teams},
    )


def test_q2_2017_per_agent_matches_the_raw_file(maven: Path, con: duckdb.DuckDBPyConnection):
    expected, roster, _ = _expected(maven)
    table = kpi_table(con, Scope(Period.parse("2017-Q2")), "rep").set_index("rep")

    assert set(roster) <= set(table.index), "every agent of the roster has a row"
    assert sum(e["won"] for e in expected.values()) > 1000  # the quarter is a busy one
    for agent in table.index:
        want = expected.get(agent, {"won": 0, "lost": 0, "bookings": None})
        row = table.loc[agent]
        assert row["won_deals"] == want["won"], agent
        assert row["lost_deals"] == want["lost"], agent
        if want["won"] + want["lost"]:
            assert row["bookings"] == pytest.approx(want["bookings"]), agent
            assert row["win_rate"] == pytest.approx(want["won"] / (want["won"] + want["lost"]))
            assert row["unpriced_deals"] == 0
        else:
            assert pd.isna(row["win_rate"]), agent


def test_agents_without_deals_have_empty_figures(maven: Path, con: duckdb.DuckDBPyConnection):
    """Agents in sales_teams.csv who own no deal at all: present, counts 0, figures empty."""
    _, roster, _ = _expected(maven)
    with (maven / "sales_pipeline.csv").open(encoding="utf-8", newline="") as fh:
        owners = {row["sales_agent"] for row in csv.DictReader(fh)}
    idle = sorted(set(roster) - owners)
    assert idle, "the Maven roster lists agents without deals"

    table = kpi_table(con, Scope(Period.parse("2017-Q2")), "rep").set_index("rep")
    for agent in idle:
        row = table.loc[agent]
        assert (row["won_deals"], row["lost_deals"], row["open_deals"]) == (0, 0, 0), agent
        for column in ("bookings", "win_rate", "avg_deal_size", "open_pipeline", "quota"):
            assert pd.isna(row[column]), (agent, column)


def test_q2_2017_per_manager_team(maven: Path, con: duckdb.DuckDBPyConnection):
    """Maven has no team column, so the team is the manager: team totals = agents' sums."""
    expected, _, manager = _expected(maven)
    per_team: dict[str, dict] = defaultdict(lambda: {"won": 0, "lost": 0, "bookings": 0.0})
    for agent, figures in expected.items():
        team = per_team[manager[agent]]
        for key in ("won", "lost", "bookings"):
            team[key] += figures[key]

    table = kpi_table(con, Scope(Period.parse("2017-Q2")), "team").set_index("team")
    for team, want in per_team.items():
        assert table.loc[team, "won_deals"] == want["won"], team
        assert table.loc[team, "lost_deals"] == want["lost"], team
        assert table.loc[team, "bookings"] == pytest.approx(want["bookings"]), team
