"""Scope and periods: the one value pages hand to analytics.

A page never builds SQL; it builds a `Scope` (a period plus optional team, region and rep
filters) and passes it to an analytics function. Every figure therefore agrees on what
"Q2" or "the previous period" means, because this module is the only place that says it.

Period labels double as the text users type and the value kept in the URL:

- ``2024-05``: calendar month (May 2024);
- ``2024-Q2``: calendar quarter (April-June 2024);
- ``2024``: calendar year;
- ``FY2025-Q1``: first quarter of fiscal year 2025;
- ``FY2025``: fiscal year 2025.

Fiscal years start on a configurable month (`fiscal_start_month`, 1 = January) and are
**named by the calendar year in which they end**: with an April start, FY2025 runs from
2024-04-01 to 2025-03-31 and FY2025-Q1 is April-June 2024. With a January start, FY2025
is simply calendar 2025. This is the convention of most companies that report on a
non-calendar year (e.g. the UK and Indian "FY2025 = April 2024 - March 2025").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Literal

import duckdb

from analytics.access import EVERYTHING, Access, AccessDenied
from analytics.run_memo import memoised
from analytics.settings import put_setting

PeriodKind = Literal["month", "quarter", "year"]

# The settings-table key holding the fiscal year's first month (JSON integer 1-12).
FISCAL_START_KEY = "fiscal_year_start_month"

_MONTH_RE = re.compile(r"^(\d{4})-(\d{1,2})$")
_QUARTER_RE = re.compile(r"^(FY)?(\d{4})-?Q([1-4])$")
_YEAR_RE = re.compile(r"^(FY)?(\d{4})$")
_LENGTH_MONTHS: dict[str, int] = {"month": 1, "quarter": 3, "year": 12}


def _add_months(day: date, months: int) -> date:
    """The first of the month `months` after `day`'s month (day must be a 1st)."""
    index = day.year * 12 + (day.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def _check_fiscal_start(month: int) -> int:
    if not 1 <= int(month) <= 12:
        raise ValueError(f"fiscal year start month must be 1-12, not {month!r}")
    return int(month)


@dataclass(frozen=True)
class Period:
    """A closed date range [start, end] that is a month, a quarter or a year.

    `fiscal_start_month` is None for calendar quarters and years, and the fiscal year's
    first month (1-12) for fiscal ones; it only changes how the period is labelled and
    where quarters and years begin. Build periods with `parse`, `containing` or the
    navigation methods rather than by hand, so start/end/label stay consistent.
    """

    kind: PeriodKind
    start: date
    end: date  # inclusive: the last day of the period
    label: str
    fiscal_start_month: int | None = None
    # Cut to the same days as a period that was not over (`shifted`, `same_last_year`),
    # not because this one was not over: named "2024-10 (1–16 Oct)", not "to date". Not
    # part of equality: the days are what a period is.
    same_days: bool = field(default=False, compare=False)

    # -- construction -------------------------------------------------------------

    @classmethod
    def _build(cls, kind: PeriodKind, start: date, fiscal_start_month: int | None) -> Period:
        end = _add_months(start, _LENGTH_MONTHS[kind]) - timedelta(days=1)
        return cls(kind, start, end, _label(kind, start, fiscal_start_month), fiscal_start_month)

    @classmethod
    def parse(cls, text: str, fiscal_start_month: int = 1) -> Period:
        """Read a label such as ``2024-05``, ``2024-Q2``, ``2024``, ``FY2025-Q1``, ``FY2025``.

        `fiscal_start_month` only matters for ``FY`` labels; plain years and quarters are
        always calendar ones, so a link shared between companies means the same dates.
        """
        raw = str(text).strip().upper().replace(" ", "")
        fiscal = _check_fiscal_start(fiscal_start_month)
        if m := _MONTH_RE.match(raw):
            year, month = int(m.group(1)), int(m.group(2))
            if not 1 <= month <= 12:
                raise ValueError(f"{text!r}: month {month} is not 1-12")
            return cls._build("month", date(year, month, 1), None)
        if m := _QUARTER_RE.match(raw):
            is_fy, year, quarter = bool(m.group(1)), int(m.group(2)), int(m.group(3))
            if not is_fy:
                return cls._build("quarter", date(year, 3 * quarter - 2, 1), None)
            fy_start = _fiscal_year_start(year, fiscal)
            return cls._build("quarter", _add_months(fy_start, 3 * (quarter - 1)), fiscal)
        if m := _YEAR_RE.match(raw):
            is_fy, year = bool(m.group(1)), int(m.group(2))
            if not is_fy:
                return cls._build("year", date(year, 1, 1), None)
            return cls._build("year", _fiscal_year_start(year, fiscal), fiscal)
        raise ValueError(
            f"{text!r} is not a period: use 2024-05, 2024-Q2, 2024, FY2025-Q1 or FY2025"
        )

    @classmethod
    def containing(
        cls, day: date, kind: PeriodKind, fiscal_start_month: int | None = None
    ) -> Period:
        """The month/quarter/year that `day` falls in (fiscal if a start month is given)."""
        if kind not in _LENGTH_MONTHS:
            raise ValueError(f"unknown period kind {kind!r}: use month, quarter or year")
        first = date(day.year, day.month, 1)
        if kind == "month":
            return cls._build("month", first, None)
        fiscal = None if fiscal_start_month is None else _check_fiscal_start(fiscal_start_month)
        anchor = fiscal or 1  # quarters and years are counted from the year's first month
        offset = (first.month - anchor) % _LENGTH_MONTHS[kind]
        return cls._build(kind, _add_months(first, -offset), fiscal)

    # -- navigation -----------------------------------------------------------------

    def shifted(self, periods: int) -> Period:
        """The period `periods` steps later (negative: earlier), same kind and calendar.

        A period "to date" shifts to the same number of days of the other period (1-16 Nov
        -> 1-16 Oct), so a half month is never compared with a whole one.
        """
        months = _LENGTH_MONTHS[self.kind] * periods
        out = self._build(self.kind, _add_months(self.start, months), self.fiscal_start_month)
        return self._same_days(out)

    def previous(self) -> Period:
        """The period just before this one: May -> April, Q1 -> last year's Q4."""
        return self.shifted(-1)

    def same_last_year(self) -> Period:
        """The same month/quarter/year one year earlier (year-over-year comparison)."""
        out = self._build(self.kind, _add_months(self.start, -12), self.fiscal_start_month)
        return self._same_days(out)

    # -- periods that are not over -------------------------------------------------------

    @property
    def full_end(self) -> date:
        """The last day of the whole month/quarter/year, whether or not it is over."""
        return _add_months(self.start, _LENGTH_MONTHS[self.kind]) - timedelta(days=1)

    @property
    def is_to_date(self) -> bool:
        """True when this is the first part of a period that was not over on the data's date."""
        return self.end < self.full_end

    def to_date(self, day: date | None) -> Period:
        """This period cut at `day` when `day` falls inside it ("1-16 Nov"), else itself.

        Why: the data stops on its as-of date. A month that was not over then has only
        part of its deals, and comparing it with a full month makes every card red.
        """
        if day is None or not self.start <= day < self.end:
            return self
        return replace(self, end=day)

    def whole(self) -> Period:
        """The whole month/quarter/year, even when this is only its part to date."""
        return replace(self, end=self.full_end) if self.is_to_date else self

    def _same_days(self, other: Period) -> Period:
        return other.same_days_as(self)

    def same_days_as(self, cut: Period) -> Period:
        """This period cut to the days `cut` covers when `cut` was not over (1-16 Nov ->
        1-16 Oct, counted from each start), else itself; named "2024-10 (1–16 Oct)": it is
        the comparison, not a period that was not over."""
        if not cut.is_to_date:
            return self
        out = self.to_date(same_days_end(cut.start, cut.end, self.start))
        return replace(out, same_days=out.is_to_date)

    @property
    def name(self) -> str:
        """What people read: the label, plus the days covered when the period is not over.

        `label` stays the period's key (URLs, CLI arguments, commission months); `name` is
        for captions and headings, e.g. ``2026-11 to date (1–16 Nov)``; the same days of a
        period that was over, the comparison of one that was not, are ``2026-10 (1–16
        Oct)``: October was over, so "to date" would misname it.
        """
        if not self.is_to_date:
            return self.label
        if self.same_days:
            return f"{self.label} ({_day_span(self.start, self.end)})"
        return f"{self.label} to date ({_day_span(self.start, self.end)})"

    def trailing(self, months: int) -> Period:
        """The `months` whole months ending with this period's last month.

        Why: a single month is too short to judge a rep's level on (one deal makes or
        breaks it), so the quadrant looks at the trailing quarter when a month is viewed.
        The window keeps this period's end; its `kind` is nominal (a 3-month window is a
        "quarter" that need not start on a quarter), so step between windows with
        `trailing` on an earlier month, never with `shifted`, which would relabel it.
        """
        if months < 1:
            raise ValueError(f"a window is at least 1 month, not {months}")
        last = date(self.end.year, self.end.month, 1)
        start = _add_months(last, -(months - 1))
        if start == self.start:
            return self
        if months == 1:
            return self._build("month", start, None).to_date(self.end)
        kind: PeriodKind = "year" if months == 12 else "quarter"
        label = f"{start:%Y-%m} – {last:%Y-%m}"
        return Period(kind, start, self.end, label, self.fiscal_start_month)

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def is_fiscal(self) -> bool:
        return self.fiscal_start_month is not None

    def __str__(self) -> str:
        return self.label


def same_days_end(start: date, end: date, other_start: date) -> date:
    """The day that ends the same part of a period starting on `other_start` as [start, end].

    By the calendar, not by a count of days: 1 Jan-15 Jul 2024 (a leap year) matches
    1 Jan-15 Jul 2023, 1 Oct-16 Nov matches 1 Jul-16 Aug, and 1-30 Mar matches all of
    February (a 30th it does not have is its last day).
    """
    months = (end.year - start.year) * 12 + end.month - start.month
    first = _add_months(date(other_start.year, other_start.month, 1), months)
    last_day = (_add_months(first, 1) - timedelta(days=1)).day
    return date(first.year, first.month, min(end.day, last_day))


def _day_span(start: date, end: date) -> str:
    """'1–16 Nov', '1 Oct–16 Nov', '1 Dec 2025–16 Jan 2026': short, and unambiguous."""
    if start.year != end.year:
        return f"{start.day} {start:%b %Y}–{end.day} {end:%b %Y}"
    if start.month != end.month:
        return f"{start.day} {start:%b}–{end.day} {end:%b}"
    return f"{start.day}–{end.day} {end:%b}"


@memoised
def data_as_of(con: duckdb.DuckDBPyConnection) -> date | None:
    """The day the newest deals export describes (its as-of date), never after today.

    Pages and the CLI judge which periods are over by this date, not by the wall clock:
    data exported on 16 Nov says nothing about 17-30 Nov. The one definition: the
    Pipeline page and the forecasts read it too (each once had its own copy, without the
    "never after today").
    """
    row = con.execute("SELECT max(snapshot_date) FROM opportunities").fetchone()
    day = row[0] if row else None
    if day is None:
        return None
    return min(day, date.today())


def default_period(periods: list[Period], as_of: date | None) -> Period:
    """The period a page opens on: the newest one that was over by `as_of`.

    `periods` is newest first (as `periods_between` gives them). Without a date, or when
    no period is over yet, the newest one.
    """
    if not periods:
        raise ValueError("no period to choose from")
    if as_of is None:
        return periods[0]
    for period in periods:
        if period.end <= as_of:
            return period
    return periods[0]


def _fiscal_year_start(fy: int, fiscal_start_month: int) -> date:
    """First day of fiscal year `fy`, which ends in calendar year `fy`."""
    if fiscal_start_month == 1:
        return date(fy, 1, 1)
    return date(fy - 1, fiscal_start_month, 1)


def _fiscal_year_of(start: date, fiscal_start_month: int) -> int:
    """The fiscal year (named by its end year) that the month starting on `start` is in."""
    if fiscal_start_month == 1:
        return start.year
    return start.year + 1 if start.month >= fiscal_start_month else start.year


def _label(kind: PeriodKind, start: date, fiscal_start_month: int | None) -> str:
    if kind == "month":
        return f"{start.year:04d}-{start.month:02d}"
    if fiscal_start_month is None:
        if kind == "quarter":
            return f"{start.year:04d}-Q{(start.month - 1) // 3 + 1}"
        return f"{start.year:04d}"
    fy = _fiscal_year_of(start, fiscal_start_month)
    if kind == "quarter":
        quarter = ((start.month - fiscal_start_month) % 12) // 3 + 1
        return f"FY{fy:04d}-Q{quarter}"
    return f"FY{fy:04d}"


def periods_between(
    first: date, last: date, kind: PeriodKind, fiscal_start_month: int | None = None
) -> list[Period]:
    """Every period of `kind` touching [first, last], newest first (for a period picker)."""
    if last < first:
        first, last = last, first
    current = Period.containing(last, kind, fiscal_start_month)
    out: list[Period] = []
    while current.end >= first:
        out.append(current)
        current = current.previous()
    return out


@dataclass(frozen=True)
class Scope:
    """What a page asks about: a period and optional team / region / rep filters.

    None means "all". Team and region are the rep's attributes in the `reps` table, matched
    through `opportunities.owner = reps.rep`; rep is the owner name exactly as on deals.

    `access` is who is asking (analytics.access). The filters are clamped to it when the
    Scope is built: a manager's Scope always has their team, a rep's their own name, so
    every query that binds `params()` into `OWNER_FILTER_SQL` (or reads `team`/`rep`)
    returns only rows the person may see. Asking for another team or rep is refused
    (AccessDenied) rather than silently answered with different rows.
    """

    period: Period
    team: str | None = None
    region: str | None = None
    rep: str | None = None
    access: Access = EVERYTHING

    def __post_init__(self) -> None:
        for name, allowed in (("team", self.access.team), ("rep", self.access.rep)):
            if allowed is None:
                continue
            asked = getattr(self, name)
            if asked is None:
                object.__setattr__(self, name, allowed)  # frozen: set once, while building
            elif asked != allowed:
                raise AccessDenied(
                    f"{self.access.user} ({self.access.describe()}) may not see {name} {asked!r}"
                )

    def with_period(self, period: Period) -> Scope:
        return replace(self, period=period)

    def to_date(self, day: date | None) -> Scope:
        """The same scope with its period cut at `day` when the period was not over then."""
        return self.with_period(self.period.to_date(day))

    def previous(self) -> Scope:
        """The same filters over the previous period: the baseline for deltas."""
        return self.with_period(self.period.previous())

    def params(self) -> dict[str, Any]:
        """Named SQL parameters for `OWNER_FILTER_SQL` and period filters ($period_start...).

        Values are always bound, never formatted into SQL: team and rep names come from
        users' files.
        """
        return {
            "period_start": self.period.start,
            "period_end": self.period.end,
            "team": self.team,
            "region": self.region,
            "rep": self.rep,
        }

    def describe(self) -> str:
        """A short human label, e.g. '2024-Q2 · team East · rep Ann'."""
        parts = [self.period.name]
        parts += [f"{name} {value}" for name, value in self._filters() if value]
        return " · ".join(parts)

    def _filters(self) -> list[tuple[str, str | None]]:
        return [("team", self.team), ("region", self.region), ("rep", self.rep)]


# Deals in scope by owner. Use with `LEFT JOIN reps r ON r.rep = <deals>.owner`; without
# a team/region filter, deals whose owner is missing from `reps` still count.
OWNER_FILTER_SQL = """(
        ($team IS NULL OR r.team = $team)
    AND ($region IS NULL OR r.region = $region)
    AND ($rep IS NULL OR {owner} = $rep)
)"""


def owner_filter_sql(owner_column: str = "o.owner") -> str:
    """`OWNER_FILTER_SQL` for a given owner column (a fixed identifier, never user text)."""
    return OWNER_FILTER_SQL.format(owner=owner_column)


@dataclass(frozen=True)
class ScopeOptions:
    """What a filter sidebar can offer, read from the data itself."""

    teams: list[str]
    regions: list[str]
    reps: list[str]
    first_date: date | None  # earliest created or close date of any deal
    last_date: date | None  # latest close date of a closed deal (else of any deal)
    opportunity_count: int


def scope_options(
    con: duckdb.DuckDBPyConnection,
    team: str | None = None,
    region: str | None = None,
    access: Access = EVERYTHING,
) -> ScopeOptions:
    """Teams, regions, reps (narrowed by the chosen team/region) and the data's date span.

    Reps are the `reps` table plus owners found only on deals (when no team/region is
    chosen), so a rep missing from the roster can still be picked. Everything offered is
    within `access`: a manager is offered their team and its reps, a rep only themselves.
    The deal count and date span are the whole database's (no figure of anyone's).
    """
    limits = {"access_team": access.team, "access_rep": access.rep}
    visible = """
        WITH candidates AS (
            SELECT rep, team, region FROM reps
            UNION
            SELECT DISTINCT owner, NULL, NULL FROM opportunities
            WHERE owner IS NOT NULL AND owner NOT IN (SELECT rep FROM reps)
        )
        SELECT DISTINCT {column} FROM candidates
        WHERE ($access_team IS NULL OR team = $access_team)
          AND ($access_rep IS NULL OR rep = $access_rep)
          AND {column} IS NOT NULL AND {column} <> ''
          {narrowing}
        ORDER BY 1
    """

    def values(column: str, narrowing: str = "", extra: dict[str, Any] | None = None) -> list:
        sql = visible.format(column=column, narrowing=narrowing)
        return [r[0] for r in con.execute(sql, limits | (extra or {})).fetchall()]

    teams = values("team")
    regions = values("region")
    reps = values(
        "rep",
        "AND ($team IS NULL OR team = $team) AND ($region IS NULL OR region = $region)",
        {"team": team, "region": region},
    )
    count, first, last_closed, last_any = con.execute(
        """
        SELECT count(*),
               least(min(created_date), min(close_date)),
               max(close_date) FILTER (WHERE is_closed),
               max(close_date)
        FROM opportunities
        """
    ).fetchone()
    return ScopeOptions(teams, regions, reps, first, last_closed or last_any, int(count))


def rep_visible(con: duckdb.DuckDBPyConnection, access: Access, rep: str) -> bool:
    """Whether `access` may see the rep's rows (a manager: a rep of their team)."""
    if access.rep is not None:
        return rep == access.rep
    if access.team is None:
        return True
    row = con.execute("SELECT team FROM reps WHERE rep = ?", [rep]).fetchone()
    return row is not None and row[0] == access.team


def check_rep(con: duckdb.DuckDBPyConnection, access: Access, rep: str) -> None:
    """Refuse (AccessDenied) a per-rep read such as a drill-down outside the access."""
    if not rep_visible(con, access, rep):
        raise AccessDenied(f"{access.user} ({access.describe()}) may not see rep {rep!r}")


def load_fiscal_start_month(con: duckdb.DuckDBPyConnection) -> int:
    """The fiscal year's first month from settings (key `fiscal_year_start_month`), else 1.

    Kept in the settings table, like the stage list, so ops can change it without a deploy.
    A missing or invalid value means a calendar fiscal year rather than an error.
    """
    row = con.execute("SELECT value FROM settings WHERE key = ?", [FISCAL_START_KEY]).fetchone()
    if not row:
        return 1
    try:
        return _check_fiscal_start(int(json.loads(row[0])))
    except (TypeError, ValueError):
        return 1


def save_fiscal_start_month(
    con: duckdb.DuckDBPyConnection, month: int, access: Access | None = None
) -> None:
    """Store the fiscal year's first month (1-12); only ops may (see put_setting)."""
    put_setting(con, FISCAL_START_KEY, json.dumps(_check_fiscal_start(month)), access)
