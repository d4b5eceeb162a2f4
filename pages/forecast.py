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

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics.forecast.backtest import (
    Backtest,
    Convergence,
    backtest,
    backtest_source_words,
    convergence,
    convergence_by_week,
    convergence_caveat,
    convergence_sources,
    window_words,
)
from analytics.forecast.current import (
    GROUPINGS,
    PeriodForecast,
    calls_table,
    method_rows,
    period_forecast,
    roster,
    what_if,
    what_if_change,
    what_if_stages,
)
from analytics.forecast.methods import METHOD_LABELS, METHODS, RECOMMENDED, stage_key
from analytics.markup import md
from analytics.numbers import counted, verb
from analytics.numbers import number_or_none as _num
from analytics.pointintime import SOURCE_HELP
from analytics.scope import PeriodKind, Scope
from analytics.settings import Stage, load_stages
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


@st.cache_data(show_spinner=False, max_entries=64)
def _backtest_and_inputs(
    db: str, version: tuple[Any, ...], scope: Scope, kind: str, n: int
) -> Backtest:
    del db, version  # cache key only
    with _ui.cursor() as cur:
        # with the first convergence chart's weekly asks: one pass for both (issue 14)
        return backtest(cur, scope, kind=kind, periods=n,
                        fiscal_start_month=scope.period.fiscal_start_month,
                        with_convergence=True)  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=64)
def _backtest(db: str, version: tuple[Any, ...], scope: Scope, kind: str, n: int) -> Backtest:
    """The backtest without the inputs it gathered for the convergence chart.

    Every rerun reads this cached result up to three times, and each read unpickles it:
    the gathered inputs made it about ten times bigger (grows with the data), although
    only `_convergence` uses them, once per cache miss (review of issue 14's batching).
    """
    return replace(_backtest_and_inputs(db, version, scope, kind, n), gathered=None)


@st.cache_data(show_spinner=False, max_entries=64)
def _convergence(
    db: str, version: tuple[Any, ...], scope: Scope, kind: str, n: int, label: str
) -> Convergence:
    past = _backtest_and_inputs(db, version, scope, kind, n)
    with _ui.cursor() as cur:
        return convergence(
            cur, scope, kind=kind, periods=n, labels=[label],  # type: ignore[arg-type]
            fiscal_start_month=scope.period.fiscal_start_month,
            recommendation=past.recommendation, known=past.gathered,
        )  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=64)
def _current(db: str, version: tuple[Any, ...], scope: Scope, kind: str, n: int) -> PeriodForecast:
    past = _backtest(db, version, scope, kind, n)
    with _ui.cursor() as cur:
        # the recommendation of the accuracy table on this page, for any period shown
        return period_forecast(cur, scope, recommendation=past.recommendation)


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


def _money(value: float | None, currency: str) -> str:
    """An amount with the reporting currency ("1,234 EUR"); the dash when undefined."""
    return _ui.DASH if value is None else f"{_ui.money(value)} {currency}"


def _figure(value: float | None, currency: str, note: str | None) -> str:
    """A card's amount, or "no data" when analytics gave a reason it has none."""
    if value is None and note:
        return "no data"
    return _money(value, currency)


def _score(shown: str, value: float | None, note: str | None) -> str:
    """A score as shown, or "no data" when analytics gave a reason it has none."""
    return "no data" if value is None and note else shown


def _why(note: str | None) -> str:
    """Analytics' reason a card has no figure, appended to its help (shown literally)."""
    return "" if not note else ". " + md(note)


def _signed(value: float | None, currency: str) -> str | None:
    return None if value is None else f"{_ui.signed_money(value)} {currency}"


def show_headline(result: PeriodForecast, past: Backtest, currency: str) -> None:
    """A running period: the number, its range, the gap to quota. A finished one: the
    actual against every method's forecast. Then the recommended method's own record."""
    period = result.period
    if result.status == "no data":
        st.info(
            f"No forecast for {period.label}: the database holds no deals to forecast from. "
            f"Actual won: {md(_money(result.actual, currency))}."
        )
    elif result.status == "live":
        show_live(result, currency)
    else:
        show_finished(result, currency)
    show_recommended(past, currency)


