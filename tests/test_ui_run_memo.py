"""The data version is read once per script run, and per-version facts follow the data.

Why: twenty managers' reruns each asked for the data version about nine times and re-read
the data's date, reporting currency, fiscal start and demo flag (issue 15). pages/_ui.py
now reads the version once per run and those facts once per version. These tests show
that nothing goes stale: a change made between two runs is seen by the next run, in the
helpers and in the real app (AppTest), and outside a run nothing is remembered at all.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from apptest import load_headline
from streamlit.testing.v1 import AppTest

from analytics.ingest import import_file
from analytics.settings import save_reporting_currency
from pages import _ui

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "data"
TIMEOUT = 60  # seconds per script run: generous for slow CI machines, never asserted on


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "memo.duckdb"
    monkeypatch.setenv("SALES_DB", str(path))
    return load_headline(path)


def _forget_run() -> None:
    if hasattr(_ui._run, "versions"):
        del _ui._run.versions


def test_version_is_read_once_per_run_and_afresh_by_the_next(app_db: Path) -> None:
    con = _ui.connection()
    try:
        _ui.begin_run()
        before = _ui.data_version(con)
        assert _ui.data_facts(con).reporting_currency == "USD"
        with _ui.cursor() as cur:
            save_reporting_currency(cur, "EUR")
        # the same run keeps the version it started with (one consistent view) ...
        assert _ui.data_version(con) == before
        assert _ui.data_facts(con).reporting_currency == "USD"
        # ... and the next run sees the change
        _ui.begin_run()
        after = _ui.data_version(con)
        assert after != before
        assert _ui.data_facts(con).reporting_currency == "EUR"
    finally:
        _forget_run()


def test_outside_a_run_nothing_is_remembered(app_db: Path) -> None:
    _forget_run()
    con = _ui.connection()
    before = _ui.data_version(con)
    with _ui.cursor() as cur:
        save_reporting_currency(cur, "GBP")
    assert _ui.data_version(con) != before
    assert _ui.data_facts(con).reporting_currency == "GBP"


def test_facts_equal_the_analytics_they_cache(app_db: Path) -> None:
    from analytics.scope import data_as_of, load_fiscal_start_month
    from analytics.settings import is_demo_database, load_reporting_currency

    _forget_run()
    con = _ui.connection()
    facts = _ui.data_facts(con)
    assert facts.as_of == data_as_of(con) == date(2024, 7, 15)
    assert facts.reporting_currency == load_reporting_currency(con)
    assert facts.fiscal_start_month == load_fiscal_start_month(con)
    assert facts.is_demo is is_demo_database(con) is False


def test_the_app_sees_an_import_made_between_two_runs(app_db: Path) -> None:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "12 deals in the database." in captions, captions
    with _ui.cursor() as cur:  # the app's own connection, as the Data page would write
        result = import_file(
            cur, FIXTURES / "app_seed_opps.csv", as_of=date(2024, 7, 16),
            data_dir=app_db.parent,
        )  # fmt: skip
        assert result.ok, result.message
    at.run()
    assert not at.exception
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "13 deals in the database." in captions, captions
