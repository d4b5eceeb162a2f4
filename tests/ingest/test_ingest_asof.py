"""Every snapshot has a known date, never a silent today (issue 12.4).

Why: an export imported without a date was stamped with today, so a 2017 export's open
deals became today's pipeline. The as-of date now comes from the date given, the file
name, a report-date column, or the latest date the file proves, and the result says
which; a file that contradicts its date is refused. Real files into a real DuckDB file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from analytics import db
from analytics.ingest.asof import from_file_name

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 12, 5)
H = "Deal ID,Deal Name,Owner,Stage,Amount,Created Date,Close Date\n"
# created up to 2024-03-10; D2 won 2024-03-12; D3 open with a planned close in May
DEALS = H + (
    "D1,One,Ann,Discovery,100,2024-01-05,2024-06-30\n"
    "D2,Two,Bob,Closed Won,200,2024-02-01,2024-03-12\n"
    "D3,Three,Cy,Demo,300,2024-03-10,2024-05-31\n"
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("opportunities_2026-11-16.csv", date(2026, 11, 16)),
        ("Report 16.11.2026.xlsx", date(2026, 11, 16)),
        ("export_20240315.csv", date(2024, 3, 15)),
        ("pipeline 2024_03_15 final.csv", date(2024, 3, 15)),
        ("Report 5-3-2024.csv", date(2024, 3, 5)),  # day first, as Europe writes it
        ("deals.csv", None),
        ("deals_2024-13-40.csv", None),  # not a calendar date
        ("deals_2099-01-01.csv", None),  # later than today: not the day it was taken
        ("top-100 deals v2.csv", None),
        # "1252_2026" is no date; the date after it is found all the same (issue 12)
        ("deals_cp1252_2026-12-05.csv", date(2026, 12, 5)),
        ("v1234_05.11.2026.csv", date(2026, 11, 5)),
    ],
)
def test_date_in_the_file_name(name: str, expected: date | None) -> None:
    assert from_file_name(name, today=TODAY) == expected


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def recorded(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute("SELECT as_of_date, as_of_source FROM imports ORDER BY import_id").fetchall()


def test_the_date_given_wins(run_import, con, tmp_path):
    result = run_import(write(tmp_path, "deals_2024-03-20.csv", DEALS), as_of=date(2024, 4, 1))

    assert result.status == "loaded", result.message
    assert (result.as_of, result.as_of_source) == (date(2024, 4, 1), "given")
    assert "As of 2024-04-01 (as given)." in result.message
    assert recorded(con) == [(date(2024, 4, 1), "given")]


def test_from_the_file_name(run_import, con, tmp_path):
    result = run_import(write(tmp_path, "opportunities_2024-03-20.csv", DEALS))

    assert result.status == "loaded", result.message
    assert "As of 2024-03-20 (from the file name)." in result.message
    assert recorded(con) == [(date(2024, 3, 20), "file name")]
    assert con.execute("SELECT DISTINCT snapshot_date FROM opportunity_snapshots").fetchall() == [
        (date(2024, 3, 20),)
    ]


def test_from_a_report_date_column(run_import, con, tmp_path):
    text = "Report Date," + H.replace("\n", "") + "\n"
    text += "".join(f"2024-03-25,{line}\n" for line in DEALS.splitlines()[1:])

    result = run_import(write(tmp_path, "deals.csv", text))

    assert result.status == "loaded", result.message
    assert "As of 2024-03-25 (from the column 'Report Date')." in result.message
    assert recorded(con) == [(date(2024, 3, 25), "column")]


def test_from_the_content_closed_deals_and_created_dates_not_open_plans(run_import, con, tmp_path):
    result = run_import(write(tmp_path, "deals.csv", DEALS))

    # D2's win on 2024-03-12 is the latest proven date; D1's 2024-06-30 is only a plan
    assert result.status == "loaded", result.message
    assert recorded(con) == [(date(2024, 3, 12), "content")]
    assert "As of 2024-03-12 (the latest date in the file: close dates of closed deals" in (
        result.message
    )


def test_from_the_content_never_later_than_today(run_import, con, tmp_path):
    text = H + "F1,Future,Ann,Closed Won,100,2099-01-05,2099-06-30\n"

    result = run_import(write(tmp_path, "deals.csv", text))

    assert result.status == "loaded", result.message
    assert recorded(con) == [(date.today(), "content")]


def test_today_only_when_nothing_gives_a_date_and_it_says_so(run_import, con, tmp_path):
    result = run_import(write(tmp_path, "reps.csv", "rep,manager\nAnn,Mia\n"), kind="reps")

    assert result.status == "loaded", result.message
    assert "nothing in the file or its name gives a date" in result.message
    assert recorded(con) == [(date.today(), "today")]


@pytest.mark.parametrize(
    ("file_name", "given", "count", "line", "column", "value"),
    [
        # given before D2 was won (2024-03-12) and D3 created (2024-03-10): 2 deals
        ("deals.csv", date(2024, 3, 1), 2, 3, "Close Date", "2024-03-12"),
        # the file name says 2024-02-15: D2 closed and D3 created after it
        ("deals_2024-02-15.csv", None, 2, 3, "Close Date", "2024-03-12"),
        # given 2024-03-11: only D2's win is later
        ("deals.csv", date(2024, 3, 11), 1, 3, "Close Date", "2024-03-12"),
        # given 2024-01-20: D2 and D3 were created after it
        ("deals.csv", date(2024, 1, 20), 2, 3, "Created Date", "2024-02-01"),
    ],
)
def test_a_file_that_contradicts_its_date_is_refused_and_changes_nothing(
    preloaded, tmp_path, file_name, given, count, line, column, value
):
    before = preloaded.fingerprint()

    result = preloaded.run(write(tmp_path, file_name, DEALS), as_of=given)

    assert result.status == "refused"
    [problem] = result.problems
    assert (problem.line, problem.column, problem.value) == (line, column, value)
    assert "the file contradicts its as of" in problem.problem
    deals = "deal was" if count == 1 else "deals were"
    assert f"{count} {deals} created or closed after that day" in problem.problem
    assert preloaded.fingerprint() == before


def test_an_open_deal_planned_after_the_date_is_no_contradiction(run_import, tmp_path):
    # D1 (open) closes 2024-06-30 in the plan; everything else is before 2024-03-15
    assert run_import(write(tmp_path, "deals.csv", DEALS), as_of=date(2024, 3, 15)).ok


def test_an_existing_database_gains_the_column(tmp_path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as old:
        old.execute("CREATE SEQUENCE import_id_seq START 1")
        old.execute(
            "CREATE TABLE imports (import_id BIGINT PRIMARY KEY, file_name VARCHAR NOT NULL, "
            "sha256 VARCHAR NOT NULL, stored_path VARCHAR, kind VARCHAR NOT NULL, "
            "source_format VARCHAR NOT NULL, encoding VARCHAR, delimiter VARCHAR, "
            "as_of_date DATE NOT NULL, rows_read BIGINT NOT NULL, rows_loaded BIGINT NOT NULL, "
            "rows_rejected BIGINT NOT NULL, rows_inserted BIGINT, rows_updated BIGINT, "
            "started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP NOT NULL)"
        )
    con = db.connect(path)
    try:
        columns = {r[0] for r in con.execute("DESCRIBE imports").fetchall()}
    finally:
        con.close()
    assert "as_of_source" in columns


def test_the_command_line_states_the_date_and_its_source(tmp_path):
    deals = write(tmp_path, "Report 20.03.2024.csv", DEALS)
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    env.pop("SALES_DB", None)
    proc = subprocess.run(
        [sys.executable, "-m", "analytics", "import", str(deals), "--db", str(tmp_path / "s.db")],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "As of 2024-03-20 (from the file name)." in proc.stdout


def test_activities_scheduled_after_the_date_are_no_contradiction(run_import, con, tmp_path):
    text = (
        "owner,activity type,started at\nAnn,Call,2024-03-01 10:00\nAnn,Meeting,2024-04-02 09:00\n"
    )

    result = run_import(write(tmp_path, "activities.csv", text), as_of=date(2024, 3, 15))

    assert result.status == "loaded", result.message


@pytest.mark.parametrize(
    ("report_date", "extra", "notice"),
    [
        # a last-modified day before D2's win: allowed (a CRM may keep a planned close date
        # when a deal is closed), and said
        (
            "2024-03-11",
            "",
            "1 closed deal carries a close date after the as-of day 2024-03-11 (row 3: "
            "Closed Won on 2024-03-12); counted as closed on its close date",
        ),
        (
            "2024-03-11",
            "D4,Four,Bob,Closed Lost,400,2024-01-15,2024-03-20\n",
            "2 closed deals carry a close date after the as-of day 2024-03-11 (first: row 3: "
            "Closed Won on 2024-03-12); counted as closed on their close dates",
        ),
        ("2024-03-25", "", None),  # every close date on or before the day: nothing to say
    ],
)
def test_closed_deals_dated_after_a_last_modified_day_load_and_are_said(
    run_import, con, tmp_path, report_date, extra, notice
):
    text = "Report Date," + H.replace("\n", "") + "\n"
    text += "".join(f"{report_date},{line}\n" for line in (DEALS + extra).splitlines()[1:])

    result = run_import(write(tmp_path, "deals.csv", text))

    assert result.status == "loaded", result.message
    assert recorded(con) == [(date.fromisoformat(report_date), "column")]
    if notice is None:
        assert "close date after the as-of day" not in result.message
    else:
        assert notice in result.message
        assert result.message.count("close date after the as-of day") == 1
    assert con.execute(
        "SELECT is_closed, is_won, close_date FROM opportunities WHERE opportunity_id = 'D2'"
    ).fetchone() == (True, True, date(2024, 3, 12))


@pytest.mark.parametrize(
    ("close", "notice"),
    [
        # a year typo: beyond today, so the as-of day comes from the created dates; the won
        # deal loads (its row is valid) but is named, as it counts in no period until 2062
        (
            "2062-03-12",
            "1 closed deal carries a close date after the as-of day 2024-03-10 (row 3: "
            "Closed Won on 2062-03-12, after today: a typo?); counted as closed on its close "
            "date, so in no figure until then",
        ),
        ("2024-03-12", None),  # the newest close date is the as-of day: nothing to say
    ],
)
def test_a_closed_deal_dated_after_today_is_named_when_the_day_comes_from_the_file(
    run_import, con, tmp_path, close, notice
):
    """Found by a tester: `Closed Won ... 2062-10-05` loaded without a word when the
    as-of day came from the file's content (dates after today are not proof of it)."""
    result = run_import(write(tmp_path, "deals.csv", DEALS.replace("2024-03-12", close)))

    assert result.status == "loaded", result.message
    day = date(2024, 3, 10) if notice else date(2024, 3, 12)
    assert recorded(con) == [(day, "content")]
    if notice is None:
        assert "close date after the as-of day" not in result.message
    else:
        assert notice in result.message


@pytest.mark.parametrize(
    ("close", "advice", "not_said"),
    [
        # after today: no as-of day would make it true, so the advice is the typo
        ("2062-03-12", "closed on 2062-03-12, after today: a typo? Correct the date in the "
                       "CRM or the file)", "--as-of"),
        # a plausible day after the given one: the given day is the likely mistake
        ("2024-03-12", "closed on 2024-03-12); give the day the export was taken (--as-of, "
                       "or the Data page)", "a typo"),
    ],
)  # fmt: skip
def test_a_refusal_for_a_date_after_the_given_day_names_the_likely_cause(
    run_import, con, tmp_path, close, advice, not_said
):
    result = run_import(
        write(tmp_path, "deals.csv", DEALS.replace("2024-03-12", close)), as_of=date(2024, 3, 10)
    )

    assert result.status == "refused"
    assert advice in result.message
    assert not_said not in result.message
    assert con.execute("SELECT count(*) FROM opportunities").fetchone() == (0,)
