"""Forecast inputs rebuilt with stage history give exactly the rows the per-query ASOF
join gave when the stages are looked up once per gather (issue 14, "Speed").

Why: `gather` now looks up each ask's open deals' stage and amount once
(`_materialise_stages`) rather than at every reference in its four queries. The rows each
query returns must not change: this compares every query's rows, both ways, on a messy
export (custom stage names with markup, open deals without amount, open and closed deals
without close or created date, deals without stage history, an unpriced currency, deal
types with blanks, a half-finished month: data as of 18 June), for several asks (before,
inside and after the periods, a year back) and scopes.
"""

from __future__ import annotations

import csv
import math
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics.forecast import inputs as fi
from analytics.ingest import import_file
from analytics.scope import Period, Scope

AS_OF = date(2024, 6, 18)
HEADER = ["opportunity_id", "opportunity_name", "account", "owner", "stage", "amount",
          "currency", "created_date", "close_date", "deal_type", "forecast_category"]  # fmt: skip
STAGES = ["Qualify *now*", "Pitch <b>", 'Say "yes"', "Closed Won", "Closed Lost"]


def rows() -> list[list[str]]:
    out = []
    for i in range(60):
        stage = STAGES[i % 5]
        created = date(2023, 1, 3) + timedelta(days=9 * i)
        close = created + timedelta(days=20 + (i * 7) % 90)
        if stage.startswith("Closed"):  # closed by the export's day; open ones may be later
            close = min(close, AS_OF)
        amount = "" if i % 11 == 0 else f"{1000 + 137 * i}"
        out.append([
            f"D{i}", f"Deal [{i}](x)", f"Acc {i % 7}", ["Ann", "Bob", "Cé # 1"][i % 3], stage,
            amount, "EUR" if i % 13 == 0 else "USD",
            "" if i % 17 == 0 else created.isoformat(),
            "" if i % 19 == 0 and stage not in ("Closed Won", "Closed Lost") else close.isoformat(),
            ["New", "", "Renewal"][i % 3], ["Commit", "", "Best Case", "Pipeline"][i % 4],
        ])  # fmt: skip
    return out


def history(deals: list[list[str]]) -> list[list[str]]:
    out = []
    for deal in deals:
        if not deal[7] or deal[0].endswith("7"):  # some deals have no stage history
            continue
        created = date.fromisoformat(deal[7])
        for step, stage in enumerate(STAGES[:3]):
            out.append([deal[0], stage, f"{created + timedelta(days=11 * step)} 09:00"])
        if deal[4].startswith("Closed") and deal[8]:
            out.append([deal[0], deal[4], f"{deal[8]} 17:00"])
    return out


def upload(con: duckdb.DuckDBPyConnection, folder: Path, with_history: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    deals = rows()
    files = [(folder / "opps.csv", [HEADER, *deals], "opportunities")]
    if with_history:
        files.append((folder / "hist.csv", [["opportunity_id", "stage", "entered_at"],
                                             *history(deals)], "stage_history"))  # fmt: skip
    for path, content, kind in files:
        with path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(content)
        result = import_file(con, path, kind=kind, as_of=AS_OF, data_dir=folder / "kept")
        assert result.ok, result.message


def asks(source: fi.Source) -> list[fi.Ask]:
    june, may_, q2 = Period.parse("2024-06"), Period.parse("2024-05"), Period.parse("2024-Q2")
    days = [date(2024, 4, 30), date(2024, 5, 31), date(2024, 6, 7), AS_OF, date(2023, 6, 1)]
    out = []
    for period in (june, may_, q2):
        for day in days:
            cutoff = datetime(day.year, day.month, day.day) + timedelta(days=1)
            out.append(fi.Ask(period, day, cutoff, source))
    return out


def same(a: list[tuple], b: list[tuple]) -> bool:
    def key(row: tuple) -> tuple:
        return tuple((x is None, str(x)) for x in row)

    if len(a) != len(b):
        return False
    for x, y in zip(sorted(a, key=key), sorted(b, key=key), strict=True):
        for u, v in zip(x, y, strict=True):
            if isinstance(u, float) and isinstance(v, float):
                if not math.isclose(u, v, rel_tol=1e-12, abs_tol=1e-9):
                    return False
            elif u != v:
                return False
    return True


@pytest.mark.parametrize("scope_rep", [None, "Bob"])
def test_stages_looked_up_once_give_the_inline_rows(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, scope_rep: str | None
) -> None:
    upload(con, tmp_path, with_history=True)
    source: fi.Source = "stage history"
    group = asks(source)
    scope = Scope(Period.parse("2024-06"), rep=scope_rep)
    params = fi._params(con, group, scope, None)
    table = fi._materialise_stages(con, params)
    try:
        for make in (fi.pipeline_sql, fi.history_sql, fi.ramp_sql, fi.calls_sql):
            for roster in (False, True):
                inline = con.execute(make(source, roster), params).fetchall()
                stored = con.execute(make(source, roster, table), params).fetchall()
                assert inline, f"{make.__name__}: the fixture must give rows"
                assert same(inline, stored), f"{make.__name__} roster={roster}"
    finally:
        con.execute(f"DROP TABLE {table}")


def test_gather_leaves_no_temp_table(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    upload(con, tmp_path, True)
    fi.gather(con, asks("stage history"), Scope(Period.parse("2024-06")))
    left = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE temporary AND table_name LIKE 'fc_%'"
    ).fetchall()
    assert left == []