def show_live(result: PeriodForecast, currency: str) -> None:
    """The forecast of a period still running, the gap it leaves to quota, the range."""
    period, rec = result.period, result.recommendation
    label = period.label
    st.caption(
        f"{label} is not over: live forecast from the data as of "
        f"{result.data_date:%d %b %Y}. Amounts in {md(currency)}."
    )
    empty = result.no_basis
    # rows of two: on a laptop four cards in a row cut "1,234,567 USD" to "1,234,5…", and
    # three cut "Coverage by pipeline closing in 2026-11"; forecast and its gap to quota,
    # won so far and quota, then the period's pipeline and its coverage
    first, second, third = st.columns(2), st.columns(2), st.columns(2)
    cols = [first[0], second[0], second[1], first[1]]
    cols[0].metric(
        f"Forecast {label}",
        "no data" if empty else _money(result.recommended, currency),
        help=md(empty) if empty else f"Recommended method: {md(rec.label)}. {md(rec.reason)}",
        border=True,
    )  # fmt: skip
    cols[1].metric(
        "Won so far", _money(result.already_won, currency),
        help="Won with a close date in the period, as of the data date", border=True,
    )  # fmt: skip
    cols[2].metric(
        "Quota", _figure(result.quota, currency, result.quota_note),
        help="Quotas overlapping the period, pro-rated by days" + _why(result.quota_note),
        border=True,
    )  # fmt: skip
    gap = None if empty else result.gap_to_quota
    cols[3].metric(
        "Gap to quota",
        _figure(None if gap is None else abs(gap), currency, result.gap_note),
        help="Quota - forecast: how far the forecast falls short of quota ('short'), or "
        "how far it is above ('above quota')" + _why(result.gap_note),
        delta=None if gap is None else (
            "short" if gap > 0 else ("above quota" if gap < 0 else "on quota")
        ),
        delta_color="inverse" if gap is not None and gap > 0 else "normal",
        delta_arrow="off", border=True,
    )  # fmt: skip
    cols = third
    note = result.open_pipeline_note
    cols[0].metric(
        f"Open pipeline closing in {label}",
        "no data" if result.open_pipeline is None else _money(result.open_pipeline, currency),
        help=f"{counted(result.open_deals, 'open deal')} with a close date in {label}, priced in "
        f"{md(currency)}. Not the Overview's Open pipeline, which counts every open deal."
        + ("" if note is None else " " + md(note)),
        border=True,
    )  # fmt: skip
    if note is not None:
        st.caption(md(note))
    cov = result.coverage
    cov_note = result.coverage_note
    cols[1].metric(
        f"Coverage by pipeline closing in {label}",
        f"{cov:.2f}x" if cov is not None
        else ("no data" if result.to_go is None or result.open_pipeline is None else _ui.DASH),
        help=f"Open pipeline closing in {label} / (quota - won so far)"
        + ("" if cov_note is None else ". " + md(cov_note)),
        border=True,
    )  # fmt: skip
    rng = result.range
    calls = (
        ("Reps' call: commit", rng.commit if rng else None,
         "Reps' commit: their latest call for the period, or their deals' forecast "
         "category (already won + Commit) where they made no call"),
        ("Reps' call: best case", rng.best_case if rng else None, "Commit + Best Case"),
        ("Reps' call: all categories", rng.pipeline if rng else None,
         "Best case + deals in the Pipeline category (Omitted left out)"),
    )  # fmt: skip
    if empty:
        st.caption(md(empty))
    for col, (name, value, why) in zip(st.columns(3), calls, strict=True):
        col.metric(
            name, _figure(value, currency, result.range_note),
            help=why + _why(result.range_note), border=True,
        )  # fmt: skip


