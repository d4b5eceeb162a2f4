"""Forecast vs actual: what each method would have said, and how close it came.

Why a backtest: fewer than a quarter of sales organisations reach 75% forecast accuracy and
fewer than half trust their forecast (domain brief); a number earns trust by its track
record. So for each past month or quarter this module rebuilds every method's forecast
*as it could have been made at the start of the period*: from the latest pipeline snapshot
on or before the first day (no older than `max_snapshot_age_days`) and the forecast calls
submitted before that day, never from today's data, and sets it against what actually
closed won in the period (today's `opportunities`, where late changes have settled).

Scores (docs/metrics.md (Forecast)): accuracy = 1 - |A - F| / A per period (None when
A = 0); across periods WAPE = sum|A - F| / sum A and bias = sum(F - A) / sum A (positive =
over-forecasting). Every candidate (each method and each equal blend of two, a blend
scored on its own averaged forecasts) is scored over one window, the backtested periods
with a start-of-period export, into one accuracy table; the recommended candidate is that
table's rank 1, read from the table itself, so "lowest error" is true of the table the
page shows and the figures beside it are its own. Convergence reruns the methods from
every weekly snapshot inside a quarter, to show how the number firms up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import combinations

import duckdb
import pandas as pd

from analytics.forecast import inputs as fi
from analytics.forecast.methods import (
    BEST_CASE,
    COMMIT,
    METHOD_LABELS,
    METHODS,
    MIN_SEGMENT_WON,
    RECOMMENDED,
    RUN_RATE,
    SALES_CYCLE,
    STAGE_WEIGHTED,
    CategoryCall,
    blend,
    run_rate_from_inputs,
    sales_cycle_forecast,
    stage_probabilities,
    stage_weighted_forecast,
)
from analytics.metrics.availability import before_data, data_start
from analytics.numbers import counted, verb
from analytics.numbers import number_or_none as _none
from analytics.pointintime import Basis, bases, snapshot_dates
from analytics.scope import Period, PeriodKind, Scope, data_as_of
from analytics.settings import Stage, load_stages

MAX_SNAPSHOT_AGE_DAYS = 31  # a start-of-period snapshot older than this is no basis
MIN_TRACK_PERIODS = 3  # periods a method needs behind it before it can be recommended
DEFAULT_PERIODS = 12
DEFAULT_QUARTERS = 4  # completed quarters in the convergence chart

BACKTEST_COLUMNS = [
    "period",
    "period_start",
    "period_end",
    "snapshot_date",
    "method",
    "forecast",
    "actual",
    "error",
    "accuracy",
]


# --- scores -----------------------------------------------------------------------------


def accuracy(actual: float | None, forecast: float | None) -> float | None:
    """1 - |A - F| / A; None when A is 0 or unknown, or there is no forecast.

    Can be negative (a forecast more than twice the actual): it is not floored at 0, so
    a wild miss still reads as worse than a merely bad one.
    """
    if actual is None or forecast is None or actual == 0:
        return None
    return 1.0 - abs(float(actual) - float(forecast)) / abs(float(actual))


def _pairs(
    actuals: Iterable[float | None], forecasts: Iterable[float | None]
) -> list[tuple[float, float]]:
    return [
        (float(a), float(f))
        for a, f in zip(actuals, forecasts, strict=True)
        if a is not None and f is not None and not pd.isna(a) and not pd.isna(f)
    ]


def wape(actuals: Iterable[float | None], forecasts: Iterable[float | None]) -> float | None:
    """Weighted absolute percentage error: sum|A - F| / sum A over periods with both.

    Weighted by the actuals, so a miss in a big month counts more than in a quiet one and a
    zero month cannot make it infinite. None when the actuals sum to 0.
    """
    pairs = _pairs(actuals, forecasts)
    total = sum(a for a, _ in pairs)
    if not pairs or total == 0:
        return None
    return sum(abs(a - f) for a, f in pairs) / total


def bias(actuals: Iterable[float | None], forecasts: Iterable[float | None]) -> float | None:
    """sum(F - A) / sum A: positive = over-forecasting, negative = sandbagging."""
    pairs = _pairs(actuals, forecasts)
    total = sum(a for a, _ in pairs)
    if not pairs or total == 0:
        return None
    return sum(f - a for a, f in pairs) / total


# --- one forecast from its inputs -----------------------------------------------------


def forecast_values(
    inputs: fi.ForecastInputs,
    probabilities: Mapping[str, float],
    *,
    growth: float | None = None,
) -> dict[str, float | None]:
    """Every method's forecast from one Ask's inputs (None where a method has no basis)."""
    total = total_call(inputs)
    return {
        STAGE_WEIGHTED: stage_weighted_forecast(
            inputs.open_by_stage, probabilities, inputs.already_won
        ),
        RUN_RATE: run_rate_from_inputs(inputs.run_rate, growth) if inputs.run_rate else None,
        SALES_CYCLE: sales_cycle_forecast(
            inputs.cycle_deals, inputs.segments, inputs.overall_cycle, inputs.already_won
        ),
        COMMIT: total.commit if total is not None else None,
        BEST_CASE: total.best_case if total is not None else None,
    }


NO_CALLS_NOTE = "No data: no forecast calls and no forecast category on these deals."


def method_notes(inputs: fi.ForecastInputs) -> dict[str, str | None]:
    """Why each method has no forecast from these inputs (None where it has one): the
    words a page puts beside a method's "no data", so a missing forecast is never read
    as a forecast of 0. Mirrors the conditions of `forecast_values`."""
    cycle = inputs.overall_cycle
    cycle_note = None
    if cycle.typical_days is None or cycle.win_rate is None or cycle.won_deals < MIN_SEGMENT_WON:
        cycle_note = (
            f"No data: {counted(cycle.won_deals, 'won deal')} with a created date closed in the "
            f"{fi.CYCLE_LOOKBACK_DAYS} days before; the sales-cycle method needs at least "
            f"{MIN_SEGMENT_WON} to know a typical cycle."
        )
    run_note = None
    if not inputs.run_rate or not inputs.run_rate.has_history:
        run_note = "No data: no deal was won before this date, so there is no rate to run on."
    calls_note = None if inputs.has_categories else NO_CALLS_NOTE
    return {
        STAGE_WEIGHTED: None,
        RUN_RATE: run_note,
        SALES_CYCLE: cycle_note,
        COMMIT: calls_note,
        BEST_CASE: calls_note,
    }


def total_call(inputs: fi.ForecastInputs) -> CategoryCall | None:
    """All owners' calls summed; None when neither calls nor category fields exist."""
    if not inputs.has_categories:
        return None
    out = CategoryCall(0.0, 0.0, 0.0)
    for call in inputs.calls.values():
        out = out + call
    return out


