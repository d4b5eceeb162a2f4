"""Reps: the rep quadrant, a sortable KPI leaderboard, and one rep's drill-down.

The monthly review page. The quadrant (analytics.quadrant) says whom to coach and whom
to learn from; choosing a rep (the "Drill down into" box, or clicking a point) opens the
drill-down (analytics.drilldown); the leaderboard has every KPI column with its
definition as the column help. The chosen rep is kept in the URL (`?focus=...`), beside
the sidebar filters, so a manager can share the exact view.

The sidebar's rep filter does not shrink the comparison to one point: the quadrant and the
leaderboard keep the rep's peers (the team/region filters still apply) and the filtered
rep's drill-down opens. Every table can be downloaded as CSV and Excel (analytics.exports).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from analytics import drilldown
from analytics.colours import NO_TEAM
from analytics.exports import KPI_UNITS
from analytics.funnel import readable_table
from analytics.markup import md, plot_frame, plot_text
from analytics.metrics.kpis import KPI_COLUMNS, open_basis
from analytics.metrics.performance import attainment_table
from analytics.numbers import is_missing, percent_parts
from analytics.numbers import number_or_none as _num
from analytics.pointintime import open_figures_note
from analytics.quadrant import (
    DECLINING_LAGGARD,
    DEFAULT_MIN_CLOSED_DEALS,
    DEFAULT_WINDOW_MONTHS,
    FALLING_STAR,
    IMPROVING_LAGGARD,
    RISING_STAR,
    WINDOW_CHOICES,
    X_METRICS,
    AttainmentFunction,
    KpiFunction,
    KpiTablesFunction,
    attainment_available,
    placed_points,
    quadrant,
    quadrant_counts,
    quadrant_window,
)
from analytics.quadrant import roster as quadrant_roster
from analytics.scope import Period, Scope
from analytics.scorecard import leaderboard
from pages import _ui
from pages._funnel_draw import funnel_chart, table_config

FOCUS_KEY = "focus"  # URL parameter and session key of the drill-down's rep
CHART_KEY = "quadrant_chart"
MIN_MARKER, MAX_MARKER = 10.0, 42.0  # marker diameters in pixels (size = open pipeline)
# The drill-down's deal tables as a manager reads them: named columns, amounts with
# thousands separators, the stage probability as a per cent (a bare "20" was ambiguous).
DEAL_COLUMNS: dict[str, Any] = {
    "opportunity_id": st.column_config.TextColumn("Deal id"),
    "opportunity_name": st.column_config.TextColumn("Deal"),
    "account": st.column_config.TextColumn("Account"),
    "stage": st.column_config.TextColumn("Stage"),
    "outcome": st.column_config.TextColumn("Outcome"),
    "amount": st.column_config.NumberColumn("Amount", format="localized"),
    "currency": st.column_config.TextColumn("Currency"),
    "stage_probability": st.column_config.NumberColumn("Stage probability", format="%d%%"),
    "weighted_amount": st.column_config.NumberColumn("Weighted amount", format="localized"),
    "created_date": st.column_config.DateColumn("Created", format="YYYY-MM-DD"),
    "expected_close_date": st.column_config.DateColumn("Expected close", format="YYYY-MM-DD"),
    "close_date": st.column_config.DateColumn("Closed", format="YYYY-MM-DD"),
    "age_days": st.column_config.NumberColumn("Age (days)", format="%d"),
    "past_close_date": st.column_config.CheckboxColumn("Past close date"),
    "cycle_days": st.column_config.NumberColumn("Cycle (days)", format="%d"),
}
HISTORY_DEFAULT = ["bookings", "quota_attainment", "win_rate", "median_cycle_days"]
CORNERS: dict[str, tuple[float, float, str, str]] = {
    # quadrant -> (x, y in the plot's domain, x anchor, y anchor)
    RISING_STAR: (0.99, 0.99, "right", "top"),
    IMPROVING_LAGGARD: (0.01, 0.99, "left", "top"),
    FALLING_STAR: (0.99, 0.01, "right", "bottom"),
    DECLINING_LAGGARD: (0.01, 0.01, "left", "bottom"),
}
SHADES: dict[str, str] = {
    # a light fill per quadrant, so a rep's place reads at a glance (green good, red worst)
    RISING_STAR: "rgba(44, 160, 44, 0.09)",
    FALLING_STAR: "rgba(255, 160, 0, 0.10)",
    IMPROVING_LAGGARD: "rgba(31, 119, 180, 0.08)",
    DECLINING_LAGGARD: "rgba(214, 39, 40, 0.08)",
}


# --- figures -----------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=256)
def _kpi_rows(db: str, version: tuple[Any, ...], scope: Scope, by: str) -> pd.DataFrame:
    """kpi_table, cached per database file, data version and scope.

    The leaderboard and the quadrant share this period's table: with the cache it is
    computed once per data version and scope.
    """
    del db  # cache key only
    with _ui.cursor() as cur:
        return _ui.kpi_table(cur, scope, by, version)  # the company's figures, cut to scope


def cached_kpi(version: tuple[Any, ...]) -> KpiFunction:
    """A kpi_table stand-in (same signature) that goes through the cache."""
    db = str(_ui.db_path())
    return lambda _con, scope, by: _kpi_rows(db, version, scope, by)


@st.cache_data(show_spinner=False, max_entries=64)
def _kpi_tables_rows(
    db: str, version: tuple[Any, ...], scope: Scope, periods: tuple[Period, ...], by: str
) -> pd.DataFrame:
    """kpi_tables, cached: a drill-down's 12 periods in one go, shared by every rep's."""
    del db  # cache key only
    with _ui.cursor() as cur:
        return _ui.kpi_tables(cur, scope, periods, by, version)


@st.cache_data(show_spinner=False, max_entries=256)
def _attainment_rows(db: str, version: tuple[Any, ...], scope: Scope, by: str) -> pd.DataFrame:
    """attainment_table, cached per data version and scope: the window before's table is
    read by both `attainment_available` and the quadrant."""
    del db, version  # cache key only
    with _ui.cursor() as cur:
        return attainment_table(cur, scope, by)


def cached_attainment(version: tuple[Any, ...]) -> AttainmentFunction:
    """An attainment_table stand-in (same signature) that goes through the cache."""
    db = str(_ui.db_path())
    return lambda _con, scope, by: _attainment_rows(db, version, scope, by)


@st.cache_data(show_spinner=False, max_entries=256)
def _attainment_available(
    db: str, version: tuple[Any, ...], scope: Scope, window_months: int | None
) -> bool:
    """attainment_available, cached: its two tables were read on every rerun (a widget
    click, a point picked in the quadrant) although only an import changes them. Both go
    through the caches the quadrant reads too, so each is computed once per scope."""
    del db  # cache key only
    with _ui.cursor() as cur:
        kpi, attainment = cached_kpi(version), cached_attainment(version)
        return attainment_available(cur, scope, window_months, kpi=kpi, attainment=attainment)


@st.cache_data(show_spinner=False, max_entries=256)
def _quadrant(
    db: str,
    version: tuple[Any, ...],
    scope: Scope,
    settings: tuple[str, float | None, float, int, int | None],
) -> pd.DataFrame:
    """quadrant, cached per data version, peers scope and the page's controls.

    Why: like `_attainment_available`, its queries ran again on every rerun of the page.
    The window's KPI table goes through `_kpi_rows`, so the leaderboard's table is reused.
    """
    del db  # cache key only
    metric, x_split, y_split, min_closed, window_months = settings
    kpi = cached_kpi(version)
    window = quadrant_window(scope.period, window_months)
    with _ui.cursor() as cur:
        return quadrant(
            cur, scope, x_metric=metric, x_split=x_split, y_split=y_split,
            min_closed_deals=min_closed, window_months=window_months, kpi=kpi,
            current=kpi(cur, scope, "rep") if window == scope.period else None,
            attainment=cached_attainment(version),
        )  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=8)
def _roster(db: str, version: tuple[Any, ...]) -> pd.DataFrame:
    """The reps' teams for the leaderboard, once per data version."""
    del db, version  # cache key only
    with _ui.cursor() as cur:
        return quadrant_roster(cur)[["rep", "team"]]


