"""`pointintime.first_stage_change` (which picks "stage history" over "rebuilt") gives the
same day as `min(entered_at)` over the `opportunity_stage_history` view (issue 14, "Speed").

Why: it no longer reads the view (whose snapshot half is a window over every snapshot row,
0.3-0.8 s at 1,000,000 deals, once per backtest period before); it compares the imported
history's first day with the first snapshot that has a stage, and only when a snapshot is
earlier leaves out the deals that have imported history, as the view does. Each case below
is a real upload; the earliest snapshot belongs to a deal with imported history in two of
them, where a plain minimum over the snapshots would be wrong.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pytest

from analytics.ingest import import_file
from analytics.pointintime import first_stage_change

HEADER = ["opportunity_id", "opportunity_name", "owner", "stage", "amount", "created_date",
          "close_date"]  # fmt: skip
JAN, MAR = date(2024, 1, 31), date(2024, 3, 31)


def deal(i: int) -> list[str]:
    return [f"D{i}", f"Deal {i}", "Ann", "Prospecting", "100", "2023-12-01", "2024-09-30"]


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def load(con: duckdb.DuckDBPyConnection, path: Path, kind: str, as_of: date) -> None:
    result = import_file(con, path, kind=kind, as_of=as_of, data_dir=path.parent / "kept")
    assert result.ok, result.message


# (snapshots: as-of day -> deal numbers, imported history: (deal, entered_at), expected day)
CASES = [
    ({}, [], None),  # nothing uploaded
    ({MAR: [1, 2]}, [], MAR),  # one export, no history: its snapshot
    ({JAN: [1], MAR: [1, 2]}, [], JAN),  # the first snapshot
    ({MAR: [1, 2]}, [(1, "2023-12-05 09:00")], date(2023, 12, 5)),  # history first
    # the January snapshot's only deal has imported history: the view leaves it out
    ({JAN: [1], MAR: [1, 2]}, [(1, "2024-02-10 09:00")], date(2024, 2, 10)),
    ({JAN: [1], MAR: [1, 2]}, [(1, "2024-05-01 09:00")], MAR),
    ({JAN: [1, 3], MAR: [1, 2]}, [(1, "2024-02-10 09:00")], JAN),  # D3 has none: January
    ({}, [(1, "2024-02-10 09:00")], date(2024, 2, 10)),  # history without any export
]


@pytest.mark.parametrize(("snapshots", "changes", "expected"), CASES)
def test_first_stage_change_is_the_views_first_day(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    snapshots: dict[date, list[int]],
    changes: list[tuple[int, str]],
    expected: date | None,
) -> None:
    for day, numbers in sorted(snapshots.items()):
        path = write(tmp_path / f"opps_{day}.csv", [HEADER, *(deal(i) for i in numbers)])
        load(con, path, "opportunities", day)
    if changes:
        rows = [["opportunity_id", "stage", "entered_at"]]
        rows += [[f"D{i}", "Prospecting", at] for i, at in changes]
        load(con, write(tmp_path / "hist.csv", rows), "stage_history", MAR)
    view = con.execute(
        "SELECT CAST(min(entered_at) AS DATE) FROM opportunity_stage_history"
    ).fetchone()[0]
    assert view == expected
    assert first_stage_change(con) == expected
