"""Widgets and guards shared by the pages."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Callable

import streamlit as st

from featlib import datasets
from featlib.app import resources, state
from featlib.store import ModelRecord, WorkspaceError

if TYPE_CHECKING:
    import keras

MODEL_PAGE = "pages/model.py"
REPRESENTATIONS_PAGE = "pages/representations.py"
EXPLORE_PAGE = "pages/explore.py"
LAYERS_PAGE = "pages/layers.py"
COMPARE_PAGE = "pages/compare.py"
WORKSPACE_PAGE = "pages/workspace.py"
JOBS_PAGE = "pages/jobs.py"
DATASET_PICKER = "dataset_picker"  # the Model page's dataset selectbox


_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$&])")


def plain(text: object) -> str:
    """``text`` escaped so that Streamlit's markdown shows it as written.

    Messages name files, dtypes and config keys (``__lambda__``, ``<U3``,
    ``$FEATLIB_WORKSPACE``) that markdown would otherwise bold, drop or typeset.
    """
    return _MARKDOWN.sub(r"\\\1", str(text))


def require_navigation() -> None:
    """Hands a page file run on its own back to ``app.py``'s ``st.navigation``.

    Every page but Home calls this first. While a freshly started server has
    not yet run ``app.py``, Streamlit still assumes its legacy mode for a
    ``pages/`` folder, so a first request for a deep link (``/explore?…``)
    runs that page file alone, without the app's set-up. This tells
    Streamlit that the app navigates with ``st.navigation`` (which it
    otherwise learns on ``app.py``'s first run) and reruns: ``app.py`` then
    opens the linked page with its query.
    """
    from streamlit import config
    from streamlit.runtime.pages_manager import PagesManager  # no public API for this

    # AppTest resets the flag before each of its runs (streamlit/testing/v1/app_test.py),
    # so it would rerun every run and drop the clicks that started it; its runs are no first requests.
    if PagesManager.uses_pages_directory and not config.get_option("global.appTest"):
        PagesManager.uses_pages_directory = False
        st.rerun()


def current_dataset() -> datasets.Dataset:
    """The carried dataset; explains and stops the page when it cannot load."""
    key = state.get(state.DATASET)
    try:
        return resources.dataset(key)
    except datasets.DatasetUnavailableError as error:
        st.error(plain(error))
        st.button("Use the bundled 8×8 digits instead", type="primary", on_click=use_digits)
    except (datasets.DatasetError, WorkspaceError) as error:
        st.error(plain(f"The dataset cannot be used: {error}"))
        use_digits()
    st.stop()


def select_dataset(key: str) -> None:
    """Makes ``key`` the carried dataset, overriding the Model page's picker."""
    state.put(state.DATASET, key)
    st.session_state.pop(DATASET_PICKER, None)


def use_digits() -> None:
    """Switches to the bundled digits, the offline default."""
    select_dataset("digits")


def require_model() -> tuple[ModelRecord, "keras.Model"]:
    """The carried model; points to the Model page and stops when none is picked."""
    model_id = state.get(state.MODEL)
    if model_id:
        try:
            return resources.record(model_id), resources.model(model_id)
        except WorkspaceError:
            state.put(state.MODEL, None)
    st.info("No model picked yet: train one, upload one or pick a saved one first.")
    st.page_link(MODEL_PAGE, label="Go to the Model page", icon=":material/model_training:")
    st.stop()


def sidebar_summary() -> None:
    """The choices carried between pages, in the sidebar."""
    with st.sidebar:
        st.caption("Current choices")
        lines = [f"**Dataset** {state.get(state.DATASET)}"]
        model_id = state.get(state.MODEL)
        if model_id:
            try:
                lines.append(f"**Model** {resources.record(model_id).name}")
            except WorkspaceError:
                pass
        if state.get(state.LAYER):
            lines.append(f"**Layer** {state.get(state.LAYER)} · {state.get(state.METHOD)} · {state.get(state.SPLIT)}")
        st.markdown("  \n".join(lines))


def progress_bar(label: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A progress bar and its ``update(done, total)`` and ``clear()`` functions."""
    bar = st.progress(0.0, text=label)
    start = time.perf_counter()

    def update(done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        bar.progress(min(fraction, 1.0), text=f"{label} {done:,}/{total:,} · {time.perf_counter() - start:.1f} s")

    return update, bar.empty
