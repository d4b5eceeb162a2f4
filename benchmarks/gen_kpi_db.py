"""Deterministic DuckDB database at the scale of the KPI benchmark (issue 3, Speed).

Why a database and not export files: the KPI benchmark measures the queries behind the
Overview and Reps pages, not the importer (``bench_import`` measures that). Going through
the CSV importer would make a million-opportunity fixture take minutes and tie this
benchmark to the importer's speed and quirks; instead every canonical table is filled
directly with DuckDB SQL over ``range()``, in a few seconds.

Why hashing instead of ``random()``: each value is ``hash(row, column salt, seed)`` mapped
to [0, 1), so a row's content depends only on its number, the sizes and the seed, and
not on how DuckDB splits the work between threads (``setseed`` + ``random()`` is only
repeatable single-threaded). The same sizes and seed give the same rows; the file is
cached under ``benchmarks/out/`` (git-ignored), keyed by sizes, seed and generator version.

What is in it (the schema is the canonical one: ``analytics.db.connect`` applies it):

* ``reps``: 200 account executives in 8 teams and 2 regions (Americas, EMEA);
* ``opportunities``: about 25% open (stages Discovery .. Final Decision, expected close in
  the next months), 30% won and 45% lost, closed over 2023-2025 (slowly growing volume);
  log-normal amounts (median about $11k), a few without amount, about 20% of EMEA deals
  in EUR; win rates differ by rep, so the quadrant has something to sort;
* ``fx_rates``: monthly EUR rates (USD is the reporting currency), covering every deal;
* ``activities``: call, email, meeting, demo, admin, training, internal meeting with
  log-normal durations; half are linked to an opportunity (owned by its owner, dated
  inside its life), the rest are the rep's other work;
* ``leads``: first response from minutes to days (6% never answered), a quarter converted;
* ``quotas``: monthly per rep, near each rep's average bookings so attainment spreads
  around 100%; five reps have no quota (the "no quota" edge case).

Usage::

    python -m benchmarks.gen_kpi_db --opps 1000000 --activities 5000000   # prints the path
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import duckdb

from analytics import db
from analytics.metrics.derived import refresh_derived
from analytics.settings import DEFAULT_STAGES
from benchmarks.harness import (
    OUT_DIR,
    cached,
    draw_macros,
    new_import,
    set_import_rows,
    sql_list,
    sql_lit,
)

DEFAULT_OPPS = 1_000_000
DEFAULT_ACTIVITIES = 5_000_000
DEFAULT_LEADS = 200_000
DEFAULT_SEED = 42
# Bump when the generated content changes, so stale cached databases are never reused.
GENERATOR_VERSION = 1

N_REPS = 200
FIRST_DAY = date(2023, 1, 1)
AS_OF = date(2025, 12, 31)  # the export date: deals closed up to here, open ones after
DAYS = (AS_OF - FIRST_DAY).days + 1

FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Carlos", "Susan", "Priya", "Jessica", "Wei", "Sarah",
    "Kenji", "Olga",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Garcia", "Brown", "Nguyen", "Miller", "Davis", "Lopez", "Wilson",
    "Taylor",
)  # fmt: skip
TEAMS = (
    ("Americas East", "Americas"),
    ("Americas West", "Americas"),
    ("Americas Central", "Americas"),
    ("Americas Enterprise", "Americas"),
    ("EMEA North", "EMEA"),
    ("EMEA South", "EMEA"),
    ("EMEA Central", "EMEA"),
    ("EMEA Enterprise", "EMEA"),
)
LEAD_SOURCES = ("Web", "Webinar", "Paid Search", "Trade Show", "Outbound", "Partner")
LEAD_STATUSES = ("Working", "Nurturing", "Unqualified")  # besides "Converted"
DEAL_TYPES = ("New Business", "Upgrade", "Renewal", "Add-On")
PRODUCTS = ("Core", "Analytics", "Platform", "Services")
# Activity type -> (median minutes, share among unlinked rows, share among deal-linked rows).
ACTIVITY_MIX: dict[str, tuple[float, float, float]] = {
    "call": (12, 0.25, 0.40),
    "email": (5, 0.25, 0.35),
    "meeting": (40, 0.10, 0.15),
    "demo": (60, 0.04, 0.10),
    "admin": (55, 0.16, 0.0),
    "training": (90, 0.06, 0.0),
    "internal meeting": (45, 0.14, 0.0),
}
# Open-stage shares (the remaining default stages are the closed ones).
OPEN_STAGE_SHARE = (0.30, 0.25, 0.20, 0.15, 0.10)
FORECAST_CATEGORY = ("Pipeline", "Pipeline", "Best Case", "Best Case", "Commit")


def cached_path(opps: int, activities: int, leads: int, seed: int, out_dir: Path = OUT_DIR) -> Path:
    """Where the database for these sizes and seed lives; the version retires old layouts."""
    name = f"kpi_{opps}o_{activities}a_{leads}l_seed{seed}_v{GENERATOR_VERSION}.duckdb"
    return out_dir / name


def _pick(u_expr: str, labels: Sequence[str], shares: Sequence[float]) -> str:
    """``CASE`` choosing a label by cumulative share of one uniform draw."""
    parts, total = [], 0.0
    pairs = [(label, share) for label, share in zip(labels, shares, strict=True) if share > 0]
    for label, share in pairs[:-1]:
        total += share
        parts.append(f"WHEN {u_expr} < {total:.6f} THEN {sql_lit(label)}")
    return f"CASE {' '.join(parts)} ELSE {sql_lit(pairs[-1][0])} END"


def kpi_macros(seed: int) -> str:
    """The harness's hash-keyed draws (``u``, ``z``), and ``rep_no``, which gives a few
    reps many more rows than others, and ``rep_name``."""
    people = f"""
    CREATE OR REPLACE TEMP MACRO rep_no(i, salt) AS
        least({N_REPS - 1}, floor({N_REPS} * pow(u(i, salt), 1.4)))::INTEGER;
    CREATE OR REPLACE TEMP MACRO rep_name(k) AS
        {sql_list(FIRST_NAMES)}[k % {len(FIRST_NAMES)} + 1] || ' '
        || {sql_list(LAST_NAMES)}[k // {len(FIRST_NAMES)} + 1];
    """
    return draw_macros(seed) + people


def _new_import(con: duckdb.DuckDBPyConnection, kind: str) -> int:
    return new_import(con, f"gen_kpi_db:{kind}", kind, AS_OF)


def _fill_reps(con: duckdb.DuckDBPyConnection) -> None:
    imp = _new_import(con, "reps")
    teams = sql_list([t for t, _ in TEAMS])
    regions = sql_list([r for _, r in TEAMS])
    con.execute(
        f"""
        INSERT INTO reps (rep, manager, team, region, role, level, hire_date, active, import_id)
        SELECT rep_name(k), 'Manager of ' || {teams}[k % 8 + 1], {teams}[k % 8 + 1],
               {regions}[k % 8 + 1], 'AE',
               CASE WHEN u(k, 301) < 0.4 THEN 'junior' ELSE 'senior' END,
               DATE '2018-01-01' + floor(u(k, 302) * 1800)::INTEGER, TRUE, {imp}
        FROM range({N_REPS}) AS t(k)
        """
    )
    set_import_rows(con, imp, "reps")


def _fill_opportunities(con: duckdb.DuckDBPyConnection, opps: int) -> None:
    """Opportunities via a temp table ``opp_gen`` that activities and leads refer back to."""
    open_stages = [s.name for s in DEFAULT_STAGES if not s.is_closed]
    won_stage = next(s.name for s in DEFAULT_STAGES if s.is_won)
    lost_stage = next(s.name for s in DEFAULT_STAGES if s.is_closed and not s.is_won)
    probability = {s.name: s.probability for s in DEFAULT_STAGES}
    prob_case = " ".join(f"WHEN {sql_lit(k)} THEN {v}" for k, v in probability.items())
    fc_case = " ".join(
        f"WHEN {sql_lit(k)} THEN {sql_lit(v)}"
        for k, v in zip(open_stages, FORECAST_CATEGORY, strict=True)
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE opp_gen AS
        WITH base AS (
            SELECT i, rep_no(i, 1) AS k, u(i, 2) AS u_status, u(i, 3) AS u_win,
                   least(540, 7 + floor(40 * (-ln(u(i, 5)) - ln(u(i, 6)))))::INTEGER AS cycle
            FROM range({opps}) AS t(i)
        ),
        outcome AS (
            SELECT *,
                   CASE WHEN u_status < 0.25 THEN 'open'
                        WHEN u_win < 0.4 * (0.6 + 0.8 * u(k, 101)) THEN 'won'
                        ELSE 'lost' END AS outcome
            FROM base
        ),
        dated AS (
            SELECT *,
                   CASE WHEN outcome = 'open'
                        THEN DATE '{AS_OF}' + 1 + floor(u(i, 4) * 200)::INTEGER
                        ELSE DATE '{FIRST_DAY}' + floor({DAYS} * pow(u(i, 4), 0.85))::INTEGER
                   END AS close_date
            FROM outcome
        )
        SELECT i, k, outcome,
               'OPP-' || lpad(i::VARCHAR, 8, '0') AS opportunity_id,
               rep_name(k) AS owner,
               CASE outcome WHEN 'won' THEN {sql_lit(won_stage)}
                            WHEN 'lost' THEN {sql_lit(lost_stage)}
                    ELSE {_pick("u(i, 7)", open_stages, OPEN_STAGE_SHARE)} END AS stage,
               CASE WHEN u(i, 9) < 0.003 THEN NULL
                    ELSE least(2000000, greatest(500,
                         round(exp(9.3 + 0.9 * z(i, 8)) / 50) * 50))::DECIMAL(18, 2)
               END AS amount,
               CASE WHEN k % 8 >= 4 AND u(i, 10) < 0.4 THEN 'EUR' ELSE 'USD' END AS currency,
               CASE WHEN outcome = 'open'
                    THEN DATE '{AS_OF}' - floor(u(i, 5) * 300)::INTEGER
                    ELSE close_date - cycle END AS created_date,
               close_date
        FROM dated
        """
    )
    imp = _new_import(con, "opportunities")
    con.execute(
        f"""
        INSERT INTO opportunities
            (opportunity_id, opportunity_name, account, owner, stage, source_stage, amount,
             currency, probability, forecast_category, created_date, close_date, is_closed,
             is_won, lead_source, deal_type, product, snapshot_date, import_id)
        SELECT opportunity_id,
               account || ' - ' || {sql_list(DEAL_TYPES)}[deal + 1] || ' ' || i,
               account, owner, stage, stage, amount, currency,
               CASE stage {prob_case} END,
               CASE outcome WHEN 'won' THEN 'Closed' WHEN 'lost' THEN 'Omitted'
                    ELSE CASE stage {fc_case} END END,
               created_date, close_date, outcome <> 'open', outcome = 'won',
               {sql_list(LEAD_SOURCES)}[floor(u(i, 12) * {len(LEAD_SOURCES)})::INTEGER + 1],
               {sql_list(DEAL_TYPES)}[deal + 1],
               {sql_list(PRODUCTS)}[floor(u(i, 14) * {len(PRODUCTS)})::INTEGER + 1],
               DATE '{AS_OF}', {imp}
        FROM (
            SELECT *, 'Account ' || lpad(floor(u(i, 11) * 25000)::INTEGER::VARCHAR, 5, '0')
                          AS account,
                      floor(u(i, 13) * {len(DEAL_TYPES)})::INTEGER AS deal
            FROM opp_gen
        )
        """
    )
    set_import_rows(con, imp, "opportunities")