def cached_kpi_tables(version: tuple[Any, ...]) -> KpiTablesFunction:
    """A kpi_tables stand-in (same signature) that goes through the cache."""
    db = str(_ui.db_path())
    return lambda _con, scope, periods, by: _kpi_tables_rows(db, version, scope, periods, by)


# --- formatting --------------------------------------------------------------------------


def _x_text(metric: str, value: Any) -> str:
    v = _num(value)
    return _ui.percent(v) if metric == "quota_attainment" else _ui.money(v)


def _y_text(metric: str, value: Any) -> str:
    v = _num(value)
    if v is None:
        return _ui.DASH
    text = _ui.signed_points(v) if metric == "quota_attainment" else _ui.signed_money(v)
    return text or _ui.DASH


def column_config(columns: list[str], no_data: dict[str, str] | None = None) -> dict[str, Any]:
    """st.dataframe column settings: the KPI definition as help, a format per unit; a
    column the export has no data for (`no_data`: column -> reason) says so in its help."""
    no_data = no_data or {}
    formats = {
        "money": "%,.0f",
        "share": _ui.PERCENT,  # on the display copy in per cent (see `table`)
        "count": "%d",
        "days": "%.1f",
        "minutes": "%,.0f min",
        "ratio": "%.2fx",
        "number": "%.1f",
    }
    config: dict[str, Any] = {}
    for col in columns:
        if col not in KPI_COLUMNS:
            continue
        unit = KPI_UNITS.get(col, "number")
        label = col.replace("_", " ")
        help_text = KPI_COLUMNS[col] + (f". No data: {no_data[col]}." if col in no_data else "")
        if unit == "flag":
            config[col] = st.column_config.CheckboxColumn(label, help=help_text)
        else:
            config[col] = st.column_config.NumberColumn(
                label, help=help_text, format=formats.get(unit, "%.2f")
            )
    return config


