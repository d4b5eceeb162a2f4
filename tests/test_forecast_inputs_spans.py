"""Rebuilt forecast inputs aggregated first equal the per-deal reading (issue 14, "Speed").

Why: after one upload `gather` answers the rebuilt asks without a row per deal and ask: the
open deals as spans of day numbers with a running sum (`open_spans_sql`; with stage history
one span per stage held), the look-back windows from closed deals grouped by close day
(`history_grouped_sql`). `gather(spans=False, narrow=False)` is the straightforward per-deal
formulation (every deal of every ask rebuilt, then filtered and summed); both must give equal
`ForecastInputs` for every ask, filter and source.

The export is messy on purpose: custom stage names, deals without amount, without created
date, closed without close date, closed before they were created, an unpriced currency and a
priced one whose rate changes, blank deal types, stage changes on the same day, before the
first ask and after the last one, amounts recorded with some changes, deals without stage
history, owners outside the roster, and a half-finished month (data as of 18 June 2024).
"""

from __future__ import annotations

import csv
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics.forecast import inputs as fi
from analytics.ingest import import_file
from analytics.scope import Period, Scope
from tests.test_forecast_inputs_narrow import plain

AS_OF = date(2024, 6, 18)
STAGES = ["Lead in <i>", "Talk **now**", "Offer #1", "Closed Won", "Closed Lost"]
OWNERS = ["Ann", "Bob", "Cy", "Dee (no roster)"]
HEADER = ("opportunity_id", "opportunity_name", "account", "owner", "stage", "amount",
          "currency", "created_date", "close_date", "deal_type", "forecast_category")  # fmt: skip


def deals() -> list[list[str]]:
    out = [list(HEADER)]
    for i in range(240):
        stage = STAGES[i % 5]
        created = date(2021, 3, 1) + timedelta(days=(i * 53) % 1200)
        close = created + timedelta(days=5 + (i * 31) % 200)
        if stage.startswith("Closed"):
            close = min(close, AS_OF)
            if i % 23 == 0:  # closed before it was created (a data error the export has)
                close = created - timedelta(days=4)
        elif i % 3 == 0 and close <= AS_OF:  # open-stage deals that closed since
            stage = "Closed Won" if i % 2 else "Closed Lost"
        amount = "" if i % 9 == 0 else f"{500 + 71.25 * i:.2f}"
        created_text = "" if i % 29 == 0 else created.isoformat()
        close_text = "" if i % 31 == 0 and not stage.startswith("Closed") else close.isoformat()
        if stage.startswith("Closed") and i % 37 == 0:
            close_text = ""  # closed, no close date: on no day
        out.append([
            f"S{i}", f"Deal {i}", f"Acc {i % 5}", OWNERS[i % 4], stage, amount,
            ["USD", "EUR", "GBP", "usd "][i % 4 if i % 7 else 0],
            created_text, close_text, ["New", "", "Renewal", " "][i % 4],
            ["Commit", "", "Best Case", "Omitted"][i % 4],
        ])  # fmt: skip
    return out


def history(rows: list[list[str]]) -> list[list[str]]:
    out = [["opportunity_id", "stage", "entered_at", "amount"]]
    for deal in rows[1:]:
        i = int(deal[0][1:])
        if not deal[7] or i % 6 == 5:  # some deals have no stage history
            continue
        created = date.fromisoformat(deal[7])
        for step, stage in enumerate(STAGES[:3]):
            day = created + timedelta(days=11 * step - (3 if i % 8 == 0 else 0))
            amount = f"{900 + 13 * i + step:.2f}" if (i + step) % 4 == 0 else ""
            out.append([deal[0], stage, f"{day} 0{step + 8}:30", amount])
        if i % 10 == 1:  # a second change on the same day as the last one
            out.append([deal[0], STAGES[0], f"{created + timedelta(days=22)} 18:00", ""])
        if deal[4].startswith("Closed") and deal[8]:
            out.append([deal[0], deal[4], f"{deal[8]} 17:00", ""])
        elif i % 10 == 2:  # a change on the data's last day
            out.append([deal[0], STAGES[1], f"{AS_OF} 10:00", "1234.50"])
    return out


