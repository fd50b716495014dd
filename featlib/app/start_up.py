"""What the server prepares when it starts, before anyone asks: the first model and its map (issue 24, item 2).

:func:`lifespan`, the server's start-up hook, begins Keras's import, the job cluster's start and the first look
(:func:`prepare_server`) as the server starts, not at its first visitor's first page.
:func:`prepare_first_look` runs :func:`featlib.first_look.prepare` once per server process, in a thread of its
own, when the job cluster is up: its jobs go to the job manager the pages use, so the first visitor's Explore
page finds the map stored, or follows its job. Off with ``FEATLIB_FIRST_LOOK=0``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import AsyncIterator

import streamlit as st

from featlib import datasets, first_look, settings
from featlib.app import job_watch, resources
from featlib.jobs.runner import ClusterRunner
from featlib.service import Service
from featlib.store import Workspace


class FirstLookState:
    """The start-up's preparation: ``done`` once it ended; then ``result`` (or ``None``) or ``error``."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: first_look.FirstLook | None = None
        self.error: BaseException | None = None


def prepare_server() -> None:
    """Begins, once per server process, what pages would otherwise wait for; returns at once.

    Keras's import (after making the log quiet, :func:`featlib.app.resources.start_warm_up`), the job cluster's
    start (:func:`featlib.app.job_watch.start_engine`) and the first look (:func:`prepare_first_look`), each in a
    thread of its own. The server calls it as it starts (:func:`lifespan`); every page run calls it too, which
    does nothing once begun (and is the only call under ``AppTest``, which runs the script without a server).
    """
    resources.start_warm_up()
    job_watch.start_engine()
    prepare_first_look()


@contextlib.asynccontextmanager
async def lifespan(app: st.App) -> AsyncIterator[None]:
    """The server's start-up hook, ``st.App(script, lifespan=lifespan)`` (``app.py``, :mod:`featlib.app.launch`):
    :func:`prepare_server` as the server starts, before its first request; nothing to undo at its end (the job
    cluster closes at the process's exit)."""
    prepare_server()
    yield


def prepare_first_look() -> FirstLookState | None:
    """Starts the preparation once per server process (``None`` when ``FEATLIB_FIRST_LOOK`` is off); returns at
    once."""
    if not settings.get(first_look.SETTING):
        return None
    return _begin(str(resources.workspace().root))


@st.cache_resource(show_spinner=False)
def _begin(root: str) -> FirstLookState:
    state = FirstLookState()
    starting, workspace = job_watch.starting(), resources.workspace()
    threading.Thread(target=_run, args=(state, starting, workspace), name="featlib-first-look", daemon=True).start()
    return state


def first_look_running() -> FirstLookState | None:
    """The start-up's preparation while it runs on an empty workspace (a page then waits for its model), else
    ``None``."""
    if not settings.get(first_look.SETTING):
        return None
    state = _begin(str(resources.workspace().root))
    return None if state.done.is_set() else state


def _run(state: FirstLookState, starting, workspace: Workspace) -> None:
    try:
        # First, while the cluster starts: the data (and scikit-learn's import, which the pages' own load of it
        # then skips: a later start's first page draws its stored map with it, :mod:`featlib.app.stored_map`).
        dataset = datasets.load_builtin(first_look.DATASET)
        starting.done.wait()
        if starting.engine is None:  # the pages say why the cluster did not start
            return
        manager = job_watch.manager_of(starting.engine, workspace)
        service = Service(workspace, ClusterRunner(manager, creator=first_look.CREATOR), creator=first_look.CREATOR)
        state.result = first_look.prepare(service, dataset, before_loading=resources.keras_wanted)
    except Exception as error:  # a visitor then makes the map as without the preparation
        state.error = error
        logging.getLogger(__name__).warning("featlib start-up: the first look was not prepared: %s", error)
    finally:
        state.done.set()
