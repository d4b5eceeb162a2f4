"""Command line: `python -m analytics backtest` and the `forecast` report.

Why headless: the forecast is mailed to executives and checked by scheduled jobs, which
must get exactly the page's figures. Both commands call the same functions as the page
(`backtest`, `period_forecast`) and only format the result.

    python -m analytics backtest --db data/sales.duckdb --periods 12 --kind month
    python -m analytics report forecast --db data/sales.duckdb --period 2026-Q3

The `forecast` report is registered in `analytics.report.REPORTS` (its shared options:
--db, --period, --team, --region, --rep, --format); `analytics.report` is imported lazily
here, because it imports this module to register the report.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import duckdb
import pandas as pd

from analytics.forecast.backtest import DEFAULT_PERIODS, Backtest, backtest, window_words
from analytics.forecast.current import method_rows, period_forecast
from analytics.scope import Period, Scope

KINDS = ("month", "quarter")
# Calendar quarters only from the command line; the Scope's own period is not read.
BACKTEST_PLACEHOLDER = Period.parse("2000-01")
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


# --- report forecast --------------------------------------------------------------------


def forecast_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `report forecast` beyond the shared ones."""
    parser.add_argument(
        "--history", type=int, default=DEFAULT_PERIODS, metavar="N",
        help=f"past periods the recommended method is chosen from (default {DEFAULT_PERIODS})",
    )  # fmt: skip


def report_forecast(
    con: duckdb.DuckDBPyConnection, scope: Scope, args: argparse.Namespace
) -> pd.DataFrame:
    """One row per method: period, method, forecast, actual, accuracy, error (+ label,
    status), exactly the page's rows (`method_rows`).

    A period that is over: the forecast each method made at its start, what closed won,
    the error and the accuracy. A period still running: the live forecast and what is won
    so far; accuracy and error are empty until the period ends.
    """
    history = int(getattr(args, "history", DEFAULT_PERIODS) or DEFAULT_PERIODS)
    if history < 1:
        raise ValueError("--history must be at least 1")
    fiscal = scope.period.fiscal_start_month
    past = backtest(con, scope, kind=_kind(scope.period), periods=history,
                    fiscal_start_month=fiscal)  # fmt: skip
    result = period_forecast(con, scope, recommendation=past.recommendation)
    table = method_rows(result)
    table.insert(0, "period", scope.period.label)
    table["status"] = result.status
    table["data_date"] = result.data_date
    return table[FORECAST_REPORT_COLUMNS]


def _kind(period: Period) -> str:
    """Backtest periods of the same kind; years are too few to backtest, so use quarters."""
    return period.kind if period.kind in KINDS else "quarter"


# --- backtest command ---------------------------------------------------------------------


def register(sub: argparse._SubParsersAction) -> None:
    """Add `backtest` to the CLI."""
    parser = sub.add_parser(
        "backtest",
        help="forecast vs actual for past months or quarters, every method (CSV or JSON)",
        description="What each forecast method would have said at the start of each past "
        "period (from the snapshot of that date), against what closed won.",
    )
    parser.add_argument("--db", type=Path, default=None, help="database file (default $SALES_DB)")
    parser.add_argument(
        "--periods", type=int, default=DEFAULT_PERIODS,
        help=f"how many completed periods (default {DEFAULT_PERIODS})",
    )  # fmt: skip
    parser.add_argument("--kind", choices=KINDS, default="month", help="month (default) or quarter")
    parser.add_argument("--format", choices=("csv", "json"), default="csv", help="default csv")
    parser.add_argument("--team", default=None, help="only this team")
    parser.add_argument("--region", default=None, help="only this region")
    parser.add_argument("--rep", default=None, help="only this rep (owner name as on deals)")
    parser.add_argument(
        "--summary", action="store_true",
        help="one row per method (periods, WAPE, bias, mean accuracy) instead of per period",
    )  # fmt: skip
    parser.set_defaults(func=run_backtest)


def summary_table(result: Backtest) -> pd.DataFrame:
    """The page's accuracy table: one row per candidate, rank 1 first, the chosen one
    marked, with the window its scores cover and (on the chosen row) the reason."""
    table = result.summary.copy()
    table.insert(0, "window", window_words(result.window, result.kind))
    table["reason"] = [result.recommendation.reason if r else "" for r in table["recommended"]]
    return table


def run_backtest(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the backtest table (or its summary); exit 2 with one line on bad input."""
    from analytics.report import ReportError, open_database, write

    if args.periods < 1:
        print("error: --periods must be at least 1", file=sys.stderr)
        return 2
    try:
        con = open_database(args.db)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        # the backtest reads only the scope's filters; its periods end at the data date
        scope = Scope(period=BACKTEST_PLACEHOLDER, team=args.team, region=args.region,
                      rep=args.rep)  # fmt: skip
        result = backtest(con, scope, kind=args.kind, periods=args.periods)
        table = summary_table(result) if args.summary else result.table
        if result.no_data:
            print(f"note: {result.no_data}", file=sys.stderr)
        write(table, args.format, out or sys.stdout)
    finally:
        con.close()
    return 0
