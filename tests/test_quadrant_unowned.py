"""The quadrant beside won deals without an owner (blank owner cells in the export).

Why: a tester saw the quadrant place nobody where won deals had no owner. The deals
without an owner are the row "(no owner)" of the leaderboard, never a rep to judge, so
they do not set the bookings line (the median of the reps who won deals in the window);
owned reps who won are placed as usual. When no owned rep won in the window there is no
line, so nobody is placed: that is true, but each rep's note was empty (the scorecard's
`quadrant_note`, the page's "Not placed" list), so the result read as a fault. The note
now says why, and that the window's wins have no owner when they have none.

Each book is a HubSpot-shaped export imported through the real importer; the quadrant is
read as the CLI scorecard prints it (`quadrant` and `quadrant_note` per rep).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.markup import plain

PROJECT_ROOT = Path(__file__).resolve().parent.parent
HEADER = "Record ID,Deal Name,Deal owner,Deal Stage,Amount,Create Date,Close Date"
AS_OF = date(2026, 6, 30)
# Q1 is the window before, Q2 the window judged (a quarter is its own window)
UNOWNED_WINS = [
    "N1,Walk-in one,,Closed Won,700,2026-01-07,2026-03-01",
    "N2,Walk-in two,,Closed Won,900,2026-04-07,2026-05-01",
]
OWNED_Q1 = [
    "A1,Ann one,Ann Lee,Closed Won,1000,2026-01-05,2026-01-20",
    "B1,Bob one,Bob Ray,Closed Won,2000,2026-01-06,2026-02-20",
    "C1,Cy one,Cy Moe,Closed Won,1500,2026-02-01,2026-03-10",
]
OWNED_Q2_LOST = [
    "A2,Ann two,Ann Lee,Closed Lost,3000,2026-04-05,2026-04-20",
    "B2,Bob two,Bob Ray,Closed Lost,500,2026-04-06,2026-05-10",
    "C2,Cy two,Cy Moe,Closed Lost,2500,2026-04-01,2026-06-10",
]
NO_LINE = "no rep won a deal in 2026-Q2: bookings have no line to judge by"

# case -> (rows, {rep: (quadrant, note)}); "(no owner)" is never placed nor noted
BOOKS = {
    "only unowned deals won in the window: nobody placed, and the notes say why": (
        OWNED_Q1 + OWNED_Q2_LOST + UNOWNED_WINS,
        {
            rep: (None, f"{NO_LINE} (the 1 deal won in 2026-Q2 has no owner)")
            for rep in ("Ann Lee", "Bob Ray", "Cy Moe")
        },
    ),
    "two unowned wins in the window": (
        OWNED_Q1
        + OWNED_Q2_LOST
        + UNOWNED_WINS
        + ["N3,Walk-in three,,Closed Won,400,2026-04-08,2026-06-01"],
        {
            rep: (None, f"{NO_LINE} (the 2 deals won in 2026-Q2 have no owner)")
            for rep in ("Ann Lee", "Bob Ray", "Cy Moe")
        },
    ),
    "nobody won in the window at all: nobody placed, and the notes say why": (
        OWNED_Q1 + OWNED_Q2_LOST,
        {rep: (None, NO_LINE) for rep in ("Ann Lee", "Bob Ray", "Cy Moe")},
    ),
}


def _cli(*args: str | Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    env.pop("SALES_DB", None)
    done = subprocess.run(
        [sys.executable, "-m", "analytics", *map(str, args)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.mark.parametrize("case", list(BOOKS))
def test_unowned_wins_neither_block_nor_judge_the_reps(case: str, tmp_path: Path) -> None:
    rows, expected = BOOKS[case]
    export = tmp_path / "hubspot-crm-exports-all-deals-2026-06-30.csv"
    export.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    database = tmp_path / "sales.duckdb"
    _cli("import", export, "--db", database, "--as-of", AS_OF.isoformat())

    printed = _cli(
        "report", "scorecard", "--db", database, "--period", "2026-Q2", "--format", "json"
    )

    data = json.loads(printed.stdout)
    rows_out = data["rows"] if isinstance(data, dict) else data
    got = {r["rep"]: (r["quadrant"], r["quadrant_note"]) for r in rows_out}
    assert got.pop("(no owner)", (None, None)) == (None, None)
    assert got == expected


def test_the_reps_page_says_why_nobody_is_placed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Reps page said "No rep in this view has figures to place" although every rep had
    bookings and a change: it now names each rep with the quadrant's reason."""
    rows = OWNED_Q1 + OWNED_Q2_LOST + UNOWNED_WINS
    export = tmp_path / "hubspot-crm-exports-all-deals-2026-06-30.csv"
    export.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    database = tmp_path / "sales.duckdb"
    _cli("import", export, "--db", database, "--as-of", AS_OF.isoformat())
    monkeypatch.setenv("SALES_DB", str(database))

    at = AppTest.from_file(str(PROJECT_ROOT / "dashboard.py"), default_timeout=90)
    at.query_params.update({"kind": "Quarter", "period": "2026-Q2"})
    at.run()
    at.switch_page("pages/reps.py").run()

    assert not at.exception, [e.value for e in at.exception]
    infos = [plain(i.value) for i in at.info]
    reason = f"{NO_LINE} (the 1 deal won in 2026-Q2 has no owner)"
    assert any(
        text.startswith("No rep in this view is placed in the quadrant for this period.")
        and f"Ann Lee ({reason})" in text
        and f"Cy Moe ({reason})" in text
        and "(no owner)" not in text.replace("has no owner", "")
        for text in infos
    ), infos