def show_finished(result: PeriodForecast, currency: str) -> None:
    """A finished period: what was won, against quota and against every method's forecast."""
    period = result.period
    label = period.label
    if result.source in ("stage history", "rebuilt"):
        made = (
            f"rebuilt for its start from the current export, as it stood on "
            f"{result.data_date:%d %b %Y} ({SOURCE_HELP[result.source]})"
        )
    else:
        made = f"made at its start (export of {result.data_date:%d %b %Y})"
    st.caption(
        f"{label} is over: what closed won, against the forecasts {made}. "
        f"Amounts in {md(currency)}."
    )
    cols = st.columns(3)
    cols[0].metric(
        f"Actual won {label}", _money(result.actual, currency),
        help="What closed won in the period, by the latest data", border=True,
    )  # fmt: skip
    cols[1].metric(
        "Quota", _figure(result.quota, currency, result.quota_note),
        help="Quotas overlapping the period, pro-rated by days" + _why(result.quota_note),
        border=True,
    )  # fmt: skip
    diff = result.actual_vs_quota
    note = result.actual_vs_quota_note
    cols[2].metric(
        "Actual vs quota",
        _signed(diff, currency) or ("no data" if note else _ui.DASH),
        help="Actual won - quota: positive means above quota" + _why(note),
        border=True,
    )  # fmt: skip
    st.markdown(f"**Forecast vs actual, {label}**")
    rows = method_rows(result)
    shown = pd.DataFrame(
        {
            "Method": rows["label"],
            # each value through _num, not Series.map(_num): a float column turns the None
            # it returns back into NaN ('nan%', 'None USD' on a rebuilt period's blanks)
            "Forecast": [_money(_num(v), currency) for v in rows["forecast"]],
            "Actual": [_money(_num(v), currency) for v in rows["actual"]],
            "Error (forecast - actual)": [
                _signed(_num(v), currency) or _ui.DASH for v in rows["error"]
            ],
            "Accuracy": [_pct(_num(v)) for v in rows["accuracy"]],
        }
    )
    st.dataframe(shown, hide_index=True, key="forecast:finished", placeholder=_ui.DASH)
    st.caption(
        "A method without a forecast (dash) had no basis in the export at the period's "
        "start. Accuracy = 1 - |actual - forecast| / actual."
    )
    _ui.downloads(rows, f"forecast_vs_actual_{period.label}", "forecast:finished")


def show_recommended(past: Backtest, currency: str) -> None:
    """The recommended method and its own scores over the window the words state."""
    del currency  # scores are ratios
    rec = past.recommendation
    unit = past.kind
    where = window_words(rec.window, unit)
    with st.container(border=True):
        st.markdown(f"**Recommended:** {md(rec.reason)}")
        if past.no_data and not _nothing_drawn(past):  # else the history section says it
            st.caption(md(past.no_data))
        if not rec.periods:
            if rec.window:
                st.caption(f"No track record for {md(rec.label)} over {md(where)}.")
            return
        st.caption(
            f"Track record of {md(rec.label)}: its own forecasts, made at the start of each "
            f"{unit}, over {md(where)}."
        )
        note = rec.scores_note
        cols = st.columns(4)
        cols[0].metric(
            "Error (WAPE)", _score(_pct(rec.wape), rec.wape, note),
            help=f"Sum of |actual - forecast| / sum of actuals over {md(where)}" + _why(note),
        )  # fmt: skip
        cols[1].metric(
            "Bias", _score(_signed_pct(rec.bias), rec.bias, note),
            help="Sum of (forecast - actual) / sum of actuals: positive = over-forecasting"
            + _why(note),
        )  # fmt: skip
        cols[2].metric(
            "Mean accuracy", _score(_pct(rec.mean_accuracy), rec.mean_accuracy, note),
            help=f"Mean of 1 - |actual - forecast| / actual over the {unit}s with sales"
            + _why(note),
        )  # fmt: skip
        cols[3].metric(
            f"{unit.capitalize()}s within 10%",
            _score(_pct(rec.within_10pct), rec.within_10pct, note),
            help="Share of periods with accuracy of 90% or better (fewer than a quarter of "
            "sales teams reach 75%)" + _why(note),
        )  # fmt: skip


def _text(value: object) -> str:
    """A text cell as shown: empty for a missing value (never 'None' or 'nan')."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):  # type: ignore[call-overload]
        return ""
    return str(value).strip()


# The recommended line is drawn first, wide and translucent, so it underlines the method
# it repeats instead of hiding it: when the recommendation is one method, both lines have
# the same points, and drawn on top the recommended one covered its method completely.
DRAW_ORDER = (RECOMMENDED, *METHODS)


def _line_style(method: str) -> dict[str, Any]:
    """A method's line; the recommended one as a wide band beneath the others."""
    if method == RECOMMENDED:
        return {
            "line": {"color": COLOURS[method], "width": 10},
            "marker": {"size": 14},
            "opacity": 0.35,
        }
    return {"line": {"color": COLOURS[method], "width": 2}}


