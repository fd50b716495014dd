"""The Dask side of jobs: a client on a ``LocalCluster`` (the default) or on ``$FEATLIB_SCHEDULER``.

Settings (environment):

- ``FEATLIB_SCHEDULER``: ``tls://HOST:8786`` of an existing Dask scheduler,
  reached with the certificate in ``FEATLIB_TLS_CA_FILE``,
  ``FEATLIB_TLS_CERT`` and ``FEATLIB_TLS_KEY`` (else Dask's own
  ``distributed.comm.tls.*`` configuration); unset: a ``LocalCluster`` of
  worker processes started by this process.
- ``FEATLIB_WORKERS``: worker processes of the local cluster (default 2),
  one thread each, so one job per worker at a time.
- ``FEATLIB_WORKER_MEMORY``: memory limit per local worker, in Dask's
  notation (``"4GiB"``); default: 3/4 of this machine's memory shared among
  the workers. A worker past 95 % of it is restarted by its nanny.

Inputs (model bytes, datasets) go to the cluster once per fingerprint
(:meth:`Engine.send`); workers need no shared filesystem.

A Dask scheduler runs any code a client sends it, and the engine unpickles
what its workers send back, so featlib speaks to a cluster over TLS only,
with mutual authentication: the local cluster gets credentials made for its
run (:func:`temporary_credentials`) and listens on loopback only, with no
dashboard; a remote scheduler must be a ``tls://`` address.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from featlib import keys, quiet
from featlib import settings as featlib_settings  # `settings` names a dict in Engine.start
from featlib.errors import ClusterError
from featlib.jobs.spec import JobSpec
from featlib.jobs.worker import TOPIC, run
from featlib.lazy import dask, distributed, psutil

if TYPE_CHECKING:
    from distributed import Client, Future
    from distributed.security import Security

    from featlib.datasets import Dataset
    from featlib.store import ModelRecord, Workspace

SCHEDULER_ENV = "FEATLIB_SCHEDULER"
WORKERS_ENV = "FEATLIB_WORKERS"
MEMORY_ENV = "FEATLIB_WORKER_MEMORY"
NICE_ENV = "FEATLIB_CLUSTER_NICE"
TLS_ENV = ("FEATLIB_TLS_CA_FILE", "FEATLIB_TLS_CERT", "FEATLIB_TLS_KEY")
"""PEM files of the authority, this client's certificate and its key, for a remote ``tls://`` scheduler."""
DEFAULT_WORKERS = 2
MAX_SENT = 16
"""Inputs kept on the cluster (by fingerprint) for later jobs."""

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Input:
    """A job input sent to the cluster once per ``fingerprint``; ``load()`` is called only when it is not there yet."""

    fingerprint: str
    load: Callable[[], Any]


def model_input(workspace: Workspace, record: ModelRecord) -> Input:
    """A saved model as a job input: its ``.keras`` bytes, read and sent once per fingerprint."""
    return Input(keys.model_input_key(record.fingerprint), lambda: workspace.model_bytes(record))


def dataset_input(dataset: Dataset) -> Input:
    """A dataset as a job input, sent once per fingerprint."""
    return Input(keys.dataset_input_key(dataset.fingerprint), lambda: dataset)


def cluster_settings(environ: Mapping[str, str] | None = None) -> dict:
    """The engine's settings from the environment (:func:`featlib.settings.get`): ``{"scheduler", "workers",
    "memory_limit", "nice"}`` (``nice``: the local cluster's lower CPU priority, ``FEATLIB_CLUSTER_NICE``).

    Raises:
        featlib.errors.SettingError: (a ``ValueError``) ``FEATLIB_WORKERS`` is not a whole number from 1 to 64.
    """
    workers = featlib_settings.get(WORKERS_ENV, environ)
    memory = featlib_settings.get(MEMORY_ENV, environ) or _default_memory(workers)
    return {
        "scheduler": featlib_settings.get(SCHEDULER_ENV, environ),
        "workers": workers,
        "memory_limit": memory,
        "nice": featlib_settings.get(NICE_ENV, environ),
    }


def _default_memory(workers: int) -> str:
    return f"{int(psutil.virtual_memory().total * 0.75 / workers / 2**20)}MiB"


