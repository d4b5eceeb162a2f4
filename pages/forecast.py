"""Forecast: what revenue lands this period, and how far to trust that number.

Built for executives, in the order they read it: the headline number with its range
(commit / best case / pipeline), what is already won and the gap to quota, and *first of
all* the recommended method's own track record, because a forecast without one is a
guess. Then forecast vs actual over past periods (one line per method and the actual),
the accuracy table, how the quarter's forecast converges week by week, and the detail:
the deals that move the number most, the reps' calls, and a what-if.

Every figure comes from `analytics.forecast` (definitions in docs/metrics.md (Forecast));
this page only draws, caches per database file and data version, and offers each table
as CSV. Each section runs in its own error handler, so one failure shows one sentence,
never a traceback, and the rest of the page still renders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import duckdb
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics.forecast.backtest import Backtest, backtest, convergence
from analytics.forecast.current import (
    GROUPINGS,
    PeriodForecast,
    calls_table,
    period_forecast,
    roster,
    what_if,
)
from analytics.forecast.methods import METHOD_LABELS, METHODS, RECOMMENDED, stage_key
from analytics.markup import md
from analytics.scope import PeriodKind, Scope
from analytics.settings import load_reporting_currency, load_stages
from pages import _ui

MONEY = "%,.0f"
HISTORY_CHOICES = (6, 12, 24)
ACTUAL = "Actual"
COLOURS = {
    "stage_weighted": "#1f77b4",
    "run_rate": "#ff7f0e",
    "sales_cycle": "#2ca02c",
    "commit": "#9467bd",
    "best_case": "#8c564b",
    RECOMMENDED: "#d62728",
}


# --- figures (cached per database file, data version and arguments) -----------------------


def data_version(con: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """Changes whenever an import lands or a setting is saved: part of every cache key."""
    imports = con.execute("SELECT max(import_id), count(*) FROM imports").fetchone()
    settings = con.execute("SELECT max(updated_at), count(*) FROM settings").fetchone()
    return (*imports, str(settings[0]), settings[1])


@st.cache_data(show_spinner=False, max_entries=64)
def _backtest(db: str, version: tuple[Any, ...], scope: Scope, kind: str, n: int) -> Backtest:
    del db, version  # cache key only
    with _ui.cursor() as cur:
        return backtest(cur, scope, kind=kind, periods=n,
                        fiscal_start_month=scope.period.fiscal_start_month)  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=64)
def _convergence(db: str, version: tuple[Any, ...], scope: Scope) -> pd.DataFrame:
    del db, version
    with _ui.cursor() as cur:
        return convergence(cur, scope, fiscal_start_month=scope.period.fiscal_start_month)


@st.cache_data(show_spinner=False, max_entries=64)
def _current(db: str, version: tuple[Any, ...], scope: Scope, kind: str, n: int) -> PeriodForecast:
    past = _backtest(db, version, scope, kind, n)
    with _ui.cursor() as cur:
        rec = past.recommendation_for(scope.period.label)  # a past period: as it stood then
        return period_forecast(cur, scope, recommendation=rec)


@st.cache_data(show_spinner=False, max_entries=16)
def _roster(db: str, version: tuple[Any, ...]) -> dict[str, tuple[str | None, str | None]]:
    del db, version
    with _ui.cursor() as cur:
        return roster(cur)


def backtest_kind(scope: Scope) -> PeriodKind:
    """Months and quarters are backtested as themselves; a year by its quarters."""
    return scope.period.kind if scope.period.kind in ("month", "quarter") else "quarter"


# --- drawing helpers -------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return _ui.percent(value)


def _signed_pct(value: float | None) -> str:
    return _ui.DASH if value is None else f"{value * 100:+.1f}%"


def _list_periods(labels: list[str]) -> str:
    """'2024-01, 2024-02' or, for many, '2023-05 … 2024-03 (11 periods)'."""
    if len(labels) <= 4:
        return ", ".join(labels)
    return f"{labels[0]} … {labels[-1]} ({len(labels)} periods)"


def _method_label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


# --- sections --------------------------------------------------------------------------


def show_headline(result: PeriodForecast, past: Backtest, currency: str) -> None:
    """The number, its range and the quota; then the recommended method's track record."""
    period = result.period
    rec = result.recommendation
    if result.status == "no data":
        st.info(
            f"No forecast for {period.label}: the period is over and no pipeline export was "
            "taken on or shortly before its first day (forecasts are rebuilt only from the "
            f"exports of that time). Actual won: {_ui.money(result.actual)} {md(currency)}."
        )
        return
    when = (
        f"live, from the data as of {result.data_date:%d %b %Y}"
        if result.status == "live"
        else f"as made at the start of the period (export of {result.data_date:%d %b %Y})"
    )
    st.caption(f"{period.label}: {when}. Amounts in {md(currency)}.")
    cols = st.columns(4)
    cols[0].metric(
        f"Forecast {period.label}", _ui.money(result.recommended),
        help=f"Recommended method: {rec.label}. {rec.reason}",
        border=True,
    )  # fmt: skip
    if result.status == "closed":
        won = result.actual
        cols[1].metric(
            "Actual won", _ui.money(won), _ui.signed_money(
                None if result.recommended is None or won is None else won - result.recommended
            ),
            help="What closed won in the period (today's data), against the forecast",
            border=True,
        )  # fmt: skip
    else:
        cols[1].metric(
            "Won so far", _ui.money(result.already_won),
            help="Won with a close date in the period, as of the data date", border=True,
        )  # fmt: skip
    cols[2].metric(
        "Quota", _ui.money(result.quota),
        help="Quotas overlapping the period, pro-rated by days", border=True,
    )  # fmt: skip
    gap = result.gap_to_quota
    cols[3].metric(
        "Gap to quota", _ui.money(gap),
        help="Quota - forecast: positive means the forecast falls short of quota",
        delta="short" if gap is not None and gap > 0 else ("covered" if gap is not None else None),
        delta_color="inverse" if gap is not None and gap > 0 else "normal",
        delta_arrow="off", border=True,
    )  # fmt: skip
    cols = st.columns(4)
    rng = result.range
    cols[0].metric(
        "Commit", _ui.money(rng.commit if rng else None),
        help="Reps' commit: their latest call for the period, or their deals' forecast "
        "category (already won + Commit) where they made no call", border=True,
    )  # fmt: skip
    cols[1].metric(
        "Best case", _ui.money(rng.best_case if rng else None),
        help="Commit + Best Case", border=True,
    )  # fmt: skip
    cols[2].metric(
        "Pipeline", _ui.money(rng.pipeline if rng else None),
        help="Best case + the rest of the pipeline (Omitted deals left out)", border=True,
    )  # fmt: skip
    cov = result.coverage
    cols[3].metric(
        "Pipeline coverage", _ui.DASH if cov is None else f"{cov:.2f}x",
        help="Open pipeline expected to close in the period / (quota - already won)",
        border=True,
    )  # fmt: skip

    summary = past.summary.set_index("method")
    track = summary.loc[RECOMMENDED] if RECOMMENDED in summary.index else None
    unit = past.kind
    with st.container(border=True):
        st.markdown(f"**Recommended:** {md(rec.reason)}")
        if track is None or not track["periods"]:
            st.caption(
                f"No track record yet: no past {unit} has both a start-of-period export and "
                "sales. The figures above are the stage-weighted forecast."
            )
            return
        cols = st.columns(4)
        cols[0].metric(
            "Track record: accuracy", _pct(track["mean_accuracy"]),
            help=f"Mean of 1 - |actual - forecast| / actual over the last {track['periods']} "
            f"{unit}s, each forecast made at the start of its {unit} by the method "
            "recommended then (chosen from the periods before it only)",
        )  # fmt: skip
        cols[1].metric(
            "Error (WAPE)", _pct(track["wape"]),
            help="Sum of |actual - forecast| / sum of actuals",
        )  # fmt: skip
        cols[2].metric(
            "Bias", _signed_pct(track["bias"]),
            help="Sum of (forecast - actual) / sum of actuals: positive = over-forecasting",
        )  # fmt: skip
        cols[3].metric(
            f"{unit.capitalize()}s within 10%", _pct(track["within_10pct"]),
            help="Share of periods with accuracy of 90% or better (fewer than a quarter of "
            "sales teams reach 75%)",
        )  # fmt: skip


