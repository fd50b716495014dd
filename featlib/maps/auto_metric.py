"""What ``metric="auto"`` means for a UMAP map: the metric whose map keeps the labels apart better.

The rule (:func:`choose`): on a stratified sample of at most
:data:`CHOICE_SAMPLE` of the map's points, two short trial maps are made
(:data:`CHOICE_EPOCHS` epochs, the map's other parameters and seed), one with
Euclidean distances and one with correlation distances (1 − Pearson's r: the
cosine of rows centred on their own mean), and each is scored by the 10-NN
accuracy of its 2-D points (5-fold, seeded: :func:`featlib.metrics.knn_accuracy`,
the figure the Explore page shows). The map uses the metric whose trial map
scores higher; a tie goes to Euclidean (umap-learn's default). Without labels
that allow the measure (none, fewer than 2 classes, a class of one point) the
rule is correlation; when UMAP reads fewer than :data:`ANGULAR_MIN_UNITS`
columns (where two points' values correlate at ±1 or hardly at all) it is
always Euclidean.

Why (``bench/defaults_study.py``, ``bench/defaults_study.json``; README,
"Performance"): neither metric wins on every layer. Correlation keeps the
classes of well-trained Fashion-MNIST layers and of convolutional features
apart better (up to +8 points of the map's 10-NN accuracy); Euclidean wins on
the digits and on the half-trained model ``python -m featlib bench`` maps by
default (by 1–3 points). The layer's own 10-NN accuracy under each metric,
cheaper to measure, predicted the better map on most layers but not on the
bench's 70,000-image model, where Euclidean scored higher in the layer and
correlation made the map 2.3 points better; a short trial map of each is
what the choice is about. The trials take about 0.5 s (two 50-epoch maps of
2,000 points) and depend on the points, labels and parameters alone, so a
map stays the same for the same points, labels, parameters and seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from featlib import metrics
from featlib.errors import ReducerError
from featlib.maps.sampling import stratified_sample

CANDIDATES = ("euclidean", "correlation")
"""The metrics ``"auto"`` chooses between, the first winning ties."""
CHOICE_SAMPLE = 2_000
"""At most this many of the map's points (stratified by label, seed 0) are mapped for the choice."""
CHOICE_EPOCHS = 50
"""The trial maps' epochs: enough for the classes to part, a sixth of a full map's."""
ANGULAR_MIN_UNITS = 10
"""Below this many columns ``"auto"`` is Euclidean; from it on, correlation when no labels can decide."""


@dataclass(frozen=True)
class MetricChoice:
    """What ``"auto"`` chose and why.

    Attributes:
        metric: one of :data:`CANDIDATES`.
        reason: one line in words ("10-NN accuracy of 50-epoch trial maps of 2,000 points: euclidean 0.716,
            correlation 0.698").
        scores: the 10-NN accuracy of each candidate's trial map, when labels decided (else empty).
    """

    metric: str
    reason: str
    scores: dict[str, float] = field(default_factory=dict)


TrialMap = Callable[[np.ndarray, str, int], np.ndarray]
"""``trial_map(points, metric, n_epochs)``: the 2-D map of ``points`` with that metric and number of epochs (the
map's other parameters as the map's own); raises :class:`~featlib.errors.ReducerError` when it cannot be made.
:func:`featlib.maps.embed.choose_metric` passes :func:`featlib.maps.embed.umap_embed`'s."""


def choose(
    x: np.ndarray,
    labels: np.ndarray | None = None,
    columns: int | None = None,
    *,
    trial_map: TrialMap | None = None,
    min_points: int = 0,
) -> MetricChoice:
    """The metric a UMAP map of ``x`` uses for ``metric="auto"`` (see the module's docstring for the rule).

    The map itself is made by the caller's reducer: this module only measures its trial maps
    (:func:`featlib.maps.embed.choose_metric` gives it UMAP's, with the map's parameters).

    Args:
        x: the layer's points, ``(n, d)``, finite, as the map receives them.
        labels: their integer classes ``(n,)``, or ``None``.
        columns: how many columns UMAP reads (fewer than ``d`` after its PCA); default ``d``.
        trial_map: makes the trial maps, with :data:`CHOICE_EPOCHS` epochs; needed when labels may decide.
        min_points: the fewest points a map can be made of (fewer: no trial map, the rule without labels).

    Returns:
        A :class:`MetricChoice`.

    Raises:
        ValueError: ``labels`` and ``x`` differ in length.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> choose(rng.normal(size=(50, 3))).metric, choose(rng.normal(size=(50, 64))).metric
        ('euclidean', 'correlation')
    """
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
    chosen = stratified_sample(labels, CHOICE_SAMPLE)
    points, classes = x[chosen].astype("float32"), labels[chosen]
    _, counts = np.unique(classes, return_counts=True)
    if len(counts) < 2 or counts.min() < 2 or len(points) < min_points:
        return fallback  # no 10-NN accuracy of the labels (metrics.knn_accuracy's rule), or no map at all
    if trial_map is None:
        raise TypeError(
            "choose needs trial_map to measure the trial maps (featlib.maps.embed.choose_metric passes UMAP's)."
        )
    scores = {}
    for metric in CANDIDATES:
        try:
            coords = trial_map(points, metric, CHOICE_EPOCHS)
        except ReducerError:  # too few points for these parameters: the map itself will say so
            return fallback
        scores[metric] = metrics.knn_accuracy(coords, classes, metric="knn_acc_2d")
    if any(isinstance(score, metrics.NotAvailable) for score in scores.values()):
        return fallback
    scores = {metric: float(score) for metric, score in scores.items()}
    best = max(CANDIDATES, key=lambda metric: (scores[metric], -CANDIDATES.index(metric)))
    measured = ", ".join(f"{metric} {score:.3f}" for metric, score in scores.items())
    return MetricChoice(
        best, f"10-NN accuracy of {CHOICE_EPOCHS}-epoch trial maps of {len(chosen):,} points: {measured}", scores
    )
