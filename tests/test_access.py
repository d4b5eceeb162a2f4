"""Role enforcement where data is read: each analytics entry point the pages use, per role.

The fixture is the KPI fixture (tests/test_performance.py) loaded through the real
importer, plus forecast submissions of both teams: team East = Ann Lee, Bob Stone (manager
Maria Boss); team West = Cara Diaz, Eve Quiet, Finn New, Gus Idle (manager Tom Chief);
Dan Ghost owns deals but is on no roster. Period 2024-Q2.

Each check compares what a role gets with what sales operations get when they *choose*
the same rows (team East, or rep Cara Diaz), and also asserts that the unrestricted answer
differs, so a restriction that silently stopped working fails here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics import audit, db
from analytics.access import Access, AccessDenied, can, may_open, require
from analytics.commissions import approval, data
from analytics.commissions.engine import Ledger
from analytics.commissions.plans import DEFAULT_PLAN, save_plan
from analytics.commissions.schema import ensure_schema
from analytics.commissions.statements import open_deals as commission_open_deals
from analytics.commissions.statements import what_if
from analytics.commissions.team import team_table
from analytics.drilldown import activity_mix, closed_deals, deal_funnel, kpi_history, open_deals
from analytics.forecast.current import period_forecast
from analytics.funnel import funnel
from analytics.ingest import import_file
from analytics.leads import handoff_list, lead_scores, response_by
from analytics.metrics.headline import headline, monthly_bookings
from analytics.metrics.kpis import kpi_table
from analytics.metrics.retention import customer_accounts
from analytics.pipeline import follow_up_gaps, slipped_deals, stalled_deals
from analytics.quadrant import quadrant
from analytics.scope import Period, Scope, check_rep, rep_visible, scope_options

FIXTURES = Path(__file__).resolve().parent / "data"
AS_OF = date(2024, 7, 15)
Q2 = Period.parse("2024-Q2")
MAY = Period.parse("2024-05")
EAST = {"Ann Lee", "Bob Stone"}
WEST = {"Cara Diaz", "Eve Quiet", "Finn New", "Gus Idle"}

OPS = Access.ops("ops@example.com")
EXECUTIVE = Access.executive("exec@example.com")
MANAGER = Access.manager("maria@example.com", "East")
REP = Access.for_rep("cara@example.com", "Cara Diaz")

# Forecast calls of both teams for the live quarter (Q3: the data is as of 15 July).
Q3 = Period.parse("2024-Q3")
CALLS = """owner,period_start,period_end,category,amount,submitted_at
Ann Lee,2024-07-01,2024-09-30,commit,3000,2024-07-02 09:00
Bob Stone,2024-07-01,2024-09-30,commit,2000,2024-07-02 09:00
Cara Diaz,2024-07-01,2024-09-30,commit,7000,2024-07-02 09:00
Cara Diaz,2024-07-01,2024-09-30,best case,9000,2024-07-02 09:00
Eve Quiet,2024-07-01,2024-09-30,commit,4000,2024-07-02 09:00
"""


def load_book(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    for name in ("reps", "opps", "quotas", "fx_rates", "activities", "leads"):
        result = import_file(con, FIXTURES / f"kpi_{name}.csv", as_of=AS_OF, data_dir=tmp_path)
        assert result.ok, result.message
    calls = tmp_path / "calls.csv"
    calls.write_text(CALLS, encoding="utf-8")
    result = import_file(con, calls, as_of=AS_OF, data_dir=tmp_path, kind="forecast_submissions")
    assert result.ok, result.message


@pytest.fixture
def book(db_path: Path, db_template: Callable[..., Path]) -> Iterator[duckdb.DuckDBPyConnection]:
    """The kpi files and the reps' calls, imported once per test process and copied for this
    test (conftest `db_template`): a private file the test may change."""
    con = db.connect(db_template("test_access.book", load_book, db_path))
    yield con
    con.close()


def scope(access: Access = OPS, **filters: str) -> Scope:
    return Scope(Q2, access=access, **filters)


# Who each role is compared with: the rows ops get by choosing them.
SAME_AS = {
    "manager": (MANAGER, {"team": "East"}, EAST),
    "rep": (REP, {"rep": "Cara Diaz"}, {"Cara Diaz"}),
}


def names(frame: pd.DataFrame, column: str) -> set[str]:
    return {str(v) for v in frame[column].dropna()}


# --- the Scope itself -------------------------------------------------------------------


def test_scope_is_clamped_to_the_access() -> None:
    assert Scope(Q2, access=MANAGER).team == "East"
    assert Scope(Q2, access=MANAGER, region="EMEA").params()["team"] == "East"
    assert Scope(Q2, access=REP).rep == "Cara Diaz"
    assert Scope(Q2, access=REP).params()["rep"] == "Cara Diaz"
    # Dropping a filter (a page's "peers" view) cannot widen it.
    from dataclasses import replace

    assert replace(Scope(Q2, access=REP), rep=None).rep == "Cara Diaz"
    assert Scope(Q2, access=MANAGER).previous().team == "East"


@pytest.mark.parametrize(
    ("access", "filters"),
    [
        (MANAGER, {"team": "West"}),
        (REP, {"rep": "Ann Lee"}),
    ],
)
def test_scope_asking_for_someone_else_is_refused(access: Access, filters: dict) -> None:
    with pytest.raises(AccessDenied, match="may not see"):
        Scope(Q2, access=access, **filters)


@pytest.mark.parametrize("access", [OPS, EXECUTIVE])
def test_ops_and_executives_keep_every_filter(access: Access) -> None:
    assert Scope(Q2, access=access).team is None
    assert Scope(Q2, access=access, team="West").team == "West"


# --- sidebar lists ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("access", "teams", "reps"),
    [
        (OPS, ["East", "West"], sorted(EAST | WEST | {"Dan Ghost"})),
        (EXECUTIVE, ["East", "West"], sorted(EAST | WEST | {"Dan Ghost"})),
        (MANAGER, ["East"], sorted(EAST)),
        (REP, ["West"], ["Cara Diaz"]),
    ],
)
def test_scope_options_offer_only_what_the_role_sees(
    book: duckdb.DuckDBPyConnection, access: Access, teams: list, reps: list
) -> None:
    options = scope_options(book, access=access)
    assert options.teams == teams
    assert options.reps == reps
    # Even when the caller asks for the other team's reps.
    if access is MANAGER:
        assert scope_options(book, team="West", access=access).reps == []


# --- figures: the role's answer equals ops choosing the same rows --------------------------


def _figures(con: duckdb.DuckDBPyConnection, s: Scope) -> dict[str, object]:
    """Every scope-driven figure the pages show, as comparable values."""
    h = headline(con, s)
    q = quadrant(con, s)
    f = funnel(con, s)
    forecast = period_forecast(con, s.with_period(Q3))
    return {
        "kpi reps": sorted(names(kpi_table(con, s, "rep"), "rep")),
        "kpi teams": sorted(names(kpi_table(con, s, "team"), "team")),
        "headline": (h.bookings, h.won_deals, h.lost_deals, h.open_pipeline),
        "monthly": monthly_bookings(con, s, 3)["bookings"].tolist(),
        "quadrant": sorted(names(q, "rep")),
        "funnel": (f.deals, f.table["reached"].tolist() if "reached" in f.table else None),
        "stalled": sorted(names(stalled_deals(con, s), "owner")),
        "slipped": len(slipped_deals(con, s)),
        "gaps": sorted(names(follow_up_gaps(con, s), "owner")),
        "lead scores": sorted(names(lead_scores(con, s), "owner")),
        "handoff": len(handoff_list(con, s)),
        "response": response_by(con, s, "owner")["leads"].tolist(),
        "accounts": sorted(names(customer_accounts(con, s), "account")),
        "forecast": (forecast.status, forecast.open_amount, forecast.open_deals),
        "calls": sorted(forecast.calls),
        "commissions": sorted(names(team_table(con, s), "rep")),
    }


@pytest.mark.parametrize("role", ["manager", "rep"])
def test_every_figure_is_restricted_to_the_role(book: duckdb.DuckDBPyConnection, role: str) -> None:
    access, filters, allowed = SAME_AS[role]
    restricted = _figures(book, scope(access))
    chosen = _figures(book, scope(OPS, **filters))
    everything = _figures(book, scope(OPS))
    assert restricted == chosen
    # The restriction is real: these figures differ for the whole company.
    differs = [k for k in restricted if restricted[k] != everything[k]]
    assert {"kpi reps", "headline", "quadrant", "commissions", "calls"} <= set(differs), differs
    for key in ("kpi reps", "quadrant", "stalled", "gaps", "lead scores", "calls", "commissions"):
        assert set(restricted[key]) <= allowed, (key, restricted[key])


def test_manager_sees_their_team_s_forecast_calls_only(book: duckdb.DuckDBPyConnection) -> None:
    mine = period_forecast(book, Scope(Q3, access=MANAGER))
    assert set(mine.calls) == EAST
    assert mine.range is not None and mine.range.commit == 5000  # Ann 3000 + Bob 2000
    everyone = period_forecast(book, Scope(Q3, access=OPS))
    assert set(everyone.calls) == EAST | {"Cara Diaz", "Eve Quiet"}


@pytest.mark.parametrize("access", [OPS, EXECUTIVE])
def test_ops_and_executives_see_every_team(book: duckdb.DuckDBPyConnection, access: Access) -> None:
    reps = names(kpi_table(book, scope(access), "rep"), "rep")
    assert EAST | {"Cara Diaz"} <= reps


# --- per-rep reads (drill-down, statements) -----------------------------------------------


DRILLDOWNS = {
    "kpi_history": lambda con, s, rep: kpi_history(con, s, rep, 2),
    "activity_mix": activity_mix,
    "closed_deals": closed_deals,
    "deal_funnel": lambda con, s, rep: deal_funnel(con, s, rep).table,
    "open_deals": lambda con, s, rep: open_deals(con, rep, access=s.access),
}


@pytest.mark.parametrize("read", sorted(DRILLDOWNS))
@pytest.mark.parametrize(
    ("access", "other"), [(MANAGER, "Cara Diaz"), (REP, "Ann Lee"), (MANAGER, "Dan Ghost")]
)
def test_drilldown_of_someone_else_is_refused(
    book: duckdb.DuckDBPyConnection, read: str, access: Access, other: str
) -> None:
    with pytest.raises(AccessDenied):
        DRILLDOWNS[read](book, scope(access), other)


@pytest.mark.parametrize("read", sorted(DRILLDOWNS))
def test_drilldown_of_an_allowed_rep_matches_ops(
    book: duckdb.DuckDBPyConnection, read: str
) -> None:
    mine = DRILLDOWNS[read](book, scope(MANAGER), "Ann Lee")
    ops = DRILLDOWNS[read](book, scope(OPS, team="East"), "Ann Lee")
    pd.testing.assert_frame_equal(mine.reset_index(drop=True), ops.reset_index(drop=True))


def test_kpi_history_under_a_manager_is_the_team_s(book: duckdb.DuckDBPyConnection) -> None:
    """The drill-down reads the rep's row of a table built within the access."""
    seen: list[Scope] = []

    def spy(con: duckdb.DuckDBPyConnection, s: Scope, by: str) -> pd.DataFrame:
        seen.append(s)
        return kpi_table(con, s, by)

    kpi_history(book, scope(MANAGER), "Ann Lee", 2, kpi=spy)
    assert seen and all(s.team == "East" for s in seen)


