"""`python -m analytics report scorecard`: the pages' figures, headless, in CSV and JSON.

The command runs in a subprocess (as a scheduled job would) over the quadrant fixture
(tests/test_quadrant.py); every value must equal what `kpi_table` and `quadrant` return
for the same scope, and a bad period must end with exit code 2 and no traceback.
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from test_quadrant import EXPECTED, Q2, load_fixture

from analytics import db
from analytics.cli import build_parser
from analytics.cli.common import write
from analytics.cli.report import REPORTS
from analytics.exports import KPI_UNITS
from analytics.metrics.kpis import KPI_COLUMNS, kpi_table
from analytics.quadrant import quadrant
from analytics.scope import Period, Scope, save_fiscal_start_month

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = [
    "rep", "bookings", "won_deals", "lost_deals", "win_rate", "avg_deal_size",
    "median_cycle_days", "quota_attainment", "quadrant",
]  # fmt: skip


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The quadrant fixture in a database file, closed so subprocesses can open it."""
    folder = tmp_path_factory.mktemp("report")
    path = folder / "report.duckdb"
    con = db.connect(path)
    try:
        load_fixture(con, folder)
    finally:
        con.close()
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "analytics", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


OPEN_AS_OF = {"2024-Q2": "2024-06-30", "2024-05": "2024-05-31"}


def expected_table(path: Path, scope: Scope, by: str) -> pd.DataFrame:
    con = db.connect(path, read_only=True)
    try:
        table = kpi_table(con, scope, by)
        # a period over by the data's date (15 July 2024): open figures as of its last
        # day, rebuilt from created/close dates (one export, no stage history)
        table["open_as_of"] = OPEN_AS_OF[scope.period.label]
        table["open_source"] = "rebuilt"
        table["open_snapshot_date"] = None
        if by == "rep":
            q = quadrant(con, scope)[["rep", "quadrant", "low_sample", "note"]]
            table = table.merge(q.rename(columns={"note": "quadrant_note"}), on="rep", how="left")
    finally:
        con.close()
    return table


def same(a: object, b: object) -> bool:
    """Equal figures, where 'missing' (NaN, None, empty CSV cell) equals 'missing'."""
    missing_a = a is None or (isinstance(a, float) and math.isnan(a))
    missing_b = b is None or (isinstance(b, float) and math.isnan(b))
    if missing_a or missing_b:
        return missing_a and missing_b
    if isinstance(a, bool | str) or isinstance(b, bool | str):
        return str(a).lower() == str(b).lower()
    return float(a) == pytest.approx(float(b), rel=1e-12, abs=1e-9)  # type: ignore[arg-type]


def assert_same_rows(got: list[dict], want: pd.DataFrame, key: str) -> None:
    want_rows = {r[key]: r for r in want.to_dict("records")}
    assert sorted(str(r[key]) for r in got) == sorted(str(k) for k in want_rows)
    for row in got:
        expected = want_rows[row[key]]
        for column, value in row.items():
            assert same(value, expected[column]), (row[key], column, value, expected[column])


def test_scorecard_csv_by_rep_equals_kpi_table(book: Path) -> None:
    done = run_cli("report", "scorecard", "--db", str(book), "--period", "2024-Q2",
                   "--by", "rep", "--format", "csv")  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = pd.read_csv(io.StringIO(done.stdout), keep_default_na=True)
    for column in REQUIRED:
        assert column in got.columns
    assert list(got.columns[: 1 + len(KPI_COLUMNS)]) == ["rep", *KPI_COLUMNS]
    rows = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in got.to_dict("records")]
    assert_same_rows(rows, expected_table(book, Q2, "rep"), "rep")
    by_rep = {r["rep"]: r for r in rows}
    assert by_rep["Ann Lee"]["bookings"] == 15000
    assert by_rep["Ann Lee"]["quadrant"] == "rising star"
    assert by_rep["Bob Stone"]["win_rate"] == 0.75
    for rep, (_, _, where, low, _) in EXPECTED.items():
        assert by_rep[rep]["quadrant"] == where
        assert bool(by_rep[rep]["low_sample"]) is low
    assert by_rep["Max Boss"]["quadrant"] is None  # sells nothing: no quadrant, still listed


