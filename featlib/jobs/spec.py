"""What a job is (plain data) and the errors a job can end with."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from featlib.errors import JobCancelled, JobError, JobFailed, JobLimitError, WorkerLost  # noqa: F401 (their old home)

Progress = Callable[..., None]
"""``progress(stage, done, total, **extra)``: a job's report, e.g. ``("layout", 120, 300)``.

``stage`` is a short word (``"epoch"``, ``"batch"``, ``"neighbours"``,
``"layout"``, ``"working"``); ``extra`` holds plain values such as an
epoch's ``logs``. A progress function never raises into the job.
"""


@dataclass(frozen=True)
class JobSpec:
    """One heavy operation, as plain data.

    Attributes:
        kind: a key of :data:`featlib.jobs.tasks.KINDS` (``"train"``,
            ``"extract"``, ``"reduce"``, ...).
        key: the result's key; two jobs with the same key are never run at
            once (a second request attaches to the first).
        params: plain, picklable parameters of the kind's function.
        title: what the job is for, shown in the Jobs view and in messages.
        limit: the name of the limit that applies (a key of
            :data:`featlib.jobs.limits.LIMITS`), usually the kind, or
            ``"reduce:tsne"`` for a reducer.
    """

    kind: str
    key: str
    params: Mapping[str, Any] = field(default_factory=dict)
    title: str = ""
    limit: str = ""

    @property
    def limit_name(self) -> str:
        """The limit that applies to this job."""
        return self.limit or self.kind
