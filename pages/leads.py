"""Leads: which qualified leads wait for a rep, whether the scoring works, how fast we answer.

For sales managers and marketing ops. The hand-off list is the day-to-day action item
(sales-qualified leads nobody has answered, oldest first); the calibration chart answers
"does a higher score really mean a likelier conversion?" before anyone retunes the rules
on the Settings page; response time and conversion by source and owner show where leads
go cold. Every figure comes from `analytics.leads` (the same functions as
`python -m analytics report leads`) with the rules saved in settings; every table can be
downloaded. Definitions: docs/metrics.md (Leads).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import plotly.express as px
import streamlit as st

from analytics import leads
from analytics.markup import md
from analytics.numbers import minutes_text
from analytics.numbers import number_or_none as _num
from analytics.scope import Scope
from analytics.scoring import LeadScoring, load_lead_scoring, unknown_event_types
from pages import _ui

BAND_CHOICES: tuple[str, ...] = (
    "Fixed: below 0, 0–9, 10–19, 20+",
    "Quartiles of the period's scores",
    "Below vs at or above the threshold",
)


# --- small helpers ---------------------------------------------------------------------


def _minutes(value: Any) -> str:
    """Response times read as '12 h 22 min' or '2.1 days' (analytics.numbers, one rule)."""
    return minutes_text(_num(value))


def _scoring_summary(scoring: LeadScoring) -> str:
    rules = ", ".join(f"{md(r.event_type)} {r.points:+g}" for r in scoring.rules)
    decay = (
        "no decay"
        if scoring.half_life_days is None
        else f"events lose half their points every {scoring.half_life_days:g} days"
    )
    return f"Sales-qualified at **{scoring.threshold:g} points**; {decay}. Rules: {rules}."


def _to_date_note(scope: Scope) -> None:
    """The period's "not over yet" note (analytics.leads.to_date_note), when it has one:
    once, above the first table that counts the period's leads."""
    with _ui.cursor() as cur:
        note = leads.to_date_note(cur, scope.period)
    if note:
        st.caption(note)


# --- sections ----------------------------------------------------------------------------


def _handoff(scope: Scope, as_of: date, scoring: LeadScoring) -> None:
    st.subheader("Hand-off list")
    only_period = st.toggle(
        f"Only leads created in {scope.period.label}",
        key="leads:handoff_period",
        help="Off: every lead created up to the scoring day that still waits, however old.",
    )
    with _ui.cursor() as cur:
        table = leads.handoff_list(
            cur, scope, as_of=as_of, scoring=scoring, created_in_period=only_period
        )
    if table.empty:
        st.success(
            f"No sales-qualified lead is waiting for a first response as of {as_of:%d %b %Y}."
        )
        return
    st.metric("Qualified leads without a response", f"{len(table):,}")
    st.caption(
        f"Score at or above {scoring.threshold:g} as of {as_of:%d %b %Y}, no first response "
        "and not converted by then; oldest first. A lead without an owner is listed too."
    )
    shown = leads.named_groups(table, leads.NO_VALUE)
    st.dataframe(
        shown,
        hide_index=True,
        key="leads:handoff",
        column_config={
            "created_at": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
            "days_waiting": st.column_config.NumberColumn("days waiting", format="%d"),
            "score": st.column_config.NumberColumn("score", format="%.1f"),
            "scored_events": st.column_config.NumberColumn("scored events", format="%d"),
        },
        placeholder=_ui.DASH,
    )
    _ui.downloads(table, "lead_handoff", "dl:handoff")


def _edges(choice: str, scores: pd.Series, scoring: LeadScoring) -> tuple[float, ...]:
    if choice == BAND_CHOICES[1]:
        return leads.quantile_edges(scores.tolist(), 4)
    if choice == BAND_CHOICES[2]:
        return (float(scoring.threshold),)
    return leads.DEFAULT_BAND_EDGES


