"""The forecast for the period an executive is looking at: number, range, gap, movers, what-if.

Why one object: the Forecast page, the `report forecast` command and the what-if controls
must all show the same number for the same scope, so `period_forecast` computes everything
once (every method, the recommended one, the commit / best case / pipeline range, what is
already won, the quota gap and coverage, the deals behind it) and the callers only draw.

Which data: a period that is not over yet is forecast *live*, from the current
`opportunities` as of the data date (the newest export) and every forecast call. A period
that is over shows what the methods said at its start (the backtest's forecast, from the
snapshot), next to what actually closed; its "deals" are the ones open in that snapshot.

The what-if (`what_if`) is a pure function of the deals and the method inputs: override
stage probabilities or leave deals out, and see the deal-based methods move.
Definitions: docs/metrics.md (Forecast), "Current period".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import duckdb
import pandas as pd

from analytics.forecast import inputs as fi
from analytics.forecast.backtest import (
    NO_CALLS_NOTE,
    NO_STAGES,
    Recommendation,
    accuracy,
    backtest,
    forecast_values,
    method_notes,
    rebuilt_start_ask,
    start_ask,
    start_snapshot,
    total_call,
)
from analytics.forecast.methods import (
    BEST_CASE,
    COMMIT,
    METHOD_LABELS,
    METHODS,
    RECOMMENDED,
    SALES_CYCLE,
    STAGE_WEIGHTED,
    CategoryCall,
    rollup_calls,
    sales_cycle_forecast,
    stage_key,
    stage_probabilities,
)
from analytics.metrics.availability import NO_QUOTAS
from analytics.numbers import counted, verb
from analytics.pointintime import snapshot_dates
from analytics.scope import Period, Scope, data_as_of, owner_filter_sql
from analytics.settings import Stage, load_stages

TOP_DEALS = 10
METHOD_ROW_COLUMNS = ["method", "label", "forecast", "actual", "error", "accuracy"]
GROUPINGS = ("rep", "manager", "team")

DEAL_COLUMNS = [
    "opportunity_id",
    "opportunity_name",
    "account",
    "owner",
    "stage",
    "forecast_category",
    "close_date",
    "amount",
    "probability",
    "weighted",
    "upside",
    "downside",
    "swing",
]

QUOTA_SQL = f"""
SELECT sum(
    CAST(q.amount AS DOUBLE)
    * (least(q.period_end, CAST($period_end AS DATE))
       - greatest(q.period_start, CAST($period_start AS DATE)) + 1)
    / (q.period_end - q.period_start + 1)
)
FROM quotas AS q
LEFT JOIN reps AS r ON r.rep = q.owner
WHERE {owner_filter_sql("q.owner")}
  AND q.period_start <= $period_end
  AND q.period_end >= $period_start
  AND q.period_end >= q.period_start