def table(df: pd.DataFrame, name: str, key: str, config: dict[str, Any] | None = None) -> None:
    """A sortable table (dates shown as dates) with its two download buttons."""
    settings = dict(config or {})
    for col in df.columns:
        if col not in settings and pd.api.types.is_datetime64_any_dtype(df[col]):
            settings[col] = st.column_config.DateColumn(col.replace("_", " "), format="YYYY-MM-DD")
    # Shares read with one fixed decimal ("60.0%", not "60%" beside "55.56%"): shown in per
    # cent on a display copy; the downloads keep the shares.
    shares = [c for c in df.columns if c in settings and KPI_UNITS.get(c) == "share"]
    shown = _ui.in_percent(df, shares)
    st.dataframe(shown, hide_index=True, column_config=settings, key=key, placeholder=_ui.DASH)
    _ui.downloads(df, name, f"dl:{key}")


# --- quadrant ----------------------------------------------------------------------------


def _window_control(period: Period) -> int | None:
    """How many months the quadrant judges a month over (a quarter or year is its own)."""
    if period.kind != "month":
        return None
    months = st.selectbox(
        "Judged over", list(WINDOW_CHOICES), index=WINDOW_CHOICES.index(DEFAULT_WINDOW_MONTHS),
        format_func=lambda m: "this month only" if m == 1 else f"the last {m} months",
        key="window_months", bind="query-params",
        help="One month is too few deals to judge a rep on: by default the quadrant looks "
        "at the three months ending with the month chosen, against the three before.",
    )  # fmt: skip
    return int(months or DEFAULT_WINDOW_MONTHS)


def _controls(attainment_ok: bool) -> tuple[str, float | None, float, int]:
    """The quadrant's settings: x metric, x split, y split, low-sample threshold.

    `attainment_ok` comes from analytics (quotas exist in both windows): without quotas the
    only measure offered is bookings, so no control says "% of quota" when it is not used.
    """
    cols = st.columns(4)
    choices = list(X_METRICS) if attainment_ok else ["bookings"]
    metric = cols[0].selectbox(
        "Performance (x axis)", choices, format_func=X_METRICS.get,
        key="x_metric" if attainment_ok else "x_metric_no_quota",
        help="Quota attainment = bookings / quota."
        if attainment_ok
        else "Bookings: no rep in view has a quota in this window and the one before, so "
        "quota attainment cannot be used.",
    )  # fmt: skip
    metric = metric or choices[0]
    attainment = metric == "quota_attainment"
    x_split = cols[1].number_input(
        "x split " + ("(% of quota)" if attainment else "(bookings)"),
        value=None, min_value=0.0, step=10.0 if attainment else 1000.0,
        placeholder="100% of quota" if attainment else "median of reps who won",
        key=f"x_split:{metric}",
        help="Where 'high performer' starts. Empty: "
        + ("100% of quota." if attainment else "the median bookings of the reps who won a deal."),
    )  # fmt: skip
    y_split = cols[2].number_input(
        "y split " + ("(pp change)" if attainment else "(bookings change)"),
        value=0.0, step=5.0 if attainment else 1000.0, key=f"y_split:{metric}",
        help="Where 'improving' starts; 0 = any growth since the window before.",
    )  # fmt: skip
    min_closed = cols[3].number_input(
        "Low sample below (closed deals)", min_value=0, value=DEFAULT_MIN_CLOSED_DEALS,
        step=1, key="min_closed",
        help="Reps with fewer closed (won + lost) deals in the window are drawn hollow: "
        "one large deal should not make a star.",
    )  # fmt: skip
    scale = 100.0 if attainment else 1.0
    x = None if x_split is None else float(x_split) / scale
    return metric, x, float(y_split or 0.0) / scale, int(min_closed)


