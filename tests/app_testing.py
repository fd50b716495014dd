"""What the AppTest suites share: the app's path, the pages' paths, a generous timeout and an exception check."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 240  # the first UMAP in a process compiles Numba code


def no_exception(at: AppTest) -> AppTest:
    """``at`` after asserting that its last run raised nothing."""
    assert not at.exception, [e.value for e in at.exception]
    return at


PAGES = "featlib/app/app_pages"
"""The page scripts' folder, relative to ``app.py`` (the package's, which ``st.navigation`` registers)."""


def page_path(name: str) -> str:
    """The path ``AppTest.switch_page`` takes for page ``name`` (``"explore"``): its script, relative to ``app.py``."""
    return f"{PAGES}/{name}.py"
