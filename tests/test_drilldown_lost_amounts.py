"""The drill-down's "Deals closed in <period>" when the export writes 0 (or nothing) for
every lost deal (issue 13, "missing is not zero"): a lost deal's amount is then not
recorded, so it is blank with the reason, never "0". Hand-made exports as of 2025-03-31:

    deal  outcome  amount    "zero"  export     "one priced" export
    W1    won      1000      1000               1000
    L1    lost     0         blank (no data)    0   (the export records lost amounts: a
    L2    lost     (blank)   blank (no data)    blank     real 0 stays 0)
    L3    lost     -         (not in it)        700
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analytics import db, drilldown
from analytics.ingest import import_file
from analytics.markup import plain
from analytics.scope import Period, Scope

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2025, 3, 31)
HEADER = ["opportunity_id", "opportunity_name", "owner", "stage", "amount", "currency",
          "created_date", "close_date"]  # fmt: skip
ROWS = {
    "W1": ["W1", "Won | *one*", "Ann", "Closed Won", "1000", "USD", "2025-01-02", "2025-03-05"],
    "L1": ["L1", "Lost <i>zero</i>", "Ann", "Closed Lost", "0", "USD", "2025-01-02", "2025-03-06"],
    "L2": ["L2", "Lost blank", "Ann", "Closed Lost", "", "USD", "2025-01-02", "2025-03-07"],
    "L3": ["L3", "Lost priced", "Bob", "Closed Lost", "700", "USD", "2025-01-02", "2025-03-08"],
}
CASES = [
    # (case, deals in the export, Ann's amounts by deal id (None = blank), a reason shown)
    ("zero", ["W1", "L1", "L2"], {"W1": 1000.0, "L1": None, "L2": None}, True),
    ("one priced", ["W1", "L1", "L2", "L3"], {"W1": 1000.0, "L1": 0.0, "L2": None}, False),
]
MARCH = Scope(Period.parse("2025-03"))


def load(con: duckdb.DuckDBPyConnection, folder: Path, ids: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "deals.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([HEADER, *[ROWS[i] for i in ids]])
    result = import_file(con, path, kind="opportunities", as_of=AS_OF, data_dir=folder / "kept")
    assert result.ok, result.message


def amounts(table: pd.DataFrame) -> dict[str, float | None]:
    return {
        i: None if pd.isna(a) else float(a)
        for i, a in zip(table["opportunity_id"], table["amount"], strict=True)
    }


@pytest.mark.parametrize(("case", "ids", "expected", "reason"), CASES)
def test_lost_amounts_are_blank_when_the_export_records_none(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    case: str,
    ids: list[str],
    expected: dict[str, float | None],
    reason: bool,
) -> None:
    load(con, tmp_path / case, ids)
    closed = drilldown.closed_deals(con, MARCH, "Ann")
    assert amounts(closed) == expected
    # the won rows still add up to bookings
    assert closed.loc[closed["outcome"] == "won", "amount"].sum() == 1000
    why = closed.attrs["no_data"].get("amount")
    if reason:
        assert why is not None and "lost deals carry no amount in this export" in why
    else:
        assert why is None


def test_the_drill_down_shows_blank_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "app.duckdb"
    con = db.connect(path)
    try:
        load(con, tmp_path / "files", ["W1", "L1", "L2"])
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.query_params.update({"kind": "Month", "period": "2025-03", "focus": "Ann"})
    at.run()
    at = at.switch_page("pages/reps.py").run()
    assert not at.exception, [e.value for e in at.exception]
    closed = next(d.value for d in at.dataframe if "outcome" in d.value.columns)
    lost = closed[closed["outcome"] == "lost"]
    assert len(lost) == 2 and lost["amount"].isna().all()  # blank, drawn as the dash
    captions = [plain(c.value) for c in at.caption]
    assert any("No data for the amount of lost deals" in c for c in captions), captions
