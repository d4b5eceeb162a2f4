"""The Data page lists the rows an import left out (quarantine) until it is rolled back.

Why: "load valid rows, quarantine the rest" named the rejected rows only in the result
message, which is gone at the next rerun; ops fix them in the CRM later and had no list.
Real CSV with bad rows (a text amount, an impossible date, markup in a value), the real
importer with keep_valid, the real page in AppTest.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from test_data_rollback import HEADER, data_page, write_csv

from analytics import db
from analytics.backup import rollback_import
from analytics.ingest import import_file, quarantined_rows

ROWS = [
    "D-1,Alpha,Acme,Ana Ruiz,Discovery,1000.00,USD,2024-01-10,2024-06-30",
    "D-2,Beta,Globex,Ben Okafor,Demo,about 2k,USD,2024-01-20,2024-05-31",
    "D-3,Gamma,Initech,Ana Ruiz,Discovery,300.00,USD,2024-02-31,2024-07-15",
    'D-4,"**Delta** <b>x</b>",Umbrella,Ana Ruiz,Demo,"[click](http://x)",USD,2024-02-01,2024-07-15',
]


@pytest.fixture
def app_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, int]:
    path = tmp_path / "data" / "app.duckdb"
    monkeypatch.setenv("SALES_DB", str(path))
    con = db.connect(path)
    try:
        upload = write_csv(tmp_path / "deals.csv", ROWS, HEADER)
        result = import_file(con, upload, as_of=date(2024, 3, 1), keep_valid=True)
        assert result.status == "partial", result.message
        assert result.import_id is not None
        return path, result.import_id
    finally:
        con.close()


def test_the_rows_left_out_are_listed_with_row_column_value_and_problem(
    app_db: tuple[Path, int],
) -> None:
    path, import_id = app_db
    con = db.connect(path)
    try:
        rows = quarantined_rows(con)
    finally:
        con.close()
    assert set(rows["line"]) == {3, 4, 5}  # the header is row 1
    assert set(rows["import_id"]) == {import_id} and set(rows["file_name"]) == {"deals.csv"}
    by_line = {int(r.line): r for r in rows.itertuples()}
    assert by_line[3].value == "about 2k" and by_line[3].column_name == "amount"
    assert by_line[5].value == "[click](http://x)"

    at = data_page()
    expander = next(e for e in at.expander if "Rows left out of an import" in e.label)
    assert "(3 problems)" in expander.label
    shown = next(d.value for d in at.dataframe if "problem" in d.value.columns)
    assert list(shown["line"]) == [3, 4, 5]
    assert "[click](http://x)" in set(shown["value"])  # a table cell: the text as written


def test_rolling_the_import_back_empties_the_list(app_db: tuple[Path, int]) -> None:
    path, import_id = app_db
    con = db.connect(path)
    try:
        rollback_import(con, import_id)
        assert quarantined_rows(con).empty
    finally:
        con.close()
    at = data_page()
    assert not any("Rows left out of an import" in e.label for e in at.expander)
