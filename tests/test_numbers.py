"""Figures as people read them (analytics.numbers): parts that add up, durations, blanks."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from analytics.numbers import (
    amount_text,
    duration_text,
    largest_remainder,
    minutes_text,
    number_or_none,
    percent_parts,
    percent_text,
    round_half_up,
    signed_duration_text,
)

D = Decimal


@pytest.mark.parametrize(
    ("parts", "total", "expected"),
    [
        ([D("33.33"), D("33.33"), D("33.34")], 100, [33, 33, 34]),  # biggest remainder wins
        ([D("1.5"), D("1.5"), D("1.0")], 4, [2, 1, 1]),  # tie: the earlier part
        ([D("0.4"), D("0.4"), D("0.2")], 1, [1, 0, 0]),  # naive rounding gives 0
        ([D("-100.4"), D("50.3")], -50, [-100, 50]),  # signed parts
        ([D("351504.5")], 351_504, [351_504]),  # the waterfall case: total decides
        ([D("2"), D("0")], 2, [2, 0]),  # whole parts unchanged
        ([], 0, []),
    ],
)
def test_largest_remainder(parts: list[Decimal], total: int, expected: list[int]) -> None:
    got = largest_remainder(parts, total)
    assert got == expected
    assert sum(got) == total
    assert all(abs(D(g) - p) < 1 for g, p in zip(got, parts, strict=True))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(D("0.5"), 1), (D("1.5"), 2), (D("2.5"), 3), (D("-0.5"), -1), (1351505.49, 1351505)],
)
def test_round_half_up(value: Decimal | float, expected: int) -> None:
    assert round_half_up(value) == expected


@pytest.mark.parametrize(
    ("days", "expected"),
    [
        (742.5 / 60 / 24, "12 h 22 min"),  # 742.5 minutes (the raw figure)
        (0.5, "12 h 0 min"),
        (10 / 60 / 24, "10 min"),
        (2.14, "2.1 days"),
        (1.0, "1.0 days"),
        (0.99999, "1.0 days"),  # 23 h 59.99 min rounds to a day, never "24 h 0 min"
        (None, "—"),
        (float("nan"), "—"),
        (float("inf"), "—"),
    ],
)
def test_duration_text(days: float | None, expected: str) -> None:
    assert duration_text(days) == expected


@pytest.mark.parametrize(
    ("share", "expected"),
    [(0.625, "62.5%"), (0.0, "0.0%"), (1, "100.0%"), (None, "—"), (float("nan"), "—")],
)
def test_percent_text(share: float | None, expected: str) -> None:
    assert percent_text(share) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(71000.4, "71,000"), (D("0.5"), "1"), (None, "—"), (float("nan"), "—")],
)
def test_amount_text(value: float | Decimal | None, expected: str) -> None:
    assert amount_text(value) == expected


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [
        (742.5, "12 h 22 min"),  # the raw 742.5 minutes (as test_duration_text)
        (742.6, "12 h 23 min"),
        (3, "3 min"),
        (0, "0 min"),
        (60, "1 h 0 min"),
        (3024, "2.1 days"),
        (None, "—"),
        (float("nan"), "—"),
        (float("inf"), "—"),
    ],
)
def test_minutes_text(minutes: float | None, expected: str) -> None:
    assert minutes_text(minutes) == expected


@pytest.mark.parametrize(
    ("days", "unit", "expected"),
    [
        (2.14, "days", "+2.1 days"),
        (-0.5, "days", "-12 h 0 min"),
        (0.0, "days", "0 days"),  # no change: unsigned, in the card's own unit
        (-0.0001, "days", "0 days"),  # rounds to no change: no sign either
        (0.0, "minutes", "0 min"),
        (5 / (24 * 60), "minutes", "+5 min"),
        (None, "days", None),
    ],
)
def test_signed_duration_text(days: float | None, unit: str, expected: str | None) -> None:
    assert signed_duration_text(days, unit) == expected


@pytest.mark.parametrize(
    ("shares", "expected"),
    [
        ([1 / 3, 1 / 3, 1 / 3], ["33.4%", "33.3%", "33.3%"]),  # naive: 99.9%
        ([0.5, 0.5], ["50.0%", "50.0%"]),
        ([2 / 3, 1 / 6, 1 / 6], ["66.6%", "16.7%", "16.7%"]),  # naive: 100.1%
        ([0.12345, 0.87655], ["12.3%", "87.7%"]),
        ([1.0], ["100.0%"]),
        ([0.25, None, 0.75], ["25.0%", "—", "75.0%"]),
        ([0.2, 0.2], ["20.0%", "20.0%"]),  # not a whole: printed as they are
        ([], []),
    ],
)
def test_percent_parts(shares: list[float | None], expected: list[str]) -> None:
    got = percent_parts(shares)
    assert got == expected
    numbers = [float(g.rstrip("%")) for g in got if g != "—"]
    if numbers and abs(sum(s for s in shares if s is not None) - 1) < 1e-9:
        assert round(sum(numbers), 6) == 100.0


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), (float("nan"), None), (pd.NA, None), ("abc", None), ("2.5", 2.5),
     (3, 3.0), (0, 0.0), (Decimal("1.25"), 1.25)],
)  # fmt: skip
def test_number_or_none(value: object, expected: float | None) -> None:
    assert number_or_none(value) == expected


@pytest.mark.parametrize(
    ("n", "noun", "nouns", "expected"),
    [
        (0, "deal", None, "0 deals"),
        (1, "deal", None, "1 deal"),
        (2, "open deal", None, "2 open deals"),
        (4346, "row", None, "4,346 rows"),
        (1, "person", "people", "1 person"),
        (3, "person", "people", "3 people"),
    ],
)
def test_counted(n: int, noun: str, nouns: str | None, expected: str) -> None:
    from analytics.numbers import counted

    assert counted(n, noun, nouns) == expected


@pytest.mark.parametrize(("n", "expected"), [(0, "have"), (1, "has"), (2, "have")])
def test_verb(n: int, expected: str) -> None:
    from analytics.numbers import verb

    assert verb(n, "has", "have") == expected
