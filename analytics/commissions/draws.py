"""Draws: a guaranteed minimum of variable pay agreed with a rep.

A non-recoverable draw tops variable pay up for good; a recoverable draw is an advance
that later months pay back, never leaving pay below the draw.

Why a pure function: lines in and lines out, testable by hand. The `Ledger` (engine.py)
knows the months and the recoverable balance still owed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from analytics.commissions.cents import fmt_money
from analytics.commissions.lines import Line
from analytics.commissions.plans import ZERO
from analytics.scope import Period


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