def _axis_range(values: pd.Series, split: float) -> list[float]:
    """Data and split line both visible, with a margin so corner labels do not cover points."""
    finite = [v for v in values.tolist() if _num(v) is not None] + [split]
    low, high = min(finite), max(finite)
    pad = (high - low) * 0.15 or (abs(high) * 0.2 or 1.0)
    return [low - pad, high + pad]


def quadrant_figure(q: pd.DataFrame, focus: str | None) -> go.Figure:
    """Scatter: colour = team, size = open pipeline, hollow = low sample, split lines."""
    metric = q.attrs["x_metric"]
    placed = placed_points(q, NO_TEAM)
    # Marker diameter in pixels, area proportional to open pipeline, never below a
    # clickable minimum: a rep with no pipeline must still be visible (plotly's own
    # sizemin does not rescue a size of 0).
    diameter = MIN_MARKER + (MAX_MARKER - MIN_MARKER) * placed["pipeline_share"].pow(0.5)
    teams = sorted(placed["team_label"].unique())
    colours = _ui.team_colours(teams)
    x_name = X_METRICS[metric]
    attainment = metric == "quota_attainment"
    # Attainment is drawn in percent (x) and percentage points (y): "+12 pp" reads better
    # than "+0.12" and matches the split widgets.
    scale = 100.0 if attainment else 1.0
    fig = go.Figure()
    for team in teams:
        for low in (False, True):
            part = placed[(placed["team_label"] == team) & (placed["low_sample"] == low)]
            if part.empty:
                continue
            custom = [
                [
                    r.rep, r.team_label, r.quadrant, _ui.money(_num(r.bookings)),
                    _ui.percent(_num(r.quota_attainment)), _ui.percent(_num(r.win_rate)),
                    int(r.closed_deals), _ui.money(_num(r.open_pipeline)),
                    _x_text(metric, r.x), _y_text(metric, r.y),
                    " (low sample)" if r.low_sample else "",
                    plot_text(r.rep), plot_text(r.team_label), plot_text(r.quadrant),
                ]
                for r in part.itertuples()
            ]  # fmt: skip
            fig.add_trace(
                go.Scatter(
                    x=part["x"] * scale,
                    y=part["y"] * scale,
                    mode="markers",
                    name=plot_text(team),
                    legendgroup=team,
                    showlegend=bool(
                        not low or placed.loc[placed["team_label"] == team, "low_sample"].all()
                    ),
                    customdata=custom,
                    marker={
                        "size": diameter.loc[part.index].tolist(),
                        "color": colours[team],
                        "opacity": 0.45 if low else 0.85,
                        "symbol": "circle-open" if low else "circle",
                        "line": {"width": 2 if low else 1, "color": colours[team]},
                    },
                    hovertemplate=(
                        # customdata[0] is the raw name (a click opens that rep's
                        # drill-down); the hover shows the escaped copies (11-13)
                        "<b>%{customdata[11]}</b>%{customdata[10]}<br>%{customdata[12]} · "
                        "%{customdata[13]}<br>"
                        f"{x_name}: %{{customdata[8]}} (change %{{customdata[9]}})<br>"
                        "Bookings: %{customdata[3]} · attainment %{customdata[4]}<br>"
                        "Win rate: %{customdata[5]} of %{customdata[6]} closed<br>"
                        "Open pipeline: %{customdata[7]}<extra></extra>"
                    ),
                )
            )
    if placed["low_sample"].any():
        fig.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="markers", name=(
                    f"hollow = low sample (< {q.attrs['min_closed_deals']} closed deals)"
                ),
                marker={"symbol": "circle-open", "size": 10, "color": "grey"},
                hoverinfo="skip",
            )
        )  # fmt: skip
    if focus is not None and focus in set(placed["rep"]):
        row = placed[placed["rep"] == focus].iloc[0]
        fig.add_annotation(
            x=row["x"] * scale, y=row["y"] * scale, text=f"<b>{plot_text(focus)}</b>",
            showarrow=True, arrowhead=2, ax=30, ay=-30, bgcolor="rgba(255,255,255,0.8)",
        )  # fmt: skip
    x_split, y_split = q.attrs["x_split"] * scale, q.attrs["y_split"] * scale
    x_range = _axis_range(placed["x"] * scale, x_split)
    y_range = _axis_range(placed["y"] * scale, y_split)
    spans = {
        RISING_STAR: ((x_split, x_range[1]), (y_split, y_range[1])),
        FALLING_STAR: ((x_split, x_range[1]), (y_range[0], y_split)),
        IMPROVING_LAGGARD: ((x_range[0], x_split), (y_split, y_range[1])),
        DECLINING_LAGGARD: ((x_range[0], x_split), (y_range[0], y_split)),
    }
    for name, ((x0, x1), (y0, y1)) in spans.items():
        fig.add_shape(
            type="rect", x0=x0, x1=x1, y0=y0, y1=y1, xref="x", yref="y",
            fillcolor=SHADES[name], line={"width": 0}, layer="below",
        )  # fmt: skip
    fig.add_vline(x=x_split, line_dash="dash", line_color="grey")
    fig.add_hline(y=y_split, line_dash="dash", line_color="grey")
    for name, (cx, cy, xa, ya) in CORNERS.items():
        fig.add_annotation(
            x=cx, y=cy, xref="x domain", yref="y domain", xanchor=xa, yanchor=ya,
            text=f"<b>{name.title()}s</b>", showarrow=False, font={"size": 13, "color": "grey"},
        )  # fmt: skip
    previous = q.attrs["previous_period"]
    fig.update_xaxes(
        title=f"{x_name}, {q.attrs['period']}",
        tickformat=",.0f",
        ticksuffix="%" if attainment else "",
        range=x_range,
        zeroline=False,
    )
    fig.update_yaxes(
        title=f"Change since {previous}",
        tickformat="+,.0f",
        ticksuffix=" pp" if attainment else "",
        range=y_range,
        zeroline=False,
    )
    fig.update_layout(
        height=520,
        margin={"l": 0, "r": 0, "t": 10, "b": 0},
        legend={"title": {"text": "Team (size = open pipeline)"}},
        clickmode="event+select",
    )
    return fig


