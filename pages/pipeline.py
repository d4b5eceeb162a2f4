"""Pipeline: is the pipeline healthy? Stalled and slipped deals, what changed, who needs touches.

For the pipeline review: which open deals are stuck (no activity for N days, or longer in
their stage than most won deals were: both thresholds are set here), which deals had their
close date pushed out of the period, how the pipeline closing in the period moved between
two weekly exports (a waterfall whose bars add up to the ending pipeline exactly), and
which open deals got fewer follow-ups than the deals we won. Every number comes from
`analytics.pipeline` (rules in docs/metrics.md, "Pipeline health"); this page only draws,
and every table can be downloaded as CSV.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from analytics.markup import md, plot_text
from analytics.metrics.availability import data_start
from analytics.numbers import counted, verb
from analytics.pipeline import (
    DEFAULT_IDLE_DAYS,
    DEFAULT_MIN_WON_DEALS,
    DEFAULT_STAGE_PERCENTILE,
    PIPELINE_KINDS,
    Waterfall,
    before_period_reason,
    deals_worth,
    default_dates,
    follow_up_gaps,
    slipped_deals,
    stalled_deals,
    waterfall,
    waterfall_deals,
)
from analytics.pointintime import SOURCE_HELP, Basis, bases
from analytics.scope import Scope, data_as_of
from pages import _ui

MONEY = "%,.0f"
DEAL_COLUMNS: dict[str, Any] = {
    "opportunity_id": st.column_config.TextColumn("Deal id"),
    "opportunity_name": st.column_config.TextColumn("Deal"),
    "account": st.column_config.TextColumn("Account"),
    "owner": st.column_config.TextColumn("Owner"),
    "stage": st.column_config.TextColumn("Stage"),
    "amount": st.column_config.NumberColumn("Amount", format=MONEY, help="In the deal's currency"),
    "currency": st.column_config.TextColumn("Currency"),
    "amount_reporting": st.column_config.NumberColumn(
        "Amount (reporting)", format=MONEY, help="Converted to the reporting currency"
    ),
    "close_date": st.column_config.DateColumn(
        "Close date", format="YYYY-MM-DD", help="Expected close date in the latest export"
    ),
    "last_activity": st.column_config.DateColumn("Last activity", format="YYYY-MM-DD"),
}


# --- figures (cached per database file, data version and arguments) -----------------------


@st.cache_data(show_spinner=False, max_entries=128)
def _stalled(
    db: str, version: tuple[Any, ...], scope: Scope, idle: int, pct: float, min_won: int
) -> pd.DataFrame:
    del db, version  # cache key only
    with _ui.cursor() as cur:
        return stalled_deals(
            cur, scope, idle_days=idle, stage_percentile=pct, min_won_deals=min_won
        )  # fmt: skip


@st.cache_data(show_spinner=False, max_entries=128)
def _slipped(
    db: str, version: tuple[Any, ...], scope: Scope, first: date, last: date
) -> pd.DataFrame:
    del db, version
    with _ui.cursor() as cur:
        return slipped_deals(cur, scope, base_date=first, latest_date=last)


@st.cache_data(show_spinner=False, max_entries=128)
def _waterfall(
    db: str, version: tuple[Any, ...], scope: Scope, first: date, last: date, kind: str
) -> Waterfall:
    del db, version
    with _ui.cursor() as cur:
        return waterfall(cur, scope, start_date=first, end_date=last, kind=kind)


@st.cache_data(show_spinner=False, max_entries=32)
def _waterfall_deals(
    db: str, version: tuple[Any, ...], scope: Scope, first: date, last: date, kind: str
) -> pd.DataFrame:
    del db, version
    with _ui.cursor() as cur:
        return waterfall_deals(cur, scope, start_date=first, end_date=last, kind=kind)


@st.cache_data(show_spinner=False, max_entries=128)
def _gaps(db: str, version: tuple[Any, ...], scope: Scope, min_won: int) -> pd.DataFrame:
    del db, version
    with _ui.cursor() as cur:
        return follow_up_gaps(cur, scope, min_won_deals=min_won)


# --- drawing -----------------------------------------------------------------------------


def deal_table(df: pd.DataFrame, name: str, key: str, extra: dict[str, Any]) -> None:
    """A sortable deal table with its CSV download."""
    df = df.copy()
    df.attrs = {}  # the analytics' notes (dates used) are shown in captions, not serialised
    config = DEAL_COLUMNS | extra
    for col in df.columns:
        if col not in config and pd.api.types.is_datetime64_any_dtype(df[col]):
            config[col] = st.column_config.DateColumn(col.replace("_", " "), format="YYYY-MM-DD")
    st.dataframe(df, hide_index=True, column_config=config, key=key, placeholder=_ui.DASH)
    _ui.downloads(df, name, key)


def _total(df: pd.DataFrame) -> str:
    """'12,000', with the deals left out of it named: never a 0 that means no amount."""
    worth = deals_worth(df)
    text = "an unknown amount" if worth.total is None else _ui.money(worth.total)
    if worth.unpriced:
        text += f" ({worth.unpriced:,} without an amount in the reporting currency)"
    return text


def show_stalled(scope: Scope, version: tuple[Any, ...], dates: object = None) -> None:
    del dates  # about deals open now
    cols = st.columns(3)
    idle = cols[0].number_input(
        "Days without activity", min_value=1, max_value=365, value=DEFAULT_IDLE_DAYS, step=1,
        key="pipeline:idle_days", help="An open deal with no linked activity for this long",
    )  # fmt: skip
    pct = cols[1].slider(
        "Won deals' percentile of time in stage", min_value=0.50, max_value=0.95,
        value=DEFAULT_STAGE_PERCENTILE, step=0.05, key="pipeline:percentile",
        help="An open deal longer in its stage than this share of won deals were",
    )  # fmt: skip
    min_won = cols[2].number_input(
        "Won deals needed per stage", min_value=1, max_value=1000, value=DEFAULT_MIN_WON_DEALS,
        step=1, key="pipeline:min_won",
        help="With fewer won deals timed in a stage, that stage has no time limit",
    )  # fmt: skip
    table = _stalled(str(_ui.db_path()), version, scope, int(idle), float(pct), int(min_won))
    as_of = table.attrs.get("as_of")
    counts = table.attrs.get("counts", {})
    open_deals = int(counts.get("open_deals", 0))
    judged_by_stage = open_deals - counts.get("stage_unknown", 0) - counts.get("no_limit", 0)
    if open_deals and counts.get("idle_unknown", 0) == open_deals and judged_by_stage == 0:
        st.caption(
            f"Not one of the {open_deals:,} open deals can be judged stalled with this data "
            f"(as of {as_of}): neither rule has what it needs, as below."
        )
    else:
        st.caption(
            f"{counted(len(table), 'stalled open deal')} worth {_total(table)}, as of "
            f"{as_of or _ui.DASH} (the latest export). Largest first."
        )
    names = {"days_idle": "Days idle", "days_in_stage": "Days in stage",
             "stage_limit_days": "Stage limit"}  # fmt: skip
    for column, reason in table.attrs.get("no_data", {}).items():
        st.caption(f"{names.get(column, column)}: {md(reason)}.")
    deal_table(
        table, "stalled_deals", "pipeline:stalled",
        {
            "days_idle": st.column_config.NumberColumn("Days idle"),
            "days_in_stage": st.column_config.NumberColumn(
                "Days in stage",
                help="Exact from the CRM's stage history; from exports only the fewest "
                "possible days (see 'Time in stage'); — when not known",
            ),
            "time_in_stage": st.column_config.TextColumn(
                "Time in stage", help="How well the days in stage are known, and from what"
            ),
            "stage_limit_days": st.column_config.NumberColumn(
                "Stage limit (days)", format="%.1f"
            ),
            "stage_limit_won_deals": st.column_config.NumberColumn("Won deals timed"),
            "idle_rule": st.column_config.CheckboxColumn("Idle"),
            "stage_rule": st.column_config.CheckboxColumn("Too long in stage"),
            "reason": st.column_config.TextColumn("Why", width="large"),
        },
    )  # fmt: skip


def basis_help(basis: Basis | None) -> str:
    """Where a day's pipeline came from, for a help text."""
    if basis is None:
        return ""
    if basis.source == "snapshot":
        return f"From the export of {basis.snapshot_date} (a snapshot: exact)."
    return f'Source "{basis.source}": {SOURCE_HELP[basis.source]}.'


