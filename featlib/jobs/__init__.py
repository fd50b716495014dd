"""Heavy work as jobs: plain data run by Dask, in-process, on a local cluster or a remote one.

A job is a :class:`JobSpec` (kind, parameters, result key, title) and one
plain function of :mod:`featlib.jobs.tasks` that takes plain inputs (arrays,
model bytes, a :class:`~featlib.datasets.Dataset`) and returns plain outputs.

- In a notebook or a test: :func:`run_inline` calls the function in this
  process.
- Elsewhere (the dashboard, the CLI): :class:`JobManager` submits it through
  an :class:`Engine`, a Dask client connected to a ``LocalCluster`` of worker
  processes (the default) or to ``$FEATLIB_SCHEDULER``; it records the job in
  the workspace's index, reports progress, enforces the kind's limits and
  writes the result into the workspace from the submitting process only.

Example:
    >>> import numpy as np
    >>> from featlib import jobs
    >>> from featlib.maps import embed
    >>> points = np.random.default_rng(0).normal(size=(100, 8)).astype("float32")
    >>> spec = jobs.specs.reduce_spec("example/pca", len(points), embed.PCAParams())
    >>> jobs.run_inline(spec, {"points": points}).shape
    (100, 2)
"""

from featlib.jobs import specs
from featlib.jobs.engine import Engine, Input, cluster_settings, dataset_input, model_input
from featlib.jobs.limits import LIMITS, Limit, check_size
from featlib.jobs.manager import JobHandle, JobManager
from featlib.jobs.spec import (
    JobCancelled,
    JobError,
    JobFailed,
    JobLimitError,
    JobSpec,
    WorkerLost,
)
from featlib.jobs.tasks import KINDS, run_inline

__all__ = [
    "Engine",
    "Input",
    "cluster_settings",
    "dataset_input",
    "model_input",
    "LIMITS",
    "Limit",
    "check_size",
    "JobHandle",
    "JobManager",
    "JobCancelled",
    "JobError",
    "JobFailed",
    "JobLimitError",
    "JobSpec",
    "WorkerLost",
    "KINDS",
    "run_inline",
    "specs",
]
