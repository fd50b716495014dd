"""Cached resources shared by every session of the server.

Keras models are never hashed by Streamlit (a Keras 3 model hashes differently
on every call, so the cache would silently miss): they are passed as
``_model`` beside the fingerprint or id that keys them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import TYPE_CHECKING, Iterator

import numpy as np
import streamlit as st

from featlib import datasets, embed, pipeline
from featlib.extract import Extractor
from featlib.store import ModelRecord, Workspace, default_root

if TYPE_CHECKING:
    import keras

UPLOAD_PREFIX = "upload:"
HEAVY_WORKERS = int(os.environ.get("FEATLIB_WORKERS", "2"))
"""How many trainings, extractions and UMAP fits the server runs at once."""


def workspace() -> Workspace:
    """The server's workspace (``$FEATLIB_WORKSPACE`` or ``./workspace``)."""
    return _workspace(str(default_root().resolve()))


@st.cache_resource
def _workspace(root: str) -> Workspace:
    return Workspace(root)


@st.cache_resource(show_spinner=False)
def _warm_up() -> threading.Event:
    """Starts, once per server process, the background start-up; returns "libraries ready".

    One thread imports Keras (TensorFlow) and umap-learn (which imports
    TensorFlow too), turns on the Numba cache in the workspace, then fits
    UMAP on synthetic points so that the first user's map finds umap-learn's
    code compiled (or loaded from the cache). Two threads importing
    TensorFlow at once can deadlock in Python's import locks, so pages that
    use Keras wait for the event (:func:`wait_for_libraries`).
    """
    ready = threading.Event()
    numba_cache = workspace().numba_cache

    def work() -> None:
        try:
            import keras  # noqa: F401  (see the docstring: imported here, once)

            embed.enable_numba_cache(numba_cache)
        except Exception:  # the pages then import and compile on demand, as without the warm-up
            logging.getLogger(__name__).exception("featlib start-up: loading libraries failed")
        finally:
            ready.set()
        try:
            embed.warm_up()
        except Exception:
            logging.getLogger(__name__).exception("featlib start-up: the UMAP warm-up failed")

    threading.Thread(target=work, name="featlib-warm-up", daemon=True).start()
    return ready


def start_warm_up() -> None:
    """Starts the background start-up (:func:`_warm_up`) if this process has not yet."""
    _warm_up()


def wait_for_libraries() -> None:
    """Waits, with a spinner, until the start-up thread has imported Keras and umap-learn."""
    ready = _warm_up()
    if not ready.is_set():
        with st.spinner("Starting up: loading TensorFlow and umap-learn…"):
            ready.wait()


@st.cache_resource(max_entries=4, show_spinner="Loading the dataset…")
def builtin_dataset(name: str) -> datasets.Dataset:
    """A built-in dataset, loaded once per server."""
    return datasets.load_builtin(name)


@st.cache_resource(max_entries=8, show_spinner="Loading the uploaded dataset…")
def uploaded_dataset(fingerprint: str) -> datasets.Dataset:
    """A dataset uploaded earlier, from the workspace."""
    return workspace().load_dataset(fingerprint)


def dataset(key: str) -> datasets.Dataset:
    """The dataset named by a carried dataset key (built-in name or upload)."""
    if key.startswith(UPLOAD_PREFIX):
        return uploaded_dataset(key[len(UPLOAD_PREFIX) :])
    return builtin_dataset(key)


def dataset_choices() -> dict[str, str]:
    """Dataset keys and their titles: built-ins, then uploads in the workspace."""
    choices = dict(datasets.BUILTIN_DATASETS)
    for row in workspace().list_datasets():
        choices[UPLOAD_PREFIX + row["fingerprint"]] = f"Upload: {row['summary']}"
    return choices


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def model(model_id: str) -> "keras.Model":
    """A saved model, loaded once per server."""
    return workspace().load_model(model_id)


def record(model_id: str) -> ModelRecord:
    """The workspace record of a model (not cached: it is one SQLite read)."""
    return workspace().get_model(model_id)


@st.cache_resource(max_entries=16, show_spinner="Building the extractor…")
def extractor(model_fp: str, layer: str, method: str, _model: "keras.Model") -> Extractor:
    """A sub-model or backend function per (model fingerprint, layer, method)."""
    return Extractor(_model, layer, method)


@st.cache_resource(max_entries=256)
def lock(name: str) -> threading.Lock:
    """One lock per name, shared by every session: a Keras model, a result key."""
    return threading.Lock()


@st.cache_data(max_entries=32, show_spinner="Predicting labels…")
def predictions(model_id: str, dataset_key: str, split: str) -> np.ndarray:
    """The model's predicted labels for a dataset split."""
    rec = record(model_id)
    with lock(f"model/{model_id}"):  # a Keras model's predict is not thread-safe
        return pipeline.predicted_labels(model(model_id), dataset(dataset_key), split, rec.input_scale)


@st.cache_resource
def _heavy_slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(HEAVY_WORKERS)


@contextlib.contextmanager
def heavy_work(what: str, key: str | None = None) -> Iterator[None]:
    """Runs a heavy job in one of :data:`HEAVY_WORKERS` slots, one job per ``key``.

    Sessions beyond the limit wait, and see that they wait, so that many
    users at once cannot exhaust the server's memory. A second session asking
    for the same result (same ``key``) waits for the first and then finds it
    in the workspace instead of computing it again.
    """
    with contextlib.ExitStack() as stack:
        if key is not None:
            same = lock(key)
            if not same.acquire(blocking=False):
                with st.spinner(f"Another session is computing this {what}; waiting for its result…"):
                    same.acquire()
            stack.callback(same.release)
        slots = _heavy_slots()
        if not slots.acquire(blocking=False):
            with st.spinner(f"Waiting for a free worker: {HEAVY_WORKERS} jobs are running for other sessions…"):
                slots.acquire()
        stack.callback(slots.release)
        yield