def pick_dates(scope: Scope) -> tuple[date, date] | None:
    """The two days slipped deals and the waterfall compare: any two, defaulting to the
    snapshots at the period start and its latest (else the period's first and last day
    with data). None when the period starts after the data ends."""
    with _ui.cursor() as cur:
        first, last = default_dates(cur, scope)
        as_of = data_as_of(cur)
        start_of_data = data_start(cur, scope)
        not_started = before_period_reason(cur, scope)
    if first is None or last is None or as_of is None:
        # analytics says why (the report prints the same sentence)
        reason = not_started or "no day of the period has data"
        st.info(f"No data: {md(reason)}.", icon=":material/info:")
        return None
    lowest = min(first, start_of_data or first)
    cols = st.columns(2)
    help_text = (
        "Any day. Its pipeline comes from the newest export (snapshot) on or before it "
        "(at most 31 days older), else from stage history, else rebuilt from created and "
        "close dates; the figures below name which."
    )
    start = cols[0].date_input(
        "From", value=first, min_value=lowest, max_value=as_of, key="pipeline:from",
        format="YYYY-MM-DD", help=help_text,
    )  # fmt: skip
    end = cols[1].date_input(
        "To", value=last, min_value=lowest, max_value=as_of, key="pipeline:to",
        format="YYYY-MM-DD", help=help_text,
    )  # fmt: skip
    if not isinstance(start, date) or not isinstance(end, date):
        return None
    if end < start:
        st.warning("The 'To' date is before the 'From' date: pick a later one.")
        return None
    return start, end


