"""The app shell and its pages, driven headlessly with Streamlit's AppTest.

Each test points SALES_DB at its own temporary database. AppTest in Streamlit 1.67 does
drive `st.file_uploader` (FileUploader.set_value), so the import test goes through the
real uploader widget and the real Import button, not a side door.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from apptest import load_headline
from streamlit.testing.v1 import AppTest

from analytics import db
from analytics.ingest import Mapping
from analytics.markup import plain
from analytics.scope import save_fiscal_start_month

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "data"
TIMEOUT = 60  # seconds per script run: generous for slow CI machines, never asserted on


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("SALES_DB", str(path))
    return path


@pytest.fixture
def loaded_db(app_db: Path) -> Path:
    """The headline fixture (see tests/test_headline.py for the hand-computed figures)."""
    return load_headline(app_db)


def start(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    return at.run()


def metric(at: AppTest, label: str) -> str:
    matches = [m.value for m in at.metric if m.label == label]
    assert matches, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return matches[0]


def assert_clean(at: AppTest) -> None:
    """No exception element and no error box: nothing went wrong on screen."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [plain(e.value) for e in at.error]


def test_empty_database_starts_and_points_to_data(app_db: Path) -> None:
    at = start()
    assert_clean(at)
    assert any("No deals in the database yet" in plain(i.value) for i in at.info)
    assert any("make run" in plain(i.value) for i in at.info)
    assert not at.metric  # no cards full of zeros pretending to be figures
    assert [s.key for s in at.sidebar.selectbox] == ["kind", "period", "team", "region", "rep"]


def test_overview_shows_hand_computed_bookings(loaded_db: Path) -> None:
    at = start()
    assert_clean(at)
    # Default: the newest month that was over on the data's date (exported 2024-07-15).
    assert at.sidebar.selectbox(key="period").value == "2024-06"
    at.sidebar.selectbox(key="period").set_value("2024-07").run()
    assert_clean(at)
    assert any("show it to date (1–15 Jul)" in c.value for c in at.sidebar.caption)
    assert any("2024-07 to date (1–15 Jul)" in plain(c.value) for c in at.caption)

    at.sidebar.selectbox(key="kind").set_value("Quarter").run()
    at.sidebar.selectbox(key="period").set_value("2024-Q2").run()
    assert_clean(at)
    assert metric(at, "Bookings") == "36,000"  # 10000 + 5000 + 20000 + 1000
    assert metric(at, "Won deals") == "4"
    assert metric(at, "Win rate") == "80.0%"  # 4 / (4 + 1)
    # Q2 is over: its open figures are the deals open on 30 June, rebuilt from created and
    # close dates (one export): O-005 2000 (lost 1 July) + O-009 10000 + O-010 5000 +
    # O-011 2500 + O-012 1000; stages then unknown, so no weighted figure (not 0).
    assert metric(at, "Open pipeline") == "20,500"
    assert metric(at, "Weighted pipeline") == "no data"
    assert any("no deal's stage on 30 Jun 2024 is known" in plain(c.value) for c in at.caption)
    assert any("on 30 Jun 2024 (rebuilt)" in plain(c.value) for c in at.caption)
    bookings = next(m for m in at.metric if m.label == "Bookings")
    assert bookings.delta == "+33,000"  # against 2024-Q1: 3000

    # The live quarter keeps the deals open now: 10000 x 0.6 + 5000 x 0.1 + 2500 x 0.8 +
    # 1000 x 0.4 = 8900.
    at.sidebar.selectbox(key="period").set_value("2024-Q3").run()
    assert metric(at, "Weighted pipeline") == "8,900"
    assert any("All open deals, now." in plain(c.value) for c in at.caption)

    at.sidebar.selectbox(key="period").set_value("2024-Q1").run()
    assert metric(at, "Bookings") == "3,000"  # the numbers follow the period filter
    assert metric(at, "Win rate") == "50.0%"

    at.sidebar.selectbox(key="period").set_value("2024-Q2").run()
    at.sidebar.selectbox(key="team").set_value("East").run()
    assert metric(at, "Bookings") == "15,000"  # Ann and Bob only
    assert at.sidebar.selectbox(key="rep").options == ["All reps", "Ann Lee", "Bob Stone"]
    assert_clean(at)


def test_view_opens_from_a_shared_url(loaded_db: Path) -> None:
    """The filters are read from the query string, so a link reproduces the view."""
    at = start({"kind": "Quarter", "period": "2024-Q2", "region": "AMER"})
    assert_clean(at)
    assert metric(at, "Bookings") == "20,000"  # Cara's O-004 only
    assert metric(at, "Win rate") == "100.0%"


def test_no_closed_deals_shows_dash_not_zero(loaded_db: Path) -> None:
    at = start({"kind": "Month", "period": "2023-11"})
    assert_clean(at)
    assert metric(at, "Win rate") == "—"
    assert metric(at, "Bookings") == "0"