def forecast_chart(table: pd.DataFrame, leave_out: Sequence[str] = ()) -> go.Figure:
    """One line per method (the recommended one bold, named) and the actual as bars.

    `leave_out`: periods not drawn (those that ended before the data starts: with neither
    an actual nor a forecast they were a blank stretch of axis before the first bar)."""
    fig = go.Figure()
    table = table[~table["period"].isin(list(leave_out))]
    actual = table.drop_duplicates("period")[["period", "actual"]]
    fig.add_bar(x=actual["period"], y=actual["actual"], name=ACTUAL,
                marker_color="rgba(120,120,120,0.35)")  # fmt: skip
    for method in DRAW_ORDER:
        rows = table[table["method"] == method]
        if rows["forecast"].isna().all():
            continue  # no line, no legend entry: history_not_drawn names it and why
        name = _method_label(method)
        if method == RECOMMENDED and len(rows):
            name = f"{name}: {rows['recommended_as'].iloc[0]}"
        fig.add_scatter(
            x=rows["period"], y=rows["forecast"], name=name, mode="lines+markers",
            connectgaps=False, **_line_style(method),
        )  # fmt: skip
    fig.update_layout(
        height=360, margin={"l": 0, "r": 0, "t": 10, "b": 0},
        legend={"orientation": "h", "y": -0.2}, hovermode="x unified",
    )  # fmt: skip
    fig.update_xaxes(type="category")
    return fig


def history_not_drawn(table: pd.DataFrame) -> list[str]:
    """The methods the history chart leaves out because they have no forecast in any
    period, in legend order: named under the chart so a missing line is never a mystery
    (a legend entry with no line read as a method forecasting nothing)."""
    return [
        _method_label(m)
        for m in DRAW_ORDER
        if m != RECOMMENDED and table.loc[table["method"] == m, "forecast"].isna().all()
    ]


def accuracy_display(summary: pd.DataFrame) -> pd.DataFrame:
    """The accuracy table as a reader sees it: rank 1 first, the recommended row marked,
    a dash and a note where a candidate is not compared (never 'None' or 'nan')."""
    return pd.DataFrame(
        {
            "Rank": [_ui.DASH if _num(r) is None else str(int(r)) for r in summary["rank"]],
            "Method or blend": summary["label"],
            "Periods": summary["periods"].astype(int).astype(str),
            "WAPE": [_pct(_num(v)) for v in summary["wape"]],
            "Bias": [_signed_pct(_num(v)) for v in summary["bias"]],
            "Mean accuracy": [_pct(_num(v)) for v in summary["mean_accuracy"]],
            "Within 10%": [_pct(_num(v)) for v in summary["within_10pct"]],
            "Recommended": ["recommended" if r else "" for r in summary["recommended"]],
            "Note": summary["note"],
        }
    )


def periods_display(table: pd.DataFrame, currency: str) -> pd.DataFrame:
    """Every period and method as text: the export used, forecast, actual, error."""
    labels = [
        f"Recommended: {r}" if m == RECOMMENDED else _method_label(str(m))
        for m, r in zip(table["method"], table["recommended_as"], strict=True)
    ]
    return pd.DataFrame(
        {
            "Period": table["period"].astype(str),
            "Export used": [
                "none near its start" if _num_date(d) is None else f"{d:%Y-%m-%d}"
                for d in table["snapshot_date"]
            ],
            "Method": labels,
            "Forecast": [_money(_num(v), currency) for v in table["forecast"]],
            "Actual": [_money(_num(v), currency) for v in table["actual"]],
            "Forecast - actual": [_signed(_num(v), currency) or _ui.DASH for v in table["error"]],
            "Accuracy": [_pct(_num(v)) for v in table["accuracy"]],
            "Note": [n if isinstance(n, str) else "" for n in table["note"]],
        }
    )


def _num_date(value: object) -> object | None:
    return None if value is None or pd.isna(value) else value  # type: ignore[call-overload]


def _nothing_drawn(past: Backtest) -> bool:
    """Whether the track record has no forecast to draw (its section then says why)."""
    return past.table.empty or bool(past.table["forecast"].isna().all())


