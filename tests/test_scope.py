"""Periods and scope: parsing, navigation and fiscal-year edge cases, as plain tables."""

from __future__ import annotations

from datetime import date

import pytest

from analytics.scope import (
    Period,
    Scope,
    load_fiscal_start_month,
    periods_between,
    save_fiscal_start_month,
)

D = date

# (label, fiscal start month, kind, start, end, normalised label)
PARSE_CASES = [
    ("2024-05", 1, "month", D(2024, 5, 1), D(2024, 5, 31), "2024-05"),
    ("2024-5", 1, "month", D(2024, 5, 1), D(2024, 5, 31), "2024-05"),
    ("2024-02", 1, "month", D(2024, 2, 1), D(2024, 2, 29), "2024-02"),  # leap year
    ("2023-02", 1, "month", D(2023, 2, 1), D(2023, 2, 28), "2023-02"),
    ("2024-12", 4, "month", D(2024, 12, 1), D(2024, 12, 31), "2024-12"),  # fiscal: no effect
    ("2024-Q2", 1, "quarter", D(2024, 4, 1), D(2024, 6, 30), "2024-Q2"),
    ("2024q4", 1, "quarter", D(2024, 10, 1), D(2024, 12, 31), "2024-Q4"),
    ("2024-Q1", 4, "quarter", D(2024, 1, 1), D(2024, 3, 31), "2024-Q1"),  # plain = calendar
    ("2024", 1, "year", D(2024, 1, 1), D(2024, 12, 31), "2024"),
    ("2024", 4, "year", D(2024, 1, 1), D(2024, 12, 31), "2024"),  # plain = calendar
    # FY is named by the calendar year it ENDS in: April start -> FY2025 = Apr 2024-Mar 2025.
    ("FY2025", 4, "year", D(2024, 4, 1), D(2025, 3, 31), "FY2025"),
    ("FY2025-Q1", 4, "quarter", D(2024, 4, 1), D(2024, 6, 30), "FY2025-Q1"),
    ("FY2025-Q3", 4, "quarter", D(2024, 10, 1), D(2024, 12, 31), "FY2025-Q3"),
    ("FY2025-Q4", 4, "quarter", D(2025, 1, 1), D(2025, 3, 31), "FY2025-Q4"),  # crosses year
    ("fy2025-q4", 4, "quarter", D(2025, 1, 1), D(2025, 3, 31), "FY2025-Q4"),
    # US federal style: October start -> FY2025 = Oct 2024-Sep 2025.
    ("FY2025", 10, "year", D(2024, 10, 1), D(2025, 9, 30), "FY2025"),
    ("FY2025-Q2", 10, "quarter", D(2025, 1, 1), D(2025, 3, 31), "FY2025-Q2"),
    # February start: quarters that do not line up with calendar quarters.
    ("FY2025-Q4", 2, "quarter", D(2024, 11, 1), D(2025, 1, 31), "FY2025-Q4"),
    # January start: a fiscal year is the calendar year of the same number.
    ("FY2025", 1, "year", D(2025, 1, 1), D(2025, 12, 31), "FY2025"),
    ("FY2025-Q2", 1, "quarter", D(2025, 4, 1), D(2025, 6, 30), "FY2025-Q2"),
]


@pytest.mark.parametrize(("text", "fiscal", "kind", "start", "end", "label"), PARSE_CASES)
def test_parse(text: str, fiscal: int, kind: str, start: date, end: date, label: str) -> None:
    period = Period.parse(text, fiscal_start_month=fiscal)
    assert (period.kind, period.start, period.end, period.label) == (kind, start, end, label)


@pytest.mark.parametrize(
    ("text", "fiscal"),
    [("2024-13", 1), ("2024-00", 1), ("2024-Q5", 1), ("FY25", 4), ("May 2024", 1), ("", 1),
     ("FY2025", 0), ("FY2025", 13)],
)  # fmt: skip
def test_parse_rejects(text: str, fiscal: int) -> None:
    with pytest.raises(ValueError):
        Period.parse(text, fiscal_start_month=fiscal)


