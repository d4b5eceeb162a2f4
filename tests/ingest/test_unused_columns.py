"""The import result names the columns it did not use; 'Seller' is the deal's owner.

Why (tried as a new user): a won-deals file 'Lead ID, Seller, Won date, Deal value'
loaded 34 wins with no owner: 'Seller' matched no field, and the result did not say a
column had been dropped, so every bookings-per-rep figure was empty without a word.
Files written by the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

WON = "Lead ID,Seller,Won date,Deal value,Favourite colour\nL1,Marta,2025-03-20,1000,red\n"


@pytest.mark.parametrize(
    ("text", "owner", "unused"),
    [
        (WON, "Marta", ["Favourite colour"]),
        (WON.replace(",Favourite colour", "").replace(",red", ""), "Marta", []),
    ],
    ids=["one-unused", "none-unused"],
)
def test_seller_is_the_owner_and_unused_columns_are_named(
    con, tmp_path: Path, run_import, text: str, owner: str, unused: list[str]
) -> None:
    path = tmp_path / "won.csv"
    path.write_text(text, encoding="utf-8")
    result = run_import(path)
    assert result.status == "loaded", result.message
    assert con.execute("SELECT owner, amount FROM opportunities").fetchone() == (owner, 1000)
    assert result.unused_columns == unused
    line = "1 column not used: 'Favourite colour' (not stored; map them on the Data page"
    assert (line in result.message) == bool(unused)