def test_scorecard_json_by_rep_equals_kpi_table(book: Path) -> None:
    done = run_cli("report", "scorecard", "--db", str(book), "--period", "2024-Q2",
                   "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert isinstance(rows, list) and rows
    assert all(set(REQUIRED) <= set(r) for r in rows)
    assert_same_rows(rows, expected_table(book, Q2, "rep"), "rep")
    eve = next(r for r in rows if r["rep"] == "Eve Moss")
    assert eve["quota_attainment"] == 3.0
    assert eve["low_sample"] is True
    assert (eve["open_as_of"], eve["open_source"]) == ("2024-06-30", "rebuilt")
    max_boss = next(r for r in rows if r["rep"] == "Max Boss")
    assert max_boss["win_rate"] is None  # no closed deal: null, never 0


@pytest.mark.parametrize("by", ["team", "region"])
def test_scorecard_by_team_and_region(book: Path, by: str) -> None:
    done = run_cli("report", "scorecard", "--db", str(book), "--period", "2024-Q2",
                   "--by", by, "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert "quadrant" not in rows[0]  # a quadrant is about reps
    assert list(rows[0])[0] == by
    assert_same_rows(rows, expected_table(book, Q2, by), by)


def test_scorecard_filters_and_month_period(book: Path) -> None:
    done = run_cli("report", "scorecard", "--db", str(book), "--period", "2024-05",
                   "--team", "West", "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {r["rep"] for r in rows} == {"Cara Diaz", "Dan Ghost", "Eve Moss"}
    scope = Scope(Period.parse("2024-05"), team="West")
    assert_same_rows(rows, expected_table(book, scope, "rep"), "rep")
    assert next(r for r in rows if r["rep"] == "Eve Moss")["bookings"] == 30000


def test_fiscal_period_uses_the_saved_fiscal_start(tmp_path: Path) -> None:
    path = tmp_path / "fiscal.duckdb"
    con = db.connect(path)
    try:
        load_fixture(con, tmp_path)
        save_fiscal_start_month(con, 4)  # FY2025-Q1 = April-June 2024 = 2024-Q2
    finally:
        con.close()
    fiscal = run_cli("report", "scorecard", "--db", str(path), "--period", "FY2025-Q1")
    calendar = run_cli("report", "scorecard", "--db", str(path), "--period", "2024-Q2")
    assert fiscal.returncode == 0, fiscal.stderr
    assert fiscal.stdout == calendar.stdout
    year = run_cli("report", "scorecard", "--db", str(path), "--period", "2024", "--format", "json")
    assert year.returncode == 0, year.stderr
    ann = next(r for r in json.loads(year.stdout) if r["rep"] == "Ann Lee")
    assert ann["bookings"] == 23000  # 8,000 in Q1 + 15,000 in Q2


@pytest.mark.parametrize("period", ["2024-Q5", "2024-13", "next quarter", "FY-Q1", ""])
def test_bad_period_exits_2_without_traceback(book: Path, period: str) -> None:
    done = run_cli("report", "scorecard", "--db", str(book), "--period", period)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr + done.stdout
    assert "error:" in done.stderr
    assert "is not a period" in done.stderr or "not 1-12" in done.stderr
    assert done.stdout == ""


def test_missing_database_exits_2_and_creates_nothing(tmp_path: Path) -> None:
    target = tmp_path / "nope.duckdb"
    done = run_cli("report", "scorecard", "--db", str(target), "--period", "2024-Q2")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "no database" in done.stderr
    assert not target.exists()


def test_bad_options_exit_2_without_traceback(book: Path) -> None:
    for args in (
        ["report", "scorecard", "--db", str(book), "--period", "2024-Q2", "--by", "planet"],
        ["report", "scorecard", "--db", str(book), "--period", "2024-Q2", "--format", "xml"],
        ["report", "scorecard", "--db", str(book)],
        ["report", "nonsense"],
    ):
        done = run_cli(*args)
        assert done.returncode == 2, args
        assert "Traceback" not in done.stderr, args


def test_reports_are_a_registry() -> None:
    """Later reports (funnel, pipeline, ...) are one entry each; the CLI picks them up."""
    assert "scorecard" in REPORTS
    parser = build_parser()
    args = parser.parse_args(["report", "scorecard", "--period", "2024-Q2", "--by", "team"])
    assert (args.report, args.by, args.format) == ("scorecard", "team", "csv")
    assert callable(args.func)


def test_write_formats() -> None:
    frame = pd.DataFrame({"rep": ["Ann", None], "win_rate": [0.5, float("nan")]})
    out = io.StringIO()
    write(frame, "json", out)
    assert json.loads(out.getvalue()) == [{"rep": "Ann", "win_rate": 0.5},
                                          {"rep": None, "win_rate": None}]  # fmt: skip
    out = io.StringIO()
    write(frame, "csv", out)
    assert out.getvalue() == "rep,win_rate\nAnn,0.5\n,\n"


@pytest.mark.parametrize(
    ("rep", "in_csv"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("Ann", "Ann"),
    ],
)
def test_csv_report_cells_never_run_in_a_spreadsheet(rep: str, in_csv: str) -> None:
    """Reports are mailed and opened in Excel: formula text is quoted, numbers are not."""
    frame = pd.DataFrame({"rep": [rep], "bookings": [-1500.0]})
    out = io.StringIO()
    write(frame, "csv", out)
    got = pd.read_csv(io.StringIO(out.getvalue()), keep_default_na=False)
    assert got["rep"].tolist() == [in_csv]
    assert got["bookings"].tolist() == [-1500.0]  # a negative number stays a number
    out = io.StringIO()
    write(frame, "json", out)
    assert json.loads(out.getvalue())[0]["rep"] == rep  # JSON is for programs: unchanged


def test_every_kpi_has_a_unit() -> None:
    assert set(KPI_UNITS) == set(KPI_COLUMNS)


def test_report_in_process_matches(book: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Same entry point in-process (what a scheduler importing the package would call)."""
    from analytics.cli import main

    assert main(["report", "scorecard", "--db", str(book), "--period", "2024-Q2",
                 "--format", "json"]) == 0  # fmt: skip
    rows = json.loads(capsys.readouterr().out)
    assert {r["rep"] for r in rows} >= set(EXPECTED)


def test_scorecard_names_now_for_the_live_period(book: Path) -> None:
    """2024-Q3 was not over on the data's date: its open figures are the deals open now."""
    done = run_cli("report", "scorecard", "--db", str(book), "--period", "2024-Q3",
                   "--format", "json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {(r["open_as_of"], r["open_source"], r["open_snapshot_date"]) for r in rows} == {
        (None, "now", None)
    }
    ann = next(r for r in rows if r["rep"] == "Ann Lee")
    assert ann["open_pipeline"] == 5000  # her Demo deal, open now
