"""Importing export text written in a test, and running `report ...` as a scheduled job would.

Shared by the report tests (tests/test_report_*.py, tests/test_funnel_to_date.py) so each
holds only its own export and its assertions.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pytest

from analytics import db
from analytics.cli import main
from analytics.ingest import import_file


def import_texts(folder: Path, files: Sequence[tuple[str, str, str | None]], as_of: date) -> Path:
    """A database in `folder` holding `files` (name, text, kind; None: detected, as on an
    upload), each written as a CRM exports it and loaded by the real importer."""
    path = folder / "sales.duckdb"
    con = db.connect(path)
    try:
        for name, text, kind in files:
            file = folder / name
            file.write_text(text, encoding="utf-8")
            kinds = {"kind": kind} if kind else {}
            result = import_file(con, file, as_of=as_of, data_dir=folder / "kept", **kinds)
            assert result.ok, result.message
    finally:
        con.close()
    return path


def report(
    capsys: pytest.CaptureFixture[str], book: Path, *args: str
) -> tuple[list[dict[str, str]], list[str]]:
    """Run `report ...` through the CLI entry point: (CSV rows, stderr lines)."""
    assert main(["report", *args, "--db", str(book)]) == 0
    captured = capsys.readouterr()
    return list(csv.DictReader(io.StringIO(captured.out))), captured.err.splitlines()
