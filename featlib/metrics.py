"""How good a representation is, in numbers: the figures beside the pictures.

For one layer's outputs ``reps`` of shape ``(n, d)`` with class ``labels``
``(n,)`` and, optionally, its 2-D map ``coords`` ``(n, 2)``:

- :func:`knn_accuracy`: cross-validated k-nearest-neighbour accuracy, of the
  representation or of its map;
- :func:`linear_probe_accuracy`: cross-validated accuracy of a logistic
  regression on the standardised representation;
- :func:`silhouette`: how tightly each class clusters, from -1 to 1;
- :func:`trustworthiness`: how well the map keeps each point's neighbours;
- :func:`linear_cka` and :func:`cka_matrix`: how alike two layers' views of
  the same points are;
- :func:`layer_metrics`: all of the above for one layer, on a stratified sample.

scikit-learn does the work (imported at its first use, :mod:`featlib.lazy`); chance level for ``c``
balanced classes is ``1 / c`` for both accuracies.

Small data: a figure that needs more points, classes or neighbours than
there are is a :class:`NotAvailable` (``str()``: ``"n/a — needs at least 2
points per class; class 3 has 1"``), never NaN and never a scikit-learn
warning. The rules, per figure (:data:`RULES`):

- both cross-validated accuracies need at least 2 classes and 2 points in
  every class (folds drop to the smallest class's size, at least 2);
- the k-NN accuracy then uses fewer neighbours when a training fold holds
  fewer than ``k`` points, and :func:`layer_metrics` says so in ``notes``;
- the silhouette needs at least 2 classes and more points than classes;
- trustworthiness needs at least 3 points; below ``2k + 1`` points it uses
  the largest ``k`` scikit-learn allows (``k < n / 2``) and says so;
- linear CKA needs 2 points, and is undefined (NaN, :func:`format_score`
  prints ``n/a``) for a constant representation;
- every figure of a representation holding NaN or inf values is n/a, naming
  how many values are not finite.

Example:
    >>> from featlib import metrics  # doctest: +SKIP
    >>> metrics.layer_metrics(reps, labels, coords)  # doctest: +SKIP
    {'n': 1437, 'sample': 1437, 'knn_acc': 0.97, 'probe_acc': 0.96, 'silhouette': 0.21,
     'knn_acc_2d': 0.96, 'trustworthiness': 0.93}
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from featlib.errors import MetricError
from featlib.lazy import sklearn, threadpoolctl
from featlib.maps.reducer_params import SCORE_SAMPLE
from featlib.maps.sampling import stratified_sample

DEFAULT_SAMPLE = SCORE_SAMPLE
"""Points scored by the sampled scores (:data:`featlib.maps.reducer_params.SCORE_SAMPLE`)."""
PROBE_MAX_ITER = 1_000
THREADS = 2
"""BLAS threads for :func:`trustworthiness` (capped at the cores this process may use; Dask workers start with
one). Its pairwise distances are one matrix product, which gives the same score bit for bit on one or two threads
and ran 1.9× faster on two at 10,000 points (``bench/parallel_steps.py``). The other figures stay on one thread:
scikit-learn's ``n_jobs`` gave the kNN accuracy and the silhouette the same values but no speed (1.0× and 0.75×:
thread overhead on small queries), and the linear probe is faster on one (see :func:`linear_probe_accuracy`)."""


def _threads() -> int:
    """:data:`THREADS`, at most the CPUs this process may run on."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(THREADS, cores))


"""lbfgs iterations for the linear probe: enough to converge on the standardised digits."""
MIN_POINTS_PER_CLASS = 2
"""Cross-validated accuracies need this many points in every class (one to train on, one to test)."""
TRUSTWORTHINESS_MIN_POINTS = 3
"""scikit-learn's trustworthiness needs ``k < n / 2``, so ``k = 1`` from 3 points."""
CKA_MIN_POINTS = 2
RULES: dict[str, str] = {
    "knn_acc": "at least 2 classes and 2 points per class (5-fold stratified CV, fewer folds for smaller "
    "classes; k = 10 neighbours, fewer when a training fold holds fewer points)",
    "probe_acc": "at least 2 classes and 2 points per class (5-fold stratified CV, fewer folds for smaller classes)",
    "silhouette": "at least 2 classes and more points than classes",
    "knn_acc_2d": "as knn_acc, on the map's points",
    "trustworthiness": "at least 3 points (k = 10 neighbours, fewer below 21 points: scikit-learn needs k < n / 2)",
    "cka": "at least 2 points, and neither representation constant",
}
"""What each figure of :func:`layer_metrics` needs, in words (for help texts and the pages)."""


