"""featlib's seeded UMAP layout on every core (:mod:`featlib.maps.layout`) against umap-learn's seeded one (one thread).

For each case (the digits' 1,437 training images; label-stratified samples of Fashion-MNIST, seed 0, train then
test split; pixels scaled to 0..1, flattened, reduced to 50 columns by featlib's PCA as a wide layer's map is),
the same kNN graph (:func:`featlib.maps.embed.nearest_neighbours`, Euclidean, 15 neighbours) is laid out by:

- ``umap-learn``: ``umap.UMAP(random_state=seed, n_epochs=..., init=..., precomputed_knn=graph)`` with featlib's
  schedule (:func:`featlib.maps.embed.layout_schedule`: 300 epochs from the spectral start up to 10,000 points):
  what :func:`featlib.maps.embed.umap_embed` ran before; umap-learn lays a seeded map out on one thread;
- ``featlib, N threads``: :func:`featlib.maps.embed.umap_embed` with the same graph, Numba set to ``N`` threads.

Each map is timed (wall seconds of the fit; ``layout_s``: from the layout's first progress report to its last)
and scored by the figures featlib's maps show: the 10-NN accuracy of the labels on the map
(:func:`featlib.metrics.knn_accuracy`) and its trustworthiness against the pixels
(:func:`featlib.metrics.trustworthiness`, 10 neighbours, sklearn's ``trustworthiness`` on a sample of 2,000
points above that many). ``same`` says whether featlib's maps on 1 and 2 threads are equal, bit for bit. The
load average is printed before and after: on a shared machine the times are what they were, not what an idle
machine gives.

Run: ``.venv/bin/python bench/parallel_layout_study.py`` (Fashion-MNIST from Debian's ``dataset-fashion-mnist``,
offline); ``--cases digits`` for a quick look, ``--seeds 42,7,1`` to average the scores over seeds,
``--threads 1,2,4`` for other thread counts, ``--json FILE`` to keep the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

from featlib import datasets, metrics
from featlib.lazy import numba, umap
from featlib.maps import embed

CASES = ("digits", "fashion_mnist:2000", "fashion_mnist:10000")
PARAMS = embed.UMAPParams(metric="euclidean")


def load(case: str) -> tuple[np.ndarray, np.ndarray]:
    """``(points, labels)`` of a case: ``digits`` (the 1,437 training images) or ``fashion_mnist:N`` (N images)."""
    name, _, size = case.partition(":")
    data = datasets.load_digits() if name == "digits" else datasets.load_builtin(name)
    if name == "digits":
        images, labels = data.x_train, data.y_train
    else:
        images = np.concatenate([data.x_train, data.x_test])
        labels = np.concatenate([data.y_train, data.y_test])
        keep = embed.stratified_sample(labels, int(size), seed=0)
        images, labels = images[keep], labels[keep]
    return (images.reshape(len(images), -1) / 255.0).astype("float32"), labels


class Clock:
    """A progress function that keeps the times of the layout's first and last reports."""

    def __init__(self) -> None:
        self.first: float | None = None
        self.last: float | None = None

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "layout":
            now = time.perf_counter()
            self.first = now if self.first is None else self.first
            self.last = now

    @property
    def seconds(self) -> float:
        return float("nan") if self.first is None else self.last - self.first


