"""Pages submit heavy work as jobs and watch it: live progress, place in the queue, a cancel button.

The work runs on Dask workers (:mod:`featlib.jobs`); a page only waits and
draws. A reload, a closed tab or another page stops the waiting, never the
job: its result is stored by the server's :class:`~featlib.jobs.JobManager`,
and a session that asks for the same key later attaches to the running job
or finds the result.
"""

from __future__ import annotations

import atexit
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import streamlit as st

from featlib import jobs, settings
from featlib.app import identity, resources, shortcuts, text
from featlib.errors import RoleError
from featlib.jobs.manager import describe
from featlib.store import ModelRecord, Workspace

POLL_S = 0.3
"""How often a waiting page redraws the job's progress."""


WARM_UP_ENV = "FEATLIB_WARM_UP"


FIRST_JOB_S = 20
"""About how long a fresh worker takes before its first job runs (importing TensorFlow and Keras), in seconds."""
CLUSTER_START_S = 10
"""About how long the job cluster takes to start, once per server."""
_ready_workers: set[str] = set()
"""Workers this server has seen run a job: they have TensorFlow loaded already."""


class _Start:
    """The job cluster's start, in a thread of its own: the engine, or the error it stopped on, once ``done``."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.engine: jobs.Engine | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            started = jobs.Engine.start()
            if settings.get(WARM_UP_ENV):
                started.warm_up()
            atexit.register(started.close)
            self.engine = started
        except BaseException as error:  # shown by the page that needs the cluster (manager)
            self.error = error
        finally:
            self.done.set()


@st.cache_resource(show_spinner=False)
def _start() -> _Start:
    start = _Start()
    threading.Thread(target=start.run, name="featlib-job-cluster", daemon=True).start()
    return start


def start_engine() -> None:
    """Starts the server's job cluster in the background, once per process; returns at once.

    The Home page is drawn meanwhile; a page that submits work waits for it in :func:`engine`.
    """
    _start()


def engine_failed() -> bool:
    """True when the job cluster's start (:func:`start_engine`) has ended without a cluster (:func:`manager` then
    says why)."""
    start = _start()
    return start.done.is_set() and start.error is not None


def engine() -> jobs.Engine:
    """The server's Dask engine (a ``LocalCluster``, or ``$FEATLIB_SCHEDULER``), once per process.

    Waits, with a spinner, for the start begun by :func:`start_engine`. One
    worker starts warming up at once (Keras and umap-learn imported, UMAP
    compiled) and takes the maps when it is free, so the first map does not
    wait for that; the others stay free for the first jobs. Set
    ``FEATLIB_WARM_UP=0`` to skip it.

    Raises:
        featlib.errors.ClusterError, OSError, ValueError: the cluster could not be started or reached (a bad
            setting, no scheduler at ``$FEATLIB_SCHEDULER``); the next call tries again.
    """
    start = _start()
    if not start.done.is_set():
        with st.spinner(f"Starting the job cluster (the first time only, about {CLUSTER_START_S} s)…"):
            start.done.wait()
    if start.error is not None:
        _start.clear()  # not kept: the next page run tries again (a scheduler back up, a setting fixed)
        raise start.error
    assert start.engine is not None
    return start.engine


def manager() -> jobs.JobManager:
    """The job manager of the server's workspace, on :func:`engine` (waited for, with a spinner, while it starts).

    When the cluster cannot be started, shows why on the page and stops it (the next page run tries again).
    """
    try:
        started = engine()
    except (OSError, ValueError) as error:  # no scheduler at FEATLIB_SCHEDULER, a bad FEATLIB_WORKERS, ...
        text.error(f"The job workers cannot be started, so nothing can be computed: {error}")
        st.stop()
    return manager_of(started, resources.workspace())


_managers: dict[tuple[int, str], jobs.JobManager] = {}
_managers_lock = threading.Lock()


def manager_of(engine: jobs.Engine, workspace: Workspace) -> jobs.JobManager:
    """The one job manager of ``workspace`` on ``engine`` in this process (the pages' and the start-up's).

    Safe to call from any thread: the server's start-up thread (:mod:`featlib.app.start_up`) submits its jobs
    to the manager the pages ask, so a page attaches to a job the start-up began.
    """
    with _managers_lock:
        key = (id(engine), str(workspace.root))
        if key not in _managers:
            _managers[key] = jobs.JobManager(engine, workspace)
        return _managers[key]


def starting() -> _Start:
    """The job cluster's start begun by :func:`start_engine` (its ``done`` event, then ``engine`` or ``error``)."""
    return _start()


def model_input(record: ModelRecord) -> jobs.Input:
    """A saved model as a job input: its ``.keras`` bytes, sent to the cluster once per fingerprint."""
    return jobs.model_input(resources.workspace(), record)


