"""A few control characters in names are data, not "binary data" (issue 17.9).

Three control characters pasted into rep names refused a whole file as binary, with no row
named. A file is binary only when it holds NUL bytes or a high share of control
characters; otherwise the values keep their characters exactly as the CRM wrote them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from analytics.ingest import ImportResult

HEADER = "opportunity_id,opportunity_name,account,owner,stage,amount\n"


def test_three_control_characters_in_names_load_kept_as_written(
    run_import: Callable[..., ImportResult], con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    names = ["Ana\x07 Ruiz", "Ben\x1b[31m Okafor", "Chen\x0b Li"]
    rows = "".join(
        f"C-{i},Deal {i},Acme,{name},Discovery,{1000 + i}\n" for i, name in enumerate(names)
    )
    path = tmp_path / "controls.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    result = run_import(path)
    assert result.status == "loaded", result.message
    stored = con.execute("SELECT owner FROM opportunities ORDER BY opportunity_id").fetchall()
    assert [r[0] for r in stored] == names


@pytest.mark.parametrize(
    "content",
    [
        HEADER.encode() + b"X-1,Deal,Acme\x00Corp,Ana,Discovery,10\n",  # a NUL byte
        bytes(range(1, 32)) * 40,  # nothing but control characters
        HEADER.encode() + b"X-1," + b"\x01\x02\x03\x04" * 100 + b",Acme,Ana,Discovery,10\n",
    ],
    ids=["nul-byte", "all-controls", "high-share"],
)
def test_binary_files_are_still_refused(
    run_import: Callable[..., ImportResult],
    fingerprint: Callable[[], dict],
    tmp_path: Path,
    content: bytes,
) -> None:
    path = tmp_path / "blob.csv"
    path.write_bytes(content)
    before = fingerprint()
    result = run_import(path)
    assert result.status == "refused", result.message
    assert "binary data" in result.message or "not a text file" in result.message
    assert fingerprint() == before
