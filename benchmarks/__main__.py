"""Run every benchmark: ``python -m benchmarks [--only NAME[,NAME]] [--list] [OPTIONS]``.

Why a registry: each benchmark is a module with ``NAME`` and ``main(argv) -> int``; a new one
(the KPI benchmarks to come) is a new module plus one line in ``BENCHMARKS``, and the runner
never changes. Options other than ``--only``/``--list`` are passed through unchanged to every
selected benchmark, so shared ones (``--rows``, ``--repeat``, ``--seed``) mean the same to all.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

# Benchmark modules, in run order.
BENCHMARKS: tuple[str, ...] = (
    "benchmarks.bench_import",
    "benchmarks.bench_kpis",
    "benchmarks.bench_forecast",
    "benchmarks.bench_funnel",
    "benchmarks.bench_memory",
    "benchmarks.bench_load",
    "benchmarks.bench_pointintime",
)


def load_benchmarks() -> dict[str, ModuleType]:
    modules = [importlib.import_module(name) for name in BENCHMARKS]
    return {module.NAME: module for module in modules}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the benchmarks; other options go to each benchmark "
        "(see python -m benchmarks.bench_import --help).",
    )
    parser.add_argument("--only", help="comma-separated benchmark names to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args, rest = parser.parse_known_args(argv)

    available = load_benchmarks()
    if args.list:
        for name, module in available.items():
            summary = (module.__doc__ or "").strip().splitlines()[0]
            print(f"{name:12} {summary}")
        return 0
    selected = list(available) if not args.only else [n.strip() for n in args.only.split(",")]
    unknown = [n for n in selected if n not in available]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; have: {', '.join(available)}")

    status = 0
    for name in selected:
        code = available[name].main(rest)
        if code:
            print(f"benchmark {name} exited with {code}", file=sys.stderr)
        status = status or code
    return status


if __name__ == "__main__":
    raise SystemExit(main())