class Engine:
    """A Dask client with featlib's ways: inputs sent once, progress events, stopping a running job.

    Build one with :meth:`start`; ``close()`` ends it (and its local cluster).
    """

    def __init__(self, client: Client, cluster: Any = None, memory_limit: str = ""):
        self.client = client
        self.cluster = cluster
        self.memory_limit = memory_limit
        self._sent: OrderedDict[str, Future] = OrderedDict()
        self._lock = threading.Lock()
        self._handlers: list[Callable[[dict], None]] = []
        self._warming: set[Future] = set()
        self.warm_workers: set[str] = set()
        """Workers that have compiled UMAP (see :meth:`warm_up`); maps prefer them."""
        client.subscribe_topic(TOPIC, self._dispatch)

    @classmethod
    def start(cls, scheduler: str | None = None, workers: int | None = None, memory_limit: str | None = None) -> Engine:
        """Connects to ``scheduler`` (or ``$FEATLIB_SCHEDULER``), else starts a ``LocalCluster``.

        The local cluster (:mod:`featlib.jobs.cluster`, in a process of its
        own) has worker processes with one thread each, behind nannies that
        restart a worker past its memory limit; a task whose worker dies is
        not retried (``allowed-failures`` 0), so an upload that exhausts
        memory ends one worker once, and its job says why.

        Every connection is TLS with certificates on both sides: the local
        cluster's are made for this run and known only to this process and
        the cluster's; a remote scheduler's come from :func:`remote_security`.

        Raises:
            featlib.errors.ClusterError: the scheduler's address is not ``tls://``, the certificates are
                missing, or the scheduler cannot be reached (the message names it); also an ``OSError``.
        """
        # Inputs travel inside their holding task (see send); a dataset of 70,000 images is about 55 MB.
        dask.config.set({"distributed.admin.large-graph-warning-threshold": "2GB"})
        settings = cluster_settings()
        scheduler = scheduler or settings["scheduler"]
        if scheduler:
            security = remote_security(scheduler)
            try:
                client = distributed.Client(scheduler, timeout="10s", set_as_default=False, security=security)
            except (OSError, TimeoutError) as error:
                raise ClusterError(
                    f"Cannot reach the Dask scheduler at {scheduler} ({SCHEDULER_ENV}): {error}"
                ) from None
            return cls(client, None, "set by the cluster")
        memory = memory_limit or settings["memory_limit"]
        security = temporary_credentials()
        cluster = _start_local_cluster(workers or settings["workers"], memory, security, nice=settings["nice"])
        try:
            client = distributed.Client(cluster.address, timeout="30s", set_as_default=False, security=security)
        except BaseException:
            cluster.close()
            raise
        return cls(client, cluster, memory)

    def send(self, value: Any) -> Any:
        """``value`` as the cluster holds it: an :class:`Input` is sent once per fingerprint; others pass as they are.

        An input is held by a task of its own (not scattered), so that the
        scheduler can make it again on another worker when the worker that
        held it dies (an upload over its memory limit, a SIGKILL); scattered
        data would be lost with it, and the jobs waiting for it with them.
        """
        if not isinstance(value, Input):
            return value
        with self._lock:
            future = self._sent.get(value.fingerprint)
            if future is not None and future.status in ("pending", "finished"):
                self._sent.move_to_end(value.fingerprint)
                return future
        future = self.client.submit(_hold, value.load(), key=f"featlib-input-{uuid.uuid4().hex[:12]}", pure=False)
        with self._lock:
            self._sent[value.fingerprint] = future
            while len(self._sent) > MAX_SENT:
                self._sent.popitem(last=False)[1].release()
        return future

    def submit(self, job_id: str, spec: JobSpec, inputs: Mapping[str, Any], attempt: int = 1) -> Future:
        """Submits one job; its task key is ``featlib-<job_id>`` (``-<attempt>`` after the first)."""
        sent = {name: self.send(value) for name, value in inputs.items()}
        key = f"featlib-{job_id}" if attempt == 1 else f"featlib-{job_id}-{attempt}"
        where = {}
        free = self._idle(self.warm_workers) if spec.kind == "reduce" and self.warm_workers else []
        if free:  # a map goes to a free worker that has compiled UMAP, never to wait for a busy one
            where = {"workers": free, "allow_other_workers": True}
        return self.client.submit(run, spec.kind, dict(spec.params), job_id, sent, key=key, pure=False, **where)

    def _idle(self, workers: set[str]) -> list[str]:
        """Those of ``workers`` with no task assigned now (none when the scheduler cannot be asked)."""
        try:
            processing = self.client.processing()
        except Exception:
            return []
        return sorted(address for address in workers if address in processing and not processing[address])

    def on_progress(self, handler: Callable[[dict], None]) -> None:
        """Calls ``handler(message)`` for every progress event of every job (on the client's event-loop thread)."""
        with self._lock:
            self._handlers.append(handler)

    def _dispatch(self, event: tuple) -> None:
        for handler in list(self._handlers):
            try:
                handler(event[1])
            except Exception:
                _log.exception("featlib: a progress handler failed")

    def worker_of(self, future: Future) -> str | None:
        """The address of the worker running ``future``'s task, or ``None`` when it is not running."""

        def where(dask_scheduler, key):  # runs on the scheduler
            task = dask_scheduler.tasks.get(key)
            return task.processing_on.address if task is not None and task.processing_on is not None else None

        try:
            return self.client.run_on_scheduler(where, key=future.key)
        except Exception:
            return None

    def stop(self, future: Future) -> None:
        """Cancels ``future``; when its task is running, restarts that worker (a running task cannot be stopped otherwise)."""
        address = self.worker_of(future)
        future.cancel()
        if address:
            self.warm_workers.discard(address)  # restarted, it comes back cold (and under another address)
            try:
                self.client.restart_workers([address], raise_for_error=False)
            except Exception:
                _log.exception("featlib: restarting worker %s failed", address)

    def workers(self) -> int:
        """How many workers the cluster has now."""
        return len(self.client.scheduler_info().get("workers", {}))

    def slots(self) -> int:
        """How many jobs the cluster runs at once now: its workers' threads (one per local worker); at least 1.

        The :class:`~featlib.jobs.JobManager` sends a job to the cluster only while it has fewer than this many
        there, and keeps the others in its own fair queue (a scheduler that cannot be asked counts as 1).
        """
        try:
            return max(1, sum(self.client.nthreads().values()))
        except Exception:
            return 1

    def busy_workers(self) -> int:
        """How many workers run a task now (a job, or a warm-up)."""
        try:
            return sum(1 for keys in self.client.processing().values() if keys)
        except Exception:
            return 0

    def warm_up(self) -> Future | None:
        """Warms one worker up (imports Keras and umap-learn, compiles UMAP) and prefers it for maps from then on.

        The other workers stay free for the first users' jobs (training,
        reading a layer); a map then goes to the warm worker when it is
        free. Returns the warm-up's future, or ``None`` without workers; the
        engine keeps it until it finishes (a released future's task would be
        forgotten).
        """
        addresses = list(self.client.scheduler_info().get("workers", {}))
        if not addresses:
            return None
        address = addresses[0]
        future = self.client.submit(
            run,
            "warm_up",
            {},
            f"warm-up-{address}",
            {},
            workers=[address],
            allow_other_workers=False,
            pure=False,
            key=f"featlib-warm-up-{address}",
        )
        self._warming.add(future)

        def done(finished: Future) -> None:
            self._warming.discard(finished)
            if finished.status == "finished":
                self.warm_workers.add(address)

        future.add_done_callback(done)
        return future

    def close(self) -> None:
        """Closes the client and the local cluster, if this engine started one."""
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def _hold(value: Any) -> Any:
    """A task's result that is ``value`` itself: how the engine keeps an input on the cluster."""
    return value


