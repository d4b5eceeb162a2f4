"""Excel downloads read like the page: number formats per unit, blanks for missing (issue 13.7).

The CSV is for recomputing, so it keeps every digit; the Excel file is for reading, so
each number gets a format by unit while the stored value keeps full precision.
"""

from __future__ import annotations

import io
import math

import openpyxl
import pandas as pd
import pytest

from analytics.exports import EXCEL_FORMATS, column_unit, to_csv_bytes, to_excel_bytes


@pytest.mark.parametrize(
    ("column", "values", "unit"),
    [
        ("bookings", [1234567.891, 0.0], "money"),  # a KPI, by its definition
        ("win_rate", [0.625, None], "share"),
        ("won_deals", [3, 4], "count"),
        ("median_cycle_days", [12.25, None], "days"),
        ("lead_response_median_minutes", [742.5, 3.0], "minutes"),
        ("pipeline_coverage", [3.37, math.inf], "ratio"),
        ("amount_reporting", [1500.0, None], "money"),  # by the end of the name
        ("weighted_amount", [12.5], "money"),
        ("age_days", [40, 2], "days"),
        ("sla_1h_share", [0.5, 1.0], "share"),
        ("conversion_rate", [37.5, 80.0], "number"),  # already per cent: not a share
        ("at_or_above_quota", [1.0, 0.0], None),  # a flag
        ("year", [2024, 2025], None),  # unknown: left general
        ("rep", ["Ann", "Bob"], None),  # text
        ("won", [True, False], None),
    ],
)
def test_column_unit(column: str, values: list[object], unit: str | None) -> None:
    assert column_unit(column, pd.Series(values)) == unit


def _sheet(df: pd.DataFrame) -> openpyxl.worksheet.worksheet.Worksheet:
    return openpyxl.load_workbook(io.BytesIO(to_excel_bytes(df))).active


FRAME = pd.DataFrame(
    {
        "rep": ["Ann", None],
        "bookings": [1234567.891, float("nan")],
        "win_rate": [0.625, None],
        "median_cycle_days": [12.256, float("nan")],
        "pipeline_coverage": [math.inf, 2.5],
        "closed": [pd.Timestamp("2024-05-02"), pd.NaT],
        "year": [2024, 2025],
    }
)


@pytest.mark.parametrize(
    ("column", "row", "value", "number_format"),
    [
        ("A", 2, "Ann", "General"),
        ("A", 3, None, "General"),  # missing text: empty, never "None"
        ("B", 2, 1234567.891, EXCEL_FORMATS["money"]),  # full precision, shown with 1,000s
        ("B", 3, None, "General"),  # missing number: empty, never "nan"
        ("C", 2, 0.625, "0.0%"),
        ("D", 2, 12.256, "0.0"),
        ("E", 2, None, "General"),  # an infinity: empty, never "inf"
        ("E", 3, 2.5, '0.00"x"'),
        ("G", 2, 2024, "General"),
    ],
)
def test_excel_cells(column: str, row: int, value: object, number_format: str) -> None:
    cell = _sheet(FRAME)[f"{column}{row}"]
    assert cell.value == value
    assert cell.number_format == number_format


def test_excel_has_no_unreadable_text() -> None:
    ws = _sheet(FRAME)
    texts = [str(c.value) for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert not [t for t in texts if t.lower() in ("none", "nan", "nat", "inf", "-inf")]


def test_csv_keeps_full_precision_and_blanks() -> None:
    text = to_csv_bytes(FRAME).decode("utf-8-sig")
    lines = text.splitlines()
    assert lines[1].split(",")[:4] == ["Ann", "1234567.891", "0.625", "12.256"]
    assert lines[1].split(",")[4] == ""  # inf: empty
    assert lines[2].split(",")[:5] == ["", "", "", "", "2.5"]
    for word in ("nan", "None", "NaT", "inf"):
        assert word not in text
