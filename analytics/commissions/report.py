"""`python -m analytics report commissions`: the Commissions page's payroll table, headless.

Why the same function as the page: payroll runs from a scheduled job as often as from the
page, and both must pay the same cents. The summary is `team.team_table` (one row per
rep); `--table lines` prints every statement line instead, for an audit trail.
"""

from __future__ import annotations

import argparse

import duckdb
import pandas as pd

from analytics.commissions.engine import Ledger, month_periods
from analytics.commissions.statements import LINE_COLUMNS, statement_frame
from analytics.commissions.team import team_table
from analytics.scope import Scope

COMMISSION_TABLES: tuple[str, ...] = ("summary", "lines")


def commissions_report_arguments(parser: argparse.ArgumentParser) -> None:
    """The `commissions` report's own option: the summary (default) or every line."""
    parser.add_argument(
        "--table",
        choices=COMMISSION_TABLES,
        default="summary",
        help="summary (default): one row per rep (rep, plan, credited_bookings, quota, "
        "attainment, commission, base, adjustments, total, ...); lines: every statement line",
    )


def report_commissions(
    con: duckdb.DuckDBPyConnection, scope: Scope, args: argparse.Namespace
) -> pd.DataFrame:
    """One row per rep with the payout for the period (months summed), or every line."""
    ledger = Ledger(con, access=scope.access)
    if (getattr(args, "table", "summary") or "summary") == "lines":
        frames = [
            statement_frame(st)
            for month in month_periods(scope.period)
            for rep, st in ledger.payable(month).items()
            if scope.rep in (None, rep)
            and scope.team in (None, ledger.info(rep).team)
            and scope.region in (None, ledger.info(rep).region)
        ]
        if not frames:
            return pd.DataFrame(columns=list(LINE_COLUMNS))
        return pd.concat(frames, ignore_index=True)
    return team_table(con, scope, ledger)
