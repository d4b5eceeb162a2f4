"""Commission plans as data: versioned, effective-dated, validated before they are saved.

Why data and not code: plans differ by company, role and year, ops change them without a
deploy, and a dispute about March must be settled with the plan that held in March. So a
plan is a JSON document stored as an append-only *version* in `commission_plans` with an
`effective_from` month; the version effective for a month is the latest one starting on
or before it. Saving never rewrites an old version, and a version may not start in (or
before) a locked month, because that would re-pay an approved period.

A plan is a list of rules, one per role and level (``*`` matches any). A rule says:

- ``base_salary``: paid every month;
- ``quota``: the monthly quota used when the `quotas` table has none for the rep;
- ``rate``: the flat commission rate (0.10 = 10%), or ``tiers`` (bands of attainment,
  each with a rate) paid ``marginally`` (each band at its own rate) or ``retroactively``
  (the reached band's rate on every credited booking);
- ``accelerators``: above an attainment >= 100%, the rate is multiplied (x1.5 ...) on
  the bookings beyond that point;
- ``threshold`` / ``threshold_rate``: below this attainment the whole month's bookings
  earn ``threshold_rate`` instead of the schedule (0 = nothing is paid: a threshold; a
  smaller rate: a decelerator);
- ``cap``: the most commission a month can earn (SPIFFs and base are outside the cap);
- ``clawback_days``: a paid deal lost, refunded or churned within this many days of its
  close is clawed back as a negative line in the month of the event (None = never).

Money and rates are `Decimal` (JSON keeps them as strings) so a payout is exact to the cent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import duckdb

from analytics import audit
from analytics.access import EVERYTHING, Access, require
from analytics.commissions.schema import ensure_schema
from analytics.db import transaction

TierMode = Literal["marginal", "retroactive"]
TIER_MODES: tuple[str, ...] = ("marginal", "retroactive")
WILDCARD = "*"
ONE = Decimal(1)
ZERO = Decimal(0)
# Before any version is saved, the built-in default plan holds from the beginning of time.
DEFAULT_EFFECTIVE_FROM = date(1900, 1, 1)


def effective_from_text(day: date) -> str:
    """A version's first month as a person reads it: the built-in default's sentinel date
    (1900-01-01, "in force for every month") reads "from the start", never 1900-01-01."""
    return "from the start" if day <= DEFAULT_EFFECTIVE_FROM else day.isoformat()


def to_decimal(value: Any, what: str = "value") -> Decimal:
    """A Decimal from JSON text or a number; floats go through str() so 0.1 stays 0.1."""
    if isinstance(value, Decimal):
        out = value
    elif isinstance(value, bool) or value is None:
        raise ValueError(f"{what}: {value!r} is not a number")
    elif isinstance(value, int | float):
        out = Decimal(str(value))
    else:
        text = str(value).strip().replace(",", "").replace("_", "")
        if text.endswith("%"):
            try:
                return Decimal(text[:-1]) / 100
            except InvalidOperation:
                raise ValueError(f"{what}: {value!r} is not a number") from None
        try:
            out = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{what}: {value!r} is not a number") from None
    if not out.is_finite():
        raise ValueError(f"{what}: {value!r} is not a finite number")
    return out


@dataclass(frozen=True)
class Tier:
    """A band of attainment from `from_attainment` (1 = 100% of quota) paid at `rate`."""

    from_attainment: Decimal
    rate: Decimal


@dataclass(frozen=True)
class Accelerator:
    """Bookings beyond `from_attainment` (>= 1) earn their rate times `multiplier`."""

    from_attainment: Decimal
    multiplier: Decimal


@dataclass(frozen=True)
class Rule:
    """What one role and level earns (see the module docstring for each field)."""

    name: str
    quota: Decimal
    role: str = WILDCARD
    level: str = WILDCARD
    base_salary: Decimal = ZERO
    rate: Decimal = ZERO
    tiers: tuple[Tier, ...] = ()
    tier_mode: TierMode = "marginal"
    threshold: Decimal = ZERO
    threshold_rate: Decimal = ZERO
    accelerators: tuple[Accelerator, ...] = ()
    cap: Decimal | None = None
    clawback_days: int | None = None

    def schedule(self) -> tuple[Tier, ...]:
        """The tiers, or the flat rate as a single band from 0."""
        return self.tiers if self.tiers else (Tier(ZERO, self.rate),)

    def matches(self, role: str | None, level: str | None) -> bool:
        return _field_matches(self.role, role) and _field_matches(self.level, level)

    def specificity(self) -> int:
        """Exact role and level beat an exact role, which beats an exact level, then `*`."""
        return (2 if self.role != WILDCARD else 0) + (1 if self.level != WILDCARD else 0)


def _norm(text: str | None) -> str:
    return (text or "").strip().casefold()


def _field_matches(pattern: str, value: str | None) -> bool:
    return pattern == WILDCARD or _norm(pattern) == _norm(value)


@dataclass(frozen=True)
class Plan:
    """A named set of rules; `rule_for` picks the one that applies to a role and level."""

    name: str
    rules: tuple[Rule, ...]
    note: str = ""

    def rule_for(self, role: str | None, level: str | None) -> Rule | None:
        """The most specific matching rule; None when the plan does not cover the rep."""
        matching = [r for r in self.rules if r.matches(role, level)]
        if not matching:
            return None
        return max(matching, key=lambda r: r.specificity())


@dataclass(frozen=True)
class PlanVersion:
    """A plan as saved: version 0 is the built-in default, never stored."""

    version: int
    effective_from: date
    plan: Plan
    saved_at: datetime | None = None
    saved_by: str | None = None
    note: str = ""

    def label(self) -> str:
        return f"{self.plan.name} v{self.version}"


# Domain brief: "a junior rep with a $10,000 monthly sales target earns 10% commission on
# reaching it; a senior rep with a $25,000 target earns a 10% bonus on reaching it."
# Read as: a threshold at 100% attainment (nothing below it), then 10% of *all* credited
# bookings of the month (not only the part above quota). No base salary is given, so 0.
DEFAULT_PLAN = Plan(
    name="Default plan",
    rules=(
        Rule(
            name="Junior",
            level="junior",
            quota=Decimal("10000"),
            rate=Decimal("0.10"),
            threshold=ONE,
        ),
        Rule(
            name="Senior",
            level="senior",
            quota=Decimal("25000"),
            rate=Decimal("0.10"),
            threshold=ONE,
        ),
    ),
    note="Domain brief: junior 10,000 / senior 25,000 monthly quota; reaching it pays 10% "
    "of all credited bookings of the month.",
)
DEFAULT_VERSION = PlanVersion(0, DEFAULT_EFFECTIVE_FROM, DEFAULT_PLAN)


# -- JSON ----------------------------------------------------------------------------------


def decimal_text(value: Decimal) -> str:
    """Plain (non-scientific) text for a Decimal, so the JSON stays readable."""
    return format(value.normalize(), "f") if value == value.to_integral() else str(value)


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "role": rule.role,
        "level": rule.level,
        "base_salary": decimal_text(rule.base_salary),
        "quota": decimal_text(rule.quota),
        "rate": decimal_text(rule.rate),
        "tiers": [
            {"from_attainment": decimal_text(t.from_attainment), "rate": decimal_text(t.rate)}
            for t in rule.tiers
        ],
        "tier_mode": rule.tier_mode,
        "threshold": decimal_text(rule.threshold),
        "threshold_rate": decimal_text(rule.threshold_rate),
        "accelerators": [
            {
                "from_attainment": decimal_text(a.from_attainment),
                "multiplier": decimal_text(a.multiplier),
            }
            for a in rule.accelerators
        ],
        "cap": None if rule.cap is None else decimal_text(rule.cap),
        "clawback_days": rule.clawback_days,
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    return {"name": plan.name, "note": plan.note, "rules": [rule_to_dict(r) for r in plan.rules]}


def plan_to_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), ensure_ascii=False, indent=1)


def _optional_decimal(value: Any, what: str) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return to_decimal(value, what)


def rule_from_dict(d: dict[str, Any]) -> Rule:
    """Read one rule; raises ValueError naming the field for anything unreadable."""
    if not isinstance(d, dict):
        raise ValueError(f"a rule must be an object, not {d!r}")
    name = str(d.get("name") or "").strip()
    where = f"rule {name or '?'}"
    tiers = tuple(
        Tier(
            to_decimal(t.get("from_attainment", 0), f"{where}: tier from_attainment"),
            to_decimal(t.get("rate", 0), f"{where}: tier rate"),
        )
        for t in d.get("tiers") or ()
    )
    accelerators = tuple(
        Accelerator(
            to_decimal(a.get("from_attainment", 1), f"{where}: accelerator from_attainment"),
            to_decimal(a.get("multiplier", 1), f"{where}: accelerator multiplier"),
        )
        for a in d.get("accelerators") or ()
    )
    clawback = d.get("clawback_days")
    if clawback is not None and not (isinstance(clawback, str) and not clawback.strip()):
        try:
            clawback_days: int | None = int(str(clawback).strip())
        except ValueError:
            raise ValueError(f"{where}: clawback_days {clawback!r} is not a whole number") from None
    else:
        clawback_days = None
    mode = str(d.get("tier_mode") or "marginal").strip().lower()
    return Rule(
        name=name,
        role=str(d.get("role") or WILDCARD).strip() or WILDCARD,
        level=str(d.get("level") or WILDCARD).strip() or WILDCARD,
        base_salary=to_decimal(d.get("base_salary", 0) or 0, f"{where}: base_salary"),
        quota=to_decimal(d.get("quota", 0) or 0, f"{where}: quota"),
        rate=to_decimal(d.get("rate", 0) or 0, f"{where}: rate"),
        tiers=tiers,
        tier_mode=mode,  # type: ignore[arg-type]  # checked by validate_plan
        threshold=to_decimal(d.get("threshold", 0) or 0, f"{where}: threshold"),
        threshold_rate=to_decimal(d.get("threshold_rate", 0) or 0, f"{where}: threshold_rate"),
        accelerators=accelerators,
        cap=_optional_decimal(d.get("cap"), f"{where}: cap"),
        clawback_days=clawback_days,
    )


def plan_from_dict(d: dict[str, Any]) -> Plan:
    if not isinstance(d, dict):
        raise ValueError("a plan must be a JSON object with 'name' and 'rules'")
    rules = d.get("rules")
    if not isinstance(rules, list):
        raise ValueError("a plan needs a list of 'rules'")
    return Plan(
        name=str(d.get("name") or "").strip(),
        rules=tuple(rule_from_dict(r) for r in rules),
        note=str(d.get("note") or ""),
    )


def plan_from_json(text: str) -> Plan:
    """Read a plan file (the format `plan_to_json` writes); ValueError when unreadable."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the plan is not valid JSON: {exc}") from None
    return plan_from_dict(data)


