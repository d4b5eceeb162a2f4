"""Commissions: what every rep is paid, why, what closing more would pay, and approval.

Ops pay commissions from this page and reps ask it "why is my payout what it is", so every
figure comes from statement lines (analytics.commissions): the team table sums them, the
statement lists them with the sentence that explains the total, the what-if recomputes
them with chosen open deals closed, and approval freezes them. Plans, splits, SPIFFs,
draws and refunds are edited on the Plans tab and validated in full before anything is
saved. The page only draws; definitions are in docs/metrics.md (Commissions).

Pay is private: a rep sees their own statement, a manager their team's (the Ledger is
built with the signed-in Access and refuses anyone else); recording runs, approval and
plans are for sales operations, and executives may read the approval history.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from analytics.access import Access, can
from analytics.commissions import approval
from analytics.commissions.engine import Ledger, month_periods
from analytics.commissions.lines import Statement
from analytics.commissions.plans import (
    plan_for_month,
)
from analytics.commissions.statements import (
    diff_statements,
    explain,
    explain_change,
    export_bytes,
    open_deals,
    payroll_file_name,
    projectable,
    statement_file_name,
    statement_frame,
    unprojectable,
    what_if,
)
from analytics.commissions.team import month_totals, scoped_reps, team_summary, team_table
from analytics.exports import CSV_MIME, EXCEL_MIME
from analytics.markup import md, md_list
from analytics.numbers import counted, verb
from analytics.scope import Period, Scope
from pages import _auth, _editing, _plan_editor, _ui

NOW = "now (current data)"
NO_PLAN = "no plan"  # a rep no rule covers: nothing computed, never 0.00
MONEY_FORMAT = "%,.2f"


# --- plumbing -------------------------------------------------------------------------------


def _display(df: pd.DataFrame) -> pd.DataFrame:
    """Decimal columns as floats for the browser table (exports keep the Decimals)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object and out[col].map(lambda v: isinstance(v, Decimal)).any():
            out[col] = out[col].map(lambda v: float(v) if isinstance(v, Decimal) else v)
    for col in ONE_DECIMAL_PERCENT:
        if col in out.columns:  # shown in per cent with one decimal; exports keep the share
            out[col] = pd.to_numeric(out[col], errors="coerce") * 100
    return out


def _money(value: Decimal | None) -> str:
    return _ui.DASH if value is None else f"{value:,.2f}"


def _downloads(df: pd.DataFrame, name: str, key: str, sheet: str) -> None:
    with st.container(horizontal=True):
        st.download_button(
            "CSV", data=export_bytes(df, "csv"), file_name=f"{name}.csv", mime=CSV_MIME,
            key=f"{key}:csv", icon=":material/download:", on_click="ignore",
        )  # fmt: skip
        st.download_button(
            "Excel", data=lambda: export_bytes(df, "xlsx", sheet), file_name=f"{name}.xlsx",
            mime=EXCEL_MIME, key=f"{key}:xlsx", icon=":material/download:", on_click="ignore",
        )  # fmt: skip


MONEY_COLUMNS = (
    "credited_bookings", "quota", "commission", "base", "adjustments", "total", "spiffs",
    "clawbacks", "draws", "prior_period_adjustments", "deal_amount", "credited", "amount",
    "before", "after", "change", "from", "to", "credited_now", "commission_now",
    "credited_projected", "commission_projected",
)  # fmt: skip
PERCENT_COLUMNS = ("rate", "share")  # commission rates keep every decimal (1.25%)
# Attainment reads with one fixed decimal ("145.5%", "0.0%"), as shares do on every page:
# the "percent" preset printed 145.5%, 0%, 245.69%, 155% in one column.
ONE_DECIMAL_PERCENT = ("attainment",)


def _config(df: pd.DataFrame) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for col in df.columns:
        label = col.replace("_", " ")
        if col in MONEY_COLUMNS:
            config[col] = st.column_config.NumberColumn(label, format=MONEY_FORMAT)
        elif col in PERCENT_COLUMNS:
            config[col] = st.column_config.NumberColumn(label, format="percent")
        elif col in ONE_DECIMAL_PERCENT:
            config[col] = st.column_config.NumberColumn(label, format="%.1f%%")
    return config


