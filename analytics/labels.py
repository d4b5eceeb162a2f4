"""The names of rows whose group is not known: one spelling on every page, report and file.

Why one module: "(no owner)" was written out in four places (the scorecard, the funnel's
SQL, the leads tables and the forecast's calls), so a page and the CLI could drift apart
under one label. Every grouping that meets a blank owner, team, region or lead source
names that row with these words, never an empty name or a null.
"""

from __future__ import annotations

NO_OWNER = "(no owner)"
NO_TEAM = "(no team)"
NO_REGION = "(no region)"
NO_SOURCE = "(no source)"
NO_SDR = "(no SDR)"
