"""Honest periods: the app opens on the newest period that was over on the data's date, and
a period that was not over is shown to date and compared with the same days before."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from analytics import db
from analytics.quadrant import quadrant_window, window_before
from analytics.scope import Period, Scope, data_as_of, default_period, periods_between


@pytest.mark.parametrize(
    ("label", "as_of", "end", "name"),
    [
        ("2026-11", date(2026, 11, 16), date(2026, 11, 16), "2026-11 to date (1–16 Nov)"),
        ("2026-11", date(2026, 11, 30), date(2026, 11, 30), "2026-11"),  # over on its last day
        ("2026-11", date(2026, 12, 3), date(2026, 11, 30), "2026-11"),
        ("2026-11", date(2026, 10, 3), date(2026, 11, 30), "2026-11"),  # not started: whole
        ("2026-Q4", date(2026, 11, 16), date(2026, 11, 16), "2026-Q4 to date (1 Oct–16 Nov)"),
        ("2026", date(2026, 11, 16), date(2026, 11, 16), "2026 to date (1 Jan–16 Nov)"),
    ],
)
def test_to_date_cuts_only_a_period_that_was_not_over(
    label: str, as_of: date, end: date, name: str
) -> None:
    period = Period.parse(label).to_date(as_of)
    assert period.end == end
    assert period.name == name
    assert period.label == label  # the key in URLs and the CLI never changes
    assert period.whole() == Period.parse(label)


@pytest.mark.parametrize(
    ("label", "as_of", "previous", "last_year"),
    [
        # (period, as-of, previous period's days, same period last year's days)
        ("2026-11", date(2026, 11, 16), (date(2026, 10, 1), date(2026, 10, 16)),
         (date(2025, 11, 1), date(2025, 11, 16))),
        ("2026-03", date(2026, 3, 30), (date(2026, 2, 1), date(2026, 2, 28)),
         (date(2025, 3, 1), date(2025, 3, 30))),  # February has no 30th: all of it
        ("2026-Q4", date(2026, 11, 16), (date(2026, 7, 1), date(2026, 8, 16)),
         (date(2025, 10, 1), date(2025, 11, 16))),
        ("2024", date(2024, 7, 15), (date(2023, 1, 1), date(2023, 7, 15)),
         (date(2023, 1, 1), date(2023, 7, 15))),  # by the calendar, leap year or not
        ("2026-05", date(2026, 5, 31), (date(2026, 4, 1), date(2026, 4, 30)),
         (date(2025, 5, 1), date(2025, 5, 31))),  # over on its last day: whole months
        ("2026-11", date(2026, 12, 1), (date(2026, 10, 1), date(2026, 10, 31)),
         (date(2025, 11, 1), date(2025, 11, 30))),  # a finished month: whole months
    ],
)  # fmt: skip
def test_a_period_to_date_is_compared_with_the_same_days(
    label: str, as_of: date, previous: tuple[date, date], last_year: tuple[date, date]
) -> None:
    period = Period.parse(label).to_date(as_of)
    assert (period.previous().start, period.previous().end) == previous
    assert (period.same_last_year().start, period.same_last_year().end) == last_year
    assert period.previous().label == Period.parse(label).previous().label


def test_default_period_is_the_newest_that_was_over() -> None:
    periods = periods_between(date(2026, 1, 5), date(2026, 11, 16), "month")
    assert periods[0].label == "2026-11"
    assert default_period(periods, date(2026, 11, 16)).label == "2026-10"
    assert default_period(periods, date(2026, 11, 30)).label == "2026-11"
    assert default_period(periods, None).label == "2026-11"
    # nothing over yet: the newest, which pages then show to date
    only = periods_between(date(2026, 11, 2), date(2026, 11, 16), "month")
    assert default_period(only, date(2026, 11, 16)).label == "2026-11"
    quarters = periods_between(date(2025, 1, 5), date(2026, 11, 16), "quarter")
    assert default_period(quarters, date(2026, 11, 16)).label == "2026-Q3"


def test_the_quadrant_window_to_date_is_compared_with_as_many_days() -> None:
    month = Period.parse("2026-11").to_date(date(2026, 11, 16))
    window = quadrant_window(month)
    assert (window.start, window.end) == (date(2026, 9, 1), date(2026, 11, 16))
    before = window_before(month, window)
    assert (before.start, before.end) == (date(2026, 6, 1), date(2026, 8, 16))
    assert quadrant_window(month, 1) == month
    assert "to date" in window.name


def test_data_as_of_is_the_newest_export_date_never_after_today(db_path: Path) -> None:
    con = db.connect(db_path)
    try:
        assert data_as_of(con) is None
        con.execute(
            "INSERT INTO opportunities (opportunity_id, stage, is_closed, is_won, snapshot_date,"
            " import_id) VALUES ('a', 'Discovery', false, false, DATE '2026-11-16', 1),"
            " ('b', 'Discovery', false, false, DATE '2026-10-02', 1)"
        )
        assert data_as_of(con) == date(2026, 11, 16)
        con.execute("UPDATE opportunities SET snapshot_date = DATE '2999-01-01'")
        assert data_as_of(con) == date.today()
        # the Pipeline page reads the same date (it had a copy without the clamp): a month
        # after today has no pipeline yet, whatever date the export claims
        from analytics.pipeline import before_period_reason

        later = Period.containing(date.today() + timedelta(days=40), "month")
        reason = before_period_reason(con, Scope(later))
        assert reason == (
            f"the data ends on {date.today()}, before {later.label} starts: "
            "nothing is known about it yet"
        )
    finally:
        con.close()


def test_scope_describe_says_to_date() -> None:
    scope = Scope(Period.parse("2026-11")).to_date(date(2026, 11, 16))
    assert scope.describe() == "2026-11 to date (1–16 Nov)"
    assert scope.params()["period_end"] == date(2026, 11, 16)


@pytest.mark.parametrize(
    ("label", "as_of", "previous", "last_year"),
    [
        ("2026-11", date(2026, 11, 16), "2026-10 (1–16 Oct)", "2025-11 (1–16 Nov)"),
        ("2026-Q4", date(2026, 11, 16), "2026-Q3 (1 Jul–16 Aug)", "2025-Q4 (1 Oct–16 Nov)"),
        ("2026-11", date(2026, 12, 1), "2026-10", "2025-11"),  # over: whole periods
    ],
)
def test_the_same_days_of_a_period_that_was_over_are_not_named_to_date(
    label: str, as_of: date, previous: str, last_year: str
) -> None:
    """1–16 Oct compared with November to date: October was over, so its name gives the
    days without "to date" (a new user read "2026-10 to date" as October still running).
    The name is all that differs: the same days equal the period cut there."""
    period = Period.parse(label).to_date(as_of)
    assert (period.previous().name, period.same_last_year().name) == (previous, last_year)
    before = period.previous()
    assert before == Period.parse(before.label).to_date(before.end)
