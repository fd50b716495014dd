"""A Dask ``LocalCluster`` in a process of its own: ``python -m featlib.jobs.cluster --workers 2 --memory-limit 4GiB``.

The engine starts its local cluster through this module rather than in its
own process, because worker processes are spawned: a spawned child imports
its parent's ``__main__``, and in a Streamlit server that is the app's page
script. Here ``__main__`` is this module.

A Dask scheduler runs any code a client sends it, so the cluster answers
only to featlib: the first line on stdin is the TLS credentials the parent
made for this run (:func:`featlib.jobs.engine.temporary_credentials`, a JSON
object of PEM texts; Dask writes them only to private temporary files while
it builds a TLS context); the scheduler, its nannies and
workers listen on ``tls://127.0.0.1`` only, require a client certificate
signed by that run's own authority, and there is no dashboard. It runs in,
and keeps Dask's scratch files in, a private folder the parent made
(``--local-directory``), never a shared one where another account could
plant modules. The process
prints the scheduler's address on stdout, then runs until its stdin closes
(its parent ended, however it ended) or it gets SIGTERM, and then closes the
cluster.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from featlib import quiet
from featlib.lazy import dask, distributed

IDLE_QUIET = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
}
"""Dask's monitors that serve only its dashboard (which this cluster does not serve), slowed or off: the
statistical profiler sampling each worker's thread every 10 ms, the event-loop tick every 20 ms (now a blocked
loop is noticed within 1 s) and the system monitor every 0.5 s. An idle cluster of two workers then uses
about 2.0 CPU seconds a minute instead of 5.6 (``python bench/idle_cluster.py [--dask-defaults]``); the nannies' memory
monitor, which enforces each worker's memory limit, keeps Dask's 100 ms."""


def main(argv: list[str] | None = None) -> int:
    """Starts the cluster, prints its scheduler address, waits for stdin to close."""
    quiet.setup()  # TF_CPP_MIN_LOG_LEVEL for the workers; each worker filters its own TensorFlow import

    parser = argparse.ArgumentParser(prog="python -m featlib.jobs.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, required=True, help="worker processes, one thread each")
    parser.add_argument("--memory-limit", required=True, help="memory limit per worker, e.g. 4GiB")
    parser.add_argument(
        "--local-directory", required=True, help="a folder of this cluster's own (mode 0700), for Dask's scratch files"
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="how much lower this cluster's CPU priority is (os.nice; its workers inherit it): the server goes first",
    )
    args = parser.parse_args(argv)
    if args.nice:
        os.nice(args.nice)
    credentials = json.loads(sys.stdin.readline() or "{}")
    if not credentials:
        print("featlib.jobs.cluster: expected the TLS credentials as a JSON line on stdin; got none.", file=sys.stderr)
        return 2
    security = distributed.security.Security(require_encryption=True, **credentials)
    # A task whose worker dies (over its memory limit, killed) is not run again on another worker, and a
    # worker is sent no more tasks than it has threads: the others wait on the scheduler for a free worker
    # (a task queued on a worker that dies would fail with it).
    # Dask always starts an HTTP server beside the scheduler and each worker (on the node's own address, here
    # loopback); with no routes it serves no page: no dashboard, task logs, addresses or errors.
    # Set for the whole process (this process is the cluster), so that a worker its nanny restarts gets them too.
    # Dask's scratch folder goes first on the import path of the nanny and its workers: it must be this cluster's
    # own, never the shared default ($TMPDIR/dask-scratch-space), which any local account can make first.
    dask.config.set(
        {
            "distributed.scheduler.allowed-failures": 0,
            "distributed.scheduler.worker-saturation": 1.0,
            "distributed.scheduler.http.routes": [],
            "distributed.worker.http.routes": [],
            "temporary-directory": args.local_directory,
            **IDLE_QUIET,
        }
    )
    cluster = distributed.LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=args.memory_limit,
        silence_logs=logging.ERROR,
        security=security,
        protocol="tls://",
        host="127.0.0.1",
        dashboard_address=None,
        local_directory=args.local_directory,
    )
    print(cluster.scheduler_address, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    cluster.close(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