def _fill_fx_rates(con: duckdb.DuckDBPyConnection) -> None:
    """Monthly EUR rates from well before the first created date to the export date."""
    imp = _new_import(con, "fx_rates")
    con.execute(
        f"""
        INSERT INTO fx_rates (currency, rate_date, rate, import_id)
        SELECT 'EUR', CAST(m AS DATE),
               round(1.09 + 0.05 * sin(row_number() OVER (ORDER BY m) / 4.0), 4), {imp}
        FROM generate_series(TIMESTAMP '2021-01-01', TIMESTAMP '{AS_OF}', INTERVAL 1 MONTH)
             AS t(m)
        """
    )
    set_import_rows(con, imp, "fx_rates")


def _duration_sql(type_col: str, i: str) -> str:
    medians = " ".join(f"WHEN {sql_lit(t)} THEN {m[0]}" for t, m in ACTIVITY_MIX.items())
    return f"greatest(1, round((CASE {type_col} {medians} END) * exp(0.45 * z({i}, 24))))"


def _fill_activities(con: duckdb.DuckDBPyConnection, activities: int, opps: int) -> None:
    """Half the activities touch a deal (its owner, inside its life); half are other work."""
    imp = _new_import(con, "activities")
    types = list(ACTIVITY_MIX)
    linked = activities // 2
    linked_type = _pick("u(a.i, 22)", types, [m[2] for m in ACTIVITY_MIX.values()])
    other_type = _pick("u(i, 22)", types, [m[1] for m in ACTIVITY_MIX.values()])
    con.execute(
        f"""
        INSERT INTO activities (activity_id, owner, activity_type, started_at, duration_minutes,
                                opportunity_id, lead_id, account, subject, import_id)
        WITH deal_work AS (
            SELECT a.i, o.owner, {linked_type} AS activity_type,
                   CAST(o.created_date + floor(u(a.i, 23) * (1 + greatest(0,
                        least(o.close_date, DATE '{AS_OF}') - o.created_date)))::INTEGER
                        AS TIMESTAMP)
                   + to_minutes((480 + floor(u(a.i, 25) * 600))::BIGINT) AS started_at,
                   o.opportunity_id
            FROM (SELECT i, floor(u(i, 21) * {opps})::BIGINT AS j FROM range({linked}) t(i)) AS a
            JOIN opp_gen AS o ON o.i = a.j
        ),
        other_work AS (
            SELECT i, rep_name(rep_no(i, 21)) AS owner, {other_type} AS activity_type,
                   CAST(DATE '{FIRST_DAY}' + floor(u(i, 23) * {DAYS})::INTEGER AS TIMESTAMP)
                   + to_minutes((480 + floor(u(i, 25) * 600))::BIGINT) AS started_at,
                   NULL::VARCHAR AS opportunity_id
            FROM range({linked}, {activities}) AS t(i)
        ),
        all_work AS (
            SELECT * FROM deal_work UNION ALL SELECT * FROM other_work
        )
        SELECT 'ACT-' || lpad(i::VARCHAR, 9, '0'), owner, activity_type, started_at,
               {_duration_sql("activity_type", "i")}, opportunity_id, NULL, NULL,
               activity_type || ' #' || i, {imp}
        FROM all_work
        """
    )
    set_import_rows(con, imp, "activities")


