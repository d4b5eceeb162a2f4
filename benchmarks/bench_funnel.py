"""Funnel benchmark: the Funnel page's funnel and the Pipeline page's waterfall vs pandas (issue 4).

Why pandas as the baseline: it is what an analyst would reach for to rebuild a funnel from
a stage-history export, and the project keeps these figures in DuckDB SQL so they stay
fast on a million opportunities. The goal is the issue's: at least 5x faster than pandas
computing the same figures, in the same run.

What is timed, for one period (default 2025-Q3) and the company-wide scope:

* **funnel**: ``analytics.funnel.funnel(con, scope)`` -- the cohort created in the period,
  every deal's furthest step from ``opportunity_stage_history``, counts and amounts
  (reporting currency, dated FX), conversions, median days in each stage;
* **waterfall**: ``analytics.pipeline.waterfall(con, scope)`` between the snapshot at the
  period start and the period's latest snapshot;
* **pandas**: the same figures from DataFrames (``merge_asof`` for the rates, ``groupby``
  for the furthest step and the stays, ``drop_duplicates`` for the state on a date).

Method, as in ``bench_kpis`` (chosen to flatter pandas rather than the project): pandas
gets its tables in memory for free (loaded with ``.df()`` once per process, outside the
timed region; load time and memory printed beside it); every measurement is a fresh
process that opens the database once and makes one untimed warm-up call, then the timed
call; the ``--repeat`` measurements interleave sides and parts; the database file is read
once up front so every run finds it in the OS page cache. The two sides' figures are
compared; a disagreement is printed as ``DIFF`` and makes the run exit 1.

The data is generated here, directly with DuckDB SQL over ``range()`` (hash-based draws,
so the same sizes and seed give the same rows whatever the thread count), and cached in
``benchmarks/out/`` (git-ignored):

* ``opportunities``: ``--opps`` deals (alias of the shared ``--rows``) created 2024-01 ..
  2025-12, 30% won, 45% lost, 25% open; log-normal amounts (0.3% without), 10% in EUR;
  200 reps in 8 teams; six lead sources;
* ``stage_history_imported``: ``--history`` rows (default 5 per deal; each deal gets
  per-deal - 2 .. per-deal + 2 rows): paths through Discovery .. Final Decision with
  skipped stages (short paths jump), 10% of open deals moving back one stage at the end,
  closed deals ending in Closed Won / Closed Lost;
* ``opportunity_snapshots``: four weekly-style exports (2025-06-30, 08-04, 09-01, 09-29)
  of every deal created by then, its stage as of that day from the history, close dates
  that slip (20% of deals) or get pulled in (5%), amounts that change (15%);
* ``fx_rates``: monthly EUR rates (USD is the reporting currency).

Usage::

    python -m benchmarks.bench_funnel --opps 100000            # quick
    python -m benchmarks --only funnel                         # 1,000,000 / 5,000,000
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from benchmarks.gen_kpi_db import TEAMS, kpi_macros
from benchmarks.harness import (
    MEMORY_HEADERS,
    OUT_DIR,
    VERSUS_HEADERS,
    ChildRun,
    add_fail_on_miss,
    add_opps_alias,
    add_quiet_args,
    cached,
    close,
    duckdb_threads,
    format_table,
    frame_from_json,
    frame_json,
    goal_cell,
    interleave,
    load_average,
    median,
    merge_runs,
    new_import,
    new_parser,
    open_db,
    print_header,
    print_json,
    quiet_machine,
    ratio,
    run_in_child,
    seconds_list,
    set_import_rows,
    sql_list,
    sql_lit,
    versus_cells,
    versus_note,
    warm_page_cache,
)

NAME = "funnel"
GOAL_RATIO = 5.0
PARTS = ("funnel", "waterfall")
DEFAULT_PERIOD = "2025-Q3"
# Bump when the generated content changes, so stale cached databases are never reused.
GENERATOR_VERSION = 1
FIRST_DAY = date(2024, 1, 1)
AS_OF = date(2025, 12, 31)
DAYS = (AS_OF - FIRST_DAY).days + 1
SNAPSHOT_DATES = (date(2025, 6, 30), date(2025, 8, 4), date(2025, 9, 1), date(2025, 9, 29))
N_REPS = 200
LEAD_SOURCES = ("Web", "Webinar", "Paid Search", "Trade Show", "Outbound", "Partner")
STEP_STAGES = ("Discovery", "Qualified", "Demo", "Trial", "Final Decision", "Closed Won")
LOST_STAGE = "Closed Lost"
# "The same figure": sums over hundreds of thousands of amounts may differ in the last
# bits by summation order; waterfall money is compared to the cent.
MONEY_TOL = 0.011


# -- test data -----------------------------------------------------------------------------


def cached_path(opps: int, per_deal: int, seed: int, out_dir: Path = OUT_DIR) -> Path:
    name = f"funnel_{opps}o_{per_deal}h_seed{seed}_v{GENERATOR_VERSION}.duckdb"
    return out_dir / name


def _import_row(con: duckdb.DuckDBPyConnection, kind: str, table: str) -> int:
    return new_import(con, f"bench_funnel:{table}", kind, AS_OF)


def _fill(con: duckdb.DuckDBPyConnection, opps: int, per_deal: int, seed: int) -> None:
    """Every table the funnel and the waterfall read, from deal numbers 0 .. opps-1."""
    con.execute(kpi_macros(seed))
    stages = sql_list(STEP_STAGES)
    teams = sql_list([t for t, _ in TEAMS])
    regions = sql_list([r for _, r in TEAMS])
    imp = _import_row(con, "reps", "reps")
    con.execute(
        f"""
        INSERT INTO reps (rep, manager, team, region, role, level, active, import_id)
        SELECT rep_name(k), 'Manager of ' || {teams}[k % 8 + 1], {teams}[k % 8 + 1],
               {regions}[k % 8 + 1], 'AE', 'senior', TRUE, {imp}
        FROM range({N_REPS}) AS t(k)
        """
    )
    imp = _import_row(con, "fx_rates", "fx_rates")
    con.execute(
        f"""
        INSERT INTO fx_rates (currency, rate_date, rate, import_id)
        SELECT 'EUR', CAST(m AS DATE),
               round(1.09 + 0.05 * sin(row_number() OVER (ORDER BY m) / 4.0), 4), {imp}
        FROM generate_series(TIMESTAMP '2023-01-01', TIMESTAMP '{AS_OF}', INTERVAL 1 MONTH)
             AS t(m)
        """
    )
    # Deals: n stage changes `gap` days apart, all on or before the export date.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE deal_gen AS
        WITH base AS (
            SELECT i,
                   ({per_deal} - 2 + (i * 7) % 5)::INTEGER AS n,
                   (3 + floor(u(i, 41) * 12))::INTEGER AS gap,
                   CASE WHEN u(i, 42) < 0.30 THEN 'won' WHEN u(i, 42) < 0.75 THEN 'lost'
                        ELSE 'open' END AS outcome,
                   floor(u(i, 43) * 5)::INTEGER AS top,
                   u(i, 44) < 0.10 AS back,
                   rep_no(i, 45) AS k
            FROM range({opps}) AS t(i)
        )
        SELECT *, 'OPP-' || lpad(i::VARCHAR, 8, '0') AS opportunity_id,
               DATE '{FIRST_DAY}'
                   + floor(u(i, 46) * ({DAYS} - (n - 1) * gap - 1))::INTEGER AS created_date
        FROM base
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE hist_gen AS
        WITH rows AS (SELECT *, unnest(range(n)) AS j FROM deal_gen)
        SELECT opportunity_id, i, j, n,
               CAST(created_date AS TIMESTAMP) + to_days((j * gap)::INTEGER)
                   + to_hours((9 + j)::BIGINT) AS entered_at,
               CASE outcome
                   WHEN 'won' THEN CASE WHEN j = n - 1 THEN 5 ELSE (j * 5) // (n - 1) END
                   WHEN 'lost' THEN CASE WHEN j = n - 1 THEN NULL
                                         ELSE least(top, (j * (top + 1)) // (n - 1)) END
                   ELSE CASE WHEN back AND j = n - 1
                             THEN greatest(0, ((j - 1) * (top + 1)) // n - 1)
                             ELSE (j * (top + 1)) // n END
               END AS step
        FROM rows
        """
    )
    imp = _import_row(con, "stage_history", "stage_history_imported")
    con.execute(
        f"""
        INSERT INTO stage_history_imported
            (opportunity_id, stage, source_stage, entered_at, amount, import_id)
        SELECT opportunity_id, coalesce({stages}[step + 1], {sql_lit(LOST_STAGE)}),
               coalesce({stages}[step + 1], {sql_lit(LOST_STAGE)}), entered_at, NULL, {imp}
        FROM hist_gen
        """
    )
    imp = _import_row(con, "opportunities", "opportunities")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE opp_gen AS
        SELECT d.*, h.step AS last_step, CAST(h.entered_at AS DATE) AS last_day,
               CASE WHEN d.outcome = 'open'
                    THEN CAST(h.entered_at AS DATE) + (30 + floor(u(d.i, 47) * 90))::INTEGER
                    ELSE CAST(h.entered_at AS DATE) END AS close_date,
               CASE WHEN u(d.i, 48) < 0.003 THEN NULL
                    ELSE least(2000000, greatest(500,
                         round(exp(9.3 + 0.9 * z(d.i, 49)) / 50) * 50))::DECIMAL(18, 2)
               END AS amount,
               CASE WHEN u(d.i, 50) < 0.10 THEN 'EUR' ELSE 'USD' END AS currency,
               {sql_list(LEAD_SOURCES)}[floor(u(d.i, 51) * {len(LEAD_SOURCES)})::INTEGER + 1]
                   AS lead_source,
               u(d.i, 52) AS u_close, u(d.i, 53) AS u_amount,
               (7 + floor(u(d.i, 54) * 30))::INTEGER AS slip
        FROM deal_gen AS d
        JOIN hist_gen AS h ON h.i = d.i AND h.j = d.n - 1
        """
    )
    con.execute(
        f"""
        INSERT INTO opportunities
            (opportunity_id, opportunity_name, account, owner, stage, source_stage, amount,
             currency, created_date, close_date, is_closed, is_won, lead_source,
             snapshot_date, import_id)
        SELECT opportunity_id, 'Deal ' || i, 'Account ' || (i % 25000), rep_name(k),
               coalesce({stages}[last_step + 1], {sql_lit(LOST_STAGE)}),
               coalesce({stages}[last_step + 1], {sql_lit(LOST_STAGE)}), amount, currency,
               created_date, close_date, outcome <> 'open', outcome = 'won', lead_source,
               DATE '{AS_OF}', {imp}
        FROM opp_gen
        """
    )
    last = len(SNAPSHOT_DATES) - 1
    for k, day in enumerate(SNAPSHOT_DATES):
        imp = _import_row(con, "opportunities", f"opportunity_snapshots {day}")
        # the superseded rows (each deal's newest row is its `opportunities` row, at AS_OF)
        con.execute(
            f"""
            INSERT INTO opportunity_snapshot_history
                (snapshot_date, opportunity_id, opportunity_name, account, owner, stage,
                 source_stage, amount, currency, created_date, close_date, is_closed, is_won,
                 lead_source, import_id)
            WITH alive AS (
                SELECT o.*, CAST(DATE '{day}' AS TIMESTAMP) AS ts
                FROM opp_gen AS o WHERE o.created_date <= DATE '{day}'
            ),
            state AS (
                SELECT a.*, h.step, h.j AS state_j, CAST(h.entered_at AS DATE) AS state_day
                FROM alive AS a ASOF JOIN hist_gen AS h ON h.i = a.i AND a.ts >= h.entered_at
            )
            SELECT DATE '{day}', opportunity_id, 'Deal ' || i, 'Account ' || (i % 25000),
                   rep_name(k), coalesce({stages}[step + 1], {sql_lit(LOST_STAGE)}),
                   coalesce({stages}[step + 1], {sql_lit(LOST_STAGE)}),
                   CASE WHEN amount IS NULL THEN NULL
                        WHEN u_amount < 0.10 THEN round(amount * (1 + 0.1 * {last - k}), 2)
                        WHEN u_amount < 0.15 THEN round(amount * (1 - 0.05 * {last - k}), 2)
                        ELSE amount END,
                   currency, created_date,
                   CASE WHEN step IS NULL OR step = 5 THEN state_day
                        WHEN u_close < 0.20 THEN close_date - slip * {last - k}
                        WHEN u_close < 0.25 THEN close_date + 10 * {last - k}
                        ELSE close_date END,
                   step IS NULL OR step = 5, coalesce(step = 5, false), lead_source, {imp}
            FROM state
            """
        )
    for table in ("reps", "fx_rates", "stage_history_imported", "opportunities"):
        import_id = con.execute(
            "SELECT import_id FROM imports WHERE file_name = ?", [f"bench_funnel:{table}"]
        ).fetchone()[0]
        set_import_rows(con, int(import_id), table)


def generate(opps: int, per_deal: int = 5, seed: int = 42, out_dir: Path = OUT_DIR) -> Path:
    """The cached database for these sizes and seed, built if new (1-2 minutes at full size)."""
    if per_deal < 4:
        raise SystemExit("--history must be at least 4 rows per opportunity")
    return cached(
        cached_path(opps, per_deal, seed, out_dir), lambda tmp: _build(tmp, opps, per_deal, seed)
    )


def _build(path: Path, opps: int, per_deal: int, seed: int) -> None:
    from analytics import db

    con = db.connect(path)
    try:
        con.execute("SET enable_progress_bar = false")  # a log, not a terminal
        _fill(con, opps, per_deal, seed)
        con.execute("CHECKPOINT")
    finally:
        con.close()


# -- the analytics side (child process) ----------------------------------------------------


def _scope(period: str) -> Any:
    from analytics.scope import Period, Scope

    return Scope(Period.parse(period))


def analytics_once(db_path: str, part: str, period: str, repeat: int) -> dict[str, Any]:
    """Child body: the page's analytics call on one open connection, timed."""
    from analytics.funnel import funnel
    from analytics.pipeline import waterfall

    run = ChildRun()
    con = open_db(db_path)
    try:
        scope = _scope(period)
        if part == "funnel":
            out = run.time(lambda: funnel(con, scope), repeat)
            figures: dict[str, Any] = {"table": frame_json(out.table)}
        else:
            out = run.time(lambda: waterfall(con, scope), repeat)
            figures = {
                "start": float(out.start),
                "end": float(out.end),
                "buckets": {k: float(v) for k, v in out.buckets.items()},
                "deals": dict(out.deals),
                "balanced": out.balanced,
            }
        threads = duckdb_threads(con)
    finally:
        con.close()
    return run.result(threads=threads, figures=figures)


