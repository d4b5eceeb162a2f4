"""Funnel: where the deals created in the period fell out of the sales process.

For the monthly review: how many of the period's new deals reached each stage, where the
rest dropped out (lost) or still sit (open), conversion step by step and from the first
step (by count and by amount), how long deals stay in each stage, and the same funnel
side by side for teams, reps, lead sources or two periods. Every number comes from
`analytics.funnel` (rules in docs/metrics.md, "Funnel"); the page says which method placed
the deals (stage history, current stage, or mixed). This page only draws; every table can
be downloaded as CSV.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics.exports import CSV_MIME, to_csv_bytes
from analytics.funnel import Funnel, funnel, funnel_compare
from analytics.markup import md, plot_text
from analytics.report import data_version
from analytics.scope import Period, Scope
from pages import _ui

MEASURES = {"Deals": "reached", "Amount": "reached_amount"}
COMPARE_CHOICES = {
    "Teams": "team",
    "Reps": "rep",
    "Lead sources": "lead_source",
    "Two periods": "period",
}
MAX_CHART_GROUPS = 6  # more funnels than this in one chart are unreadable: the table has all

TABLE_CONFIG: dict[str, Any] = {
    "step": st.column_config.NumberColumn("#", format="%d"),
    "stage": st.column_config.TextColumn("Stage"),
    "reached": st.column_config.NumberColumn(
        "Reached", help="Deals of the cohort that reached this stage (or a later one)"
    ),
    "conversion_from_previous": st.column_config.NumberColumn(
        "% of previous", format="percent", help="Reached / reached at the previous stage"
    ),
    "conversion_from_first": st.column_config.NumberColumn(
        "% of first", format="percent", help="Reached / reached at the first stage"
    ),
    "dropped": st.column_config.NumberColumn(
        "Dropped (lost)", help="Lost deals whose furthest stage was this one"
    ),
    "open": st.column_config.NumberColumn(
        "Still open here", help="Open deals whose furthest stage so far is this one"
    ),
    "reached_amount": st.column_config.NumberColumn("Reached amount", format="%,.0f"),
    "amount_conversion_from_previous": st.column_config.NumberColumn(
        "Amount % of previous", format="percent"
    ),
    "amount_conversion_from_first": st.column_config.NumberColumn(
        "Amount % of first", format="percent"
    ),
    "dropped_amount": st.column_config.NumberColumn("Dropped amount", format="%,.0f"),
    "open_amount": st.column_config.NumberColumn("Open amount", format="%,.0f"),
    "median_days_in_stage": st.column_config.NumberColumn(
        "Median days in stage",
        format="%.1f",
        help="Median over deals of their completed time in the stage (stage history)",
    ),
    "stage_stays": st.column_config.NumberColumn(
        "Deals timed", help="Deals with a completed stay in the stage (the median's sample)"
    ),
}


# --- figures (cached per database file, data version and scope) ------------------------------


@st.cache_data(show_spinner=False, max_entries=256)
def _funnel(db: str, version: tuple[Any, ...], scope: Scope) -> Funnel:
    del db, version  # cache key only
    with _ui.cursor() as cur:
        return funnel(cur, scope)


@st.cache_data(show_spinner=False, max_entries=256)
def _compare(
    db: str, version: tuple[Any, ...], scope: Scope, by: str, versus: Period | None
) -> pd.DataFrame:
    del db, version  # cache key only
    with _ui.cursor() as cur:
        return funnel_compare(cur, scope, by, versus=versus)  # type: ignore[arg-type]


# --- drawing -----------------------------------------------------------------------------


def download(df: pd.DataFrame, name: str, key: str) -> None:
    st.download_button(
        "CSV", data=to_csv_bytes(df), file_name=f"{name}.csv", mime=CSV_MIME,
        key=key, icon=":material/download:", on_click="ignore",
    )  # fmt: skip


def funnel_chart(f: Funnel, measure: str) -> go.Figure:
    """One go.Funnel of the reached count or amount, with % of first and of previous."""
    t = f.table
    fig = go.Figure(
        go.Funnel(
            y=t["stage"].map(plot_text),
            x=t[measure],
            textinfo="value+percent initial+percent previous",
            texttemplate=None,
            marker={"color": "#2E6FDB"},
            connector={"line": {"color": "#9DB8E8"}},
            hovertemplate="%{y}<br>%{x:,.0f}<br>%{percentInitial:.1%} of first"
            "<br>%{percentPrevious:.1%} of previous<extra></extra>",
        )
    )
    fig.update_layout(height=380, margin={"l": 0, "r": 0, "t": 10, "b": 0})
    return fig


def compare_chart(table: pd.DataFrame, measure: str, groups: list[str]) -> go.Figure:
    """One funnel trace per group (the largest `MAX_CHART_GROUPS`), stages aligned."""
    fig = go.Figure()
    for group in groups:
        block = table[table["group"] == group]
        fig.add_trace(
            go.Funnel(
                name=plot_text(group), y=block["stage"].map(plot_text), x=block[measure],
                textinfo="value+percent initial",
            )
        )  # fmt: skip
    fig.update_layout(height=420, margin={"l": 0, "r": 0, "t": 10, "b": 0})
    return fig


def _measure_text(measure: str) -> str:
    return "amount" if measure == "reached_amount" else "deals"


def show_funnel(scope: Scope, version: tuple[Any, ...]) -> None:
    f = _funnel(str(_ui.db_path()), version, scope)
    if f.method == "current stage":
        st.warning(md(f.method_note()), icon=":material/warning:")
    else:
        st.info(md(f.method_note()), icon=":material/info:")
    if f.deals == 0:
        return
    t = f.table
    won, first = int(t["reached"].iloc[-1]), int(t["reached"].iloc[0])
    boxes = st.columns(4)
    boxes[0].metric("Deals created", f"{f.deals:,}")
    boxes[1].metric("Won deals so far", f"{won:,}")
    boxes[2].metric("Created → won", _ui.percent(won / first if first else None))
    boxes[3].metric("Still open", f"{int(t['open'].sum()):,}")

    choice = st.segmented_control(
        "Measure", list(MEASURES), default="Deals", key="funnel:measure"
    )  # fmt: skip
    measure = MEASURES.get(choice or "Deals", "reached")
    st.plotly_chart(
        funnel_chart(f, measure), config={"displayModeBar": False}, key="funnel:chart"
    )  # fmt: skip
    st.dataframe(t, hide_index=True, column_config=TABLE_CONFIG, key="funnel:table")
    download(t, f"funnel_{scope.period.label}", "funnel:csv")
    st.caption(
        "Reached counts a deal at every stage up to the furthest one it was ever seen at "
        "(skipped stages count as passed; moving back does not un-reach a stage; won deals "
        "reached every stage). Dropped = lost there; still open here = open deals whose "
        "furthest stage so far is this one."
    )


def show_compare(scope: Scope, version: tuple[Any, ...]) -> None:
    st.subheader("Compare funnels")
    cols = st.columns([2, 2, 3])
    choice = cols[0].selectbox("Compare", list(COMPARE_CHOICES), key="funnel:compare_by")
    by = COMPARE_CHOICES.get(choice or "Teams", "team")
    versus: Period | None = None
    if by == "period":
        options = {
            f"Previous ({scope.period.previous().label})": scope.period.previous(),
            f"Same period last year ({scope.period.same_last_year().label})": (
                scope.period.same_last_year()
            ),
        }
        picked = cols[1].selectbox("Against", list(options), key="funnel:versus")
        versus = options.get(picked or "", scope.period.previous())
    measure_choice = cols[2].segmented_control(
        "Compare by", list(MEASURES), default="Deals", key="funnel:compare_measure"
    )  # fmt: skip
    measure = MEASURES.get(measure_choice or "Deals", "reached")

    table = _compare(str(_ui.db_path()), version, scope, by, versus)
    if table.empty:
        st.caption("No deal was created in this period: nothing to compare.")
        return
    sizes = table.groupby("group", sort=False)["deals"].first()
    groups = list(sizes.index) if by == "period" else list(sizes.sort_values(ascending=False).index)
    shown = groups[:MAX_CHART_GROUPS]
    st.plotly_chart(
        compare_chart(table, measure, shown), config={"displayModeBar": False},
        key="funnel:compare_chart",
    )  # fmt: skip
    if len(groups) > len(shown):
        st.caption(
            f"The chart shows the {len(shown)} groups with the most deals; the table has "
            f"all {len(groups)}."
        )
    share = "conversion_from_first" if measure == "reached" else "amount_conversion_from_first"
    wide = table.pivot(index="group", columns="stage", values=share).reindex(
        index=groups, columns=list(dict.fromkeys(table["stage"]))
    )
    wide.insert(0, "deals", sizes.reindex(groups).to_numpy())
    wide.insert(1, "method", table.groupby("group", sort=False)["method"].first().reindex(groups))
    st.caption(f"Share of each group's first-stage {_measure_text(measure)} reaching each stage.")
    st.dataframe(
        wide.reset_index(),
        hide_index=True,
        key="funnel:compare_table",
        column_config={
            stage: st.column_config.NumberColumn(stage, format="percent")
            for stage in wide.columns[2:]
        },
    )
    download(table, f"funnel_by_{by}_{scope.period.label}", "funnel:compare_csv")


def render() -> None:
    st.title("Funnel")
    if _ui.database_is_empty():
        _ui.show_empty_database_hint()
        return
    scope = _ui.current_scope()
    period = scope.period
    st.caption(
        f"Scope: {md(scope.describe())}. Cohort: deals **created** from {period.start:%d %b %Y} "
        f"to {period.end:%d %b %Y}, followed to their furthest stage so far. Amounts in "
        "the reporting currency."
    )
    with _ui.cursor() as cur:
        version = data_version(cur)
    try:
        show_funnel(scope, version)
    except Exception as exc:  # one section failing must not take the page down
        _ui.friendly_error("the funnel", exc)
    try:
        show_compare(scope, version)
    except Exception as exc:
        _ui.friendly_error("the funnel comparison", exc)


_ui.run_page(render)
