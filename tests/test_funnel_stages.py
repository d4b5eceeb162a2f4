"""A funnel of the stages the data uses (issue 13.6), on a hand-made CRM.

The settings list has seven stages with custom names (markdown and HTML characters in two
of them); the CRM uses four: Lead in, Proposal & terms, Deal won, Deal lost. Owners: Ann
Lee (team North), Bob Stone (team South). Every deal was created in 2025-Q1; one export
(as of 2025-04-30) plus the CRM's stage history for five deals.

    settings: 1 Lead in | 2 Contact *made* | 3 Proposal & terms | 4 Negotiation |
              5 Trial <b> | Deal won (won) | Deal lost (lost)

    id  who  now        amount  history (CRM)                          placed
    G01 Ann  won          1000  Lead in, Proposal, Deal won             won
    G02 Ann  won          2000  none (current stage Deal won)           won
    G03 Ann  lost          300  Lead in, Deal lost                      Lead in, dropped
    G04 Ann  lost          400  Lead in, Proposal, Deal lost            Proposal, dropped
    G05 Bob  lost          500  none (current stage Deal lost)          stage unknown
    G06 Bob  lost          600  none                                    stage unknown
    G07 Bob  Proposal      700  none (current stage)                    Proposal, open
    G08 Bob  Lead in       800  none (current stage)                    Lead in, open
    G09 Ann  lost          900  Deal lost only                          stage unknown
    G10 Bob  lost         1100  Lead in, Deal won, Deal lost            Proposal, dropped

Stages seen (history or current stage): Lead in, Proposal & terms. So the steps are Lead
in, Proposal & terms, Deal won; "Contact *made*, Negotiation, Trial <b>" are not used.
G10 was marked won and then lost: it reached every open stage and dropped at the last
one; the last *step* is Proposal & terms (Trial <b> is no step).

All: reached Lead in = G01 G02 G03 G04 G07 G08 G10 = 7 (6300); Proposal = G01 G02 G04
G07 G10 = 5 (5200); won = 2 (3000). Dropped: Lead in G03 (300); Proposal G04, G10 (1500).
Open: Lead in G08 (800); Proposal G07 (700). Stage unknown: G05, G06, G09 (3, all lost).
Method: CRM history for G01, G03, G04, G09, G10 (5), current stage for 5: mixed.
Ann: reached 4, 3, 2 (3700, 3400, 3000); dropped 1, 1, 0; unknown G09.
Bob: reached 3, 2, 0 (2600, 1800, 0); dropped 0, 1, 0; open 1, 1, 0; unknown G05, G06.
"""

from __future__ import annotations

import base64
import json
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics import db, drilldown
from analytics.funnel import funnel, funnel_compare, readable_table
from analytics.ingest import import_file
from analytics.markup import plain
from analytics.scope import Period, Scope
from analytics.settings import Stage, save_stages

ROOT = Path(__file__).resolve().parent.parent
Q1 = Period.parse("2025-Q1")
STAGES = [
    Stage("Lead in", 10),
    Stage("Contact *made*", 20),
    Stage("Proposal & terms", 50),
    Stage("Negotiation", 70),
    Stage("Trial <b>", 80),
    Stage("Deal won", 100, is_closed=True, is_won=True),
    Stage("Deal lost", 0, is_closed=True),
]
HIDDEN = ("Contact *made*", "Negotiation", "Trial <b>")
STEPS = ["Lead in", "Proposal & terms", "Deal won"]

REPS = """rep,manager,team,region,role,level
Ann Lee,Max,North,EU,AE,senior
Bob Stone,Max,South,EU,AE,junior
"""
OPPS = """opportunity_id,opportunity_name,account,owner,stage,amount,currency,\
created_date,close_date,lead_source
G01,One,Acme,Ann Lee,Deal won,1000,USD,2025-01-05,2025-02-10,Web
G02,Two,Birch,Ann Lee,Deal won,2000,USD,2025-01-06,2025-02-11,Web
G03,Three,Cedar,Ann Lee,Deal lost,300,USD,2025-01-06,2025-01-30,Web
G04,Four,Dune,Ann Lee,Deal lost,400,USD,2025-01-07,2025-02-20,Web
G05,Five,Elm,Bob Stone,Deal lost,500,USD,2025-01-08,2025-02-21,Web
G06,Six,Fir,Bob Stone,Deal lost,600,USD,2025-01-09,2025-02-22,Web
G07,Seven,Gum,Bob Stone,Proposal & terms,700,USD,2025-01-10,2025-06-30,Web
G08,Eight,Hazel,Bob Stone,Lead in,800,USD,2025-01-11,2025-06-30,Web
G09,Nine,Ivy,Ann Lee,Deal lost,900,USD,2025-01-12,2025-02-01,Web
G10,Ten,Juniper,Bob Stone,Deal lost,1100,USD,2025-01-10,2025-03-01,Web
"""
HISTORY = """opportunity_id,stage,entered_at
G01,Lead in,2025-01-05
G01,Proposal & terms,2025-01-20
G01,Deal won,2025-02-10
G03,Lead in,2025-01-06
G03,Deal lost,2025-01-30
G04,Lead in,2025-01-07
G04,Proposal & terms,2025-01-15
G04,Deal lost,2025-02-20
G09,Deal lost,2025-02-01
G10,Lead in,2025-01-10
G10,Deal won,2025-02-01
G10,Deal lost,2025-03-01
"""