def _fill_leads(con: duckdb.DuckDBPyConnection, leads: int, opps: int) -> None:
    """Leads with a log-normal first response (median 90 minutes), some never answered."""
    imp = _new_import(con, "leads")
    con.execute(
        f"""
        INSERT INTO leads (lead_id, created_at, owner, source, status, company,
                           first_response_at, converted_at, opportunity_id, import_id)
        WITH base AS (
            SELECT i,
                   CAST(DATE '{FIRST_DAY}' + floor(u(i, 31) * {DAYS})::INTEGER AS TIMESTAMP)
                   + to_seconds(floor(u(i, 32) * 86400)::BIGINT) AS created_at,
                   u(i, 33) < 0.06 AS unanswered,
                   u(i, 34) < 0.25 AS converted
            FROM range({leads}) AS t(i)
        ),
        answered AS (
            SELECT *,
                   CASE WHEN unanswered THEN NULL
                        ELSE created_at + to_seconds(
                             round(60 * exp(ln(90) + 1.6 * z(i, 35)))::BIGINT) END
                   AS first_response_at
            FROM base
        )
        SELECT 'LEAD-' || lpad(i::VARCHAR, 8, '0'), created_at, rep_name(rep_no(i, 36)),
               {sql_list(LEAD_SOURCES)}[floor(u(i, 37) * {len(LEAD_SOURCES)})::INTEGER + 1],
               CASE WHEN converted AND NOT unanswered THEN 'Converted'
                    ELSE {_pick("u(i, 38)", LEAD_STATUSES, (0.3, 0.3, 0.4))}
               END,
               'Company ' || lpad(floor(u(i, 39) * 60000)::INTEGER::VARCHAR, 5, '0'),
               first_response_at,
               CASE WHEN converted AND NOT unanswered
                    THEN first_response_at + to_days((1 + floor(u(i, 40) * 30))::INTEGER) END,
               CASE WHEN converted AND NOT unanswered
                    THEN 'OPP-' || lpad(floor(u(i, 41) * {opps})::BIGINT::VARCHAR, 8, '0') END,
               {imp}
        FROM answered
        """
    )
    set_import_rows(con, imp, "leads")


