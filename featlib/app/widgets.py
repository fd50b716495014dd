"""Widgets and guards shared by the pages."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from featlib import datasets
from featlib.app import resources, state, text
from featlib.store import ModelRecord, WorkspaceError

if TYPE_CHECKING:
    import keras

APP_PAGES = Path(__file__).resolve().parent / "app_pages"
"""The page scripts, registered with ``st.navigation`` by :mod:`featlib.app.dashboard`; each page's URL path is its
file's name (``/explore`` for ``explore.py``; Home, the default, is ``/``). The paths below are absolute, so
``st.page_link`` and ``st.switch_page`` find them whichever script Streamlit runs (``app.py`` or the package's)."""
HOME_PAGE = str(APP_PAGES / "home.py")
MODEL_PAGE = str(APP_PAGES / "model.py")
REPRESENTATIONS_PAGE = str(APP_PAGES / "representations.py")
EXPLORE_PAGE = str(APP_PAGES / "explore.py")
LAYERS_PAGE = str(APP_PAGES / "layers.py")
COMPARE_PAGE = str(APP_PAGES / "compare.py")
WORKSPACE_PAGE = str(APP_PAGES / "workspace.py")
JOBS_PAGE = str(APP_PAGES / "jobs.py")
DATASET_PICKER = "dataset_picker"  # the Model page's dataset selectbox


def computed(value: object) -> bool:
    """Whether a figure was computed: a finite number (not ``None``, NaN or the metrics' "n/a — needs …")."""
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def score(value: object, digits: int = 3) -> str:
    """A figure as pages print it: ``0.973``; or, when it could not be computed, the library's words for why.

    Metrics on too few points come back as ``None``, NaN or a text such as
    ``"n/a — needs at least 11 points"``; they are shown as that text (``n/a``
    when there is none), never as a formatting error. A figure is
    :class:`~featlib.app.text.Markup` (digits and a point: nothing to escape),
    the words plain text, which the pages' output functions escape.
    """
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return text.md("{:.{}f}", float(value), digits) if math.isfinite(float(value)) else "n/a"
    return "n/a" if value is None else str(value)


def current_dataset() -> datasets.Dataset:
    """The carried dataset; explains and stops the page when it cannot load."""
    key = state.get(state.DATASET)
    try:
        return resources.dataset(key)
    except datasets.DatasetUnavailableError as error:
        text.error(error)
        st.button("Use the bundled 8×8 digits instead", type="primary", on_click=use_digits)
    except (datasets.DatasetError, WorkspaceError) as error:
        text.error(f"The dataset cannot be used: {error}")
        use_digits()
    st.stop()


def dataset_picker() -> str:
    """The Model page's dataset picker, bound to the carried dataset; returns its key."""
    choices = resources.dataset_choices()
    return state.carried_widget(
        st.selectbox, "Dataset", list(choices), state.DATASET, DATASET_PICKER, format_func=choices.get
    )


def select_dataset(key: str) -> None:
    """Makes ``key`` the carried dataset; the picker shows it on its next run."""
    state.put(state.DATASET, key)


def use_digits() -> None:
    """Switches to the bundled digits, the offline default."""
    select_dataset("digits")


def current_split(dataset: datasets.Dataset) -> str:
    """The carried split when ``dataset`` has it; otherwise its first split, carried from now on and said in the page."""
    split = state.get(state.SPLIT)
    if split not in dataset.splits:
        text.caption(f"{dataset.name} has no {split} split; showing its {dataset.splits[0]} split.")
        split = dataset.splits[0]
        state.put(state.SPLIT, split)
    return split


def default_layer_note(model: keras.Model, layer: str) -> None:
    """Says why the default layer is the default, and offers its other reading (after or before its activation)."""
    from featlib import models

    default = models.choose_default_layer(model)
    if not default.alternative:
        if layer == default.name:
            text.caption(f"Default layer {default.reason}")
        return
    names = [each.name for each in model.layers]
    after = names.index(default.alternative) > names.index(default.name) if default.alternative in names else True
    other = "after its activation" if after else "before its activation and normalisation"
    if layer == default.name:
        text.caption(f"Default layer {default.reason}")
        st.button(
            text.escape(f"Read {default.alternative} instead ({other})"),
            key="default-alternative",
            on_click=state.put,
            args=(state.LAYER, default.alternative),
        )
    elif layer == default.alternative:
        back = "before its activation" if after else "after its activation and normalisation"
        st.button(
            text.escape(f"Back to the default, {default.name} ({back})"),
            key="default-back",
            on_click=state.put,
            args=(state.LAYER, default.name),
        )


def activation_switch(model: keras.Model, layer: str, *, beside_default_note: bool = False) -> None:
    """One click to the same hidden layer on the other side of its activation (:func:`featlib.models.other_side_of_activation`).

    With ``beside_default_note`` (a page that also draws :func:`default_layer_note`, which offers
    it for the default layer), the default layer and its alternative are left to that note.
    """
    from featlib import models

    if beside_default_note:
        default = models.choose_default_layer(model)
        if layer in (default.name, default.alternative) and default.alternative:
            return
    other = models.other_side_of_activation(model, layer)
    if other is not None:
        st.button(
            text.escape(f"Read {other[0]} instead ({other[1]})"),
            key="activation-switch",
            on_click=state.put,
            args=(state.LAYER, other[0]),
        )


def require_model() -> tuple[ModelRecord, keras.Model]:
    """The carried model; points to the Model page and stops when none is picked."""
    model_id = state.get(state.MODEL)
    if model_id:
        try:
            return resources.record(model_id), resources.model(model_id)
        except WorkspaceError:
            state.put(state.MODEL, None)
    text.info("No model picked yet: train one, upload one or pick a saved one first.")
    st.page_link(MODEL_PAGE, label="Go to the Model page", icon=":material/model_training:")
    st.stop()


def _layer_title(model_id: str | None, layer: str) -> str:
    """The layer as it is read: with its reduction when it has spatial axes (see :func:`featlib.read.reductions.describe`)."""
    from featlib import models
    from featlib.read import reductions

    try:
        return reductions.for_layer(resources.model(model_id), layer, state.get(state.REDUCTION), strict=False).title
    except (WorkspaceError, models.ModelError, reductions.ReductionError, TypeError, ValueError):
        return layer


def sidebar_summary(slot) -> None:
    """The choices carried between pages, drawn into ``slot`` (an ``st.sidebar.empty()``; redrawn after the page)."""
    lines = [text.md("**Dataset** {}", resources.dataset_label(state.get(state.DATASET)))]
    model_id = state.get(state.MODEL)
    if model_id:
        try:
            lines.append(text.md("**Model** {}", resources.record(model_id).name))
        except WorkspaceError:
            pass
    if state.get(state.LAYER):
        layer = (
            f"{_layer_title(model_id, state.get(state.LAYER))} · {state.get(state.METHOD)} · {state.get(state.SPLIT)}"
        )
        lines.append(text.md("**Layer** {}", layer))
    with slot.container():
        text.caption("Current choices")
        text.markdown(text.Markup("  \n").join(lines))


def keep_for_data(page: str, dataset_key: str, split: str, keys: list[str]) -> None:
    """Drops ``page``'s carried ``keys`` (selections, followed points, image pages) when the dataset or split
    they were made on changed, with a note naming both (see :func:`featlib.app.state.keep_for_data`)."""
    state.keep_for_data(
        page, (dataset_key, split), keys, lambda data: f"{resources.dataset_label(data[0])}, {data[1]} split"
    )


def page_of(total: int, per_page: int, key: str, what: str = "images") -> slice:
    """The part of ``total`` items to show, with "showing N–M of T" and, past one page, a page picker.

    Nothing is cut silently: a grid of at most ``per_page`` items says which of how many it shows, and
    the picker (keyed ``key``) pages through the rest.

    Returns:
        The slice of the items on the chosen page (``slice(0, total)`` when they fit on one).
    """
    pages = max(1, -(-total // per_page))
    if pages == 1:
        text.caption(f"showing all {total:,} {what}")
        return slice(0, total)
    if (st.session_state.get(key) or 1) > pages:  # fewer items than when the page was picked
        st.session_state[key] = 1
    left, right = st.columns([1, 3], vertical_alignment="center")
    page = int(left.number_input(f"Page (of {pages:,})", 1, pages, key=key, help=f"{per_page:,} {what} a page."))
    start = (page - 1) * per_page
    stop = min(total, start + per_page)
    text.caption(f"showing {what} {start + 1:,}–{stop:,} of {total:,}", on=right)
    return slice(start, stop)


def progress_bar(label: str) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """A progress bar and its ``update(done, total)`` and ``clear()`` functions."""
    label = text.escape(label)
    bar = st.progress(0.0, text=label)
    start = time.perf_counter()

    def update(done: int, total: int) -> None:
        fraction = done / total if total else 1.0
        bar.progress(min(fraction, 1.0), text=f"{label} {done:,}/{total:,} · {time.perf_counter() - start:.1f} s")

    return update, bar.empty
