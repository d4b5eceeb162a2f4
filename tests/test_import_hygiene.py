"""The analytics core never imports streamlit, so the CLI and scripts work without the UI.

Checked in a fresh interpreter: this test process has streamlit loaded already (the app
tests import it), so sys.modules here would prove nothing.
"""

from __future__ import annotations

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