# --- which periods, which snapshot -------------------------------------------------------


def completed_periods(
    kind: PeriodKind, count: int, data_date: date, fiscal_start_month: int | None = None
) -> list[Period]:
    """The `count` periods of `kind` that ended on or before `data_date`, oldest first."""
    if count < 1:
        return []
    current = Period.containing(data_date, kind, fiscal_start_month)
    last = current if current.end <= data_date else current.previous()
    return [last.shifted(-back) for back in range(count - 1, -1, -1)]


def start_snapshot(
    snapshots: Sequence[date], day: date, max_age_days: int = MAX_SNAPSHOT_AGE_DAYS
) -> date | None:
    """The latest snapshot on or before `day`, if it is at most `max_age_days` older."""
    best = None
    for snap in snapshots:
        if snap <= day and (best is None or snap > best):
            best = snap
    if best is None or (day - best).days > max_age_days:
        return None
    return best


def start_ask(period: Period, snapshot: date) -> fi.Ask:
    """The forecast "at the start of the period": its snapshot, calls submitted before day 1."""
    return fi.Ask(period, snapshot, datetime.combine(period.start, time()), "snapshot")


def rebuilt_start_ask(con: duckdb.DuckDBPyConnection, period: Period) -> fi.Ask:
    """The start-of-period forecast when no snapshot is near the period's first day: the
    pipeline as it stood at the end of the day before, rebuilt from the current export
    (with the stage history when there is any; analytics/pointintime.py), and the calls
    submitted before day 1. Nothing dated on or after day 1 is read (docs/metrics.md,
    "Point in time", for the one compromise: an open deal's amount from the export nearest
    the day, which may be after it)."""
    return rebuilt_start_asks(con, [period])[0]


def rebuilt_start_asks(con: duckdb.DuckDBPyConnection, periods: Sequence[Period]) -> list[fi.Ask]:
    """`rebuilt_start_ask` of every period, with one look at the sources for all of them
    (`bases`): a look per period read the stage history's first day once per period, a
    third of the Forecast page's time at 1,000,000 deals."""
    days = [period.start - timedelta(days=1) for period in periods]
    found = bases(con, days, max_snapshot_age_days=-1)
    return [
        fi.Ask(period, day, datetime.combine(period.start, time()), basis.source)
        for period, day, basis in zip(periods, days, found, strict=True)
    ]


# Why stage-weighted is left out of a period rebuilt without any stage history.
NO_STAGES = (
    "stage-weighted left out: no snapshot or stage history on or before the period's start, "
    "so no deal's stage then is known"
)


# --- recommendation ---------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A method or an equal blend of two; `key` is the method key or 'a+b'."""

    components: tuple[str, ...]

    @property
    def key(self) -> str:
        return "+".join(self.components)

    @property
    def label(self) -> str:
        names = [METHOD_LABELS[c] for c in self.components]
        return names[0] if len(names) == 1 else "Blend of " + " and ".join(names)

    @property
    def is_blend(self) -> bool:
        return len(self.components) > 1

    def value(self, values: Mapping[str, float | None]) -> float | None:
        return blend(values.get(c) for c in self.components)


def candidates(methods: Sequence[str] = METHODS) -> list[Candidate]:
    """Each method alone, then every equal blend of two (singles win ties: simpler)."""
    singles = [Candidate((m,)) for m in methods]
    return singles + [Candidate(pair) for pair in combinations(methods, 2)]


CANDIDATES: tuple[Candidate, ...] = tuple(candidates())
CANDIDATE_BY_KEY: dict[str, Candidate] = {c.key: c for c in CANDIDATES}
DEFAULT_CANDIDATE = Candidate((STAGE_WEIGHTED,))
TIE_TOLERANCE = 1e-9  # WAPEs closer than this are equal (float noise, not a difference)

SUMMARY_COLUMNS = [
    "candidate",
    "label",
    "blend",
    "periods",
    "wape",
    "bias",
    "mean_accuracy",
    "within_10pct",
    "rank",
    "recommended",
    "note",
]

# One backtested period: (label, actual, each method's forecast); None = no forecast made.
HistoryRow = tuple[str, float | None, Mapping[str, float | None]]


def backtest_window(history: Sequence[HistoryRow]) -> list[str]:
    """The periods every candidate is scored over: those with a start-of-period forecast.

    A period without a usable export (every method None) has nothing to score; all the
    others form one window, the same for every row of the accuracy table.
    """
    return [
        label
        for label, actual, values in history
        if actual is not None and any(v is not None for v in values.values())
    ]


