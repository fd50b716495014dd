"""The dashboard's keyboard shortcuts (:mod:`featlib.app.shortcuts`): one table, keys Streamlit takes, none twice.

Pressing them in Chromium: ``tests/e2e/test_explore_layout.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from streamlit.elements.lib.shortcut_utils import normalize_shortcut

from featlib.app.shortcuts import SHORTCUTS, keys

APP = Path(__file__).resolve().parents[1] / "featlib" / "app"


@pytest.mark.parametrize("action", sorted(SHORTCUTS))
def test_every_shortcut_is_one_streamlit_takes(action):
    assert normalize_shortcut(keys(action))  # raises on a reserved or unknown key


def test_no_two_actions_share_keys_and_every_action_is_used():
    normalized = [normalize_shortcut(keys(action)) for action in SHORTCUTS]
    assert len(set(normalized)) == len(normalized)
    used = set()
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "keys" and node.args:
                if isinstance(node.args[0], ast.Constant):
                    used.add(node.args[0].value)
    assert used == set(SHORTCUTS)
    with pytest.raises(KeyError):
        keys("fly")
