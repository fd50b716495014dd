"""t-SNE: openTSNE (featlib's, :func:`featlib.maps.embed.tsne_embed`) against scikit-learn's, and a UMAP map beside.

For each size, a label-stratified sample (:func:`featlib.maps.embed.stratified_sample`, seed 0) of the dataset's
images (train then test split, pixels scaled to 0..1, flattened) is reduced to 50 columns by featlib's PCA (as
a map of a wide layer is), then mapped to 2-D:

- ``opentsne``: :func:`featlib.maps.embed.tsne_embed` with the defaults (perplexity 30, seed 42, one thread);
- ``sklearn``: ``sklearn.manifold.TSNE(2, perplexity=30, init="pca", random_state=42, n_jobs=1)``, what
  featlib used before (skipped above ``--sklearn-up-to`` points);
- ``umap``: :func:`featlib.maps.embed.umap_embed` with featlib's defaults and the labels (its ``metric="auto"``
  trial maps included), after an untimed warm-up fit, at ``--umap-sizes`` (the default map's 10,000 points),
  first.

Each map is timed (wall seconds, one fit) and scored by the 10-NN accuracy featlib reports
(:func:`featlib.metrics.knn_accuracy`). The last lines say how many points openTSNE maps in the time of the
default UMAP map (log-log interpolation between the sizes measured): the rule for
:data:`featlib.maps.reducer_params.TSNE_SAMPLE`.

Run: ``.venv/bin/python bench/tsne_study.py`` (Fashion-MNIST from Debian's ``dataset-fashion-mnist``, offline;
``--dataset digits`` for a quick look, ``--sizes 1000,2000`` for fewer sizes, ``--json FILE`` to keep the figures).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from featlib import metrics
from featlib.datasets import sources
from featlib.lazy import sklearn, threadpoolctl
from featlib.maps import embed

SIZES = (1_000, 2_000, 5_000, 10_000)
SEED = 42


def load(spec: str) -> tuple[np.ndarray, np.ndarray]:
    """Every image of ``spec`` (train, then test) as float32 rows in 0..1, and their labels."""
    data = sources.load_dataset(spec)
    images = np.concatenate([data.x_train, data.x_test])
    labels = np.concatenate([data.y_train, data.y_test])
    return (images.reshape(len(images), -1) / 255.0).astype("float32"), labels


def sklearn_tsne(x: np.ndarray) -> np.ndarray:
    """scikit-learn's t-SNE as featlib called it before openTSNE (Barnes-Hut, PCA start, one core)."""
    model = sklearn.manifold.TSNE(2, perplexity=30.0, init="pca", random_state=SEED, n_jobs=1)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        return model.fit_transform(x).astype("float32")


def timed(fit, x: np.ndarray, labels: np.ndarray) -> dict:
    """``{"s": wall seconds of fit(x), "knn_acc_2d": 10-NN accuracy of its map}``."""
    start = time.perf_counter()
    coords = fit(x)
    seconds = time.perf_counter() - start
    return {"s": seconds, "knn_acc_2d": float(metrics.knn_accuracy(coords, labels))}


def points_in(seconds: float, times: dict[int, float]) -> float:
    """The points openTSNE maps in ``seconds``: log-log interpolation (or extrapolation) of ``{points: seconds}``."""
    sizes = sorted(times)
    logs_n, logs_s = np.log([float(n) for n in sizes]), np.log([times[n] for n in sizes])
    if len(sizes) == 1:
        return float(sizes[0] * seconds / times[sizes[0]])
    i = int(np.clip(np.searchsorted(logs_s, np.log(seconds)), 1, len(sizes) - 1))
    slope = (logs_n[i] - logs_n[i - 1]) / (logs_s[i] - logs_s[i - 1])
    return float(np.exp(logs_n[i - 1] + slope * (np.log(seconds) - logs_s[i - 1])))


