"""The recommended forecast is the lowest error of the table it is chosen from.

A hand-made backtest of three months (actuals 100, 200, 100: sum 400) where every
candidate's WAPE and bias were worked out by hand below; Rep best case has no forecast in
the first month, so it and its blends are listed but not compared. Then the same rule on
the demo database, by month and by quarter, through the analytics and the CLI's JSON.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from analytics.cli import build_parser
from analytics.forecast.backtest import (
    DEFAULT_CANDIDATE,
    backtest_window,
    mark_recommended,
    recommend,
    score_candidates,
    window_words,
)
from analytics.forecast.methods import BEST_CASE, COMMIT, RUN_RATE, SALES_CYCLE, STAGE_WEIGHTED

SW, RR, SC, CO, BC = STAGE_WEIGHTED, RUN_RATE, SALES_CYCLE, COMMIT, BEST_CASE

# (label, actual, each method's start-of-month forecast)
HISTORY = [
    ("2024-01", 100.0, {SW: 120.0, RR: 60.0, SC: 100.0, CO: 80.0, BC: None}),
    ("2024-02", 200.0, {SW: 180.0, RR: 200.0, SC: 260.0, CO: 160.0, BC: 220.0}),
    ("2024-03", 100.0, {SW: 100.0, RR: 140.0, SC: 100.0, CO: 80.0, BC: 120.0}),
]

# candidate -> (WAPE, bias) by hand; blends average their components' forecasts per month.
HAND = [
    (SW, 40 / 400, 0 / 400),  # |A-F| 20, 20, 0; F-A +20 -20 0
    (RR, 80 / 400, 0 / 400),  # 40, 0, 40; -40 0 +40
    (SC, 60 / 400, 60 / 400),  # 0, 60, 0
    (CO, 80 / 400, -80 / 400),  # 20, 40, 20, all under
    (f"{SW}+{RR}", 40 / 400, 0 / 400),  # 90, 190, 120: 10, 10, 20; -10 -10 +20
    (f"{SW}+{SC}", 30 / 400, 30 / 400),  # 110, 220, 100: 10, 20, 0, all over
    (f"{SW}+{CO}", 40 / 400, -40 / 400),  # 100, 170, 90: 0, 30, 10, all under
    (f"{RR}+{SC}", 70 / 400, 30 / 400),  # 80, 230, 120: 20, 30, 20; -20 +30 +20
    (f"{RR}+{CO}", 60 / 400, -40 / 400),  # 70, 180, 110: 30, 20, 10; -30 -20 +10
    (f"{SC}+{CO}", 30 / 400, -10 / 400),  # 90, 210, 90: 10, 10, 10; -10 +10 -10
]
NOT_COMPARED = [BC, f"{SW}+{BC}", f"{RR}+{BC}", f"{SC}+{BC}", f"{CO}+{BC}"]


@pytest.fixture
def table():
    return score_candidates(HISTORY).set_index("candidate")


@pytest.mark.parametrize(("candidate", "expected_wape", "expected_bias"), HAND)
def test_each_candidate_scored_by_hand(table, candidate, expected_wape, expected_bias) -> None:
    row = table.loc[candidate]
    assert row["wape"] == pytest.approx(expected_wape)
    assert row["bias"] == pytest.approx(expected_bias, abs=1e-12)
    assert row["periods"] == 3


@pytest.mark.parametrize("candidate", NOT_COMPARED)
def test_a_candidate_missing_a_month_is_listed_not_compared(table, candidate) -> None:
    row = table.loc[candidate]
    assert row["periods"] == 2 and pd.isna(row["wape"]) and pd.isna(row["rank"])
    assert row["note"] == "no forecast in 1 of the 3 periods: not compared"


def test_recommended_is_the_lowest_wape_of_its_table_and_ties_are_named() -> None:
    """7.5% twice: SW+SC and SC+CO. The blend listed first (SW+SC) wins, the reason says so;
    the figures beside it are its own (over 30/400, not a component's)."""
    summary = score_candidates(HISTORY)
    window = backtest_window(HISTORY)
    rec = recommend(summary, window, kind="month")
    marked = mark_recommended(summary, rec)
    chosen = marked[marked["recommended"]].iloc[0]
    compared = marked[marked["wape"].notna()]
    assert chosen["wape"] == compared["wape"].min()  # the lowest in the table it came from
    assert rec.candidate.key == f"{SW}+{SC}" and rec.by_error
    assert (rec.wape, rec.bias) == (pytest.approx(0.075), pytest.approx(0.075))
    assert rec.window == ("2024-01", "2024-02", "2024-03") and rec.periods == 3
    assert rec.tied_with == ("Blend of Sales-cycle length and Rep commit",)
    assert list(compared["rank"]) == list(range(1, 11))
    assert rec.reason == (
        "Blend of Stage-weighted and Sales-cycle length: lowest error of the 10 compared in "
        "the table below, over the 3 months 2024-01 to 2024-03 (WAPE 7.5%, over-forecast by "
        "7.5%); tied with Blend of Sales-cycle length and Rep commit (same WAPE): the simpler "
        "one, first in the table's order, is chosen; next best Stage-weighted (WAPE 10.0%)."
    )


def test_a_single_method_wins_a_tie_with_a_blend() -> None:
    """Without Sales-cycle, SW (10%) ties SW+RR and SW+CO: the single method is chosen."""
    history = [(p, a, {k: v for k, v in f.items() if k != SC}) for p, a, f in HISTORY]
    rec = recommend(score_candidates(history), backtest_window(history), kind="month")
    assert rec.candidate.key == SW and rec.wape == pytest.approx(0.10)
    assert set(rec.tied_with) == {
        "Blend of Stage-weighted and Historical run-rate",
        "Blend of Stage-weighted and Rep commit",
    }


def test_the_only_scored_method_is_not_called_the_lowest() -> None:
    """Only Stage-weighted has a forecast in every month (a one-export database, say): the
    reason says it is the only one that could be compared, never "lowest of the 1"."""
    history = [(p, a, {k: (v if k == SW else None) for k, v in f.items()})
               for p, a, f in HISTORY]  # fmt: skip
    rec = recommend(score_candidates(history), backtest_window(history), kind="month")
    assert rec.candidate.key == SW and rec.by_error
    assert "lowest" not in rec.reason
    assert rec.reason.startswith(
        "Stage-weighted: the only method with a forecast in every month of the 3 months "
        "2024-01 to 2024-03, so nothing else could be compared with it (WAPE 10.0%"
    )


@pytest.mark.parametrize(
    ("history", "why"),
    [
        (HISTORY[:2], "Not enough history to compare methods: 2 past months"),
        ([], "Not enough history to compare methods: 0 past months"),
        ([(p, 0.0, f) for p, _, f in HISTORY], "nothing was won in them"),
    ],
)
def test_no_choice_by_error_says_why(history, why) -> None:
    rec = recommend(score_candidates(history), backtest_window(history), kind="month")
    assert rec.candidate == DEFAULT_CANDIDATE and not rec.by_error
    assert why in rec.reason and "lowest" not in rec.reason


def test_a_month_without_an_export_is_outside_the_window() -> None:
    history = [("2023-12", 500.0, dict.fromkeys((SW, RR, SC, CO, BC))), *HISTORY]
    assert backtest_window(history) == ["2024-01", "2024-02", "2024-03"]
    assert score_candidates(history).set_index("candidate").loc[SW, "wape"] == pytest.approx(0.1)
    assert window_words(backtest_window(history), "month") == "the 3 months 2024-01 to 2024-03"


# --- the demo database -------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory, copy_demo: Callable[[Path], Path]) -> Path:
    return copy_demo(tmp_path_factory.mktemp("demo"))


@pytest.mark.parametrize("kind", ["month", "quarter"])
def test_demo_recommended_is_lowest_in_the_cli_table(demo_db: Path, kind: str) -> None:
    out = io.StringIO()
    argv = ["backtest", "--db", str(demo_db), "--kind", kind, "--summary", "--format", "json"]
    args = build_parser().parse_args(argv)
    assert args.func(args, out) == 0
    rows = json.loads(out.getvalue())
    chosen = [r for r in rows if r["recommended"]]
    assert len(chosen) == 1
    scored = [r["wape"] for r in rows if r["wape"] is not None]
    assert len(scored) >= 5 and chosen[0]["wape"] == min(scored)
    assert chosen[0]["rank"] == 1
    assert "lowest error" in chosen[0]["reason"]
    assert f"WAPE {chosen[0]['wape']:.1%}" in chosen[0]["reason"]
    assert len({r["window"] for r in rows}) == 1


def test_demo_page_and_cli_show_the_same_recommendation(
    demo_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Forecast page on the demo, default view: the words, the cards beside them and
    the accuracy table agree with each other and with `backtest --summary --format json`."""
    from streamlit.testing.v1 import AppTest

    from analytics.markup import plain

    monkeypatch.setenv("SALES_DB", str(demo_db))
    root = Path(__file__).resolve().parent.parent
    at = AppTest.from_file(str(root / "dashboard.py"), default_timeout=120)
    at.run()
    at = at.switch_page("pages/forecast.py").run()
    assert not at.exception and not at.error
    kind = "quarter" if at.sidebar.selectbox(key="period").value[4:6] == "-Q" else "month"
    out = io.StringIO()
    argv = ["backtest", "--db", str(demo_db), "--kind", kind, "--summary", "--format", "json"]
    args = build_parser().parse_args(argv)
    assert args.func(args, out) == 0
    cli = {r["label"]: r for r in json.loads(out.getvalue())}
    chosen = next(r for r in cli.values() if r["recommended"])

    shown = {m.label: m.value for m in at.metric}
    assert shown["Error (WAPE)"] == f"{chosen['wape'] * 100:.1f}%"
    assert shown["Bias"] == f"{chosen['bias'] * 100:+.1f}%"
    assert shown["Mean accuracy"] == f"{chosen['mean_accuracy'] * 100:.1f}%"
    words = next(plain(m.value) for m in at.markdown if "Recommended:" in plain(m.value))
    assert chosen["reason"] in words and chosen["window"] in words
    table = next(d.value for d in at.dataframe if "WAPE" in d.value.columns)
    assert len(table) == len(cli)
    for _, row in table.iterrows():
        assert row["WAPE"] == (
            "—" if cli[row["Method or blend"]]["wape"] is None
            else f"{cli[row['Method or blend']]['wape'] * 100:.1f}%"
        )  # fmt: skip
    page_chosen = table[table["Recommended"] == "recommended"].iloc[0]
    assert page_chosen["Method or blend"] == chosen["label"] and page_chosen["Rank"] == "1"


@pytest.mark.parametrize(
    ("note", "shown"),
    [(None, ""), (float("nan"), ""), ("", ""), ("no period to score", "no period to score")],
)
def test_marked_notes_are_text(note: object, shown: str) -> None:
    """The page shows `note` as it is: a missing note reads as nothing, never None/nan."""
    summary = score_candidates(HISTORY)
    summary.loc[0, "note"] = note
    rec = recommend(summary, backtest_window(HISTORY), kind="month")
    assert mark_recommended(summary, rec).loc[0, "note"] == shown