def _fill_quotas(con: duckdb.DuckDBPyConnection) -> None:
    """Monthly quota = the rep's average monthly won amount x 0.75-1.25, rounded to 100.

    Set from the generated deals so attainment lands around 100% at any data size; reps
    numbered 39, 79, ... (five of 200) have none, as ops sometimes forget a new hire.
    """
    imp = _new_import(con, "quotas")
    months = (AS_OF.year - FIRST_DAY.year) * 12 + AS_OF.month - FIRST_DAY.month + 1
    con.execute(
        f"""
        INSERT INTO quotas (owner, period_start, period_end, amount, import_id)
        WITH per_rep AS (
            SELECT k, coalesce(sum(amount) FILTER (WHERE outcome = 'won'), 0) / {months} AS avg_won
            FROM opp_gen GROUP BY k
        ),
        months AS (
            SELECT CAST(m AS DATE) AS period_start
            FROM generate_series(TIMESTAMP '{FIRST_DAY}', TIMESTAMP '{AS_OF}' + INTERVAL 3 MONTH,
                                 INTERVAL 1 MONTH) AS t(m)
        )
        SELECT rep_name(r.k), m.period_start,
               CAST(m.period_start + INTERVAL 1 MONTH - INTERVAL 1 DAY AS DATE),
               greatest(1000, round(r.avg_won * (0.75 + 0.5 * u(r.k, 201)), -2))::DECIMAL(18, 2),
               {imp}
        FROM per_rep AS r, months AS m
        WHERE r.k % 40 <> 39
        """
    )
    set_import_rows(con, imp, "quotas")


