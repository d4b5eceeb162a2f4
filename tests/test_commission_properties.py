"""Properties of payouts that no hand-picked example can cover (hypothesis).

- a payout never exceeds the rule's cap;
- selling more never pays less, under any valid plan (without clawbacks);
- split credits add up to the deal, to the cent;
- the lines of a statement add up to its rounded exact commission;
- a locked month never changes, whatever happens to the data afterwards;
- exported cells that look like formulas are text.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import db
from analytics.commissions.approval import lock_period
from analytics.commissions.cents import allocate, money
from analytics.commissions.credits import CreditedDeal, split_credit
from analytics.commissions.data import save_draws, save_spiffs, save_splits
from analytics.commissions.engine import Ledger
from analytics.commissions.plans import (
    DEFAULT_PLAN,
    Accelerator,
    Plan,
    Rule,
    Tier,
    save_plan,
    validate_rule,
)
from analytics.commissions.statements import export_bytes
from analytics.commissions.tiers import commission_lines
from analytics.scope import Period

D = Decimal
MAY = Period.parse("2024-05")
cents = st.integers(min_value=1, max_value=5_000_000).map(lambda n: D(n) / 100)
rates = st.integers(min_value=0, max_value=30).map(lambda n: D(n) / 100)
floors = st.sampled_from([D("0.5"), D("0.8"), D(1), D("1.2"), D("1.5"), D(2)])


@st.composite
def rules(draw: st.DrawFn, with_cap: bool | None = None) -> Rule:
    """Any valid rule: flat or tiered (either mode), threshold, accelerators, cap."""
    mode = draw(st.sampled_from(["marginal", "retroactive"]))
    tier_floors = sorted(draw(st.sets(floors, max_size=3)))
    tier_rates = draw(st.lists(rates, min_size=len(tier_floors) + 1,
                               max_size=len(tier_floors) + 1))  # fmt: skip
    if mode == "retroactive":
        tier_rates.sort()
    tiers = tuple(Tier(f, r) for f, r in zip([D(0), *tier_floors], tier_rates, strict=True))
    flat = draw(st.booleans())
    accel_floors = sorted(draw(st.sets(st.sampled_from([D(1), D("1.25"), D(2)]), max_size=2)))
    n = len(accel_floors)
    multipliers = draw(st.lists(st.sampled_from([D(1), D("1.5"), D(2)]), min_size=n, max_size=n))
    schedule = (Tier(D(0), tier_rates[0]),) if flat else tiers
    lowest = min(t.rate for t in schedule)
    threshold = draw(st.sampled_from([D(0), D("0.5"), D(1)]))
    threshold_rate = draw(st.sampled_from([D(0), lowest / 2, lowest]))
    cap = draw(st.none() | cents) if with_cap is None else (draw(cents) if with_cap else None)
    rule = Rule(
        name="r",
        quota=draw(st.integers(min_value=1000, max_value=50_000).map(D)),
        rate=tier_rates[0],
        tiers=() if flat else tiers,
        tier_mode=mode,  # type: ignore[arg-type]
        threshold=threshold,
        threshold_rate=threshold_rate,
        accelerators=tuple(
            Accelerator(f, m) for f, m in zip(accel_floors, multipliers, strict=True)
        ),  # fmt: skip
        cap=cap,
    )
    assert validate_rule(rule) == [], validate_rule(rule)
    return rule


def as_deals(amounts: list[Decimal]) -> list[CreditedDeal]:
    return [
        CreditedDeal(f"D{i:02d}", "Ann", date(2024, 5, 1 + i % 28), a, D(1), a)
        for i, a in enumerate(amounts)
    ]


def payout(rule: Rule, amounts: list[Decimal]) -> Decimal:
    return sum((x.amount for x in commission_lines(rule, rule.quota, as_deals(amounts), "m")),
               D(0))  # fmt: skip


@given(rules(with_cap=True), st.lists(cents, max_size=8))
def test_payout_never_exceeds_the_cap(rule: Rule, amounts: list[Decimal]) -> None:
    assert D(0) <= payout(rule, amounts) <= money(rule.cap)


@given(rules(), st.lists(cents, min_size=1, max_size=8), st.data())
def test_selling_more_never_pays_less(rule: Rule, amounts: list[Decimal], data) -> None:
    before = payout(rule, amounts)
    # Either a deal grows, or one more deal is won.
    if data.draw(st.booleans()):
        i = data.draw(st.integers(min_value=0, max_value=len(amounts) - 1))
        more = [*amounts[:i], amounts[i] + data.draw(cents), *amounts[i + 1 :]]
    else:
        more = [*amounts, data.draw(cents)]
    assert payout(rule, more) >= before


@given(rules(with_cap=False), st.lists(cents, min_size=1, max_size=8))
def test_lines_add_up_and_trace_each_deal(rule: Rule, amounts: list[Decimal]) -> None:
    lines = commission_lines(rule, rule.quota, as_deals(amounts), "m")
    exact = sum((x.credited * x.rate * x.multiplier for x in lines), D(0))
    assert sum(x.amount for x in lines) == money(exact)
    for deal in as_deals(amounts):
        parts = [x.credited for x in lines if x.opportunity_id == deal.opportunity_id]
        assert sum(parts) == deal.credited  # every cent of the deal is in some band


@given(cents, st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=6))
def test_split_credits_add_up_to_the_deal(amount: Decimal, weights: list[int]) -> None:
    total = sum(weights)
    shares = [(f"rep{i}", D(w) / D(total)) for i, w in enumerate(weights)]
    credits = split_credit("O", amount, shares, close_date=date(2024, 5, 1))
    assert sum(c.credited for c in credits) == amount
    for c, (_, share) in zip(credits, shares, strict=True):
        assert abs(c.credited - amount * share) < D("0.01")


@given(st.lists(st.integers(min_value=0, max_value=10**9).map(lambda n: D(n) / 10**5),
                max_size=10))  # fmt: skip
def test_allocate_keeps_the_rounded_total(exact: list[Decimal]) -> None:
    out = allocate(exact, money(sum(exact, D(0))))
    assert sum(out, D(0)) == money(sum(exact, D(0)))
    assert all(abs(o - e) < D("0.01") for o, e in zip(out, exact, strict=True))


# --- a locked month never changes -------------------------------------------------------------

REPS = ("Ann", "Bob", "Cy")
_seq = iter(range(10**9))


def _deal(con, owner: str, amount: Decimal, close: date, won: bool = True) -> str:
    opp = f"H-{next(_seq)}"
    con.execute(
        "INSERT INTO opportunities (opportunity_id, owner, stage, amount, close_date, "
        "is_closed, is_won, product, snapshot_date, import_id) "
        "VALUES (?, ?, ?, ?, ?, true, ?, 'Platform', DATE '2024-06-01', 0)",
        [opp, owner, "Closed Won" if won else "Closed Lost", amount, close, won],
    )
    return opp


mutations = st.one_of(
    st.tuples(st.just("deal"), st.sampled_from(REPS), cents, st.integers(1, 31)),
    st.tuples(st.just("amount"), cents),
    st.tuples(st.just("lose")),
    st.tuples(st.just("split"), st.sampled_from(REPS)),
    st.tuples(st.just("quota"), st.sampled_from(REPS), cents),
    st.tuples(st.just("plan"), rates),
    st.tuples(st.just("spiff"), cents),
    st.tuples(st.just("draw"), st.sampled_from(REPS), cents),
    st.tuples(st.just("role"), st.sampled_from(REPS)),
)


def _mutate(con, change: tuple, first_deal: str) -> None:
    kind = change[0]
    if kind == "deal":
        _deal(con, change[1], change[2], date(2024, 5, change[3]))
    elif kind == "amount":
        con.execute("UPDATE opportunities SET amount = ? WHERE opportunity_id = ?",
                    [change[1], first_deal])  # fmt: skip
    elif kind == "lose":
        con.execute("UPDATE opportunities SET is_won = false, stage = 'Closed Lost' "
                    "WHERE opportunity_id = ?", [first_deal])  # fmt: skip
    elif kind == "split":
        save_splits(con, [{"opportunity_id": first_deal, "rep": "Ann", "share": "0.5"},
                          {"opportunity_id": first_deal, "rep": change[1] if change[1] != "Ann"
                           else "Bob", "share": "0.5"}])  # fmt: skip
    elif kind == "quota":
        con.execute("INSERT OR REPLACE INTO quotas VALUES (?, DATE '2024-05-01', "
                    "DATE '2024-05-31', ?, 0)", [change[1], change[2]])  # fmt: skip
    elif kind == "plan":
        rules = tuple(replace(r, rate=change[1], threshold=D(0)) for r in DEFAULT_PLAN.rules)
        try:
            save_plan(con, Plan("Changed", rules), date(2024, 5, 1))
        except ValueError:
            save_plan(con, Plan("Changed", rules), date(2024, 6, 1))  # May is locked
    elif kind == "spiff":
        save_spiffs(con, [{"spiff_id": "S", "name": "S", "start_date": "2024-05-01",
                           "end_date": "2024-06-30", "amount_per_deal": change[1]}])  # fmt: skip
    elif kind == "draw":
        save_draws(con, [{"rep": change[1], "start_month": "2024-04-01", "amount": change[2],
                          "recoverable": True}])  # fmt: skip
    elif kind == "role":
        con.execute("UPDATE reps SET level = CASE level WHEN 'junior' THEN 'senior' "
                    "ELSE 'junior' END WHERE rep = ?", [change[1]])  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(REPS), cents, st.integers(1, 31)), min_size=1,
             max_size=5),
    st.lists(mutations, min_size=1, max_size=4),
)  # fmt: skip
def test_a_locked_month_never_changes(initial: list, changes: list) -> None:
    with tempfile.TemporaryDirectory() as folder:
        con = db.connect(Path(folder) / "h.duckdb")
        try:
            for rep, level in zip(REPS, ("junior", "senior", "junior"), strict=True):
                con.execute("INSERT INTO reps (rep, role, level, import_id) VALUES (?, 'AE', ?, 0)",
                            [rep, level])  # fmt: skip
            deals = [_deal(con, rep, amount, date(2024, 5, day)) for rep, amount, day in initial]
            run_id = lock_period(con, MAY)
            frozen = Ledger(con).payable(MAY)
            rows = con.execute(
                "SELECT * FROM commission_statement_lines WHERE run_id = ? ORDER BY ALL", [run_id]
            ).fetchall()
            for change in changes:
                _mutate(con, change, deals[0])
                assert Ledger(con).payable(MAY) == frozen
            assert (
                con.execute(
                    "SELECT * FROM commission_statement_lines WHERE run_id = ? ORDER BY ALL",
                    [run_id],
                ).fetchall()
                == rows
            )
        finally:
            con.close()


# --- exports ---------------------------------------------------------------------------------

formula_text = st.tuples(st.sampled_from(["=", "+", "-", "@"]), st.text(max_size=20)).map("".join)


@settings(max_examples=50, deadline=None)
@given(st.lists(formula_text, min_size=1, max_size=5))
def test_export_cells_are_escaped(texts: list[str]) -> None:
    frame = pd.DataFrame({"rep": texts, "amount": [D("-1.50")] * len(texts)})
    csv = export_bytes(frame, "csv").decode("utf-8-sig")
    back = pd.read_csv(io.StringIO(csv), dtype=str, keep_default_na=False)
    assert all(cell.startswith("'") for cell in back["rep"])
    book = openpyxl.load_workbook(io.BytesIO(export_bytes(frame, "xlsx")))
    cells = [c for row in book.active.iter_rows(min_row=2) for c in row]
    assert not [c for c in cells if c.data_type == "f"]
    assert all(c.value.startswith("'") for c in cells if c.column == 1 and c.value)
