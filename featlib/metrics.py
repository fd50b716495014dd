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

scikit-learn does the work (imported lazily); chance level for ``c``
balanced classes is ``1 / c`` for both accuracies.

Example:
    >>> from featlib import metrics  # doctest: +SKIP
    >>> metrics.layer_metrics(reps, labels, coords)  # doctest: +SKIP
    {'n': 1437, 'sample': 1437, 'knn_acc': 0.97, 'probe_acc': 0.96, 'silhouette': 0.21,
     'knn_acc_2d': 0.96, 'trustworthiness': 0.93}
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

DEFAULT_SAMPLE = 5_000
PROBE_MAX_ITER = 1_000
"""lbfgs iterations for the linear probe: enough to converge on the standardised digits."""


def _check_pair(a: np.ndarray, b: np.ndarray, what_a: str, what_b: str) -> None:
    if len(a) != len(b):
        raise ValueError(f"{what_a} and {what_b} must have one row per point; got {len(a)} and {len(b)} rows.")


def _rows(x: np.ndarray, name: str) -> np.ndarray:
    """``x`` as a 2-D float array, one row per point (wider outputs flattened)."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (n, d); got shape {x.shape}.")
    return x.reshape(len(x), -1)


def _folds(labels: np.ndarray, folds: int) -> int:
    """``folds`` lowered to the smallest class's size (at least 2) so that every fold holds every class."""
    classes, counts = np.unique(labels, return_counts=True)
    if len(classes) < 2:
        raise ValueError(f"Scoring needs at least two classes; got {len(classes)}: {classes.tolist()}.")
    return max(2, min(folds, int(counts.min())))


def _sample(n: int, sample_size: int | None, seed: int) -> np.ndarray | None:
    """Sorted random indices of ``sample_size`` of ``n`` points, or None when all are kept."""
    if sample_size is None or n <= sample_size:
        return None
    if sample_size < 1:
        raise ValueError(f"sample_size must be at least 1; got {sample_size}")
    return np.sort(np.random.default_rng(seed).choice(n, sample_size, replace=False))


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = 10, folds: int = 5) -> float:
    """Cross-validated accuracy of a k-nearest-neighbour classifier on ``points``.

    A map that keeps the digits apart scores near 1; random points score
    near chance (1 / number of classes). Folds are stratified and shuffled
    with a fixed seed; there are fewer of them when a class has fewer points.

    Args:
        points: array ``(n, d)``: a representation or its 2-D map.
        labels: integer classes ``(n,)``.
        k: neighbours that vote.
        folds: cross-validation folds.

    Returns:
        The mean accuracy over the folds, in [0, 1].
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    points, labels = _rows(points, "points"), np.asarray(labels)
    _check_pair(points, labels, "points", "labels")
    cv = StratifiedKFold(n_splits=_folds(labels, folds), shuffle=True, random_state=0)
    scores = cross_val_score(KNeighborsClassifier(n_neighbors=k), points, labels, cv=cv)
    return float(np.mean(scores))


def linear_probe_accuracy(reps: np.ndarray, labels: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated accuracy of a linear classifier reading ``reps``.

    A standardised logistic regression (scikit-learn's ``LogisticRegression``,
    L2, ``C=1``): how much of the class is linearly readable from the layer.

    Args:
        reps: array ``(n, d)``.
        labels: integer classes ``(n,)``.
        folds: cross-validation folds (stratified, shuffled with ``seed``).
        seed: seed of the fold split.

    Returns:
        The mean accuracy over the folds, in [0, 1].
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    reps, labels = _rows(reps, "reps"), np.asarray(labels)
    _check_pair(reps, labels, "reps", "labels")
    cv = StratifiedKFold(n_splits=_folds(labels, folds), shuffle=True, random_state=seed)
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=PROBE_MAX_ITER))
    # lbfgs makes many small matrix products, where handing work to BLAS
    # threads costs more than it saves: on a busy 2-core machine one thread
    # ran this 10-25x faster (5,000 x 128 points).
    with threadpool_limits(1, user_api="blas"):
        return float(np.mean(cross_val_score(probe, reps, labels, cv=cv)))


def silhouette(points: np.ndarray, labels: np.ndarray, sample_size: int | None = DEFAULT_SAMPLE, seed: int = 0) -> float:
    """Mean silhouette of the classes in ``points`` (Euclidean), from -1 to 1.

    1: each class is a tight cluster far from the others; 0: classes overlap;
    negative: points sit nearer another class. Computed on a random sample of
    ``sample_size`` points above that many (the score costs ``n²``).
    """
    from sklearn.metrics import silhouette_score

    points, labels = _rows(points, "points"), np.asarray(labels)
    _check_pair(points, labels, "points", "labels")
    n_classes = len(np.unique(labels))
    if not 2 <= n_classes < len(labels):
        raise ValueError(
            f"The silhouette needs between 2 and n - 1 classes; got {n_classes} classes for {len(labels)} points."
        )
    chosen = _sample(len(points), sample_size, seed)
    if chosen is not None:
        points, labels = points[chosen], labels[chosen]
    return float(silhouette_score(points, labels))


def trustworthiness(
    reps: np.ndarray,
    coords: np.ndarray,
    n_neighbors: int = 10,
    sample_size: int | None = DEFAULT_SAMPLE,
    seed: int = 0,
) -> float:
    """How well the map ``coords`` keeps the neighbours each point has in ``reps``, in [0, 1].

    scikit-learn's ``trustworthiness``: 1 when no point's ``n_neighbors``
    nearest neighbours on the map are strangers in the representation.
    Computed on a random sample of ``sample_size`` points above that many.
    """
    from sklearn.manifold import trustworthiness as sk_trustworthiness

    reps, coords = _rows(reps, "reps"), _rows(coords, "coords")
    _check_pair(reps, coords, "reps", "coords")
    chosen = _sample(len(reps), sample_size, seed)
    if chosen is not None:
        reps, coords = reps[chosen], coords[chosen]
    return float(sk_trustworthiness(reps, coords, n_neighbors=n_neighbors))


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
        A float in [0, 1]; NaN when either side is constant (CKA is undefined).
    """
    a = _rows(a, "a").astype("float64")
    b = _rows(b, "b").astype("float64")
    _check_pair(a, b, "a", "b")
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
            sample this function draws (``embed.stratified_sample(labels,
            sample_size, seed)``), as when the map itself was made on it.
        sample_size: points scored at most (``None``: all).
        seed: seed of the sample.

    Returns:
        ``{"n", "sample", "knn_acc", "probe_acc", "silhouette"}`` plus
        ``"knn_acc_2d"`` and ``"trustworthiness"`` when ``coords`` is given;
        ``n`` counts the points given, ``sample`` those scored.
    """
    from featlib.embed import stratified_sample

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
        result["knn_acc_2d"] = knn_accuracy(coords, labels)
        result["trustworthiness"] = trustworthiness(reps, coords, sample_size=None)
    return result


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
        raise ValueError(f"outputs must hold one column per class (at least 2); got shape {out.shape}.")
    if not np.all(np.isfinite(out)):
        raise ValueError("outputs hold NaN or infinite values; no confidence can be read from them.")
    is_probability = np.all(out >= 0) and np.allclose(out.sum(axis=1), 1.0, atol=1e-3)
    if not is_probability:
        out = np.exp(out - out.max(axis=1, keepdims=True))
        out /= out.sum(axis=1, keepdims=True)
    predicted = out.argmax(axis=1)
    return predicted, out[np.arange(len(out)), predicted]
