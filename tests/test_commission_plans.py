"""Commission plans as data: JSON round trip, validation, rule matching, versions by month.

A plan that validates must pay sensibly, so each validation rule is one row of a table
with the mistake it catches; versions are checked on a real database file.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal

import duckdb
import pytest

from analytics.commissions.approval import lock_period
from analytics.commissions.plan_rows import (
    accelerators_from_text,
    plan_from_rows,
    rules_to_rows,
    tiers_from_text,
)
from analytics.commissions.plans import (
    DEFAULT_PLAN,
    Accelerator,
    Plan,
    Rule,
    Tier,
    plan_for_month,
    plan_from_json,
    plan_to_json,
    plan_versions,
    save_plan,
    to_decimal,
    validate_plan,
)
from analytics.scope import Period

D = Decimal
BASE = Rule(name="r", quota=D(10000), rate=D("0.1"))


def test_default_plan_is_the_domain_brief() -> None:
    assert validate_plan(DEFAULT_PLAN) == []
    junior = DEFAULT_PLAN.rule_for("AE", "junior")
    senior = DEFAULT_PLAN.rule_for("AE", "Senior ")  # case and spaces do not matter
    assert (junior.quota, junior.rate, junior.threshold) == (D(10000), D("0.10"), D(1))
    assert (senior.quota, senior.rate, senior.threshold) == (D(25000), D("0.10"), D(1))
    assert DEFAULT_PLAN.rule_for("manager", None) is None


def test_json_round_trip_keeps_exact_decimals() -> None:
    plan = Plan(
        "P",
        (
            replace(
                BASE,
                tiers=(Tier(D(0), D("0.05")), Tier(D("1.5"), D("0.125"))),
                accelerators=(Accelerator(D(1), D("1.5")),),
                cap=D("4999.99"),
                clawback_days=90,
                base_salary=D("3000.50"),
            ),
        ),
    )
    again = plan_from_json(plan_to_json(plan))
    assert again == plan
    assert '"rate": "0.125"' in plan_to_json(plan)  # text, never a binary float


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"name": "x"}', "list of 'rules'"),
        ('{"name": "x", "rules": [{"name": "a", "quota": "ten"}]}', "quota: 'ten'"),
        ('{"name": "x", "rules": [{"name": "a", "quota": 1, "clawback_days": "x"}]}',
         "clawback_days"),
    ],
)  # fmt: skip
def test_unreadable_plan_files_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan_from_json(text)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"quota": D(0)}, "quota must be above 0"),
        ({"rate": D("1.5")}, "not within 0-1"),
        ({"base_salary": D(-1)}, "base salary cannot be negative"),
        ({"tier_mode": "backwards"}, "not marginal or retroactive"),
        ({"tiers": (Tier(D("0.5"), D("0.1")),)}, "first tier must start at attainment 0"),
        ({"tiers": (Tier(D(0), D("0.1")), Tier(D(0), D("0.2")))}, "strictly increasing"),
        # Retroactive rates that fall would pay less for selling more.
        ({"tier_mode": "retroactive", "tiers": (Tier(D(0), D("0.1")), Tier(D(1), D("0.05")))},
         "must not go down"),
        # A decelerator paying more than the plan would reward staying below the threshold.
        ({"threshold": D(1), "threshold_rate": D("0.2")}, "must not exceed"),
        ({"accelerators": (Accelerator(D("0.8"), D(2)),)}, "start at 100% of quota"),
        ({"accelerators": (Accelerator(D(1), D("0.5")),)}, "multiplier 0.5 is below 1"),
        ({"cap": D(-1)}, "cap cannot be negative"),
        ({"clawback_days": -1}, "clawback days cannot be negative"),
        ({"name": ""}, "has no name"),
    ],
)  # fmt: skip
def test_validation_catches(change: dict, problem: str) -> None:
    plan = Plan("P", (replace(BASE, **change),))
    problems = validate_plan(plan)
    assert any(problem in p for p in problems), problems


def test_marginal_tiers_may_fall() -> None:
    # Marginal tiers with a lower top rate still never pay less for more (each band keeps
    # its own rate), so they are allowed.
    rule = replace(BASE, tiers=(Tier(D(0), D("0.1")), Tier(D(2), D("0.05"))))
    assert validate_plan(Plan("P", (rule,))) == []


def test_plan_level_problems() -> None:
    assert "the plan has no rules" in validate_plan(Plan("P", ()))
    twice = Plan("P", (BASE, replace(BASE, name="other")))
    assert any("both cover role" in p for p in validate_plan(twice))


def test_the_most_specific_rule_wins() -> None:
    plan = Plan(
        "P",
        (
            replace(BASE, name="anyone"),
            replace(BASE, name="seniors", level="senior"),
            replace(BASE, name="AEs", role="AE"),
            replace(BASE, name="senior AEs", role="AE", level="senior"),
        ),
    )
    assert plan.rule_for("AE", "senior").name == "senior AEs"
    assert plan.rule_for("AE", "junior").name == "AEs"
    assert plan.rule_for("CSM", "senior").name == "seniors"
    assert plan.rule_for(None, None).name == "anyone"


@pytest.mark.parametrize(
    ("text", "value"),
    [("10%", D("0.1")), ("0.10", D("0.10")), ("1,000", D(1000)), (0.1, D("0.1")), (3, D(3))],
)
def test_to_decimal(text: object, value: Decimal) -> None:
    assert to_decimal(text) == value


def test_editor_text_for_tiers_and_accelerators() -> None:
    assert tiers_from_text("0:0.08; 1.2:12%") == (Tier(D(0), D("0.08")), Tier(D("1.2"), D("0.12")))
    assert accelerators_from_text("") == ()
    with pytest.raises(ValueError, match="attainment:value"):
        tiers_from_text("0.08")


def test_plan_from_editor_rows_round_trips_and_names_bad_rows() -> None:
    plan, problems = plan_from_rows("Default plan", rules_to_rows(DEFAULT_PLAN), DEFAULT_PLAN.note)
    assert problems == [] and plan is not None
    assert [(r.name, r.quota, r.rate, r.threshold) for r in plan.rules] == [
        (r.name, r.quota, r.rate, r.threshold) for r in DEFAULT_PLAN.rules
    ]
    rows = rules_to_rows(DEFAULT_PLAN)
    rows[1]["tiers"] = "nonsense"
    rows.append({"name": None, "quota": float("nan")})  # an editor's empty spare row
    plan, problems = plan_from_rows("P", rows)
    assert plan is None and problems == [
        "row 2: tiers: 'nonsense' should be 'attainment:value', e.g. 1:0.12"
    ]


# --- versions ----------------------------------------------------------------------------------


def _plan(rate: str) -> Plan:
    return Plan(f"Plan {rate}", (replace(BASE, name="all", rate=D(rate)),))


def test_versions_are_effective_dated(con: duckdb.DuckDBPyConnection) -> None:
    assert plan_for_month(con, date(2024, 5, 1)).version == 0  # nothing saved: the default
    save_plan(con, _plan("0.1"), date(2024, 1, 1))
    save_plan(con, _plan("0.2"), date(2024, 6, 1))
    save_plan(con, _plan("0.3"), date(2024, 6, 1))  # same month, later save: it wins
    assert plan_for_month(con, date(2023, 12, 1)).version == 0
    assert plan_for_month(con, date(2024, 5, 1)).plan.name == "Plan 0.1"
    assert plan_for_month(con, date(2024, 6, 1)).plan.name == "Plan 0.3"
    assert plan_for_month(con, date(2025, 1, 1)).version == 3
    assert [v.version for v in plan_versions(con)] == [0, 1, 2, 3]


def test_a_version_starts_on_the_first_of_a_month(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="first day of a month"):
        save_plan(con, _plan("0.1"), date(2024, 5, 15))


def test_an_invalid_plan_is_not_saved(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(ValueError, match="quota must be above 0"):
        save_plan(con, Plan("P", (replace(BASE, quota=D(0)),)), date(2024, 5, 1))
    assert [v.version for v in plan_versions(con)] == [0]


def test_no_version_may_start_in_a_locked_month(con: duckdb.DuckDBPyConnection) -> None:
    lock_period(con, Period.parse("2024-05"))
    for day in (date(2024, 5, 1), date(2024, 1, 1)):
        with pytest.raises(ValueError, match="2024-05 is locked"):
            save_plan(con, _plan("0.2"), day)
    assert save_plan(con, _plan("0.2"), date(2024, 6, 1)).version == 1
