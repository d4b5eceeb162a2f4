"""Overview: the review's KPI cards for the chosen scope, each against the previous period
and the same period last year, with a small trend.

For the monthly (or quarterly) review: how much we booked, how often we win, how big the
deals are, what is still open, and how the team spends its time. Every number is a
column of `analytics.metrics.kpis.kpi_table` for the whole scope (by="company"), the same
table the Reps page and `python -m analytics report scorecard` use, so the three always
agree; definitions are in docs/metrics.md and in each card's help. This page only draws.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from analytics.exports import KPI_UNITS, LOWER_IS_BETTER, NOW_ONLY
from analytics.markup import md, md_list
from analytics.metrics.availability import (
    before_data,
    coverage_reason,
    data_start,
    no_closed_deal_text,
    pipeline_note,
)
from analytics.metrics.headline import headline_with_previous
from analytics.metrics.kpis import (
    KPI_COLUMNS,
    open_basis,
    share_of_reps_at_quota_by_period,
)
from analytics.numbers import counted, duration_text, minutes_text, signed_duration_text, verb
from analytics.numbers import number_or_none as _number
from analytics.pointintime import Basis, open_figures_note
from analytics.scope import Period, Scope
from pages import _ui

# How many periods each card's trend shows, by period kind. All of them (and last year's)
# come from one kpi_tables call, cached afterwards.
TREND_PERIODS: dict[str, int] = {"month": 6, "quarter": 6, "year": 4}
REPS_AT_QUOTA = "reps_at_quota"  # not a kpi_table column: share_of_reps_at_quota()
NO_DATA = "_no_data"  # a row's KPI column -> why it has no data (analytics/availability)
NO_DATA_TEXT = "no data"


@dataclass(frozen=True)
class Card:
    label: str
    column: str
    help: str | None = None  # default: the KPI's definition from KPI_COLUMNS


CARD_ROWS: tuple[tuple[str, tuple[Card, ...]], ...] = (
    (
        "Performance",
        (
            Card("Bookings", "bookings"),
            Card("Won deals", "won_deals"),
            Card("Lost deals", "lost_deals"),
            Card("Win rate", "win_rate"),
            Card("Win rate by value", "win_rate_value"),
        ),
    ),
    (
        "",
        (
            Card("Average deal size", "avg_deal_size"),
            Card("Open pipeline", "open_pipeline"),
            Card("Weighted pipeline", "weighted_pipeline"),
            Card("Open deals", "open_deals"),
            # its base, the pipeline closing in the period, is named under it (see _card)
            Card("Coverage", "pipeline_coverage"),
        ),
    ),
    (
        "",
        (
            Card("Quota attainment", "quota_attainment"),
            Card(
                "Reps at quota",
                REPS_AT_QUOTA,
                "Reps at or above 100% of quota / reps with a quota in the period "
                "(reps without a quota are left out of both)",
            ),  # fmt: skip
            Card("Velocity / day", "sales_velocity"),
            Card("Lead → opportunity", "lead_to_opp_rate"),
            Card("Opportunity → won", "opp_to_won_rate"),
        ),
    ),
    (
        "Efficiency",
        (
            Card("Selling time", "selling_time_share"),
            Card("Prospect meetings", "meeting_ratio"),
            Card("Sales cycle (median)", "median_cycle_days"),
            Card("Response (median)", "lead_response_median_minutes"),
            Card("Answered < 1 h", "lead_sla_1h_share"),
        ),
    ),
    (
        "",
        (
            Card("Response (p90)", "lead_response_p90_minutes"),
            Card("Answered < 5 min", "lead_sla_5min_share"),
            Card("Touches / won deal", "touches_per_deal"),
            Card("Won with 5+ touches", "won_5plus_touches_share"),
            # "Unpriced" beside "27 open deals have no amount" read as a contradiction: the
            # card counts deals whose currency has no exchange rate, and says so
            Card(
                "Deals without a rate",
                "unpriced_deals",
                "Deals closed in the period or open whose currency has no exchange rate to the "
                "reporting currency: left out of every sum. Deals without an amount are not "
                "counted here (the open pipeline card names those)",
            ),  # fmt: skip
        ),
    ),
)


# --- figures ---------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=256)
def scope_facts(
    db: str, version: tuple[Any, ...], scope: Scope
) -> tuple[date | None, str | None, list[str]]:
    """The first day of the scope's data, its unpriced-deals note and its currencies.

    Cached like the cards: three scans of every deal that a rerun (any widget, any
    manager on the same view) would otherwise repeat for the same data. The headline
    query only names the currencies in view (for the FX note); every figure on the
    cards comes from the KPI table.
    """
    del db, version  # cache key only
    with _ui.cursor() as cur:
        return (
            data_start(cur, scope),
            pipeline_note(cur, scope),
            list(headline_with_previous(cur, scope).current.currencies),
        )


@st.cache_data(show_spinner=False, max_entries=256)
def company_rows(
    db: str, version: tuple[Any, ...], scope: Scope, periods: tuple[Period, ...]
) -> dict[str, dict[str, Any]]:
    """The scope's KPI row (by="company") plus the share of reps at quota, per period label.

    Every period of the cards (trend plus last year) in two KPI queries and one quota
    query (kpi_tables), cached per database file, data version, scope and periods.
    """
    del db  # cache key only
    with _ui.cursor() as cur:
        table = _ui.kpi_tables(cur, scope, periods, "company", version)  # company's, cut
        shares = share_of_reps_at_quota_by_period(cur, scope, periods)
    rows: dict[str, dict[str, Any]] = {}
    for period in periods:
        match = table[table["period"] == period.label]
        row = match.iloc[0].drop("period").to_dict() if not match.empty else {}
        row[REPS_AT_QUOTA] = shares[period.label]
        row[NO_DATA] = dict(table.attrs.get("no_data", {}).get(period.label, {}))
        for own in table.attrs.get("row_no_data", {}).get(period.label, {}).values():
            row[NO_DATA] = own | row[NO_DATA]  # the one row's own (kpis.row_no_data)
        if "quota_attainment" in row[NO_DATA]:  # no quota: nobody can be at quota either
            row[NO_DATA][REPS_AT_QUOTA] = row[NO_DATA]["quota_attainment"]
        rows[period.label] = row
    return rows


def unit_of(column: str) -> str:
    return "share" if column == REPS_AT_QUOTA else KPI_UNITS.get(column, "number")


def show_value(column: str, value: float | None) -> str:
    """The card's value text; `—` for a figure that is not defined (never 0)."""
    unit = unit_of(column)
    if value is None:
        return _ui.DASH
    if unit == "money":
        return _ui.money(value)
    if unit == "share":
        return _ui.percent(value)
    if unit == "count":
        return f"{int(value):,}"
    if unit == "days":
        return duration_text(value)
    if unit == "minutes":
        return _minutes(value)
    if unit == "ratio":
        return f"{value:.2f}x"
    return f"{value:,.1f}"


