"""Cached resources shared by every session of the server.

The server loads models only to read their layers and shapes; every heavy
operation runs as a job (:mod:`featlib.app.job_watch`). Models are cached by
their workspace id, never hashed by Streamlit (a Keras 3 model hashes
differently on every call, so such a cache would silently miss).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import TYPE_CHECKING

import streamlit as st

from featlib import datasets, quiet
from featlib.lazy import keras
from featlib.read import model_description
from featlib.store import ModelRecord, Workspace, default_root
from featlib.store.saved_datasets import UPLOAD_PREFIX  # the dataset key of an upload: "upload:<fp>"

if TYPE_CHECKING:
    import keras


def workspace() -> Workspace:
    """The server's workspace (``$FEATLIB_WORKSPACE`` or ``./workspace``)."""
    return _workspace(str(default_root().resolve()))


@st.cache_resource(show_spinner=False)  # opened at once; also called at the server's start, outside a page
def _workspace(root: str) -> Workspace:
    return Workspace(root)


KERAS_WAITS_FOR_A_PAGE_S = 10.0
"""Seconds the start-up's import of Keras waits, at most, for the server's first page to be drawn (or for a page or
thread that needs Keras, :func:`keras_wanted`) before it begins.

Keras's import holds the GIL for 4-5 CPU seconds: begun as the server starts, it competed with its first page, which
needs no Keras (Home, with the stored map: :func:`featlib.app.stored_map.preview`). Measured on the idle 2-core
machine, a restarted server's first visitor had Home's map a median 7.0 s after the server answered with the import
begun at once, 4.6 s with it begun after the page (``bench.harness.first_look_later_map``, ``docs/performance.md``)."""

KERAS_AFTER_THE_FIRST_PAGE_S = 2.0
"""Seconds between the first page's script run and the start-up's import of Keras: the browser then still fetches
the page's scripts (plotly.js, 1 MB) from this process, whose threads the import would hold up (a restarted server's
first visitor had Home's map a median 5.7 s after the server answered with the import begun at the run's end, 4.5 s
with it begun 1.5 s later, 5.1 s with 3 s)."""

_keras_wanted = threading.Event()
_first_page_drawn = threading.Event()
_first_page = threading.Lock()


@st.cache_resource(show_spinner=False)
def _warm_up() -> threading.Event:
    """Starts, once per server process, a thread that imports Keras; returns "Keras ready".

    The import begins once the first page has been drawn (:func:`page_drawn`), or something needs Keras
    (:func:`keras_wanted`), or after :data:`KERAS_WAITS_FOR_A_PAGE_S`. The server itself loads models only to read
    their layers (the work runs on the job workers, which warm up umap-learn themselves). Two threads importing
    TensorFlow at once can deadlock in Python's import locks, so whatever uses Keras in the server waits for the
    event (:func:`wait_for_libraries`, :func:`keras_wanted`).
    """
    ready = threading.Event()

    def work() -> None:
        try:
            _keras_wanted.wait(timeout=KERAS_WAITS_FOR_A_PAGE_S)
            keras.load()  # see the docstring: imported here, once
            reset_keras_without_collecting()
        except Exception:  # the pages then import on demand, as without the warm-up
            logging.getLogger(__name__).exception("featlib start-up: importing Keras failed")
        finally:
            ready.set()

    threading.Thread(target=work, name="featlib-warm-up", daemon=True).start()
    return ready