"""


@dataclass
class PeriodForecast:
    """Everything the page shows about one period's forecast (None = not defined)."""

    period: Period
    status: str  # "live", "closed" (period over: start-of-period forecast) or "no data"
    data_date: date | None  # the data the forecast reads (snapshot or export date)
    values: dict[str, float | None]
    recommendation: Recommendation
    recommended: float | None
    range: CategoryCall | None  # commit / best case / pipeline, summed over reps
    already_won: float
    actual: float | None  # what closed won in the period so far (today's data)
    open_amount: float
    open_deals: int
    quota: float | None
    deals: pd.DataFrame  # DEAL_COLUMNS, every open deal expected in the period
    calls: dict[str, CategoryCall] = field(default_factory=dict)  # per rep
    submitted_owners: int = 0
    probabilities: dict[str, float] = field(default_factory=dict)
    inputs: fi.ForecastInputs | None = None
    quotas_in_data: bool = True  # False: the quotas table is empty (no quota export yet)
    # where a finished period's start-of-period pipeline came from: "snapshot", or rebuilt
    # from the current export ("stage history", "rebuilt") when no export was taken near
    # its start, as the backtest rebuilds it (analytics/pointintime.py); None when live
    source: str | None = None

    @property
    def finished(self) -> bool:
        """The period ended before the data's as-of date: its actual is known."""
        return self.status != "live"

    @property
    def gap_to_quota(self) -> float | None:
        """Quota - recommended forecast, for a period still running (positive = the
        forecast falls short). None once the period is over: then the actual is known and
        `actual_vs_quota` says how it ended, not a forecast."""
        if self.finished or self.quota is None or self.recommended is None:
            return None
        return self.quota - self.recommended

    @property
    def actual_vs_quota(self) -> float | None:
        """Actual - quota for a finished period (positive = above quota); None before."""
        if not self.finished or self.quota is None or self.actual is None:
            return None
        return self.actual - self.quota

    @property
    def to_go(self) -> float | None:
        """Quota - already won: what is still to book to make the number."""
        return None if self.quota is None else self.quota - self.already_won

    @property
    def no_basis(self) -> str | None:
        """Why a running period has no forecast worth showing, or None when it has one.

        No open deal closes in the period, nothing is won in it and no method found
        anything to go on (each says 0 or nothing): a 0 would read as "nothing will
        land", when the data simply does not reach this period.
        """
        if self.status != "live" or self.open_deals or self.already_won:
            return None
        if any(v for v in self.values.values() if v is not None):
            return None
        undated = (
            f" ({counted(self.open_undated, 'open deal')} {verb(self.open_undated, 'has', 'have')} "
            "no close date and cannot be placed in "
            "any period)"
            if self.open_undated
            else ""
        )
        return (
            f"No data for {self.period.label}: no open deal closes in it{undated}, nothing "
            "has been won in it, and no forecast call covers it, so no method has anything "
            "to go on."
        )

    @property
    def open_unvalued(self) -> int:
        """Open deals closing in the period without a value in the reporting currency
        (no amount, or a currency without an exchange rate): not in `open_amount`."""
        return 0 if self.inputs is None else self.inputs.open_unvalued

    @property
    def open_undated(self) -> int:
        """Open deals the export gives no expected close date: they cannot be placed in
        this period or any other, so they are in no "closing in" figure."""
        return 0 if self.inputs is None else self.inputs.open_undated

    @property
    def open_pipeline(self) -> float | None:
        """Open pipeline closing in the period: the priced part. None (no data) when no
        open deal can be placed in the period because the open deals have no close date,
        or when the deals closing in it all lack a usable amount. 0 only when there are no
        open deals at all, or all of them close in other periods."""
        if not self.open_deals and self.open_undated:
            return None
        if self.open_deals and self.open_unvalued >= self.open_deals:
            return None
        return self.open_amount

    @property
    def open_pipeline_note(self) -> str | None:
        """Why the open pipeline is partial or missing, in words; None when it is whole."""
        notes = []
        undated = self.open_undated
        if undated:
            deals = "open deal has" if undated == 1 else "open deals have"
            if not self.open_deals:
                notes.append(
                    f"No data: {undated} {deals} no close date, so they cannot be placed in "
                    "a period, and no open deal has a close date in this one."
                )
            else:
                notes.append(
                    f"{undated} more {deals} no close date, so they cannot be placed in a "
                    "period and are not counted here."
                )
        if self.open_unvalued:
            if self.open_deals and self.open_unvalued >= self.open_deals:
                notes.append(
                    f"No data: none of the {counted(self.open_deals, 'open deal')} closing in the "
                    "period has an amount in the reporting currency (blank amount or no "
                    "exchange rate)."
                )
            else:
                notes.append(
                    f"{self.open_unvalued} of the {counted(self.open_deals, 'open deal')} "
                    f"closing in the period {verb(self.open_unvalued, 'has', 'have')} no amount "
                    "in the reporting currency (blank amount or no exchange rate): the figure "
                    "is the priced part."
                )
        return " ".join(notes) or None

    @property
    def quota_note(self) -> str | None:
        """Why the quota card is empty (None when there is a quota): the data holds no
        quotas at all, or none of them covers this scope and period."""
        if self.quota is not None:
            return None
        if not self.quotas_in_data:
            return f"No data: {NO_QUOTAS} (import a quotas file to compare with quota)."
        return "No data: no quota covers this scope and period."

    @property
    def gap_note(self) -> str | None:
        """Why "Gap to quota" is empty for a running period (None when it has a value, or
        for a finished period, which is judged by `actual_vs_quota` instead)."""
        if self.finished or self.gap_to_quota is not None:
            return None
        if self.no_basis:
            return self.no_basis
        if self.quota is None:
            return self.quota_note
        return (
            f"No data: the recommended method ({self.recommendation.label}) has no "
            f"forecast for {self.period.label}."
        )

    @property
    def actual_vs_quota_note(self) -> str | None:
        """Why "Actual vs quota" is empty for a finished period (None when it has one)."""
        if not self.finished or self.actual_vs_quota is not None:
            return None
        return self.quota_note

    @property
    def range_note(self) -> str | None:
        """Why the reps' call cards are empty (None when there is a call to show)."""
        if self.range is not None:
            return None
        if self.status == "no data":
            return (
                "No data: the period is over and no pipeline export was taken at its start, "
                "so there is no call from that time."
            )
        return NO_CALLS_NOTE

    def method_note(self, method: str) -> str | None:
        """Why `method` (or the recommended one) has no forecast here; None when it has."""
        value = self.recommended if method == RECOMMENDED else self.values.get(method)
        if value is not None:
            return None
        if self.inputs is None:
            return self.range_note if method in (COMMIT, BEST_CASE) else (
                "No data: no pipeline export from the start of this period to forecast from."
            )  # fmt: skip
        notes = method_notes(self.inputs)
        if self.source == "rebuilt":
            notes = {**notes, STAGE_WEIGHTED: NO_STAGES}
        if method == RECOMMENDED:
            missing = [notes[m] for m in METHODS if self.values.get(m) is None and notes[m]]
            return " ".join(dict.fromkeys(missing)) or None
        return notes.get(method)

    @property
    def coverage(self) -> float | None:
        """Open pipeline expected in the period / what is still to book (KPI definition);
        None when that pipeline has no data (see `open_pipeline`)."""
        remaining = self.to_go
        if remaining is None or remaining <= 0 or self.open_pipeline is None:
            return None
        return self.open_pipeline / remaining

    @property
    def coverage_note(self) -> str | None:
        """Why coverage is empty, in words (None when it has a value)."""
        if self.coverage is not None:
            return None
        if self.quota is None:
            return self.quota_note
        if self.to_go is not None and self.to_go <= 0:
            return "Not defined: the quota is already booked, nothing is left to go."
        if self.open_pipeline is None:
            return self.open_pipeline_note
        return None

    def top_deals(self, n: int = TOP_DEALS) -> pd.DataFrame:
        return top_movers(self.deals, n)

    @property
    def top_deals_note(self) -> str | None:
        """Why some open deals have no stage probability and no swing (the dash), or None.

        Why: a pipeline rebuilt without stage history knows no deal's stage then, and the
        deal list read "Stage prob. 0%, Weighted 0" for every deal, a 0 that only meant
        "not known"."""
        deals = self.deals
        if deals.empty:
            return None
        unknown = int(deals["probability"].isna().sum())  # unknown stage (`deal_table`)
        if not unknown:
            return None
        day = f" on {self.data_date:%d %b %Y}" if self.data_date else ""
        rebuilt = " (rebuilt from created and close dates)" if self.source == "rebuilt" else ""
        if unknown == len(deals):
            return (
                f"No open deal has a known stage{day}{rebuilt}: no stage probability, so how "
                "far each could move the stage-weighted forecast is not known (the dash); "
                "listed by amount."
            )
        return (
            f"{counted(unknown, 'open deal')} {verb(unknown, 'has', 'have')} no known "
            f"stage{day}: no stage probability, so how far {verb(unknown, 'it', 'they')} could "
            "move the stage-weighted forecast is not known (the dash); listed after the others."
        )


