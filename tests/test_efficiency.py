"""Efficiency KPIs (kpi_table) against the hand-made kpi_*.csv fixture, worked out by hand.

The deals, roster and rates are described in tests/test_performance.py. The period is
2024-Q2 (2024-04-01 00:00 .. 2024-06-30 23:59:59) unless a case says otherwise.

kpi_activities.csv (default categories: call, email, meeting, demo customer-facing;
admin, training, internal meeting internal; call, email, meeting prospecting; meeting =
a meeting set; anything else, e.g. "lunch", is neither):

    id   owner  type              start             min  deal  note
    A01  Ann    call              2024-04-02 09:00   30  K-01
    A02  Ann    email             2024-04-03 10:00   10  K-01
    A03  Ann    meeting           2024-04-05 14:00   60  K-01
    A04  Ann    demo              2024-04-08 11:00   45  K-01
    A05  Ann    call              2024-04-12 09:00   20  K-01
    A06  Ann    call              2024-04-16 09:00   15  K-01  after K-01 closed (15 Apr)
    A07  Ann    email             2024-05-10 08:00    5  K-02
    A08  Ann    admin             2024-05-11 08:00   90
    A09  Ann    training          2024-06-03 09:00  120
    A10  Ann    meeting           2024-03-20 10:00   60  K-01  Q1: a touch, not Q2 activity
    A11  Ann    lunch             2024-05-15 12:00   60        in no category
    A12  Ann    call              2024-06-10 09:00    -        no duration
    B01  Bob    internal meeting  2024-04-10 10:00   60
    B02  Bob    admin             2024-04-11 10:00   60
    B03  Bob    call              2024-05-07 10:00   30  K-07
    B04  Bob    call              2024-06-05 17:00   10  K-07  on K-07's close day: a touch
    B05  Bob    meeting           2024-06-10 10:00   30  K-07  after the close
    E01  Eve    admin             2024-05-02 09:00   30        internal only
    F01  Finn   call              2024-04-01 00:00   10        first minute of Q2
    F02  Finn   email             2024-06-30 23:59    5        last minute of Q2
    F03  Finn   call              2024-07-01 00:00   10        Q3

kpi_leads.csv (response = first_response_at - created_at, in minutes):

    L-01 Finn  2024-04-01 00:00  3 min     converted to K-04
    L-02 Finn  2024-05-10 09:00  5 min     (exactly 5: inside the 5-minute band)
    L-03 Finn  2024-05-11 09:00  60 min    converted (converted_at, no opportunity id)
    L-04 Finn  2024-06-01 12:00  1440 min  (exactly one day)
    L-05 Finn  2024-06-20 08:00  7200 min
    L-06 Finn  2024-06-30 23:00  no response yet
    L-07 Finn  2024-03-31 23:59  Q1
    L-08 Ann   2024-04-10 10:00  response logged 10 minutes *before* creation -> 0 min
    L-09 (no owner) 2024-05-01   no response

Percentiles interpolate linearly (quantile_cont): the p90 of n sorted values sits at
position (n - 1) x 0.9.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from analytics import db
from analytics.ingest import import_file
from analytics.metrics.kpis import kpi_table
from analytics.scope import Period, Scope
from analytics.settings import (
    DEFAULT_ACTIVITY_CATEGORIES,
    ActivityCategory,
    load_activity_categories,
    save_activity_categories,
)

FIXTURES = Path(__file__).resolve().parent / "data"
AS_OF = date(2024, 7, 15)
KPI_FILES = ("reps", "opps", "quotas", "fx_rates", "activities", "leads")


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
    con = db.connect(db_template("test_efficiency.kpi_db", load_kpi_files, db_path))
    yield con
    con.close()


def rows(con: duckdb.DuckDBPyConnection, label: str, by: str, **filters: str) -> dict:
    """kpi_table as {group key: {column: value}}; a NaN key is written as None."""
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
        else:
            assert got[name] == pytest.approx(value), (name, got[name])


NO_LEADS = dict(
    leads=0, lead_to_opp_rate=None, lead_response_median_minutes=None,
    lead_response_p90_minutes=None, lead_sla_5min_share=None, lead_sla_1h_share=None,
    lead_sla_1day_share=None,
)  # fmt: skip

# (period, by, filters, group, expected) -- the arithmetic is in each comment.
CASES = [
    # Ann, Q2 activities A01-A09, A11, A12 (A10 is in March).
    # Customer-facing minutes: calls 30 + 20 + 15 (A12 has none) + emails 10 + 5 +
    # meeting 60 + demo 45 = 185; internal: admin 90 + training 120 = 210; lunch in
    # neither. Selling time 185 / (185 + 210) = 185/395.
    # Prospecting: calls A01, A05, A06, A12 + emails A02, A07 + meeting A03 = 7; meetings 1
    # -> 1/7. Touches of her Q2 wins: K-01 = A10, A01-A05 = 6 (A06 came after the close);
    # K-02 = A07 = 1 -> per deal (6 + 1)/2 = 3.5; 5 or more: K-01 only -> 1/2.
    # Leads: L-08 answered "before" creation -> 0 min: median 0, p90 0, every band 1/1.
    ("2024-Q2", "rep", {}, "Ann Lee", dict(
        selling_time_share=185 / 395, meeting_ratio=1 / 7, touches_per_deal=3.5,
        won_5plus_touches_share=0.5, leads=1, lead_to_opp_rate=0.0,
        lead_response_median_minutes=0, lead_response_p90_minutes=0,
        lead_sla_5min_share=1.0, lead_sla_1h_share=1.0, lead_sla_1day_share=1.0)),
    # Bob: customer-facing calls 30 + 10 + meeting 30 = 70; internal 60 + 60 = 120 ->
    # 70/190. Prospecting B03, B04, B05 = 3, meetings 1 -> 1/3. K-07's touches: B03 and
    # B04 (on the close day) = 2 -> 2 per deal, none with 5+ -> 0.
    ("2024-Q2", "rep", {}, "Bob Stone", dict(
        selling_time_share=70 / 190, meeting_ratio=1 / 3, touches_per_deal=2.0,
        won_5plus_touches_share=0.0, **NO_LEADS)),
    # Cara logged nothing: no selling time, no meeting ratio (None, not 0). Her Q2 wins
    # K-09 and K-10 have no linked activity -> 0 touches each: 0 per deal, share 0.
    ("2024-Q2", "rep", {}, "Cara Diaz", dict(
        selling_time_share=None, meeting_ratio=None, touches_per_deal=0.0,
        won_5plus_touches_share=0.0, **NO_LEADS)),
    # Eve: only admin -> selling time 0/30 = 0 (a real zero); no prospecting -> None.
    ("2024-Q2", "rep", {}, "Eve Quiet", dict(
        selling_time_share=0.0, meeting_ratio=None, touches_per_deal=None,
        won_5plus_touches_share=None, **NO_LEADS)),
    # Finn: F01 (first minute) and F02 (last minute) count, F03 (1 July) does not:
    # customer-facing 15, internal 0 -> 1.0; prospecting 2, meetings 0 -> 0.
    # Leads L-01 .. L-06 (L-07 is in March) = 6; converted L-01 (opportunity) and L-03
    # (converted_at only) -> 2/6. Answered: 3, 5, 60, 1440, 7200 -> median 60; p90 at
    # position 4 x 0.9 = 3.6: 1440 + 0.6 x (7200 - 1440) = 4896. Bands over all 6 leads
    # (L-06, unanswered, misses every band): <= 5 min: 3, 5 -> 2/6; <= 1 h: 3/6;
    # <= 1 day: 4/6.
    ("2024-Q2", "rep", {}, "Finn New", dict(
        selling_time_share=1.0, meeting_ratio=0.0, touches_per_deal=None, leads=6,
        lead_to_opp_rate=2 / 6, lead_response_median_minutes=60,
        lead_response_p90_minutes=4896, lead_sla_5min_share=2 / 6,
        lead_sla_1h_share=3 / 6, lead_sla_1day_share=4 / 6)),
    # Gus: nothing logged at all -> every efficiency figure empty, leads 0.
    ("2024-Q2", "rep", {}, "Gus Idle", dict(
        selling_time_share=None, meeting_ratio=None, touches_per_deal=None,
        won_5plus_touches_share=None, **NO_LEADS)),
    # Dan: won K-13 without activities -> 0 touches.
    ("2024-Q2", "rep", {}, "Dan Ghost", dict(touches_per_deal=0.0, **NO_LEADS)),
    # The lead without an owner lands on the None row.
    ("2024-Q2", "rep", {}, None, dict(leads=1, lead_to_opp_rate=0.0,
      lead_response_median_minutes=None, lead_sla_1day_share=0.0)),
    # Company: customer-facing 185 + 70 + 15 = 270; internal 210 + 120 + 30 = 360 ->
    # 270/630. Prospecting 7 + 3 + 2 = 12, meetings 2 -> 1/6.
    # Q2 wins K-01 6, K-02 1, K-07 2, K-09 0, K-10 0, K-13 0 -> 9/6 = 1.5; 5+: 1/6.
    # Leads: Finn 6 + Ann 1 + L-09 = 8; converted 2 -> 2/8. Answered 0, 3, 5, 60, 1440,
    # 7200 -> median (5 + 60)/2 = 32.5; p90 at 5 x 0.9 = 4.5: 1440 + 0.5 x 5760 = 4320.
    # Bands over 8: <= 5 min 0, 3, 5 -> 3/8; <= 1 h 4/8; <= 1 day 5/8.
    ("2024-Q2", "company", {}, "company", dict(
        selling_time_share=270 / 630, meeting_ratio=2 / 12, touches_per_deal=1.5,
        won_5plus_touches_share=1 / 6, leads=8, lead_to_opp_rate=2 / 8,
        lead_response_median_minutes=32.5, lead_response_p90_minutes=4320,
        lead_sla_5min_share=3 / 8, lead_sla_1h_share=4 / 8, lead_sla_1day_share=5 / 8)),
    # Team East (Ann, Bob): selling (185 + 70) / (185 + 70 + 210 + 120) = 255/585;
    # meetings 2 / prospecting 10; touches (6 + 1 + 2)/3 = 3; 5+: 1/3; leads: L-08 only.
    ("2024-Q2", "team", {}, "East", dict(
        selling_time_share=255 / 585, meeting_ratio=2 / 10, touches_per_deal=3.0,
        won_5plus_touches_share=1 / 3, leads=1)),
    # Team West (Cara, Eve, Finn, Gus): selling 15 / (15 + 30) = 1/3; meetings 0/2;
    # touches K-09, K-10: 0; leads Finn's 6.
    ("2024-Q2", "team", {}, "West", dict(
        selling_time_share=15 / 45, meeting_ratio=0.0, touches_per_deal=0.0, leads=6,
        lead_response_median_minutes=60)),
    # March 2024, Ann: only A10 (meeting, 60 min) -> selling 60/60 = 1, meetings 1/1.
    # Q1 wins: K-15 without activities -> 0 touches.
    ("2024-03", "rep", {}, "Ann Lee", dict(
        selling_time_share=1.0, meeting_ratio=1.0, touches_per_deal=0.0)),
    # July 2024, Finn: F03 only -> selling 1.0, no leads.
    ("2024-07", "rep", {}, "Finn New", dict(selling_time_share=1.0, **NO_LEADS)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "by", "filters", "group", "expected"),
    CASES,
    ids=[f"{c[0]}-{c[1]}-{'-'.join(c[2].values()) or 'all'}-{c[3]}" for c in CASES],
)
def test_efficiency_kpis(
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


def test_activity_categories_follow_settings(kpi_db: duckdb.DuckDBPyConnection) -> None:
    """Ops decide e-mails are not selling time and lunch is internal.

    Ann: customer-facing 185 - 15 (emails) = 170; internal 210 + 15 + 60 (lunch) = 285
    -> 170/455. Emails stay prospecting: the meeting ratio is still 1/7.
    """
    categories = [
        ActivityCategory("email", internal=True, prospecting=True)
        if c.activity_type == "email"
        else c
        for c in DEFAULT_ACTIVITY_CATEGORIES
    ] + [ActivityCategory("Lunch", internal=True)]
    save_activity_categories(kpi_db, categories)
    assert load_activity_categories(kpi_db)[-1].activity_type == "lunch"
    ann = rows(kpi_db, "2024-Q2", "rep")["Ann Lee"]
    check(ann, dict(selling_time_share=170 / 455, meeting_ratio=1 / 7))


@pytest.mark.parametrize(
    ("categories", "problem"),
    [
        ([ActivityCategory("call", customer_facing=True, internal=True)], "cannot be"),
        ([ActivityCategory("call"), ActivityCategory("Call")], "twice"),
        ([ActivityCategory("meeting", meeting=True)], "must be prospecting"),
        ([ActivityCategory(" ")], "no activity type"),
    ],
)
def test_invalid_activity_categories_are_refused(
    con: duckdb.DuckDBPyConnection, categories: list[ActivityCategory], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        save_activity_categories(con, categories)


def test_no_categories_means_no_efficiency_shares(kpi_db: duckdb.DuckDBPyConnection) -> None:
    """An empty category list classifies nothing: shares are empty, counts still 0-based."""
    save_activity_categories(kpi_db, [])
    ann = rows(kpi_db, "2024-Q2", "rep")["Ann Lee"]
    check(ann, dict(selling_time_share=None, meeting_ratio=None, touches_per_deal=3.5))
