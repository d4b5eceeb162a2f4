"""Overview: the headline cards for the chosen scope, with deltas, and a bookings trend.

For the monthly review: how much we booked, how often we win, how big the deals are and
what is still open. Every number comes from analytics.metrics.headline (defined in
docs/metrics.md); this page only draws.
"""

from __future__ import annotations

import duckdb
import plotly.express as px
import streamlit as st

from analytics.metrics.headline import HeadlineComparison, headline_with_previous, monthly_bookings
from analytics.scope import Scope
from pages import _ui

TREND_MONTHS = 12


def _cards(cmp: HeadlineComparison) -> None:
    now, before = cmp.current, cmp.previous
    vs = f"vs {before.period.label}"
    if before.closed_deals == 0 and now.closed_deals == 0:
        vs = None  # nothing to compare: no bare "vs ..." under every card
    row = st.columns(5)
    row[0].metric(
        "Bookings", _ui.money(now.bookings), _ui.signed_money(cmp.delta("bookings")),
        delta_description=vs, border=True,
        help="Sum of the amounts of deals won (closed won) with a close date in the period.",
    )  # fmt: skip
    row[1].metric(
        "Won deals", f"{now.won_deals:,}", _ui.signed_count(cmp.delta("won_deals")),
        delta_description=vs, border=True,
    )  # fmt: skip
    row[2].metric(
        "Lost deals", f"{now.lost_deals:,}", _ui.signed_count(cmp.delta("lost_deals")),
        delta_color="inverse", delta_description=vs, border=True,
    )  # fmt: skip
    row[3].metric(
        "Win rate", _ui.percent(now.win_rate_count),
        _ui.signed_points(cmp.delta("win_rate_count")), delta_description=vs, border=True,
        help="Deals won / deals closed (won + lost) in the period, counted by number.",
    )  # fmt: skip
    row[4].metric(
        "Win rate by value", _ui.percent(now.win_rate_value),
        _ui.signed_points(cmp.delta("win_rate_value")), delta_description=vs, border=True,
        help="Amount won / amount closed (won + lost) in the period.",
    )  # fmt: skip

    row = st.columns(5)
    row[0].metric(
        "Average deal size", _ui.money(now.avg_deal_size),
        _ui.signed_money(cmp.delta("avg_deal_size")), delta_description=vs, border=True,
        help="Average amount of the deals won in the period.",
    )  # fmt: skip
    row[1].metric(
        "Open pipeline", _ui.money(now.open_pipeline), border=True,
        help="Sum of the amounts of all deals open now (any close date).",
    )  # fmt: skip
    row[2].metric(
        "Weighted pipeline", _ui.money(now.weighted_pipeline), border=True,
        help="Open amounts x the stage's win probability from Settings "
        "(not the CRM's probability column).",
    )  # fmt: skip
    row[3].metric("Open deals", f"{now.open_deals or 0:,}", border=True)


def _trend(cur: duckdb.DuckDBPyConnection, scope: Scope) -> None:
    trend = monthly_bookings(cur, scope, months=TREND_MONTHS)
    trend["month"] = trend["month"].astype("datetime64[ns]")
    fig = px.bar(
        trend,
        x="month",
        y="bookings",
        hover_data={"won_deals": True},
        labels={"month": "Month", "bookings": "Bookings", "won_deals": "Won deals"},
    )
    fig.update_layout(height=280, margin={"l": 0, "r": 0, "t": 10, "b": 0}, bargap=0.25)
    fig.update_xaxes(dtick="M1", tickformat="%b %Y")
    st.plotly_chart(fig, config={"displayModeBar": False})


def render() -> None:
    st.title("Overview")
    if _ui.database_is_empty():
        _ui.show_empty_database_hint()
        return
    scope = _ui.current_scope()
    period = scope.period
    st.caption(
        f"Scope: {scope.describe()} ({period.start:%d %b %Y} to {period.end:%d %b %Y}); "
        f"changes are against {period.previous().label}."
    )

    with _ui.cursor() as cur:
        cmp = headline_with_previous(cur, scope)
        _cards(cmp)
        now = cmp.current
        if now.closed_deals == 0:
            st.caption(
                f"No deal closed in {scope.period.label}: win rates and average deal size "
                "are shown as — (not defined) rather than 0."
            )
        if len(now.currencies) > 1:
            st.warning(
                "Deals in this view use several currencies "
                f"({', '.join(now.currencies)}); amounts are added without conversion."
            )
        st.info(
            "**Win rate** counts deals: won / (won + lost) closed in the period. "
            "**Win rate by value** weighs them by amount. Open deals are not in either.",
            icon=":material/info:",
        )
        st.subheader(f"Monthly bookings, last {TREND_MONTHS} months")
        _trend(cur, scope)


_ui.run_page(render)
