"""The lines a statement is made of, the statement that sums them, and their stored form.

Why lines and not a number: disputes come from payouts nobody can trace. Every cent of a
statement is a line that names where it came from (a deal's part in a band, the base
salary, a SPIFF on a deal, a clawback of a deal, a correction of a locked month, a draw),
and the total is only ever the sum of the lines, so the page, the exports and the report
cannot disagree. A stored run (`load_run`) reads back into the same `Statement`, so a
frozen month is explained by the same code as a fresh one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import duckdb

from analytics.commissions.cents import NO_MONEY
from analytics.commissions.schema import ensure_schema

# Line kinds. "Own" lines come from the month's own data; an adjustment is a locked
# month's correction paid later; a draw line depends on everything else of the month.
OWN_KINDS: tuple[str, ...] = ("base", "commission", "cap", "spiff", "clawback", "note")
LINE_KINDS: tuple[str, ...] = (*OWN_KINDS, "adjustment", "draw")


@dataclass(frozen=True)
class Line:
    """One line of a statement; `key` identifies it across runs for line-by-line diffs."""

    kind: str
    key: str
    description: str
    amount: Decimal
    home_period: str
    opportunity_id: str | None = None
    deal_amount: Decimal | None = None
    share: Decimal | None = None
    credited: Decimal | None = None
    band: str | None = None
    rate: Decimal | None = None
    multiplier: Decimal | None = None


@dataclass(frozen=True)
class Statement:
    """One rep's statement for one month; every total is a sum of `lines`."""

    rep: str
    period: str
    period_start: date
    credited_bookings: Decimal
    lines: tuple[Line, ...]
    plan_name: str | None = None
    plan_version: int | None = None
    role: str | None = None
    level: str | None = None
    quota: Decimal | None = None
    quota_source: str | None = None
    locked: bool = False
    run_id: int | None = None

    def sum_of(self, *kinds: str) -> Decimal:
        return sum((line.amount for line in self.lines if line.kind in kinds), NO_MONEY)

    @property
    def no_plan(self) -> bool:
        """No rule of the plan covers the rep and nothing else pays them this month: the
        total is not an earned 0.00 but nothing computed, and is shown as "no plan"."""
        return self.plan_name is None and all(line.kind == "note" for line in self.lines)

    @property
    def attainment(self) -> Decimal | None:
        if not self.quota:
            return None
        # halves away from zero, as every commission figure (cents.py): 1.32345 -> 1.3235
        return (self.credited_bookings / self.quota).quantize(
            Decimal("0.0001"), rounding=ROUND_HALF_UP
        )

    @property
    def commission(self) -> Decimal:
        """Commission on the month's own credited bookings, after the cap."""
        return self.sum_of("commission", "cap")

    @property
    def base(self) -> Decimal:
        return self.sum_of("base")

    @property
    def spiffs(self) -> Decimal:
        return self.sum_of("spiff")

    @property
    def clawbacks(self) -> Decimal:
        return self.sum_of("clawback")

    @property
    def prior_adjustments(self) -> Decimal:
        return self.sum_of("adjustment")

    @property
    def draws(self) -> Decimal:
        return self.sum_of("draw")

    @property
    def adjustments(self) -> Decimal:
        """Everything that is neither commission nor base: SPIFFs, clawbacks, draws and
        corrections of locked months."""
        return self.total - self.commission - self.base

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), NO_MONEY)

    @property
    def variable(self) -> Decimal:
        """What a draw is measured against: every line except base salary and draws."""
        return self.total - self.base - self.draws


def load_run(
    con: duckdb.DuckDBPyConnection, run_id: int, *, locked: bool = False
) -> dict[str, Statement]:
    """The statements stored under a run id, rep -> Statement (lines in stored order)."""
    ensure_schema(con)
    head = con.execute(
        "SELECT period_start, period_label FROM commission_runs WHERE run_id = ?", [run_id]
    ).fetchone()
    if head is None:
        raise ValueError(f"no commission run {run_id}")
    start, label = head
    lines: dict[str, list[Line]] = defaultdict(list)
    for row in con.execute(
        "SELECT rep, kind, line_key, description, amount, home_period, opportunity_id, "
        "deal_amount, share, credited, band, rate, multiplier "
        "FROM commission_statement_lines WHERE run_id = ? ORDER BY rep, line_no",
        [run_id],
    ).fetchall():
        lines[row[0]].append(Line(*row[1:]))
    out: dict[str, Statement] = {}
    for row in con.execute(
        "SELECT rep, plan_name, plan_version, role, level, quota, quota_source, "
        "credited_bookings FROM commission_run_reps WHERE run_id = ? ORDER BY rep",
        [run_id],
    ).fetchall():
        rep = row[0]
        out[rep] = Statement(
            rep=rep,
            period=label,
            period_start=start,
            credited_bookings=row[7],
            lines=tuple(lines.get(rep, ())),
            plan_name=row[1],
            plan_version=row[2],
            role=row[3],
            level=row[4],
            quota=row[5],
            quota_source=row[6],
            locked=locked,
            run_id=run_id,
        )
    return out


def stored_corrections(con: duckdb.DuckDBPyConnection, home: str) -> dict[tuple[str, str], Decimal]:
    """Corrections of month `home` already frozen in later locked months: (rep, key) -> sum.

    Why: a locked month that changes twice is corrected twice; the second correction must
    pay only what the first did not.
    """
    rows = con.execute(
        """
        SELECT l.rep, l.line_key, sum(l.amount)
        FROM commission_statement_lines AS l
        JOIN commission_locks AS k ON k.run_id = l.run_id
        WHERE l.kind = 'adjustment' AND l.home_period = ?
        GROUP BY ALL
        """,
        [home],
    ).fetchall()
    return {(r[0], r[1]): Decimal(r[2]) for r in rows}
