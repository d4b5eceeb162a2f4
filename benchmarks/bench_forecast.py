"""Forecast benchmark: backtesting 24 monthly periods against pandas (issue 5).

Why this workload: the Forecast page's track record is a backtest, every method rebuilt
at the start of each past month from the pipeline snapshot of that day. At scale that is
a million opportunities and a year or two of exports (52 snapshots of a few hundred
thousand rows each); the project keeps it in DuckDB SQL (`analytics.forecast.inputs`,
one pass over the snapshot rows for all periods at once), and this benchmark shows what
that buys over pandas computing the same figures, in the same run.

What is timed:

* **analytics**: `analytics.forecast.backtest.backtest(con, scope, kind="month",
  periods=24)` on a read-only connection, exactly as the page and `python -m analytics
  backtest` call it: inputs for all five methods from each start-of-month snapshot,
  actuals from `opportunities`, scores and the recommendation (rank 1 of the accuracy table);
* **pandas**: the same figures from DataFrames: per month, the start snapshot's rows,
  FX rates as of its date, stage-weighted, run-rate (90-day revenue, year-over-year
  growth, new reps' first month), sales-cycle (median cycle and win rate per segment over
  365 days, the linear curve), forecast calls and categories per owner, actuals converted
  at the close date's rate (`merge_asof`); the same recommendation.

Method (as `bench_kpis`): pandas gets its tables in memory for free (loaded once per
process through Arrow with categorical strings, outside the timed region; load time and
memory printed beside); each measurement is a fresh process with one untimed warm-up
call and `--repeat`-interleaved timed runs; the median is reported with CPU time and peak
RSS; both sides' forecasts and actuals are compared per (month, method), and a
disagreement is printed as `DIFF` and exits 1.

The data (`generate`, cached under `benchmarks/out/`): `--rows` opportunities created
2022-01-01 .. 2025-12-31 over 200 reps, each deal's life drawn once (cycle, outcome,
amount, segment, the close date its rep expects, slipping when overdue); `opportunities`
is the state on 2025-12-31, and `--snapshots` exports (default 52) every
`--snapshot-days` (default 15, so that the 52 exports reach back over the 24 months, each
month having one at most 15 days before its first day) hold the deals open on their
date plus those closed in the 365 days before it (what the methods look back on) --
not every deal ever, to keep the file within reason.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.harness import (
    OUT_DIR,
    SIDE_HEADERS,
    ChildRun,
    add_quiet_args,
    cached,
    draw_macros,
    duckdb_threads,
    format_table,
    interleave,
    load_average,
    new_import,
    new_parser,
    open_db,
    pandas_load_note,
    print_header,
    print_json,
    quiet_machine,
    run_in_child,
    side_cells,
    side_summary,
    sql_list,
    wall_cpu_ratio,
    warm_page_cache,
)

NAME = "forecast"
GENERATOR_VERSION = 1
N_REPS = 200
CREATED_FROM = date(2022, 1, 1)
AS_OF = date(2025, 12, 31)  # the current data's date: 24 complete months end on it
DEFAULT_SNAPSHOTS = 52
DEFAULT_SNAPSHOT_DAYS = 15
DEFAULT_PERIODS = 24
REL_TOL = 1e-9
ABS_TOL = 0.01  # a cent: sums of a few hundred thousand amounts in another order
SEGMENTS = ("New Business", "Renewal", "Upgrade")
STAGE_FLOW = ("Discovery", "Qualified", "Demo", "Trial", "Final Decision")
CATEGORY_OF_STAGE = ("Pipeline", "Pipeline", "Best Case", "Best Case", "Commit")


# --- the data ------------------------------------------------------------------------------


def cached_path(opps: int, snapshots: int, every: int, seed: int) -> Path:
    return OUT_DIR / f"forecast_{opps}o_{snapshots}x{every}d_seed{seed}_v{GENERATOR_VERSION}.duckdb"


def snapshot_dates(snapshots: int, every: int) -> list[date]:
    return [AS_OF - timedelta(days=every * k) for k in range(snapshots - 1, -1, -1)]


def state_sql(day: str, *, snapshots: bool = False) -> str:
    """SELECT of every deal's row as an export taken on `day` (a SQL date expression) shows
    it: closed (won or lost) once its decision day has passed, otherwise in the stage its
    age reaches (five equal steps of its cycle), expected to close on its rep's plan, or
    a week or few later once that plan has passed (slipping deals)."""
    origin = "snap_days AS s CROSS JOIN deal_gen AS g" if snapshots else "deal_gen AS g"
    closed = f"g.created + g.cycle <= {day}"
    step = f"least(5, 1 + floor(5.0 * ({day} - g.created) / g.cycle))::INT"
    plan = "g.created + round(g.cycle * (0.7 + 0.5 * g.u_plan))::INT"
    return f"""
    SELECT {"s.d AS snapshot_date," if snapshots else ""}
           'OPP-' || lpad(g.i::VARCHAR, 8, '0')                       AS opportunity_id,
           'Deal ' || g.i                                             AS opportunity_name,
           'Account ' || (g.i % 25000)                                AS account,
           'Rep ' || lpad(g.k::VARCHAR, 3, '0')                       AS owner,
           {sql_list(SEGMENTS)}[g.seg + 1]                               AS deal_type,
           CAST(g.amount AS DECIMAL(18, 2))                           AS amount,
           g.currency,
           g.created                                                  AS created_date,
           {closed}                                                   AS is_closed,
           {closed} AND g.won                                         AS is_won,
           CASE WHEN {closed} THEN CASE WHEN g.won THEN 'Closed Won' ELSE 'Closed Lost' END
                ELSE {sql_list(STAGE_FLOW)}[{step}] END                  AS stage,
           CASE WHEN {closed} THEN CASE WHEN g.won THEN 'Closed' ELSE 'Omitted' END
                ELSE {sql_list(CATEGORY_OF_STAGE)}[{step}] END           AS forecast_category,
           CASE WHEN {closed} THEN g.created + g.cycle
                WHEN {plan} > {day} THEN {plan}
                ELSE {day} + 7 + (g.i % 21)::INT END                  AS close_date
    FROM {origin}
    WHERE g.created <= {day}
    """


def build(path: Path, opps: int, snapshots: int, every: int, seed: int) -> None:
    """Fill a new database file with reps, rates, deals, snapshots, quotas and calls."""
    from analytics import db

    con = db.connect(path)
    try:
        con.execute(draw_macros(seed))
        days = (AS_OF - CREATED_FROM).days + 1
        teams = [f"Team {c}" for c in "ABCDEFGH"]
        # 200 reps; a fifth hired during the data's years (new reps for the run-rate)
        con.execute(
            f"""
            INSERT INTO reps (rep, manager, team, region, role, level, hire_date, active,
                              import_id)
            SELECT 'Rep ' || lpad(k::VARCHAR, 3, '0'), 'Manager ' || (k % 8),
                   {sql_list(teams)}[k % 8 + 1], CASE WHEN k % 8 < 4 THEN 'AMER' ELSE 'EMEA' END,
                   'AE', 'senior',
                   CASE WHEN u(k, 1) < 0.8 THEN DATE '2018-01-01' + floor(u(k, 2) * 1400)::INT
                        ELSE DATE '{CREATED_FROM}' + floor(u(k, 2) * {days})::INT END,
                   TRUE, 0
            FROM range({N_REPS}) AS t(k)
            """
        )
        con.execute(
            f"""
            INSERT INTO fx_rates (currency, rate_date, rate, import_id)
            SELECT 'EUR', CAST(m AS DATE), round(1.08 + 0.04 * sin(i / 3.0), 6), 0
            FROM (SELECT m, row_number() OVER (ORDER BY m) AS i
                  FROM generate_series(DATE '2021-12-01', DATE '{AS_OF}', INTERVAL 1 MONTH)
                       AS t(m))
            """
        )
        # Each deal's whole life, drawn once (volume grows over the years).
        con.execute(
            f"""
            CREATE TEMP TABLE deal_gen AS
            WITH base AS (
                SELECT i,
                       DATE '{CREATED_FROM}' + floor({days} * pow(u(i, 1), 0.8))::INT AS created,
                       floor(u(i, 2) * {N_REPS})::INT AS k,
                       CASE WHEN u(i, 3) < 0.6 THEN 0 WHEN u(i, 3) < 0.85 THEN 1 ELSE 2 END
                           AS seg
                FROM range({opps}) AS t(i)
            )
            SELECT i, created, k, seg,
                   least(400, 7 + floor((CASE seg WHEN 1 THEN 18 ELSE 35 END)
                                        * (-ln(u(i, 5)) - ln(u(i, 6)))))::INT AS cycle,
                   u(i, 4) < 0.25 + 0.2 * u(k, 50) AS won,
                   u(i, 7) AS u_plan,
                   CASE WHEN u(i, 9) < 0.003 THEN NULL
                        ELSE round(exp(9.2 + 0.9 * z(i, 8)) / 50) * 50 END AS amount,
                   CASE WHEN k % 8 >= 4 AND u(i, 10) < 0.3 THEN 'EUR' ELSE 'USD' END
                       AS currency
            FROM base
            """
        )
        con.execute(
            f"""
            INSERT INTO opportunities
                (opportunity_id, opportunity_name, account, owner, stage, source_stage, amount,
                 currency, probability, forecast_category, created_date, close_date, is_closed,
                 is_won, lead_source, deal_type, product, snapshot_date, import_id)
            SELECT opportunity_id, opportunity_name, account, owner, stage, stage, amount,
                   currency, NULL, forecast_category, created_date, close_date, is_closed,
                   is_won, NULL, deal_type, NULL, DATE '{AS_OF}', 0
            FROM ({state_sql(f"DATE '{AS_OF}'")})
            """
        )
        con.execute("CREATE TEMP TABLE snap_days (d DATE)")
        con.executemany(
            "INSERT INTO snap_days VALUES (?)", [[d] for d in snapshot_dates(snapshots, every)]
        )
        con.execute(
            f"""
            INSERT INTO opportunity_snapshot_history
                (snapshot_date, opportunity_id, opportunity_name, account, owner, stage,
                 source_stage, amount, currency, probability, forecast_category, created_date,
                 close_date, is_closed, is_won, lead_source, deal_type, product, import_id)
            SELECT snapshot_date, opportunity_id, opportunity_name, account, owner, stage,
                   stage, amount, currency, NULL, forecast_category, created_date,
                   close_date, is_closed, is_won, NULL, deal_type, NULL, 0
            FROM ({state_sql("s.d", snapshots=True)})
            -- the export on AS_OF is the deals' `opportunities` rows (stored once)
            WHERE (NOT is_closed OR close_date > snapshot_date - 365)
              AND snapshot_date < DATE '{AS_OF}'
            ORDER BY snapshot_date
            """
        )
        # Monthly quotas near each rep's share of bookings; each rep's call for the month
        # (commit / best case / pipeline around what it then won, bent by a habit),
        # submitted on the month's second day: after the start, so the start-of-month
        # backtest sees the deals' categories and the convergence sees the calls.
        con.execute(
            f"""
            INSERT INTO quotas (owner, period_start, period_end, amount, import_id)
            SELECT rep, CAST(m AS DATE), CAST(m + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE),
                   {round(opps * 11000 * 0.33 / N_REPS / 48, -2)}, 0
            FROM reps, generate_series(DATE '{CREATED_FROM}', DATE '2026-03-01',
                                       INTERVAL 1 MONTH) AS t(m)
            """
        )
        con.execute(
            f"""
            INSERT INTO forecast_submissions (owner, period_start, period_end, category,
                                              amount, submitted_at, import_id)
            WITH won AS (
                SELECT owner, CAST(date_trunc('month', close_date) AS DATE) AS m,
                       sum(amount) AS amount
                FROM opportunities WHERE is_won GROUP BY ALL
            )
            SELECT w.owner, w.m, CAST(w.m + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE), c.cat,
                   round(w.amount * c.f * (0.8 + 0.4 * u(hash(w.owner), 60)), -2),
                   CAST(w.m + INTERVAL 1 DAY + INTERVAL 9 HOUR AS TIMESTAMP), 0
            FROM won AS w,
                 (VALUES ('commit', 0.7), ('best case', 1.0), ('pipeline', 1.6)) AS c(cat, f)
            WHERE w.m >= DATE '{snapshot_dates(snapshots, every)[0]}' AND w.amount IS NOT NULL
            """
        )
        new_import(con, "bench_forecast", "opportunities", AS_OF)
        con.execute("CHECKPOINT")
    finally:
        con.close()


def generate(
    opps: int, seed: int, snapshots: int = DEFAULT_SNAPSHOTS, every: int = DEFAULT_SNAPSHOT_DAYS
) -> Path:
    """The cached database for these sizes and seed, built first if missing (under a
    temporary name, renamed when complete, so a killed run leaves no half-built file)."""
    path = cached_path(opps, snapshots, every, seed)
    return cached(path, lambda tmp: build(tmp, opps, snapshots, every, seed))


# --- the analytics side (child process) ------------------------------------------------------


def _figures(table: pd.DataFrame) -> list[list[Any]]:
    """(period, method, forecast, actual) rows, JSON-safe (None for a missing forecast)."""
    out = []
    for period, method, forecast, actual in table[
        ["period", "method", "forecast", "actual"]
    ].itertuples(index=False):
        f = None if forecast is None or pd.isna(forecast) else float(forecast)
        out.append([str(period), str(method), f, float(actual)])
    return out


def analytics_once(db_path: str, periods: int, repeat: int) -> dict[str, Any]:
    """Child body: `backtest(kind="month", periods=N)` on one read-only connection."""
    from analytics.forecast.backtest import backtest
    from analytics.scope import Period, Scope

    run = ChildRun()
    con = open_db(db_path)
    try:
        scope = Scope(Period.containing(AS_OF, "month"))
        result = run.time(lambda: backtest(con, scope, kind="month", periods=periods), repeat)
        threads = duckdb_threads(con)
    finally:
        con.close()
    return run.result(
        threads=threads,
        figures=_figures(result.table),
        recommended=result.recommendation.label,
    )


# --- the pandas side --------------------------------------------------------------------


@dataclass
class Frames:
    """What pandas works from, loaded once per process (untimed)."""

    snaps: pd.DataFrame
    won: pd.DataFrame  # current won deals: close_date, amount, currency_key
    reps: pd.DataFrame
    calls: pd.DataFrame
    fx: pd.DataFrame
    probabilities: dict[str, float]
    reporting: str


def load_frames(con: Any) -> Frames:
    """The tables, only the columns used, typed and trimmed at load: strings as pandas
    categoricals through Arrow (a million repeated owner names as objects would not fit
    comfortably), currency and segment normalised as the SQL does."""
    from analytics.forecast.methods import stage_probabilities
    from analytics.settings import load_reporting_currency, load_stages

    def frame(sql: str) -> pd.DataFrame:
        table = con.sql(sql).to_arrow_table()
        return table.to_pandas(strings_to_categorical=True, date_as_object=False)

    snaps = frame(
        """
        SELECT snapshot_date, owner, stage, CAST(amount AS DOUBLE) AS amount,
               nullif(upper(trim(currency)), '') AS currency_key, forecast_category,
               created_date, close_date, is_closed, is_won,
               coalesce(nullif(trim(deal_type), ''), '(none)') AS segment
        FROM opportunity_snapshots
        """
    )
    won = frame(
        """
        SELECT close_date, CAST(amount AS DOUBLE) AS amount,
               nullif(upper(trim(currency)), '') AS currency_key
        FROM opportunities WHERE is_won
        """
    )
    reps = frame("SELECT rep, hire_date FROM reps WHERE hire_date IS NOT NULL")
    calls = frame(
        """
        SELECT owner, period_start, period_end, lower(trim(category)) AS category,
               CAST(amount AS DOUBLE) AS amount, submitted_at
        FROM forecast_submissions
        """
    )
    fx = frame("SELECT currency, rate_date, CAST(rate AS DOUBLE) AS rate FROM fx_rates")
    return Frames(
        snaps, won, reps, calls, fx,
        stage_probabilities(load_stages(con)), load_reporting_currency(con),
    )  # fmt: skip


def _rates(f: Frames, day: pd.Timestamp) -> dict[str, float]:
    known = f.fx[f.fx["rate_date"] <= day].sort_values("rate_date")
    rates = known.groupby("currency", observed=True)["rate"].last().to_dict()
    return {str(k): float(v) for k, v in rates.items()} | {f.reporting: 1.0}


def _priced(f: Frames, s: pd.DataFrame, day: pd.Timestamp) -> pd.Series:
    """amount in the reporting currency at the rate known on `day` (NaN: unpriced)."""
    rate = s["currency_key"].astype(object).map(_rates(f, day)).astype(float)
    rate = rate.where(s["currency_key"].notna(), 1.0)
    return s["amount"] * rate


def pandas_period(f: Frames, s: pd.DataFrame, period: Any, snap: date) -> dict[str, float | None]:
    """The five methods for one period from its start snapshot's rows `s` (see inputs.py)."""
    from analytics.forecast.inputs import Ask
    from analytics.forecast.methods import (
        MIN_SEGMENT_WON,
        call_from_submission,
        category_of,
        measured_growth,
        run_rate_forecast,
    )

    day = pd.Timestamp(snap)
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    amount = _priced(f, s, day)
    close, created = s["close_date"], s["created_date"]
    in_period = close.between(start, end)
    open_in = ~s["is_closed"] & in_period
    won_in = s["is_won"] & in_period
    already = float(amount[won_in].sum())

    # 1. stage-weighted
    stages = s["stage"].astype(object)
    prob = stages[open_in].map(lambda x: f.probabilities.get(str(x).strip().lower(), 0.0))
    stage_weighted = already + float((amount[open_in] * prob.astype(float) / 100.0).sum())

    # 2. run-rate
    closed = s["is_closed"]
    c_close = close[closed]
    won_c = s["is_won"][closed]
    amt_c = amount[closed]
    r90 = float(amt_c[won_c & (c_close > day - pd.Timedelta(days=90)) & (c_close <= day)].sum())
    year = (c_close > day - pd.Timedelta(days=365)) & (c_close <= day)
    prev = (c_close > day - pd.Timedelta(days=730)) & (c_close <= day - pd.Timedelta(days=365))
    r_year, r_prev = float(amt_c[won_c & year].sum()), float(amt_c[won_c & prev].sum())
    if not (len(c_close) and c_close.min() <= day - pd.Timedelta(days=729)):
        r_prev = 0.0
    has_history = bool((won_c & (c_close <= day)).any())
    hires = f.reps["hire_date"]
    new_reps = int(((hires > day - pd.Timedelta(days=90)) & (hires <= day)).sum())
    past = f.reps[(hires > day - pd.Timedelta(days=730)) & (hires <= day - pd.Timedelta(days=30))]
    wins = pd.DataFrame({"owner": s["owner"].astype(object), "close": close, "amount": amount})[
        s["is_won"] & (close <= day)
    ]
    first = wins.merge(past.assign(owner=past["rep"].astype(object)), on="owner")
    first = first[(first["close"] >= first["hire_date"])
                  & (first["close"] < first["hire_date"] + pd.Timedelta(days=30))]  # fmt: skip
    n_hires, n_deals = len(past), len(first)
    ask = Ask(period, snap)
    run_rate = None
    if has_history:
        run_rate = run_rate_forecast(
            r90 / 3.0,
            measured_growth(r_year, r_prev),
            new_reps,
            n_deals / n_hires if n_hires else 0.0,
            float(first["amount"].sum()) / n_deals if n_deals else 0.0,
            months=ask.months_remaining,
            already_won=already,
        )

    # 3. sales cycle
    look = closed & (close > day - pd.Timedelta(days=365)) & (close <= day)
    lb = pd.DataFrame({"segment": s["segment"].astype(object)[look], "won": s["is_won"][look],
                       "amount": amount[look]})  # fmt: skip
    ok = s["is_won"][look] & (close[look] >= created[look])
    lb["cycle"] = (close[look] - created[look]).dt.days.where(ok)

    def stats(g: pd.DataFrame) -> tuple[float | None, float | None, int]:
        typical = g["cycle"].median()
        closed_amount = float(g["amount"].sum())
        rate = float(g["amount"][g["won"]].sum()) / closed_amount if closed_amount > 0 else None
        return (None if pd.isna(typical) else float(typical)), rate, int(g["won"].sum())

    overall = stats(lb)
    per_segment = {seg: stats(g) for seg, g in lb.groupby("segment")}
    sales_cycle = None
    if overall[0] is not None and overall[1] is not None and overall[2] >= MIN_SEGMENT_WON:
        deals = pd.DataFrame({"segment": s["segment"].astype(object)[open_in],
                              "age": (end - created[open_in]).dt.days,
                              "amount": amount[open_in].fillna(0.0)})  # fmt: skip
        deals = deals[deals["age"].notna()]
        use = {}
        for seg in deals["segment"].unique():
            own = per_segment.get(seg)
            pick = own if own is not None and own[2] >= MIN_SEGMENT_WON else overall
            if pick[0] is None or pick[1] is None or pick[0] <= 0:
                pick = overall
            use[seg] = pick
        typical = deals["segment"].map({k: v[0] for k, v in use.items()}).astype(float)
        rate = deals["segment"].map({k: v[1] for k, v in use.items()}).astype(float)
        chance = (deals["age"] / typical).clip(0.0, 1.0)
        sales_cycle = already + float((deals["amount"] * chance * rate).sum())

    # 4. calls and categories
    v = f.calls[(f.calls["submitted_at"] < start) & (f.calls["period_start"] >= start)
                & (f.calls["period_end"] <= end)]  # fmt: skip
    latest = (
        v.sort_values("submitted_at")
        .groupby(["owner", "period_start", "period_end", "category"], observed=True)
        .tail(1)
    )
    commit = best = 0.0
    units = latest[["owner", "period_start", "period_end"]].drop_duplicates()
    for _, unit in latest.groupby(["owner", "period_start", "period_end"], observed=True):
        call = call_from_submission(dict(zip(unit["category"].astype(str), unit["amount"],
                                             strict=True)))  # fmt: skip
        commit, best = commit + call.commit, best + call.best_case
    relevant = open_in | won_in
    rows = pd.DataFrame({"owner": s["owner"].astype(object)[relevant], "close": close[relevant],
                         "amount": amount[relevant], "open": open_in[relevant],
                         "label": s["forecast_category"].astype(object)[relevant]})  # fmt: skip
    if len(units):
        hit = rows.reset_index().merge(units.assign(owner=units["owner"].astype(object)),
                                       on="owner")  # fmt: skip
        hit = hit[(hit["close"] >= hit["period_start"]) & (hit["close"] <= hit["period_end"])]
        rows = rows.drop(index=hit["index"].unique())
    cats = rows["label"].map(category_of)
    won_sum = float(rows["amount"][~rows["open"]].sum())
    open_commit = float(rows["amount"][rows["open"] & (cats == "commit")].sum())
    open_best = float(rows["amount"][rows["open"] & (cats == "best case")].sum())
    labelled = s["forecast_category"].astype(object).fillna("").str.strip().ne("").any()
    has_categories = bool(labelled) or len(units) > 0
    commit += won_sum + open_commit
    best += won_sum + open_commit + open_best
    return {
        "stage_weighted": stage_weighted,
        "run_rate": run_rate,
        "sales_cycle": sales_cycle,
        "commit": commit if has_categories else None,
        "best_case": best if has_categories else None,
    }


