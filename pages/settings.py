"""Settings: what ops keep up to date without a deploy.

The stage list (order, win probability, won/lost flags, CRM aliases), the lead-scoring
rules with their threshold and decay, and the fiscal year's first month. Each lives in the
`settings` table as data (analytics.settings, analytics.scoring, analytics.scope), so
every page and report reads the same values the moment they are saved.

Why so strict: one bad save (a won stage that is not closed, a stage renamed under the
deals that use it, a scoring rule without points) silently changes every weighted figure.
So each section is saved on its own button, validated in full first, and nothing is
written when any problem is found; the page lists all of them in plain words. No
traceback ever reaches the page: an unexpected failure is logged and shown as a sentence.
"""

from __future__ import annotations

import calendar
import logging

import pandas as pd
import streamlit as st

from analytics import audit
from analytics.markup import md
from analytics.scope import Period, load_fiscal_start_month, save_fiscal_start_month
from analytics.scoring import (
    RULE_COLUMNS,
    load_lead_scoring,
    save_lead_scoring,
    scoring_from_rows,
    scoring_to_rows,
    unknown_event_types,
)
from analytics.settings import (
    STAGE_COLUMNS,
    load_stages,
    save_stages,
    stages_from_rows,
    stages_in_use,
    stages_to_rows,
    validate_stages,
)
from pages import _auth, _editing, _plan_editor, _ui

log = logging.getLogger("dashboard")

STAGES_EDITOR = "settings:stages"  # + ":<version>", see editor_key
SCORING_EDITOR = "settings:scoring"
THRESHOLD_KEY = "settings:threshold"
DECAY_KEY = "settings:decay"
HALF_LIFE_KEY = "settings:half_life"
FISCAL_KEY = "settings:fiscal_month"


# --- sections ----------------------------------------------------------------------------


def _stages_section() -> None:
    st.subheader("Sales stages")
    st.caption(
        "The funnel order, the win probability of each stage (used by every weighted "
        "figure), which stages are won or lost, and the labels CRMs use for them "
        "(aliases, separated by ';' or ','). Add a stage with the last row; remove one by "
        "selecting its row and pressing Delete."
    )
    _editing.flash("stages")
    with _ui.cursor() as cur:
        current = load_stages(cur)
    edited = st.data_editor(
        pd.DataFrame(stages_to_rows(current), columns=list(STAGE_COLUMNS)),
        key=_editing.editor_key(STAGES_EDITOR),
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_config={
            "order": st.column_config.NumberColumn("order", min_value=0, step=1, format="%d"),
            "name": st.column_config.TextColumn("stage", required=True),
            "probability": st.column_config.NumberColumn(
                "probability (%)", min_value=0, max_value=100, step=1, format="%.0f"
            ),
            "won": st.column_config.CheckboxColumn("won", default=False),
            "lost": st.column_config.CheckboxColumn("lost", default=False),
            "aliases": st.column_config.TextColumn("aliases", width="large"),
        },
        placeholder=_ui.DASH,
    )
    if not st.button("Save stages", key="settings:save_stages", type="primary"):
        return
    stages, problems = stages_from_rows(edited.to_dict("records"))
    if not problems:
        problems = validate_stages(stages)
    if not problems:
        with _ui.cursor() as cur:
            problems = stages_in_use(cur, stages)
    if problems:
        _editing.problems("stage list", problems)
        return
    with _ui.cursor() as cur:
        save_stages(cur, stages, access=_auth.current_access())
    _editing.saved("stages", f"Saved {len(stages)} stages.", STAGES_EDITOR)


