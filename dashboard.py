"""Entry script: `streamlit run dashboard.py`.

Owns what every page shares: the page list (st.navigation), the cached DuckDB connection
(pages/_ui.py), and the sidebar filters that become the one `Scope` pages hand to
analytics. Filters are bound to the URL query string, so a manager can share a link to
"2024-Q2, team East" and the recipient sees the same view.

Who is signed in is decided first (pages/_auth.py): the page list is that person's
(Data and Settings for sales operations only) and the sidebar filters offer only what
they may see; the same Access rides in the Scope, so analytics enforces it on every read.

A user must never see a traceback: the sidebar and the page run inside handlers that
log the error and show one friendly sentence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import replace
from datetime import date

import duckdb
import streamlit as st

from analytics.access import Access, may_open
from analytics.markup import md
from analytics.run_memo import run_memo
from analytics.scope import (
    Period,
    PeriodKind,
    Scope,
    default_period,
    periods_between,
)
from pages import _auth, _ui

log = logging.getLogger("dashboard")

st.set_page_config(
    page_title="Sales performance",
    page_icon=":material/monitoring:",
    layout="wide",
)

# Pages about the period still running (the forecast, today's pipeline) open on the newest
# period; review pages open on the newest period that was over on the data's date.
LIVE_PAGES = frozenset({"forecast", "pipeline"})

# Pages that only read: each runs inside a run memo (analytics.run_memo), so the facts its
# queries share (snapshot dates, reporting currency, stages, ...) are read once per run,
# not by every query. Never a page that writes (Data, Settings, Commissions): an import
# or a saved setting must be read back as it now is.
READING_PAGES = frozenset({"overview", "reps", "funnel", "pipeline", "forecast", "leads"})

# A new page is one line here plus its file under pages/. Keyed by file stem, the name
# analytics.access.may_open knows pages by.
PAGES: dict[str, st.Page] = {
    "overview": st.Page(
        "pages/overview.py", title="Overview", icon=":material/dashboard:", default=True
    ),
    "reps": st.Page("pages/reps.py", title="Reps", icon=":material/groups:"),
    "funnel": st.Page("pages/funnel.py", title="Funnel", icon=":material/filter_alt:"),
    "pipeline": st.Page("pages/pipeline.py", title="Pipeline", icon=":material/waterfall_chart:"),
    "forecast": st.Page("pages/forecast.py", title="Forecast", icon=":material/trending_up:"),
    "leads": st.Page("pages/leads.py", title="Leads", icon=":material/person_search:"),
    "commissions": st.Page("pages/commissions.py", title="Commissions", icon=":material/payments:"),
    "data": st.Page("pages/data.py", title="Data", icon=":material/upload_file:"),
    "settings": st.Page("pages/settings.py", title="Settings", icon=":material/settings:"),
}

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


def sidebar_scope(con: duckdb.DuckDBPyConnection, access: Access, live: bool = False) -> Scope:
    """Draw the filters and return the Scope they describe, within `access`.

    Every widget is keyed and bound to the query string (`bind="query-params"`): the key
    is the URL parameter, unknown values in a pasted URL fall back to the default, and
    defaults are left out of the URL. Only what the access may see is offered: a
    manager's team is fixed, a rep has no team/region/rep filters at all; a URL asking
    for more falls back to what is allowed.
    """
    facts = _ui.data_facts(con)
    fiscal = facts.fiscal_start_month
    kinds = [k for k, (_, is_fiscal) in PERIOD_KINDS.items() if fiscal != 1 or not is_fiscal]
    with st.sidebar:
        if facts.is_demo:
            st.info(
                "**Demo data**: made-up deals from `make demo`, not your team's. Your own "
                "database: `make run DB=path/to/own.duckdb`.",
                icon=":material/science:",
            )
        st.subheader("Filters")
        kind_choice = st.selectbox("Period type", kinds, key="kind", bind="query-params")
        kind, is_fiscal = PERIOD_KINDS[kind_choice or "Month"]
        fiscal_start = fiscal if is_fiscal else None

        everything = _ui.scope_options(con, access=access)
        as_of = facts.as_of
        last = max((d for d in (everything.last_date, as_of) if d is not None), default=None)
        if everything.first_date is not None and last is not None:
            periods = periods_between(everything.first_date, last, kind, fiscal_start)
        else:
            periods = [Period.containing(as_of or date.today(), kind, fiscal_start)]
        labels = [p.label for p in periods]  # newest first
        # No format_func: a bound selectbox keeps the formatted text in the URL, and a
        # link must keep meaning the same period after the next upload.
        label = st.selectbox(
            "Period", labels,
            index=0 if live else labels.index(default_period(periods, as_of).label),
            key="period", bind="query-params",
            help="Periods with data, newest first; it opens on the newest period that was "
            "over on the data's date"
            + (f" ({as_of:%-d %b %Y})" if as_of else "")
            + ". A period not over then is shown to date and compared with the same days "
            "before. Fiscal years are named by the calendar year they end in.",
        )  # fmt: skip
        period = periods[labels.index(label)] if label in labels else periods[0]
        if period.to_date(as_of).is_to_date and as_of is not None:
            st.caption(
                f"{period.label} was not over on {as_of:%-d %b %Y}, the data's date. "
                "Overview, Reps and Funnel show it to date "
                f"({period.to_date(as_of).name.split('(')[-1].rstrip(')')}), against the "
                "same days before; Leads counts the leads created to date."
            )

        if access.rep is not None:  # a rep sees themselves only: no filter to choose
            team = region = None
            rep = access.rep
            options = _ui.scope_options(con, access=access)
            st.caption(f"Your own figures: {md(rep)}")
        else:
            fixed = access.team is not None
            team = st.selectbox(
                "Team", [access.team] if fixed else [None, *everything.teams],
                format_func=_all("All teams"), key="team", bind="query-params",
                disabled=fixed, help="Your team" if fixed else None,
            )  # fmt: skip
            options = _ui.scope_options(con, team=team, access=access)
            region = st.selectbox(
                "Region", [None, *options.regions], format_func=_all("All regions"),
                key="region", bind="query-params",
            )  # fmt: skip
            options = _ui.scope_options(con, team=team, region=region, access=access)
            rep = st.selectbox(
                "Rep", [None, *options.reps], format_func=_all("All reps"),
                key="rep", bind="query-params",
            )  # fmt: skip

        st.session_state[_ui.DEALS_COUNT_KEY] = options.opportunity_count
        if options.opportunity_count == 0:
            st.caption("No deals loaded yet: see the Data page.")
        elif access.sees_everything:  # the company's deal count is not a manager's figure
            st.caption(f"{options.opportunity_count:,} deals in the database.")
    scope = Scope(period=period, team=team, region=region, rep=rep, access=access)
    # the same rights under the role's name: pages cache figures per Scope, and managers
    # of one team must share them rather than each compute their own (Access.for_reading)
    return replace(scope, access=access.for_reading())


def _nothing() -> None:
    """The page shown when signing in itself failed: the error above says why."""


def main() -> None:
    _ui.begin_run()
    try:
        current, access = _auth.resolve_access()
    except Exception as exc:  # e.g. the database file is locked by another process
        st.navigation([st.Page(_nothing, title="Sales performance")], position="hidden")
        _ui.friendly_error("signing in", exc)
        return
    if access is None:  # nobody signed in yet (or not allowed from here): nothing else
        st.navigation([st.Page(_auth.gate_page, title="Sign in")], position="hidden").run()
        return
    page = st.navigation([p for stem, p in PAGES.items() if may_open(access, stem)])
    _auth.account_box(current, access)
    with ExitStack() as memo:
        memo.enter_context(run_memo())  # the sidebar only reads
        try:
            with _ui.cursor() as cur:
                live = any(PAGES[stem] is page for stem in LIVE_PAGES)
                st.session_state[_ui.SCOPE_KEY] = sidebar_scope(cur, access, live)
        except Exception as exc:  # e.g. the database file is locked by another process
            # Every page reads the same database through the Scope: one sentence is
            # enough, a second error box from the page itself would only repeat it.
            _ui.friendly_error("loading the filters", exc)
            st.session_state.pop(_ui.SCOPE_KEY, None)
            return
        if not any(PAGES[stem] is page for stem in READING_PAGES):
            memo.close()  # a page that writes reads everything afresh
        try:
            with _ui.shell():
                page.run()
        except Exception as exc:
            _ui.friendly_error(f"the {page.title} page", exc)


main()
