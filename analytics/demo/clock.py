"""Business-day time for the demo: every event lives on a monotone business-time axis.

Why: deals, stage changes and activities must happen on working days in office hours,
and stage changes of one deal must keep their order after that mapping. Working in
"business days since a reference day" (a float) and mapping to calendar time at the end
keeps the order (the mapping is monotone) and lets numpy do it for whole arrays at once.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

# Office hours the mapping spreads one business day over.
DAY_START_HOUR = 8
DAY_HOURS = 10
# Fixed public holidays (month, day) on which nobody sells.
HOLIDAYS: tuple[tuple[int, int], ...] = ((1, 1), (12, 24), (12, 25), (12, 26), (12, 31))


class Clock:
    """Maps business-time floats (x) to calendar dates and timestamps, and back."""

    def __init__(self, first: date, last: date) -> None:
        holidays = [
            np.datetime64(date(y, m, d), "D")
            for y in range(first.year, last.year + 1)
            for m, d in HOLIDAYS
        ]
        self.ref = np.datetime64(first, "D")
        days = np.arange(self.ref, np.datetime64(last, "D") + 1, dtype="datetime64[D]")
        self.bdays: np.ndarray = days[np.is_busday(days, holidays=holidays)]

    # -- calendar -> business time -------------------------------------------------------
    def index(self, day: date | np.datetime64 | np.ndarray) -> np.ndarray | int:
        """Index of the first business day on or after `day` (x of its 08:00)."""
        return np.searchsorted(self.bdays, np.asarray(day, dtype="datetime64[D]"), side="left")

    def bound(self, day: date) -> float:
        """Smallest x that falls after `day`: events with x < bound happened on or before it."""
        return float(np.searchsorted(self.bdays, np.datetime64(day, "D"), side="right"))

    def month_bdays(self, month_start: date) -> np.ndarray:
        """Indices of the business days of one calendar month."""
        nxt = add_months(month_start, 1)
        return np.arange(int(self.index(month_start)), int(self.index(nxt)))

    # -- business time -> calendar -------------------------------------------------------
    def day(self, x: np.ndarray) -> np.ndarray:
        """Calendar date (datetime64[D]) of business times."""
        i = np.clip(np.floor(np.asarray(x, dtype=float)).astype(np.int64), 0, len(self.bdays) - 1)
        return self.bdays[i]

    def stamp(self, x: np.ndarray) -> np.ndarray:
        """Timestamp (datetime64[s]) in office hours; whole seconds so files are stable."""
        x = np.asarray(x, dtype=float)
        whole = np.floor(x)
        secs = DAY_START_HOUR * 3600 + np.floor((x - whole) * DAY_HOURS * 3600).astype(np.int64)
        return self.day(x).astype("datetime64[s]") + secs.astype("timedelta64[s]")


def month_starts(first: date, last: date) -> list[date]:
    """First days of the months from the month of `first` to the month of `last`."""
    out, cur = [], first.replace(day=1)
    while cur <= last:
        out.append(cur)
        cur = add_months(cur, 1)
    return out


def month_end(month_start: date) -> date:
    """Last day of the month."""
    return add_months(month_start, 1) - timedelta(days=1)


def add_months(d: date, n: int) -> date:
    """First day of the month `n` months after the month of `d`."""
    y, m = divmod(d.month - 1 + n, 12)
    return date(d.year + y, m + 1, 1)


def quarter_index(d: date) -> int:
    """A running quarter number, so quarters can be subtracted (Q1 2026 - Q4 2025 = 1)."""
    return d.year * 4 + (d.month - 1) // 3
