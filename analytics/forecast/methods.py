"""The forecasting methods, each a pure function of a few numbers.

Why pure functions on small inputs: a forecast method is a formula an executive must be
able to check by hand ("a $1,000 deal in Trial counts $600"), and the backtest runs the
same formula for dozens of past dates. So the database work (which deals were open, how
old, in which stage, what was already won) is done by SQL in `analytics.forecast.inputs`,
which hands each method only sums and counts; the method itself is arithmetic here, with
no database, clock or settings lookup, and is tested against figures worked out by hand.
Definitions, with the reasons behind each choice: docs/metrics.md (Forecast).

Amounts are in the reporting currency; probabilities are **percent** (0-100) where they
come from the stage list (as in settings) and **fractions** (0-1) everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from analytics.settings import Stage

# Method keys in display order; the page, the report and the backtest use these names.
STAGE_WEIGHTED = "stage_weighted"
RUN_RATE = "run_rate"
SALES_CYCLE = "sales_cycle"
COMMIT = "commit"
BEST_CASE = "best_case"
RECOMMENDED = "recommended"
METHODS: tuple[str, ...] = (STAGE_WEIGHTED, RUN_RATE, SALES_CYCLE, COMMIT, BEST_CASE)
METHOD_LABELS: dict[str, str] = {
    STAGE_WEIGHTED: "Stage-weighted",
    RUN_RATE: "Historical run-rate",
    SALES_CYCLE: "Sales-cycle length",
    COMMIT: "Rep commit",
    BEST_CASE: "Rep best case",
    RECOMMENDED: "Recommended",
}

# Forecast categories, cumulative: best case includes commit, pipeline includes best case.
CATEGORIES: tuple[str, ...] = ("commit", "best case", "pipeline")

# Sales-cycle defaults: a segment needs this many won deals (in the look-back) for its own
# typical cycle and win rate; otherwise all segments' figures are used.
MIN_SEGMENT_WON = 5
# Run-rate: the measured growth is clamped to +-25% so one odd quarter cannot double or
# halve the forecast.
MAX_GROWTH = 0.25


def stage_key(name: str | None) -> str:
    """Stage names are matched ignoring case and surrounding spaces (as the headline does)."""
    return "" if name is None else str(name).strip().lower()


def stage_probabilities(
    stages: Iterable[Stage], overrides: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Stage key -> win probability in percent, from the stage list, with what-if overrides.

    `overrides` maps a stage name (any case) to a percent; the settings stay untouched, so a
    what-if never changes anyone else's figures.
    """
    out = {stage_key(s.name): float(s.probability) for s in stages}
    for name, percent in (overrides or {}).items():
        value = float(percent)
        if not 0.0 <= value <= 100.0:
            raise ValueError(f"probability for {name!r} must be within 0-100, not {percent!r}")
        out[stage_key(name)] = value
    return out


# --- 1. stage-weighted -----------------------------------------------------------------


def stage_weighted_forecast(
    open_amounts: Mapping[str, float],
    probabilities: Mapping[str, float],
    already_won: float = 0.0,
) -> float:
    """Already won + sum over stages of the open amount x the stage's probability.

    `open_amounts`: stage name -> summed amount of the open deals expected to close in the
    period; `probabilities`: stage key -> percent (`stage_probabilities`). A stage missing
    from the list weighs 0, as on the Overview's weighted pipeline. Linear in the amounts,
    so summing per stage first gives exactly the per-deal result.
    """
    weighted = sum(
        float(amount) * probabilities.get(stage_key(stage), 0.0) / 100.0
        for stage, amount in open_amounts.items()
    )
    return float(already_won) + weighted


# --- 2. historical run-rate ------------------------------------------------------------


