"""Driving the real app with Streamlit's AppTest: one way to open a page, one cleanliness check.

Every page test starts from dashboard.py (the entry script owns st.navigation, the sidebar
and the Scope), sets the URL query the way a shared link would, then switches page.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from streamlit.testing.v1 import AppTest

from analytics import db
from analytics.ingest import import_file

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "data"
TIMEOUT = 90  # seconds per script run: generous for loaded machines, never asserted on


def open_page(page: str | None = None, query: dict[str, str] | None = None) -> AppTest:
    """The app as a visitor of `?query` sees it, on `page` (e.g. "pages/settings.py")."""
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    at.run()
    if page is not None:
        at.switch_page(page).run()
    return at


def load_headline(path: Path) -> Path:
    """Import the headline fixture (reps and 12 deals as of 15 Jul 2024; tests/test_headline.py
    has the hand-computed figures) into the database at `path`, through the real importer."""
    con = db.connect(path)
    try:
        for name in ("headline_reps.csv", "headline_opps.csv"):
            result = import_file(
                con, FIXTURES / name, as_of=date(2024, 7, 15), data_dir=path.parent
            )
            assert result.ok, result.message
    finally:
        con.close()
    return path


def assert_clean(at: AppTest) -> None:
    """No exception and no error box: what a user must never see on a normal visit."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def metric(at: AppTest, label: str) -> str:
    """The value of the metric card labelled `label` (fails listing the cards there are)."""
    matches = [m.value for m in at.metric if m.label == label]
    assert matches, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return matches[0]