def show_history(past: Backtest, currency: str) -> None:
    table = past.table
    if _nothing_drawn(past):
        st.info(md(past.no_data or "No past period can be backtested yet."))
        if past.skipped:
            st.caption(f"Periods without such an export: {_list_periods(past.skipped)}.")
        return
    st.plotly_chart(forecast_chart(table, past.before_data), key="forecast:history",
                    config={"displayModeBar": False})  # fmt: skip
    if past.before_data and past.data_start is not None:
        st.caption(
            f"Not drawn: {_list_periods(list(past.before_data))}, which ended before the data "
            f'starts on {past.data_start:%d %b %Y} (listed under "Every period and method").'
        )
    if not_drawn := history_not_drawn(table):
        st.caption(
            "No line for " + ", ".join(not_drawn) + ": no forecast in any of these periods "
            "(the Note column of the accuracy table says why)."
        )
    if past.skipped:
        st.caption(
            f"No export on or shortly before the start of {_list_periods(past.skipped)}: "
            "those periods show the actual only and are left out of the scores."
        )
    st.subheader("Accuracy by method")
    where = window_words(past.window, past.kind)
    st.caption(
        f"Every method and every equal blend of two, each scored on its own forecasts over "
        f"{md(where)}. The recommended one is chosen from this table: the lowest WAPE "
        "(ties go to the simpler one, higher in the list). WAPE = sum |actual - forecast| / "
        "sum actual; bias = sum (forecast - actual) / sum actual, + over, - under."
    )
    shown = accuracy_display(past.summary)
    st.dataframe(
        shown,
        hide_index=True,
        key="forecast:accuracy",
        height=35 * (len(shown) + 1) + 3,
        placeholder=_ui.DASH,
    )
    _ui.downloads(past.summary, f"forecast_accuracy_{past.kind}", "forecast:accuracy")
    with st.expander("Every period and method"):
        st.dataframe(
            periods_display(table, currency),
            hide_index=True,
            key="forecast:backtest",
            placeholder=_ui.DASH,
        )
        _ui.downloads(table, f"forecast_backtest_{past.kind}", "forecast:backtest")


def convergence_chart(rows: pd.DataFrame, actual: float, currency: str) -> go.Figure:
    """One line per method over the weeks before the period's end (time runs left to
    right, 0 = the last day), the actual as a dashed reference line."""
    fig = go.Figure()
    for method in DRAW_ORDER:
        mine = rows[(rows["method"] == method) & rows["forecast"].notna()]
        if mine.empty:
            continue
        name = _method_label(method)
        if method == RECOMMENDED:
            name = f"{name}: {rows['recommended_as'].iloc[0]}" if "recommended_as" in rows else name
        hover = [
            f"{d:%d %b %Y} ({w} wk before end)<br>{_money(_num(v), currency)}<br>{s}"
            for d, w, v, s in zip(mine["as_of"], mine["weeks_before_end"], mine["forecast"],
                                  mine["source"], strict=True)
        ]  # fmt: skip
        fig.add_scatter(
            x=mine["weeks_before_end"], y=mine["forecast"], name=name, mode="lines+markers",
            hovertext=hover, hoverinfo="text+name", **_line_style(method),
        )  # fmt: skip
    fig.add_hline(
        y=actual, line={"color": "#444", "dash": "dash", "width": 2},
        annotation_text=f"Actual {_money(actual, currency)}", annotation_position="top left",
    )  # fmt: skip
    fig.update_layout(
        height=380, margin={"l": 0, "r": 0, "t": 30, "b": 0},
        legend={"orientation": "h", "y": -0.25}, hovermode="closest",
        xaxis_title="Weeks before the period's end (0 = its last day)",
        yaxis_title=f"Forecast ({currency})",
    )  # fmt: skip
    fig.update_xaxes(autorange="reversed", dtick=1)
    fig.update_yaxes(tickformat="~s", rangemode="tozero")
    return fig


