"""Which day an export shows: every snapshot has a known date, never a silent today.

Why: an export imported without a date used to be stamped with today, so a 2017 export's
open deals became today's pipeline (issue 12.4). The as-of date is the first of these
that exists, and the import result says which one it was:

1. the date given (`--as-of`, the Data page);
2. a date in the file name (`opportunities_2026-11-16.csv`, `Report 16.11.2026.xlsx`);
3. a report-run or last-modified column (`report_date`): its latest value;
4. the latest date the file proves: created dates, close dates of *closed* deals, lead
   and activity dates; never later than today;
5. only when the file holds none of these: today, said so in the result.

A file that contradicts a date it was given (1-3: deals created, or closed, after it) is
refused with the count and an example row. One exception, said in the result rather than
refused: with the date from a last-modified column (3), a closed deal may carry a close
date after it, because Salesforce lets a user keep a planned close date in the future when
closing a deal (the real Salesforce export in ../shared/realdata has one: Closed Lost on
2026-03-31, last modified 2026-02-24, in a file last modified 2026-03-07). Such deals load
as closed, dated by their close date, and the result counts them with an example row
(`AsOf.notice`) so the oddity is visible, not silent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

import duckdb

from analytics.db import quote_ident
from analytics.ingest.detect import Detection
from analytics.ingest.problems import refuse
from analytics.ingest.stage import Staged

# ISO order first (2026-11-16, 2026_11_16, 20261116), then day first (16.11.2026, 16-11-2026).
# Each is a lookahead, so a date is found at every position, overlapping others: a plain
# match consumed "1252_2026" of "deals_cp1252_2026-12-05.csv" (not a date) and then could
# not see the 2026-12-05 it had eaten the year of.
_ISO = re.compile(r"(?<!\d)(?=(\d{4})[-_.]?(\d{2})[-_.]?(\d{2})(?!\d))")
_DMY = re.compile(r"(?<!\d)(?=(\d{1,2})[.\-_](\d{1,2})[.\-_](\d{4})(?!\d))")

# per kind: date fields whose latest value the export proves (a closed deal's close date
# only: an open deal's close date is a plan)
CONTENT_DATES: dict[str, tuple[str, ...]] = {
    "opportunities": ("created_date", "close_date"),
    "leads": ("created_at", "first_response_at", "converted_at"),
    "activities": ("started_at",),
    "stage_history": ("entered_at",),
    "lead_events": ("occurred_at",),
}


CREATED = ("created_date", "created_at")
CONTRADICTING = ("created_date", "close_date", "created_at", "converted_at")


@dataclass(frozen=True)
class AsOf:
    day: date
    source: str  # given | file name | column | content | today
    detail: str = ""  # what exactly: the column, the field
    # closed deals allowed a close date after the day (a last-modified column's date):
    # said in the import result, with the count and the first row
    notice: str = ""

    @property
    def described(self) -> str:
        """The date and where it came from, for the import result and the Data page."""
        why = {
            "given": "as given",
            "file name": "from the file name",
            "column": f"from the column {self.detail!r}",
            "content": f"the latest date in the file: {self.detail}",
            "today": "today: nothing in the file or its name gives a date",
        }[self.source]
        return f"as of {self.day:%Y-%m-%d} ({why})"


def from_file_name(name: str, today: date | None = None) -> date | None:
    """A real calendar date written in the file name, not after today."""
    return file_name_dates(name, today)[0]


def file_name_dates(name: str, today: date | None = None) -> tuple[date | None, list[date]]:
    """(the last real calendar date in the file name that is not after today, the real
    dates after today that were passed over). The second is for the import result: a
    name dated in the future is a typo or a planned report, and ignoring it silently
    left the user wondering where the as-of date came from."""
    today = today or date.today()
    found: list[date] = []
    for match in _ISO.finditer(name):
        found += _valid(int(match[1]), int(match[2]), int(match[3]))
    found = [d for d in found if d >= date(1990, 1, 1)]  # "1234_05.11": a version, no date
    if not found:
        for match in _DMY.finditer(name):
            found += _valid(int(match[3]), int(match[2]), int(match[1]))
        found = [d for d in found if d >= date(1990, 1, 1)]
    usable = [d for d in found if d <= today]
    return (usable[-1] if usable else None), [d for d in found if d > today]


def _future_name_notice(later: list[date], today: date) -> str:
    if not later:
        return ""
    days = ", ".join(f"{d:%Y-%m-%d}" for d in later)
    one = len(later) == 1
    return (
        f"the date{'' if one else 's'} {days} in the file name {'is' if one else 'are'} "
        f"after today ({today:%Y-%m-%d}) and {'was' if one else 'were'} not used as the "
        "as-of date"
    )


def _valid(year: int, month: int, day: int) -> list[date]:
    try:
        return [date(year, month, day)]
    except ValueError:
        return []


def _closed_sql(staged: Staged) -> str:
    """Whether a staged deal is closed, from the same signals the loader uses."""
    if staged.won_stage is not None:
        return "TRUE"  # a won-deal list: every row is a closed sale
    parts = []
    if "is_closed" in staged.fields:
        parts.append("is_closed")
    if "is_won" in staged.fields:
        parts.append("is_won")
    if "status" in staged.fields:
        parts.append("status IN ('won', 'lost')")
    if "stage" in staged.fields:
        parts += ["stage_closed", "stage_won"]
    if not parts:
        return "FALSE"
    return "coalesce(" + " OR ".join(f"coalesce({p}, FALSE)" for p in parts) + ", FALSE)"


def _content_exprs(staged: Staged) -> list[tuple[str, str]]:
    """(field, SQL for the dates it proves) for the kind's content dates in this file."""
    out = []
    for f in CONTENT_DATES.get(staged.kind.name, ()):
        if f not in staged.fields:
            continue
        col = f"CAST({quote_ident(f)} AS DATE)"
        if f == "close_date":
            col = f"CASE WHEN {_closed_sql(staged)} THEN {col} END"
        out.append((f, col))
    return out


