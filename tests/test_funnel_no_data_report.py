"""A funnel that is "no data" prints no row in the report, as the page draws no table (QA).

Found by a tester: when a cohort's deals were all at an unknown stage (a stageless or
unmapped export), `report funnel` printed a `Closed Won, reached 0` row beside its
`no data:` note, while the Funnel page shows no table at all, only why and the cohort's
counts. A funnel without an open step has nothing between "deal" and "won": its one row
is made up (0 reached, or 100% for a list of won deals). The page is the model: the report
prints no row, the no-data sentence, and the counts the page's cards show.

Two messy exports, each imported through the real importer as of 15 Jul 2024, every deal
created in April 2024 (US dates, "$" amounts, a blank owner, a blank amount):

* `lost`: a HubSpot-style export whose three deals are all lost and have no stage
  history: each is at no step ("stage unknown"), none won;
* `won`: a list of won deals with no stage column (a "Won Date" instead): every deal is
  won, none was seen at an open stage.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest

from analytics import db
from analytics.cli import main
from analytics.funnel import NO_STAGES_SEEN
from analytics.ingest import import_file
from analytics.markup import plain

AS_OF = date(2024, 7, 15)
EXPORTS = {
    "lost": """Deal Name,Deal Owner,Deal Stage,Amount,Create Date,Close Date
Acme,Ann Lee,Closed Lost,"$2,000.00",04/02/2024,05/10/2024
Bolt,,closed lost,,04/15/2024,05/22/2024
Cane,Bob Ray,Closed Lost,3000,04/19/2024,06/01/2024
""",
    "won": """Deal Name,Deal Owner,Won Date,Amount,Create Date
Acme,Ann Lee,05/10/2024,"$2,000.00",04/02/2024
Bolt,,05/22/2024,,04/15/2024
Cane,Bob Ray,06/01/2024,3000,04/19/2024
""",
}
NO_DATA = f"note: no data: {NO_STAGES_SEEN}"
# export -> the cohort's counts, as the page's cards show them
COUNTS = {
    "lost": "note: 3 deals created in the period: 0 won so far (0.0%), 0 still open, "
    "3 stage unknown.",
    "won": "note: 3 deals created in the period: 3 won so far (100.0%), 0 still open.",
}


@pytest.fixture(params=sorted(EXPORTS))
def book(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    name = str(request.param)
    path = tmp_path / "sales.duckdb"
    file = tmp_path / f"{name}.csv"
    file.write_text(EXPORTS[name], encoding="utf-8")
    con = db.connect(path)
    try:
        result = import_file(con, file, as_of=AS_OF, data_dir=tmp_path / "kept")
        assert result.ok, result.message
    finally:
        con.close()
    return name, path


@pytest.mark.parametrize("fmt", ["csv", "json"])
@pytest.mark.parametrize("by", ["company", "team", "rep", "lead_source", "period"])
def test_report_prints_no_made_up_row_for_a_funnel_without_data(
    book: tuple[str, Path], capsys: pytest.CaptureFixture[str], by: str, fmt: str
) -> None:
    name, path = book
    args = ["report", "funnel", "--period", "2024-04", "--by", by, "--format", fmt]
    assert main([*args, "--db", str(path)]) == 0
    captured = capsys.readouterr()
    if fmt == "csv":
        assert list(csv.DictReader(io.StringIO(captured.out))) == []  # no "Closed Won" row
    else:
        assert captured.out.strip() == "[]"
    notes = captured.err.splitlines()
    assert NO_DATA in notes
    if by == "company":
        assert COUNTS[name] in notes


def test_funnel_page_shows_no_table_and_the_same_sentence(
    book: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page the report follows: the reason, the cards, no chart and no step table."""
    from apptest import assert_clean, open_page

    name, path = book
    monkeypatch.setenv("SALES_DB", str(path))
    at = open_page("pages/funnel.py", {"kind": "Month", "period": "2024-04"})
    assert_clean(at)
    assert any(f"No funnel to draw, no data: {NO_STAGES_SEEN}." in plain(w.value)
               for w in at.warning)  # fmt: skip
    assert not [d for d in at.dataframe if "reached" in d.value.columns]
    cards = {m.label: m.value for m in at.metric}
    assert cards["Deals created"] == "3"
    assert cards["Won deals so far"] == ("3" if name == "won" else "0")
    at.selectbox(key="funnel:compare_by").set_value("Reps").run()
    assert_clean(at)
    assert not [d for d in at.dataframe if "method" in d.value.columns]
    assert any("No funnels to compare, no data" in plain(c.value) for c in at.caption)
