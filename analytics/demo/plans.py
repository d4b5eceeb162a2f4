"""Monthly quotas and the reps' forecast calls (commit / best case / pipeline).

Why the forecast calls are computed from the pipeline as it stood: the forecast page
compares each call with what closed, so a call must be what the rep could have seen on
the day (the deals' stage, amount and close date then), bent by the rep's habit: some
sandbag, some over-call. Calls are made on the first business day of the month and
updated on the first business day from the 15th.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from analytics.demo.clock import Clock, add_months, month_end, month_starts
from analytics.demo.deals import DEMO, DISCOVERY, FINAL, QUALIFIED, TRIAL, WON, DealSet
from analytics.demo.people import QUOTA, RAMP, Rep


def build_quotas(reps: list[Rep], window_start: date, anchor: date) -> pd.DataFrame:
    """One row per quota carrier and month, from the window start to the end of the anchor's
    quarter (quotas are set a quarter ahead), ramped for new hires."""
    q_end = add_months(date(anchor.year, (anchor.month - 1) // 3 * 3 + 1, 1), 2)
    rows = []
    for rep in reps:
        if not rep.carries_quota:
            continue
        for m in month_starts(window_start, q_end):
            if not rep.works_in(m):
                continue
            tenure = rep.months_since_hire(m)
            ramp = RAMP[tenure] if 0 <= tenure < len(RAMP) else 1.0
            rows.append((rep.name, m, month_end(m), QUOTA[(rep.role, rep.level)] * ramp))
    return pd.DataFrame(rows, columns=["owner", "period_start", "period_end", "amount"])


def submission_days(clock: Clock, month: date) -> list[date]:
    """First business day of the month, and the first business day on or after the 15th."""
    days = []
    for d in (month, month.replace(day=15)):
        i = int(clock.index(d))
        days.append(clock.bdays[i].astype(date))
    return days


def build_forecasts(
    rng: np.random.Generator,
    reps: list[Rep],
    deals: DealSet,
    clock: Clock,
    window_start: date,
    anchor: date,
) -> pd.DataFrame:
    """Each quota carrier's call for the current month, twice a month, from the live pipeline."""
    owners = deals.deals.set_index("deal")["owner"]
    rows = []
    for m in month_starts(window_start, anchor):
        m_lo, m_hi = np.datetime64(m, "D"), np.datetime64(month_end(m), "D")
        for day in submission_days(clock, m):
            if day > anchor:
                continue
            x = float(clock.index(day)) + 0.05  # 08:30: the pipeline as it was that morning
            st = deals.state_at(x)
            st = st[(st["close"] >= m_lo) & (st["close"] <= m_hi)]
            st = st.assign(owner=owners.reindex(st["deal"]).to_numpy(), amt=st["amount"].fillna(0))
            sums = st.pivot_table(index="owner", columns="stage", values="amt", aggfunc="sum")
            sums = sums.reindex(columns=range(7), fill_value=0.0).fillna(0.0)
            for rep in reps:
                if not rep.carries_quota or day < rep.hire_date:
                    continue
                if rep.left_on is not None and day > rep.left_on:
                    continue
                s = sums.loc[rep.name] if rep.name in sums.index else pd.Series(0.0, range(7))
                bias = rep.forecast_bias
                noise = float(np.exp(rng.normal(0.0, 0.08)))
                commit = s[WON] + (0.8 * s[FINAL] + 0.25 * s[TRIAL]) * bias * noise
                if bias > 1.0:  # optimists pull trial deals into commit
                    commit += s[TRIAL] * (bias - 1.0) * 1.5
                best = (
                    commit + (0.45 * s[TRIAL] + 0.3 * s[DEMO]) * float(rng.uniform(0.8, 1.2)) * bias
                )
                pipeline = best + s[DISCOVERY] + s[QUALIFIED] + 0.4 * s[TRIAL] + 0.7 * s[DEMO]
                minute = int(rng.integers(0, 150))
                at = pd.Timestamp(day) + timedelta(hours=9, minutes=minute)
                for cat, amt in (("commit", commit), ("best case", best), ("pipeline", pipeline)):
                    rows.append((rep.name, m, month_end(m), cat, round(amt / 100.0) * 100.0, at))
    return pd.DataFrame(
        rows, columns=["owner", "period_start", "period_end", "category", "amount", "submitted_at"]
    )