def show_slipped(scope: Scope, version: tuple[Any, ...], dates: tuple[date, date] | None) -> None:
    if dates is None:
        return
    table = _slipped(str(_ui.db_path()), version, scope, *dates)
    reason = table.attrs.get("no_data", {}).get("slipped")
    if reason:
        st.info(f"No slipped-deal list: {md(reason)}.", icon=":material/info:")
        return
    base, latest = table.attrs["base_basis"], table.attrs["latest_basis"]
    older = [
        f"{b.day} by the export of {b.snapshot_date}"
        for b in (base, latest)
        if b.snapshot_date != b.day
    ]
    st.caption(
        f"Open deals due in {scope.period.label} on {base.day} whose close date was pushed "
        f"past {scope.period.end} by {latest.day}: {len(table):,}, worth {_total(table)}. "
        "Expected close dates as the exports (snapshots) had them then"
        + (f"; {' and '.join(older)}." if older else ".")
    )
    deal_table(
        table, "slipped_deals", "pipeline:slipped",
        {
            "old_close_date": st.column_config.DateColumn(
                "Close date then", format="YYYY-MM-DD",
                help=f"Expected close date in the export of {base.snapshot_date}",
            ),
            "new_close_date": st.column_config.DateColumn(
                "Close date now", format="YYYY-MM-DD",
                help=f"Expected close date in the export of {latest.snapshot_date}",
            ),
            "days_pushed": st.column_config.NumberColumn("Days pushed"),
            "times_pushed": st.column_config.NumberColumn(
                "Times pushed", help="Weekly exports in which the close date moved later"
            ),
        },
    )  # fmt: skip


def waterfall_chart(w: Waterfall, currency: str = "") -> go.Figure:
    """Bars at their exact amounts; labels are `Waterfall.rounded` (they add up)."""
    t = w.table()
    labels = [
        f"{v:+,}" if m == "relative" else f"{v:,}"
        for v, m in zip(t["rounded"], t["measure"], strict=True)
    ]
    fig = go.Figure(
        go.Waterfall(
            x=t["step"],
            y=t["amount"],
            measure=t["measure"],
            text=labels,
            textposition="outside",
            customdata=t["deals"],
            hovertemplate="%{x}<br>%{text} "
            + plot_text(currency)
            + "<br>deals: %{customdata}<extra></extra>",
            increasing={"marker": {"color": "#2E9E5B"}},
            decreasing={"marker": {"color": "#D1495B"}},
            totals={"marker": {"color": "#2E6FDB"}},
            connector={"line": {"color": "#999999"}},
        )
    )
    fig.update_layout(height=420, margin={"l": 0, "r": 0, "t": 30, "b": 0}, showlegend=False)
    fig.update_yaxes(tickformat=",.0f", title_text=plot_text(currency) or None)
    return fig


