"""Each unknown-group row name is written once (analytics/labels.py) and used everywhere.

Why: "(no owner)" was spelled out in four modules; one changed would have made the page
and the CLI name the same row differently. Code elsewhere may mention a label in a comment
or docstring, but never write it as a string of its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from analytics import labels

ROOT = Path(__file__).resolve().parent.parent
LABELS = {v for k, v in vars(labels).items() if k.startswith("NO_")}


def _strings(path: Path) -> set[str]:
    """Every string constant of the module that is not a docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    }


@pytest.mark.parametrize(
    "path",
    sorted(p for p in [*ROOT.glob("analytics/**/*.py"), *ROOT.glob("pages/*.py"),
                       ROOT / "dashboard.py"] if p.name != "labels.py"),
    ids=lambda p: str(p.relative_to(ROOT)),
)  # fmt: skip
def test_no_module_spells_out_a_label(path: Path) -> None:
    found = {s for s in _strings(path) for label in LABELS if label in s}
    assert not found, f"use analytics.labels instead of {sorted(found)}"


def test_the_labels_are_the_ones_the_pages_show() -> None:
    assert {"(no owner)", "(no team)", "(no region)", "(no source)", "(no SDR)"} == LABELS
