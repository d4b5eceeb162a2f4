"""Opportunities as full timelines: every stage, amount and close-date change, with its time.

Why timelines: the pipeline pages compare weekly snapshots, the funnel reads stage
history, and the forecast page compares what reps called with what closed. All three
must tell one consistent story, so each deal is generated once as a list of dated
changes, and every export (a weekly snapshot, the stage history, a forecast call) is
just "the state of every deal at time t".

How outcomes are chosen: each quota carrier gets a won-amount target per month (quota x
skill x quarter trend x seasonality), and won deals are drawn per quarter to sum exactly
to the quarter's targets (months then pick deals in proportion). That makes the
designed trajectories (rising, falling, improving, declining reps) and the seasonality
(Q4 strong, summer weak) hold exactly, whatever the seed. Lost deals follow from the
rep's win rate and drop out at every stage; deals whose close lies after the anchor are
simply still open on the anchor date.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from analytics.demo.clock import Clock, add_months, month_starts, quarter_index
from analytics.demo.people import QUOTA, RAMP, Rep, attainment_trend
from analytics.settings import DEFAULT_STAGES

STAGE_NAMES: tuple[str, ...] = tuple(s.name for s in DEFAULT_STAGES)
STAGE_PROB: tuple[float, ...] = tuple(float(s.probability) for s in DEFAULT_STAGES)
DISCOVERY, QUALIFIED, DEMO, TRIAL, FINAL, WON, LOST = range(7)
FORECAST_CATEGORY = (
    "Pipeline",
    "Pipeline",
    "Best Case",
    "Best Case",
    "Commit",
    "Closed",
    "Omitted",
)

# Month -> multiplier on the won target: Q4 push (December strongest), summer lull.
SEASON = {
    1: 0.85,
    2: 0.9,
    3: 1.0,
    4: 0.95,
    5: 1.0,
    6: 1.1,
    7: 0.75,
    8: 0.7,
    9: 1.05,
    10: 1.05,
    11: 1.15,
    12: 1.4,
}
# Median won deal size by (role, level); amounts are log-normal around it (about 2k-60k).
MEDIAN_DEAL = {
    ("AE", "junior"): 6_500.0,
    ("AE", "senior"): 12_000.0,
    ("CSM", "junior"): 5_000.0,
    ("CSM", "senior"): 7_500.0,
}
DEAL_SIGMA = 0.75  # spread of log deal size
# Relative time spent in each open stage (Dirichlet weights).
STAGE_WEIGHT = np.array([1.0, 1.3, 1.5, 2.0, 1.4])
# Where lost deals drop out (Discovery .. Final Decision).
LOST_AT = np.array([0.28, 0.24, 0.2, 0.16, 0.12])
EUR_PER_USD = 0.92
EUR_SHARE_EMEA = 0.08
SLIP_SHARE = 0.22  # deals whose first close date is optimistic and gets pushed out
BACKWARD_SHARE = 0.07  # deals past Demo that step back one stage for a while
BLANK_AMOUNT_SHARE = 0.08  # deals created without an amount (filled in at Qualified)
DARK_LOST_SHARE = 0.35  # lost deals that went quiet long before being closed lost
STALL_OPEN_SHARE = 0.25  # deals open on the anchor date that stalled (no activity 30+ days)
PRODUCTS = (
    "Core Platform",
    "Analytics Add-on",
    "Enterprise Suite",
    "Onboarding Services",
    "Premium Support",
)
NEW_SOURCES = ("Web", "Webinar", "Paid Search", "Trade Show", "Referral", "Partner", "Outbound")
NEW_SOURCE_P = np.array([0.22, 0.1, 0.1, 0.06, 0.12, 0.1, 0.3])
INBOUND_SOURCES = frozenset({"Web", "Webinar", "Paid Search", "Trade Show"})

KIND_STAGE, KIND_AMOUNT, KIND_CLOSE = 0, 1, 2
BLANK = -1.0  # amount event value meaning "no amount yet"


@dataclass
class DealSet:
    """Deals (one row each) and their state rows (one per change, full state after it)."""

    deals: pd.DataFrame
    s_deal: np.ndarray
    s_x: np.ndarray
    s_stage: np.ndarray
    s_amount: np.ndarray  # NaN = blank
    s_close: np.ndarray  # datetime64[D]

    def state_rows_at(self, bound: float) -> np.ndarray:
        """Positions of the state rows in force at business time `bound` (one per deal)."""
        idx = np.flatnonzero(self.s_x < bound)
        d = self.s_deal[idx]
        return idx[np.r_[d[1:] != d[:-1], True]] if len(idx) else idx

    def state_at(self, bound: float) -> pd.DataFrame:
        """Latest state of every deal created before business time `bound`."""
        last = self.state_rows_at(bound)
        return pd.DataFrame(
            {
                "deal": self.s_deal[last],
                "stage": self.s_stage[last],
                "amount": self.s_amount[last],
                "close": self.s_close[last],
                "changed_x": self.s_x[last],
            }
        )

    def stage_history(self, bound: float) -> pd.DataFrame:
        """Rows where a deal entered a stage (its first row included), before `bound`."""
        m = self.s_x < bound
        prev_same_deal = np.r_[False, self.s_deal[1:] == self.s_deal[:-1]]
        prev_stage = np.r_[-1, self.s_stage[:-1]]
        entered = m & ~(prev_same_deal & (prev_stage == self.s_stage))
        idx = np.flatnonzero(entered)
        return pd.DataFrame(
            {
                "deal": self.s_deal[idx],
                "x": self.s_x[idx],
                "stage": self.s_stage[idx],
                "amount": self.s_amount[idx],
                "close": self.s_close[idx],
            }
        )


def _round50(v: np.ndarray | float) -> np.ndarray:
    return np.round(np.asarray(v, dtype=float) / 50.0) * 50.0


def monthly_targets(
    rng: np.random.Generator, reps: list[Rep], months: list[date], anchor: date
) -> pd.DataFrame:
    """Won-amount target per quota carrier and month (the designed story lives here)."""
    anchor_q = quarter_index(anchor)
    quarters = sorted({quarter_index(m) for m in months})
    rows = []
    for rep in reps:
        if not rep.carries_quota:
            continue
        trend = attainment_trend(rng, rep, quarters, anchor_q)
        noise = np.exp(rng.normal(0.0, 0.25, len(months)))
        if rep.trajectory is not None:
            # Re-normalise the noise inside each quarter: the quarter total stays on design.
            noise = np.exp(rng.normal(0.0, 0.1, len(months)))
            q_of = np.array([quarter_index(m) for m in months])
            season = np.array([SEASON[m.month] for m in months])
            for q in quarters:
                sel = q_of == q
                noise[sel] *= season[sel].sum() / (season[sel] * noise[sel]).sum()
        for i, m in enumerate(months):
            if not rep.works_in(m):
                continue
            tenure = rep.months_since_hire(m)
            ramp = RAMP[tenure] if 0 <= tenure < len(RAMP) else 1.0
            quota = QUOTA[(rep.role, rep.level)] * ramp
            skill = rep.base_attainment * (ramp if tenure < len(RAMP) else 1.0)
            target = quota * skill * trend[quarter_index(m)] * SEASON[m.month] * noise[i]
            rows.append((rep.name, m, quota, float(_round50(target))))
    return pd.DataFrame(rows, columns=["owner", "month", "quota", "target"])


def generate_deals(
    rng: np.random.Generator,
    reps: list[Rep],
    accounts: dict[str, list[str]],
    clock: Clock,
    targets: pd.DataFrame,
    anchor: date,
) -> DealSet:
    """Draw every deal that closes (or would close) in the target months, as timelines."""
    by_name = {r.name: r for r in reps}
    anchor_bound = clock.bound(anchor)
    deal_rows: list[tuple] = []
    ev_deal: list[int] = []
    ev_x: list[float] = []
    ev_kind: list[int] = []
    ev_val: list[float] = []

    def add(d: int, x: float, kind: int, val: float) -> None:
        ev_deal.append(d)
        ev_x.append(x)
        ev_kind.append(kind)
        ev_val.append(val)

    targets = targets.assign(quarter=[quarter_index(m) for m in targets["month"]])
    for (owner, _q), group in targets.groupby(["owner", "quarter"], sort=False):
        rep = by_name[owner]
        med = MEDIAN_DEAL[(rep.role, rep.level)]
        hire_x = float(clock.index(rep.hire_date))
        months, month_days, month_target = [], [], []
        for month, target in zip(group["month"], group["target"], strict=True):
            bdays = clock.month_bdays(month)
            bdays = bdays[bdays >= hire_x]
            if rep.left_on is not None:
                bdays = bdays[bdays < clock.bound(rep.left_on)]
            if len(bdays):
                months.append(month)
                month_days.append(bdays)
                month_target.append(target)
        if not months:
            continue
        # Won deals are drawn per quarter, so one big deal can make a month (deals are
        # lumpy) while the quarter total stays on target; sizes are log-normal, scaled.
        target_q = float(sum(month_target))
        mean = med * float(np.exp(DEAL_SIGMA**2 / 2))
        n_won = int(round(target_q / mean))
        if n_won == 0 and target_q >= 1_500:
            n_won = 1
        won_amounts = np.zeros(0)
        if n_won:
            sizes = rng.lognormal(np.log(med), DEAL_SIGMA, n_won)
            won_amounts = _round50(sizes * target_q / sizes.sum())
            won_amounts[np.argmax(won_amounts)] += target_q - won_amounts.sum()
        mt = np.asarray(month_target, dtype=float) + 1e-9
        won_month = rng.choice(len(months), size=n_won, p=mt / mt.sum())
        outcomes: list[tuple[float, int, int]] = []
        for i, (month, bdays) in enumerate(zip(months, month_days, strict=True)):
            # Close days: won deals bunch up towards month end (harder at quarter end).
            k = np.arange(len(bdays), dtype=float)
            power = 5.0 if month.month % 3 == 0 else 2.5
            w = (1.0 + k / max(len(bdays) - 1, 1)) ** power
            mine = won_amounts[won_month == i]
            won_days = rng.choice(bdays, size=len(mine), p=w / w.sum())
            outcomes += [(float(a), WON, int(dd)) for a, dd in zip(mine, won_days, strict=True)]
            # Lost deals: as many as the rep's win rate implies for the wins expected here.
            expected_won = max(month_target[i] / mean, 0.5)
            n_lost = int(rng.poisson(expected_won * (1 - rep.win_rate) / rep.win_rate))
            lost = rng.lognormal(np.log(med * 1.1), DEAL_SIGMA, n_lost)
            lost_amounts = np.clip(_round50(lost), 1_500, 75_000)
            lost_days = rng.choice(bdays, size=n_lost)
            outcomes += [
                (float(a), LOST, int(dd)) for a, dd in zip(lost_amounts, lost_days, strict=True)
            ]
        for amount, outcome, day_i in outcomes:
            z_x = day_i + float(rng.uniform(0.05, 0.95))
            d = len(deal_rows)
            row = _one_deal(rng, d, rep, amount, outcome, z_x, hire_x, anchor_bound, accounts, add)
            if row is not None:
                deal_rows.append(row)

    deals = pd.DataFrame(
        deal_rows,
        columns=[
            "deal",
            "owner",
            "account",
            "product",
            "deal_type",
            "lead_source",
            "currency",
            "created_x",
            "close_x",
            "won",
            "last_stage",
            "last_activity_x",
            "stalled",
            "slipping",
            "demo_x",
            "backward",
        ],
    )
    ev = pd.DataFrame({"deal": ev_deal, "x": ev_x, "kind": ev_kind, "val": ev_val})
    return _fold(deals, ev, clock)


def _one_deal(
    rng: np.random.Generator,
    d: int,
    rep: Rep,
    amount: float,
    outcome: int,
    z_x: float,
    hire_x: float,
    anchor_bound: float,
    accounts: dict[str, list[str]],
    add: Callable[[int, float, int, float], None],
) -> tuple | None:
    """Append the timeline of one deal through `add`; return its deal row (None = dropped)."""
    renewal_desk = rep.role == "CSM"
    if renewal_desk:
        deal_type = "Renewal" if rng.random() < 0.65 else "Existing Business"
        source = "Existing Customer"
    else:
        deal_type = "New Business" if rng.random() < 0.8 else "Existing Business"
        source = (
            str(rng.choice(NEW_SOURCES, p=NEW_SOURCE_P))
            if deal_type == "New Business"
            else "Existing Customer"
        )
    # Path of open stages: renewals skip demo and trial; some wins skip the trial.
    full = [DISCOVERY, QUALIFIED, FINAL] if deal_type == "Renewal" else [0, 1, 2, 3, 4]
    if outcome == WON:
        path = list(full)
        if len(path) == 5 and rng.random() < 0.12:
            path.remove(TRIAL)
    else:
        stop = int(rng.choice(5, p=LOST_AT))
        path = [s for s in full if s <= stop] or [DISCOVERY]
    # Cycle length grows with deal size (B2B: weeks for small deals, months for big ones).
    cal_days = (30.0 if deal_type == "Renewal" else 40.0 + 3.0 * amount / 1000.0) * float(
        np.exp(rng.normal(0.0, 0.35))
    )
    length = cal_days * 5.0 / 7.0
    if outcome == LOST:
        length *= len(path) / len(full) * float(rng.uniform(0.7, 1.4))
    length = max(length, 4.0)
    c_x = z_x - length
    if c_x < hire_x:
        c_x = hire_x + float(rng.uniform(0.0, 2.0))
        if z_x - c_x < 3.0:
            return None
        length = z_x - c_x

    weights = STAGE_WEIGHT[path] * 3.0
    dark = outcome == LOST and rng.random() < DARK_LOST_SHARE
    if dark:
        weights[-1] *= 5.0
    fracs = rng.dirichlet(weights)
    entries = c_x + length * np.r_[0.0, np.cumsum(fracs)[:-1]]
    last_activity = z_x
    if dark:
        last_activity = entries[-1] + (z_x - entries[-1]) * float(rng.uniform(0.1, 0.35))

    for s, x in zip(path, entries, strict=True):
        add(d, float(x), KIND_STAGE, s)
    backward = False
    if len(path) >= 4 and rng.random() < BACKWARD_SHARE:
        j = int(rng.integers(2, len(path)))
        end = entries[j + 1] if j + 1 < len(path) else z_x
        dur = end - entries[j]
        add(d, float(entries[j] + dur * rng.uniform(0.3, 0.45)), KIND_STAGE, path[j - 1])
        add(d, float(entries[j] + dur * rng.uniform(0.6, 0.85)), KIND_STAGE, path[j])
        backward = True
    demo_x = float(entries[path.index(DEMO)]) if DEMO in path else np.nan

    # Amounts: a first estimate, the negotiated figure once in Final Decision (wins).
    currency = "USD"
    if rep.region == "EMEA" and rep.trajectory is None and rng.random() < EUR_SHARE_EMEA:
        currency = "EUR"
        amount = float(_round50(amount * EUR_PER_USD))
    first = float(_round50(amount * rng.uniform(0.8, 1.3))) if outcome == WON else amount
    if rng.random() < BLANK_AMOUNT_SHARE:
        add(d, c_x, KIND_AMOUNT, BLANK)
        if len(path) > 1:
            add(d, float(entries[1]), KIND_AMOUNT, first)
    else:
        add(d, c_x, KIND_AMOUNT, first)
    if outcome == WON:
        add(d, float(entries[path.index(FINAL)]), KIND_AMOUNT, amount)

    # Close dates: slipping deals start optimistic and get pushed out, again and again.
    slipping = rng.random() < SLIP_SHARE
    if slipping:
        est = c_x + length * float(rng.uniform(0.3, 0.6))
        add(d, c_x, KIND_CLOSE, est)
        last_push = c_x
        for _ in range(6):
            push = max(est + float(rng.uniform(-3.0, 3.0)), last_push + 0.5, c_x + 1.0)
            if est >= z_x - 1.0 or push >= z_x:
                break
            est += float(rng.uniform(10.0, 30.0))
            add(d, push, KIND_CLOSE, est)
            last_push = push
    else:
        add(d, c_x, KIND_CLOSE, c_x + length * float(rng.uniform(0.85, 1.2)))
        if FINAL in path and outcome == WON:
            add(d, float(entries[path.index(FINAL)]), KIND_CLOSE, z_x)
    add(d, z_x, KIND_STAGE, outcome)
    add(d, z_x, KIND_CLOSE, z_x)

    # Some deals open on the anchor date stalled: nothing happened for a month or more.
    stalled = False
    if c_x < anchor_bound <= z_x and anchor_bound - c_x > 30 and rng.random() < STALL_OPEN_SHARE:
        stall_x = max(anchor_bound - float(rng.uniform(24.0, 70.0)), c_x + 3.0)
        stalled = True
        last_activity = stall_x + float(rng.uniform(0.2, 1.5))
        if rng.random() < 0.5:  # and nobody moved its close date: it is now in the past
            add(d, stall_x - 0.01, KIND_CLOSE, stall_x + float(rng.uniform(3.0, 15.0)))
        add(d, stall_x, -1, 0.0)  # marker: everything after it is dropped in _fold

    account_pool = accounts[rep.region]
    account = account_pool[int(rng.integers(len(account_pool)))]
    if deal_type == "Renewal" or (amount < 4_000 and rng.random() < 0.5):
        product = "Premium Support" if deal_type == "Renewal" else "Onboarding Services"
    elif amount >= 25_000:
        product = "Enterprise Suite"
    else:
        product = PRODUCTS[int(rng.choice(2, p=[0.7, 0.3]))]
    return (
        d,
        rep.name,
        account,
        product,
        deal_type,
        source,
        currency,
        c_x,
        z_x,
        outcome == WON,
        path[-1],
        last_activity,
        stalled,
        slipping,
        demo_x,
        backward,
    )


def _fold(deals: pd.DataFrame, ev: pd.DataFrame, clock: Clock) -> DealSet:
    """Turn change events into full-state rows (stage, amount, close date after each change)."""
    # Drop whatever a stalled deal would have done after it stalled.
    stall = ev[ev["kind"] == -1].set_index("deal")["x"]
    cut = ev["deal"].map(stall)
    ev = ev[(ev["kind"] >= 0) & ~(ev["x"] > cut)]
    ev = ev.sort_values(["deal", "x", "kind"], kind="stable")
    state = pd.DataFrame(
        {
            "deal": ev["deal"].to_numpy(),
            "x": ev["x"].to_numpy(),
            "stage": np.where(ev["kind"] == KIND_STAGE, ev["val"], np.nan),
            "amount": np.where(ev["kind"] == KIND_AMOUNT, ev["val"], np.nan),
            "close": np.where(ev["kind"] == KIND_CLOSE, ev["val"], np.nan),
        }
    )
    state[["stage", "amount", "close"]] = state.groupby("deal")[
        ["stage", "amount", "close"]
    ].ffill()
    # One row per (deal, moment): the state after all changes made at that moment.
    state = state.drop_duplicates(["deal", "x"], keep="last")
    state = state.dropna(subset=["stage", "close"])
    amount = state["amount"].to_numpy()
    amount = np.where(amount == BLANK, np.nan, amount)
    return DealSet(
        deals=deals,
        s_deal=state["deal"].to_numpy(np.int64),
        s_x=state["x"].to_numpy(float),
        s_stage=state["stage"].to_numpy(np.int64),
        s_amount=amount,
        s_close=clock.day(state["close"].to_numpy(float)),
    )


def generation_months(window_start: date, anchor: date, ahead: int = 7) -> list[date]:
    """Months whose closes are drawn: the window, plus months ahead that feed the open pipeline."""
    return month_starts(window_start, add_months(anchor, ahead))
