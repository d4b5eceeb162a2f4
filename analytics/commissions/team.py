"""The team table: one row per rep with payout and attainment over a period.

Why its own module: the Commissions page and `report commissions` show the same table,
so payroll run from a scheduled job pays the same cents as the page. It only sums the
`Ledger`'s statements over the period's months and filters them by the scope.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import duckdb
import pandas as pd

from analytics.commissions.cents import NO_MONEY
from analytics.commissions.credits import RepInfo
from analytics.commissions.engine import Ledger, month_periods
from analytics.scope import Scope

TEAM_COLUMNS: tuple[str, ...] = (
    "rep", "plan", "credited_bookings", "quota", "attainment", "commission", "base",
    "adjustments", "total", "spiffs", "clawbacks", "draws", "prior_period_adjustments",
    "locked", "no_plan_reason",
)  # fmt: skip


SUMMED: tuple[str, ...] = (
    "credited_bookings", "commission", "base", "adjustments", "total", "spiffs", "clawbacks",
    "draws", "prior_period_adjustments",
)  # fmt: skip


def _in_scope(info: RepInfo, scope: Scope) -> bool:
    return (
        (scope.team is None or info.team == scope.team)
        and (scope.region is None or info.region == scope.region)
        and (scope.rep is None or info.rep == scope.rep)
    )


def team_table(
    con: duckdb.DuckDBPyConnection, scope: Scope, ledger: Ledger | None = None
) -> pd.DataFrame:
    """One row per rep: payout and attainment for the scope's period (summed over its
    months), filtered by the scope's team/region/rep. Money columns are Decimal.

    adjustments = spiffs + clawbacks + draws + prior_period_adjustments, so
    total = commission + base + adjustments.
    """
    ledger = ledger or Ledger(con, access=scope.access)
    rows: dict[str, dict[str, Any]] = {}
    months = month_periods(scope.period)
    for month in months:
        for rep, st in ledger.payable(month).items():
            if not _in_scope(ledger.info(rep), scope):
                continue
            row = rows.setdefault(
                rep,
                {"rep": rep, "plans": [], "no_plan": [], "quota": None, "locked_months": 0}
                | dict.fromkeys(SUMMED, NO_MONEY),
            )  # fmt: skip
            if st.plan_name and st.plan_name not in row["plans"]:
                row["plans"].append(st.plan_name)
            if not st.plan_name and not st.locked:
                reason = ledger.no_plan_reason(rep, month)
                if reason and reason not in row["no_plan"]:
                    row["no_plan"].append(reason)
            row["credited_bookings"] += st.credited_bookings
            if st.quota is not None:
                row["quota"] = (row["quota"] or NO_MONEY) + st.quota
            row["commission"] += st.commission
            row["base"] += st.base
            row["adjustments"] += st.adjustments
            row["total"] += st.total
            row["spiffs"] += st.spiffs
            row["clawbacks"] += st.clawbacks
            row["draws"] += st.draws
            row["prior_period_adjustments"] += st.prior_adjustments
            row["locked_months"] += int(st.locked)
    out = []
    for rep in sorted(rows):
        row = rows[rep]
        quota = row["quota"]
        uncovered = not row["plans"] and bool(row["no_plan"])
        if uncovered:
            # nothing was computed: no payout figure, never 0.00 (the reason says why)
            for column in ("commission", "base", "total"):
                if not row[column]:
                    row[column] = None
        out.append(
            {
                **{k: v for k, v in row.items() if k not in ("plans", "no_plan", "locked_months")},
                "plan": "; ".join(row["plans"]) or ("no plan" if uncovered else None),
                "no_plan_reason": "; ".join(row["no_plan"]) or None,
                "attainment": (row["credited_bookings"] / quota).quantize(Decimal("0.0001"))
                if quota
                else None,
                "locked": all(ledger.is_locked(m) for m in months),
            }
        )
    return pd.DataFrame(out, columns=list(TEAM_COLUMNS))