def score_candidates(
    history: Sequence[HistoryRow], *, min_periods: int = MIN_TRACK_PERIODS
) -> pd.DataFrame:
    """The accuracy table the recommendation is chosen from: one row per candidate.

    Every candidate (each method and each equal blend of two, the blend's own forecasts
    = the average of its components' forecasts in each period) is scored over the same
    window (`backtest_window`). A candidate without a forecast in every period of the
    window is listed with its count and a note but no scores: its error over fewer periods
    would not be comparable. Ranked by WAPE, ties by the candidate order (single methods
    first, in METHODS order): rank 1 is the lowest WAPE in this very table.
    """
    window = set(backtest_window(history))
    rows = [(label, a, v) for label, a, v in history if label in window]
    out = []
    for order, cand in enumerate(CANDIDATES):
        pairs = [(float(a), cand.value(v)) for _, a, v in rows]  # type: ignore[arg-type]
        have = [(a, f) for a, f in pairs if f is not None]
        row: dict[str, object] = {
            "candidate": cand.key,
            "label": cand.label,
            "blend": cand.is_blend,
            "periods": len(have),
            "wape": None,
            "bias": None,
            "mean_accuracy": None,
            "within_10pct": None,
            "rank": None,
            "recommended": False,
            "note": "",
            "_order": order,
        }
        if not rows:
            row["note"] = "no period to score"
        elif len(have) < len(rows):
            missing = len(rows) - len(have)
            row["note"] = f"no forecast in {missing} of the {len(rows)} periods: not compared"
        else:
            acts, fcs = [a for a, _ in have], [f for _, f in have]
            row["wape"], row["bias"] = wape(acts, fcs), bias(acts, fcs)
            accs = [x for a, f in have if (x := accuracy(a, f)) is not None]
            if accs:
                row["mean_accuracy"] = sum(accs) / len(accs)
                row["within_10pct"] = sum(1 for x in accs if x >= 0.9) / len(accs)
            if row["wape"] is None:
                row["note"] = "nothing was won in these periods: no error to score"
        out.append(row)
    ranked = sorted(
        (r for r in out if r["wape"] is not None),
        key=lambda r: (r["wape"], r["_order"]),  # type: ignore[arg-type, return-value]
    )
    for position, r in enumerate(ranked, start=1):
        r["rank"] = position
    frame = pd.DataFrame(out)
    frame["_rank_sort"] = frame["rank"].fillna(len(out) + 1)
    frame = frame.sort_values(["_rank_sort", "_order"], kind="stable")
    frame["rank"] = frame["rank"].astype("Int64")
    return frame.drop(columns=["_rank_sort", "_order"]).reset_index(drop=True)[SUMMARY_COLUMNS]


@dataclass(frozen=True)
class Recommendation:
    """The candidate with the lowest WAPE in the accuracy table, its own scores, the
    window they cover, and the reason in words (or why there is no choice by error)."""

    candidate: Candidate
    reason: str
    wape: float | None
    bias: float | None
    periods: int  # periods its scores rest on (= the window when chosen by error)
    window: tuple[str, ...] = ()  # the period labels of the window, oldest first
    by_error: bool = False  # chosen as the lowest WAPE; False = the default, see reason
    tied_with: tuple[str, ...] = ()  # labels of candidates with the same WAPE
    mean_accuracy: float | None = None
    within_10pct: float | None = None

    @property
    def label(self) -> str:
        return self.candidate.label

    @property
    def scores_note(self) -> str | None:
        """Why the track record has periods but no scores (None when it has them): every
        period in the window had an actual of 0, and an error relative to 0 won is not
        defined, so the scores are "no data", never 0% or 100%."""
        if not self.periods or self.wape is not None:
            return None
        span = ", ".join(self.window) if self.window else "the periods scored"
        return f"No data: nothing was won in {span}, so there is no error to score."

    def value(self, values: Mapping[str, float | None]) -> float | None:
        return self.candidate.value(values)


def window_words(window: Sequence[str], kind: str) -> str:
    """'the 11 months 2024-12 to 2025-10' / 'the month 2025-10' / 'no month'."""
    if not window:
        return f"no {kind}"
    if len(window) == 1:
        return f"the {kind} {window[0]}"
    return f"the {len(window)} {kind}s {window[0]} to {window[-1]}"


def _default_candidate(summary: pd.DataFrame, kind: str) -> tuple[Candidate, str]:
    """The method shown when methods cannot be compared by their error, and its words.

    The stage-weighted forecast, unless it has no forecast in any period of the table
    (a rebuilt pipeline knows no stages): then the first single method that has one, so
    the table never marks a row of dashes "recommended" (found by a new user).
    """
    if len(summary) == 0:
        return DEFAULT_CANDIDATE, "The stage-weighted forecast"
    periods = dict(zip(summary["candidate"], summary["periods"], strict=True))
    if periods.get(DEFAULT_CANDIDATE.key, 0):
        return DEFAULT_CANDIDATE, "The stage-weighted forecast"
    for cand in CANDIDATES:
        if not cand.is_blend and periods.get(cand.key, 0):
            return cand, (
                f"With no stage-weighted forecast in any {kind} here, {cand.label.lower()}"
            )
    return DEFAULT_CANDIDATE, "The stage-weighted forecast"


