"""`python -m analytics backtest`: forecast vs actual for past periods, every method.

Why headless: the forecast is mailed to executives and checked by scheduled jobs, which
must get exactly the page's figures. The command calls the same functions as the page
(`backtest`, `summary_table`) and only prints the result.

    python -m analytics backtest --db data/sales.duckdb --periods 12 --kind month

The `forecast` report (`python -m analytics report forecast`) is in analytics.cli.report.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from analytics.cli.common import ReportError, open_database, plain, write
from analytics.forecast.backtest import DEFAULT_PERIODS, backtest, convergence
from analytics.forecast.tables import BACKTEST_KINDS, summary_table
from analytics.scope import Period, Scope

# Calendar periods only from the command line; the Scope's own period is not read.
BACKTEST_PLACEHOLDER = Period.parse("2000-01")


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
    parser.add_argument(
        "--kind", choices=BACKTEST_KINDS, default="month", help="month (default) or quarter"
    )
    parser.add_argument("--format", choices=("csv", "json"), default="csv", help="default csv")
    parser.add_argument("--team", default=None, help="only this team")
    parser.add_argument("--region", default=None, help="only this region")
    parser.add_argument("--rep", default=None, help="only this rep (owner name as on deals)")
    parser.add_argument(
        "--summary", action="store_true",
        help="one row per method (periods, WAPE, bias, mean accuracy) instead of per period",
    )  # fmt: skip
    parser.set_defaults(func=run_backtest)


def run_backtest(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the backtest table (or its summary); exit 2 with one line on bad input."""
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
        if args.format == "json" and not args.summary:
            # rows plus how each method's forecast of each period converged week by week
            weekly = convergence(con, scope, kind=args.kind, periods=args.periods,
                                 recommendation=result.recommendation)  # fmt: skip
            write_with_convergence(table, weekly.as_json(), out or sys.stdout)
        else:
            write(table, args.format, out or sys.stdout)
    finally:
        con.close()
    return 0


def write_with_convergence(table: pd.DataFrame, weekly: dict[str, Any], out: TextIO) -> None:
    """`backtest --format json`: {"rows": the backtest rows, "convergence": per period,
    its actual and per method the weekly forecasts with their source}."""
    rows = [{str(k): plain(v) for k, v in row.items()} for row in table.to_dict("records")]
    json.dump({"rows": rows, "convergence": weekly}, out, ensure_ascii=False, indent=1)
    out.write("\n")
