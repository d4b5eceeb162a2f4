"""Argument parsing for `python -m analytics`.

Each feature module registers its own sub-command (a `register(subparsers)` function that
sets `func`), so a new report is a new module, not an edit here beyond one list entry.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

# Modules that contribute sub-commands, in help order.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "analytics.ingest.cli",
    "analytics.demo",
    "analytics.report",
    "analytics.forecast.cli",
    "analytics.backup_cli",
    "analytics.users_cli",
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
