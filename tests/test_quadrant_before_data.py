"""The rep quadrant when the window before ends before the data starts (QA, db1: the data
starts on 1 Sep 2026, 2026-11 was judged over Sep-Nov "against" Jun-Aug, and every rep
"grew" from nothing: a rep with 0 bookings and 0 change was an improving laggard).

The fixture (imported through the real importer, as of 15 Jul 2024) starts on 10 Apr 2024,
inside the window a June view is judged over (April-June):

    deal  owner  stage        amount  created     closed
    D1    Ann    Closed Won    5,000  2024-04-10  2024-05-10
    D2    Ann    Closed Won    6,000  2024-04-12  2024-06-12
    D3    Bob    Closed Won    2,000  2024-04-15  2024-05-20
    D4    Bob    Closed Lost   1,000  2024-04-18  2024-06-15

June over the trailing quarter compares with January-March, before any deal: change has no
data, nobody is placed, and the reason is the Overview's ("no data yet: the data starts on
10 Apr 2024"). June alone against May is inside the data: Ann 6,000 (+1,000) is a rising
star on the bookings split (6,000, the only June winner), Bob 0 (-2,000) a declining
laggard.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import duckdb
import pytest
from apptest import assert_clean, open_page

from analytics import db
from analytics.ingest import import_file
from analytics.markup import plain
from analytics.metrics.availability import before_data, data_start
from analytics.quadrant import DECLINING_LAGGARD, RISING_STAR, quadrant
from analytics.scope import Period, Scope

AS_OF = date(2024, 7, 15)
JUNE = Scope(Period.parse("2024-06"))
DEALS_CSV = """opportunity_id,opportunity_name,owner,stage,amount,currency,created_date,close_date
D1,Deal one,Ann,Closed Won,5000,USD,2024-04-10,2024-05-10
D2,Deal two,Ann,Closed Won,6000,USD,2024-04-12,2024-06-12
D3,Deal three,Bob,Closed Won,2000,USD,2024-04-15,2024-05-20
D4,Deal four,Bob,Closed Lost,1000,USD,2024-04-18,2024-06-15
"""
REASON = "2024-01 – 2024-03: no data yet: the data starts on 10 Apr 2024"


def load(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "deals.csv"
    path.write_text(DEALS_CSV, encoding="utf-8")
    result = import_file(con, path, kind="opportunities", as_of=AS_OF, data_dir=folder)
    assert result.ok, result.message


def test_no_change_before_the_data_starts(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    load(con, tmp_path)
    q = quadrant(con, JUNE)
    assert (q.attrs["period"], q.attrs["previous_period"]) == (
        "2024-04 – 2024-06",
        "2024-01 – 2024-03",
    )
    # the Overview's words for the same window (analytics.metrics.availability)
    first = data_start(con, JUNE)
    assert first == date(2024, 4, 10)
    early = before_data(Period.parse("2024-03").trailing(3), first)
    assert f"2024-01 – 2024-03: {early}" == REASON
    assert list(q["rep"]) == ["Ann", "Bob"]
    assert q["quadrant"].isna().all()  # nobody placed by a growth from nothing
    assert q["y"].isna().all() and q["previous_bookings"].isna().all()
    assert list(q["note"]) == [REASON, REASON]
    assert q.attrs["no_change"] == f"No rep is placed: change has no data. {REASON}."
    # the level is still known: Ann 11,000, Bob 2,000 over April-June
    assert list(q["x"]) == [pytest.approx(11000), pytest.approx(2000)]


def test_a_window_before_inside_the_data_is_compared(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    load(con, tmp_path)
    q = quadrant(con, JUNE, window_months=1)
    assert q.attrs["previous_period"] == "2024-05" and q.attrs["no_change"] is None
    rows = q.set_index("rep")
    assert rows.loc["Ann", "y"] == pytest.approx(1000)
    assert rows.loc["Bob", "y"] == pytest.approx(-2000)
    assert rows.loc["Ann", "quadrant"] == RISING_STAR
    assert rows.loc["Bob", "quadrant"] == DECLINING_LAGGARD
    assert q["note"].isna().all()
    assert not math.isnan(q.attrs["x_split"])


def test_the_reps_page_says_why_nobody_is_placed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "app.duckdb"
    con = db.connect(path)
    try:
        load(con, tmp_path / "files")
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    at = open_page("pages/reps.py", {"kind": "Month", "period": "2024-06"})
    assert_clean(at)
    infos = [plain(i.value) for i in at.info]
    assert f"No rep is placed: change has no data. {REASON}." in infos, infos
    assert not at.get("plotly_chart")  # no chart of reps placed by a growth from nothing
    assert not any("Judged over" in c.value for c in at.caption)
