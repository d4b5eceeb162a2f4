"""A day no snapshot answers takes each open deal's amount from the export nearest it.

Why: a rebuilt (or stage-history) day used to show every open deal at its last exported
amount, so a waterfall from a day before the first export to that export showed a rise made
later as a fall (a new user's Pipedrive deal: 20,000 on 28 Oct, 22,000 on 18 Nov; October's
waterfall said "decreased -2,000"). The rule (analytics/pointintime.py, `NEAREST_EXPORT`):
the latest export on or before the day that holds the deal, else the first one after it.

Three exports, written below (canonical columns, the real importer):

    deal  E1 2024-03-01     E2 2024-06-03        E3 2024-09-02            created
    N1    open 1000 USD     open 1500 USD        open 2000 USD            2024-01-10
    N2    open 500 EUR      open 800 USD         won 900 USD (08-15)      2024-02-01
    N3    open, no amount   open 300 USD         lost 300 (07-20)         2024-02-15
    N4    -                 open 700 USD         open 750 USD             2024-05-01
    N5    -                 -                    open 100 USD             2024-08-01

    day         source   open deals at (amount, currency)
    2024-02-20  rebuilt  N1 1000 USD, N2 500 EUR, N3 none    (before E1: E1's, the first after)
    2024-04-20  rebuilt  N1 1000 USD, N2 500 EUR, N3 none    (E1 is 50 days old: still E1's)
    2024-07-25  rebuilt  N1 1500 USD, N2 800 USD, N4 700 USD (E2, 52 days old; N3 lost 07-20)

As last exported, the same days read N1 2000, N2 900 USD, N3 300, N4 750.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from analytics.forecast import inputs as fi
from analytics.pipeline import waterfall
from analytics.pointintime import AS_OF_SQL, Basis, as_of_params, as_of_totals_sql, pipeline_as_of
from analytics.scope import Period, Scope
from tests.test_forecast_inputs_narrow import plain
from tests.test_forecast_inputs_spans import asks, deals, upload
from tests.test_pointintime import load, write

E1, E2, E3 = date(2024, 3, 1), date(2024, 6, 3), date(2024, 9, 2)
HEADER = ["opportunity_id", "owner", "stage", "amount", "currency", "created_date", "close_date"]
EXPORTS = {
    E1: [
        ["N1", "Ann", "Demo", "1000", "USD", "2024-01-10", "2024-10-31"],
        ["N2", "Bob", "Qualified", "500", "EUR", "2024-02-01", "2024-09-30"],
        ["N3", "Ann", "Discovery", "", "USD", "2024-02-15", "2024-08-31"],
    ],
    E2: [
        ["N1", "Ann", "Trial", "1500", "USD", "2024-01-10", "2024-10-31"],
        ["N2", "Bob", "Demo", "800", "USD", "2024-02-01", "2024-09-30"],
        ["N3", "Ann", "Demo", "300", "USD", "2024-02-15", "2024-08-31"],
        ["N4", "Bob", "Discovery", "700", "USD", "2024-05-01", "2024-11-30"],
    ],
    E3: [
        ["N1", "Ann", "Trial", "2000", "USD", "2024-01-10", "2024-10-31"],
        ["N2", "Bob", "Closed Won", "900", "USD", "2024-02-01", "2024-08-15"],
        ["N3", "Ann", "Closed Lost", "300", "USD", "2024-02-15", "2024-07-20"],
        ["N4", "Bob", "Demo", "750", "USD", "2024-05-01", "2024-11-30"],
        ["N5", "Ann", "Discovery", "100", "USD", "2024-08-01", "2024-12-31"],
    ],
}
# N1's stage history: a change without an amount (the nearest export's stands) and N4's
# with one (the recorded amount stands)
CHANGES = [
    ["N1", "Demo", "2024-01-20 09:00", ""],
    ["N4", "Discovery", "2024-05-02 09:00", "650"],
]
EXPECTED = {
    date(2024, 2, 20): {"N1": (1000, "USD"), "N2": (500, "EUR"), "N3": (None, "USD")},
    date(2024, 4, 20): {"N1": (1000, "USD"), "N2": (500, "EUR"), "N3": (None, "USD")},
    date(2024, 7, 25): {"N1": (1500, "USD"), "N2": (800, "USD"), "N4": (700, "USD")},
}


@pytest.fixture
def exports(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    for day, rows in EXPORTS.items():
        load(con, write(tmp_path / f"{day}.csv", [HEADER, *rows]), day, "opportunities")
    history = [["opportunity_id", "stage", "entered_at", "amount"], *CHANGES]
    load(con, write(tmp_path / "history.csv", history), E3, "stage_history")
    return con


def _amounts(con: duckdb.DuckDBPyConnection, day: date, source: str) -> dict[str, tuple]:
    got = pipeline_as_of(con, day, source=source).deals  # type: ignore[arg-type]
    return {
        row["opportunity_id"]: (
            None if row["amount"] is None or row["amount"] != row["amount"] else row["amount"],
            row["currency"],
        )
        for row in got.to_dict("records")
    }


@pytest.mark.parametrize("day", sorted(EXPECTED))
def test_a_rebuilt_day_reads_the_export_nearest_it(
    exports: duckdb.DuckDBPyConnection, day: date
) -> None:
    assert _amounts(exports, day, "rebuilt") == EXPECTED[day]


def test_a_stage_history_day_keeps_an_amount_its_change_recorded(
    exports: duckdb.DuckDBPyConnection,
) -> None:
    """N4's change of 2 May recorded 650: that stands on 25 July; N1's change has none, so
    its nearest export's 1500 stands (not the last exported 2000)."""
    got = _amounts(exports, date(2024, 7, 25), "stage history")
    assert got == {"N1": (1500, "USD"), "N2": (800, "USD"), "N4": (650, "USD")}