def upload(con: duckdb.DuckDBPyConnection, folder: Path, with_history: bool) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = deals()
    files = [
        ("reps.csv", [["rep", "manager", "team", "region", "role", "level", "hire_date"],
                      ["Ann", "M", "East", "EMEA", "AE", "senior", "2022-02-01"],
                      ["Bob", "M", "East", "EMEA", "AE", "junior", "2024-04-20"],
                      ["Cy", "N", "West", "AMER", "AE", "junior", "2023-11-15"]], "reps"),
        ("fx.csv", [["currency", "rate_date", "rate"], ["EUR", "2022-01-01", "1.2"],
                    ["EUR", "2023-09-01", "1.07"], ["EUR", "2024-05-01", "1.09"]], "fx_rates"),
        ("opps.csv", rows, "opportunities"),
    ]  # fmt: skip
    if with_history:
        files.append(("hist.csv", history(rows), "stage_history"))
    for name, content, kind in files:
        path = folder / name
        with path.open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(content)
        result = import_file(con, path, kind=kind, as_of=AS_OF, data_dir=folder / "kept")
        assert result.ok, result.message


def asks(source: fi.Source) -> list[fi.Ask]:
    """Weekly days through a quarter, period starts, the half month's last day, days before
    any deal, and asks sharing a day (different periods)."""
    out = []
    quarter = Period.parse("2024-Q2")
    for weeks in range(14):
        day = quarter.end - timedelta(days=7 * weeks)
        if day <= AS_OF:
            out.append((quarter, day))
    for label in ("2024-06", "2024-05", "2023-Q3", "2022-Q1", "2021-Q1"):
        period = Period.parse(label)
        out += [(period, period.start - timedelta(days=1)), (period, AS_OF)]
    # the first day the data reaches back over a whole earlier year (growth's basis): the
    # earliest close date plus 729 days, and the day before
    first_close = min(
        date.fromisoformat(d[8]) for d in deals()[1:] if d[4].startswith("Closed") and d[7] and d[8]
    )
    for day in (first_close + timedelta(days=729), first_close + timedelta(days=728)):
        out.append((Period.containing(day, "quarter"), day))
    made = []
    for period, day in out:
        cutoff = datetime(day.year, day.month, day.day) + timedelta(days=1)
        made.append(fi.Ask(period, day, cutoff, source))
    return made


@pytest.mark.parametrize("source", ["rebuilt", "stage history"])
@pytest.mark.parametrize(
    "filters",
    [{}, {"rep": "Bob"}, {"team": "East"}, {"region": "AMER"}, {"rep": "Dee (no roster)"}],
)
def test_spans_equal_the_per_deal_reading(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, source: fi.Source, filters: dict[str, str]
) -> None:
    upload(con, tmp_path, with_history=source == "stage history")
    group = asks(source)
    scope = Scope(Period.parse("2024-06"), **filters)
    spans = fi.gather(con, group, scope)
    per_deal = fi.gather(con, group, scope, spans=False, narrow=False)
    assert spans.keys() == per_deal.keys() == {a.key for a in group}
    for key in per_deal:
        assert plain(asdict(spans[key])) == plain(asdict(per_deal[key])), key
    if filters:
        return
    # the fixture reaches what the aggregated reading answers differently
    found = list(spans.values())
    assert any(i.open_unvalued > 0 for i in found)  # no amount, or GBP without a rate
    assert any(i.unpriced_deals > 0 for i in found)
    assert any(i.cycle_deals for i in found) and any(i.calls for i in found)
    assert any(len(i.segments) >= 3 for i in found)
    assert any(i.run_rate is not None and i.run_rate.revenue_prev_year > 0 for i in found)
    assert any(i.overall_cycle.won_deals > 0 for i in found)
    if source == "stage history":
        assert any(len(i.open_by_stage) >= 3 for i in found)  # stages, and unknown (None)
        assert any(None in i.open_by_stage for i in found)


