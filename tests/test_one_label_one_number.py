"""One label, one number: a figure shown under the same label for the same scope has the
same value on every page that shows it (issue: a monthly review that never misleads).

Over the demo database, every page is opened on the same period; each metric card's label
and value are collected, and any label that two pages share must show one value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from analytics.scope import Period, data_as_of

ROOT = Path(__file__).resolve().parent.parent
PAGES = ["pages/overview.py", "pages/reps.py", "pages/pipeline.py", "pages/forecast.py",
         "pages/commissions.py", "pages/leads.py", "pages/funnel.py"]  # fmt: skip


@pytest.fixture(scope="module")
def demo_db(
    tmp_path_factory: pytest.TempPathFactory, copy_demo: Callable[[Path], Path]
) -> tuple[Path, str]:
    """The demo database and its live quarter (read before any app holds the file)."""
    path = copy_demo(tmp_path_factory.mktemp("labels"))
    return path, _live_quarter(path)


def _live_quarter(db_path: Path) -> str:
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        as_of = data_as_of(con)
    finally:
        con.close()
    assert as_of is not None
    return Period.containing(as_of, "quarter").label


def _cards(page: str, query: dict[str, str]) -> dict[str, str]:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=120)
    at.query_params.update(query)
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("which", ["live", "last complete"])
def test_a_label_shows_one_value_on_every_page(
    demo_db: tuple[Path, str], monkeypatch: pytest.MonkeyPatch, which: str
) -> None:
    monkeypatch.setenv("SALES_DB", str(demo_db[0]))
    live = Period.parse(demo_db[1])
    period = live if which == "live" else live.previous()
    query = {"kind": "Quarter", "period": period.label}
    seen: dict[str, dict[str, str]] = defaultdict(dict)
    for page in PAGES:
        for label, value in _cards(page, query).items():
            seen[label][page] = value
    shared = {label: pages for label, pages in seen.items() if len(pages) > 1}
    differing = {label: pages for label, pages in shared.items() if len(set(pages.values())) > 1}
    assert not differing, differing
    if which == "live":
        # the Overview's coverage card is the Forecast's coverage of the same period
        forecast = seen[f"Coverage by pipeline closing in {period.label}"]["pages/forecast.py"]
        assert seen["Coverage"]["pages/overview.py"] == forecast
