"""Downloads: CSV and Excel bytes round-trip, and nothing from a CRM file becomes a formula."""

from __future__ import annotations

import ast
import csv
import io
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest

from analytics.exports import FORMULA_PREFIXES, escape_text, to_csv_bytes, to_excel_bytes
from analytics.markup import plain

TRICKY = ["=1+2", "+1+2", "-1+2", "@SUM(A1:A2)", "\t=1", "\r=1", '=HYPERLINK("http://x","y")']


def sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rep": ["Ann Lee", "Müller, Jörg", "李雷", "=1+2", None],
            "bookings": [15000.0, 0.0, -250.5, np.nan, 1e9],
            "won_deals": [3, 0, 1, 2, 0],
            "win_rate": [0.75, np.nan, 1.0, 0.5, 0.0],
            "closed": pd.to_datetime(
                ["2024-05-10", "2024-06-30", None, "2024-04-01", "2024-01-01"]
            ),
        }
    )


@pytest.mark.parametrize("text", TRICKY)
def test_formula_looking_text_gets_a_quote(text: str) -> None:
    assert escape_text(text) == "'" + text


@pytest.mark.parametrize("value", ["Ann", "", "a=b", "1+2", "e@mail.com", 5, -5, 1.5, None])
def test_other_values_pass_unchanged(value: object) -> None:
    assert escape_text(value) == value


def test_csv_round_trip() -> None:
    df = sample()
    data = to_csv_bytes(df)
    assert data.startswith("\ufeff".encode())  # Excel opens UTF-8 names correctly
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", parse_dates=["closed"])
    assert list(back.columns) == list(df.columns)
    assert back["rep"].tolist()[:3] == ["Ann Lee", "Müller, Jörg", "李雷"]
    assert back["rep"].iloc[3] == "'=1+2"  # escaped, shown as text by a spreadsheet
    assert pd.isna(back["rep"].iloc[4])  # missing stays empty, not "None"
    pd.testing.assert_series_equal(back["bookings"], df["bookings"])  # -250.5 stays a number
    pd.testing.assert_series_equal(back["won_deals"], df["won_deals"])
    pd.testing.assert_series_equal(back["win_rate"], df["win_rate"])
    assert back["closed"].iloc[0] == pd.Timestamp("2024-05-10")
    text = data.decode("utf-8-sig")
    assert "nan" not in text.lower() and "None" not in text


def test_csv_escapes_column_names_too() -> None:
    data = to_csv_bytes(pd.DataFrame({"=cmd": ["x"]}))
    assert data.decode("utf-8-sig").splitlines()[0] == "'=cmd"


def test_excel_is_readable_and_typed() -> None:
    df = sample()
    wb = openpyxl.load_workbook(io.BytesIO(to_excel_bytes(df, sheet_name="scorecard 2024-Q2")))
    ws = wb.active
    assert ws.title == "scorecard 2024-Q2"
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0] == ("rep", "bookings", "won_deals", "win_rate", "closed")
    assert rows[1] == ("Ann Lee", 15000, 3, 0.75, datetime(2024, 5, 10))
    assert rows[2][0] == "Müller, Jörg"
    assert rows[3][1] == -250.5  # a negative number is a number, not escaped text
    assert rows[3][4] is None  # NaT -> empty cell
    assert rows[4][1] is None  # NaN -> empty cell
    assert rows[5][0] is None
    assert ws.freeze_panes == "A2"


@pytest.mark.parametrize("text", TRICKY)
def test_excel_formula_looking_cells_stay_text(text: str) -> None:
    data = to_excel_bytes(pd.DataFrame({"name": [text], "n": [1]}))
    cell = openpyxl.load_workbook(io.BytesIO(data)).active["A2"]
    assert cell.data_type == "s"  # a string cell, never "f" (formula)
    # (XML stores a carriage return as a line feed; the leading quote is what matters)
    assert cell.value == ("'" + text).replace("\r", "\n")
    # and the formula text is not in the sheet XML as a <f> element
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet


def test_excel_handles_odd_values() -> None:
    df = pd.DataFrame(
        {
            "decimal": [Decimal("12.50")],
            "date": [date(2024, 5, 1)],
            "flag": [True],
            "nullable": pd.array([pd.NA], dtype="Int64"),
            "control": ["bad\x01char"],
            "tz": [pd.Timestamp("2024-05-01 10:00", tz="UTC")],
        }
    )
    ws = openpyxl.load_workbook(io.BytesIO(to_excel_bytes(df))).active
    values = [c.value for c in ws[2]]
    assert values[0] == 12.5
    assert values[1] == datetime(2024, 5, 1)
    assert values[2] is True
    assert values[3] is None
    assert values[4] == "badchar"  # a control character would make the file invalid
    assert values[5] == datetime(2024, 5, 1, 10, 0)