# -- the pandas side -----------------------------------------------------------------------


def load_frames(con: Any, part: str) -> dict[str, Any]:
    """The columns the part's figures use, as DataFrames (``.df()``), plus the settings."""
    from analytics.settings import load_reporting_currency, load_stages
    from analytics.sql import step_keys

    keys = step_keys(load_stages(con))
    frames: dict[str, Any] = {
        "steps": dict(zip(keys["step_keys"], keys["step_numbers"], strict=True)),
        "won_step": keys["won_step"],
        "currency": load_reporting_currency(con).strip().upper(),
        "fx": con.execute("SELECT currency, rate_date, rate FROM fx_rates").df(),
    }
    if part == "funnel":
        frames["opps"] = con.execute(
            "SELECT opportunity_id, stage, amount, currency, created_date, close_date, "
            "is_closed, is_won FROM opportunities"
        ).df()
        frames["history"] = con.execute(
            "SELECT opportunity_id, stage, entered_at, origin FROM opportunity_stage_history"
        ).df()
    else:
        frames["snapshots"] = con.execute(
            "SELECT snapshot_date, opportunity_id, amount, currency, close_date, is_closed, "
            "is_won FROM opportunity_snapshots"
        ).df()
    return frames


def _key(series: pd.Series) -> pd.Series:
    """Currency code as the SQL does: upper(trim(x)), blank -> missing."""
    cur = series.str.strip().str.upper()
    return cur.where(cur != "")


