"""Put the demo together: roster, deals, leads, activities, quotas, forecasts, then files.

Why a fixed anchor date and spawned random streams: the demo must be byte-identical for
a seed (tests compare files, screenshots stay stable), so "today" is a parameter, not
the clock, and each part draws from its own stream, so changing how activities are made
does not reshuffle the deals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from analytics.demo import activity, deals, files, people, plans
from analytics.demo.clock import Clock, month_starts

WINDOW_DAYS = 730  # two years of history before the anchor
SNAPSHOT_WEEKS = 52  # weekly pipeline exports: the anchor and the 52 Mondays before it


@dataclass
class DemoData:
    """Everything generated for one (seed, anchor), before it is written."""

    seed: int
    anchor: date
    window_start: date
    clock: Clock
    reps: list[people.Rep]
    deal_set: deals.DealSet
    leads: pd.DataFrame
    lead_events: pd.DataFrame
    activities: pd.DataFrame
    quotas: pd.DataFrame
    forecasts: pd.DataFrame
    snapshot_dates: list[date] = field(default_factory=list)

    @property
    def trajectories(self) -> dict[str, list[str]]:
        """Designed trajectory -> rep names (tests and docs point at these reps)."""
        out: dict[str, list[str]] = {}
        for r in self.reps:
            if r.trajectory:
                out.setdefault(r.trajectory, []).append(r.name)
        return out


def generate(seed: int, anchor: date) -> DemoData:
    """Build the whole demo in memory."""
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(7)]
    window_start = (anchor - timedelta(days=WINDOW_DAYS)).replace(day=1)
    clock = Clock(window_start - timedelta(days=450), anchor + timedelta(days=3 * 365))
    reps = people.build_roster(streams[0], anchor, window_start)
    accounts = people.build_accounts(streams[1])
    months = deals.generation_months(window_start, anchor)
    targets = deals.monthly_targets(streams[2], reps, months, anchor)
    ds = deals.generate_deals(streams[3], reps, accounts, clock, targets, anchor)
    _name_deals(ds, clock)
    leads, lead_events = activity.build_leads(
        streams[4], reps, ds, accounts, clock, window_start, anchor
    )
    opp_id = ds.deals.set_index("deal")["opportunity_id"]
    leads["opportunity_id"] = leads["deal"].map(opp_id)
    acts = activity.build_activities(
        streams[5], reps, ds, leads, accounts, clock, window_start, anchor
    )
    quotas = plans.build_quotas(reps, window_start, anchor)
    forecasts = plans.build_forecasts(streams[6], reps, ds, clock, window_start, anchor)
    snaps = [anchor - timedelta(weeks=k) for k in range(SNAPSHOT_WEEKS, -1, -1)]
    return DemoData(
        seed,
        anchor,
        window_start,
        clock,
        reps,
        ds,
        leads,
        lead_events,
        acts,
        quotas,
        forecasts,
        snaps,
    )


def _name_deals(ds: deals.DealSet, clock: Clock) -> None:
    """Salesforce-style ids in creation order, names, and the created date."""
    d = ds.deals
    order = np.lexsort((d["deal"].to_numpy(), d["created_x"].to_numpy()))
    ids = np.empty(len(d), dtype=object)
    ids[order] = [f"006Dm{i:010d}OAA" for i in range(1, len(d) + 1)]
    d["opportunity_id"] = ids
    suffix = np.where(d["deal_type"] == "Renewal", " Renewal", "")
    d["opportunity_name"] = d["account"] + " - " + d["product"] + suffix
    d["created_day"] = clock.day(d["created_x"].to_numpy())


def write(data: DemoData, out_dir: Path) -> list[files.DemoFile]:
    """Write every file; returns them in the order they must be imported."""
    files.clean_out_dir(out_dir)
    ds, clock, anchor = data.deal_set, data.clock, data.anchor
    written = [
        files.write_template(out_dir / "reps.csv", "reps", _reps_frame(data.reps), anchor),
        files.write_template(out_dir / "quotas.csv", "quotas", data.quotas, anchor),
        files.write_template(out_dir / "fx_rates.csv", "fx_rates", _fx_rates_frame(data), anchor),
    ]
    lines = files.OpportunityLines(ds)
    for day in data.snapshot_dates:
        path = out_dir / f"opportunities_{day.isoformat()}.csv"
        written.append(lines.write(path, day, clock.bound(day)))
    hist = ds.stage_history(clock.bound(anchor))
    hist["opportunity_id"] = (
        ds.deals.set_index("deal")["opportunity_id"].reindex(hist["deal"]).to_numpy()
    )
    hist = hist.sort_values(["opportunity_id", "x"], kind="stable").reset_index(drop=True)
    written.append(
        files.write_stage_history(
            out_dir / "opportunity_history.csv", hist, clock.stamp(hist["x"].to_numpy()), anchor
        )
    )
    for kind, frame in (
        ("leads", data.leads),
        ("lead_events", data.lead_events),
        ("activities", data.activities),
        ("forecast_submissions", data.forecasts),
    ):
        written.append(files.write_template(out_dir / f"{kind}.csv", kind, frame, anchor))
    return written


def _fx_rates_frame(data: DemoData) -> pd.DataFrame:
    """Monthly EUR -> USD rates covering every demo deal, so EUR deals convert.

    Why no random stream: the rates are a smooth, deterministic wobble (+-3% over a year)
    around the rate the deals were priced at, so adding them reshuffles nothing else.
    The first of each month from the clock's first day to the anchor's month.
    """
    months = month_starts(pd.Timestamp(data.clock.ref).date(), data.anchor)
    base = 1.0 / deals.EUR_PER_USD
    phase = np.arange(len(months)) * (2.0 * np.pi / 12.0)
    return pd.DataFrame(
        {
            "currency": ["EUR"] * len(months),
            "rate_date": months,
            "rate": np.round(base * (1.0 + 0.03 * np.sin(phase)), 6),
        }
    )


def _reps_frame(reps: list[people.Rep]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rep": [r.name for r in reps],
            "manager": [r.manager for r in reps],
            "team": [r.team for r in reps],
            "region": [r.region for r in reps],
            "role": [r.role for r in reps],
            "level": [r.level for r in reps],
            "hire_date": [r.hire_date for r in reps],
            "active": [r.active for r in reps],
        }
    )
