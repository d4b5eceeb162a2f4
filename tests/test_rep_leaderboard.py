"""What the Reps page used to shape itself, now in analytics: the leaderboard, the points the
quadrant chart draws and the count per quadrant under it (issue 16, item 6).

The book is tests/test_quadrant.py's hand-made one (2024-Q2 against 2024-Q1, a quota of
10,000 per rep and quarter), imported through the real importer into a DuckDB file, with
four additions worked out by hand below:

    Bob Stone   an open 20,000 deal (Demo): the largest open pipeline, Ann's 5,000 is 1/4 of it
    Zed Roe     not on the roster (no team); Q1 won 5,000 (50%), Q2 won 3 x 4,000 = 12,000
                (120%, +70 pp, 3 closed): a rising star, tied on bookings with Bob
    (no owner)  a 1,000 win in Q2 without an owner: on the board, not in the quadrant
    Max Boss    on the roster, sells nothing: last, no bookings, no quadrant
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_quadrant import AS_OF, Q2, write_fixture

from analytics import db
from analytics.ingest import import_file
from analytics.metrics.kpis import kpi_table
from analytics.quadrant import (
    DECLINING_LAGGARD,
    FALLING_STAR,
    IMPROVING_LAGGARD,
    RISING_STAR,
    placed_points,
    quadrant,
    quadrant_counts,
    roster,
)
from analytics.scorecard import NO_OWNER, leaderboard

NO_TEAM = "(no team)"
EXTRA_DEALS = [
    "Q-901,Big one,Acme,Bob Stone,Demo,20000,USD,2024-06-01,2024-09-30",
    "Q-902,Z1,Zinc,Zed Roe,Closed Won,5000,USD,2023-12-01,2024-02-01",
    "Q-903,Z2,Zinc,Zed Roe,Closed Won,4000,USD,2024-03-01,2024-04-05",
    "Q-904,Z3,Zinc,Zed Roe,Closed Won,4000,USD,2024-03-01,2024-05-05",
    "Q-905,Z4,Zinc,Zed Roe,Closed Won,4000,USD,2024-03-01,2024-06-05",
    "Q-906,Nobody's,Nil,,Closed Won,1000,USD,2024-03-01,2024-05-06",
]
ZED_QUOTAS = "Zed Roe,2024-01-01,2024-03-31,10000\nZed Roe,2024-04-01,2024-06-30,10000\n"

# position on the board: (rep, team, quadrant, low sample, Q2 bookings); None = empty cell
BOARD = [
    (0, "Eve Moss", "West", RISING_STAR, True, 30000.0),
    (1, "Ann Lee", "East", RISING_STAR, False, 15000.0),
    (2, "Bob Stone", "East", FALLING_STAR, False, 12000.0),  # tie with Zed: board order
    (3, "Zed Roe", None, RISING_STAR, False, 12000.0),
    (4, "Cara Diaz", "West", IMPROVING_LAGGARD, False, 6000.0),
    (5, "Dan Ghost", "West", DECLINING_LAGGARD, False, 4000.0),
    (6, NO_OWNER, None, None, None, 1000.0),
    (7, "Max Boss", "East", None, None, None),  # no bookings: last
]
# rep: (legend label, open pipeline / the largest, 20,000)
POINTS = {
    "Ann Lee": ("East", 0.25),
    "Bob Stone": ("East", 1.0),
    "Cara Diaz": ("West", 0.0),
    "Dan Ghost": ("West", 0.0),
    "Eve Moss": ("West", 0.0),
    "Zed Roe": (NO_TEAM, 0.0),
}


def load_book(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """The quadrant fixture plus the extra deals and Zed's quotas, through the real importer."""
    files = write_fixture(folder / "files")
    for path, kind in files:
        if kind == "opportunities":
            path.write_text(path.read_text("utf-8") + "\n".join(EXTRA_DEALS) + "\n", "utf-8")
        if kind == "quotas":
            path.write_text(path.read_text("utf-8") + ZED_QUOTAS, "utf-8")
    for path, kind in files:
        result = import_file(con, path, kind=kind, as_of=AS_OF, data_dir=folder)
        assert result.ok, result.message


@pytest.fixture
def book(db_path: Path, db_template: Callable[..., Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    """`load_book`, done once per test process and copied for this test (conftest
    `db_template`): a private file the test may change."""
    connection = db.connect(db_template("test_rep_leaderboard.book", load_book, db_path))
    yield connection
    connection.close()


def _cell(value: object) -> object:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


@pytest.mark.parametrize(("position", "rep", "team", "where", "low", "bookings"), BOARD)
def test_leaderboard_by_hand(
    book: duckdb.DuckDBPyConnection,
    position: int,
    rep: str,
    team: str | None,
    where: str | None,
    low: bool | None,
    bookings: float | None,
) -> None:
    board = leaderboard(kpi_table(book, Q2, "rep"), quadrant(book, Q2), roster(book))
    assert list(board["rep"]) == [r[1] for r in BOARD]
    assert list(board.columns[:5]) == ["rep", "team", "quadrant", "low_sample", "bookings"]
    row = board.iloc[position]
    assert row["rep"] == rep
    assert _cell(row["team"]) == team
    assert _cell(row["quadrant"]) == where
    assert _cell(row["low_sample"]) == low
    assert _cell(row["bookings"]) == (None if bookings is None else pytest.approx(bookings))


@pytest.mark.parametrize(("rep", "label", "share"), [(r, *v) for r, v in POINTS.items()])
def test_placed_points_by_hand(
    book: duckdb.DuckDBPyConnection, rep: str, label: str, share: float
) -> None:
    points = placed_points(quadrant(book, Q2), NO_TEAM).set_index("rep")
    assert sorted(points.index) == sorted(POINTS)  # Max Boss and the ownerless deal: not placed
    assert points.loc[rep, "team_label"] == label
    assert points.loc[rep, "pipeline_share"] == pytest.approx(share)


def test_quadrant_counts_by_hand(book: duckdb.DuckDBPyConnection) -> None:
    assert quadrant_counts(quadrant(book, Q2)) == {
        RISING_STAR: 3, FALLING_STAR: 1, IMPROVING_LAGGARD: 1, DECLINING_LAGGARD: 1,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("pipelines", "shares"),
    [
        ([5000.0, 20000.0], [0.25, 1.0]),
        ([None, 400.0], [0.0, 1.0]),  # missing counts 0
        ([-300.0, 100.0], [0.0, 1.0]),  # a negative amount (a credit) counts 0
        ([0.0, None], [0.0, 0.0]),  # nobody has any: all 0, never 0/0
    ],
)
def test_pipeline_share_edges(pipelines: list[float | None], shares: list[float]) -> None:
    q = pd.DataFrame(
        {"rep": ["A", "B"], "team": [None, "T"], "quadrant": [RISING_STAR, FALLING_STAR],
         "open_pipeline": pipelines}
    )  # fmt: skip
    points = placed_points(q, NO_TEAM)
    assert list(points["pipeline_share"]) == pytest.approx(shares)
    assert list(points["team_label"]) == [NO_TEAM, "T"]


def test_an_empty_quadrant_counts_zero_everywhere() -> None:
    empty = pd.DataFrame({"quadrant": pd.Series([], dtype=object)})
    assert set(quadrant_counts(empty).values()) == {0}
