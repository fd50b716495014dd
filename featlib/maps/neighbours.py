"""Nearest neighbours of chosen points in a layer's own space.

The 2-D map only approximates who is near whom; :func:`nearest` answers in
the layer's outputs themselves, with scikit-learn's ``NearestNeighbors``, so
that a followed digit's neighbours can be compared from layer to layer.
:func:`nearest_with_distances` also gives the distances (the Explore page's
point inspector shows them), and :func:`map_metric` the metric a map's
neighbourhoods were made with, so that the layer's neighbours are measured
the same way.

Example:
    >>> from featlib.maps import neighbours  # doctest: +SKIP
    >>> neighbours.nearest(reps, [12], k=8, among=sample_indices)  # doctest: +SKIP
    array([[ 401,  977, ...]])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from featlib.errors import NeighbourError
from featlib.lazy import sklearn
from featlib.maps import embed
from featlib.metrics import centre_rows

METRICS = ("euclidean", "cosine", "manhattan", "correlation")
"""The metrics :func:`nearest` measures with: scikit-learn's, and ``"correlation"`` (1 − Pearson's r, as umap-learn's)."""


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
        metric: one of :data:`METRICS`.

    Returns:
        An int array ``(len(query), k')`` of row indices into ``reps``, nearest
        first (ties in index order), with ``k' = min(k, candidates - 1)`` when
        there are few candidates. See :func:`nearest_with_distances`.

    Raises:
        ValueError: naming the bad argument and the value received.
    """
    return nearest_with_distances(reps, query, k, among, metric)[0]


def nearest_with_distances(
    reps: np.ndarray,
    query: Sequence[int] | np.ndarray,
    k: int = 8,
    among: Sequence[int] | np.ndarray | None = None,
    metric: str = "euclidean",
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest neighbours of each query point in ``reps`` and their distances, itself excluded.

    An exact (brute-force) search by scikit-learn's ``NearestNeighbors``. A
    query's own row is never its neighbour; another row equal to it is, at
    distance 0. Rows at the same distance come in index order, also across
    the ``k``-th place (all rows tied there are considered).

    Args:
        reps: a layer's outputs ``(n, d)`` (or ``(n, ...)``, flattened), one
            row per point of the dataset split. float32 is searched as it is
            (no copy of a large sample; scikit-learn sums Euclidean distances
            in float64); other dtypes as float64.
        query: row indices of the points whose neighbours are wanted, ``(q,)``.
        k: neighbours per point, at least 1.
        among: row indices to search (e.g. a map's sample); all rows when ``None``.
            A query need not be among them.
        metric: one of :data:`METRICS`. ``"correlation"`` is 1 − Pearson's
            correlation of two rows (umap-learn's and SciPy's), searched as the
            cosine distance of the rows centred on their own means; a constant
            row is then at distance 1 from every other row (SciPy: NaN).

    Returns:
        ``(indices, distances)``: an int64 array ``(q, k')`` of row indices
        into ``reps``, nearest first, and a float64 array ``(q, k')`` of their
        distances under ``metric``, with ``k' = min(k, candidates - 1)`` when
        ``among`` (or ``reps``) holds too few rows (the fewest any query has:
        a query outside ``among`` has one more candidate). ``k' = 0`` when
        there is no other row.

    Raises:
        ValueError: naming the bad argument and the value received: ``reps``
            not 2-D, an unknown ``metric``, ``k`` below 1, indices outside
            ``[0, n)``; scikit-learn's for NaN or infinite values.

    Example:
        >>> reps = np.array([[0.0], [1.0], [3.0], [4.0]])
        >>> nearest_with_distances(reps, [0], k=2)
        (array([[1, 2]]), array([[1., 3.]]))
    """
    reps = np.asarray(reps)
    if reps.ndim < 2:
        raise ValueError(f"reps must have shape (n, d); got shape {reps.shape}.")
    reps = reps.reshape(len(reps), -1)
    if reps.dtype != np.float32:
        reps = reps.astype(np.float64)
    n = len(reps)
    query = np.asarray(query, dtype=np.int64).reshape(-1)
    if metric not in METRICS:
        raise NeighbourError(f"Unknown metric: {metric!r}. Choose one of {list(METRICS)}.")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise NeighbourError(f"k must be at least 1; got {k}.")
    k = int(k)
    bad = query[(query < 0) | (query >= n)]
    if len(bad):
        raise NeighbourError(f"Query indices must be within [0, {n - 1}]; got {bad[:5].tolist()}.")
    candidates = None if among is None else np.unique(np.asarray(among, dtype=np.int64))
    if candidates is not None and len(candidates) and (candidates[0] < 0 or candidates[-1] >= n):
        raise NeighbourError(f"'among' indices must be within [0, {n - 1}]; got {candidates[[0, -1]].tolist()}.")
    size = n if candidates is None else len(candidates)
    if len(query) == 0 or size == 0:
        return np.zeros((len(query), 0), dtype=np.int64), np.zeros((len(query), 0))
    points = reps if candidates is None else reps[candidates]
    asked = reps[query]
    search = metric
    if metric == "correlation":  # 1 - r is the cosine distance of centred rows
        points, asked, search = centre_rows(points), centre_rows(asked), "cosine"
    index = sklearn.neighbors.NearestNeighbors(metric=search, algorithm="brute").fit(points)
    # Its own row and one more: when that one is as far as the k-th, rows tied there are looked for.
    wanted = min(k + 2, size)
    distances, positions = index.kneighbors(asked, n_neighbors=wanted)
    rows = []
    for row, point in enumerate(query):
        found, dist = positions[row], distances[row]
        if wanted < size and len(found) > 1 and dist[-1] <= dist[-2]:
            dist, found = index.radius_neighbors(asked[row : row + 1], radius=dist[-1])
            dist, found = dist[0], found[0]
        found = found if candidates is None else candidates[found]
        keep = found != point
        order = np.lexsort((found[keep], dist[keep]))  # by distance, then index
        rows.append((found[keep][order], dist[keep][order]))
    width = min(k, min(len(found) for found, _ in rows))
    return (
        np.stack([found[:width] for found, _ in rows]).astype(np.int64),
        np.stack([dist[:width] for _, dist in rows]).astype(np.float64),
    )


def map_metric(params: object, points: np.ndarray, labels: np.ndarray | None = None) -> str:
    """The metric a 2-D map's neighbourhoods were measured with, for searching the layer the same way.

    A UMAP map uses its own metric (``"auto"`` resolved as the map resolved
    it, :func:`featlib.maps.embed.resolve_metric`: from the same points and
    labels); PCA and t-SNE maps are Euclidean.

    Args:
        params: the map's reducer parameters (``UMAPParams``, ``PCAParams`` or ``TSNEParams``).
        points: the map's points in the layer, ``(n, d)``.
        labels: their integer classes ``(n,)``, as the map received them (``None``: none).

    Returns:
        One of :data:`METRICS`.

    Example:
        >>> from featlib.maps import embed
        >>> x = np.random.default_rng(0).normal(size=(40, 64))
        >>> map_metric(embed.UMAPParams(metric="cosine"), x), map_metric(embed.PCAParams(), x)
        ('cosine', 'euclidean')
    """
    if not isinstance(params, embed.UMAPParams):
        return "euclidean"
    metric = embed.resolve_metric(params, points, labels)
    return metric if metric in METRICS else "euclidean"


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
