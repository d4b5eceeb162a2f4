"""Statements per rep per month: the `Ledger` puts credits, tiers and adjustments together.

Why a ledger: a month's payable statement depends on earlier months (draw balances,
clawbacks of deals paid earlier, corrections of locked months), so the `Ledger` reads one
database (deals, splits, quotas, plans, SPIFFs, draws, reversals, locks) and builds
statements month by month, memoised per instance. What each line means lives beside it:

- `cents`: rounding to the cent and allocating cents so parts add up to their whole;
- `credits`: which rep is credited with how much of each won deal (splits, currencies);
- `tiers`: quota, tiers, accelerators, threshold/decelerator and cap -> commission lines;
- `spiffs`, `clawbacks`, `corrections`, `draws`: the adjustments (SPIFFs, clawbacks,
  corrections of locked months, draws), one module each;
- `lines`: the `Line` and `Statement` types and the stored runs;
- `team`: the team table (one row per rep over a period) that the page and report show.

The rules are pure functions (a rule, a quota and credited deals in, lines out), tested by
hand and by hypothesis; this module only decides which months, reps and statements to
feed them. Pay periods are calendar months; a longer period (quarter, year) is the sum of
its months. Definitions: docs/metrics.md (Commissions).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any

import duckdb

from analytics.access import EVERYTHING, Access, AccessDenied
from analytics.commissions.cents import NO_MONEY, money
from analytics.commissions.clawbacks import (
    REVERSALS_SQL,
    Reversal,
    clawback_line,
    paid_on_deal,
    reversals_in_month,
)
from analytics.commissions.corrections import correction_lines
from analytics.commissions.credits import (
    CREDITED_SQL,
    CreditedDeal,
    RepInfo,
    credit_deal,
    deal_shares,
)
from analytics.commissions.draws import Draw, draw_lines
from analytics.commissions.lines import Line, Statement, load_run, stored_corrections
from analytics.commissions.plans import WILDCARD, ZERO, PlanVersion, Rule, plan_for_month
from analytics.commissions.schema import ensure_schema
from analytics.commissions.spiffs import Spiff, spiff_lines
from analytics.commissions.tiers import commission_lines, prorated_quota
from analytics.scope import Period
from analytics.settings import load_reporting_currency


def earned_lines(
    rule: Rule,
    quota: Decimal,
    deals: Sequence[CreditedDeal],
    period: str,
    *,
    info: RepInfo | None = None,
    spiffs: Sequence[Spiff] = (),
) -> list[Line]:
    """Base salary, commission (with cap) and SPIFFs for one rep-month: the pure part."""
    lines: list[Line] = []
    if rule.base_salary > 0:
        lines.append(
            Line("base", "base", f"Base salary ({rule.name})", money(rule.base_salary), period)
        )
    lines += commission_lines(rule, quota, deals, period)
    lines += spiff_lines(spiffs, deals, info or RepInfo(deals[0].rep if deals else ""), period)
    return lines


def month_periods(period: Period) -> list[Period]:
    """The calendar months of a period (a month is its own single month)."""
    months = [Period.containing(period.start, "month")]
    while months[-1].end < period.end:
        months.append(months[-1].shifted(1))
    return months


@dataclass
class _Month:
    """Memoised figures of one month inside a Ledger."""

    period: Period
    plan: PlanVersion
    credited: dict[str, list[CreditedDeal]] = field(default_factory=dict)
    notes: dict[str, list[Line]] = field(default_factory=dict)
    quotas: dict[str, list[tuple[Decimal, date, date]]] = field(default_factory=dict)
    spiffs: list[Spiff] = field(default_factory=list)


# The words of a rep-month's no-plan note, around its reason (read back by team.py for a
# locked month, whose reason is the one the lock recorded)
NO_PLAN_NOTE = ("No plan: ", "; nothing is computed")


class Ledger:
    """Statements of every month of one database, computed on demand and memoised.

    Make a new Ledger after changing data (imports, plans, locks): it reads the lock list
    and the rosters once. Not thread-safe; pages make one per script run.

    `access` limits what the ledger hands out, not what it computes: a month's statements
    depend on every rep (splits, corrections), so all are computed, but `payable` lists
    only the reps the access may see and `statement` refuses (AccessDenied) any other.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        reporting_currency: str | None = None,
        *,
        access: Access = EVERYTHING,
    ):
        ensure_schema(con)
        self.con = con
        self.access = access
        self.currency = (reporting_currency or load_reporting_currency(con)).strip().upper()
        self.reps: dict[str, RepInfo] = {
            r[0]: RepInfo(*r)
            for r in con.execute(
                "SELECT rep, role, level, team, region, active, hire_date FROM reps"
            ).fetchall()
        }
        self.locked: dict[date, int] = {
            r[0]: int(r[1])
            for r in con.execute("SELECT period_start, run_id FROM commission_locks").fetchall()
        }
        self.draws: dict[str, list[Draw]] = defaultdict(list)
        for r in con.execute(
            "SELECT rep, start_month, end_month, amount, recoverable FROM draws "
            "ORDER BY rep, start_month"
        ).fetchall():
            self.draws[r[0]].append(Draw(r[0], r[1], r[2], r[3], bool(r[4])))
        self._months: dict[date, _Month] = {}
        self._earned: dict[date, dict[str, Statement]] = {}
        self._own: dict[date, dict[str, Statement]] = {}
        self._frozen: dict[date, dict[str, Statement]] = {}
        self._payable: dict[date, dict[str, Statement]] = {}
        self._reversals: list[Reversal] | None = None
        self._splits: dict[str, list[tuple[str, Decimal]]] | None = None

    # -- inputs ---------------------------------------------------------------------------

    def info(self, rep: str, month: Period | None = None) -> RepInfo:
        """The rep's roster entry; for a locked month, with the role and level it was
        locked with. The roster keeps no history, so a promotion recorded later must not
        re-pay (or correct) a month that was approved under the old level."""
        info = self.reps.get(rep) or RepInfo(rep)
        if month is not None and self.is_locked(month):
            frozen = self.frozen(month).get(rep)
            if frozen is not None:
                return replace(info, role=frozen.role, level=frozen.level)
        return info

    def is_locked(self, month: Period) -> bool:
        return month.start in self.locked

    def visible(self, rep: str) -> bool:
        """Whether the access may see the rep's statement (a manager: their team's reps)."""
        if self.access.rep is not None:
            return rep == self.access.rep
        return self.access.team is None or self.info(rep).team == self.access.team

    def check_visible(self, rep: str) -> None:
        if not self.visible(rep):
            raise AccessDenied(
                f"{self.access.user} ({self.access.describe()}) may not see the statement "
                f"of {rep!r}"
            )

    def splits(self) -> dict[str, list[tuple[str, Decimal]]]:
        if self._splits is None:
            out: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
            for opp, rep, share in self.con.execute(
                "SELECT opportunity_id, rep, share FROM credit_splits ORDER BY opportunity_id, rep"
            ).fetchall():
                out[opp].append((rep, Decimal(share)))
            self._splits = dict(out)
        return self._splits

    def _month(self, month: Period) -> _Month:
        if month.start not in self._months:
            data = _Month(month, plan_for_month(self.con, month.start))
            rows = self.con.execute(
                CREDITED_SQL,
                {
                    "start": month.start,
                    "end": month.end,
                    "reporting_currency": self.currency,
                },
            ).fetchall()
            for row in rows:
                shares = deal_shares(self.splits(), row[0], row[2])
                credits = credit_deal(*row, shares=shares, period=month.label)
                if isinstance(credits, Line):  # not credited: a note on each rep's statement
                    for rep, _ in shares:
                        data.notes.setdefault(rep, []).append(credits)
                    continue
                for deal in credits:
                    data.credited.setdefault(deal.rep, []).append(deal)
            for owner, amount, start, end in self.con.execute(
                "SELECT owner, amount, period_start, period_end FROM quotas "
                "WHERE period_start <= ? AND period_end >= ? AND period_end >= period_start",
                [month.end, month.start],
            ).fetchall():
                data.quotas.setdefault(owner, []).append((Decimal(amount), start, end))
            data.spiffs = [
                Spiff(*r)
                for r in self.con.execute(
                    "SELECT spiff_id, name, start_date, end_date, amount_per_deal, rate, product, "
                    "role, level, min_amount FROM spiffs WHERE start_date <= ? AND end_date >= ? "
                    "ORDER BY spiff_id",
                    [month.end, month.start],
                ).fetchall()
            ]
            self._months[month.start] = data
        return self._months[month.start]

    def plan(self, month: Period) -> PlanVersion:
        """The plan version effective in `month` (read once per month, as every figure is)."""
        return self._month(month).plan

    def credited(self, rep: str, month: Period) -> list[CreditedDeal]:
        return list(self._month(month).credited.get(rep, []))

    def quota(self, rep: str, month: Period, rule: Rule | None) -> tuple[Decimal | None, str]:
        """The `quotas` table's quota (pro-rated by the days inside the month) when the rep
        has one above 0 for the month, else the plan's."""
        total = ZERO
        for amount, start, end in self._month(month).quotas.get(rep, []):
            total += prorated_quota(amount, start, end, month.start, month.end)
        if total > 0:
            return total, "quotas table"
        if rule is not None:
            return money(rule.quota), "plan"
        return None, "none"

    def spiffs(self, month: Period) -> list[Spiff]:
        return list(self._month(month).spiffs)

    def reversals(self) -> list[Reversal]:
        if self._reversals is None:
            self._reversals = [Reversal(*r) for r in self.con.execute(REVERSALS_SQL).fetchall()]
        return self._reversals

    # -- own lines ------------------------------------------------------------------------

    def _included(self, rep: str, month: Period, rule: Rule | None, busy: bool) -> bool:
        """Reps with data this month, plus active reps the plan covers who were hired."""
        if busy:
            return True
        info = self.reps.get(rep)
        if info is None or rule is None or not info.active:
            return False
        return info.hire_date is None or info.hire_date <= month.end

    def header(self, rep: str, month: Period, lines: Sequence[Line], **extra: Any) -> Statement:
        data = self._month(month)
        info = self.info(rep, month)
        rule = data.plan.plan.rule_for(info.role, info.level)
        quota, source = self.quota(rep, month, rule)
        credited = sum((d.credited for d in data.credited.get(rep, [])), NO_MONEY)
        return Statement(
            rep=rep,
            period=month.label,
            period_start=month.start,
            credited_bookings=credited,
            lines=tuple(lines),
            plan_name=f"{data.plan.label()} · {rule.name}" if rule else None,
            plan_version=data.plan.version if rule else None,
            role=info.role,
            level=info.level,
            quota=quota,
            quota_source=source,
            **extra,
        )

    def no_plan_reason(self, rep: str, month: Period) -> str | None:
        """Why no rule of the month's plan covers `rep`, with the fix; None when one does.

        Why: a rep the plan does not cover is paid nothing because nothing is computed,
        not because they earned 0.00; the summary and the CLI must say which and how to
        fix it (a roster without levels is the common case).
        """
        data = self._month(month)
        info = self.info(rep, month)
        plan = data.plan.plan
        if plan.rule_for(info.role, info.level) is not None:
            return None
        name = data.plan.label()
        if not plan.rules:
            return f"{name} has no rule: add one in Settings → Commission plans"
        # first: "add the rep's level to the roster" misleads when the rep is not on it
        # (often a spelling that differs from the roster's: 'ann lee' vs 'Ann Lee')
        if info.rep not in self.reps:
            return (
                "not on the reps roster (no roster row with this exact name), so no role or "
                "level: add the rep to the roster or make the name match the deals' owner "
                f"(Data page), or give {name} a default rate (a rule for role * and level *)"
            )
        needs_level = all(r.level != WILDCARD for r in plan.rules)
        needs_role = all(r.role != WILDCARD for r in plan.rules)
        if needs_level and not (info.level or "").strip():
            return (
                f"no level on the roster, and every rule of {name} is for a level: add the "
                "rep's level to the reps roster and import it again (Data page), or give "
                "the plan a default rate (a rule for level *) in Settings → Commission plans"
            )
        if needs_role and not (info.role or "").strip():
            return (
                f"no role on the roster, and every rule of {name} is for a role: add the "
                "rep's role to the reps roster and import it again (Data page), or give "
                "the plan a default rate (a rule for role *) in Settings → Commission plans"
            )
        return (
            f"no rule of {name} covers role {info.role or '—'} / level {info.level or '—'}: "
            "add a rule for it in Settings → Commission plans"
        )

    def rep_earned_lines(
        self, rep: str, month: Period, deals: Sequence[CreditedDeal] | None = None
    ) -> list[Line]:
        """Base, commission, cap, SPIFF and note lines of one rep-month (deals overridable
        for what-if)."""
        data = self._month(month)
        info = self.info(rep, month)
        rule = data.plan.plan.rule_for(info.role, info.level)
        deals = self.credited(rep, month) if deals is None else list(deals)
        notes = list(data.notes.get(rep, []))
        if rule is None:
            if deals:
                reason = self.no_plan_reason(rep, month) or "no rule covers the rep"
                notes.append(
                    Line("note", "note:no-plan", NO_PLAN_NOTE[0] + reason + NO_PLAN_NOTE[1],
                         ZERO, month.label)
                )  # fmt: skip
            return notes
        quota, _ = self.quota(rep, month, rule)
        lines = earned_lines(rule, quota or rule.quota, deals, month.label, info=info,
                             spiffs=self.spiffs(month))  # fmt: skip
        return lines + notes

    def earned(self, month: Period) -> dict[str, Statement]:
        """Every rep's base, commission and SPIFF lines of the month (no clawbacks)."""
        if month.start not in self._earned:
            data = self._month(month)
            # A locked month's reps stay in its recomputation even if they have left since,
            # so leaving never reads as a correction of the base salary they were paid.
            was_paid = set(self.frozen(month))
            reps = set(self.reps) | set(data.credited) | set(data.notes) | was_paid
            out: dict[str, Statement] = {}
            for rep in sorted(reps):
                info = self.info(rep, month)
                rule = data.plan.plan.rule_for(info.role, info.level)
                busy = rep in data.credited or rep in data.notes or rep in was_paid
                if not self._included(rep, month, rule, busy):
                    continue
                out[rep] = self.header(rep, month, self.rep_earned_lines(rep, month))
            self._earned[month.start] = out
        return self._earned[month.start]

    def clawbacks(self, month: Period) -> dict[str, list[Line]]:
        """Clawback lines of reversals dated in the month, for deals credited in this or an
        earlier month whose rule claws back within the reversal's distance in days."""
        out: dict[str, list[Line]] = defaultdict(list)
        for ev, home, share in reversals_in_month(self.reversals(), month):
            plan = self._month(home).plan.plan
            for rep, paid in self._paid_on_deal(home, ev.opportunity_id):
                info = self.info(rep, home)
                rule = plan.rule_for(info.role, info.level)
                line = clawback_line(ev, share, rule, paid, home, month)
                if line is not None:
                    out[rep].append(line)
        return out

    def _paid_on_deal(self, home: Period, opp: str) -> list[tuple[str, tuple[Decimal, str]]]:
        """(rep, (amount paid on the deal, which lines)) for the deal's home month: what each
        rep is paid on it in all, the home month's lines as computed now.

        Why not the frozen statement of a locked month: its lines are only what the lock
        paid. Every later change to them is paid as a correction (corrections.py), so the
        frozen lines plus their corrections, paid or due, are exactly the lines computed
        now. A helper saw a refund take back 700 on a deal a -200 correction had already
        lowered to 500, and a deal added after the lock (paid only by its correction)
        taken back not at all.
        """
        earned = self.earned(home)  # a locked month's reps stay in it (see `earned`)
        out = []
        for rep in sorted(earned):
            paid = paid_on_deal(earned[rep], opp)
            if paid is not None:
                out.append((rep, paid))
        return out

    def own(self, month: Period) -> dict[str, Statement]:
        """The month's own lines: earned lines plus clawbacks dated in the month."""
        if month.start not in self._own:
            out = dict(self.earned(month))
            for rep, lines in self.clawbacks(month).items():
                if rep in out:
                    out[rep] = replace(out[rep], lines=(*out[rep].lines, *lines))
                else:
                    out[rep] = self.header(rep, month, lines)
            self._own[month.start] = out
        return self._own[month.start]

    # -- locked months ------------------------------------------------------------------------

    def frozen(self, month: Period) -> dict[str, Statement]:
        """The statements stored when the month was locked ({} when it is not locked)."""
        if month.start not in self._frozen:
            run = self.locked.get(month.start)
            self._frozen[month.start] = {} if run is None else load_run(self.con, run, locked=True)
        return self._frozen[month.start]

    def corrections(self, home: Period) -> dict[str, list[Line]]:
        """Adjustment lines paying the difference between a locked month as computed now and
        as it was paid (frozen lines plus corrections already paid), line by line."""
        now = self.own(home)
        paid = self.frozen(home)
        before = stored_corrections(self.con, home.label)
        out: dict[str, list[Line]] = defaultdict(list)
        for rep in sorted(set(now) | set(paid) | {r for r, _ in before}):
            lines = correction_lines(
                now[rep].lines if rep in now else (),
                paid[rep].lines if rep in paid else (),
                {key: amount for (r, key), amount in before.items() if r == rep},
                home.label,
            )
            if lines:
                out[rep].extend(lines)
        return out

    def adjustments(self, month: Period) -> dict[str, list[Line]]:
        """Corrections paid in an open month: those of the locked months right before it
        (the month is their next open month)."""
        out: dict[str, list[Line]] = defaultdict(list)
        if self.is_locked(month):
            return out
        home = month.previous()
        homes = []
        while self.is_locked(home):
            homes.append(home)
            home = home.previous()
        for home in reversed(homes):
            for rep, lines in self.corrections(home).items():
                out[rep].extend(lines)
        return out

    # -- draws and the payable statement --------------------------------------------------------

    def draw_balance(self, rep: str, month: Period) -> Decimal:
        """Recoverable draw still owed by the rep at the start of `month`."""
        draws = self.draws.get(rep)
        if not draws:
            return ZERO
        first = min(d.start_month for d in draws)
        current = Period.containing(first, "month")
        balance = ZERO
        while current.start < month.start:
            st = self._all_payable(current).get(rep)
            if st is not None:
                balance += sum(
                    (x.amount for x in st.lines
                     if x.kind == "draw" and x.key in ("draw:advance", "draw:recovery")),
                    ZERO,
                )  # fmt: skip
            current = current.shifted(1)
        return balance

    def draw_lines(self, rep: str, month: Period, variable: Decimal) -> list[Line]:
        """The rep's draw lines for the month (see `draws.draw_lines`)."""
        draws = self.draws.get(rep, [])
        recoverable_history = any(d.recoverable for d in draws)
        balance = self.draw_balance(rep, month) if recoverable_history else ZERO
        return draw_lines(draws, month, variable, balance)

    def payable(self, month: Period) -> dict[str, Statement]:
        """Every visible rep's statement for the month: frozen if locked, else own lines
        plus corrections of locked months plus draw lines."""
        out = self._all_payable(month)
        if self.access.sees_everything:
            return out
        return {rep: st for rep, st in out.items() if self.visible(rep)}

    def _all_payable(self, month: Period) -> dict[str, Statement]:
        if month.start in self._payable:
            return self._payable[month.start]
        if self.is_locked(month):
            out = self.frozen(month)
        else:
            out = dict(self.own(month))
            for rep, lines in self.adjustments(month).items():
                base = out.get(rep) or self.header(rep, month, ())
                out[rep] = replace(base, lines=(*base.lines, *lines))
            for rep in self.draws:
                if rep not in out and self._draw_only(rep, month):
                    out[rep] = self.header(rep, month, ())
            for rep, st in list(out.items()):
                if rep in self.draws:
                    extra = self.draw_lines(rep, month, st.variable)
                    if extra:
                        out[rep] = replace(st, lines=(*st.lines, *extra))
            out = dict(sorted(out.items()))
        self._payable[month.start] = out
        return out

    def _draw_only(self, rep: str, month: Period) -> bool:
        """Whether a rep with no lines of the month gets a statement for a draw alone.

        Why: a draw row without an end month ran on after its rep left, and a rep marked
        inactive on the roster kept getting advances every month (stop 29's new user). The
        roster keeps no history, so, as for base salary (`_included`), inactive means no
        pay for a month the rep has no data in; a month with their deals still pays it.
        """
        info = self.reps.get(rep)
        if info is not None and not info.active:
            return False
        return any(d.active_in(month.start) for d in self.draws[rep])

    def statement(self, rep: str, month: Period) -> Statement | None:
        """The rep's statement for the month (None: no plan and no deal); AccessDenied
        when the rep is outside the ledger's access."""
        self.check_visible(rep)
        return self._all_payable(month).get(rep)