def _minutes(value: float) -> str:
    """Response times read as '12 h 22 min' or '2.1 days' (analytics.numbers, one rule)."""
    return minutes_text(value)


def show_change(column: str, now: float | None, before: float | None) -> str | None:
    """now - before in the card's unit (percentage points for shares); None if undefined."""
    if now is None or before is None:
        return None
    diff = now - before
    unit = unit_of(column)
    if unit == "money":
        return _ui.signed_money(diff)
    if unit == "share":
        return _ui.signed_points(diff)
    if unit == "count":
        return _ui.signed_count(diff)
    if unit == "days":
        return signed_duration_text(diff)
    if unit == "minutes":
        return signed_duration_text(diff / (24 * 60), "minutes")
    if unit == "ratio":
        return f"{diff:+.2f}x"
    return f"{diff:+,.1f}"


# --- drawing ---------------------------------------------------------------------------


def _card(
    box: Any,
    card: Card,
    rows: dict[str, dict[str, Any]],
    periods: list[Period],
    current: Period,
    basis: Basis | None = None,
    first_day: date | None = None,
) -> None:
    """One card: value, change vs previous period (the metric's delta), change vs the same
    period last year (a coloured line below: too long for the delta's description), and
    the trend. `basis`: where a past period's open figures came from (None: open now);
    `first_day`: where the data starts (a period before it has nothing to compare)."""
    column = card.column
    now = _number(rows[current.label].get(column))
    help_text = card.help or KPI_COLUMNS.get(column)
    reason = rows[current.label].get(NO_DATA, {}).get(column)
    if now is None and reason:
        # analytics decided the export cannot give this figure: say so, never 0 or 100%
        container = box.container(border=True)
        container.metric(card.label, NO_DATA_TEXT, help=f"{help_text}. No data: {reason}.")
        container.caption(f"No data: {reason}")
        return
    container = box.container(border=True)
    label = card.label
    # Card labels stay short enough not to be cut off; the base of a figure about the deals
    # open now is named under it, so it never reads as the other pipeline figures.
    when = "now" if basis is None else f"on {basis.day:%d %b %Y} ({basis.source})"
    base = {
        "open_pipeline": f"All open deals, {when}.",
        "weighted_pipeline": f"All open deals × stage probability, {when}.",
        "open_deals": f"All open deals, {when}.",
        # about the whole period (what is left to book in it), even when shown to date
        "pipeline_coverage": f"Open pipeline closing in {current.whole().label} ÷ quota "
        "left to book (as on Forecast).",
        "sales_velocity": f"From the deals open {when}.",
    }.get(column, f"Open deals, {when}.")
    if now is None and basis is not None and basis.source == "rebuilt":
        base += " Stages and expected close dates of a rebuilt day are not known."
    why_empty = coverage_reason(rows[current.label]) if column == "pipeline_coverage" else None
    if why_empty:  # a bare dash with the quota reached reads as missing data
        base = f"Not defined: {why_empty}. {base}"
    if column in NOW_ONLY:
        container.metric(
            label, show_value(column, now),
            help=f"{help_text}. {open_figures_note(basis)} No past value to compare.",
        )  # fmt: skip
        container.caption(f"{base} No past value to compare.")
        return
    previous, last_year = current.previous(), current.same_last_year()
    # a period before the data starts has no figure, not a count of 0 (analytics decides)
    early = before_data(previous, first_day)
    before = None if early else _number(rows[previous.label].get(column))
    year_early = before_data(last_year, first_day)
    year_ago = None if year_early else _number(rows[last_year.label].get(column))
    delta = show_change(column, now, before)
    # A change that prints as zero ("+0", "-0.0 pp") is no change to a reader: unsigned,
    # grey and without an arrow (never "↑ +0" in red).
    same = delta is not None and set(filter(str.isdigit, delta)) <= {"0"}
    if same:
        delta = delta.lstrip("+-")  # type: ignore[union-attr]
    yoy = show_change(column, now, year_ago)
    # st.metric charts take numbers only: undefined periods (no deal closed) are skipped,
    # so the trend shows the periods that have the figure.
    trend = [v for p in periods if (v := _number(rows[p.label].get(column))) is not None]
    container.metric(
        card.label,
        show_value(column, now),
        delta,
        delta_color="off" if same else "inverse" if column in LOWER_IS_BETTER else "normal",
        delta_arrow="off" if same else "auto",
        delta_description=f"vs {previous.name}" if delta else None,
        help=help_text,
        chart_data=trend if len(trend) > 1 else None,
        chart_type="bar" if unit_of(column) in ("money", "count") else "line",
    )
    if yoy is None:
        container.caption(f"{last_year.name}: {year_early or 'no figure to compare'}")
    else:
        worse = (year_ago is not None and now is not None) and (
            (now < year_ago) != (column in LOWER_IS_BETTER)
        )
        colour = "gray" if now == year_ago else ("red" if worse else "green")
        container.caption(f":{colour}[{yoy}] vs {last_year.name}")


