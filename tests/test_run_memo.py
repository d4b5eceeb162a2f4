"""The run memo (analytics/run_memo.py): shared facts read once per run of a reading page.

Why these tests: a memo that outlives its run, or that is open while a page writes, would
show figures of data that is no longer there (an import that learns a stage must read the
stages again). So: inside a memo equal calls read the database once and equal answers come
back; outside it, and after it, every call reads the database as it now is; mutable
answers are copies; and only the reading pages of the app run inside one.
"""

from __future__ import annotations

import ast
import contextlib
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from analytics import db
from analytics.ingest import import_file
from analytics.pointintime import snapshot_dates
from analytics.run_memo import active, fetch_one, memoised, run_memo
from analytics.settings import load_stages
from tests.apptest import ROOT, assert_clean, load_headline, open_page


class Counting:
    """A real DuckDB connection that counts the statements it is asked to run."""

    def __init__(self, con: Any) -> None:
        self._con = con
        self.statements: list[tuple[str, str]] = []

    def execute(self, sql: str, params: Any = None) -> Any:
        self.statements.append((sql, repr(params)))
        return self._con.execute(sql) if params is None else self._con.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


@pytest.fixture
def con(tmp_path: Path) -> Iterator[Any]:
    connection = db.connect(tmp_path / "memo.duckdb")
    try:
        yield connection
    finally:
        connection.close()


def _add_snapshot(con: Any, day: date, folder: Path) -> None:
    """An export of one open deal as of `day`, through the real importer."""
    export = folder / f"deals_{day}.csv"
    export.write_text(
        f"Opportunity ID,Opportunity Name,Stage,Amount,Created Date,Close Date\n"
        f"D-{day},Deal {day},Prospecting,100,2024-01-02,2024-12-31\n",
        encoding="utf-8",
    )
    result = import_file(con, export, kind="opportunities", as_of=day, data_dir=folder)
    assert result.ok, result.message


def test_outside_a_memo_every_call_reads_the_database(con: Any) -> None:
    counting = Counting(con)
    assert not active()
    load_stages(counting)
    load_stages(counting)
    assert len(counting.statements) == 2


def test_inside_a_memo_equal_calls_read_once_and_agree(con: Any) -> None:
    counting = Counting(con)
    with run_memo():
        assert active()
        first = load_stages(counting)
        assert load_stages(counting) == first
        assert load_stages(Counting(con)) == first  # another cursor of the same run
    assert len(counting.statements) == 1
    assert not active()


def test_different_arguments_are_different_answers(con: Any) -> None:
    counting = Counting(con)
    with run_memo():
        assert fetch_one(counting, "SELECT ? + 1", [1]) == (2,)
        assert fetch_one(counting, "SELECT ? + 1", [2]) == (3,)
        assert fetch_one(counting, "SELECT ? + 1", [1]) == (2,)
    assert len(counting.statements) == 2


def test_a_memo_ends_with_its_run(con: Any, tmp_path: Path) -> None:
    _add_snapshot(con, date(2024, 6, 30), tmp_path)
    with run_memo():
        assert snapshot_dates(con) == [date(2024, 6, 30)]
        # (an import never runs inside a memo in the app: this one only changes the data)
        _add_snapshot(con, date(2024, 7, 31), tmp_path)
        # the run keeps the answer it read (one view of the facts per run)
        assert snapshot_dates(con) == [date(2024, 6, 30)]
    assert snapshot_dates(con) == [date(2024, 6, 30), date(2024, 7, 31)]
    with run_memo():  # the next run reads afresh
        assert snapshot_dates(con) == [date(2024, 6, 30), date(2024, 7, 31)]


def test_an_inner_memo_keeps_the_outer_one(con: Any) -> None:
    counting = Counting(con)
    with run_memo():
        load_stages(counting)
        with run_memo():
            load_stages(counting)
        assert active()
        load_stages(counting)
    assert len(counting.statements) == 1