def _pick_from_chart() -> None:
    """on_select: a clicked point opens that rep's drill-down (and lands in the URL)."""
    state = st.session_state.get(CHART_KEY)
    points = (state or {}).get("selection", {}).get("points", []) if state else []
    for point in points:
        custom = point.get("customdata")
        if custom:
            st.session_state[FOCUS_KEY] = custom[0]
            return


def _quadrant_section(q: pd.DataFrame, focus: str | None, attainment_ok: bool) -> None:
    metric = q.attrs["x_metric"]
    no_change = q.attrs.get("no_change")
    if no_change:  # analytics: the window before ends before the data starts
        st.info(md(no_change), icon=":material/info:")
        return
    if not attainment_ok or metric != q.attrs["x_metric_requested"]:
        st.info(
            f"No rep in view has a quota in both {q.attrs['period']} and "
            f"{q.attrs['previous_period']}, so the quadrant measures **bookings** instead "
            "of quota attainment.", icon=":material/info:",
        )  # fmt: skip
    placed = q[q["quadrant"].notna()]
    if placed.empty:
        # the reps in view, each with why (analytics.quadrant's note): "has no figures" was
        # untrue when reps had figures but no rep won a deal to set the bookings line
        why = "; ".join(f"{md(r.rep)} ({md(r.note)})" for r in q.itertuples() if r.note)
        st.info(
            "No rep in this view is placed in the quadrant for this period"
            + (f". Not placed: {why}." if why else ": no rep has figures to place.")
        )
        return
    st.plotly_chart(
        quadrant_figure(q, focus),
        key=CHART_KEY,
        on_select=_pick_from_chart,
        selection_mode="points",
        config={"displayModeBar": False},
    )
    split = _x_text(metric, q.attrs["x_split"])
    summary = ", ".join(f"{n} {name}s" for name, n in quadrant_counts(q).items())
    how = q.attrs.get("x_split_rule", "set by hand")
    st.caption(
        f"Judged over {q.attrs['period']} against {q.attrs['previous_period']}. "
        f"x split {split} ({how}), "
        f"y split {_y_text(metric, q.attrs['y_split'])}. {summary}. Hollow points: fewer "
        f"than {q.attrs['min_closed_deals']} closed deals in {q.attrs['period']}, still "
        "placed but not to be judged on. On a split line counts as high / improving. "
        "Click a point to open the rep's drill-down."
    )  # fmt: skip
    unplaced = q[q["quadrant"].isna()]
    if not unplaced.empty:
        st.caption(
            "Not placed: "
            + "; ".join(f"{md(r.rep)} ({md(r.note)})" for r in unplaced.itertuples())
            + "."
        )  # fmt: skip


