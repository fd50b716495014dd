"""Running jobs for the command line: in this process, on a local cluster or on a remote one, with tqdm bars.

``--scheduler`` picks where: ``inline`` (this process, the default for one
job), ``local`` (a ``LocalCluster`` of worker processes) or a scheduler's
address ``tls://HOST:8786``; unset, ``$FEATLIB_SCHEDULER`` when it is set.
Results are written into the workspace by this process only.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

from featlib import jobs, settings
from featlib.jobs.engine import SCHEDULER_ENV
from featlib.jobs.manager import describe

INLINE, LOCAL = "inline", "local"


class Runner:
    """Runs the CLI's jobs where ``scheduler`` says, writing results into ``workspace``.

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

    @property
    def manager(self) -> jobs.JobManager | None:
        """The job manager on the cluster (started on first use); ``None`` when jobs run in this process."""
        if self.where == INLINE:
            return None
        if self._manager is None:
            engine = jobs.Engine.start(scheduler=None if self.where == LOCAL else self.where)
            self._manager = jobs.JobManager(engine, self.workspace)
        return self._manager

    def start(self, spec: jobs.JobSpec, inputs: Mapping[str, Any], store: Callable[[Any], Any] | None = None):
        """Submits ``spec`` to the cluster and returns its handle (see :meth:`featlib.jobs.JobManager.submit`).

        In this process the job runs at once; the handle returned has finished.
        """
        if self.manager is not None:
            return self.manager.submit(spec, inputs, store=store, creator=self.creator)
        try:
            return jobs.JobHandle.finished_with(spec, self.run(spec, inputs, store), creator=self.creator)
        except Exception as error:  # as a cluster's job would end: the failure is the handle's
            return jobs.JobHandle.finished_with(spec, error=jobs.JobFailed(str(error), error), creator=self.creator)

    def run(self, spec: jobs.JobSpec, inputs: Mapping[str, Any], store: Callable[[Any], Any] | None = None) -> Any:
        """Runs one job with a progress bar on stderr; returns its result (``store``'s return value when given).

        Raises:
            featlib.jobs.JobError: on a cluster, the job failed, was stopped or lost its worker.
            Whatever the job's function raises, in this process.
        """
        with progress_bar(spec.title) as bar:
            if self.manager is None:
                def progress(stage: str, done: int, total: int, **extra: Any) -> None:
                    bar.total, bar.n = max(total, 1), done
                    bar.set_postfix_str(stage, refresh=True)

                bar.set_postfix_str("starting", refresh=True)
                result = jobs.run_inline(spec, {k: v.load() if isinstance(v, jobs.Input) else v for k, v in inputs.items()},
                                         progress)  # fmt: skip
                bar.n = bar.total  # done, whatever the job last reported
                bar.set_postfix_str("done", refresh=True)
                return store(result) if store is not None else result
            handle = self.start(spec, inputs, store)
            follow([handle], bar)
            return handle.outcome()

    def close(self) -> None:
        """Ends the cluster this runner started, if any."""
        if self._manager is not None:
            self._manager.close()
            self._manager.engine.close()


def progress_bar(title: str, total: int = 1, unit: str = ""):
    """A tqdm bar on stderr: ``title: 40%|████      | 2/5, stage [00:03]``.

    On a terminal it is cleared when done; elsewhere (a log, a pipe) its last state stays on a line of its own.
    """
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc=title, unit=unit, leave=not sys.stderr.isatty(), file=sys.stderr,
                bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt}{postfix} [{elapsed}]")  # fmt: skip


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
