"""Cents: the rounding every commission amount goes through, and how amounts are printed.

Why one module: a payout is only trusted when every figure is rounded the same way
(halves away from zero, the payroll convention) and when parts add up to their whole to
the cent. Credits, bands, SPIFFs, clawbacks and draws all round here, so no two of them
can disagree about a cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

from analytics.commissions.plans import ZERO

CENT = Decimal("0.01")
NO_MONEY = Decimal("0.00")  # an empty sum, shown as 0.00 like every other amount


def money(value: Decimal) -> Decimal:
    """Round to the cent, halves away from zero (the payroll convention)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def pct(value: Decimal) -> str:
    """0.125 -> '12.5%', 1 -> '100%'."""
    text = f"{(value * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return f"{text}%"


def fmt_money(value: Decimal | None) -> str:
    """1234.5 -> '1,234.50'; None -> '—' (no figure, which is not the same as 0.00)."""
    return "—" if value is None else f"{value:,.2f}"


def allocate(exact: Sequence[Decimal], total: Decimal) -> list[Decimal]:
    """Cent amounts that sum to `total` exactly and each stay within a cent of `exact`.

    Largest-remainder rounding: every value is rounded down to the cent, and the cents
    still missing go to the largest remainders (earlier items first on a tie). Used so a
    split deal's credits add up to the deal and a statement's lines add up to its total.
    """
    floors = [x.quantize(CENT, rounding=ROUND_FLOOR) for x in exact]
    missing = int(((total - sum(floors, ZERO)) / CENT).to_integral_value())
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    out = list(floors)
    if not order:
        return out
    step = CENT if missing >= 0 else -CENT
    for n in range(abs(missing)):
        out[order[n % len(order)]] += step
    return out