def _calibration(scope: Scope, as_of: date, scoring: LeadScoring) -> None:
    st.subheader("Is the scoring calibrated?")
    choice = st.radio("Score bands", BAND_CHOICES, horizontal=True, key="leads:bands")
    with _ui.cursor() as cur:
        scores = leads.lead_scores(cur, scope, as_of=as_of, scoring=scoring, created_in_period=True)
        table = leads.calibration(
            cur, scope, as_of=as_of, scoring=scoring, edges=_edges(choice, scores["score"], scoring)
        )
    if leads.counts_no_lead(table):
        st.info(f"No lead was created in {scope.period.label}: nothing to calibrate.")
        return
    st.caption(
        f"Leads created in {scope.period.label}, each scored on the day it converted (or "
        f"{as_of:%d %b %Y}), against whether it converted at any time. A calibrated "
        "scoring shows a conversion rate that rises band by band."
    )
    chart = table.assign(
        rate=table["conversion_rate"].map(lambda v: (_num(v) or 0.0) * 100),
        label=[
            f"{_ui.percent(_num(r))} of {n:,}"
            for r, n in zip(table["conversion_rate"], table["leads"], strict=True)
        ],
    )
    fig = px.bar(
        chart,
        x="band",
        y="rate",
        text="label",
        labels={"band": "Score band", "rate": "Converted (%)"},
        hover_data={"leads": True, "converted": True, "label": False},
    )
    fig.update_layout(height=300, margin={"l": 0, "r": 0, "t": 10, "b": 0})
    fig.update_traces(textposition="outside", cliponaxis=False)
    fig.update_xaxes(type="category")
    fig.update_yaxes(range=[0, max(100.0, float(chart["rate"].max()) * 1.15)])
    st.plotly_chart(fig, config={"displayModeBar": False}, key="leads:calibration_chart")
    falls = leads.calibration_falls(table)
    if falls:
        st.warning(
            "Conversion falls as the score rises between " + ", ".join(falls) + ": the "
            "rules may over-reward some events. Review them on the Settings page."
        )
    elif leads.calibration_bands_compared(table) > 1:
        st.caption("Conversion rises with the score in every band.")
    st.dataframe(
        _ui.in_percent(table, ["conversion_rate"]),
        hide_index=True,
        key="leads:calibration",
        column_config={
            "low": None,  # the band's label says it; the download keeps the edges
            "high": None,
            "conversion_rate": st.column_config.NumberColumn("conversion rate", format=_ui.PERCENT),
            "avg_score": st.column_config.NumberColumn("average score", format="%.1f"),
        },
        placeholder=_ui.DASH,
    )
    _ui.downloads(table, "lead_calibration", "dl:calibration")


