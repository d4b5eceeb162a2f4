"""`python -m analytics import FILE... --db PATH`: the command-line face of the importer."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from analytics import db
from analytics.ingest.detect import Mapping
from analytics.ingest.engine import import_file
from analytics.ingest.kinds import KINDS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import CRM export files (CSV, TSV or .xlsx)")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--db", type=Path, default=None, help="database file (default: $SALES_DB)")
    p.add_argument("--kind", choices=sorted(KINDS), help="what the file holds (default: detect)")
    p.add_argument("--mapping", type=Path, help="JSON column mapping for an unknown header set")
    p.add_argument(
        "--as-of",
        type=date.fromisoformat,
        help=(
            "the day the export was taken (default: a date in the file name, a report-date "
            "column, or the latest date in the file; the result says which)"
        ),
    )
    p.add_argument("--date-order", choices=["dmy", "mdy"], help="for dates like 03/05/2024")
    p.add_argument(
        "--keep-valid",
        action="store_true",
        help="load the valid rows and keep rejected ones in the quarantine table",
    )
    p.add_argument(
        "--no-new-stages",
        action="store_true",
        help="refuse rows whose stage is not in the settings instead of learning the stage",
    )
    p.add_argument(
        "--all-won",
        action="store_true",
        help="every row of a deals file without a stage column is a won deal (a closed-deals "
        "or bookings export; detected anyway when a won/closed date column has no stage)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        mapping = Mapping.load(args.mapping) if args.mapping else None
    except (OSError, ValueError, KeyError) as exc:
        print(f"error: mapping file {args.mapping}: {exc}")
        return 2
    con = db.connect(args.db)
    failed = 0
    try:
        for path in args.files:
            result = import_file(
                con,
                path,
                kind=args.kind,
                mapping=mapping,
                as_of=args.as_of,
                keep_valid=args.keep_valid,
                date_order=args.date_order,
                learn_stages=not args.no_new_stages,
                all_won=args.all_won,
            )
            print(result.message)
            failed += not result.ok
    finally:
        con.close()
    return 1 if failed else 0