def show_waterfall(scope: Scope, version: tuple[Any, ...], dates: tuple[date, date] | None) -> None:
    if dates is None:
        return
    start, end = dates
    with _ui.cursor() as cur:
        start_basis, end_basis = bases(cur, [start, end])
        currency = _ui.data_facts(cur).reporting_currency
    both_snapshots = start_basis.source == end_basis.source == "snapshot"
    closing = f"closing in {scope.period.label}"
    options = {PIPELINE_KINDS[0]: f"Open deals {closing}", PIPELINE_KINDS[1]: "All open deals"}
    if both_snapshots:
        kind = st.radio(
            "Pipeline", list(options), format_func=options.get, horizontal=True,
            key="pipeline:kind",
            help=f"Open deals {closing} (a close date {scope.period.start} to "
            f"{scope.period.end} as known on each day), or every open deal",
        )  # fmt: skip
    else:
        kind = PIPELINE_KINDS[1]
        rebuilt = [b for b in (start_basis, end_basis) if b.source != "snapshot"]
        days = " and ".join(str(b.day) for b in rebuilt)
        how = "; ".join(f'{b.day}: source "{b.source}", {SOURCE_HELP[b.source]}' for b in rebuilt)
        st.caption(
            f"All open deals, not only those {closing}: no export on or before {days} says "
            f"when deals were expected to close then. {how}."
        )
    w = _waterfall(str(_ui.db_path()), version, scope, start, end, str(kind))
    cards = st.columns(2)
    for box, side, day, basis, n in (
        (cards[0], 0, start, w.start_basis, w.start_deals),
        (cards[1], 1, end, w.end_basis, w.end_deals),
    ):
        note = w.priced_note(side)
        unpriced = (w.start_no_amount, w.end_no_amount)[side]
        value = w.amount_on(side)
        box.metric(
            f"Pipeline on {day}",
            "no data" if value is None else f"{_ui.money(float(value))} {currency}",
            help=f"{options[str(kind)]} on {day}. {basis_help(basis)}"
            + (f" No data: {note}." if value is None else ""),
            border=True,
        )  # fmt: skip
        if value is None:
            box.caption(f"No data: {md(note or '')}.")
        else:
            box.caption(
                f"From {counted(n - unpriced, 'priced deal')}" + (f"; {md(note)}." if note else ".")
            )
    if w.no_change_reason:
        st.info(md(w.no_change_reason), icon=":material/info:")
        return
    what = f"the open deals {closing}" if kind == PIPELINE_KINDS[0] else "all open deals"
    st.caption(
        f"How {what} changed from {w.start_date} to {w.end_date}, in {md(currency)} (the "
        f"reporting currency) at the {w.end_date} rates. Each deal falls in one bar; the "
        "bars add up to the ending pipeline exactly, and the rounded labels add up to the "
        "rounded ending figure (largest remainder)."
    )
    st.plotly_chart(
        waterfall_chart(w, currency), config={"displayModeBar": False}, key="pipeline:wf"
    )  # fmt: skip
    table = w.table().drop(columns="measure")
    st.dataframe(
        table.drop(columns="amount"), hide_index=True, key="pipeline:wf_table",
        column_config={
            "step": st.column_config.TextColumn("Step"),
            "rounded": st.column_config.NumberColumn(
                f"Amount ({currency})", format="%,d",
                help="Rounded so the rows add up to the ending pipeline; the download has "
                "the exact amounts",
            ),
            "deals": st.column_config.NumberColumn("Deals"),
        }, placeholder=_ui.DASH,
    )  # fmt: skip
    download = table.copy()
    for column, value in w.sources().items():
        download[column] = value
    _ui.downloads(download, f"pipeline_waterfall_{start}_{end}", "pipeline:wf")
    notes = [f"Start + changes - end = {w.imbalance} (exact)."]
    if w.unchanged_deals:
        notes.append(f"{counted(w.unchanged_deals, 'deal')} in both with the same amount.")
    if w.undated_new:
        notes.append(
            f"{w.undated_new:,} of the new deals {verb(w.undated_new, 'has', 'have')} no created "
            f"date: {verb(w.undated_new, 'it', 'they')} may have been open on the start "
            "date already."
        )
    notes.extend(w.unvalued_notes())
    if w.unpriced:
        notes.append(
            f"{counted(w.unpriced, 'deal')} {verb(w.unpriced, 'has', 'have')} no exchange "
            "rate: counted as 0."
        )
    if not both_snapshots:
        notes.append(
            "A rebuilt day reads each open deal's amount from the export nearest it (the "
            "latest on or before the day, else the first after), so an amount change made "
            "between two exports shows on the later one's day."
        )
    st.caption(" ".join(notes))
    with st.expander("The deals behind the bars"):
        deals = _waterfall_deals(str(_ui.db_path()), version, scope, start, end, str(kind))
        deal_table(
            deals, f"pipeline_waterfall_deals_{start}_{end}", "pipeline:wf_deals",
            {
                "bucket": st.column_config.TextColumn("Bar"),
                "in_start": st.column_config.CheckboxColumn(f"Open on {start}"),
                "in_end": st.column_config.CheckboxColumn(f"Open on {end}"),
                "start_amount": st.column_config.NumberColumn(
                    f"Amount on {start}", format=MONEY),
                "end_amount": st.column_config.NumberColumn(f"Amount on {end}", format=MONEY),
                "change": st.column_config.NumberColumn("Change", format=MONEY),
                "start_close_date": st.column_config.DateColumn(
                    f"Close date on {start}", format="YYYY-MM-DD",
                    help="Expected then; — where a rebuild does not know it"),
                "end_close_date": st.column_config.DateColumn(
                    f"Close date on {end}", format="YYYY-MM-DD",
                    help="Expected then (the actual one for a deal closed by then); — where "
                    "a rebuild does not know it"),
            },
        )  # fmt: skip


