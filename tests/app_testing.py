"""What the AppTest suites share: the app's path, a generous timeout and an exception check."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 240  # the first UMAP in a process compiles Numba code


def no_exception(at: AppTest) -> AppTest:
    """``at`` after asserting that its last run raised nothing."""
    assert not at.exception, [e.value for e in at.exception]
    return at
