"""Asks gathered together give the inputs they give gathered apart (issue 14, "Speed").

Why: the Forecast page's backtest gathers the first convergence chart's weekly asks in its
own pass (`backtest(with_convergence=True)`) and hands them to `convergence(known=...)`,
so that the rebuilt open deals, look-back windows and calls of both are read once. That
is only right if an ask's inputs never depend on the other asks of its pass (their data
dates set the day numbers, the calendar and the windows' first day of every query), and
if handed-on inputs are reused only under the scope and currency they were read under.

The export is tests/test_forecast_inputs_spans.py's messy one, with stage history and the
snapshot its upload leaves (as of 18 June 2024); the asks mix every source.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_backtest_rebuilt import HISTORY, ROWS
from test_backtest_rebuilt import upload as upload_small

from analytics import db
from analytics.forecast import inputs as fi
from analytics.forecast.backtest import Recommendation, backtest, convergence
from analytics.pointintime import snapshot_dates
from analytics.scope import Period, Scope
from tests.test_forecast_inputs_narrow import plain
from tests.test_forecast_inputs_spans import AS_OF, asks, upload


def mixed_asks() -> list[fi.Ask]:
    """Every source, asks sharing a day across sources and periods."""
    cutoff = datetime(AS_OF.year, AS_OF.month, AS_OF.day) + timedelta(days=1)
    own = [
        fi.Ask(Period.parse(label), AS_OF, cutoff, source)
        for source in ("snapshot", "current")
        for label in ("2024-06", "2024-Q2")
    ]
    return [*asks("stage history"), *asks("rebuilt")[::3], *own]


def apart(group: list[fi.Ask]) -> tuple[list[fi.Ask], list[fi.Ask]]:
    """Two passes, each with asks of every source and of old and recent days."""
    return group[::2], group[1::2]


@pytest.mark.parametrize("filters", [{}, {"team": "East"}, {"rep": "Bob"}])
def test_asks_gathered_together_equal_gathered_apart(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, filters: dict[str, str]
) -> None:
    upload(con, tmp_path, with_history=True)
    assert AS_OF in snapshot_dates(con)
    group = mixed_asks()
    scope = Scope(Period.parse("2024-06"), **filters)
    together = fi.gather(con, group, scope)
    first, second = apart(group)
    separate = fi.gather(con, first, scope) | fi.gather(con, second, scope)
    assert together.keys() == separate.keys() == {a.key for a in group}
    for key in together:
        assert plain(asdict(together[key])) == plain(asdict(separate[key])), key
    assert {a.source for a in first} == {a.source for a in second} == {
        "snapshot", "current", "stage history", "rebuilt"
    }  # fmt: skip
    if not filters:
        found = list(together.values())
        assert any(len(i.open_by_stage) >= 3 for i in found) and any(i.calls for i in found)


def test_known_inputs_are_reused_only_under_their_scope_and_currency(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    upload(con, tmp_path, with_history=True)
    group = mixed_asks()
    first, _ = apart(group)
    scope = Scope(Period.parse("2024-06"))
    read = fi.gather(con, first, scope)
    kept = fi.Gathered.of(con, scope, read, first)
    reused = fi.gather(con, group, scope, known=kept)
    whole = fi.gather(con, group, scope)
    assert reused.keys() == whole.keys()
    for key in whole:
        assert plain(asdict(reused[key])) == plain(asdict(whole[key])), key
    assert all(reused[a.key] is read[a.key] for a in first)  # not read again
    for other, currency in ((Scope(scope.period, team="East"), None), (scope, "EUR")):
        again = fi.gather(con, group, other, known=kept, reporting_currency=currency)
        alone = fi.gather(con, group, other, reporting_currency=currency)
        assert not any(again[a.key] is read[a.key] for a in first)
        for key in alone:
            assert plain(asdict(again[key])) == plain(asdict(alone[key])), key


def same_choice(a: Recommendation, b: Recommendation) -> bool:
    """The same recommendation, its scores equal up to the last bits of a float.

    Why not ==: DuckDB sums doubles in parallel, in no fixed order, so two computations
    of one WAPE may differ in the 16th digit (a clean-clone run saw 0.10675330307222072
    against ...068). The choice itself allows for that (`TIE_TOLERANCE`)."""
    left, right = asdict(a), asdict(b)
    for key, value in left.items():
        other = right[key]
        if isinstance(value, float) and isinstance(other, float):
            if not math.isclose(value, other, rel_tol=1e-12, abs_tol=1e-15):
                return False
        elif value != other:
            return False
    return True


def same_pages(con: duckdb.DuckDBPyConnection, scope: Scope, kind: str, periods: int) -> None:
    """The page's calls (backtest with the convergence asks, convergence reusing them) give
    the tables of the plain calls, and the backtest gathered every day of that chart."""
    alone = backtest(con, scope, kind=kind, periods=periods)  # type: ignore[arg-type]
    past = backtest(con, scope, kind=kind, periods=periods, with_convergence=True)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(past.table, alone.table)
    pd.testing.assert_frame_equal(past.summary, alone.summary)
    assert same_choice(past.recommendation, alone.recommendation)
    assert past.gathered is not None and past.gathered.inputs
    assert alone.gathered is None
    label = alone.table["period"].iloc[-1]  # the newest: the page's default
    kwargs = {"kind": kind, "periods": periods, "labels": [label],
              "recommendation": past.recommendation}  # fmt: skip
    plain_weekly = convergence(con, scope, **kwargs)  # type: ignore[arg-type]
    weekly = convergence(con, scope, known=past.gathered, **kwargs)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(weekly.table, plain_weekly.table)
    assert weekly.left_out == plain_weekly.left_out
    assert not weekly.table.empty
    assert len(past.gathered.inputs) == weekly.table["as_of"].nunique()


@pytest.mark.parametrize("history", [None, HISTORY])
def test_the_page_calls_give_the_plain_tables_after_one_upload(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, history: list[list[str]] | None
) -> None:
    upload_small(con, tmp_path, ROWS, history)
    same_pages(con, Scope(Period.parse("2024-07")), "month", 3)


def test_the_page_calls_give_the_plain_tables_with_snapshots(
    copy_demo: Callable[[Path], Path], tmp_path: Path
) -> None:
    con = db.connect(copy_demo(tmp_path))
    try:
        same_pages(con, Scope(Period.parse("2026-11")), "quarter", 4)
        # a scope whose own period is backtested: its chart is the one gathered along
        scope = Scope(Period.parse("2026-Q2"))
        past = backtest(con, scope, kind="quarter", periods=4, with_convergence=True)
        assert past.gathered is not None
        assert {k.split("@")[0] for k in past.gathered.inputs} == {"2026-Q2"}
    finally:
        con.close()


def test_no_period_no_asks_gathered_along(con: duckdb.DuckDBPyConnection) -> None:
    past = backtest(con, Scope(Period.parse("2024-06")), with_convergence=True)
    assert past.gathered is None  # nothing to backtest on an empty database