@dataclass(frozen=True)
class NotAvailable:
    """A figure that cannot be computed on these points, and why.

    Formats as ``"n/a — needs at least 2 points per class; class 3 has 1"``
    whatever the format spec, so ``f"{score:.3f}"`` prints it as such.
    Use :func:`is_available` to tell it from a number, :func:`as_float` for
    JSON (``None``).

    Attributes:
        metric: the figure's key (``"knn_acc"``, ``"silhouette"``, ...).
        reason: what it needs and what there is, without the ``"n/a — "``.
    """

    metric: str
    reason: str

    def __str__(self) -> str:
        return f"n/a — {self.reason}"

    def __format__(self, spec: str) -> str:
        return str(self)


Score = float | NotAvailable
"""A figure: a float, or why there is none."""


def is_available(score: object) -> bool:
    """True for a finite number; False for a :class:`NotAvailable`, ``None`` or NaN."""
    if isinstance(score, NotAvailable) or score is None:
        return False
    try:
        return bool(np.isfinite(float(score)))
    except (TypeError, ValueError):
        return False


def as_float(score: object) -> float | None:
    """A figure as a float for JSON or a table column: ``None`` when it is not available (or NaN)."""
    return float(score) if is_available(score) else None


def format_score(score: object, digits: int = 3, width: int = 0) -> str:
    """A figure as text: ``"0.912"``, or ``"n/a — <reason>"``; NaN (a constant layer's CKA) reads ``"n/a"``.

    Args:
        score: a float, a :class:`NotAvailable`, ``None`` or NaN.
        digits: decimals of a number.
        width: right-aligned numbers are padded to this width (text is not cut).
    """
    if isinstance(score, NotAvailable):
        return str(score)
    text = f"{float(score):.{digits}f}" if is_available(score) else "n/a"
    return f"{text:>{width}}"


def _check_pair(a: np.ndarray, b: np.ndarray, what_a: str, what_b: str) -> None:
    if len(a) != len(b):
        raise ValueError(f"{what_a} and {what_b} must have one row per point; got {len(a)} and {len(b)} rows.")


