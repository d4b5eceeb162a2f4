"""Snapshots stored once (issue 15.1): "the pipeline as known on day D" is unchanged.

Each deal's newest snapshot row is its `opportunities` row; `opportunity_snapshot_history`
holds the rows newer exports superseded; the view `opportunity_snapshots` is both. These
tests read every snapshot through the view and compare it with the files that were
imported, parsed here with the csv module (not the importer), so the expected values do
not come from the code under test.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics import db
from analytics.demo import DEFAULT_ANCHOR
from analytics.demo.files import OPPORTUNITY_HEADER

SNAPSHOT_COLUMNS = (
    "snapshot_date, opportunity_id, opportunity_name, account, owner, stage, source_stage, "
    "amount, currency, probability, forecast_category, created_date, close_date, is_closed, "
    "is_won, lead_source, deal_type, product, import_id"
)
DEFAULT_SETTINGS = Path(db.__file__).with_name("default_settings.json")


def _outcome() -> dict[str, tuple[bool, bool]]:
    """Stage name -> (is_closed, is_won), from the settings file a new database starts with."""
    stages = json.loads(DEFAULT_SETTINGS.read_text(encoding="utf-8"))["stages"]
    return {s["name"]: (bool(s["is_closed"]), bool(s["is_won"])) for s in stages}


def _text(value: str) -> str | None:
    value = value.strip()
    return None if value in ("", "-") else value


def _us_date(value: str) -> date | None:
    value = value.strip()
    return datetime.strptime(value, "%m/%d/%Y").date() if value else None


def rows_of_export(path: Path, as_of: date, import_id: int) -> set[tuple]:
    """A Salesforce report export as snapshot rows: its data lines up to the footer."""
    outcome = _outcome()
    with path.open(encoding="utf-8", newline="") as fh:
        lines = list(csv.reader(fh))
    assert tuple(lines[0]) == OPPORTUNITY_HEADER
    rows = set()
    for line in lines[1:]:
        if not line or not line[0]:  # the blank line before "Grand Totals"
            break
        (opp_id, name, account, owner, stage, amount, currency, prob, category, created,
         close, lead_source, deal_type, product) = line  # fmt: skip
        closed, won = outcome[stage]
        rows.add(
            (as_of, opp_id, _text(name), _text(account), _text(owner), stage, stage,
             Decimal(amount.replace(",", "")) if amount.strip() else None, _text(currency),
             float(prob.rstrip("%")) if prob.strip() else None, _text(category),
             _us_date(created), _us_date(close), closed, won, _text(lead_source),
             _text(deal_type), _text(product), import_id)
        )  # fmt: skip
    return rows


@dataclass(frozen=True)
class Export:
    """One weekly opportunities export the demo imported, and its as-of date."""

    path: Path
    as_of: date


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory,
    copy_demo: Callable[[Path], Path],
    demo_summary: dict[str, Any],
) -> tuple[Path, list[Export]]:
    """A copy of the shared demo (seed 42, the default anchor; tests/conftest.py) and the
    weekly exports it was imported from, in import order.

    Why the shared one: importing the demo again here cost a full build (15-25 s) in each
    test process. The template is the same files imported the same way (`build_demo` is
    `write_demo_files` + `import_demo_files`); each export's as-of date is the date its
    file is named for (analytics/demo/generate.py: `opportunities_<as-of>.csv`).
    """
    assert (demo_summary["seed"], demo_summary["anchor"]) == (42, DEFAULT_ANCHOR.isoformat())
    exports = [
        Export(Path(f), date.fromisoformat(Path(f).stem.removeprefix("opportunities_")))
        for f in demo_summary["files"]
        if Path(f).name.startswith("opportunities_")
    ]
    return copy_demo(tmp_path_factory.mktemp("demo-snapshots")), exports


@pytest.fixture(scope="module")
def dcon(demo: tuple[Path, list]):
    con = duckdb.connect(str(demo[0]), read_only=True)
    yield con
    con.close()


def _import_ids(con: duckdb.DuckDBPyConnection) -> dict[date, int]:
    rows = con.execute(
        "SELECT as_of_date, import_id FROM imports WHERE kind = 'opportunities'"
    ).fetchall()
    assert len({d for d, _ in rows}) == len(rows), "one opportunities export per as-of date"
    return dict(rows)


def test_every_demo_snapshot_reads_back_as_its_file(dcon, demo) -> None:
    """All 53 weekly exports, every row and column, read through `opportunity_snapshots`."""
    _, exports = demo
    assert len(exports) == 53
    ids = _import_ids(dcon)
    expected_total = 0
    for export in exports:
        expected = rows_of_export(export.path, export.as_of, ids[export.as_of])
        got = set(
            dcon.execute(
                f"SELECT {SNAPSHOT_COLUMNS} FROM opportunity_snapshots WHERE snapshot_date = ?",
                [export.as_of],
            ).fetchall()
        )
        assert got == expected, (export.path.name, len(got ^ expected))
        expected_total += len(expected)
    # nothing beyond the 53 exports, and no row twice
    assert dcon.execute("SELECT count(*) FROM opportunity_snapshots").fetchone()[0] == (
        expected_total
    )


def test_current_state_is_each_deals_newest_export_row(dcon, demo) -> None:
    _, exports = demo
    ids = _import_ids(dcon)
    newest: dict[str, tuple] = {}
    for export in sorted(exports, key=lambda e: e.as_of):
        for row in rows_of_export(export.path, export.as_of, ids[export.as_of]):
            newest[row[1]] = row
    got = dcon.execute(f"SELECT {SNAPSHOT_COLUMNS} FROM opportunities").fetchall()
    assert len(got) == len(newest)
    assert set(got) == set(newest.values())


def test_each_row_is_stored_once(dcon) -> None:
    """The history holds no deal's current row, and only rows older than it."""
    assert dcon.execute(
        """
        SELECT count(*) FROM opportunity_snapshot_history h
        JOIN opportunities o USING (opportunity_id)
        WHERE h.snapshot_date >= o.snapshot_date
        """
    ).fetchone() == (0,)
    assert dcon.execute(
        "SELECT count(*) FROM opportunity_snapshot_history h "
        "ANTI JOIN opportunities o USING (opportunity_id)"
    ).fetchone() == (0,)


