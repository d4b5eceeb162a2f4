"""The Forecast page's two tables as plain frames: the method rows of one period, and the
backtest's accuracy summary.

Why a module of their own: the page, `python -m analytics report forecast` and
`python -m analytics backtest --summary` must show the same rows, so the rows are built
once here and the command line only prints them.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from analytics.forecast.backtest import DEFAULT_PERIODS, Backtest, backtest, window_words
from analytics.forecast.current import method_rows, period_forecast
from analytics.scope import Period, Scope

BACKTEST_KINDS = ("month", "quarter")
FORECAST_REPORT_COLUMNS = [
    "period",
    "method",
    "forecast",
    "actual",
    "accuracy",
    "error",
    "label",
    "status",
    "data_date",
]


def forecast_report_table(
    con: duckdb.DuckDBPyConnection, scope: Scope, history: int = DEFAULT_PERIODS
) -> pd.DataFrame:
    """One row per method: period, method, forecast, actual, accuracy, error (+ label,
    status), exactly the page's rows (`method_rows`).

    A period that is over: the forecast each method made at its start, what closed won,
    the error and the accuracy. A period still running: the live forecast and what is won
    so far; accuracy and error are empty until the period ends. The recommended method is
    chosen from `history` past periods of the same kind.
    """
    if history < 1:
        raise ValueError("--history must be at least 1")
    fiscal = scope.period.fiscal_start_month
    past = backtest(con, scope, kind=backtest_kind(scope.period), periods=history,
                    fiscal_start_month=fiscal)  # fmt: skip
    result = period_forecast(con, scope, recommendation=past.recommendation)
    table = method_rows(result)
    table.insert(0, "period", scope.period.label)
    table["status"] = result.status
    table["data_date"] = result.data_date
    return table[FORECAST_REPORT_COLUMNS]


def backtest_kind(period: Period) -> str:
    """Backtest periods of the same kind; years are too few to backtest, so use quarters."""
    return period.kind if period.kind in BACKTEST_KINDS else "quarter"


def summary_table(result: Backtest) -> pd.DataFrame:
    """The page's accuracy table: one row per candidate, rank 1 first, the chosen one
    marked, with the window its scores cover and (on the chosen row) the reason."""
    table = result.summary.copy()
    table.insert(0, "window", window_words(result.window, result.kind))
    table["reason"] = [result.recommendation.reason if r else "" for r in table["recommended"]]
    return table
