"""`python -m analytics report NAME ...`: the pages' figures for scheduled jobs and e-mails.

Why headless: the monthly review is also mailed out, and a cron job must get exactly the
numbers a manager sees on the pages. So a report never computes anything itself; it
calls the same analytics function the page calls with the same `Scope`, and only turns
the command line into its arguments and prints the table as CSV or JSON on stdout.

Reports are a registry (`REPORTS`: name -> `Report`). Adding one is a function
`(con, scope, args) -> DataFrame` that calls analytics, an optional function adding its
own options, and one entry in `REPORTS`; the shared options (--db, --period, --team,
--region, --rep, --format) and the error handling come for free.

    python -m analytics report scorecard --db data/sales.duckdb --period 2024-Q2 --by rep

Exit codes: 0 done, 2 bad input (unknown period, missing database) with one line on
stderr and never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TextIO

import duckdb
import pandas as pd

from analytics.cli.common import FORMATS, ReportError, open_database, parse_period, write
from analytics.commissions.payroll import COMMISSION_TABLES, payroll_table
from analytics.forecast.backtest import DEFAULT_PERIODS
from analytics.forecast.tables import forecast_report_table
from analytics.funnel import COMPARE_BY, funnel_report_table
from analytics.leads import LEADS_TABLES, leads_report_table
from analytics.pipeline import (
    DEFAULT_IDLE_DAYS,
    DEFAULT_STAGE_PERCENTILE,
    PIPELINE_PARTS,
    pipeline_report_table,
)
from analytics.quadrant import WINDOW_CHOICES
from analytics.scope import Scope
from analytics.scorecard import SCORECARD_GROUPINGS, scorecard

ReportFunction = Callable[[duckdb.DuckDBPyConnection, Scope, argparse.Namespace], pd.DataFrame]


@dataclass(frozen=True)
class Report:
    """One report: what it computes, its help line, and any options of its own."""

    run: ReportFunction
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None


# --- scorecard ----------------------------------------------------------------------


def _scorecard(
    con: duckdb.DuckDBPyConnection, scope: Scope, args: argparse.Namespace
) -> pd.DataFrame:
    return scorecard(
        con,
        scope,
        by=getattr(args, "by", "rep"),
        window_months=getattr(args, "window_months", None),
    )


def _scorecard_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--by", choices=SCORECARD_GROUPINGS, default="rep",
        help="one row per rep (default), team or region",
    )  # fmt: skip
    parser.add_argument(
        "--window-months", type=int, choices=WINDOW_CHOICES, default=None,
        help="months the quadrant judges a month's view over (default 3: the trailing "
        "quarter, as on the Reps page); a quarter or year is its own window",
    )  # fmt: skip


# --- leads --------------------------------------------------------------------------


def _leads(con: duckdb.DuckDBPyConnection, scope: Scope, args: argparse.Namespace) -> pd.DataFrame:
    table = getattr(args, "table", "handoff") or "handoff"
    return leads_report_table(con, scope, table, as_of=getattr(args, "as_of", None))


def _leads_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--table",
        choices=LEADS_TABLES,
        default="handoff",
        help="handoff (default): qualified leads nobody answered; scores: every lead's "
        "score; calibration: score band vs conversion; source / owner: response time and "
        "conversion; unknown-events: event types no rule scores; bant: BANT figures; "
        "linked-source / linked-sdr: lead -> deal -> won with leads and deals joined by "
        "lead id (a leads file plus a deals or won-deals file)",
    )
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=None,
        help="score leads as of this day, YYYY-MM-DD (default: the period's last day, "
        "or today if earlier)",
    )


# --- funnel -------------------------------------------------------------------------


def _funnel(con: duckdb.DuckDBPyConnection, scope: Scope, args: argparse.Namespace) -> pd.DataFrame:
    versus_text = getattr(args, "versus", None)
    versus = parse_period(con, versus_text) if versus_text else None
    by = getattr(args, "by", "company") or "company"
    return funnel_report_table(con, scope, by=by, versus=versus)


def _funnel_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--by", choices=("company", *COMPARE_BY), default="company",
        help="one funnel (default), or one per team, rep, lead source, or period "
        "(this one and --versus)",
    )  # fmt: skip
    parser.add_argument(
        "--versus", default=None,
        help="with --by period: the other period (default: the previous one)",
    )  # fmt: skip


# --- pipeline -----------------------------------------------------------------------


def _pipeline(
    con: duckdb.DuckDBPyConnection, scope: Scope, args: argparse.Namespace
) -> pd.DataFrame:
    try:
        return pipeline_report_table(
            con, scope,
            part=getattr(args, "part", "waterfall") or "waterfall",
            idle_days=getattr(args, "idle_days", DEFAULT_IDLE_DAYS),
            stage_percentile=getattr(args, "stage_percentile", DEFAULT_STAGE_PERCENTILE),
            start_date=getattr(args, "from_date", None),
            end_date=getattr(args, "to_date", None),
        )  # fmt: skip
    except ValueError as exc:
        raise ReportError(str(exc)) from None


def _pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--part", choices=PIPELINE_PARTS, default="waterfall",
        help="which table: waterfall (default), stalled, slipped or gaps (follow-up gaps)",
    )  # fmt: skip
    parser.add_argument(
        "--idle-days", type=int, default=DEFAULT_IDLE_DAYS,
        help=f"stalled: days without activity (default {DEFAULT_IDLE_DAYS})",
    )  # fmt: skip
    parser.add_argument(
        "--stage-percentile", type=float, default=DEFAULT_STAGE_PERCENTILE,
        help="stalled: won deals' percentile of time in stage, 0-1 (default 0.75)",
    )  # fmt: skip
    parser.add_argument(
        "--from", dest="from_date", type=date.fromisoformat, default=None,
        help="waterfall / slipped: start date YYYY-MM-DD, any day (default: the snapshot "
        "at the period start, else the period's first day)",
    )  # fmt: skip
    parser.add_argument(
        "--to", dest="to_date", type=date.fromisoformat, default=None,
        help="waterfall / slipped: end date, any day (default: the period's latest "
        "snapshot, else its last day with data)",
    )  # fmt: skip


# --- forecast -----------------------------------------------------------------------


def _forecast(
    con: duckdb.DuckDBPyConnection, scope: Scope, args: argparse.Namespace
) -> pd.DataFrame:
    history = int(getattr(args, "history", DEFAULT_PERIODS) or DEFAULT_PERIODS)
    try:
        return forecast_report_table(con, scope, history=history)
    except ValueError as exc:
        raise ReportError(str(exc)) from None


def _forecast_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--history", type=int, default=DEFAULT_PERIODS, metavar="N",
        help=f"past periods the recommended method is chosen from (default {DEFAULT_PERIODS})",
    )  # fmt: skip


# --- commissions --------------------------------------------------------------------


def _commissions(
    con: duckdb.DuckDBPyConnection, scope: Scope, args: argparse.Namespace
) -> pd.DataFrame:
    return payroll_table(con, scope, getattr(args, "table", "summary") or "summary")


def _commissions_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--table",
        choices=COMMISSION_TABLES,
        default="summary",
        help="summary (default): one row per rep (rep, plan, credited_bookings, quota, "
        "attainment, commission, base, adjustments, total, ...); lines: every statement line",
    )


# Report name -> Report.
REPORTS: dict[str, Report] = {
    "scorecard": Report(
        run=_scorecard,
        help="KPIs per rep, team or region for a period (the Reps page leaderboard)",
        add_arguments=_scorecard_arguments,
    ),
    "leads": Report(
        run=_leads,
        help="lead hand-off list, scoring calibration, response and conversion (Leads page)",
        add_arguments=_leads_arguments,
    ),
    "funnel": Report(
        run=_funnel,
        help="funnel of the deals created in the period (the Funnel page), or compared",
        add_arguments=_funnel_arguments,
    ),
    "pipeline": Report(
        run=_pipeline,
        help="pipeline health: waterfall, stalled, slipped or follow-up gaps (Pipeline page)",
        add_arguments=_pipeline_arguments,
    ),
    "forecast": Report(
        run=_forecast,
        help="each forecast method, the recommended one, actual and accuracy (Forecast page)",
        add_arguments=_forecast_arguments,
    ),
    "commissions": Report(
        run=_commissions,
        help="commission payouts per rep: plan, credited bookings, quota, attainment, "
        "commission, base, adjustments, total (Commissions page)",
        add_arguments=_commissions_arguments,
    ),
}


# --- shared plumbing ------------------------------------------------------------------


def register(sub: argparse._SubParsersAction) -> None:
    """Add `report` and one sub-command per entry of REPORTS to the CLI."""
    parser = sub.add_parser(
        "report",
        help="print a report (CSV or JSON) with the same figures as the pages",
        description="Print a report with the same figures as the dashboard pages.",
    )
    reports = parser.add_subparsers(dest="report", required=True, metavar="REPORT")
    for name, report in REPORTS.items():
        p = reports.add_parser(name, help=report.help, description=report.help)
        _common_arguments(p)
        if report.add_arguments is not None:
            report.add_arguments(p)
        p.set_defaults(func=run, report=name)


def _common_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", type=Path, default=None, help="database file (default: $SALES_DB)")
    p.add_argument(
        "--period", required=True,
        help="2024-05 (month), 2024-Q2 (quarter), 2024 (year), FY2025-Q1 or FY2025 (fiscal, "
        "using the fiscal start month saved in settings)",
    )  # fmt: skip
    p.add_argument("--team", default=None, help="only this team")
    p.add_argument("--region", default=None, help="only this region")
    p.add_argument("--rep", default=None, help="only this rep (owner name as on deals)")
    p.add_argument("--format", choices=FORMATS, default="csv", help="output format (default csv)")


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run the chosen report on the chosen scope and print it."""
    try:
        con = open_database(args.db)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        scope = Scope(
            period=parse_period(con, args.period),
            team=args.team,
            region=args.region,
            rep=args.rep,
        )
        table = REPORTS[args.report].run(con, scope, args)
        write(table, args.format, out or sys.stdout)
        for note in table.attrs.get("notes", []):  # what the page says beside the table
            print(f"note: {note}", file=sys.stderr)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        con.close()
    return 0
