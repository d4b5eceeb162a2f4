"""The point-in-time totals (`AS_OF_TOTALS_SQL`, interval arithmetic) against the per-deal
rows (`AS_OF_SQL`) they replace for KPIs and the benchmark, on a messy export.

Why: the totals never form a row per deal and day; they add each deal's open span (and
each stage change's span) at its first day number and take it away at its end. Every
edge of that arithmetic is here: a deal without an amount, one closed the day it was
created, one closed before it was created, one without a created date, a closed one without
a close date, one created on an as-of day, one closed on an as-of day, stage changes before
the deal was created, two on one day, changes after the last day asked, amounts recorded
on some changes only, and two currencies. Every day of a range and a few irregular days
are compared, for both rebuilt sources, count by count and amount by amount (exactly:
both sides sum DECIMALs).
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from analytics.ingest import import_file
from analytics.metrics.derived import stage_spans_current
from analytics.pointintime import AS_OF_SQL, Basis, as_of_params, as_of_totals_sql

AS_OF = date(2024, 9, 30)
HEADER = ["opportunity_id", "owner", "stage", "amount", "currency", "created_date", "close_date"]
DEALS = [
    ["D1", "Ann", "Closed Won", "1000", "USD", "2024-03-01", "2024-03-20"],
    ["D2", "Ann", "Demo", "", "USD", "2024-03-05", ""],  # open, no amount
    ["D3", "Ann", "Closed Lost", "700", "EUR", "2024-03-10", "2024-03-10"],  # same day
    ["D4", "Bob", "Closed Won", "900", "EUR", "2024-03-15", "2024-03-12"],  # before created
    ["D5", "Bob", "Qualified", "2500.50", "EUR", "2024-02-20", ""],  # open, older than range
    ["D6", "Bob", "Closed Lost", "", "USD", "2024-03-03", "2024-04-02"],  # no amount, closed
    ["D7", "Cara", "Discovery", "400", "USD", "", ""],  # no created date: never placed
    ["D8", "Cara", "Closed Won", "333.33", "USD", "2024-03-07", ""],  # closed, no close date
    ["D9", "Cara", "Closed Won", "1200", "USD", "2024-03-08", "2024-03-22"],  # closes on a day
    ["D10", "Cara", "Trial", "50", "EUR", "2024-03-29", ""],  # created on the last day
    ["D11", "Ann", "Closed Won", "80", "USD", "2024-01-01", "2024-02-01"],  # before the range
    ["D12", "Bob", "Final Decision", "640", "USD", "2024-04-05", ""],  # after the range
]
CHANGES = [
    ["D1", "Discovery", "2024-02-25 09:00", "900"],  # before the deal was created
    ["D1", "Demo", "2024-03-08 10:00", ""],
    ["D1", "Trial", "2024-03-08 15:00", "1100"],  # the same day: Trial holds from 03-08
    ["D1", "Closed Won", "2024-03-20 17:00", ""],
    ["D2", "Discovery", "2024-03-12 00:00", ""],  # midnight: counts on 03-12 itself
    ["D2", "Demo", "2024-04-20 09:00", "5000"],  # after the last day asked
    ["D5", "Qualified", "2024-02-21 09:00", "2000"],
    ["D5", "Demo", "2024-03-18 12:00", ""],
    ["D6", "Discovery", "2024-03-25 08:00", "10"],
    ["D9", "Demo", "2024-03-21 23:59", ""],
    ["D10", "Trial", "2024-03-29 10:00", "60"],
    ["D12", "Discovery", "2024-04-05 09:00", ""],
]
RANGE = [date(2024, 3, 1) + timedelta(days=k) for k in range(29)]  # 03-01 .. 03-29, daily
IRREGULAR = [date(2024, 2, 15), date(2024, 3, 10), date(2024, 3, 12), date(2024, 3, 29)]


def _write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


@pytest.fixture
def messy(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    for kind, rows in (
        ("opportunities", [HEADER, *DEALS]),
        ("stage_history", [["opportunity_id", "stage", "entered_at", "amount"], *CHANGES]),
    ):
        path = _write(tmp_path / f"{kind}.csv", rows)
        result = import_file(con, path, as_of=AS_OF, kind=kind, data_dir=tmp_path / "kept")
        assert result.ok, result.message
    return con


def _per_deal(con: duckdb.DuckDBPyConnection, params: dict) -> dict[tuple, tuple]:
    rows = con.execute(
        f"""WITH {AS_OF_SQL}
        SELECT as_of_key, owner, currency, stage, count(*), count(amount), sum(amount)
        FROM as_of_open GROUP BY ALL""",
        params,
    ).fetchall()
    return {tuple(r[:4]): tuple(r[4:]) for r in rows}


def _totals(
    con: duckdb.DuckDBPyConnection, params: dict, history: bool, spans: bool = False
) -> dict[tuple, tuple]:
    rows = con.execute(
        f"""WITH {as_of_totals_sql(history=history, spans=spans)}
        SELECT as_of_key, owner, currency, stage, sum(deals), sum(with_amount), sum(amount)
        FROM as_of_totals GROUP BY ALL""",
        params,
    ).fetchall()
    return {tuple(r[:4]): (int(r[4]), int(r[5]), r[6]) for r in rows}


@pytest.mark.parametrize(
    "days", [RANGE, IRREGULAR, [date(2024, 3, 12)]], ids=["daily", "odd", "one"]
)
@pytest.mark.parametrize("source", ["rebuilt", "stage history"])
def test_totals_equal_the_per_deal_rows(
    messy: duckdb.DuckDBPyConnection, source: str, days: list[date]
) -> None:
    params = as_of_params([(k, Basis(d, source)) for k, d in enumerate(days)])  # type: ignore[arg-type]
    expected = _per_deal(messy, params)
    assert expected, "the fixture must leave open deals on the days"
    assert _totals(messy, params, history=True) == expected
    assert stage_spans_current(messy)  # the import counted them
    assert _totals(messy, params, history=True, spans=True) == expected
    if source == "rebuilt":  # the stage history is not needed, and not read, for a rebuild
        assert _totals(messy, params, history=False) == expected


def test_totals_by_hand_on_one_day(messy: duckdb.DuckDBPyConnection) -> None:
    """03-12 worked out by hand, so both paths cannot be wrong the same way."""
    params = as_of_params([(0, Basis(date(2024, 3, 12), "stage history"))])
    assert _totals(messy, params, history=True) == {
        # D1: Trial since 03-08, its amount 1100; D2: Discovery from 03-12 00:00, no amount
        (0, "Ann", "USD", "Trial"): (1, 1, Decimal("1100.00")),
        (0, "Ann", "USD", "Discovery"): (1, 0, None),
        # D5: Qualified since 02-21 (2000 recorded then); D6 before its first change
        (0, "Bob", "EUR", "Qualified"): (1, 1, Decimal("2000.00")),
        (0, "Bob", "USD", None): (1, 0, None),
        # D9: no change until 03-21, its exported amount
        (0, "Cara", "USD", None): (1, 1, Decimal("1200.00")),
    }


def test_mixed_sources_in_one_query(messy: duckdb.DuckDBPyConnection) -> None:
    """Rebuilt and stage-history days side by side, each numbered on its own, and a day
    answered "now" (the open deals of the export, with their close dates)."""
    keyed: list[tuple[int, Basis | None]] = [
        (0, Basis(date(2024, 3, 12), "rebuilt")),
        (1, Basis(date(2024, 3, 20), "stage history")),
        (2, Basis(date(2024, 3, 21), "rebuilt")),
        (3, None),
    ]
    params = as_of_params(keyed)
    assert _totals(messy, params, history=True) == _per_deal(messy, params)
    assert _totals(messy, params, history=True, spans=True) == _per_deal(messy, params)
