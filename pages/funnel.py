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
from analytics.funnel import (
    Funnel,
    compare_order,
    compare_shares,
    funnel,
    funnel_compare,
    nothing_to_compare,
    readable_table,
    without_deals_note,
)
from analytics.markup import md, plot_text
from analytics.scope import Period, Scope
from pages import _ui
from pages._funnel_draw import funnel_chart, table_config, value_format

MEASURES = {"Deals": "reached", "Amount": "reached_amount"}
COMPARE_CHOICES = {
    "Teams": "team",
    "Reps": "rep",
    "Lead sources": "lead_source",
    "Two periods": "period",
}
MAX_CHART_GROUPS = 6  # more funnels than this in one chart are unreadable: the table has all

PERIOD_COLOURS = ("#2E6FDB", "#9E9E9E")  # this period, the other one
GROUP_PALETTE = ("#2E6FDB", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3")


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
    """The table's CSV, built only when clicked (as `_ui.downloads`), not on every rerun."""
    st.download_button(
        "CSV", data=lambda: to_csv_bytes(df), file_name=f"{name}.csv", mime=CSV_MIME,
        key=key, icon=":material/download:", on_click="ignore",
    )  # fmt: skip


def group_colours(by: str, groups: list[str]) -> dict[str, str]:
    """Team colours from the whole roster (the same on every page and period); the two
    periods blue and grey; reps and lead sources by their rank in the sorted names."""
    if by == "team":
        return _ui.team_colours(groups)
    if by == "period":
        return {g: PERIOD_COLOURS[min(i, 1)] for i, g in enumerate(groups)}
    ranked = sorted(groups)
    return {g: GROUP_PALETTE[ranked.index(g) % len(GROUP_PALETTE)] for g in groups}


def compare_chart(
    table: pd.DataFrame, measure: str, groups: list[str], colours: dict[str, str]
) -> go.Figure:
    """One funnel trace per group, side by side (grouped, not stacked), stages aligned.

    Every segment carries its own label outside the bar (value and % of the group's first
    step), so no segment is left unlabelled however thin it is.
    """
    fig = go.Figure()
    value = "%{x:" + value_format(measure) + "}"
    for group in groups:
        block = table[table["group"] == group]
        name = plot_text(group)
        fig.add_trace(
            go.Funnel(
                name=name, y=block["stage"].map(plot_text), x=block[measure],
                texttemplate=value + " (%{percentInitial:.0%})", textposition="outside",
                marker={"color": colours.get(group, "#9E9E9E")},
                connector={"visible": False}, cliponaxis=False,
                hovertemplate=name + "<br>%{y}<br>" + value
                + "<br>%{percentInitial:.1%} of first<extra></extra>",
            )
        )  # fmt: skip
    steps = max(1, table["stage"].nunique())
    fig.update_layout(
        funnelmode="group", height=140 + 26 * steps * max(1, len(groups)),
        margin={"l": 0, "r": 60, "t": 10, "b": 0}, legend={"orientation": "h"},
    )  # fmt: skip
    return fig


def _measure_text(measure: str) -> str:
    return "amount" if measure == "reached_amount" else "deals"


def _currency() -> str:
    with _ui.cursor() as cur:
        return _ui.data_facts(cur).reporting_currency


def cohort_caption(f: Funnel) -> str:
    """Which deals the funnel follows: created in the period, or (an export without created
    dates) closed in it -- analytics decided, the page says it."""
    period, scope = f.scope.period, f.scope
    when = f"from {period.start:%d %b %Y} to {period.end:%d %b %Y}"
    if f.basis == "closed":
        return (
            f"Scope: {md(scope.describe())}. Cohort: deals **closed** {when} (the export has no "
            "created dates, so the close date places a deal in a period; open deals are in no "
            "cohort). Amounts in the reporting currency."
        )
    return (
        f"Scope: {md(scope.describe())}. Cohort: deals **created** {when}, followed to their "
        "furthest stage so far. Amounts in the reporting currency."
    )


def show_counts(f: Funnel) -> None:
    """The cohort's cards: deals, won, the share won, still open, stage unknown."""
    noun = f.cohort_words
    boxes = st.columns(5 if f.stage_unknown else 4)
    boxes[0].metric(f"Deals {noun}", f"{f.deals:,}")
    # a cohort of closed deals is over: its won count is final, not "so far"
    won_label = "Won deals" if f.basis == "closed" else "Won deals so far"
    boxes[1].metric(won_label, f"{f.won:,}")
    boxes[2].metric(
        f"{noun.capitalize()} → won", _ui.percent(f.won_share),
        help=f"Won deals / deals {noun} in the period (stage-unknown deals included)",
    )  # fmt: skip
    if f.basis == "closed":
        boxes[3].metric("Lost", f"{f.lost:,}", help="Lost deals of the cohort")
    else:
        boxes[3].metric("Still open", f"{f.still_open:,}")
    if f.stage_unknown:
        boxes[4].metric(
            "Stage unknown", f"{f.stage_unknown:,}",
            help="Deals without stage history whose current stage is not an open stage of "
            "the list (lost, or a stage no longer listed): where they stopped is unknown, so "
            "they are at no step.",
        )  # fmt: skip


def show_funnel(scope: Scope, version: tuple[Any, ...]) -> None:
    f = _funnel(str(_ui.db_path()), version, scope)
    st.caption(cohort_caption(f))
    if f.no_data:
        # analytics decided there is nothing between "deal" and "won": no funnel drawn
        st.warning(md(f"No funnel to draw, no data: {f.no_data}."), icon=":material/warning:")
        st.caption(md(f.method_note()))
        show_counts(f)
        return
    if f.method == "current stage":
        st.warning(md(f.method_note()), icon=":material/warning:")
    else:
        st.info(md(f.method_note()), icon=":material/info:")
    if f.deals == 0:
        return
    currency = _currency()
    t = f.table
    show_counts(f)

    choice = st.segmented_control(
        "Measure", list(MEASURES), default="Deals", key="funnel:measure"
    )  # fmt: skip
    measure = MEASURES.get(choice or "Deals", "reached")
    st.plotly_chart(
        funnel_chart(f, measure, currency), config={"displayModeBar": False}, key="funnel:chart"
    )  # fmt: skip
    st.dataframe(
        readable_table(t), hide_index=True, column_config=table_config(currency),
        key="funnel:table", placeholder=_ui.DASH,
    )  # fmt: skip
    download(t, f"funnel_{scope.period.label}", "funnel:csv")
    st.caption(
        "Steps are the stages deals in scope were seen at (stage history or current stage), "
        "in the configured order, then won; won and lost are outcomes. Reached counts a deal "
        "at every step up to the furthest one it was ever seen at (skipped stages count as "
        "passed; moving back does not un-reach a stage; won deals reached every step). "
        "Dropped = lost there; still open here = open deals whose furthest stage so far is "
        "this one."
    )


def show_compare(scope: Scope, version: tuple[Any, ...]) -> None:
    st.subheader("Compare funnels")
    cols = st.columns([2, 2, 3])
    choice = cols[0].selectbox("Compare", list(COMPARE_CHOICES), key="funnel:compare_by")
    by = COMPARE_CHOICES.get(choice or "Teams", "team")
    versus: Period | None = None
    if by == "period":
        # the scope is to date (render): these are the same days of the other periods
        options = {
            f"Previous: {scope.period.previous().name}": scope.period.previous(),
            f"Same period last year: {scope.period.same_last_year().name}": (
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
    without = without_deals_note(table)  # a compared period without a deal: no block
    if table.empty:
        st.caption(md(without or nothing_to_compare(table.attrs.get("basis", "created"))))
        return
    no_data = (table.attrs.get("no_data") or {}).get("funnel")
    if no_data:
        st.caption(md(f"No funnels to compare, no data: {no_data}."))
        return
    groups = compare_order(table, by)
    shown = groups[:MAX_CHART_GROUPS]
    colours = group_colours(by, [str(g) for g in groups])
    st.plotly_chart(
        compare_chart(table, measure, shown, colours), config={"displayModeBar": False},
        key="funnel:compare_chart",
    )  # fmt: skip
    notes = [md(without)] if without else []
    if len(groups) > len(shown):
        notes.append(
            f"The chart shows the {len(shown)} groups with the most deals; the table has "
            f"all {len(groups)}."
        )
    hidden = table.attrs.get("hidden") or []
    if hidden:
        notes.append(f"{md(', '.join(hidden))} not used by any deal in scope: not shown as steps.")
    if by == "team":
        notes.append("Each team keeps its colour on every page and period.")
    wide = compare_shares(table, groups, measure)
    st.caption(
        f"Share of each group's first-step {_measure_text(measure)} reaching each step. "
        + " ".join(notes)
    )
    st.dataframe(
        wide,
        hide_index=True,
        key="funnel:compare_table",
        column_config={
            "group": st.column_config.TextColumn("Group"),
            "deals": st.column_config.NumberColumn("Deals"),
            "stage_unknown": st.column_config.NumberColumn(
                "Stage unknown", help="Deals at no step: no stage history and no open stage"
            ),
            "method": st.column_config.TextColumn("Placed from"),
        }
        | {stage: st.column_config.TextColumn(stage) for stage in wide.attrs["steps"]},
        placeholder=_ui.DASH,
    )
    download(table, f"funnel_by_{by}_{scope.period.label}", "funnel:compare_csv")


def render() -> None:
    st.title("Funnel")
    if _ui.database_is_empty():
        _ui.show_empty_database_hint()
        return
    with _ui.cursor() as cur:
        facts, version = _ui.data_facts(cur), _ui.data_version(cur)
    # a period not over on the data's date is shown to date, against the same days (as
    # analytics.funnel takes it): the captions and the "Against" choices name those days
    scope = _ui.current_scope().to_date(facts.as_of)
    try:
        show_funnel(scope, version)
    except Exception as exc:  # one section failing must not take the page down
        _ui.friendly_error("the funnel", exc)
    try:
        show_compare(scope, version)
    except Exception as exc:
        _ui.friendly_error("the funnel comparison", exc)


_ui.run_page(render)
