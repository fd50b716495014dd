"""Jobs as a team sees them: submitted once per key, recorded in the index, watched, limited, stopped.

One :class:`JobManager` per process that writes a workspace (the server, a
CLI run). It submits :class:`~featlib.jobs.JobSpec` s through an
:class:`~featlib.jobs.Engine`, attaches a second request for the same key to
the running job, records every job in the workspace's ``jobs`` table (who,
what for, status, progress, queued / started / finished times, error),
writes each result with the ``store`` function given at submission from its
own process (so the SQLite index keeps one writer and workers need no shared
filesystem), stops jobs past their kind's time limit, and at start marks jobs
left unfinished by a process that no longer runs as interrupted.

Fair queue. The manager sends a job to the cluster only while the cluster has
a free worker thread (:meth:`~featlib.jobs.Engine.slots`) and keeps the others
in its own queue, which takes users' jobs in turn (start-time fair queueing by
``creator``): each job gets a *turn*, one after its user's latest queued or
running job, and never earlier than the turn of the job sent last, and the
queue sends the lowest turn first (the earliest asked among equals). Twelve
t-SNE maps of one user thus delay another user's next job by at most the jobs
already running, one per worker, instead of all twelve (Dask's own queue is
first in, first out across clients, and its ``priority`` applies only to tasks
it still holds: up to two per worker thread are sent to the workers at once).
A job waiting in this queue is cancelled without touching a worker. Each user
may have at most ``FEATLIB_MAX_JOBS_PER_USER`` jobs queued or running
(:class:`~featlib.errors.TooManyJobsError`); asking for a result already on
its way attaches to its job and is never refused.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from concurrent.futures import CancelledError
from typing import TYPE_CHECKING, Any

from featlib import settings
from featlib.errors import TooManyJobsError
from featlib.jobs.limits import limit
from featlib.jobs.spec import JobCancelled, JobError, JobFailed, JobSpec, WorkerLost
from featlib.lazy import distributed

if TYPE_CHECKING:
    from distributed import Future

    from featlib.jobs.engine import Engine
    from featlib.store import Workspace
    from featlib.store.permissions import Actor

KEEP_FINISHED = 32
"""Finished jobs kept in memory (with their results) for sessions that come back to them."""
RECORD_EVERY_S = 1.0
MAX_JOBS_ENV = "FEATLIB_MAX_JOBS_PER_USER"
NEVER_AGAIN = ("upload", "bundle")
"""Kinds never submitted again after their worker died: the upload itself may have killed it."""
_log = logging.getLogger(__name__)


class JobHandle:
    """One submitted job, as the submitting process sees it; shared by every session that asks for its key.

    Attributes:
        job_id: the job's id in the index.
        spec: what it runs.
        status: ``queued``, ``running``, ``done``, ``failed``, ``cancelled`` or ``over-limit``.
        stage, done, total: its last progress report.
        epochs: the ``logs`` of each epoch reported so far (training).
        error: the :class:`~featlib.jobs.JobError` it ended with, if any.
    """

    def __init__(self, job_id: str, spec: JobSpec, creator: str):
        self.job_id = job_id
        self.spec = spec
        self.creator = creator
        self.status = "queued"
        self.stage, self.done, self.total = "queued", 0, 1
        self.epochs: list[dict] = []
        self.error: JobError | None = None
        self.result: Any = None
        self.submitted = time.monotonic()
        self.started: float | None = None
        self.finished: float | None = None
        self.stop_reason = ""
        self.future: Future | None = None
        self.inputs: Mapping[str, Any] | None = None  # kept while active, to submit again once (see JobManager)
        self.resubmitted = False
        self.stop_sent = False
        self.turn = 0
        """Its place in the fair queue: the lowest turn is sent to the cluster first (see the module's docs)."""
        self.sent = False
        """True once it is on the cluster (it may still wait there for a worker); False while in the manager's queue."""
        self.store: Callable[[Any], Any] | None = None
        self._finished = threading.Event()

    @classmethod
    def finished_with(
        cls, spec: JobSpec, result: Any = None, *, error: JobError | None = None, creator: str = ""
    ) -> JobHandle:
        """A handle for a job that has already run (in this process): done with ``result``, or failed with ``error``."""
        handle = cls(uuid.uuid4().hex[:12], spec, creator)
        handle.result, handle.error = result, error
        handle.status = "failed" if error is not None else "done"
        handle.finished = time.monotonic()
        handle._finished.set()
        return handle

    @property
    def fraction(self) -> float:
        """Progress from 0 to 1."""
        return 1.0 if self.status == "done" else min(max(self.done / self.total, 0.0), 1.0) if self.total else 0.0

    @property
    def is_finished(self) -> bool:
        """True once the job has a result or an error."""
        return self._finished.is_set()

    def elapsed(self) -> float:
        """Seconds since it started on a worker (0 while queued)."""
        if self.started is None:
            return 0.0
        return (self.finished or time.monotonic()) - self.started

    def wait(self, timeout: float | None = None) -> bool:
        """Waits up to ``timeout`` seconds for the job to finish; True when it has."""
        return self._finished.wait(timeout)

    def outcome(self) -> Any:
        """The job's result; raises its :class:`~featlib.jobs.JobError` when it has none. Waits for it."""
        self._finished.wait()
        if self.error is not None:
            raise self.error
        return self.result


class JobManager:
    """Submits, records, watches and stops jobs for one process that writes ``workspace``.

    Args:
        engine: the Dask engine jobs run on.
        workspace: where jobs are recorded and results stored.
        owner: who this process is in the index (default ``host:pid``).
    """

    def __init__(self, engine: Engine, workspace: Workspace, owner: str | None = None):
        self.engine = engine
        self.workspace = workspace
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self._active: dict[str, JobHandle] = {}  # by result key
        self._by_id: dict[str, JobHandle] = {}
        self._finished: OrderedDict[str, JobHandle] = OrderedDict()  # by result key
        self._waiting: list[JobHandle] = []  # the fair queue: jobs not sent to the cluster yet
        self._sent: set[str] = set()  # ids of the jobs on the cluster, not finished
        self._clock = 0  # the turn of the job sent last
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self.interrupted = self._interrupt_orphans()
        workspace.jobs.prune()
        engine.on_progress(self._on_progress)
        threading.Thread(target=self._watch, name="featlib-jobs-watch", daemon=True).start()

    # Submitting ---------------------------------------------------------------

    def submit(
        self,
        spec: JobSpec,
        inputs: Mapping[str, Any],
        *,
        store: Callable[[Any], Any] | None = None,
        creator: str = "",
    ) -> JobHandle:
        """Submits ``spec`` with ``inputs``, or returns the job already running for its key.

        Args:
            spec: the job.
            inputs: its inputs by argument name (:class:`~featlib.jobs.Input` s are sent once per fingerprint).
            store: called with the result in this process before the job is
                marked done; its return value becomes the handle's result
                (e.g. the stored record). An exception there fails the job.
            creator: who asked, recorded in the index; the fair queue takes users' jobs in turn by it.

        Raises:
            featlib.errors.TooManyJobsError: (a :class:`~featlib.jobs.JobLimitError`) ``creator`` already has
                ``FEATLIB_MAX_JOBS_PER_USER`` jobs queued or running and ``spec``'s key has none; nothing is queued.
            featlib.errors.SettingError: ``FEATLIB_MAX_JOBS_PER_USER`` is not a whole number from 1 to 10,000.
        """
        with self._lock:
            running = self._active.get(spec.key)
            if running is not None:
                return running
            self._check_cap(creator)
            job_id = uuid.uuid4().hex[:12]
            handle = JobHandle(job_id, spec, creator)
            self.workspace.jobs.add(
                job_id,
                spec.key,
                spec.kind,
                title=spec.title,
                creator=creator,
                meta={
                    "owner": self.owner,
                    "limit": spec.limit_name,
                    "params": json.loads(json.dumps(dict(spec.params), default=str)),
                },
            )
            handle.inputs, handle.store = inputs, store
            handle.turn = self._next_turn(creator)
            self._active[spec.key] = handle
            self._by_id[job_id] = handle
            self._waiting.append(handle)
        self._release()
        return handle

    def _check_cap(self, creator: str) -> None:
        """Refuses a new job of ``creator`` when they already have the most jobs one user may have (under the lock)."""
        cap = settings.get(MAX_JOBS_ENV)
        mine = sum(1 for h in self._active.values() if h.creator == creator)
        if mine >= cap:
            who = creator or "this user"
            raise TooManyJobsError(
                f"One user may have at most {cap} jobs queued or running at once on this server "
                f"({MAX_JOBS_ENV}), so that everyone's jobs get their turn; {who} has {mine}. Nothing was queued: "
                f"wait for one of them to finish, or cancel one on the Jobs page, then ask again."
            )

    def _next_turn(self, creator: str) -> int:
        """The turn of a new job of ``creator``: one after their latest active job's, never before the job sent last
        (under the lock). A user with nothing queued gets the current turn, ahead of others' backlogs."""
        mine = [h.turn + 1 for h in self._active.values() if h.creator == creator]
        return max([self._clock, *mine])

    def _release(self) -> None:
        """Sends queued jobs to the cluster, lowest turn first, while it has fewer of them than worker threads."""
        with self._lock:
            if not self._waiting:
                return
        slots = self.engine.slots()  # asks the scheduler: not under the lock
        with self._lock:
            chosen = sorted(self._waiting, key=_order)[: max(slots - len(self._sent), 0)]
            for handle in chosen:
                self._waiting.remove(handle)
                self._sent.add(handle.job_id)
                handle.sent = True
                self._clock = max(self._clock, handle.turn)
        for handle in chosen:
            self._send(handle)

    def _send(self, handle: JobHandle) -> None:
        """Submits a job the fair queue released to the engine; a job that cannot be submitted fails saying why."""
        store = handle.store
        try:
            future = self.engine.submit(handle.job_id, handle.spec, handle.inputs or {})
            with self._lock:
                handle.future = future
        except Exception as error:
            self._finish(handle, None, store, error=JobFailed(f"The job could not be submitted: {error}", error))
            return
        future.add_done_callback(lambda future: self._finish(handle, future, store))
        self._stop_if_cancelled(handle)

    def find(self, key: str) -> JobHandle | None:
        """The running job for ``key``, else the last finished one kept in memory, else ``None``."""
        with self._lock:
            return self._active.get(key) or self._finished.get(key)

    def forget(self, key: str) -> None:
        """Drops the finished job for ``key`` from memory (a later submission runs it again)."""
        with self._lock:
            old = self._finished.pop(key, None)
            if old is not None:
                self._by_id.pop(old.job_id, None)

    def handles(self) -> list[JobHandle]:
        """Running and queued jobs, oldest first."""
        with self._lock:
            return sorted(self._active.values(), key=lambda h: h.submitted)

    def queue(self) -> list[JobHandle]:
        """This process's queued jobs in the order they will start: first those already sent to the cluster (waiting
        there for a worker), then the fair queue's, lowest turn first."""
        with self._lock:
            queued = [h for h in self._active.values() if h.status == "queued"]
        return sorted(queued, key=_order)

    def position(self, handle: JobHandle) -> int:
        """1 + how many of this process's jobs wait ahead of a queued ``handle``; 0 once it runs."""
        queue = self.queue()
        return queue.index(handle) + 1 if handle in queue else 0

    def waiting(self) -> dict[str, tuple[int, dict[str, int]]]:
        """For each queued job (by id): its place in the queue (1: next) and how many jobs of each user wait ahead of
        it, in the order their first one does: ``{"3f9a…": (3, {"ann": 1, "bob": 1})}``. Running jobs are not
        counted (one per worker thread)."""
        places: dict[str, tuple[int, dict[str, int]]] = {}
        ahead: dict[str, int] = {}
        for place, handle in enumerate(self.queue(), start=1):
            places[handle.job_id] = (place, dict(ahead))
            ahead[handle.creator] = ahead.get(handle.creator, 0) + 1
        return places

    # Stopping -----------------------------------------------------------------

    def cancel(self, job_id: str, reason: str = "cancelled", *, who: str = "", actor: Actor | None = None) -> bool:
        """Stops a queued or running job (``reason``: ``"cancelled"`` or ``"over-limit"``); False when it is not active.

        The audit trail records ``who`` cancelled it (``"featlib"`` for a time limit) and whose job it was. Under a
        login, ``actor`` (:mod:`featlib.store.permissions`) must be allowed to cancel it: a member cancels only their
        own jobs, a viewer none; ``None``: no login (names are only labels).

        The worker running it is restarted in the background, so the caller does not wait for it.

        Raises:
            featlib.errors.RoleError: ``actor``'s role does not allow this cancel; the job goes on.
        """
        if actor is not None:
            self.workspace.jobs.check_cancel(job_id, actor)
        with self._lock:
            handle = self._by_id.get(job_id)
            if handle is None or handle.is_finished or handle.stop_reason:
                return False
            handle.stop_reason = reason
            held = handle in self._waiting
            if held:  # still in the fair queue: nothing runs, no worker to stop
                self._waiting.remove(handle)
        with contextlib.suppress(sqlite3.Error, OSError):  # the record never keeps a job running
            self.workspace.jobs.record_cancel(
                job_id,
                who or ("featlib" if reason == "over-limit" else ""),
                reason,
                who_subject=actor.subject if actor is not None else "",
            )
        if held:
            what = limit(handle.spec.limit_name).what
            self._finish(
                handle,
                None,
                None,
                error=JobCancelled(f"Cancelled: {what} was stopped before it started. Nothing was stored."),
            )
            return True
        self._stop_if_cancelled(handle)
        return True

    # Events -------------------------------------------------------------------

    def _on_progress(self, message: dict) -> None:
        handle = self._by_id.get(str(message.get("job")))
        if handle is None or handle.is_finished:
            return
        stage = str(message.get("stage", ""))
        if stage == "started":
            handle.status, handle.started = "running", time.monotonic()
            handle.stage, handle.done, handle.total = "started", 0, 1
            return
        handle.stage, handle.done, handle.total = stage, int(message.get("done", 0)), int(message.get("total", 1)) or 1
        if "logs" in message:
            handle.epochs.append(dict(message["logs"]))

    def _watch(self) -> None:
        """Every second: stops jobs past their time limit, records progress in the index."""
        while not self._closed.wait(RECORD_EVERY_S):
            try:
                self._release()  # a worker may have joined, or come back after a restart
            except Exception:
                _log.exception("featlib: sending queued jobs failed")
            places = self.waiting()
            for handle in self.handles():
                try:
                    if handle.started is not None and handle.elapsed() > limit(handle.spec.limit_name).max_seconds:
                        self.cancel(handle.job_id, "over-limit")
                    if not handle.is_finished:
                        self.workspace.jobs.update(
                            handle.job_id,
                            status=handle.status,
                            progress=handle.fraction,
                            progress_text=queued_text(places[handle.job_id])
                            if handle.job_id in places
                            else describe(handle),
                        )
                except Exception:
                    _log.exception("featlib: watching job %s failed", handle.job_id)

    def _finish(self, handle: JobHandle, future: Future | None, store, error: JobError | None = None) -> None:
        result = None
        try:
            if error is None and future is not None:
                result, error = self._collect(handle, future)
                if isinstance(error, WorkerLost) and self._submit_again(handle, future, store):
                    return
            if error is None and store is not None:
                try:
                    result = store(result)
                except Exception as failure:
                    _log.exception("featlib: storing the result of job %s failed", handle.job_id)
                    error = JobFailed(f"The result could not be stored: {type(failure).__name__}: {failure}", failure)
        except BaseException as failure:  # whatever happens, the job ends and its waiters are released
            _log.exception("featlib: finishing job %s failed", handle.job_id)
            result, error = None, JobFailed(f"The job could not be finished: {type(failure).__name__}: {failure}", None)
        handle.result, handle.error, handle.finished = result, error, time.monotonic()
        if error is None:
            handle.status = "done"
        elif isinstance(error, JobCancelled):
            handle.status = "over-limit" if error.over_limit else "cancelled"
        else:
            handle.status = "failed"
        try:
            self.workspace.jobs.update(
                handle.job_id,
                status=handle.status,
                progress=handle.fraction,
                progress_text=describe(handle),
                error=str(error) if error else "",
            )
        except Exception:
            _log.exception("featlib: recording job %s failed", handle.job_id)
        with self._lock:
            self._sent.discard(handle.job_id)
            if handle in self._waiting:
                self._waiting.remove(handle)
            self._active.pop(handle.spec.key, None)
            old = self._finished.pop(handle.spec.key, None)
            if old is not None and old is not handle:
                self._by_id.pop(old.job_id, None)
            self._finished[handle.spec.key] = handle
            while len(self._finished) > KEEP_FINISHED:
                self._by_id.pop(self._finished.popitem(last=False)[1].job_id, None)
        handle.inputs = handle.store = None
        handle._finished.set()
        if future is not None:
            future.release()
        try:
            self._release()  # its worker is free: the next job in turn goes
        except Exception:
            _log.exception("featlib: sending queued jobs failed")

    def _submit_again(self, handle: JobHandle, lost: Future, store) -> bool:
        """Submits once more a job whose worker died before it started it (it waited there); True when submitted.

        A job that had started is not: its worker may have died of the job itself (an upload over the memory limit).
        """
        if handle.spec.kind in NEVER_AGAIN:
            return False
        with self._lock:
            if handle.started is not None or handle.resubmitted or handle.stop_reason or handle.inputs is None:
                return False
            handle.resubmitted = True
        try:
            future = self.engine.submit(handle.job_id, handle.spec, handle.inputs, attempt=2)
        except Exception:
            return False
        with self._lock:
            handle.future, handle.stop_sent = future, False
        lost.release()
        handle.future.add_done_callback(lambda future: self._finish(handle, future, store))
        self._stop_if_cancelled(handle)
        return True

    def _stop_if_cancelled(self, handle: JobHandle) -> None:
        """Stops a cancelled job's task once it has one (a job may be cancelled while it is being submitted)."""
        with self._lock:
            future = handle.future if handle.stop_reason and not handle.stop_sent else None
            if future is not None:
                handle.stop_sent = True
        if future is not None:
            threading.Thread(target=self.engine.stop, args=(future,), name="featlib-jobs-stop", daemon=True).start()

    def _collect(self, handle: JobHandle, future: Future) -> tuple[Any, JobError | None]:
        rule = limit(handle.spec.limit_name)
        what = rule.what
        try:
            return future.result(), None
        except CancelledError:
            if handle.stop_reason == "over-limit":
                seconds = limit(handle.spec.limit_name).max_seconds
                return None, JobCancelled(
                    f"Stopped: {what} is limited to {seconds:,.0f} s on this server, and "
                    f"this job ran past it. Nothing was stored.",
                    over_limit=True,
                )
            return None, JobCancelled(f"Cancelled: {what} was stopped before it finished. Nothing was stored.")
        except distributed.KilledWorker:
            message = rule.lost or (
                "The worker running {what} stopped: it needed more memory than a worker's limit "
                "({memory}), or it was killed. Nothing was stored; the other jobs carry on."
            )
            return None, WorkerLost(message.format(what=what, memory=self.engine.memory_limit))
        except Exception as failure:  # the job's function raised: a user error, or a model that fails on the data
            return None, JobFailed(
                f"{failure}" if isinstance(failure, ValueError) else f"{type(failure).__name__}: {str(failure)[:500]}",
                failure,
            )

    def _interrupt_orphans(self) -> int:
        """Marks jobs left queued or running by a process of this host that no longer runs as interrupted."""
        host = socket.gethostname()
        count = 0
        for row in self.workspace.jobs.list(statuses=("queued", "running")):
            owner = str(row.meta.get("owner", ""))
            owner_host, _, pid = owner.rpartition(":")
            if owner_host == host and pid.isdigit() and _alive(int(pid)) and owner != self.owner:
                continue  # another live process's job (a CLI run beside the server)
            self.workspace.jobs.update(
                row.id, status="interrupted", error="The process that ran this job stopped before it finished."
            )
            count += 1
        return count

    def close(self) -> None:
        """Stops watching; running jobs are left to the engine."""
        self._closed.set()


def queued_text(place: tuple[int, Mapping[str, int]]) -> str:
    """A queued job's place in words, from :meth:`JobManager.waiting`'s ``(place, counts)``:
    ``"queued: number 3 in line, behind 1 of ann's, 1 of bob's"``, or ``"queued: nobody: next for a free worker"``."""
    n, ahead = place
    return f"queued: number {n} in line, behind {behind(ahead)}" if ahead else f"queued: {behind(ahead)}"


def _order(handle: JobHandle) -> tuple:
    """The queue's order: jobs on the cluster first (as they were sent), then lowest turn, then earliest asked."""
    return (not handle.sent, handle.turn, handle.submitted)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def behind(ahead: Mapping[str, int]) -> str:
    """Whose jobs wait ahead of a queued job, in words: ``"2 of ann's, 1 of bob's"`` (users in the queue's order);
    ``"nobody: next for a free worker"`` for the first (``ahead``: :meth:`JobManager.waiting`'s counts)."""
    if not ahead:
        return "nobody: next for a free worker"
    return ", ".join(f"{count} of {who or 'unknown'}'s" for who, count in ahead.items())


COUNTED = {"layers": "layer", "seeds": "map of seed", "checkpoints": "checkpoint", "units": "units"}
"""Stages that count what they went through, in words: ``"layer 3/7 · about 20 s left"``."""
SAID = {"aligning": "aligning the checkpoints' maps", "placing": "placing the other images on the map"}
"""Stages of one step, in words, with the time so far."""


def describe(handle: JobHandle) -> str:
    """One line of a job's state for people: ``"layout: epoch 120/300"``, ``"queued"``, ``"done in 4.2 s"``."""
    if handle.status == "queued":
        return "queued: waiting for a free worker"
    if handle.status in ("done", "failed", "cancelled", "over-limit"):
        return f"ran {handle.elapsed():.1f} s" if handle.started else "did not start"
    stage, done, total = handle.stage, handle.done, handle.total
    if stage == "epoch":
        logs = handle.epochs[-1] if handle.epochs else {}
        return f"epoch {done}/{total} · loss {logs.get('loss', 0):.4f} · val accuracy {logs.get('val_accuracy', 0):.4f}"
    if stage == "layout":
        return f"optimising the layout: epoch {done}/{total}"
    if stage == "iterations":  # t-SNE's gradient descent
        return f"optimising the layout: iteration {done}/{total}"
    if stage in ("images", "batch"):  # "batch": the stage's name before it said what it counts
        return f"images {done:,}/{total:,}{remaining(handle)}"
    if stage == "neighbours":
        return "finding nearest neighbours"
    if stage in COUNTED:
        return f"{COUNTED[stage]} {done:,}/{total:,}{remaining(handle)}"
    if stage in SAID:
        return f"{SAID[stage]} ({handle.elapsed():.0f} s)"
    return (
        f"{stage} ({handle.elapsed():.0f} s)" if stage not in ("", "started") else f"running ({handle.elapsed():.0f} s)"
    )


def remaining(handle: JobHandle) -> str:
    """`` · about 40 s left`` from the pace so far (``done`` of ``total`` in :meth:`JobHandle.elapsed`), or ``""``
    before there is a pace to go by."""
    done, total, elapsed = handle.done, handle.total, handle.elapsed()
    if done <= 0 or total <= done or elapsed < 1.0:
        return ""
    left = elapsed * (total - done) / done
    return f" · about {left:.0f} s left" if left < 120 else f" · about {left / 60:.0f} min left"
