"""The service's one path, from a result's key to the stored result, else its job, stored (:class:`ServicePath`)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from featlib.errors import QuotaError
from featlib.jobs import codecs
from featlib.jobs.manager import JobHandle
from featlib.jobs.runner import Runner
from featlib.service.requests import K, LayerProgress, ModelRef, Request

if TYPE_CHECKING:
    from featlib.store import ModelRecord, Workspace


class ServicePath:
    """The one path of :class:`featlib.service.Service`: a result's key → the stored result, else its job → stored.

    Args:
        workspace: where results are stored and looked up.
        runner: how jobs run and show progress (:mod:`featlib.jobs.runner`).
        creator: who asks (the app's user name): recorded as the maker of every result stored.
    """

    def __init__(self, workspace: Workspace, runner: Runner, *, creator: str = ""):
        self.workspace = workspace
        self.runner = runner
        self.creator = creator

    # The path ------------------------------------------------------------------

    def get(self, request: Request) -> Any | None:
        """The stored result of ``request``, else its job's, run through the runner and stored.

        Returns ``None`` only when the runner showed why there is no result (the app's).

        Raises:
            featlib.jobs.JobLimitError: the job asks for more than its kind allows (nothing ran).
            featlib.jobs.JobError, or the job's own exception in this process: see the runner's ``wait``.
        """
        found = request.load()
        if found is not None:
            return found
        result = self.runner.run(
            request.spec(), request.inputs(), request.store, label=request.label, failure=request.failure
        )
        return None if result is None else request.finish(result)

    def start(self, request: Request) -> JobHandle | None:
        """Starts the job of ``request`` unless its result is stored (then ``None``); see :meth:`finish`.

        Raises:
            featlib.jobs.JobLimitError: the job asks for more than its kind allows (nothing ran).
        """
        if request.load() is not None:
            return None
        return self.runner.start(request.spec(), request.inputs(), request.store)

    def finish(self, request: Request, handle: JobHandle | None, label: str = "") -> Any | None:
        """The result of ``request``: stored (``handle`` is ``None``), else its job's when it ends (see :meth:`get`)."""
        if handle is None:
            return request.load()
        result = self.runner.wait(handle, label=label or request.label, failure=request.failure)
        return None if result is None else request.finish(result)

    def get_all(
        self,
        requests: Mapping[K, Request],
        progress: LayerProgress | None = None,
        label: Callable[[K, int, int], str] | None = None,
    ) -> dict[K, Any] | None:
        """Every result of ``requests``: the stored ones, and the others' jobs all started before any is waited for.

        Args:
            requests: by name, in the order the results are returned.
            progress: called with each name before its result is looked up, then with ``("", n, n)``.
            label: ``label(name, i, n)``: the progress label of the ``i``-th of the ``n`` jobs that run.

        Returns:
            ``{name: result}``, or ``None`` as soon as one result is ``None`` (see :meth:`get`).

        Raises:
            featlib.jobs.JobLimitError: a job asks for too much (none of the others is started after it).
        """
        handles: dict[K, JobHandle | None] = {}
        for done, (name, request) in enumerate(requests.items()):
            if progress is not None:
                progress(str(name), done, len(requests))
            handles[name] = self.start(request)
        running = [name for name, handle in handles.items() if handle is not None]
        results: dict[K, Any] = {}
        for name, request in requests.items():
            handle = handles[name]
            text = label(name, running.index(name), len(running)) if label is not None and handle is not None else ""
            result = self.finish(request, handle, text)
            if result is None:
                return None
            results[name] = result
        if progress is not None:
            progress("", len(requests), len(requests))
        return results

    def kept(self, key: str, model_id: str | None = None) -> dict[str, Callable]:
        """``{"load", "store"}`` of a :class:`Request` whose result is kept in the workspace as a figure
        (:meth:`featlib.store.Workspace.save_result`, :mod:`featlib.jobs.codecs`) under its job's ``key``.

        A result that cannot be kept (a quota reached, a kind :func:`featlib.jobs.codecs.encode` does not
        write) is still returned; it is made again when asked for after the job manager forgets it.
        """

        def load() -> Any | None:
            found = self.workspace.load_result(key)
            if found is None:
                return None
            try:
                return codecs.decode(*found)
            except (KeyError, TypeError, ValueError):  # not what featlib wrote: made again, and replaced
                return None

        def store(result: Any) -> Any:
            encoded = codecs.encode(result)
            if encoded is not None:
                with contextlib.suppress(QuotaError):  # a figure is worth showing even where it cannot be kept
                    self.workspace.save_result(key, *encoded, model_id=model_id, creator=self.creator)
            return result

        return {"load": load, "store": store}

    def _ref(self, model: ModelRecord | ModelRef) -> ModelRef:
        return model if isinstance(model, ModelRef) else ModelRef.of_record(self.workspace, model)
