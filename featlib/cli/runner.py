"""Running jobs for the command line: in this process, on a local cluster or on a remote one, with tqdm bars.

``--scheduler`` picks where: ``inline`` (this process, the default for one
job), ``local`` (a ``LocalCluster`` of worker processes) or a scheduler's
address ``tls://HOST:8786``; unset, ``$FEATLIB_SCHEDULER`` when it is set.
Results are written into the workspace by this process only. :class:`Runner` is the CLI's
:class:`featlib.jobs.runner.Runner` for :class:`featlib.service.Service`.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from featlib import jobs, settings
from featlib.jobs.engine import SCHEDULER_ENV
from featlib.jobs.manager import describe
from featlib.jobs.runner import ClusterRunner, InlineRunner
from featlib.jobs.spec import Progress
from featlib.lazy import tqdm

INLINE, LOCAL = "inline", "local"


class InlineBars(InlineRunner):
    """Runs each job in this process with a tqdm bar on stderr, titled by the job's title."""

    @contextlib.contextmanager
    def reporting(self, spec: jobs.JobSpec, label: str) -> Iterator[Progress]:
        """A bar for the job while it runs: its stage and ``done/total`` as the job reports them."""
        with progress_bar(spec.title) as bar:

            def progress(stage: str, done: int, total: int, **extra: Any) -> None:
                bar.total, bar.n = max(total, 1), done
                bar.set_postfix_str(stage, refresh=True)

            bar.set_postfix_str("starting", refresh=True)
            yield progress
            bar.n = bar.total  # done, whatever the job last reported
            bar.set_postfix_str("done", refresh=True)


class ClusterBars(ClusterRunner):
    """Runs jobs on a cluster, following each with a tqdm bar on stderr (:func:`follow`)."""

    def follow(self, handles: list[jobs.JobHandle], label: str) -> None:
        """One bar for ``handles``: one job's own progress under its title, else how many are done."""
        with progress_bar(handles[0].spec.title if len(handles) == 1 else label) as bar:
            follow(handles, bar)


class Runner:
    """Runs the CLI's jobs where ``scheduler`` says, writing results into ``workspace``: a
    :class:`~featlib.jobs.runner.Runner` (:class:`InlineBars` or :class:`ClusterBars`) with the cluster's life.

    Args:
        workspace: the workspace results are stored in (and jobs recorded in, on a cluster).
        scheduler: ``"inline"``, ``"local"`` or a Dask scheduler's address; ``None``: ``$FEATLIB_SCHEDULER``, else ``default``.
        creator: who runs the command, recorded with each job.
        default: where jobs run when neither ``scheduler`` nor ``$FEATLIB_SCHEDULER`` says.
    """

    def __init__(self, workspace, scheduler: str | None, creator: str = "", default: str = INLINE):
        self.workspace = workspace
        self.where = scheduler or settings.get(SCHEDULER_ENV) or default
        self.creator = creator
        self._manager: jobs.JobManager | None = None
        self._runner: InlineBars | ClusterBars | None = None

    @property
    def manager(self) -> jobs.JobManager | None:
        """The job manager on the cluster (started on first use); ``None`` when jobs run in this process."""
        if self.where == INLINE:
            return None
        if self._manager is None:
            engine = jobs.Engine.start(scheduler=None if self.where == LOCAL else self.where)
            self._manager = jobs.JobManager(engine, self.workspace)
        return self._manager

    @property
    def runner(self) -> InlineBars | ClusterBars:
        """Where the jobs run: in this process, or on the cluster (started on first use)."""
        if self._runner is None:
            manager = self.manager
            self._runner = (
                InlineBars(creator=self.creator) if manager is None else ClusterBars(manager, creator=self.creator)
            )
        return self._runner

    def start(self, spec: jobs.JobSpec, inputs: Mapping[str, Any], store: Callable[[Any], Any] | None = None):
        """Submits ``spec`` to the cluster and returns its handle (see :meth:`featlib.jobs.JobManager.submit`).

        In this process the job runs at once; the handle returned has finished.
        """
        return self.runner.start(spec, inputs, store)

    def wait(self, handle: jobs.JobHandle, *, label: str = "", failure: str = "") -> Any:
        """Waits for a handle of :meth:`start` with a progress bar on stderr; its result (see :meth:`run`)."""
        return self.runner.wait(handle, label=label, failure=failure)

    def run(
        self,
        spec: jobs.JobSpec,
        inputs: Mapping[str, Any],
        store: Callable[[Any], Any] | None = None,
        *,
        label: str = "",
        failure: str = "",
    ) -> Any:
        """Runs one job with a progress bar on stderr; returns its result (``store``'s return value when given).

        Raises:
            featlib.jobs.JobError: on a cluster, the job failed, was stopped or lost its worker.
            Whatever the job's function raises, in this process.
        """
        return self.runner.run(spec, inputs, store, label=label, failure=failure)

    def close(self) -> None:
        """Ends the cluster this runner started, if any."""
        if self._manager is not None:
            self._manager.close()
            self._manager.engine.close()


def progress_bar(title: str, total: int = 1, unit: str = ""):
    """A tqdm bar on stderr: ``title: 40%|████      | 2/5, stage [00:03]``.

    On a terminal it is cleared when done; elsewhere (a log, a pipe) its last state stays on a line of its own.
    """
    return tqdm.tqdm(
        total=total,
        desc=title,
        unit=unit,
        leave=not sys.stderr.isatty(),
        file=sys.stderr,
        bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{postfix} [{elapsed}]",
    )


def follow(handles: list, bar, poll: float = 0.2) -> None:
    """Updates ``bar`` (tqdm) from ``handles`` until each has finished: one job's own progress, else how many are done."""
    while True:
        finished = sum(h.is_finished for h in handles)
        if len(handles) == 1:
            handle = handles[0]
            bar.total, bar.n = max(handle.total, 1), handle.done if not handle.is_finished else max(handle.total, 1)
            bar.set_postfix_str(describe(handle), refresh=True)
        else:
            bar.total, bar.n = len(handles), finished
            running = [h for h in handles if h.status == "running"]
            bar.set_postfix_str(", ".join(f"{h.spec.title}: {describe(h)}" for h in running[:2]), refresh=True)
        if finished == len(handles):
            return
        time.sleep(poll)
