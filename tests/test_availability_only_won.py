"""A database of won deals only has no win rate: "no data", never 100% (issue 13.2).

Why (a leads file plus a won-deals file, tried as a new user): the won-deals export lists
sales and nothing else, and the Overview read "Win rate 100.0%", "Win rate by value
100.0%" for every month, as if no deal had ever been lost. Files written by the test;
by hand: March 2025, W1 and W2 won; with L1 lost in March the win rate is 2 / 3.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from analytics.ingest import import_file
from analytics.metrics.availability import ONLY_WON, blank_no_data, no_data_reasons
from analytics.metrics.kpis import kpi_table
from analytics.scope import Period, Scope

WON_LIST = "Lead ID,Seller,Won date,Deal value\nW1,Ana,2025-03-03,100\nW2,Tom,2025-03-20,200\n"
DEALS = (
    "opportunity_id,owner,stage,amount,created_date,close_date\n"
    "W1,Ana,Closed Won,100,2025-02-01,2025-03-03\n"
    "W2,Tom,Closed Won,200,2025-02-03,2025-03-20\n"
)
MARCH = Scope(Period.parse("2025-03"))


@pytest.mark.parametrize(
    ("text", "win_rate"),
    [
        (WON_LIST, None),  # a won-deal list: no lost or open deal is known
        (DEALS, None),  # a deals export that happens to hold only wins: the same
        (DEALS + "L1,Ana,Closed Lost,50,2025-02-05,2025-03-10\n", 2 / 3),
        (DEALS + "O1,Tom,Discovery,70,2025-03-05,\n", 1.0),  # an open deal: lost is known 0
    ],
    ids=["won-list", "deals-all-won", "one-lost", "one-open"],
)
def test_only_won_deals_means_no_win_rate(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, text: str, win_rate: float | None
) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(text, encoding="utf-8")
    result = import_file(con, path, data_dir=tmp_path / "store", backup=False)
    assert result.ok, result.message
    reasons = no_data_reasons(con, MARCH)
    row = blank_no_data(kpi_table(con, MARCH, "company"), reasons).iloc[0]
    assert row["won_deals"] == 2
    if win_rate is None:
        assert reasons["win_rate"] == reasons["win_rate_value"] == ONLY_WON
        assert row["win_rate"] != row["win_rate"]  # NaN: no data, not 100%
    else:
        assert "win_rate" not in reasons
        assert row["win_rate"] == pytest.approx(win_rate)


def test_deals_open_in_an_older_export_and_won_since_are_a_pipeline(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """An export of 15 Feb showed W1 and W2 open; the export of 1 Apr shows both won. The
    database now holds only wins, but an export held open deals, so this is a pipeline,
    not a won-deal list: March's win rate is 2 / 2, not "no data" (a reviewer's random
    exports reached this)."""
    from datetime import date

    older = (
        DEALS.replace("Closed Won", "Discovery").replace("2025-03-03", "").replace("2025-03-20", "")
    )
    for name, text, day in (("feb.csv", older, date(2025, 2, 15)),
                            ("apr.csv", DEALS, date(2025, 4, 1))):  # fmt: skip
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = import_file(con, path, as_of=day, data_dir=tmp_path / "store", backup=False)
        assert result.ok, result.message
    reasons = no_data_reasons(con, MARCH)
    row = blank_no_data(kpi_table(con, MARCH, "company"), reasons).iloc[0]
    assert "win_rate" not in reasons
    assert (row["won_deals"], row["win_rate"]) == (2, pytest.approx(1.0))