# -- validation ----------------------------------------------------------------------------


def validate_rule(rule: Rule) -> list[str]:
    """Problems that would make a payout wrong or surprising; empty means usable.

    Beyond ranges, two rules keep payouts monotone (selling more never pays less):
    retroactive tiers must not lower the rate as attainment grows, and a decelerator may
    not pay more than the schedule it stands in for.
    """
    p: list[str] = []
    where = f"rule {rule.name!r}" if rule.name else "a rule"
    if not rule.name:
        p.append("a rule has no name")
    if rule.quota <= 0:
        p.append(f"{where}: quota must be above 0")
    if rule.base_salary < 0:
        p.append(f"{where}: base salary cannot be negative")
    if not ZERO <= rule.rate <= ONE:
        p.append(f"{where}: rate {rule.rate} is not within 0-1 (0.10 = 10%)")
    if rule.tier_mode not in TIER_MODES:
        p.append(f"{where}: tier mode {rule.tier_mode!r} is not marginal or retroactive")
    if rule.tiers:
        if rule.tiers[0].from_attainment != 0:
            p.append(f"{where}: the first tier must start at attainment 0")
        floors = [t.from_attainment for t in rule.tiers]
        if any(b <= a for a, b in zip(floors, floors[1:], strict=False)):
            p.append(f"{where}: tiers must start at strictly increasing attainments")
        for t in rule.tiers:
            if not ZERO <= t.rate <= ONE:
                p.append(f"{where}: tier rate {t.rate} is not within 0-1")
        rates = [t.rate for t in rule.tiers]
        if rule.tier_mode == "retroactive" and any(
            b < a for a, b in zip(rates, rates[1:], strict=False)
        ):
            p.append(
                f"{where}: retroactive tier rates must not go down (selling more would pay less)"
            )
    if rule.threshold < 0:
        p.append(f"{where}: threshold cannot be negative")
    if not ZERO <= rule.threshold_rate <= ONE:
        p.append(f"{where}: threshold rate {rule.threshold_rate} is not within 0-1")
    if rule.threshold > 0 and rule.threshold_rate > min(t.rate for t in rule.schedule()):
        p.append(f"{where}: the rate below the threshold must not exceed the plan's lowest rate")
    floors = [a.from_attainment for a in rule.accelerators]
    if any(f < 1 for f in floors):
        p.append(f"{where}: accelerators start at 100% of quota (from_attainment >= 1) or above")
    if any(b <= a for a, b in zip(floors, floors[1:], strict=False)):
        p.append(f"{where}: accelerators must start at strictly increasing attainments")
    for a in rule.accelerators:
        if a.multiplier < 1:
            p.append(f"{where}: accelerator multiplier {a.multiplier} is below 1")
    if rule.cap is not None and rule.cap < 0:
        p.append(f"{where}: cap cannot be negative")
    if rule.clawback_days is not None and rule.clawback_days < 0:
        p.append(f"{where}: clawback days cannot be negative")
    return p