OLD_SNAPSHOT_TABLE = """
CREATE TABLE opportunity_snapshots (
    snapshot_date DATE NOT NULL, opportunity_id VARCHAR NOT NULL, opportunity_name VARCHAR,
    account VARCHAR, owner VARCHAR, stage VARCHAR NOT NULL, source_stage VARCHAR,
    amount DECIMAL(18, 2), currency VARCHAR, probability DOUBLE, forecast_category VARCHAR,
    created_date DATE, close_date DATE, is_closed BOOLEAN NOT NULL, is_won BOOLEAN NOT NULL,
    lead_source VARCHAR, deal_type VARCHAR, product VARCHAR, import_id BIGINT NOT NULL
)
"""


def test_a_file_from_before_is_moved_to_the_new_layout_and_reads_the_same(
    tmp_path: Path,
) -> None:
    """A database written before issue 15.1 (every snapshot row in its own table, BANT and
    lead columns added later by ALTER) opens with the same snapshots, stage history and
    current state."""
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute(OLD_SNAPSHOT_TABLE)
    con.execute(
        "CREATE TABLE opportunities AS SELECT * EXCLUDE (snapshot_date, import_id), "
        "snapshot_date, import_id FROM opportunity_snapshots LIMIT 0"
    )
    rows = [  # deal A in three exports, B in the first two, C only in the last
        (date(2024, 1, 31), "A", "Discovery", Decimal("100.00"), False, 1),
        (date(2024, 1, 31), "B", "Demo", Decimal("200.00"), False, 1),
        (date(2024, 2, 29), "A", "Demo", Decimal("150.00"), False, 2),
        (date(2024, 2, 29), "B", "Closed Won", Decimal("200.00"), True, 2),
        (date(2024, 3, 31), "A", "Trial", None, False, 3),
        (date(2024, 3, 31), "C", "Discovery", Decimal("5.50"), False, 3),
    ]
    for day, opp, stage, amount, won, imp in rows:
        con.execute(
            "INSERT INTO opportunity_snapshots (snapshot_date, opportunity_id, owner, stage, "
            "source_stage, amount, is_closed, is_won, import_id) "
            "VALUES (?, ?, 'Ann', ?, ?, ?, ?, ?, ?)",
            [day, opp, stage, stage, amount, won, won, imp],
        )
    con.execute(
        "INSERT INTO opportunities SELECT * EXCLUDE (snapshot_date, import_id), snapshot_date, "
        "import_id FROM opportunity_snapshots QUALIFY snapshot_date = "
        "max(snapshot_date) OVER (PARTITION BY opportunity_id)"
    )
    before = set(con.execute(f"SELECT {SNAPSHOT_COLUMNS} FROM opportunity_snapshots").fetchall())
    con.close()

    con = db.connect(path)
    try:
        kind = con.execute(
            "SELECT table_type FROM information_schema.tables "
            "WHERE table_name = 'opportunity_snapshots'"
        ).fetchone()[0]
        assert kind == "VIEW"
        after = set(con.execute(f"SELECT {SNAPSHOT_COLUMNS} FROM opportunity_snapshots").fetchall())
        assert after == before
        assert con.execute("SELECT count(*) FROM opportunity_snapshot_history").fetchone() == (3,)
        assert con.execute(
            "SELECT opportunity_id, stage, CAST(entered_at AS DATE) "
            "FROM opportunity_stage_history ORDER BY 1, 3"
        ).fetchall() == [
            ("A", "Discovery", date(2024, 1, 31)),
            ("A", "Demo", date(2024, 2, 29)),
            ("A", "Trial", date(2024, 3, 31)),
            ("B", "Demo", date(2024, 1, 31)),
            ("B", "Closed Won", date(2024, 2, 29)),
            ("C", "Discovery", date(2024, 3, 31)),
        ]
    finally:
        con.close()
    # opening again changes nothing
    con = db.connect(path)
    try:
        assert (
            set(con.execute(f"SELECT {SNAPSHOT_COLUMNS} FROM opportunity_snapshots").fetchall())
            == before
        )
    finally:
        con.close()