def run_rate_forecast(
    trailing_90_day_avg: float,
    growth: float,
    new_reps: float,
    deals_per_new_rep: float,
    avg_new_rep_deal: float,
    *,
    months: float = 1.0,
    already_won: float = 0.0,
) -> float:
    """The domain brief's historical forecast, for `months` months still to come.

    trailing_90_day_avg x (1 + growth) x months  +  new reps x deals each x average deal
    x months  +  already won. The brief's example: 1,000,000 + 5% (50,000) + 5 new reps x
    5 deals x 1,000 (25,000) = 1,075,000 for next month. `trailing_90_day_avg` is the
    average revenue per month over the trailing 90 days; `deals_per_new_rep` and
    `avg_new_rep_deal` describe a new rep's first month. Each part is computed separately,
    so exact inputs give an exact sum (no 1.05 multiplier to round).
    """
    base = float(trailing_90_day_avg) * float(months)
    ramp = float(new_reps) * float(deals_per_new_rep) * float(avg_new_rep_deal) * float(months)
    return float(already_won) + base + base * float(growth) + ramp


def measured_growth(
    trailing_revenue: float, previous_revenue: float, limit: float = MAX_GROWTH
) -> float:
    """Year-over-year growth: the last 365 days' revenue over the 365 days before, +-limit.

    A year against a year, so a seasonal dip (summer after a strong spring) is not read as
    a trend; clamped so one odd year cannot double or halve the forecast. 0 when the
    earlier year earned nothing: no basis for a trend.
    """
    if previous_revenue <= 0:
        return 0.0
    growth = float(trailing_revenue) / float(previous_revenue) - 1.0
    return max(-limit, min(limit, growth))


@dataclass(frozen=True)
class RunRateInputs:
    """What the run-rate needs, measured from the data as of a date (see inputs.py)."""

    revenue_90: float  # won in the 90 days up to the as-of date
    revenue_year: float  # won in the 365 days up to the as-of date
    revenue_prev_year: float  # won in the 365 days before those (0: no basis for growth)
    new_reps: int  # reps hired in the 90 days up to the as-of date
    deals_per_new_rep: float  # won deals in a past new rep's first 30 days, on average
    avg_new_rep_deal: float  # average amount of those deals
    months_remaining: float  # the period's months x the share of its days still to come
    already_won: float  # won in the period, as of the date
    has_history: bool = True  # anything was ever won before the as-of date


def run_rate_from_inputs(inputs: RunRateInputs, growth: float | None = None) -> float | None:
    """The run-rate forecast for what remains of the period, plus what is already won.

    Monthly average = 90-day revenue / 3; months = the period's length in months x the
    share of its days after the as-of date (a whole month ahead = 1, a quarter = 3, half
    of a 30-day month left = 0.5); growth is `measured_growth` (year over year) unless
    given. None without any won deal before the date (no history to run on).
    """
    if not inputs.has_history:
        return None
    rate = (
        measured_growth(inputs.revenue_year, inputs.revenue_prev_year) if growth is None else growth
    )
    return run_rate_forecast(
        trailing_90_day_avg=inputs.revenue_90 / 3.0,
        growth=rate,
        new_reps=inputs.new_reps,
        deals_per_new_rep=inputs.deals_per_new_rep,
        avg_new_rep_deal=inputs.avg_new_rep_deal,
        months=inputs.months_remaining,
        already_won=inputs.already_won,
    )


# --- 3. sales-cycle length -------------------------------------------------------------


def cycle_close_probability(age_days: float, typical_days: float) -> float:
    """Chance a deal has reached its decision by the time it is `age_days` old.

    The domain brief's curve, linear and capped at 1: a deal 2 months into a typical
    4-month cycle has a 50% chance, one past its typical cycle 100%. A deal with a
    negative age (created after the date) counts 0.
    """
    if typical_days <= 0:
        raise ValueError("the typical cycle must be positive")
    return max(0.0, min(1.0, float(age_days) / float(typical_days)))


@dataclass(frozen=True)
class SegmentCycle:
    """A segment's won deals in the look-back: median cycle (days) and win rate by value."""

    typical_days: float | None
    win_rate: float | None  # won amount / closed amount, 0-1
    won_deals: int