def pandas_funnel(f: dict[str, Any], period: Any) -> pd.DataFrame:
    """The funnel table (docs/metrics.md, "Funnel") with pandas."""
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    won_step = f["won_step"]
    o = f["opps"]
    c = o[(o["created_date"] >= start) & (o["created_date"] <= end)].copy()
    # amounts: latest rate on or before the close date (closed) or the period end (open)
    cur = _key(c["currency"])
    needs = cur.notna() & (cur != f["currency"])
    rate = pd.Series(1.0, index=c.index)
    if needs.any():
        ask = pd.DataFrame(
            {"row": c.index, "currency": cur, "day": c["close_date"].where(c["is_closed"], end)}
        )[needs]
        ask = ask[ask["day"].notna()].sort_values("day")
        fx = f["fx"].assign(rate_date=lambda t: t["rate_date"].astype(ask["day"].dtype))
        got = pd.merge_asof(
            ask, fx.sort_values("rate_date"), left_on="day", right_on="rate_date",
            by="currency", direction="backward",
        )  # fmt: skip
        rate[needs] = np.nan
        rate.loc[got["row"].to_numpy()] = got["rate"].astype(float).to_numpy()
    c["amount_rc"] = c["amount"].astype(float) * rate

    h = f["history"]
    h = h[h["opportunity_id"].isin(c["opportunity_id"])].copy()
    h["step"] = h["stage"].str.strip().str.lower().map(f["steps"])
    h["crm"] = h["origin"] == "history"
    agg = h.groupby("opportunity_id").agg(
        hist_step=("step", "max"), crm=("crm", "sum"), rows=("crm", "size")
    )
    c = c.join(agg, on="opportunity_id")
    cur_step = c["stage"].str.strip().str.lower().map(f["steps"])
    seen = np.maximum(c["hist_step"].fillna(-1), cur_step.fillna(-1))
    furthest = np.where(
        c["is_won"], won_step, np.where(seen < 0, 0, np.minimum(seen, won_step - 1))
    )
    c["furthest"] = furthest.astype(int)
    lost = c["is_closed"] & ~c["is_won"]
    still_open = ~c["is_closed"]
    steps = range(won_step + 1)
    per = c.groupby("furthest").agg(deals=("furthest", "size"), amount=("amount_rc", "sum"))
    per = per.reindex(steps, fill_value=0)
    lost_per = c[lost].groupby("furthest").agg(n=("furthest", "size"), a=("amount_rc", "sum"))
    lost_per = lost_per.reindex(steps, fill_value=0)
    open_per = c[still_open].groupby("furthest").agg(n=("furthest", "size"), a=("amount_rc", "sum"))
    open_per = open_per.reindex(steps, fill_value=0)
    reached = per["deals"][::-1].cumsum()[::-1]
    amount = per["amount"][::-1].cumsum()[::-1]

    # stays: entered_at to the next row of the same deal, summed per deal and step
    h = h.sort_values(["opportunity_id", "entered_at", "step"], na_position="last")
    nxt = h.groupby("opportunity_id", sort=False)["entered_at"].shift(-1)
    h["days"] = (nxt - h["entered_at"]).dt.total_seconds() / 86400.0
    s = h[h["step"].notna() & (h["step"] < won_step) & h["days"].notna()]
    per_deal = s.groupby(["opportunity_id", "step"])["days"].sum().reset_index()
    days = per_deal.groupby("step")["days"].agg(["median", "size"]).reindex(steps)

    first_n, first_a = reached.iloc[0], amount.iloc[0]
    prev_n, prev_a = reached.shift(1), amount.shift(1)
    return pd.DataFrame(
        {
            "step": [k + 1 for k in steps],
            "reached": reached.to_numpy(),
            "conversion_from_previous": (reached / prev_n.where(prev_n > 0)).to_numpy(),
            "conversion_from_first": (reached / first_n if first_n else reached * np.nan),
            "dropped": lost_per["n"].to_numpy(),
            "open": open_per["n"].to_numpy(),
            "reached_amount": amount.round(2).to_numpy(),
            "amount_conversion_from_previous": (amount / prev_a.where(prev_a > 0)).to_numpy(),
            "amount_conversion_from_first": (amount / first_a if first_a else amount * np.nan),
            "dropped_amount": lost_per["a"].round(2).to_numpy(),
            "open_amount": open_per["a"].round(2).to_numpy(),
            "median_days_in_stage": days["median"].where(days.index < won_step).to_numpy(),
            "stage_stays": days["size"].fillna(0).astype(int).to_numpy(),
        }
    )


