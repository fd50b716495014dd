"""What the server prepares when it starts, before anyone asks: the first model and its map (issue 24, item 2).

:func:`prepare_first_look` runs :func:`featlib.first_look.prepare` once per server process, in a thread of its
own, when the job cluster is up: its jobs go to the job manager the pages use, so the first visitor's Explore
page finds the map stored, or follows its job. Off with ``FEATLIB_FIRST_LOOK=0``.
"""

from __future__ import annotations

import logging
import threading

import streamlit as st

from featlib import datasets, first_look, settings
from featlib.app import job_watch, resources
from featlib.jobs.runner import ClusterRunner
from featlib.service import Service
from featlib.store import Workspace

FIRST_LOOK_ENV = "FEATLIB_FIRST_LOOK"
DATASET = "digits"
"""The data of the first model: the offline default dataset, a new session's default."""


class FirstLookState:
    """The start-up's preparation: ``done`` once it ended; then ``result`` (or ``None``) or ``error``."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.result: first_look.FirstLook | None = None
        self.error: BaseException | None = None


def prepare_first_look() -> FirstLookState | None:
    """Starts the preparation once per server process (``None`` when ``FEATLIB_FIRST_LOOK`` is off); returns at
    once."""
    if not settings.get(FIRST_LOOK_ENV):
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
    if not settings.get(FIRST_LOOK_ENV):
        return None
    state = _begin(str(resources.workspace().root))
    return None if state.done.is_set() else state


def _run(state: FirstLookState, starting, workspace: Workspace) -> None:
    try:
        starting.done.wait()
        if starting.engine is None:  # the pages say why the cluster did not start
            return
        manager = job_watch.manager_of(starting.engine, workspace)
        service = Service(workspace, ClusterRunner(manager, creator=first_look.CREATOR), creator=first_look.CREATOR)
        state.result = first_look.prepare(service, datasets.load_builtin(DATASET))
    except Exception as error:  # a visitor then makes the map as without the preparation
        state.error = error
        logging.getLogger(__name__).warning("featlib start-up: the first look was not prepared: %s", error)
    finally:
        state.done.set()
