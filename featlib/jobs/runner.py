"""Where a job runs and how its progress is shown: the one thing the pages, the CLI and a notebook do differently.

:class:`featlib.service.Service` makes every result through a :class:`Runner`:

- :class:`InlineRunner`: in this process, at once, progress to a callback (tests, notebooks; the CLI's
  ``--scheduler inline`` adds a tqdm bar, :mod:`featlib.cli.runner`).
- :class:`ClusterRunner`: on a Dask cluster through a :class:`~featlib.jobs.JobManager`, which records
  each job in the workspace and stores its result from this process (the CLI's ``--scheduler local`` or
  ``tls://…``, with a tqdm bar).
- :class:`featlib.app.runner.StreamlitRunner`: on the server's cluster, with a progress bar, the
  job's place in the queue and a Cancel button (:mod:`featlib.app.job_watch`).

A runner never decides what to compute, nor where a result is stored: it is given a
:class:`~featlib.jobs.JobSpec`, its inputs and a ``store`` function.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from featlib.jobs.engine import Input
from featlib.jobs.manager import JobHandle, JobManager
from featlib.jobs.spec import JobFailed, JobSpec, Progress
from featlib.jobs.tasks import run_inline

Store = Callable[[Any], Any]
"""Writes a job's result into the workspace in the submitting process; its return value becomes the job's result."""


class Runner(Protocol):
    """Runs jobs and reports their progress; :meth:`run` is :meth:`start` then :meth:`wait`."""

    def start(self, spec: JobSpec, inputs: Mapping[str, Any], store: Store | None = None) -> JobHandle:
        """Starts ``spec`` (or attaches to the job running for its key) and returns its handle at once.

        A runner that runs jobs in this process runs it here; the handle returned has finished.
        """
        ...

    def wait(self, handle: JobHandle, *, label: str = "", failure: str = "") -> Any | None:
        """Waits for ``handle``, showing its progress under ``label``; its result (``store``'s return value).

        Returns ``None`` only where the runner shows people why there is no result (the app's, which
        starts ``failure`` the message); the others raise.

        Raises:
            featlib.jobs.JobError: the job failed, was cancelled or lost its worker (on a cluster).
            Whatever the job's function raised (in this process).
        """
        ...

    def run(
        self,
        spec: JobSpec,
        inputs: Mapping[str, Any],
        store: Store | None = None,
        *,
        label: str = "",
        failure: str = "",
    ) -> Any | None:
        """Runs ``spec`` and waits for it: :meth:`wait` of :meth:`start`, with the same result and errors."""
        ...


def loaded(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """``inputs`` with every :class:`~featlib.jobs.Input` loaded, as a job run in this process takes them."""
    return {name: value.load() if isinstance(value, Input) else value for name, value in inputs.items()}


def _quiet(*_args: Any, **_kwargs: Any) -> None:
    """A progress function that reports nowhere."""


class InlineRunner:
    """Runs each job in this process, at once, reporting its progress to ``progress(stage, done, total, **extra)``.

    Attributes:
        ran: the keys of the jobs it ran, in order (a result found in the workspace runs none).
        creator: who runs them, given to the handles of :meth:`start`.
    """

    def __init__(self, progress: Progress | None = None, *, creator: str = ""):
        self.progress = progress
        self.creator = creator
        self.ran: list[str] = []

    @contextlib.contextmanager
    def reporting(self, spec: JobSpec, label: str) -> Iterator[Progress]:
        """The progress function of one job while it runs (a subclass draws a bar here); ``self.progress`` by default."""
        yield self.progress or _quiet

    def run(
        self,
        spec: JobSpec,
        inputs: Mapping[str, Any],
        store: Store | None = None,
        *,
        label: str = "",
        failure: str = "",
    ) -> Any:
        """Runs the job's function here; its result, or ``store``'s return value when given.

        Raises:
            Whatever the job's function (or ``store``) raises; ``failure`` is not used.
        """
        with self.reporting(spec, label or spec.title) as progress:
            self.ran.append(spec.key)
            result = run_inline(spec, loaded(inputs), progress)
        return store(result) if store is not None else result

    def start(self, spec: JobSpec, inputs: Mapping[str, Any], store: Store | None = None) -> JobHandle:
        """Runs the job at once; a finished handle, done or failed (its error a :class:`~featlib.jobs.JobFailed`)."""
        try:
            return JobHandle.finished_with(spec, self.run(spec, inputs, store), creator=self.creator)
        except Exception as error:  # as a cluster's job would end: the failure is the handle's
            return JobHandle.finished_with(spec, error=JobFailed(str(error), error), creator=self.creator)

    def wait(self, handle: JobHandle, *, label: str = "", failure: str = "") -> Any:
        """The result of a job :meth:`start` ran.

        Raises:
            The exception the job's function raised, as :meth:`run` does.
        """
        error = handle.error
        if isinstance(error, JobFailed) and error.cause is not None:
            raise error.cause
        return handle.outcome()


class ClusterRunner:
    """Runs jobs on a Dask cluster through ``manager``, which records them in the workspace and stores results.

    Args:
        manager: the job manager (its engine: a local cluster or a remote scheduler).
        creator: who submits the jobs, recorded with each.
    """

    def __init__(self, manager: JobManager, *, creator: str = ""):
        self.manager = manager
        self.creator = creator

    def start(self, spec: JobSpec, inputs: Mapping[str, Any], store: Store | None = None) -> JobHandle:
        """Submits ``spec``, or attaches to the job running for its key (:meth:`featlib.jobs.JobManager.submit`)."""
        return self.manager.submit(spec, inputs, store=store, creator=self.creator)

    def follow(self, handles: list[JobHandle], label: str) -> None:
        """Waits until every handle has finished (a subclass shows progress here)."""
        for handle in handles:
            handle.wait()

    def wait(self, handle: JobHandle, *, label: str = "", failure: str = "") -> Any:
        """Waits for ``handle`` (:meth:`follow`); its result.

        Raises:
            featlib.jobs.JobError: the job failed, was cancelled or lost its worker.
        """
        self.follow([handle], label or handle.spec.title)
        return handle.outcome()

    def run(
        self,
        spec: JobSpec,
        inputs: Mapping[str, Any],
        store: Store | None = None,
        *,
        label: str = "",
        failure: str = "",
    ) -> Any:
        """:meth:`start` then :meth:`wait`."""
        return self.wait(self.start(spec, inputs, store), label=label, failure=failure)
