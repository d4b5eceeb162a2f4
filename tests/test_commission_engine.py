"""Commission statements computed by hand: every mechanic alone and in combination.

The pure core (rule + quota + credited deals -> lines) is checked on a parametrised table
with the arithmetic in the comments; the database layer is checked on the fixture below
(tests/data/commission_*.csv), imported through the real importer:

    May 2024 (default plan: threshold at 100% of quota, then 10% of all credited bookings)
    Ann Lee   junior  O-01 7,000 + O-02 5,000 = 12,000 / quota 10,000 -> 1,200
    Bob Stone senior  O-03 20,000             = 20,000 / quota 25,000 -> 0 (below quota)
    Cara Diaz junior  O-04 9,000              =  9,000 / quota  8,000 (quotas table) -> 900
    Dan Poe   senior  O-05 30,000             = 30,000 / quota 25,000 -> 3,000
    O-07 (Bob) is lost; O-06 (Ann) and O-09 (Bob) are open; O-08 is Ann's April win (3,000).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from analytics import db
from analytics.commissions.cents import allocate
from analytics.commissions.credits import CreditedDeal, split_credit
from analytics.commissions.data import save_draws, save_reversals, save_spiffs, save_splits
from analytics.commissions.engine import Ledger
from analytics.commissions.lines import Statement
from analytics.commissions.plans import DEFAULT_PLAN, Plan, rule_from_dict, save_plan
from analytics.commissions.statements import explain
from analytics.commissions.team import team_table
from analytics.commissions.tiers import commission_lines, prorated_quota
from analytics.ingest import import_file
from analytics.scope import Period, Scope

FIXTURES = Path(__file__).resolve().parent / "data"
MAY = Period.parse("2024-05")
JUNE = Period.parse("2024-06")
D = Decimal


def load_commission_fixture(
    con: duckdb.DuckDBPyConnection, data_dir: Path, *extra: tuple[str, date]
) -> None:
    """Reps, May deals and Cara's quota as of 2024-06-05, then any later exports."""
    files = [
        ("commission_reps.csv", date(2024, 6, 5)),
        ("commission_opps.csv", date(2024, 6, 5)),
        ("commission_quotas.csv", date(2024, 6, 5)),
        *extra,
    ]
    for name, as_of in files:
        result = import_file(con, FIXTURES / name, as_of=as_of, data_dir=data_dir)
        assert result.ok, result.message


def commission_template(db_template: Callable[..., Path], target: Path) -> Path:
    """A private copy at `target` of the fixture above, imported once per test process
    (conftest `db_template`): each test may change its copy freely."""
    return db_template("commission_fixture", load_commission_fixture, target)