# --- drill-down --------------------------------------------------------------------------


def _history_chart(history: pd.DataFrame, chosen: list[str]) -> None:
    """Small multiples, two per row, each KPI with its own axis and unit."""
    rows = math.ceil(len(chosen) / 2)
    fig = make_subplots(
        rows=rows, cols=2, subplot_titles=[c.replace("_", " ") for c in chosen],
        vertical_spacing=min(0.25, 0.5 / rows), horizontal_spacing=0.08,
    )  # fmt: skip
    for i, col in enumerate(chosen):
        row, column = i // 2 + 1, i % 2 + 1
        fig.add_trace(
            go.Scatter(
                x=history["period"], y=history[col], mode="lines+markers", name=col,
                showlegend=False, connectgaps=False,
            ),
            row=row, col=column,
        )  # fmt: skip
        unit = KPI_UNITS.get(col, "number")
        fig.update_yaxes(
            tickformat={"share": ".0%", "money": ",.0f", "count": ",d"}.get(unit, ",.1f"),
            rangemode="tozero", row=row, col=column,
        )  # fmt: skip
        fig.update_xaxes(type="category", tickangle=-45, row=row, col=column)
    fig.update_layout(height=280 * rows + 20, margin={"l": 0, "r": 0, "t": 30, "b": 0})
    st.plotly_chart(fig, config={"displayModeBar": False}, key="history_chart")


def _drilldown_funnel(cur: Any, scope: Scope, rep: str, team: str | None) -> None:
    """The Funnel page's funnel for this rep (analytics decides steps, outcomes, stage
    unknown and "no data"), drawn in the rep's team colour (the same on every page)."""
    f = drilldown.deal_funnel(cur, scope, rep)
    st.subheader("Funnel of the rep's deals")
    cohort = "closed" if f.basis == "closed" else "created"
    st.caption(
        f"Deals {cohort} in {scope.period.label}, as on the Funnel page with this rep "
        "chosen: steps are the stages these deals used; won and lost are outcomes."
    )
    if f.deals == 0:
        st.caption(f"No deal was {cohort} in {scope.period.label}.")
        return
    counts = f"{f.deals:,} deal{'' if f.deals == 1 else 's'} {cohort}: {f.won:,} won, "
    counts += f"{f.lost:,} lost"
    counts += f", {f.still_open:,} still open." if f.basis != "closed" else "."
    if f.no_data:
        st.caption(f"No funnel to draw, no data: {f.no_data}. {counts}")
        return
    colour = _ui.team_colours([team or NO_TEAM])[team or NO_TEAM]
    st.plotly_chart(
        funnel_chart(f, "reached", colour=colour, height=300),
        config={"displayModeBar": False}, key="funnel_chart",
    )  # fmt: skip
    st.caption(md(f"{counts} {f.method_note()}"))
    with st.expander("Funnel as a table"):
        currency = _ui.data_facts(cur).reporting_currency
        st.dataframe(
            readable_table(f.table), hide_index=True, column_config=table_config(currency),
            key="funnel", placeholder=_ui.DASH,
        )  # fmt: skip
        _ui.downloads(f.table, f"{rep} funnel", "funnel_dl")


