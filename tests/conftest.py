"""Shared fixtures: a real DuckDB file per test and the paths of the real CRM exports."""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from analytics import db

# The app stores its frames' text in Python objects (pages/_ui.py says why); every test
# process does the same from the start, so a test's frames do not depend on whether an
# app test happened to import the pages before it in the same worker.
pd.set_option("mode.string_storage", "python")

TESTS_DIR = Path(__file__).resolve().parent
FIXTURES = TESTS_DIR / "data"
PROJECT_ROOT = TESTS_DIR.parent
REALDATA = PROJECT_ROOT.parent / "shared" / "realdata"

# Modules whose tests start servers, browsers or subprocesses that are killed on purpose. They
# run after everything else so that a failure in the fast part of the suite shows first.
SLOW_MODULES = frozenset(
    {"test_crash", "test_concurrency", "test_benchmarks_run", "test_sign_in_race"}
)


def _is_slow(item: pytest.Item) -> bool:
    module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
    return (
        item.get_closest_marker("e2e") is not None
        or item.get_closest_marker("slow") is not None
        or module in SLOW_MODULES
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move the real-browser, crash and concurrency tests to the end, keeping each group's own
    order. With pytest-xdist's load scheduling the fast tests are handed out first as well."""
    items[:] = sorted(items, key=_is_slow)


@pytest.fixture(scope="session", autouse=True)
def _component_scan_once() -> Iterator[None]:
    """Streamlit's AppTest scans every installed distribution's metadata for v2 component
    manifests on each new AppTest (about a thousand packages here: 0.15 CPU s each time,
    hundreds of times a run). What it finds cannot change while the tests run, so it is
    scanned once per test process; the app and each AppTest's registry are untouched."""
    from streamlit.components.v2 import manifest_scanner

    scan = manifest_scanner.scan_component_manifests
    found: dict[str, list[Any]] = {}

    def scan_once(*args: Any, **kwargs: Any) -> list[Any]:
        key = repr((args, sorted(kwargs.items())))  # a scan asked differently is its own
        if key not in found:
            found[key] = list(scan(*args, **kwargs))
        return list(found[key])

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(manifest_scanner, "scan_component_manifests", scan_once)
        yield


@pytest.fixture(scope="session", autouse=True)
def _page_bytecode_once() -> Iterator[None]:
    """Each AppTest starts a fresh Streamlit runtime with an empty script cache, so every
    test compiled dashboard.py and the page again, magic (an AST rewrite) included: a fifth
    of the CPU of the page tests. A compiled script is immutable, so it is kept per process,
    keyed by the file's path, modification time and size and by whether magic is on: an
    edited script, or another setting, is compiled afresh. What runs is unchanged."""
    from streamlit import config
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    compile_script = ScriptCache.get_bytecode
    compiled: dict[tuple[str, int, int, bool], Any] = {}

    def get_bytecode(self: ScriptCache, script_path: str) -> Any:
        path = os.path.abspath(script_path)
        stat = os.stat(path)
        key = (path, stat.st_mtime_ns, stat.st_size, bool(config.get_option("runner.magicEnabled")))
        if key not in compiled:
            compiled[key] = compile_script(self, script_path)
        return compiled[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ScriptCache, "get_bytecode", get_bytecode)
        yield


@pytest.fixture(scope="session", autouse=True)
def _cheapest_password_hashes() -> Iterator[None]:
    """Passwords made and checked in a test process are argon2id with the library's own
    CHEAPEST parameters (argon2.profiles: "for testing"), not the production cost of a fifth
    of a CPU second per hash, which sign-in tests paid hundreds of times a run. Hashing,
    checking, refusing a wrong password and the stored `$argon2id$` form are the same code;
    a server or command started by a test keeps the production cost (it verifies any
    argon2id hash by the parameters written in it)."""
    from argon2 import PasswordHasher
    from argon2.profiles import CHEAPEST

    from analytics import users

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(users, "_hasher", PasswordHasher.from_parameters(CHEAPEST))
        users._dummy_hash.cache_clear()
        yield
    users._dummy_hash.cache_clear()


@pytest.fixture(scope="session", autouse=True)
def _new_databases_from_a_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A database that `db.connect` creates in a test process starts as a copy of one it
    created the same way earlier in that process, then goes through the same `connect`.

    Why: creating the schema (about fifty tables, the default settings and the derived
    tables' first count) cost 0.12 CPU s per new file, paid by most of the suite's two
    thousand fresh databases; copying the finished file costs milliseconds. The copy is
    the very file `connect` makes (nothing is in it but the schema and the defaults), and
    `connect` still applies the schema to it, so what a test opens is unchanged. Only new
    files on disk are copied: an existing file, `:memory:` and read-only opens are never
    touched, and a server or command a test starts creates its own as before."""
    real_connect = db.connect
    template: list[Path] = []

    def connect(path: Path | str | None = None, *, read_only: bool = False) -> Any:
        target = Path(path) if path is not None else db.default_db_path()
        fresh = (
            not read_only
            and str(target) != ":memory:"
            and not target.exists()
            and not target.with_name(target.name + ".wal").exists()
        )
        if fresh:
            if not template:
                made = tmp_path_factory.mktemp("empty-schema") / "empty.duckdb"
                real_connect(made).close()  # closed: checkpointed, the file holds it all
                template.append(made)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template[0], target)
        return real_connect(path, read_only=read_only)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(db, "connect", connect)
        yield


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "sales.duckdb"


@pytest.fixture
def con(db_path: Path) -> duckdb.DuckDBPyConnection:
    connection = db.connect(db_path)
    yield connection
    connection.close()


@pytest.fixture
def realdata() -> Path:
    """The shared real exports; skipped with a reason in a clone without them, a failure in
    CI (which provides them), so the real-data checks can never silently not run there."""
    if not REALDATA.is_dir():
        message = f"real CRM exports not found at {REALDATA} (CI provides ../shared/realdata)"
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return REALDATA


@pytest.fixture
def commission_app_db(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    db_template: Callable[[str, Callable[[duckdb.DuckDBPyConnection, Path], object], Path], Path],
) -> Path:
    """The commission fixture (tests/test_commission_engine.py) as the app's database: a
    private copy of the one imported per test process (see `db_template`)."""
    from test_commission_engine import commission_template

    path = commission_template(db_template, tmp_path / "commissions.duckdb")
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def built_once_per_run(
    tmp_path_factory: pytest.TempPathFactory,
    worker_id: str,
    name: str,
    build: Callable[[Path], object],
) -> Path:
    """The folder `name` that `build(folder)` filled once for the whole test run.

    The xdist workers of one run share a folder (the parent of each worker's base temp), so
    the first worker to ask builds it under a file lock and the others wait and reuse it. A
    folder is only marked built once `build` returned, so a build that failed half-way is
    started afresh by the next worker. Hand out copies of what is in it, never the files.
    """
    base = tmp_path_factory.getbasetemp()
    root = base.parent if worker_id != "master" else base
    folder = root / name
    done = folder / ".built"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir(parents=True)
                build(folder)
                done.touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return folder


@pytest.fixture(scope="session")
def build_once_per_run(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Callable[[str, Callable[[Path], object]], Path]:
    """`build_once_per_run(name, build)`: see `built_once_per_run`."""
    return lambda name, build: built_once_per_run(tmp_path_factory, worker_id, name, build)


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """The seeded demo database (seed 42, the default anchor), built once per test run.

    Why shared: building it takes 10-15 s, and six modules read it (`built_once_per_run`).
    Never hand this file to a test: take a private copy with `copy_demo`, which every test
    may change freely.
    """
    from analytics.demo import DEFAULT_ANCHOR, DEFAULT_SEED, build_demo

    def build(folder: Path) -> None:
        summary = build_demo(
            folder / "sales.duckdb", folder / "out", seed=DEFAULT_SEED, anchor=DEFAULT_ANCHOR
        )
        (folder / "summary.pickle").write_bytes(pickle.dumps(summary))

    return built_once_per_run(tmp_path_factory, worker_id, "demo-template", build) / "sales.duckdb"


@pytest.fixture(scope="session")
def demo_summary(demo_template: Path) -> dict[str, Any]:
    """What `build_demo` returned when it built the shared template: the files it wrote
    (in the template's `out` folder: read them, never change them), rows written and
    imported, the designed trajectories. Its "db_path" is the template itself: a test that
    opens the database takes a copy with `copy_demo` and reads that."""
    summary: dict[str, Any] = pickle.loads((demo_template.parent / "summary.pickle").read_bytes())
    return summary


@pytest.fixture(scope="session")
def copy_demo(demo_template: Path) -> Callable[[Path], Path]:
    """`copy_demo(folder)`: a private copy of the demo database in `folder`, a real file
    the test may change (the shared template is never handed out)."""

    def copy(folder: Path, name: str = "sales.duckdb") -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / name
        shutil.copyfile(demo_template, target)
        wal = demo_template.with_name(demo_template.name + ".wal")
        if wal.exists():
            shutil.copyfile(wal, target.with_name(target.name + ".wal"))
        return target

    return copy


@pytest.fixture(scope="session")
def db_template(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, Callable[[duckdb.DuckDBPyConnection, Path], object], Path], Path]:
    """`db_template(name, load, target)`: a private copy, at `target`, of a database that
    `load(con, folder)` filled once per test process (xdist worker) under `name`.

    Why: many parametrised tests each import the same few CSV files through the real
    importer before reading or changing the result; importing costs up to a second a test,
    copying the finished file a few milliseconds. Each test still gets its own real file to
    change freely. `load` may only keep its uploads in `folder` (the template's, shared):
    a test that rolls back an import or reads its stored upload must load its own.
    """
    built: dict[str, Path] = {}

    def copy(name: str, load: Callable[[duckdb.DuckDBPyConnection, Path], object],
             target: Path) -> Path:  # fmt: skip
        if name not in built:
            folder = tmp_path_factory.mktemp("db-template")
            path = folder / "template.duckdb"
            connection = db.connect(path)
            try:
                load(connection, folder)
            finally:
                connection.close()  # checkpointed: the file alone holds everything
            built[name] = path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[name], target)
        return target

    return copy
