"""The backtest says true things when it has little to work on (found by a new user).

- "Only 2 past months can be backtested (0 of the last 12 have no export near their
  start)" contradicted itself: the other ten began before the data did.
- With too little history the stage-weighted forecast was "recommended" on a row of
  dashes (0 periods: a rebuilt pipeline knows no stages) while run-rate had forecasts.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analytics.forecast.backtest import (
    CANDIDATES,
    SUMMARY_COLUMNS,
    no_data_reason,
    recommend,
)
from analytics.forecast.methods import RUN_RATE, STAGE_WEIGHTED


@pytest.mark.parametrize(
    ("wanted", "skipped", "window", "expected"),
    [
        (12, 0, 2, "Only 2 past months can be backtested (in 10 months of the last 12 some "
                   "method has no forecast, e.g. before the data starts); 3 are needed to "
                   "compare methods by their error."),
        (12, 10, 2, "Only 2 past months can be backtested (10 of the last 12 have no export "
                    "near their start); 3 are needed to compare methods by their error."),
        (12, 1, 1, "Only 1 past month can be backtested (1 of the last 12 has no export near "
                   "its start; in 10 months some method has no forecast, e.g. before the data "
                   "starts); 3 are needed to compare methods by their error."),
        (2, 0, 2, "Only 2 past months can be backtested; 3 are needed to compare methods "
                  "by their error."),  # only two were asked for: nothing to explain
        (12, 0, 12, None),
    ],
)  # fmt: skip
def test_too_few_periods_says_why(
    wanted: int, skipped: int, window: int, expected: str | None
) -> None:
    assert no_data_reason("month", wanted, skipped, window) == expected


def _summary(periods: dict[str, int]) -> pd.DataFrame:
    rows = [
        {"candidate": c.key, "label": c.label, "blend": c.is_blend,
         "periods": periods.get(c.key, 0), "wape": None, "bias": None,
         "mean_accuracy": None, "within_10pct": None, "rank": None, "recommended": False,
         "note": None}
        for c in CANDIDATES
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


@pytest.mark.parametrize(
    ("periods", "chosen", "words"),
    [
        ({STAGE_WEIGHTED: 2, RUN_RATE: 2}, STAGE_WEIGHTED, "The stage-weighted forecast is"),
        ({RUN_RATE: 2}, RUN_RATE, "With no stage-weighted forecast in any month here, "
                                  "historical run-rate is the default"),
        ({}, STAGE_WEIGHTED, "The stage-weighted forecast is"),
    ],
)  # fmt: skip
def test_the_default_has_forecasts(periods: dict[str, int], chosen: str, words: str) -> None:
    rec = recommend(_summary(periods), ["2026-09", "2026-10"], kind="month")
    assert rec.candidate.key == chosen
    assert words in rec.reason
    assert "not chosen by its error" in rec.reason
