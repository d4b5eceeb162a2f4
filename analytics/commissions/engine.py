"""Statement lines per rep per month: deal -> credit share -> tier band -> rate -> amount.

Why lines and not a number: disputes come from payouts nobody can trace. Every cent of a
statement is a line that names where it came from (a deal's part in a band, the base
salary, a SPIFF on a deal, a clawback of a deal, a correction of a locked month, a draw),
and the total is only ever the sum of the lines, so the page, the exports and the report
cannot disagree.

Two layers:

- a pure core (`commission_lines`, `allocate`, `split_credit`, `bands_for`): a rule, a
  quota and credited deals in, lines out. No database, so each mechanic is tested by hand
  and by hypothesis;
- `Ledger`: reads one database (deals, splits, quotas, plans, SPIFFs, draws, reversals,
  locks) and builds statements month by month, memoised per instance, because a month's
  payable statement depends on earlier months (draw balances, clawbacks of deals paid
  earlier, corrections of locked months).

Pay periods are calendar months; a longer period (quarter, year) is the sum of its months.
Definitions: docs/metrics.md (Commissions).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

import duckdb
import pandas as pd

from analytics.access import EVERYTHING, Access, AccessDenied
from analytics.commissions.plans import ONE, WILDCARD, ZERO, PlanVersion, Rule, plan_for_month
from analytics.commissions.schema import ensure_schema
from analytics.metrics.availability import NO_QUOTAS
from analytics.scope import Period, Scope
from analytics.settings import load_reporting_currency

CENT = Decimal("0.01")
NO_MONEY = Decimal("0.00")  # an empty sum, shown as 0.00 like every other amount
# Line kinds. "Own" lines come from the month's own data; an adjustment is a locked
# month's correction paid later; a draw line depends on everything else of the month.
OWN_KINDS: tuple[str, ...] = ("base", "commission", "cap", "spiff", "clawback", "note")
LINE_KINDS: tuple[str, ...] = (*OWN_KINDS, "adjustment", "draw")
BELOW_THRESHOLD = "below"
EXTRA_BOOKINGS_ID = "what-if: extra bookings"


def money(value: Decimal) -> Decimal:
    """Round to the cent, halves away from zero (the payroll convention)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def pct(value: Decimal) -> str:
    """0.125 -> '12.5%', 1 -> '100%'."""
    text = f"{(value * 100).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return f"{text}%"


def fmt_money(value: Decimal | None) -> str:
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


@dataclass(frozen=True)
class CreditedDeal:
    """A rep's credit on one won deal: amounts in the reporting currency."""

    opportunity_id: str
    rep: str
    close_date: date
    deal_amount: Decimal
    share: Decimal
    credited: Decimal
    name: str | None = None
    product: str | None = None
    what_if: bool = False

    def title(self) -> str:
        if self.name and self.name != self.opportunity_id:
            return f"{self.opportunity_id} {self.name}"
        return self.opportunity_id


def split_credit(
    opportunity_id: str,
    amount: Decimal,
    shares: Sequence[tuple[str, Decimal]],
    *,
    close_date: date,
    name: str | None = None,
    product: str | None = None,
    what_if: bool = False,
) -> list[CreditedDeal]:
    """Each rep's credit on a deal; the credits add up to the deal to the cent.

    Shares are normalised by their sum (a stored 1/3 is 0.333333333333), then amounts
    are allocated with `allocate`, so three equal splits of 100.00 give 33.34, 33.33, 33.33.
    """
    positive = [(rep, s) for rep, s in shares if s > 0]
    total_share = sum((s for _, s in positive), ZERO)
    if not positive or total_share <= 0:
        return []
    amount = money(amount)
    credits = allocate([amount * s / total_share for _, s in positive], amount)
    return [
        CreditedDeal(
            opportunity_id=opportunity_id,
            rep=rep,
            close_date=close_date,
            deal_amount=amount,
            share=s / total_share,
            credited=credit,
            name=name,
            product=product,
            what_if=what_if,
        )
        for (rep, s), credit in zip(positive, credits, strict=True)
    ]


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
class Band:
    """A stretch of credited bookings [start, end) paid at tier_rate x multiplier."""

    key: str  # stable across runs: the attainment floor ("0", "1", "1.5") or "below"
    label: str
    start: Decimal  # money
    end: Decimal | None  # None: no upper end
    tier_rate: Decimal
    multiplier: Decimal = ONE

    @property
    def rate(self) -> Decimal:
        return self.tier_rate * self.multiplier


