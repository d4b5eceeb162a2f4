"""Retention (customer status, repeat purchase rate, customers lost), worked out by hand.

Deals from tests/data/kpi_opps.csv by account (owner, outcome, created -> close):

    Acme    K-01 Ann  won  2024-01-10 -> 2024-04-15;  K-13 Dan  won  2024-04-01 -> 2024-05-05
    Birch   K-02 Ann  won  2024-03-01 -> 2024-05-20;  K-14 Dan  won  2023-12-01 -> 2024-01-15
    Cobalt  K-03 Ann  lost 2024-04-01 -> 2024-06-10
    Delta   K-04 Ann  open (created 2024-04-20)
    Echo    K-05 Ann  open (created 2024-05-01)
    Fjord   K-06 Bob  lost 2024-02-15 -> 2024-05-02
    Gale    K-07 Bob  won  2024-05-06 -> 2024-06-05
    Harbor  K-08 Bob  open (created 2024-06-01)
    Iris    K-09 Cara won  2024-03-01 -> 2024-06-30
    Jade    K-10 Cara won  2024-02-01 -> 2024-04-10
    Kite    K-11 Cara lost 2024-03-05 -> 2024-07-01
    Lumen   K-12 Cara open (created 2024-05-15)
    Nova    K-15 Ann  won  2024-01-05 -> 2024-03-15
    Orbit   K-16 Ann  won  2023-01-10 -> 2023-05-10
    Pluto   K-17 Cara won  2022-01-10 -> 2022-03-01;  K-18 Cara lost 2022-12-01 -> 2023-02-01

Rules (docs/metrics.md): status at the period end -- loyal 2+ wins, customer 1 win,
prospect no win and a deal open at the period end, suspect no win and nothing open. Lapse
date = last day a deal was open or won + 12 months; lost in the period = won before the
period and the lapse date falls inside it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from analytics.ingest import import_file
from analytics.metrics.retention import customer_accounts, customer_status
from analytics.scope import Period, Scope

FIXTURES = Path(__file__).resolve().parent / "data"
AS_OF = date(2024, 7, 15)


@pytest.fixture
def kpi_db(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> duckdb.DuckDBPyConnection:
    """Roster and deals imported through the real importer, exactly as ops would load them."""
    for name in ("reps", "opps"):
        result = import_file(con, FIXTURES / f"kpi_{name}.csv", as_of=AS_OF, data_dir=tmp_path)
        assert result.ok, result.message
    return con


# (period, filters, accounts, {status: count}, repeat purchase rate, customers lost)
CASES = [
    # 2024-Q2 (end 30 June): loyal Acme (K-01, K-13), Birch (K-02, K-14) = 2; customer
    # Gale, Iris (won on the last day), Jade, Nova, Orbit, Pluto = 6; prospect Delta,
    # Echo, Harbor, Lumen and Kite (lost on 1 July, so still open on 30 June) = 5;
    # suspect Cobalt, Fjord = 2. Repeat rate 2 / (2 + 6) = 0.25.
    # Lost: Orbit (last won 2023-05-10, nothing since) lapses 2024-05-10, inside Q2.
    # Pluto's lost K-18 closed 2023-02-01 -> lapse 2024-02-01 (Q1), not Q2.
    ("2024-Q2", {}, 15, dict(suspect=2, prospect=5, customer=6, loyal=2), 0.25, 1),
    # 2024-Q1 (end 31 March): deals created after 31 March do not exist yet (K-03, K-04,
    # K-05, K-07, K-08, K-12, K-13). Won by then: K-14 Birch, K-15 Nova, K-16 Orbit,
    # K-17 Pluto -> customers Birch, Nova, Orbit, Pluto = 4 (K-02 was still open).
    # Open on 31 March: K-01 Acme, K-06 Fjord, K-09 Iris, K-10 Jade, K-11 Kite -> 5
    # prospects. No suspect, no loyal: repeat 0/4 = 0. Lost: Pluto lapses 2024-02-01 -> 1.
    ("2024-Q1", {}, 9, dict(suspect=0, prospect=5, customer=4, loyal=0), 0.0, 1),
    # Team East (Ann, Bob deals only), Q2: Acme K-01 and Birch K-02 -> 1 win each
    # (Dan's wins are not the team's) -> customers Acme, Birch, Gale, Nova, Orbit = 5;
    # prospects Delta, Echo, Harbor = 3; suspects Cobalt, Fjord = 2. Repeat 0/5 = 0.
    # Lost: Orbit (Ann's) -> 1.
    ("2024-Q2", {"team": "East"}, 10, dict(suspect=2, prospect=3, customer=5, loyal=0), 0.0, 1),
    # Rep Dan (not in the roster), Q2: Acme K-13, Birch K-14 -> 2 customers, 1 win each.
    ("2024-Q2", {"rep": "Dan Ghost"}, 2, dict(suspect=0, prospect=0, customer=2, loyal=0),
     0.0, 0),
    # 2023 (end 31 Dec 2023): K-14 (created 2023-12-01) is open -> Birch prospect; Orbit
    # won (customer); Pluto won once (customer). Lost in 2023: Pluto's last engagement is
    # K-18's close 2023-02-01 -> lapse 2024-02-01: not yet. None lost. Repeat 0/2.
    ("2023", {}, 3, dict(suspect=0, prospect=1, customer=2, loyal=0), 0.0, 0),
    # Before any deal existed: no account, repeat rate undefined (None, not 0).
    ("2021", {}, 0, dict(suspect=0, prospect=0, customer=0, loyal=0), None, 0),
]  # fmt: skip


@pytest.mark.parametrize(
    ("label", "filters", "accounts", "by_status", "repeat", "lost"),
    CASES,
    ids=[f"{c[0]}-{'-'.join(c[1].values()) or 'all'}" for c in CASES],
)
def test_customer_status(
    kpi_db: duckdb.DuckDBPyConnection,
    label: str,
    filters: dict[str, str],
    accounts: int,
    by_status: dict[str, int],
    repeat: float | None,
    lost: int,
) -> None:
    status = customer_status(kpi_db, Scope(Period.parse(label), **filters))
    assert status.accounts == accounts
    assert status.by_status == by_status
    assert list(status.by_status) == ["suspect", "prospect", "customer", "loyal"]
    if repeat is None:
        assert status.repeat_purchase_rate is None
    else:
        assert status.repeat_purchase_rate == pytest.approx(repeat)
    assert status.customers_lost == lost
    assert status.customers == by_status["customer"] + by_status["loyal"]


def test_account_list_explains_the_counts(kpi_db: duckdb.DuckDBPyConnection) -> None:
    """The drill-down: Orbit lapsed on 2024-05-10 (lost in Q2), Pluto on 2024-02-01."""
    accounts = customer_accounts(kpi_db, Scope(Period.parse("2024-Q2"))).set_index("account")
    assert accounts.loc["Acme", "status"] == "loyal"
    assert accounts.loc["Kite", "status"] == "prospect"
    assert accounts.loc["Orbit", "lapse_date"].date() == date(2024, 5, 10)
    assert bool(accounts.loc["Orbit", "lost_in_period"]) is True
    assert accounts.loc["Pluto", "lapse_date"].date() == date(2024, 2, 1)
    assert bool(accounts.loc["Pluto", "lost_in_period"]) is False
    assert int(accounts["lost_in_period"].sum()) == 1
    # An account with an open deal never lapses before the period end + 12 months.
    assert accounts.loc["Delta", "lapse_date"].date() == date(2025, 6, 30)
