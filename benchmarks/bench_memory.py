"""Memory benchmark: peak RSS of importing a ~2 GB CSV, against bare DuckDB ``read_csv``.

Why: an upload must not need memory in proportion to its size. The importer never reads a
CSV into pandas or Python lists (it hashes it in 8 MB chunks and hands it to DuckDB's
``read_csv``; .xlsx, which cannot be streamed as text, is capped by size and copied to
DuckDB in batches), so its peak memory should stay near what DuckDB itself needs to read
the same file. This benchmark shows it: the same generated Salesforce report export
(``gen_opportunities``, scaled to ``--gb``) is loaded by

* **baseline**: ``CREATE TABLE t AS SELECT * FROM read_csv(file, null_padding=true)`` into a
  new DuckDB file (the floor: no checks, no canonical tables);
* **import**: ``analytics.ingest.import_file`` into a new database, as the app does it;

each in a fresh process (peak RSS = the child's VmHWM), first with DuckDB's default memory
limit (80% of RAM), then with ``--memory-limit`` (default 1GB; for the import through
``$SALES_MEMORY_LIMIT``, which analytics.db applies) to show that the peak follows the
limit, not the file. The report prints peak RSS, peak above the child's memory after its
imports, peak / file size, and import / baseline. The generated file is written to a
temporary folder and deleted at the end (``--keep`` keeps it); it is never cached in
``benchmarks/out`` (2 GB).

Usage::

    python -m benchmarks.bench_memory                # ~2 GB, about 10.5 million rows
    python -m benchmarks.bench_memory --gb 0.2       # a quick run
    python -m benchmarks --only memory
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.gen_opportunities import generate
from benchmarks.harness import (
    current_rss_kb,
    format_table,
    load_average,
    mb,
    new_parser,
    print_json,
    run_in_child,
    warm_page_cache,
)

NAME = "memory"
BYTES_PER_ROW = 189.2  # gen_opportunities: 1,000,000 rows are 189,208,164 bytes
DEFAULT_LIMIT = "1GB"


def baseline_once(csv_path: str, db_path: str, memory_limit: str | None) -> dict[str, Any]:
    """Child body: bare DuckDB reads the whole file into a new database file."""
    import duckdb

    rss_ready = current_rss_kb()
    start = time.perf_counter()
    con = duckdb.connect(db_path)
    try:
        if memory_limit:
            con.execute("SET memory_limit = ?", [memory_limit])
        con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?, null_padding = true)", [csv_path])
        rows = con.execute("SELECT count(*) FROM t").fetchone()[0]
    finally:
        con.close()
    return {"ok": True, "rows": int(rows), "seconds": time.perf_counter() - start,
            "rss_ready_kb": rss_ready}  # fmt: skip


def import_once(
    csv_path: str, db_path: str, data_dir: str, memory_limit: str | None
) -> dict[str, Any]:
    """Child body: the app's importer, with the limit set the way a deployment sets it."""
    if memory_limit:
        os.environ["SALES_MEMORY_LIMIT"] = memory_limit
    from analytics import db, ingest

    rss_ready = current_rss_kb()
    start = time.perf_counter()
    con = db.connect(db_path)
    try:
        result = ingest.import_file(con, Path(csv_path), data_dir=Path(data_dir))
    finally:
        con.close()
    return {"ok": bool(result.ok), "rows": int(result.rows_loaded or 0),
            "message": result.message[:500], "seconds": time.perf_counter() - start,
            "rss_ready_kb": rss_ready}  # fmt: skip


def measure(side: str, csv_path: Path, work: Path, memory_limit: str | None) -> dict[str, Any]:
    run_dir = Path(tempfile.mkdtemp(prefix=f"{side}-", dir=work))
    try:
        args: dict[str, Any] = {"csv_path": str(csv_path), "db_path": str(run_dir / "b.duckdb"),
                                "memory_limit": memory_limit}  # fmt: skip
        if side == "import":
            args["data_dir"] = str(run_dir)
        return run_in_child(f"benchmarks.bench_memory:{side}_once", args, timeout=7200)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    parser = new_parser(
        "benchmarks.bench_memory", "Peak memory of importing a ~2 GB CSV vs bare DuckDB read_csv."
    )
    parser.set_defaults(rows=None, repeat=1)
    parser.add_argument("--gb", type=float, default=2.0, help="file size when --rows is not given")
    parser.add_argument("--memory-limit", default=DEFAULT_LIMIT,
                        help="DuckDB memory limit of the second round (default 1GB)")  # fmt: skip
    parser.add_argument("--work-dir", type=Path, default=None,
                        help="folder for the file and databases (default: temp)")  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the generated file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    rows = args.rows or max(1, round(args.gb * 1e9 / BYTES_PER_ROW))
    work = Path(tempfile.mkdtemp(prefix="bench-memory-", dir=args.work_dir))
    print(f"memory benchmark: {rows:,} rows, load {load_average()}")
    status = 0
    try:
        started = time.perf_counter()
        csv_path = generate(rows, args.seed, out_dir=work)
        size = csv_path.stat().st_size
        print(f"generated {size / 1e9:.2f} GB in {time.perf_counter() - started:.0f} s")
        warm_page_cache(csv_path)
        table, figures = [], []
        for limit in (None, args.memory_limit):
            results = {}
            for side in ("baseline", "import"):
                runs = [measure(side, csv_path, work, limit) for _ in range(max(1, args.repeat))]
                results[side] = max(runs, key=lambda r: r["peak_rss_kb"])
                # bare read_csv also keeps the report's footer lines as rows
                if not all(r["ok"] and rows <= r["rows"] <= rows + 5 for r in runs):
                    print(f"{side} did not load every row: {runs}")
                    status = 1
            for side, r in results.items():
                peak = r["peak_rss_kb"]
                table.append([
                    side, limit or "default (80% of RAM)", f"{r['rows']:,}",
                    f"{r['seconds']:.0f}", f"{mb(peak):,.0f}",
                    f"{mb(peak - r['rss_ready_kb']):,.0f}", f"{peak * 1024 / size:.2f}",
                    f"{peak / results['baseline']['peak_rss_kb']:.2f}x",
                ])  # fmt: skip
                figures.append({"side": side, "memory_limit": limit, "rows": r["rows"],
                                "seconds": r["seconds"], "peak_rss_kb": peak,
                                "ready_rss_kb": r["rss_ready_kb"]})  # fmt: skip
        print(format_table(
            ["side", "DuckDB memory limit", "rows", "wall s", "peak MB",
             "peak-over-ready MB", "peak / file", "peak vs baseline"],
            table,
        ))  # fmt: skip
        print(f"file: {size / 1024 / 1024:,.0f} MB; load after: {load_average()}")
        print_json(NAME, {"file_bytes": size, "runs": figures})
        if args.keep:
            kept = Path(tempfile.gettempdir()) / csv_path.name
            shutil.move(csv_path, kept)
            print(f"kept {kept}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
