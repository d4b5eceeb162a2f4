"""Pages draw; analytics computes. A page file runs no SQL of its own, and shapes no data.

Why: a query in a page is a figure that neither the command line nor the tests reach, and
the second copy of a definition that already lives in analytics (issue 16, item 6: the
forecast page had its own data-version query). Read from the source with `ast`, so a
docstring or a caption that says "select" is no hit, and an f-string query is.

The same goes for pandas: a merge, group-by, pivot, fill, sort or total in a page is a
figure no test and no command line reaches (the leaderboard was built in pages/reps.py,
the funnel comparison in pages/funnel.py). No page is exempt: the allowlists that held
pages still being thinned are gone with their last entries.
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
    found = sql_in(page.read_text(encoding="utf-8"))
    assert found == [], f"{page.name} runs SQL; move it into analytics: {found}"


# --- pandas data shaping ----------------------------------------------------------------

# Method calls that join, group, reshape, fill, order or total a table. `str.join` is no
# hit (".join" is left out: it is how a page writes a list in words); nor are row filters,
# column picks or formatting.
SHAPING_CALLS = frozenset(
    {"merge", "groupby", "pivot", "pivot_table", "melt", "stack", "unstack", "crosstab",
     "concat", "fillna", "sort_values", "value_counts", "agg", "aggregate", "sum", "mean",
     "median", "cumsum"}
)  # fmt: skip


def shaping_in(source: str) -> list[tuple[int, str]]:
    """(line, call) for each pandas shaping call in the source."""
    return [
        (node.lineno, node.func.attr)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in SHAPING_CALLS
    ]


@pytest.mark.parametrize(
    ("source", "calls"),
    [
        ('rows = rows.merge(roster, on="rep", how="left")', ["merge"]),
        ('rows["rep"] = rows["rep"].fillna("(no owner)")', ["fillna"]),
        ('rows.sort_values("bookings", ascending=False)', ["sort_values"]),
        ('t.groupby("group", sort=False)["deals"].first()', ["groupby"]),
        ('t.pivot(index="group", columns="stage", values="x")', ["pivot"]),
        ('rows.pivot_table(index=["w"], columns="m", values="f")', ["pivot_table"]),
        ('placed["quadrant"].value_counts()', ["value_counts"]),
        ('float(df["amount_reporting"].sum())', ["sum"]),
        ("pd.concat([a, b])", ["concat"]),
        ('", ".join(names)', []),  # words, not data
        ("sum(values)", []),  # a builtin over a list the page was given
        ('table[table["method"] == m]', []),  # picking rows to draw
        ("st.dataframe(wide, hide_index=True)", []),
    ],
)
def test_the_check_finds_shaping(source: str, calls: list[str]) -> None:
    assert [c for _, c in shaping_in(source)] == calls


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_page_shapes_no_data(page: Path) -> None:
    found = [
        f"line {line}: .{call}(...)" for line, call in shaping_in(page.read_text(encoding="utf-8"))
    ]
    assert found == [], (
        f"{page.name} shapes data with pandas; move it into analytics (a function the page "
        f"calls, tested with figures by hand): {found}"
    )
