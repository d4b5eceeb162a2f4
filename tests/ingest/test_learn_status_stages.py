"""A status column is an outcome beside the stage, not a property of it (QA defect: a
Pipedrive stage whose rows were all Status = won was learned as the won stage, so the next
export's OPEN deal in it became a "Closed Won" deal weighted at 100% in open pipeline).

Pipedrive keeps a won or lost deal in the pipeline step it closed in, so where a status
column gives a stage's rows their outcome the stage is learned as an open step, and each
row keeps its own outcome. Files whose outcome is the stage itself (no status column) learn
as before. Every file is written here and goes through the real importer.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from openpyxl import Workbook

from analytics.ingest.learn import Signals, classify
from analytics.settings import load_stages

PIPEDRIVE_HEADERS = [
    "Deal - ID", "Deal - Title", "Deal - Owner", "Deal - Value", "Deal - Currency of Value",
    "Deal - Stage", "Deal - Status", "Deal - Deal created", "Deal - Won time",
    "Deal - Lost time", "Deal - Organization",
]  # fmt: skip
# The tester's first export (/work/qa/make_files.py): "Negotiations" holds two won deals
FIRST = [
    [1, "Alpha", "Eve Müller", "1.234,50", "EUR", "Negotiations", "won", "01.09.2026",
     "14.11.2026", "", "ACME GmbH"],
    [2, "Beta", "Eve Müller", "1 200,00 €", "EUR", "Proposal Made", "lost", "02.09.2026",
     "", "20.11.2026", "Foo AG"],
    [3, "Gamma", "Jan de Vries", "", "EUR", "Contact Made", "open", "03.09.2026", "", "",
     "Bar BV"],
    [4, "Delta", "Jan de Vries", "2.000", "EUR", "Negotiations", "won", "04.09.2026",
     "03.11.2026", "", ""],
    [5, "Epsilon", "Eve Müller", 0, "EUR", "Qualified", "lost", "05.09.2026", "",
     "25.11.2026", "Baz"],
]  # fmt: skip
# ... and the later one (/work/qa/make_pd2.py): an open 9,000 EUR deal in "Negotiations"
OPEN_NEGOTIATION = [
    6, "Zeta", "Jan de Vries", "9.000", "EUR", "Negotiations", "open", "01.12.2026", "", "",
    "New Co",
]  # fmt: skip


def _xlsx(path: Path, rows: list[list]) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.append(PIPEDRIVE_HEADERS)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def _probability(con, stage: str) -> float:
    return next(s.probability for s in load_stages(con) if s.name == stage)


def test_a_stage_of_only_won_rows_is_learned_open_when_a_status_column_decides(
    run_import, con, tmp_path
):
    first = run_import(_xlsx(tmp_path / "pipedrive_deals.xlsx", FIRST))

    assert first.status == "loaded", first.message
    learned = {ls.value: ls for ls in first.new_stages}
    negotiations = learned["Negotiations"]
    # not the won stage: the negotiation step, which the default "Final Decision" holds
    # by its alias "Negotiation" (analytics.ingest.stage_lexicon)
    assert (negotiations.classification, negotiations.maps_to, negotiations.probability) == (
        "mapped",
        "Final Decision",
        80.0,
    )
    assert "won (as 'Closed Won')" not in first.message
    assert "Negotiations" not in next(s for s in load_stages(con) if s.is_won).aliases
    # the won rows stay won by their own status
    rows = con.execute(
        "SELECT opportunity_id, stage, is_closed, is_won FROM opportunities "
        "WHERE opportunity_id IN ('1', '4') ORDER BY 1"
    ).fetchall()
    assert rows == [("1", "Final Decision", True, True), ("4", "Final Decision", True, True)]

    second = run_import(
        _xlsx(tmp_path / "pipedrive_deals_2026-12-05.xlsx", [*FIRST, OPEN_NEGOTIATION])
    )

    assert second.status == "loaded", second.message
    assert second.new_stages == []  # "Negotiations" is known now
    zeta = con.execute(
        "SELECT stage, is_closed, is_won, amount FROM opportunities WHERE opportunity_id = '6'"
    ).fetchone()
    # an open deal in an open stage, weighted at that stage's 80%, not 100% as Closed Won
    assert zeta == ("Final Decision", False, False, 9000)
    assert _probability(con, "Final Decision") == 80.0


def test_a_fresh_database_seeing_only_the_later_export_learns_the_same(run_import, con, tmp_path):
    result = run_import(
        _xlsx(tmp_path / "pipedrive_deals_2026-12-05.xlsx", [*FIRST, OPEN_NEGOTIATION])
    )

    assert result.status == "loaded", result.message
    negotiations = next(ls for ls in result.new_stages if ls.value == "Negotiations")
    assert (negotiations.count, negotiations.maps_to, negotiations.probability) == (
        3,
        "Final Decision",
        80.0,
    )
    won = con.execute("SELECT opportunity_id FROM opportunities WHERE is_won ORDER BY 1").fetchall()
    assert won == [("1",), ("4",)]


def test_a_status_decided_stage_with_no_step_name_is_placed_as_an_open_stage(
    run_import, con, tmp_path
):
    # "Handshake" names no funnel step: it takes a probability by position, like any open
    # stage the file gives no probability for; its rows are all won by their status
    rows = [list(r) for r in FIRST]
    rows[0][5] = rows[3][5] = "Handshake"
    result = run_import(_xlsx(tmp_path / "pipedrive_deals.xlsx", rows))

    assert result.status == "loaded", result.message
    handshake = next(ls for ls in result.new_stages if ls.value == "Handshake")
    assert handshake.classification == "open"
    assert handshake.maps_to is None
    assert 10 < handshake.probability < 90
    assert "probability by position" in handshake.why
    stage = next(s for s in load_stages(con) if s.name == "Handshake")
    assert (stage.is_closed, stage.is_won) == (False, False)
    assert con.execute(
        "SELECT count(*) FROM opportunities WHERE source_stage = 'Handshake' AND is_won"
    ).fetchone() == (2,)


def test_an_open_stage_probability_ignores_the_won_rows_of_a_status_file(run_import, con, tmp_path):
    # with a probability column, a won row's 100 is its outcome, not the step's odds: the
    # learned stage takes the median of its open rows (30, 50 -> 40), not of all rows
    path = tmp_path / "status_probability.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Deal ID", "Deal Name", "Owner", "Amount", "Stage", "Status",
                    "Probability", "Created Date", "Close Date"])  # fmt: skip
        w.writerow(["S1", "One", "Ann Lee", "100", "Handshake", "won", "100",
                    "2026-09-01", "2026-11-01"])  # fmt: skip
        w.writerow(["S2", "Two", "Ann Lee", "200", "Handshake", "won", "100",
                    "2026-09-02", "2026-11-02"])  # fmt: skip
        w.writerow(["S3", "Three", "Ann Lee", "300", "Handshake", "open", "30",
                    "2026-09-03", "2026-12-20"])  # fmt: skip
        w.writerow(["S4", "Four", "Ann Lee", "400", "Handshake", "open", "50",
                    "2026-09-04", "2026-12-21"])  # fmt: skip

    result = run_import(path, as_of=date(2026, 12, 1))

    assert result.status == "loaded", result.message
    handshake = next(ls for ls in result.new_stages if ls.value == "Handshake")
    assert (handshake.classification, handshake.probability) == ("open", 40.0)
    assert "median of its open rows" in handshake.why


def test_without_a_status_column_a_stage_of_only_won_deals_is_still_won(run_import, con, tmp_path):
    # Salesforce-like: the stage IS the outcome; "Signed" holds only won deals (probability
    # 100) and there is no IsWon or status column: learned as the won stage, as before
    path = tmp_path / "sf_like.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Opportunity ID", "Opportunity Name", "Opportunity Owner", "Stage",
                    "Amount", "Probability (%)", "Created Date", "Close Date"])  # fmt: skip
        w.writerow(["006A", "One", "Ann Lee", "Signed", "1000", "100%", "2026-09-01",
                    "2026-11-01"])  # fmt: skip
        w.writerow(["006B", "Two", "Ann Lee", "Signed", "2000", "100%", "2026-09-02",
                    "2026-11-02"])  # fmt: skip
        w.writerow(["006C", "Three", "Ann Lee", "Discovery", "3000", "10%", "2026-09-03",
                    "2026-12-20"])  # fmt: skip

    result = run_import(path, as_of=date(2026, 12, 1))

    assert result.status == "loaded", result.message
    signed = next(ls for ls in result.new_stages if ls.value == "Signed")
    assert (signed.classification, signed.maps_to, signed.probability) == (
        "won",
        "Closed Won",
        100.0,
    )
    assert "Signed" in next(s for s in load_stages(con) if s.is_won).aliases


def test_classify_with_a_status_column():
    all_won = Signals(2, 2, 0, 0, 0, None, None, None)
    # the same signals: won where the outcome is the stage's, open where a status decides
    assert classify("Negotiations", all_won)[0] == "won"
    assert classify("Negotiations", all_won, status_decides=True)[::2] == ("open", None)
    # nor does the probability of 100 its won rows carry (their outcome again)
    won_certain = Signals(2, 2, 0, 0, 2, 100.0, 100.0, 100.0)
    assert classify("Negotiations", won_certain)[0] == "won"
    assert classify("Negotiations", won_certain, status_decides=True)[0] == "open"
    # its name still does ("Gewonnen" beside a status of Won), unless a row of it is open
    assert classify("Gewonnen", all_won, status_decides=True)[::2] == ("won", 100.0)
    assert classify("Verloren", Signals(1, 0, 1, 0, 0, None, None, None),
                    status_decides=True)[0] == "lost"  # fmt: skip
    one_open = Signals(3, 2, 0, 1, 0, None, None, None)
    assert classify("Deal won", one_open, status_decides=True)[0] == "open"
    # rows without a status (none of the stage's rows has one): the stage decides, as before
    no_status = Signals(2, 0, 0, 0, 0, None, None, None)
    assert classify("Deal won", no_status, status_decides=True)[0] == "won"