def _bookings_chart(rows: dict[str, dict[str, Any]], periods: list[Period]) -> None:
    """Bookings per period, won deals in the hover.

    Built with graph_objects, not plotly express: px.bar (grouping, templating, a figure
    per call) was a fifth of a warm Overview view's Python time, paid by every session on
    every rerun (issue 15, benchmarks/README.md `load`); the chart is the same.
    """
    labels = [p.label for p in periods]
    figures = [_number(rows[p.label].get("bookings")) for p in periods]
    if not any(figures):
        # nothing to draw: an empty chart with a -1..1 axis says nothing (a new-user test);
        # a month without a figure keeps its card's reason, one that booked 0 is a 0
        reasons = [rows[p.label].get(NO_DATA, {}).get("bookings") for p in reversed(periods)]
        why = next((r for r in reasons if r), None)
        span = labels[0] if len(labels) == 1 else f"{labels[0]} to {labels[-1]}"
        st.caption(
            f"No bookings to draw in {md(span)}"
            + (f" (no data for some months: {md(why)})." if why else ": nothing closed won.")
        )
        return
    # a month without a figure (no data, its reason on its card) has no bar, not a 0 one
    bookings = figures
    won = [int(_number(rows[p.label].get("won_deals")) or 0) for p in periods]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=bookings,
            customdata=won,
            hovertemplate="Period=%{x}<br>Bookings=%{y}<br>Won deals=%{customdata}<extra></extra>",
        )  # fmt: skip
    )
    fig.update_layout(
        height=280, margin={"l": 0, "r": 0, "t": 10, "b": 0}, bargap=0.25,
        xaxis={"type": "category", "title": {"text": "Period"}},
        yaxis={"title": {"text": "Bookings"}},
    )  # fmt: skip
    st.plotly_chart(fig, config={"displayModeBar": False}, key="bookings_trend")


