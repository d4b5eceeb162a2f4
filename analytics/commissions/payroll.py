"""The Commissions page's payroll table as a frame: one row per rep, or every line.

Why the same function as the page: payroll runs from a scheduled job
(`python -m analytics report commissions`) as often as from the page, and both must pay
the same cents. The summary is `team.team_table` (one row per rep); the `lines` table
is every statement line, for an audit trail.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from analytics.commissions.engine import Ledger, month_periods
from analytics.commissions.statements import LINE_COLUMNS, statement_frame
from analytics.commissions.team import team_table
from analytics.scope import Scope

COMMISSION_TABLES: tuple[str, ...] = ("summary", "lines")


def payroll_table(
    con: duckdb.DuckDBPyConnection, scope: Scope, table: str = "summary"
) -> pd.DataFrame:
    """One row per rep with the payout for the period (months summed), or every line."""
    ledger = Ledger(con, access=scope.access)
    if table == "lines":
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