def _drilldown(
    cur: Any, scope: Scope, rep: str, q: pd.DataFrame, tables: KpiTablesFunction
) -> None:
    st.header(f"Drill-down: {md(rep)}")
    row = q[q["rep"] == rep]
    history = drilldown.kpi_history(cur, scope, rep, tables=tables)
    figures = history.iloc[-1]  # this period: the same row as the leaderboard's
    where = row.iloc[0]["quadrant"] if not row.empty else None
    low = bool(row.iloc[0]["low_sample"]) if not row.empty else False
    team = row.iloc[0]["team"] if not row.empty else None
    if is_missing(team):  # a rep the roster gives no team: NaN from the table, not a name
        team = None
    st.caption(
        f"{md(team or NO_TEAM)} · {scope.period.label} · "
        + (f"quadrant: **{where}**" + (" (low sample)" if low else "") if where else "not placed")
        + f" · amounts in {md(_ui.data_facts(cur).reporting_currency)}"
    )  # fmt: skip
    reasons = history.attrs.get("no_data", {}).get(scope.period.label, {})

    def card(box: Any, label: str, column: str, text: str, help: str | None = None) -> None:
        """A drill-down card; a figure analytics marked no data reads "no data" + reason."""
        reason = reasons.get(column)
        if _num(figures.get(column)) is None and reason:
            inside = box.container(border=True)  # the reason inside the card, as on Overview
            inside.metric(label, "no data", help=f"No data: {reason}.")
            inside.caption(f"No data: {reason}")
        else:
            box.metric(label, text, help=help, border=True)

    cols = st.columns(5)
    card(cols[0], "Rep bookings", "bookings", _ui.money(_num(figures.get("bookings"))))
    card(
        cols[1], "Rep quota attainment", "quota_attainment",
        _ui.percent(_num(figures.get("quota_attainment"))),
    )  # fmt: skip
    card(cols[2], "Rep win rate", "win_rate", _ui.percent(_num(figures.get("win_rate"))))
    cols[3].metric("Rep closed deals", f"{drilldown.closed_count(figures):,}", border=True)
    card(
        cols[4], "Rep open pipeline", "open_pipeline",
        _ui.money(_num(figures.get("open_pipeline"))),
        help=open_figures_note(open_basis(cur, scope.period)),  # past periods: at their end
    )  # fmt: skip

    st.subheader(f"KPIs over the last {drilldown.DEFAULT_HISTORY_PERIODS} {scope.period.kind}s")
    numeric = [c for c in KPI_COLUMNS if KPI_UNITS.get(c) != "flag"]
    # a KPI with no data in every period shown (no quotas, no activity data ...) is no
    # empty chart: it is left out of the default and named with its reason instead
    empty = drilldown.no_data_everywhere(history)
    chosen = st.multiselect(
        "KPIs to plot", numeric, default=[c for c in HISTORY_DEFAULT if c not in empty],
        key="history_kpis", format_func=lambda c: c.replace("_", " "),
    )  # fmt: skip
    drawn = [c for c in chosen if c not in empty]
    if drawn:
        _history_chart(history, drawn)
    missing = sorted({c for c in HISTORY_DEFAULT + chosen if c in empty}, key=numeric.index)
    if missing:
        st.caption(
            "No data, so not plotted: "
            + "; ".join(f"{c.replace('_', ' ')} ({empty[c]})" for c in missing)
            + "."
        )  # fmt: skip
    with st.expander("KPI history as a table"):
        table(history, f"{rep} KPI history", "history", column_config(list(history.columns)))

    left, right = st.columns(2)
    with left:
        st.subheader("Activity mix")
        mix = drilldown.activity_mix(cur, scope, rep)
        if mix.empty:
            # no activities in the database at all is no data, not a quiet month
            why = reasons.get("selling_time_share")
            st.caption(
                f"No data: {why}." if why else f"No activity logged in {scope.period.label}."
            )
        else:
            shown = mix.copy()  # shares printed so that they add up to 100.0%
            shown["share"] = percent_parts(list(mix["share"]))
            fig = px.bar(
                plot_frame(shown), x="activities", y="activity_type", orientation="h",
                color="category",
                hover_data={"hours": ":.1f", "share": True},
                labels={"activity_type": "", "activities": "Activities", "category": ""},
            )  # fmt: skip
            fig.update_layout(height=300, margin={"l": 0, "r": 0, "t": 10, "b": 0})
            fig.update_yaxes(categoryorder="total ascending")
            st.plotly_chart(fig, config={"displayModeBar": False}, key="activity_chart")
            with st.expander("Activity mix as a table"):
                st.dataframe(
                    shown, hide_index=True, key="activity", placeholder=_ui.DASH,
                    column_config={"hours": st.column_config.NumberColumn(format="%.1f")},
                )  # fmt: skip
                _ui.downloads(mix, f"{rep} activity mix", "activity")
    with right:
        _drilldown_funnel(cur, scope, rep, team)

    st.subheader("Open deals")
    opened = drilldown.open_deals(cur, rep, access=scope.access)
    st.caption("Amounts in the deal's own currency; age and overdue as of the export's date.")
    table(opened, f"{rep} open deals", "open_deals", DEAL_COLUMNS)
    st.subheader(f"Deals closed in {scope.period.label}")
    closed_deals = drilldown.closed_deals(cur, scope, rep)
    for why in closed_deals.attrs.get("no_data", {}).values():
        st.caption(f"No data for the amount of lost deals: {md(why)}.")
    table(closed_deals, f"{rep} closed deals {scope.period.label}", "closed_deals", DEAL_COLUMNS)


