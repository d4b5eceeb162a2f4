"""The analytics core never imports streamlit, so the CLI and scripts work without the UI.

Checked in a fresh interpreter: this test process has streamlit loaded already (the app
tests import it), so sys.modules here would prove nothing.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import importlib, json, pkgutil, sys

import analytics

report = {"modules": [], "culprit": None, "errors": {}}
names = ["analytics"] + sorted(
    m.name for m in pkgutil.walk_packages(analytics.__path__, prefix="analytics.")
)
for name in names:
    try:
        importlib.import_module(name)
    except Exception as exc:  # reported, so a broken module cannot hide a bad import
        report["errors"][name] = f"{type(exc).__name__}: {exc}"
        continue
    report["modules"].append(name)
    if report["culprit"] is None and any(
        m == "streamlit" or m.startswith("streamlit.") for m in sys.modules
    ):
        report["culprit"] = name
print(json.dumps(report))
"""


def test_analytics_never_imports_streamlit() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["errors"] == {}, f"analytics modules failed to import: {report['errors']}"
    assert "analytics.scope" in report["modules"]
    assert "analytics.metrics.headline" in report["modules"]
    assert report["culprit"] is None, f"{report['culprit']} pulls streamlit into analytics"


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at any depth (function-level imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_only_the_cli_package_knows_the_command_line() -> None:
    """Domain modules return tables; argparse, and the CLI package itself, are imported only
    under analytics/cli/ (and by `python -m analytics`'s entry point), so no domain module
    can import the command line back and close a circle."""
    analytics_dir = PROJECT_ROOT / "analytics"
    cli_dir = analytics_dir / "cli"
    offenders = {}
    for path in sorted(analytics_dir.rglob("*.py")):
        if cli_dir in path.parents or path == analytics_dir / "__main__.py":
            continue
        bad = sorted(
            m for m in _imported_modules(path)
            if m == "argparse" or m == "analytics.cli" or m.startswith("analytics.cli.")
        )  # fmt: skip
        if bad:
            offenders[str(path.relative_to(PROJECT_ROOT))] = bad
    assert offenders == {}
    assert (cli_dir / "report.py").is_file() and (cli_dir / "imports.py").is_file()
