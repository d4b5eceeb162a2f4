"""Figures as a person reads them: rounded parts that add up, durations, percentages.

Why a module: a chart whose labels add up to 1,351,506 beside a total of 1,351,505 looks
wrong even though every bar is right to the cent (issue 13); a table cell reading "None",
"nan" or "742.5" minutes is unreadable. These helpers are the one rule for each, used by
analytics (for the CLI and the pages alike) and never importing streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

MISSING = "—"


def round_half_up(value: Decimal | float) -> int:
    """0.5 -> 1, -0.5 -> -1 (away from zero), as people round money, not banker's rounding."""
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def largest_remainder(parts: Sequence[Decimal | float], total: int) -> list[int]:
    """Whole numbers, one per part, within 1 of it, that sum to `total` exactly.

    Each part is rounded down, and the units still missing go to the parts with the
    largest remainders (the earlier part first on a tie). `total` is normally the rounded
    sum of the parts; for signed parts (a waterfall's changes) it is the rounded end minus
    the rounded start, which is within 1 of their exact sum, so at most one unit per part
    moves. Parts that are whole stay as they are unless every other part is whole too.
    """
    exact = [Decimal(str(p)) for p in parts]
    floors = [int(x.to_integral_value(rounding=ROUND_FLOOR)) for x in exact]
    missing = total - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    out = list(floors)
    if not order:
        return out
    step = 1 if missing >= 0 else -1
    for n in range(abs(missing)):
        out[order[n % len(order)]] += step
    return out


def is_missing(value: Any) -> bool:
    """None, NaN, NaT, pandas NA or an infinity: nothing a person should read as a number."""
    if value is None:
        return True
    try:
        return bool(value != value) or (isinstance(value, float) and math.isinf(value))
    except (TypeError, ValueError):  # pandas NA refuses bool()
        return True


def blank_cell(value: Any) -> bool:
    """An editor cell nobody filled: None, NaN or pandas NA (a new row), or blank text."""
    if isinstance(value, str):
        return not value.strip()
    return is_missing(value) and not (isinstance(value, float) and math.isinf(value))


def number_or_none(value: Any) -> float | None:
    """A float, or None for a missing figure (None, NaN, pandas NA, text that is no number).

    One definition for pages and reports, so "no figure" is decided the same way everywhere.
    """
    if value is None:
        return None
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return None if out != out else out


def percent_text(share: float | None, digits: int = 1) -> str:
    """0.625 -> '62.5%'; missing -> '—'."""
    return MISSING if is_missing(share) else f"{float(share) * 100:.{digits}f}%"  # type: ignore[arg-type]


def amount_text(value: float | Decimal | None) -> str:
    """71000.4 -> '71,000'; missing -> '—' (the currency goes in the header)."""
    return MISSING if is_missing(value) else f"{round_half_up(value):,}"  # type: ignore[arg-type]


def duration_text(days: float | None) -> str:
    """A duration given in days: '12 h 22 min' under a day, '2.1 days' from one; '—' if none."""
    if is_missing(days):
        return MISSING
    days = float(days)  # type: ignore[arg-type]
    if days >= 1:
        return f"{days:.1f} days"
    minutes = round(days * 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if hours == 24:
        return "1.0 days"
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def minutes_text(minutes: float | None) -> str:
    """A duration given in minutes (response times): 742.5 -> '12 h 23 min'; '—' if none."""
    return MISSING if is_missing(minutes) else duration_text(float(minutes) / (24 * 60))  # type: ignore[arg-type]


def signed_duration_text(days: float | None, unit: str = "days") -> str | None:
    """A change in a duration: '+2.1 days', '-12 h 22 min'; None when it is not defined.

    No change reads '0 days' (or '0 min' for a figure kept in minutes, `unit="minutes"`),
    unsigned: '+0 min' under a sales cycle in days read as a rise in another unit.
    """
    if is_missing(days):
        return None
    text = duration_text(abs(float(days)))  # type: ignore[arg-type]
    if text in ("0 min", "0.0 days"):
        return "0 min" if unit == "minutes" else "0 days"
    return ("+" if float(days) >= 0 else "-") + text


def percent_parts(shares: Sequence[float | None], digits: int = 1) -> list[str]:
    """Shares of one whole as percentages that add up to exactly 100% as printed.

    Rounding each share on its own can print 33.3% three times (99.9%); the largest
    remainder method gives the missing tenth to the share that lost most to rounding. A
    missing share reads '—' and takes no part; shares that do not sum to 1 (nothing to
    share out) are printed as they are.
    """
    scale = 10**digits
    present = [i for i, s in enumerate(shares) if not is_missing(s)]
    exact = [Decimal(str(float(shares[i]))) * 100 * scale for i in present]  # type: ignore[arg-type]
    out = [MISSING] * len(shares)
    if not exact:
        return out
    total = round_half_up(sum(exact, Decimal(0)))
    whole = total == 100 * scale
    units = largest_remainder(exact, total) if whole else [round_half_up(x) for x in exact]
    for i, unit in zip(present, units, strict=True):
        out[i] = f"{unit / scale:.{digits}f}%"
    return out


def counted(n: int, noun: str, nouns: str | None = None) -> str:
    """'1 deal', '4,346 deals': a count with its noun in the right number.

    Why: "33 open deal(s) have" reads like a form letter; a manager reads counts in every
    caption and note. `nouns` is the plural where adding an 's' is wrong ('1 person').
    """
    return f"{n:,} {noun if n == 1 else (nouns or noun + 's')}"


def verb(n: int, one: str, many: str) -> str:
    """The verb that agrees with a count: verb(1, 'has', 'have') == 'has'."""
    return one if n == 1 else many
