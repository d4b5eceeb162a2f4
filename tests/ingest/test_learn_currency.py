"""The deals' one currency becomes the reporting currency when nobody chose one.

Why (found loading a German CRM export as a new user, no settings edited beforehand):
every amount was in EUR ("Betrag (EUR)"), the reporting currency defaults to USD, no page
edits it, and no exchange rate had been uploaded, so bookings and pipeline could not be
valued on any page. Learned like the stages, only while unambiguous; files written by the
test, a real DuckDB file. Expected figures by hand: May bookings 1,234.50 + 800 = 2,034.50.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analytics.metrics.kpis import kpi_table
from analytics.scope import Period, Scope
from analytics.settings import load_reporting_currency, save_reporting_currency

AS_OF = date(2024, 6, 10)
HEAD = "opportunity_id;owner;stage;amount;currency;created_date;close_date\n"
EUR = (
    "A1;Ana;Closed Won;1.234,50;EUR;2024-04-01;2024-05-03\n"
    "A2;Ana;Closed Won;800,00;eur ;2024-04-02;2024-05-20\n"
    "A3;Tom;Discovery;;EUR;2024-05-02;\n"
)
MIXED = EUR.replace("800,00;eur ", "800,00;USD")
NO_CURRENCY = EUR.replace(";EUR;", ";;").replace(";eur ;", ";;")
RATES = "currency,rate_date,rate\nEUR,2024-01-01,1.1\n"
NOTE = "reporting currency set to EUR: every deal is in EUR and none had been chosen"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("deals", "before", "expected"),
    [
        (EUR, None, "EUR"),
        (MIXED, None, "USD"),  # two currencies: not ours to pick
        (NO_CURRENCY, None, "USD"),  # no currency stated: the company currency already
        (EUR, "chosen", "USD"),  # a currency saved by a person is never changed
        (EUR, "rates", "USD"),  # exchange rates uploaded: USD is in use
    ],
    ids=["all-eur", "mixed", "no-currency", "already-chosen", "rates-uploaded"],
)
def test_the_reporting_currency_is_learned_only_when_unambiguous(
    con, tmp_path, run_import, deals, before, expected
):
    if before == "chosen":
        save_reporting_currency(con, "USD")
    if before == "rates":
        assert run_import(write(tmp_path, "fx_rates.csv", RATES)).ok
    result = run_import(write(tmp_path, "deals.csv", HEAD + deals), as_of=AS_OF)
    assert result.status == "loaded", result.message
    assert load_reporting_currency(con) == expected
    assert (NOTE in result.message) == (expected == "EUR")


def test_learned_eur_values_the_bookings_and_stays(con, tmp_path, run_import):
    first = run_import(write(tmp_path, "deals.csv", HEAD + EUR), as_of=AS_OF)
    assert NOTE in first.message
    table = kpi_table(con, Scope(Period.parse("2024-05")), "company")
    assert table.loc[0, "bookings"] == pytest.approx(2034.50)
    assert table.loc[0, "unpriced_deals"] == 0
    # a later upload with a USD deal does not move it back: the USD deal needs a rate
    later = HEAD + "A4;Tom;Closed Won;500;USD;2024-05-01;2024-05-28\n"
    second = run_import(write(tmp_path, "deals_june.csv", later), as_of=date(2024, 6, 12))
    assert second.ok, second.message
    assert "reporting currency set" not in second.message
    assert load_reporting_currency(con) == "EUR"


def test_a_refused_import_learns_nothing(con, tmp_path, run_import):
    bad = HEAD + EUR + "A9;Ana;Closed Won;lots;EUR;2024-04-02;2024-05-21\n"
    result = run_import(write(tmp_path, "deals.csv", bad), as_of=AS_OF)
    assert result.status == "refused", result.message
    assert load_reporting_currency(con) == "USD"
    assert con.execute(
        "SELECT count(*) FROM settings WHERE key = 'reporting_currency'"
    ).fetchone() == (0,)
