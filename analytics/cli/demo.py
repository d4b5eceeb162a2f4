"""`python -m analytics demo`: write the seeded demo export files and import them.

Why here and not in analytics.demo: the demo builder is a library the tests and the app's
first run call directly; only this module knows about argparse and stdout.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from analytics.demo import DEFAULT_ANCHOR, DEFAULT_SEED, build_demo, default_demo_db


def _run(args: argparse.Namespace) -> int:
    summary = build_demo(
        args.db, args.out, seed=args.seed, anchor=args.anchor, replace=args.replace
    )
    secs = summary["seconds"]
    print(f"demo: {len(summary['files'])} files written to {summary['out_dir']}")
    print(f"demo: imported into {summary['db_path']} (seed {args.seed}, anchor {args.anchor})")
    for kind, n in summary["rows_imported"].items():
        print(f"  {kind:<22} {n:>9,} rows")
    print(
        f"demo: {secs['total']:.1f}s (generate {secs['generate']:.1f}s, write {secs['write']:.1f}s,"
        f" import {secs['import']:.1f}s)"
    )
    return 0


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `demo` sub-command to the CLI."""
    p = sub.add_parser(
        "demo",
        help="write seeded demo export files and import them",
        description=(
            "Write a seeded, deterministic set of CRM-style export files (weekly Salesforce "
            "opportunity reports, stage history, reps, activities, leads, quotas, forecast "
            "calls) and import them through the normal import path."
        ),
    )
    p.add_argument(
        "--db", type=Path, default=default_demo_db(),
        help="the demo's database file (default data/demo.duckdb); a database the demo "
        "builder did not make is refused",
    )  # fmt: skip
    p.add_argument(
        "--out", type=Path, default=None, help="where to write the files (default data/demo)"
    )
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default 42)")
    p.add_argument(
        "--anchor",
        type=_iso_date,
        default=DEFAULT_ANCHOR,
        help=f"the demo's 'today' (default {DEFAULT_ANCHOR.isoformat()})",
    )
    p.add_argument(
        "--replace",
        action="store_true",
        help="delete an existing demo database first (otherwise one with imports is refused)",
    )
    p.set_defaults(func=_run)
