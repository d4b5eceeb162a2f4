"""A 'Closed' column that holds dates is the close date, not the closed yes/no flag.

Why (a team's own sheet, tried as a new user): "Closed" is Salesforce's label of IsClosed,
so a sheet with "Created;Closed" day columns was refused whole: "column 'Closed': is not
yes/no (TRUE/FALSE) (3 rows)". Files written by the test; by hand, A1 won 07/04/2025
for 1,234.50, A2 lost 09/04/2025.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

SHEET = (
    "Deal;Stage;Amount;Owner;Created;Closed\n"
    "A1;Won;1.234,50;Ana;05/03/2025;07/04/2025\n"
    "A2;Lost;0;Tom;02/03/2025;09/04/2025\n"
    "A3;Proposal;;Tom;11/04/2025;\n"
)
# Salesforce's own 'Closed' flag beside its close date: stays the flag
FLAG = (
    "Opportunity ID,Stage,Amount,Close Date,Closed\n"
    "S1,Closed Won,100,2025-04-07,TRUE\n"
    "S2,Proposal/Price Quote,50,2025-05-30,FALSE\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_closed_dates_are_read_as_the_close_date(con, tmp_path, run_import):
    result = run_import(write(tmp_path, "sheet.csv", SHEET), date_order="dmy")
    assert result.status == "loaded", result.message
    assert "the column 'Closed' holds dates, so it was read as the close date" in result.message
    got = con.execute(
        "SELECT opportunity_id, is_won, is_closed, amount, close_date FROM opportunities ORDER BY 1"
    ).fetchall()
    assert [(i, w, c, float(a) if a is not None else None, d) for i, w, c, a, d in got] == [
        ("A1", True, True, 1234.5, date(2025, 4, 7)),
        ("A2", False, True, 0.0, date(2025, 4, 9)),
        ("A3", False, False, None, None),
    ]


@pytest.mark.parametrize(
    ("text", "closed"),
    [(FLAG, [True, False]), (FLAG.replace(",Close Date", "").replace(",2025-04-07", "")
                              .replace(",2025-05-30", ""), [True, False])],
    ids=["with-close-date", "flag-only"],
)  # fmt: skip
def test_a_yes_no_closed_column_stays_the_flag(con, tmp_path, run_import, text, closed):
    result = run_import(write(tmp_path, "sf.csv", text), as_of=date(2025, 4, 10))
    assert result.ok, result.message
    assert "read as the close date" not in result.message
    flags = [
        r[0]
        for r in con.execute(
            "SELECT is_closed FROM opportunities ORDER BY opportunity_id"
        ).fetchall()
    ]
    assert flags == closed