def validate_plan(plan: Plan) -> list[str]:
    """Every problem of the plan, in plain words; an empty list means it can be saved."""
    p: list[str] = []
    if not plan.name:
        p.append("the plan has no name")
    if not plan.rules:
        p.append("the plan has no rules")
    seen: dict[tuple[str, str], str] = {}
    names: set[str] = set()
    for rule in plan.rules:
        p.extend(validate_rule(rule))
        key = (_norm(rule.role), _norm(rule.level))
        if key in seen:
            p.append(
                f"rules {seen[key]!r} and {rule.name!r} both cover role {rule.role!r} "
                f"and level {rule.level!r}"
            )
        seen[key] = rule.name
        if rule.name in names:
            p.append(f"two rules are named {rule.name!r}")
        names.add(rule.name)
    return p


# -- storage -------------------------------------------------------------------------------


def _row_to_version(row: tuple[Any, ...]) -> PlanVersion:
    version, effective_from, document, saved_at, saved_by, note = row
    return PlanVersion(
        version=int(version),
        effective_from=effective_from,
        plan=plan_from_json(document),
        saved_at=saved_at,
        saved_by=saved_by,
        note=note or "",
    )


_VERSION_COLUMNS = "version, effective_from, document, saved_at, saved_by, note"


def plan_versions(con: duckdb.DuckDBPyConnection) -> list[PlanVersion]:
    """Every saved version, oldest first, after the built-in default (version 0)."""
    ensure_schema(con)
    rows = con.execute(
        f"SELECT {_VERSION_COLUMNS} FROM commission_plans ORDER BY effective_from, version"
    ).fetchall()
    return [DEFAULT_VERSION, *(_row_to_version(r) for r in rows)]


