"""Every benchmark runs end to end at a tiny size, so a schema change breaks the tests.

Why: the generators write the canonical tables directly; when the schema grew, `make bench`
stopped with "table has 23 columns but 19 values were supplied" and nobody noticed until
the figures in a closing note could not be reproduced. Nothing here is timed: a benchmark
exits non-zero when it fails or when its analytics and pandas figures disagree, and that
is what these tests check.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.__main__ import load_benchmarks

ROOT = Path(__file__).resolve().parent.parent
NAMES = sorted(load_benchmarks())


# Options a benchmark needs on top of the tiny size: `load` starts the real app once per N
# and once more for its import phase, so one small N: two sessions at once (the baseline),
# rather than 1, 5 and 20; then one reader, walking the pages over and over while the
# import lands (each reader's walks keep the server busy until then); copies go to tmp_path.
EXTRA: dict[str, list[str]] = {"load": ["--sessions", "2", "--import-sessions", "1"]}


def test_every_benchmark_is_listed_here() -> None:
    assert set(NAMES) == {
        "import",
        "kpis",
        "forecast",
        "funnel",
        "memory",
        "load",
        "pointintime",
    }


@pytest.mark.parametrize("name", NAMES)
def test_benchmark_runs_at_a_tiny_size(name: str, tmp_path: Path) -> None:
    extra = [*EXTRA.get(name, []), *(["--work-dir", str(tmp_path)] if name == "load" else [])]
    tiny = ["--only", name, "--rows", "300", "--repeat", "1", *extra]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", *tiny],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    assert "DISAGREE" not in done.stdout
    # the report was printed, with its ratio against the baseline measured in the same run
    assert re.search(r"\bratio\b|vs baseline", done.stdout)
    if name == "import":  # issue 15.1: the ratio and each side's peak memory, in one run
        assert re.search(r"ratio import/baseline: [\d.]+x", done.stdout)
        assert re.search(
            r"peak memory \(child VmHWM\): baseline \d+ MB, import \d+ MB", done.stdout
        )
