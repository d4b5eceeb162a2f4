"""`python -m analytics`: every command-line concern of the project lives in this package.

One module per command (import, demo, report, backtest, backup, users). Each has a
`register(subparsers)` function that sets `func`. Why a package of its own: the domain
modules (funnel, pipeline, leads, forecast, commissions) return tables and know nothing of
argparse, stdout or exit codes, so a page and a scheduled job call the same functions and
no domain module imports the command line back.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# Modules that contribute sub-commands, in help order.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "analytics.cli.imports",
    "analytics.cli.demo",
    "analytics.cli.report",
    "analytics.cli.backtest",
    "analytics.cli.backup",
    "analytics.cli.users",
)

log = logging.getLogger("analytics")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analytics", description="Sales performance dashboard: command line."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a user must never see a traceback; the log keeps it
        log.debug("command failed", exc_info=True)
        print(f"error: {exc}", file=sys.stderr)
        return 2
