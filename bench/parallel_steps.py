"""Which steps of a map gain from both cores without changing the result: one thread against two, per step.

Runs, on ``--points`` (default 10,000) vectors of layer ``dense_1`` of the
seed MLP on Fashion-MNIST (2 epochs, as ``python -m featlib bench``), and on
its 784 input pixels for the PCA steps, each step with one thread and with
``--threads`` (default 2), in a process started as a Dask worker is
(``OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=MKL_NUM_THREADS=1``, Dask's
``distributed.nanny.pre-spawn-environ``), and says whether the results are
bit for bit the same:

- ``knn_search``: umap-learn's nearest-neighbour search (pynndescent, fixed
  ``random_state``), ``n_jobs`` 1 against ``--threads``, run twice each;
- ``pca_width``: scikit-learn's PCA 784 → 50 (what :func:`featlib.maps.embed.reduce_width`
  runs), BLAS threads 1 against ``--threads`` (threadpoolctl);
- ``pca_2d``: the 2-D PCA preview (what :func:`featlib.maps.embed.pca_embed` runs), the same;
- ``knn_acc`` / ``knn_acc_2d``: 5-fold 10-NN accuracy of the layer and of a
  map (:func:`featlib.metrics.knn_accuracy`), scikit-learn's
  ``KNeighborsClassifier(n_jobs=...)``;
- ``silhouette``: scikit-learn's ``silhouette_score(n_jobs=...)``;
- ``trustworthiness``: scikit-learn's trustworthiness (no ``n_jobs``), BLAS threads 1 against ``--threads``.

(featlib itself now runs PCA on one BLAS thread and trustworthiness on two:
this script calls scikit-learn directly to compare both counts.)

Each time is the median of ``--repeats`` runs after one untimed run. On a
shared machine the times are noisy; whether results match is not.

    .venv/bin/python bench/parallel_steps.py [--points 10000] [--threads 2] [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # as in a Dask worker
    os.environ.setdefault(name, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median seconds of ``fn()`` over ``repeats`` runs after one untimed run, and its last result."""
    result = fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    return float(np.median(runs)), result


def same(a: object, b: object) -> bool:
    """Whether two results are bit for bit equal (arrays, tuples of arrays, floats)."""
    if isinstance(a, tuple):
        return all(same(x, y) for x, y in zip(a, b) if x is not None)
    return bool(np.array_equal(np.asarray(a), np.asarray(b)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    from featlib import datasets, models, quiet
    from featlib.maps import compile_cache, embed
    from featlib.read import extract

    quiet.setup()
    compile_cache.enable()
    data = datasets.load_builtin("fashion_mnist")
    chosen = embed.stratified_sample(data.y_train, args.points)
    images, labels = data.x_train[chosen], data.y_train[chosen]
    model = models.build_mlp((784,), num_classes=10)
    x = models.adapt_images(images, model)
    models.train(model, x, labels, x[:1000], labels[:1000], epochs=2, batch_size=128)
    reps = extract.Extractor(model, "dense_1", "function")(x)
    coords = embed.umap_embed(reps, embed.UMAPParams())
    from umap.umap_ import nearest_neighbors

    def knn(threads: int):
        return lambda: nearest_neighbors(reps, 15, "euclidean", {}, False, np.random.RandomState(0), n_jobs=threads)[:2]

    def blas(fn: Callable[[], object], threads: int) -> Callable[[], object]:
        def run():
            with threadpool_limits(threads, user_api="blas"):
                return fn()

        return run

    def knn_acc(points, threads: int):
        from sklearn.model_selection import StratifiedKFold, cross_val_score
        from sklearn.neighbors import KNeighborsClassifier

        cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
        return lambda: float(np.mean(cross_val_score(KNeighborsClassifier(10, n_jobs=threads), points, labels, cv=cv)))

    def silhouette(threads: int):
        from sklearn.metrics import silhouette_score

        return lambda: float(silhouette_score(reps, labels, n_jobs=threads))

    from sklearn.decomposition import PCA
    from sklearn.manifold import trustworthiness

    steps: dict[str, Callable[[int], Callable[[], object]]] = {
        "knn_search": knn,
        "pca_width": lambda t: blas(lambda: PCA(50, random_state=0).fit_transform(x), t),
        "pca_2d": lambda t: blas(lambda: PCA(2, random_state=0).fit_transform(x), t),
        "knn_acc": lambda t: knn_acc(reps, t),
        "knn_acc_2d": lambda t: knn_acc(coords, t),
        "silhouette": silhouette,
        "trustworthiness": lambda t: blas(lambda: trustworthiness(reps, coords, n_neighbors=10), t),
    }
    rows = []
    for step, make in steps.items():
        one_s, one = timed(make(1), args.repeats)
        many_s, many = timed(make(args.threads), args.repeats)
        _, many_again = timed(make(args.threads), 1)
        row = {
            "step": step,
            "one_thread_s": one_s,
            f"{args.threads}_threads_s": many_s,
            "speed_up": one_s / many_s,
            "same_result": same(one, many),
            "repeatable": same(many, many_again),
        }
        rows.append(row)
        print(
            f"{step:<16} 1 thread {one_s:7.3f} s  {args.threads} threads {many_s:7.3f} s  ×{one_s / many_s:4.2f}  "
            f"same result: {row['same_result']}  repeatable: {row['repeatable']}",
            flush=True,
        )
    if args.json:
        print(json.dumps({"points": args.points, "threads": args.threads, "rows": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
