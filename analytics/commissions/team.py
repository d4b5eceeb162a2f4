"""The team table: one row per rep with payout and attainment over a period.

Why its own module: the Commissions page and `report commissions` show the same table,
so payroll run from a scheduled job pays the same cents as the page. It only sums the
`Ledger`'s statements over the period's months and filters them by the scope.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import duckdb
import pandas as pd

from analytics.commissions.cents import NO_MONEY
from analytics.commissions.credits import NOT_CREDITED, RepInfo
from analytics.commissions.engine import NO_PLAN_NOTE, Ledger, month_periods
from analytics.commissions.lines import Statement
from analytics.metrics.availability import NO_QUOTAS
from analytics.scope import Period, Scope

TEAM_COLUMNS: tuple[str, ...] = (
    "rep", "plan", "credited_bookings", "quota", "attainment", "commission", "base",
    "adjustments", "total", "spiffs", "clawbacks", "draws", "prior_period_adjustments",
    "locked", "no_plan_reason", "not_credited",
)  # fmt: skip


SUMMED: tuple[str, ...] = (
    "credited_bookings", "commission", "base", "adjustments", "total", "spiffs", "clawbacks",
    "draws", "prior_period_adjustments",
)  # fmt: skip


def _in_team_and_region(info: RepInfo, scope: Scope) -> bool:
    return (scope.team is None or info.team == scope.team) and (
        scope.region is None or info.region == scope.region
    )


def _in_scope(info: RepInfo, scope: Scope) -> bool:
    return _in_team_and_region(info, scope) and (scope.rep is None or info.rep == scope.rep)


def locked_no_plan(st: Statement) -> str | None:
    """Why a locked statement has no plan, as the lock recorded it (its no-plan note).

    Why not `Ledger.no_plan_reason`: that reads today's roster and plans, which may cover
    the rep by now, and a locked month stays as approved. Skipping the reason for locked
    months made a rep nothing was computed for read as paid 0.00 once the month was
    locked, in the summary and the payroll export (a new user's locked September).
    """
    head, tail = NO_PLAN_NOTE
    for line in st.lines:
        if line.key == "note:no-plan" and line.description.startswith(head):
            return line.description.removeprefix(head).removesuffix(tail)
    return None


def team_table(
    con: duckdb.DuckDBPyConnection, scope: Scope, ledger: Ledger | None = None
) -> pd.DataFrame:
    """One row per rep: payout and attainment for the scope's period (summed over its
    months), filtered by the scope's team/region/rep. Money columns are Decimal.

    adjustments = spiffs + clawbacks + draws + prior_period_adjustments, so
    total = commission + base + adjustments.
    """
    ledger = ledger or Ledger(con, access=scope.access)
    rows: dict[str, dict[str, Any]] = {}
    months = month_periods(scope.period)
    for month in months:
        for rep, st in ledger.payable(month).items():
            if not _in_scope(ledger.info(rep), scope):
                continue
            row = rows.setdefault(
                rep,
                {"rep": rep, "plans": [], "no_plan": [], "quota": None, "locked_months": 0,
                 "uncredited": []}
                | dict.fromkeys(SUMMED, NO_MONEY),
            )  # fmt: skip
            if st.plan_name and st.plan_name not in row["plans"]:
                row["plans"].append(st.plan_name)
            if not st.plan_name:
                reason = locked_no_plan(st) if st.locked else ledger.no_plan_reason(rep, month)
                if reason and reason not in row["no_plan"]:
                    row["no_plan"].append(reason)
            row["credited_bookings"] += st.credited_bookings
            row["uncredited"] += [
                line.description
                for line in st.lines
                if line.kind == "note" and line.description.endswith(NOT_CREDITED)
            ]
            if st.quota is not None:
                row["quota"] = (row["quota"] or NO_MONEY) + st.quota
            row["commission"] += st.commission
            row["base"] += st.base
            row["adjustments"] += st.adjustments
            row["total"] += st.total
            row["spiffs"] += st.spiffs
            row["clawbacks"] += st.clawbacks
            row["draws"] += st.draws
            row["prior_period_adjustments"] += st.prior_adjustments
            row["locked_months"] += int(st.locked)
    out = []
    for rep in sorted(rows):
        row = rows[rep]
        quota = row["quota"]
        uncovered = not row["plans"] and bool(row["no_plan"])
        if uncovered:
            # nothing was computed: no payout figure, never 0.00 (the reason says why)
            for column in ("commission", "base", "total"):
                if not row[column]:
                    row[column] = None
        uncredited = row["uncredited"]
        if uncredited and not row["credited_bookings"]:
            # every won deal of theirs lacks a usable amount: credited bookings are not
            # known, not 0.00 (the statement's notes, summed up here, say which and why)
            row["credited_bookings"] = None
        out.append(
            {
                **{
                    k: v
                    for k, v in row.items()
                    if k not in ("plans", "no_plan", "locked_months", "uncredited")
                },
                "plan": "; ".join(row["plans"]) or ("no plan" if uncovered else None),
                "no_plan_reason": "; ".join(row["no_plan"]) or None,
                "attainment": (row["credited_bookings"] / quota).quantize(
                    Decimal("0.0001"), rounding=ROUND_HALF_UP
                )
                if quota and row["credited_bookings"] is not None
                else None,
                "not_credited": not_credited_text(uncredited),
                "locked": all(ledger.is_locked(m) for m in months),
            }
        )
    frame = pd.DataFrame(out, columns=list(TEAM_COLUMNS))
    reason = reps_at_quota_reason(con, frame)
    frame.attrs["no_data"] = {"reps_at_quota": reason} if reason else {}
    return frame


def not_credited_text(notes: list[str]) -> str | None:
    """'2 won deals not credited: K-1 Acme has no amount; ...' or None.

    Why in the team table: a rep whose won deals lack amounts shows credited bookings
    below what they sold (or none at all); the statement's note lines say why deal by
    deal, and the team table must not hide that behind a smaller number.
    """
    if not notes:
        return None
    head = "1 won deal" if len(notes) == 1 else f"{len(notes):,} won deals"
    shown = "; ".join(n.removesuffix(": " + NOT_CREDITED) for n in notes[:3])
    more = f"; and {len(notes) - 3:,} more" if len(notes) > 3 else ""
    return f"{head} not credited: {shown}{more}"


def reps_at_quota_reason(con: duckdb.DuckDBPyConnection, table: pd.DataFrame) -> str | None:
    """Why "Reps at commission quota" has no figure for `team_table`'s rows, or None.

    Why: with no quota on any row the count is "0 of 0", which reads as a result. It is
    no data: there are no quotas at all (the same words as the KPI figures), or none of
    the reps in view has one the plan pays on this period.
    """
    if table.empty or table["quota"].notna().any():
        return None
    quotas = con.execute("SELECT count(*) FROM (SELECT 1 FROM quotas LIMIT 1)").fetchone()
    if not quotas or not quotas[0]:
        return NO_QUOTAS + " and the plan sets none"
    return "no rep in view has a quota the plan pays on in this period"


@dataclass(frozen=True)
class TeamSummary:
    """The figures above the team table: one definition for the page and any report.

    `total` and `commission` are None when no rep in the table is paid under a plan: the
    payout is not computed, which must not read as 0.00.
    """

    total: Decimal | None
    commission: Decimal | None
    at_quota: int
    with_quota: int
    locked: bool
    uncovered: tuple[tuple[str, str | None], ...]  # (rep, why no plan covers them)
    no_quota: str | None = None  # why reps at quota has no figure (no rep has a quota)

    @property
    def payout_note(self) -> str | None:
        """Why the total payout and commission have no figure (None when they have one):
        a bare dash under "Total payout" read as a broken page, 0.00 as a result."""
        if self.total is not None:
            return None
        n = len(self.uncovered)
        if n:
            who = "the rep in view has" if n == 1 else f"the {n} reps in view have"
            return f"{who} no plan, so no payout is computed (why and how to fix it: below)"
        return "no rep in view is paid under a plan this month"


def team_summary(table: pd.DataFrame) -> TeamSummary:
    """Sum `team_table` rows: payout, commission, reps at quota, lock state, reps without
    a plan. Reps at quota count only reps with a quota (the quotas table's or the plan's)
    and known credited bookings."""
    # a rep whose credited bookings are not known (no won deal creditable) is neither at
    # nor below quota: left out of both sides, as on the Overview's Reps at quota
    with_quota = table[table["quota"].notna() & table["attainment"].notna()]
    paid = table[table["total"].notna()]
    uncovered = table[table["plan"] == "no plan"]
    return TeamSummary(
        total=None if paid.empty else sum(paid["total"], NO_MONEY),
        commission=None if paid.empty else sum(paid["commission"].dropna(), NO_MONEY),
        at_quota=int((with_quota["attainment"] >= 1).sum()),
        with_quota=len(with_quota),
        locked=bool(table["locked"].all()),
        uncovered=tuple(zip(uncovered["rep"], uncovered["no_plan_reason"], strict=True)),
        no_quota=(table.attrs.get("no_data") or {}).get("reps_at_quota"),
    )


def scoped_reps(ledger: Ledger, month: Period, scope: Scope) -> list[str]:
    """Reps with a payable statement in the month, within the scope's team and region.

    The scope's rep is left out of the filter on purpose: a page showing one rep's
    statement picks that rep itself, and still needs the team's list to pick from.
    """
    return [rep for rep in ledger.payable(month) if _in_team_and_region(ledger.info(rep), scope)]


@dataclass(frozen=True)
class MonthTotals:
    """An open month's payable statements: how many, their total and the part of it that
    corrects locked months."""

    statements: int
    total: Decimal
    corrections: Decimal
    no_plan: int = 0  # statements of reps no plan covers: nothing computed, not 0.00

    def describe(self, label: str, money: Callable[[Decimal], str]) -> str:
        """'<month> is open: N statements, total X.' naming the no-plan ones apart: a
        month whose reps all lack a plan has no total (it read "total 0.00")."""
        head = f"{label} is open: {self.statements} statements"
        if self.no_plan and self.no_plan == self.statements:
            return f"{head}, none computed: no plan covers these reps (see above)."
        if self.no_plan:
            head += f" ({self.no_plan} with no plan, nothing computed)"
        text = f"{head}, total {money(self.total)}"
        if self.corrections:
            return f"{text}, including {money(self.corrections)} of corrections of locked months."
        return f"{text}."


def month_totals(ledger: Ledger, month: Period) -> MonthTotals:
    statements = ledger.payable(month).values()
    return MonthTotals(
        no_plan=sum(1 for s in statements if s.no_plan),
        statements=len(statements),
        total=sum((s.total for s in statements), NO_MONEY),
        corrections=sum((s.prior_adjustments for s in statements), NO_MONEY),
    )
