"""Choices that carry from one page to the next, kept in ``st.session_state``.

Widgets are keyed per page, and Streamlit drops a widget's state when its page
is left; these plain keys outlive that.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

DATASET = "featlib.dataset"  # a built-in name, or "upload:<fingerprint>"
MODEL = "featlib.model_id"
LAYER = "featlib.layer"
METHOD = "featlib.method"
SPLIT = "featlib.split"

DEFAULTS = {DATASET: "digits", MODEL: None, LAYER: None, METHOD: "function", SPLIT: "train"}


def get(key: str) -> Any:
    """The current value of a carried choice (its default when unset)."""
    return st.session_state.get(key, DEFAULTS[key])


def put(key: str, value: Any) -> None:
    """Sets a carried choice; a new model clears the layer picked for the old one."""
    if key == MODEL and value != get(MODEL):
        st.session_state[LAYER] = None
    st.session_state[key] = value
