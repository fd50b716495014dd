"""The pages' runner: jobs on the server's cluster, watched with a progress bar, the queue place and a Cancel button.

:func:`service` is the :class:`featlib.service.Service` every page asks for its results; it differs
from the CLI's and a notebook's only by :class:`StreamlitRunner` (:mod:`featlib.app.job_watch`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from featlib import jobs
from featlib.app import identity, job_watch, resources
from featlib.jobs.runner import Store
from featlib.service import Service


class StreamlitRunner:
    """Runs a job on the server's job manager, or attaches to the one running (or kept) for its key, and waits
    on the page with its progress; a failed, cancelled or stopped job is shown with a button to run it again.
    """

    def start(self, spec: jobs.JobSpec, inputs: Mapping[str, Any], store: Store | None = None) -> jobs.JobHandle:
        """The job for ``spec``'s key: running or kept in memory, else submitted for this user (:func:`job_watch.start`)."""
        return job_watch.start(spec, inputs, store=store)

    def wait(self, handle: jobs.JobHandle, *, label: str = "", failure: str = "") -> Any | None:
        """Waits with live progress under ``label``; the result, or ``None`` after showing why there is none."""
        return job_watch.follow(handle, label=label or handle.spec.title, failure=failure)

    def run(
        self,
        spec: jobs.JobSpec,
        inputs: Mapping[str, Any],
        store: Store | None = None,
        *,
        label: str = "",
        failure: str = "",
    ) -> Any | None:
        """:meth:`start` then :meth:`wait`."""
        return self.wait(self.start(spec, inputs, store), label=label, failure=failure)


def service() -> Service:
    """The service of the server's workspace, running jobs through :class:`StreamlitRunner`, for this session's
    user (the maker recorded with every result it stores: Layers' and Compare's maps as much as Explore's)."""
    return Service(resources.workspace(), StreamlitRunner(), creator=identity.current_user())
