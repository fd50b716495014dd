"""Choices that carry from one page to the next, kept in ``st.session_state``.

Widgets are keyed per page, and Streamlit drops a widget's state when its page
is left; these plain keys outlive that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import streamlit as st

from featlib.app import text

DATASET = "featlib.dataset"  # a built-in name, or "upload:<fingerprint>"
MODEL = "featlib.model_id"
LAYER = "featlib.layer"
METHOD = "featlib.method"
SPLIT = "featlib.split"
REDUCTION = "featlib.reduction"  # a key of featlib.read.reductions.CHOICES, for layers with spatial axes

DEFAULTS = {DATASET: "digits", MODEL: None, LAYER: None, METHOD: "function", SPLIT: "train", REDUCTION: "auto"}


def get(key: str) -> Any:
    """The current value of a carried choice (its default when unset)."""
    return st.session_state.get(key, DEFAULTS[key])


def put(key: str, value: Any) -> None:
    """Sets a carried choice; a new model clears the layer picked for the old one."""
    if key == MODEL and value != get(MODEL):
        st.session_state[LAYER] = None
    st.session_state[key] = value


def carried_widget(
    widget: Callable[..., Any], label: str, options: Sequence, carried: str, key: str, **kwargs: Any
) -> Any:
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


# State made on some data ---------------------------------------------------------------------------------------

_DATA_OF = "featlib.data_of."
"""Prefix of the keys that remember, per page, which data its carried state was made on."""


def _held(value: Any) -> bool:
    """Whether a carried value holds something a user made (not empty, not a default)."""
    if value is None:
        return False
    if hasattr(value, "selected"):  # a Compare page's SelectionState
        return bool(value.selected)
    if isinstance(value, dict):
        return any(_held(v) for k, v in value.items() if k not in ("context", "clicks"))
    try:
        return len(value) > 0
    except TypeError:
        return True


def claim_data(page: str, data: tuple) -> None:
    """Records that ``page``'s carried state is now made on ``data`` (a link just set it): nothing is dropped."""
    st.session_state[_DATA_OF + page] = tuple(data)


def keep_for_data(page: str, data: tuple, keys: Sequence[str], describe: Callable[[tuple], str]) -> list[str]:
    """Drops ``page``'s carried state ``keys`` when the data it was made on is not ``data`` any more.

    Selections, followed points, inspected points and page numbers are
    indices into one dataset's split: carried to other data they would show
    other images, or none (an index past the end). Each page calls this
    before it reads any of them; when ``data`` (the dataset key and split)
    differs from the data of the page's previous run, every key is removed
    and an info note says what was dropped and why.

    Args:
        page: the page's name, e.g. ``"compare"``.
        data: what the state is made on, e.g. ``(dataset_key, split)``.
        keys: the session keys of the page's carried state (widget keys included).
        describe: ``data`` in words, for the note.

    Returns:
        The keys that held something and were dropped (empty when the data did not change).
    """
    marker = _DATA_OF + page
    before = st.session_state.get(marker)
    st.session_state[marker] = tuple(data)
    if before is None or tuple(before) == tuple(data):
        return []
    dropped = [key for key in keys if _held(st.session_state.get(key))]
    for key in keys:
        if key in st.session_state:
            del st.session_state[key]
    if dropped:
        text.info(
            f"The selection and followed points were made on {describe(tuple(before))}; the data is now "
            f"{describe(tuple(data))}, so they were cleared.",
            icon=":material/info:",
        )
    return dropped