class LocalClusterProcess:
    """The process running :mod:`featlib.jobs.cluster`; ``address`` is its scheduler's, ``folder`` its private one."""

    def __init__(self, process: subprocess.Popen, address: str, folder: str):
        self.process = process
        self.address = address
        self.folder = folder

    def close(self, timeout: float = 20.0) -> None:
        """Asks the cluster to close (its stdin closes) and waits, killing it past ``timeout`` seconds; then
        removes its private folder. Both of its pipes are closed, whether it was still running or not."""
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        if self.process.poll() is None:
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        with contextlib.suppress(OSError):
            self.process.stdout.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def temporary_credentials() -> Security:
    """TLS credentials for one run of the local cluster: a self-signed authority and key made now, in memory.

    Dask's ``Security.temporary()``: the scheduler, its workers and this
    process's client all present the one certificate and accept only peers
    that present it, so a local account without it cannot submit work.
    """
    return distributed.security.Security.temporary()


_TLS_FIELDS = (
    "tls_ca_file",
    "tls_client_cert",
    "tls_client_key",
    "tls_scheduler_cert",
    "tls_scheduler_key",
    "tls_worker_cert",
    "tls_worker_key",
)


def remote_security(address: str, environ: Mapping[str, str] | None = None) -> Security:
    """The TLS credentials for the remote scheduler at ``address``.

    From ``FEATLIB_TLS_CA_FILE``, ``FEATLIB_TLS_CERT`` and ``FEATLIB_TLS_KEY``
    (PEM files) when set, else from Dask's configuration
    (``distributed.comm.tls.ca-file``, ``.client.cert``, ``.client.key``).

    Raises:
        featlib.errors.ClusterError: ``address`` is not ``tls://HOST:PORT`` (a plain ``tcp://`` scheduler
            runs whatever anyone who reaches it sends), or the authority, certificate or key is not set.
    """
    if not address.startswith("tls://"):
        raise ClusterError(
            f"featlib connects to a Dask scheduler over TLS only (tls://HOST:PORT, with certificates): a scheduler "
            f"runs any code it is sent, and one reached over plain TCP answers anyone; got {address!r}. Start the "
            f"scheduler with --protocol tls and set {', '.join(TLS_ENV)} (see docs on running on a cluster)."
        )
    files = dict(
        zip(
            ("tls_ca_file", "tls_client_cert", "tls_client_key"),
            (featlib_settings.get(name, environ) for name in TLS_ENV),
        )
    )
    if any(files.values()):
        security = distributed.security.Security(require_encryption=True, **files)
    else:
        security = distributed.security.Security(require_encryption=True)  # Dask's configuration
        files = {field: getattr(security, field) for field in files}
    missing = [name for name, value in zip(TLS_ENV, files.values()) if not value]
    if missing:
        raise ClusterError(
            f"A tls:// scheduler needs the authority, the certificate and the key; {', '.join(missing)} "
            f"not set (PEM files)."
        )
    return security