# --- pure helpers ----------------------------------------------------------------------


def deal_table(deals: pd.DataFrame, probabilities: Mapping[str, float]) -> pd.DataFrame:
    """Add each open deal's stage probability and how far it can move the forecast.

    weighted = amount x p (its part of the stage-weighted forecast); upside = amount x
    (1 - p), what winning it adds; downside = amount x p, what losing it takes away;
    swing = the larger of the two. An unpriced deal (blank amount, or a currency without an
    exchange rate) has no amount, so its amount and these four are not defined (NaN, shown
    as the dash, never 0): it moves no forecast and ranks after every priced deal.

    A deal whose stage is not known (a pipeline rebuilt from created and close dates, or
    before its first stage change) has no stage probability either: probability and the
    four are undefined too, never "0%" and "0" (it counts in no stage-weighted forecast,
    and how far it could move one is not known); it ranks after the deals that have them.
    """
    out = deals.copy()
    amount = pd.to_numeric(out.get("amount"), errors="coerce").astype(float)
    # looked up once per distinct stage, then mapped: a Python call per deal was half a
    # second of the Forecast page at 227,000 open deals
    stages = out["stage"]
    names = [s for s in stages.dropna().unique() if isinstance(s, str) and s.strip()]
    known = stages.isin(names)
    p = stages.map({s: probabilities.get(stage_key(s), 0.0) / 100.0 for s in names})
    p = pd.to_numeric(p, errors="coerce").fillna(0.0).astype(float).where(known.astype(bool))
    out["amount"] = amount
    out["probability"] = p
    out["weighted"] = amount * p
    out["upside"] = amount * (1.0 - p)
    out["downside"] = amount * p
    out["swing"] = out[["upside", "downside"]].max(axis=1)
    for column in DEAL_COLUMNS:
        if column not in out.columns:
            out[column] = None
    return out[[*DEAL_COLUMNS, *[c for c in ("segment", "age_end") if c in out.columns]]]