def _table(df: pd.DataFrame, key: str) -> None:
    shown = _display(df)
    st.dataframe(
        shown, hide_index=True, column_config=_config(shown), key=key, placeholder=_ui.DASH
    )


# --- month and reps ---------------------------------------------------------------------------


def _month(scope: Scope) -> Period:
    """Statements, what-if and approval are per month: the scope's, or one of its months."""
    months = month_periods(scope.period)
    if len(months) == 1:
        return months[0]
    labels = [m.label for m in reversed(months)]
    label = st.selectbox(
        "Month", labels, key="com:month",
        help="Commissions are paid per calendar month; the Team tab sums the months of "
        f"{scope.period.label}, the other tabs show one month.",
    )  # fmt: skip
    return months[len(months) - 1 - labels.index(label)] if label in labels else months[-1]


def _pick_rep(ledger: Ledger, month: Period, scope: Scope, key: str) -> str | None:
    reps = scoped_reps(ledger, month, scope)
    if scope.rep:
        return scope.rep
    if not reps:
        st.info(f"No rep has a statement for {month.label}.")
        return None
    return st.selectbox("Rep", reps, key=key)


# --- tabs ---------------------------------------------------------------------------------------


def _team(cur: duckdb.DuckDBPyConnection, ledger: Ledger, scope: Scope) -> None:
    table = team_table(cur, scope, ledger)
    months = month_periods(scope.period)
    versions = sorted({plan_for_month(cur, m.start).label() for m in months})
    st.caption(
        f"Scope: {md(scope.describe())}. Plan in force: {md_list(versions)}. Each month is "
        "paid under the plan version effective then; locked months show their frozen "
        "statements."
    )
    if table.empty:
        st.info("No rep is covered by the plan or credited with a won deal in this period.")
        return
    summary = team_summary(table)
    cols = st.columns(4)
    # every rep "no plan": there is no payout figure, not 0.00, and analytics says why
    if summary.payout_note:
        for col, label in ((cols[0], "Total payout"), (cols[1], "Commission")):
            col.metric(label, "no data", help=f"No data: {summary.payout_note}.")
        cols[0].caption(f"No data: {md(summary.payout_note)}")
    else:
        cols[0].metric("Total payout", _money(summary.total))
        cols[1].metric("Commission", _money(summary.commission))
    at_quota_help = (
        "Reps whose credited bookings (with splits and credits) reached the quota "
        "the plan pays on (the quotas table's, else the plan's), out of the reps with such "
        "a quota. Not the Overview's Reps at quota, which counts bookings against the "
        "quotas table only."
    )
    if summary.no_quota:  # analytics decided: "0 of 0" would read as a result
        cols[2].metric(
            "Reps at commission quota", "no data",
            help=f"{at_quota_help} No data: {summary.no_quota}.",
        )  # fmt: skip
        cols[2].caption(f"No data: {summary.no_quota}")
    else:
        cols[2].metric(
            "Reps at commission quota", f"{summary.at_quota} of {summary.with_quota}",
            help=at_quota_help,
        )  # fmt: skip
    cols[3].metric("Status", "Locked" if summary.locked else "Open")
    if summary.uncovered:
        # the engine computed nothing for them: say why and how to fix it, never 0.00
        st.warning(
            f"{counted(len(summary.uncovered), 'rep')} "
            f"{verb(len(summary.uncovered), 'has', 'have')} no plan, so no payout is computed:\n\n"
            + "\n".join(f"- {md(rep)}: {md(why)}" for rep, why in summary.uncovered)
        )
    uncredited = table[table["not_credited"].notna()]
    if not uncredited.empty:
        # won deals the plan cannot credit (no amount, no rate): their credited bookings
        # are lower than what was sold, or unknown; the statements list them deal by deal
        st.warning(
            f"{counted(len(uncredited), 'rep')} {verb(len(uncredited), 'has', 'have')} won "
            "deals that are not credited (fix the amounts or exchange rates and import "
            "again):\n\n"
            + "\n".join(
                f"- {md(rep)}: {md(text)}"
                for rep, text in zip(uncredited["rep"], uncredited["not_credited"], strict=True)
            )
        )
    _table(table, "com:team_table")
    _downloads(table, payroll_file_name(scope.period.label, "csv")[:-4], "com:payroll", "payroll")


