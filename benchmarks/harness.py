"""The one harness every benchmark uses, so that a benchmark holds only what it times.

Why one module: the benchmarks compare the project's analytics (or importer) with a
baseline on a shared 2-core machine, and the care that makes such a figure honest is the
same for all of them -- a fresh process per measurement, a warm-up call, interleaved sides,
the median, peak memory per process, the load average beside every figure, a database
built once and cached. Written once here, a fix (or a new figure) reaches every benchmark;
a benchmark module keeps its workload, its baseline and the comparison of their figures.

Sections:

* **command line**: ``--rows``, ``--repeat``, ``--seed`` (``add_common_args``), the quiet
  machine (``--quiet-load``), ``--fail-on-miss``; ``python -m benchmarks --only`` picks
  benchmarks and passes the rest to each;
* **the machine**: load average, waiting for a quiet machine, the commit measured;
* **memory**: VmHWM / VmRSS of a process, in kB (``mb`` for the reports);
* **timing**: ``time_calls`` (one untimed warm-up, then timed calls: wall and CPU of all
  threads), ``ChildRun`` (what a child measures and hands back), ``run_in_child`` (one
  measurement in a fresh interpreter), ``interleave`` (sides alternated per repeat);
* **data generation**: SQL literals, the hash-keyed draw macros, ``imports`` rows, a
  database or file built under a temporary name and cached in ``benchmarks/out/``;
* **comparing**: "the same figure" within a tolerance, per-figure agreement rows;
* **profiling**: a connection that times every statement, DuckDB's JSON profiler;
* **report**: the plain-text table, the analytics-vs-baseline table, ratios, one
  ``BENCH_JSON {...}`` line per benchmark with its figures for scripts.
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# Generated data is cached here (git-ignored), keyed by sizes, seed and generator version.
OUT_DIR = Path(__file__).resolve().parent / "out"
RESULT_MARKER = "BENCH_RESULT "
JSON_MARKER = "BENCH_JSON "
# "The same figure": sums over many amounts may differ in the last bits by summation order.
REL_TOL = 1e-9


# -- command line --------------------------------------------------------------------------


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


def new_parser(module: str, description: str) -> argparse.ArgumentParser:
    """A benchmark's parser with the common options (``prog`` is ``python -m <module>``)."""
    return add_common_args(
        argparse.ArgumentParser(prog=f"python -m {module}", description=description)
    )


def add_opps_alias(parser: argparse.ArgumentParser) -> None:
    """``--opps``: the same as ``--rows`` for benchmarks whose rows are opportunities."""
    parser.add_argument(
        "--opps",
        dest="rows",
        type=int,
        default=argparse.SUPPRESS,
        help="opportunities (the same as --rows; default 1,000,000)",
    )


def add_quiet_args(parser: argparse.ArgumentParser) -> None:
    """``--quiet-load LOAD``: wait (up to ``--quiet-wait`` s) for a quieter machine first."""
    parser.add_argument(
        "--quiet-load",
        type=float,
        metavar="LOAD",
        help="first wait (up to 10 min) for the 1-minute load average to drop below LOAD",
    )
    parser.add_argument("--quiet-wait", type=float, default=600.0, help=argparse.SUPPRESS)


def add_fail_on_miss(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--fail-on-miss",
        action="store_true",
        help="exit 1 when a goal is missed (by default only a disagreement or failure does)",
    )


# -- the machine ---------------------------------------------------------------------------


def load_average() -> str:
    """1/5/15-minute load and core count: the machine is shared, so a figure needs context."""
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} cores"


def wait_for_quiet(max_load: float, max_wait: float, poll: float = 5.0) -> float:
    """Sleep until the 1-minute load average is below `max_load` (or `max_wait` passes).

    The development machines are shared; a run that starts while someone's test suite is
    busy measures their tests as much as the benchmark's work.
    """
    start = time.monotonic()
    while os.getloadavg()[0] >= max_load and time.monotonic() - start < max_wait:
        time.sleep(poll)
    return time.monotonic() - start