def test_page_error_is_friendly(loaded_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An analytics failure shows one sentence, never a traceback."""
    import analytics.metrics.headline as headline

    def broken(*_args: object, **_kwargs: object) -> None:
        raise duckdb.IOException("disk on fire")

    monkeypatch.setattr(headline, "headline_with_previous", broken)
    at = start()
    assert not at.exception
    # an unexpected failure's text stays in the server log; the page shows a reference
    assert any("Sorry" in e.value and "reference" in plain(e.value) for e in at.error)
    assert not any("disk on fire" in plain(e.value) for e in at.error)


def test_data_page_import_through_the_uploader(app_db: Path) -> None:
    at = start()
    at.switch_page("pages/data.py").run()
    assert_clean(at)
    assert any("Nothing imported yet" in plain(c.value) for c in at.caption)
    assert at.button(key="import").disabled

    uploader = at.file_uploader(key="uploads")
    content = (FIXTURES / "headline_opps.csv").read_bytes()
    uploader.set_value(("headline_opps.csv", content, "text/csv")).run()
    assert_clean(at)
    text = " ".join(plain(m.value) for m in at.markdown)
    assert "opportunities" in text  # detected kind
    assert "utf-8" in text.lower()  # detected encoding
    # The mapping editor is preset to the detection: canonical headers map to themselves.
    picks = {s.key.rsplit(":", 1)[-1]: s.value for s in at.selectbox if ":map:" in s.key}
    assert picks["owner"] == "owner"
    assert picks["close_date"] == "close_date"

    at.button(key="import").click().run()
    assert_clean(at)
    assert any(plain(s.value).startswith("headline_opps.csv: loaded: 12 of 12") for s in at.success)
    history = next(d.value for d in at.dataframe if "rows_rejected" in d.value.columns)
    assert list(history["file_name"]) == ["headline_opps.csv"]
    assert int(history["rows_loaded"].iloc[0]) == 12

    at.switch_page("pages/overview.py").run()
    at.sidebar.selectbox(key="kind").set_value("Year").run()
    at.sidebar.selectbox(key="period").set_value("2024").run()
    assert metric(at, "Bookings") == "39,000"  # every 2024 win, imported via the page


def test_data_page_saves_a_hand_made_mapping(app_db: Path) -> None:
    at = start()
    at.switch_page("pages/data.py").run()
    content = (FIXTURES / "headline_opps.csv").read_bytes()
    at.file_uploader(key="uploads").set_value(("opps.csv", content, "text/csv")).run()
    account = next(s for s in at.selectbox if s.key.endswith(":map:opportunities:account"))
    account.set_value("—").run()  # "account is not in this file"
    name_box = next(t for t in at.text_input if t.key.endswith(":save_name"))
    name_box.input("monthly export").run()
    next(b for b in at.button if b.key and b.key.endswith(":save")).click().run()
    assert_clean(at)
    saved = app_db.parent / "mappings" / "monthly export.json"
    assert saved.is_file()
    mapping = Mapping.load(saved)
    assert mapping.kind == "opportunities"
    assert mapping.columns["account"] == ""
    assert mapping.columns["owner"] == "owner"


def test_data_page_refuses_bad_rows_then_quarantines_them(app_db: Path) -> None:
    """tests/data/app_bad_opps.csv: B-001 is fine, B-002 has amount 'lots', B-003 a 13th month."""
    at = start()
    at.switch_page("pages/data.py").run()
    content = (FIXTURES / "app_bad_opps.csv").read_bytes()
    at.file_uploader(key="uploads").set_value(("app_bad_opps.csv", content, "text/csv")).run()

    at.button(key="import").click().run()  # all or nothing: refused, nothing written
    assert not at.exception
    assert any("app_bad_opps.csv: refused" in plain(e.value) for e in at.error)
    headers = ["file", "line", "column", "value", "problem"]
    report = next(d.value for d in at.dataframe if list(d.value.columns) == headers)
    assert list(zip(report["line"], report["column"], report["value"], strict=True)) == [
        (3, "amount", "lots"),
        (4, "close_date", "2024-13-45"),
    ]
    assert any("Nothing imported yet" in plain(c.value) for c in at.caption)

    at.checkbox[0].check().run()  # "load valid rows, quarantine the rest"
    at.button(key="import").click().run()
    assert any("app_bad_opps.csv: partial: 1 of 3 rows" in plain(w.value) for w in at.warning)
    history = next(d.value for d in at.dataframe if "rows_rejected" in d.value.columns)
    assert (int(history["rows_loaded"].iloc[0]), int(history["rows_rejected"].iloc[0])) == (1, 2)
    # and the rejected rows stay listed after the result message is gone
    left_out = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert sorted(set(left_out["line"])) == sorted(set(report["line"]))


def test_saved_mapping_is_offered_and_applied(app_db: Path) -> None:
    """Next month: pick the saved mapping and the editor comes preset from it."""
    columns = {"opportunity_id": "opportunity_id", "owner": "owner", "account": ""}
    Mapping("opportunities", columns).save(app_db.parent / "mappings" / "sf monthly.json")
    at = start()
    at.switch_page("pages/data.py").run()
    content = (FIXTURES / "headline_opps.csv").read_bytes()
    at.file_uploader(key="uploads").set_value(("opps.csv", content, "text/csv")).run()
    saved = next(s for s in at.selectbox if s.key.endswith(":saved"))
    assert saved.options == ["(none)", "sf monthly"]
    saved.set_value("sf monthly").run()
    account = next(s for s in at.selectbox if s.key.endswith(":map:opportunities:account"))
    assert account.value == "—"  # the saved mapping says: no account column
    at.button(key="import").click().run()
    assert_clean(at)
    assert any(plain(s.value).startswith("opps.csv: loaded: 12 of 12") for s in at.success)


def test_fiscal_periods_when_the_year_starts_in_april(loaded_db: Path) -> None:
    """With an April fiscal start, FY2025-Q1 is April-June 2024: the same 36,000 as 2024-Q2."""
    con = db.connect(loaded_db)
    try:
        save_fiscal_start_month(con, 4)
    finally:
        con.close()
    at = start({"kind": "Fiscal quarter", "period": "FY2025-Q1"})
    assert_clean(at)
    assert "Fiscal quarter" in at.sidebar.selectbox(key="kind").options
    assert metric(at, "Bookings") == "36,000"
    bookings = next(m for m in at.metric if m.label == "Bookings")
    assert bookings.delta == "+33,000"  # against FY2024-Q4 = January-March 2024: 3,000
