"""`python -m analytics demo`: a seeded, realistic demo loaded through the real importer.

Why it exists: every page needs data that exercises it (rising and falling reps, stalled
and slipping deals, seasonality, forecasts to compare with actuals), and the import path
needs realistic files. So the demo writes CRM-style export files into ``data/demo/`` and
loads them with :func:`analytics.ingest.import_file`, exactly as ops would upload them.
Nothing here writes to the database directly.

Deterministic: the same seed and anchor give the same bytes. The anchor ("today" in the
demo) is a fixed date by default, not the clock, for the same reason.

Heavy imports (numpy, pandas, the importer) happen inside the functions, so the CLI starts
fast for the other sub-commands that import this module only to register.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analytics.demo.files import DemoFile

DEFAULT_SEED = 42
DEFAULT_ANCHOR = date(2026, 11, 16)  # a Monday: the last weekly snapshot is taken on it


class DemoError(RuntimeError):
    """The demo could not be built (a refused import, or a database that is not empty)."""


def default_demo_db() -> Path:
    """<project>/data/demo.duckdb: the demo's own database, never a team's (issue 12)."""
    from analytics.db import PROJECT_ROOT

    return PROJECT_ROOT / "data" / "demo.duckdb"


def default_out_dir() -> Path:
    """<project>/data/demo: beside the default database, git-ignored."""
    from analytics.db import PROJECT_ROOT

    return PROJECT_ROOT / "data" / "demo"


def write_demo_files(
    out_dir: Path | str, seed: int = DEFAULT_SEED, anchor: date = DEFAULT_ANCHOR
) -> list[DemoFile]:
    """Generate the demo and write its export files; returns them in import order."""
    from analytics.demo import generate

    return generate.write(generate.generate(seed, anchor), Path(out_dir))


def import_demo_files(db_path: Path | str, demo_files: list[DemoFile]) -> dict[str, int]:
    """Import the files in order through the ops import path; rows loaded per kind.

    Raises DemoError with the importer's message on the first file it does not load
    whole, because a half-loaded demo would mislead every page.
    """
    from analytics import db
    from analytics.ingest import import_file

    loaded: dict[str, int] = {}
    con = db.connect(db_path)
    try:
        data_dir = db.data_dir_for(db_path)
        for f in demo_files:
            result = import_file(
                con, f.path, kind=f.kind, as_of=f.as_of, data_dir=data_dir, backup=False
            )
            # Only a whole load will do: a partial demo (rows in quarantine) or a duplicate
            # (an earlier demo already in this database) would make every page misleading.
            if result.status != "loaded":
                raise DemoError(f"demo import of {f.kind} stopped: {result.message}")
            loaded[f.kind] = loaded.get(f.kind, 0) + result.rows_loaded
    finally:
        con.close()
    return loaded


def _prepare_database(db_path: Path, replace: bool) -> None:
    """Refuse any database the demo builder did not make; refuse to mix the demo into its
    own earlier build unless replacing (then the file is deleted first).

    Why so strict: a team's own database filled with fake deals cannot be told apart
    from real ones afterwards, on any page.
    """
    if not db_path.exists():
        return
    import duckdb

    from analytics.settings import DEMO_DATABASE_KEY

    try:
        con = duckdb.connect(str(db_path), read_only=True)
    except duckdb.Error as exc:
        raise DemoError(
            f"{db_path} exists and cannot be read as a database; the demo only goes into "
            f"its own file (default {default_demo_db()}), so nothing was written"
        ) from exc
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        marked = "settings" in tables and bool(
            con.execute(
                "SELECT count(*) FROM settings WHERE key = ? AND CAST(value AS VARCHAR) = 'true'",
                [DEMO_DATABASE_KEY],
            ).fetchone()[0]
        )
        n = con.execute("SELECT count(*) FROM imports").fetchone()[0] if "imports" in tables else 0
    finally:
        con.close()
    if not marked:
        raise DemoError(
            f"{db_path} is not a demo database (it has no {DEMO_DATABASE_KEY} setting): demo "
            "data only goes into the demo's own file, never into a team's database, so nothing "
            f"was written. Build the demo with --db pointing at a new file (default "
            f"{default_demo_db()})"
        )
    if n and not replace:
        raise DemoError(
            f"{db_path} already holds {n} imports; pass --replace to delete it and "
            "rebuild the demo from scratch"
        )
    if replace:
        for p in (db_path, db_path.with_name(db_path.name + ".wal")):
            p.unlink(missing_ok=True)


def _mark(db_path: Path) -> None:
    """Create the database and mark it as the demo's before anything is imported, so a
    build that stops half-way can still be replaced with --replace."""
    from analytics import db
    from analytics.settings import mark_demo_database

    con = db.connect(db_path)
    try:
        mark_demo_database(con)
    finally:
        con.close()


def build_demo(
    db_path: Path | str,
    out_dir: Path | str | None = None,
    seed: int = DEFAULT_SEED,
    anchor: date = DEFAULT_ANCHOR,
    *,
    replace: bool = False,
) -> dict[str, Any]:
    """Write the demo files and import them into `db_path`; returns a summary.

    The summary holds the files written, rows per kind (written and imported), the
    designed trajectory reps, and the seconds each phase took.
    """
    from analytics.demo import generate

    db_path = Path(db_path)
    out = Path(out_dir) if out_dir is not None else default_out_dir()
    _prepare_database(db_path, replace)
    _mark(db_path)
    t0 = time.perf_counter()
    data = generate.generate(seed, anchor)
    t1 = time.perf_counter()
    demo_files = generate.write(data, out)
    t2 = time.perf_counter()
    imported = import_demo_files(db_path, demo_files)
    t3 = time.perf_counter()
    written: dict[str, int] = {}
    for f in demo_files:
        written[f.kind] = written.get(f.kind, 0) + f.rows
    return {
        "db_path": str(db_path),
        "out_dir": str(out),
        "seed": seed,
        "anchor": anchor.isoformat(),
        "files": [str(f.path) for f in demo_files],
        "rows_written": written,
        "rows_imported": imported,
        "trajectories": data.trajectories,
        "seconds": {
            "generate": round(t1 - t0, 2),
            "write": round(t2 - t1, 2),
            "import": round(t3 - t2, 2),
            "total": round(t3 - t0, 2),
        },
    }
