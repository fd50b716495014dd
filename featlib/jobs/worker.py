"""The worker side: what Dask runs for a job, and how its progress reaches the submitter.

Progress goes out as Dask events on :data:`TOPIC` (``Worker.log_event``);
the submitting client subscribes to them. A progress report never raises
into the job: a failure to report is ignored, so no exception can escape
through a library's progress hook (umap-learn's tqdm holds a process-wide
lock while it writes). Stopping a job is the submitter's business: it
cancels the task and restarts the worker running it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any

from featlib import quiet
from featlib.jobs.tasks import KINDS
from featlib.lazy import distributed
from featlib.maps import compile_cache

TOPIC = "featlib-progress"
"""The Dask event topic carrying job progress: ``{"job", "stage", "done", "total", ...}``."""
REPORT_EVERY_S = 0.2

_log = logging.getLogger(__name__)
_prepared = False


def numba_cache_folder() -> str:
    """Where workers keep umap-learn's compiled code: the machine's cache, :func:`featlib.maps.compile_cache.folder`."""
    return str(compile_cache.folder())


def _prepare_process() -> None:
    """Once per worker process, before its first job: a quiet log (:func:`featlib.quiet.setup`, before TensorFlow
    is imported) and umap-learn's compiled code kept in the machine's cache."""
    global _prepared
    if _prepared:
        return
    _prepared = True
    quiet.setup()
    try:
        compile_cache.enable()
    except Exception:  # compiling on demand still works
        _log.exception("featlib worker: could not turn on the Numba cache")


class Reporter:
    """The progress function of one job on a worker: sends ``(stage, done, total, extra)`` as a Dask event.

    Reports are sent at most every :data:`REPORT_EVERY_S` seconds, except a
    new stage's first and the last of a stage; ``extra`` (an epoch's logs)
    is always sent.
    """

    def __init__(self, job_id: str, worker: Any):
        self.job_id = job_id
        self._worker = worker
        self._last = 0.0
        self._stage = ""

    def __call__(self, stage: str, done: int, total: int, **extra: Any) -> None:
        try:
            now = time.monotonic()
            if not extra and stage == self._stage and done < total and now - self._last < REPORT_EVERY_S:
                return
            self._last, self._stage = now, stage
            message = {"job": self.job_id, "stage": stage, "done": int(done), "total": int(total), **extra}
            self._worker.log_event(TOPIC, message)
        except Exception:  # never into the job
            _log.debug("featlib worker: a progress report failed", exc_info=True)


def run(kind: str, params: Mapping[str, Any], job_id: str, inputs: Mapping[str, Any]) -> Any:
    """Runs one job on a Dask worker: the kind's function (:data:`featlib.jobs.tasks.KINDS`) with live progress."""
    _prepare_process()
    report = Reporter(job_id, distributed.get_worker())
    report("started", 0, 1, pid=os.getpid())
    return KINDS[kind](**inputs, **params, progress=report)
