"""CPU time an idle local cluster uses: featlib's settings against Dask's defaults.

A server keeps its local Dask cluster (a scheduler, a nanny and a worker per
worker process) for its whole life, mostly idle; so does each test server.
This starts a ``LocalCluster`` in this process with the local cluster's
shape (two worker processes of one thread each, as
:mod:`featlib.jobs.cluster` makes it), with featlib's
:data:`featlib.jobs.cluster.IDLE_QUIET` settings or, with
``--dask-defaults``, without them; runs one task, waits for start-up to
settle, then adds up the CPU seconds (user + system) of this process and its
children over ``--seconds`` of idleness.

    .venv/bin/python bench/idle_cluster.py [--seconds 60] [--dask-defaults]

Prints one line: ``idle cluster (featlib settings): 2.1 CPU s a minute (2 workers, 60 s measured)``.
"""

from __future__ import annotations

import argparse
import logging
import time

import psutil

from featlib.jobs import cluster
from featlib.lazy import dask, distributed


def idle_cpu_seconds(seconds: float, settings: dict, workers: int = 2) -> float:
    """CPU seconds (user + system) a local cluster with ``settings`` uses in ``seconds`` of idleness."""
    with (
        dask.config.set(settings),
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.ERROR
        ) as local,
        distributed.Client(local) as client,
    ):
        client.submit(sum, [1, 2]).result(timeout=120)
        me = psutil.Process()

        def used() -> float:
            total = 0.0
            for process in (me, *me.children(recursive=True)):
                times = process.cpu_times()
                total += times.user + times.system
            return total

        time.sleep(5)  # start-up settles
        before = used()
        time.sleep(seconds)
        return used() - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--dask-defaults", action="store_true", help="without featlib's IDLE_QUIET settings")
    args = parser.parse_args()
    spent = idle_cpu_seconds(args.seconds, {} if args.dask_defaults else cluster.IDLE_QUIET)
    which = "Dask defaults" if args.dask_defaults else "featlib settings"
    print(
        f"idle cluster ({which}): {spent * 60 / args.seconds:.1f} CPU s a minute (2 workers, {args.seconds:.0f} s measured)"
    )


if __name__ == "__main__":
    main()
