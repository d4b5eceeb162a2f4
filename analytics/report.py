"""`python -m analytics report NAME ...`: the pages' figures for scheduled jobs and e-mails.

Why headless: the monthly review is also mailed out, and a cron job must get exactly the
numbers a manager sees on the Reps page. So a report never computes anything itself; it
calls the same analytics functions the pages call (`kpi_table`, `quadrant`) with the same
`Scope`, and only formats the result as CSV or JSON on stdout.

Reports are a registry (`REPORTS`: name -> `Report`). Adding one (funnel, pipeline,
leads, forecast, commissions) is a function `(con, scope, args) -> DataFrame`, an optional
function adding its own options, and one entry in `REPORTS`; the shared options (--db,
--period, --team, --region, --rep, --format) and the error handling come for free.

    python -m analytics report scorecard --db data/sales.duckdb --period 2024-Q2 --by rep

Exit codes: 0 done, 2 bad input (unknown period, missing database) with one line on
stderr and never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

import duckdb
import pandas as pd

from analytics import db
from analytics.commissions.report import commissions_report_arguments, report_commissions
from analytics.drilldown import data_version  # noqa: F401  (re-exported: pages use it)
from analytics.exports import KPI_UNITS, LOWER_IS_BETTER, NOW_ONLY, escaped  # noqa: F401  (re-exported)
from analytics.forecast.cli import forecast_report_arguments, report_forecast
from analytics.funnel import funnel_report_arguments, report_funnel
from analytics.leads import leads_report_arguments, report_leads
from analytics.metrics.kpis import KPI_COLUMNS, kpi_table, open_basis
from analytics.pipeline import pipeline_report_arguments, report_pipeline
from analytics.pointintime import open_figures_fields
from analytics.quadrant import WINDOW_CHOICES, quadrant
from analytics.scope import Period, Scope, data_as_of, load_fiscal_start_month

FORMATS = ("csv", "json")
SCORECARD_GROUPINGS = ("rep", "team", "region")


class ReportError(Exception):
    """Bad input a user can fix (period, database path): printed as one line, exit 2."""


ReportFunction = Callable[[duckdb.DuckDBPyConnection, Scope, argparse.Namespace], pd.DataFrame]


@dataclass(frozen=True)
class Report:
    """One report: what it computes, its help line, and any options of its own."""

    run: ReportFunction
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None


# --- scorecard ----------------------------------------------------------------------


def scorecard(
    con: duckdb.DuckDBPyConnection, scope: Scope, args: argparse.Namespace
) -> pd.DataFrame:
    """One row per rep, team or region: every KPI column, plus the quadrant for reps.

    The same `kpi_table` the leaderboard shows; for `--by rep` the quadrant (its low-sample
    flag, and `quadrant_note`: why a rep is not placed, e.g. "not enough data: no deal
    closed in ...") comes from `analytics.quadrant.quadrant` with its defaults, as on the
    Reps page before any control is moved: the same window (the trailing quarter for a
    month, `--window-months` to change it) and the same 100%-of-quota line. Reps the
    quadrant leaves out (no quota, deal or pipeline to judge) have an empty quadrant.

    As on the pages, a period that was not over on the data's as-of date is taken to date
    and its changes are against the same days before (`Period.to_date`). A period that was
    over takes its open figures as of its last day; `open_as_of`, `open_source` and
    `open_snapshot_date` say where they came from (analytics/pointintime.py).
    """
    scope = scope.to_date(data_as_of(con))
    by = getattr(args, "by", "rep")
    table = kpi_table(con, scope, by)
    reasons: dict[str, str] = dict(table.attrs.get("no_data") or {})
    columns = [by, *[c for c in KPI_COLUMNS if c in table.columns]]
    table = table[columns].copy()
    # where the open figures' "then" came from (docs/metrics.md, "Point in time")
    for name, value in open_figures_fields(open_basis(con, scope.period)).items():
        table[name] = value
    if by == "rep":
        window = getattr(args, "window_months", None)
        placed = quadrant(con, scope, window_months=window)[
            ["rep", "quadrant", "low_sample", "note"]
        ].rename(columns={"note": "quadrant_note"})
        table = table.merge(placed, on="rep", how="left")
    out = table.reset_index(drop=True)
    out.attrs["no_data"] = reasons
    out.attrs["notes"] = no_data_notes(reasons)
    return out


def no_data_notes(reasons: dict[str, str]) -> list[str]:
    """'no data: quota, quota_attainment ...: no quotas in the data', one line per reason.

    Why: the CLI writes a figure without data as an empty cell, which a reader of the CSV
    cannot tell from a figure not computed; the note (stderr, as the pages' help) says
    which columns are empty on purpose and why, in the pages' words.
    """
    by_reason: dict[str, list[str]] = {}
    for column, reason in reasons.items():
        by_reason.setdefault(reason, []).append(column)
    return [f"no data: {', '.join(cols)}: {reason}" for reason, cols in by_reason.items()]


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


# Report name -> Report. Later reports (funnel, pipeline, leads, forecast, commissions)
# add one entry each.
REPORTS: dict[str, Report] = {
    "scorecard": Report(
        run=scorecard,
        help="KPIs per rep, team or region for a period (the Reps page leaderboard)",
        add_arguments=_scorecard_arguments,
    ),
    "leads": Report(
        run=report_leads,
        help="lead hand-off list, scoring calibration, response and conversion (Leads page)",
        add_arguments=leads_report_arguments,
    ),
    "funnel": Report(
        run=report_funnel,
        help="funnel of the deals created in the period (the Funnel page), or compared",
        add_arguments=funnel_report_arguments,
    ),
    "pipeline": Report(
        run=report_pipeline,
        help="pipeline health: waterfall, stalled, slipped or follow-up gaps (Pipeline page)",
        add_arguments=pipeline_report_arguments,
    ),
    "forecast": Report(
        run=report_forecast,
        help="each forecast method, the recommended one, actual and accuracy (Forecast page)",
        add_arguments=forecast_report_arguments,
    ),
    "commissions": Report(
        run=report_commissions,
        help="commission payouts per rep: plan, credited bookings, quota, attainment, "
        "commission, base, adjustments, total (Commissions page)",
        add_arguments=commissions_report_arguments,
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


def open_database(path: Path | None) -> duckdb.DuckDBPyConnection:
    """Open an existing database; a report never creates an empty one by mistake."""
    target = Path(path) if path is not None else db.default_db_path()
    if str(target) != ":memory:" and not target.is_file():
        raise ReportError(f"no database at {target} (import data first, or pass --db)")
    return db.connect(target)


def parse_period(con: duckdb.DuckDBPyConnection, text: str) -> Period:
    """Period.parse with the fiscal start month from settings, as the pages use it."""
    try:
        return Period.parse(text, load_fiscal_start_month(con))
    except ValueError as exc:
        raise ReportError(str(exc)) from None


def _plain(value: Any) -> Any:
    """JSON-ready value: NaN/NaT -> null, numpy scalars -> Python, dates -> ISO text."""
    if value is None or value is pd.NaT:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, int | float | str | bool):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    try:
        return float(value)  # Decimal
    except (TypeError, ValueError):
        return str(value)


def write(df: pd.DataFrame, fmt: str, out: TextIO) -> None:
    """CSV (header + rows, empty cell for a missing value) or a JSON array of objects.

    Numbers keep full precision in both, so a script comparing with the page gets
    exactly the same figure. CSV text cells that a spreadsheet would run as a formula
    (=, +, -, @...) get a leading quote, as in the pages' downloads: a scheduled report
    is often mailed and opened in Excel. JSON is for programs and keeps text as is.
    """
    if fmt == "csv":
        escaped(df).to_csv(out, index=False, lineterminator="\n")
    elif fmt == "json":
        records = [{str(k): _plain(v) for k, v in row.items()} for row in df.to_dict("records")]
        json.dump(records, out, ensure_ascii=False, indent=1)
        out.write("\n")
    else:
        raise ReportError(f"unknown format {fmt!r}: use {' or '.join(FORMATS)}")


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
