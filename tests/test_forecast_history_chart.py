"""Forecast vs actual chart after one export (issue 13, "nothing unreadable"): a method
with no forecast in any period draws no line and has no legend entry, and the chart names
it underneath. Before, the legend listed Stage-weighted, Rep commit and Rep best case as if
they had been drawn, on a database where none of them had a single forecast.

One hand-written export as of 2025-03-16: a won deal closing in each month from 2024-06 to
2025-02 and two open ones. No stage history, no snapshot before, no forecast calls or
categories, so each past month is forecast from the pipeline rebuilt from created and close
dates: run-rate and sales-cycle have forecasts; stage-weighted, rep commit and rep best case
have none.
"""

from __future__ import annotations

import csv
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics import db
from analytics.ingest import import_file
from analytics.markup import plain

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2025, 3, 16)
NOT_DRAWN = ["Stage-weighted", "Rep commit", "Rep best case"]


def deals() -> list[list[str]]:
    rows = [["opportunity_id", "opportunity_name", "owner", "stage", "amount", "currency",
             "created_date", "close_date"]]  # fmt: skip
    for i, month in enumerate(range(6, 15)):  # 2024-06 .. 2025-02
        year, m = (2024, month) if month <= 12 else (2025, month - 12)
        closed = date(year, m, 10)
        opened = closed - timedelta(days=45)
        rows.append([f"W{i}", f'Won "{i}" <i>deal</i>', "Ann" if i % 2 else "**Bo**",
                     "Closed Won", str(1000 * (i + 1)), "USD", opened.isoformat(),
                     closed.isoformat()])  # fmt: skip
    rows.append(["L1", "Lost one", "Ann", "Closed Lost", "0", "USD", "2024-08-01", "2024-09-02"])
    rows.append(["O1", "Open [one](x)", "Ann", "Demo", "4000", "USD", "2025-02-01", "2025-03-25"])
    rows.append(["O2", "Open two", "**Bo**", "Demo", "", "USD", "2025-01-15", "2025-04-10"])
    return rows


@pytest.fixture
def one_export(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "app.duckdb"
    csv_path = tmp_path / "deals.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(deals())
    con = db.connect(path)
    try:
        result = import_file(
            con, csv_path, kind="opportunities", as_of=AS_OF, data_dir=tmp_path / "kept"
        )
        assert result.ok, result.message
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def test_history_chart_draws_only_methods_with_forecasts(one_export: Path) -> None:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at = at.switch_page("pages/forecast.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [plain(e.value) for e in at.error]
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    history = [s for s in specs if any(t.get("type") == "bar" for t in s["data"])]
    assert len(history) == 1
    names = [t.get("name", "") for t in history[0]["data"] if t.get("type") == "scatter"]
    assert "Historical run-rate" in names and "Sales-cycle length" in names, names
    for method in NOT_DRAWN:
        assert method not in names, names
    for trace in history[0]["data"]:
        if trace.get("type") == "scatter":  # every drawn line has at least one point
            assert any(y is not None for y in trace["y"]), trace["name"]
    captions = [plain(c.value) for c in at.caption]
    expected = "No line for " + ", ".join(NOT_DRAWN) + ": no forecast in any of these periods"
    assert any(c.startswith(expected) for c in captions), captions