def recommend(
    summary: pd.DataFrame,
    window: Sequence[str],
    *,
    kind: str = "period",
    min_periods: int = MIN_TRACK_PERIODS,
) -> Recommendation:
    """Pick rank 1 of the accuracy table `summary` (`score_candidates`) over `window`.

    The choice reads only the table it is handed, so "lowest error" is true of the table
    the page shows. With fewer than `min_periods` periods in the window, or no candidate
    scored, there is no choice by error: the stage-weighted forecast is the default and
    the reason says why. Ties (equal WAPE) go to the simpler candidate, and the reason
    names the others.
    """
    window = tuple(window)
    where = window_words(window, kind)
    scored = summary[summary["rank"].notna()].sort_values("rank") if len(summary) else summary

    def own(cand: Candidate, reason: str) -> Recommendation:
        row = summary[summary["candidate"] == cand.key] if len(summary) else summary
        first = row.iloc[0] if len(row) else None
        return Recommendation(
            cand, reason,
            _none(first["wape"]) if first is not None else None,
            _none(first["bias"]) if first is not None else None,
            int(first["periods"]) if first is not None else 0,
            window, False, (),
            _none(first["mean_accuracy"]) if first is not None else None,
            _none(first["within_10pct"]) if first is not None else None,
        )  # fmt: skip

    fallback, named = _default_candidate(summary, kind)
    if len(window) < min_periods:
        return own(
            fallback,
            f"Not enough history to compare methods: {counted(len(window), 'past ' + kind)} with a "
            f"start-of-{kind} forecast, {min_periods} needed. {named} is the default, not "
            "chosen by its error.",
        )
    if scored.empty:
        return own(
            fallback,
            f"No method can be scored over {where}: nothing was won in them. {named} is the "
            "default, not chosen by its error.",
        )
    best = scored.iloc[0]
    cand = CANDIDATE_BY_KEY[str(best["candidate"])]
    error, lean = float(best["wape"]), _none(best["bias"]) or 0.0
    ties = scored[(scored["wape"] - error).abs() <= TIE_TOLERANCE].iloc[1:]
    others = scored[(scored["wape"] - error).abs() > TIE_TOLERANCE]
    direction = "over" if lean > 0 else "under"
    scores = f"WAPE {error:.1%}, {direction}-forecast by {abs(lean):.1%}"
    if len(scored) == 1:
        # one candidate scored: "lowest of 1" would claim a comparison that did not happen
        reason = (
            f"{cand.label}: the only method with a forecast in every {kind} of {where}, so "
            f"nothing else could be compared with it ({scores})"
        )
    else:
        reason = (
            f"{cand.label}: lowest error of the {len(scored)} compared in the table below, "
            f"over {where} ({scores})"
        )
    if len(ties):
        names = ", ".join(str(x) for x in ties["label"])
        reason += (
            f"; tied with {names} (same WAPE): the simpler one, first in the table's order, "
            "is chosen"
        )
    if len(others):
        runner = others.iloc[0]
        reason += f"; next best {runner['label']} (WAPE {float(runner['wape']):.1%})"
    return Recommendation(
        cand, reason + ".", error, _none(best["bias"]), int(best["periods"]), window, True,
        tuple(str(x) for x in ties["label"]),
        _none(best["mean_accuracy"]), _none(best["within_10pct"]),
    )  # fmt: skip


def mark_recommended(summary: pd.DataFrame, rec: Recommendation) -> pd.DataFrame:
    """The table with its `recommended` column set on the chosen candidate's row and every
    `note` a text ("" where there is nothing to say)."""
    out = summary.copy()
    if len(out):
        out["recommended"] = out["candidate"] == rec.candidate.key
    # a candidate without a remark reads as empty text, never None or nan: the page shows
    # the column as it is
    out["note"] = out["note"].fillna("").astype(str)
    return out


# --- the backtest ---------------------------------------------------------------------


@dataclass
class Backtest:
    """Forecast vs actual per period and method, the accuracy table and the choice.

    `summary` is the accuracy table the page shows (`score_candidates`, with the chosen
    row marked `recommended`) and `recommendation` is read from it, so the words and the
    table cannot disagree. `table` rows with method "recommended" are the chosen
    candidate's own forecasts (a blend's average, never a component's).
    """

    kind: PeriodKind
    table: pd.DataFrame  # BACKTEST_COLUMNS + recommended_as (the chosen candidate's label)
    summary: pd.DataFrame  # SUMMARY_COLUMNS, one row per candidate, rank 1 first
    recommendation: Recommendation
    skipped: list[str] = field(default_factory=list)  # periods without a usable snapshot
    history: list[HistoryRow] = field(default_factory=list)  # oldest first
    no_data: str | None = None  # why nothing could be backtested (None: something was)
    # the periods that ended before the scope's data starts (no actual: "no data yet"),
    # oldest first, and that first day: the page's chart leaves them off and says so
    before_data: tuple[str, ...] = ()
    data_start: date | None = None
    # with_convergence: the inputs of the first convergence chart's weekly asks, read in
    # the backtest's pass, for `convergence(known=...)`
    gathered: fi.Gathered | None = None

    @property
    def window(self) -> tuple[str, ...]:
        return self.recommendation.window

    def values_for(self, period_label: str) -> dict[str, float | None]:
        rows = self.table[self.table["period"] == period_label]
        return {m: _none(f) for m, f in zip(rows["method"], rows["forecast"], strict=True)}


