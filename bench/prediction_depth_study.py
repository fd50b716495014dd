"""Does featlib's prediction depth behave as Baldock et al. (NeurIPS 2021) report? Misclassified and
low-confidence images should be decided in later layers.

Trains the seed MLP (``featlib.models.build_mlp``, seed 0) on a dataset for ``--epochs`` epochs, reads every
layer for a stratified sample of ``--points`` images of ``--split`` (the Layers page's layer set, through
:class:`featlib.service.Service` in this process), computes each image's prediction depth
(:mod:`featlib.maps.prediction_depth`: leave-one-out ``--k``-NN votes with the true labels, compared with the
model's prediction) and prints: the layers, the mean depth of correct and misclassified images, the mean
depth of the least and most confident quarter, and the Spearman correlation of depth with the model's
confidence (the paper: negative).

    .venv/bin/python bench/prediction_depth_study.py [--dataset digits|fashion_mnist] [--split test]
        [--points 2000] [--epochs 5] [--k 10] [--train 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from featlib import datasets, models  # noqa: E402
from featlib.jobs.runner import InlineRunner  # noqa: E402
from featlib.maps import prediction_depth  # noqa: E402
from featlib.service import Service  # noqa: E402
from featlib.store import Workspace  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits", choices=["digits", "fashion_mnist"])
    parser.add_argument("--split", default="test", choices=["train", "test"])
    parser.add_argument("--points", type=int, default=2000, help="stratified sample of the split")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--k", type=int, default=prediction_depth.DEFAULT_K)
    parser.add_argument("--train", type=int, default=20_000, help="training images used (the first ones)")
    args = parser.parse_args(argv)

    dataset = datasets.load_digits() if args.dataset == "digits" else datasets.load_builtin("fashion_mnist")
    start = time.perf_counter()
    model = models.build_mlp((int(np.prod(dataset.x_train.shape[1:])),), seed=0)
    x_train = models.adapt_images(dataset.x_train[: args.train], model)
    x_test = models.adapt_images(dataset.x_test, model)
    result = models.train(
        model,
        x_train,
        dataset.y_train[: args.train],
        x_test,
        dataset.y_test,
        optimizer="adam",
        learning_rate=0.01 if args.dataset == "digits" else 0.001,
        epochs=args.epochs,
        batch_size=32 if args.dataset == "digits" else 128,
    )
    accuracy = result.history.get("val_accuracy", [float("nan")])[-1]
    print(
        f"{dataset.name}: seed MLP, {args.epochs} epochs in {time.perf_counter() - start:.1f} s; test accuracy {accuracy:.3f}"
    )

    service = Service(Workspace(tempfile.mkdtemp()), InlineRunner())
    record = models.save_model(service.workspace, model, "mlp", dataset=dataset.name)
    ls = service.layer_set(record, dataset, args.split, sample_size=args.points)
    predicted, confidence = service.predictions(record, dataset, args.split)
    predicted, confidence = predicted[ls.indices], confidence[ls.indices]
    start = time.perf_counter()
    depth = service.prediction_depth(ls, predicted, args.k)
    seconds = time.perf_counter() - start
    correct = predicted == ls.labels
    found = prediction_depth.summary(depth, correct, confidence)
    low = confidence <= np.quantile(confidence, 0.25)
    high = confidence >= np.quantile(confidence, 0.75)
    print(
        f"{len(ls.indices):,} {args.split} images, {args.k}-NN, {seconds:.2f} s; layers (depth 0..{len(ls.names) - 1}):"
    )
    print("  " + ", ".join(f"{i}={name}" for i, name in enumerate(ls.names)) + f", {len(ls.names)}=never")
    print(f"  depth histogram: {np.bincount(depth, minlength=len(ls.names) + 1).tolist()}")
    print(f"  accuracy on the sample: {correct.mean():.3f}")
    print(f"  mean depth, correct:       {found.mean_correct:.2f} ({found.n_correct} images)")
    print(f"  mean depth, misclassified: {found.mean_wrong:.2f} ({found.n_wrong} images)")
    print(f"  mean depth, least confident quarter: {depth[low].mean():.2f}; most confident: {depth[high].mean():.2f}")
    print(f"  Spearman(depth, confidence) = {found.spearman:+.3f} (p = {found.spearman_p:.2g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