def _pandas_snapshot_pair(f: dict[str, Any], period: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    dates = sorted(pd.to_datetime(f["snapshots"]["snapshot_date"].unique()))
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    before = [d for d in dates if d <= start]
    inside = [d for d in dates if start <= d <= end]
    return (before[-1] if before else inside[0]), [d for d in dates if d <= end][-1]


def pandas_waterfall(f: dict[str, Any], period: Any) -> dict[str, Any]:
    """The waterfall (docs/metrics.md, "Pipeline waterfall") with pandas."""
    first, last = _pandas_snapshot_pair(f, period)
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    snaps = f["snapshots"]
    fx = f["fx"]
    fx = fx[pd.to_datetime(fx["rate_date"]) <= last].sort_values("rate_date")
    rates = fx.groupby("currency")["rate"].last().astype(float)

    def state(day: pd.Timestamp) -> pd.DataFrame:
        s = snaps[pd.to_datetime(snaps["snapshot_date"]) <= day]
        s = s.sort_values("snapshot_date").drop_duplicates("opportunity_id", keep="last")
        cur = _key(s["currency"])
        amount = s["amount"].astype(float)
        # DuckDB rounds the exact decimal product half away from zero; amounts are >= 0,
        # and the epsilon keeps a float product just below a half cent from rounding down.
        converted = np.floor(amount * cur.map(rates) * 100.0 + 0.5 + 1e-6) / 100.0
        value = amount.where(cur.isna() | (cur == f["currency"]), converted)
        inside = ~s["is_closed"] & s["close_date"].between(start, end)
        return pd.DataFrame(
            {
                "opportunity_id": s["opportunity_id"],
                "value": value.fillna(0.0).where(inside, 0.0),
                "inside": inside,
                "closed": s["is_closed"],
                "won": s["is_won"],
            }
        )

    s0, s1 = state(first), state(last)
    p = s1.merge(s0, on="opportunity_id", how="left", suffixes=("1", "0"), indicator=True)
    known0 = p["_merge"] == "both"
    in0 = p["inside0"].fillna(False).astype(bool)
    in1 = p["inside1"].astype(bool)
    p = p[in0 | in1]
    known0, in0, in1 = known0[p.index], in0[p.index], in1[p.index]
    a0, a1 = p["value0"].fillna(0.0).where(in0, 0.0), p["value1"].where(in1, 0.0)
    open0 = known0 & ~p["closed0"].fillna(True).astype(bool)
    bucket = np.select(
        [
            in0 & in1 & (a1 > a0),
            in0 & in1 & (a1 < a0),
            in0 & in1,
            in0 & p["won1"],
            in0 & p["closed1"],
            in0,
            open0,
        ],
        ["increased", "decreased", "unchanged", "won", "lost", "pushed out", "pulled in"],
        default="new",
    )
    change = (a1 - a0).groupby(bucket).sum()
    deals = pd.Series(bucket).value_counts()
    from analytics.pipeline import WATERFALL_BUCKETS

    return {
        "start": float(a0.sum()),
        "end": float(a1.sum()),
        "buckets": {b: float(change.get(b, 0.0)) for b in WATERFALL_BUCKETS},
        "deals": {b: int(deals.get(b, 0)) for b in WATERFALL_BUCKETS},
    }


def pandas_once(db_path: str, part: str, period: str, repeat: int) -> dict[str, Any]:
    """Child body: load the tables once (untimed), then compute the part's figures."""
    import analytics.settings  # noqa: F401  (load_frames' modules: ready memory, not data)
    import analytics.sql  # noqa: F401

    scope = _scope(period)
    run = ChildRun()
    con = open_db(db_path)
    try:
        run.loading()
        frames = load_frames(con, part)
        run.loaded()
    finally:
        con.close()
    if part == "funnel":
        out = run.time(lambda: pandas_funnel(frames, scope.period), repeat)
        return run.result(figures={"table": frame_json(out)})
    return run.result(figures=run.time(lambda: pandas_waterfall(frames, scope.period), repeat))


# -- comparing the two sides ---------------------------------------------------------------


def compare(part: str, an: dict[str, Any], pa: dict[str, Any]) -> list[str]:
    """Every disagreement as one line (empty: the two sides agree)."""
    problems: list[str] = []
    if part == "funnel":
        left, right = frame_from_json(an["table"]), frame_from_json(pa["table"])
        for col in right.columns:
            tol = MONEY_TOL if "amount" in col and "conversion" not in col else 1e-9
            for k, (a, b) in enumerate(zip(left[col], right[col], strict=True)):
                if not close(a, b, tol):
                    problems.append(f"funnel step {k + 1} {col}: analytics {a} pandas {b}")
        return problems
    for name in ("start", "end"):
        if not close(an[name], pa[name], MONEY_TOL):
            problems.append(f"waterfall {name}: analytics {an[name]} pandas {pa[name]}")
    for b in an["buckets"]:
        if not close(an["buckets"][b], pa["buckets"][b], MONEY_TOL):
            problems.append(
                f"waterfall {b}: analytics {an['buckets'][b]} pandas {pa['buckets'][b]}"
            )
        if an["deals"][b] != pa["deals"][b]:
            problems.append(
                f"waterfall {b} deals: analytics {an['deals'][b]} pandas {pa['deals'][b]}"
            )
    if not an.get("balanced"):
        problems.append("waterfall: analytics buckets do not add up to the ending pipeline")
    return problems


# -- the report ----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = new_parser(
        "benchmarks.bench_funnel",
        "Time the funnel and the pipeline waterfall against pandas computing the same "
        "figures, and check that both agree.",
    )
    add_opps_alias(parser)
    parser.add_argument(
        "--history", type=int, help="stage-history rows (default: 5 per opportunity)"
    )
    parser.add_argument("--period", default=DEFAULT_PERIOD, help="period (default 2025-Q3)")
    parser.add_argument("--part", choices=("both", *PARTS), default="both")
    add_quiet_args(parser)
    add_fail_on_miss(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.rows < 5 or args.repeat < 1:
        raise SystemExit("--opps/--rows must be at least 5 and --repeat positive")
    per_deal = max(4, round((args.history or 5 * args.rows) / args.rows))
    parts = PARTS if args.part == "both" else (args.part,)
    print_header(
        f"Funnel benchmark: {args.rows:,} opportunities, {per_deal} stage-history rows per "
        f"deal, median of {args.repeat} runs per side"
    )
    start = time.perf_counter()
    db_path = generate(args.rows, per_deal, args.seed)
    size_mb = db_path.stat().st_size / 1024 / 1024
    print(f"database: {db_path} ({size_mb:.0f} MB, ready in {time.perf_counter() - start:.1f} s)")
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        counts = [
            int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
            for t in ("opportunities", "stage_history_imported", "opportunity_snapshots")
        ]
    finally:
        con.close()
    print(
        f"rows: {counts[0]:,} opportunities, {counts[1]:,} stage-history rows, "
        f"{counts[2]:,} snapshot rows"
    )
    print(f"page cache warmed in {warm_page_cache(db_path):.2f} s")
    print(f"period: {args.period}, all reps")
    quiet_machine(args)

    def measure(key: tuple[str, str]) -> dict[str, Any]:
        part, side = key
        request = {"db_path": str(db_path), "part": part, "period": args.period, "repeat": 1}
        return run_in_child(f"benchmarks.bench_funnel:{side}_once", request)

    keys = [(part, side) for part in parts for side in ("analytics", "pandas")]
    try:
        runs = interleave(args.repeat, keys, measure)
    except RuntimeError as exc:
        print(f"run failed:\n{exc}")
        return 1
    results = {key: merge_runs(value) for key, value in runs.items()}

    rows, verdicts, problems, summary = [], [], [], {}
    for part in parts:
        an, pa = results[(part, "analytics")], results[(part, "pandas")]
        times, memory = versus_cells(an, pa)
        part_ratio = ratio(median(pa["walls"]), median(an["walls"]))
        verdicts.append(part_ratio >= GOAL_RATIO)
        rows.append([part, *times, goal_cell(part_ratio, GOAL_RATIO), *memory])
        problems += compare(part, an["figures"], pa["figures"])
        summary[part] = {"analytics_s": median(an["walls"]), "pandas_s": median(pa["walls"]),
                         "ratio": part_ratio, "analytics_peak_kb": an["peak_rss_kb"],
                         "pandas_peak_kb": pa["peak_rss_kb"]}  # fmt: skip
    if len(parts) == 2:
        an_total = sum(median(results[(p, "analytics")]["walls"]) for p in parts)
        pa_total = sum(median(results[(p, "pandas")]["walls"]) for p in parts)
        total_ratio = ratio(pa_total, an_total)
        verdicts.append(total_ratio >= GOAL_RATIO)
        rows.append(
            ["both", f"{an_total:.3f}", "", "", f"{pa_total:.3f}", "", f"{total_ratio:.1f}x", "",
             goal_cell(total_ratio, GOAL_RATIO), "", "", "", ""]
        )  # fmt: skip
        summary["both"] = {"analytics_s": an_total, "pandas_s": pa_total, "ratio": total_ratio}
    print()
    print(format_table(["part", *VERSUS_HEADERS, "speed goal", *MEMORY_HEADERS], rows))
    print(versus_note(results[(parts[0], "analytics")]["first"]["threads"]))
    for part in parts:
        an, pa = results[(part, "analytics")], results[(part, "pandas")]
        print(f"  {part} runs: analytics {seconds_list(an['walls'])}; "
              f"pandas {seconds_list(pa['walls'])}")  # fmt: skip
    print(f"load after: {load_average()}")
    print()
    if problems:
        print(f"DIFF: {len(problems)} figure(s) disagree with pandas")
        for line in problems[:20]:
            print(f"  {line}")
    else:
        print("analytics and pandas agree on every figure (funnel table, waterfall buckets)")
    ok = all(verdicts)
    print(f"goal: funnel and waterfall >= {GOAL_RATIO:g}x faster than pandas -> "
          f"{'PASS' if ok else 'MISS'}")  # fmt: skip
    print_json(NAME, {"period": args.period, "parts": summary, "goal": "PASS" if ok else "MISS",
                      "disagreements": len(problems)})  # fmt: skip
    return 1 if problems or (args.fail_on_miss and not ok) else 0


if __name__ == "__main__":
    sys.exit(main())
