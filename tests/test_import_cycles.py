"""No two modules import each other, directly or round a longer circle.

Why: a circle of imports means neither module can be read, tested or moved without the
other, and it works only as long as the imports happen in a lucky order (which is why
such code hides its imports inside functions). The graph is read from the source with
`ast`, imports inside functions included, so a lazy import cannot hide a circle; imports
under `if TYPE_CHECKING:` are left out, since they never run.

Known circles scheduled for later are listed in `KNOWN`, edge by edge, with the item
that removes them. The list may only shrink: a listed edge that no longer
closes a circle fails the second test, so whoever breaks the circle deletes the entry.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("analytics", "pages")
SCRIPTS = ("dashboard.py",)

# (importer, imported): an edge that closes a known circle, with the item of issue 16
# that removes it. Empty now: item 3 took db <-> settings apart and item 1 moved the
# command line out of funnel, pipeline and forecast.cli, which imported analytics.report
# back. Add an entry only with the item that will remove it.
KNOWN: dict[tuple[str, str], str] = {}


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's own packages."""
    out: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    for script in SCRIPTS:
        if (root / script).exists():
            out[Path(script).stem] = root / script
    return out


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside `if TYPE_CHECKING:` blocks."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skip |= {id(n) for n in ast.walk(child)}
    return skip


def imported_modules(name: str, path: Path, files: dict[str, Path]) -> set[str]:
    """The project modules a module imports, at any depth of its code.

    `from package import thing` names `package.thing` when that is a module, else
    `package`; any other dotted name counts as its longest prefix that is a module.
    """

    def resolve(dotted: str) -> str | None:
        while dotted and dotted not in files:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip = _type_checking_only(tree)
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                names.add(full if full in files else module)
    return {m for m in map(resolve, names) if m and m != name}


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    files = module_files(root)
    return {name: imported_modules(name, path, files) for name, path in files.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected parts of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            part = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                part.append(top)
                if top == node:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def describe(graph: dict[str, set[str]], part: list[str]) -> str:
    edges = [f"{a} -> {b}" for a in part for b in sorted(graph[a]) if b in part]
    return "; ".join(edges)


def without(graph: dict[str, set[str]], edges: set[tuple[str, str]]) -> dict[str, set[str]]:
    return {a: {b for b in targets if (a, b) not in edges} for a, targets in graph.items()}


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": set()}, []),
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c"}}, [["a", "b"], ["c", "d"]]),
    ],
)
def test_circles_finds_what_it_should(
    graph: dict[str, set[str]], expected: list[list[str]]
) -> None:
    assert sorted(circles(graph)) == expected


def test_the_graph_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    """A circle closed by an import inside a function, or a relative one, is still seen."""
    pkg = tmp_path / "analytics"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "db.py").write_text("def f():\n    from analytics.settings import x\n")
    (pkg / "settings.py").write_text("from .db import f\nx = 1\n")
    (pkg / "typed.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from analytics.db import f\n"
    )
    graph = import_graph(tmp_path)
    assert graph["analytics.db"] == {"analytics.settings"}
    assert graph["analytics.settings"] == {"analytics.db"}
    assert graph["analytics.typed"] == set()
    assert circles(graph) == [["analytics.db", "analytics.settings"]]


def test_no_module_imports_another_that_imports_it_back() -> None:
    graph = import_graph()
    assert "analytics.db" in graph and "pages.commissions" in graph
    left = circles(without(graph, set(KNOWN)))
    assert left == [], "import circles: " + " | ".join(describe(graph, p) for p in left)


def test_known_circles_are_still_there() -> None:
    """The allowlist only shrinks: an edge that no longer closes a circle is deleted."""
    graph = import_graph()
    on_circle = {(a, b) for part in circles(graph) for a in part for b in graph[a] if b in part}
    stale = {edge: item for edge, item in KNOWN.items() if edge not in on_circle}
    assert stale == {}, f"no longer a circle, remove from KNOWN: {stale}"


def test_a_new_database_starts_with_the_settings_defaults(tmp_path: Path) -> None:
    """db seeds the defaults from data (no settings import), and settings falls back to the
    same data: a fresh file's stage list is the default list, and an edited one is kept."""
    from analytics import db
    from analytics.settings import DEFAULT_STAGES, Stage, load_stages, save_stages

    path = tmp_path / "fresh.duckdb"
    con = db.connect(path)
    try:
        stored = con.execute("SELECT key FROM settings ORDER BY key").fetchall()
        assert stored == [(key,) for key in sorted(db.default_settings())]
        assert load_stages(con) == DEFAULT_STAGES
        assert [s.name for s in DEFAULT_STAGES][0] == "Discovery"
        mine = (
            Stage("Call", 50),
            Stage("Won", 100, is_closed=True, is_won=True),
            Stage("Lost", 0, is_closed=True),
        )
        save_stages(con, mine)
    finally:
        con.close()
    con = db.connect(path)  # opening again seeds only what is missing
    try:
        assert load_stages(con) == mine
    finally:
        con.close()
