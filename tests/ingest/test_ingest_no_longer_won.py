"""An export that shows a deal won earlier as lost, or open again, says so (a new user's
monthly exports: August's bookings fell from 21,000 to 14,000 when the export of 1 Oct
showed a deal won on 28 Aug as lost on 20 Sep, and nothing said why).

Files written here as HubSpot exports them, loaded by the real importer.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analytics import db
from analytics.ingest import import_file

HEADER = '"Record ID","Deal Name","Deal Stage","Close Date","Deal owner","Amount","Create Date"\n'
FIRST = (
    '"W","Wayne & Sons","Closed Won","2026-08-28","Ann Lee","7000","2026-06-10"\n'
    '"A","Acme **Bold**","Closed Won","2026-08-18","Ann Lee","10000","2026-05-10"\n'
    '"C","<b>Globex</b>","Demo Scheduled","2026-10-15","Bob Ray","5000","2026-06-01"\n'
)


def load(tmp_path: Path, texts: list[tuple[date, str]]) -> list[str]:
    """Each export in turn into one database; the import messages."""
    con = db.connect(tmp_path / "sales.duckdb")
    messages = []
    try:
        for day, rows in texts:
            path = tmp_path / f"hubspot-crm-exports-all-deals-{day}.csv"
            path.write_text(HEADER + rows, encoding="utf-8")
            result = import_file(con, path, as_of=day, data_dir=tmp_path / "kept")
            assert result.ok, result.message
            messages.append(" ".join(result.message.split()))
    finally:
        con.close()
    return messages


@pytest.mark.parametrize(
    ("later", "expected"),
    [
        (  # the customer walked away after the win
            FIRST.replace('"Closed Won","2026-08-28"', '"Closed Lost","2026-09-20"'),
            "1 deal won in an earlier export is not won in this one, so its bookings leave "
            "the period it was won in: 'Wayne & Sons' (won 2026-08-28, 7,000.00) is lost on "
            "2026-09-20. Commission statements keep it credited in that month and claw it "
            "back where the plan has clawback days. If that is not what happened, check in "
            "the CRM",
        ),
        (  # reopened: back in the pipeline
            FIRST.replace('"Closed Won","2026-08-28"', '"Demo Scheduled","2026-11-30"'),
            "1 deal won in an earlier export is not won in this one, so its bookings leave "
            "the period it was won in: 'Wayne & Sons' (won 2026-08-28, 7,000.00) is open "
            "again.",
        ),
        (  # both, oldest win first
            FIRST.replace('"Closed Won","2026-08-28"', '"Closed Lost","2026-09-20"').replace(
                '"Closed Won","2026-08-18"', '"Closed Lost",""'
            ),
            "2 deals won in an earlier export are not won in this one, so their bookings "
            "leave the periods they were won in: 'Acme **Bold**' (won 2026-08-18, "
            "10,000.00) is lost, 'Wayne & Sons' (won 2026-08-28, 7,000.00) is lost on "
            "2026-09-20. Commission statements keep them credited in those months and claw "
            "them back where the plan has clawback days.",
        ),
    ],
)
def test_a_won_deal_no_longer_won_is_named(tmp_path: Path, later: str, expected: str) -> None:
    messages = load(tmp_path, [(date(2026, 9, 1), FIRST), (date(2026, 10, 1), later)])
    assert "won in an earlier export" not in messages[0]
    assert expected in messages[1], messages[1]


def test_still_won_or_the_same_export_again_says_nothing(tmp_path: Path) -> None:
    still = FIRST.replace('"5000"', '"6000"')  # another deal changed, the wins stay won
    messages = load(tmp_path, [(date(2026, 9, 1), FIRST), (date(2026, 10, 1), still)])
    assert all("won in an earlier export" not in m for m in messages)


def test_many_are_counted_and_the_first_five_named(tmp_path: Path) -> None:
    wins = "".join(
        f'"W{i}","Deal {i}","Closed Won","2026-08-{10 + i:02d}","Ann Lee","100","2026-06-01"\n'
        for i in range(7)
    )
    messages = load(
        tmp_path,
        [(date(2026, 9, 1), wins), (date(2026, 10, 1), wins.replace("Closed Won", "Closed Lost"))],
    )
    assert "7 deals won in an earlier export are not won in this one" in messages[1]
    assert "'Deal 0' (won 2026-08-10, 100.00) is lost on 2026-08-10" in messages[1]
    assert "'Deal 4'" in messages[1] and "'Deal 5'" not in messages[1]
    assert "and 2 more." in messages[1]