def top_movers(deals: pd.DataFrame, n: int = TOP_DEALS) -> pd.DataFrame:
    """The `n` deals whose outcome moves the forecast most (largest swing, then amount);
    unpriced deals (no swing) come last, their amounts left undefined."""
    if deals.empty:
        return deals[DEAL_COLUMNS].copy() if set(DEAL_COLUMNS) <= set(deals.columns) else deals
    ranked = deals.sort_values(
        ["swing", "amount", "opportunity_id"],
        ascending=[False, False, True],
        kind="stable",
        na_position="last",
    )
    return ranked.head(n)[DEAL_COLUMNS].reset_index(drop=True)


@dataclass(frozen=True)
class WhatIf:
    """A scenario against the base: every method's value, before and after."""

    base: dict[str, float | None]
    scenario: dict[str, float | None]
    base_recommended: float | None
    scenario_recommended: float | None
    excluded: tuple[str, ...]

    def delta(self, method: str) -> float | None:
        before, after = self.base.get(method), self.scenario.get(method)
        return None if before is None or after is None else after - before


def what_if(
    forecast: PeriodForecast,
    *,
    overrides: Mapping[str, float] | None = None,
    exclude: Iterable[str] = (),
    stages: Sequence[Stage] | None = None,
) -> WhatIf:
    """Re-run the deal-based methods with other stage probabilities or without some deals.

    Stage-weighted and sales-cycle are recomputed from the deals (minus `exclude`, by
    opportunity id); the run-rate does not look at deals and the rep calls are the reps'
    own numbers, so those stay as they are. The recommended forecast follows its recipe.
    `overrides` (stage -> percent) apply on top of `stages` (default: the forecast's own
    probabilities). Pure: nothing is read or saved.
    """
    base_probs = stage_probabilities(stages) if stages is not None else dict(forecast.probabilities)
    probabilities = {**base_probs, **stage_probabilities((), overrides)}
    dropped = {str(x) for x in exclude}
    deals = forecast.deals
    keep = deals[~deals["opportunity_id"].astype(str).isin(dropped)] if len(deals) else deals
    scenario = dict(forecast.values)
    weighted = deal_table(keep, probabilities)["weighted"].sum() if len(keep) else 0.0
    if forecast.values.get(STAGE_WEIGHTED) is not None:
        scenario[STAGE_WEIGHTED] = forecast.already_won + float(weighted)
    if forecast.inputs is not None and forecast.values.get(SALES_CYCLE) is not None:
        ins = forecast.inputs
        triples = zip(keep["segment"], keep["age_end"], keep["amount"], strict=True)
        rows = [
            (str(seg), float(age), float(amount))
            for seg, age, amount in triples
            if not pd.isna(age) and not pd.isna(amount)
        ]
        scenario[SALES_CYCLE] = sales_cycle_forecast(
            rows, ins.segments, ins.overall_cycle, forecast.already_won
        )
    rec = forecast.recommendation
    return WhatIf(
        base=dict(forecast.values),
        scenario=scenario,
        base_recommended=rec.value(forecast.values),
        scenario_recommended=rec.value(scenario),
        excluded=tuple(sorted(dropped & set(deals["opportunity_id"].astype(str)))),
    )