def _rows(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` as a 2-D float array, one row per point (wider outputs flattened)."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (n, d); got shape {x.shape}.")
    return x.reshape(len(x), -1)


def _cv_unavailable(metric: str, labels: np.ndarray) -> NotAvailable | None:
    """Why a cross-validated accuracy cannot be computed on ``labels``; ``None`` when it can."""
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        return NotAvailable(metric, f"needs at least two classes; got {len(classes)}: {classes.tolist()[:10]}")
    small = classes[counts < MIN_POINTS_PER_CLASS]
    if len(small):
        listed = ", ".join(str(c) for c in small[:5].tolist()) + (
            f" and {len(small) - 5} more" if len(small) > 5 else ""
        )
        return NotAvailable(
            metric,
            f"needs at least {MIN_POINTS_PER_CLASS} points per class for cross-validation; "
            f"class{'es' if len(small) > 1 else ''} {listed} "
            f"{'have' if len(small) > 1 else 'has'} 1 (of {len(labels)} points)",
        )
    return None


def _folds(labels: np.ndarray, folds: int) -> int:
    """``folds`` lowered to the smallest class's size (at least 2) so that every fold holds every class.

    Raises:
        ValueError: fewer than 2 classes (callers check :func:`_cv_unavailable` first).
    """
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise MetricError(f"Scoring needs at least two classes; got {len(classes)}: {classes.tolist()}.")
    return max(2, min(folds, int(counts.min())))


def _non_finite(metric: str, *arrays: tuple[str, np.ndarray]) -> NotAvailable | None:
    """A :class:`NotAvailable` naming the first of ``(what, array)`` that holds NaN or inf (and how many), or ``None``."""
    for what, array in arrays:
        bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        if bad:
            return NotAvailable(
                metric,
                f"{what} holds {bad:,} non-finite value{'s' if bad > 1 else ''} (NaN or inf) "
                f"of {array.size:,}; expected finite values",
            )
    return None


def knn_neighbours(labels: np.ndarray, k: int = 10, folds: int = 5) -> tuple[int, int]:
    """The ``(k, folds)`` :func:`knn_accuracy` uses for ``labels``: ``k`` lowered to the smallest training fold.

    Raises:
        ValueError: fewer than 2 classes.
    """
    labels = np.asarray(labels)
    n_folds = _folds(labels, folds)
    cv = sklearn.model_selection.StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=0)
    smallest = min(len(train) for train, _ in cv.split(np.zeros(len(labels)), labels))
    return max(1, min(k, smallest)), n_folds


def trustworthiness_neighbours(n_points: int, k: int = 10) -> int:
    """The neighbours :func:`trustworthiness` uses for ``n_points`` points: ``k``, at most ``ceil(n / 2) - 1``."""
    return max(0, min(k, (n_points - 1) // 2))


def _sample(n: int, sample_size: int | None, seed: int) -> np.ndarray | None:
    """Sorted random indices of ``sample_size`` of ``n`` points, or None when all are kept."""
    if sample_size is None or n <= sample_size:
        return None
    if sample_size < 1:
        raise MetricError(f"sample_size must be at least 1; got {sample_size}")
    return np.sort(np.random.default_rng(seed).choice(n, sample_size, replace=False))


KNN_DISTANCES = ("euclidean", "cosine", "correlation")
"""The distances :func:`knn_accuracy` finds neighbours by."""


def centre_rows(x: np.ndarray) -> np.ndarray:
    """``x`` with each row's own mean taken away (the mean summed in float64), in ``x``'s float dtype.

    The correlation distance of two rows (1 − Pearson's r, umap-learn's and
    SciPy's ``"correlation"``) is the cosine distance of their centred rows,
    so a cosine search on these finds correlation neighbours.
    """
    x = np.asarray(x)
    x = x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float64)
    return x - x.mean(axis=1, keepdims=True, dtype=np.float64).astype(x.dtype)


def knn_accuracy(
    points: np.ndarray,
    labels: np.ndarray,
    k: int = 10,
    folds: int = 5,
    metric: str = "knn_acc",
    distance: str = "euclidean",
) -> Score:
    """Cross-validated accuracy of a k-nearest-neighbour classifier on ``points``.

    A map that keeps the digits apart scores near 1; random points score
    near chance (1 / number of classes). Folds are stratified and shuffled
    with a fixed seed; there are fewer of them when a class has fewer points,
    and fewer neighbours vote when a training fold holds fewer than ``k``
    points (:func:`knn_neighbours` gives both).

    Args:
        points: array ``(n, d)``: a representation or its 2-D map.
        labels: integer classes ``(n,)``.
        k: neighbours that vote.
        folds: cross-validation folds.
        metric: the figure's key in a :class:`NotAvailable`.
        distance: how the neighbours are found: ``"euclidean"`` (the figure the pages show),
            ``"cosine"``, or ``"correlation"`` (1 − Pearson's r of two points' values: cosine on
            rows centred on their own mean).

    Returns:
        The mean accuracy over the folds, in [0, 1]; a :class:`NotAvailable`
        with fewer than 2 classes, a class of 1 point, or NaN/inf in ``points``.

    Raises:
        ValueError: ``points`` and ``labels`` differ in length.
    """
    points, labels = _rows(points, "points"), np.asarray(labels)
    _check_pair(points, labels, "points", "labels")
    missing = _cv_unavailable(metric, labels) or _non_finite(
        metric, ("the " + ("map" if metric.endswith("_2d") else "representation"), points)
    )
    if missing is not None:
        return missing
    if distance not in KNN_DISTANCES:
        raise MetricError(f"distance must be one of {list(KNN_DISTANCES)}; got {distance!r}")
    if distance == "correlation":
        points, distance = centre_rows(points), "cosine"
    k_used, n_folds = knn_neighbours(labels, k, folds)
    cv = sklearn.model_selection.StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=0)
    classifier = sklearn.neighbors.KNeighborsClassifier(n_neighbors=k_used, metric=distance)
    scores = sklearn.model_selection.cross_val_score(classifier, points, labels, cv=cv, error_score="raise")
    return float(np.mean(scores))


def linear_probe_accuracy(reps: np.ndarray, labels: np.ndarray, folds: int = 5, seed: int = 0) -> Score:
    """Cross-validated accuracy of a linear classifier reading ``reps``.

    A standardised logistic regression (scikit-learn's ``LogisticRegression``,
    L2, ``C=1``): how much of the class is linearly readable from the layer.

    Args:
        reps: array ``(n, d)``.
        labels: integer classes ``(n,)``.
        folds: cross-validation folds (stratified, shuffled with ``seed``).
        seed: seed of the fold split.

    Returns:
        The mean accuracy over the folds, in [0, 1]; a :class:`NotAvailable`
        with fewer than 2 classes, a class of 1 point, or NaN/inf in ``reps``.
        A probe that has not converged in :data:`PROBE_MAX_ITER` iterations
        (possible on a few odd points) is scored as it stands, without a warning.

    Raises:
        ValueError: ``reps`` and ``labels`` differ in length.
    """

    reps, labels = _rows(reps, "reps"), np.asarray(labels)
    _check_pair(reps, labels, "reps", "labels")
    missing = _cv_unavailable("probe_acc", labels) or _non_finite("probe_acc", ("the representation", reps))
    if missing is not None:
        return missing
    cv = sklearn.model_selection.StratifiedKFold(n_splits=_folds(labels, folds), shuffle=True, random_state=seed)
    probe = sklearn.pipeline.make_pipeline(
        sklearn.preprocessing.StandardScaler(), sklearn.linear_model.LogisticRegression(max_iter=PROBE_MAX_ITER)
    )
    # lbfgs makes many small matrix products, where handing work to BLAS
    # threads costs more than it saves: on a busy 2-core machine one thread
    # ran this 10-25x faster (5,000 x 128 points).
    with threadpoolctl.threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", sklearn.exceptions.ConvergenceWarning)
        return float(np.mean(sklearn.model_selection.cross_val_score(probe, reps, labels, cv=cv, error_score="raise")))


def silhouette(
    points: np.ndarray, labels: np.ndarray, sample_size: int | None = DEFAULT_SAMPLE, seed: int = 0
) -> Score:
    """Mean silhouette of the classes in ``points`` (Euclidean), from -1 to 1.

    1: each class is a tight cluster far from the others; 0: classes overlap;
    negative: points sit nearer another class. Computed on a random sample of
    ``sample_size`` points above that many (the score costs ``n²``).

    Returns:
        The score; a :class:`NotAvailable` unless there are between 2 and
        ``n - 1`` classes among the points scored, or with NaN/inf in ``points``.

    Raises:
        ValueError: ``points`` and ``labels`` differ in length.
    """
    points, labels = _rows(points, "points"), np.asarray(labels)
    _check_pair(points, labels, "points", "labels")
    chosen = _sample(len(points), sample_size, seed)
    if chosen is not None:
        points, labels = points[chosen], labels[chosen]
    n_classes = len(np.unique(labels))
    if not 2 <= n_classes < len(labels):
        return NotAvailable(
            "silhouette",
            f"needs between 2 and n - 1 classes (at least 2 classes and more points "
            f"than classes); got {n_classes} classes for {len(labels)} points",
        )
    missing = _non_finite("silhouette", ("the representation", points))
    if missing is not None:
        return missing
    return float(sklearn.metrics.silhouette_score(points, labels))


def trustworthiness(
    reps: np.ndarray,
    coords: np.ndarray,
    n_neighbors: int = 10,
    sample_size: int | None = DEFAULT_SAMPLE,
    seed: int = 0,
) -> Score:
    """How well the map ``coords`` keeps the neighbours each point has in ``reps``, in [0, 1].

    scikit-learn's ``trustworthiness``: 1 when no point's ``n_neighbors``
    nearest neighbours on the map are strangers in the representation.
    Computed on a random sample of ``sample_size`` points above that many.
    scikit-learn needs ``n_neighbors < n / 2``: on fewer than ``2 ×
    n_neighbors + 1`` points, the largest such ``k`` is used
    (:func:`trustworthiness_neighbours`; :func:`layer_metrics` says so).

    Returns:
        The score; a :class:`NotAvailable` below 3 points or with NaN/inf values.

    Raises:
        ValueError: ``reps`` and ``coords`` differ in length.
    """
    reps, coords = _rows(reps, "reps"), _rows(coords, "coords")
    _check_pair(reps, coords, "reps", "coords")
    chosen = _sample(len(reps), sample_size, seed)
    if chosen is not None:
        reps, coords = reps[chosen], coords[chosen]
    if len(reps) < TRUSTWORTHINESS_MIN_POINTS:
        return NotAvailable(
            "trustworthiness",
            f"needs at least {TRUSTWORTHINESS_MIN_POINTS} points (scikit-learn "
            f"needs k < n / 2 neighbours, k ≥ 1); got {len(reps)}",
        )
    missing = _non_finite("trustworthiness", ("the representation", reps), ("the map", coords))
    if missing is not None:
        return missing
    k = trustworthiness_neighbours(len(reps), n_neighbors)
    with threadpoolctl.threadpool_limits(
        _threads(), user_api="blas"
    ):  # the same score on 1 or 2 threads, 1.9× faster on 2
        return float(sklearn.manifold.trustworthiness(reps, coords, n_neighbors=k))


def linear_cka(a: np.ndarray, b: np.ndarray) -> float:
    """Linear Centered Kernel Alignment of two representations of the same points.

    Kornblith et al. 2019, "Similarity of Neural Network Representations
    Revisited", in its feature-space form on column-centred ``A (n, d1)`` and
    ``B (n, d2)``::

        CKA(A, B) = ||Bᵀ A||²_F / (||Aᵀ A||_F · ||Bᵀ B||_F)

    1 for the same representation; invariant to rotating either side and to
    scaling it by a constant; near 0 for unrelated ones (with ``n`` much
    larger than the widths). Costs ``O(n · d1 · d2)``.

    Returns:
        A float in [0, 1]; NaN when either side is constant, or with fewer
        than :data:`CKA_MIN_POINTS` points (CKA is undefined; :func:`format_score`
        prints ``n/a``), or when either holds NaN/inf values.
    """
    a = _rows(a, "a").astype("float64")
    b = _rows(b, "b").astype("float64")
    _check_pair(a, b, "a", "b")
    if len(a) < CKA_MIN_POINTS or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return float("nan")
    a = a - a.mean(axis=0)
    b = b - b.mean(axis=0)
    denominator = np.linalg.norm(a.T @ a) * np.linalg.norm(b.T @ b)
    if denominator == 0.0:
        return float("nan")
    return float(np.linalg.norm(b.T @ a) ** 2 / denominator)


def cka_matrix(reps_list: Sequence[np.ndarray]) -> np.ndarray:
    """Linear CKA between every pair of representations of the same points.

    Returns:
        A symmetric ``(k, k)`` float array with ones on the diagonal (NaN for
        a constant representation).
    """
    k = len(reps_list)
    matrix = np.eye(k)
    for i in range(k):
        for j in range(i + 1, k):
            matrix[i, j] = matrix[j, i] = linear_cka(reps_list[i], reps_list[j])
    return matrix


def layer_metrics(
    reps: np.ndarray,
    labels: np.ndarray,
    coords: np.ndarray | None = None,
    sample_size: int | None = DEFAULT_SAMPLE,
    seed: int = 0,
) -> dict:
    """Every figure for one layer, on a label-stratified sample when it has many points.

    Args:
        reps: the layer's outputs ``(n, d)``.
        labels: integer classes ``(n,)``.
        coords: optional 2-D map: ``(n, 2)``, or one row per point of the
            sample this function draws (``sampling.stratified_sample(labels,
            sample_size, seed)``), as when the map itself was made on it.
        sample_size: points scored at most (``None``: all).
        seed: seed of the sample.

    Returns:
        ``{"n", "sample", "knn_acc", "probe_acc", "silhouette", "notes"}`` plus
        ``"knn_acc_2d"`` and ``"trustworthiness"`` when ``coords`` is given;
        ``n`` counts the points given, ``sample`` those scored. Each figure is
        a float or a :class:`NotAvailable` (see the module's rules; print
        them with :func:`format_score`). ``notes`` maps a figure to a sentence
        when it was computed with fewer neighbours than asked
        (``{"knn_acc": "k = 4, not 10 neighbours: a training fold holds only 4
        points"}``); empty otherwise.

    Raises:
        ValueError: arrays of different lengths.
    """
    reps, labels = _rows(reps, "reps"), np.asarray(labels)
    _check_pair(reps, labels, "reps", "labels")
    n = len(reps)
    chosen = stratified_sample(labels, sample_size, seed=seed)
    if coords is not None:
        coords = _rows(coords, "coords")
        if len(coords) == n:
            coords = coords[chosen]
        elif len(coords) != len(chosen):
            raise ValueError(
                f"coords must have one row per point ({n}) or per sampled point ({len(chosen)}); "
                f"got {len(coords)} rows."
            )
    reps, labels = reps[chosen], labels[chosen]
    result = {
        "n": int(n),
        "sample": int(len(chosen)),
        "knn_acc": knn_accuracy(reps, labels),
        "probe_acc": linear_probe_accuracy(reps, labels, seed=seed),
        "silhouette": silhouette(reps, labels, sample_size=None),
    }
    if coords is not None:
        result["knn_acc_2d"] = knn_accuracy(coords, labels, metric="knn_acc_2d")
        result["trustworthiness"] = trustworthiness(reps, coords, sample_size=None)
    result["notes"] = _neighbour_notes(result, labels)
    return result


def map_figures(scores: dict, reducer_title: str, model_accuracy: float | None) -> list[tuple[str, object, str]]:
    """The figures the Explore page shows beside a map, in its order: ``[(name, value, what it measures), ...]``.

    One table for every view of a map (the Explore page, :func:`featlib.explore`'s widget), so they show the
    same figures under the same names.

    Args:
        scores: :func:`layer_metrics` of the map's points with their coordinates (the service's ``scores``).
        reducer_title: the map's reducer as shown (``"UMAP"``, ``"PCA"``, ``"t-SNE"``).
        model_accuracy: the share of the map's points the model predicts right (0 to 1), or ``None``.

    Returns:
        ``(name, value, help)`` per figure: ``value`` is the points' count (int) first, then a float or a
        :class:`NotAvailable` (print it with :func:`format_score`); ``help`` is ``""`` where the name says it all.
    """
    return [
        ("points", int(scores["n"]), ""),
        (
            "10-NN accuracy of the map",
            scores.get("knn_acc_2d"),
            f"a 10-NN classifier on the {reducer_title} map's coordinates (2-D or 3-D), 5-fold",
        ),
        ("trustworthiness", scores.get("trustworthiness"), "1 when no neighbour on the map is a stranger in the layer"),
        ("model accuracy on these points", model_accuracy, ""),
        ("10-NN accuracy of the layer", scores.get("knn_acc"), "the same classifier in the layer's own space"),
        ("linear probe", scores.get("probe_acc"), "a logistic regression reading the layer, 5-fold"),
    ]


def _neighbour_notes(result: dict, labels: np.ndarray, k: int = 10) -> dict[str, str]:
    """Sentences for the figures of ``result`` computed with fewer than ``k`` neighbours."""
    notes = {}
    knn = [key for key in ("knn_acc", "knn_acc_2d") if key in result and is_available(result[key])]
    if knn:
        k_used, _ = knn_neighbours(labels, k)
        if k_used < k:
            for key in knn:
                notes[key] = f"k = {k_used}, not {k} neighbours: a training fold holds only {k_used} points"
    if "trustworthiness" in result and is_available(result["trustworthiness"]):
        k_used = trustworthiness_neighbours(len(labels), k)
        if k_used < k:
            notes["trustworthiness"] = (
                f"k = {k_used}, not {k} neighbours: scikit-learn needs k < n / 2 and there are {len(labels)} points"
            )
    return notes


def prediction_confidence(outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each point's predicted class and the probability the model gives it.

    Rows that already are probabilities (non-negative, summing to 1, as after
    a softmax) are read as they are; others (logits) go through a softmax first.

    Args:
        outputs: a classifier's outputs ``(n, classes)``.

    Returns:
        ``(predicted, confidence)``: int ``(n,)`` and float ``(n,)`` in [0, 1].
    """
    out = _rows(outputs, "outputs").astype("float64")
    if out.shape[1] < 2:
        raise MetricError(f"outputs must hold one column per class (at least 2); got shape {out.shape}.")
    bad = int(out.size - np.count_nonzero(np.isfinite(out)))
    if bad:
        raise MetricError(
            f"The model's outputs hold {bad:,} NaN or infinite values of {out.size:,} (for {len(out):,} "
            "images); no prediction or confidence can be read from them. Expected finite outputs: "
            "check the model's weights and the input scaling (0-1 or 0-255)."
        )
    is_probability = np.all(out >= 0) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3)
    if not is_probability:
        out = np.exp(out - out.max(axis=1, keepdims=True))
        out /= out.sum(axis=1, keepdims=True)
    predicted = out.argmax(axis=1)
    return predicted, out[np.arange(len(out)), predicted]
