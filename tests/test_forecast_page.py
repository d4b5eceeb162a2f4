"""The Forecast page, driven headlessly with AppTest, on the forecast fixture and on an
empty database. Figures are the hand-computed ones of tests/test_backtest.py (May 2024
live on 2024-05-06; April 2024 as forecast from the 2024-03-25 export)."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_forecast_methods import load_forecast

from analytics.markup import plain

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 90  # seconds per script run: generous for slow CI machines, never asserted on


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("SALES_DB", str(path))
    return path


@pytest.fixture
def loaded_db(app_db: Path, db_template: Callable[..., Path]) -> Path:
    """The forecast fixture, imported once per test process and copied for this test (conftest
    `db_template`): a private file the app and the test may change."""
    return db_template("test_forecast_page.loaded", load_forecast, app_db)


def open_forecast(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    # straight to the page, as a bookmark of /forecast opens it (on the live period)
    return at.switch_page("pages/forecast.py").run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def assert_clean(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [plain(e.value) for e in at.error]


def test_empty_database_points_to_data(app_db: Path) -> None:
    at = open_forecast()
    assert_clean(at)
    assert any("No deals in the database yet" in plain(i.value) for i in at.info)
    assert not at.metric


def test_live_month_headline_and_track_record_first(loaded_db: Path) -> None:
    at = open_forecast()
    assert_clean(at)
    assert at.sidebar.selectbox(key="period").value == "2024-05"
    shown = metrics(at)
    # 3000 won + (8000 + 6000) x 40%; range from Ann's call + Bob's deals; quota 25000
    assert shown["Forecast 2024-05"] == "8,600 USD"
    assert shown["Won so far"] == "3,000 USD"
    assert shown["Quota"] == "25,000 USD"
    assert shown["Gap to quota"] == "16,400 USD"
    calls = ("Reps' call: commit", "Reps' call: best case", "Reps' call: all categories")
    assert [shown[c] for c in calls] == ["8,000 USD", "11,000 USD", "20,000 USD"]
    # the pipeline figure is named by its base: open deals closing in May, not all open
    assert shown["Open pipeline closing in 2024-05"] == "14,000 USD"
    assert shown["Coverage by pipeline closing in 2024-05"] == "0.64x"  # 14000 / 22000
    assert "Pipeline" not in shown and "Open pipeline" not in shown
    # the track record comes right after the number: one month backtested, the default
    # method's own figures over that month (stage-weighted 6700 vs 20000)
    labels = [m.label for m in at.metric]
    assert labels.index("Error (WAPE)") < labels.index("Recommended (what-if)")
    assert shown["Mean accuracy"] == "33.5%"
    assert shown["Error (WAPE)"] == "66.5%"
    assert shown["Bias"] == "-66.5%"
    text = [plain(m.value) for m in at.markdown] + [plain(c.value) for c in at.caption]
    assert any("Not enough history" in t for t in text)
    assert not any("lowest error" in t for t in text)
    assert any("Only 1 past month can be backtested" in t for t in text)
    # the top deals table: A5 then N1
    top = next(d.value for d in at.dataframe if "swing" in d.value.columns)
    assert list(top["opportunity_id"]) == ["A5", "N1"]
    # the accuracy table: every method and every blend of two, the chosen one marked
    accuracy = next(d.value for d in at.dataframe if "WAPE" in d.value.columns)
    assert len(accuracy) == 15
    chosen = accuracy[accuracy["Recommended"] == "recommended"]
    assert list(chosen["Method or blend"]) == ["Stage-weighted"]
    assert chosen["WAPE"].iloc[0] == shown["Error (WAPE)"]
    assert_readable(at)


def assert_readable(at: AppTest) -> None:
    """No None, nan, NaT or inf in any table cell, metric or caption on the page."""
    bad = re.compile(r"\b(None|nan|NaN|NaT|inf)\b")
    for frame in at.dataframe:
        for column in frame.value.columns:
            if frame.value[column].dtype == object:
                cells = [str(x) for x in frame.value[column]]
                assert not [c for c in cells if bad.search(c)], column
    for m in at.metric:
        assert not bad.search(m.value or "") and not bad.search(m.label), m.label
    for c in at.caption:
        assert not bad.search(plain(c.value)), c.value


def test_what_if_moves_the_number(loaded_db: Path) -> None:
    at = open_forecast()
    at.number_input(key="forecast:whatif:demo").set_value(50).run()
    assert_clean(at)
    shown = metrics(at)
    assert shown["Recommended (what-if)"] == "10,000 USD"  # 3000 + 14000 x 50%
    assert shown["Forecast 2024-05"] == "8,600 USD"  # the headline keeps the saved stages
    at.multiselect(key="forecast:whatif:exclude").select("A5").run()
    assert metrics(at)["Stage-weighted (what-if)"] == "6,000 USD"  # 3000 + 6000 x 50%


def test_closed_month_shows_actual_against_each_forecast(loaded_db: Path) -> None:
    """April 2024 is over on 2024-05-06: the actual (20000) against each method's forecast
    from the 2024-03-25 export; no gap to quota computed from a forecast."""
    at = open_forecast({"kind": "Month", "period": "2024-04"})
    assert_clean(at)
    shown = metrics(at)
    assert shown["Actual won 2024-04"] == "20,000 USD"
    assert shown["Quota"] == "20,000 USD"
    assert shown["Actual vs quota"] == "+0 USD"
    assert "Gap to quota" not in shown and "Forecast 2024-04" not in shown
    assert any("export of 25 Mar 2024" in plain(c.value) for c in at.caption)
    table = next(d.value for d in at.dataframe if "Error (forecast - actual)" in d.value.columns)
    rows = table.set_index("Method")
    assert rows.loc["Historical run-rate", "Forecast"] == "17,800 USD"
    assert rows.loc["Historical run-rate", "Actual"] == "20,000 USD"
    assert rows.loc["Historical run-rate", "Error (forecast - actual)"] == "-2,200 USD"
    assert rows.loc["Historical run-rate", "Accuracy"] == "89.0%"
    assert rows.loc["Recommended: Stage-weighted", "Forecast"] == "6,700 USD"
    assert_readable(at)


def test_quarter_and_rollup_by_manager(loaded_db: Path) -> None:
    at = open_forecast({"kind": "Quarter", "period": "2024-Q2"})
    assert_clean(at)
    at.segmented_control(key="forecast:by").set_value("manager").run()
    assert_clean(at)
    calls = next(d.value for d in at.dataframe if "manager" in d.value.columns)
    assert set(calls["manager"]) == {"Mia Boss", "Max Chief"}


def test_a_failing_section_is_one_friendly_sentence(
    loaded_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import analytics.forecast.backtest as bt

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("snapshot store on fire")

    monkeypatch.setattr(bt, "convergence", broken)
    at = open_forecast()
    assert not at.exception
    # the exception's text stays in the server log; the page shows a reference to it
    assert any("Sorry" in e.value and "reference" in plain(e.value) for e in at.error)
    assert not any("on fire" in plain(e.value) for e in at.error)
    assert metrics(at)["Forecast 2024-05"] == "8,600 USD"  # the rest of the page still renders


def test_finished_month_page_and_cli_report_carry_the_same_numbers(loaded_db: Path) -> None:
    """`report forecast --period 2024-04 --format json` and the page's forecast-vs-actual
    table: the same forecast, actual and error for every method."""
    import io
    import json

    from analytics.cli import build_parser

    at = open_forecast({"kind": "Month", "period": "2024-04"})
    assert_clean(at)
    table = next(d.value for d in at.dataframe if "Error (forecast - actual)" in d.value.columns)
    page = table.set_index("Method")
    out = io.StringIO()
    argv = ["report", "forecast", "--db", str(loaded_db), "--period", "2024-04", "--format", "json"]
    args = build_parser().parse_args(argv)
    assert args.func(args, out) == 0
    rows = json.loads(out.getvalue())
    assert len(rows) == len(page) == 6
    for row in rows:
        shown = page.loc[row["label"]]
        assert shown["Forecast"] == f"{row['forecast']:,.0f} USD"
        assert shown["Actual"] == f"{row['actual']:,.0f} USD"
        assert shown["Error (forecast - actual)"] == f"{row['error']:+,.0f} USD"
        assert shown["Accuracy"] == f"{row['accuracy'] * 100:.1f}%"


def test_recommended_line_underlines_the_method_it_repeats(loaded_db: Path) -> None:
    """The recommended line repeats one method's points (here it is one method, not a
    blend): drawn first, wide and translucent, so the method's own line stays visible on
    top of it in both the history and the convergence charts."""
    import json

    at = open_forecast()
    assert_clean(at)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert charts, "no chart drawn"
    checked = 0
    for spec in charts:
        lines = [t for t in spec["data"] if t.get("type") == "scatter"]
        names = [t.get("name", "") for t in lines]
        rec = [i for i, n in enumerate(names) if n.startswith("Recommended")]
        if not rec:
            continue
        first = rec[0]
        assert first == 0, names  # beneath every method line
        style = lines[first]
        assert style.get("opacity", 1) < 1 and style["line"]["width"] > max(
            t["line"]["width"] for t in lines[1:]
        )
        repeated = names[first].split(": ", 1)[1]
        same = [t for t in lines[1:] if t.get("name") == repeated]
        assert same, (repeated, names)  # the method it repeats is drawn too, on top
        assert same[0]["y"] == style["y"]
        checked += 1
    assert checked >= 1