def render() -> None:
    st.title("Overview")
    if _ui.database_is_empty():
        _ui.show_empty_database_hint()
        return
    with _ui.cursor() as cur:
        facts, version = _ui.data_facts(cur), _ui.data_version(cur)
    # a period not over on the data's date is shown to date, against the same days
    scope = _ui.current_scope().to_date(facts.as_of)
    period = scope.period
    count = TREND_PERIODS.get(period.kind, 6)
    periods = [period.shifted(-back) for back in range(count - 1, -1, -1)]
    first_day, unpriced_note, currencies = scope_facts(str(_ui.db_path()), version, scope)
    # trends start where the data starts: no 0 bars for periods before the first deal
    shown = [p for p in periods if first_day is None or p.full_end >= first_day] or [period]
    wanted = [*periods, period.same_last_year()]
    reporting = facts.reporting_currency
    st.caption(
        f"Scope: {md(scope.describe())} ({period.start:%d %b %Y} to {period.end:%d %b %Y}). "
        f"Changes are against {period.previous().name} and against the same period last "
        f"year ({period.same_last_year().name}); the small charts show the last {count} "
        + (f"{period.kind}s, each over the same days." if period.is_to_date else f"{period.kind}s.")
        + f" Amounts in {md(reporting)}."
    )

    with _ui.cursor() as cur:
        basis = open_basis(cur, period)  # where a past period's open figures came from
    rows = company_rows(str(_ui.db_path()), version, scope, tuple(dict.fromkeys(wanted)))
    if period.is_to_date:
        # Coverage compares the pipeline closing in the rest of the period with the quota
        # still to book: the whole period's figure, as the Forecast page shows it.
        whole = company_rows(str(_ui.db_path()), version, scope.with_period(period.whole()),
                             (period.whole(),))[period.label]  # fmt: skip
        rows[period.label] = {**rows[period.label], "pipeline_coverage": whole.get(
            "pipeline_coverage")}  # fmt: skip
    now = rows[period.label]

    for title, cards in CARD_ROWS:
        if title:
            st.subheader(title)
        boxes = st.columns(len(cards))
        for box, card in zip(boxes, cards, strict=True):
            _card(box, card, rows, shown, period, basis, first_day)
            if card.column == "open_pipeline" and unpriced_note and _number(
                rows[period.label].get("open_pipeline")) is not None:  # fmt: skip
                box.caption(f"Priced deals only: {unpriced_note}.")

    closed = int(_number(now.get("won_deals")) or 0) + int(_number(now.get("lost_deals")) or 0)
    if closed == 0:
        st.caption(md(no_closed_deal_text(period.name, now.get(NO_DATA, {}))))
    unpriced = int(_number(now.get("unpriced_deals")) or 0)
    if len(currencies) > 1 or any(c != reporting for c in currencies):
        st.warning(
            f"Deals in this view use {md_list(currencies)}: amounts are converted to "
            f"{md(reporting)} with the dated exchange rates"
            + (
                f"; {counted(unpriced, 'deal')} {verb(unpriced, 'has', 'have')} no rate and "
                f"{verb(unpriced, 'is', 'are')} left out of the sums (counted under "
                "Deals without a rate), never as 0."
                if unpriced
                else "."
            )
        )  # fmt: skip
    st.info(
        "**Win rate** counts deals: won / (won + lost) closed in the period. "
        "**Win rate by value** weighs them by amount. Open deals are not in either.",
        icon=":material/info:",
    )
    st.subheader(f"Bookings, last {len(shown)} {period.kind}s")
    if len(shown) < len(periods):
        st.caption(
            f"The data starts on {first_day:%d %b %Y}: earlier {period.kind}s are not drawn."
        )
    _bookings_chart(rows, shown)


_ui.run_page(render)