@pytest.mark.parametrize("role", ["manager", "rep"])
@pytest.mark.parametrize("by", ["rep", "company"])
def test_kpi_rows_cut_from_the_company_s_follow_the_access(
    book: duckdb.DuckDBPyConnection, role: str, by: str
) -> None:
    """Pages compute the KPI figures once for the whole company and cut each reader's rows
    (analytics/metrics/shared.py): a manager's cut is exactly the table ops get by choosing
    team East, a rep's exactly Cara Diaz's, never a row of anyone else."""
    from analytics.metrics.kpis import kpi_parts, kpi_tables
    from analytics.metrics.shared import roster, shared_kpi_tables

    access, filters, allowed = SAME_AS[role]
    periods = [Q2, Q2.previous()]
    asked: list[Scope] = []

    def parts(s: Scope, p: tuple[Period, ...], grouping: str) -> tuple[pd.DataFrame, ...]:
        asked.append(s)
        return kpi_parts(book, s, p, grouping)

    mine = shared_kpi_tables(book, scope(access), periods, by, parts, roster(book))
    chosen = kpi_tables(book, scope(OPS, **filters), periods, by)
    pd.testing.assert_frame_equal(mine, chosen, rtol=1e-9)
    assert mine.attrs["no_data"] == chosen.attrs["no_data"]
    assert mine.attrs["row_no_data"] == chosen.attrs["row_no_data"]
    if by == "rep":
        assert asked and all(s.access.sees_everything for s in asked)  # it was a cut
        assert names(mine, "rep") <= allowed
        assert names(kpi_tables(book, scope(OPS), periods, "rep"), "rep") > allowed