def pandas_actuals(f: Frames, periods: list[Any]) -> dict[str, float]:
    """Won per month from the current deals, at the close date's rate (merge_asof)."""
    first, last = pd.Timestamp(periods[0].start), pd.Timestamp(periods[-1].end)
    won = f.won[f.won["close_date"].between(first, last)].sort_values("close_date")
    foreign = won["currency_key"].notna() & (won["currency_key"].astype(object) != f.reporting)
    amount = won["amount"].copy()
    if foreign.any():
        fx = f.fx.sort_values("rate_date").assign(currency=lambda x: x["currency"].astype(object))
        part = won[foreign].assign(currency=lambda x: x["currency_key"].astype(object))
        priced = pd.merge_asof(part.reset_index(), fx, left_on="close_date",
                               right_on="rate_date", by="currency")  # fmt: skip
        amount.loc[priced["index"].to_numpy()] = (priced["amount"] * priced["rate"]).to_numpy()
    label = won["close_date"].dt.strftime("%Y-%m")
    sums = amount.groupby(label).sum()
    return {p.label: float(sums.get(p.label, 0.0)) for p in periods}


def pandas_backtest(f: Frames, n: int) -> pd.DataFrame:
    """The backtest table (period, method, forecast, actual) computed with pandas."""
    from analytics.forecast.backtest import (
        MAX_SNAPSHOT_AGE_DAYS,
        backtest_window,
        completed_periods,
        recommend,
        score_candidates,
        start_snapshot,
    )
    from analytics.forecast.methods import METHODS, RECOMMENDED

    periods = completed_periods("month", n, AS_OF)
    snap_days = [d.date() for d in pd.to_datetime(f.snaps["snapshot_date"].unique())]
    actual = pandas_actuals(f, periods)
    rows, history = [], []
    for period in periods:
        snap = start_snapshot(snap_days, period.start, MAX_SNAPSHOT_AGE_DAYS)
        values: dict[str, float | None] = dict.fromkeys(METHODS)
        if snap is not None:
            part = f.snaps[f.snaps["snapshot_date"] == pd.Timestamp(snap)]
            values = pandas_period(f, part, period, snap)
        a = actual[period.label]
        history.append((period.label, a, values))
        rows += [[period.label, m, values[m], a] for m in METHODS]
    pick = recommend(score_candidates(history), backtest_window(history), kind="month")
    for period, (_label, a, values) in zip(periods, history, strict=True):
        rows.append([period.label, RECOMMENDED, pick.value(values), a])
    return pd.DataFrame(rows, columns=["period", "method", "forecast", "actual"])