def show_gaps(scope: Scope, version: tuple[Any, ...], dates: object = None) -> None:
    del dates  # about deals open now
    min_won = int(st.session_state.get("pipeline:min_won", DEFAULT_MIN_WON_DEALS))
    table = _gaps(str(_ui.db_path()), version, scope, min_won)
    reason = table.attrs.get("no_data", {}).get("touches")
    if reason:
        st.info(f"No follow-up gaps: {md(reason)}.", icon=":material/info:")
        return
    st.caption(
        f"{counted(len(table), 'open deal')} with fewer touches (linked activities) than "
        "the median won deal had when it moved past the same stage, as of "
        f"{table.attrs.get('as_of') or _ui.DASH}. Most deals need five or more follow-ups."
    )
    deal_table(
        table, "follow_up_gaps", "pipeline:gaps",
        {
            "touches": st.column_config.NumberColumn("Touches"),
            "last_touch": st.column_config.DateColumn("Last touch", format="YYYY-MM-DD"),
            "won_median_touches": st.column_config.NumberColumn(
                "Won deals' median", format="%.1f"
            ),
            "touches_short": st.column_config.NumberColumn("Short by", format="%.1f"),
            "won_deals_compared": st.column_config.NumberColumn("Won deals compared"),
        },
    )  # fmt: skip


SECTIONS = (
    ("Stalled deals", "the stalled deals", show_stalled),
    ("Slipped deals", "the slipped deals", show_slipped),
    ("Pipeline changes", "the pipeline waterfall", show_waterfall),
    ("Follow-up gaps", "the follow-up gaps", show_gaps),
)


def render() -> None:
    st.title("Pipeline")
    if _ui.database_is_empty():
        _ui.show_empty_database_hint()
        return
    scope = _ui.current_scope()
    with _ui.cursor() as cur:
        version = _ui.data_version(cur)
        as_of = data_as_of(cur)
    st.caption(
        f"Scope: {md(scope.describe())}. Stalled deals and follow-up gaps are about deals open "
        f"now (data as of {as_of or _ui.DASH}); slipped deals and the waterfall compare two "
        "days you pick, each as known then."
    )
    dates: tuple[date, date] | None = None
    for title, what, show in SECTIONS:
        st.subheader(title)
        try:
            if show is show_slipped:  # the two days, shared with the waterfall below
                dates = pick_dates(scope)
            show(scope, version, dates)
        except Exception as exc:  # one section failing must not take the page down
            _ui.friendly_error(what, exc)


_ui.run_page(render)