def _floors(rule: Rule) -> list[Decimal]:
    points = {t.from_attainment for t in rule.schedule()}
    points |= {a.from_attainment for a in rule.accelerators}
    return sorted(points)


def prorated_quota(
    amount: Decimal, start: date, end: date, month_start: date, month_end: date
) -> Decimal:
    """The part of a quota for start..end that falls in one month, in cents, by days.

    Rounded as the difference of the rounded running totals (days up to the month's end
    minus days before it), so the months of a quarter add up to the quarter's quota to
    the cent: 10,000 over 2024-Q2 is 3,296.70 + 3,406.60 + 3,296.70, not 9,999.99.
    """
    first, last = max(start, month_start), min(end, month_end)
    if last < first:
        return ZERO
    days = Decimal((end - start).days + 1)
    before = Decimal((first - start).days)
    through = Decimal((last - start).days + 1)
    return money(amount * through / days) - money(amount * before / days)


def schedule_bands(rule: Rule, quota: Decimal, reached_total: Decimal | None = None) -> list[Band]:
    """The plan's bands in money for this quota (tiers and accelerator steps merged).

    Marginal tiers: each band at its own tier's rate. Retroactive tiers: every band at
    the rate of the tier that `reached_total` reached. The accelerator in force at a
    band's start multiplies its rate (accelerators are always marginal: only bookings
    beyond the step are accelerated).
    """
    tiers = rule.schedule()
    floors = _floors(rule)
    reached_rate: Decimal | None = None
    if rule.tier_mode == "retroactive" and reached_total is not None:
        reached = [t for t in tiers if reached_total >= t.from_attainment * quota]
        reached_rate = (reached[-1] if reached else tiers[0]).rate
    bands: list[Band] = []
    for i, floor in enumerate(floors):
        upper = floors[i + 1] if i + 1 < len(floors) else None
        tier = [t for t in tiers if t.from_attainment <= floor][-1]
        accel = [a for a in rule.accelerators if a.from_attainment <= floor]
        if upper is None and floor == 0:
            label = "all credited bookings"
        elif upper is None:
            label = f"{pct(floor)}+ of quota"
        else:
            label = f"{pct(floor)}–{pct(upper)} of quota"
        bands.append(
            Band(
                key=_key_number(floor),
                label=label,
                start=floor * quota,
                end=None if upper is None else upper * quota,
                tier_rate=reached_rate if reached_rate is not None else tier.rate,
                multiplier=accel[-1].multiplier if accel else ONE,
            )
        )
    return bands


