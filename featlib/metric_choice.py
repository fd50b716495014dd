"""What ``metric="auto"`` means for a UMAP map: the distance under which the layer keeps its classes apart.

The rule (:func:`choose`): on a stratified sample of at most
:data:`CHOICE_SAMPLE` of the map's points, the 10-NN accuracy of the layer
itself (5-fold, seeded: :func:`featlib.metrics.knn_accuracy`) is measured
with Euclidean distances and with correlation distances (1 − Pearson's r: the
cosine of rows centred on their own mean). The map uses the one that scores
higher; a tie goes to Euclidean (umap-learn's default). Without labels that
allow the measure (fewer than 2 classes, a class of one point), the rule is
correlation; when UMAP reads fewer than :data:`ANGULAR_MIN_UNITS` columns
(where two points' values correlate at ±1 or hardly at all) it is always
Euclidean.

Why (``bench/defaults_study.py``, ``bench/defaults_study.json``; README,
"Performance"): neither metric wins on every layer. Correlation keeps the
classes of well-trained Fashion-MNIST layers and of convolutional features
apart better (up to +8 points of the map's 10-NN accuracy); Euclidean wins on
the digits and on the half-trained model ``python -m featlib bench`` maps
(by 1–3 points). Which metric separates the classes better in the layer
predicts which one makes the better map; on the study's layers the rule's
maps are within 0.1 point of the better metric's on average. The measure
takes a few tenths of a second (two exact 10-NN searches on 2,000 points) and
depends on the points and their labels alone, so a map stays the same for the
same points, labels, parameters and seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

CANDIDATES = ("euclidean", "correlation")
"""The metrics ``"auto"`` chooses between, the first winning ties."""
CHOICE_SAMPLE = 2_000
"""At most this many of the map's points (stratified by label, seed 0) are scored for the choice."""
ANGULAR_MIN_UNITS = 10
"""Below this many columns ``"auto"`` is Euclidean; from it on, correlation when no labels can decide."""


@dataclass(frozen=True)
class MetricChoice:
    """What ``"auto"`` chose and why.

    Attributes:
        metric: one of :data:`CANDIDATES`.
        reason: one line in words ("10-NN accuracy in the layer: euclidean 0.768, correlation 0.750").
        scores: each candidate's 10-NN accuracy in the layer, when labels decided (else empty).
    """

    metric: str
    reason: str
    scores: dict[str, float] = field(default_factory=dict)


def choose(x: np.ndarray, labels: np.ndarray | None = None, columns: int | None = None) -> MetricChoice:
    """The metric a UMAP map of ``x`` uses for ``metric="auto"`` (see the module's docstring for the rule).

    Args:
        x: the layer's points, ``(n, d)``, finite; the 10-NN accuracies are measured on these values.
        labels: their integer classes ``(n,)``, or ``None``.
        columns: how many columns UMAP reads (fewer than ``d`` after its PCA); default ``d``.

    Returns:
        A :class:`MetricChoice`.

    Raises:
        ValueError: ``labels`` and ``x`` differ in length.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> choose(rng.normal(size=(50, 3))).metric, choose(rng.normal(size=(50, 64))).metric
        ('euclidean', 'correlation')
    """
    from featlib import embed, metrics

    x = np.asarray(x).reshape(len(x), -1)
    units = x.shape[1] if columns is None else int(columns)
    if units < ANGULAR_MIN_UNITS:
        return MetricChoice("euclidean", f"UMAP reads {units} columns, fewer than {ANGULAR_MIN_UNITS}: Euclidean")
    fallback = MetricChoice("correlation", f"UMAP reads {units} columns and no labels can decide: correlation")
    if labels is None:
        return fallback
    labels = np.asarray(labels)
    if len(labels) != len(x):
        raise ValueError(f"labels must have one entry per point: {len(x)} points, {len(labels)} labels.")
    chosen = embed.stratified_sample(labels, CHOICE_SAMPLE)
    points, classes = x[chosen].astype("float32"), labels[chosen]
    scores = {metric: metrics.knn_accuracy(points, classes, distance=metric) for metric in CANDIDATES}
    if any(isinstance(score, metrics.NotAvailable) for score in scores.values()):
        return fallback
    scores = {metric: float(score) for metric, score in scores.items()}
    best = max(CANDIDATES, key=lambda metric: (scores[metric], -CANDIDATES.index(metric)))
    measured = ", ".join(f"{metric} {score:.3f}" for metric, score in scores.items())
    return MetricChoice(best, f"10-NN accuracy in the layer on {len(chosen):,} points: {measured}", scores)