def test_sheet_name_is_made_valid() -> None:
    data = to_excel_bytes(pd.DataFrame({"a": [1]}), sheet_name="a/b:c*d?[e]" + "x" * 40)
    title = openpyxl.load_workbook(io.BytesIO(data)).active.title
    assert len(title) <= 31
    assert not set(title) & set("/\\:*?[]")


def test_empty_frame_exports() -> None:
    empty = pd.DataFrame(columns=["rep", "bookings"])
    assert to_csv_bytes(empty).decode("utf-8-sig").strip() == "rep,bookings"
    ws = openpyxl.load_workbook(io.BytesIO(to_excel_bytes(empty))).active
    assert [c.value for c in ws[1]] == ["rep", "bookings"]


def test_categorical_and_repeated_columns_are_escaped_too() -> None:
    """A column's dtype does not decide whether it holds text: categoricals do too."""
    df = pd.DataFrame(
        {"rep": pd.Categorical(["=1+2", "Ann"]), "n": pd.Categorical([1, 2]), "x": ["-a", "b"]}
    )
    df.columns = ["rep", "n", "rep"]
    lines = to_csv_bytes(df).decode("utf-8-sig").splitlines()
    assert lines == ["rep,n,rep", "'=1+2,1,'-a", "Ann,2,b"]
    ws = openpyxl.load_workbook(io.BytesIO(to_excel_bytes(df))).active
    assert [(c.value, c.data_type) for c in ws[2]] == [("'=1+2", "s"), (1, "n"), ("'-a", "s")]


# -- every page's downloads, with values that came in through an import ---------------------

CALC = "=cmd|' /C calc'!A0"
FORMULA_REP = "@SUM(1+1)*cmd|' /C calc'!A0"
ROOT = Path(__file__).resolve().parent.parent
DOWNLOAD_PAGES = ("reps", "funnel", "pipeline", "forecast", "leads", "commissions")