def _response(scope: Scope) -> None:
    st.subheader("Response time and conversion")
    st.caption(
        f"Leads created in {scope.period.label}. Response = first response − created "
        "(answered leads only); the SLA shares and conversion count **all** leads, so an "
        "unanswered lead misses every band. Converted = has an opportunity (the lead "
        "names it, or a deal names the lead by lead id) or a conversion date; won = one "
        "of its opportunities is won."
    )
    _to_date_note(scope)
    config = {
        "is_total": None,
        "median_minutes": st.column_config.TextColumn("median response"),
        "p90_minutes": st.column_config.TextColumn("p90 response"),
        "sla_5min_share": st.column_config.NumberColumn("≤ 5 min", format=_ui.PERCENT),
        "sla_1h_share": st.column_config.NumberColumn("≤ 1 h", format=_ui.PERCENT),
        "sla_1day_share": st.column_config.NumberColumn("≤ 1 day", format=_ui.PERCENT),
        "conversion_rate": st.column_config.NumberColumn("lead → opp", format=_ui.PERCENT),
        "lead_to_won_rate": st.column_config.NumberColumn("lead → won", format=_ui.PERCENT),
    }
    tabs = st.tabs(["By source", "By owner"])
    for tab, by in zip(tabs, ("source", "owner"), strict=True):
        with tab:
            with _ui.cursor() as cur:
                table = leads.response_by(cur, scope, by)  # type: ignore[arg-type]
            total = table[table["is_total"]]
            if total.empty or int(total["leads"].iloc[0]) == 0:
                st.info(f"No lead was created in {scope.period.label}.")
                continue
            row = total.iloc[0]
            cols = st.columns(4)
            cols[0].metric("Leads", f"{int(row['leads']):,}")
            # figures the export has no data for: "no data" and the reason, never 0%
            no_data = table.attrs.get("no_data", {})
            for col, label, column, text in (
                (cols[1], "Median response", "median_minutes", _minutes),
                (cols[2], "Answered ≤ 1 h", "sla_1h_share", lambda v: _ui.percent(_num(v))),
                (cols[3], "Lead → opportunity", "conversion_rate",
                 lambda v: _ui.percent(_num(v))),
            ):  # fmt: skip
                if column in no_data:
                    col.metric(label, "no data", help=f"No data: {no_data[column]}.")
                else:
                    col.metric(label, text(row[column]))
            shown = leads.named_groups(table, {by: leads.NO_VALUE[by]})
            shares = [c for c in config if c.endswith(("_share", "_rate"))]
            display = _ui.in_percent(shown, shares)  # the download keeps shares, minutes
            for column in ("median_minutes", "p90_minutes"):  # '12 h 22 min', not 742.5
                display[column] = [minutes_text(_num(v)) for v in display[column]]
            st.dataframe(
                display,
                hide_index=True,
                key=f"leads:by_{by}",
                column_config=config,
                placeholder=_ui.DASH,
            )
            _ui.downloads(shown.drop(columns=["is_total"]), f"lead_response_by_{by}", f"dl:{by}")


def _linked(scope: Scope) -> None:
    """Lead -> deal -> won across a leads file and a deals (or won-deals) file."""
    st.subheader("Leads to deals, linked by lead id")
    with _ui.cursor() as cur:
        if not leads.has_lead_deal_link(cur):
            st.info(leads.NO_LINK_MESSAGE[0].upper() + leads.NO_LINK_MESSAGE[1:] + ".")
            return
        tables = {by: leads.lead_deal_conversion(cur, by, scope=scope) for by in ("source", "sdr")}
    st.caption(
        f"Leads created in {scope.period.name}, each followed to the deals that name it "
        "(lead id, MQL id or converted lead) however they were uploaded. A lead counts once: "
        "lead → deal = leads with a deal / leads; deal → won = leads with a won deal / "
        "leads with a deal."
    )
    config = {
        "is_total": None,
        "opportunities": st.column_config.NumberColumn("with a deal"),
        "won": st.column_config.NumberColumn("with a won deal"),
        "lead_to_opportunity_rate": st.column_config.NumberColumn(
            "lead → deal", format=_ui.PERCENT
        ),
        "opportunity_to_won_rate": st.column_config.NumberColumn("deal → won", format=_ui.PERCENT),
        "lead_to_won_rate": st.column_config.NumberColumn("lead → won", format=_ui.PERCENT),
    }
    labels = {"source": "By source", "sdr": "By SDR"}
    for tab, (by, table) in zip(st.tabs(list(labels.values())), tables.items(), strict=True):
        with tab:
            if leads.counts_no_lead(table):
                st.info(f"No lead was created in {scope.period.name}.")
                continue
            shown = leads.named_groups(table, {by: leads.LINK_NO_VALUE[by]})
            rates = [c for c in config if c.endswith("_rate")]
            # its own first column, so the table never reads as the response table's
            shown = shown.rename(columns={by: "lead source" if by == "source" else "SDR"})
            st.dataframe(
                _ui.in_percent(shown, rates), hide_index=True, key=f"leads:linked_{by}",
                column_config=config, placeholder=_ui.DASH,
            )  # fmt: skip
            _ui.downloads(shown.drop(columns=["is_total"]), f"lead_deal_by_{by}", f"dl:ld{by}")