@pytest.mark.parametrize("filters", [{}, {"team": "East"}])
@pytest.mark.parametrize("since", [None, date(2024, 1, 1)])
def test_spans_counted_at_import_equal_the_ones_numbered_per_query(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, filters: dict[str, str], since: date | None
) -> None:
    """With stage history, the imported changes' spans come from `stage_history_spans`
    when it is current; numbering them per query (a stale table) gives the same rows.
    `since`: only the asks of 2024, so that changes end before the first data date."""
    upload(con, tmp_path, with_history=True)
    assert fi._spans_current(con)
    scope = Scope(Period.parse("2024-06"), **filters)
    group = [a for a in asks("stage history") if since is None or a.data_date >= since]
    params = fi._params(con, group, scope, None)
    roster = bool(filters)
    found = {
        derived: sorted(
            (plain(list(row)) for row in con.execute(
                fi.open_spans_sql("stage history", roster, derived), params
            ).fetchall()),
            key=repr,
        )
        for derived in (False, True)
    }  # fmt: skip
    assert found[True] == found[False]
    assert any(row[0] == "stage" and row[2] is not None for row in found[True])


def _older_export(con: duckdb.DuckDBPyConnection, folder: Path) -> None:
    """An earlier export of the deals, their stages one step back: the deals without
    imported stage history then have snapshot changes (the view's snapshot half)."""
    day = date(2024, 3, 4)
    rows = [deals()[0]]
    for row in deals()[1:]:
        if not row[7] or date.fromisoformat(row[7]) > day:
            continue  # not created yet on that day
        if row[4].startswith("Closed") and (not row[8] or date.fromisoformat(row[8]) > day):
            row[4] = STAGES[1]  # still open on that day
        elif row[4] in STAGES[1:3]:
            row[4] = STAGES[STAGES.index(row[4]) - 1]
        rows.append(row)
    path = folder / "older.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    result = import_file(con, path, kind="opportunities", as_of=day, data_dir=folder / "kept")
    assert result.ok, result.message


@pytest.mark.parametrize("filters", [{}, {"team": "East"}, {"rep": "Dee (no roster)"}])
def test_open_deals_from_spans_equal_the_asof_reading(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, filters: dict[str, str]
) -> None:
    """The Forecast page's deal list with stage history reads the imported changes from
    `stage_history_spans` and the snapshot half by deal and day (issue 14, speed): the
    same deals, stages and amounts, in the same order, as the ASOF join over every change,
    for every ask of the fixture (same-day changes, changes on the data's last day and
    after it, deals without history, with snapshot changes only, with no amount)."""
    upload(con, tmp_path, with_history=True)
    _older_export(con, tmp_path)
    assert fi._spans_current(con)
    scope = Scope(Period.parse("2024-06"), **filters)
    roster = bool(filters)
    compared = 0
    snapshot_staged = 0
    # and the days either side of the older export's: a snapshot change counts from its day
    older = [
        fi.Ask(Period.parse("2024-Q1"), day, datetime(2024, 3, day.day) + timedelta(days=1),
               "stage history")
        for day in (date(2024, 3, 3), date(2024, 3, 4))
    ]  # fmt: skip
    for ask in [*asks("stage history"), *older]:
        params = fi._params(con, [ask], scope, None)
        found = {
            spans: con.execute(fi.open_deals_sql("stage history", roster, spans), params).df()
            for spans in (False, True)
        }
        assert found[True].equals(found[False]), ask
        compared += len(found[True])
        history = {
            r[0]
            for r in con.execute("SELECT opportunity_id FROM stage_history_imported").fetchall()
        }
        snapshot_staged += int(
            (~found[True]["opportunity_id"].isin(history) & found[True]["stage"].notna()).sum()
        )
    assert compared > 0
    if not filters:
        assert snapshot_staged > 0  # the snapshot half was read and matched
