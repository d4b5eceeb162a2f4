"""A database without quotas says so, in the same words, wherever a quota figure would be.

The quadrant fixture (tests/test_quadrant.py) imported without its quotas file: five reps,
deals in 2024-Q1/Q2, no quota anywhere. Quota attainment, Reps at quota and coverage must
read "no data" with the reason "no quotas in the data" -- never a dash, "0 of 0", an empty
chart or "no figure to compare" -- on the Overview, the Reps drill-down, Commissions and
in the CLI scorecard (issue 13, "Still open").
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from apptest import open_page
from readable import build_sparse_db
from test_quadrant import load_fixture

from analytics import db, drilldown
from analytics.commissions.team import team_table
from analytics.markup import plain
from analytics.metrics.availability import NO_ACTIVITY, NO_QUOTAS
from analytics.scope import Period, Scope

ROOT = Path(__file__).resolve().parent.parent
QUERY = {"kind": "Quarter", "period": "2024-Q2"}


@pytest.fixture
def no_quotas_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "noquotas.duckdb"
    con = db.connect(path)
    try:
        load_fixture(con, tmp_path, quotas=False)
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def _cards(at: object) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.help or "") for m in at.metric}  # type: ignore[attr-defined]


def _captions(at: object) -> str:
    return " | ".join(plain(c.value) for c in at.caption)  # type: ignore[attr-defined]


def test_overview_quota_cards_say_no_quotas(no_quotas_db: Path) -> None:
    at = open_page(None, QUERY)
    assert not at.exception
    cards = _cards(at)
    for label in ("Quota attainment", "Reps at quota", "Coverage"):
        value, help_text = cards[label]
        assert value == "no data", (label, value)
        assert f"No data: {NO_QUOTAS}." in help_text
    assert f"No data: {NO_QUOTAS}" in _captions(at)


def test_rep_drilldown_says_no_quotas(no_quotas_db: Path) -> None:
    at = open_page("pages/reps.py", QUERY | {"focus": "Ann Lee"})
    assert not at.exception, [e.value for e in at.exception]
    value, help_text = _cards(at)["Rep quota attainment"]
    assert value == "no data" and help_text == f"No data: {NO_QUOTAS}."
    captions = _captions(at)
    # the KPI history does not draw an empty quota chart: it names the figure and why
    assert f"No data, so not plotted: quota attainment ({NO_QUOTAS})" in captions
    assert "no figure to compare" not in captions
    # no activities at all: the activity mix is no data, not "no activity logged" in Q2
    assert f"No data: {NO_ACTIVITY}." in captions
    assert "No activity logged" not in captions
    chart = next(c for c in at.get("plotly_chart") if "history" in c.proto.id)
    assert "quota attainment" not in chart.proto.spec


def test_drilldown_history_carries_the_reasons(no_quotas_db: Path) -> None:
    con = db.connect(no_quotas_db)
    try:
        history = drilldown.kpi_history(con, Scope(Period.parse("2024-Q2")), "Ann Lee", 3)
    finally:
        con.close()
    reasons = history.attrs["no_data"]
    assert set(reasons) == set(history["period"])
    assert all(r["quota_attainment"] == NO_QUOTAS for r in reasons.values())
    empty = drilldown.no_data_everywhere(history)
    assert empty["quota_attainment"] == NO_QUOTAS
    assert "bookings" not in empty and "win_rate" not in empty


def test_commissions_reps_at_quota_is_no_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sparse one-export database: no quotas table, and no roster level the default
    plan could give a quota by. "0 of 0" would read as a result."""
    path = build_sparse_db(tmp_path / "sparse.duckdb", tmp_path / "work")
    con = db.connect(path)
    try:
        table = team_table(con, Scope(Period.parse("2025-02")))
    finally:
        con.close()
    assert not table.empty and table["quota"].isna().all()
    assert table.attrs["no_data"] == {"reps_at_quota": f"{NO_QUOTAS} and the plan sets none"}
    monkeypatch.setenv("SALES_DB", str(path))
    at = open_page("pages/commissions.py", {"period": "2025-02"})
    assert not at.exception
    value, help_text = _cards(at)["Reps at commission quota"]
    assert value == "no data"  # not "0 of 0"
    assert f"No data: {NO_QUOTAS} and the plan sets none." in help_text


def test_commissions_reps_at_quota_counts_when_the_plan_has_quotas(no_quotas_db: Path) -> None:
    """No quotas table, but the plan pays on quotas by level: a real count, no reason."""
    con = db.connect(no_quotas_db)
    try:
        table = team_table(con, Scope(Period.parse("2024-Q2")))
    finally:
        con.close()
    assert table["quota"].notna().any() and table.attrs["no_data"] == {}
    at = open_page("pages/commissions.py", QUERY)
    value, _ = _cards(at)["Reps at commission quota"]
    assert value.endswith(f"of {int(table['quota'].notna().sum())}")


def test_cli_scorecard_names_the_empty_quota_columns(no_quotas_db: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "analytics", "report", "scorecard", "--db", str(no_quotas_db),
         "--period", "2024-Q2"],
        capture_output=True, text=True, cwd=ROOT, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    notes = [line for line in done.stderr.splitlines() if line.startswith("note: ")]
    assert (
        f"note: no data: quota, quota_attainment, at_or_above_quota, pipeline_coverage: {NO_QUOTAS}"
    ) in notes
    assert "no figure to compare" not in done.stdout + done.stderr
