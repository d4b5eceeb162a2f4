"""Helpers shared by the entry script and the pages: the connection, the Scope, formatting.

Pages are run by `st.navigation` inside dashboard.py's script run, so they cannot import
dashboard.py (that would run the app again); what they share lives here instead. The
leading underscore keeps Streamlit from ever listing this file as a page.
"""

from __future__ import annotations

import functools
import logging
import os
import runpy
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from analytics import db, drilldown, leftovers
from analytics.access import EVERYTHING, Access, may_open
from analytics.colours import colour_of, roster_team_colours
from analytics.errors import new_reference, strip_paths, user_message
from analytics.exports import CSV_MIME, EXCEL_MIME, to_csv_bytes, to_excel_bytes
from analytics.ingest.template import template_frame
from analytics.markup import md
from analytics.metrics import shared
from analytics.metrics.kpis import kpi_parts
from analytics.numbers import is_missing, round_half_up
from analytics.scope import Period, Scope, ScopeOptions, data_as_of, load_fiscal_start_month
from analytics.scope import scope_options as analytics_scope_options
from analytics.settings import is_demo_database, load_reporting_currency

log = logging.getLogger("dashboard")

# The app's frames are small (a row per rep, stage or period) and go through many pandas
# operations each; pandas 3 stores their text in Arrow arrays by default, whose per-call
# cost outweighs what they save at that size: with twenty managers on the app, 27 % of the
# script threads' time went to pyarrow calls on frames of a few hundred rows (issue 15).
# Python storage is the same `str` dtype with the same missing values (NaN); only where
# the characters live differs.
pd.set_option("mode.string_storage", "python")

ENTRY_SCRIPT = Path(__file__).resolve().parent.parent / "dashboard.py"
SCOPE_KEY = "scope"  # session_state: the Scope the sidebar built for this run
DEALS_COUNT_KEY = "opportunity_count"  # session_state: deals in the database (0 = empty)
DASH = "—"


def db_path() -> Path:
    """$SALES_DB or the default beside the project, resolved so the cache key is stable.

    Memoised per (path as given, working directory): every page asks for it several times
    per rerun, and resolving walks the file system (2 % of the server's time with twenty
    managers on it, issue 15).
    """
    return _resolved(str(db.default_db_path()), os.getcwd())


@functools.lru_cache(maxsize=16)
def _resolved(path: str, cwd: str) -> Path:
    return (Path(cwd) / path).resolve()


def data_dir() -> Path:
    """Uploads and saved mappings live beside the database (see analytics.db.data_dir_for)."""
    return db.data_dir_for(db_path())


@st.cache_resource(show_spinner=False)
def _connection(path: str) -> duckdb.DuckDBPyConnection:
    """One connection per database file for the whole server process.

    DuckDB allows one writing process per file, so every session shares this connection
    and takes its own cursor; keyed by path so tests pointing SALES_DB elsewhere get theirs.
    """
    log.info("opening database %s", path)
    con = db.connect(path)
    leftovers.sweep(db.data_dir_for(path))  # what killed processes and gone sessions left
    return con


def connection() -> duckdb.DuckDBPyConnection:
    return _connection(str(db_path()))


@contextmanager
def cursor() -> Iterator[duckdb.DuckDBPyConnection]:
    """A fresh cursor for one use: DuckDB cursors must not be shared between threads."""
    cur = connection().cursor()
    try:
        yield cur
    finally:
        cur.close()


_run = threading.local()  # per script run: each session's script runs in its own thread


def begin_run() -> None:
    """Called first by the entry script on every run: forget the last run's data versions."""
    _run.versions = {}