def quiet_machine(args: argparse.Namespace) -> None:
    """Wait for ``--quiet-load`` when it was given, and say how long it took."""
    if getattr(args, "quiet_load", None) is None:
        return
    waited = wait_for_quiet(args.quiet_load, getattr(args, "quiet_wait", 600.0))
    print(f"waited {waited:.0f} s for load < {args.quiet_load}: now {load_average()}")


def duckdb_version() -> str:
    import duckdb

    return str(duckdb.__version__)


def code_version() -> str:
    """The commit measured, flagged when analytics/ has uncommitted edits.

    Others edit the tree while benchmarks run; a figure is only useful with the code it
    belongs to.
    """
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", "analytics"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"commit {head}" + (" + uncommitted edits in analytics/" if dirty else "")


def print_header(title: str) -> None:
    """The report's first lines: what is measured, the code and versions, the load."""
    import pandas as pd

    print(f"== {title} ==")
    print(f"code: {code_version()}; duckdb {duckdb_version()}; pandas {pd.__version__}")
    print(f"load before: {load_average()}")


# -- memory --------------------------------------------------------------------------------


def read_status_kb(field: str, pid: int | str = "self") -> int | None:
    """A ``VmXXX:`` figure from /proc/<pid>/status in kB (None off Linux or once it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_kb() -> int:
    """This process's peak resident set: VmHWM, else ru_maxrss (kB on Linux)."""
    hwm = read_status_kb("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def current_rss_kb() -> int:
    rss = read_status_kb("VmRSS")
    return rss if rss is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def mb(kb: float) -> float:
    """kB -> MiB, the unit the reports use."""
    return kb / 1024.0


# -- timing --------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def time_calls(func: Callable[[], Any], repeat: int) -> tuple[Any, list[float], list[float], float]:
    """One untimed warm-up call (its wall time returned apart), then `repeat` timed calls.

    Returns (last result, wall seconds, CPU seconds of all the process's threads, the
    warm-up's wall seconds): DuckDB uses every core, so CPU time is not wall time.
    """
    start = time.perf_counter()
    result = func()
    first = time.perf_counter() - start
    walls, cpus = [], []
    for _ in range(repeat):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = func()
        walls.append(time.perf_counter() - wall0)
        cpus.append(time.process_time() - cpu0)
    return result, walls, cpus, first


class ChildRun:
    """What one measurement in a child process hands back, gathered as it goes.

    Made first thing in the child, so ``rss_ready_kb`` is the memory of the interpreter
    and its libraries (the project's ``analytics.db`` included), before the work: the
    reports subtract it.
    """

    def __init__(self) -> None:
        # The libraries count as ready, not as the work: DuckDB hands frames to pandas
        # through pyarrow, which it would otherwise import during the untimed load.
        import pyarrow  # noqa: F401

        import analytics.db  # noqa: F401

        self.data: dict[str, Any] = {"rss_ready_kb": current_rss_kb()}
        self._load_start = 0.0

    def loading(self) -> None:
        """The baseline's untimed load starts (pandas gets its tables for free)."""
        self._load_start = time.perf_counter()

    def loaded(self) -> None:
        """The load is done: its seconds are reported apart (never in the timed figure)."""
        self.data["load_s"] = time.perf_counter() - self._load_start

    def time(self, func: Callable[[], Any], repeat: int) -> Any:
        """`time_calls(func, repeat)`, its times kept; returns the result.

        After a load, the memory it added is read here first: once the connection it
        came through is closed, so only the baseline's data counts.
        """
        if "load_s" in self.data:
            self.data["rss_loaded_kb"] = current_rss_kb()
        result, walls, cpus, first = time_calls(func, repeat)
        self.data.update(walls=walls, cpus=cpus, first_s=first)
        return result

    def result(self, **extra: Any) -> dict[str, Any]:
        return {**self.data, **extra}


def open_db(db_path: str | Path) -> Any:
    """The project's read-only connection, as the app opens it, without a progress bar.

    A long ``.df()`` draws a progress bar on stdout, which would hide the child's result.
    """
    from analytics import db

    con = db.connect(db_path, read_only=True)
    con.execute("SET enable_progress_bar = false")
    return con


def duckdb_threads(con: Any) -> int:
    return int(con.execute("SELECT current_setting('threads')").fetchone()[0])


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

    Why a process per measurement: peak memory is only meaningful per process (a parent's
    high-water mark never goes down, and the allocator keeps freed pages), and a fresh
    process keeps one run's caches from flattering the next. The function must return a
    JSON-serialisable dict; ``peak_rss_kb`` (VmHWM at the end of the child) is added. A
    child that fails raises RuntimeError with its stderr, so a broken benchmark never
    reports a number.
    """
    request = json.dumps({"target": target, "kwargs": kwargs})
    code = "from benchmarks.harness import _child_entry; _child_entry()"
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


def interleave(
    repeat: int, keys: Iterable[Any], measure: Callable[[Any], dict[str, Any]]
) -> dict[Any, list[dict[str, Any]]]:
    """`measure(key)` for every key, `repeat` rounds, keys alternated within each round.

    Why: a burst of load from other users of the machine then hits every side alike,
    rather than all of one side's runs.
    """
    order = list(keys)
    runs: dict[Any, list[dict[str, Any]]] = {key: [] for key in order}
    for _ in range(repeat):
        for key in order:
            runs[key].append(measure(key))
    return runs


def merge_runs(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One side's child results as one: every run's times, the worst memory, last figures."""
    return {
        "walls": [w for r in runs for w in r["walls"]],
        "cpus": [c for r in runs for c in r["cpus"]],
        "first_s": median([r["first_s"] for r in runs]),
        "peak_rss_kb": max(r["peak_rss_kb"] for r in runs),
        "load_s": median([r.get("load_s", 0.0) for r in runs]),
        "data_kb": max(r.get("rss_loaded_kb", 0) - r["rss_ready_kb"] for r in runs),
        "figures": runs[-1].get("figures"),
        "first": runs[0],
    }


def warm_page_cache(path: Path) -> float:
    """Read a file once so every measured run starts with it in the OS cache; returns seconds.

    Otherwise the first run (whichever side it is) would also pay for the disk read.
    """
    start = time.perf_counter()
    with path.open("rb") as fh:
        while fh.read(16 * 1024 * 1024):
            pass
    return time.perf_counter() - start


# -- data generation -----------------------------------------------------------------------


def sql_lit(text: str) -> str:
    """A SQL string literal (generated SQL only: the values are the generator's own)."""
    return "'" + text.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_list(items: Sequence[str]) -> str:
    """A SQL list literal of strings, indexed 1-based with ``[k + 1]``."""
    return "[" + ", ".join(sql_lit(s) for s in items) + "]"


def draw_macros(seed: int) -> str:
    """Uniform and normal draws keyed by (row, salt, seed); thread-independent by design.

    ``u`` is in (0, 1) (never 0, so ``ln`` is safe); ``z`` is a standard normal by
    Box-Muller from two uniforms. ``setseed`` + ``random()`` would repeat only
    single-threaded; these give the same rows whatever the thread split.
    """
    return f"""
    CREATE OR REPLACE TEMP MACRO u(i, salt) AS
        ((hash(i, salt, {int(seed)}) >> 11)::DOUBLE + 0.5) / 9007199254740992.0;
    CREATE OR REPLACE TEMP MACRO z(i, salt) AS
        sqrt(-2.0 * ln(u(i, salt))) * cos(2.0 * pi() * u(i, salt + 1000));
    """


def new_import(con: Any, file_name: str, kind: str, as_of: Any) -> int:
    """An ``imports`` row for a generated table, so the database looks like a real one."""
    row = con.execute(
        """
        INSERT INTO imports (file_name, sha256, kind, source_format, as_of_date, rows_read,
                             rows_loaded, rows_rejected, started_at, finished_at)
        VALUES (?, 'generated', ?, 'benchmark generator', ?, 0, 0, 0,
                current_timestamp, current_timestamp)
        RETURNING import_id
        """,
        [file_name, kind, as_of],
    ).fetchone()
    return int(row[0])


def set_import_rows(con: Any, import_id: int, table: str) -> None:
    """Record in the ``imports`` row how many rows of `table` it brought."""
    count = con.execute(f"SELECT count(*) FROM {table} WHERE import_id = ?", [import_id])
    n = int(count.fetchone()[0])
    con.execute(
        "UPDATE imports SET rows_read = ?, rows_loaded = ?, rows_inserted = ?, "
        "finished_at = current_timestamp WHERE import_id = ?",
        [n, n, n, import_id],
    )


def cached(path: Path, build: Callable[[Path], None]) -> Path:
    """`path`, built first by ``build(tmp)`` when missing.

    Built under a temporary name and renamed, so an interrupted run never leaves a
    half-written file that a later run would mistake for a finished one.
    """
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        build(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    return path


# -- comparing -----------------------------------------------------------------------------


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def close(a: Any, b: Any, abs_tol: float = 0.0, rel_tol: float = REL_TOL) -> bool:
    """The same figure: both missing, or within `abs_tol` or `rel_tol` of the larger."""
    if missing(a) or missing(b):
        return missing(a) and missing(b)
    return math.isclose(float(a), float(b), rel_tol=rel_tol, abs_tol=abs_tol)


def frame_json(frame: Any) -> dict[str, Any]:
    """A DataFrame as JSON-safe split form (NaN -> null, dates -> ISO) for the parent."""
    return json.loads(frame.to_json(orient="split", index=False, date_format="iso"))


def frame_from_json(data: dict[str, Any]) -> Any:
    import pandas as pd

    return pd.DataFrame(data["data"], columns=data["columns"])


@dataclass
class Agreement:
    """How one figure compares across the two sides."""

    figure: str
    compared: int
    max_abs_diff: float | None
    disagree: int
    example: str = ""

    @property
    def ok(self) -> bool:
        return self.disagree == 0


def compare_values(
    figure: str,
    keys: Sequence[Any],
    left: Sequence[Any],
    right: Sequence[Any],
    abs_tol: float = 0.0,
) -> Agreement:
    """Compare aligned values: missing on one side only, or further apart than
    ``abs_tol + REL_TOL * max(1, |a|, |b|)``, is a disagreement; the first is kept."""
    import numpy as np
    import pandas as pd

    if any(isinstance(v, str) for v in [*left, *right] if v is not None):
        bad = [
            i
            for i, (a, b) in enumerate(zip(left, right, strict=True))
            if not (missing(a) and missing(b)) and a != b
        ]
        example = "" if not bad else f"{keys[bad[0]]}: {left[bad[0]]!r} vs {right[bad[0]]!r}"
        return Agreement(figure, len(keys), None, len(bad), example)

    def numeric(values: Sequence[Any]) -> Any:
        return pd.to_numeric(pd.Series(list(values), dtype=object), errors="coerce").to_numpy(float)

    a, b = numeric(left), numeric(right)
    a_nan, b_nan = np.isnan(a), np.isnan(b)
    both = ~a_nan & ~b_nan
    diff = np.abs(a - b)
    tol = abs_tol + REL_TOL * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))
    bad_idx = np.flatnonzero((a_nan != b_nan) | (both & (diff > tol)))
    max_diff = float(diff[both].max()) if both.any() else None
    example = ""
    if len(bad_idx):
        i = int(bad_idx[0])
        example = f"{keys[i]}: analytics {left[i]!r} vs pandas {right[i]!r}"
    return Agreement(figure, len(keys), max_diff, int(len(bad_idx)), example)


