"""Headline figures against a hand-made fixture, every number worked out by hand below.

tests/data/headline_opps.csv (imported through the real importer, as ops would):

    id     owner      stage (canonical, prob.)       amount  close
    O-001  Ann Lee    Closed Won                      10000  2024-04-15
    O-002  Ann Lee    Closed Won                       5000  2024-05-20
    O-003  Bob Stone  Closed Lost                      8000  2024-05-02
    O-004  Cara Diaz  Closed Won                      20000  2024-06-30  last day of Q2
    O-005  Cara Diaz  Closed Lost                      2000  2024-07-01  first day of Q3
    O-006  Bob Stone  Closed Won                       3000  2024-03-31  last day of Q1
    O-007  Ann Lee    Closed Lost                      4000  2024-02-10
    O-008  Dan Ghost  Closed Won                       1000  2024-05-05  owner not in reps
    O-009  Ann Lee    Trial 60% (file says 90)        10000  open
    O-010  Bob Stone  Discovery 10% (file says 50)     5000  open
    O-011  Cara Diaz  "Negotiation/Review" = Final Decision 80%   2500  open
    O-012  Dan Ghost  Demo 40%                         1000  open

tests/data/headline_reps.csv: Ann Lee and Bob Stone are team East / region EMEA, Cara Diaz
is team West / region AMER; Dan Ghost is missing from the roster.

Open pipeline (any period, all reps): 10000 + 5000 + 2500 + 1000 = 18500, 4 deals;
weighted with the settings' probabilities (not the file's):
10000*0.6 + 5000*0.1 + 2500*0.8 + 1000*0.4 = 6000 + 500 + 2000 + 400 = 8900.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest

from analytics import db
from analytics.ingest import import_file
from analytics.metrics.headline import headline, headline_with_previous, monthly_bookings
from analytics.scope import Period, Scope
from analytics.settings import DEFAULT_STAGES, Stage, save_stages

FIXTURES = Path(__file__).resolve().parent / "data"
AS_OF = date(2024, 7, 15)  # the export's as-of date: after every close date in the file

ALL_OPEN = {"open_pipeline": 18500, "weighted_pipeline": 8900, "open_deals": 4}

# (period, fiscal start, filters, expected figures) -- the arithmetic is in each comment.
CASES = [
    # 2024-Q2, everyone: won O-001 10000, O-002 5000, O-004 20000, O-008 1000 -> 36000 (4);
    # lost O-003 8000 (1). Win rate 4/5 = 0.8; by value 36000/(36000+8000) = 0.8181...;
    # average deal 36000/4 = 9000. O-005 (1 July) and O-006 (31 March) are outside.
    ("2024-Q2", 1, {}, dict(bookings=36000, won_deals=4, lost_deals=1, win_rate_count=0.8,
      win_rate_value=36000 / 44000, avg_deal_size=9000, **ALL_OPEN)),
    # Fiscal year starting in April: FY2025-Q1 is April-June 2024, the same deals as above.
    ("FY2025-Q1", 4, {}, dict(bookings=36000, won_deals=4, lost_deals=1, win_rate_count=0.8,
      win_rate_value=36000 / 44000, avg_deal_size=9000, **ALL_OPEN)),
    # 2024-Q1: won O-006 3000 (closed on 31 March, still Q1); lost O-007 4000.
    # Win rate 1/2; by value 3000/7000; average 3000.
    ("2024-Q1", 1, {}, dict(bookings=3000, won_deals=1, lost_deals=1, win_rate_count=0.5,
      win_rate_value=3000 / 7000, avg_deal_size=3000, **ALL_OPEN)),
    # Team East (Ann, Bob), Q2: won O-001 + O-002 = 15000 (2); lost O-003 8000.
    # Win rate 2/3; by value 15000/23000; average 7500. Dan Ghost's O-008 drops out (no team).
    # Open: O-009 10000 + O-010 5000 = 15000; weighted 6000 + 500 = 6500; 2 deals.
    ("2024-Q2", 1, {"team": "East"}, dict(bookings=15000, won_deals=2, lost_deals=1,
      win_rate_count=2 / 3, win_rate_value=15000 / 23000, avg_deal_size=7500,
      open_pipeline=15000, weighted_pipeline=6500, open_deals=2)),
    # Region AMER (Cara), Q2: won O-004 20000; O-005 is lost on 1 July, outside Q2.
    # Win rate 1/1 = 1.0 both ways; open O-011 2500, weighted 2500 * 0.8 = 2000.
    ("2024-Q2", 1, {"region": "AMER"}, dict(bookings=20000, won_deals=1, lost_deals=0,
      win_rate_count=1.0, win_rate_value=1.0, avg_deal_size=20000, open_pipeline=2500,
      weighted_pipeline=2000, open_deals=1)),
    # Rep Bob, Q2: nothing won, O-003 lost -> win rate 0/1 = 0.0 (a real zero, not None);
    # by value 0/8000 = 0.0; no won deal -> average None. Open O-010 5000, weighted 500.
    ("2024-Q2", 1, {"rep": "Bob Stone"}, dict(bookings=0, won_deals=0, lost_deals=1,
      win_rate_count=0.0, win_rate_value=0.0, avg_deal_size=None, open_pipeline=5000,
      weighted_pipeline=500, open_deals=1)),
    # Rep missing from the roster still counts when filtered by name: O-008 1000 won.
    ("2024-Q2", 1, {"rep": "Dan Ghost"}, dict(bookings=1000, won_deals=1, lost_deals=0,
      win_rate_count=1.0, win_rate_value=1.0, avg_deal_size=1000, open_pipeline=1000,
      weighted_pipeline=400, open_deals=1)),
    # May 2024: won O-002 5000 + O-008 1000 = 6000 (2); lost O-003 8000.
    # Win rate 2/3; by value 6000/14000; average 3000.
    ("2024-05", 1, {}, dict(bookings=6000, won_deals=2, lost_deals=1, win_rate_count=2 / 3,
      win_rate_value=6000 / 14000, avg_deal_size=3000, **ALL_OPEN)),
    # Year 2024: won 10000 + 5000 + 20000 + 3000 + 1000 = 39000 (5); lost 8000 + 2000 + 4000
    # = 14000 (3). Win rate 5/8 = 0.625; by value 39000/53000; average 39000/5 = 7800.
    ("2024", 1, {}, dict(bookings=39000, won_deals=5, lost_deals=3, win_rate_count=0.625,
      win_rate_value=39000 / 53000, avg_deal_size=7800, **ALL_OPEN)),
    # January 2023: no deal closed -> win rates and average are None, not 0; bookings 0.
    ("2023-01", 1, {}, dict(bookings=0, won_deals=0, lost_deals=0, win_rate_count=None,
      win_rate_value=None, avg_deal_size=None, **ALL_OPEN)),
    # Team East and region AMER together match nobody: every closed figure empty, no pipeline.
    ("2024-Q2", 1, {"team": "East", "region": "AMER"}, dict(bookings=0, won_deals=0,
      lost_deals=0, win_rate_count=None, win_rate_value=None, avg_deal_size=None,
      open_pipeline=0, weighted_pipeline=0, open_deals=0)),
]  # fmt: skip


def load_headline(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """Roster and deals imported through the real importer, exactly as ops would load them."""
    for name in ("headline_reps.csv", "headline_opps.csv"):
        result = import_file(con, FIXTURES / name, as_of=AS_OF, data_dir=folder)
        assert result.ok, result.message
        assert result.rows_rejected == 0, result.message


@pytest.fixture
def loaded(db_path: Path, db_template: Callable[..., Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    """The import above, done once per test process and copied for this test (conftest
    `db_template`): a private file the test may change."""
    connection = db.connect(db_template("test_headline.loaded", load_headline, db_path))
    yield connection
    connection.close()


@pytest.mark.parametrize(
    ("label", "fiscal", "filters", "expected"),
    CASES,
    ids=[f"{c[0]}-{'-'.join(c[2].values()) or 'all'}" for c in CASES],
)
def test_headline_figures(
    loaded: duckdb.DuckDBPyConnection,
    label: str,
    fiscal: int,
    filters: dict[str, str],
    expected: dict[str, float | None],
) -> None:
    figures = headline(loaded, Scope(Period.parse(label, fiscal), **filters))
    for name, value in expected.items():
        got = getattr(figures, name)
        if value is None:
            assert got is None, name
        else:
            assert got == pytest.approx(value), name
    assert figures.currencies == (("USD",) if figures.closed_deals or figures.open_deals else ())


def test_previous_period_and_deltas(loaded: duckdb.DuckDBPyConnection) -> None:
    """Q2 against Q1: bookings 36000 - 3000 = +33000; win rate 0.8 - 0.5 = +0.3."""
    cmp = headline_with_previous(loaded, Scope(Period.parse("2024-Q2")))
    assert cmp.previous.period.label == "2024-Q1"
    assert cmp.delta("bookings") == pytest.approx(33000)
    assert cmp.delta("won_deals") == 3
    assert cmp.delta("win_rate_count") == pytest.approx(0.3)
    # Pipeline is a "now" figure: the previous period has none, so no misleading delta.
    assert cmp.previous.open_pipeline is None
    assert cmp.delta("open_pipeline") is None


@pytest.mark.parametrize(
    ("label", "filters"),
    [
        ("2024-Q2", {}),
        ("2024-Q3", {}),
        ("2024-05", {"team": "East"}),
        ("2024", {"rep": "Dan Ghost"}),
        ("2024-Q2", {"region": "AMER"}),
    ],
)
def test_one_scan_equals_two_headlines(
    loaded: duckdb.DuckDBPyConnection, label: str, filters: dict[str, str]
) -> None:
    """headline_with_previous reads both periods in one scan: each side must equal the
    headline of its own period (the previous one without the "now" pipeline figures)."""
    scope = Scope(Period.parse(label), **filters)
    cmp = headline_with_previous(loaded, scope)
    assert cmp.current == headline(loaded, scope)
    assert cmp.previous == headline(loaded, scope.previous(), include_pipeline=False)


def test_delta_against_empty_period_is_none(loaded: duckdb.DuckDBPyConnection) -> None:
    """2023-11 had no closed deal: its win rate is None, so the delta is None too."""
    cmp = headline_with_previous(loaded, Scope(Period.parse("2023-12")))
    assert cmp.delta("win_rate_count") is None
    assert cmp.delta("bookings") == 0


def test_weighted_pipeline_follows_settings(loaded: duckdb.DuckDBPyConnection) -> None:
    """Ops set Trial to 50%: weighted = 10000*0.5 + 500 + 2000 + 400 = 7900."""
    stages = [
        Stage(s.name, 50, s.is_closed, s.is_won, s.aliases) if s.name == "Trial" else s
        for s in DEFAULT_STAGES
    ]
    save_stages(loaded, stages)
    figures = headline(loaded, Scope(Period.parse("2024-Q2")))
    assert figures.weighted_pipeline == pytest.approx(7900)
    assert figures.open_pipeline == pytest.approx(18500)


def test_monthly_bookings(loaded: duckdb.DuckDBPyConnection) -> None:
    """12 months up to June 2024, starting where the data starts: the first deal (O-007) was
    created on 2023-11-20, so July-October 2023 are left out rather than drawn as 0.
    March 3000 (O-006), April 10000, May 6000, June 20000."""
    trend = monthly_bookings(loaded, Scope(Period.parse("2024-Q2")))
    assert len(trend) == 8
    assert trend["month"].iloc[0].strftime("%Y-%m") == "2023-11"
    by_month = {
        (m.year, m.month): b for m, b in zip(trend["month"], trend["bookings"], strict=True)
    }
    assert by_month[(2023, 11)] == 0
    assert (2023, 10) not in by_month
    assert by_month[(2024, 3)] == 3000
    assert by_month[(2024, 4)] == 10000
    assert by_month[(2024, 5)] == 6000
    assert by_month[(2024, 6)] == 20000
    east = monthly_bookings(loaded, Scope(Period.parse("2024-06"), team="East"), months=3)
    assert list(east["bookings"]) == [10000, 5000, 0]  # April O-001, May O-002, June none
