"""Point-in-time benchmark: the pipeline as of 52 weekly dates over 1,000,000 deals (issue 14).

Why this workload: after one upload every "as it was then" figure (a past period's open
pipeline, the backtest, the convergence chart, the waterfall between two dates) is the
deals open on some day D, rebuilt from the export by `analytics.pointintime`. A year of
weekly points is the convergence chart's and the KPI trend's worst case. Issue 14's goal:
at least 5x pandas computing the same in the same run.

What is timed, for the 52 weekly dates ending on the data's as-of date (2025-12-31), in
two cases:

* **without stage history** (source "rebuilt"): each day's open deals are those created
  on or before it and not closed by it; stage unknown, amount as exported (the database
  holds one export, so the export nearest every day is that one: the pandas side does
  not implement `NEAREST_EXPORT`, which bench_kpis' baseline does);
* **with stage history** (source "stage history", about 3 changes per deal): the same
  deals, each with the stage (and amount, where the change records one) of its last
  stage change on or before the day.

The **as-of state** compared is, per day, owner and stage: the open deals and their
amount.

* **analytics**: `analytics.pointintime.as_of_totals_sql` (the totals the KPI query reads;
  the same answer as `AS_OF_SQL`, the one definition of "open on D", checked by
  tests/test_pointintime_totals.py) for the 52 days at once, the days' sources chosen by
  `pointintime.bases` (forced to "rebuilt" in the first case, where the database has no
  history anyway), summed by day, owner and stage; interval arithmetic over day numbers,
  never a row per deal and day;
* **pandas**: the same, vectorised as a competent analyst would for 52 days: each deal's
  range of open days by two binary searches (`searchsorted`), each stage change's range
  of days until the next one, clipped to the deal's open range, summed per (owner, stage,
  first day, last day) and expanded with a difference array and a cumulative sum; never
  a filter per day. Its frames are loaded once per process through DuckDB, untimed (load
  time and memory printed beside).

Method (as the other benchmarks): every measurement is a fresh process with one untimed
warm-up call, sides interleaved, `--repeat` runs, the median reported with CPU time and
peak RSS; both sides' states are compared cell by cell and a disagreement prints
`DISAGREE` and exits 1.

Data: `benchmarks.gen_kpi_db` (`--rows` opportunities; 25% open, created in the 300 days
before 2025-12-31; the rest closed 2023-2025 after cycles of 7-540 days), cached; the
"with history" copy adds `stage_history_imported` rows: each deal walks Discovery,
Qualified, Demo, Trial, Final Decision up to its current stage (a lost deal to a random
one), at evenly spaced times over its life, then Closed Won / Closed Lost on its close
date; one change in five records an amount (the deal's, rounded down by 10%).
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.harness import (
    OUT_DIR,
    SIDE_HEADERS,
    ChildRun,
    add_quiet_args,
    cached,
    duckdb_threads,
    format_table,
    interleave,
    load_average,
    new_parser,
    open_db,
    pandas_load_note,
    print_header,
    print_json,
    quiet_machine,
    run_in_child,
    side_cells,
    side_summary,
    wall_cpu_ratio,
    warm_page_cache,
)

NAME = "pointintime"
CHILD = "benchmarks.bench_pointintime:{}_once"  # a side's child body
GENERATOR_VERSION = 3  # 3: stage_history_spans counted after the changes are added
AS_OF = date(2025, 12, 31)  # gen_kpi_db's export date
DEFAULT_DAYS = 52
CASES = ("rebuilt", "stage history")
REL_TOL = 1e-9
ABS_TOL = 0.01
OPEN_STAGES = ("Discovery", "Qualified", "Demo", "Trial", "Final Decision")
UNKNOWN = "(unknown)"  # the stage of a rebuilt deal, as a group key on both sides


def weekly_days(count: int = DEFAULT_DAYS, last: date = AS_OF) -> list[date]:
    """`count` days a week apart, ending on `last`, oldest first."""
    return [last - timedelta(days=7 * k) for k in range(count - 1, -1, -1)]


# --- data ----------------------------------------------------------------------------------


def _history_sql(seed: int) -> str:
    """Stage changes for every deal of `opportunities` (see the module docstring)."""
    stages = "[" + ", ".join(f"'{s}'" for s in OPEN_STAGES) + "]"
    return f"""
    INSERT INTO stage_history_imported (opportunity_id, stage, source_stage, entered_at,
                                        amount, import_id)
    WITH deals AS (
        SELECT opportunity_id, stage, amount, created_date, close_date, is_closed, is_won,
               CASE WHEN is_closed THEN close_date ELSE DATE '{AS_OF}' END AS life_end,
               CAST(CASE WHEN NOT is_closed
                    THEN coalesce(list_position({stages}, stage), 1)
                    WHEN is_won THEN {len(OPEN_STAGES)}
                    ELSE 1 + (hash(opportunity_id, {int(seed)}) % {len(OPEN_STAGES)})
               END AS BIGINT) AS reached
        FROM opportunities
        WHERE created_date IS NOT NULL
    ),
    steps AS (
        SELECT d.*, s.k
        FROM deals AS d, LATERAL (SELECT unnest(range(d.reached)) AS k) AS s
    )
    SELECT opportunity_id, {stages}[k + 1], {stages}[k + 1],
           CAST(created_date AS TIMESTAMP) + INTERVAL 9 HOUR
               + to_seconds(CAST(floor(k * 86400.0 * greatest(0, life_end - created_date - 1)
                                       / reached) AS BIGINT))
               + to_minutes(k),  -- strictly increasing, also on a deal's first day
           CASE WHEN hash(opportunity_id, k, {int(seed)}) % 5 = 0
                THEN round(amount * 0.9, 2) END,
           0
    FROM steps
    UNION ALL
    SELECT opportunity_id, stage, stage, CAST(close_date AS TIMESTAMP) + INTERVAL 17 HOUR,
           NULL, 0
    FROM deals
    WHERE is_closed AND close_date IS NOT NULL
    """


def generate(rows: int, seed: int, *, out_dir: Path = OUT_DIR) -> tuple[Path, Path]:
    """(database without stage history, the same with it), cached under `out_dir`."""
    from analytics import db
    from analytics.metrics.derived import refresh_derived
    from benchmarks import gen_kpi_db

    plain = gen_kpi_db.generate(rows, 2, 1, seed, out_dir=out_dir)

    def build(tmp: Path) -> None:
        shutil.copyfile(plain, tmp)
        con = db.connect(tmp)
        try:
            con.execute(_history_sql(seed))
            # the changes were written by SQL, not imported: count the derived spans as a
            # writable open would (analytics.db.apply_schema)
            with db.transaction(con):
                refresh_derived(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()

    path = out_dir / f"pit_{rows}o_seed{seed}_v{GENERATOR_VERSION}.duckdb"
    return plain, cached(path, build)


# --- the analytics side ----------------------------------------------------------------------


def _state_sql(case: str, spans: bool) -> str:
    from analytics.pointintime import as_of_totals_sql

    return f"""
    WITH {as_of_totals_sql(history=case == "stage history", spans=spans)}
    SELECT as_of_key, owner, coalesce(stage, '{UNKNOWN}') AS stage,
           CAST(sum(deals) AS BIGINT) AS deals,
           coalesce(sum(CAST(amount AS DOUBLE)), 0) AS amount
    FROM as_of_totals
    GROUP BY ALL
    """


def analytics_state(con: Any, days: Sequence[date], case: str) -> list[list[Any]]:
    """The as-of state of every day, from the point-in-time layer's own SQL."""
    from analytics.metrics.derived import stage_spans_current
    from analytics.pointintime import Basis, as_of_params, bases

    # Each case times one source over all the days, so it is named for every day. The layer
    # itself would answer the last weeks from a snapshot: since snapshots are stored once,
    # the generated current rows are the export of AS_OF. What it must never do is choose
    # a rebuild where stage history exists, checked on the days before that snapshot.
    chosen = [Basis(d, case) for d in days]  # type: ignore[arg-type]
    if case == "stage history":
        layer = {b.source for b in bases(con, days) if b.source != "snapshot"}
        if layer - {"stage history"}:
            raise RuntimeError(f"expected stage history before the snapshot, got {layer}")
    # as the KPI query does: the derived spans when they are current (they are, here)
    spans = case == "stage history" and stage_spans_current(con)
    if case == "stage history" and not spans:
        raise RuntimeError("stage_history_spans is not current in the benchmark database")
    params = as_of_params(list(enumerate(chosen)))
    rows = con.execute(_state_sql(case, spans), params).fetchall()
    return [[int(k), str(o), str(s), int(n), float(a)] for k, o, s, n, a in rows]