def build(path: Path, opps: int, activities: int, leads: int, seed: int) -> None:
    """Create the database at `path` (which must not exist) and fill every table."""
    con = db.connect(path)
    try:
        con.execute(kpi_macros(seed))
        _fill_reps(con)
        _fill_opportunities(con, opps)
        _fill_fx_rates(con)
        _fill_activities(con, activities, opps)
        _fill_leads(con, leads, opps)
        _fill_quotas(con)
        con.execute("DROP TABLE opp_gen")
        with db.transaction(con):  # what an import keeps current (derived tables)
            refresh_derived(con)
        con.execute("CHECKPOINT")
    finally:
        con.close()


def generate(
    opps: int = DEFAULT_OPPS,
    activities: int = DEFAULT_ACTIVITIES,
    leads: int | None = None,
    seed: int = DEFAULT_SEED,
    *,
    out_dir: Path = OUT_DIR,
) -> Path:
    """Return the cached database for these sizes, building it first if it is missing.

    `leads` defaults to one per five opportunities (200,000 at full size). Built under a
    temporary name and renamed, so an interrupted run never leaves a half-filled file that
    a later run would mistake for a finished one.
    """
    if opps < 1 or activities < 2:
        raise ValueError("need at least 1 opportunity and 2 activities")
    leads = max(1, opps // 5) if leads is None else leads
    path = cached_path(opps, activities, leads, seed, out_dir)
    return cached(path, lambda tmp: build(tmp, opps, activities, leads, seed))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gen_kpi_db",
        description="Generate (or reuse) the KPI benchmark's DuckDB database; prints its path.",
    )
    parser.add_argument("--opps", type=int, default=DEFAULT_OPPS)
    parser.add_argument("--activities", type=int, default=DEFAULT_ACTIVITIES)
    parser.add_argument("--leads", type=int, help="default: one per five opportunities")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    path = generate(args.opps, args.activities, args.leads, args.seed, out_dir=args.out_dir)
    print(path)
    print(f"ready in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