def reset_keras_without_collecting() -> None:
    """Makes ``keras.backend.clear_session()`` in this process reset Keras's state without a garbage collection.

    Streamlit calls ``keras.backend.clear_session()`` after every script run of every session once Keras is
    imported (``_clean_problem_modules`` in ``streamlit/runtime/scriptrunner/script_runner.py``), and Keras 3's
    ``clear_session`` ends with a full ``gc.collect()``: 0.18 CPU s with TensorFlow loaded, holding the GIL, so
    every click of one user stalled every other session of the server for that long, on top of the page's own
    work (a few hundredths of a second for most pages). Here the call still resets Keras's global state and
    TensorFlow's graph and kernel cache; only the collection is left to Python's own collector
    (``free_memory=False`` unless a caller asks for it). featlib itself never calls ``clear_session``; the
    server's models live in :func:`model`'s cache, not in Keras's global state. Idempotent.
    """
    backend = keras.backend
    if getattr(backend.clear_session, "keeps_garbage_to_the_collector", False):
        return
    reset = backend.clear_session

    def clear_session(free_memory: bool = False) -> None:
        reset(free_memory=free_memory)

    clear_session.__doc__ = reset.__doc__
    clear_session.keeps_garbage_to_the_collector = True  # type: ignore[attr-defined]
    backend.clear_session = clear_session


def start_warm_up() -> None:
    """Starts the background start-up (:func:`_warm_up`) if this process has not yet.

    First, before anything imports TensorFlow, the server's log is made quiet (:func:`featlib.quiet.setup`).
    """
    quiet.setup()
    _warm_up()


def libraries_ready() -> bool:
    """True once the start-up thread has imported Keras (or failed to: the pages then import it themselves)."""
    return _warm_up().is_set()


def page_drawn() -> None:
    """Says that a page has been drawn: the start-up's import of Keras, which waited so as not to slow it, begins
    :data:`KERAS_AFTER_THE_FIRST_PAGE_S` later (at once where something needs Keras: :func:`keras_wanted`)."""
    with _first_page:
        if _keras_wanted.is_set() or _first_page_drawn.is_set():
            return
        _first_page_drawn.set()
    timer = threading.Timer(KERAS_AFTER_THE_FIRST_PAGE_S, _keras_wanted.set)
    timer.daemon = True
    timer.start()


def keras_wanted() -> None:
    """Begins the start-up's import of Keras now if it has not begun, and waits until it has ended (no spinner: for
    threads outside a page, such as the start-up's first look)."""
    _keras_wanted.set()
    _warm_up().wait()


def wait_for_libraries() -> None:
    """Begins the start-up's import of Keras now if it has not begun, and waits, with a spinner, until it has
    ended."""
    _keras_wanted.set()
    ready = _warm_up()
    if not ready.is_set():
        with st.spinner("Starting up: loading TensorFlow…"):
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
    """Dataset keys and the labels users tell them apart by: built-ins, then uploads in the workspace, newest first.

    An upload is labelled by its name; two uploads with the same name also
    show a short fingerprint (and their image count), so that two
    ``t10k-images-idx3-ubyte.gz`` uploads of different data never look the same.
    """
    choices = dict(datasets.BUILTIN_DATASETS)
    rows = workspace().list_datasets()
    counts = Counter(row["name"] for row in rows)
    for row in rows:
        label = row["name"]
        if counts[label] > 1:
            label = f"{label} · {row['fingerprint'][:8]}"
        choices[UPLOAD_PREFIX + row["fingerprint"]] = label
    return choices


def dataset_title(name: str, fingerprint: str | None) -> str:
    """``name``, with the short fingerprint the picker shows when another upload has the same name."""
    if fingerprint and sum(row["name"] == name for row in workspace().list_datasets()) > 1:
        return f"{name} · {fingerprint[:8]}"
    return name


def dataset_label(key: str) -> str:
    """The label of a carried dataset key as the picker shows it (the key itself when unknown)."""
    return dataset_choices().get(key, key)


@st.cache_resource(max_entries=8, show_spinner="Loading the model…")
def model(model_id: str) -> keras.Model:
    """A saved model, loaded once per server; its description is kept in its record the first time
    (:func:`featlib.read.model_description.record_description`: a restarted server draws its stored maps with it
    before Keras has loaded)."""
    record = workspace().get_model(model_id)
    loaded = workspace().load_model(record)
    model_description.record_description(workspace(), record, loaded)
    return loaded


def record(model_id: str) -> ModelRecord:
    """The workspace record of a model (not cached: it is one SQLite read)."""
    return workspace().get_model(model_id)
