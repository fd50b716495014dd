"""Widgets and guards shared by the pages."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from featlib import datasets, first_look, models
from featlib.app import resources, start_up, state, text
from featlib.models import diagnosis
from featlib.read import reductions
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
FIRST_LOOK_WAIT_S = 120
"""How long a page with no model waits for the server's first model (:mod:`featlib.app.start_up`), in seconds."""
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


OFFERED = "featlib.offered_latest"
"""Session key: the latest model was offered (once per session, see :func:`offer_latest`)."""


def latest_choice() -> tuple[str, str] | None:
    """``(model id, dataset key)`` of the newest model of the workspace and the data it was measured on, or None.

    The dataset is the upload whose fingerprint the model's record names, else the built-in of its name;
    None when the workspace has no model or its data is neither (a deleted upload).
    """
    records = resources.workspace().list_models()
    if not records:
        return None
    record = records[0]
    fingerprint = record.meta.get("dataset_fingerprint")
    uploads = {row["fingerprint"] for row in resources.workspace().list_datasets()}
    if fingerprint in uploads:
        return record.id, resources.UPLOAD_PREFIX + fingerprint
    if record.dataset in datasets.BUILTIN_DATASETS:
        return record.id, record.dataset
    return None


def offer_latest() -> None:
    """A new session with nothing picked starts on the workspace's latest model and its dataset, saying so.

    Once per session, and only when neither a dataset nor a model was picked (by the user or a link).
    """
    if st.session_state.get(OFFERED):
        return
    if st.session_state.get(state.MODEL) or state.DATASET in st.session_state:
        st.session_state[OFFERED] = True
        return
    try:
        latest = latest_choice()
    except WorkspaceError:
        return
    if latest is None:  # offered at a later run, once there is a model (the server's first one, say)
        return
    st.session_state[OFFERED] = True
    model_id, dataset_key = latest
    state.put(state.DATASET, dataset_key)
    state.put(state.MODEL, model_id)
    record = resources.record(model_id)
    made_at_start = record.meta.get("first_look") and record.creator == first_look.CREATOR
    text.info(
        (
            f"Picked {record.name}, the seed MLP (128-64) the server trained on "
            f"{resources.dataset_label(dataset_key)} when it started, so that a map is ready; train, upload or "
            "pick another on the Model page."
        )
        if made_at_start
        else (
            f"Picked the workspace's latest model, {record.name}, and its dataset, "
            f"{resources.dataset_label(dataset_key)}; pick others on the Model page."
        ),
        icon=":material/auto_awesome:",
    )


def current_dataset() -> datasets.Dataset:
    """The carried dataset; explains and stops the page when it cannot load."""
    offer_latest()
    key = state.get(state.DATASET)
    failed = st.session_state.get(UNAVAILABLE)
    if failed and failed[0] == key:  # it failed in this session: said again, not downloaded again on every rerun
        text.error(failed[1])
        left, right = st.columns(2)
        left.button("Use the bundled 8×8 digits instead", type="primary", on_click=use_digits)
        right.button("Try the download again", on_click=st.session_state.pop, args=(UNAVAILABLE, None))
        st.stop()
    try:
        return resources.dataset(key)
    except datasets.DatasetUnavailableError as error:
        st.session_state[UNAVAILABLE] = (key, str(error))
        st.rerun()  # the sidebar, drawn before the page, then says that it is not loaded
    except (datasets.DatasetError, WorkspaceError) as error:
        text.error(f"The dataset cannot be used: {error}")
        use_digits()
    st.stop()


def dataset_picker() -> str:
    """The Model page's dataset picker, bound to the carried dataset; returns its key."""
    offer_latest()
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


def split_of(dataset: datasets.Dataset) -> str:
    """The carried split when ``dataset`` has it; otherwise its first split (nothing said, nothing carried)."""
    split = state.get(state.SPLIT)
    return split if split in dataset.splits else dataset.splits[0]


def current_split(dataset: datasets.Dataset) -> str:
    """The carried split when ``dataset`` has it; otherwise its first split, carried from now on and said in the page."""
    split = split_of(dataset)
    if split != state.get(state.SPLIT):
        text.caption(f"{dataset.name} has no {state.get(state.SPLIT)} split; showing its {split} split.")
        state.put(state.SPLIT, split)
    return split


def default_layer_note(model: keras.Model, layer: str) -> None:
    """Says why the default layer is the default, and offers its other reading (after or before its activation)."""
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
    offer_latest()
    model_id = state.get(state.MODEL)
    if model_id:
        try:
            return resources.record(model_id), resources.model(model_id)
        except WorkspaceError:
            state.put(state.MODEL, None)
    preparing = start_up.first_look_running()
    if preparing is not None:  # an empty workspace: the server is training its first model, then mapping it
        with st.spinner(
            f"The server is training its first model, {first_look.FIRST_MODEL} (the seed MLP on the digits), "
            "to map it; this page shows it when it is ready…"
        ):
            preparing.done.wait(FIRST_LOOK_WAIT_S)
        if preparing.done.is_set() and resources.workspace().list_models():
            st.rerun()
    text.info("No model picked yet: train one, upload one or pick a saved one first.")
    st.page_link(MODEL_PAGE, label="Go to the Model page", icon=":material/model_training:")
    st.stop()