def resolve(
    con: duckdb.DuckDBPyConnection,
    staged: Staged,
    det: Detection,
    file_name: str,
    given: date | None,
    today: date | None = None,
) -> AsOf:
    """The as-of date of this upload and its source; refuses a contradicted one."""
    today = today or date.today()
    where = "" if not staged.problem_count else " WHERE __line NOT IN (SELECT line FROM problems)"
    found: AsOf | None = None
    named, later = file_name_dates(file_name, today)
    # said only when the name would otherwise have been the source (a given date wins)
    ignored = "" if given is not None else _future_name_notice(later, today)
    if given is not None:
        found = AsOf(given, "given")
    elif named is not None:
        found = AsOf(named, "file name")
    elif "report_date" in staged.fields:
        (latest,) = con.execute(
            f"SELECT max(CAST(report_date AS DATE)) FROM staged{where}"
        ).fetchone()
        if latest is not None:
            found = AsOf(min(latest, today), "column", det.columns["report_date"])
    if found is not None:
        _check_contradiction(con, staged, det, file_name, found, where, today)
        if found.source == "column":
            found = replace(found, notice=_closed_after(con, staged, found, where))
        return _with_notice(found, ignored)
    exprs = _content_exprs(staged)
    if exprs:
        row = con.execute(
            f"SELECT {', '.join(f'max({sql})' for _, sql in exprs)} FROM staged{where}"
        ).fetchone()
        dated = [(d, f) for d, (f, _) in zip(row, exprs, strict=True) if d is not None]
        dated = [(d, f) for d, f in dated if d <= today] or [(today, f) for _, f in dated]
        if dated:
            day, f = max(dated)
            what = "close dates of closed deals" if f == "close_date" else f"{f} values"
            found = AsOf(day, "content", f"{what}, column {det.columns[f]!r}")
            # a closed deal dated after today was left out of the as-of day above (a typo
            # such as 2062, or a planned date kept at closing): loaded, but never silently
            found = replace(found, notice=_closed_after(con, staged, found, where, today))
            return _with_notice(found, ignored)
    return _with_notice(AsOf(today, "today"), ignored)


def _with_notice(found: AsOf, notice: str) -> AsOf:
    """`found` with `notice` added to what its notice already says."""
    if not notice:
        return found
    return replace(found, notice="; ".join(n for n in (found.notice, notice) if n))