def _q(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def hostile_exports(folder: Path) -> list[Path]:
    """Real CSV exports whose names, accounts and sources are spreadsheet formulas."""
    reps = folder / "reps.csv"
    reps.write_text(
        "rep,manager,team,region,role,level\n"
        f"{_q(FORMULA_REP)},Boss,+East,-EMEA,AE,junior\n"
        "Ann Lee,Boss,+East,-EMEA,AE,senior\n",
        encoding="utf-8",
    )
    opps = folder / "opps.csv"
    opps.write_text(
        "opportunity_id,opportunity_name,account,owner,stage,amount,currency,created_date,"
        "close_date,lead_source\n"
        f"O-1,{_q('=1+2')},{_q(CALC)},{_q(FORMULA_REP)},Closed Won,1000,USD,2024-01-10,"
        "2024-04-15,+web\n"
        f"O-2,-deal,{_q(CALC)},{_q(FORMULA_REP)},Discovery,500,USD,2024-01-10,2024-09-15,@src\n"
        "O-3,ok,Acme,Ann Lee,Closed Lost,700,USD,2024-02-10,2024-05-15,web\n",
        encoding="utf-8",
    )
    leads = folder / "leads.csv"
    leads.write_text(
        "lead_id,created_at,owner,source,status,company\n"
        f"L-1,2024-03-01 09:00,{_q(FORMULA_REP)},+web,new,{_q(CALC)}\n"
        f"L-2,2024-03-02 09:00,Ann Lee,@src,new,{_q(CALC)}\n",
        encoding="utf-8",
    )
    return [reps, opps, leads]


@pytest.fixture
def recorded_media(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The media managers AppTest creates per run, so a test can fetch what a button serves."""
    import streamlit.testing.v1.app_test as app_test_module
    from streamlit.runtime.media_file_manager import MediaFileManager

    managers: list[MediaFileManager] = []

    class Recording(MediaFileManager):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            managers.append(self)

    monkeypatch.setattr(app_test_module, "MediaFileManager", Recording)
    return managers


def downloaded(manager: Any, button: Any) -> tuple[str, bytes]:
    """(file name, bytes) a download button serves; a deferred one is generated as on click."""
    proto = button.proto
    url = manager.execute_deferred(proto.deferred_file_id) if proto.deferred_file_id else proto.url
    return url, manager._storage.get_file(Path(url).name).content


def formula_like(text: str) -> bool:
    """Text a spreadsheet would run: starts with a formula sign and is not a plain number."""
    if not text or not text.startswith(FORMULA_PREFIXES):
        return False
    try:
        float(text)
    except ValueError:
        return True
    return False


def test_every_page_download_is_safe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded_media: list[Any]
) -> None:
    """Each page's CSV and Excel downloads, fetched from the running app and read back."""
    from streamlit.testing.v1 import AppTest

    from analytics import db
    from analytics.ingest import import_file

    path = tmp_path / "sales.duckdb"
    con = db.connect(path)
    try:
        for file in hostile_exports(tmp_path):
            assert import_file(con, file, as_of=date(2024, 6, 30)).ok
    finally:
        con.close()
    monkeypatch.setenv("SALES_DB", str(path))
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90)
    at.query_params.update({"kind": "Year", "period": "2024"})
    at.run()
    cells: dict[str, list[str]] = {}  # file -> every text cell
    for page in DOWNLOAD_PAGES:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception and not at.error, (page, [plain(e.value) for e in at.error])
        buttons = at.get("download_button")
        assert buttons, f"{page}: no download offered"
        for button in buttons:
            url, data = downloaded(recorded_media[-1], button)
            key = f"{page}:{button.proto.label}:{url}"
            if url.endswith(".csv"):
                rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
                cells[key] = [c for row in rows for c in row]
            elif url.endswith(".xlsx"):
                ws = openpyxl.load_workbook(io.BytesIO(data)).active
                for row in ws.iter_rows():
                    for cell in row:
                        assert cell.data_type != "f", (key, cell.coordinate, cell.value)
                cells[key] = [str(c.value) for row in ws.iter_rows() for c in row if c.value]
    for key, texts in cells.items():
        assert not [t for t in texts if formula_like(t)], key
    every = [t for texts in cells.values() for t in texts]
    assert "'" + CALC in every  # the imported account, escaped
    assert "'" + FORMULA_REP in every  # the imported rep name, escaped
    assert any(k.endswith(".xlsx") for k in cells), "no Excel download was checked"
    pages_seen = {k.split(":", 1)[0] for k in cells}
    assert pages_seen == set(DOWNLOAD_PAGES)


# -- every download button goes through the exports ---------------------------------------

SAFE_BUILDERS = ("to_csv_bytes", "to_excel_bytes", "export_bytes")
# Files that are not tables: the commission plan as JSON (numbers and rule names).
OTHER_BUILDERS = ("plan_to_json",)


def download_sources() -> list[tuple[str, int, str]]:
    """(file, line, source of `data=`) of every st.download_button in the app's code."""
    found = []
    for path in [ROOT / "dashboard.py", *sorted((ROOT / "pages").glob("*.py"))]:
        text = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(text)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "download_button"
            ):
                data = next((k.value for k in node.keywords if k.arg == "data"), None)
                if data is None and len(node.args) > 1:
                    data = node.args[1]
                assert data is not None, f"{path.name}:{node.lineno}: download without data"
                found.append((path.name, node.lineno, ast.get_source_segment(text, data) or ""))
    return found


def test_every_download_button_uses_the_exports() -> None:
    sources = download_sources()
    # pages share _ui.downloads (CSV + Excel) and commissions' statement exports: the walk
    # must still find those and the plan file
    assert len(sources) >= 5
    for name, line, data in sources:
        assert any(b in data for b in SAFE_BUILDERS + OTHER_BUILDERS), (name, line, data)


# -- uploaded originals are never served back ----------------------------------------------


def test_uploaded_originals_are_never_served() -> None:
    """Originals are kept for restore and audit, beside the database, never served.

    Streamlit serves files only from `static/` next to the entry script, and only when
    server.enableStaticServing is on; the originals live in the data folder, and no page
    reads them or the stored path into a download.
    """
    import tomllib

    from analytics import db
    from analytics.ingest.history import HISTORY_SQL

    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config.get("server", {}).get("enableStaticServing", False) is False
    static = (ROOT / "static").resolve()
    uploads = db.data_dir_for(db.default_db_path()) / "uploads"
    assert not uploads.resolve().is_relative_to(static)
    assert not (ROOT / "static").exists()
    for name, line, data in download_sources():
        for marker in ("stored_path", "uploads", "read_bytes", "open("):
            assert marker not in data, (name, line, data)
    for path in [ROOT / "dashboard.py", *(ROOT / "pages").glob("*.py")]:
        assert "stored_path" not in path.read_text(encoding="utf-8"), path.name
    assert "stored_path" not in HISTORY_SQL  # the Data page's history table
