"""Corrections of locked months: what changed since a month was locked, paid later.

A locked month is never recomputed in place; the difference between its own lines as
computed now and as paid is paid line by line (key by key) in the next open month.

Why a pure function: lines in and lines out, testable by hand. The `Ledger` (engine.py)
knows which locked months and frozen statements to feed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from decimal import Decimal

from analytics.commissions.cents import fmt_money
from analytics.commissions.lines import OWN_KINDS, Line
from analytics.commissions.plans import ZERO


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