def agreement_table(rows: list[Agreement]) -> str:
    body = [
        [
            r.figure,
            r.compared,
            "-" if r.max_abs_diff is None else f"{r.max_abs_diff:.3g}",
            r.disagree,
            "ok" if r.ok else "DIFF",
            r.example[:90],
        ]
        for r in rows
    ]
    return format_table(
        ["figure", "rows", "max abs diff", "disagree", "", "first disagreement"], body
    )


# -- profiling -----------------------------------------------------------------------------


class RecordingConnection:
    """Forward to a DuckDB connection, recording each ``execute`` (seconds, SQL, parameters,
    the analytics function that issued it).

    The parameters are kept so that a slow statement can be re-run under DuckDB's profiler
    exactly as the analytics issued it.
    """

    def __init__(self, con: Any) -> None:
        self._con = con
        self.calls: list[tuple[float, str, Any, str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)

    def execute(self, sql: str, params: Any = None) -> Any:
        caller = _analytics_caller()
        start = time.perf_counter()
        result = self._con.execute(sql) if params is None else self._con.execute(sql, params)
        self.calls.append((time.perf_counter() - start, sql, params, caller))
        return result


def _analytics_caller() -> str:
    """The analytics function that issued a statement (the nearest frame in analytics/).

    Walks frames by hand: ``inspect.stack()`` reads source files and would add its own
    milliseconds to the time being broken down.
    """
    frame = sys._getframe(2)
    while frame is not None:
        filename = frame.f_code.co_filename.replace("\\", "/")
        if "/analytics/" in filename:
            return f"{Path(filename).stem}.{frame.f_code.co_name}"
        frame = frame.f_back
    return "?"


def _operators(node: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten DuckDB's JSON profile tree (1.x and 2.x layouts) into operator records."""
    out = []
    kind = node.get("type") or node.get("operator_type") or node.get("operator_name")
    timing = node.get("timing", node.get("operator_timing"))
    if kind and timing is not None:
        out.append(
            {
                "type": str(kind),
                "seconds": float(timing),
                "rows": node.get("intermediate_rows", node.get("operator_cardinality")),
                "info": node.get("extra_info") or {},
            }
        )
    for child in node.get("children", []) or []:
        out.extend(_operators(child))
    return out


def _describe(info: Any) -> str:
    if not isinstance(info, dict):
        return " ".join(str(info).split())[:110]
    parts = []
    for key in ("Table", "Conditions", "Join Type", "Groups", "Aggregates", "Filters", "Function"):
        if info.get(key):
            parts.append(f"{key}: {' '.join(str(info[key]).split())}")
    return "; ".join(parts)[:140]


def profile_statement(con: Any, sql: str, params: Any, top: int = 8) -> str:
    """Run one statement under DuckDB's JSON profiler; the costliest operators, in order."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.json"
        con.execute("SET enable_profiling = 'json'")
        con.execute(f"SET profiling_output = '{path}'")
        try:
            start = time.perf_counter()
            con.execute(sql, params).fetchall()
            wall = time.perf_counter() - start
        finally:
            con.execute("RESET enable_profiling")
            con.execute("RESET profiling_output")
        data = json.loads(path.read_text(encoding="utf-8"))
    roots = data.get("operator") or data.get("children") or []
    ops = [op for root in roots for op in _operators(root)]
    total = sum(op["seconds"] for op in ops) or 1.0
    cpu = (data.get("query") or {}).get("cpu_time", data.get("cpu_time"))
    lines = [
        f"    run under profiler: {wall:.3f} s wall"
        + (f", {float(cpu):.3f} s operator CPU" if cpu is not None else "")
    ]
    for op in sorted(ops, key=lambda o: -o["seconds"])[:top]:
        rows = "" if op["rows"] is None else f"{int(op['rows']):>10,} rows"
        lines.append(
            f"    {op['seconds']:7.3f} s {100 * op['seconds'] / total:4.0f}%  "
            f"{op['type']:<20} {rows}  {_describe(op['info'])}"
        )
    return "\n".join(lines)


# -- report --------------------------------------------------------------------------------


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


def ratio(slow: float, fast: float) -> float:
    """`slow` / `fast` (how many times faster `fast` is); infinite when `fast` took 0."""
    return slow / fast if fast > 0 else math.inf


def seconds_list(values: Sequence[float], digits: int = 3) -> str:
    return " ".join(f"{v:.{digits}f}" for v in values)


def goal_cell(value: float, goal: float, *, at_most: bool = False, unit: str = "x") -> str:
    """``>=5x PASS`` / ``<=0.5s MISS``: a goal and whether `value` meets it."""
    met = value <= goal if at_most else value >= goal
    return f"{'<=' if at_most else '>='}{goal:g}{unit} {'PASS' if met else 'MISS'}"


VERSUS_HEADERS = [
    "analytics s", "1st call s", "an. cpu s", "pandas s", "pd. cpu s", "ratio", "cpu ratio",
]  # fmt: skip
MEMORY_HEADERS = ["an. peak MB", "pd. peak MB", "pd. load s", "pd. data MB"]


def versus_cells(an: dict[str, Any], pa: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Two merged sides (`merge_runs`) as table cells: the times and ratios, the memory."""
    an_s, pa_s = median(an["walls"]), median(pa["walls"])
    cpu_ratio = median(pa["cpus"]) / max(median(an["cpus"]), 1e-9)
    times = [
        f"{an_s:.3f}", f"{an['first_s']:.3f}", f"{median(an['cpus']):.3f}",
        f"{pa_s:.3f}", f"{median(pa['cpus']):.3f}", f"{ratio(pa_s, an_s):.1f}x",
        f"{cpu_ratio:.1f}x",
    ]  # fmt: skip
    memory = [
        f"{mb(an['peak_rss_kb']):.0f}", f"{mb(pa['peak_rss_kb']):.0f}",
        f"{pa['load_s']:.1f}", f"{mb(pa['data_kb']):.0f}",
    ]  # fmt: skip
    return times, memory


def versus_note(threads: int) -> str:
    """What the analytics-vs-pandas table's columns mean."""
    return (
        "  analytics s / pandas s = median wall time after a warm-up call; 1st call = the\n"
        "  analytics' first call on a fresh connection (reads the file), not in the median;\n"
        f"  cpu s = CPU time of all the process's threads (DuckDB uses {threads}); ratio =\n"
        "  pandas / analytics in wall time, cpu ratio the same in CPU time. pandas gets its\n"
        "  data in memory for free: loaded once per process, outside the timed region (pd.\n"
        "  load s; pd. data MB = the RSS it adds); peak MB = VmHWM of each side's process"
    )


def side_cells(runs: list[dict[str, Any]]) -> list[str]:
    """One side's child results as cells: median wall, median CPU, 1st call, peak MB, runs."""
    walls = [w for r in runs for w in r["walls"]]
    cpus = [c for r in runs for c in r["cpus"]]
    peak = max(r["peak_rss_kb"] for r in runs)
    return [
        f"{median(walls):.2f}", f"{median(cpus):.2f}",
        f"{median([r['first_s'] for r in runs]):.2f}", f"{mb(peak):,.0f}",
        seconds_list(walls, 2),
    ]  # fmt: skip


def side_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One side's child results as figures for ``print_json``."""
    walls = [w for r in runs for w in r["walls"]]
    cpus = [c for r in runs for c in r["cpus"]]
    return {
        "median_s": median(walls),
        "cpu_s": median(cpus),
        "runs_s": walls,
        "peak_rss_kb": max(r["peak_rss_kb"] for r in runs),
    }


SIDE_HEADERS = ["median s", "cpu s", "1st call s", "peak MB", "runs s", "notes"]


def pandas_load_note(runs: list[dict[str, Any]]) -> str:
    """The baseline's untimed load: seconds and the memory it added (median of the runs)."""
    load_s = median([r["load_s"] for r in runs])
    load_mb = median([mb(r["rss_loaded_kb"] - r["rss_ready_kb"]) for r in runs])
    return f"load {load_s:.1f} s (untimed), +{load_mb:,.0f} MB"


def wall_cpu_ratio(runs: dict[str, list[dict[str, Any]]]) -> str:
    """``pandas / analytics = Nx wall, Mx CPU`` from the two sides' child results."""
    wall = {s: median([w for r in runs[s] for w in r["walls"]]) for s in runs}
    cpu = {s: median([c for r in runs[s] for c in r["cpus"]]) for s in runs}
    return (
        f"pandas / analytics = {wall['pandas'] / wall['analytics']:.1f}x wall, "
        f"{cpu['pandas'] / cpu['analytics']:.1f}x CPU"
    )


def print_json(name: str, payload: dict[str, Any]) -> None:
    """One ``BENCH_JSON {...}`` line with the benchmark's figures, for scripts and CI."""
    print(JSON_MARKER + json.dumps({"benchmark": name, **payload}, default=str))
