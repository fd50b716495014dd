"""Prediction depth: the first layer from which an image's k-NN label in every later layer is the model's answer.

Baldock, Maennel and Neyshabur, "Deep Learning Through the Lens of Example Difficulty" (NeurIPS 2021),
define an image's *prediction depth* as the earliest layer after which a k-NN classifier built on each
layer's representation agrees with the network's final prediction in that layer and in every later one.
Their k-NN classifiers are fit on the training set's representations with the training labels (the
"support set", k = 30); easy images are decided early, hard, ambiguous and misclassified ones late.

featlib computes it on one stratified sample of a split (a :class:`~featlib.read.layers.LayerSet`):
the sample is its own support set, each image's k-NN vote is taken among the *other* sampled images
(leave-one-out, so an image never votes for itself), the neighbours vote with their **true labels** as the
paper's support set does, and the vote is compared with the model's **predicted** label of the image.
``support`` lets a caller vote with other labels (the model's predictions, for a model that is far from
its training data). Neighbours are Euclidean (the paper's) in each representation's own space
(:func:`featlib.maps.knn.graph`: exact up to :data:`featlib.maps.knn.EXACT_UP_TO` points, memory
bounded by its chunks). Votes are a majority; a tie goes to the class of the nearest tied neighbour.

Depth counts representations in order: 0 is the first (the input pixels when the layer set holds
them), ``L - 1`` the last; an image whose vote disagrees with the prediction in the last representation
is never settled and gets depth ``L``.

Example:
    >>> import numpy as np
    >>> early = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    >>> prediction_depth([early, early], np.array([0, 0, 0, 1, 1, 1]), k=2).tolist()
    [0, 0, 0, 0, 0, 0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from featlib.errors import NeighbourError
from featlib.lazy import scipy
from featlib.maps import knn

DEFAULT_K = 10
"""Neighbours voting per image. The paper uses 30 on the full training set; featlib's samples are small (a few
hundred to a few thousand images, tens per class), where 30 would reach into other classes' clusters."""
METRIC = "euclidean"
"""The neighbours' distance in every representation (the paper's)."""


def knn_votes(x: np.ndarray, support: np.ndarray, k: int, n_classes: int) -> np.ndarray:
    """Each row's leave-one-out k-NN vote: the majority label of its ``k`` nearest other rows.

    Args:
        x: float ``(n, d)``, finite, ``n > k``.
        support: int ``(n,)``: the labels the neighbours vote with, in ``[0, n_classes)``.
        k: neighbours voting per row (the row itself excluded).
        n_classes: number of classes.

    Returns:
        int64 ``(n,)``: the winning class; a tie goes to the tied class of the nearest neighbour.
    """
    found, _ = knn.graph(np.asarray(x, dtype=np.float32), k + 1, METRIC)
    near = found[:, 1:]  # the row itself is first: left out
    n = len(near)
    # Each vote weighs 1, plus a bonus below 1 in all that favours nearer neighbours, breaking ties only.
    bonus = (k - np.arange(k)) / (k * (k + 1) + 1.0)
    counts = np.zeros((n, n_classes))
    np.add.at(counts, (np.repeat(np.arange(n), k), support[near].reshape(-1)), np.tile(1.0 + bonus, n))
    return counts.argmax(axis=1).astype(np.int64)


def agreement(
    reps: Sequence[np.ndarray], predicted: np.ndarray, k: int = DEFAULT_K, support: np.ndarray | None = None
) -> np.ndarray:
    """Whether each representation's leave-one-out k-NN vote matches the model's prediction, per image.

    Args:
        reps: ``L`` float arrays ``(n, units_l)``, the same ``n`` images in the same order, in layer order.
        predicted: int ``(n,)``: the model's final predicted label of each image.
        k: neighbours voting per image (``1 <= k < n``).
        support: int ``(n,)``: the labels the neighbours vote with (default: ``predicted``); featlib's
            pages pass the true labels (the paper's support set).

    Returns:
        bool ``(L, n)``.

    Raises:
        NeighbourError: no representation, arrays of other lengths, ``k`` out of range, non-finite values.
    """
    predicted = np.asarray(predicted).astype(np.int64).reshape(-1)
    support = predicted if support is None else np.asarray(support).astype(np.int64).reshape(-1)
    n = len(predicted)
    if not reps:
        raise NeighbourError("Prediction depth needs at least one representation; got none.")
    if len(support) != n or any(len(x) != n for x in reps):
        raise NeighbourError(
            "Prediction depth compares the same images in every representation: expected "
            f"{n} rows everywhere; got support {len(support)} and representations {[len(x) for x in reps]}."
        )
    if not 1 <= k < n:
        raise NeighbourError(
            f"Prediction depth's k-NN vote needs 1 <= k < images; got k = {k} for {n} images: lower k or "
            "raise the sample size."
        )
    if predicted.min(initial=0) < 0 or support.min(initial=0) < 0:
        raise NeighbourError("Prediction depth needs labels of 0 or more; got a negative label.")
    for i, x in enumerate(reps):
        if not np.isfinite(x).all():
            raise NeighbourError(
                f"Prediction depth needs finite representations; representation {i} holds NaN or inf: "
                "leave that layer out."
            )
    n_classes = int(max(predicted.max(), support.max())) + 1
    return np.stack([knn_votes(np.asarray(x).reshape(n, -1), support, k, n_classes) == predicted for x in reps])


