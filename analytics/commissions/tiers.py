"""Quota and tiers: how a month's credited bookings become commission lines.

The month's bookings are laid end to end in close-date order and cut into bands at the
plan's attainment points (tier floors and accelerator steps, times the quota):

- a *tier* sets the rate of its band; marginal tiers pay each band at its own rate,
  retroactive tiers pay every band at the rate of the highest tier reached;
- an *accelerator* multiplies the rate of the bookings beyond its step (always marginal);
- below the *threshold* the whole month earns `threshold_rate` instead of the schedule:
  0 is a plain threshold, a smaller rate is a *decelerator* (`bands_for`);
- a *cap* limits the month's commission, as a line of its own.

Why bands in money and not attainment percentages: a rounded attainment must never decide
a payout, so every comparison is bookings against `floor x quota`. A quota for a longer
period is pro-rated into months by days (`prorated_quota`). Definitions: docs/metrics.md
(Commissions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from analytics.commissions.cents import allocate, fmt_money, money, pct
from analytics.commissions.credits import CreditedDeal, order_deals
from analytics.commissions.lines import Line
from analytics.commissions.plans import ONE, ZERO, Rule

BELOW_THRESHOLD = "below"


@dataclass(frozen=True)
class Band:
    """A stretch of credited bookings [start, end) paid at tier_rate x multiplier."""

    key: str  # stable across runs: the attainment floor ("0", "1", "1.5") or "below"
    label: str
    start: Decimal  # money
    end: Decimal | None  # None: no upper end
    tier_rate: Decimal
    multiplier: Decimal = ONE

    @property
    def rate(self) -> Decimal:
        return self.tier_rate * self.multiplier


def _floors(rule: Rule) -> list[Decimal]:
    points = {t.from_attainment for t in rule.schedule()}
    points |= {a.from_attainment for a in rule.accelerators}
    return sorted(points)


def prorated_quota(
    amount: Decimal, start: date, end: date, month_start: date, month_end: date
) -> Decimal:
    """The part of a quota for start..end that falls in one month, in cents, by days.

    Rounded as the difference of the rounded running totals (days up to the month's end
    minus days before it), so the months of a quarter add up to the quarter's quota to
    the cent: 10,000 over 2024-Q2 is 3,296.70 + 3,406.60 + 3,296.70, not 9,999.99.
    """
    first, last = max(start, month_start), min(end, month_end)
    if last < first:
        return ZERO
    days = Decimal((end - start).days + 1)
    before = Decimal((first - start).days)
    through = Decimal((last - start).days + 1)
    return money(amount * through / days) - money(amount * before / days)


def schedule_bands(rule: Rule, quota: Decimal, reached_total: Decimal | None = None) -> list[Band]:
    """The plan's bands in money for this quota (tiers and accelerator steps merged).

    Marginal tiers: each band at its own tier's rate. Retroactive tiers: every band at
    the rate of the tier that `reached_total` reached. The accelerator in force at a
    band's start multiplies its rate (accelerators are always marginal: only bookings
    beyond the step are accelerated).
    """
    tiers = rule.schedule()
    floors = _floors(rule)
    reached_rate: Decimal | None = None
    if rule.tier_mode == "retroactive" and reached_total is not None:
        reached = [t for t in tiers if reached_total >= t.from_attainment * quota]
        reached_rate = (reached[-1] if reached else tiers[0]).rate
    bands: list[Band] = []
    for i, floor in enumerate(floors):
        upper = floors[i + 1] if i + 1 < len(floors) else None
        tier = [t for t in tiers if t.from_attainment <= floor][-1]
        accel = [a for a in rule.accelerators if a.from_attainment <= floor]
        if upper is None and floor == 0:
            label = "all credited bookings"
        elif upper is None:
            label = f"{pct(floor)}+ of quota"
        else:
            label = f"{pct(floor)}–{pct(upper)} of quota"
        bands.append(
            Band(
                key=_key_number(floor),
                label=label,
                start=floor * quota,
                end=None if upper is None else upper * quota,
                tier_rate=reached_rate if reached_rate is not None else tier.rate,
                multiplier=accel[-1].multiplier if accel else ONE,
            )
        )
    return bands


def _key_number(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def threshold_reached(rule: Rule, quota: Decimal, total: Decimal) -> bool:
    """Compared in money (total >= threshold x quota): no rounded attainment decides a payout."""
    return rule.threshold <= 0 or total >= rule.threshold * quota


def bands_for(rule: Rule, quota: Decimal, total: Decimal) -> list[Band]:
    """The bands that pay this month: the schedule, or one below-threshold band."""
    if not threshold_reached(rule, quota, total):
        return [
            Band(
                key=BELOW_THRESHOLD,
                label=f"below the {pct(rule.threshold)} threshold",
                start=ZERO,
                end=None,
                tier_rate=rule.threshold_rate,
            )
        ]
    return schedule_bands(rule, quota, total)


def commission_lines(
    rule: Rule, quota: Decimal, deals: Sequence[CreditedDeal], period: str
) -> list[Line]:
    """Commission lines (one per deal part in a band) and the cap line, for one rep-month.

    The month's exact commission (sum of part x rate) is rounded once to the cent and
    spread over the lines with `allocate`, so the lines add up to the rounded exact total:
    selling more can never lower the payout through rounding.
    """
    eligible = order_deals(d for d in deals if d.credited > 0)
    if not eligible:
        return []
    total = sum((d.credited for d in eligible), ZERO)
    bands = bands_for(rule, quota, total)
    parts: list[tuple[CreditedDeal, Band, Decimal]] = []
    position = ZERO
    for deal in eligible:
        left, right = position, position + deal.credited
        for band in bands:
            lo = max(left, band.start)
            hi = right if band.end is None else min(right, band.end)
            if hi > lo:
                parts.append((deal, band, hi - lo))
        position = right
    exact = [part * band.rate for _, band, part in parts]
    amounts = allocate(exact, money(sum(exact, ZERO)))
    lines = [
        Line(
            kind="commission",
            key=f"commission:{deal.opportunity_id}:{band.key}",
            description=_commission_text(deal, band, part, rule),
            amount=amount,
            home_period=period,
            opportunity_id=deal.opportunity_id,
            deal_amount=deal.deal_amount,
            share=deal.share,
            credited=part,
            band=band.label,
            rate=band.tier_rate,
            multiplier=band.multiplier,
        )
        for (deal, band, part), amount in zip(parts, amounts, strict=True)
    ]
    earned = sum((line.amount for line in lines), ZERO)
    if rule.cap is not None and earned > money(rule.cap):
        cap = money(rule.cap)
        lines.append(
            Line(
                kind="cap",
                key="cap",
                description=f"Cap: commission limited to {fmt_money(cap)} "
                f"({fmt_money(earned)} before the cap)",
                amount=cap - earned,
                home_period=period,
            )
        )
    return lines


def _commission_text(deal: CreditedDeal, band: Band, part: Decimal, rule: Rule) -> str:
    share = "" if deal.share == 1 else f"{pct(deal.share)} of {fmt_money(deal.deal_amount)} = "
    what = "What-if " if deal.what_if else ""
    rate = pct(band.tier_rate)
    if band.multiplier != 1:
        rate = f"{rate} x{band.multiplier.normalize():f} accelerator"
    if band.key == BELOW_THRESHOLD:
        where = f" {band.label}"  # "below the 50% threshold": no "in" before it
    elif band.start == 0 and band.end is None:
        where = ""
    elif rule.tier_mode == "retroactive" and rule.tiers:
        where = f" in band {band.label} (retroactive: the reached tier's rate)"
    else:
        where = f" in band {band.label}"
    credited = f"{share}{fmt_money(deal.credited)} credited"
    part_text = "" if part == deal.credited else f"; {fmt_money(part)} of it"
    return f"{what}{deal.title()}: {credited}{part_text}{where} at {rate}"
