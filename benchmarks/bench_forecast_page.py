"""Time what the Forecast page's analytics call, at bench_pointintime's sizes (issue 14).

Why: bench_forecast times the snapshot backtest; after one upload (no snapshots) the page
instead rebuilds every past period's pipeline, with or without stage history, and that is
the path the issue's "Forecast page under a second at 1M deals" is about. Calls exactly what
pages/forecast.py calls for a first view: `backtest` (12 periods of the scope's kind),
`convergence` of the default period (its weekly asks gathered with the backtest's, as the
page does), `period_forecast` of the scope's period.

    python -m benchmarks.bench_forecast_page --rows 1000000 --repeat 2 [--profile]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import partial
from typing import Any

from benchmarks.harness import (
    RecordingConnection,
    load_average,
    new_parser,
    open_db,
    profile_statement,
    time_calls,
)


def page_calls(con: Any, kind: str) -> dict[str, Any]:
    """The page's analytics for a first view of the newest completed `kind` (month/quarter)."""
    from analytics.forecast.backtest import backtest, completed_periods, convergence
    from analytics.forecast.current import period_forecast
    from analytics.scope import Scope, data_as_of

    today = data_as_of(con)
    period = completed_periods(kind, 1, today)[-1]  # type: ignore[arg-type]
    scope = Scope(period)
    past = backtest(con, scope, kind=kind, periods=12, with_convergence=True)  # type: ignore[arg-type]
    weekly = convergence(con, scope, kind=kind, periods=12, labels=[period.label],  # type: ignore[arg-type]
                         recommendation=past.recommendation, known=past.gathered)  # fmt: skip
    current = period_forecast(con, scope, recommendation=past.recommendation)
    return {"backtest": past.table, "convergence": weekly.table, "current": current}


def main(argv: Sequence[str] | None = None) -> int:
    from benchmarks.bench_pointintime import generate

    parser = new_parser("benchmarks.bench_forecast_page", __doc__.splitlines()[0])
    parser.set_defaults(repeat=2)
    parser.add_argument("--kind", choices=("month", "quarter"), default="quarter")
    parser.add_argument("--profile", action="store_true", help="time and profile statements")
    args = parser.parse_args(argv)
    plain, history = generate(args.rows, args.seed)
    print(f"load before: {load_average()}")
    for case, path in (("rebuilt", plain), ("stage history", history)):
        con = open_db(str(path))
        try:
            # one untimed warm-up (reads the file), then the timed calls: wall and CPU
            _, walls, cpus, _ = time_calls(partial(page_calls, con, args.kind), args.repeat)
            print(f"{case:14} {args.kind}: wall {' '.join(f'{w:.2f}' for w in walls)} s, "
                  f"CPU {' '.join(f'{c:.2f}' for c in cpus)} s")  # fmt: skip
            if args.profile:
                rec = RecordingConnection(con)
                page_calls(rec, args.kind)
                total = sum(c[0] for c in rec.calls)
                print(f"  statements: {len(rec.calls)}, {total:.2f} s")
                for seconds, sql, params, caller in sorted(rec.calls, key=lambda c: -c[0])[:6]:
                    head = " ".join(sql.split())[:70]
                    print(f"  {seconds:6.2f} s {caller:32} {head}")
                    if seconds > 0.3:
                        print(profile_statement(con, sql, params, top=6))
        finally:
            con.close()
    print(f"load after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
