"""Upload limits: size (CSV and .xlsx apart) and rows, refused before anything is loaded.

The limits are settings (key `upload_limits`), so the tests set them low rather than
writing gigabytes; the refusal must name the file and the limit, and leave every table
as it was.
"""

from __future__ import annotations

import json
import random
import string
from datetime import date
from pathlib import Path

import duckdb
import pytest
from openpyxl import Workbook
from streamlit.testing.v1 import AppTest

from analytics import db
from analytics.ingest import import_file, preview_file
from analytics.markup import plain
from analytics.settings import (
    DEFAULT_UPLOAD_LIMITS,
    UPLOAD_LIMITS_KEY,
    UploadLimits,
    load_upload_limits,
    save_upload_limits,
    upload_limits_from_json,
)

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "opportunity_id,opportunity_name,account,owner,stage,amount,currency,created_date,close_date"
)
SF_FOOTER = [
    "",
    '"Grand Totals ({rows} records)"',
    "",
    '"Confidential Information - Do Not Distribute"',
    '"Copyright (c) 2000-2024 salesforce.com, inc. All rights reserved."',
]
MB = 1024 * 1024


def deals_csv(path: Path, rows: int, footer: bool = False, pad: int = 0) -> Path:
    """`rows` deals; `pad` characters of account name make the file as big as needed."""
    lines = [HEADER] + [
        f"D-{i},Deal {i},Account {i}{'x' * pad},Ana Ruiz,Discovery,{i}.00,USD,2024-01-10,2024-06-30"
        for i in range(rows)
    ]
    if footer:
        lines += [line.format(rows=rows) for line in SF_FOOTER]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def deals_xlsx(path: Path, rows: int, noise: int = 0) -> Path:
    """`noise` random characters per row: incompressible, so the file is as big as asked."""
    rng = random.Random(7)
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER.split(",") + ["notes"])
    for i in range(rows):
        notes = "".join(rng.choices(string.ascii_letters + string.digits, k=noise))
        ws.append([f"D-{i}", f"Deal {i}", "Acme", "Ana Ruiz", "Discovery", 100 + i, "USD",
                   "2024-01-10", "2024-06-30", notes])  # fmt: skip
    wb.save(path)
    return path


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (None, DEFAULT_UPLOAD_LIMITS),
        ({"max_rows": 10}, UploadLimits(max_rows=10)),
        ({"max_file_mb": 5, "max_xlsx_mb": 2, "max_rows": 3}, UploadLimits(5, 2, 3)),
        ({"max_rows": 10, "unknown": 1}, UploadLimits(max_rows=10)),
        ({"max_rows": 0}, DEFAULT_UPLOAD_LIMITS),  # unusable: the defaults, not no limit
        ({"max_file_mb": "big"}, DEFAULT_UPLOAD_LIMITS),
        ([1, 2], DEFAULT_UPLOAD_LIMITS),
    ],
)
def test_limits_are_read_from_settings(
    con: duckdb.DuckDBPyConnection, stored: object, expected: UploadLimits
) -> None:
    if stored is not None:
        con.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?)",
            [UPLOAD_LIMITS_KEY, json.dumps(stored)],
        )
    assert load_upload_limits(con) == expected


@pytest.mark.parametrize(
    "bad",
    [UploadLimits(max_rows=0), UploadLimits(max_file_mb=-1), UploadLimits(max_xlsx_mb=True)],
)
def test_unusable_limits_are_not_saved(con: duckdb.DuckDBPyConnection, bad: UploadLimits) -> None:
    with pytest.raises(ValueError, match="whole number above 0"):
        save_upload_limits(con, bad)
    assert load_upload_limits(con) == DEFAULT_UPLOAD_LIMITS


def test_saved_limits_round_trip(con: duckdb.DuckDBPyConnection) -> None:
    limits = UploadLimits(max_file_mb=10, max_xlsx_mb=3, max_rows=1234)
    save_upload_limits(con, limits)
    assert load_upload_limits(con) == limits
    raw = con.execute("SELECT value FROM settings WHERE key = ?", [UPLOAD_LIMITS_KEY]).fetchone()
    assert upload_limits_from_json(raw[0]) == limits


