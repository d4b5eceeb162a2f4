"""Drawing one funnel: shared by the Funnel page and the Reps drill-down, so a rep's funnel
looks like (and is) the Funnel page's funnel for that rep. Draws only; the figures come
from `analytics.funnel`.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from analytics.funnel import Funnel
from analytics.markup import plot_text

FUNNEL_COLOUR = "#2E6FDB"  # the Funnel page's one funnel; the drill-down uses the team's
TABLE_CONFIG: dict[str, Any] = {
    "step": st.column_config.NumberColumn("#", format="%d"),
    "stage": st.column_config.TextColumn("Stage"),
    "reached": st.column_config.NumberColumn(
        "Reached", help="Deals of the cohort that reached this stage (or a later one)"
    ),
    "conversion_from_previous": st.column_config.TextColumn(
        "% of previous",
        help="Reached / reached at the previous step (— for the first step, "
        "or when nobody reached the previous one)",
    ),
    "conversion_from_first": st.column_config.TextColumn(
        "% of first", help="Reached / reached at the first step"
    ),
    "dropped": st.column_config.NumberColumn(
        "Dropped (lost)", help="Lost deals whose furthest stage was this one"
    ),
    "open": st.column_config.NumberColumn(
        "Still open here", help="Open deals whose furthest stage so far is this one"
    ),
    "reached_amount": st.column_config.TextColumn("Reached amount"),
    "amount_conversion_from_previous": st.column_config.TextColumn("Amount % of previous"),
    "amount_conversion_from_first": st.column_config.TextColumn("Amount % of first"),
    "dropped_amount": st.column_config.TextColumn("Dropped amount"),
    "open_amount": st.column_config.TextColumn("Open amount"),
    "median_days_in_stage": st.column_config.TextColumn(
        "Median time in stage",
        help="Median over deals of their completed time in the stage (stage history); "
        "— when no deal has a completed stay there, and for the won row",
    ),
    "stage_stays": st.column_config.NumberColumn(
        "Deals timed", help="Deals with a completed stay in the stage (the median's sample)"
    ),
}


def table_config(currency: str) -> dict[str, Any]:
    """TABLE_CONFIG with the reporting currency in the amount headers."""
    config = dict(TABLE_CONFIG)
    for col, label in (
        ("reached_amount", "Reached amount"),
        ("dropped_amount", "Dropped amount"),
        ("open_amount", "Open amount"),
    ):
        config[col] = st.column_config.TextColumn(f"{label} ({currency})")
    return config


def value_format(measure: str) -> str:
    return ",.0f" if measure == "reached_amount" else ","


def funnel_chart(
    f: Funnel, measure: str, currency: str = "", colour: str = FUNNEL_COLOUR, height: int = 380
) -> go.Figure:
    """One go.Funnel of the reached count or amount, with % of first and of previous.

    Its rows are the funnel's steps only: the stages deals in scope used, then won (lost
    is an outcome, never a step below won)."""
    t = f.table
    unit = f" {plot_text(currency)}" if measure == "reached_amount" and currency else ""
    fig = go.Figure(
        go.Funnel(
            y=t["stage"].map(plot_text),
            x=t[measure],
            # the table's words and decimals ("73.9% of first"), not plotly's "74% of
            # initial" beside a table reading 73.9%: one figure, one way of writing it
            texttemplate="%{x:" + value_format(measure) + "}<br>%{percentInitial:.1%} of first"
            "<br>%{percentPrevious:.1%} of previous",
            marker={"color": colour},
            connector={"line": {"color": "#9DB8E8" if colour == FUNNEL_COLOUR else "#CCCCCC"}},
            hovertemplate="%{y}<br>%{x:"
            + value_format(measure)
            + "}"
            + unit
            + "<br>%{percentInitial:.1%} of first"
            "<br>%{percentPrevious:.1%} of previous<extra></extra>",
        )
    )
    fig.update_layout(height=height, margin={"l": 0, "r": 0, "t": 10, "b": 0})
    return fig