def _start_local_cluster(
    workers: int, memory_limit: str, security: Security, timeout: float = 120.0, nice: int = 0
) -> LocalClusterProcess:
    """Starts :mod:`featlib.jobs.cluster` with ``security``'s credentials and waits for its scheduler's address.

    ``nice``: how much lower the cluster's CPU priority is than this process's (``os.nice``, 0 to 19).

    The credentials go to the cluster's process on its stdin, never on its
    command line or in its environment, where other local accounts could read them.

    Python puts a process's working folder first on its import path, and
    Dask puts its scratch folder there (by default ``$TMPDIR/dask-scratch-space``,
    which any local account can create first and fill with modules): the
    cluster runs in a folder of its own, made here with ``mkdtemp`` (mode 0700,
    a random name), which is also its Dask scratch folder, and it is removed
    when the cluster closes.

    Raises:
        featlib.errors.ClusterError: the cluster did not start (its error output is in the message).
    """
    package_root = str(Path(__file__).resolve().parents[2])  # where featlib is importable from
    folder = tempfile.mkdtemp(prefix="featlib-cluster-")
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "PYTHONSAFEPATH": "1",
        "PYTHONPATH": os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH", "")) if p),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "featlib.jobs.cluster",
            "--workers",
            str(workers),
            "--memory-limit",
            memory_limit,
            "--local-directory",
            folder,
            "--nice",
            str(nice),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=quiet.child_stderr(),
        text=True,
        env=env,
        cwd=folder,
    )
    process.stdin.write(json.dumps({field: getattr(security, field) for field in _TLS_FIELDS}) + "\n")
    process.stdin.flush()
    found: list[str] = []
    reader = threading.Thread(target=lambda: found.append(process.stdout.readline().strip()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not found or not found[0].startswith("tls://"):
        process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise ClusterError(
            f"The local Dask cluster did not start within {timeout:.0f} s (exit status {process.poll()})."
        )
    return LocalClusterProcess(process, found[0], folder)
