"""One rep's missing amounts are that rep's "no data", never 0, and never anyone else's.

Issue 13, item 2 ("Missing is not zero"), per row: a rep whose won deals all lack an amount
has unknown bookings (and attainment), and a rep whose open deals all lack an amount has an
unknown open pipeline, while the reps beside them keep their real figures. The verdict is
per row, so a rep's figure does not depend on which other reps the filters or the reader's
access put beside them (docs/metrics.md, "When a figure is no data", "Per row").

The export is written here by hand, as a CRM would give it, and loaded by the real importer
into a real DuckDB file. May 2024 (over on the as-of day 15 July), worked out by hand:

    D-1  Ann   Closed Won   10000  created 03-01  closed 05-10
    D-2  Ann   Closed Lost   4000  created 03-05  closed 05-12
    D-5  Ann   Demo          2000  created 05-02  closes 09-15   open on 31 May
    D-3  Bob   Closed Won   (none) created 04-01  closed 05-20
    D-6  Bob   Closed Lost   3000  created 04-02  closed 05-25
    D-4  Bob   Discovery    (none) created 05-01  closes 08-30   open on 31 May
    D-7  Cara  Closed Won    5000  created 04-10  closed 05-15
    quotas for May: Ann 20000, Bob 5000, Cara 5000

    Ann:  bookings 10000, attainment 0.5, win rate by value 10000/14000, open pipeline 2000
    Bob:  1 won 1 lost, win rate 0.5; bookings, average deal, win rate by value, attainment,
          at-or-above-quota: no data (the won deal carries no amount); open pipeline and
          weighted pipeline: no data (1 open deal has no amount); 1 open deal
    Cara: bookings 5000, attainment 1.0, open pipeline 0 (a real 0: nothing open)
    company: bookings 15000 (the priced part), open pipeline 2000
    reps at quota: Ann below, Cara at, Bob unknown (left out) -> 1 of 2 = 0.5
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics import db
from analytics.drilldown import kpi_history
from analytics.ingest import import_file
from analytics.metrics.kpis import kpi_table, kpi_tables, share_of_reps_at_quota
from analytics.quadrant import quadrant
from analytics.quadrant import roster as quadrant_roster
from analytics.scope import Period, Scope
from analytics.scorecard import leaderboard, scorecard

AS_OF = date(2024, 7, 15)
MAY = Period.parse("2024-05")
DEALS = """\
opportunity_id,opportunity_name,account,owner,stage,amount,currency,created_date,close_date
D-1,One,Acme,Ann Lee,Closed Won,10000,USD,2024-03-01,2024-05-10
D-2,Two,Birch,Ann Lee,Closed Lost,4000,USD,2024-03-05,2024-05-12
D-5,Five,Elm,Ann Lee,Demo,2000,USD,2024-05-02,2024-09-15
D-3,Three,Cedar,Bob Stone,Closed Won,,USD,2024-04-01,2024-05-20
D-6,Six,Fir,Bob Stone,Closed Lost,3000,USD,2024-04-02,2024-05-25
D-4,Four,Dune,Bob Stone,Discovery,,USD,2024-05-01,2024-08-30
D-7,Seven,Gale,Cara Diaz,Closed Won,5000,USD,2024-04-10,2024-05-15
"""
QUOTAS = """owner,period_start,period_end,amount
Ann Lee,2024-05-01,2024-05-31,20000
Bob Stone,2024-05-01,2024-05-31,5000
Cara Diaz,2024-05-01,2024-05-31,5000
"""
WON_NO_AMOUNT = "the won deal carries no amount in this export"
OPEN_NO_AMOUNT = "1 open deal has no amount"
BOB_WON_COLUMNS = ("bookings", "avg_deal_size", "win_rate_value", "quota_attainment",
                   "at_or_above_quota", "sales_velocity")  # fmt: skip
BOB_OPEN_COLUMNS = ("open_pipeline", "weighted_pipeline", "pipeline_coverage")


def load_messy(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """Import the deals and quotas above through the real importer."""
    for name, text in {"deals.csv": DEALS, "quotas.csv": QUOTAS}.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        result = import_file(con, path, as_of=AS_OF, data_dir=folder / "store", backup=False)
        assert result.ok, result


@pytest.fixture
def messy(db_path: Path, db_template: Callable[..., Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    """The import above, done once per test process and copied for this test (conftest
    `db_template`): a private file the test may change."""
    connection = db.connect(db_template("test_row_no_data.messy", load_messy, db_path))
    yield connection
    connection.close()


def by_rep(con: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, dict]:
    table = kpi_table(con, scope, "rep")
    return {r.pop("rep"): r for r in table.to_dict("records")}


def missing(value: object) -> bool:
    return value is None or bool(pd.isna(value))


# (rep, column, expected: a number, or None for "no data")
FIGURES = [
    ("Ann Lee", "bookings", 10000),
    ("Ann Lee", "quota_attainment", 0.5),
    ("Ann Lee", "win_rate_value", 10000 / 14000),
    ("Ann Lee", "open_pipeline", 2000),
    ("Bob Stone", "won_deals", 1),
    ("Bob Stone", "lost_deals", 1),
    ("Bob Stone", "win_rate", 0.5),
    ("Bob Stone", "open_deals", 1),
    *(("Bob Stone", column, None) for column in (*BOB_WON_COLUMNS, *BOB_OPEN_COLUMNS)),
    ("Cara Diaz", "bookings", 5000),
    ("Cara Diaz", "quota_attainment", 1.0),
    ("Cara Diaz", "open_pipeline", 0),
]


@pytest.mark.parametrize(("rep", "column", "expected"), FIGURES)
def test_each_rep_keeps_their_own_figures(
    messy: duckdb.DuckDBPyConnection, rep: str, column: str, expected: float | None
) -> None:
    got = by_rep(messy, Scope(MAY))[rep][column]
    if expected is None:
        assert missing(got), (rep, column, got)
    else:
        assert got == pytest.approx(expected), (rep, column, got)


def test_row_reasons_name_bobs_own_deals(messy: duckdb.DuckDBPyConnection) -> None:
    table = kpi_table(messy, Scope(MAY), "rep")
    rows = table.attrs["row_no_data"]
    assert set(rows) == {"Bob Stone"}
    assert {c: rows["Bob Stone"][c] for c in BOB_WON_COLUMNS} == dict.fromkeys(
        BOB_WON_COLUMNS, WON_NO_AMOUNT
    )
    assert {c: rows["Bob Stone"][c] for c in BOB_OPEN_COLUMNS} == dict.fromkeys(
        BOB_OPEN_COLUMNS, OPEN_NO_AMOUNT
    )
    # the scope as a whole has priced won and open deals: no scope-wide verdict on them
    assert not {"bookings", "open_pipeline"} & set(table.attrs["no_data"])


def test_company_row_is_the_priced_part(messy: duckdb.DuckDBPyConnection) -> None:
    (row,) = kpi_table(messy, Scope(MAY), "company").to_dict("records")
    assert row["bookings"] == pytest.approx(15000)
    assert row["open_pipeline"] == pytest.approx(2000)
    assert row["won_deals"] == 3


@pytest.mark.parametrize(
    "scope",
    [Scope(MAY), Scope(MAY, rep="Bob Stone")],
    ids=["everyone", "Bob alone"],
)
def test_bobs_row_does_not_depend_on_who_else_is_in_scope(
    messy: duckdb.DuckDBPyConnection, scope: Scope
) -> None:
    table = kpi_table(messy, scope, "rep")
    bob = table[table["rep"] == "Bob Stone"].iloc[0]
    for column in (*BOB_WON_COLUMNS, *BOB_OPEN_COLUMNS):
        assert missing(bob[column]), column
        reason = table.attrs["row_no_data"].get("Bob Stone", {}).get(column) or table.attrs[
            "no_data"
        ].get(column)
        assert reason in (WON_NO_AMOUNT, OPEN_NO_AMOUNT), column


def test_reps_at_quota_leaves_out_the_unknown(messy: duckdb.DuckDBPyConnection) -> None:
    assert share_of_reps_at_quota(messy, Scope(MAY)) == pytest.approx(0.5)
    # Bob alone: his attainment is unknown, so there is no share to give
    assert share_of_reps_at_quota(messy, Scope(MAY, rep="Bob Stone")) is None


def test_trend_tables_carry_the_reasons_per_period(messy: duckdb.DuckDBPyConnection) -> None:
    periods = [Period.parse("2024-04"), MAY]
    table = kpi_tables(messy, Scope(MAY), periods, "rep")
    assert "2024-04" not in table.attrs["row_no_data"]  # nothing of Bob's closed in April
    assert table.attrs["row_no_data"]["2024-05"]["Bob Stone"]["bookings"] == WON_NO_AMOUNT


def test_leaderboard_says_which_figures_and_why(messy: duckdb.DuckDBPyConnection) -> None:
    scope = Scope(MAY)
    board = kpi_table(messy, scope, "rep")
    rows = leaderboard(board, quadrant(messy, scope), quadrant_roster(messy)).set_index("rep")
    note = rows.loc["Bob Stone", "no_data"]
    won, opened = note.split("; ")
    assert won.endswith(f": {WON_NO_AMOUNT}") and opened.endswith(f": {OPEN_NO_AMOUNT}")
    for column in BOB_WON_COLUMNS:
        assert column.replace("_", " ") in won, column
    for column in BOB_OPEN_COLUMNS:
        assert column.replace("_", " ") in opened, column
    assert missing(rows.loc["Ann Lee", "no_data"])
    assert list(rows.index)[-1] == "Bob Stone"  # unknown bookings sort last, not as 0


def test_cli_scorecard_notes_the_row(messy: duckdb.DuckDBPyConnection) -> None:
    card = scorecard(messy, Scope(MAY), "rep")
    notes = [n for n in card.attrs["notes"] if n.startswith("no data for Bob Stone: ")]
    assert len(notes) == 1 and WON_NO_AMOUNT in notes[0] and OPEN_NO_AMOUNT in notes[0]
    assert "bookings, avg_deal_size" in notes[0]  # the CSV's column names, as other notes
    bob = card[card["rep"] == "Bob Stone"].iloc[0]
    assert missing(bob["bookings"]) and missing(bob["open_pipeline"])


def test_drilldown_history_has_bobs_reasons(messy: duckdb.DuckDBPyConnection) -> None:
    history = kpi_history(messy, Scope(MAY), "Bob Stone", periods=2)
    may = history[history["period"] == "2024-05"].iloc[0]
    assert missing(may["bookings"])
    assert history.attrs["no_data"]["2024-05"]["bookings"] == WON_NO_AMOUNT
    assert history.attrs["no_data"]["2024-05"]["open_pipeline"] == OPEN_NO_AMOUNT
    ann = kpi_history(messy, Scope(MAY), "Ann Lee", periods=2)
    assert "bookings" not in ann.attrs["no_data"]["2024-05"]
