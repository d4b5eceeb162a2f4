"""Recorded runs and period approval: what was paid stays what was paid.

Why store lines instead of recomputing: a payout that changes after payroll ran is the
dispute this feature exists to prevent. Ops *lock* a month; the lock stores every rep's
statement lines (a `lock` run) and from then on the month's statements are read from
those rows, whatever happens to the deals, quotas, splits or plans. Data that changes
later is paid as adjustment lines in the next open month (see `Ledger.corrections`).

A *run* (`record_run`) stores the same lines without locking, so "why did my payout
change" can compare two moments of the same month line by line. Runs and locks are
append-only: nothing here updates or deletes a stored line, and a month is never unlocked.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb
import pandas as pd

from analytics import audit
from analytics.access import EVERYTHING, Access, require
from analytics.commissions.engine import Ledger, month_periods
from analytics.commissions.lines import Statement, load_run
from analytics.commissions.schema import ensure_schema
from analytics.db import transaction
from analytics.scope import Period, rep_visible


def _month(period: Period) -> Period:
    if period.kind != "month":
        raise ValueError(f"commissions are paid per month: {period.label} is a {period.kind}")
    return period


def _store(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    statements: dict[str, Statement],
    kind: str,
    by: str | None,
    note: str,
) -> int:
    row = con.execute(
        "INSERT INTO commission_runs (period_start, period_label, kind, created_at, created_by, "
        "note) VALUES (?, ?, ?, ?, ?, ?) RETURNING run_id",
        [period.start, period.label, kind, datetime.now(), by, note or None],
    ).fetchone()
    run_id = int(row[0])
    heads = [
        (
            run_id, st.rep, st.plan_name, st.plan_version, st.role, st.level, st.quota,
            st.quota_source, st.credited_bookings,
        )
        for st in statements.values()
    ]  # fmt: skip
    lines = [
        (
            run_id, st.rep, n, x.kind, x.key, x.home_period, x.opportunity_id, x.description,
            x.deal_amount, x.share, x.credited, x.band, x.rate, x.multiplier, x.amount,
        )
        for st in statements.values()
        for n, x in enumerate(st.lines, start=1)
    ]  # fmt: skip
    if heads:
        con.executemany(
            "INSERT INTO commission_run_reps (run_id, rep, plan_name, plan_version, role, level, "
            "quota, quota_source, credited_bookings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            heads,
        )
    if lines:
        con.executemany(
            "INSERT INTO commission_statement_lines (run_id, rep, line_no, kind, line_key, "
            "home_period, opportunity_id, description, deal_amount, share, credited, band, rate, "
            "multiplier, amount) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            lines,
        )
    return run_id


def _by(by: str | None, access: Access) -> str | None:
    """Who is named on the run: as given, else the signed-in person (None headless)."""
    if by is None and access != EVERYTHING:
        return access.user
    return by


def record_run(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    by: str | None = None,
    note: str = "",
    access: Access = EVERYTHING,
) -> int:
    """Store every rep's current statement for the month; returns the run id.

    For a locked month this stores the frozen statements again (they cannot differ).
    Only sales operations may record (AccessDenied otherwise): a run stores every rep's
    statement.
    """
    require(access, "record_run")
    by = _by(by, access)
    ensure_schema(con)
    month = _month(period)
    statements = Ledger(con).payable(month)
    with transaction(con):
        run_id = _store(con, month, statements, "run", by, note)
        audit.record(
            con, access.user, "record_run", month=month.label, run_id=run_id, by=by, note=note
        )
        return run_id


def lock_period(
    con: duckdb.DuckDBPyConnection,
    period: Period,
    *,
    by: str | None = None,
    note: str = "",
    access: Access = EVERYTHING,
) -> int:
    """Approve a month: store its statements as they are now and freeze them for ever.

    Returns the lock run's id. Refused (ValueError) when the month is already locked.
    Statements are computed before the transaction starts and the lock re-checked inside
    it, so two ops clicking at once still produce exactly one lock. Only sales operations
    may lock (AccessDenied otherwise); the lock and its audit row land together.
    """
    require(access, "lock_period")
    by = _by(by, access)
    ensure_schema(con)
    month = _month(period)
    statements = Ledger(con).payable(month)
    with transaction(con):
        existing = con.execute(
            "SELECT run_id FROM commission_locks WHERE period_start = ?", [month.start]
        ).fetchone()
        if existing:
            raise ValueError(f"{month.label} is already locked")
        run_id = _store(con, month, statements, "lock", by, note)
        con.execute(
            "INSERT INTO commission_locks (period_start, period_label, run_id, locked_at, "
            "locked_by) VALUES (?, ?, ?, ?, ?)",
            [month.start, month.label, run_id, datetime.now(), by],
        )
        audit.record(
            con, access.user, "lock_period", month=month.label, run_id=run_id,
            approved_by=by, reps=len(statements),
        )  # fmt: skip
    return run_id


def is_locked(con: duckdb.DuckDBPyConnection, period: Period) -> bool:
    ensure_schema(con)
    months = month_periods(period)
    starts = [m.start for m in months]
    row = con.execute(
        "SELECT count(*) FROM commission_locks WHERE list_contains(?, period_start)", [starts]
    ).fetchone()
    return int(row[0]) == len(starts)


def locks(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Locked months, newest first: period, locked_at, locked_by, run_id, reps, total."""
    ensure_schema(con)
    return con.execute(
        """
        SELECT k.period_label AS period, k.locked_at, k.locked_by, k.run_id,
               (SELECT count(*) FROM commission_run_reps r WHERE r.run_id = k.run_id) AS reps,
               (SELECT coalesce(sum(l.amount), 0) FROM commission_statement_lines l
                WHERE l.run_id = k.run_id) AS total
        FROM commission_locks AS k
        ORDER BY k.period_start DESC
        """
    ).df()


def runs(con: duckdb.DuckDBPyConnection, period: Period) -> pd.DataFrame:
    """Stored runs of a month, newest first: run_id, kind (run/lock), created_at, by, note."""
    ensure_schema(con)
    month = _month(period)
    return con.execute(
        "SELECT run_id, kind, created_at, created_by, note FROM commission_runs "
        "WHERE period_start = ? ORDER BY created_at DESC, run_id DESC",
        [month.start],
    ).df()


def run_statements(
    con: duckdb.DuckDBPyConnection, run_id: int, *, access: Access = EVERYTHING
) -> dict[str, Statement]:
    """The statements of a stored run (rep -> Statement) that `access` may see."""
    locked = con.execute(
        "SELECT count(*) FROM commission_locks WHERE run_id = ?", [run_id]
    ).fetchone()
    out = load_run(con, run_id, locked=bool(locked and locked[0]))
    if access.sees_everything:
        return out
    return {rep: st for rep, st in out.items() if rep_visible(con, access, rep)}


def next_open_month(con: duckdb.DuckDBPyConnection, after: date) -> Period:
    """The first month after `after`'s month that is not locked (where corrections go)."""
    ensure_schema(con)
    locked = {r[0] for r in con.execute("SELECT period_start FROM commission_locks").fetchall()}
    month = Period.containing(after, "month").shifted(1)
    while month.start in locked:
        month = month.shifted(1)
    return month