# --- leaderboard -------------------------------------------------------------------------


def _leaderboard(board: pd.DataFrame, q: pd.DataFrame, roster: pd.DataFrame, scope: Scope) -> None:
    st.header("Leaderboard")
    rows = leaderboard(board, q, roster)
    st.caption(
        f"Every KPI per rep for {scope.period.name}; click a column to sort, hover a "
        "column name for its definition. A dash (—) means not defined (e.g. no quota, no closed "
        "deal), never 0."
        + (
            f" The quadrant column is judged over {q.attrs['period']}, as in the chart."
            if q.attrs.get("period") != scope.period.name
            else ""
        )
    )
    no_data = board.attrs.get("no_data", {})
    if no_data:
        # analytics decided these figures have no data in this export (metrics/availability)
        by_reason: dict[str, list[str]] = {}
        for column, reason in no_data.items():
            if column in rows.columns:
                by_reason.setdefault(reason, []).append(column.replace("_", " "))
        st.caption(
            "No data: "
            + "; ".join(f"{', '.join(cols)} ({md(r)})" for r, cols in by_reason.items())
            + "."
        )
    # a rep's own figures that are no data (all their won, or open, deals lack an amount)
    for rep, note in zip(rows["rep"], rows.get("no_data", []), strict=False):
        if isinstance(note, str) and note:
            st.caption(f"No data for {md(rep)}: {md(note)}.")
    config = column_config(list(rows.columns), no_data)
    config["no_data"] = st.column_config.TextColumn(
        "no data",
        width="large",
        help="This rep's figures that are no data, and why: e.g. all their won deals in the "
        "period lack an amount, so their bookings are unknown, not 0",
    )
    config["low_sample"] = st.column_config.CheckboxColumn(
        "low sample", help="Fewer closed deals this period than the threshold above"
    )
    table(rows, f"rep scorecard {scope.period.label}", "leaderboard", config)


# --- page ----------------------------------------------------------------------------------


def render() -> None:
    st.title("Reps")
    if _ui.database_is_empty():
        _ui.show_empty_database_hint()
        return
    with _ui.cursor() as cur:
        # a period not over on the data's date is shown to date, against the same days
        scope = _ui.current_scope().to_date(_ui.data_facts(cur).as_of)
    peers = replace(scope, rep=None)
    st.caption(
        f"Scope: {md(peers.describe())}; change is against {scope.period.previous().name}. "
        + ("The rep filter opens that rep's drill-down; the quadrant keeps the peers. "
           if scope.rep else "")
    )  # fmt: skip

    window_months = _window_control(scope.period)
    db = str(_ui.db_path())
    with _ui.cursor() as cur:
        version = _ui.data_version(cur)
        attainment_ok = _attainment_available(db, version, peers, window_months)
        metric, x_split, y_split, min_closed = _controls(attainment_ok)
        board = cached_kpi(version)(cur, peers, "rep")
        q = _quadrant(db, version, peers, (metric, x_split, y_split, min_closed, window_months))
        roster = _roster(db, version)

        reps = [r for r in board["rep"].dropna().tolist()]
        focus = st.selectbox(
            "Drill down into", [None, *reps],
            format_func=lambda r: "— choose a rep —" if r is None else str(r),
            key=FOCUS_KEY, bind="query-params",
            help="Or click a rep's point in the quadrant. The choice is kept in the URL.",
        )  # fmt: skip
        chosen = focus or scope.rep
        _quadrant_section(q, chosen, attainment_ok)
        if chosen:
            _drilldown(cur, scope, chosen, q, cached_kpi_tables(version))
        _leaderboard(board, q, roster, scope)


_ui.run_page(render)