def forecast_chart(table: pd.DataFrame) -> go.Figure:
    """One line per method (the recommended one bold) and the actual as bars."""
    fig = go.Figure()
    actual = table.drop_duplicates("period")[["period", "actual"]]
    fig.add_bar(x=actual["period"], y=actual["actual"], name=ACTUAL,
                marker_color="rgba(120,120,120,0.35)")  # fmt: skip
    for method in [*METHODS, RECOMMENDED]:
        rows = table[table["method"] == method]
        fig.add_scatter(
            x=rows["period"], y=rows["forecast"], name=_method_label(method), mode="lines+markers",
            line={"color": COLOURS[method], "width": 4 if method == RECOMMENDED else 2},
            connectgaps=False,
        )  # fmt: skip
    fig.update_layout(
        height=360, margin={"l": 0, "r": 0, "t": 10, "b": 0},
        legend={"orientation": "h", "y": -0.2}, hovermode="x unified",
    )  # fmt: skip
    fig.update_xaxes(type="category")
    return fig


def show_history(past: Backtest) -> None:
    table = past.table
    if table.empty or table["forecast"].isna().all():
        st.info(
            "No past period can be backtested yet: a forecast is rebuilt from the pipeline "
            "export taken on or up to 31 days before a period's first day, and none is. "
            "Upload weekly exports (with their as-of date) to build a track record."
        )
        if past.skipped:
            st.caption(f"Periods without such an export: {_list_periods(past.skipped)}.")
        return
    st.plotly_chart(forecast_chart(table), key="forecast:history",
                    config={"displayModeBar": False})  # fmt: skip
    if past.skipped:
        st.caption(
            f"No export on or shortly before the start of {_list_periods(past.skipped)}: "
            "those periods show the actual only."
        )
    st.subheader("Accuracy by method")
    summary = past.summary.copy()
    summary["label"] = [_method_label(m) for m in summary["method"]]
    st.dataframe(
        summary[["label", "periods", "mean_accuracy", "wape", "bias", "within_10pct"]],
        hide_index=True, key="forecast:accuracy",
        column_config={
            "label": st.column_config.TextColumn("Method"),
            "periods": st.column_config.NumberColumn("Periods"),
            "mean_accuracy": st.column_config.NumberColumn(
                "Mean accuracy", format="percent", help="Mean of 1 - |A - F| / A"),
            "wape": st.column_config.NumberColumn(
                "WAPE", format="percent", help="Sum |A - F| / sum A: lower is better"),
            "bias": st.column_config.NumberColumn(
                "Bias", format="percent", help="Sum (F - A) / sum A: + over, - under"),
            "within_10pct": st.column_config.NumberColumn(
                "Within 10%", format="percent", help="Share of periods with accuracy >= 90%"),
        },
    )  # fmt: skip
    _ui.downloads(summary, f"forecast_accuracy_{past.kind}", "forecast:accuracy")
    with st.expander("Every period and method"):
        st.dataframe(
            table, hide_index=True, key="forecast:backtest",
            column_config={
                "forecast": st.column_config.NumberColumn("Forecast", format=MONEY),
                "actual": st.column_config.NumberColumn("Actual", format=MONEY),
                "error": st.column_config.NumberColumn("Forecast - actual", format=MONEY),
                "accuracy": st.column_config.NumberColumn("Accuracy", format="percent"),
            },
        )  # fmt: skip
        _ui.downloads(table, f"forecast_backtest_{past.kind}", "forecast:backtest")


