"""How stable a training's map is across its checkpoints, and what it costs (issue 29, item 2).

Trains the seed MLP (784-128-64-10, Adam) on Fashion-MNIST (the digits when it is not installed) for
``--epochs`` epochs with :class:`featlib.callbacks.CheckpointCallback`-style copies of the weights after
each epoch, reads ``dense_1`` (64 units) of every checkpoint for ``--points`` stratified test images, then
maps them three ways and prints, for each, the seconds it took and each image's median move between
consecutive epochs (in units of the map's size, :func:`featlib.maps.checkpoint_flow.displacement`):

- ``aligned``: :func:`featlib.maps.checkpoint_flow.checkpoint_flow` (``method="aligned"``, featlib's default:
  umap-learn's ``AlignedUMAP``, each image tied to itself in the next checkpoint);
- ``transform``: the same with ``method="transform"`` (one UMAP of the last checkpoint, the others placed on it);
- ``independent``: one UMAP per checkpoint (:func:`featlib.maps.embed.umap_embed`), each turned and mirrored
  onto the one before (Procrustes without scaling, the Compare page's alignment), the fairest baseline;
  and the same unaligned (``independent raw``).

    .venv/bin/python bench/checkpoint_flow.py [--points 10000] [--sizes 500,1000,2000] [--epochs 4] [--json]

Each method is also timed on smaller stratified samples (``--sizes``), to see how its time grows.

The numbers depend on the machine's load; run it alone. Numba compiles on the first fit of each kind in a
fresh process, so a warm-up fit of 500 points runs first.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from featlib import datasets, models  # noqa: E402
from featlib.errors import DatasetUnavailableError  # noqa: E402
from featlib.lazy import keras  # noqa: E402
from featlib.maps import align, embed  # noqa: E402
from featlib.maps import checkpoint_flow as flow_lib  # noqa: E402


def checkpoint_reps(points: int, epochs: int) -> tuple[list[np.ndarray], np.ndarray, str]:
    """``dense_1`` of every epoch's weights for a stratified sample of ``points`` test images, their labels."""
    try:
        dataset = datasets.load_builtin("fashion_mnist")
    except DatasetUnavailableError:
        dataset = datasets.load_digits()
    model = models.build_mlp((int(np.prod(dataset.x_train.shape[1:])),), seed=0)
    x_train = models.adapt_images(dataset.x_train, model)
    images, labels = dataset.split("test")
    result = models.train(
        model,
        x_train,
        dataset.y_train,
        models.adapt_images(images, model),
        labels,
        optimizer="adam",
        learning_rate=0.001,
        epochs=epochs,
        batch_size=128,
        checkpoint_epochs=list(range(1, epochs)),
    )
    chosen = embed.stratified_sample(labels, points, seed=0)
    x = models.adapt_images(images[chosen], model)
    reps = []
    for epoch in range(1, epochs + 1):
        at = model if epoch == epochs else models.model_with_weights(model, result.checkpoints[epoch].weights)
        reader = keras.Model(at.inputs, at.get_layer("dense_1").output)
        reps.append(np.asarray(reader.predict(x, batch_size=1024, verbose=0), dtype="float32"))
    return reps, labels[chosen], dataset.name


def timed(function) -> tuple[object, float]:
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start


def _independent(reps: list[np.ndarray], params) -> tuple[np.ndarray, np.ndarray]:
    """One UMAP per checkpoint, and the same each turned and mirrored onto the one before (no scaling)."""
    independent = [embed.umap_embed(r, params) for r in reps]
    indices = np.arange(len(reps[0]))
    turned = [independent[0]]
    for coords in independent[1:]:
        fit = align.fit_on_shared(indices, turned[-1], indices, coords, scale=False)
        turned.append(fit.apply(coords).astype("float32"))
    return np.stack(independent), np.stack(turned)


def _row(seconds: float, flow: np.ndarray) -> dict:
    moves = flow_lib.displacement(flow)
    return {"seconds": round(seconds, 1), "median_move_per_epoch": [round(float(np.median(m)), 4) for m in moves]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--sizes", default="", help="smaller samples timed too, e.g. 500,1000,2000")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    reps, labels, name = checkpoint_reps(args.points, args.epochs)
    params = embed.UMAPParams(metric="euclidean")
    warm = [r[:300] for r in reps[:2]]
    methods = {m: functools.partial(flow_lib.checkpoint_flow, method=m) for m in flow_lib.METHODS}
    for make in methods.values():
        make(warm, params)  # Numba's compiling, not counted (AlignedUMAP compiles its layout at every fit)
    embed.umap_embed(warm[0], params)
    rows = {}
    sizes = [int(n) for n in args.sizes.split(",") if n.strip()] + [len(labels)]
    for size in sorted(set(sizes)):
        chosen = embed.stratified_sample(labels, size, seed=0) if size < len(labels) else np.arange(len(labels))
        part = [r[chosen] for r in reps]
        for method, make in methods.items():
            flow, seconds = timed(lambda f=make, p=part: f(p, params))
            rows[f"{method} @ {size:,}"] = _row(seconds, flow)
            print(f"{method} @ {size:,}", rows[f"{method} @ {size:,}"], file=sys.stderr, flush=True)
        (raw, turned), seconds = timed(lambda p=part: _independent(p, params))
        rows[f"independent, Procrustes onto the epoch before @ {size:,}"] = _row(seconds, turned)
        rows[f"independent, raw @ {size:,}"] = _row(seconds, raw)
        print(f"independent @ {size:,}", rows[f"independent, raw @ {size:,}"], file=sys.stderr, flush=True)
    report = {"dataset": name, "points": int(len(labels)), "checkpoints": len(reps), "layer": "dense_1", "maps": rows}
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{report['dataset']}: dense_1, {report['points']:,} test images × {report['checkpoints']} checkpoints")
    print(f"{'map':58} {'seconds':>8}  median move between consecutive epochs (map sizes)")
    for key, row in rows.items():
        if "seconds" in row:
            print(f"{key:58} {row['seconds']:8.1f}  {row['median_move_per_epoch']}")
        else:
            print(f"{key:58} {row}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
