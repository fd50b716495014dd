"""How each reduction of a convolutional layer keeps its neighbourhoods: the study behind ``auto``'s grid pooling.

A small CNN (28×28×1 → Conv2D 32 ReLU → MaxPooling → Conv2D 64 ReLU → MaxPooling → Flatten → Dense 64
ReLU → Dense 10 softmax, seeded) is trained on Fashion-MNIST (``--train`` images, ``--epochs`` epochs);
each of its convolutional layers is then read for a stratified sample of ``--points`` test images by
every reduction:

- ``flatten``: every value (the reference: the layer's own neighbourhoods);
- ``grid``: average pooling to at most 8×8 cells per channel, 2,048 columns (what ``auto`` reads above 4,096 values);
- ``gap``: global average pooling, one value per channel (what ``auto`` read before);
- ``gmp``: global max pooling;
- ``proj``: a seeded Gaussian random projection of the flattened values to ``--proj`` columns (not a
  featlib reduction: a yardstick for a bounded-width alternative);

and scored by its 10-NN accuracy in the layer (:func:`featlib.metrics.knn_accuracy`: 5-fold stratified,
Euclidean, the figure the Layers page shows), beside the input pixels'. It prints one table (layer,
shape, reduction, columns, 10-NN accuracy, its difference to flatten) and marks ``auto``'s choice.

    .venv/bin/python bench/reductions_study.py [--dataset fashion_mnist] [--points 2000] [--train 20000] [--epochs 2]

``--dataset digits`` (scikit-learn's 8×8 digits, upscaled ×3 to 24×24 so the first Conv2D is above
4,096 values) runs where Fashion-MNIST is not installed; ``mnist`` needs Keras' download.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests"))  # the study's CNN is the tests' own
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from test_grid_pooling import build_cnn  # noqa: E402

from featlib import datasets, metrics  # noqa: E402
from featlib.maps import embed  # noqa: E402
from featlib.read import extract, reductions  # noqa: E402

REDUCTIONS = ("flatten", "grid", "gap", "gmp")


def load(name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """``(x_train, y_train, x_test, y_test, title)``: images float32 in [0, 1] with a channel axis."""
    if name == "digits":
        data = datasets.load_digits()
        up = lambda x: np.kron(x, np.ones((1, 3, 3), np.uint8))  # noqa: E731 - 8×8 → 24×24
        xs = [up(data.x_train), up(data.x_test)]
        title = "scikit-learn digits, upscaled ×3 to 24×24"
    else:
        data = datasets.load_builtin(name)
        xs, title = [data.x_train, data.x_test], data.name
    x_train, x_test = (x[..., None].astype("float32") / 255.0 for x in xs)
    return x_train, np.asarray(data.y_train), x_test, np.asarray(data.y_test), title


def projected(flat: np.ndarray, columns: int, seed: int = 0, chunk: int = 4096) -> np.ndarray:
    """``flat`` times a seeded Gaussian ``(d, columns)`` matrix scaled by 1/sqrt(columns), built chunk by chunk."""
    rng = np.random.default_rng(seed)
    out = np.zeros((len(flat), columns), np.float32)
    for start in range(0, flat.shape[1], chunk):
        block = rng.standard_normal((min(chunk, flat.shape[1] - start), columns), dtype=np.float32)
        out += flat[:, start : start + chunk] @ block
    return out / np.float32(np.sqrt(columns))


def study(args: argparse.Namespace) -> list[dict]:
    """Trains the CNN and scores every reduction of each convolutional layer; returns the table's rows."""
    x_train, y_train, x_test, y_test, title = load(args.dataset)
    model = build_cnn(x_train.shape[1:])
    started = time.perf_counter()
    keep = embed.stratified_sample(y_train, min(args.train, len(y_train)), seed=0)
    model.fit(x_train[keep], y_train[keep], epochs=args.epochs, batch_size=128, verbose=0)
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    print(
        f"{title}: CNN trained on {len(keep):,} images for {args.epochs} epochs in "
        f"{time.perf_counter() - started:.0f} s, test accuracy {accuracy:.3f}"
    )
    sample = embed.stratified_sample(y_test, min(args.points, len(y_test)), seed=0)
    x, labels = x_test[sample], y_test[sample]
    rows = [
        {
            "layer": "input",
            "shape": reductions.shape_text(x.shape[1:]),
            "reduction": "flatten",
            "columns": int(np.prod(x.shape[1:])),
            "knn_acc": metrics.knn_accuracy(x.reshape(len(x), -1), labels),
        }
    ]
    for layer in ("conv2d", "conv2d_1"):
        shape = reductions.output_shape(model, layer)
        auto = reductions.default_reduction(shape)
        scores = {}
        for reduction in REDUCTIONS:
            rep = extract.extract(model, layer, x, reduction=reduction)
            scores[reduction] = (rep.shape[1], metrics.knn_accuracy(rep, labels))
            if reduction == "flatten" and args.proj:
                scores["proj"] = (args.proj, metrics.knn_accuracy(projected(rep, args.proj), labels))
        for reduction, (columns, score) in scores.items():
            rows.append(
                {
                    "layer": layer,
                    "shape": reductions.shape_text(shape),
                    "reduction": reduction + (" (auto)" if reduction == auto else ""),
                    "columns": int(columns),
                    "knn_acc": float(score),
                    "vs_flatten": float(score) - float(scores["flatten"][1]),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--dataset", default="fashion_mnist", choices=["fashion_mnist", "mnist", "digits"])
    parser.add_argument("--points", type=int, default=2000, help="stratified test images scored (default 2,000)")
    parser.add_argument("--train", type=int, default=20000, help="training images (default 20,000)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--proj", type=int, default=1024, help="random projection's columns (0: none)")
    args = parser.parse_args(argv)
    rows = study(args)
    print(f"\n10-NN accuracy in the layer ({args.points:,} stratified test images, 5-fold, Euclidean)")
    print(f"{'layer':<9} {'shape':<9} {'reduction':<15} {'columns':>8} {'10-NN acc':>10} {'vs flatten':>11}")
    for row in rows:
        diff = f"{row['vs_flatten']:+.3f}" if "vs_flatten" in row else ""
        print(
            f"{row['layer']:<9} {row['shape']:<9} {row['reduction']:<15} {row['columns']:>8,} "
            f"{row['knn_acc']:>10.3f} {diff:>11}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