def fit_findings(record: ModelRecord, dataset: datasets.Dataset) -> list[str]:
    """Why ``record``'s model was not made for ``dataset``, one sentence each; empty when it fits.

    The image size and the classes (:func:`featlib.models.diagnosis.misfit`, read from the model),
    and an accuracy near chance when it was measured on this very dataset (the Model page's hints).
    """
    try:
        found = diagnosis.misfit(resources.model(record.id), dataset, record.meta.get("output"))
    except (WorkspaceError, ValueError, OSError) as error:
        return [f"The model cannot be read to check that it fits the data: {error}"]
    measured_here = record.meta.get("dataset_fingerprint") == dataset.fingerprint
    if (
        measured_here
        and record.test_accuracy is not None
        and diagnosis.near_chance(record.test_accuracy, dataset.num_classes)
    ):
        found.append(
            f"Accuracy: {record.test_accuracy:.3f} on {record.where_measured(dataset.name)}, near chance "
            f"({1 / dataset.num_classes:.2f} for {dataset.num_classes} classes)."
        )
    return found


def fit_warning(dataset: datasets.Dataset, model_ids: list[str] | None = None) -> bool:
    """Says, before a page's figures, when a model they show was not made for ``dataset``; True when it said so.

    ``model_ids``: the models the page draws (Compare's panels); None for the carried model. Each one
    that does not fit (:func:`fit_findings`: another image size, other classes, near-chance accuracy)
    gets one warning naming the data the figures are computed on. When the models drawn are not the
    carried one (panels picked for another model), an info says so.
    """
    carried = state.get(state.MODEL)
    ids = [carried] if model_ids is None else list(dict.fromkeys(model_ids))
    warned = False
    names, drawn = [], []
    for model_id in ids:
        if not model_id:
            continue
        try:
            record = resources.record(model_id)
        except WorkspaceError:
            continue
        names.append(record.name)
        drawn.append(record.id)
        findings = fit_findings(record, dataset)
        if findings:
            warned = True
            text.warning(
                text.md(
                    "**{} was not made for {}**: the figures below are computed on this data, but read them as a "
                    "model looking at data it was not trained for, not as its results.\n",
                    record.name,
                    resources.dataset_title(dataset.name, dataset.fingerprint),
                )
                + text.Markup("\n").join(text.md("- {}", finding) for finding in findings),
                icon=":material/warning:",
            )
    if model_ids is not None and carried and drawn and carried not in drawn:
        try:
            current = resources.record(carried).name
        except WorkspaceError:
            current = None
        if current:
            text.info(
                f"These figures were picked for {', '.join(names)}, not for the model picked on the Model page "
                f"({current}); they are computed on {dataset.name}. Pick new panels to compare {current}.",
                icon=":material/history:",
            )
    return warned


def _layer_title(model_id: str | None, layer: str) -> str:
    """The layer as it is read: with its reduction when it has spatial axes (see :func:`featlib.read.reductions.describe`)."""
    try:
        return reductions.for_layer(resources.model(model_id), layer, state.get(state.REDUCTION), strict=False).title
    except (WorkspaceError, models.ModelError, reductions.ReductionError, TypeError, ValueError):
        return layer


SIDEBAR_CHARS = 48
"""The most characters of a name the sidebar shows on its line; a longer one is cut in its middle, whole in the
tooltip."""
UNAVAILABLE = "featlib.dataset_unavailable"
"""Session key: the carried dataset that could not be loaded (a download that failed), so the sidebar says so."""


def shorten(name: str, limit: int = SIDEBAR_CHARS) -> str:
    """``name`` cut in its middle with "…" to at most ``limit`` characters, keeping its end."""
    if len(name) <= limit:
        return name
    head = (limit - 1) * 3 // 5
    return name[:head] + "…" + name[len(name) - (limit - 1 - head) :]


def sidebar_summary(slot) -> None:
    """The choices carried between pages, drawn into ``slot`` (an ``st.sidebar.empty()``; redrawn after the page).

    Long names are cut to :data:`SIDEBAR_CHARS` characters (the whole names are in the tooltip); a dataset that
    could not be loaded is said to be so, not named as current.
    """
    key = state.get(state.DATASET)
    failed = st.session_state.get(UNAVAILABLE)
    unloaded = " (not loaded: see the page)" if failed and failed[0] == key else ""
    named = [("Dataset", resources.dataset_label(key))]
    model_id = state.get(state.MODEL)
    if model_id:
        try:
            named.append(("Model", resources.record(model_id).name))
        except WorkspaceError:
            pass
    if state.get(state.LAYER):
        layer = (
            f"{_layer_title(model_id, state.get(state.LAYER))} · {state.get(state.METHOD)} · {state.get(state.SPLIT)}"
        )
        named.append(("Layer", layer))
    lines = [text.md("**{}** {}", what, shorten(name)) for what, name in named]
    lines[0] += text.md("{}", unloaded)
    cut = any(len(name) > SIDEBAR_CHARS for _, name in named)
    with slot.container():
        text.caption("Current choices")
        text.markdown(
            text.Markup("  \n").join(lines),
            help="\n\n".join(f"{what}: {name}" for what, name in named) if cut else None,
        )


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
