"""The Data page proposes the outcome column as the status and the stage-word column as
the stage, never a repeated column as the account, and keeps doing so once the stages
are in Settings (issue 12). Real app in AppTest, a hand-made CSV like a team's own export
whose headers no synonym matches."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from apptest import assert_clean, open_page  # noqa: E402

from analytics import db  # noqa: E402
from analytics.markup import plain  # noqa: E402

FUNNEL = [
    ("Gewonnen", "Won"), ("Verloren", "Lost"), ("Cerrado ganado", "Won"),
    ("Propuesta", "Open"), ("Angebot", "Open"), ("Verhandlung", "Open"),
    ("Perdido", "Lost"), ("Erstgespräch", "Open"),
]  # fmt: skip
CUSTOMERS = ["Acme 24 GmbH", "Beta 7 AG", "Gamma 3 SL"]  # not people: never the owner


def export(rows: int = 22, shift: int = 0) -> bytes:
    lines = ["Nummer;Schritt;Ergebnis;Kunde XY;Wert;Beginn;Ende"]
    for i in range(rows):
        stage, result = FUNNEL[(i + shift) % 8]
        end = f"2026-11-{1 + i % 28:02d}" if result != "Open" else ""
        lines.append(
            f"D-{101 + i};{stage};{result};{CUSTOMERS[i % 3]};{1000 + 50 * i};"
            f"2026-{8 + i // 8:02d}-{1 + i % 28:02d};{end}"
        )
    return ("\n".join(lines) + "\n").encode()


EXPECTED = {"status": "Ergebnis", "stage": "Schritt", "opportunity_id": "Nummer"}


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("SALES_DB", str(path))
    return path


def proposal_table(at) -> dict[str, str]:
    table = next(d.value for d in at.dataframe if "column in your file" in list(d.value.columns))
    return dict(zip(table["field"], table["column in your file"], strict=True))


def test_status_and_stage_are_proposed_from_their_words(app_db: Path) -> None:
    at = open_page("pages/data.py")
    at.file_uploader(key="uploads").set_value(("team.csv", export(), "text/csv")).run()
    assert_clean(at)
    got = proposal_table(at)
    assert {f: got.get(f) for f in EXPECTED} == EXPECTED, got
    assert "account" not in got and "Kunde XY" not in got.values(), got

    next(c for c in at.checkbox if c.label == "Use the proposed columns").check().run()
    assert_clean(at)
    at.button(key="import").click().run()
    assert_clean(at)
    assert any(plain(s.value).startswith("team.csv: loaded: 22 of 22") for s in at.success), [
        plain(s.value) for s in at.success
    ] + [plain(w.value) for w in at.warning]
    con = db.connect(app_db)
    try:
        stages = {r[0] for r in con.execute("SELECT DISTINCT stage FROM opportunities").fetchall()}
        won, lost, accounts = con.execute(
            "SELECT count(*) FILTER (WHERE is_won), "
            "count(*) FILTER (WHERE is_closed AND NOT is_won), "
            "count(*) FILTER (WHERE account IS NOT NULL) FROM opportunities"
        ).fetchone()
    finally:
        con.close()
    assert not {"Open", "Won", "Lost"} & stages, stages
    # Won on rows 0, 2 of every 8 (22 rows: 6 won), Lost on rows 1, 6 (5 lost)
    assert (won, lost, accounts) == (6, 5, 0)

    # the stages are in Settings now: a re-upload gets the same proposal
    at = open_page("pages/data.py")
    at.file_uploader(key="uploads").set_value(("team2.csv", export(20, 3), "text/csv")).run()
    assert_clean(at)
    got = proposal_table(at)
    assert {f: got.get(f) for f in EXPECTED} == EXPECTED, got
    assert "account" not in got, got
