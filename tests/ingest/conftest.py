"""Fixtures for the importer tests: real files into a real DuckDB file.

Helpers are fixtures (not imports) because tests/ and tests/ingest/ are not packages.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import duckdb
import pytest

from analytics import db
from analytics.db import quote_ident
from analytics.ingest import ImportResult, import_file

INGEST_DATA = Path(__file__).resolve().parent.parent / "data" / "ingest"


@pytest.fixture
def ingest_data() -> Path:
    """tests/data/ingest: the small committed fixtures (one per source format)."""
    return INGEST_DATA


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Where the importer keeps uploaded originals (data_dir/uploads/...)."""
    return tmp_path / "store"


@pytest.fixture
def run_import(con: duckdb.DuckDBPyConnection, data_dir: Path) -> Callable[..., ImportResult]:
    """import_file on the test's database with the test's data_dir."""

    def run(path: Path | str, **kwargs: Any) -> ImportResult:
        kwargs.setdefault("data_dir", data_dir)
        return import_file(con, path, **kwargs)

    return run


@pytest.fixture
def import_text(
    run_import: Callable[..., ImportResult], tmp_path: Path
) -> Callable[..., ImportResult]:
    """Write `text` as the file `name`, as a CRM exports it, and import it (it must load)."""

    def run(name: str, text: str, **kwargs: Any) -> ImportResult:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = run_import(path, **kwargs)
        assert result.ok, result.message
        return result

    return run


def _fingerprint(con: duckdb.DuckDBPyConnection, data_dir: Path) -> dict[str, Any]:
    tables = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
    ]
    out: dict[str, Any] = {
        t: con.execute(f"SELECT * FROM {quote_ident(t)} ORDER BY ALL").fetchall() for t in tables
    }
    out["(view) opportunity_stage_history"] = con.execute(
        "SELECT * FROM opportunity_stage_history ORDER BY ALL"
    ).fetchall()
    out["(files) uploads"] = sorted(
        str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file()
    )
    return out


@pytest.fixture
def fingerprint(con: duckdb.DuckDBPyConnection, data_dir: Path) -> Callable[[], dict[str, Any]]:
    """Every canonical table's full contents, the stage-history view and the stored uploads."""
    return lambda: _fingerprint(con, data_dir)


@pytest.fixture
def opp(con: duckdb.DuckDBPyConnection) -> Callable[[str], dict[str, Any]]:
    """The current `opportunities` row of one id, as a dict (KeyError-free: fails clearly)."""

    def get(opportunity_id: str) -> dict[str, Any]:
        cur = con.execute("SELECT * FROM opportunities WHERE opportunity_id = ?", [opportunity_id])
        rows = cur.fetchall()
        assert len(rows) == 1, f"expected one opportunity {opportunity_id!r}, found {len(rows)}"
        return dict(zip([d[0] for d in cur.description], rows[0], strict=True))

    return get


@pytest.fixture(scope="module")
def preloaded(tmp_path_factory) -> SimpleNamespace:
    """A real database file already holding one good import, shared by a module's table of
    refusals (each case compares its own before/after fingerprint): `.run(path, **kw)`,
    `.fingerprint()`, `.con`, `.data_dir`."""
    folder = tmp_path_factory.mktemp("preloaded")
    store = folder / "store"
    con = db.connect(folder / "sales.duckdb")
    assert import_file(con, INGEST_DATA / "template.csv", data_dir=store).status == "loaded"
    yield SimpleNamespace(
        con=con,
        data_dir=store,
        run=lambda path, **kwargs: import_file(con, path, data_dir=store, **kwargs),
        fingerprint=lambda: _fingerprint(con, store),
    )
    con.close()
