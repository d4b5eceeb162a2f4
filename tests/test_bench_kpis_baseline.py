"""The KPI benchmark's pandas baseline agrees with the analytics on every point-in-time source.

Why: `benchmarks/bench_kpis.py` computes every KPI again in pandas so its timing is honest,
and a disagreement there is a bug on one side. The benchmark's own data (gen_kpi_db) has
one export and no stage history, so every past period it measures is *rebuilt*; the
snapshot and stage-history paths of the baseline (and the "no data" rules, which that data
never triggers) are checked here on the demo database -- 53 weekly snapshots and the CRM's
stage history, imported through the real importer -- and on copies of it with the
snapshots and history removed (all rebuilt) or the activities, response times, lead links
and amounts removed (every "no data" rule).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from analytics import db
from analytics.metrics.kpis import kpi_tables
from analytics.metrics.performance import open_bases
from analytics.scope import Period, Scope, load_fiscal_start_month
from benchmarks.bench_kpis import (
    PeriodGrid,
    compare_kpi_rows,
    load_frames,
    open_sources,
    overview_periods,
    pandas_kpi_tables,
)


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory: pytest.TempPathFactory, copy_demo: Callable[[Path], Path]) -> Path:
    return copy_demo(tmp_path_factory.mktemp("bench_kpis_demo"))


def _variant(demo_path: Path, name: str, statements: list[str]) -> Path:
    """A copy of the demo database with `statements` applied (a real file on disk)."""
    path = demo_path.with_name(f"{name}.duckdb")
    if not path.exists():
        shutil.copyfile(demo_path, path)
        con = duckdb.connect(str(path))
        try:
            for sql in statements:
                con.execute(sql)
        finally:
            con.close()
    return path


VARIANTS: dict[str, list[str]] = {
    "demo": [],
    # one export only: every past period is rebuilt from created and close dates
    # (the newest export is the deals' own `opportunities` rows: only the older ones go)
    "rebuilt": [
        "DELETE FROM opportunity_snapshot_history",
        "DELETE FROM stage_history_imported",
    ],
    # every "no data" rule of docs/metrics.md at once
    "no data": [
        "DELETE FROM activities",
        "UPDATE leads SET first_response_at = NULL, converted_at = NULL, opportunity_id = NULL",
        "UPDATE opportunities SET amount = NULL WHERE NOT is_closed",
        "UPDATE opportunities SET amount = 0 WHERE is_closed AND NOT is_won "
        "AND close_date BETWEEN DATE '2025-07-01' AND DATE '2025-09-30'",
    ],
}


def _disagreements(path: Path, label: str, by: str) -> tuple[list[str], list[str], set[str]]:
    """(disagreeing figures, open sources per period, columns the analytics left no data)."""
    con = db.connect(path, read_only=True)
    try:
        period = Period.parse(label, load_fiscal_start_month(con))
        periods = list(overview_periods(period))
        analytics = kpi_tables(con, Scope(period), periods, by)
        sources = ["now" if b is None else b.source for b in open_bases(con, periods)]
        frames = load_frames(con)
    finally:
        con.close()
    grid = PeriodGrid(periods)
    assert [s for s, _ in open_sources(frames, grid)] == sources
    baseline = pandas_kpi_tables(frames, grid, by)
    key = "period_group"
    left = analytics.assign(**{key: analytics["period"] + "|" + analytics[by].astype(str)})
    right = baseline.assign(**{key: baseline["period"] + "|" + baseline[by].astype(str)})
    bad = [
        f"{a.figure}: {a.disagree} of {a.compared}, first {a.example}"
        for a in compare_kpi_rows("kpis", left, right, key)
        if not a.ok
    ]
    no_data = set().union(*analytics.attrs["no_data"].values())
    return bad, sources, no_data


# variant, period, the open sources its periods must cover (so each path is exercised)
CASES = [
    ("demo", "2025-Q3", {"stage history"}),
    ("demo", "2026-Q4", {"stage history", "snapshot", "now"}),
    ("demo", "2026-11", {"snapshot", "now"}),
    ("rebuilt", "2025-Q3", {"rebuilt"}),
    ("rebuilt", "2026-Q4", {"rebuilt", "now"}),
    ("no data", "2025-Q3", {"stage history"}),
    ("no data", "2026-Q4", {"stage history", "snapshot", "now"}),
]


@pytest.mark.parametrize("by", ["company", "rep"])
@pytest.mark.parametrize(("variant", "label", "expected_sources"), CASES)
def test_pandas_baseline_agrees_with_the_analytics(
    demo_path: Path, variant: str, label: str, expected_sources: set[str], by: str
) -> None:
    path = _variant(demo_path, variant.replace(" ", "_"), VARIANTS[variant])
    bad, sources, no_data = _disagreements(path, label, by)
    assert expected_sources <= set(sources), sources
    if variant == "no data":
        assert {"selling_time_share", "lead_response_median_minutes", "lead_to_opp_rate",
                "open_pipeline"} <= no_data  # fmt: skip
        if label == "2025-Q3":
            assert "win_rate_value" in no_data
    assert bad == []


def test_rebuilt_quarter_leaves_bookings_empty_for_a_rep_with_nothing_then(
    demo_path: Path,
) -> None:
    """A rep with no deal closed in a rebuilt quarter and none open at its end has empty
    bookings on both sides, even when the rep has deals open now (the has-deals rule reads
    the deals open at the period's end, not today's)."""
    path = _variant(demo_path, "rebuilt", VARIANTS["rebuilt"])
    con = db.connect(path, read_only=True)
    try:
        period = Period.parse("2024-Q2", load_fiscal_start_month(con))
        frames = load_frames(con)
    finally:
        con.close()
    table = pandas_kpi_tables(frames, PeriodGrid([period]), "rep")
    open_now = set(frames.opportunities.loc[~frames.opportunities["is_closed"], "owner"])
    empty = table[table["bookings"].isna() & table["rep"].isin(open_now)]
    assert not empty.empty
    assert (empty["open_deals"] == 0).all() and (empty["won_deals"] == 0).all()