def _why_fewer(
    kind: str,
    wanted: int,
    skipped: int,
    window: int,
    before: int = 0,
    first_day: date | None = None,
) -> str:
    """Why `window` of the last `wanted` periods can be backtested: no export near their
    start (`skipped`), ended before the data starts on `first_day` (`before`: no actual),
    and for the rest some method has no forecast there. Never "0 of the last 12 have no
    export"."""
    parts = []
    if skipped:
        parts.append(
            f"{skipped} of the last {wanted} {verb(skipped, 'has', 'have')} no export near "
            f"{verb(skipped, 'its', 'their')} start"
        )
    if before and first_day is not None:
        parts.append(
            f"{before} of the last {wanted} ended before the data starts on "
            f"{first_day:%d %b %Y}, so {verb(before, 'it has', 'they have')} no actual"
        )
    other = wanted - skipped - window - (before if first_day is not None else 0)
    if other > 0:
        shown = skipped or (before and first_day is not None)
        parts.append(
            f"in {counted(other, kind)}"
            f"{'' if shown else f' of the last {wanted}'} some method has no forecast"
            f"{'' if first_day is not None else ', e.g. before the data starts'}"
        )
    return "; ".join(parts)  # empty: only that many were asked for


def no_data_reason(
    kind: str,
    wanted: int,
    skipped: int,
    window: int,
    before: int = 0,
    first_day: date | None = None,
) -> str | None:
    """Why the backtest has nothing (or too little) to compare; None when it has enough.
    `before` of the `wanted` periods ended before the data starts on `first_day`."""
    if wanted == 0:
        return f"No {kind} has ended before the data's as-of date yet: nothing to backtest."
    if window == 0 and skipped == 0:
        # every one was rebuilt for its start from the current export (no export near any
        # start), and no method had a basis in any of them
        return (
            f"No {kind} among the last {wanted} has a forecast to score: each was rebuilt "
            "for its start from the current export, and no method had a basis then (no "
            "deal won before it to learn a run rate or a sales cycle from, no stage known "
            "then, no forecast call), e.g. because the data starts after them."
        )
    if window == 0 and skipped < wanted:
        return (
            f"No {kind} among the last {wanted} has a forecast to score "
            f"({_why_fewer(kind, wanted, skipped, window, before, first_day)})."
        )
    if window == 0:
        return (
            f"No {kind} among the last {wanted} can be backtested: a forecast is rebuilt "
            f"from the pipeline export taken on or up to {MAX_SNAPSHOT_AGE_DAYS} days before "
            f"a {kind}'s first day, and there is none. Upload weekly exports (with their "
            "as-of date) to build a track record."
        )
    if window < MIN_TRACK_PERIODS:
        why = _why_fewer(kind, wanted, skipped, window, before, first_day)
        return (
            f"Only {counted(window, 'past ' + kind)} can be backtested"
            f"{f' ({why})' if why else ''}; {MIN_TRACK_PERIODS} are needed to compare "
            "methods by their error."
        )
    return None


def backtest(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    kind: PeriodKind = "month",
    periods: int = DEFAULT_PERIODS,
    stages: Sequence[Stage] | None = None,
    overrides: Mapping[str, float] | None = None,
    growth: float | None = None,
    data_date: date | None = None,
    max_snapshot_age_days: int = MAX_SNAPSHOT_AGE_DAYS,
    fiscal_start_month: int | None = None,
    rebuild: bool = True,
    with_convergence: bool = False,
) -> Backtest:
    """Backtest the last `periods` completed periods of `kind` before the data date.

    The scope's filters (team, region, rep) apply; its period is ignored. `data_date`
    defaults to the current data's as-of date; `overrides` are what-if stage
    probabilities; `growth` fixes the run-rate's growth instead of measuring it.

    Each period's forecast is made from the snapshot near its start. When no period has
    one (a first upload) and `rebuild`, every period's is made from the pipeline rebuilt
    as of the day before it started (`rebuilt_start_ask`): run-rate and sales-cycle work
    from that; stage-weighted needs the stage history, and is left out (NO_STAGES in the
    table's `note`) without it. The table's `source` column names each period's source.

    `with_convergence`: the weekly asks of the period whose convergence a reader sees
    first (`first_convergence_period`) are gathered in the same pass as the backtest's
    own, and handed on in `Backtest.gathered` for `convergence(known=...)`: one pass over
    the deals instead of two (issue 14, the Forecast page at 1,000,000 deals).
    """
    probabilities = stage_probabilities(stages or load_stages(con), overrides)
    today = data_date or data_as_of(con)
    if today is None:
        return _empty_backtest(kind, f"No data yet: nothing to backtest by {kind}.")
    wanted = completed_periods(kind, periods, today, fiscal_start_month)
    snaps = snapshot_dates(con)
    asks: dict[str, fi.Ask] = {}
    skipped: list[str] = []
    for period in wanted:
        snap = start_snapshot(snaps, period.start, max_snapshot_age_days)
        if snap is None:
            skipped.append(period.label)
        else:
            asks[period.label] = start_ask(period, snap)
    if not asks and rebuild:
        # not one period has an export near its start (e.g. after a first upload): the
        # whole track record is rebuilt from the current export instead. One kind of
        # source per window: snapshot-based and rebuilt forecasts are never scored together.
        rebuilt = rebuilt_start_asks(con, wanted)
        asks = {period.label: ask for period, ask in zip(wanted, rebuilt, strict=True)}
        skipped = []
    weekly: list[fi.Ask] = []
    if with_convergence and wanted:
        shown = first_convergence_period(scope, wanted)
        weekly = _convergence_plan(con, [shown], today, max_snapshot_age_days)[2]
    found = fi.gather(con, [*asks.values(), *weekly], scope)
    gathered = fi.Gathered.of(con, scope, found, weekly) if weekly else None
    actual = fi.actuals(con, wanted, scope)
    # a period that ended before the scope's data starts has no actual: its 0 would only
    # mean "no data yet" (the Overview's rule, `before_data`)
    first_day = data_start(con, scope)
    before = {p.label: why for p in wanted if (why := before_data(p, first_day))}
    history: list[HistoryRow] = []
    rows = []
    for period in wanted:
        ask = asks.get(period.label)
        values = (
            forecast_values(found[ask.key], probabilities, growth=growth)
            if ask is not None
            else dict.fromkeys(METHODS)
        )
        if ask is not None and ask.source == "rebuilt":
            values = {**values, STAGE_WEIGHTED: None}  # no stage known then: NO_STAGES
        a = None if period.label in before else actual.get(period.label, (0.0, 0))[0]
        history.append((period.label, a, values))
        for method in METHODS:
            rows.append(_row(period, ask, method, values[method], a))
    window = backtest_window(history)
    summary = score_candidates(history)
    rec = recommend(summary, window, kind=kind)
    summary = mark_recommended(summary, rec)
    for period, (_label, a, values) in zip(wanted, history, strict=True):
        rows.append(_row(period, asks.get(period.label), RECOMMENDED, rec.value(values), a))
    table = pd.DataFrame(rows, columns=BACKTEST_COLUMNS)
    table["recommended_as"] = None
    table.loc[table["method"] == RECOMMENDED, "recommended_as"] = rec.label
    # where each period's "then" came from (snapshot, stage history or rebuilt)
    table["source"] = [asks[p].source if p in asks else None for p in table["period"]]
    table["note"] = [
        before.get(p)
        or (
            NO_STAGES if p in asks and asks[p].source == "rebuilt" and m == STAGE_WEIGHTED else None
        )
        for p, m in zip(table["period"], table["method"], strict=True)
    ]
    order = {m: i for i, m in enumerate([*METHODS, RECOMMENDED])}
    table = table.sort_values(
        ["period_start", "method"], key=lambda col: col.map(order) if col.name == "method" else col
    ).reset_index(drop=True)
    return Backtest(
        kind=kind,
        table=table,
        summary=summary,
        recommendation=rec,
        skipped=skipped,
        history=history,
        no_data=no_data_reason(
            kind, len(wanted), len(skipped), len(window), len(before), first_day
        ),
        gathered=gathered,
        before_data=tuple(p.label for p in wanted if p.label in before),
        data_start=first_day,
    )


