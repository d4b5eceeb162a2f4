"""Downloads: CSV and Excel bytes round-trip, and nothing from a CRM file becomes a formula."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal

import numpy as np
import openpyxl
import pandas as pd
import pytest

from analytics.exports import escape_text, to_csv_bytes, to_excel_bytes

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
