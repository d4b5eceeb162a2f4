"""The Funnel of an export without created dates, and of a cohort that used no open stage.

Hand-made deals exports (issue 13, "Still open"): custom stage names (Prospect / Talking
/ Signed / Gone), lost deals written with amount 0, open deals without an amount, an owner
whose name is markdown/HTML/quotes, and -- in the first export -- no created-date column
at all. As of 2025-03-16: the newest month is half over.

    id   owner              stage     amount  close date
    N01  Ann *Lee*          Signed      1000  2025-01-10
    N02  Ann *Lee*          Signed      2500  2025-02-03
    N03  Ann *Lee*          Gone           0  2025-02-05
    N04  Bo <b>"Q"</b>      Gone           0  2025-02-20
    N05  Bo <b>"Q"</b>      Signed      4000  2025-03-02
    N06  Bo <b>"Q"</b>      Talking              2025-04-30 (open: an expected date)
    N07  Ann *Lee*          Prospect             (open, no date)

No created date anywhere, so a deal can only be placed in a period by its close date:
the cohort of 2025-Q1 is the five closed deals (3 won, 2 lost). Without stage history a
lost deal's furthest stage is unknown and a won deal only says "won": no open stage was
seen in the cohort, so there is no funnel to draw (one "Signed" step at 100% would be a
made-up funnel). The page says so and shows the counts instead.

With a stage history for N03 (Prospect -> Talking -> Gone) and N05 (Prospect -> Talking
-> Signed), the same cohort has steps Prospect, Talking, Signed: reached 4 (N01 N02 N03
N05 -- won deals reached every step, N03 from history), 4, 3; N04 stays stage unknown.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest
from streamlit.testing.v1 import AppTest

from analytics import db
from analytics.funnel import (
    NO_CREATED_DATES,
    NO_STAGES_SEEN,
    cohort_basis,
    funnel,
    funnel_compare,
    funnel_report_table,
)
from analytics.ingest import import_file
from analytics.markup import plain
from analytics.scope import Period, Scope
from analytics.settings import Stage, save_stages

ROOT = Path(__file__).resolve().parent.parent
AS_OF = date(2025, 3, 16)
Q1 = Period.parse("2025-Q1")
ANN, BO = "Ann *Lee*", 'Bo <b>"Q"</b>'
STAGES = [
    Stage("Prospect", 10),
    Stage("Talking", 40),
    Stage("Signed", 100, is_closed=True, is_won=True),
    Stage("Gone", 0, is_closed=True),
]
NO_CREATED = f"""opportunity_id,owner,stage,amount,close_date
N01,{ANN},Signed,1000,2025-01-10
N02,{ANN},Signed,2500,2025-02-03
N03,{ANN},Gone,0,2025-02-05
N04,"Bo <b>""Q""</b>",Gone,0,2025-02-20
N05,"Bo <b>""Q""</b>",Signed,4000,2025-03-02
N06,"Bo <b>""Q""</b>",Talking,,2025-04-30
N07,{ANN},Prospect,,
"""
HISTORY = """opportunity_id,stage,entered_at
N03,Prospect,2025-01-02
N03,Talking,2025-01-20
N03,Gone,2025-02-05
N05,Prospect,2025-01-15
N05,Talking,2025-02-01
N05,Signed,2025-03-02
"""
# Created dates, every deal of 2025-02's cohort closed, none with history: no open stage.
WITH_CREATED = """opportunity_id,owner,stage,amount,created_date,close_date
C01,Ann,Signed,1000,2025-02-01,2025-02-10
C02,Ann,Gone,0,2025-02-03,2025-02-12
C03,Bo,Talking,,2025-01-05,2025-05-01
"""


def load(con: duckdb.DuckDBPyConnection, folder: Path, files: dict[str, str]) -> None:
    """The four-stage list first (imports map stages through it), then each file."""
    save_stages(con, STAGES)
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        result = import_file(con, path, as_of=AS_OF, data_dir=folder)
        assert result.ok, result.message
        assert result.rows_rejected == 0, result.message


def test_an_export_without_created_dates_follows_the_closed_deals(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    load(con, tmp_path, {"deals.csv": NO_CREATED})
    assert cohort_basis(con, Scope(Q1)) == "closed"
    f = funnel(con, Scope(Q1))
    assert f.basis == "closed"
    assert (f.deals, f.won, f.lost, f.stage_unknown, f.undated) == (5, 3, 2, 2, 2)
    assert f.no_data == NO_CREATED_DATES  # a lone "Signed" step is not a funnel
    assert f.table.attrs["no_data"] == {"funnel": NO_CREATED_DATES}
    note = f.method_note()
    assert note.startswith("The export has no created dates")
    assert "2 open deals are in no period's cohort" in note
    assert "not used by any deal" not in note  # nothing drawn: no claim about hidden steps
    # one rep's cohort: the markdown name is a bound value, not SQL or markup
    ann = funnel(con, Scope(Q1, rep=ANN))
    assert (ann.deals, ann.won, ann.lost) == (3, 2, 1)
    # the comparison and the report say the same
    compared = funnel_compare(con, Scope(Q1), "rep")
    assert compared.attrs["no_data"] == {"funnel": NO_CREATED_DATES}
    assert compared.attrs["basis"] == "closed"

    report = funnel_report_table(con, Scope(Q1))
    assert f"no data: {NO_CREATED_DATES}" in report.attrs["notes"]


def test_without_created_dates_but_with_history_the_funnel_has_steps(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    load(con, tmp_path, {"deals.csv": NO_CREATED, "history.csv": HISTORY})
    f = funnel(con, Scope(Q1))
    assert f.basis == "closed" and f.no_data == ""
    assert f.table["stage"].tolist() == ["Prospect", "Talking", "Signed"]
    assert f.table["reached"].tolist() == [4, 4, 3]
    assert f.table["dropped"].tolist() == [0, 1, 0]
    assert (f.stage_unknown, f.stage_unknown_lost) == (1, 1)  # N04: lost, no history


def test_a_cohort_that_used_no_open_stage_is_no_data(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    load(con, tmp_path, {"deals.csv": WITH_CREATED})
    feb = funnel(con, Scope(Period.parse("2025-02")))
    assert feb.basis == "created"
    assert (feb.deals, feb.won, feb.stage_unknown) == (2, 1, 1)
    assert feb.no_data == NO_STAGES_SEEN
    # the month whose cohort holds the open deal has a real step
    jan = funnel(con, Scope(Period.parse("2025-01")))
    assert jan.no_data == "" and jan.table["stage"].tolist() == ["Talking", "Signed"]


def test_funnel_page_says_why_there_is_no_funnel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "nocreated.duckdb"
    con = db.connect(path)
    try:
        load(con, tmp_path, {"deals.csv": NO_CREATED})
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.query_params.update({"kind": "Quarter", "period": "2025-Q1"})
    at.run()
    at.switch_page("pages/funnel.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [plain(e.value) for e in at.error]
    warnings = " ".join(plain(w.value) for w in at.warning)
    assert f"No funnel to draw, no data: {NO_CREATED_DATES}." in warnings
    captions = " ".join(plain(c.value) for c in at.caption)
    # Q1 was not over on the data's date (16 Mar): the cohort is the quarter to date
    assert "Cohort: deals **closed** from 01 Jan 2025 to 16 Mar 2025" in captions
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Deals closed"] == "5" and metrics["Won deals"] == "3"
    assert metrics["Closed → won"] == "60.0%" and metrics["Lost"] == "2"
    # no single-step funnel drawn, no one-row table
    assert not [d for d in at.dataframe if "reached" in d.value.columns]
    assert not at.get("plotly_chart")
    assert "No funnels to compare, no data" in captions