def test_a_csv_over_the_size_limit_is_refused_before_it_is_read(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # binary noise: were it read, it would be refused as "not a text file" instead
    big = tmp_path / "huge export.csv"
    big.write_bytes(bytes(range(256)) * (5 * 1024))  # 1.25 MB
    before = db.table_counts(con)
    result = import_file(con, big, limits=UploadLimits(max_file_mb=1), data_dir=tmp_path)
    assert result.status == "refused"
    text = result.message
    assert "huge export.csv" in text
    assert "1.2 MB, over the 1 MB limit for CSV/TSV files" in text
    assert "upload_limits.max_file_mb" in text
    assert db.table_counts(con) == before
    assert not (tmp_path / "uploads").exists()


def test_size_limit_boundary(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """A file of exactly the limit is accepted; one byte more is not."""
    path = deals_csv(tmp_path / "deals.csv", 3)
    size = path.stat().st_size
    with path.open("a", encoding="utf-8") as fh:  # pad to exactly 1 MB with blank lines
        fh.write("\n" * (MB - size))
    assert path.stat().st_size == MB
    ok = import_file(con, path, limits=UploadLimits(max_file_mb=1), data_dir=tmp_path)
    assert ok.status == "loaded", ok.message
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n")
    over = import_file(con, path, limits=UploadLimits(max_file_mb=1), data_dir=tmp_path)
    assert over.status == "refused" and "over the 1 MB limit" in over.message


def test_xlsx_has_its_own_smaller_limit(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    book = deals_xlsx(tmp_path / "deals.xlsx", 12_000, noise=100)
    assert book.stat().st_size > MB
    before = db.table_counts(con)
    refused = import_file(
        con, book, limits=UploadLimits(max_file_mb=100, max_xlsx_mb=1), data_dir=tmp_path
    )
    assert refused.status == "refused"
    assert "deals.xlsx" in refused.message
    assert "over the 1 MB limit for .xlsx files (setting upload_limits.max_xlsx_mb)" in (
        refused.message
    )
    assert "save it as CSV" in refused.message
    assert db.table_counts(con) == before
    loaded = import_file(
        con, book, limits=UploadLimits(max_file_mb=1, max_xlsx_mb=100), data_dir=tmp_path
    )
    assert loaded.status == "loaded", loaded.message
    assert loaded.rows_loaded == 12_000


@pytest.mark.parametrize(
    ("rows", "max_rows", "footer", "status"),
    [
        (99, 100, False, "loaded"),
        (100, 100, False, "loaded"),
        (100, 100, True, "loaded"),  # the report footer is not rows
        (101, 100, False, "refused"),
        (101, 100, True, "refused"),
        (5_000, 100, False, "refused"),  # far over: read only up to the limit and a margin
    ],
)
def test_row_limit_csv(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    rows: int,
    max_rows: int,
    footer: bool,
    status: str,
) -> None:
    path = deals_csv(tmp_path / "deals.csv", rows, footer=footer)
    before = db.table_counts(con)
    result = import_file(con, path, limits=UploadLimits(max_rows=max_rows), data_dir=tmp_path)
    assert result.status == status, result.message
    if status == "refused":
        assert f"deals.csv: the file has more than {max_rows:,} rows" in result.message
        assert "upload_limits.max_rows" in result.message
        assert db.table_counts(con) == before
    else:
        assert result.rows_loaded == rows


@pytest.mark.parametrize(("rows", "status"), [(50, "loaded"), (51, "refused")])
def test_row_limit_xlsx(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, rows: int, status: str
) -> None:
    book = deals_xlsx(tmp_path / "deals.xlsx", rows)
    result = import_file(con, book, limits=UploadLimits(max_rows=50), data_dir=tmp_path)
    assert result.status == status, result.message
    if status == "refused":
        assert "more than 50 rows" in result.message
        assert con.execute("SELECT count(*) FROM opportunities").fetchone()[0] == 0


def test_xlsx_read_in_batches_keeps_rows_and_line_numbers(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of 7 rows: row numbers in problems still name the spreadsheet row."""
    from analytics.ingest import read

    monkeypatch.setattr(read, "XLSX_BATCH", 7)
    wb = Workbook()
    ws = wb.active
    ws.append(HEADER.split(","))
    for i in range(20):
        amount = "lots" if i == 15 else 100 + i  # spreadsheet row 17
        ws.append([f"D-{i}", f"Deal {i}", "Acme", "Ana Ruiz", "Discovery", amount, "USD",
                   "2024-01-10", "2024-06-30"])  # fmt: skip
    wb.save(tmp_path / "batched.xlsx")
    result = import_file(con, tmp_path / "batched.xlsx", keep_valid=True, data_dir=tmp_path)
    assert result.status == "partial", result.message
    assert result.rows_read == 20 and result.rows_loaded == 19
    assert [(p.line, p.column) for p in result.problems] == [(17, "amount")]


def test_the_engine_uses_the_saved_limits(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    save_upload_limits(con, UploadLimits(max_rows=10))
    result = import_file(con, deals_csv(tmp_path / "d.csv", 11), as_of=date(2024, 3, 1))
    assert result.status == "refused"
    assert "more than 10 rows" in result.message


def test_preview_reports_a_file_over_the_limit(tmp_path: Path) -> None:
    path = deals_csv(tmp_path / "wide.csv", 10, pad=MB // 10)
    preview = preview_file(path, limits=UploadLimits(max_file_mb=1))
    assert preview.problem is not None
    assert preview.problem.startswith("wide.csv: the file is 1.0 MB, over the 1 MB limit")
    assert preview.headers == []


def test_data_page_warns_about_an_upload_over_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "app.duckdb"
    monkeypatch.setenv("SALES_DB", str(path))
    con = db.connect(path)
    try:
        save_upload_limits(con, UploadLimits(max_file_mb=1))
    finally:
        con.close()
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=90).run()
    at.switch_page("pages/data.py").run()
    content = deals_csv(tmp_path / "wide.csv", 10, pad=MB // 8).read_bytes()
    at.file_uploader(key="uploads").set_value(("wide.csv", content, "text/csv")).run()
    assert not at.exception
    warnings = " ".join(plain(w.value) for w in at.warning)
    assert "wide.csv: the file is 1.3 MB, over the 1 MB limit for CSV/TSV files" in warnings
    assert at.button(key="import").disabled  # nothing to import


def test_running_out_of_memory_is_a_plain_refusal(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """DuckDB's memory limit (SALES_MEMORY_LIMIT) too low for the file: said, not a traceback."""
    path = deals_csv(tmp_path / "deals.csv", 20_000)
    before = db.table_counts(con)
    con.execute("SET memory_limit = '4MB'")  # below one CSV read buffer
    try:
        result = import_file(con, path, data_dir=tmp_path)
    finally:
        con.execute("RESET memory_limit")
    assert result.status == "refused"
    assert "deals.csv: the server ran out of memory for this import" in result.message
    assert "SALES_MEMORY_LIMIT" in result.message
    assert db.table_counts(con) == before