def show_convergence(table: pd.DataFrame) -> None:
    """Mean absolute error by week of the quarter over the complete quarters."""
    done = table[table["complete"] & table["accuracy"].notna()].copy()
    if done.empty:
        st.caption(
            "Needs at least one complete quarter with weekly exports inside it."
            if table.empty
            else "No complete quarter with weekly exports yet; the current quarter's "
            "forecasts by week are in the table below."
        )
    else:
        done["error"] = 1.0 - done["accuracy"]
        curve = done.groupby(["method", "week"], as_index=False)["error"].mean()
        fig = go.Figure()
        for method in METHODS:
            rows = curve[curve["method"] == method]
            fig.add_scatter(x=rows["week"], y=rows["error"], name=_method_label(method),
                            mode="lines+markers", line={"color": COLOURS[method]})  # fmt: skip
        fig.update_layout(
            height=300, margin={"l": 0, "r": 0, "t": 10, "b": 0},
            legend={"orientation": "h", "y": -0.25},
            xaxis_title="Week of the quarter (0 = its first day)",
            yaxis_title="Mean |A - F| / A", yaxis_tickformat=".0%",
        )  # fmt: skip
        st.plotly_chart(fig, key="forecast:convergence", config={"displayModeBar": False})
        quarters = ", ".join(sorted(done["quarter"].unique()))
        st.caption(f"Complete quarters: {quarters}. Lower is better; week 0 is the backtest.")
    if not table.empty:
        with st.expander("Forecast by week, every quarter"):
            st.dataframe(table, hide_index=True, key="forecast:convergence_table")
            _ui.downloads(table, "forecast_convergence", "forecast:convergence")


