"""The demo sales organisation: regions, teams, managers, reps, and the accounts they sell to.

Why this shape: the dashboard filters by team and region, reviews reps by role and level,
and pays commission by level (junior ~10,000/month, senior ~25,000/month in the domain
brief), so the roster has to cover all of them. A handful of reps get an explicit
trajectory (rising star, falling star, improving laggard, declining laggard) so the rep
quadrant shows every corner on purpose, not by luck of the seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from analytics.demo.clock import add_months

REGIONS: dict[str, tuple[str, ...]] = {
    "Americas": ("Americas East", "Americas West", "Americas Central"),
    "EMEA": ("EMEA North", "EMEA South"),
}
AES_PER_TEAM = 7
SENIOR_AES_PER_TEAM = 3
SDRS_PER_TEAM = 2
CSMS_PER_TEAM = 1

# Monthly quota by role and level (domain brief: junior 10,000, senior 25,000).
QUOTA: dict[tuple[str, str], float] = {
    ("AE", "junior"): 10_000.0,
    ("AE", "senior"): 25_000.0,
    ("CSM", "junior"): 8_000.0,
    ("CSM", "senior"): 15_000.0,
}
# Quota ramp of a new hire in the first three months (then full quota).
RAMP = (0.25, 0.5, 0.75)

# Designed quarter-over-quarter trajectories: attainment by quarter offset from the
# anchor's quarter (-1 = last complete quarter). Offsets beyond the table repeat the ends.
# Seasonality multiplies in on top; the steps are large enough that won amounts still move
# the designed way from the third-last to the last complete quarter.
TRAJECTORIES: dict[str, dict[int, float]] = {
    "rising": {-5: 0.95, -4: 1.0, -3: 1.1, -2: 1.3, -1: 1.75, 0: 1.85, 1: 1.9},
    "falling": {-5: 1.35, -4: 1.45, -3: 1.55, -2: 1.3, -1: 1.05, 0: 0.8, 1: 0.75},
    "improving": {-5: 0.45, -4: 0.45, -3: 0.42, -2: 0.55, -1: 0.75, 0: 0.85, 1: 0.9},
    "declining": {-5: 0.72, -4: 0.7, -3: 0.62, -2: 0.5, -1: 0.33, 0: 0.28, 1: 0.25},
}
# Which AE slot (team index, "senior"/"junior") carries which trajectory: one of each per
# region, so a region filter still shows all four quadrants.
TRAJECTORY_SLOTS: tuple[tuple[int, str, str], ...] = (
    (0, "senior", "rising"),
    (1, "senior", "falling"),
    (2, "junior", "improving"),
    (0, "junior", "declining"),
    (3, "senior", "rising"),
    (4, "senior", "falling"),
    (3, "junior", "improving"),
    (4, "junior", "declining"),
)


def _words(text: str) -> tuple[str, ...]:
    """A comma-separated word list (kept as text so the lists stay compact)."""
    return tuple(w.strip() for w in text.split(",") if w.strip())


FIRST_AMERICAS = _words(
    "James, Maria, Robert, Linda, Michael, Patricia, David, Jennifer, Daniel, Aisha, "
    "Carlos, Emily, Kevin, Priya, Brian, Sofia, Marcus, Hannah, Tyler, Olivia, Jamal, "
    "Grace, Ethan, Chloe, Luis, Megan, Andre, Rachel, Nathan, Keisha, Diego, Lauren, "
    "Samuel, Mei, Jordan, Ava"
)
LAST_AMERICAS = _words(
    "Smith, Johnson, Williams, Brown, Garcia, Miller, Davis, Rodriguez, Martinez, "
    "Hernandez, Lopez, Wilson, Anderson, Thomas, Taylor, Moore, Jackson, Lee, Perez, "
    "Thompson, White, Harris, Clark, Lewis, Walker, Young, Allen, King, Wright, Scott, "
    "Nguyen, Hill, Green, Adams, Baker"
)
FIRST_EMEA = _words(
    "Lukas, Emma, Jonas, Léa, Matteo, Sofía, Lars, Ingrid, Hugo, Chloé, Björn, Anna, "
    "Pieter, Eva, Tomás, Zoë, Mehmet, Elif, Oliver, Freya, Luca, Giulia, Nils, Marta, "
    "Jakub, Amélie, Finn, Clara, Mateus, Ines"
)
LAST_EMEA = _words(
    "Müller, Schmidt, Dubois, Rossi, Jansen, García, Nielsen, Lindqvist, Bernard, Novak, "
    "Kowalski, Fischer, Moreau, Bianchi, de Vries, Svensson, O'Brien, Yılmaz, Costa, "
    "Weber, Laurent, Ferrari, Hansen, Dvořák, Virtanen, Silva, Peeters, Larsen, Keller, "
    "Romano"
)

ACCOUNT_STEMS = _words(
    "Northwind, Blue Harbor, Summit, Apex, Cedar, Ironwood, Silverline, Redstone, "
    "Brightpath, Evergreen, Granite, Harborview, Keystone, Lakeside, Meridian, Nimbus, "
    "Oakridge, Pinnacle, Quantum, Riverbend, Sterling, Trailhead, Vantage, Westfield, "
    "Zenith, Aurora, Bluebird, Crescent, Falcon, Horizon, Juniper, Lighthouse, Maple, "
    "Orchard, Polaris, Sequoia, Tidewater, Union, Vertex, Willow"
)
ACCOUNT_TRADES = _words(
    "Logistics, Health, Foods, Analytics, Manufacturing, Energy, Retail, Software, "
    "Capital, Labs, Media, Robotics, Pharma, Motors, Textiles, Insurance, Hotels, Telecom, "
    "Packaging, Biotech"
)
SUFFIXES = {
    "Americas": ("Inc.", "LLC", "Corp.", "Group", "Holdings"),
    "EMEA": ("GmbH", "Ltd", "S.A.", "B.V.", "AB", "S.p.A.", "SAS", "Oy", "plc"),
}
# Real account names carry commas and ampersands; a few here make the CSV quote fields.
PARTNERSHIP_NAMES = (
    "Barnes, Whitfield & Co.",
    "Hale, Morgan & Partners",
    "Ortiz, Klein & Sons",
    "Fournier, Blanc et Associés",
    "Meyer, Vogel & Partner",
)


@dataclass
class Rep:
    """One person in the roster; the sales attributes only matter for quota carriers."""

    name: str
    manager: str | None
    team: str | None
    region: str
    role: str  # AE / SDR / CSM / manager
    level: str  # junior / senior / director
    hire_date: date
    active: bool = True
    left_on: date | None = None  # last working day of a rep who left
    trajectory: str | None = None
    base_attainment: float = 1.0
    win_rate: float = 0.3
    forecast_bias: float = 1.0  # <1 sandbags, >1 over-calls
    effort: float = 1.0  # scales prospecting activity
    response_hours: float = 2.0  # SDR median lead response time

    @property
    def carries_quota(self) -> bool:
        return self.role in ("AE", "CSM")

    def works_in(self, month_start: date) -> bool:
        """True when the rep was on the team for at least part of that month."""
        nxt = add_months(month_start, 1)
        if self.hire_date >= nxt:
            return False
        return self.left_on is None or self.left_on >= month_start

    def months_since_hire(self, month_start: date) -> int:
        return (month_start.year - self.hire_date.year) * 12 + (
            month_start.month - self.hire_date.month
        )


def _names(
    rng: np.random.Generator, firsts: tuple[str, ...], lasts: tuple[str, ...], n: int
) -> list[str]:
    """`n` distinct full names drawn from the lists, in draw order."""
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < n:
        name = f"{firsts[rng.integers(len(firsts))]} {lasts[rng.integers(len(lasts))]}"
        if name not in seen:
            seen.add(name)
            out.append(name)
    return out


def build_roster(rng: np.random.Generator, anchor: date, window_start: date) -> list[Rep]:
    """Directors, team managers, AEs, SDRs and CSMs, with hires, one leaver and trajectories."""
    reps: list[Rep] = []
    teams = [(team, region) for region, names in REGIONS.items() for team in names]
    per_team = 1 + AES_PER_TEAM + SDRS_PER_TEAM + CSMS_PER_TEAM
    am_names = _names(rng, FIRST_AMERICAS, LAST_AMERICAS, 1 + per_team * 3)
    emea_names = _names(rng, FIRST_EMEA, LAST_EMEA, 1 + per_team * 2)
    pools = {"Americas": iter(am_names), "EMEA": iter(emea_names)}

    def tenured_hire() -> date:
        # Hired 1-6 years before the window, so trajectory reps are fully ramped.
        return window_start - timedelta(days=int(rng.integers(120, 6 * 365)))

    directors = {}
    for region in REGIONS:
        name = next(pools[region])
        directors[region] = name
        reps.append(Rep(name, None, None, region, "manager", "director", tenured_hire()))

    slots = {(t, lvl): traj for t, lvl, traj in TRAJECTORY_SLOTS}
    # New hires (months before the anchor) in four teams; one tenured senior AE leaves.
    hire_offsets = {0: 14, 1: 10, 3: 6, 4: 3}
    leaver_team = 2
    for t, (team, region) in enumerate(teams):
        manager = next(pools[region])
        reps.append(
            Rep(manager, directors[region], team, region, "manager", "senior", tenured_hire())
        )
        levels = ["senior"] * SENIOR_AES_PER_TEAM + ["junior"] * (
            AES_PER_TEAM - SENIOR_AES_PER_TEAM
        )
        for i, level in enumerate(levels):
            rep = Rep(next(pools[region]), manager, team, region, "AE", level, tenured_hire())
            first_of_level = i in (0, SENIOR_AES_PER_TEAM)
            if first_of_level and (t, level) in slots:
                rep.trajectory = slots[(t, level)]
            elif i == AES_PER_TEAM - 1 and t in hire_offsets:
                months = hire_offsets[t]
                rep.hire_date = add_months(anchor, -months) + timedelta(
                    days=int(rng.integers(0, 20))
                )
            elif t == leaver_team and i == 1:
                rep.left_on = add_months(anchor, -6) + timedelta(days=11)
                rep.active = False
            _sales_profile(rng, rep)
            reps.append(rep)
        for _ in range(SDRS_PER_TEAM):
            rep = Rep(next(pools[region]), manager, team, region, "SDR", "junior", tenured_hire())
            # Most SDRs answer within hours; one in four is slow (a day or more).
            rep.response_hours = float(rng.choice([0.25, 0.5, 1.0, 2.0, 20.0]))
            reps.append(rep)
        for _ in range(CSMS_PER_TEAM):
            level = "senior" if rng.random() < 0.6 else "junior"
            rep = Rep(next(pools[region]), manager, team, region, "CSM", level, tenured_hire())
            _sales_profile(rng, rep)
            rep.win_rate = float(rng.uniform(0.65, 0.8))
            reps.append(rep)
    return reps


def _sales_profile(rng: np.random.Generator, rep: Rep) -> None:
    """Skill, win rate, forecast habit and effort; trajectory reps get fixed, clear values."""
    senior = rep.level == "senior"
    rep.base_attainment = float(rng.uniform(0.75, 1.25) if senior else rng.uniform(0.55, 1.15))
    rep.win_rate = float(rng.uniform(0.25, 0.38) if senior else rng.uniform(0.18, 0.3))
    rep.forecast_bias = float(rng.choice([0.8, 0.95, 1.0, 1.0, 1.05, 1.25]))
    rep.effort = float(rng.uniform(0.7, 1.3))
    if rep.trajectory is not None:
        # A per-rep scale keeps the two reps of one trajectory from showing identical sums.
        rep.base_attainment = float(rng.uniform(0.88, 1.12))
        rep.win_rate = {"rising": 0.36, "falling": 0.33, "improving": 0.22, "declining": 0.2}[
            rep.trajectory
        ]
        rep.effort = {"rising": 1.25, "falling": 0.9, "improving": 1.2, "declining": 0.7}[
            rep.trajectory
        ]


def attainment_trend(
    rng: np.random.Generator, rep: Rep, quarters: list[int], anchor_q: int
) -> dict[int, float]:
    """Attainment multiplier per quarter: the designed path, or a mean-reverting random walk."""
    if rep.trajectory is not None:
        table = TRAJECTORIES[rep.trajectory]
        lo, hi = min(table), max(table)
        return {q: table[min(max(q - anchor_q, lo), hi)] for q in quarters}
    level, out = 1.0, {}
    for q in quarters:
        level = float(np.exp(0.6 * np.log(level) + rng.normal(0.0, 0.16)))
        out[q] = level
    return out


def build_accounts(rng: np.random.Generator) -> dict[str, list[str]]:
    """Distinct account names per region (a few with commas, to make the CSV quote them)."""
    out: dict[str, list[str]] = {}
    seen: set[str] = set()
    for region, suffixes in SUFFIXES.items():
        names: list[str] = []
        while len(names) < 360:
            stem = ACCOUNT_STEMS[rng.integers(len(ACCOUNT_STEMS))]
            trade = ACCOUNT_TRADES[rng.integers(len(ACCOUNT_TRADES))]
            name = f"{stem} {trade} {suffixes[rng.integers(len(suffixes))]}"
            if name not in seen:
                seen.add(name)
                names.append(name)
        out[region] = names
    out["Americas"][:3] = PARTNERSHIP_NAMES[:3]
    out["EMEA"][:2] = PARTNERSHIP_NAMES[3:]
    return out