@pytest.fixture
def book(db_path: Path, db_template: Callable[..., Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = db.connect(commission_template(db_template, db_path))
    yield connection
    connection.close()


def deals(*amounts: str | int, rep: str = "Ann") -> list[CreditedDeal]:
    """Whole deals closed on consecutive days of May, in the order given."""
    return [
        CreditedDeal(f"D{i}", rep, date(2024, 5, 1 + i), D(str(a)), D(1), D(str(a)))
        for i, a in enumerate(amounts)
    ]


def rule(**fields: object):
    """A rule from plan-file fields (strings, as in a plan's JSON)."""
    return rule_from_dict({"name": "test", "quota": "10000", **fields})


def paid(lines) -> Decimal:
    return sum((x.amount for x in lines), D("0"))


JUNIOR = {"rate": "0.10", "threshold": "1"}
TIERS = [
    {"from_attainment": "0", "rate": "0.05"},
    {"from_attainment": "1", "rate": "0.10"},
    {"from_attainment": "1.5", "rate": "0.15"},
]

# (id, rule fields, credited deal amounts, expected commission after the cap)
CASES = [
    # Domain brief, junior: 12,000 >= 10,000 quota -> 10% x 12,000 = 1,200.
    ("junior reaches quota", JUNIOR, [7000, 5000], "1200.00"),
    # 9,999.99 < 10,000: below the threshold nothing is paid.
    ("junior one cent short", JUNIOR, ["9999.99"], "0.00"),
    # Exactly 10,000 reaches it: 10% x 10,000 = 1,000.
    ("junior exactly at quota", JUNIOR, [10000], "1000.00"),
    # Senior: 30,000 >= 25,000 -> 10% x 30,000 = 3,000; 24,000 < 25,000 -> 0.
    ("senior reaches quota", {**JUNIOR, "quota": "25000"}, [30000], "3000.00"),
    ("senior below quota", {**JUNIOR, "quota": "25000"}, [24000], "0.00"),
    # Flat 5%, no threshold: 5% x 8,000 = 400.
    ("flat rate", {"rate": "0.05"}, [8000], "400.00"),
    # Marginal tiers on 18,000: 10,000 x 5% + 5,000 x 10% + 3,000 x 15% = 500 + 500 + 450.
    ("marginal tiers 18k", {"tiers": TIERS}, [18000], "1450.00"),
    # Retroactive tiers on the same 18,000: the reached band (150%+) pays 15% on all = 2,700.
    ("retroactive tiers 18k", {"tiers": TIERS, "tier_mode": "retroactive"}, [18000], "2700.00"),
    # 12,000: marginal 10,000 x 5% + 2,000 x 10% = 700; retroactive 10% x 12,000 = 1,200.
    ("marginal tiers 12k", {"tiers": TIERS}, [12000], "700.00"),
    ("retroactive tiers 12k", {"tiers": TIERS, "tier_mode": "retroactive"}, [12000], "1200.00"),
    # Accelerator x2 above 100%: 10,000 x 10% + 5,000 x 20% = 1,000 + 1,000.
    (
        "accelerator above quota",
        {"rate": "0.10", "accelerators": [{"from_attainment": "1", "multiplier": "2"}]},
        [15000],
        "2000.00",
    ),
    # Two steps: 10,000 x 10% + 5,000 x 15% + 5,000 x 20% = 1,000 + 750 + 1,000.
    (
        "two accelerator steps",
        {
            "rate": "0.10",
            "accelerators": [
                {"from_attainment": "1", "multiplier": "1.5"},
                {"from_attainment": "1.5", "multiplier": "2"},
            ],
        },
        [12000, 8000],
        "2750.00",
    ),
    # Decelerator: below 50% of quota the whole month earns 2%: 4,000 x 2% = 80.
    (
        "decelerator below 50%",
        {"rate": "0.10", "threshold": "0.5", "threshold_rate": "0.02"},
        [4000],
        "80.00",
    ),
    # 6,000 >= 5,000 reaches the normal rate: 10% x 6,000 = 600.
    (
        "decelerator passed",
        {"rate": "0.10", "threshold": "0.5", "threshold_rate": "0.02"},
        [6000],
        "600.00",
    ),
    # Cap 1,000: 10% x 15,000 = 1,500 is cut to 1,000.
    ("cap reached", {"rate": "0.10", "cap": "1000"}, [15000], "1000.00"),
    ("cap not reached", {"rate": "0.10", "cap": "1000"}, [8000], "800.00"),
    # Threshold 100% + marginal tiers 8% / 12% from 120% + x1.5 from 150%, on 20,000:
    # 12,000 x 8% + 3,000 x 12% + 5,000 x 18% = 960 + 360 + 900 = 2,220.
    (
        "threshold, tiers and accelerator",
        {
            "threshold": "1",
            "tiers": [
                {"from_attainment": "0", "rate": "0.08"},
                {"from_attainment": "1.2", "rate": "0.12"},
            ],
            "accelerators": [{"from_attainment": "1.5", "multiplier": "1.5"}],
            "cap": "3000",
        },
        [20000],
        "2220.00",
    ),
    # Same plan on 30,000: 960 + 360 + 15,000 x 18% = 4,020, capped at 3,000.
    (
        "threshold, tiers, accelerator and cap",
        {
            "threshold": "1",
            "tiers": [
                {"from_attainment": "0", "rate": "0.08"},
                {"from_attainment": "1.2", "rate": "0.12"},
            ],
            "accelerators": [{"from_attainment": "1.5", "multiplier": "1.5"}],
            "cap": "3000",
        },
        [10000, 20000],
        "3000.00",
    ),
    # The same plan below its threshold pays nothing, tiers or not: 9,000 < 10,000.
    (
        "threshold blocks tiers",
        {"threshold": "1", "tiers": [{"from_attainment": "0", "rate": "0.08"}]},
        [9000],
        "0.00",
    ),
    # Retroactive 5% / 10% from 100% plus x2 above 100%, on 15,000: the reached 10% on
    # the first 10,000 = 1,000, and 10% x 2 on the 5,000 beyond = 1,000.
    (
        "retroactive tiers with accelerator",
        {
            "tier_mode": "retroactive",
            "tiers": [
                {"from_attainment": "0", "rate": "0.05"},
                {"from_attainment": "1", "rate": "0.10"},
            ],
            "accelerators": [{"from_attainment": "1", "multiplier": "2"}],
        },
        [15000],
        "2000.00",
    ),
    # Nothing credited: no line at all.
    ("nothing credited", JUNIOR, [], "0.00"),
]


@pytest.mark.parametrize(
    ("fields", "amounts", "expected"),
    [pytest.param(f, a, e, id=i) for i, f, a, e in CASES],
)
def test_mechanics_by_hand(fields: dict, amounts: list, expected: str) -> None:
    lines = commission_lines(rule(**fields), D(str(fields.get("quota", "10000"))),
                             deals(*amounts), "2024-05")  # fmt: skip
    assert paid(lines) == D(expected)


def test_a_deal_across_a_band_boundary_is_split_into_two_traceable_lines() -> None:
    # Marginal 5% up to quota, 10% above. D0 6,000 fills 0-6,000; D1 9,000 fills
    # 6,000-15,000: 4,000 in the first band (200) and 5,000 in the second (500).
    lines = commission_lines(rule(tiers=TIERS[:2]), D(10000), deals(6000, 9000), "2024-05")
    got = [(x.opportunity_id, x.credited, x.rate, x.amount, x.key) for x in lines]
    assert got == [
        ("D0", D(6000), D("0.05"), D("300.00"), "commission:D0:0"),
        ("D1", D(4000), D("0.05"), D("200.00"), "commission:D1:0"),
        ("D1", D(5000), D("0.10"), D("500.00"), "commission:D1:1"),
    ]
    assert [x.band for x in lines] == ["0%–100% of quota"] * 2 + ["100%+ of quota"]
    assert "D1: 9,000.00 credited; 5,000.00 of it in band 100%+ of quota at 10%" in (
        lines[2].description
    )


def test_cap_is_its_own_negative_line() -> None:
    lines = commission_lines(rule(rate="0.10", cap="1000"), D(10000), deals(15000), "2024-05")
    assert [(x.kind, x.amount) for x in lines] == [
        ("commission", D("1500.00")),  # 10% x 15,000
        ("cap", D("-500.00")),  # 1,000 - 1,500
    ]
    assert "1,500.00 before the cap" in lines[-1].description


def test_below_threshold_lines_still_name_each_deal() -> None:
    lines = commission_lines(rule(**JUNIOR), D(10000), deals(4000, 3000), "2024-05")
    assert [(x.opportunity_id, x.amount, x.band) for x in lines] == [
        ("D0", D("0.00"), "below the 100% threshold"),
        ("D1", D("0.00"), "below the 100% threshold"),
    ]
    # plain English: "credited below the threshold", never "credited in below the ..."
    assert "credited below the 100% threshold at" in lines[0].description
    assert " in below " not in lines[0].description


def test_what_if_deals_fill_the_bands_after_the_won_deals() -> None:
    # A what-if deal closing "today" is put after every won deal, even one dated later:
    # the won 12,000 takes 10,000 at 5% and 2,000 at 10%; the what-if 1,000 is all at 10%.
    won = deals(12000)
    projected = CreditedDeal("W", "Ann", date(2024, 5, 1), D(1000), D(1), D(1000), what_if=True)
    lines = commission_lines(rule(tiers=TIERS[:2]), D(10000), [projected, *won], "2024-05")
    assert [(x.opportunity_id, x.amount) for x in lines] == [
        ("D0", D("500.00")),
        ("D0", D("200.00")),
        ("W", D("100.00")),
    ]
    assert lines[-1].description.startswith("What-if ")


@pytest.mark.parametrize(
    ("amount", "shares", "expected"),
    [
        # 100.00 three ways: 33.333... each; the spare cent goes to the first.
        ("100.00", ["1", "1", "1"], ["33.34", "33.33", "33.33"]),
        # 60/40 of 12,345.67: 7,407.402 and 4,938.268; the cent goes to the larger remainder.
        ("12345.67", ["0.6", "0.4"], ["7407.40", "4938.27"]),
        # A stored third is normalised: 0.333333 x 3 still credits the whole deal.
        ("90.00", ["0.333333", "0.333333", "0.333333"], ["30.00", "30.00", "30.00"]),
    ],
)
def test_split_credit_adds_up_to_the_deal(amount: str, shares: list, expected: list) -> None:
    credits = split_credit(
        "O-1", D(amount), [(f"r{i}", D(s)) for i, s in enumerate(shares)],
        close_date=date(2024, 5, 1),
    )  # fmt: skip
    assert [c.credited for c in credits] == [D(e) for e in expected]
    assert sum(c.credited for c in credits) == D(amount)


def test_allocate_keeps_the_total() -> None:
    assert allocate([D("0.005")] * 3, D("0.02")) == [D("0.01"), D("0.01"), D("0.00")]
    assert allocate([], D("0")) == []


# --- explanations ----------------------------------------------------------------------------


def _statement(lines, credited: str, quota: str = "10000", **kw) -> Statement:
    return Statement("Ann Lee", "2024-05", date(2024, 5, 1), D(credited), tuple(lines),
                     plan_name="Default plan v0 · Junior", quota=D(quota), **kw)  # fmt: skip


def test_explain_reached_quota() -> None:
    lines = commission_lines(rule(**JUNIOR), D(10000), deals(7000, 5000), "2024-05")
    assert explain(_statement(lines, "12000")) == (
        "Ann Lee is paid 1,200.00 for 2024-05: commission 1,200.00 on 12,000.00 credited "
        "bookings (120% of the 10,000.00 quota; 10% on all of it)."
    )


def test_explain_quotes_names_for_markdown() -> None:
    """The page shows the sentence as markdown: the names go through `quote` (md), the
    figures and the words around them do not; the CLI's plain sentence is unchanged."""
    from analytics.markup import md, plain

    name = "**Ann** ![x](http://h/x.png) :red[r]"
    lines = commission_lines(rule(**JUNIOR), D(10000), deals(7000, 5000), "2024-05")
    st = replace(_statement(lines, "12000"), rep=name)
    plain_sentence = explain(st)
    assert plain_sentence.startswith(f"{name} is paid 1,200.00 for 2024-05: ")
    quoted = explain(st, quote=md)
    assert quoted.startswith(md(name) + " is paid 1,200.00 for 2024-05: ")
    assert plain(quoted) == plain_sentence
    uncovered = replace(st, plan_name=None, lines=(), role="*AE*", level="_L_")
    assert "role \\*AE\\* / level \\_L\\_" in explain(uncovered, quote=md)


def test_explain_below_threshold() -> None:
    lines = commission_lines(rule(**JUNIOR), D(10000), deals(9000), "2024-05")
    assert explain(_statement(lines, "9000")) == (
        "Ann Lee is paid 0.00 for 2024-05: commission 0.00 on 9,000.00 credited bookings "
        "(90% of the 10,000.00 quota, below the 100% threshold: nothing is paid)."
    )


def test_explain_tiers_and_cap() -> None:
    fields = {"tiers": TIERS, "cap": "1200"}
    lines = commission_lines(rule(**fields), D(10000), deals(18000), "2024-05")
    assert explain(_statement(lines, "18000")) == (
        "Ann Lee is paid 1,200.00 for 2024-05: commission 1,200.00 on 18,000.00 credited "
        "bookings (180% of the 10,000.00 quota; 10,000.00 at 5% + 5,000.00 at 10% + "
        "3,000.00 at 15%; capped at 1,200.00 from 1,450.00)."
    )


# --- the database layer -------------------------------------------------------------------------


def table_of(con: duckdb.DuckDBPyConnection, period: str, **filters: str) -> dict[str, dict]:
    frame = team_table(con, Scope(Period.parse(period), **filters))
    return {r["rep"]: r for r in frame.to_dict("records")}


def test_default_plan_may_by_hand(book: duckdb.DuckDBPyConnection) -> None:
    rows = table_of(book, "2024-05")
    got = {
        rep: (r["credited_bookings"], r["quota"], r["attainment"], r["commission"], r["total"])
        for rep, r in rows.items()
    }
    assert got == {
        "Ann Lee": (D("12000.00"), D("10000.00"), D("1.2"), D("1200.00"), D("1200.00")),
        "Bob Stone": (D("20000.00"), D("25000.00"), D("0.8"), D("0.00"), D("0.00")),
        # Cara's quotas-table quota (8,000) replaces the plan's 10,000: 9,000 reaches it.
        "Cara Diaz": (D("9000.00"), D("8000.00"), D("1.125"), D("900.00"), D("900.00")),
        "Dan Poe": (D("30000.00"), D("25000.00"), D("1.2"), D("3000.00"), D("3000.00")),
    }
    assert rows["Ann Lee"]["plan"] == "Default plan v0 · Junior"
    # The manager has no level, so no rule of the default plan covers her: no row.
    assert "Maria Boss" not in rows


def test_team_table_follows_the_scope_filters(book: duckdb.DuckDBPyConnection) -> None:
    assert set(table_of(book, "2024-05", team="East")) == {"Ann Lee", "Bob Stone"}
    assert set(table_of(book, "2024-05", rep="Dan Poe")) == {"Dan Poe"}


def test_a_quarter_sums_its_months(book: duckdb.DuckDBPyConnection) -> None:
    ann = table_of(book, "2024-Q2")["Ann Lee"]
    # April 3,000 (below quota: 0) + May 12,000 (1,200) + June nothing; quota 3 x 10,000.
    assert (ann["credited_bookings"], ann["quota"], ann["commission"]) == (
        D("15000.00"), D("30000.00"), D("1200.00"),
    )  # fmt: skip
    assert ann["attainment"] == D("0.5")


def test_statement_lines_trace_every_deal(book: duckdb.DuckDBPyConnection) -> None:
    st = Ledger(book).statement("Ann Lee", MAY)
    assert [(x.opportunity_id, x.share, x.credited, x.rate, x.amount) for x in st.lines] == [
        ("O-01", D(1), D("7000.00"), D("0.10"), D("700.00")),
        ("O-02", D(1), D("5000.00"), D("0.10"), D("500.00")),
    ]


def test_split_credit_from_the_splits_table(book: duckdb.DuckDBPyConnection) -> None:
    # O-05 (30,000) half to Dan, half to Bob: Dan 15,000 < 25,000 -> 0; Bob 20,000 +
    # 15,000 = 35,000 >= 25,000 -> 10% x 35,000 = 3,500.
    save_splits(book, [{"opportunity_id": "O-05", "rep": "Dan Poe", "share": "0.5"},
                       {"opportunity_id": "O-05", "rep": "Bob Stone", "share": "0.5"}])  # fmt: skip
    rows = table_of(book, "2024-05")
    assert (rows["Dan Poe"]["credited_bookings"], rows["Dan Poe"]["total"]) == (
        D("15000.00"), D("0.00"),
    )  # fmt: skip
    assert (rows["Bob Stone"]["credited_bookings"], rows["Bob Stone"]["total"]) == (
        D("35000.00"), D("3500.00"),
    )  # fmt: skip
    line = [x for x in Ledger(book).statement("Bob Stone", MAY).lines if x.opportunity_id == "O-05"]
    assert [(x.deal_amount, x.share, x.credited, x.amount) for x in line] == [
        (D("30000.00"), D("0.5"), D("15000.00"), D("1500.00"))
    ]


def test_spiff_for_a_product_and_month(book: duckdb.DuckDBPyConnection) -> None:
    # Analytics SPIFF in May: 100 per deal + 1% of the credit. Ann's O-02 (Analytics,
    # 5,000): 100 + 50 = 150 on top of her 1,200 commission.
    save_spiffs(book, [{"spiff_id": "S1", "name": "Analytics push", "product": "analytics",
                        "start_date": "2024-05-01", "end_date": "2024-05-31",
                        "amount_per_deal": "100", "rate": "0.01"}])  # fmt: skip
    st = Ledger(book).statement("Ann Lee", MAY)
    assert (st.commission, st.spiffs, st.total) == (D("1200.00"), D("150.00"), D("1350.00"))
    assert [x.key for x in st.lines if x.kind == "spiff"] == ["spiff:S1:O-02"]
    assert "SPIFFs 150.00" in explain(st)


def test_a_past_month_is_paid_under_the_plan_in_force_then(
    book: duckdb.DuckDBPyConnection,
) -> None:
    # From May: base 3,000 for juniors and 12% after quota. April stays on the default.
    junior = rule_from_dict({"name": "Junior", "level": "junior", "quota": "10000",
                             "rate": "0.12", "threshold": "1", "base_salary": "3000"})  # fmt: skip
    plan = Plan("2024 plan", (junior, DEFAULT_PLAN.rules[1]))
    save_plan(book, plan, date(2024, 5, 1))
    ledger = Ledger(book)
    may = ledger.statement("Ann Lee", MAY)
    # 3,000 base + 12% x 12,000 = 1,440.
    assert (may.base, may.commission, may.total) == (D("3000.00"), D("1440.00"), D("4440.00"))
    assert may.plan_name == "2024 plan v1 · Junior"
    april = ledger.statement("Ann Lee", Period.parse("2024-04"))
    # Default plan: 3,000 < 10,000 -> 0, no base.
    assert (april.total, april.plan_name) == (D("0.00"), "Default plan v0 · Junior")


def _clawback_plan(con: duckdb.DuckDBPyConnection, days: int) -> None:
    rules = tuple(rule_from_dict({**{"name": r.name, "level": r.level, "quota": str(r.quota),
                                     "rate": "0.10", "threshold": "1"}, "clawback_days": days})
                  for r in DEFAULT_PLAN.rules)  # fmt: skip
    save_plan(con, Plan("Clawback plan", rules), date(2024, 1, 1))


def test_refund_within_the_window_is_a_negative_line_next_month(
    book: duckdb.DuckDBPyConnection,
) -> None:
    _clawback_plan(book, 90)
    # O-01 (7,000, closed 2024-05-03) refunded on 2024-06-10: 38 days <= 90. The 700 paid
    # on it in May comes back in June; May itself is not rewritten.
    save_reversals(book, [{"opportunity_id": "O-01", "event_date": "2024-06-10",
                           "kind": "refund"}])  # fmt: skip
    ledger = Ledger(book)
    assert ledger.statement("Ann Lee", MAY).total == D("1200.00")
    june = ledger.statement("Ann Lee", JUNE)
    assert [(x.kind, x.opportunity_id, x.amount) for x in june.lines] == [
        ("clawback", "O-01", D("-700.00"))
    ]
    assert "38 days after its close (within 90)" in june.lines[0].description
    assert "clawbacks −700.00" in explain(june)


def test_partial_refund_claws_back_its_share(book: duckdb.DuckDBPyConnection) -> None:
    _clawback_plan(book, 90)
    save_reversals(book, [{"opportunity_id": "O-01", "event_date": "2024-06-10",
                           "kind": "refund", "share": "0.5"}])  # fmt: skip
    assert Ledger(book).statement("Ann Lee", JUNE).clawbacks == D("-350.00")  # 50% of 700


def test_a_partial_clawback_is_its_share_of_the_figure_it_names(
    book: duckdb.DuckDBPyConnection,
) -> None:
    """With a cap of 1,029.75 on Ann's 1,200 of May commission, O-01's 700 is paid
    700 x 1,029.75 / 1,200 = 600.6875, so 600.69. Half of it refunded: the line says
    "50% of 600.69" and takes back 300.35 (300.345 rounded half up), not 300.34 worked
    from 600.6875, which no rep could rebuild from the line."""
    rules = tuple(rule_from_dict({"name": r.name, "level": r.level, "quota": str(r.quota),
                                  "rate": "0.10", "threshold": "1", "cap": "1029.75",
                                  "clawback_days": 90})
                  for r in DEFAULT_PLAN.rules)  # fmt: skip
    save_plan(book, Plan("Capped", rules), date(2024, 1, 1))
    save_reversals(book, [{"opportunity_id": "O-01", "event_date": "2024-06-10",
                           "kind": "refund", "share": "0.5"}])  # fmt: skip
    ledger = Ledger(book)
    assert ledger.statement("Ann Lee", MAY).commission == D("1029.75")
    (line,) = ledger.statement("Ann Lee", JUNE).lines
    assert "50% of 600.69 paid in 2024-05 (commission 600.69) taken back" in line.description
    assert line.amount == D("-300.35")


def test_no_clawback_after_the_window_or_without_one(book: duckdb.DuckDBPyConnection) -> None:
    save_reversals(book, [{"opportunity_id": "O-01", "event_date": "2024-06-10",
                           "kind": "churn"}])  # fmt: skip
    # The default plan has no clawback: June has no line at all.
    assert Ledger(book).statement("Ann Lee", JUNE).lines == ()
    _clawback_plan(book, 30)
    # 38 days > 30: nothing either.
    assert Ledger(book).statement("Ann Lee", JUNE).lines == ()


def test_a_won_deal_lost_in_a_later_export_is_clawed_back(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    load_commission_fixture(con, tmp_path, ("commission_opps_lost.csv", date(2024, 6, 20)))
    _clawback_plan(con, 90)
    ledger = Ledger(con)
    may = ledger.statement("Ann Lee", MAY)
    # May still credits O-01 from the export that showed it won: 1,200, not rewritten.
    assert (may.credited_bookings, may.total) == (D("12000.00"), D("1200.00"))
    june = ledger.statement("Ann Lee", JUNE)
    # The 2024-06-20 export shows it lost (48 days after its close): -700 in June.
    assert [(x.kind, x.key, x.amount) for x in june.lines] == [
        ("clawback", "clawback:lost:O-01", D("-700.00"))
    ]


def test_clawback_of_a_split_deal_takes_back_each_reps_part(
    book: duckdb.DuckDBPyConnection,
) -> None:
    _clawback_plan(book, 90)
    save_splits(book, [{"opportunity_id": "O-05", "rep": "Dan Poe", "share": "0.5"},
                       {"opportunity_id": "O-05", "rep": "Bob Stone", "share": "0.5"}])  # fmt: skip
    save_reversals(book, [{"opportunity_id": "O-05", "event_date": "2024-06-30",
                           "kind": "refund"}])  # fmt: skip
    ledger = Ledger(book)
    # May: Bob 35,000 -> 1,500 of his commission is on O-05; Dan 15,000 < 25,000 -> 0.
    assert ledger.statement("Bob Stone", JUNE).clawbacks == D("-1500.00")
    assert ledger.statement("Dan Poe", JUNE).lines == ()  # nothing was paid on it


def test_non_recoverable_draw_tops_up(book: duckdb.DuckDBPyConnection) -> None:
    save_draws(book, [{"rep": "Bob Stone", "start_month": "2024-05-01", "amount": "500",
                       "recoverable": False}])  # fmt: skip
    ledger = Ledger(book)
    may = ledger.statement("Bob Stone", MAY)
    # Commission 0 (below quota): the guaranteed 500 is paid, for good.
    assert (may.draws, may.total) == (D("500.00"), D("500.00"))
    june = ledger.statement("Bob Stone", JUNE)
    assert (june.draws, june.total) == (D("500.00"), D("500.00"))  # still nothing earned


def test_no_draw_for_an_inactive_rep_in_a_month_without_deals(
    book: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """Bob's draw row has no end month and Bob is then marked inactive. June (no deal of
    his) pays him nothing; May, with his deals, still tops him up to the draw."""
    save_draws(book, [{"rep": "Bob Stone", "start_month": "2024-05-01", "amount": "500",
                       "recoverable": True}])  # fmt: skip
    roster = tmp_path / "reps_left.csv"
    roster.write_text("rep,manager,team,region,role,level,active\n"
                      "Bob Stone,Maria Boss,East,EMEA,AE,senior,false\n")  # fmt: skip
    result = import_file(book, roster, as_of=date(2024, 6, 15), data_dir=tmp_path)
    assert result.ok, result.message
    ledger = Ledger(book)
    may = ledger.statement("Bob Stone", MAY)
    assert [(x.key, x.amount) for x in may.lines if x.kind == "draw"] == [
        ("draw:advance", D("500.00"))
    ]
    assert ledger.statement("Bob Stone", JUNE) is None
    assert "Bob Stone" not in ledger.payable(Period.parse("2024-07"))
    assert ledger.draw_balance("Bob Stone", Period.parse("2024-08")) == D("500.00")  # owed


def test_recoverable_draw_is_paid_back_from_a_later_month(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    load_commission_fixture(con, tmp_path, ("commission_opps_june.csv", date(2024, 6, 30)))
    draw = {"rep": "Bob Stone", "start_month": "2024-05-01", "end_month": "2024-06-01"}
    save_draws(con, [draw | {"amount": "500", "recoverable": True}])
    ledger = Ledger(con)
    may = ledger.statement("Bob Stone", MAY)
    assert [(x.key, x.amount) for x in may.lines if x.kind == "draw"] == [
        ("draw:advance", D("500.00"))  # 0 earned, 500 advanced
    ]
    june = ledger.statement("Bob Stone", JUNE)
    # June: O-10 30,000 >= 25,000 -> 3,000 commission; the 500 advance is recovered.
    assert (june.commission, june.draws, june.total) == (
        D("3000.00"), D("-500.00"), D("2500.00"),
    )  # fmt: skip
    assert ledger.statement("Bob Stone", Period.parse("2024-07")).lines == ()  # nothing owed


def test_deals_that_cannot_be_credited_are_named(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    load_commission_fixture(con, tmp_path, ("commission_opps_june.csv", date(2024, 6, 30)))
    ledger = Ledger(con)
    ann = ledger.statement("Ann Lee", JUNE)
    # O-11 is in EUR and the database has no EUR rate: a note, not a silent zero.
    assert [(x.kind, x.amount) for x in ann.lines] == [("note", D("0"))]
    assert "O-11 Kiel Analytics is in EUR with no exchange rate" in ann.lines[0].description
    maria = ledger.statement("Maria Boss", JUNE)
    # The manager closed O-12 but no rule covers her: shown, with the reason, paid 0.
    assert maria.total == D("0.00") and maria.credited_bookings == D("5000.00")
    assert "no commission rule covers role manager / level —" in explain(maria)


# --- the report command ----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent
REPORT_COLUMNS = ["rep", "plan", "credited_bookings", "quota", "attainment", "commission",
                  "base", "adjustments", "total"]  # fmt: skip


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "analytics", "report", "commissions", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture
def book_file(tmp_path: Path, db_template: Callable[..., Path]) -> Path:
    """The fixture in a closed database file, so the command can open it."""
    return commission_template(db_template, tmp_path / "report.duckdb")


def test_report_command_csv_and_json(book_file: Path) -> None:
    done = run_cli("--db", str(book_file), "--period", "2024-05", "--format", "csv")
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert list(rows[0])[: len(REPORT_COLUMNS)] == REPORT_COLUMNS
    assert [(r["rep"], r["credited_bookings"], r["quota"], r["commission"], r["total"])
            for r in rows] == [
        ("Ann Lee", "12000.00", "10000.00", "1200.00", "1200.00"),
        ("Bob Stone", "20000.00", "25000.00", "0.00", "0.00"),
        ("Cara Diaz", "9000.00", "8000.00", "900.00", "900.00"),
        ("Dan Poe", "30000.00", "25000.00", "3000.00", "3000.00"),
    ]  # fmt: skip
    done = run_cli("--db", str(book_file), "--period", "2024-05", "--format", "json",
                   "--team", "West")  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    assert [(r["rep"], r["attainment"], r["total"]) for r in records] == [
        ("Cara Diaz", 1.125, 900.0),
        ("Dan Poe", 1.2, 3000.0),
    ]
    assert records[0]["plan"] == "Default plan v0 · Junior"


def test_report_command_lines_and_bad_period(book_file: Path) -> None:
    done = run_cli("--db", str(book_file), "--period", "2024-05", "--rep", "Ann Lee",
                   "--table", "lines")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [(r["kind"], r["opportunity_id"], r["amount"]) for r in rows] == [
        ("commission", "O-01", "700.00"),
        ("commission", "O-02", "500.00"),
        ("total", "", "1200.00"),
    ]
    done = run_cli("--db", str(book_file), "--period", "2024-13")
    assert done.returncode == 2 and "Traceback" not in done.stderr


Q2 = (date(2024, 4, 1), date(2024, 6, 30))  # 91 days


@pytest.mark.parametrize(
    ("amount", "month", "expected"),
    [
        # 10,000 x 30/91 = 3,296.703 -> 3,296.70; through May 6,703.30 - 3,296.70 = 3,406.60
        ("10000", (date(2024, 4, 1), date(2024, 4, 30)), "3296.70"),
        ("10000", (date(2024, 5, 1), date(2024, 5, 31)), "3406.60"),
        ("10000", (date(2024, 6, 1), date(2024, 6, 30)), "3296.70"),
        ("10000", (date(2024, 7, 1), date(2024, 7, 31)), "0"),  # outside the quota's period
        ("91", (date(2024, 5, 1), date(2024, 5, 31)), "31.00"),  # 1 per day exactly
    ],
)
def test_a_quarterly_quota_is_split_by_days(amount: str, month: tuple, expected: str) -> None:
    assert prorated_quota(Decimal(amount), *Q2, *month) == Decimal(expected)


@pytest.mark.parametrize("amount", ["10000", "25000", "0.05", "99999.99", "7"])
def test_a_quotas_months_add_up_to_the_cent(amount: str) -> None:
    """The months of a quarter sum to the quarter's quota exactly (no lost cent)."""
    months = [(date(2024, m, 1), Period.parse(f"2024-{m:02d}").end) for m in (4, 5, 6)]
    assert sum(prorated_quota(Decimal(amount), *Q2, *m) for m in months) == Decimal(amount)