def what_if_stages(
    stages: Sequence[Stage], deal_stages: Iterable[str | None]
) -> list[tuple[str, float]]:
    """(stage, probability in percent) for each open stage of the settings, in their order,
    that at least one of the open deals (their stages: `deal_stages`) is in.

    Why: the what-if offers a probability to change only where a change moves the number;
    a stage no open deal of the period is in would be a control that does nothing. Stages
    match by `stage_key` (case and surrounding spaces ignored), as the forecast does.
    """
    in_use = {stage_key(s) for s in deal_stages}
    return [
        (s.name, float(s.probability))
        for s in stages
        if not s.is_closed and stage_key(s.name) in in_use
    ]


def what_if_change(before: float | None, after: float | None) -> float | None:
    """The what-if's change of a forecast, after - before, to the cent; None when either
    is undefined. Below half a unit it is 0: the scenario sums per deal where the base
    summed per stage, so an unchanged forecast can differ by float noise."""
    if before is None or after is None:
        return None
    delta = round(after - before, 2)
    return 0.0 if abs(delta) < 0.5 else delta


def calls_table(
    calls: Mapping[str, CategoryCall],
    roster: Mapping[str, tuple[str | None, str | None]],
    by: str = "rep",
) -> pd.DataFrame:
    """Commit / best case / pipeline per rep, manager or team (largest commit first).

    `roster` maps rep -> (manager, team); reps missing from it fall under "(none)".
    """
    if by not in GROUPINGS:
        raise ValueError(f"unknown grouping {by!r}: use {', '.join(GROUPINGS)}")
    if by == "rep":
        grouped = dict(calls)
    else:
        index = 0 if by == "manager" else 1
        grouped = rollup_calls(calls, {rep: roster.get(rep, (None, None))[index] for rep in calls})
    rows = [(g, c.commit, c.best_case, c.pipeline) for g, c in grouped.items()]
    frame = pd.DataFrame(rows, columns=[by, "commit", "best_case", "pipeline"])
    return frame.sort_values(["commit", by], ascending=[False, True]).reset_index(drop=True)


# --- reading -----------------------------------------------------------------------------


def quota_for(con: duckdb.DuckDBPyConnection, scope: Scope) -> float | None:
    """The scope's quota for its period: overlapping quota rows pro-rated by days."""
    row = con.execute(QUOTA_SQL, scope.params()).fetchone()
    return None if row is None or row[0] is None else float(row[0])