def _row(
    period: Period, ask: fi.Ask | None, method: str, forecast: float | None, actual: float | None
) -> list[object]:
    error = None if forecast is None or actual is None else forecast - actual
    return [
        period.label,
        period.start,
        period.end,
        None if ask is None else ask.data_date,
        method,
        forecast,
        actual,
        error,
        accuracy(actual, forecast),
    ]


def _empty_backtest(kind: PeriodKind, reason: str) -> Backtest:
    table = pd.DataFrame(columns=[*BACKTEST_COLUMNS, "recommended_as"])
    summary = score_candidates([])
    rec = recommend(summary, (), kind=kind)
    return Backtest(kind, table, mark_recommended(summary, rec), rec, [], [], reason)


# --- convergence ---------------------------------------------------------------------


CONVERGENCE_COLUMNS = [
    "period",
    "period_start",
    "period_end",
    "weeks_before_end",
    "as_of",
    "source",
    "snapshot_date",
    "method",
    "forecast",
    "actual",
    "note",
]

# Why a method has no forecast at a point (or anywhere in a period), in words.
LEFT_OUT_WHY: dict[str, str] = {
    STAGE_WEIGHTED: (
        "stage-weighted: neither a snapshot nor stage history on or before that day, so no "
        "deal's stage then is known"
    ),
    RUN_RATE: "run-rate: no deal had been won by that day, so there is no rate to run on",
    SALES_CYCLE: (
        "sales-cycle: fewer than 5 deals won in the year before that day, so no typical "
        "cycle is known"
    ),
    COMMIT: "rep commit: no forecast call and no forecast category known on that day",
    BEST_CASE: "rep best case: no forecast call and no forecast category known on that day",
    RECOMMENDED: "recommended: its method(s) had no forecast on that day",
}


def convergence_days(period: Period, today: date | None = None) -> list[tuple[int, date]]:
    """(weeks before the period's end, day) for each weekly as-of date of `period`.

    Counted back from the period's last day in 7-day steps (0 = the last day) down to the
    first step on or before the day before the period began, so the first point is the
    forecast made before day 1 and the last one that of the final day. Days after `today`
    (the data's as-of date) are not asked: nothing is known about them yet. Oldest first.
    """
    out: list[tuple[int, date]] = []
    before_start = period.start - timedelta(days=1)
    weeks = 0
    while True:
        day = period.end - timedelta(days=7 * weeks)
        if today is None or day <= today:
            out.append((weeks, day))
        if day <= before_start:
            break
        weeks += 1
    return out[::-1]


def first_convergence_period(scope: Scope, periods: Sequence[Period]) -> Period:
    """The period whose convergence the Forecast page draws first, of the backtested
    `periods` (oldest first): the scope's own when it is one of them, else the newest (as
    pages/forecast.py `show_convergence` picks its default)."""
    return next((p for p in periods if p.label == scope.period.label), periods[-1])


def _convergence_plan(
    con: duckdb.DuckDBPyConnection,
    periods: Sequence[Period],
    today: date,
    max_snapshot_age_days: int,
) -> tuple[list[tuple[Period, int, date]], list[Basis], list[fi.Ask]]:
    """Each weekly point (period, weeks before its end, day) of `periods`, its basis and
    its Ask, in order."""
    points = [(p, weeks, day) for p in periods for weeks, day in convergence_days(p, today)]
    found_bases = bases(con, [day for _, _, day in points],
                        max_snapshot_age_days=max_snapshot_age_days)  # fmt: skip
    asks = [convergence_ask(p, b) for (p, _, _), b in zip(points, found_bases, strict=True)]
    return points, found_bases, asks


