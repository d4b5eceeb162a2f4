"""Benchmarks for the sales dashboard: ``python -m benchmarks`` (or ``make bench``).

Each benchmark is a module listed in ``benchmarks.__main__.BENCHMARKS`` with a ``NAME`` and
a ``main(argv) -> int``; it holds what it times and its baseline. Everything they share --
common options, timing, the quiet machine, peak memory, generated data, the report -- is in
``benchmarks.harness``.
"""