def pandas_once(db_path: str, periods: int, repeat: int) -> dict[str, Any]:
    """Child body: load the frames (untimed), then the pandas backtest, timed."""
    run = ChildRun()
    con = open_db(db_path)
    try:
        run.loading()
        frames = load_frames(con)
        run.loaded()
    finally:
        con.close()
    table = run.time(lambda: pandas_backtest(frames, periods), repeat)
    return run.result(snapshot_rows=len(frames.snaps), figures=_figures(table))


# --- comparing and reporting ----------------------------------------------------------------


def compare(an: list[list[Any]], pdf: list[list[Any]]) -> tuple[int, int, float, str]:
    """(values compared, disagreements, max abs difference, first disagreement)."""
    left = {(r[0], r[1]): r for r in an}
    right = {(r[0], r[1]): r for r in pdf}
    compared = bad = 0
    worst, first = 0.0, ""
    for key in sorted(left.keys() | right.keys()):
        a, b = left.get(key), right.get(key)
        if a is None or b is None:
            bad += 1
            first = first or f"{key}: only on one side"
            continue
        for index, name in ((2, "forecast"), (3, "actual")):
            x, y = a[index], b[index]
            compared += 1
            if x is None or y is None:
                if (x is None) != (y is None):
                    bad += 1
                    first = first or f"{key} {name}: analytics {x}, pandas {y}"
                continue
            diff = abs(x - y)
            worst = max(worst, diff)
            if not math.isclose(x, y, rel_tol=REL_TOL, abs_tol=ABS_TOL):
                bad += 1
                first = first or f"{key} {name}: analytics {x}, pandas {y}"
    return compared, bad, worst, first