def plan_for_month(con: duckdb.DuckDBPyConnection, month_start: date) -> PlanVersion:
    """The version in force for the month starting on `month_start`.

    The latest `effective_from` on or before the month wins, the newest save breaking a
    tie; before any saved version the built-in default applies.
    """
    ensure_schema(con)
    row = con.execute(
        f"""
        SELECT {_VERSION_COLUMNS} FROM commission_plans
        WHERE effective_from <= ?
        ORDER BY effective_from DESC, version DESC
        LIMIT 1
        """,
        [month_start],
    ).fetchone()
    return _row_to_version(row) if row else DEFAULT_VERSION


def latest_locked_month(con: duckdb.DuckDBPyConnection) -> date | None:
    ensure_schema(con)
    row = con.execute("SELECT max(period_start) FROM commission_locks").fetchone()
    return row[0] if row else None


def save_plan(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    effective_from: date,
    *,
    saved_by: str | None = None,
    note: str = "",
    access: Access = EVERYTHING,
) -> PlanVersion:
    """Store `plan` as a new version in force from `effective_from` (a month's first day).

    Refused (ValueError listing every problem) when the plan is invalid, the date is not
    the first of a month, or a locked month would fall under the new version: an approved
    month is paid under the plan it was approved with, for ever. Only sales operations
    may save (AccessDenied otherwise); the save and its audit row land together.
    """
    require(access, "edit_plans")
    if saved_by is None and access != EVERYTHING:
        saved_by = access.user
    ensure_schema(con)
    problems = validate_plan(plan)
    if effective_from.day != 1:
        problems.append(
            f"a plan takes effect on the first day of a month, not {effective_from.isoformat()}"
        )
    locked = latest_locked_month(con)
    if locked is not None and effective_from <= locked:
        problems.append(
            f"{locked:%Y-%m} is locked: a new plan version must start after it "
            f"(from {_next_month(locked).isoformat()})"
        )
    if problems:
        raise ValueError("; ".join(problems))
    with transaction(con):
        row = con.execute("SELECT coalesce(max(version), 0) + 1 FROM commission_plans").fetchone()
        version = int(row[0])
        con.execute(
            "INSERT INTO commission_plans (version, effective_from, name, document, saved_at, "
            "saved_by, note) VALUES (?, ?, ?, ?, current_timestamp, ?, ?)",
            [version, effective_from, plan.name, plan_to_json(plan), saved_by, note or None],
        )
        audit.record(
            con, access.user, "plan_edit", version=version, plan=plan.name,
            effective_from=effective_from, saved_by=saved_by, note=note,
        )  # fmt: skip
    return PlanVersion(version, effective_from, plan, datetime.now(), saved_by, note)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def with_rule(plan: Plan, rule: Rule) -> Plan:
    """The plan with `rule` replacing the rule of the same name (or added)."""
    rules = [r for r in plan.rules if r.name != rule.name]
    return replace(plan, rules=(*rules, rule))