def sales_cycle_forecast(
    open_deals: Iterable[tuple[str, float, float]],
    segments: Mapping[str, SegmentCycle],
    overall: SegmentCycle,
    already_won: float = 0.0,
    min_won: int = MIN_SEGMENT_WON,
) -> float | None:
    """Already won + sum of amount x close probability at the period's end x win rate.

    `open_deals`: (segment, age in days on the period's last day, amount) of each open deal
    expected to close in the period (or pre-summed per segment and age: the formula is
    linear in the amount). The close probability is `cycle_close_probability` against the
    segment's typical (median) cycle of won deals; since a deal that closes may still be
    lost, it is multiplied by the segment's win rate by value. A segment with fewer than
    `min_won` won deals uses the overall figures. None when even the overall figures are
    missing (too few won deals to know a typical cycle).
    """
    if overall.typical_days is None or overall.win_rate is None or overall.won_deals < min_won:
        return None
    total = float(already_won)
    for segment, age_days, amount in open_deals:
        own = segments.get(segment)
        use = own if own is not None and own.won_deals >= min_won else overall
        if use.typical_days is None or use.win_rate is None or use.typical_days <= 0:
            use = overall
        chance = cycle_close_probability(age_days, float(use.typical_days))  # type: ignore[arg-type]
        total += float(amount) * chance * float(use.win_rate)  # type: ignore[arg-type]
    return total


# --- 4. rep judgement / forecast categories ---------------------------------------------


def category_of(label: str | None) -> str | None:
    """A CRM forecast category -> commit / best case / pipeline; None for omitted.

    Salesforce's Commit, Best Case, Pipeline, Closed and Omitted; anything else (blank,
    HubSpot's own words) counts as pipeline, the least committal bucket.
    """
    text = stage_key(label)
    if "omit" in text:
        return None
    if "commit" in text or text == "closed":
        return "commit"
    if "best" in text:
        return "best case"
    return "pipeline"


@dataclass(frozen=True)
class CategoryCall:
    """One rep's (or group's) cumulative call for a period: commit <= best case <= pipeline."""

    commit: float
    best_case: float
    pipeline: float

    def __add__(self, other: CategoryCall) -> CategoryCall:
        return CategoryCall(
            self.commit + other.commit,
            self.best_case + other.best_case,
            self.pipeline + other.pipeline,
        )


ZERO_CALL = CategoryCall(0.0, 0.0, 0.0)


def call_from_fields(already_won: float, open_by_category: Mapping[str, float]) -> CategoryCall:
    """The call the deals' own forecast-category field implies, cumulative.

    commit = already won + open commit; best case = commit + open best case; pipeline =
    best case + open pipeline. Omitted deals are left out.
    """
    commit = float(already_won) + float(open_by_category.get("commit", 0.0))
    best = commit + float(open_by_category.get("best case", 0.0))
    return CategoryCall(commit, best, best + float(open_by_category.get("pipeline", 0.0)))


def call_from_submission(submitted: Mapping[str, float]) -> CategoryCall:
    """A submitted call (category -> amount, cumulative as reps submit it).

    A category the rep left out takes the one below it (no best case -> best case =
    commit), so the range never shrinks because of a blank.
    """
    commit = float(submitted.get("commit", 0.0))
    best = float(submitted.get("best case", commit))
    return CategoryCall(commit, best, float(submitted.get("pipeline", best)))


def rollup_calls(
    calls: Mapping[str, CategoryCall], group_of: Mapping[str, str | None]
) -> dict[str, CategoryCall]:
    """Sum reps' calls by manager or team; reps without a group fall under "(none)"."""
    out: dict[str, CategoryCall] = {}
    for rep, call in calls.items():
        group = group_of.get(rep) or "(none)"
        out[group] = out.get(group, ZERO_CALL) + call
    return out


# --- 5. recommended ------------------------------------------------------------------


def blend(values: Iterable[float | None]) -> float | None:
    """The plain average of the methods' forecasts; None if any of them is missing."""
    items = list(values)
    if not items or any(v is None for v in items):
        return None
    return sum(float(v) for v in items) / len(items)  # type: ignore[arg-type]
