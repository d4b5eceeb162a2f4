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
over-forecasting). The recommended method is chosen walk-forward: for each period, the
method (or equal blend of two) with the lowest WAPE over the periods *before* it, so its
track record is one an executive could really have had. Convergence reruns the methods
from every weekly snapshot inside a quarter, to show how the number firms up.
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
from analytics.scope import Period, PeriodKind, Scope
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

    def value(self, values: Mapping[str, float | None]) -> float | None:
        return blend(values.get(c) for c in self.components)


def candidates(methods: Sequence[str] = METHODS) -> list[Candidate]:
    """Each method alone, then every equal blend of two (singles win ties: simpler)."""
    singles = [Candidate((m,)) for m in methods]
    return singles + [Candidate(pair) for pair in combinations(methods, 2)]


@dataclass(frozen=True)
class Recommendation:
    """The candidate with the best track record and the reason, in words."""

    candidate: Candidate
    reason: str
    wape: float | None
    bias: float | None
    periods: int  # periods its score rests on

    @property
    def label(self) -> str:
        return self.candidate.label

    def value(self, values: Mapping[str, float | None]) -> float | None:
        return self.candidate.value(values)


DEFAULT_CANDIDATE = Candidate((STAGE_WEIGHTED,))


def recommend(
    history: Sequence[tuple[float | None, Mapping[str, float | None]]],
    *,
    min_periods: int = MIN_TRACK_PERIODS,
    kind: str = "period",
) -> Recommendation:
    """Pick the candidate with the lowest WAPE over `history` [(actual, values), ...].

    Only periods with an actual above 0 and the candidate's forecast count; a candidate
    needs `min_periods` of them. Without any qualified candidate the stage-weighted method
    is the default, and the reason says so.
    """
    scored: list[tuple[float, int, Candidate, float | None, int]] = []
    for order, cand in enumerate(candidates()):
        pairs = [
            (a, v)
            for a, values in history
            if a is not None and a > 0 and (v := cand.value(values)) is not None
        ]
        if len(pairs) < min_periods:
            continue
        error = wape([a for a, _ in pairs], [v for _, v in pairs])
        if error is None:
            continue
        lean = bias([a for a, _ in pairs], [v for _, v in pairs])
        scored.append((error, order, cand, lean, len(pairs)))
    if not scored:
        usable = sum(
            1
            for a, values in history
            if a is not None and a > 0 and any(v is not None for v in values.values())
        )
        return Recommendation(
            DEFAULT_CANDIDATE,
            f"Not enough history to compare methods ({usable} past {kind}(s) with a "
            f"forecast and sales; {min_periods} needed): the stage-weighted forecast is "
            "the default.",
            None,
            None,
            0,
        )
    scored.sort(key=lambda item: (item[0], item[1]))
    error, _, best, lean, n = scored[0]
    runner = next((s for s in scored[1:] if s[2].components != best.components), None)
    direction = "over" if (lean or 0) > 0 else "under"
    reason = (
        f"{best.label}: lowest error over the last {n} {kind}s "
        f"(WAPE {error:.0%}, {direction}-forecast by {abs(lean or 0):.0%} on average)"
    )
    if runner is not None:
        reason += f"; next best {runner[2].label} (WAPE {runner[0]:.0%})"
    return Recommendation(best, reason + ".", error, lean, n)


def walk_forward(
    history: Sequence[tuple[float | None, Mapping[str, float | None]]],
    *,
    min_periods: int = MIN_TRACK_PERIODS,
) -> list[tuple[Candidate, float | None]]:
    """For each period, the candidate recommended from the periods before it, and its value.

    This is the recommended method's honest track record: no period's choice looks at
    that period's own outcome.
    """
    out = []
    for i, (_actual, values) in enumerate(history):
        pick = recommend(history[:i], min_periods=min_periods).candidate
        out.append((pick, pick.value(values)))
    return out


# --- the backtest ---------------------------------------------------------------------


@dataclass
class Backtest:
    """Forecast vs actual per period and method, with the scores and the recommendation."""

    kind: PeriodKind
    table: pd.DataFrame  # BACKTEST_COLUMNS + recommended_as (which candidate, per period)
    summary: pd.DataFrame  # per method: periods, wape, bias, mean_accuracy, within_10pct
    recommendation: Recommendation
    skipped: list[str] = field(default_factory=list)  # periods without a usable snapshot
    # (period label, actual, each method's forecast), oldest first: what recommend() reads
    history: list[tuple[str, float | None, dict[str, float | None]]] = field(default_factory=list)

    def recommendation_for(self, period_label: str) -> Recommendation:
        """The recommendation as it stood at the start of a backtested period (chosen from
        the periods before it only); the current one for any other period."""
        labels = [label for label, _, _ in self.history]
        if period_label not in labels:
            return self.recommendation
        before = [(a, v) for _, a, v in self.history[: labels.index(period_label)]]
        return recommend(before, kind=self.kind)

    def values_for(self, period_label: str) -> dict[str, float | None]:
        rows = self.table[self.table["period"] == period_label]
        return {m: _none(f) for m, f in zip(rows["method"], rows["forecast"], strict=True)}


