"""An .xlsx bomb is refused before it is read, naming the limit it hit (issue 17.7).

A 623 KB workbook holding 8 million shared strings took 134 s and 1.58 GB to import one
row, and under a memory cap it was called "damaged or not Excel". The bombs here are built
by the test: a real workbook (openpyxl) with a sharedStrings part of the test's choosing,
compressed into a few hundred KB. Each limit is hit on its own (the others raised), and the
full-size bomb of the issue is refused under the default limits in well under a second.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from openpyxl import Workbook

from analytics.ingest import ImportResult, preview_file
from analytics.settings import (
    DEFAULT_UPLOAD_LIMITS,
    UploadLimits,
    upload_limits_from_json,
    validate_upload_limits,
)

SST = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
ONE = b"<si><t>x</t></si>"
HIGH = 10**9  # a limit that is never the one hit


def workbook_bytes(rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def bomb(path: Path, strings: int, *, declared: int | None = None, pad: bytes = b"") -> Path:
    """A real one-row workbook plus a sharedStrings part of `strings` entries whose header
    says `declared` of them (an attacker's header may lie); `pad` is extra unpacked bytes."""
    good = workbook_bytes([["opportunity_id", "stage"], ["B-1", "Discovery"]])
    count = strings if declared is None else declared
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        + SST
        + b' count="%d" uniqueCount="%d">' % (count, count)
        + ONE * strings
        + pad
        + b"</sst>"
    )
    with (
        zipfile.ZipFile(io.BytesIO(good)) as src,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for item in src.infolist():
            out.writestr(item, src.read(item.filename))
        out.writestr("xl/sharedStrings.xml", body, compresslevel=9)
    return path


@pytest.mark.parametrize(
    ("strings", "declared", "limits", "setting"),
    [
        # the count in the header is over the limit: believed, nothing else read
        (5_000, None, UploadLimits(max_xlsx_ratio=HIGH, max_xlsx_shared_strings=1_000),
         "max_xlsx_shared_strings"),
        # the header lies (says 1): the <si> elements are counted in a stream
        (5_000, 1, UploadLimits(max_xlsx_ratio=HIGH, max_xlsx_shared_strings=1_000),
         "max_xlsx_shared_strings"),
        # 3 million strings: 51 MB unpacked from a few hundred KB
        (3_000_000, None, UploadLimits(max_xlsx_shared_strings=HIGH), "max_xlsx_ratio"),
        (3_000_000, None,
         UploadLimits(max_xlsx_uncompressed_mb=10, max_xlsx_ratio=HIGH,
                      max_xlsx_shared_strings=HIGH),
         "max_xlsx_uncompressed_mb"),
    ],
    ids=["declared-count", "lying-count", "ratio", "unpacked-size"],
)  # fmt: skip
def test_each_limit_refuses_and_says_which(
    run_import: Callable[..., ImportResult],
    fingerprint: Callable[[], dict],
    tmp_path: Path,
    strings: int,
    declared: int | None,
    limits: UploadLimits,
    setting: str,
) -> None:
    path = bomb(tmp_path / "bomb.xlsx", strings, declared=declared)
    before = fingerprint()
    result = run_import(path, limits=limits)
    assert result.status == "refused", result.message
    (problem,) = result.problems
    assert f"upload_limits.{setting}" in problem.problem
    assert "damaged" not in problem.problem
    assert problem.file == "bomb.xlsx"
    assert fingerprint() == before
    # the Data page's preview says the same before Import is pressed
    assert f"upload_limits.{setting}" in (preview_file(path, limits=limits).problem or "")


@pytest.fixture
def workbook_never_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if openpyxl opens the workbook: a bomb must be refused before it is
    read (the slow, memory-hungry part), which is checked here instead of by a timing."""
    import openpyxl

    def refuse(*args: Any, **kwargs: Any) -> None:
        pytest.fail("the workbook was opened: the bomb was not refused before reading")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)


@pytest.mark.usefixtures("workbook_never_opened")
def test_the_issues_bomb_is_refused_before_reading_under_the_default_limits(
    run_import: Callable[..., ImportResult], fingerprint: Callable[[], dict], tmp_path: Path
) -> None:
    """8 million shared strings, as in the issue: the file is a few hundred KB."""
    path = bomb(tmp_path / "eight-million.xlsx", 8_000_000)
    assert path.stat().st_size < 1024 * 1024
    before = fingerprint()
    result = run_import(path)
    assert result.status == "refused", result.message
    assert "upload_limits.max_xlsx_" in result.problems[0].problem
    assert fingerprint() == before


@pytest.mark.usefixtures("workbook_never_opened")
def test_a_bomb_whose_header_lies_is_counted_not_believed(
    run_import: Callable[..., ImportResult], tmp_path: Path
) -> None:
    """Only the shared-strings limit is low: the stream count stops at the limit."""
    path = bomb(tmp_path / "liar.xlsx", 2_000_000, declared=3)
    limits = UploadLimits(max_xlsx_ratio=HIGH, max_xlsx_shared_strings=100_000)
    result = run_import(path, limits=limits)
    assert result.status == "refused", result.message
    assert "more than 100,000 distinct texts" in result.problems[0].problem


def test_a_workbook_under_every_limit_loads(
    run_import: Callable[..., ImportResult], con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    """A genuine workbook with shared strings passes the same checks and loads."""
    path = bomb(tmp_path / "honest.xlsx", 50)
    result = run_import(path)
    assert result.status == "loaded", result.message
    rows = [["opportunity_id", "stage", "account"]] + [
        [f"W-{i}", "Discovery", f"Account {i}"] for i in range(2_000)
    ]
    (tmp_path / "normal.xlsx").write_bytes(workbook_bytes(rows))
    result = run_import(tmp_path / "normal.xlsx", limits=UploadLimits(max_xlsx_shared_strings=10))
    # openpyxl writes inline strings (no sharedStrings part): nothing to count
    assert result.status == "loaded", result.message
    assert con.execute("SELECT count(*) FROM opportunities").fetchone()[0] == 2_001


def test_a_damaged_zip_is_called_damaged(
    run_import: Callable[..., ImportResult], tmp_path: Path
) -> None:
    path = tmp_path / "cut.xlsx"
    path.write_bytes(workbook_bytes([["opportunity_id"], ["X"]])[:300])
    result = run_import(path)
    assert result.status == "refused"
    assert "damaged or not Excel" in result.problems[0].problem


def test_the_new_limits_are_settings_with_defaults() -> None:
    assert DEFAULT_UPLOAD_LIMITS.max_xlsx_uncompressed_mb == 2048
    assert DEFAULT_UPLOAD_LIMITS.max_xlsx_ratio == 100
    assert DEFAULT_UPLOAD_LIMITS.max_xlsx_shared_strings == 2_000_000
    stored = upload_limits_from_json(json.dumps({"max_xlsx_shared_strings": 7}))
    assert stored == UploadLimits(max_xlsx_shared_strings=7)
    assert validate_upload_limits(UploadLimits(max_xlsx_ratio=0)) == [
        "max_xlsx_ratio must be a whole number above 0, not 0"
    ]