WEEKLY = [date(2024, 1, 1) + timedelta(days=7 * k) for k in range(36)]  # to 2024-09-02


@pytest.mark.parametrize("source", ["rebuilt", "stage history"])
@pytest.mark.parametrize("spans", [False, True])
def test_totals_split_where_the_nearest_export_changes(
    exports: duckdb.DuckDBPyConnection, source: str, spans: bool
) -> None:
    """The KPI totals (one span per deal, now split at each export of it) equal the sums of
    the per-deal rows on every weekly day, export days and the days either side included."""
    days = sorted({*WEEKLY, E1, E2, E3, E1 - timedelta(days=1), E2 + timedelta(days=1)})
    params = as_of_params([(k, Basis(d, source)) for k, d in enumerate(days)])  # type: ignore[arg-type]
    per_deal = exports.execute(
        f"""WITH {AS_OF_SQL}
        SELECT as_of_key, owner, currency, stage, count(*), count(amount), sum(amount)
        FROM as_of_open GROUP BY ALL""",
        params,
    ).fetchall()
    totals = exports.execute(
        f"""WITH {as_of_totals_sql(history=source == "stage history", spans=spans)}
        SELECT as_of_key, owner, currency, stage, sum(deals), sum(with_amount), sum(amount)
        FROM as_of_totals GROUP BY ALL""",
        params,
    ).fetchall()
    expected = {tuple(r[:4]): (int(r[4]), int(r[5]), r[6]) for r in per_deal}
    assert {tuple(r[:4]): (int(r[4]), int(r[5]), r[6]) for r in totals} == expected
    # N2 in EUR before E2 and in USD after it: both currencies appear
    assert {key[2] for key in expected} == {"USD", "EUR"}


