"""Forecasting (issue 5): what lands this period, and how far to trust the number.

- `methods`: the five methods as pure functions of sums and counts (hand-checkable);
- `inputs`: the SQL that reads those sums as the data stood on a date (a snapshot, or the
  pipeline rebuilt from one export: `analytics.pointintime`);
- `backtest`: forecast vs actual for past periods, accuracy, WAPE, bias, convergence and
  the accuracy table of every method and blend, and the recommended one (its rank 1);
- `current`: the period on screen: number, range, gap to quota (running) or actual vs each
  forecast (finished), coverage, top deals and the what-if;
- `tables`: the method rows of one period and the accuracy summary as plain frames, shared
  by the page and the command line.

The commands `python -m analytics backtest` and `report forecast` live in `analytics/cli/`
(backtest.py, report.py) and only print what these modules return.

Definitions: docs/metrics.md (Forecast).
"""