DEAL_CONFIG: dict[str, Any] = {
    "opportunity_id": st.column_config.TextColumn("Deal id"),
    "opportunity_name": st.column_config.TextColumn("Deal"),
    "account": st.column_config.TextColumn("Account"),
    "owner": st.column_config.TextColumn("Owner"),
    "stage": st.column_config.TextColumn("Stage"),
    "forecast_category": st.column_config.TextColumn("Category"),
    "close_date": st.column_config.DateColumn("Close", format="YYYY-MM-DD"),
    "amount": st.column_config.NumberColumn("Amount", format=MONEY),
    "probability": st.column_config.NumberColumn("Stage prob.", format="percent"),
    "weighted": st.column_config.NumberColumn("Weighted", format=MONEY),
    "upside": st.column_config.NumberColumn(
        "If won", format=MONEY, help="amount x (1 - p): what winning it adds"),
    "downside": st.column_config.NumberColumn(
        "If lost", format=MONEY, help="amount x p: what losing it takes away"),
    "swing": st.column_config.NumberColumn(
        "Moves the number by", format=MONEY, help="the larger of the two"),
}  # fmt: skip


def show_top_deals(result: PeriodForecast) -> None:
    top = result.top_deals()
    if top.empty:
        st.caption("No open deal is expected to close in this period.")
        return
    st.dataframe(top, hide_index=True, column_config=DEAL_CONFIG, key="forecast:top")
    _ui.downloads(top, f"forecast_top_deals_{result.period.label}", "forecast:top")


def show_calls(result: PeriodForecast, people: dict[str, tuple[str | None, str | None]]) -> None:
    if not result.calls:
        st.caption("No forecast calls and no forecast categories for this period.")
        return
    by = st.segmented_control(
        "Roll up by", GROUPINGS, default="rep", key="forecast:by", required=True,
        format_func=str.capitalize,
    ) or "rep"  # fmt: skip
    table = calls_table(result.calls, people, by)
    st.dataframe(
        table, hide_index=True, key="forecast:calls",
        column_config={c: st.column_config.NumberColumn(c.replace("_", " ").capitalize(),
                                                        format=MONEY)
                       for c in ("commit", "best_case", "pipeline")},
    )  # fmt: skip
    st.caption(
        f"{result.submitted_owners} rep(s) submitted a call for this period; the others' "
        "figures come from their deals' forecast category."
    )
    _ui.downloads(table, f"forecast_calls_by_{by}_{result.period.label}", "forecast:calls")


