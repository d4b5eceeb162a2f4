"""Weighted pipeline of a past period after one export (issue 13, "missing is not zero"):
its last day is rebuilt from created and close dates, which know which deals were open but
not their stage, so the figure is "no data" with that reason from analytics (the KPI
table, the Overview card, the CLI scorecard), never a bare dash with the page's own words.

The export of test_waterfall_unvalued (as of 2025-03-16). February is over: rebuilt on
28 Feb. March is running: the deals open now, stages known, weighted pipeline
    O1 Proposal 2,000 x p(Proposal) + N1 Discovery 300 x p(Discovery) + N0 (no amount).
"""

from __future__ import annotations

import math
from pathlib import Path

import duckdb
import pytest
from apptest import assert_clean, metric, open_page
from test_waterfall_unvalued import con as con  # noqa: F401  (the fixture)

from analytics.markup import plain
from analytics.metrics.kpis import kpi_tables
from analytics.scope import Period, Scope
from analytics.settings import load_stages

REASON = "no deal's stage on 28 Feb 2025 is known (rebuilt from created and close dates"


def test_kpi_table_names_why_a_rebuilt_day_has_no_weighted_pipeline(
    con: duckdb.DuckDBPyConnection,  # noqa: F811
) -> None:
    periods = [Period.parse("2025-02"), Period.parse("2025-03")]
    table = kpi_tables(con, Scope(periods[1]), periods, by="company")
    feb, mar = (table[table["period"] == p.label].iloc[0] for p in periods)
    assert math.isnan(feb["weighted_pipeline"])
    assert table.attrs["no_data"]["2025-02"]["weighted_pipeline"].startswith(REASON)
    assert "weighted_pipeline" not in table.attrs["no_data"].get("2025-03", {})
    # a stage's probability by its name or any alias: a learned value at the step of a
    # configured stage ("Proposal") joins that stage as an alias (issue 12)
    p = {label: s.probability for s in load_stages(con) for label in (s.name, *s.aliases)}
    assert mar["weighted_pipeline"] == pytest.approx(
        2000 * p["Proposal"] / 100 + 300 * p["Discovery"] / 100
    )
    # the open pipeline of the rebuilt day is known: which deals were open, as last priced
    assert feb["open_pipeline"] == pytest.approx(3500)


def test_overview_card_reads_no_data_with_the_reason(
    con: duckdb.DuckDBPyConnection,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SALES_DB", str(tmp_path / "w.duckdb"))
    con.close()
    at = open_page(query={"kind": "Month", "period": "2025-02"})
    assert_clean(at)
    assert metric(at, "Weighted pipeline") == "no data"
    assert any(plain(c.value).startswith("No data: " + REASON) for c in at.caption)