@pytest.mark.parametrize(
    ("access", "rep", "visible"),
    [
        (OPS, "Cara Diaz", True),
        (EXECUTIVE, "Dan Ghost", True),
        (MANAGER, "Ann Lee", True),
        (MANAGER, "Cara Diaz", False),
        (MANAGER, "Dan Ghost", False),  # not on the roster: in no team
        (REP, "Cara Diaz", True),
        (REP, "Eve Quiet", False),
    ],
)
def test_rep_visible(
    book: duckdb.DuckDBPyConnection, access: Access, rep: str, visible: bool
) -> None:
    assert rep_visible(book, access, rep) is visible
    if not visible:
        with pytest.raises(AccessDenied):
            check_rep(book, access, rep)


def test_commission_statements_per_role(book: duckdb.DuckDBPyConnection) -> None:
    everyone = set(Ledger(book).payable(MAY))
    assert {"Ann Lee", "Cara Diaz"} <= everyone
    assert set(Ledger(book, access=MANAGER).payable(MAY)) == everyone & EAST
    assert set(Ledger(book, access=REP).payable(MAY)) <= {"Cara Diaz"}
    assert set(Ledger(book, access=EXECUTIVE).payable(MAY)) == everyone

    manager = Ledger(book, access=MANAGER)
    assert manager.statement("Ann Lee", MAY) == Ledger(book).statement("Ann Lee", MAY)
    for read in (
        lambda: manager.statement("Cara Diaz", MAY),
        lambda: commission_open_deals(manager, "Cara Diaz", MAY),
        lambda: what_if(manager, "Cara Diaz", MAY),
    ):
        with pytest.raises(AccessDenied):
            read()
    rep = Ledger(book, access=REP)
    with pytest.raises(AccessDenied):
        rep.statement("Ann Lee", MAY)


