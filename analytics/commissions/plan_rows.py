"""A plan's rules as the flat rows of a table editor, and back (the Plans editor's form).

Why a module of its own: the plan model (`plans`) is nested -- tiers and accelerators are
lists inside a rule -- while an editor (the Settings page, the Commissions page's Plans
tab) shows one flat row per rule with tiers and accelerators written as text such as
``0:0.08; 1:0.12``. Reading that text back, skipping a spare editor line and naming the
row of every mistake is a concern of its own; the plan that comes out is validated by
`plans.validate_plan`, the same rules a JSON plan file goes through.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from analytics.commissions.plans import (
    Accelerator,
    Plan,
    Rule,
    Tier,
    decimal_text,
    rule_from_dict,
    to_decimal,
    validate_plan,
)


def tiers_to_text(tiers: tuple[Tier, ...]) -> str:
    """'0:0.08; 1:0.12' -- attainment floor : rate, the form the Plans editor shows."""
    return "; ".join(f"{decimal_text(t.from_attainment)}:{decimal_text(t.rate)}" for t in tiers)


def accelerators_to_text(accelerators: tuple[Accelerator, ...]) -> str:
    """'1:1.5; 1.5:2' -- attainment floor : multiplier."""
    return "; ".join(
        f"{decimal_text(a.from_attainment)}:{decimal_text(a.multiplier)}" for a in accelerators
    )


def _pairs(text: str | None, what: str) -> list[tuple[Decimal, Decimal]]:
    out: list[tuple[Decimal, Decimal]] = []
    for part in str(text or "").replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        if ":" not in part:
            raise ValueError(f"{what}: {part!r} should be 'attainment:value', e.g. 1:0.12")
        left, right = part.split(":", 1)
        out.append((to_decimal(left, what), to_decimal(right, what)))
    return out


def tiers_from_text(text: str | None) -> tuple[Tier, ...]:
    return tuple(Tier(a, b) for a, b in _pairs(text, "tiers"))


def accelerators_from_text(text: str | None) -> tuple[Accelerator, ...]:
    return tuple(Accelerator(a, b) for a, b in _pairs(text, "accelerators"))


RULE_COLUMNS: tuple[str, ...] = (
    "name", "role", "level", "base_salary", "quota", "rate", "tier_mode", "tiers",
    "threshold", "threshold_rate", "accelerators", "cap", "clawback_days",
)  # fmt: skip


def rules_to_rows(plan: Plan) -> list[dict[str, Any]]:
    """The plan's rules as flat rows for a table editor (tiers and accelerators as text)."""
    return [
        {
            "name": r.name,
            "role": r.role,
            "level": r.level,
            "base_salary": float(r.base_salary),
            "quota": float(r.quota),
            "rate": float(r.rate),
            "tier_mode": r.tier_mode,
            "tiers": tiers_to_text(r.tiers),
            "threshold": float(r.threshold),
            "threshold_rate": float(r.threshold_rate),
            "accelerators": accelerators_to_text(r.accelerators),
            "cap": None if r.cap is None else float(r.cap),
            "clawback_days": r.clawback_days,
        }
        for r in plan.rules
    ]


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and value != value:  # NaN from an emptied editor cell
        return True
    return isinstance(value, str) and not value.strip()


def plan_from_rows(
    name: str, rows: list[dict[str, Any]], note: str = ""
) -> tuple[Plan | None, list[str]]:
    """A plan from editor rows, and every problem (reading and validation) in plain words.

    Empty rows (a table editor's spare line) are skipped; a problem names the row.
    """
    problems: list[str] = []
    rules: list[Rule] = []
    for n, row in enumerate(rows, start=1):
        if all(_blank(row.get(c)) for c in RULE_COLUMNS):
            continue
        data = {k: (None if _blank(v) else v) for k, v in row.items()}
        try:
            data["tiers"] = [
                {"from_attainment": t.from_attainment, "rate": t.rate}
                for t in tiers_from_text(data.get("tiers"))
            ]
            data["accelerators"] = [
                {"from_attainment": a.from_attainment, "multiplier": a.multiplier}
                for a in accelerators_from_text(data.get("accelerators"))
            ]
            if data.get("clawback_days") is not None:
                days = float(data["clawback_days"])
                if days != int(days):
                    raise ValueError(f"clawback_days {days:g} is not a whole number")
                data["clawback_days"] = int(days)
            rules.append(rule_from_dict(data))
        except (ValueError, TypeError) as exc:
            problems.append(f"row {n}: {exc}")
    if problems:
        return None, problems
    plan = Plan(name=name.strip(), rules=tuple(rules), note=note)
    problems = validate_plan(plan)
    return (None, problems) if problems else (plan, [])
