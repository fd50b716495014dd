"""Issue 28, item 10: ``featlib bench`` fails, naming what to install, when a figure cannot be measured, and
writes its results only into the folder it is given (never over the committed ``bench/`` figures).

The bench runs for real in a child process; Playwright is made unimportable there the way Python itself
marks a missing module (``sys.modules[name] = None``), as on a machine without the test requirements.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

_WITHOUT = """
import sys
sys.modules["playwright"] = None  # what importlib reports for a package that is not installed
from featlib.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _bench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FEATLIB_WORKSPACE": str(tmp_path / "ws"), "CUDA_VISIBLE_DEVICES": "-1"}
    return subprocess.run(
        [sys.executable, "-c", _WITHOUT, "bench", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_bench_without_playwright_fails_at_once_with_the_install_hint_and_writes_nothing(tmp_path):
    committed = REPO / "bench" / "scaling.png"
    before = committed.stat().st_mtime_ns if committed.exists() else None
    out = tmp_path / "results"
    done = _bench(tmp_path, "--no-scaling", "--out", str(out))
    assert done.returncode == 2, done.stderr[-2000:]
    assert "error: the bench cannot measure every figure here" in done.stderr
    assert "Playwright: pip install -r requirements-test.txt" in done.stderr
    assert "--no-browser" in done.stderr  # the way to leave those figures out
    assert "Traceback" not in done.stderr
    assert not out.exists()  # refused before training: no folder, no half-written bench.json
    assert (committed.stat().st_mtime_ns if committed.exists() else None) == before


def test_bench_without_the_browser_figures_does_not_need_playwright(tmp_path):
    done = _bench(tmp_path, "--no-scaling", "--no-browser", "--points", "0")
    assert done.returncode == 2, done.stderr[-2000:]  # the next check, the number of points, is the one that fails
    assert "--points must be at least 1; got 0" in done.stderr
    assert "Playwright" not in done.stderr
