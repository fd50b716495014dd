"""The kNN graph's paths side by side: featlib's exact graph, pynndescent's correlation, and correlation as cosine.

On layer ``dense_1`` of the seed MLP on Fashion-MNIST (2 epochs, as
``python -m featlib bench``; all 70,000 images, stratified samples below),
for each of ``--sizes`` and 15 neighbours, in one process with the machine's
compile cache and after one untimed run of each, interleaved over
``--repeats`` rounds (medians; the machine is shared, so compare within a
run):

- ``exact``: :func:`featlib.maps.knn.exact` (correlation: unit centred rows, a
  float32 matrix product on one BLAS thread, a cached Numba selection, float64
  distances for the candidates), for sizes up to ``--exact-up-to``;
- ``pynndescent_correlation``: umap-learn's ``nearest_neighbors`` with the
  ``correlation`` metric (what featlib ran before);
- ``pynndescent_cosine_centred``: :func:`featlib.maps.knn.approximate`:
  pynndescent's cosine on rows centred on their mean, distances again in
  float64.

For each: seconds, recall of the 15 true neighbours (on 2,000 rows, against a
float64 brute force) and the largest difference between the distances given
and the exact correlation distances.

    .venv/bin/python bench/knn_paths.py [--sizes 1000,10000,20000,70000] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

K = 15


def layer(points: int) -> tuple[np.ndarray, np.ndarray]:
    """``dense_1`` of the bench's seed MLP (2 epochs) for the first ``points`` Fashion-MNIST images, and labels."""
    from featlib import models
    from featlib.datasets import sources as dataset_sources
    from featlib.read import extract

    data = dataset_sources.load_dataset("fashion_mnist")
    images = np.concatenate([data.x_train, data.x_test])[:points]
    labels = np.concatenate([data.y_train, data.y_test])[:points]
    model = models.build_mlp((784,), num_classes=data.num_classes)
    x = models.adapt_images(images, model)
    models.train(model, x, labels, x[:1000], labels[:1000], epochs=2, batch_size=128)
    return extract.Extractor(model, "dense_1", "function")(x), labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,20000,70000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--exact-up-to", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from umap.umap_ import nearest_neighbors

    from featlib import quiet
    from featlib.maps import compile_cache, embed, knn

    quiet.setup()
    compile_cache.enable()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    reps, labels = layer(max(sizes))
    paths = {
        "exact": lambda x: knn.exact(x, K, "correlation"),
        "pynndescent_correlation": lambda x: nearest_neighbors(
            x, K, "correlation", {}, False, np.random.RandomState(0), n_jobs=1
        )[:2],
        "pynndescent_cosine_centred": lambda x: knn.approximate(x, K, "correlation"),
    }
    samples, truth = {}, {}
    for n in sizes:
        x = reps[embed.stratified_sample(labels, n)]
        rows = np.sort(np.random.default_rng(0).choice(n, min(n, 2_000), replace=False))
        unit = x.astype("float64") - x.mean(axis=1, keepdims=True)
        unit /= np.linalg.norm(unit, axis=1, keepdims=True)
        similarity = unit[rows] @ unit.T
        samples[n] = x
        truth[n] = (rows, np.argsort(-similarity, axis=1, kind="stable")[:, :K], 1.0 - similarity)
    for path in paths.values():  # compile (or load) each path once
        path(samples[sizes[0]])
    seconds: dict = {}
    quality: dict = {}
    for _ in range(args.repeats):
        for n in sizes:
            for name, path in paths.items():
                if name == "exact" and n > args.exact_up_to:
                    continue
                start = time.perf_counter()
                indices, distances = path(samples[n])
                seconds.setdefault((n, name), []).append(time.perf_counter() - start)
                rows, true_indices, true_distances = truth[n]
                found = indices[rows].astype(int)
                recall = float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, true_indices)]))
                error = float(np.abs(distances[rows] - np.take_along_axis(true_distances, found, 1)).max())
                quality[(n, name)] = (recall, error)
    table = []
    for (n, name), runs in sorted(seconds.items()):
        recall, error = quality[(n, name)]
        table.append(
            {
                "points": n,
                "path": name,
                "s": float(np.median(runs)),
                "runs": runs,
                "recall": recall,
                "max_distance_error": error,
            }
        )
        print(
            f"{n:>7,}  {name:<28} {np.median(runs):7.2f} s  recall {recall:.4f}  max |d − correlation d| {error:.1e}",
            flush=True,
        )
    if args.json:
        print(json.dumps(table))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
