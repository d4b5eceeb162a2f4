"""docs/architecture.md names only paths, modules and tests that exist.

Why: an architecture page is read by a newcomer before the code, and one that names a
module since moved or a test since renamed sends them the wrong way; nobody rereads it
after a refactor. So every name in backticks that looks like a path (has a `/` or a file
ending), a project module (`analytics.x.y`, with an attribute at the end allowed) or a
test (`tests/x.py::test_name`) is checked against the tree. Fenced code blocks are
diagrams, not names, and are left out.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"
PACKAGES = ("analytics", "pages", "benchmarks")
FILE_ENDINGS = (".py", ".md", ".toml", ".sql", ".json", ".csv")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
SPAN = re.compile(r"`([^`\n]+)`")


def named(text: str) -> list[str]:
    """The backticked names in `text` that claim to be a path, module or test."""
    out = []
    for span in SPAN.findall(FENCE.sub("", text)):
        if any(c.isspace() for c in span):
            continue
        dotted = re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", span)
        if (
            "/" in span
            or span.endswith(FILE_ENDINGS)
            or (dotted and span.split(".")[0] in PACKAGES)
        ):
            out.append(span)
    return out


def _defined(path: Path, names: list[str]) -> bool:
    """Whether `names` (a top-level name, then optionally one inside that class) is
    defined in the module at `path`, read with ast (pages import streamlit)."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    for name in names:
        found = None
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                hit = node.name == name
            elif isinstance(node, ast.Assign):
                hit = any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
            elif isinstance(node, ast.AnnAssign):
                hit = isinstance(node.target, ast.Name) and node.target.id == name
            elif isinstance(node, ast.Import | ast.ImportFrom):
                hit = any((a.asname or a.name.split(".")[0]) == name for a in node.names)
            else:
                hit = False
            if hit:
                found = node
                break
        if found is None:
            return False
        body = found.body if isinstance(found, ast.ClassDef) else []
    return True


def _module_file(parts: list[str], root: Path) -> Path | None:
    base = root.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def exists(name: str, root: Path = ROOT) -> bool:
    """Whether a name `named` found is in the tree under `root`."""
    if "::" in name:
        path, _, test = name.partition("::")
        return (root / path).is_file() and _defined(root / path, [test])
    if "/" in name or name.endswith(FILE_ENDINGS):
        if "*" in name:
            return any(root.glob(name))
        return (root / name).is_dir() if name.endswith("/") else (root / name).exists()
    parts = name.split(".")
    for cut in range(len(parts), 0, -1):  # the longest prefix that is a module
        module = _module_file(parts[:cut], root)
        if module is not None:
            rest = parts[cut:]
            return len(rest) <= 2 and _defined(module, rest)
    return False


def missing(text: str, root: Path = ROOT) -> list[str]:
    return [name for name in named(text) if not exists(name, root)]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("see `analytics/sql.py` and `docs/metrics.md`", ["analytics/sql.py", "docs/metrics.md"]),
        ("the `pages/` folder, `formats/*.toml`", ["pages/", "formats/*.toml"]),
        ("`tests/test_x.py::test_y` enforces it", ["tests/test_x.py::test_y"]),
        ("`analytics.scope.Scope` and `analytics.sql.bind`", ["analytics.scope.Scope",
                                                              "analytics.sql.bind"]),
        ("`KPI_COLUMNS`, `register(subparsers)`, `_ui.current_scope()`", []),
        ("`python -m analytics report` is a command", []),
        ("`numpy.ndarray` is not ours", []),
        ("```\nanalytics/gone.py -> pages/\n```\nthen `dashboard.py`", ["dashboard.py"]),
    ],
)  # fmt: skip
def test_what_counts_as_a_name(text: str, names: list[str]) -> None:
    assert named(text) == names


def test_a_moved_module_or_renamed_test_is_caught(tmp_path: Path) -> None:
    (tmp_path / "analytics").mkdir()
    (tmp_path / "analytics" / "__init__.py").write_text("")
    (tmp_path / "analytics" / "sql.py").write_text("def bind():\n    pass\nclass A:\n    x = 1\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("def test_one():\n    pass\n")
    text = (
        "`analytics/sql.py` `analytics.sql.bind` `analytics.sql.A.x` `analytics/` "
        "`tests/test_a.py::test_one` `analytics` "
        "`analytics/gone.py` `analytics.sql.run_sql` `analytics.gone` `analytics.sql.A.y` "
        "`tests/test_a.py::test_two` `analytics/*.toml` `tests/test_a.py/`"
    )
    assert missing(text, tmp_path) == [
        "analytics/gone.py", "analytics.sql.run_sql", "analytics.gone", "analytics.sql.A.y",
        "tests/test_a.py::test_two", "analytics/*.toml", "tests/test_a.py/",
    ]  # fmt: skip


def test_the_architecture_doc_names_only_what_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert len(named(text)) >= 40  # the check reads the page (a broken pattern finds nothing)
    assert missing(text) == [], "docs/architecture.md names what is not in the tree"


def test_the_readme_links_the_architecture_doc() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/architecture.md)" in readme
