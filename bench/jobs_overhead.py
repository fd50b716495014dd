"""What running a map as a job costs: the same UMAP in this process and on the local Dask cluster.

For a 1,437-point map (dense_1 of the seed MLP on the bundled digits) and a
10,000-point one (the same layer on Fashion-MNIST, when Debian's
dataset-fashion-mnist is installed), each measured warm (after one fit of
its own in the same process or worker, so Numba's compiling is not counted):
the in-process fit (``featlib.jobs.run_inline``), and the wall time from
``JobManager.submit`` until the result is stored, on a ``LocalCluster``
of two workers. Prints a table, or one JSON object with ``--json``.

    .venv/bin/python bench/jobs_overhead.py [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def representations(dataset, points: int, epochs: int):
    """``dense_1`` of the seed MLP trained on ``dataset``, for a stratified sample of ``points`` training images."""
    from featlib import jobs, models
    from featlib.maps import embed

    output = jobs.run_inline(
        jobs.specs.train_spec(
            dataset.fingerprint,
            len(dataset.y_train),
            hidden=(128, 64),
            optimizer="adam",
            learning_rate=0.001,
            epochs=epochs,
            batch_size=128,
        ),
        {"dataset": dataset},
    )
    model = models.model_from_bytes(output["model"])
    images, labels = dataset.split("train")
    chosen = embed.stratified_sample(labels, points, seed=0)
    from featlib.read.extract import extract

    return extract(model, "dense_1", models.adapt_images(images[chosen], model), method="function")


def measure(points, repeats: int, manager) -> dict:
    from featlib import jobs
    from featlib.maps import embed

    params = embed.UMAPParams(random_state=0)
    spec = lambda i: jobs.specs.reduce_spec(f"bench/{len(points)}/{i}/{time.monotonic()}", len(points), params)  # noqa: E731
    jobs.run_inline(spec("warm"), {"points": points})  # compile in this process
    inline = []
    for i in range(repeats):
        start = time.perf_counter()
        jobs.run_inline(spec(i), {"points": points})
        inline.append(time.perf_counter() - start)
    warm = [manager.submit(spec(f"warm{i}"), {"points": points}) for i in range(2)]  # one fit on each worker first
    for handle in warm:
        handle.outcome()
    cluster = []
    for i in range(repeats):
        start = time.perf_counter()
        manager.submit(
            spec(f"c{i}"), {"points": jobs.Input(f"points/{len(points)}", lambda: points)}, store=lambda coords: coords
        ).outcome()
        cluster.append(time.perf_counter() - start)
    return {
        "points": len(points),
        "inline_s": statistics.median(inline),
        "cluster_s": statistics.median(cluster),
        "overhead_s": statistics.median(cluster) - statistics.median(inline),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from featlib import datasets, jobs
    from featlib.store import Workspace

    cases = [("digits", datasets.load_digits(), 1_437, 20)]
    try:
        cases.append(("fashion_mnist", datasets.load_builtin("fashion_mnist"), 10_000, 2))
    except datasets.DatasetUnavailableError as error:
        print(f"note: no 10,000-point case: {error}", file=sys.stderr)
    engine = jobs.Engine.start(workers=2)
    manager = jobs.JobManager(engine, Workspace(tempfile.mkdtemp(prefix="featlib-overhead-")))
    try:
        rows = [
            dict(measure(representations(data, n, epochs), args.repeats, manager), dataset=name)
            for name, data, n, epochs in cases
        ]
    finally:
        manager.close()
        engine.close()
    if args.json:
        print(json.dumps({"rows": rows}))
    else:
        print(f"{'dataset':<14} {'points':>7} {'in-process s':>13} {'local cluster s':>16} {'overhead s':>11}")
        for r in rows:
            print(
                f"{r['dataset']:<14} {r['points']:>7,} {r['inline_s']:>13.2f} {r['cluster_s']:>16.2f} {r['overhead_s']:>11.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
