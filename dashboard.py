"""Entry script: `streamlit run dashboard.py`.

Owns what every page shares: the page list (st.navigation), the cached DuckDB connection
(pages/_ui.py), and the sidebar filters that become the one `Scope` pages hand to
analytics. Filters are bound to the URL query string, so a manager can share a link to
"2024-Q2, team East" and the recipient sees the same view.

A user must never see a traceback: the sidebar and the page run inside handlers that
log the error and show one friendly sentence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

import duckdb
import streamlit as st

from analytics.scope import (
    Period,
    PeriodKind,
    Scope,
    load_fiscal_start_month,
    periods_between,
    scope_options,
)
from pages import _ui

log = logging.getLogger("dashboard")

st.set_page_config(
    page_title="Sales performance",
    page_icon=":material/monitoring:",
    layout="wide",
)

# A new page is one line here plus its file under pages/.
PAGES = [
    st.Page("pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("pages/reps.py", title="Reps", icon=":material/groups:"),
    st.Page("pages/funnel.py", title="Funnel", icon=":material/filter_alt:"),
    st.Page("pages/pipeline.py", title="Pipeline", icon=":material/waterfall_chart:"),
    st.Page("pages/forecast.py", title="Forecast", icon=":material/trending_up:"),
    st.Page("pages/leads.py", title="Leads", icon=":material/person_search:"),
    st.Page("pages/commissions.py", title="Commissions", icon=":material/payments:"),
    st.Page("pages/data.py", title="Data", icon=":material/upload_file:"),
    st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
]

# Period-type choice -> (period kind, fiscal?). Fiscal choices appear only when the
# fiscal year does not start in January (otherwise they equal the calendar ones).
PERIOD_KINDS: dict[str, tuple[PeriodKind, bool]] = {
    "Month": ("month", False),
    "Quarter": ("quarter", False),
    "Year": ("year", False),
    "Fiscal quarter": ("quarter", True),
    "Fiscal year": ("year", True),
}


def _all(label: str) -> Callable[[str | None], str]:
    """Show None as 'All teams' etc.; None is the default, so it never clutters the URL."""
    return lambda value: label if value is None else str(value)


def sidebar_scope(con: duckdb.DuckDBPyConnection) -> Scope:
    """Draw the filters and return the Scope they describe.

    Every widget is keyed and bound to the query string (`bind="query-params"`): the key
    is the URL parameter, unknown values in a pasted URL fall back to the default, and
    defaults are left out of the URL.
    """
    fiscal = load_fiscal_start_month(con)
    kinds = [k for k, (_, is_fiscal) in PERIOD_KINDS.items() if fiscal != 1 or not is_fiscal]
    with st.sidebar:
        st.subheader("Filters")
        kind_choice = st.selectbox("Period type", kinds, key="kind", bind="query-params")
        kind, is_fiscal = PERIOD_KINDS[kind_choice or "Month"]
        fiscal_start = fiscal if is_fiscal else None

        everything = scope_options(con)
        if everything.first_date is not None and everything.last_date is not None:
            periods = periods_between(
                everything.first_date, everything.last_date, kind, fiscal_start
            )
        else:
            periods = [Period.containing(date.today(), kind, fiscal_start)]
        labels = [p.label for p in periods]  # newest first: the default is the latest
        label = st.selectbox(
            "Period", labels, key="period", bind="query-params",
            help="Periods with data, newest first. Fiscal years are named by the "
            "calendar year they end in.",
        )  # fmt: skip
        period = periods[labels.index(label)] if label in labels else periods[0]

        team = st.selectbox(
            "Team", [None, *everything.teams], format_func=_all("All teams"),
            key="team", bind="query-params",
        )  # fmt: skip
        options = scope_options(con, team=team)
        region = st.selectbox(
            "Region", [None, *options.regions], format_func=_all("All regions"),
            key="region", bind="query-params",
        )  # fmt: skip
        options = scope_options(con, team=team, region=region)
        rep = st.selectbox(
            "Rep", [None, *options.reps], format_func=_all("All reps"),
            key="rep", bind="query-params",
        )  # fmt: skip

        st.session_state[_ui.DEALS_COUNT_KEY] = options.opportunity_count
        if options.opportunity_count == 0:
            st.caption("No deals loaded yet: see the Data page.")
        else:
            st.caption(f"{options.opportunity_count:,} deals in the database.")
    return Scope(period=period, team=team, region=region, rep=rep)


def main() -> None:
    page = st.navigation(PAGES)
    try:
        with _ui.cursor() as cur:
            st.session_state[_ui.SCOPE_KEY] = sidebar_scope(cur)
    except Exception as exc:  # e.g. the database file is locked by another process
        _ui.friendly_error("loading the filters", exc)
        st.session_state.pop(_ui.SCOPE_KEY, None)
    try:
        with _ui.shell():
            page.run()
    except Exception as exc:
        _ui.friendly_error(f"the {page.title} page", exc)


main()