def _statement(cur: duckdb.DuckDBPyConnection, ledger: Ledger, scope: Scope, month: Period) -> None:
    rep = _pick_rep(ledger, month, scope, "com:statement_rep")
    if rep is None:
        return
    st_ = ledger.statement(rep, month)
    if st_ is None:
        st.info(f"{md(rep)} has no statement for {month.label} (no plan covers them and no deal).")
        return
    st.markdown(f"**{explain(st_, quote=md)}**")
    cols = st.columns(4)
    if st_.no_plan:  # nothing computed: never a payout of 0.00
        why = ledger.no_plan_reason(rep, month) or explain(st_)
        cols[0].metric("Total", NO_PLAN, help=f"No plan: {why}")
        cols[1].metric("Commission", NO_PLAN, help=f"No plan: {why}")
    else:
        cols[0].metric("Total", _money(st_.total))
        cols[1].metric("Commission", _money(st_.commission))
    cols[2].metric("Credited bookings", _money(st_.credited_bookings))
    cols[3].metric(
        "Attainment",
        _ui.percent(float(st_.attainment)) if st_.attainment is not None else _ui.DASH,
        help=f"Quota {_money(st_.quota)} from the {st_.quota_source or 'plan'}.",
    )
    frame = statement_frame(st_)
    _table(frame.drop(columns=["rep", "period"]), "com:statement_lines")
    _downloads(frame, statement_file_name(st_, "csv")[:-4], "com:statement", "statement")
    _changes(cur, ledger, rep, month, st_)


def _changes(
    cur: duckdb.DuckDBPyConnection, ledger: Ledger, rep: str, month: Period, now: Statement
) -> None:
    access = ledger.access
    st.subheader("Why did my payout change?")
    _editing.flash("runs")
    runs = approval.runs(cur, month)
    if runs.empty:
        st.caption(
            f"No stored run of {month.label} yet. Record one now; after the data changes, "
            "compare it with the current figures line by line."
        )
    else:
        labels = {
            int(r.run_id): f"#{int(r.run_id)} {r.kind} {pd.Timestamp(r.created_at):%Y-%m-%d %H:%M}"
            + (f" ({r.note})" if isinstance(r.note, str) and r.note else "")
            for r in runs.itertuples(index=False)
        }
        cols = st.columns(2)
        before = cols[0].selectbox(
            "Compare", list(labels), format_func=labels.get, key="com:diff_a"
        )
        after = cols[1].selectbox(
            "with", [NOW, *labels], format_func=lambda v: labels.get(v, v), key="com:diff_b"
        )
        a = approval.run_statements(cur, int(before), access=access).get(rep)
        b = (
            now
            if after == NOW
            else approval.run_statements(cur, int(after), access=access).get(rep)
        )
        st.write(explain_change(a, b))
        diff = diff_statements(a, b)
        if not diff.empty:
            _table(diff, "com:diff")
    if not can(access, "record_run"):
        return
    with st.form("com:record", border=False):
        cols = st.columns([3, 1], vertical_alignment="bottom")
        note = cols[0].text_input("Note for the run (optional)", key="com:run_note")
        if cols[1].form_submit_button("Record this run"):
            run_id = approval.record_run(cur, month, note=note, access=access)
            _editing.saved("runs", f"Recorded run #{run_id} of {month.label}.")