def _key_number(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return text


def threshold_reached(rule: Rule, quota: Decimal, total: Decimal) -> bool:
    """Compared in money (total >= threshold x quota): no rounded attainment decides a payout."""
    return rule.threshold <= 0 or total >= rule.threshold * quota


def bands_for(rule: Rule, quota: Decimal, total: Decimal) -> list[Band]:
    """The bands that pay this month: the schedule, or one below-threshold band."""
    if not threshold_reached(rule, quota, total):
        return [
            Band(
                key=BELOW_THRESHOLD,
                label=f"below the {pct(rule.threshold)} threshold",
                start=ZERO,
                end=None,
                tier_rate=rule.threshold_rate,
            )
        ]
    return schedule_bands(rule, quota, total)


def order_deals(deals: Iterable[CreditedDeal]) -> list[CreditedDeal]:
    """Bands fill in close-date order (what-if deals last), so each deal's band is stable."""
    return sorted(deals, key=lambda d: (d.what_if, d.close_date, d.opportunity_id))


def commission_lines(
    rule: Rule, quota: Decimal, deals: Sequence[CreditedDeal], period: str
) -> list[Line]:
    """Commission lines (one per deal part in a band) and the cap line, for one rep-month.

    The month's exact commission (sum of part x rate) is rounded once to the cent and
    spread over the lines with `allocate`, so the lines add up to the rounded exact total:
    selling more can never lower the payout through rounding.
    """
    eligible = order_deals(d for d in deals if d.credited > 0)
    if not eligible:
        return []
    total = sum((d.credited for d in eligible), ZERO)
    bands = bands_for(rule, quota, total)
    parts: list[tuple[CreditedDeal, Band, Decimal]] = []
    position = ZERO
    for deal in eligible:
        left, right = position, position + deal.credited
        for band in bands:
            lo = max(left, band.start)
            hi = right if band.end is None else min(right, band.end)
            if hi > lo:
                parts.append((deal, band, hi - lo))
        position = right
    exact = [part * band.rate for _, band, part in parts]
    amounts = allocate(exact, money(sum(exact, ZERO)))
    lines = [
        Line(
            kind="commission",
            key=f"commission:{deal.opportunity_id}:{band.key}",
            description=_commission_text(deal, band, part, rule),
            amount=amount,
            home_period=period,
            opportunity_id=deal.opportunity_id,
            deal_amount=deal.deal_amount,
            share=deal.share,
            credited=part,
            band=band.label,
            rate=band.tier_rate,
            multiplier=band.multiplier,
        )
        for (deal, band, part), amount in zip(parts, amounts, strict=True)
    ]
    earned = sum((line.amount for line in lines), ZERO)
    if rule.cap is not None and earned > money(rule.cap):
        cap = money(rule.cap)
        lines.append(
            Line(
                kind="cap",
                key="cap",
                description=f"Cap: commission limited to {fmt_money(cap)} "
                f"({fmt_money(earned)} before the cap)",
                amount=cap - earned,
                home_period=period,
            )
        )
    return lines


def _commission_text(deal: CreditedDeal, band: Band, part: Decimal, rule: Rule) -> str:
    share = "" if deal.share == 1 else f"{pct(deal.share)} of {fmt_money(deal.deal_amount)} = "
    what = "What-if " if deal.what_if else ""
    rate = pct(band.tier_rate)
    if band.multiplier != 1:
        rate = f"{rate} x{band.multiplier.normalize():f} accelerator"
    if band.key == BELOW_THRESHOLD:
        where = f" {band.label}"
    elif band.start == 0 and band.end is None:
        where = ""
    elif rule.tier_mode == "retroactive" and rule.tiers:
        where = f" band {band.label} (retroactive: the reached tier's rate)"
    else:
        where = f" band {band.label}"
    credited = f"{share}{fmt_money(deal.credited)} credited"
    part_text = "" if part == deal.credited else f"; {fmt_money(part)} of it"
    where = f" in{where}" if where else ""
    return f"{what}{deal.title()}: {credited}{part_text}{where} at {rate}"


# -- statements ------------------------------------------------------------------------------


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
    def attainment(self) -> Decimal | None:
        if not self.quota:
            return None
        return (self.credited_bookings / self.quota).quantize(Decimal("0.0001"))

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


@dataclass(frozen=True)
class RepInfo:
    rep: str
    role: str | None = None
    level: str | None = None
    team: str | None = None
    region: str | None = None
    active: bool = True
    hire_date: date | None = None


@dataclass(frozen=True)
class Draw:
    rep: str
    start_month: date
    end_month: date | None
    amount: Decimal
    recoverable: bool

    def active_in(self, month_start: date) -> bool:
        return self.start_month <= month_start and (
            self.end_month is None or self.end_month >= month_start
        )


@dataclass(frozen=True)
class Spiff:
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


# -- database ---------------------------------------------------------------------------------

# Deals won in the month. A deal that is no longer won but that a snapshot showed won is
# still credited where it was won (from its latest won snapshot): reversing it is a
# clawback in a later month, never a silent rewrite of the month it was paid in.
CREDITED_SQL = """
WITH won_now AS (
    SELECT opportunity_id, opportunity_name, owner, product, amount, currency, close_date
    FROM opportunities
    WHERE is_won AND close_date BETWEEN $start AND $end
),
won_before AS (
    SELECT s.opportunity_id, s.opportunity_name, s.owner, s.product, s.amount, s.currency,
           s.close_date
    FROM opportunity_snapshots AS s
    JOIN opportunities AS o ON o.opportunity_id = s.opportunity_id AND NOT o.is_won
    WHERE s.is_won
    QUALIFY row_number() OVER (PARTITION BY s.opportunity_id ORDER BY s.snapshot_date DESC) = 1
),
deals AS (
    SELECT * FROM won_now
    UNION ALL
    SELECT * FROM won_before WHERE close_date BETWEEN $start AND $end
),
keyed AS (
    SELECT *, nullif(upper(trim(currency)), '') AS currency_key FROM deals
)
SELECT k.opportunity_id, k.opportunity_name, k.owner, k.product, k.amount, k.currency_key,
       k.close_date,
       CASE WHEN k.currency_key IS NULL OR k.currency_key = $reporting_currency
            THEN CAST(1 AS DECIMAL(18, 8)) ELSE fx.rate END AS rate
FROM keyed AS k
ASOF LEFT JOIN fx_rates AS fx
    ON fx.currency = k.currency_key AND k.close_date >= fx.rate_date
ORDER BY k.close_date, k.opportunity_id
"""

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
    event_id: str
    opportunity_id: str
    event_date: date
    kind: str
    share: Decimal
    note: str | None
    close_date: date


@dataclass
class _Month:
    """Memoised figures of one month inside a Ledger."""

    period: Period
    plan: PlanVersion
    credited: dict[str, list[CreditedDeal]] = field(default_factory=dict)
    notes: dict[str, list[Line]] = field(default_factory=dict)
    quotas: dict[str, list[tuple[Decimal, date, date]]] = field(default_factory=dict)
    spiffs: list[Spiff] = field(default_factory=list)


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
            for opp, name, owner, product, amount, currency, close, rate in rows:
                for deal in self._credit(opp, name, owner, product, amount, currency, close, rate,
                                         data, month.label):  # fmt: skip
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

    def _credit(
        self,
        opp: str,
        name: str | None,
        owner: str | None,
        product: str | None,
        amount: Decimal | None,
        currency: str | None,
        close: date,
        rate: Decimal | None,
        data: _Month,
        period: str,
        *,
        what_if: bool = False,
    ) -> list[CreditedDeal]:
        shares = self.splits().get(opp) or ([(owner, ONE)] if owner else [])
        title = f"{opp} {name}" if name and name != opp else opp
        problem = None
        if amount is None:
            problem = "has no amount"
        elif amount <= 0:
            problem = f"amount {fmt_money(amount)} is not positive"
        elif rate is None:
            problem = f"is in {currency} with no exchange rate on {close.isoformat()}"
        if problem:
            for rep, _ in shares:
                data.notes.setdefault(rep, []).append(
                    Line(
                        "note",
                        f"note:{opp}",
                        f"{title} {problem}: not credited",
                        ZERO,
                        period,
                        opportunity_id=opp,
                    )  # fmt: skip
                )
            return []
        converted = money(Decimal(amount) * Decimal(rate))
        return split_credit(opp, converted, shares, close_date=close, name=name,
                            product=product, what_if=what_if)  # fmt: skip

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
        if info.rep not in self.reps:
            return (
                "not on the reps roster, so no role or level: add the rep to the roster "
                f"(Data page), or give {name} a default rate (a rule for role * and level *)"
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
                notes.append(
                    Line("note", "note:no-plan",
                         f"No rule of {data.plan.label()} covers role {info.role or '—'} / "
                         f"level {info.level or '—'}: nothing is computed", ZERO, month.label)
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

    def paid_statement(self, month: Period, rep: str) -> Statement | None:
        """What a rep was (or will be) paid for a month's own data: frozen if locked."""
        if self.is_locked(month):
            return self.frozen(month).get(rep)
        return self.earned(month).get(rep)

    def clawbacks(self, month: Period) -> dict[str, list[Line]]:
        """Clawback lines of reversals dated in the month, for deals credited in this or an
        earlier month whose rule claws back within the reversal's distance in days."""
        out: dict[str, list[Line]] = defaultdict(list)
        taken: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for ev in self.reversals():
            if ev.close_date is None or ev.event_date is None:
                continue
            home = Period.containing(ev.close_date, "month")
            when = max(Period.containing(ev.event_date, "month").start, home.start)
            remaining = ONE - taken[ev.opportunity_id]
            share = min(Decimal(ev.share), remaining)
            if when > month.start or share <= 0:
                continue
            taken[ev.opportunity_id] += share
            if when != month.start:
                continue
            days = (ev.event_date - ev.close_date).days
            plan = self._month(home).plan.plan
            for rep, paid, deal_lines in self._paid_on_deal(home, ev.opportunity_id):
                info = self.info(rep, home)
                rule = plan.rule_for(info.role, info.level)
                if rule is None or rule.clawback_days is None or days > rule.clawback_days:
                    continue
                amount = -money(paid * share)
                if amount == 0:
                    continue
                part = "" if share == 1 else f"{pct(share)} of "
                out[rep].append(
                    Line(
                        kind="clawback",
                        key=f"clawback:{ev.event_id}",
                        description=f"Clawback: {ev.opportunity_id} {ev.kind} on "
                        f"{ev.event_date.isoformat()}, {days} days after its close "
                        f"(within {rule.clawback_days}): {part}{fmt_money(paid)} paid in "
                        f"{home.label} ({deal_lines}) taken back",
                        amount=amount,
                        home_period=month.label,
                        opportunity_id=ev.opportunity_id,
                        share=share,
                    )
                )
        return out

    def _paid_on_deal(self, home: Period, opp: str) -> list[tuple[str, Decimal, str]]:
        """(rep, amount paid on the deal, which lines) in its home month: commission lines
        scaled by the rep's cap factor, plus SPIFF lines on the deal."""
        reps = set(self.earned(home))
        if self.is_locked(home):
            reps |= set(self.frozen(home))
        out = []
        for rep in sorted(reps):
            st = self.paid_statement(home, rep)
            if st is None:
                continue
            commission = sum(
                (x.amount for x in st.lines if x.kind == "commission" and x.opportunity_id == opp),
                ZERO,
            )
            spiff = sum(
                (x.amount for x in st.lines if x.kind == "spiff" and x.opportunity_id == opp),
                ZERO,
            )
            before_cap = st.sum_of("commission")
            if commission and before_cap:
                commission = commission * st.commission / before_cap
            if commission == 0 and spiff == 0:
                continue
            parts = [f"commission {fmt_money(money(commission))}"] if commission else []
            parts += [f"SPIFF {fmt_money(spiff)}"] if spiff else []
            out.append((rep, commission + spiff, ", ".join(parts)))
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

    def _adjusted_before(self, home: Period) -> dict[tuple[str, str], Decimal]:
        """Corrections of `home` already frozen in later locked months: (rep, key) -> sum."""
        rows = self.con.execute(
            """
            SELECT l.rep, l.line_key, sum(l.amount)
            FROM commission_statement_lines AS l
            JOIN commission_locks AS k ON k.run_id = l.run_id
            WHERE l.kind = 'adjustment' AND l.home_period = ?
            GROUP BY ALL
            """,
            [home.label],
        ).fetchall()
        return {(r[0], r[1]): Decimal(r[2]) for r in rows}

    def corrections(self, home: Period) -> dict[str, list[Line]]:
        """Adjustment lines paying the difference between a locked month as computed now and
        as it was paid (frozen lines plus corrections already paid), line by line."""
        now = self.own(home)
        paid = self.frozen(home)
        before = self._adjusted_before(home)
        out: dict[str, list[Line]] = defaultdict(list)
        for rep in sorted(set(now) | set(paid) | {r for r, _ in before}):
            current = _by_key(now[rep].lines if rep in now else (), home.label)
            frozen = _by_key(paid[rep].lines if rep in paid else (), home.label)
            for key in sorted(set(current) | set(frozen) | {k for r, k in before if r == rep}):
                amount_now = current[key].amount if key in current else ZERO
                amount_paid = (frozen[key].amount if key in frozen else ZERO) + before.get(
                    (rep, key), ZERO
                )
                diff = amount_now - amount_paid
                if diff == 0:
                    continue
                ref = current.get(key) or frozen.get(key)
                text = ref.description if ref else key
                out[rep].append(
                    Line(
                        kind="adjustment",
                        key=key,
                        description=f"Adjustment for locked {home.label}: {text} "
                        f"(paid {fmt_money(amount_paid)}, now {fmt_money(amount_now)})",
                        amount=diff,
                        home_period=home.label,
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
        """Top up to the month's draw, or recover an outstanding recoverable draw.

        Non-recoverable: pay the difference between the draw and the variable pay, for
        good. Recoverable: the same top-up is an advance; months whose variable pay exceeds
        the draw (or any month after the draw ended) pay it back, never below the draw.
        """
        active = [d for d in self.draws.get(rep, []) if d.active_in(month.start)]
        draw = active[-1] if active else None
        lines: list[Line] = []
        recoverable_history = any(d.recoverable for d in self.draws.get(rep, []))
        balance = self.draw_balance(rep, month) if recoverable_history else ZERO
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
                if rep not in out and any(d.active_in(month.start) for d in self.draws[rep]):
                    out[rep] = self.header(rep, month, ())
            for rep, st in list(out.items()):
                if rep in self.draws:
                    extra = self.draw_lines(rep, month, st.variable)
                    if extra:
                        out[rep] = replace(st, lines=(*st.lines, *extra))
            out = dict(sorted(out.items()))
        self._payable[month.start] = out
        return out

    def statement(self, rep: str, month: Period) -> Statement | None:
        """The rep's statement for the month (None: no plan and no deal); AccessDenied
        when the rep is outside the ledger's access."""
        self.check_visible(rep)
        return self._all_payable(month).get(rep)


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


# -- stored runs ------------------------------------------------------------------------------


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


# -- team table ---------------------------------------------------------------------------------

TEAM_COLUMNS: tuple[str, ...] = (
    "rep", "plan", "credited_bookings", "quota", "attainment", "commission", "base",
    "adjustments", "total", "spiffs", "clawbacks", "draws", "prior_period_adjustments",
    "locked", "no_plan_reason",
)  # fmt: skip


SUMMED: tuple[str, ...] = (
    "credited_bookings", "commission", "base", "adjustments", "total", "spiffs", "clawbacks",
    "draws", "prior_period_adjustments",
)  # fmt: skip


def _in_scope(info: RepInfo, scope: Scope) -> bool:
    return (
        (scope.team is None or info.team == scope.team)
        and (scope.region is None or info.region == scope.region)
        and (scope.rep is None or info.rep == scope.rep)
    )


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
                {"rep": rep, "plans": [], "no_plan": [], "quota": None, "locked_months": 0}
                | dict.fromkeys(SUMMED, NO_MONEY),
            )  # fmt: skip
            if st.plan_name and st.plan_name not in row["plans"]:
                row["plans"].append(st.plan_name)
            if not st.plan_name and not st.locked:
                reason = ledger.no_plan_reason(rep, month)
                if reason and reason not in row["no_plan"]:
                    row["no_plan"].append(reason)
            row["credited_bookings"] += st.credited_bookings
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
        out.append(
            {
                **{k: v for k, v in row.items() if k not in ("plans", "no_plan", "locked_months")},
                "plan": "; ".join(row["plans"]) or ("no plan" if uncovered else None),
                "no_plan_reason": "; ".join(row["no_plan"]) or None,
                "attainment": (row["credited_bookings"] / quota).quantize(Decimal("0.0001"))
                if quota
                else None,
                "locked": all(ledger.is_locked(m) for m in months),
            }
        )
    frame = pd.DataFrame(out, columns=list(TEAM_COLUMNS))
    reason = reps_at_quota_reason(con, frame)
    frame.attrs["no_data"] = {"reps_at_quota": reason} if reason else {}
    return frame


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
