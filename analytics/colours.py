"""One colour per team, the same on every page and for every period.

Why: a manager learns "East is blue" on the Reps quadrant and reads the Funnel comparison
with that in mind. A palette indexed by the teams *in the chart* gives East another colour
as soon as a period, a filter or a page shows a different set of teams (issue 13.6). So the
colour is derived from the full roster (every team in `reps`, sorted), never from what a
chart happens to show; a team missing from the roster and deals without a team get grey.
"""

from __future__ import annotations

from collections.abc import Iterable

import duckdb

from analytics.labels import NO_TEAM as NO_TEAM  # the "(no team)" row (analytics.labels)
from analytics.run_memo import memoised

NO_TEAM_COLOUR = "#9E9E9E"
# plotly's "Plotly" qualitative palette, written out so analytics needs no plotting import.
TEAM_PALETTE: tuple[str, ...] = (
    "#636EFA",
    "#EF553B",
    "#00CC96",
    "#AB63FA",
    "#FFA15A",
    "#19D3F3",
    "#FF6692",
    "#B6E880",
    "#FF97FF",
    "#FECB52",
)


def team_colours(roster: Iterable[str | None]) -> dict[str, str]:
    """Colour of each team of `roster` (any order, blanks and repeats ignored), by its rank
    in the sorted list of distinct names; `NO_TEAM` is always grey.

    Colours repeat after `len(TEAM_PALETTE)` teams; the assignment still never depends on
    which teams a chart shows.
    """
    names = sorted({str(t).strip() for t in roster if t is not None and str(t).strip()} - {NO_TEAM})
    colours = {name: TEAM_PALETTE[i % len(TEAM_PALETTE)] for i, name in enumerate(names)}
    colours[NO_TEAM] = NO_TEAM_COLOUR
    return colours


@memoised
def roster_team_colours(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """`team_colours` of every team in the roster table (not filtered by scope or period)."""
    rows = con.execute("SELECT DISTINCT team FROM reps WHERE team IS NOT NULL").fetchall()
    return team_colours(r[0] for r in rows)


def colour_of(colours: dict[str, str], team: str | None) -> str:
    """A team's colour; grey for no team or a team not on the roster."""
    if team is None:
        return NO_TEAM_COLOUR
    return colours.get(str(team).strip(), NO_TEAM_COLOUR)