def quotas_in_data(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any quota was imported at all: "no quotas in the data" and "no quota for
    this scope and period" are different reasons, with different fixes."""
    return con.execute("SELECT EXISTS (SELECT 1 FROM quotas)").fetchone()[0]


def roster(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[str | None, str | None]]:
    """rep -> (manager, team) from the reps table."""
    rows = con.execute("SELECT rep, manager, team FROM reps").fetchall()
    return {rep: (manager, team) for rep, manager, team in rows}


def period_forecast(
    con: duckdb.DuckDBPyConnection,
    scope: Scope,
    *,
    recommendation: Recommendation | None = None,
    stages: Sequence[Stage] | None = None,
    overrides: Mapping[str, float] | None = None,
    growth: float | None = None,
    data_date: date | None = None,
) -> PeriodForecast:
    """The forecast for `scope` (its period and filters); see the module docstring.

    `recommendation` normally comes from the page's backtest of the same period kind
    (`Backtest.recommendation`, the rank 1 of the accuracy table the page shows); without
    it a backtest of that kind is run here.
    """
    stage_list = list(stages) if stages is not None else list(load_stages(con))
    probabilities = stage_probabilities(stage_list, overrides)
    today = data_date or data_as_of(con)
    period = scope.period
    if recommendation is None:
        kind = period.kind if period.kind in ("month", "quarter") else "quarter"
        recommendation = backtest(
            con, scope, kind=kind, stages=stage_list, overrides=overrides,
            growth=growth, data_date=today, fiscal_start_month=period.fiscal_start_month,
        ).recommendation  # fmt: skip
    ask: fi.Ask | None = None
    status = "no data"
    if today is not None and period.end > today:
        ask, status = fi.Ask(period, today, None, "current"), "live"
    elif today is not None:
        snap = start_snapshot(snapshot_dates(con), period.start)
        if snap is not None:
            ask, status = start_ask(period, snap), "closed"
        else:
            # no export near its start: rebuilt as it stood the day before, as the backtest
            # and the convergence chart rebuild it (a new-user test found the page saying
            # "no forecast: no export of that time" beside the chart's rebuilt forecast)
            ask, status = rebuilt_start_ask(con, period), "closed"
    actual = fi.actuals(con, [period], scope).get(period.label, (0.0, 0))[0]
    quota = quota_for(con, scope)
    has_quotas = quota is not None or quotas_in_data(con)
    if ask is None:
        return PeriodForecast(
            period=period, status=status, data_date=None, values=dict.fromkeys(METHODS),
            recommendation=recommendation, recommended=None, range=None, already_won=actual,
            actual=actual, open_amount=0.0, open_deals=0, quota=quota,
            deals=pd.DataFrame(columns=DEAL_COLUMNS), probabilities=probabilities,
            quotas_in_data=has_quotas,
        )  # fmt: skip
    found = fi.gather(con, [ask], scope)[ask.key]
    values = forecast_values(found, probabilities, growth=growth)
    if ask.source == "rebuilt":  # no stage known then (method_note says so: NO_STAGES)
        values = {**values, STAGE_WEIGHTED: None}
    deals = deal_table(fi.open_deals(con, ask, scope), probabilities)
    return PeriodForecast(
        period=period,
        status=status,
        data_date=ask.data_date,
        values=values,
        recommendation=recommendation,
        recommended=recommendation.value(values),
        range=total_call(found),
        already_won=found.already_won,
        actual=actual,
        open_amount=found.open_amount,
        open_deals=found.open_deals,
        quota=quota,
        deals=deals,
        calls=dict(found.calls),
        submitted_owners=found.submitted_owners,
        probabilities=probabilities,
        inputs=found,
        quotas_in_data=has_quotas,
        source=None if status == "live" else ask.source,
    )


def method_rows(forecast: PeriodForecast) -> pd.DataFrame:
    """One row per method and the recommended one: the forecast, and once the period is
    over the actual against it (error = forecast - actual, accuracy = 1 - |A - F| / A).

    A finished period is judged by its actual, not by a gap computed from a forecast;
    a period still running has no error yet (actual = won so far).
    """
    over = forecast.finished
    rows = []
    for method in [*METHODS, RECOMMENDED]:
        value = forecast.recommended if method == RECOMMENDED else forecast.values.get(method)
        label = METHOD_LABELS[method]
        if method == RECOMMENDED:
            label = f"{label}: {forecast.recommendation.label}"
        actual = forecast.actual
        error = None if not over or value is None or actual is None else value - actual
        rows.append(
            [method, label, value, actual, error, accuracy(actual, value) if over else None]
        )
    return pd.DataFrame(rows, columns=METHOD_ROW_COLUMNS)
