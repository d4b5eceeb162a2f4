"""Forecasting (issue 5): what lands this period, and how far to trust the number.

- `methods`: the five methods as pure functions of sums and counts (hand-checkable);
- `inputs`: the SQL that reads those sums as the data stood on a date (snapshots only);
- `backtest`: forecast vs actual for past periods, accuracy, WAPE, bias, convergence and
  the accuracy table of every method and blend, and the recommended one (its rank 1);
- `current`: the period on screen: number, range, gap to quota (running) or actual vs each
  forecast (finished), coverage, top deals and the what-if;
- `cli`: `python -m analytics backtest` and the `forecast` report.

Definitions: docs/metrics.md (Forecast).
"""