def test_waterfall_from_a_day_before_the_first_export_shows_no_made_up_change(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """The new user's case: a deal at 20,000 on 28 Oct and 22,000 on 18 Nov. October's
    waterfall (1 Oct rebuilt, 31 Oct from the 28 Oct export) keeps it at 20,000 on both
    days: unchanged, not "decreased -2,000"."""
    rows = {
        date(2026, 10, 28): ["P1", "Ann", "Demo", "20000", "USD", "2026-09-15", "2026-12-20"],
        date(2026, 11, 18): ["P1", "Ann", "Trial", "22000", "USD", "2026-09-15", "2026-12-20"],
    }
    for day, row in rows.items():
        load(con, write(tmp_path / f"{day}.csv", [HEADER, row]), day, "opportunities")
    w = waterfall(con, Scope(Period.parse("2026-10")), kind="all open deals")
    assert (w.start_basis.source, w.end_basis.source) == ("rebuilt", "snapshot")
    assert (w.start, w.end) == (Decimal("20000"), Decimal("20000"))
    assert w.buckets["decreased"] == 0 and w.buckets["increased"] == 0
    # November: the 28 Oct export against the 18 Nov one: the rise is November's
    w = waterfall(con, Scope(Period.parse("2026-11")), kind="all open deals")
    assert w.buckets["increased"] == Decimal("2000")


def _changed_export(con: duckdb.DuckDBPyConnection, folder: Path, day: date) -> None:
    """An earlier export of the forecast fixture's deals created by `day`, at other amounts
    (80%, some blank) and some in another currency: the rebuilt asks before and after it
    then read different amounts."""
    rows = [deals()[0]]
    for row in deals()[1:]:
        if not row[7] or date.fromisoformat(row[7]) > day:
            continue
        if row[4].startswith("Closed") and (not row[8] or date.fromisoformat(row[8]) > day):
            row[4] = "Talk **now**"  # still open then
        i = int(row[0][1:])
        if row[5]:
            row[5] = "" if i % 11 == 0 else f"{float(row[5]) * 0.8:.2f}"
        if i % 5 == 0:
            row[6] = "EUR"
        rows.append(row)
    path = write(folder / f"older-{day}.csv", rows)
    load(con, path, day, "opportunities")


@pytest.mark.parametrize("source", ["rebuilt", "stage history"])
@pytest.mark.parametrize("filters", [{}, {"team": "East"}])
def test_forecast_spans_equal_the_per_deal_reading_over_several_exports(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, source: fi.Source, filters: dict[str, str]
) -> None:
    """The forecast inputs' spans (split where a deal's nearest export changes) equal the
    per-deal reading for every ask, and the older exports change what the asks read."""
    upload(con, tmp_path, with_history=source == "stage history")
    scope = Scope(Period.parse("2024-06"), **filters)
    group = asks(source)
    before = fi.gather(con, group, scope, spans=False, narrow=False)
    for day in (date(2023, 1, 16), date(2023, 11, 6)):
        _changed_export(con, tmp_path, day)
    spans = fi.gather(con, group, scope)
    per_deal = fi.gather(con, group, scope, spans=False, narrow=False)
    assert spans.keys() == per_deal.keys() == {a.key for a in group}
    for key in per_deal:
        assert plain(asdict(spans[key])) == plain(asdict(per_deal[key])), key
    moved = [k for k in per_deal if per_deal[k].open_amount != before[k].open_amount]
    assert moved, "the older exports must change some rebuilt ask's open amount"


def test_a_forecast_ask_before_the_first_export_reads_its_amounts(
    exports: duckdb.DuckDBPyConnection,
) -> None:
    """One rebuilt ask on 2024-02-20, every deal open then: 1000 USD + 500 EUR (no rate:
    unpriced) + N3 without an amount, whichever way the inputs are read."""
    ask = fi.Ask(Period.parse("2024-Q1"), date(2024, 2, 20), datetime(2024, 2, 21), "rebuilt")
    scope = Scope(Period.parse("2024-Q1"))
    for spans in (True, False):
        found = fi.gather(exports, [ask], scope, spans=spans, narrow=spans)[ask.key]
        assert (found.open_amount, found.open_deals) == (1000.0, 3), spans
        assert (found.open_unvalued, found.unpriced_deals) == (2, 1), spans


@pytest.mark.parametrize(
    ("march", "expected"),
    [(["200", "USD"], (200, "USD")), (["95", "EUR"], (95, "EUR"))],
    ids=["amount", "currency"],
)
def test_a_stage_history_day_between_exports_reads_the_newer_export(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, march: list[str], expected: tuple
) -> None:
    """The stage history derived from the exports (a deal in Demo in every one) dates
    one change, at the first export: its amount must not beat the newer export's. 15 April
    is more than 31 days after 1 March, so a stage-history day: it reads March's amount
    and currency, not January's 100 (nor January's amount under March's currency), and
    April's waterfall from the 1 April reading to 30 April changes nothing (a reviewer's
    case: "decreased -100" before)."""
    exports = {
        date(2024, 1, 10): ["100", "USD"],
        date(2024, 3, 1): march,
        date(2024, 6, 1): ["300", "USD"],
    }
    for day, (amount, currency) in exports.items():
        row = ["A", "Ann", "Demo", amount, currency, "2024-01-02", "2024-12-31"]
        load(con, write(tmp_path / f"{day}.csv", [HEADER, row]), day, "opportunities")
    day = date(2024, 4, 15)
    assert pipeline_as_of(con, day).basis.source == "stage history"
    for source in ("stage history", "rebuilt"):
        assert _amounts(con, day, source) == {"A": expected}, source
    w = waterfall(con, Scope(Period.parse("2024-04")), kind="all open deals")
    assert w.buckets["decreased"] == 0 and w.buckets["increased"] == 0


def test_a_late_older_export_without_amounts_carries_them_from_its_own_date(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Exports of 100 USD (10 Jan) and 300 EUR (1 Jun), then a late export dated 1 Mar with
    no amount or currency column (a reviewer's case): its row takes the amount as of 1 Mar,
    January's 100 USD, not the current 300 EUR, so 15 Apr (rebuilt from it) reads 100 USD.
    A late file with an amount but no currency column takes January's currency too."""
    row = ["A", "Ann", "Demo", "{amount}", "{currency}", "2024-01-02", "2024-12-31"]
    for day, amount, currency in ((date(2024, 1, 10), "100", "USD"),
                                  (date(2024, 6, 1), "300", "EUR")):  # fmt: skip
        filled = [c.format(amount=amount, currency=currency) for c in row]
        load(con, write(tmp_path / f"{day}.csv", [HEADER, filled]), day, "opportunities")
    bare = [["opportunity_id", "owner", "stage", "created_date", "close_date"],
            ["A", "Ann", "Demo", "2024-01-02", "2024-12-31"]]  # fmt: skip
    load(con, write(tmp_path / "late.csv", bare), date(2024, 3, 1), "opportunities")
    stored = con.execute(
        "SELECT amount, currency FROM opportunity_snapshots WHERE snapshot_date = '2024-03-01'"
    ).fetchone()
    assert stored == (Decimal("100.00"), "USD")
    assert _amounts(con, date(2024, 4, 15), "rebuilt") == {"A": (100, "USD")}
    assert con.execute("SELECT amount, currency FROM opportunities").fetchone() == (
        Decimal("300.00"), "EUR",
    )  # the current row is untouched  # fmt: skip
    priced = [["opportunity_id", "owner", "stage", "amount", "created_date", "close_date"],
              ["A", "Ann", "Demo", "150", "2024-01-02", "2024-12-31"]]  # fmt: skip
    load(con, write(tmp_path / "late2.csv", priced), date(2024, 2, 1), "opportunities")
    stored = con.execute(
        "SELECT amount, currency FROM opportunity_snapshots WHERE snapshot_date = '2024-02-01'"
    ).fetchone()
    assert stored == (Decimal("150.00"), "USD")