def _what_if(ledger: Ledger, scope: Scope, month: Period) -> None:
    rep = _pick_rep(ledger, month, scope, "com:whatif_rep")
    if rep is None:
        return
    if ledger.is_locked(month):
        st.caption(f"{month.label} is locked: the projection is only an illustration.")
    all_deals = open_deals(ledger, rep, month)
    deals = projectable(all_deals)
    options = {
        r.opportunity_id: f"{r.opportunity_id} {r.opportunity_name or ''} · {r.stage} · "
        f"{float(r.amount):,.0f}"
        + (f" {r.currency}" if r.currency and r.currency != ledger.currency else "")
        + ("" if float(r.share) == 1 else f" x {float(r.share):.0%}")
        for r in deals.itertuples(index=False)
    }
    chosen = st.multiselect(
        "Open deals to close this month", list(options), format_func=options.get,
        key="com:whatif_deals",
        help="Each chosen deal counts as won on the month's last day, with the rep's credit "
        "share, after every deal already won.",
    )  # fmt: skip
    skipped = unprojectable(all_deals, month)
    if skipped:
        st.caption(
            "Not offered (no projection can be made for them): " + md_list(skipped, sep="; ")
        )
    current = ledger.statement(rep, month)
    quota = float(current.quota) if current is not None and current.quota else 10_000.0
    extra = st.slider(
        "Extra bookings", min_value=0.0, max_value=max(quota * 2, 1000.0), value=0.0,
        step=max(round(quota / 20, -2), 100.0), key="com:whatif_extra",
    )  # fmt: skip
    result = what_if(ledger, rep, month, chosen, Decimal(str(extra)))
    cols = st.columns(3)
    if result.current.no_plan and result.projected.no_plan:  # nothing computed either way
        why = ledger.no_plan_reason(rep, month) or explain(result.current)
        cols[0].metric("Payout now", NO_PLAN, help=f"No plan: {why}")
        cols[1].metric("Projected payout", NO_PLAN, help=f"No plan: {why}")
    else:
        cols[0].metric("Payout now", _money(result.current.total))
        cols[1].metric(
            "Projected payout", _money(result.projected.total),
            f"{result.change:+,.2f}" if result.change else None,
        )  # fmt: skip
    attainment = result.projected.attainment
    cols[2].metric(
        "Projected attainment", _ui.percent(float(attainment)) if attainment is not None else "—"
    )
    st.markdown(f"**{explain(result.projected, quote=md)}**")
    st.caption("Tier by tier: what each band of the plan credits and pays, now and projected.")
    _table(result.bands, "com:whatif_bands")


def _approval(cur: duckdb.DuckDBPyConnection, ledger: Ledger, month: Period) -> None:
    access = ledger.access
    _editing.flash("approval")
    locks = approval.locks(cur)
    if ledger.is_locked(month):
        row = locks[locks["period"] == month.label].iloc[0]
        by = f" by {md(row['locked_by'])}" if isinstance(row["locked_by"], str) else ""
        st.success(
            f"{month.label} is locked (since {pd.Timestamp(row['locked_at']):%Y-%m-%d %H:%M}"
            f"{by}): its statements are frozen. Later data changes are paid as corrections "
            f"in {approval.next_open_month(cur, month.start).label}."
        )
    else:
        totals = month_totals(ledger, month)
        st.write(totals.describe(month.label, _money))
        if not can(access, "lock_period"):
            st.caption("Only sales operations lock a month.")
        else:
            _lock_form(cur, month, access)
    if not locks.empty:
        st.caption("Locked months")
        _table(locks, "com:locks")


def _lock_form(cur: duckdb.DuckDBPyConnection, month: Period, access: Access) -> None:
    with st.form("com:lock", border=False):
        by = st.text_input("Approved by", key="com:lock_by")
        sure = st.checkbox(
            f"I have checked the statements of {month.label}; lock them for good.",
            key="com:lock_sure",
        )
        if st.form_submit_button(f"Lock {month.label}", type="primary"):
            if not sure:
                st.warning("Tick the box to confirm: a locked month is never unlocked.")
            else:
                approval.lock_period(cur, month, by=by or None, access=access)
                _editing.saved("approval", f"Locked {month.label}.")


# --- page -----------------------------------------------------------------------------------------


def render() -> None:
    st.title("Commissions")
    if _ui.database_is_empty():
        _ui.show_empty_database_hint()
        return
    scope = _ui.current_scope()
    access = _auth.current_access()
    with _ui.cursor() as cur:
        ledger = Ledger(cur, access=access)
        month = _month(scope)
        tabs: dict[str, tuple[str, Any]] = {
            "Team": ("the team table", lambda: _team(cur, ledger, scope)),
            "Statement": ("the statement", lambda: _statement(cur, ledger, scope, month)),
            "What-if": ("the what-if", lambda: _what_if(ledger, scope, month)),
        }
        if access.sees_everything:  # company totals: ops and executives
            tabs["Approval"] = ("the approval", lambda: _approval(cur, ledger, month))
        if can(access, "edit_plans"):
            tabs["Plans"] = ("the plans", lambda: _plan_editor.plans_section(cur, month))
        for tab, (what, draw) in zip(st.tabs(list(tabs)), tabs.values(), strict=True):
            with tab:
                _editing.guarded(what, draw)


_ui.run_page(render)
