"""Performance KPIs (kpi_table) against a hand-made fixture, every number worked out by hand.

Files in tests/data, imported through the real importer (as ops would load them):

kpi_reps.csv: Ann Lee, Bob Stone = team East / region EMEA; Cara Diaz, Eve Quiet, Finn
New, Gus Idle = team West / region AMER. Dan Ghost owns deals but is not in the roster.

kpi_fx_rates.csv: EUR -> USD 1.10 from 2024-04-01, 1.08 from 2024-05-01, 1.05 from
2024-06-01. No rate for GBP or JPY. Reporting currency: USD (the default).

kpi_opps.csv (stage probability from the default settings; the period is 2024-Q2 =
2024-04-01 .. 2024-06-30 unless a case says otherwise):

    id    owner  account stage          amount cur  created     close       note
    K-01  Ann    Acme    Closed Won      10000 USD  2024-01-10  2024-04-15  cycle 96 d
    K-02  Ann    Birch   Closed Won       5000 EUR  2024-03-01  2024-05-20  x1.08 = 5400; 80 d
    K-03  Ann    Cobalt  Closed Lost      4000 USD  2024-04-01  2024-06-10
    K-04  Ann    Delta   Trial 60%       10000 USD  2024-04-20  2024-06-30  open, closes in Q2
    K-05  Ann    Echo    Demo 40%         2000 GBP  2024-05-01  2024-08-31  open, UNPRICED
    K-06  Bob    Fjord   Closed Lost      8000 USD  2024-02-15  2024-05-02
    K-07  Bob    Gale    Closed Won      (none) USD 2024-05-06  2024-06-05  no amount; 30 d
    K-08  Bob    Harbor  Discovery 10%    5000 EUR  2024-06-01  2024-06-20  open: rate at period
                                                                            end 1.05 = 5250
    K-09  Cara   Iris    Closed Won      20000 USD  2024-03-01  2024-06-30  last day; 121 d
    K-10  Cara   Jade    Closed Won       3000 JPY  2024-02-01  2024-04-10  UNPRICED; 69 d
    K-11  Cara   Kite    Closed Lost      2000 USD  2024-03-05  2024-07-01  first day of Q3
    K-12  Cara   Lumen   Final Dec. 80%   2500 USD  2024-05-15  2024-07-31  open ("Negotiation/
                                                                            Review" alias)
    K-13  Dan    Acme    Closed Won       1000 USD  2024-04-01  2024-05-05  34 d
    K-14  Dan    Birch   Closed Won        500 USD  2023-12-01  2024-01-15  Q1
    K-15  Ann    Nova    Closed Won       1000 EUR  2024-01-05  2024-03-15  Q1: before any rate
    K-16..18  older deals (2022-2023) for the retention tests; outside every period below.

Cycle days (close - created): Jan 10 -> Apr 15 = 21 + 29 + 31 + 15 = 96; Mar 1 -> May 20 =
31 + 30 + 19 = 80; May 6 -> Jun 5 = 30; Mar 1 -> Jun 30 = 31 + 30 + 31 + 29 = 121;
Feb 1 -> Apr 10 = 29 (leap year) + 31 + 9 = 69; Apr 1 -> May 5 = 30 + 4 = 34.

kpi_quotas.csv: Ann 5000 for each of April, May, June; Bob 12000 and Cara 20000 and Eve
10000 for the quarter 2024-04-01 .. 2024-06-30; nobody else has a quota.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from analytics import db
from analytics.ingest import import_file
from analytics.metrics.headline import headline
from analytics.metrics.kpis import (
    KPI_COLUMNS,
    kpi_table,
    kpi_tables,
    share_of_reps_at_quota,
    share_of_reps_at_quota_by_period,
)
from analytics.metrics.performance import ATTAINMENT_COLUMNS, attainment_table
from analytics.scope import Period, Scope
from analytics.settings import DEFAULT_STAGES, Stage, save_reporting_currency, save_stages

FIXTURES = Path(__file__).resolve().parent / "data"
AS_OF = date(2024, 7, 15)
KPI_FILES = ("reps", "opps", "quotas", "fx_rates", "activities", "leads")
ROSTER = ["Ann Lee", "Bob Stone", "Cara Diaz", "Eve Quiet", "Finn New", "Gus Idle"]


def load_kpi_files(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """Every kpi_*.csv imported through the real importer, exactly as ops would load them."""
    for name in KPI_FILES:
        result = import_file(con, FIXTURES / f"kpi_{name}.csv", as_of=AS_OF, data_dir=tmp_path)
        assert result.ok, result.message
        assert result.rows_rejected == 0, result.message


@pytest.fixture
def kpi_db(db_path: Path, db_template: Callable[..., Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    """Every kpi_*.csv, imported once per test process and copied for this test (conftest
    `db_template`): a private file the test may change."""
    con = db.connect(db_template("test_performance.kpi_db", load_kpi_files, db_path))
    yield con
    con.close()


def rows(con: duckdb.DuckDBPyConnection, label: str, by: str, **filters: str) -> dict:
    """kpi_table as {group key: {column: value}}; a None key is written as None."""
    table = kpi_table(con, Scope(Period.parse(label), **filters), by)
    out: dict[Any, dict[str, Any]] = {}
    for record in table.to_dict("records"):
        key = record.pop(by)
        out[None if isinstance(key, float) and math.isnan(key) else key] = record
    return out


def check(got: dict[str, Any], expected: dict[str, Any]) -> None:
    for name, value in expected.items():
        if value is None:
            assert got[name] is None or pd.isna(got[name]), (name, got[name])
        elif isinstance(value, bool):
            assert got[name] is value, (name, got[name])
        else:
            assert got[name] == pytest.approx(value), (name, got[name])


NO_DEALS = dict(
    bookings=None, won_deals=0, lost_deals=0, win_rate=None, win_rate_value=None,
    avg_deal_size=None, open_pipeline=None, weighted_pipeline=None, open_deals=0,
    sales_velocity=None, unpriced_deals=0, median_cycle_days=None, mean_cycle_days=None,
    opp_to_won_rate=None,
)  # fmt: skip

# (period, by, filters, group, expected) -- the arithmetic is in each comment.
# Every period below is over by the data's date (15 July 2024), so its open figures are the
# deals open on its last day, rebuilt from created and close dates (no snapshot that old,
# no stage history): a deal created on or before that day and not closed by it. A rebuilt
# day knows no stages and no expected close dates, so the weighted pipeline and coverage
# of a group with open deals are empty (unknown, not 0); the live quarter (2024-Q3) keeps
# the deals open now (the last case).
CASES = [
    # Ann, Q2. Won K-01 10000 + K-02 5000 EUR x 1.08 (rate of 2024-05-01, latest on or
    # before the 20 May close) = 5400 -> bookings 15400, 2 won; lost K-03 4000.
    # Win rate 2/3; by value 15400 / (15400 + 4000) = 15400/19400; average 15400/2 = 7700.
    # Open on 30 June: K-04 10000 (USD) and K-05 (GBP, no rate: unpriced, left out of
    # sums) -> 2 open deals, pipeline 10000, weighted unknown (rebuilt), 1 unpriced.
    # Quota 5000 x 3 months = 15000 -> attainment 15400/15000 = 1.02667, at quota.
    # Coverage: remaining quota 15000 - 15400 < 0 -> None.
    # Cycle 96 and 80 -> median 88, mean 88. Velocity 2 x 2/3 x 7700 / 88 = 116.667.
    # Created in Q2: K-03, K-04, K-05, none won now -> 0/3 = 0.
    ("2024-Q2", "rep", {}, "Ann Lee", dict(
        bookings=15400, won_deals=2, lost_deals=1, win_rate=2 / 3,
        win_rate_value=15400 / 19400, avg_deal_size=7700, open_pipeline=10000,
        weighted_pipeline=None, open_deals=2, unpriced_deals=1, quota=15000,
        quota_attainment=15400 / 15000, at_or_above_quota=True, pipeline_coverage=None,
        median_cycle_days=88, mean_cycle_days=88, sales_velocity=2 * (2 / 3) * 7700 / 88,
        opp_to_won_rate=0.0)),
    # Bob, Q2. Won K-07 with no amount, his only win: counted (1 won) but its value is
    # unknown -> bookings None (no data, not 0; row_no_data says why), average None.
    # Lost K-06 8000. Win rate 1/2; by value unknown (None).
    # Open K-08 5000 EUR at the period-end rate 1.05 = 5250; weighted unknown (rebuilt).
    # Quota 12000 -> attainment unknown (None), neither at nor below quota. Coverage:
    # K-08's expected close date on 30 June is not known to a rebuild -> None. Cycle 30
    # (K-07). Velocity needs an average deal size -> None. Created in Q2: K-07 (won), K-08 -> 1/2.
    ("2024-Q2", "rep", {}, "Bob Stone", dict(
        bookings=None, won_deals=1, lost_deals=1, win_rate=0.5, win_rate_value=None,
        avg_deal_size=None, open_pipeline=5250, weighted_pipeline=None, open_deals=1,
        unpriced_deals=0, quota=12000, quota_attainment=None, at_or_above_quota=None,
        pipeline_coverage=None, median_cycle_days=30, mean_cycle_days=30,
        sales_velocity=None, opp_to_won_rate=0.5)),
    # Cara, Q2. Won K-09 20000 (closed on the last day) and K-10 3000 JPY (no rate:
    # unpriced, counted as won, left out of bookings) -> bookings 20000, 2 won, 0 lost
    # (K-11 is lost on 1 July). Win rate 2/2 = 1; by value 20000/20000 = 1; average of
    # priced won deals 20000. Open on 30 June: K-12 2500 and K-11 2000 (lost the next
    # day) = 4500, 2 deals; weighted unknown. Quota 20000 -> attainment exactly 1.0: at
    # quota. Remaining 20000 - 20000 = 0 -> coverage None.
    # Cycle 121 and 69 -> median = mean = 95. Velocity 2 x 1.0 x 20000 / 95 = 421.05.
    # Created in Q2: K-12, still open -> 0/1 = 0.
    ("2024-Q2", "rep", {}, "Cara Diaz", dict(
        bookings=20000, won_deals=2, lost_deals=0, win_rate=1.0, win_rate_value=1.0,
        avg_deal_size=20000, open_pipeline=4500, weighted_pipeline=None, open_deals=2,
        unpriced_deals=1, quota=20000, quota_attainment=1.0, at_or_above_quota=True,
        pipeline_coverage=None, median_cycle_days=95, mean_cycle_days=95,
        sales_velocity=2 * 20000 / 95, opp_to_won_rate=0.0)),
    # Dan (not in the roster, found on deals): won K-13 1000; no open deal -> pipeline 0
    # (he has deals in scope, so 0 is a real zero); no quota -> attainment None.
    # Velocity 0 open deals x 1 x 1000 / 34 = 0. Created in Q2: K-13, won -> 1/1.
    ("2024-Q2", "rep", {}, "Dan Ghost", dict(
        bookings=1000, won_deals=1, lost_deals=0, win_rate=1.0, win_rate_value=1.0,
        avg_deal_size=1000, open_pipeline=0, weighted_pipeline=0, open_deals=0,
        quota=None, quota_attainment=None, at_or_above_quota=None, pipeline_coverage=None,
        median_cycle_days=34, mean_cycle_days=34, sales_velocity=0.0, opp_to_won_rate=1.0)),
    # Eve: in the roster, no deal at all -> empty figures and 0 counts. She has a quota of
    # 10000, so attainment is defined: 0/10000 = 0, below quota; coverage 0 / 10000 = 0.
    ("2024-Q2", "rep", {}, "Eve Quiet", dict(
        NO_DEALS, quota=10000, quota_attainment=0.0, at_or_above_quota=False,
        pipeline_coverage=0.0)),
    # Gus: in the roster, no deal, no quota -> every figure empty, counts 0.
    ("2024-Q2", "rep", {}, "Gus Idle", dict(
        NO_DEALS, quota=None, quota_attainment=None, at_or_above_quota=None,
        pipeline_coverage=None)),
    # Company, Q2: bookings 15400 + 0 + 20000 + 1000 = 36400; won 2 + 1 + 2 + 1 = 6;
    # lost K-03, K-06 = 2. Win rate 6/8 = 0.75; by value 36400 / (36400 + 4000 + 8000).
    # Average over the 4 priced won amounts with an amount: 36400/4 = 9100.
    # Open on 30 June: 10000 + 5250 + 2500 + 2000 = 19750 (K-05 unpriced); weighted and
    # coverage unknown (rebuilt); 5 open deals; unpriced K-05 + K-10 = 2. Quota 15000 +
    # 12000 + 20000 + 10000 = 57000. Cycles 30, 34, 69, 80, 96, 121 -> median
    # (69 + 80)/2 = 74.5, mean 430/6. Velocity 5 x 0.75 x 9100 / (430/6). Created in Q2:
    # K-03, K-04, K-05, K-07, K-08, K-12, K-13 = 7, won K-07 and K-13 -> 2/7.
    ("2024-Q2", "company", {}, "company", dict(
        bookings=36400, won_deals=6, lost_deals=2, win_rate=0.75,
        win_rate_value=36400 / 48400, avg_deal_size=9100, open_pipeline=19750,
        weighted_pipeline=None, open_deals=5, unpriced_deals=2, quota=57000,
        quota_attainment=36400 / 57000, at_or_above_quota=False,
        pipeline_coverage=None, median_cycle_days=74.5, mean_cycle_days=430 / 6,
        sales_velocity=5 * 0.75 * 9100 / (430 / 6), opp_to_won_rate=2 / 7)),
    # Team East = Ann + Bob: bookings 15400; won 3, lost 2 -> 0.6; by value
    # 15400 / (15400 + 12000); average 15400/2 = 7700 (K-07 has no amount).
    # Open 10000 + 5250 = 15250; weighted and coverage unknown (rebuilt); 3 open, 1
    # unpriced. Quota 27000. Cycles 30, 80, 96 -> median 80, mean 206/3.
    ("2024-Q2", "team", {}, "East", dict(
        bookings=15400, won_deals=3, lost_deals=2, win_rate=0.6,
        win_rate_value=15400 / 27400, avg_deal_size=7700, open_pipeline=15250,
        weighted_pipeline=None, open_deals=3, unpriced_deals=1, quota=27000,
        quota_attainment=15400 / 27000, pipeline_coverage=None,
        median_cycle_days=80, mean_cycle_days=206 / 3,
        sales_velocity=3 * 0.6 * 7700 / (206 / 3))),
    # Team West = Cara (+ Eve, Finn, Gus without deals): Cara's deals; quota 20000 + 10000
    # = 30000 -> attainment 20000/30000; coverage: Cara's deals open on 30 June are
    # rebuilt, their expected close dates then unknown -> None.
    ("2024-Q2", "team", {}, "West", dict(
        bookings=20000, won_deals=2, lost_deals=0, quota=30000,
        quota_attainment=20000 / 30000, at_or_above_quota=False, pipeline_coverage=None)),
    # Team unknown (None): Dan's deals, whose owner has no roster team.
    ("2024-Q2", "team", {}, None, dict(bookings=1000, won_deals=1, quota=None)),
    # Region AMER is team West here.
    ("2024-Q2", "region", {}, "AMER", dict(bookings=20000, won_deals=2, quota=30000)),
    # Team filter East, company row: Dan drops out (no team). Same figures as team East.
    ("2024-Q2", "company", {"team": "East"}, "company", dict(
        bookings=15400, won_deals=3, lost_deals=2, quota=27000, unpriced_deals=1)),
    # May 2024, Bob: K-06 lost on 2 May -> bookings 0, win rate 0/1 = 0. His quarterly
    # quota is pro-rated by days: 12000 x 31/91 = 4087.91; attainment 0.
    ("2024-05", "rep", {}, "Bob Stone", dict(
        bookings=0, won_deals=0, lost_deals=1, win_rate=0.0, quota=12000 * 31 / 91,
        quota_attainment=0.0, at_or_above_quota=False)),
    # May 2024, Ann: won K-02 5400 (rate 1.08 on 20 May); quota = the May row, 5000 ->
    # attainment 5400/5000 = 1.08. Open on 31 May: K-03 4000 (lost 10 June) + K-04 10000
    # (USD: no rate needed) + K-05 (GBP, unpriced) = 14000.
    ("2024-05", "rep", {}, "Ann Lee", dict(
        bookings=5400, won_deals=1, lost_deals=0, quota=5000, quota_attainment=1.08,
        at_or_above_quota=True, open_pipeline=14000, open_deals=3)),
    # Q1 2024, Ann: won K-15 1000 EUR on 15 March, before the first EUR rate (1 April) ->
    # unpriced, her only win: 1 won, bookings None (no data), average None. Open on 31
    # March (priced at the Q1 end):
    # K-01 USD 10000 (won 15 April); K-02 EUR, no rate yet -> 2 unpriced. No Q1 quota.
    ("2024-Q1", "rep", {}, "Ann Lee", dict(
        bookings=None, won_deals=1, lost_deals=0, win_rate=1.0, win_rate_value=None,
        avg_deal_size=None, open_pipeline=10000, open_deals=2, unpriced_deals=2, quota=None)),
    # Q1 2024, Bob: nothing closed; open on 31 March: K-06 8000 USD (lost 2 May); K-08 was
    # created in June. No win rate.
    ("2024-Q1", "rep", {}, "Bob Stone", dict(
        bookings=0, won_deals=0, lost_deals=0, win_rate=None, open_pipeline=8000,
        open_deals=1, unpriced_deals=0)),
    # Q1 2024, company: won K-14 500 (Dan) and K-15 (unpriced) -> bookings 500, 2 won;
    # open on 31 March: K-01 10000, K-06 8000, K-09 20000, K-11 2000 = 40000, plus K-02
    # (EUR) and K-10 (JPY) unpriced: 6 deals; unpriced K-15, K-02, K-10 = 3.
    ("2024-Q1", "company", {}, "company", dict(
        bookings=500, won_deals=2, lost_deals=0, win_rate=1.0, open_pipeline=40000,
        open_deals=6, unpriced_deals=3)),
    # January 2023: nothing closed -> no win rate (None, not 0%); bookings 0 because deals
    # were open on 31 January (K-16 700, K-18 1500). K-16 was created in January 2023 and
    # is won now -> 1/1.
    ("2023-01", "company", {}, "company", dict(
        bookings=0, won_deals=0, lost_deals=0, win_rate=None, win_rate_value=None,
        avg_deal_size=None, median_cycle_days=None, opp_to_won_rate=1.0,
        open_pipeline=2200, open_deals=2)),
    # The live quarter (2024-Q3, not over on 15 July): the deals open now, with their
    # stages and expected close dates. Company: K-04 10000 (Trial 60%), K-08 5250 (EUR at
    # the period-end rate 1.05; Discovery 10%), K-12 2500 (Final Decision 80%), K-05 GBP
    # unpriced -> 17750, weighted 6000 + 525 + 2000 = 8525, 4 open. Closing in Q3: K-12
    # 2500 (K-05 unpriced); no quota in Q3 -> coverage None.
    ("2024-Q3", "company", {}, "company", dict(
        open_pipeline=17750, weighted_pipeline=8525, open_deals=4, pipeline_coverage=None)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "by", "filters", "group", "expected"),
    CASES,
    ids=[f"{c[0]}-{c[1]}-{'-'.join(c[2].values()) or 'all'}-{c[3]}" for c in CASES],
)
def test_performance_kpis(
    kpi_db: duckdb.DuckDBPyConnection,
    label: str,
    by: str,
    filters: dict[str, str],
    group: str | None,
    expected: dict[str, Any],
) -> None:
    table = rows(kpi_db, label, by, **filters)
    assert group in table, sorted(map(str, table))
    check(table[group], expected)


def test_columns_follow_the_contract(kpi_db: duckdb.DuckDBPyConnection) -> None:
    """First column named after the grouping, then every KPI_COLUMNS column in order."""
    for by in ("rep", "team", "region", "company"):
        table = kpi_table(kpi_db, Scope(Period.parse("2024-Q2")), by)
        assert list(table.columns[: len(KPI_COLUMNS) + 1]) == [by, *KPI_COLUMNS]
    company = kpi_table(kpi_db, Scope(Period.parse("2024-Q2")), "company")
    assert list(company["company"]) == ["company"]


def test_every_rep_of_the_roster_is_listed(kpi_db: duckdb.DuckDBPyConnection) -> None:
    """The whole roster plus Dan (only on deals) plus None (a lead without an owner)."""
    table = rows(kpi_db, "2024-Q2", "rep")
    assert set(table) == {*ROSTER, "Dan Ghost", None}
    # A period with no data at all still lists every rep of the roster, with 0 counts.
    empty = rows(kpi_db, "2019-01", "rep")
    assert set(ROSTER) <= set(empty)
    assert all(empty[rep]["won_deals"] == 0 and pd.isna(empty[rep]["win_rate"]) for rep in ROSTER)


@pytest.mark.parametrize(
    ("filters", "reps"),
    [
        ({"team": "East"}, {"Ann Lee", "Bob Stone"}),
        ({"region": "AMER"}, {"Cara Diaz", "Eve Quiet", "Finn New", "Gus Idle"}),
        ({"rep": "Dan Ghost"}, {"Dan Ghost"}),  # not in the roster, still selectable
        ({"rep": "Gus Idle"}, {"Gus Idle"}),  # in the roster, no data: one empty row
        ({"team": "East", "region": "AMER"}, set()),
    ],
)
def test_filters_narrow_the_rows(
    kpi_db: duckdb.DuckDBPyConnection, filters: dict[str, str], reps: set[str]
) -> None:
    assert set(rows(kpi_db, "2024-Q2", "rep", **filters)) == reps


def test_company_row_agrees_with_the_headline(kpi_db: duckdb.DuckDBPyConnection) -> None:
    """On USD-only deals (team West) the KPI table and the Overview cards give one answer."""
    scope = Scope(Period.parse("2024-Q2"), team="West")
    cards = headline(kpi_db, scope)
    row = kpi_table(kpi_db, scope, "company").iloc[0]
    # West holds K-10 in JPY: the headline sums it unconverted (3000), the KPI table
    # leaves it out as unpriced. Everything else matches.
    assert row["bookings"] == pytest.approx(cards.bookings - 3000)
    assert row["won_deals"] == cards.won_deals
    assert row["lost_deals"] == cards.lost_deals
    assert row["win_rate"] == pytest.approx(cards.win_rate_count)
    # open figures: the headline's are the deals open now, the KPI table's too for the
    # live quarter (Q2's are the deals open on 30 June: see CASES)
    live = Scope(Period.parse("2024-Q3"), team="West")
    now, row = headline(kpi_db, live), kpi_table(kpi_db, live, "company").iloc[0]
    assert row["open_pipeline"] == pytest.approx(now.open_pipeline)
    assert row["weighted_pipeline"] == pytest.approx(now.weighted_pipeline)


def test_share_of_reps_at_quota(kpi_db: duckdb.DuckDBPyConnection) -> None:
    """Q2: Ann 1.027 and Cara 1.0 reach quota, Eve 0 does not; Bob's attainment is unknown
    (his only win, K-07, has no amount), so he is on neither side -> 2/3.

    Team East: Ann yes, Bob unknown -> 1/1. Region AMER: Cara yes, Eve no -> 1/2. January
    2023: no quota anywhere -> None. Bob alone: no known attainment -> None.
    """
    q2 = Period.parse("2024-Q2")
    assert share_of_reps_at_quota(kpi_db, Scope(q2)) == pytest.approx(2 / 3)
    assert share_of_reps_at_quota(kpi_db, Scope(q2, team="East")) == pytest.approx(1.0)
    assert share_of_reps_at_quota(kpi_db, Scope(q2, rep="Bob Stone")) is None
    assert share_of_reps_at_quota(kpi_db, Scope(q2, region="AMER")) == pytest.approx(0.5)
    assert share_of_reps_at_quota(kpi_db, Scope(q2, rep="Ann Lee")) == pytest.approx(1.0)
    assert share_of_reps_at_quota(kpi_db, Scope(Period.parse("2023-01"))) is None


ATTAINMENT_SCOPES = [
    ("2024-Q2", "rep", {}),
    ("2024-Q2", "team", {}),
    ("2024-Q2", "region", {}),
    ("2024-Q2", "company", {}),
    ("2024-Q2", "rep", {"team": "East"}),
    ("2024-Q2", "rep", {"rep": "Dan Ghost"}),
    ("2024-Q1", "rep", {}),
    ("2024-05", "rep", {"region": "AMER"}),
    ("2023-01", "rep", {}),
]


@pytest.mark.parametrize(("label", "by", "filters"), ATTAINMENT_SCOPES)
def test_attainment_table_equals_the_kpi_table(
    kpi_db: duckdb.DuckDBPyConnection, label: str, by: str, filters: dict[str, str]
) -> None:
    """The quadrant's previous period and the share at quota read attainment_table: its
    figures must be kpi_table's. It lists the roster and the groups with a deal closed in
    the period or a quota; a group kpi_table adds for open or newly created deals only has
    nothing closed and no quota (so no attainment), and bookings, empty there without a
    deal closed in the period, count as 0 towards attainment in both."""
    scope = Scope(Period.parse(label), **filters)
    full = kpi_table(kpi_db, scope, by)
    lean = attainment_table(kpi_db, scope, by)
    assert list(lean.columns) == [by, *ATTAINMENT_COLUMNS]
    listed = full[by].isin(lean[by]) | (full[by].isna() & lean[by].isna().any())
    others = full[~listed]
    assert (others["won_deals"] + others["lost_deals"] == 0).all()
    assert others["quota"].isna().all()
    full = full[listed].reset_index(drop=True)
    assert lean[by].tolist() == full[by].tolist()
    for column in ("won_deals", "lost_deals", "quota", "quota_attainment"):
        assert lean[column].tolist() == pytest.approx(full[column].tolist(), nan_ok=True), column
    closed = full["won_deals"] + full["lost_deals"] > 0
    assert lean["bookings"][closed].tolist() == pytest.approx(
        full["bookings"][closed].tolist(), nan_ok=True
    )
    assert lean["bookings"][~closed].isna().all()
    assert [None if pd.isna(v) else bool(v) for v in lean["at_or_above_quota"]] == list(
        full["at_or_above_quota"]
    )


def test_weighted_pipeline_follows_the_stage_settings(kpi_db: duckdb.DuckDBPyConnection) -> None:
    """Ops set Trial to 50%: Ann's weighted pipeline now (the live quarter) = K-04 10000 x
    0.5 = 5000."""
    stages = [
        Stage(s.name, 50, s.is_closed, s.is_won, s.aliases) if s.name == "Trial" else s
        for s in DEFAULT_STAGES
    ]
    save_stages(kpi_db, stages)
    assert rows(kpi_db, "2024-Q3", "rep")["Ann Lee"]["weighted_pipeline"] == pytest.approx(5000)


def test_reporting_currency_setting(kpi_db: duckdb.DuckDBPyConnection) -> None:
    """Reporting in EUR with only EUR rates on file: EUR deals need no rate, USD ones have
    none. Q2 company: bookings = K-02 5000 EUR as is; open on 30 June = K-08 5000 EUR.
    Unpriced, with an amount, closed in Q2 or open on 30 June: K-01, K-03, K-04, K-05,
    K-06, K-09, K-10, K-11, K-12, K-13 = 10 (K-07 has no amount, so nothing to price).
    Counts are unchanged: 6 won, 2 lost.
    """
    save_reporting_currency(kpi_db, "eur")
    row = rows(kpi_db, "2024-Q2", "company")["company"]
    check(row, dict(bookings=5000, open_pipeline=5000, unpriced_deals=10, won_deals=6,
                    lost_deals=2, win_rate=0.75))  # fmt: skip


def test_unknown_grouping_is_refused(kpi_db: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="grouping"):
        kpi_table(kpi_db, Scope(Period.parse("2024-Q2")), "manager")


def test_values_are_bound_not_formatted(kpi_db: duckdb.DuckDBPyConnection) -> None:
    """A team name with quotes and SQL in it is just a name that matches nobody."""
    table = kpi_table(kpi_db, Scope(Period.parse("2024-Q2"), team="East' OR '1'='1"), "rep")
    assert table.empty


def test_kpi_definitions_match_the_docs() -> None:
    """KPI_COLUMNS is the heading text of docs/metrics.md, one heading per column."""
    docs = (Path(__file__).resolve().parent.parent / "docs" / "metrics.md").read_text("utf-8")
    headings = dict(re.findall(r"^### `(\w+)`: (.+)$", docs, flags=re.MULTILINE))
    assert headings == KPI_COLUMNS


def test_demo_eur_deals_are_all_priced(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """The demo ships monthly EUR rates from before its first deal: nothing is unpriced.

    Only the rates and the latest weekly export are imported (the rest of the demo does
    not change a price); every quarter of the demo's two years is checked.
    """
    from analytics.demo import DEFAULT_ANCHOR, write_demo_files

    files = write_demo_files(tmp_path / "demo", anchor=DEFAULT_ANCHOR)
    latest = max((f for f in files if f.kind == "opportunities"), key=lambda f: f.as_of)
    rates = next(f for f in files if f.kind == "fx_rates")
    for f in (rates, latest):
        result = import_file(con, f.path, kind=f.kind, as_of=f.as_of, data_dir=tmp_path)
        assert result.status == "loaded", result.message
    eur = con.execute("SELECT count(*) FROM opportunities WHERE currency = 'EUR'").fetchone()[0]
    assert eur > 0
    period = Period.containing(DEFAULT_ANCHOR, "quarter")
    for _ in range(9):
        row = kpi_table(con, Scope(period), "company").iloc[0]
        assert row["unpriced_deals"] == 0, period.label
        period = period.previous()


TREND_CASES = [
    (("2024-Q2", "2024-Q1", "2023-Q2", "2024-Q3"), "rep", {}),
    (("2024-Q2", "2024-Q1", "2023-Q2"), "company", {}),
    (("2024-06", "2024-05", "2024-04", "2023-06"), "team", {}),
    (("2024-Q2", "2023-Q4"), "rep", {"team": "East"}),
    (("2024", "2023"), "region", {}),
]


@pytest.mark.parametrize(("labels", "by", "filters"), TREND_CASES)
def test_kpi_tables_equal_one_kpi_table_per_period(
    kpi_db: duckdb.DuckDBPyConnection, labels: tuple[str, ...], by: str, filters: dict[str, str]
) -> None:
    """The Overview trend asks for several periods in one go: each period's rows must be
    exactly what kpi_table gives for that period alone (open deals priced at each period's
    end, pipeline closing in each period, quotas pro-rated to each)."""
    periods = [Period.parse(label) for label in labels]
    scope = Scope(periods[0], **filters)
    together = kpi_tables(kpi_db, scope, periods, by)
    assert list(together.columns) == ["period", *kpi_table(kpi_db, scope, by).columns]
    order = [labels.index(label) for label in together["period"]]
    assert order == sorted(order)  # rows follow the periods' order
    for period in periods:
        alone = kpi_table(kpi_db, scope.with_period(period), by)
        part = together[together["period"] == period.label].drop(columns="period")
        part = part.reset_index(drop=True)
        assert part[by].tolist() == alone[by].tolist(), period.label
        for column in alone.columns[1:]:
            got, want = part[column].tolist(), alone[column].tolist()
            if column == "at_or_above_quota":
                assert got == want, (period.label, column)
            else:
                assert got == pytest.approx(want, nan_ok=True), (period.label, column)
    shares = share_of_reps_at_quota_by_period(kpi_db, scope, periods)
    alone_shares = {p.label: share_of_reps_at_quota(kpi_db, scope.with_period(p)) for p in periods}
    assert shares == alone_shares


def test_kpi_tables_refuse_overlapping_periods(kpi_db: duckdb.DuckDBPyConnection) -> None:
    q2 = Period.parse("2024-Q2")
    with pytest.raises(ValueError, match="overlap"):
        kpi_tables(kpi_db, Scope(q2), [q2, Period.parse("2024-05")], "rep")