def load_crm(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """The seven-stage list first (imports map stages through it), then the three files."""
    save_stages(con, STAGES)
    for name, text in (("reps.csv", REPS), ("opps.csv", OPPS), ("history.csv", HISTORY)):
        path = folder / name
        path.write_text(text, encoding="utf-8")
        result = import_file(con, path, as_of=date(2025, 4, 30), data_dir=folder)
        assert result.ok, result.message
        assert result.rows_rejected == 0, result.message


@pytest.fixture
def crm(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    load_crm(con, tmp_path)
    return con


# (filters, [(stage, reached, dropped, open, reached_amount, dropped_amount, open_amount)],
#  (deals, from_history, stage_unknown, stage_unknown_lost))
CASES = [
    ({}, [
        ("Lead in", 7, 1, 1, 6300, 300, 800),
        ("Proposal & terms", 5, 2, 1, 5200, 1500, 700),
        ("Deal won", 2, 0, 0, 3000, 0, 0),
    ], (10, 5, 3, 3)),
    ({"rep": "Ann Lee"}, [
        ("Lead in", 4, 1, 0, 3700, 300, 0),
        ("Proposal & terms", 3, 1, 0, 3400, 400, 0),
        ("Deal won", 2, 0, 0, 3000, 0, 0),
    ], (5, 4, 1, 1)),
    ({"team": "South"}, [
        ("Lead in", 3, 0, 1, 2600, 0, 800),
        ("Proposal & terms", 2, 1, 1, 1800, 1100, 700),
        ("Deal won", 0, 0, 0, 0, 0, 0),
    ], (5, 1, 2, 2)),
]  # fmt: skip


@pytest.mark.parametrize(("filters", "expected", "counts"), CASES, ids=["all", "ann", "south"])
def test_steps_are_the_stages_used(
    crm: duckdb.DuckDBPyConnection, filters: dict[str, str], expected: list[tuple], counts: tuple
) -> None:
    f = funnel(crm, Scope(Q1, **filters))
    cols = ["stage", "reached", "dropped", "open", "reached_amount", "dropped_amount"]
    got = [tuple(r) for r in f.table[[*cols, "open_amount"]].itertuples(index=False)]
    assert got == expected
    assert (f.deals, f.from_history, f.stage_unknown, f.stage_unknown_lost) == counts
    assert f.method == "mixed"
    assert f.hidden == HIDDEN
    assert "Deal lost" not in f.table["stage"].tolist()  # an outcome, never a step
    # the lost deals without history are "stage unknown", not dropped at Lead in
    assert f.table["reached"].iloc[0] == f.deals - f.stage_unknown
    assert "Contact *made*, Negotiation, Trial <b> not used by any deal in scope" in (
        f.method_note()
    )
    deals = f"{counts[2]} deal" + ("" if counts[2] == 1 else "s")
    assert f"Stage unknown: {deals} ({counts[3]} lost)" in f.method_note()


def test_compared_funnels_share_their_steps(crm: duckdb.DuckDBPyConnection) -> None:
    table = funnel_compare(crm, Scope(Q1), "team")
    blocks = {g: b for g, b in table.groupby("group", sort=False)}
    assert list(blocks) == ["North", "South"]
    for block in blocks.values():
        assert block["stage"].tolist() == STEPS
    assert blocks["North"]["reached"].tolist() == [4, 3, 2]
    assert blocks["South"]["reached"].tolist() == [3, 2, 0]
    assert blocks["South"]["stage_unknown"].iloc[0] == 2
    assert table.attrs["hidden"] == list(HIDDEN)


def test_no_deal_in_the_period_hides_nothing_by_name(crm: duckdb.DuckDBPyConnection) -> None:
    f = funnel(crm, Scope(Period.parse("2025-Q2")))
    assert f.deals == 0 and f.table["stage"].tolist() == ["Deal won"]
    assert f.hidden_note() == ""  # nothing to judge by: no "not used" claim


def test_readable_table_has_no_blank_words(crm: duckdb.DuckDBPyConnection) -> None:
    t = readable_table(funnel(crm, Scope(Q1)).table)
    assert t["conversion_from_previous"].tolist() == ["—", "71.4%", "40.0%"]
    assert t["reached_amount"].tolist() == ["6,300", "5,200", "3,000"]
    text = " ".join(t.astype(str).to_numpy().ravel())
    for word in ("None", "nan", "NaN", "NaT", "inf"):
        assert word not in text.split()


@pytest.mark.parametrize("rep", ["Ann Lee", "Bob Stone"])
def test_rep_drilldown_funnel_is_the_funnel_page_s(
    crm: duckdb.DuckDBPyConnection, rep: str
) -> None:
    """The drill-down's funnel is the Funnel page's with the rep chosen: the same steps
    (stages used, won last, lost never a step) and the same stage-unknown count."""
    mine = drilldown.deal_funnel(crm, Scope(Q1), rep)
    page = funnel(crm, Scope(Q1, rep=rep))
    pd.testing.assert_frame_equal(mine.table, page.table)
    assert (mine.deals, mine.stage_unknown) == (page.deals, page.stage_unknown)
    assert mine.table["stage"].tolist() == STEPS
    assert "Deal lost" not in mine.table["stage"].tolist()
    # the team filter of the page does not shrink a rep's own funnel
    other_team = drilldown.deal_funnel(crm, Scope(Q1, team="North"), rep)
    pd.testing.assert_frame_equal(other_team.table, page.table)


def test_rep_drilldown_draws_the_funnel_in_the_team_colour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bob (team South, second in the sorted roster): steps Lead in, Proposal & terms,
    Deal won in South's colour; his two lost deals without history are stage unknown."""
    from analytics.colours import TEAM_PALETTE

    path = tmp_path / "crm.duckdb"
    con = db.connect(path)
    try:
        load_crm(con, tmp_path)
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.query_params.update({"kind": "Quarter", "period": "2025-Q1", "focus": "Bob Stone"})
    at.run()
    at.switch_page("pages/reps.py").run()
    assert not at.exception, [e.value for e in at.exception]
    charts = {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    funnels = [c for c in charts.values() if c["data"] and c["data"][0]["type"] == "funnel"]
    assert len(funnels) == 1
    drawn = funnels[0]["data"][0]
    assert drawn["y"] == ["Lead in", "Proposal &amp; terms", "Deal won"]
    x = drawn["x"]  # plotly sends numbers as typed base64 arrays
    assert np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]).tolist() == [3, 2, 0]
    assert drawn["marker"]["color"] == TEAM_PALETTE[1]
    captions = " ".join(plain(c.value) for c in at.caption)
    assert "Stage unknown: 2 deals (2 lost)" in captions
    table = next(d.value for d in at.dataframe if "conversion_from_first" in d.value.columns)
    assert table["stage"].tolist() == STEPS


def test_funnel_page_on_the_four_stage_crm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "crm.duckdb"
    con = db.connect(path)
    try:
        load_crm(con, tmp_path)
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.query_params.update({"kind": "Quarter", "period": "2025-Q1"})
    at.run()
    at.switch_page("pages/funnel.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [plain(e.value) for e in at.error]
    notes = " ".join(plain(i.value) for i in at.info)
    assert "Contact *made*, Negotiation, Trial <b> not used by any deal in scope" in notes
    table = next(d.value for d in at.dataframe if "reached" in d.value.columns)
    assert table["stage"].tolist() == STEPS and table["reached"].tolist() == [7, 5, 2]
    funnel_chart, compare_chart = (json.loads(c.proto.spec) for c in at.get("plotly_chart"))
    assert funnel_chart["data"][0]["y"] == ["Lead in", "Proposal &amp; terms", "Deal won"]
    assert [t["name"] for t in compare_chart["data"]] == ["North", "South"]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Deals created"] == "10" and metrics["Stage unknown"] == "3"


@pytest.mark.parametrize(
    ("roster", "team", "index"),
    [
        (["West", "East", "North"], "East", 0),  # rank in the sorted roster, not chart order
        (["West", "East", "North"], "North", 1),
        (["West", "East", "North", None, " "], "West", 2),  # blanks are no team
        (["East", "East"], "East", 0),
    ],
)
def test_team_colour_is_its_rank_in_the_roster(roster: list, team: str, index: int) -> None:
    from analytics.colours import NO_TEAM, NO_TEAM_COLOUR, TEAM_PALETTE, colour_of, team_colours

    colours = team_colours(roster)
    assert colour_of(colours, team) == TEAM_PALETTE[index]
    assert colour_of(colours, NO_TEAM) == colour_of(colours, None) == NO_TEAM_COLOUR
    assert colour_of(colours, "Not on the roster") == NO_TEAM_COLOUR


def test_roster_colours_ignore_the_scope(crm: duckdb.DuckDBPyConnection) -> None:
    """North, South from the roster table: the same whichever team a chart shows."""
    from analytics.colours import TEAM_PALETTE, roster_team_colours

    assert roster_team_colours(crm) == {
        "North": TEAM_PALETTE[0], "South": TEAM_PALETTE[1], "(no team)": "#9E9E9E",
    }  # fmt: skip
