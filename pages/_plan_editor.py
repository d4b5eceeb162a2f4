"""Commission plans and their data (splits, SPIFFs, draws, refunds): the editor.

Shown on the Settings page (where ops keep what the app computes from) and on the
Commissions page's Plans tab (where payouts are checked against it): one editor, so both
save the same way. Plans are versioned and effective-dated in analytics.commissions.plans;
this module only draws and hands the edited rows over to be validated in full.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from analytics.commissions import approval, data
from analytics.commissions.plan_rows import RULE_COLUMNS, plan_from_rows, rules_to_rows
from analytics.commissions.plans import (
    TIER_MODES,
    Plan,
    effective_from_text,
    plan_from_json,
    plan_to_json,
    plan_versions,
    save_plan,
)
from analytics.markup import md
from analytics.scope import Period
from pages import _auth, _editing, _ui

PLAN_EDITOR = "com:plan_rules"  # + ":<version>", see _editing.editor_key


def plans_section(cur: duckdb.DuckDBPyConnection, month: Period) -> None:
    """The plan versions, the editor for a new version, the plan file, and the data tables."""
    _editing.flash("plans")
    versions = plan_versions(cur)
    st.caption(
        "Plans are versioned: a save adds a version in force from its month on, so every "
        "past month stays paid under the plan that held then. A version cannot start in or "
        "before a locked month."
    )
    listing = pd.DataFrame(
        [
            {"version": v.version, "name": v.plan.name,
             "in force from": effective_from_text(v.effective_from),
             "saved_at": v.saved_at, "saved_by": v.saved_by, "note": v.note or v.plan.note}
            for v in versions
        ]
    )  # fmt: skip
    st.dataframe(listing, hide_index=True, key="com:plan_versions", placeholder=_ui.DASH)
    latest = max(versions, key=lambda v: (v.effective_from, v.version))
    st.subheader(f"Edit: a new version based on {md(latest.label())}")
    st.caption(
        "One row per role and level (`*` = any). Rates are fractions (0.10 = 10%). Tiers: "
        "`attainment:rate` pairs, e.g. `0:0.08; 1:0.12` (from 100% of quota, 12%); "
        "accelerators: `attainment:multiplier`, e.g. `1:1.5`. Threshold: attainment below "
        "which the threshold rate applies to everything (0 = none). Cap: the most "
        "commission a month pays. Clawback days: a deal lost/refunded/churned within them "
        "is taken back."
    )
    name = st.text_input("Plan name", value=latest.plan.name, key="com:plan_name")
    rows = pd.DataFrame(rules_to_rows(latest.plan), columns=list(RULE_COLUMNS))
    edited = st.data_editor(
        rows, key=_editing.editor_key(PLAN_EDITOR), num_rows="dynamic", hide_index=True,
        column_config={
            "tier_mode": st.column_config.SelectboxColumn("tier mode", options=list(TIER_MODES)),
            "clawback_days": st.column_config.NumberColumn("clawback days", step=1),
        }, placeholder=_ui.DASH,
    )  # fmt: skip
    locked = approval.locks(cur)
    default_start = month.start
    if not locked.empty:
        last = Period.parse(str(locked["period"].iloc[0]))
        default_start = max(default_start, last.shifted(1).start)
    cols = st.columns(2)
    effective = cols[0].date_input(
        "In force from (first day of a month)", value=default_start, key="com:plan_from"
    )
    note = cols[1].text_input("Note", key="com:plan_note")
    if st.button("Save as a new version", type="primary", key="com:plan_save"):
        plan, problems = plan_from_rows(name, edited.to_dict("records"), note)
        if plan is None:
            _editing.problems("plan", problems)
        else:
            _save(cur, plan, effective, note, "plan")
    with st.expander("Plan file (JSON)"):
        st.download_button(
            "Download this plan", data=plan_to_json(latest.plan),
            file_name="commission_plan.json", mime="application/json",
            key="com:plan_download", on_click="ignore",
        )  # fmt: skip
        upload = st.file_uploader("Upload a plan file", type=["json"], key="com:plan_upload")
        if upload is not None:
            try:
                plan = plan_from_json(upload.getvalue().decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                _editing.problems("plan file", [str(exc)])
            else:
                st.write(f"{md(plan.name)}: {len(plan.rules)} rules.")
                if st.button("Save the uploaded plan", key="com:plan_upload_save"):
                    _save(cur, plan, effective, note, "plan file")
    data_tables(cur)


def _save(cur: duckdb.DuckDBPyConnection, plan: Plan, effective: Any, note: str, what: str) -> None:
    """Save a new version, or list why not (a locked month, a date mid-month...)."""
    try:
        saved = save_plan(cur, plan, _as_date(effective), note=note, access=_auth.current_access())
    except ValueError as exc:
        _editing.problems(what, str(exc).split("; "))
    else:
        _editing.saved("plans", f"Saved {saved.label()}, in force from "
                       f"{saved.effective_from:%Y-%m}.", PLAN_EDITOR)  # fmt: skip


DATA_TABLES: tuple[tuple[str, str, Callable, Callable, str], ...] = (
    ("Credit splits", "splits", data.load_splits, data.save_splits,
     "Who shares a deal's credit: one row per deal and rep; each deal's shares sum to 1. "
     "Deals without rows credit their owner in full."),
    ("SPIFFs", "spiffs", data.load_spiffs, data.save_spiffs,
     "A bonus per won deal closed between the dates (a product's, or any deal when the "
     "product is empty; role/level empty = any rep): amount per deal x the rep's share, plus "
     "rate x the rep's credit."),
    ("Draws", "draws", data.load_draws, data.save_draws,
     "A monthly minimum against commission (months as first days). Recoverable draws are "
     "advances, paid back from later months' excess."),
    ("Refunds and churn", "reversals", data.load_reversals, data.save_reversals,
     "Won deals refunded or churned (share = the part reversed, 1 = all). Clawed back in the "
     "event's month when the rep's plan claws back within that many days of the close. Won "
     "deals that later show as lost in an export are found without a row here."),
)  # fmt: skip


def data_tables(cur: duckdb.DuckDBPyConnection) -> None:
    st.subheader("Splits, SPIFFs, draws, refunds")
    for title, key, load, save, help_text in DATA_TABLES:
        with st.expander(title):
            _editing.flash(key)
            st.caption(help_text)
            editor = f"com:data:{key}"
            edited = st.data_editor(
                load(cur),
                key=_editing.editor_key(editor),
                num_rows="dynamic",
                hide_index=True,
                placeholder=_ui.DASH,
            )
            if st.button(f"Save {title.lower()}", key=f"com:save:{key}"):
                try:
                    count = save(cur, edited, access=_auth.current_access())
                except ValueError as exc:
                    _editing.problems(title.lower(), str(exc).split("; "))
                else:
                    _editing.saved(key, f"Saved {count} rows of {title.lower()}.", editor)


def _as_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    raise ValueError("choose the first day of a month")
