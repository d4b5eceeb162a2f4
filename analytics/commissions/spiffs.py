"""SPIFFs: a bonus per qualifying deal, on top of base salary and tiered commission.

A SPIFF applies to a deal by product, the rep's role and level, a minimum amount and its
dates; it pays `amount_per_deal` x the rep's share plus `rate` x the credited amount.

Why a pure function: lines in and lines out, testable by hand. The `Ledger` (engine.py)
knows which months and statements to feed it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from analytics.commissions.cents import fmt_money, money, pct
from analytics.commissions.credits import CreditedDeal, RepInfo, order_deals
from analytics.commissions.lines import Line
from analytics.commissions.plans import ZERO


@dataclass(frozen=True)
class Spiff:
    """A SPIFF: per qualifying deal, `amount_per_deal` x share plus `rate` x credit."""

    spiff_id: str
    name: str
    start_date: date
    end_date: date
    amount_per_deal: Decimal = ZERO
    rate: Decimal = ZERO
    product: str | None = None
    role: str | None = None
    level: str | None = None
    min_amount: Decimal | None = None

    def applies(self, deal: CreditedDeal, info: RepInfo) -> bool:
        def same(want: str | None, have: str | None) -> bool:
            return (
                not want
                or want.strip() in ("", "*")
                or (want.strip().casefold() == (have or "").strip().casefold())
            )

        return (
            self.start_date <= deal.close_date <= self.end_date
            and same(self.product, deal.product)
            and same(self.role, info.role)
            and same(self.level, info.level)
            and (self.min_amount is None or deal.deal_amount >= self.min_amount)
        )


def spiff_lines(
    spiffs: Sequence[Spiff], deals: Sequence[CreditedDeal], info: RepInfo, period: str
) -> list[Line]:
    """A line per SPIFF per qualifying deal: per-deal amount x share + rate x credit."""
    lines: list[Line] = []
    for spiff in spiffs:
        for deal in order_deals(deals):
            if deal.credited <= 0 or not spiff.applies(deal, info):
                continue
            amount = money(spiff.amount_per_deal * deal.share + spiff.rate * deal.credited)
            if amount <= 0:
                continue
            parts = []
            if spiff.amount_per_deal:
                share = "" if deal.share == 1 else f" x {pct(deal.share)} share"
                parts.append(f"{fmt_money(spiff.amount_per_deal)} per deal{share}")
            if spiff.rate:
                parts.append(f"{pct(spiff.rate)} of {fmt_money(deal.credited)}")
            lines.append(
                Line(
                    kind="spiff",
                    key=f"spiff:{spiff.spiff_id}:{deal.opportunity_id}",
                    description=f"SPIFF {spiff.name}: {deal.title()}: {' + '.join(parts)}",
                    amount=amount,
                    home_period=period,
                    opportunity_id=deal.opportunity_id,
                    deal_amount=deal.deal_amount,
                    share=deal.share,
                    credited=deal.credited,
                    rate=spiff.rate or None,
                )
            )
    return lines