def convergence_ask(period: Period, basis: Basis) -> fi.Ask:
    """The forecast for `period` as known on `basis.day`: from the snapshot the
    point-in-time layer chose (exact), else rebuilt as of that day (with the stage history
    when there is one), and the forecast calls submitted up to the end of that day."""
    cutoff = datetime.combine(basis.day + timedelta(days=1), time())
    if basis.source == "snapshot" and basis.snapshot_date is not None:
        return fi.Ask(period, basis.snapshot_date, cutoff, "snapshot")
    return fi.Ask(period, basis.day, cutoff, basis.source)


@dataclass
class Convergence:
    """How each method's forecast of past periods moved week by week towards the actual.

    `table` has one row per (period, weekly as-of day, method): CONVERGENCE_COLUMNS, the
    forecast None where the method had none that day (`note` says why). `actuals` maps a
    period label to what closed won in it. `left_out` maps a period label to the methods
    with no forecast on any of its days, and why. `methods` lists the methods in the
    table, in order (the recommended one last when a recommendation was given, with its
    label in `recommended_as`).
    """

    kind: PeriodKind
    periods: list[Period]
    table: pd.DataFrame
    actuals: dict[str, float]
    left_out: dict[str, dict[str, str]]
    methods: list[str]
    recommended_as: str | None = None

    def for_period(self, label: str) -> pd.DataFrame:
        """The rows of one period, oldest day first."""
        return self.table[self.table["period"] == label].reset_index(drop=True)

    def as_json(self) -> dict[str, dict[str, object]]:
        """The CLI's `convergence` key: per period its actual, dates, and per method the
        list of {as_of, weeks_before_end, forecast, source, snapshot_date, note}; methods
        with no forecast at all are under `left_out` with the reason."""
        out: dict[str, dict[str, object]] = {}
        for period in self.periods:
            rows = self.for_period(period.label)
            gone = self.left_out.get(period.label, {})
            methods: dict[str, list[dict[str, object]]] = {}
            for method in self.methods:
                if method in gone:
                    continue
                mine = rows[rows["method"] == method]
                methods[method] = [
                    {
                        "as_of": r.as_of.isoformat(),
                        "weeks_before_end": int(r.weeks_before_end),
                        "forecast": _none(r.forecast),
                        "source": r.source,
                        "snapshot_date": None
                        if r.snapshot_date is None or pd.isna(r.snapshot_date)
                        else r.snapshot_date.isoformat(),
                        "note": r.note if isinstance(r.note, str) else None,
                    }
                    for r in mine.itertuples(index=False)
                ]
            out[period.label] = {
                "period_start": period.start.isoformat(),
                "period_end": period.end.isoformat(),
                "actual": self.actuals.get(period.label),
                "methods": methods,
                "left_out": dict(gone),
                "recommended_as": self.recommended_as,
            }
        return out


def convergence_by_week(rows: pd.DataFrame) -> pd.DataFrame:
    """One period's convergence rows (`Convergence.for_period`) as the table a reader
    scans: one row per weekly day, the earliest (most weeks before the end) first, with
    `weeks_before_end`, `as_of`, `source`, then one column per method in the rows, in
    their order (the recommended one last), NaN where a method had no forecast that day.

    Why here and not in the page: the page's table and the chart must read the same
    points, and a reshape in a page is one no test reaches (issue 16, item 6).
    """
    keys = ["weeks_before_end", "as_of", "source"]
    if rows.empty:
        return pd.DataFrame(columns=keys)
    methods = list(dict.fromkeys(rows["method"]))
    # one (day, method) pair per row: a plain pivot, so no day is paired with another
    # day's date (pivot_table(dropna=False) does that: 6 weeks read as 36 rows)
    values = rows.assign(forecast=rows["forecast"].astype(float)).pivot(
        index="weeks_before_end", columns="method", values="forecast"
    )
    days = rows.drop_duplicates("weeks_before_end").set_index("weeks_before_end")
    wide = days[["as_of", "source"]].join(values[methods]).sort_index(ascending=False)
    wide.columns.name = None
    return wide.reset_index()[[*keys, *methods]]