def _scoring_section() -> None:
    st.subheader("Lead scoring")
    st.caption(
        "Points per lead event (event types as in the lead-events export, e.g. "
        "pricing_page_visit); a lead at or above the threshold is sales-qualified and "
        "joins the hand-off list. With decay on, an event loses half its points every "
        "half-life; `decays` off keeps a rule at full points, `once` counts it at most "
        "once per lead (for facts about the lead, such as persona fit)."
    )
    _editing.flash("scoring")
    with _ui.cursor() as cur:
        current = load_lead_scoring(cur)
        unknown = unknown_event_types(cur, current)
    edited = st.data_editor(
        pd.DataFrame(scoring_to_rows(current), columns=list(RULE_COLUMNS)),
        key=_editing.editor_key(SCORING_EDITOR),
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_config={
            "event_type": st.column_config.TextColumn("event type", required=True),
            "points": st.column_config.NumberColumn("points", step=1, format="%g"),
            "description": st.column_config.TextColumn("description", width="medium"),
            "decays": st.column_config.CheckboxColumn("decays", default=True),
            "once": st.column_config.CheckboxColumn("once", default=False),
        },
        placeholder=_ui.DASH,
    )
    cols = st.columns(3)
    threshold = cols[0].number_input(
        "Sales-qualified at (points)", value=float(current.threshold), step=1.0, format="%g",
        key=THRESHOLD_KEY,
    )  # fmt: skip
    decay = cols[1].toggle(
        "Decay old events", value=current.half_life_days is not None, key=DECAY_KEY
    )
    half_life = cols[2].number_input(
        "Half-life (days)", value=float(current.half_life_days or 30.0), step=1.0, format="%g",
        key=HALF_LIFE_KEY, disabled=not decay,
    )  # fmt: skip
    if not unknown.empty:
        listed = ", ".join(
            f"{md(t)} ({n:,} events)"
            for t, n in zip(unknown["event_type"], unknown["events"], strict=True)
        )
        st.caption(f"In the data but without a rule (they score 0): {listed}.")
    if not st.button("Save lead scoring", key="settings:save_scoring", type="primary"):
        return
    scoring, problems = scoring_from_rows(
        edited.to_dict("records"), threshold, half_life if decay else None
    )
    if problems or scoring is None:
        _editing.problems("lead scoring", problems)
        return
    with _ui.cursor() as cur:
        save_lead_scoring(cur, scoring, access=_auth.current_access())
    _editing.saved(
        "scoring",
        f"Saved {len(scoring.rules)} scoring rules, threshold {scoring.threshold:g}.",
        SCORING_EDITOR,
    )


def _fiscal_section() -> None:
    st.subheader("Fiscal year")
    _editing.flash("fiscal")
    with _ui.cursor() as cur:
        current = load_fiscal_start_month(cur)
    months = list(range(1, 13))
    month = st.selectbox(
        "The fiscal year starts in",
        months,
        index=current - 1,
        format_func=lambda m: calendar.month_name[m],
        key=FISCAL_KEY,
        help="Fiscal years are named by the calendar year they end in: with an April "
        "start, FY2025 runs from April 2024 to March 2025.",
    )
    if not st.button("Save fiscal year", key="settings:save_fiscal", type="primary"):
        return
    try:
        chosen = int(month)
        with _ui.cursor() as cur:
            save_fiscal_start_month(cur, chosen, access=_auth.current_access())
    except (TypeError, ValueError) as exc:
        _editing.problems("fiscal year", [str(exc)])
        return
    _editing.saved("fiscal", f"The fiscal year now starts in {calendar.month_name[chosen]}.")


def _plans_section() -> None:
    st.subheader("Commission plans")
    st.caption(
        "The same editor as the Commissions page's Plans tab. A new version is in force "
        "from the month chosen below; months before it stay paid under the plan that held."
    )
    month = Period.containing(_ui.current_scope().period.start, "month")
    with _ui.cursor() as cur:
        _plan_editor.plans_section(cur, month)


def _audit_section() -> None:
    st.subheader("Audit log")
    st.caption(
        "Who uploaded, rolled back, changed a setting or a plan, locked a month or signed "
        "in, and when. Rows are only ever added; `python -m analytics users audit` prints "
        "the same."
    )
    action = st.selectbox(
        "Action", [None, *audit.ACTIONS], format_func=lambda a: "All actions" if a is None else a,
        key="settings:audit_action",
    )  # fmt: skip
    with _ui.cursor() as cur:
        entries = audit.entries(cur, limit=500, action=action)
    if entries.empty:
        st.caption("Nothing recorded yet.")
        return
    st.dataframe(entries, hide_index=True, key="settings:audit", placeholder=_ui.DASH)
    _ui.downloads(entries, "audit_log", "settings:audit")


def render() -> None:
    st.title("Settings")
    st.caption(
        "Saved settings apply to every page and report at once. Each section is checked "
        "in full before it is saved; when anything is wrong, nothing is saved."
    )
    _editing.guarded("showing or saving the stages", _stages_section)
    _editing.guarded("showing or saving the lead scoring", _scoring_section)
    _editing.guarded("showing or saving the fiscal year", _fiscal_section)
    _editing.guarded("showing or saving the commission plans", _plans_section)
    _editing.guarded("showing the audit log", _audit_section)


_ui.run_page(render)