def umap_learn(x: np.ndarray, graph: tuple, params: embed.UMAPParams, clock: Clock) -> np.ndarray:
    """umap-learn's seeded map of the graph, as featlib's umap_embed made it before (one thread for the layout)."""
    epochs, init = embed.layout_schedule(len(x))
    sink = embed._TqdmProgress(clock)
    reducer = umap.UMAP(
        n_neighbors=params.n_neighbors,
        min_dist=params.min_dist,
        metric=params.metric,
        random_state=params.random_state,
        n_epochs=params.n_epochs or epochs,
        init=init,
        precomputed_knn=graph,
        tqdm_kwds={"disable": False, "file": sink, "bar_format": "{n}/{total}\n", "mininterval": 0.0},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return reducer.fit_transform(x).astype("float32")


def featlib_map(x: np.ndarray, graph: tuple, params: embed.UMAPParams, clock: Clock, threads: int) -> np.ndarray:
    """:func:`featlib.maps.embed.umap_embed` of the graph on ``threads`` of Numba's threads."""
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return embed.umap_embed(x, params, progress=clock, knn_graph=graph, backend="cpu")
    finally:
        numba.set_num_threads(before)


def measure(case: str, seeds: list[int], threads: list[int]) -> list[dict]:
    """One row per method: seconds (the first seed's fit), 10-NN accuracy and trustworthiness (means over seeds)."""
    pixels, labels = load(case)
    x = embed.reduce_width(pixels, PARAMS)
    graph = embed.nearest_neighbours(x, PARAMS)
    methods = {"umap-learn (1 thread)": None} | {f"featlib, {n} thread{'s' * (n > 1)}": n for n in threads}
    rows = {name: {"case": case, "points": len(x), "method": name, "acc": [], "trust": []} for name in methods}
    maps: dict[tuple[str, int], np.ndarray] = {}
    for seed in seeds:
        params = replace(PARAMS, random_state=seed)
        for name, n in methods.items():
            clock = Clock()
            start = time.perf_counter()
            coords = umap_learn(x, graph, params, clock) if n is None else featlib_map(x, graph, params, clock, n)
            seconds = time.perf_counter() - start
            maps[name, seed] = coords
            row = rows[name]
            row.setdefault("s", seconds)
            row.setdefault("layout_s", clock.seconds)
            row["acc"].append(float(metrics.knn_accuracy(coords, labels)))
            row["trust"].append(float(metrics.trustworthiness(pixels, coords)))
    featlib_names = [name for name, n in methods.items() if n is not None]
    same = all(
        np.array_equal(maps[featlib_names[0], seed], maps[name, seed]) for name in featlib_names for seed in seeds
    )
    out = []
    for name, row in rows.items():
        row["acc"], row["trust"] = float(np.mean(row["acc"])), float(np.mean(row["trust"]))
        row["same_on_all_threads"] = same if name in featlib_names else None
        out.append(row)
    return out


def table(rows: list[dict]) -> str:
    """The figures as a Markdown table, with each featlib row's speed-up over umap-learn's seeded fit."""
    lines = [
        "| case | points | method | fit s | layout s | × umap-learn (fit / layout) | 10-NN acc | trust | same map |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    base = {row["case"]: row for row in rows if row["method"].startswith("umap-learn")}
    for row in rows:
        ref = base[row["case"]]
        speed = f"{ref['s'] / row['s']:.2f} / {ref['layout_s'] / row['layout_s']:.2f}"
        same = "" if row["same_on_all_threads"] is None else ("yes" if row["same_on_all_threads"] else "NO")
        lines.append(
            f"| {row['case']} | {row['points']:,} | {row['method']} | {row['s']:.2f} | {row['layout_s']:.2f} | "
            f"{speed} | {row['acc']:.4f} | {row['trust']:.4f} | {same} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Runs the study and prints its table (and the load average before and after)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated (default {','.join(CASES)})")
    parser.add_argument("--seeds", default="42", help="comma-separated seeds (default 42)")
    parser.add_argument("--threads", default="1,2", help="featlib's Numba thread counts (default 1,2)")
    parser.add_argument("--json", type=Path, help="also write the rows to this file")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    threads = [int(n) for n in args.threads.split(",")]
    print(f"cores: {os.cpu_count()}, Numba threads: {numba.get_num_threads()}, load average: {os.getloadavg()}")
    warm, _ = load("digits")  # compile (or load) umap-learn's and featlib's code: not timed
    graph = embed.nearest_neighbours(warm[:500], PARAMS)
    umap_learn(warm[:500], graph, replace(PARAMS, n_epochs=10), Clock())
    featlib_map(warm[:500], graph, replace(PARAMS, n_epochs=10), Clock(), max(threads))
    rows = []
    for case in args.cases.split(","):
        rows += measure(case, seeds, threads)
        print(f"{case} done; load average: {os.getloadavg()}", flush=True)
    print(table(rows))
    print(f"load average after: {os.getloadavg()}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
