"""Mapping proposed from column contents when no header matches (issue 12.7).

Hand-made files whose headers mean nothing to the detector (a CRM in a language we have
no labels for, or columns named by a person): the proposal must find the dates, the
amount, the stage, the owner and the id from what the columns hold, and never claim a
column already mapped. The files are written by the tests and read back through the
importer's own reader.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb

from analytics.ingest.detect import detect
from analytics.ingest.propose import propose_mapping
from analytics.ingest.read import load_raw, sniff

STAGES = ("Discovery", "Qualified", "Demo", "Closed Won", "Closed Lost")


def write(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def sample(path: Path) -> tuple[list[str], list[list[str | None]]]:
    """Headers and rows as the importer reads them."""
    source = sniff(path)
    con = duckdb.connect()
    try:
        load_raw(con, source, first_rows=200)
        rows = con.execute("SELECT * EXCLUDE (__line) FROM raw ORDER BY __line").fetchall()
    finally:
        con.close()
        source.cleanup()
    return source.headers, [list(r) for r in rows]


def proposals(path: Path, kind: str = "opportunities") -> dict[str, str]:
    headers, rows = sample(path)
    det = detect(headers, kind)
    return {
        p.field: p.header
        for p in propose_mapping(kind, headers, rows, det.columns, stage_names=STAGES)
    }


def deals(n: int = 12) -> list[list[str]]:
    owners = ["Ana Ruiz", "Ben Okafor", "Chen Li"]
    stages = ["Discovery", "Qualified", "Closed Won"]
    return [
        [
            f"X{1000 + i}",
            f"2024-0{1 + i % 3}-1{i % 9}",
            f"2024-0{4 + i % 3}-2{i % 9}",
            f"{1200 + 37 * i},50",
            stages[i % 3],
            owners[i % 3],
            f"Client company {i}",
        ]
        for i in range(n)
    ]


def test_every_core_field_is_proposed_from_contents(tmp_path: Path) -> None:
    headers = ["Kod", "Aa", "Bb", "Wert", "Etap", "Kto", "Firma"]
    got = proposals(write(tmp_path / "opaque.csv", [headers, *deals()]))
    assert got == {
        "opportunity_id": "Kod",
        "created_date": "Aa",  # the earlier of the two date columns
        "close_date": "Bb",
        "amount": "Wert",
        "stage": "Etap",
        "owner": "Kto",
        "opportunity_name": "Firma",
    }


def test_a_column_already_mapped_is_never_proposed_again(tmp_path: Path) -> None:
    headers = ["Kod", "Aa", "Bb", "Amount", "Etap", "Owner", "Firma"]
    got = proposals(write(tmp_path / "half.csv", [headers, *deals()]))
    assert "Amount" not in got.values() and "Owner" not in got.values()
    assert "amount" not in got and "owner" not in got
    assert got["stage"] == "Etap"


def test_repeated_values_that_are_not_names_or_stages_propose_a_stage(tmp_path: Path) -> None:
    """Custom stage names (unknown to settings) still repeat: a stage, to confirm."""
    rows = [["Nr", "Phase", "Summe"]] + [
        [f"N{i:03d}", ["Angebot", "Verhandlung", "Gewonnen"][i % 3], str(100 * i)]
        for i in range(1, 10)
    ]
    got = proposals(write(tmp_path / "custom.csv", rows))
    assert got == {"opportunity_id": "Nr", "stage": "Phase", "amount": "Summe"}


def test_a_column_of_mixed_text_is_not_called_a_date_or_an_amount(tmp_path: Path) -> None:
    rows = [["Notiz", "Datum"]] + [
        [f"call back {i}", "2024-05-01" if i % 2 else "n/a"] for i in range(10)
    ]
    got = proposals(write(tmp_path / "notes.csv", rows))
    assert "close_date" not in got and "created_date" not in got and "amount" not in got


def test_a_leads_file_gets_its_date_proposed(tmp_path: Path) -> None:
    rows = [["lead_id", "Zeitpunkt", "Kanal"]] + [
        [f"L{i}", f"2018-02-{10 + i}", ["social", "paid_search"][i % 2]] for i in range(8)
    ]
    got = proposals(write(tmp_path / "leads.csv", rows), kind="leads")
    assert got["created_at"] == "Zeitpunkt"


def test_reasons_name_the_evidence(tmp_path: Path) -> None:
    headers, rows = sample(write(tmp_path / "opaque.csv", [["Kod", "Aa", "Wert"], *[
        r[:2] + [r[3]] for r in deals()
    ]]))  # fmt: skip
    reasons = {p.field: p.reason for p in propose_mapping("opportunities", headers, rows, {})}
    assert reasons["close_date"].startswith("100% of its values are dates")
    assert reasons["amount"] == "100% of its values are numbers"


# A team's own export (issue 12): a stage column of 8 German/Spanish stage words over 22
# deals, an outcome column of Won/Lost/Open, a customer column of a few repeated names.
# Headers no synonym matches, so the proposal alone decides.
FUNNEL = [
    ("Gewonnen", "Won"), ("Verloren", "Lost"), ("Cerrado ganado", "Won"),
    ("Propuesta", "Open"), ("Angebot", "Open"), ("Verhandlung", "Open"),
    ("Perdido", "Lost"), ("Erstgespräch", "Open"),
]  # fmt: skip
CUSTOMERS = ["Acme GmbH", "Beta AG", "Gamma SL"]
TEAM_HEADERS = ["Nummer", "Schritt", "Ergebnis", "Kunde XY", "Beginn"]


def team_rows() -> list[list[str]]:
    return [
        [
            f"D-{101 + i}",
            FUNNEL[i % 8][0],
            FUNNEL[i % 8][1],
            CUSTOMERS[i % 3],
            f"2026-{8 + i // 8:02d}-{1 + i % 28:02d}",
        ]
        for i in range(22)
    ]


LEARNED = ("Gewonnen", "Verloren", "Cerrado ganado", "Propuesta", "Angebot", "Verhandlung",
           "Perdido", "Erstgespräch")  # fmt: skip


def test_outcome_words_are_the_status_and_stage_words_the_stage(tmp_path: Path) -> None:
    """'Won/Lost/Open' is each deal's status (2 of its 3 values are stage aliases, yet it
    is not the stage); the column of stage words is the stage though its 8 values over
    22 rows are more than 'a few'; a customer column of 3 names over 22 rows is not an
    account ('mostly different on each row' is false)."""
    headers, rows = sample(write(tmp_path / "team.csv", [TEAM_HEADERS, *team_rows()]))
    det = detect(headers, "opportunities")
    assert not {"Schritt", "Ergebnis", "Kunde XY"} & set(det.columns.values())
    for known in (STAGES, STAGES + LEARNED):  # first upload, and after the stages exist
        got = {
            p.field: p for p in propose_mapping("opportunities", headers, rows, det.columns, known)
        }
        assert got["status"].header == "Ergebnis"
        assert got["stage"].header == "Schritt"
        assert got["stage"].reason.startswith(
            f"{8 if known != STAGES else 7} of its 8 values are known stages"
        )
        assert "account" not in got and "opportunity_name" not in got
        assert [p.header for p in got.values()].count("Schritt") == 1


def test_a_column_the_detection_resolved_is_never_proposed(tmp_path: Path) -> None:
    """'Status' is matched by its header: neither it nor the status field is proposed,
    and the stage still comes from the stage words."""
    headers = ["Nummer", "Schritt", "Status", "Kunde XY", "Beginn"]
    headers_read, rows = sample(write(tmp_path / "team.csv", [headers, *team_rows()]))
    det = detect(headers_read, "opportunities")
    assert det.columns.get("status") == "Status"
    got = propose_mapping("opportunities", headers_read, rows, det.columns, STAGES)
    assert "Status" not in [p.header for p in got]
    assert "status" not in [p.field for p in got]
    assert {p.field: p.header for p in got}["stage"] == "Schritt"


def test_a_repeated_column_is_never_an_account_or_name(tmp_path: Path) -> None:
    """The fall-back for leftover text: only a column that differs on most rows."""
    customers = ["Acme 1 GmbH", "Beta 2 AG", "Gamma 3 SL", "Delta 4 Ltd", "Epsilon 5 SA"]
    # 5 customers over 12 rows: too many for 'a few', too few for 'mostly different'
    rows = [["Nummer", "Kunde XY", "Notiz"]] + [
        [f"N{i:03d}", customers[i % 5], f"called on day {i}"] for i in range(12)
    ]
    got = proposals(write(tmp_path / "notes.csv", rows))
    assert got.get("opportunity_name") == "Notiz"
    assert "Kunde XY" not in {got.get("account"), got.get("opportunity_name")}
