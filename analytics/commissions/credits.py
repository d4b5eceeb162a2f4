"""Credits and splits: which rep is credited with how much of each won deal, in which month.

Why a module of its own: credit is the first question of every dispute ("was that deal
mine, and for how much?"). A deal is credited to its owner, or to the reps of its credit
splits by their shares; the credits add up to the deal to the cent; a foreign-currency
deal is converted at the rate of its close date; and a deal that cannot be credited (no
amount, not positive, no exchange rate) becomes a note on the statement, never a silent
zero. A deal that is no longer won stays credited where it was won: reversing it is a
clawback in a later month (`clawbacks`), never a rewrite of the month it was paid in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from analytics.commissions.cents import allocate, fmt_money, money
from analytics.commissions.lines import Line
from analytics.commissions.plans import ONE, ZERO

EXTRA_BOOKINGS_ID = "what-if: extra bookings"

# Deals won in the month. A deal that is no longer won but that a snapshot showed won is
# still credited where it was won (from its latest won snapshot): reversing it is a
# clawback in a later month, never a silent rewrite of the month it was paid in.
CREDITED_SQL = """
WITH won_now AS (
    SELECT opportunity_id, opportunity_name, owner, product, amount, currency, close_date
    FROM opportunities
    WHERE is_won AND close_date BETWEEN $start AND $end
),
won_before AS (
    SELECT s.opportunity_id, s.opportunity_name, s.owner, s.product, s.amount, s.currency,
           s.close_date
    FROM opportunity_snapshots AS s
    JOIN opportunities AS o ON o.opportunity_id = s.opportunity_id AND NOT o.is_won
    WHERE s.is_won
    QUALIFY row_number() OVER (PARTITION BY s.opportunity_id ORDER BY s.snapshot_date DESC) = 1
),
deals AS (
    SELECT * FROM won_now
    UNION ALL
    SELECT * FROM won_before WHERE close_date BETWEEN $start AND $end
),
keyed AS (
    SELECT *, nullif(upper(trim(currency)), '') AS currency_key FROM deals
)
SELECT k.opportunity_id, k.opportunity_name, k.owner, k.product, k.amount, k.currency_key,
       k.close_date,
       CASE WHEN k.currency_key IS NULL OR k.currency_key = $reporting_currency
            THEN CAST(1 AS DECIMAL(18, 8)) ELSE fx.rate END AS rate
FROM keyed AS k
ASOF LEFT JOIN fx_rates AS fx
    ON fx.currency = k.currency_key AND k.close_date >= fx.rate_date
ORDER BY k.close_date, k.opportunity_id
"""

# The end of a statement's note on a won deal it cannot credit (team.py counts them by it).
NOT_CREDITED = "not credited"


@dataclass(frozen=True)
class RepInfo:
    """A rep's roster entry: role and level choose the plan's rule; team and region scope."""

    rep: str
    role: str | None = None
    level: str | None = None
    team: str | None = None
    region: str | None = None
    active: bool = True
    hire_date: date | None = None


@dataclass(frozen=True)
class CreditedDeal:
    """A rep's credit on one won deal: amounts in the reporting currency."""

    opportunity_id: str
    rep: str
    close_date: date
    deal_amount: Decimal
    share: Decimal
    credited: Decimal
    name: str | None = None
    product: str | None = None
    what_if: bool = False

    def title(self) -> str:
        if self.name and self.name != self.opportunity_id:
            return f"{self.opportunity_id} {self.name}"
        return self.opportunity_id


def split_credit(
    opportunity_id: str,
    amount: Decimal,
    shares: Sequence[tuple[str, Decimal]],
    *,
    close_date: date,
    name: str | None = None,
    product: str | None = None,
    what_if: bool = False,
) -> list[CreditedDeal]:
    """Each rep's credit on a deal; the credits add up to the deal to the cent.

    Shares are normalised by their sum (a stored 1/3 is 0.333333333333), then amounts
    are allocated with `allocate`, so three equal splits of 100.00 give 33.34, 33.33, 33.33.
    """
    positive = [(rep, s) for rep, s in shares if s > 0]
    total_share = sum((s for _, s in positive), ZERO)
    if not positive or total_share <= 0:
        return []
    amount = money(amount)
    credits = allocate([amount * s / total_share for _, s in positive], amount)
    return [
        CreditedDeal(
            opportunity_id=opportunity_id,
            rep=rep,
            close_date=close_date,
            deal_amount=amount,
            share=s / total_share,
            credited=credit,
            name=name,
            product=product,
            what_if=what_if,
        )
        for (rep, s), credit in zip(positive, credits, strict=True)
    ]


def order_deals(deals: Iterable[CreditedDeal]) -> list[CreditedDeal]:
    """Bands fill in close-date order (what-if deals last), so each deal's band is stable."""
    return sorted(deals, key=lambda d: (d.what_if, d.close_date, d.opportunity_id))


def deal_shares(
    splits: dict[str, list[tuple[str, Decimal]]], opportunity_id: str, owner: str | None
) -> list[tuple[str, Decimal]]:
    """The deal's credit splits, or all of it to its owner when it has none."""
    return splits.get(opportunity_id) or ([(owner, ONE)] if owner else [])


def credit_deal(
    opp: str,
    name: str | None,
    owner: str | None,
    product: str | None,
    amount: Decimal | None,
    currency: str | None,
    close: date,
    rate: Decimal | None,
    *,
    shares: Sequence[tuple[str, Decimal]],
    period: str,
) -> list[CreditedDeal] | Line:
    """One row of `CREDITED_SQL` as credits, or the note line saying why it is not credited.

    Why a note and not nothing: a deal missing from a statement looks like an error of the
    plan; a line naming the deal and its problem sends the reader to the data instead.
    """
    title = f"{opp} {name}" if name and name != opp else opp
    problem = None
    if amount is None:
        problem = "has no amount"
    elif amount <= 0:
        problem = f"amount {fmt_money(amount)} is not positive"
    elif rate is None:
        problem = f"is in {currency} with no exchange rate on {close.isoformat()}"
    if problem:
        return Line(
            "note", f"note:{opp}", f"{title} {problem}: {NOT_CREDITED}", ZERO, period,
            opportunity_id=opp,
        )  # fmt: skip
    converted = money(Decimal(amount) * Decimal(rate))
    return split_credit(opp, converted, shares, close_date=close, name=name, product=product)