def show_what_if(result: PeriodForecast) -> None:
    """Stage probabilities and excluded deals -> the forecast, before and after."""
    deals = result.deals
    if deals.empty:
        st.caption("No open deal in this period to play with.")
        return
    stages = [s for s in load_stages_cached() if not s[1]]
    open_stages = {stage_key(s) for s in deals["stage"]}
    overrides: dict[str, float] = {}
    shown = [(name, prob) for name, closed, prob in stages if stage_key(name) in open_stages]
    cols = st.columns(max(1, len(shown)))
    for col, (name, prob) in zip(cols, shown, strict=False):
        value = col.number_input(
            f"{md(name)} %", min_value=0, max_value=100, value=int(round(prob)), step=5,
            key=f"forecast:whatif:{stage_key(name)}",
        )  # fmt: skip
        if value != prob:
            overrides[name] = float(value)
    ranked = result.top_deals(50)
    labels = {
        str(i): f"{n or i} · {o or _ui.DASH} · {_ui.money(a)}"
        for i, n, o, a in zip(ranked["opportunity_id"], ranked["opportunity_name"],
                              ranked["owner"], ranked["amount"], strict=True)
    }  # fmt: skip
    exclude = st.multiselect(
        "Leave these deals out", list(labels), format_func=lambda i: labels.get(i, i),
        key="forecast:whatif:exclude", placeholder="Deals that move the number most",
    )  # fmt: skip
    scenario = what_if(result, overrides=overrides, exclude=exclude)
    cols = st.columns(3)
    rows = [("Recommended", scenario.base_recommended, scenario.scenario_recommended)]
    rows += [
        (_method_label(m), scenario.base.get(m), scenario.scenario.get(m))
        for m in ("stage_weighted", "sales_cycle")
    ]
    for col, (label, before, after) in zip(cols, rows, strict=True):
        delta = None if before is None or after is None else round(after - before, 2)
        if delta is not None and abs(delta) < 0.5:
            delta = 0.0  # float noise from summing per deal instead of per stage
        col.metric(f"{label} (what-if)", _ui.money(after), _ui.signed_money(delta),
                   border=True)  # fmt: skip
    st.caption(
        "Stage-weighted and sales-cycle forecasts are recomputed; the run-rate and the reps' "
        "calls do not depend on single deals. Nothing is saved: Settings keep the stages."
    )


@st.cache_data(show_spinner=False, max_entries=16)
def _stages(db: str, version: tuple[Any, ...]) -> list[tuple[str, bool, float]]:
    del db, version
    with _ui.cursor() as cur:
        return [(s.name, s.is_closed, float(s.probability)) for s in load_stages(cur)]


def load_stages_cached() -> list[tuple[str, bool, float]]:
    with _ui.cursor() as cur:
        version = data_version(cur)
    return _stages(str(_ui.db_path()), version)


# --- the page ------------------------------------------------------------------------------


def _section(title: str | None, what: str, show: Callable[[], None]) -> None:
    if title:
        st.subheader(title)
    try:
        show()
    except Exception as exc:  # one section failing must not take the page down
        _ui.friendly_error(what, exc)


def render() -> None:
    st.title("Forecast")
    if _ui.database_is_empty():
        _ui.show_empty_database_hint()
        return
    scope = _ui.current_scope()
    db = str(_ui.db_path())
    with _ui.cursor() as cur:
        version = data_version(cur)
        currency = load_reporting_currency(cur)
    kind = backtest_kind(scope)
    n = int(st.session_state.get("forecast:history_n") or 12)
    past = _backtest(db, version, scope, kind, n)
    result = _current(db, version, scope, kind, n)
    st.caption(f"Scope: {md(scope.describe())}.")

    _section(None, "the headline forecast", lambda: show_headline(result, past, currency))
    st.subheader(f"Forecast vs actual, by {kind}")
    st.segmented_control(
        "Past periods", HISTORY_CHOICES, default=12, key="forecast:history_n", required=True,
        help="Completed periods to backtest; the recommendation is chosen from them",
    )  # fmt: skip
    st.caption(
        "Each forecast as it would have been made at the start of the period, from the "
        "pipeline export of that day (never today's data), against what closed won."
    )
    _section(None, "forecast vs actual", lambda: show_history(past))
    _section(
        "How the quarter's forecast converges", "the convergence chart",
        lambda: show_convergence(_convergence(db, version, scope)),
    )  # fmt: skip
    _section(
        f"Deals that move the {scope.period.label} number most", "the top deals",
        lambda: show_top_deals(result),
    )  # fmt: skip
    _section(
        "Reps' calls: commit, best case, pipeline", "the forecast calls",
        lambda: show_calls(result, _roster(db, version)),
    )  # fmt: skip
    _section("What-if", "the what-if", lambda: show_what_if(result))


_ui.run_page(render)
