"""A deal whose stage then is not known has no stage probability (found on a first upload).

The Forecast page's "Deals that move the number most" for a finished month rebuilt from one
export (no stage history) read "Stage prob. 0%, Weighted 0, If lost 0" on every row: a 0
that only meant "not known". The probability and the four amounts built on it are now
undefined (the dash), and the page says why; with stage history they are the stages'.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_backtest_rebuilt import HISTORY, ROWS, forecast_page_after_one_upload, upload

from analytics.forecast.current import deal_table, period_forecast
from analytics.scope import Period, Scope

MOVES = ["probability", "weighted", "upside", "downside", "swing"]


def may(con: duckdb.DuckDBPyConnection):
    return period_forecast(con, Scope(Period.parse("2024-05")))


def test_rebuilt_deals_without_stages_have_no_probability(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    upload(con, tmp_path, ROWS, None)
    result = may(con)
    top = result.top_deals()
    assert set(top["opportunity_id"]) == {"O1", "L1"}
    assert top[MOVES].isna().all().all(), top[MOVES]
    assert list(top["opportunity_id"]) == ["O1", "L1"]  # by amount: 5,000 then 3,000
    assert result.top_deals_note == (
        "No open deal has a known stage on 30 Apr 2024 (rebuilt from created and close "
        "dates): no stage probability, so how far each could move the stage-weighted "
        "forecast is not known (the dash); listed by amount."
    )


def test_with_stage_history_the_stages_probabilities_are_used(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    upload(con, tmp_path, ROWS, HISTORY)
    result = may(con)
    top = result.top_deals().set_index("opportunity_id")
    assert top.loc["O1", "stage"] == "Demo" and top.loc["L1", "stage"] == "Trial"
    assert top[MOVES].notna().all().all()
    p = top.loc["O1", "probability"]
    assert 0 < p < 1 and top.loc["O1", "weighted"] == pytest.approx(5000 * p)
    assert result.top_deals_note is None


def test_the_page_shows_the_dash_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = forecast_page_after_one_upload(tmp_path, monkeypatch)
    assert not at.exception
    tables = [d.value for d in at.dataframe if "swing" in d.value.columns]
    assert tables, "no deal list"
    assert pd.isna(tables[0]["probability"]).all() and pd.isna(tables[0]["weighted"]).all()
    assert any("No open deal has a known stage" in c.value for c in at.caption)


# (stage as read, amount) -> (probability, weighted, swing); probabilities: Demo 40%,
# Negotiation 80%. Worked by hand: weighted = amount x p, swing = max(amount x (1 - p),
# amount x p); a stage not known (None, NaN, blank) has none of the three; a stage the
# list does not hold is a known stage at 0%; stages match ignoring case and spaces.
@pytest.mark.parametrize(
    ("stage", "amount", "expected"),
    [
        ("Demo", 1000.0, (0.4, 400.0, 600.0)),
        ("  negotiation ", 1000.0, (0.8, 800.0, 800.0)),
        ("NEGOTIATION", None, (0.8, None, None)),
        ("Stage nobody listed", 500.0, (0.0, 0.0, 500.0)),
        (None, 1000.0, (None, None, None)),
        (float("nan"), 1000.0, (None, None, None)),
        ("   ", 1000.0, (None, None, None)),
    ],
)
@pytest.mark.parametrize("dtype", ["object", "string[pyarrow]"])
def test_deal_table_probability_and_moves(
    stage: object, amount: float | None, expected: tuple, dtype: str
) -> None:
    deals = pd.DataFrame(
        {
            "opportunity_id": ["X", "Y"],
            "stage": pd.Series([stage, "Demo"], dtype=dtype),
            "amount": [amount, 10.0],
        }
    )
    got = deal_table(deals, {"demo": 40.0, "negotiation": 80.0}).iloc[0]
    for column, want in zip(("probability", "weighted", "swing"), expected, strict=True):
        if want is None:
            assert pd.isna(got[column]), (column, got[column])
        else:
            assert got[column] == pytest.approx(want), column
    other = deal_table(deals, {"demo": 40.0}).iloc[1]  # the other row is unaffected
    assert other["probability"] == pytest.approx(0.4) and other["weighted"] == pytest.approx(4.0)