def dataset_input(dataset) -> jobs.Input:
    """A dataset as a job input, sent to the cluster once per fingerprint."""
    return jobs.dataset_input(dataset)


def run(
    spec: jobs.JobSpec,
    inputs: Mapping[str, Any],
    *,
    label: str,
    store: Callable[[Any], Any] | None = None,
    on_update: Callable[[jobs.JobHandle], None] | None = None,
    failure: str = "",
) -> Any | None:
    """Runs ``spec`` as a job (or attaches to the one running for its key) and waits, showing its progress.

    Args:
        spec, inputs: the job and its inputs (see :meth:`featlib.jobs.JobManager.submit`).
        label: what the job does, in the progress bar ("Computing the UMAP map").
        store: writes the result into the workspace, in the server's job
            manager (so it is stored even when this session is gone).
        on_update: called with the handle at every redraw (e.g. training curves).
        failure: the start of the message shown when the job fails.

    Returns:
        The job's result (``store``'s return value when given), or ``None``
        after showing why there is none (failed, cancelled, over its limit, over the user's job cap).
    """
    try:
        handle = start(spec, inputs, store=store)
    except jobs.JobLimitError as error:  # over its size limit, or this user's jobs at their cap
        text.error(f"{label}: {error}")
        return None
    return follow(handle, label=label, on_update=on_update, failure=failure)


def start(
    spec: jobs.JobSpec, inputs: Mapping[str, Any], *, store: Callable[[Any], Any] | None = None
) -> jobs.JobHandle:
    """The job for ``spec``'s key: the one running or kept in memory, else a new one submitted for this user."""
    running = manager()
    handle = running.find(spec.key)
    if handle is None:
        handle = running.submit(spec, inputs, store=store, creator=identity.current_user())
    return handle


def active(key: str) -> bool:
    """True while a job for ``key`` is queued or running on this server (a page then shows it again)."""
    handle = manager().find(key)
    return handle is not None and not handle.is_finished


def follow(handle: jobs.JobHandle, *, label: str, on_update=None, failure: str = "") -> Any | None:
    """Waits for ``handle`` with live progress (see :func:`run`); its result, or ``None`` after showing why not."""
    running = manager()
    if not handle.is_finished:
        _watch(running, handle, label, on_update)
    if handle.error is not None:
        if isinstance(handle.error, jobs.JobCancelled) and not handle.error.over_limit:
            text.warning(handle.error)
        elif isinstance(handle.error, jobs.JobFailed):  # the job's own reason: the failure prefix applies
            text.error(f"{failure or label + ' failed'}: {handle.error}")
        else:  # stopped at its limit, or its worker died: the message says what happened
            text.error(f"{label}: {handle.error}")
        st.button("Run it again", key=f"retry/{handle.spec.key}", on_click=running.forget, args=(handle.spec.key,))
        return None
    return handle.result


def _watch(running: jobs.JobManager, handle: jobs.JobHandle, label: str, on_update) -> None:
    slot = st.empty()
    with slot.container(border=True):
        bar = st.progress(0.0, text=text.escape(label))
        st.button(
            "Cancel",
            key=f"cancel/{handle.job_id}",
            on_click=cancel,
            args=(handle.job_id,),
            shortcut=shortcuts.keys("cancel"),
        )
        while not handle.wait(POLL_S):
            bar.progress(handle.fraction, text=text.escape(f"{label} · {_state(running, handle)}"))
            if on_update is not None:
                on_update(handle)
    if on_update is not None:
        on_update(handle)
    slot.empty()


def state_text(handle: jobs.JobHandle) -> str:
    """One line of a job's state: its place in the queue, or its progress."""
    return _state(manager(), handle)


def _state(running: jobs.JobManager, handle: jobs.JobHandle) -> str:
    """What the job waits for or does, in words: never a bare "starting" (issue 28: the waits are silent)."""
    place = running.position(handle)
    waited = time.monotonic() - handle.submitted
    worker = running.engine.worker_of(handle.future) if handle.future is not None else None
    if handle.status == "running" and worker:
        _ready_workers.add(worker)
    if place and worker:
        if worker in _ready_workers:
            return f"starting on a worker ({waited:.0f} s)"
        return f"loading TensorFlow and Keras on a worker: its first job, about {FIRST_JOB_S} s ({waited:.0f} s so far)"
    if place:
        return (
            f"waiting for a free worker: {place} in the queue, {running.engine.busy_workers()} of "
            f"{running.engine.workers()} workers busy ({waited:.0f} s)"
        )
    return describe(handle)


def cancel(job_id: str) -> None:
    """The Cancel button: stops the job; the page then shows it as cancelled, with a button to run it again."""
    try:  # under a login, another member's job (joined by this session) is refused: said, and it goes on
        manager().cancel(job_id, who=identity.current_user(), actor=identity.actor())
    except RoleError as error:
        text.toast(error)