def data_version(con: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """analytics.drilldown.data_version, read once per script run and database file.

    Every cache key of a run holds it, and a run asked for it about nine times (two
    queries each: 4 % of the server's time with twenty managers, issue 15). Reading it
    once also makes the run consistent: an import landing in the middle of a run no
    longer gives the sidebar one version and the page another. Every write a page makes
    ends its run with `st.rerun`, so the next run reads the new version. Outside a run
    of the entry script (a test calling a page helper directly) it is read every time.
    """
    versions: dict[str, tuple[Any, ...]] | None = getattr(_run, "versions", None)
    if versions is None:
        return drilldown.data_version(con)
    key = str(db_path())
    if key not in versions:
        versions[key] = drilldown.data_version(con)
    return versions[key]


@dataclass(frozen=True)
class DataFacts:
    """Small facts about the data that every run reads, cached per data version."""

    as_of: date | None  # analytics.scope.data_as_of
    reporting_currency: str
    fiscal_start_month: int
    is_demo: bool


@st.cache_data(show_spinner=False, max_entries=16)
def _data_facts(db: str, version: tuple[Any, ...], today: date) -> DataFacts:
    del db, version, today  # cache key only (data_as_of is never after today)
    with cursor() as cur:
        return DataFacts(
            as_of=data_as_of(cur),
            reporting_currency=load_reporting_currency(cur),
            fiscal_start_month=load_fiscal_start_month(cur),
            is_demo=is_demo_database(cur),
        )


def data_facts(con: duckdb.DuckDBPyConnection) -> DataFacts:
    """The data's date, reporting currency, fiscal start and demo flag, once per version.

    Four queries (one a scan of every deal) that the sidebar and the pages ran on every
    rerun of every session; now once per data version for the whole server.
    """
    return _data_facts(str(db_path()), data_version(con), date.today())


@st.cache_data(show_spinner=False, max_entries=256)
def _scope_options(
    db: str, version: tuple[Any, ...], team: str | None, region: str | None, access: Access
) -> ScopeOptions:
    del db, version  # cache key only
    with cursor() as cur:
        return analytics_scope_options(cur, team=team, region=region, access=access)


def scope_options(
    con: duckdb.DuckDBPyConnection,
    team: str | None = None,
    region: str | None = None,
    access: Access = EVERYTHING,
) -> ScopeOptions:
    """analytics.scope.scope_options, cached per database file and data version.

    The sidebar asks for it up to three times on every rerun of every session, and each
    call scans every deal (the owners not on the roster, the date span, the count): at a
    million deals that was about a tenth of a second of DuckDB time per rerun, repeated by
    every manager for the same data (issue 15, "work repeated on every rerun").
    """
    return _scope_options(str(db_path()), data_version(con), team, region, access.for_reading())


@st.cache_data(show_spinner=False, max_entries=32)
def _kpi_parts(
    db: str, version: tuple[Any, ...], scope: Scope, periods: tuple[Period, ...], by: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    del db, version  # cache key only
    with cursor() as cur:
        return kpi_parts(cur, scope, periods, by)


@st.cache_data(show_spinner=False, max_entries=8)
def _roster(db: str, version: tuple[Any, ...]) -> dict[str, tuple[str | None, str | None]]:
    del db, version  # cache key only
    with cursor() as cur:
        return shared.roster(cur)


def kpi_tables(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    periods: Iterable[Period],
    by: str,
    version: tuple[Any, ...] | None = None,
) -> pd.DataFrame:
    """analytics.metrics.kpis.kpi_tables, from KPI figures computed once for the company.

    Twenty managers of eight teams opening the same page ran the two KPI queries once per
    team; now they run once per data version, periods and grouping for every rep (or team)
    of the company, cached here, and each reader gets the rows of their own filters, which
    the Scope clamps to their access (analytics/metrics/shared.py; the company-wide
    figures are never shown). Equal to kpi_tables (tests/test_kpi_shared.py). `version`:
    the data version the caller's own cache key holds (read here when not given).
    """
    db = str(db_path())
    version = data_version(con) if version is None else version
    return shared.shared_kpi_tables(
        con, scope, tuple(periods), by,
        lambda wide, spans, grouping: _kpi_parts(db, version, wide, spans, grouping),
        _roster(db, version),
    )  # fmt: skip


def kpi_table(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    by: str,
    version: tuple[Any, ...] | None = None,
) -> pd.DataFrame:
    """analytics.metrics.kpis.kpi_table the same way as `kpi_tables` (one period)."""
    db = str(db_path())
    version = data_version(con) if version is None else version
    return shared.shared_kpi_table(
        con, scope, by,
        lambda wide, spans, grouping: _kpi_parts(db, version, wide, spans, grouping),
        _roster(db, version),
    )  # fmt: skip


_shell = threading.local()  # each session's script runs in its own thread


@contextmanager
def shell() -> Iterator[None]:
    """Marks that the entry script is rendering the current page (see `run_page`)."""
    _shell.depth = getattr(_shell, "depth", 0) + 1
    try:
        yield
    finally:
        _shell.depth -= 1


def run_page(render: Callable[[], None]) -> None:
    """Render a page, going through the entry script if Streamlit skipped it.

    Because this project keeps its pages in a folder named `pages/`, Streamlit 1.67 starts
    in its old directory-based multipage mode until the first `st.navigation` call. A deep
    link such as /data opened first on a fresh server (and every AppTest rerun, which
    resets that mode) then runs pages/data.py alone: no sidebar, no Scope. Running the
    entry script here lets its `st.navigation` take over and render this page properly.
    """
    if getattr(_shell, "depth", 0) > 0:
        render()
    else:
        runpy.run_path(str(ENTRY_SCRIPT), run_name="__main__")


def current_scope() -> Scope:
    """The Scope built by the sidebar in dashboard.py for this run."""
    scope = st.session_state.get(SCOPE_KEY)
    if scope is None:  # only when a page is run without the entry script
        raise RuntimeError("no scope: start the app with `streamlit run dashboard.py`")
    return scope


def database_is_empty() -> bool:
    return int(st.session_state.get(DEALS_COUNT_KEY, 0)) == 0


FIRST_RUN_KINDS = (
    ("Deals (opportunities)", "needed for every page: one row per deal with its stage, "
     "and ideally owner, amount, created and close dates"),
    ("Reps", "who is in which team and region, and their manager"),
    ("Activities, leads, quotas, forecast calls", "optional: efficiency, lead scoring, "
     "attainment and forecast accuracy"),
)  # fmt: skip
ACCEPTED_FORMATS = (
    "CSV or TSV (UTF-8, UTF-16, Windows-1251, CP949/EUC-KR or GB18030) and Excel .xlsx, "
    "exported from Salesforce, HubSpot, Pipedrive, Zoho or Odoo as they come, or any sheet "
    "whose columns you map once on the Data page (the mapping is saved for next month)."
)


def show_empty_database_hint() -> None:
    """The first-run page: what to upload, in which formats, and the template to start
    from (sales operations); everyone else learns who loads the data. Never an empty chart."""
    if may_open_page("pages/data.py"):
        st.subheader("First run: this database is empty")
        st.info(
            "No deals in the database yet. Upload your CRM exports on the Data page; every "
            "page fills in from them. To look around with made-up data first, build the "
            "separate demo database: `make demo`, then `make run`."
        )
        st.markdown("**What to upload**")
        for what, why in FIRST_RUN_KINDS:
            st.markdown(f"- **{what}**: {why}")
        st.caption(f"Accepted formats: {ACCEPTED_FORMATS}")
        st.download_button(
            "Download the deals template (CSV)",
            data=to_csv_bytes(template_frame("opportunities")),
            file_name="deals_template.csv",
            mime="text/csv",
            icon=":material/download:",
            key="first_run:template",
        )
        page_link("pages/data.py", label="Go to the Data page", icon=":material/upload:")
    else:
        st.info(
            "No deals in the database yet. Sales operations load the CRM exports on the "
            "Data page; the figures appear here once they have."
        )


def may_open_page(page: str) -> bool:
    """Whether the signed-in person has `page` (e.g. "pages/settings.py") in their navigation.

    Read from the Access the sidebar put in this run's Scope; without one (signing in
    failed, the filters did not load) no page is assumed open.
    """
    scope = st.session_state.get(SCOPE_KEY)
    if scope is None:
        return False
    return may_open(scope.access, Path(page).stem)


def page_link(page: str, *, label: str, icon: str | None = None) -> bool:
    """st.page_link, only to a page this person may open; returns whether it was drawn.

    st.page_link raises StreamlitPageNotFoundError for a page that is not in the current
    navigation, and dashboard.py leaves Data and Settings out for everyone but sales
    operations (issue 17.6: the Leads page failed for every other role). Every page links
    through here, never through st.page_link directly (tests/test_page_links.py checks).
    """
    if not may_open_page(page):
        return False
    st.page_link(page, label=label, icon=icon)
    return True


def team_colours(teams: Iterable[str | None]) -> dict[str, str]:
    """Each of `teams` -> its colour from the whole roster (analytics.colours), so a team
    keeps one colour on every page, period and filter. Keys: the names as given, None as
    they are (grey)."""
    with cursor() as cur:
        roster = roster_team_colours(cur)
    return {team: colour_of(roster, team) for team in teams}  # type: ignore[misc]


PERCENT = "%.1f%%"  # st.column_config format for shares shown by `in_percent`


def in_percent(df: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """A display copy with shares (0-1) as per cent, for NumberColumn(format=PERCENT).

    Streamlit's "percent" format prints 0%, 6.92% and 43.4% in one column (as many
    decimals as the value needs); a fixed one decimal reads evenly. Downloads keep the
    shares themselves.
    """
    out = df.copy()
    for column in columns:
        if column in out.columns:
            out[column] = pd.to_numeric(out[column], errors="coerce") * 100
    return out


def money(value: float | None) -> str:
    """Whole units, half up (42,234.50 -> '42,234' with Python's format would disagree with
    the waterfall's and the tables' 42,235): one rounding rule on every page."""
    return DASH if is_missing(value) else f"{round_half_up(value):,}"


def signed_money(value: float | None) -> str | None:
    return None if is_missing(value) else f"{round_half_up(value):+,}"


def percent(value: float | None) -> str:
    return DASH if value is None else f"{value * 100:.1f}%"


def signed_points(value: float | None) -> str | None:
    """A change in a rate, in percentage points: 0.8 -> 0.5 is '-30.0 pp'."""
    return None if value is None else f"{value * 100:+.1f} pp"


def signed_count(value: float | None) -> str | None:
    return None if value is None else f"{int(value):+d}"


def error_text(what: str, exc: BaseException) -> str:
    """Log the traceback with a reference; return the one sentence a user may read.

    A failure the user can act on (a refused file, the database in use or unreadable)
    says so in its own words (analytics.errors.user_message); anything else is a bug or an
    outage, so no exception text (SQL, server paths) is shown, only a reference that
    matches the log entry. Absolute paths never pass either way.
    """
    ref = new_reference()
    log.error("%s failed [ref %s]", what, ref, exc_info=exc)
    what = strip_paths(what)
    reason = user_message(exc)
    if reason is not None:
        stop = "" if reason.endswith((".", "?", "!")) else "."
        return f"Sorry, {what} failed: {reason}{stop} (Reference {ref}.)"
    return (
        f"Sorry, {what} failed because of an unexpected problem. It is logged on the server "
        f"with reference {ref}; try again, change the filters, or pass the reference on to "
        "whoever runs the dashboard."
    )


def friendly_error(what: str, exc: BaseException) -> None:
    """Show `error_text` in an error box: never a stack-trace element.

    Escaped whole (analytics.markup): the reason may quote a file name or a value from
    the file, which must read as typed.
    """
    st.error(md(error_text(what, exc)))


def downloads(df: pd.DataFrame, name: str, key: str) -> None:
    """CSV and Excel buttons for one table, cells escaped (analytics.exports).

    Every table a page shows can be taken to a spreadsheet; both files are only built
    when clicked, so a page with many tables stays fast. Building the CSV on every rerun
    (escaping every cell) was a sixth of a warm page view's Python time, repeated by every
    session on every rerun (issue 15, benchmarks/README.md `load`).
    """
    with st.container(horizontal=True):
        st.download_button(
            "CSV", data=lambda: to_csv_bytes(df), file_name=f"{name}.csv", mime=CSV_MIME,
            key=f"{key}:csv", icon=":material/download:", on_click="ignore",
        )  # fmt: skip
        st.download_button(
            "Excel", data=lambda: to_excel_bytes(df, sheet_name=name), file_name=f"{name}.xlsx",
            mime=EXCEL_MIME, key=f"{key}:xlsx", icon=":material/download:", on_click="ignore",
        )  # fmt: skip