def _closed_after(
    con: duckdb.DuckDBPyConnection,
    staged: Staged,
    as_of: AsOf,
    where: str,
    today: date | None = None,
) -> str:
    """The closed deals whose close date is after the as-of day, in words ("" for none):
    allowed, since a CRM may keep a planned close date when a deal is closed, but said.
    A first such date after `today` is named as one (often a typo, such as 2062): the
    deal counts in no period's figures until that day comes."""
    if staged.kind.name != "opportunities" or "close_date" not in staged.fields:
        return ""
    late = f"{_closed_sql(staged)} AND CAST(close_date AS DATE) > ?"
    filt = f"{where} {'AND' if where else 'WHERE'} ({late})"
    stage = "stage" if "stage" in staged.fields else "NULL"
    row = con.execute(
        f"""
        WITH late AS (
            SELECT __line, {stage} AS stage, CAST(close_date AS DATE) AS day
            FROM staged{filt}
        )
        SELECT (SELECT count(*) FROM late), __line, stage, day
        FROM late ORDER BY __line LIMIT 1
        """,
        [as_of.day],
    ).fetchone()
    if row is None:
        return ""
    count, line, stage_value, day = row
    one = count == 1
    example = f"{stage_value} on {day:%Y-%m-%d}" if stage_value else f"closed on {day:%Y-%m-%d}"
    future = today is not None and day > today
    return (
        f"{count:,} closed deal{'' if one else 's'} {'carries' if one else 'carry'} a close "
        f"date after the as-of day {as_of.day:%Y-%m-%d} ({'' if one else 'first: '}row {line}: "
        f"{example}{', after today: a typo?' if future else ''}); counted as closed on "
        f"{'its' if one else 'their'} close date{'' if one else 's'}"
        f"{', so in no figure until then' if future else ''}"
    )


def _check_contradiction(
    con: duckdb.DuckDBPyConnection,
    staged: Staged,
    det: Detection,
    file_name: str,
    as_of: AsOf,
    where: str,
    today: date | None = None,
) -> None:
    """Refuse a file whose rows happened after its as-of day. The advice names the likely
    cause: a wrong as-of day, or, for a first such date after today, a typo in the file
    (a year such as 2062), which another as-of day would not fix."""
    # only what cannot be planned ahead: activities and events may be scheduled later
    exprs = [(f, sql) for f, sql in _content_exprs(staged) if f in CONTRADICTING]
    if as_of.source == "column":
        # a last-modified column: Salesforce lets a won deal carry a future close date, so
        # only a record created after its own latest change is impossible
        exprs = [(f, sql) for f, sql in exprs if f in CREATED]
    if not exprs:
        return
    after = " OR ".join(f"{sql} > ?" for _, sql in exprs)
    filt = f"{where} {'AND' if where else 'WHERE'} ({after})"
    params = [as_of.day] * len(exprs)
    (count,) = con.execute(f"SELECT count(*) FROM staged{filt}", params).fetchone()
    if not count:
        return
    cols = ", ".join(f"{sql}" for _, sql in exprs)
    line, *days = con.execute(
        f"SELECT __line, {cols} FROM staged{filt} ORDER BY __line LIMIT 1", params
    ).fetchone()
    f, day = next((f, d) for (f, _), d in zip(exprs, days, strict=True) if d and d > as_of.day)
    what = {
        "created_date": "created",
        "close_date": "closed",
        "created_at": "created",
        "converted_at": "converted",
        "first_response_at": "answered",
    }.get(f, "dated")
    noun = "deal" if staged.kind.name == "opportunities" else "row"
    raise refuse(
        file_name,
        f"the file contradicts its {as_of.described}: {count:,} {noun}"
        f"{'' if count == 1 else 's'} {'was' if count == 1 else 'were'} created or closed "
        f"after that day (this row was {what} on {day:%Y-%m-%d}"
        + (
            ", after today: a typo? Correct the date in the CRM or the file"
            if today is not None and day > today
            else "); give the day the export was taken (--as-of, or the Data page"
        )
        + ")",
        line=line,
        column=det.columns[f],
        value=f"{day:%Y-%m-%d}",
    )
