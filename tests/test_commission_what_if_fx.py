"""What-if: an open deal in a currency without an exchange rate is not offered, and the
page says why (found by a new user): it was listed as "D-11 Kilo EU · Trial · 5,000" and,
once chosen, silently left out, so the projected payout did not move; a deal in another
currency showed its amount without the currency.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from apptest import assert_clean, metric, open_page
from test_commission_engine import FIXTURES

from analytics.markup import plain
from tests.report_cli import import_texts

DEALS = (
    "opportunity_id,opportunity_name,account,owner,stage,amount,currency,created_date,"
    "close_date\n"
    "D-01,Alpha,Alpha,Bob Stone,Closed Won,20000,USD,2024-03-01,2024-05-03\n"
    "D-10,Juliet,Juliet,Bob Stone,Trial,10000,USD,2024-03-01,2024-05-28\n"
    "D-11,Kilo EU,Kilo,Bob Stone,Trial,5000,EUR,2024-03-01,2024-05-29\n"
    "D-12,Lima,Lima,Bob Stone,Demo,,USD,2024-03-01,2024-05-30\n"
)


@pytest.fixture
def fx_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    reps = (FIXTURES / "commission_reps.csv").read_text(encoding="utf-8")
    files = [("commission_reps.csv", reps, None), ("deals.csv", DEALS, None)]
    path = import_texts(tmp_path, files, date(2024, 5, 20))
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def test_a_deal_without_rate_is_named_not_offered(fx_db: Path) -> None:
    at = open_page("pages/commissions.py", {"kind": "Month", "period": "2024-05"})
    at.selectbox(key="com:whatif_rep").set_value("Bob Stone").run()
    assert_clean(at)
    offered = at.multiselect(key="com:whatif_deals").options
    assert any(o.startswith("D-10 ") for o in offered), offered
    assert not any(o.startswith("D-11 ") for o in offered), offered
    captions = [plain(c.value) for c in at.caption]
    assert any(
        "D-11 Kilo EU: 5,000.00 EUR has no exchange rate on or before 2024-05-31" in c
        for c in captions
    ), captions
    # the offered deal still projects: 20,000 + 10,000 = 30,000 >= 25,000 -> 3,000
    at.multiselect(key="com:whatif_deals").select("D-10").run()
    assert metric(at, "Projected payout") == "3,000.00"


def test_a_deal_without_an_amount_is_named_not_silently_missing(fx_db: Path) -> None:
    """Found by a new user: an open deal with a blank amount was simply not in the list."""
    at = open_page("pages/commissions.py", {"kind": "Month", "period": "2024-05"})
    at.selectbox(key="com:whatif_rep").set_value("Bob Stone").run()
    assert_clean(at)
    offered = at.multiselect(key="com:whatif_deals").options
    assert not any(o.startswith("D-12 ") for o in offered), offered
    captions = [plain(c.value) for c in at.caption]
    assert any("D-12 Lima: no amount, so nothing to commission" in c for c in captions), captions
