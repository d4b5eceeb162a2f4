"""Currency conversion for KPI queries: dated rates from `fx_rates`, joined with ASOF JOIN.

Why a shared SQL fragment instead of a Python helper: conversion has to happen inside
each KPI query (one pass over a million deals), and every query must convert the same
way. A deal is converted with the latest rate on or before its *rate day*: the close date
for closed deals, the period end for open ones (what the pipeline was worth then). A
deal in the reporting currency, or without a currency (the company currency by the
data model's convention), needs no rate. A deal whose currency has no rate on or before
its rate day is **unpriced**: its converted amount is NULL, so it drops out of every sum
and average, and queries count it separately -- it is never shown as worth zero.
"""

from __future__ import annotations

from typing import Any

import duckdb

from analytics.settings import load_reporting_currency


def priced_sql(source: str, rate_day: str = "rate_day") -> str:
    """SELECT over CTE `source` adding `amount_rc` and `unpriced` columns.

    `source` must expose `amount` and `currency_key` (upper-cased, trimmed currency or
    NULL) and the `rate_day` column; both names are fixed identifiers chosen by code. The
    query needs the bound parameter `$reporting_currency`.

    - `amount_rc`: amount in the reporting currency, NULL when unknown or unpriced;
    - `unpriced`: the deal has an amount but its currency has no usable rate.

    Deals that need no rate bypass the ASOF JOIN (UNION ALL of the two kinds), so only the
    foreign-currency share of a million deals pays for the join.
    """
    return f"""
    SELECT s.*, CAST(s.amount AS DOUBLE) AS amount_rc, false AS unpriced
    FROM {source} AS s
    WHERE s.currency_key IS NULL OR s.currency_key = $reporting_currency
    UNION ALL
    SELECT s.*,
           CAST(s.amount AS DOUBLE) * CAST(fx.rate AS DOUBLE)   AS amount_rc,
           s.amount IS NOT NULL AND fx.rate IS NULL             AS unpriced
    FROM {source} AS s
    ASOF LEFT JOIN fx_rates AS fx
        ON fx.currency = s.currency_key AND s.{rate_day} >= fx.rate_date
    WHERE s.currency_key <> $reporting_currency
    """


def period_rates_sql() -> str:
    """SELECT of the rate of every currency in `fx_rates` on every day of the periods.

    Columns: currency, rate_day, rate (NULL before the currency's first rate): the same
    ASOF rule as `priced_sql`, answered once per day and currency (a few hundred rows)
    so that a KPI query can price its deals with a plain hash join. Every rate day a KPI
    uses lies in a period (a closed deal's close date there, or the period end). Needs
    the bound parameters `$first_day` and `$last_day` (first and last day of the periods).
    """
    return """
    SELECT c.currency, d.rate_day, fx.rate
    FROM (SELECT DISTINCT currency FROM fx_rates) AS c
    CROSS JOIN (
        SELECT CAST(unnest(generate_series(
            CAST($first_day AS DATE), CAST($last_day AS DATE), INTERVAL 1 DAY
        )) AS DATE) AS rate_day
    ) AS d
    ASOF LEFT JOIN fx_rates AS fx
        ON fx.currency = c.currency AND d.rate_day >= fx.rate_date
    """


def fx_params(
    con: duckdb.DuckDBPyConnection, reporting_currency: str | None = None
) -> dict[str, Any]:
    """The bound parameters `priced_sql` needs (the reporting currency from settings)."""
    currency = reporting_currency or load_reporting_currency(con)
    return {"reporting_currency": currency.strip().upper()}


MISSING_RATES_SQL = """
WITH deals AS (
    SELECT upper(trim(currency)) AS currency_key, close_date, is_closed
    FROM opportunities
    WHERE amount IS NOT NULL AND currency IS NOT NULL AND trim(currency) <> ''
),
first_rate AS (
    SELECT currency, min(rate_date) AS first_rate_date FROM fx_rates GROUP BY currency
)
SELECT d.currency_key AS currency,
       count(*)       AS deals,
       min(d.close_date) AS first_close_date,
       f.first_rate_date
FROM deals AS d
LEFT JOIN first_rate AS f ON f.currency = d.currency_key
WHERE d.currency_key <> $reporting_currency
  AND (f.first_rate_date IS NULL
       OR (d.is_closed AND d.close_date < f.first_rate_date))
GROUP BY d.currency_key, f.first_rate_date
ORDER BY d.currency_key
"""


def missing_rates(con: duckdb.DuckDBPyConnection, reporting_currency: str | None = None):
    """Currencies with closed deals that no rate covers (for a "rates needed" notice).

    Columns: currency, deals (closed before the first rate, or any deal when the currency
    has no rate at all), first_close_date, first_rate_date (None when no rate exists).
    """
    return con.execute(MISSING_RATES_SQL, fx_params(con, reporting_currency)).df()