def show_convergence(db: str, version: tuple[Any, ...], scope: Scope, past: Backtest,
                     currency: str) -> None:  # fmt: skip
    """How each method's forecast of one past period (chosen here) moved week by week
    towards what actually closed, each week's forecast as it could have been made then."""
    labels = list(dict.fromkeys(str(p) for p in past.table["period"]))[::-1]
    if not labels:
        st.caption(md(past.no_data or "No past period to show yet."))
        return
    default = scope.period.label if scope.period.label in labels else labels[0]
    label = st.selectbox(
        f"Past {past.kind}", labels, index=labels.index(default), key="forecast:conv_period",
        help=f"The {past.kind} whose forecasts are drawn, week by week",
    )  # fmt: skip
    weekly = _convergence(db, version, scope, past.kind, len(labels), label or default)
    rows = weekly.for_period(label or default)
    if rows.empty:
        st.caption(f"No weekly forecast of {md(label)} could be made.")
        return
    rows = rows.assign(recommended_as=weekly.recommended_as)
    actual = weekly.actuals.get(label or default, 0.0)
    st.plotly_chart(convergence_chart(rows, actual, currency), key="forecast:convergence",
                    config={"displayModeBar": False})  # fmt: skip
    st.caption(
        f"Each point is the forecast of {md(label)} as it could have been made that week, "
        f"reading nothing dated later. Source: {md(convergence_sources(rows))}."
    )
    caveat = convergence_caveat(rows)
    if caveat:
        st.caption(md(caveat))
    gone = [why for m, why in weekly.left_out.get(label or default, {}).items()
            if m != "recommended"]  # fmt: skip
    if gone:
        st.caption("Left out (no line): " + md("; ".join(gone)) + ".")
    with st.expander(f"Forecast of {label} by week"):
        wide = convergence_by_week(rows)
        shown = pd.DataFrame(
            {
                "Weeks before end": wide["weeks_before_end"].astype(int).astype(str),
                "As of": [f"{d:%Y-%m-%d}" for d in wide["as_of"]],
                "Source": wide["source"].astype(str),
                **{
                    _method_label(m): [_money(_num(v), currency) for v in wide[m]]
                    for m in [*METHODS, RECOMMENDED]
                    if m in wide.columns
                },
            }
        )
        st.dataframe(shown, hide_index=True, key="forecast:convergence_table",
                     placeholder=_ui.DASH)  # fmt: skip
        _ui.downloads(rows, f"forecast_convergence_{label}", "forecast:convergence")


TEXT_COLUMNS = ("opportunity_id", "opportunity_name", "account", "owner", "stage",
                "forecast_category")  # fmt: skip


def deal_config(currency: str) -> dict[str, Any]:
    """Column headers of the deals table; amounts name the reporting currency."""
    cur = f" ({currency})"
    return {
        "opportunity_id": st.column_config.TextColumn("Deal id"),
        "opportunity_name": st.column_config.TextColumn("Deal"),
        "account": st.column_config.TextColumn("Account"),
        "owner": st.column_config.TextColumn("Owner"),
        "stage": st.column_config.TextColumn("Stage"),
        "forecast_category": st.column_config.TextColumn("Category"),
        "close_date": st.column_config.DateColumn("Close", format="YYYY-MM-DD"),
        "amount": st.column_config.NumberColumn("Amount" + cur, format=MONEY),
        "probability": st.column_config.NumberColumn("Stage prob.", format="percent"),
        "weighted": st.column_config.NumberColumn("Weighted" + cur, format=MONEY),
        "upside": st.column_config.NumberColumn(
            "If won" + cur, format=MONEY, help="amount x (1 - p): what winning it adds"),
        "downside": st.column_config.NumberColumn(
            "If lost" + cur, format=MONEY, help="amount x p: what losing it takes away"),
        "swing": st.column_config.NumberColumn(
            "Moves the number by" + cur, format=MONEY, help="the larger of the two"),
    }  # fmt: skip


def show_top_deals(result: PeriodForecast, currency: str) -> None:
    top = result.top_deals()
    if top.empty:
        undated = result.open_undated
        st.caption(
            "No open deal is expected to close in this period."
            + (f" {counted(undated, 'open deal')} {verb(undated, 'has', 'have')} no close date, "
               "so cannot be placed in a period." if undated else "")
        )  # fmt: skip
        return
    shown = top.copy()
    for column in TEXT_COLUMNS:
        shown[column] = [_text(v) for v in shown[column]]
    st.dataframe(
        shown,
        hide_index=True,
        column_config=deal_config(currency),
        key="forecast:top",
        placeholder=_ui.DASH,
    )
    if note := result.top_deals_note:
        st.caption(md(note))
    _ui.downloads(top, f"forecast_top_deals_{result.period.label}", "forecast:top")


