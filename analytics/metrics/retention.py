"""Retention: accounts by customer status, repeat purchase rate, customers lost.

Why accounts and not deals: keeping a customer costs 5-25x less than winning one (domain
brief), so the question is how many *accounts* buy again and how many go quiet. Status
is judged as of the period's last day from the current state of every deal, so a past
period shows the accounts as they stood then (a deal won later was still open). The
rules, in order (docs/metrics.md, "Retention"):

- **loyal** (repeat): 2 or more deals won by the period end;
- **customer**: exactly 1 deal won by the period end;
- **prospect**: never won, at least one deal open at the period end;
- **suspect**: never won, nothing open at the period end (only lost deals so far).

A customer is **lost** once 12 months pass without any deal of theirs won or open: the
lapse date is the last day a deal of the account was open or won (a deal's close date,
won or lost, since it was open until then) plus 12 months.
`customers_lost` counts the accounts (won at least once before the period) whose lapse
date falls inside the period, so each lost customer is counted in exactly one period.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pandas as pd

from analytics.scope import Period, Scope, owner_filter_sql

STATUSES = ("suspect", "prospect", "customer", "loyal")
LAPSE_MONTHS = 12

# One row per account with deals in scope created by the period end. A closed deal
# without a close date is taken as closed before the period end (it has an outcome).
ACCOUNTS_SQL = f"""
WITH deals AS (
    SELECT
        trim(o.account) AS account,
        o.is_won,
        o.is_closed AND coalesce(o.close_date <= $period_end, true) AS closed_by_end,
        o.close_date
    FROM opportunities AS o
    LEFT JOIN reps AS r ON r.rep = o.owner
    WHERE {owner_filter_sql("o.owner")}
      AND nullif(trim(o.account), '') IS NOT NULL
      AND coalesce(o.created_date <= $period_end, true)
),
accounts AS (
    SELECT
        account,
        count(*) FILTER (WHERE closed_by_end AND is_won)          AS won_deals,
        count(*) FILTER (WHERE NOT closed_by_end)                 AS open_deals,
        count(*) FILTER (WHERE closed_by_end AND NOT is_won)      AS lost_deals,
        min(close_date) FILTER (WHERE closed_by_end AND is_won)   AS first_won_date,
        max(close_date) FILTER (WHERE closed_by_end AND is_won)   AS last_won_date,
        -- the last day a deal of the account was open or won: its close date (won or
        -- lost), or the period end while a deal is still open
        CASE WHEN count(*) FILTER (WHERE NOT closed_by_end) > 0
             THEN CAST($period_end AS DATE)
             ELSE max(close_date) FILTER (WHERE closed_by_end) END
                                                                  AS last_engaged_date
    FROM deals
    GROUP BY account
),
classified AS (
    SELECT
        *,
        CASE WHEN won_deals >= 2 THEN 'loyal'
             WHEN won_deals = 1 THEN 'customer'
             WHEN open_deals > 0 THEN 'prospect'
             ELSE 'suspect' END                                   AS status,
        CAST(last_engaged_date + to_months($lapse_months) AS DATE) AS lapse_date
    FROM accounts
)
"""

ACCOUNT_LIST_SQL = (
    ACCOUNTS_SQL
    + """
SELECT
    account, status, won_deals, open_deals, lost_deals, first_won_date, last_won_date,
    lapse_date,
    first_won_date < $period_start
        AND lapse_date BETWEEN $period_start AND $period_end      AS lost_in_period
FROM classified
ORDER BY account
"""
)

SUMMARY_SQL = (
    ACCOUNTS_SQL
    + """
SELECT
    count(*)                                                       AS accounts,
    count(*) FILTER (WHERE status = 'suspect')                     AS suspect,
    count(*) FILTER (WHERE status = 'prospect')                    AS prospect,
    count(*) FILTER (WHERE status = 'customer')                    AS customer,
    count(*) FILTER (WHERE status = 'loyal')                       AS loyal,
    count(*) FILTER (WHERE won_deals >= 2)::DOUBLE
        / nullif(count(*) FILTER (WHERE won_deals >= 1), 0)        AS repeat_purchase_rate,
    count(*) FILTER (
        WHERE first_won_date < $period_start
          AND lapse_date BETWEEN $period_start AND $period_end
    )                                                              AS customers_lost
FROM classified
"""
)


@dataclass(frozen=True)
class CustomerStatus:
    """Accounts by status at the period end; None means "not defined", never zero."""

    period: Period
    accounts: int
    by_status: dict[str, int] = field(default_factory=dict)  # suspect .. loyal, in order
    repeat_purchase_rate: float | None = None  # accounts with 2+ wins / with 1+ win
    customers_lost: int = 0  # customers whose 12 months without a win or open deal ended

    @property
    def customers(self) -> int:
        """Accounts with at least one win (customer + loyal)."""
        return self.by_status.get("customer", 0) + self.by_status.get("loyal", 0)


def _params(scope: Scope) -> dict:
    return scope.params() | {"lapse_months": LAPSE_MONTHS}


def customer_status(con: duckdb.DuckDBPyConnection, scope: Scope) -> CustomerStatus:
    """Accounts by status, repeat purchase rate and customers lost for `scope`.

    The team/region/rep filters select the deals (by owner) that judge an account, so a
    team sees the accounts it sold to.
    """
    row = con.execute(SUMMARY_SQL, _params(scope)).fetchone()
    accounts, suspect, prospect, customer, loyal, repeat, lost = row
    return CustomerStatus(
        period=scope.period,
        accounts=int(accounts),
        by_status={
            "suspect": int(suspect),
            "prospect": int(prospect),
            "customer": int(customer),
            "loyal": int(loyal),
        },
        repeat_purchase_rate=None if repeat is None else float(repeat),
        customers_lost=int(lost),
    )


def customer_accounts(con: duckdb.DuckDBPyConnection, scope: Scope) -> pd.DataFrame:
    """One row per account with its status, counts, lapse date and whether it was lost in
    the period (the drill-down behind `customer_status`)."""
    return con.execute(ACCOUNT_LIST_SQL, _params(scope)).df()
