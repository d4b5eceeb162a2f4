"""Won or open deals that cannot be valued in the reporting currency are no data, not 0.

Why (found loading a German CRM export as a new user): every amount was in EUR, the
reporting currency was USD and no exchange rate had been uploaded. The Overview
read "Bookings 0" and "Open pipeline 0" beside "4 won deals", under a notice saying
deals without a rate are "never shown as 0". The export below, written by the test, is
imported as of 2024-07-15; May 2024 holds:

    deal  stage        amount  currency  closed      value in USD without rates
    W1    Closed Won   10,000  EUR       2024-05-10  none (no EUR rate)
    W2    Closed Won    6,000  EUR       2024-05-20  none
    L1    Closed Lost   4,000  EUR       2024-05-12  none
    O1    Discovery     5,000  EUR       (open)      none
    O2    Demo          (blank)          (open)      none: no amount

With an EUR rate of 1.10 from 2024-04-01, bookings are 16,000 x 1.10 = 17,600 USD and the
open pipeline 5,000 x 1.10 = 5,500 (O2 has no amount: the priced part, with a note).
With W2 in USD instead, May's bookings are the priced part, 6,000 (W1 counted apart).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from analytics.ingest import import_file
from analytics.metrics.availability import (
    blank_no_data,
    no_data_reasons,
    pipeline_note,
)
from analytics.metrics.kpis import kpi_table
from analytics.scope import Period, Scope
from analytics.settings import save_reporting_currency

AS_OF = date(2024, 7, 15)
MAY = Scope(Period.parse("2024-05"))
HEAD = "opportunity_id,owner,stage,amount,currency,created_date,close_date\n"
DEALS = (
    "W1,Ann,Closed Won,10000,EUR,2024-03-01,2024-05-10\n"
    "W2,Ann,Closed Won,6000,EUR,2024-03-02,2024-05-20\n"
    "L1,Bob,Closed Lost,4000,EUR,2024-03-05,2024-05-12\n"
    "O1,Bob,Discovery,5000,EUR,2024-05-01,2024-08-30\n"
    "O2,Ann,Demo,,EUR,2024-05-02,2024-09-15\n"
)
RATES = "currency,rate_date,rate\nEUR,2024-04-01,1.10\n"


def load(con: duckdb.DuckDBPyConnection, tmp_path: Path, files: dict[str, str]) -> None:
    """Import the files into a database whose reporting currency was chosen as USD (an
    unchosen one would be learned from an all-EUR file: tests/ingest/test_learn_currency.py)."""
    save_reporting_currency(con, "USD")
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        result = import_file(con, path, as_of=AS_OF, data_dir=tmp_path / "store", backup=False)
        assert result.ok, result.message


def company_row(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    table = blank_no_data(kpi_table(con, MAY, "company"), no_data_reasons(con, MAY))
    return table.iloc[0].to_dict()


def test_no_rate_makes_money_figures_no_data_with_the_reason(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    load(con, tmp_path, {"deals.csv": HEAD + DEALS})
    reasons = no_data_reasons(con, MAY)
    won_reason = (
        "the 2 won deals are in a currency without an exchange rate to the reporting "
        "currency (upload its exchange rates on the Data page)"
    )
    for column in ("bookings", "avg_deal_size", "sales_velocity"):
        assert reasons[column] == won_reason
    assert reasons["open_pipeline"] == (
        "1 open deal has no amount; 1 open deal is in a currency without an exchange rate"
    )
    row = company_row(con)
    assert row["won_deals"] == 2  # counts stay
    for column in ("bookings", "avg_deal_size", "open_pipeline"):
        assert row[column] != row[column], (column, row[column])  # NaN: no data, never 0


@pytest.mark.parametrize(
    ("deals", "bookings", "pipeline", "note"),
    [
        # rates uploaded: everything is priced (O2 has no amount: the priced part + note)
        (DEALS, 17_600.0, 5_500.0, "1 open deal has no amount"),
        # W2 in USD: May's bookings are the priced part, a real figure
        (DEALS.replace("6000,EUR", "6000,USD"), 6_000.0, None, None),
    ],
    ids=["with-rates", "one-won-deal-priced"],
)
def test_a_priced_part_keeps_its_figure(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    deals: str,
    bookings: float,
    pipeline: float | None,
    note: str | None,
) -> None:
    files = {"deals.csv": HEAD + deals}
    if pipeline is not None:
        files["fx_rates.csv"] = RATES
    load(con, tmp_path, files)
    reasons = no_data_reasons(con, MAY)
    assert "bookings" not in reasons
    row = company_row(con)
    assert row["bookings"] == pytest.approx(bookings)
    if pipeline is not None:
        assert "open_pipeline" not in reasons
        assert row["open_pipeline"] == pytest.approx(pipeline)
        assert pipeline_note(con, MAY) == note