def show_calls(
    result: PeriodForecast, people: dict[str, tuple[str | None, str | None]], currency: str
) -> None:
    if not result.calls or result.range is None:
        # without calls or categories a rep's "commit" would only be their won so far:
        # the cards above say no data, so the table must not show figures either
        st.caption("No data: no forecast calls and no forecast categories for this period.")
        return
    by = st.segmented_control(
        "Roll up by", GROUPINGS, default="rep", key="forecast:by", required=True,
        format_func=str.capitalize,
    ) or "rep"  # fmt: skip
    table = calls_table(result.calls, people, by)
    st.dataframe(
        table, hide_index=True, key="forecast:calls",
        column_config={by: st.column_config.TextColumn(by.capitalize())} | {
            c: st.column_config.NumberColumn(f"{name} ({currency})", format=MONEY)
            for c, name in (("commit", "Commit"), ("best_case", "Best case"),
                            ("pipeline", "All categories"))}, placeholder=_ui.DASH,
    )  # fmt: skip
    st.caption(
        f"{counted(result.submitted_owners, 'rep')} submitted a call for this period; the others' "
        "figures come from their deals' forecast category."
    )
    _ui.downloads(table, f"forecast_calls_by_{by}_{result.period.label}", "forecast:calls")


def show_what_if(result: PeriodForecast, currency: str) -> None:
    """Stage probabilities and excluded deals -> the forecast, before and after."""
    deals = result.deals
    if deals.empty:
        st.caption("No open deal in this period to play with.")
        return
    overrides: dict[str, float] = {}
    shown = what_if_stages(load_stages_cached(), deals["stage"])
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
        str(i): f"{_text(n) or i} · {_text(o) or _ui.DASH} · {_money(_num(a), currency)}"
        for i, n, o, a in zip(ranked["opportunity_id"], ranked["opportunity_name"],
                              ranked["owner"], ranked["amount"], strict=True)
    }  # fmt: skip
    exclude = st.multiselect(
        "Leave these deals out", list(labels), format_func=lambda i: labels.get(i, i),
        key="forecast:whatif:exclude", placeholder="Deals that move the number most",
    )  # fmt: skip
    scenario = what_if(result, overrides=overrides, exclude=exclude)
    cols = st.columns(3)
    rows = [("Recommended", scenario.base_recommended, scenario.scenario_recommended,
             result.method_note(RECOMMENDED))]  # fmt: skip
    rows += [
        (_method_label(m), scenario.base.get(m), scenario.scenario.get(m), result.method_note(m))
        for m in ("stage_weighted", "sales_cycle")
    ]
    for col, (label, before, after, note) in zip(cols, rows, strict=True):
        delta = what_if_change(before, after)
        col.metric(f"{label} (what-if)", _figure(after, currency, note),
                   _signed(delta, currency), help=md(note) if note else None,
                   border=True)  # fmt: skip
    st.caption(
        "Stage-weighted and sales-cycle forecasts are recomputed; the run-rate and the reps' "
        "calls do not depend on single deals. Nothing is saved: Settings keep the stages."
    )


@st.cache_data(show_spinner=False, max_entries=16)
def _stages(db: str, version: tuple[Any, ...]) -> tuple[Stage, ...]:
    del db, version
    with _ui.cursor() as cur:
        return tuple(load_stages(cur))


def load_stages_cached() -> tuple[Stage, ...]:
    with _ui.cursor() as cur:
        version = _ui.data_version(cur)
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
        version = _ui.data_version(cur)
        currency = _ui.data_facts(cur).reporting_currency
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
    st.caption(md(backtest_source_words(past.table)))
    _section(None, "forecast vs actual", lambda: show_history(past, currency))
    _section(
        "How the forecast converged, week by week", "the convergence chart",
        lambda: show_convergence(db, version, scope, past, currency),
    )  # fmt: skip
    _section(
        f"Deals that move the {scope.period.label} number most", "the top deals",
        lambda: show_top_deals(result, currency),
    )  # fmt: skip
    _section(
        "Reps' calls: commit, best case, pipeline", "the forecast calls",
        lambda: show_calls(result, _roster(db, version), currency),
    )  # fmt: skip
    _section("What-if", "the what-if", lambda: show_what_if(result, currency))


_ui.run_page(render)