# (label, fiscal start month, previous, same period last year)
NAVIGATION_CASES = [
    ("2024-05", 1, "2024-04", "2023-05"),
    ("2024-01", 1, "2023-12", "2023-01"),  # crosses the year
    ("2024-03", 1, "2024-02", "2023-03"),
    ("2024-Q2", 1, "2024-Q1", "2023-Q2"),
    ("2024-Q1", 1, "2023-Q4", "2023-Q1"),
    ("2024", 1, "2023", "2023"),
    ("FY2025-Q1", 4, "FY2024-Q4", "FY2024-Q1"),  # Apr-Jun 2024 -> Jan-Mar 2024
    ("FY2025-Q4", 4, "FY2025-Q3", "FY2024-Q4"),
    ("FY2025", 4, "FY2024", "FY2024"),
    ("FY2025-Q1", 10, "FY2024-Q4", "FY2024-Q1"),
]


@pytest.mark.parametrize(("text", "fiscal", "previous", "last_year"), NAVIGATION_CASES)
def test_previous_and_last_year(text: str, fiscal: int, previous: str, last_year: str) -> None:
    period = Period.parse(text, fiscal_start_month=fiscal)
    assert period.previous() == Period.parse(previous, fiscal_start_month=fiscal)
    assert period.same_last_year() == Period.parse(last_year, fiscal_start_month=fiscal)
    assert period.previous().end.toordinal() + 1 == period.start.toordinal()  # no gap


def test_fiscal_previous_dates() -> None:
    """FY2025-Q1 (April start) is preceded by January-March 2024, FY2024's last quarter."""
    prev = Period.parse("FY2025-Q1", fiscal_start_month=4).previous()
    assert (prev.start, prev.end, prev.label) == (D(2024, 1, 1), D(2024, 3, 31), "FY2024-Q4")


# (day, kind, fiscal start or None, label of the period containing it)
CONTAINING_CASES = [
    (D(2024, 5, 17), "month", None, "2024-05"),
    (D(2024, 5, 17), "quarter", None, "2024-Q2"),
    (D(2024, 12, 31), "year", None, "2024"),
    (D(2024, 3, 31), "quarter", 4, "FY2024-Q4"),
    (D(2024, 4, 1), "quarter", 4, "FY2025-Q1"),
    (D(2024, 4, 1), "year", 4, "FY2025"),
    (D(2025, 3, 31), "year", 4, "FY2025"),
    (D(2025, 1, 15), "quarter", 2, "FY2025-Q4"),
    (D(2024, 6, 30), "quarter", 1, "FY2024-Q2"),
]


@pytest.mark.parametrize(("day", "kind", "fiscal", "label"), CONTAINING_CASES)
def test_containing(day: date, kind: str, fiscal: int | None, label: str) -> None:
    period = Period.containing(day, kind, fiscal)  # type: ignore[arg-type]
    assert period.label == label
    assert period.contains(day)


@pytest.mark.parametrize(
    ("day", "inside"),
    [(D(2024, 3, 31), False), (D(2024, 4, 1), True), (D(2024, 6, 30), True),
     (D(2024, 7, 1), False)],
)  # fmt: skip
def test_contains_is_inclusive(day: date, inside: bool) -> None:
    assert Period.parse("2024-Q2").contains(day) is inside


def test_periods_between_newest_first() -> None:
    labels = [p.label for p in periods_between(D(2023, 11, 3), D(2024, 2, 1), "month")]
    assert labels == ["2024-02", "2024-01", "2023-12", "2023-11"]
    quarters = [p.label for p in periods_between(D(2024, 3, 1), D(2024, 4, 1), "quarter", 4)]
    assert quarters == ["FY2025-Q1", "FY2024-Q4"]


def test_scope_previous_keeps_filters() -> None:
    scope = Scope(Period.parse("2024-Q2"), team="East", region=None, rep="Ann")
    prev = scope.previous()
    assert (prev.period.label, prev.team, prev.region, prev.rep) == ("2024-Q1", "East", None, "Ann")
    assert scope.params() == {
        "period_start": D(2024, 4, 1),
        "period_end": D(2024, 6, 30),
        "team": "East",
        "region": None,
        "rep": "Ann",
    }
    assert scope.describe() == "2024-Q2 · team East · rep Ann"


def test_fiscal_start_month_setting(con) -> None:
    assert load_fiscal_start_month(con) == 1  # default: calendar fiscal year
    save_fiscal_start_month(con, 4)
    assert load_fiscal_start_month(con) == 4
    with pytest.raises(ValueError):
        save_fiscal_start_month(con, 13)
