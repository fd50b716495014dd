"""Nearest neighbours of chosen points in a layer's own space.

The 2-D map only approximates who is near whom; :func:`nearest` answers in
the layer's outputs themselves, with scikit-learn's ``NearestNeighbors``, so
that a followed digit's neighbours can be compared from layer to layer.

Example:
    >>> from featlib import neighbours  # doctest: +SKIP
    >>> neighbours.nearest(reps, [12], k=8, among=sample_indices)  # doctest: +SKIP
    array([[ 401,  977, ...]])
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

METRICS = ("euclidean", "cosine", "manhattan")


def nearest(
    reps: np.ndarray,
    query: Sequence[int] | np.ndarray,
    k: int = 8,
    among: Sequence[int] | np.ndarray | None = None,
    metric: str = "euclidean",
) -> np.ndarray:
    """The ``k`` nearest neighbours of each query point in ``reps``, itself excluded.

    Args:
        reps: a layer's outputs, one row per point of the dataset split ``(n, d)``.
        query: row indices of the points whose neighbours are wanted.
        k: neighbours per point.
        among: row indices to search (e.g. a map's sample); all rows when ``None``.
            A query need not be among them.
        metric: ``"euclidean"``, ``"cosine"`` or ``"manhattan"``.

    Returns:
        An int array ``(len(query), k')`` of row indices into ``reps``, nearest
        first (ties in index order), with ``k' = min(k, candidates - 1)`` when
        there are few candidates.

    Raises:
        ValueError: naming the bad argument and the value received.
    """
    from sklearn.neighbors import NearestNeighbors

    reps = np.asarray(reps)
    if reps.ndim < 2:
        raise ValueError(f"reps must have shape (n, d); got shape {reps.shape}.")
    reps = reps.reshape(len(reps), -1)
    n = len(reps)
    query = np.asarray(query, dtype=int).reshape(-1)
    if metric not in METRICS:
        raise ValueError(f"Unknown metric: {metric!r}. Choose one of {list(METRICS)}.")
    if k < 1:
        raise ValueError(f"k must be at least 1; got {k}.")
    bad = query[(query < 0) | (query >= n)]
    if len(bad):
        raise ValueError(f"Query indices must be within [0, {n - 1}]; got {bad[:5].tolist()}.")
    candidates = np.arange(n) if among is None else np.unique(np.asarray(among, dtype=int))
    if len(candidates) and (candidates[0] < 0 or candidates[-1] >= n):
        raise ValueError(f"'among' indices must be within [0, {n - 1}]; got {candidates[[0, -1]].tolist()}.")
    if len(query) == 0:
        return np.zeros((0, 0), dtype=int)
    # One extra neighbour, so that each query's own row can be dropped.
    wanted = min(k + 1, len(candidates))
    if wanted == 0:
        return np.zeros((len(query), 0), dtype=int)
    index = NearestNeighbors(n_neighbors=wanted, metric=metric).fit(reps[candidates].astype("float64"))
    distances, positions = index.kneighbors(reps[query].astype("float64"))
    found = candidates[positions]
    result = []
    for row, (point, dist) in enumerate(zip(query, distances)):
        keep = found[row] != point
        order = np.lexsort((found[row][keep], dist[keep]))  # by distance, then index: stable ties
        result.append(found[row][keep][order])
    width = min(len(r) for r in result)
    width = min(width, k)
    return np.stack([r[:width] for r in result]).astype(int)


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """The mean fraction of neighbours two answers of :func:`nearest` share, row by row.

    1 when both spaces give each query the same neighbours (in any order), 0
    when they share none.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"a and b must answer the same queries; got {a.shape[0]} and {b.shape[0]} rows.")
    if a.size == 0 or b.size == 0:
        return float("nan")
    shared = [len(np.intersect1d(x, y)) / max(1, min(len(x), len(y))) for x, y in zip(a, b)]
    return float(np.mean(shared))