def build_parser() -> argparse.ArgumentParser:
    parser = new_parser(
        "benchmarks.bench_forecast",
        "Time the forecast backtest (24 monthly periods) against pandas.",
    )  # --rows: opportunities
    parser.add_argument("--snapshots", type=int, default=DEFAULT_SNAPSHOTS,
                        help=f"pipeline exports (default {DEFAULT_SNAPSHOTS})")  # fmt: skip
    parser.add_argument(
        "--snapshot-days", type=int, default=DEFAULT_SNAPSHOT_DAYS,
        help=f"days between exports (default {DEFAULT_SNAPSHOT_DAYS}: 52 reach back over 24 "
        "months; 7 = weekly, then only the last year's months have a start snapshot)",
    )  # fmt: skip
    parser.add_argument("--periods", type=int, default=DEFAULT_PERIODS,
                        help=f"months to backtest (default {DEFAULT_PERIODS})")  # fmt: skip
    parser.add_argument("--side", choices=("both", "analytics", "pandas"), default="both")
    add_quiet_args(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if min(args.rows, args.repeat, args.snapshots, args.snapshot_days, args.periods) < 1:
        raise SystemExit("--rows, --repeat, --snapshots, --snapshot-days, --periods: positive")
    print_header(f"forecast benchmark: backtest of {args.periods} months, {args.rows:,} "
                 f"opportunities, {args.snapshots} snapshots every {args.snapshot_days} days, "
                 f"{args.repeat} runs per side")  # fmt: skip
    start = time.perf_counter()
    path = generate(args.rows, args.seed, args.snapshots, args.snapshot_days)
    print(f"database: {path} ({path.stat().st_size / 1e6:,.0f} MB, ready in "
          f"{time.perf_counter() - start:.1f} s)")  # fmt: skip
    print(f"page cache warmed in {warm_page_cache(path):.2f} s")
    quiet_machine(args)

    sides = ("analytics", "pandas") if args.side == "both" else (args.side,)
    request = {"db_path": str(path), "periods": args.periods, "repeat": 1}
    runs = interleave(  # one timed call per process, sides interleaved
        args.repeat,
        sides,
        lambda side: run_in_child(f"benchmarks.bench_forecast:{side}_once", request),
    )

    rows = []
    for side in sides:
        first = runs[side][0]
        if side == "pandas":
            extra = f"{pandas_load_note(runs[side])} for {first['snapshot_rows']:,} snapshot rows"
        else:
            extra = f"{first['threads']} threads; recommended: {first['recommended']}"
        rows.append([side, *side_cells(runs[side]), extra])
    print()
    print(format_table(["side", *SIDE_HEADERS], rows))
    status, summary = 0, {}
    if len(sides) == 2:
        an, pdf = runs["analytics"][0]["figures"], runs["pandas"][0]["figures"]
        compared, bad, worst, first_bad = compare(an, pdf)
        verdict = "same figures" if bad == 0 else f"DIFF ({bad}): {first_bad}"
        print(f"\nagreement: {compared} values (forecast and actual per month and method), "
              f"max abs difference {worst:.6f}: {verdict}")  # fmt: skip
        print(f"ratio: {wall_cpu_ratio(runs)}")
        status = 1 if bad else 0
        summary = {"compared": compared, "disagreements": bad}
    print(f"load after: {load_average()}")
    print_json(NAME, {"sides": {s: side_summary(runs[s]) for s in sides}, **summary})
    return status


if __name__ == "__main__":
    sys.exit(main())
