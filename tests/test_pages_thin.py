"""Pages draw; analytics computes. A page file runs no SQL of its own.

Why: a query in a page is a figure that neither the command line nor the tests reach, and
the second copy of a definition that already lives in analytics (issue 16, item 6: the
forecast page had its own data-version query). Read from the source with `ast`, so a
docstring or a caption that says "select" is no hit, and an f-string query is.

Files other helpers are still thinning are listed in `NOT_YET`, each with what is left;
the list may only shrink (a listed page without SQL fails the second test).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "pages").glob("*.py")) + [ROOT / "dashboard.py"]

# Calls that run SQL on a DuckDB connection or cursor, and SQL text in string literals.
SQL_CALLS = frozenset({"execute", "executemany", "sql", "query_df", "fetchone", "fetchall"})
# SQL is written in capitals here (docs: readable CTE style), which keeps prose such as
# "Select a rep from the list" out.
SQL_TEXT = re.compile(
    r"\bSELECT\b[\s\S]+\bFROM\b|\bINSERT\s+INTO\b|\bDELETE\s+FROM\b|\bUPDATE\s+\w+\s+SET\b"
    r"|\bCREATE\s+(OR\s+REPLACE\s+)?(TABLE|VIEW)\b|\bWITH\s+\w+\s+AS\s*\("
)

# page -> what other helpers (issue 16, item 6) are moving out of it now.
NOT_YET: dict[str, str] = {}


def sql_in(source: str) -> list[str]:
    """Each SQL call or SQL string in the source, as 'line N: what'."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found: list[str] = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SQL_CALLS
        ):
            found.append(f"line {node.lineno}: .{node.func.attr}(...)")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and SQL_TEXT.search(node.value)
        ):
            found.append(f"line {node.lineno}: SQL text {node.value.strip()[:40]!r}")
    return found


@pytest.mark.parametrize(
    ("source", "hits"),
    [
        ('cur.execute("SELECT count(*) FROM leads")', 2),
        ('con.sql(f"SELECT * FROM {table}")', 2),
        ('q = f"SELECT count(*) FROM {name}"', 1),
        ("rows = cur.execute(q).fetchall()", 2),
        ('st.caption("Select a rep from the list")', 0),
        ('st.selectbox("Rep", reps)', 0),
        ('"""Docstring: SELECT x FROM y is what analytics runs."""', 0),
        ('q = """\nWITH won AS (\n  SELECT 1\n)\nSELECT * FROM won"""', 1),
        ('df.query("x > 1")', 0),
    ],
)
def test_the_check_finds_sql(source: str, hits: int) -> None:
    assert len(sql_in(source)) == hits, sql_in(source)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_runs_no_sql(page: Path) -> None:
    if page.name in NOT_YET:
        pytest.skip(f"owned by another helper for now: {NOT_YET[page.name]}")
    found = sql_in(page.read_text(encoding="utf-8"))
    assert found == [], f"{page.name} runs SQL; move it into analytics: {found}"


def test_pages_not_yet_thin_still_are() -> None:
    """The list only shrinks: a listed page without SQL is taken off it."""
    thin = [name for name in NOT_YET if not sql_in((ROOT / "pages" / name).read_text("utf-8"))]
    assert thin == [], f"no SQL left in {thin}: remove them from NOT_YET"
