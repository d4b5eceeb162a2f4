"""The demo: deterministic files in the documented formats, loaded whole by the real importer,
and the stories every page relies on (trajectories, slips, stalls, seasonality) really there.

The full demo takes tens of seconds to build, so these tests read the one build of a test run:
the shared demo template (tests/conftest.py `demo_template`, `demo_summary`).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from analytics import db
from analytics.cli import build_parser
from analytics.demo import (
    DEFAULT_ANCHOR,
    DemoError,
    build_demo,
    default_demo_db,
    write_demo_files,
)
from analytics.demo.files import HISTORY_HEADER, OPPORTUNITY_HEADER, TEMPLATE_COLUMNS

ANCHOR = DEFAULT_ANCHOR
OPEN_STAGES = ("Discovery", "Qualified", "Demo", "Trial", "Final Decision")
ACTIVITY_TYPES = {"call", "email", "meeting", "demo", "admin", "training", "internal meeting"}
LEAD_EVENT_TYPES = {
    "pricing_page_visit",
    "email_open",
    "email_click",
    "inaccurate_company_details",
    "fits_buyer_persona",
    "form_submit",
    "webinar_attended",
}


@pytest.fixture(scope="module")
def demo(
    tmp_path_factory: pytest.TempPathFactory,
    demo_summary: dict,
    copy_demo: Callable[[Path], Path],
) -> dict:
    """The summary `build_demo(seed=42, anchor=ANCHOR)` returned: the build of the shared
    demo template (tests/conftest.py), the same call this module made itself before, with
    "db_path" a private copy of the database it built (the files stay the template's)."""
    assert (demo_summary["seed"], demo_summary["anchor"]) == (42, ANCHOR.isoformat())
    return {**demo_summary, "db_path": str(copy_demo(tmp_path_factory.mktemp("demo")))}


@pytest.fixture(scope="module")
def dcon(demo: dict):
    con = duckdb.connect(demo["db_path"], read_only=True)
    yield con
    con.close()


def _scalar(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None):
    return con.execute(sql, params or []).fetchone()[0]


def _quarter_start(d: date, back: int) -> date:
    """First day of the quarter `back` quarters before the quarter of `d`."""
    q = (d.year * 4 + (d.month - 1) // 3) - back
    return date(q // 4, q % 4 * 3 + 1, 1)


# -- files ---------------------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes(demo: dict, tmp_path: Path) -> None:
    again = write_demo_files(tmp_path, seed=42, anchor=ANCHOR)
    first = sorted(Path(p) for p in demo["files"])
    assert [p.name for p in first] == sorted(f.path.name for f in again)
    for p in first:
        assert (tmp_path / p.name).read_bytes() == p.read_bytes(), p.name


def test_another_seed_and_anchor_change_the_files(demo: dict, tmp_path: Path) -> None:
    other_anchor = date(2026, 3, 4)  # a Wednesday: snapshots are weekly back from any day
    files = write_demo_files(tmp_path, seed=7, anchor=other_anchor)
    opp = [f for f in files if f.kind == "opportunities"]
    assert len(opp) == 53
    assert opp[-1].path.name == "opportunities_2026-03-04.csv"
    assert opp[0].as_of == other_anchor - timedelta(weeks=52)
    out = Path(demo["out_dir"])
    assert (tmp_path / "reps.csv").read_bytes() != (out / "reps.csv").read_bytes()


def test_files_have_the_documented_headers(demo: dict) -> None:
    out = Path(demo["out_dir"])
    snapshots = sorted(out.glob("opportunities_*.csv"))
    assert len(snapshots) >= 53
    assert all(re.fullmatch(r"opportunities_\d{4}-\d{2}-\d{2}\.csv", p.name) for p in snapshots)
    for p in snapshots[:1] + snapshots[-1:]:
        with p.open(encoding="utf-8", newline="") as fh:
            assert tuple(next(csv.reader(fh))) == OPPORTUNITY_HEADER
    with (out / "opportunity_history.csv").open(encoding="utf-8", newline="") as fh:
        assert tuple(next(csv.reader(fh))) == HISTORY_HEADER
    for kind, columns in TEMPLATE_COLUMNS.items():
        with (out / f"{kind}.csv").open(encoding="utf-8", newline="") as fh:
            assert tuple(next(csv.reader(fh))) == columns, kind


def test_opportunity_export_looks_like_a_salesforce_report(demo: dict) -> None:
    text = (Path(demo["out_dir"]) / f"opportunities_{ANCHOR.isoformat()}.csv").read_text("utf-8")
    rows = list(csv.reader(text.splitlines()[1:20]))
    amounts = [r[5] for r in rows if r[5]]
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", a) for a in amounts)
    assert any("," in a for a in amounts)
    assert all(re.fullmatch(r"\d{1,3}%", r[7]) for r in rows)
    assert all(re.fullmatch(r"\d{2}/\d{2}/\d{4}", r[9]) for r in rows)
    assert all(r[6] in ("USD", "EUR") for r in rows)
    assert '"Grand Totals (' in text and "salesforce.com" in text.splitlines()[-1]
    history = (Path(demo["out_dir"]) / "opportunity_history.csv").read_text("utf-8").splitlines()
    assert re.search(r",\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z,", history[1])


# -- the import ------------------------------------------------------------------------------


def test_every_file_loads_whole(demo: dict, dcon: duckdb.DuckDBPyConnection) -> None:
    assert _scalar(dcon, "SELECT count(*) FROM imports") == len(demo["files"])
    assert _scalar(dcon, "SELECT sum(rows_rejected) FROM imports") == 0
    assert _scalar(dcon, "SELECT count(*) FROM quarantine") == 0
    assert demo["rows_imported"] == demo["rows_written"]
    formats = dict(dcon.execute("SELECT DISTINCT kind, source_format FROM imports").fetchall())
    assert formats["opportunities"] == "salesforce_report"
    assert formats["stage_history"] == "salesforce_history"


def test_roster(dcon: duckdb.DuckDBPyConnection) -> None:
    reps = _scalar(dcon, "SELECT count(*) FROM reps WHERE role <> 'manager'")
    assert reps >= 40
    assert _scalar(dcon, "SELECT count(DISTINCT team) FROM reps WHERE team IS NOT NULL") >= 4
    assert _scalar(dcon, "SELECT count(DISTINCT region) FROM reps") == 2
    roles = dict(dcon.execute("SELECT role, count(*) FROM reps GROUP BY role").fetchall())
    assert {"AE", "SDR", "CSM", "manager"} <= set(roles)
    assert roles["AE"] > reps / 2
    levels = {r[0] for r in dcon.execute("SELECT DISTINCT level FROM reps").fetchall()}
    assert {"junior", "senior"} <= levels
    # every rep but the top of each region has a manager who is in the roster
    orphans = _scalar(
        dcon,
        "SELECT count(*) FROM reps r WHERE manager IS NOT NULL "
        "AND manager NOT IN (SELECT rep FROM reps)",
    )
    assert orphans == 0
    assert _scalar(dcon, "SELECT count(*) FROM reps WHERE NOT active") >= 1
    # every deal owner is on the roster
    assert (
        _scalar(
            dcon, "SELECT count(*) FROM opportunities WHERE owner NOT IN (SELECT rep FROM reps)"
        )
        == 0
    )


def test_two_years_of_opportunities(dcon: duckdb.DuckDBPyConnection) -> None:
    first, last = dcon.execute(
        "SELECT min(created_date), max(created_date) FROM opportunities"
    ).fetchone()
    assert first <= ANCHOR - timedelta(days=700)
    assert last >= ANCHOR - timedelta(days=7)
    assert _scalar(dcon, "SELECT count(*) FROM opportunities WHERE created_date > ?", [ANCHOR]) == 0
    closed = _scalar(dcon, "SELECT min(close_date) FROM opportunities WHERE is_closed")
    assert closed <= ANCHOR - timedelta(days=700)
    # the current state is the latest export
    assert _scalar(dcon, "SELECT count(DISTINCT snapshot_date) FROM opportunities") == 1
    assert _scalar(dcon, "SELECT max(snapshot_date) FROM opportunities") == ANCHOR


def test_amounts_and_currencies(dcon: duckdb.DuckDBPyConnection) -> None:
    lo, hi = dcon.execute(
        "SELECT quantile_cont(amount, 0.05), quantile_cont(amount, 0.95) FROM opportunities "
        "WHERE is_won"
    ).fetchone()
    assert 1_000 <= lo <= 4_000 and 20_000 <= hi <= 60_000
    currencies = dict(
        dcon.execute("SELECT currency, count(*) FROM opportunities GROUP BY 1").fetchall()
    )
    assert set(currencies) == {"USD", "EUR"}
    assert 0 < currencies["EUR"] < currencies["USD"] / 10


def test_weekly_snapshots(dcon: duckdb.DuckDBPyConnection) -> None:
    dates = [
        r[0]
        for r in dcon.execute(
            "SELECT DISTINCT snapshot_date FROM opportunity_snapshots ORDER BY 1"
        ).fetchall()
    ]
    assert len(dates) >= 52
    assert dates[-1] == ANCHOR
    assert all(b - a == timedelta(weeks=1) for a, b in zip(dates, dates[1:], strict=False))
    # each snapshot knows every deal of the one before (deals are never deleted), plus new ones
    counts = [
        r[0]
        for r in dcon.execute(
            "SELECT count(*) FROM opportunity_snapshots GROUP BY snapshot_date ORDER BY 1"
        ).fetchall()
    ]
    assert counts == sorted(counts) and counts[0] < counts[-1]
    # nothing in a snapshot was created after it was taken
    assert (
        _scalar(
            dcon, "SELECT count(*) FROM opportunity_snapshots WHERE created_date > snapshot_date"
        )
        == 0
    )
    # the as-of date of each import is the date in its file name
    mismatched = _scalar(
        dcon,
        "SELECT count(*) FROM imports WHERE kind = 'opportunities' "
        "AND file_name <> 'opportunities_' || strftime(as_of_date, '%Y-%m-%d') || '.csv'",
    )
    assert mismatched == 0


def test_stage_history(dcon: duckdb.DuckDBPyConnection) -> None:
    assert _scalar(dcon, "SELECT count(*) FROM opportunity_stage_history") > 10_000
    # lost deals dropped out at every open stage
    lost_at = {
        r[0]
        for r in dcon.execute(
            """
            WITH h AS (
                SELECT opportunity_id, stage,
                       lead(stage) OVER (PARTITION BY opportunity_id ORDER BY entered_at) AS nxt
                FROM opportunity_stage_history
            )
            SELECT DISTINCT stage FROM h WHERE nxt = 'Closed Lost'
            """
        ).fetchall()
    }
    assert lost_at == set(OPEN_STAGES)
    # some deals stepped back a stage
    order = ", ".join(f"'{s}'" for s in OPEN_STAGES)
    backward = _scalar(
        dcon,
        f"""
        WITH h AS (
            SELECT opportunity_id, list_position([{order}], stage) AS pos,
                   lag(list_position([{order}], stage))
                       OVER (PARTITION BY opportunity_id ORDER BY entered_at) AS prev
            FROM opportunity_stage_history
        )
        SELECT count(DISTINCT opportunity_id) FROM h WHERE pos < prev
        """,
    )
    assert backward >= 20
    # history agrees with the final state: the last stage entered is the current stage
    disagree = _scalar(
        dcon,
        """
        SELECT count(*) FROM opportunities o
        JOIN (SELECT opportunity_id, arg_max(stage, entered_at) AS last_stage
              FROM opportunity_stage_history GROUP BY 1) h USING (opportunity_id)
        WHERE h.last_stage <> o.stage
        """,
    )
    assert disagree == 0


def test_activities(dcon: duckdb.DuckDBPyConnection) -> None:
    types = {r[0] for r in dcon.execute("SELECT DISTINCT activity_type FROM activities").fetchall()}
    assert types == ACTIVITY_TYPES
    assert _scalar(dcon, "SELECT count(*) FROM activities") > 50_000
    last = _scalar(dcon, "SELECT max(started_at) FROM activities")
    assert last.date() <= ANCHOR
    # most closed deals had at least five touches (the domain's follow-up rule of thumb)
    share = _scalar(
        dcon,
        """
        SELECT avg(CASE WHEN n >= 5 THEN 1 ELSE 0 END) FROM (
            SELECT o.opportunity_id, count(a.activity_id) AS n
            FROM opportunities o LEFT JOIN activities a USING (opportunity_id)
            WHERE o.is_won GROUP BY 1)
        """,
    )
    assert share > 0.6


def test_leads_and_events(dcon: duckdb.DuckDBPyConnection) -> None:
    assert _scalar(dcon, "SELECT count(*) FROM leads") > 1_000
    events = {r[0] for r in dcon.execute("SELECT DISTINCT event_type FROM lead_events").fetchall()}
    assert events >= LEAD_EVENT_TYPES
    without = _scalar(
        dcon,
        "SELECT count(*) FROM leads WHERE status = 'Converted' "
        "AND lead_id NOT IN (SELECT lead_id FROM lead_events)",
    )
    assert without == 0
    # converted leads point at real opportunities
    dangling = _scalar(
        dcon,
        "SELECT count(*) FROM leads WHERE opportunity_id IS NOT NULL "
        "AND opportunity_id NOT IN (SELECT opportunity_id FROM opportunities)",
    )
    assert dangling == 0
    fastest, slowest = dcon.execute(
        "SELECT min(first_response_at - created_at), max(first_response_at - created_at) FROM leads"
    ).fetchone()
    assert fastest < timedelta(minutes=15)
    assert slowest > timedelta(days=2)


def test_quotas_for_every_rep_and_month(dcon: duckdb.DuckDBPyConnection) -> None:
    missing = _scalar(
        dcon,
        """
        WITH months AS (
            SELECT CAST(m AS DATE) AS m FROM range(
                (SELECT CAST(min(period_start) AS TIMESTAMP) FROM quotas),
                CAST(DATE_TRUNC('month', ?::DATE) + INTERVAL 1 MONTH AS TIMESTAMP),
                INTERVAL 1 MONTH) t(m)
        ),
        carriers AS (SELECT rep, hire_date FROM reps WHERE role IN ('AE', 'CSM') AND active)
        SELECT count(*) FROM carriers c, months
        WHERE months.m >= DATE_TRUNC('month', c.hire_date)
          AND NOT EXISTS (
              SELECT 1 FROM quotas q WHERE q.owner = c.rep AND q.period_start = months.m)
        """,
        [ANCHOR],
    )
    assert missing == 0
    levels = dict(
        dcon.execute(
            "SELECT r.level, median(q.amount) FROM quotas q JOIN reps r ON r.rep = q.owner "
            "WHERE r.role = 'AE' GROUP BY 1"
        ).fetchall()
    )
    assert levels == {"junior": 10_000, "senior": 25_000}


def test_forecast_submissions(dcon: duckdb.DuckDBPyConnection) -> None:
    cats = {
        r[0] for r in dcon.execute("SELECT DISTINCT category FROM forecast_submissions").fetchall()
    }
    assert cats == {"commit", "best case", "pipeline"}
    # two calls a month (start and mid-month), each with all three categories
    shape = dcon.execute(
        """
        SELECT min(calls), max(calls), min(cats), max(cats) FROM (
            SELECT owner, period_start, count(DISTINCT submitted_at) AS calls,
                   count(*) / count(DISTINCT submitted_at) AS cats
            FROM forecast_submissions
            WHERE period_start < DATE_TRUNC('month', ?::DATE)
              AND owner IN (SELECT rep FROM reps WHERE active)
            GROUP BY ALL HAVING min(submitted_at) < period_start + 5)
        """,
        [ANCHOR],
    ).fetchone()
    assert shape == (2, 2, 3, 3)
    ordered = _scalar(
        dcon,
        """
        SELECT count(*) FROM (
            SELECT owner, submitted_at, period_start,
                   max(amount) FILTER (WHERE category = 'commit') AS c,
                   max(amount) FILTER (WHERE category = 'best case') AS b,
                   max(amount) FILTER (WHERE category = 'pipeline') AS p
            FROM forecast_submissions GROUP BY ALL)
        WHERE NOT (c <= b AND b <= p)
        """,
    )
    assert ordered == 0


# -- the designed stories ------------------------------------------------------------------------


def _won_by_quarter(con: duckdb.DuckDBPyConnection, rep: str) -> list[float]:
    """Won amount of the last three complete quarters before the anchor's, oldest first."""
    out = []
    for back in (3, 2, 1):
        lo, hi = _quarter_start(ANCHOR, back), _quarter_start(ANCHOR, back - 1)
        out.append(
            float(
                _scalar(
                    con,
                    "SELECT coalesce(sum(amount), 0) FROM opportunities WHERE is_won "
                    "AND owner = ? AND close_date >= ? AND close_date < ?",
                    [rep, lo, hi],
                )
            )
        )
    return out


def test_designed_trajectories(demo: dict, dcon: duckdb.DuckDBPyConnection) -> None:
    traj = demo["trajectories"]
    assert set(traj) == {"rising", "falling", "improving", "declining"}
    for kind, reps in traj.items():
        for rep in reps:
            won = _won_by_quarter(dcon, rep)
            if kind in ("rising", "improving"):
                assert won[0] < won[1] < won[2], (kind, rep, won)
            else:
                assert won[0] > won[1] > won[2], (kind, rep, won)
    # strong reps sit above the AE median attainment last quarter, weak ones below it
    lo, hi = _quarter_start(ANCHOR, 1), _quarter_start(ANCHOR, 0)
    attainment = dict(
        dcon.execute(
            """
            SELECT r.rep, coalesce(w.won, 0) / q.quota FROM reps r
            JOIN (SELECT owner, sum(amount) AS quota FROM quotas
                  WHERE period_start >= ? AND period_start < ? GROUP BY 1) q ON q.owner = r.rep
            LEFT JOIN (SELECT owner, sum(amount) AS won FROM opportunities
                       WHERE is_won AND close_date >= ? AND close_date < ? GROUP BY 1) w
                   ON w.owner = r.rep
            WHERE r.role = 'AE'
            """,
            [lo, hi, lo, hi],
        ).fetchall()
    )
    median = sorted(attainment.values())[len(attainment) // 2]
    for rep in traj["rising"] + traj["falling"]:
        assert attainment[rep] > median, rep
    for rep in traj["improving"] + traj["declining"]:
        assert attainment[rep] < median, rep


def test_deals_slip(dcon: duckdb.DuckDBPyConnection) -> None:
    """Some open deals had their close date pushed out in two or more weekly exports."""
    slipped = _scalar(
        dcon,
        """
        WITH s AS (
            SELECT opportunity_id, close_date,
                   lag(close_date) OVER (PARTITION BY opportunity_id ORDER BY snapshot_date) AS prev
            FROM opportunity_snapshots WHERE NOT is_closed
        )
        SELECT count(*) FROM (
            SELECT opportunity_id FROM s GROUP BY 1
            HAVING count(*) FILTER (WHERE close_date > prev) >= 2)
        """,
    )
    assert slipped >= 20


def test_deals_stall(dcon: duckdb.DuckDBPyConnection) -> None:
    """Open deals with no activity for 30+ days that have sat in their stage for 30+ days."""
    stalled = _scalar(
        dcon,
        """
        SELECT count(*) FROM opportunities o
        JOIN (SELECT opportunity_id, max(entered_at) AS entered
              FROM opportunity_stage_history GROUP BY 1) h USING (opportunity_id)
        LEFT JOIN (SELECT opportunity_id, max(started_at) AS last_touch
                   FROM activities GROUP BY 1) a USING (opportunity_id)
        WHERE NOT o.is_closed
          AND h.entered < ?::DATE - INTERVAL 30 DAY
          AND coalesce(a.last_touch, h.entered) < ?::DATE - INTERVAL 30 DAY
        """,
        [ANCHOR, ANCHOR],
    )
    assert stalled >= 10
    # and a few open deals still carry a close date already in the past
    overdue = _scalar(
        dcon, "SELECT count(*) FROM opportunities WHERE NOT is_closed AND close_date < ?", [ANCHOR]
    )
    assert overdue >= 5


def test_seasonality(dcon: duckdb.DuckDBPyConnection) -> None:
    """Q4 sells the most (December above all), summer (July, August) well below average."""
    by_month = dict(
        dcon.execute(
            "SELECT month(close_date), sum(amount) FROM opportunities "
            "WHERE is_won AND close_date < DATE_TRUNC('month', ?::DATE) GROUP BY 1",
            [ANCHOR],
        ).fetchall()
    )
    assert len(by_month) == 12
    assert max(by_month, key=by_month.get) == 12
    average = sum(by_month.values()) / 12
    assert (by_month[7] + by_month[8]) / 2 < average * 85 / 100
    quarters = [sum(by_month[m] for m in range(q * 3 + 1, q * 3 + 4)) for q in range(4)]
    assert max(quarters) == quarters[3]


# -- command line and safety ------------------------------------------------------------------


def test_cli_registers_demo() -> None:
    args = build_parser().parse_args(
        ["demo", "--db", "x.duckdb", "--seed", "3", "--anchor", "2026-01-05"]
    )
    assert args.seed == 3 and args.anchor == date(2026, 1, 5) and args.db == Path("x.duckdb")
    assert callable(args.func)
    default = build_parser().parse_args(["demo"])
    assert default.seed == 42 and default.anchor == ANCHOR and default.db == default_demo_db()


def test_refuses_a_database_that_already_holds_imports(demo: dict, tmp_path: Path) -> None:
    with pytest.raises(DemoError, match="--replace"):
        build_demo(demo["db_path"], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_the_demo_database_is_marked_and_a_rebuild_is_allowed_only_there(
    demo: dict, dcon: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """The mark (settings key demo_database) makes the sidebar say "Demo data", and is
    what lets the builder in again; an unmarked database is refused even with --replace."""
    from analytics.settings import is_demo_database

    assert is_demo_database(dcon)
    plain = tmp_path / "team.duckdb"
    db.connect(plain).close()
    with pytest.raises(DemoError, match="not a demo database"):
        build_demo(plain, tmp_path / "out", replace=True)
