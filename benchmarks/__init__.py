"""Benchmarks for the sales dashboard: ``python -m benchmarks`` (or ``make bench``).

Each benchmark is a module listed in ``benchmarks.__main__.BENCHMARKS`` with a ``NAME`` and
a ``main(argv) -> int``; it holds what it times and its baseline. Everything they share --
common options, timing, the quiet machine, peak memory, generated data, the report -- is in
``benchmarks.harness``. The names below are re-exported for modules not yet moved to it.
"""

from benchmarks.harness import (
    PROJECT_ROOT,
    add_common_args,
    current_rss_kb,
    format_table,
    load_average,
    mb,
    median,
    run_in_child,
    warm_page_cache,
)

__all__ = [
    "PROJECT_ROOT",
    "add_common_args",
    "current_rss_kb",
    "format_table",
    "load_average",
    "mb",
    "median",
    "run_in_child",
    "warm_page_cache",
]
