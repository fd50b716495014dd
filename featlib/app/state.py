"""Choices that carry from one page to the next, kept in ``st.session_state``.

Widgets are keyed per page, and Streamlit drops a widget's state when its page
is left; these plain keys outlive that.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import streamlit as st

DATASET = "featlib.dataset"  # a built-in name, or "upload:<fingerprint>"
MODEL = "featlib.model_id"
LAYER = "featlib.layer"
METHOD = "featlib.method"
SPLIT = "featlib.split"
REDUCTION = "featlib.reduction"  # a key of featlib.reductions.CHOICES, for layers with spatial axes

DEFAULTS = {DATASET: "digits", MODEL: None, LAYER: None, METHOD: "function", SPLIT: "train", REDUCTION: "auto"}


def get(key: str) -> Any:
    """The current value of a carried choice (its default when unset)."""
    return st.session_state.get(key, DEFAULTS[key])


def put(key: str, value: Any) -> None:
    """Sets a carried choice; a new model clears the layer picked for the old one."""
    if key == MODEL and value != get(MODEL):
        st.session_state[LAYER] = None
    st.session_state[key] = value


def carried_widget(widget: Callable[..., Any], label: str, options: Sequence, carried: str, key: str, **kwargs: Any) -> Any:
    """Draws ``widget`` (a selectbox or radio) bound to the carried choice ``carried``; returns the choice.

    The widget shows the carried value on every rerun and only the user's own
    change (its ``on_change``) replaces it: this is the pattern of Streamlit's
    "Widget behavior" docs (set the keyed widget's state before drawing it,
    never pass ``index`` beside a key). An ``index`` computed from the carried
    value changes the widget's identity when the options change (an upload
    adds one), and Streamlit then resets it to its first option: the upload
    flow lost the user's dataset that way. When the carried value is not among
    ``options`` (deleted meanwhile), the first option is used and carried.
    """
    options = list(options)
    value = get(carried)
    if value not in options:
        value = options[0]
        st.session_state[carried] = value
    if st.session_state.get(key) != value:
        st.session_state[key] = value

    def keep() -> None:
        put(carried, st.session_state[key])

    return widget(label, options, key=key, on_change=keep, **kwargs)
