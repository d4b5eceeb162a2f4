"""Clawbacks: a refunded, churned or no-longer-won deal takes back what was paid on it.

What its home month paid on the deal (commission after the cap, and its SPIFFs) is taken
back if the reversal falls within the rule's `clawback_days`; partial reversals take back
their share, never more than all of the deal.

Why pure functions: each step is a rule on lines in and lines out, testable by hand. The
`Ledger` (engine.py) knows which months and statements to feed them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from analytics.commissions.cents import fmt_money, money, pct
from analytics.commissions.lines import Line, Statement
from analytics.commissions.plans import ONE, ZERO, Rule
from analytics.scope import Period

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
        # the deal's part of the capped commission, in cents: the clawback line names this
        # figure, and a rep must be able to take its share of it by hand (a helper saw
        # "50% of 800.69 ... taken back" as -400.34, worked from 800.6897)
        commission = money(commission * statement.commission / before_cap)
    if commission == 0 and spiff == 0:
        return None
    parts = [f"commission {fmt_money(commission)}"] if commission else []
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