def _bant(scope: Scope) -> None:
    st.subheader("BANT qualification")
    with _ui.cursor() as cur:
        summary = leads.bant_summary(cur, scope)
    if not summary.available:
        if summary.columns:  # the data has BANT fields, just not on this period's deals
            st.info(md(summary.message[0].upper() + summary.message[1:] + "."))
        else:
            st.info(
                "No BANT fields in the data: no imported opportunity export had budget, "
                "authority, need or timing columns, so this section shows no figures rather "
                "than 0%. Import deals with yes/no columns such as Budget, Authority, Need, "
                "Timing (or Salesforce's Budget_Confirmed__c) to fill it."
            )
        return
    st.caption(md(summary.message[0].upper() + summary.message[1:] + "."))
    fields = summary.by_field
    cols = st.columns(max(len(fields), 1))
    for col, row in zip(cols, fields.to_dict("records"), strict=False):
        col.metric(
            f"Qualified on {row['field']}",
            _ui.percent(_num(row["share"])),
            help=f"{row['qualified']:,} of the {row['recorded']:,} deals created in the period "
            f"with {row['field']} recorded ({row['opportunities']:,} created in all)",
        )
    st.dataframe(
        fields,
        hide_index=True,
        key="leads:bant_fields",
        column_config={"share": st.column_config.NumberColumn("share", format="percent")},
        placeholder=_ui.DASH,
    )
    _ui.downloads(fields, "bant_by_field", "dl:bant_fields")
    if not summary.win_rates.empty:
        rates = summary.win_rates.set_index("group")
        cols = st.columns(2)
        for col, group in zip(cols, ("full BANT", "not full BANT"), strict=True):
            col.metric(
                f"Win rate, {group}",
                _ui.percent(_num(rates.at[group, "win_rate"])),
                help=f"{int(rates.at[group, 'won']):,} won of {int(rates.at[group, 'closed']):,} "
                "closed in the period",
            )
        st.dataframe(
            summary.win_rates,
            hide_index=True,
            key="leads:bant_rates",
            column_config={"win_rate": st.column_config.NumberColumn("win rate", format="percent")},
            placeholder=_ui.DASH,
        )
        _ui.downloads(summary.win_rates, "bant_win_rates", "dl:bant_rates")


def render() -> None:
    st.title("Leads")
    with _ui.cursor() as cur:
        count = leads.lead_count(cur)
        scoring = load_lead_scoring(cur)
    if count == 0:
        st.info(
            "No leads in the database yet. Upload a leads export (and its lead events) on "
            "the **Data** page."
        )
        _ui.page_link("pages/data.py", label="Go to the Data page", icon=":material/upload:")
        return
    scope = _ui.current_scope()
    with _ui.cursor() as cur:  # the viewer's leads only (a rep sees their own)
        unknown = unknown_event_types(cur, scoring, scope)
    as_of = st.date_input(
        "Score leads as of",
        value=leads.default_as_of(scope.period),
        # keyed by period: a new period starts from its own default day, not the last one
        key=f"leads:as_of:{scope.period.label}",
        help="Scores, responses and conversions are counted up to the end of this day. "
        "Default: the period's last day, or today if that is earlier.",
    )
    day = as_of if isinstance(as_of, date) else leads.default_as_of(scope.period)
    st.caption(f"Scope: {md(scope.describe())}. " + _scoring_summary(scoring))
    if not unknown.empty:
        listed = ", ".join(
            f"{md(t)} ({n:,})"
            for t, n in zip(unknown["event_type"], unknown["events"], strict=True)
        )
        st.caption(f"Event types without a rule (they score 0): {listed}.")
    _ui.page_link("pages/settings.py", label="Edit the scoring rules", icon=":material/tune:")

    with _ui.cursor() as cur:
        no_scores = leads.scores_no_data(cur)  # analytics decides; the page says it
    if no_scores:
        st.subheader("Hand-off list")
        st.info(f"No hand-off list and no calibration, no data: {no_scores}.")
    else:
        _handoff(scope, day, scoring)
        _calibration(scope, day, scoring)
    _response(scope)
    _linked(scope)
    _bant(scope)


_ui.run_page(render)
