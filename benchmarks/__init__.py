"""Benchmarks for the sales dashboard: ``python -m benchmarks`` (or ``make bench``).

Each benchmark is a module listed in ``benchmarks.__main__.BENCHMARKS`` with a ``NAME`` and
a ``main(argv) -> int``. This package holds what they share:

* the common options (``--rows``, ``--repeat``, ``--seed``), so ``python -m benchmarks --rows
  100000`` means the same thing to every benchmark;
* ``run_in_child``: one measurement in a fresh Python process, because peak memory is only
  meaningful per process (a parent's high-water mark never goes down, and the allocator keeps
  freed pages), and a fresh process also keeps one run's caches from flattering the next;
* small reporting helpers (median, MB, a plain-text table).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULT_MARKER = "BENCH_RESULT "


def add_common_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options every benchmark accepts, so the runner can pass one argv to all of them."""
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="rows of generated data (default 1,000,000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="measurements per side; the median is reported"
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the generated data")
    return parser


def _read_status_kb(field: str) -> int | None:
    """A ``VmXXX:`` figure from /proc/self/status in kB (None off Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_kb() -> int:
    """This process's peak resident set: VmHWM, else ru_maxrss (kB on Linux)."""
    hwm = _read_status_kb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def current_rss_kb() -> int:
    rss = _read_status_kb("VmRSS")
    return rss if rss is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child_entry() -> None:
    """Body of the child process: import the target, call it, print one JSON result line."""
    request = json.loads(sys.argv[1])
    module_name, func_name = request["target"].split(":")
    func: Callable[..., dict[str, Any]] = getattr(importlib.import_module(module_name), func_name)
    result = func(**request["kwargs"])
    result["peak_rss_kb"] = peak_rss_kb()
    sys.stdout.flush()
    print(RESULT_MARKER + json.dumps(result), flush=True)


def run_in_child(target: str, kwargs: dict[str, Any], *, timeout: float = 3600) -> dict[str, Any]:
    """Run ``module:function(**kwargs)`` in a fresh interpreter and return its result dict.

    The function must return a JSON-serialisable dict; ``peak_rss_kb`` (VmHWM at the end of
    the child) is added. A child that fails raises RuntimeError with
    its stderr, so a broken benchmark never reports a number.
    """
    request = json.dumps({"target": target, "kwargs": kwargs})
    code = "from benchmarks import _child_entry; _child_entry()"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.run(
        [sys.executable, "-c", code, request],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    raise RuntimeError(
        f"benchmark child {target} failed (exit {proc.returncode}):\n"
        f"{proc.stderr[-4000:] or proc.stdout[-4000:]}"
    )


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def mb(kb: float) -> float:
    """kB -> MiB, the unit the reports use."""
    return kb / 1024.0


def load_average() -> str:
    """1/5/15-minute load and core count: the machine is shared, so a figure needs context."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain, aligned text table that reads well in a CI log.

    Cells that look like numbers ("1.23", "253,292") are right-aligned so figures line up.
    """
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def numeric(cell: str) -> bool:
        return bool(cell) and cell.replace(",", "").replace(".", "").replace("x", "").isdigit()

    def fmt(row: Sequence[str]) -> str:
        out = [c.rjust(w) if numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True)]
        return "  ".join(out).rstrip()

    lines = [fmt(cells[0]), "  ".join("-" * w for w in widths)]
    lines += [fmt(c) for c in cells[1:]]
    return "\n".join(lines)


def warm_page_cache(path: Path) -> float:
    """Read a file once so every measured run starts with it in the OS cache; returns seconds.

    Otherwise the first run (whichever side it is) would also pay for the disk read.
    """
    start = time.perf_counter()
    with path.open("rb") as fh:
        while fh.read(16 * 1024 * 1024):
            pass
    return time.perf_counter() - start