def depth_of(agree: np.ndarray) -> np.ndarray:
    """The prediction depth from :func:`agreement`'s ``(L, n)``: the first layer from which every vote agrees.

    Returns int64 ``(n,)`` in ``[0, L]``; ``L``: the vote disagrees in the last representation.
    """
    agree = np.asarray(agree, dtype=bool)
    settled = np.logical_and.accumulate(agree[::-1], axis=0)[::-1]  # agrees here and in every later layer
    return (len(agree) - settled.sum(axis=0)).astype(np.int64)


def prediction_depth(
    reps: Sequence[np.ndarray], predicted: np.ndarray, k: int = DEFAULT_K, support: np.ndarray | None = None
) -> np.ndarray:
    """Each image's prediction depth (Baldock et al., NeurIPS 2021; see the module's notes for featlib's choices).

    Args:
        reps: ``L`` float arrays ``(n, units_l)`` of the same images, in layer order (index 0 first).
        predicted: int ``(n,)``: the model's final predicted label of each image.
        k: neighbours voting per image, the image itself excluded (:data:`DEFAULT_K`).
        support: int ``(n,)``: the labels the neighbours vote with (default ``predicted``; the paper's and
            featlib's pages: the true labels).

    Returns:
        int64 ``(n,)``: the index of the first representation from which the k-NN vote equals
        ``predicted`` in it and in every later one; ``L`` for an image never settled.

    Raises:
        NeighbourError: see :func:`agreement`.
    """
    return depth_of(agreement(reps, predicted, k, support))


@dataclass(frozen=True)
class DepthSummary:
    """What prediction depth says about the model's errors and confidence (the paper's findings, checked)."""

    mean_correct: float
    """Mean depth of the correctly classified images (NaN when there are none)."""
    mean_wrong: float
    """Mean depth of the misclassified images (NaN when there are none)."""
    n_correct: int
    n_wrong: int
    spearman: float
    """Spearman rank correlation of depth with the model's confidence (the paper: negative; NaN when either is constant)."""
    spearman_p: float


def summary(depth: np.ndarray, correct: np.ndarray, confidence: np.ndarray) -> DepthSummary:
    """Mean depth of correct against misclassified images, and depth's Spearman correlation with confidence.

    Args:
        depth: int ``(n,)``; correct: bool ``(n,)``; confidence: float ``(n,)``, the predicted class's probability.
    """
    depth = np.asarray(depth, dtype=float)
    correct = np.asarray(correct, dtype=bool)
    confidence = np.asarray(confidence, dtype=float)
    right, wrong = depth[correct], depth[~correct]
    if len(depth) > 2 and np.ptp(depth) > 0 and np.ptp(confidence) > 0:
        rho, p = scipy.stats.spearmanr(depth, confidence)
    else:
        rho, p = float("nan"), float("nan")
    return DepthSummary(
        float(right.mean()) if len(right) else float("nan"),
        float(wrong.mean()) if len(wrong) else float("nan"),
        int(len(right)),
        int(len(wrong)),
        float(rho),
        float(p),
    )


def counts_by_class(depth: np.ndarray, labels: np.ndarray, n_classes: int, n_layers: int) -> np.ndarray:
    """int64 ``(n_classes, n_layers + 1)``: how many images of each class have each depth (the last column: never)."""
    out = np.zeros((n_classes, n_layers + 1), dtype=np.int64)
    np.add.at(out, (np.asarray(labels, dtype=np.int64), np.asarray(depth, dtype=np.int64)), 1)
    return out