def test_mutable_answers_are_handed_out_as_copies(con: Any, tmp_path: Path) -> None:
    _add_snapshot(con, date(2024, 6, 30), tmp_path)
    with run_memo():
        dates = snapshot_dates(con)
        dates.append(date(1999, 1, 1))
        assert snapshot_dates(con) == [date(2024, 6, 30)]


def test_unhashable_arguments_are_computed_every_time(con: Any) -> None:
    calls = []

    @memoised
    def echo(connection: Any, value: Any) -> Any:
        calls.append(value)
        return value

    unhashable = bytearray(b"x")
    with run_memo():
        echo(con, unhashable)
        echo(con, unhashable)
        echo(con, [1, {"a": [2]}])
        echo(con, [1, {"a": [2]}])
    assert len(calls) == 3


def _entry_sets() -> tuple[set[str], set[str]]:
    """READING_PAGES and the PAGES keys of the entry script (read, not run: it is a script)."""
    tree = ast.parse((ROOT / "dashboard.py").read_text(encoding="utf-8"))
    reading: set[str] = set()
    pages: set[str] = set()
    for node in tree.body:
        target = getattr(node, "target", None) or (getattr(node, "targets", None) or [None])[0]
        name = getattr(target, "id", None)
        if name == "READING_PAGES":
            reading = set(ast.literal_eval(node.value.args[0]))  # type: ignore[union-attr]
        elif name == "PAGES":
            pages = {k.value for k in node.value.keys}  # type: ignore[union-attr]
    return reading, pages


def test_only_reading_pages_run_inside_a_memo() -> None:
    """A page that writes (an import, a setting, a payout) must read back what it wrote."""
    reading, pages = _entry_sets()
    assert reading and reading <= pages
    assert reading.isdisjoint({"data", "settings", "commissions"})
    writes = re.compile(r"import_file|put_setting|\bsave_|rollback|lock_period|approve")
    for stem in reading:
        source = (ROOT / "pages" / f"{stem}.py").read_text(encoding="utf-8")
        assert not writes.search(source), f"pages/{stem}.py writes but runs in the run memo"


@contextlib.contextmanager
def _recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, str, bool]]]:
    """Every statement the app's cursors run, with whether a run memo was open."""
    from pages import _ui

    seen: list[tuple[str, str, bool]] = []
    real_cursor = _ui.cursor

    class Recording(Counting):
        def execute(self, sql: str, params: Any = None) -> Any:
            seen.append((sql, repr(params), active()))
            return super().execute(sql, params)

    @contextlib.contextmanager
    def cursor() -> Iterator[Any]:
        with real_cursor() as cur:
            yield Recording(cur)

    monkeypatch.setattr(_ui, "cursor", cursor)
    yield seen


@pytest.mark.parametrize("page", ["overview", "reps", "forecast"])
def test_a_reading_page_reads_each_shared_fact_once(
    page: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALES_DB", str(load_headline(tmp_path / "sales.duckdb")))
    with _recorded(monkeypatch) as seen:
        at = open_page()
        if page != "overview":
            seen.clear()  # the page's own run only
            at.switch_page(f"pages/{page}.py").run()
        assert_clean(at)
    assert seen[-1][2], "the page's own statements ran outside the run memo"
    facts = [
        (sql, params)
        for sql, params, memo in seen
        if memo and ("FROM settings WHERE key" in sql or "SELECT DISTINCT snapshot_date" in sql)
    ]
    assert facts
    # at most twice: AppTest runs the entry script once more when Streamlit skipped it
    # (pages/_ui.run_page), and each run has its own memo
    assert max(facts.count(f) for f in facts) <= 2, facts


def test_the_data_page_runs_without_a_memo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALES_DB", str(load_headline(tmp_path / "sales.duckdb")))
    with _recorded(monkeypatch) as seen:
        at = open_page()
        seen.clear()
        at.switch_page("pages/data.py").run()
        assert_clean(at)
    flags = [memo for _, _, memo in seen]
    assert any(flags)  # the sidebar read inside one
    assert not flags[-1]  # the page's own reads did not
