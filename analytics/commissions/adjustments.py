"""Adjustments: everything a statement pays besides base salary and tiered commission.

- *SPIFFs*: a bonus per qualifying deal (product, role, level, minimum amount, dates);
- *clawbacks*: a refunded, churned or no-longer-won deal takes back what its home month
  paid on it (commission after the cap, and its SPIFFs), if the reversal falls within the
  rule's `clawback_days`; partial reversals take back their share, never more than all;
- *corrections*: a locked month is never recomputed in place; what changed since it was
  locked is paid line by line in the next open month;
- *draws*: a guaranteed minimum of variable pay; a recoverable draw is an advance that
  later months pay back, never below the draw.

Why pure functions: each mechanic is a rule on lines in and lines out, testable by hand.
The `Ledger` (engine.py) knows which months and statements to feed them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

from analytics.commissions.cents import fmt_money, money, pct
from analytics.commissions.credits import CreditedDeal, RepInfo, order_deals
from analytics.commissions.lines import OWN_KINDS, Line, Statement
from analytics.commissions.plans import ONE, ZERO, Rule
from analytics.scope import Period

# -- SPIFFs -----------------------------------------------------------------------------------


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


# -- clawbacks --------------------------------------------------------------------------------

# Reversals of won deals: recorded refunds/churn, plus deals now not won that a snapshot
# showed won (event day: the first snapshot after the last won one that shows otherwise).
# close_date is the close date the deal was credited on.
REVERSALS_SQL = """
WITH last_won AS (
    SELECT opportunity_id, max(snapshot_date) AS last_won_day,
           arg_max(close_date, snapshot_date) AS won_close_date
    FROM opportunity_snapshots WHERE is_won GROUP BY opportunity_id
),
credited_close AS (
    SELECT o.opportunity_id,
           CASE WHEN o.is_won THEN o.close_date ELSE lw.won_close_date END AS close_date
    FROM opportunities AS o
    LEFT JOIN last_won AS lw USING (opportunity_id)
    WHERE o.is_won OR lw.opportunity_id IS NOT NULL
),
lost AS (
    SELECT o.opportunity_id,
           coalesce(min(s.snapshot_date), max(o.snapshot_date)) AS event_date,
           any_value(o.stage) AS stage
    FROM opportunities AS o
    JOIN last_won AS lw USING (opportunity_id)
    LEFT JOIN opportunity_snapshots AS s
        ON s.opportunity_id = o.opportunity_id AND s.snapshot_date > lw.last_won_day
       AND NOT s.is_won
    WHERE NOT o.is_won
    GROUP BY o.opportunity_id
),
events AS (
    SELECT 'lost:' || opportunity_id AS event_id, opportunity_id, event_date, 'lost' AS kind,
           CAST(1 AS DECIMAL(18, 12)) AS share, 'now ' || stage AS note
    FROM lost
    UNION ALL
    SELECT event_id, opportunity_id, event_date, kind, share, note FROM commission_reversals
)
SELECT e.event_id, e.opportunity_id, e.event_date, e.kind, e.share, e.note, c.close_date
FROM events AS e
JOIN credited_close AS c USING (opportunity_id)
ORDER BY e.event_date, e.event_id
"""


@dataclass(frozen=True)
class Reversal:
    """A row of `REVERSALS_SQL`: a won deal taken back in part (`share`) or whole."""

    event_id: str
    opportunity_id: str
    event_date: date
    kind: str
    share: Decimal
    note: str | None
    close_date: date


def reversals_in_month(
    reversals: Iterable[Reversal], month: Period
) -> list[tuple[Reversal, Period, Decimal]]:
    """(reversal, the deal's home month, share taken back) of the reversals paid in `month`.

    A reversal dated before its deal's close is paid in the home month. A deal's shares
    are taken in event order and never add up to more than the whole deal, so a refund
    after a full churn takes back nothing.
    """
    out: list[tuple[Reversal, Period, Decimal]] = []
    taken: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for ev in reversals:
        if ev.close_date is None or ev.event_date is None:
            continue
        home = Period.containing(ev.close_date, "month")
        when = max(Period.containing(ev.event_date, "month").start, home.start)
        remaining = ONE - taken[ev.opportunity_id]
        share = min(Decimal(ev.share), remaining)
        if when > month.start or share <= 0:
            continue
        taken[ev.opportunity_id] += share
        if when == month.start:
            out.append((ev, home, share))
    return out


def paid_on_deal(statement: Statement, opportunity_id: str) -> tuple[Decimal, str] | None:
    """What a statement paid on one deal, and which lines: its commission lines scaled by
    the rep's cap factor, plus its SPIFF lines. None: nothing was paid on it."""
    mine = [x for x in statement.lines if x.opportunity_id == opportunity_id]
    commission = sum((x.amount for x in mine if x.kind == "commission"), ZERO)
    spiff = sum((x.amount for x in mine if x.kind == "spiff"), ZERO)
    before_cap = statement.sum_of("commission")
    if commission and before_cap:
        commission = commission * statement.commission / before_cap
    if commission == 0 and spiff == 0:
        return None
    parts = [f"commission {fmt_money(money(commission))}"] if commission else []
    parts += [f"SPIFF {fmt_money(spiff)}"] if spiff else []
    return commission + spiff, ", ".join(parts)


def clawback_line(
    ev: Reversal,
    share: Decimal,
    rule: Rule | None,
    paid: tuple[Decimal, str],
    home: Period,
    month: Period,
) -> Line | None:
    """The line taking back `share` of what was paid on the deal, or None when the rule
    does not claw back (no rule, no `clawback_days`, or the reversal came too late)."""
    days = (ev.event_date - ev.close_date).days
    if rule is None or rule.clawback_days is None or days > rule.clawback_days:
        return None
    amount_paid, deal_lines = paid
    amount = -money(amount_paid * share)
    if amount == 0:
        return None
    part = "" if share == 1 else f"{pct(share)} of "
    return Line(
        kind="clawback",
        key=f"clawback:{ev.event_id}",
        description=f"Clawback: {ev.opportunity_id} {ev.kind} on "
        f"{ev.event_date.isoformat()}, {days} days after its close "
        f"(within {rule.clawback_days}): {part}{fmt_money(amount_paid)} paid in "
        f"{home.label} ({deal_lines}) taken back",
        amount=amount,
        home_period=month.label,
        opportunity_id=ev.opportunity_id,
        share=share,
    )


# -- corrections of locked months ---------------------------------------------------------------


def _by_key(lines: Iterable[Line], home: str) -> dict[str, Line]:
    """Own lines of `home` by key (amounts of a repeated key summed into the first)."""
    out: dict[str, Line] = {}
    for line in lines:
        if line.kind not in OWN_KINDS or line.home_period != home:
            continue
        if line.key in out:
            out[line.key] = replace(out[line.key], amount=out[line.key].amount + line.amount)
        else:
            out[line.key] = line
    return out


def correction_lines(
    now: Iterable[Line], paid: Iterable[Line], paid_later: dict[str, Decimal], home: str
) -> list[Line]:
    """Adjustment lines paying the difference, key by key, between a locked month's own
    lines as computed now and as paid (its frozen lines plus `paid_later`, the corrections
    of it already frozen in later locked months)."""
    current = _by_key(now, home)
    frozen = _by_key(paid, home)
    out: list[Line] = []
    for key in sorted(set(current) | set(frozen) | set(paid_later)):
        amount_now = current[key].amount if key in current else ZERO
        amount_paid = (frozen[key].amount if key in frozen else ZERO) + paid_later.get(key, ZERO)
        diff = amount_now - amount_paid
        if diff == 0:
            continue
        ref = current.get(key) or frozen.get(key)
        text = ref.description if ref else key
        out.append(
            Line(
                kind="adjustment",
                key=key,
                description=f"Adjustment for locked {home}: {text} "
                f"(paid {fmt_money(amount_paid)}, now {fmt_money(amount_now)})",
                amount=diff,
                home_period=home,
                opportunity_id=ref.opportunity_id if ref else None,
                deal_amount=ref.deal_amount if ref else None,
                share=ref.share if ref else None,
                credited=ref.credited if ref else None,
                band=ref.band if ref else None,
                rate=ref.rate if ref else None,
                multiplier=ref.multiplier if ref else None,
            )
        )
    return out


# -- draws ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Draw:
    """A draw agreed with a rep from `start_month` (to `end_month`, or open-ended)."""

    rep: str
    start_month: date
    end_month: date | None
    amount: Decimal
    recoverable: bool

    def active_in(self, month_start: date) -> bool:
        return self.start_month <= month_start and (
            self.end_month is None or self.end_month >= month_start
        )


def draw_lines(
    draws: Sequence[Draw], month: Period, variable: Decimal, balance: Decimal
) -> list[Line]:
    """Top up to the month's draw, or recover an outstanding recoverable draw.

    Non-recoverable: pay the difference between the draw and the variable pay, for
    good. Recoverable: the same top-up is an advance; months whose variable pay exceeds
    the draw (or any month after the draw ended) pay back `balance`, the recoverable draw
    still owed, never below the draw.
    """
    active = [d for d in draws if d.active_in(month.start)]
    draw = active[-1] if active else None
    lines: list[Line] = []
    floor = draw.amount if draw else ZERO
    if draw and variable < draw.amount:
        top_up = draw.amount - variable
        kind = "recoverable" if draw.recoverable else "non-recoverable"
        lines.append(
            Line(
                kind="draw",
                key="draw:advance" if draw.recoverable else "draw:guarantee",
                description=f"Draw ({kind}) of {fmt_money(draw.amount)}: variable pay "
                f"{fmt_money(variable)} topped up by {fmt_money(top_up)}"
                + (" (to be recovered from later months)" if draw.recoverable else ""),
                amount=top_up,
                home_period=month.label,
            )
        )
    elif balance > 0 and variable > floor:
        recovery = min(balance, variable - floor)
        lines.append(
            Line(
                kind="draw",
                key="draw:recovery",
                description=f"Recoverable draw paid back: {fmt_money(recovery)} of "
                f"{fmt_money(balance)} outstanding (pay stays at least "
                f"{fmt_money(floor)})",
                amount=-recovery,
                home_period=month.label,
            )
        )
    return lines