def run(spec: str, sizes: list[int], sklearn_up_to: int, umap_sizes: list[int], log=print) -> dict:
    """The figures: ``{"dataset", "rows": [{"n_points", "opentsne_s", ...}], "umap": {n: {...}}, "tsne_points_in_umap_time"}``."""
    x, labels = load(spec)
    rows, umap_rows = [], {}
    if umap_sizes:  # first, so that a long scikit-learn run cut short still leaves the calibration
        warm = embed.stratified_sample(labels, min(2_000, len(x)))
        embed.umap_embed(x[warm], embed.UMAPParams(), backend="cpu", labels=labels[warm])  # compile, untimed
    for n in sorted({min(n, len(x)) for n in umap_sizes}):
        idx = embed.stratified_sample(labels, n)
        fit = lambda p, y=labels[idx]: embed.umap_embed(p, embed.UMAPParams(), backend="cpu", labels=y)  # noqa: E731
        umap_rows[n] = timed(fit, x[idx], labels[idx])
        log(f"{n:>7,} points  {'umap':<9} {umap_rows[n]['s']:8.1f} s  10-NN accuracy {umap_rows[n]['knn_acc_2d']:.3f}")
    for n in sorted({min(n, len(x)) for n in sizes}):
        idx = embed.stratified_sample(labels, n)
        points = embed.reduce_width(x[idx], embed.UMAPParams())  # featlib's PCA to 50 columns (784 > 100)
        row: dict = {"n_points": n}
        for name, fit in (("opentsne", lambda p: embed.tsne_embed(p, backend="cpu")), ("sklearn", sklearn_tsne)):
            if name == "sklearn" and n > sklearn_up_to:
                row[f"{name}_s"] = row[f"{name}_knn_acc_2d"] = None
                continue
            figures = timed(fit, points, labels[idx])
            row[f"{name}_s"], row[f"{name}_knn_acc_2d"] = figures["s"], figures["knn_acc_2d"]
            log(f"{n:>7,} points  {name:<9} {figures['s']:8.1f} s  10-NN accuracy {figures['knn_acc_2d']:.3f}")
        rows.append(row)
    result = {"dataset": spec, "rows": rows, "umap": umap_rows}
    if umap_rows and rows:
        default_umap = umap_rows[max(umap_rows)]["s"]
        result["tsne_points_in_umap_time"] = points_in(default_umap, {r["n_points"]: r["opentsne_s"] for r in rows})
    return result


def format_table(result: dict) -> str:
    """The figures as text: a row per size, openTSNE and scikit-learn side by side, then UMAP's."""
    lines = [
        f"t-SNE on {result['dataset']} (PCA to 50 columns, perplexity 30, seed 42, one thread): seconds (10-NN accuracy)",
        f"{'points':>7} | {'openTSNE':>18} | {'scikit-learn':>18} | speed-up",
    ]
    for row in result["rows"]:
        cells = []
        for name in ("opentsne", "sklearn"):
            s, acc = row[f"{name}_s"], row[f"{name}_knn_acc_2d"]
            cells.append(f"{'skipped':>18}" if s is None else f"{f'{s:.1f} s ({acc:.3f})':>18}")
        ratio = f"{row['sklearn_s'] / row['opentsne_s']:.1f}×" if row["sklearn_s"] else "-"
        lines.append(f"{row['n_points']:>7,} | {cells[0]} | {cells[1]} | {ratio}")
    for n, fig in result["umap"].items():
        lines.append(f"UMAP (featlib's defaults), {n:,} points: {fig['s']:.1f} s ({fig['knn_acc_2d']:.3f})")
    if "tsne_points_in_umap_time" in result:
        lines.append(f"openTSNE maps about {result['tsne_points_in_umap_time']:,.0f} points in that time")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """The command line: prints the table (and writes ``--json``)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist", help="a dataset spec (default fashion_mnist)")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated sample sizes")
    parser.add_argument("--sklearn-up-to", type=int, default=10_000, help="scikit-learn's t-SNE up to this many points")
    parser.add_argument("--umap-sizes", default="10000", help="UMAP's sizes (empty: none); the largest calibrates")
    parser.add_argument("--json", default="", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    sizes = [int(n) for n in args.sizes.split(",") if n]
    umap_sizes = [int(n) for n in args.umap_sizes.split(",") if n]
    result = run(args.dataset, sizes, args.sklearn_up_to, umap_sizes, log=lambda text: print(text, flush=True))
    print()
    print(format_table(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