def convergence(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    kind: PeriodKind = "quarter",
    periods: int = DEFAULT_QUARTERS,
    labels: Sequence[str] | None = None,
    stages: Sequence[Stage] | None = None,
    overrides: Mapping[str, float] | None = None,
    growth: float | None = None,
    data_date: date | None = None,
    max_snapshot_age_days: int = MAX_SNAPSHOT_AGE_DAYS,
    fiscal_start_month: int | None = None,
    recommendation: Recommendation | None = None,
    known: fi.Gathered | None = None,
) -> Convergence:
    """Each method's forecast of each of the last `periods` completed periods of `kind`,
    as it would have been made on each weekly as-of day (`convergence_days`), against
    what actually closed won.

    Each day's forecast reads the pipeline as known that day from the point-in-time layer
    (analytics/pointintime.py): the snapshot on or before it (exact), else the stage
    history, else the rebuild from created and close dates; the source is named per point.
    Nothing dated after the day is read (docs/metrics.md, "Point in time"; the one
    compromise: rebuilt amounts from the export nearest the day). Stage-weighted needs a stage: on a
    rebuilt day it has no forecast, and a period with only rebuilt days lists it in
    `left_out` with the reason. `labels` narrows the periods to those labels (the page
    asks for the one period shown). With `recommendation`, its candidate's own forecast
    (a blend's average) is added as the method "recommended". `known`: inputs already
    gathered for some of the weekly asks (`backtest(with_convergence=True).gathered`, of
    the same data), not read again.
    """
    probabilities = stage_probabilities(stages or load_stages(con), overrides)
    today = data_date or data_as_of(con)
    methods = [*METHODS, *([RECOMMENDED] if recommendation is not None else [])]
    rec_label = recommendation.label if recommendation is not None else None
    if today is None:
        return Convergence(kind, [], pd.DataFrame(columns=CONVERGENCE_COLUMNS), {}, {}, methods,
                           rec_label)  # fmt: skip
    wanted = completed_periods(kind, periods, today, fiscal_start_month)
    if labels is not None:
        wanted = [p for p in wanted if p.label in set(labels)]
    points, found_bases, asks = _convergence_plan(con, wanted, today, max_snapshot_age_days)
    found = fi.gather(con, asks, scope, known=known)
    actual = {k: v[0] for k, v in fi.actuals(con, wanted, scope).items()}
    rows = []
    for (period, weeks, day), basis, ask in zip(points, found_bases, asks, strict=True):
        values = forecast_values(found[ask.key], probabilities, growth=growth)
        if basis.source == "rebuilt":
            values[STAGE_WEIGHTED] = None  # no stage known that day
        if recommendation is not None:
            values[RECOMMENDED] = recommendation.value(values)
        for method in methods:
            value = values[method]
            rows.append(
                [period.label, period.start, period.end, weeks, day, basis.source,
                 basis.snapshot_date, method, value, actual.get(period.label, 0.0),
                 LEFT_OUT_WHY[method] if value is None else None]
            )  # fmt: skip
    table = pd.DataFrame(rows, columns=CONVERGENCE_COLUMNS)
    left_out: dict[str, dict[str, str]] = {}
    for period in wanted:
        mine = table[table["period"] == period.label]
        for method in methods:
            if mine.loc[mine["method"] == method, "forecast"].isna().all():
                why = LEFT_OUT_WHY[method].replace("that day", "any of its weekly days")
                left_out.setdefault(period.label, {})[method] = why
    return Convergence(
        kind, wanted, table, {p.label: actual.get(p.label, 0.0) for p in wanted}, left_out,
        methods, rec_label,
    )  # fmt: skip


def _weeks_words(weeks: Sequence[int]) -> str:
    """'weeks 13 to 7' / 'week 0' for a run of weeks before the end (largest first)."""
    ordered = sorted(set(weeks), reverse=True)
    if len(ordered) == 1:
        return f"week {ordered[0]}"
    return f"weeks {ordered[0]} to {ordered[-1]}"


SOURCE_WORDS = {
    "snapshot": "the pipeline snapshot uploaded on or before that day (exact)",
    "stage history": (
        "the pipeline rebuilt from created and close dates, stages from the stage history"
    ),
    "rebuilt": "the pipeline rebuilt from created and close dates (stage unknown)",
}


def convergence_sources(rows: pd.DataFrame) -> str:
    """Where one period's weekly points came from, in words for a caption: runs of
    consecutive weeks per source, oldest first, e.g. 'weeks 14 to 7: the pipeline
    rebuilt ...; weeks 6 to 0: the pipeline snapshot ...'. Only the weeks the chart draws
    (some method has a forecast there): 'weeks 5 to 0' under an axis of weeks 3 to 0 was
    two numbers for one thing (a new-user test)."""
    drawn = rows[rows["forecast"].notna()] if "forecast" in rows else rows
    points = (drawn if not drawn.empty else rows).drop_duplicates("weeks_before_end")
    points = points.sort_values("weeks_before_end", ascending=False)
    runs: list[tuple[str, list[int]]] = []
    for weeks, source in zip(points["weeks_before_end"], points["source"], strict=True):
        if runs and runs[-1][0] == source:
            runs[-1][1].append(int(weeks))
        else:
            runs.append((str(source), [int(weeks)]))
    return "; ".join(f"{_weeks_words(w)}: {SOURCE_WORDS.get(s, s)}" for s, w in runs)


def convergence_caveat(rows: pd.DataFrame) -> str | None:
    """What a reader must know about rebuilt points (None when every point is a snapshot):
    their expected close dates were not known then, so every deal open that day counts as
    the period's pipeline, and the deal-based methods read high on them."""
    if not rows["source"].isin(["stage history", "rebuilt"]).any():
        return None
    return (
        "On rebuilt days the deals' expected close dates were not known then, so every deal "
        "open that day counts as this period's pipeline: stage-weighted and sales-cycle read "
        "high there. Each deal's amount is the one in the uploaded export nearest that day "
        "(the latest on or before it, else the first after it)."
    )


def backtest_source_words(table: pd.DataFrame) -> str:
    """Where the backtest's start-of-period forecasts came from, for the page's caption:
    the exports of those days, or the current export rebuilt as of each day before."""
    sources = {str(x) for x in table.get("source", pd.Series(dtype=object)).dropna()}
    if not sources or sources == {"snapshot"}:
        return (
            "Each forecast as it would have been made at the start of the period, from the "
            "pipeline export of that day (never today's data), against what closed won."
        )
    how = (
        "stages from the stage history"
        if "stage history" in sources
        else "stages unknown, so stage-weighted is left out"
    )
    return (
        "Each forecast as it would have been made at the start of the period: no export of "
        "that time was uploaded, so the pipeline is rebuilt from the current export as it "
        f"stood the day before ({how}), reading nothing dated later except each deal's "
        "amount, taken from the uploaded export nearest that day, against what closed won. "
        "The expected close dates of that time are not known, so every deal open then "
        "counts as the period's pipeline: sales-cycle reads high."
    )