def test_stored_runs_hand_out_only_visible_statements(book: duckdb.DuckDBPyConnection) -> None:
    run_id = approval.record_run(book, MAY, access=OPS)
    everyone = set(approval.run_statements(book, run_id))
    assert EAST & everyone and WEST & everyone
    assert set(approval.run_statements(book, run_id, access=MANAGER)) == everyone & EAST
    assert set(approval.run_statements(book, run_id, access=REP)) <= {"Cara Diaz"}


# --- actions: only ops change data, and every change is audited -----------------------------


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        (role, action, role == "ops")
        for role in ("ops", "executive", "manager", "rep")
        for action in ("upload", "edit_plans", "edit_settings", "lock_period", "record_run")
    ],
)
def test_only_ops_may_change_data(role: str, action: str, allowed: bool) -> None:
    access = {"ops": OPS, "executive": EXECUTIVE, "manager": MANAGER, "rep": REP}[role]
    assert can(access, action) is allowed
    if not allowed:
        with pytest.raises(AccessDenied, match="only sales operations"):
            require(access, action)


@pytest.mark.parametrize(
    ("role", "page", "opens"),
    [
        ("ops", "data", True), ("ops", "settings", True), ("executive", "data", False),
        ("manager", "settings", False), ("rep", "data", False), ("rep", "commissions", True),
        ("manager", "reps", True),
    ],
)  # fmt: skip
def test_pages_per_role(role: str, page: str, opens: bool) -> None:
    access = {"ops": OPS, "executive": EXECUTIVE, "manager": MANAGER, "rep": REP}[role]
    assert may_open(access, page) is opens


ACTIONS = {
    "save_plan": lambda con, a: save_plan(con, DEFAULT_PLAN, date(2024, 7, 1), access=a),
    "save_splits": lambda con, a: data.save_splits(con, [], access=a),
    "record_run": lambda con, a: approval.record_run(con, MAY, access=a),
    "lock_period": lambda con, a: approval.lock_period(con, MAY, access=a),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
@pytest.mark.parametrize("access", [EXECUTIVE, MANAGER, REP])
def test_actions_are_refused_in_analytics_and_leave_nothing(
    book: duckdb.DuckDBPyConnection, action: str, access: Access
) -> None:
    ensure_schema(book)
    before = book.execute(
        "SELECT (SELECT count(*) FROM audit_log), (SELECT count(*) FROM commission_runs), "
        "(SELECT count(*) FROM commission_locks)"
    ).fetchone()
    with pytest.raises(AccessDenied):
        ACTIONS[action](book, access)
    after = book.execute(
        "SELECT (SELECT count(*) FROM audit_log), (SELECT count(*) FROM commission_runs), "
        "(SELECT count(*) FROM commission_locks)"
    ).fetchone()
    assert after == before


@pytest.mark.parametrize(
    ("action", "logged", "detail_key"),
    [
        ("save_plan", "plan_edit", "version"),
        ("save_splits", "commission_data_edit", "table"),
        ("record_run", "record_run", "run_id"),
        ("lock_period", "lock_period", "run_id"),
    ],
)
def test_ops_actions_are_audited(
    book: duckdb.DuckDBPyConnection, action: str, logged: str, detail_key: str
) -> None:
    ACTIONS[action](book, OPS)
    rows = audit.entries(book, action=logged)
    assert len(rows) == 1
    assert rows.iloc[0]["actor"] == "ops@example.com"
    assert detail_key in rows.iloc[0]["detail"]


def test_lock_names_the_signed_in_person_when_no_approver_is_typed(
    book: duckdb.DuckDBPyConnection,
) -> None:
    approval.lock_period(book, MAY, access=OPS)
    assert book.execute("SELECT locked_by FROM commission_locks").fetchone()[0] == OPS.user
    plan = save_plan(book, DEFAULT_PLAN, date(2024, 7, 1), access=OPS)
    assert plan.saved_by == OPS.user
    logged = audit.entries(book)
    logged = logged[logged["action"] != "upload"]  # the fixture's own imports
    assert logged["action"].tolist() == ["plan_edit", "lock_period"]
    assert set(logged["actor"]) == {OPS.user}
