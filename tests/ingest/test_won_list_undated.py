"""A close-date column without a recognised stage is a won-deal list only when every row is dated.

Why (issue 12.6, found trying a German CRM export as a new user): a deals export whose
stage header the app does not know (`Phase`) was auto-detected as a list of won deals
because its `Close Date` stood "without a stage". All 120 deals, open and lost ones
included, were stored as Closed Won, 42 of them with no close date and none with an
amount. A real won-deal list dates every sale; a file whose close date is empty on some
rows is a deals export with an unmapped stage, and is refused naming the rows and the
columns not recognised. Asked for (`all_won`), an undated win is refused too: it would
fall outside every period's bookings. Files written by the test, a real DuckDB file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# a German export: the stage header 'Phase' and the amount header are not known
DEALS_DE = (
    "Deal-ID;Phase;Betrag (EUR);Owner;Created;Close Date\n"
    "NW-1;Gewonnen;10.771,50;Ana;03/03/2026;10/04/2026\n"
    "NW-2;Verloren;0,00;Tom;26/02/2026;09/05/2026\n"
    "NW-3;Verhandlung;;Tom;19/10/2026;\n"
    "NW-4;Neu;;Ana;20/10/2026;\n"
)
# a real won-deal list: a won date on every row
WON = "mql_id,seller_id,sr_id,won_date\nL1,S1,rep_x,2024-02-01\nL2,S2,rep_y,2024-02-10\n"
WON_UNDATED = "mql_id,seller_id,sr_id,won_date\nL1,S1,rep_x,2024-02-01\nL2,S2,rep_y,\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "text", "all_won", "expected"),
    [
        (
            "deals_de.csv",
            DEALS_DE,
            False,
            "row 4, column 'Close Date': not read as a list of won deals: the column "
            "'Close Date' is empty on 2 of 4 rows (the first on row 4), so not every row is "
            "a closed sale. The file has no column recognised as the stage; the columns not "
            "recognised are 'Phase'.",  # 'Betrag (EUR)' is now the amount
        ),
        (
            "won_undated.csv",
            WON_UNDATED,
            True,
            "row 3, column 'won_date': every row is a won deal, but the column 'won_date' is "
            "empty on 1 of 2 rows (the first on row 3): a won deal needs the day it was won",
        ),
        (
            "won_undated.csv",
            WON_UNDATED,
            False,
            "the column 'won_date' is empty on 1 of 2 rows (the first on row 3)",
        ),
    ],
    ids=["unknown-stage-header", "asked-all-won", "detected-won-list"],
)
def test_an_undated_row_refuses_the_won_list_and_changes_nothing(
    con, tmp_path, run_import, fingerprint, name, text, all_won, expected
):
    before = fingerprint()
    result = run_import(write(tmp_path, name, text), all_won=all_won)
    assert result.status == "refused", result.message
    assert expected in result.message
    assert fingerprint() == before
    assert con.execute("SELECT count(*) FROM opportunities").fetchone() == (0,)


def test_a_won_list_dated_on_every_row_still_loads_as_wins(con, tmp_path, run_import):
    result = run_import(write(tmp_path, "won.csv", WON))
    assert result.status == "loaded", result.message
    got = con.execute(
        "SELECT opportunity_id, stage, is_won, close_date FROM opportunities ORDER BY 1"
    ).fetchall()
    assert [(r[0], r[1], r[2], str(r[3])) for r in got] == [
        ("L1", "Closed Won", True, "2024-02-01"),
        ("L2", "Closed Won", True, "2024-02-10"),
    ]
