"""A past period's weighted pipeline, answered by the stage history, names why a row is empty.

One HubSpot export of 1 Sep 2026 with its "Date entered" columns (stage history), loaded by
the real importer. 30 June is before the export, so the stage history answers it. Open on
30 June, worked out by hand:

* E (Ann, 4,000, created 5 Jun): entered Demo Scheduled on 10 Jun, so in Demo then;
* C (Bob, 5,000, created 1 Jun): its first recorded stage is Demo Scheduled on 10 Jul,
  after the day, so its stage on 30 June is not known.

So in June, Ann's weighted pipeline is 4,000 x Demo's probability, and Bob's is no data
(his one open deal has no stage then), which used to be a bare dash with no reason. In
July both stages are known.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analytics import db
from analytics.metrics.kpis import kpi_table
from analytics.pointintime import basis_for
from analytics.scope import Period, Scope
from analytics.settings import load_stages
from tests.report_cli import import_texts

HEADER = (
    '"Record ID","Deal Name","Deal Stage","Close Date","Deal owner","Amount","Create Date",'
    '"Date entered ""Demo Scheduled (Sales Pipeline)""",'
    '"Date entered ""Contract Sent (Sales Pipeline)"""\n'
)
ROWS = (
    '"C","<b>Globex</b> ""add-on""","Demo Scheduled","2026-09-30","Bob Ray","5000",'
    '"2026-06-01","2026-07-10 09:00",""\n'
    '"E","**Initech** phase 2","Contract Sent","2026-09-15","Ann Lee","4000","2026-06-05",'
    '"2026-06-10 09:00","2026-08-01 09:00"\n'
)


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return import_texts(
        tmp_path, [("hubspot-crm-exports-all-deals-2026-09-01.csv", HEADER + ROWS, None)],
        date(2026, 9, 1),
    )  # fmt: skip


def test_a_deal_before_its_first_stage_change_names_the_empty_row(book: Path) -> None:
    con = db.connect(book)
    try:
        june, july = Period.parse("2026-06"), Period.parse("2026-07")
        assert basis_for(con, june.end).source == "stage history"
        demo = next(float(s.probability) for s in load_stages(con) if s.name == "Demo")
        table = kpi_table(con, Scope(june), "rep")
        later = kpi_table(con, Scope(july), "rep")
    finally:
        con.close()
    weighted = dict(zip(table["rep"], table["weighted_pipeline"], strict=True))
    assert weighted["Ann Lee"] == pytest.approx(4000 * demo / 100)
    assert weighted["Bob Ray"] != weighted["Bob Ray"]  # NaN: no data, not 0
    assert table.attrs["row_no_data"]["Bob Ray"] == {
        "weighted_pipeline": "1 open deal has no known stage on the period's last day: its "
        "stage history starts after it"
    }
    assert "Ann Lee" not in table.attrs["row_no_data"]
    # in July both deals' stages are known: both figures, and no reason
    weighted = dict(zip(later["rep"], later["weighted_pipeline"], strict=True))
    assert weighted == pytest.approx({"Ann Lee": 4000 * demo / 100, "Bob Ray": 5000 * demo / 100})
    assert later.attrs["row_no_data"] == {}