def _none(value: object) -> float | None:
    if value is None:
        return None
    try:
        return None if pd.isna(value) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
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
) -> Backtest:
    """Backtest the last `periods` completed periods of `kind` before the data date.

    The scope's filters (team, region, rep) apply; its period is ignored. `data_date`
    defaults to the current data's as-of date; `overrides` are what-if stage
    probabilities; `growth` fixes the run-rate's growth instead of measuring it.
    """
    probabilities = stage_probabilities(stages or load_stages(con), overrides)
    today = data_date or fi.data_as_of(con)
    if today is None:
        return _empty_backtest(kind)
    wanted = completed_periods(kind, periods, today, fiscal_start_month)
    snaps = fi.snapshot_dates(con)
    asks: dict[str, fi.Ask] = {}
    skipped = []
    for period in wanted:
        snap = start_snapshot(snaps, period.start, max_snapshot_age_days)
        if snap is None:
            skipped.append(period.label)
        else:
            asks[period.label] = start_ask(period, snap)
    found = fi.gather(con, list(asks.values()), scope)
    actual = fi.actuals(con, wanted, scope)
    history: list[tuple[float | None, dict[str, float | None]]] = []
    rows = []
    for period in wanted:
        ask = asks.get(period.label)
        values = (
            forecast_values(found[ask.key], probabilities, growth=growth)
            if ask is not None
            else dict.fromkeys(METHODS)
        )
        a = actual.get(period.label, (0.0, 0))[0]
        history.append((a, values))
        for method in METHODS:
            rows.append(_row(period, ask, method, values[method], a))
    picks = walk_forward(history)
    picked_as = []
    for period, (cand, value), (a, _values) in zip(wanted, picks, history, strict=True):
        rows.append(_row(period, asks.get(period.label), RECOMMENDED, value, a))
        picked_as.append(cand.label)
    table = pd.DataFrame(rows, columns=BACKTEST_COLUMNS)
    table["recommended_as"] = None
    rec_rows = table["method"] == RECOMMENDED
    table.loc[rec_rows, "recommended_as"] = picked_as
    order = {m: i for i, m in enumerate([*METHODS, RECOMMENDED])}
    table = table.sort_values(
        ["period_start", "method"], key=lambda col: col.map(order) if col.name == "method" else col
    ).reset_index(drop=True)
    return Backtest(
        kind=kind,
        table=table,
        summary=summarise(table),
        recommendation=recommend(history, kind=kind),
        skipped=skipped,
        history=[(p.label, a, v) for p, (a, v) in zip(wanted, history, strict=True)],
    )


def _row(
    period: Period, ask: fi.Ask | None, method: str, forecast: float | None, actual: float
) -> list[object]:
    error = None if forecast is None else forecast - actual
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


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Per method: periods with a forecast, WAPE, bias, mean accuracy, share within 10%."""
    out = []
    for method in [*METHODS, RECOMMENDED]:
        rows = table[(table["method"] == method) & table["forecast"].notna()]
        acts, fcs = list(rows["actual"]), list(rows["forecast"])
        accs = [float(a) for a in rows["accuracy"] if a is not None and not pd.isna(a)]
        out.append(
            {
                "method": method,
                "label": METHOD_LABELS[method],
                "periods": len(rows),
                "wape": wape(acts, fcs),
                "bias": bias(acts, fcs),
                "mean_accuracy": sum(accs) / len(accs) if accs else None,
                "within_10pct": (sum(1 for a in accs if a >= 0.9) / len(accs)) if accs else None,
            }
        )
    return pd.DataFrame(out)


def _empty_backtest(kind: PeriodKind) -> Backtest:
    table = pd.DataFrame(columns=[*BACKTEST_COLUMNS, "recommended_as"])
    return Backtest(kind, table, summarise(table), recommend([], kind=kind), [])


# --- convergence ---------------------------------------------------------------------


CONVERGENCE_COLUMNS = [
    "quarter",
    "week",
    "snapshot_date",
    "method",
    "forecast",
    "actual",
    "accuracy",
    "complete",
]


def convergence(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    quarters: int = DEFAULT_QUARTERS,
    stages: Sequence[Stage] | None = None,
    overrides: Mapping[str, float] | None = None,
    growth: float | None = None,
    data_date: date | None = None,
    include_current: bool = True,
    max_snapshot_age_days: int = MAX_SNAPSHOT_AGE_DAYS,
    fiscal_start_month: int | None = None,
) -> pd.DataFrame:
    """Each method's forecast for a quarter from every weekly snapshot inside it.

    Week 0 is the start-of-quarter forecast (as in the backtest); week k is the forecast
    from the snapshot taken k weeks (7-day steps from the first day) into the quarter,
    reading the calls submitted up to the end of that snapshot's day. The current quarter
    is included (`complete` False, actual so far) when `include_current`.
    """
    probabilities = stage_probabilities(stages or load_stages(con), overrides)
    today = data_date or fi.data_as_of(con)
    if today is None:
        return pd.DataFrame(columns=CONVERGENCE_COLUMNS)
    wanted = completed_periods("quarter", quarters, today, fiscal_start_month)
    current = Period.containing(today, "quarter", fiscal_start_month)
    if include_current and current not in wanted:
        wanted.append(current)
    snaps = fi.snapshot_dates(con)
    plan: list[tuple[Period, int, fi.Ask]] = []
    for q in wanted:
        first = start_snapshot(snaps, q.start, max_snapshot_age_days)
        if first is not None:
            plan.append((q, 0, start_ask(q, first)))
        for snap in snaps:
            if q.start < snap <= min(q.end, today):
                cutoff = datetime.combine(snap + timedelta(days=1), time())
                plan.append((q, (snap - q.start).days // 7 + 1, fi.Ask(q, snap, cutoff)))
    found = fi.gather(con, [ask for _, _, ask in plan], scope)
    actual = fi.actuals(con, wanted, scope)
    rows = []
    for q, week, ask in plan:
        values = forecast_values(found[ask.key], probabilities, growth=growth)
        a = actual.get(q.label, (0.0, 0))[0]
        complete = q.end <= today
        for method in METHODS:
            f = values[method]
            rows.append(
                [q.label, week, ask.data_date, method, f, a,
                 accuracy(a, f) if complete else None, complete]
            )  # fmt: skip
    return pd.DataFrame(rows, columns=CONVERGENCE_COLUMNS)