def analytics_once(db_path: str, days: int, case: str, repeat: int) -> dict[str, Any]:
    """Child body: the as-of state for `days` weekly dates on one read-only connection."""
    run = ChildRun()
    con = open_db(db_path)
    try:
        wanted = weekly_days(days)
        state = run.time(lambda: analytics_state(con, wanted, case), repeat)
        threads = duckdb_threads(con)
    finally:
        con.close()
    return run.result(threads=threads, state=state)


# --- the pandas side ---------------------------------------------------------------------


def load_frames(con: Any, case: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The deals (and stage changes) pandas needs, with categorical strings."""
    deals = con.execute(
        "SELECT opportunity_id, owner, CAST(amount AS DOUBLE) AS amount, created_date, "
        "close_date, is_closed FROM opportunities"
    ).df()
    deals["owner"] = deals["owner"].astype("category")
    if case != "stage history":
        return deals, None
    changes = con.execute(
        "SELECT opportunity_id, entered_at, stage, CAST(amount AS DOUBLE) AS amount "
        "FROM opportunity_stage_history ORDER BY opportunity_id, entered_at"
    ).df()
    changes["stage"] = changes["stage"].astype("category")
    return deals, changes


def _expand(groups: pd.DataFrame, keys: list[str], n_days: int) -> pd.DataFrame:
    """Rows (keys, lo, hi, deals, amount) meaning "open on days lo .. hi-1" -> per day.

    A difference array per key: + at lo, - at hi, cumulative sum over the days.
    """
    groups = groups[groups["hi"] > groups["lo"]]
    start = groups.assign(day=groups["lo"])
    stop = groups.assign(day=groups["hi"], deals=-groups["deals"], amount=-groups["amount"])
    edges = pd.concat([start, stop[stop["day"] < n_days]], ignore_index=True)
    delta = edges.groupby([*keys, "day"], observed=True)[["deals", "amount"]].sum()
    wide = delta.unstack("day", fill_value=0).reindex(
        columns=pd.MultiIndex.from_product([["deals", "amount"], range(n_days)]), fill_value=0
    )
    deals = wide["deals"].cumsum(axis=1).stack()
    amount = wide["amount"].cumsum(axis=1).stack()
    out = pd.DataFrame({"deals": deals, "amount": amount}).reset_index()
    out = out.rename(columns={out.columns[len(keys)]: "day"})
    return out[out["deals"] != 0]


def pandas_state(
    deals: pd.DataFrame, changes: pd.DataFrame | None, days: Sequence[date]
) -> list[list[Any]]:
    """The same state as `analytics_state`, computed with pandas and numpy."""
    day_ns = pd.to_datetime(pd.Series(days)).to_numpy(dtype="datetime64[ns]")
    n_days = len(day_ns)
    created = pd.to_datetime(deals["created_date"]).to_numpy(dtype="datetime64[ns]")
    close = pd.to_datetime(deals["close_date"]).to_numpy(dtype="datetime64[ns]")
    closed = deals["is_closed"].to_numpy(dtype=bool)
    # open on day D: created <= D and (not closed or close > D)
    lo = np.searchsorted(day_ns, created, side="left")
    hi = np.where(closed, np.searchsorted(day_ns, close, side="left"), n_days)
    placeable = ~np.isnat(created) & (~closed | ~np.isnat(close))
    frame = pd.DataFrame({
        "opportunity_id": deals["opportunity_id"], "owner": deals["owner"],
        "amount": deals["amount"], "lo": lo, "hi": hi,
    })[placeable & (hi > lo)]  # fmt: skip
    if changes is None:
        grouped = frame.groupby(["owner", "lo", "hi"], observed=True).agg(
            deals=("amount", "size"), amount=("amount", "sum")
        ).reset_index()  # fmt: skip
        state = _expand(grouped, ["owner"], n_days)
        state["stage"] = UNKNOWN
    else:
        # a change counts from the first day whose end is after it: D + 1 day > entered_at
        day_over = day_ns + np.timedelta64(1, "D")
        starts = np.searchsorted(day_over, changes["entered_at"].to_numpy("datetime64[ns]"),
                                 side="right")  # fmt: skip
        ch = pd.DataFrame({"opportunity_id": changes["opportunity_id"], "stage": changes["stage"],
                           "ch_amount": changes["amount"], "from": starts})  # fmt: skip
        same = ch["opportunity_id"].eq(ch["opportunity_id"].shift(-1))
        ch["to"] = np.where(same, ch["from"].shift(-1, fill_value=n_days), n_days)
        ch = ch[ch["to"] > ch["from"]]  # superseded on the same day: never the day's stage
        first = ch.groupby("opportunity_id", sort=False)["from"].min()
        # before its first change a deal's stage is unknown and its amount the exported one
        frame["first"] = frame["opportunity_id"].map(first).fillna(n_days).astype(np.int64)
        before = frame.assign(stage=UNKNOWN, hi=np.minimum(frame["hi"], frame["first"]))
        seg = ch.merge(frame[["opportunity_id", "owner", "amount", "lo", "hi"]],
                       on="opportunity_id", how="inner")  # fmt: skip
        seg["amount"] = seg["ch_amount"].fillna(seg["amount"])
        seg["lo"] = np.maximum(seg["lo"], seg["from"])
        seg["hi"] = np.minimum(seg["hi"], seg["to"])
        seg["stage"] = seg["stage"].astype(str)
        both = pd.concat(
            [before[["owner", "stage", "amount", "lo", "hi"]],
             seg[["owner", "stage", "amount", "lo", "hi"]]], ignore_index=True,
        )  # fmt: skip
        both = both[both["hi"] > both["lo"]]
        grouped = both.groupby(["owner", "stage", "lo", "hi"], observed=True).agg(
            deals=("amount", "size"), amount=("amount", "sum")
        ).reset_index()  # fmt: skip
        state = _expand(grouped, ["owner", "stage"], n_days)
    return [
        [int(d), str(o), str(s), int(n), float(a)]
        for d, o, s, n, a in state[["day", "owner", "stage", "deals", "amount"]].itertuples(
            index=False
        )
    ]


def pandas_once(db_path: str, days: int, case: str, repeat: int) -> dict[str, Any]:
    """Child body: load the frames (untimed), then time `pandas_state`."""
    run = ChildRun()
    con = open_db(db_path)
    try:
        run.loading()
        deals, changes = load_frames(con, case)
        run.loaded()
    finally:
        con.close()
    wanted = weekly_days(days)
    state = run.time(lambda: pandas_state(deals, changes, wanted), repeat)
    return run.result(changes=0 if changes is None else len(changes), state=state)


# --- comparing and reporting ---------------------------------------------------------------


def compare(an: list[list[Any]], pdf: list[list[Any]]) -> tuple[int, int, float, str]:
    """(cells compared, disagreements, max abs amount difference, first disagreement).

    A (day, owner, stage) group with no open deal is simply absent on either side; treated
    as 0 deals and 0 amount.
    """
    left = {(r[0], r[1], r[2]): (r[3], r[4]) for r in an}
    right = {(r[0], r[1], r[2]): (r[3], r[4]) for r in pdf}
    compared = bad = 0
    worst, first = 0.0, ""
    for key in sorted(left.keys() | right.keys()):
        a, b = left.get(key, (0, 0.0)), right.get(key, (0, 0.0))
        compared += 2
        if a[0] != b[0]:
            bad += 1
            first = first or f"{key} deals: analytics {a[0]}, pandas {b[0]}"
        worst = max(worst, abs(a[1] - b[1]))
        if not math.isclose(a[1], b[1], rel_tol=REL_TOL, abs_tol=ABS_TOL):
            bad += 1
            first = first or f"{key} amount: analytics {a[1]}, pandas {b[1]}"
    return compared, bad, worst, first


def build_parser() -> argparse.ArgumentParser:
    parser = new_parser(
        "benchmarks.bench_pointintime",
        "Time the pipeline as of 52 weekly dates (rebuilt, and with stage history) against pandas.",
    )  # --rows: opportunities
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS,
                        help=f"weekly dates to 2025-12-31 (default {DEFAULT_DAYS})")  # fmt: skip
    parser.add_argument("--case", choices=("both", *CASES), default="both",
                        help="without stage history (rebuilt), with it, or both")  # fmt: skip
    add_quiet_args(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if min(args.rows, args.repeat, args.days) < 1:
        raise SystemExit("--rows, --repeat, --days: positive")
    print_header(f"point-in-time benchmark: the pipeline as of {args.days} weekly dates, "
                 f"{args.rows:,} opportunities, {args.repeat} runs per side")  # fmt: skip
    start = time.perf_counter()
    plain, with_history = generate(args.rows, args.seed)
    print(f"databases: {plain.name}, {with_history.name} (ready in "
          f"{time.perf_counter() - start:.1f} s)")  # fmt: skip
    for path in (plain, with_history):
        warm_page_cache(path)
    quiet_machine(args)
    cases = CASES if args.case == "both" else (args.case,)
    status = 0
    rows, ratios, summary = [], [], {}
    for case in cases:
        path = with_history if case == "stage history" else plain
        request = {"db_path": str(path), "days": args.days, "case": case, "repeat": 1}
        runs = interleave(  # one timed call per process, sides interleaved
            args.repeat,
            ("analytics", "pandas"),
            lambda side, req=request: run_in_child(CHILD.format(side), req),
        )
        for side in runs:
            if side == "pandas":
                extra = (
                    f"{pandas_load_note(runs[side])}; {runs[side][0]['changes']:,} stage changes"
                )
            else:
                extra = f"{runs[side][0]['threads']} threads"
            rows.append([case, side, *side_cells(runs[side]), extra])
        summary[case] = {side: side_summary(runs[side]) for side in runs}
        compared, bad, worst, first = compare(runs["analytics"][0]["state"],
                                              runs["pandas"][0]["state"])  # fmt: skip
        verdict = "same state" if bad == 0 else f"DISAGREE ({bad}): {first}"
        groups = len(runs["analytics"][0]["state"])
        open_total = sum(r[3] for r in runs["analytics"][0]["state"])
        ratios.append(
            f"{case}: {groups:,} (day, owner, stage) groups, {open_total:,} deal-days, "
            f"{compared:,} values compared, max abs difference {worst:.6f}: {verdict}\n"
            f"ratio ({case}): {wall_cpu_ratio(runs)} (goal: at least 5x)"
        )
        status = status or (1 if bad else 0)
        summary[case]["disagreements"] = bad
    print()
    print(format_table(["case", "side", *SIDE_HEADERS], rows))
    print()
    print("\n".join(ratios))
    print(f"load after: {load_average()}")
    print_json(NAME, {"days": args.days, "cases": summary})
    return status


if __name__ == "__main__":
    sys.exit(main())
