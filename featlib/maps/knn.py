"""k-nearest-neighbour graphs for UMAP: exact for small maps, pynndescent's approximate search for large ones.

umap-learn builds its graph with pynndescent, whose ``nn_descent`` (and the
five functions it passes its distance function to) Numba compiles again in
every new process: no cache keeps them (:mod:`featlib.maps.compile_cache`). For up
to :data:`EXACT_UP_TO` points :func:`exact` finds the neighbours without
them, exactly: a matrix product in chunks (NumPy's BLAS on one thread) ranks
every pair, a small Numba function (:func:`featlib.maps.kernels.select_smallest`, cached
like the rest) keeps each row's best candidates, and the distances of those
candidates are computed again in float64 and sorted. On the bench's layer
(Fashion-MNIST ``dense_1``, 64 columns, correlation; ``bench/knn_paths.py``,
idle machine) it takes 0.35 s at 10,000 points and 0.77 s at 15,000, against
0.31 s and 0.53 s for pynndescent warm (cosine on centred rows; 0.49 s and
0.79 s with its correlation metric), and a fresh process compiles nothing
for it where pynndescent compiles for about 11 s.

Correlation distance is cosine distance between rows centred on their own
mean. Above :data:`EXACT_UP_TO` points :func:`approximate` searches such a
metric with pynndescent's cosine (dot products of normalised rows, its fast
path) on the centred rows instead of its ``correlation`` (which centres both
rows at every one of the search's distance evaluations), then computes the
found pairs' distances again in float64. Rows without spread (a constant
row, after centring a zero vector, whose correlation is undefined) keep
umap-learn's convention (0 between two of them, 1 to any other row); the
approximate search then falls back to pynndescent's own metric.

Both are deterministic: the same points and ``k`` give the same graph in
every process and on any number of cores (the product and the search run on
one thread; the final order is by distance, then index, with each point
itself first).
"""

from __future__ import annotations

import numpy as np

from featlib.errors import NeighbourError
from featlib.lazy import LazyModule, threadpoolctl, umap

kernels = LazyModule("featlib.maps.kernels")
"""The Numba kernels (:mod:`featlib.maps.kernels`), imported with Numba at their first use."""

EXACT_UP_TO = 15_000
"""Up to this many points the graph is exact (:func:`exact`); above, pynndescent's (:func:`approximate`)."""
EXACT_METRICS = ("euclidean", "cosine", "correlation")
"""The metrics :func:`exact` computes (as a matrix product); others always go through pynndescent."""
MARGIN = 8
"""Candidates kept per row beyond ``k`` from the float32 ranking, then ranked again in float64."""
CHUNK_VALUES = 1 << 22
"""float32 scores per chunk of rows (16 MiB)."""
BLOCK_VALUES = 1 << 22
"""float64 values per block when rows are compared again exactly (32 MiB): a wide layer is never copied whole."""


def uses_exact(n_points: int, metric: str) -> bool:
    """Whether :func:`graph` computes ``metric``'s graph of ``n_points`` points exactly."""
    return n_points <= EXACT_UP_TO and metric in EXACT_METRICS


def graph(x: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest neighbours of every row of ``x`` (each row itself first): exact or approximate by size.

    Args:
        x: float array ``(n, d)``, finite, ``n > k``.
        k: neighbours per row, the row itself included (UMAP's ``n_neighbors``).
        metric: one of umap-learn's metric names.

    Returns:
        ``(indices, distances)``: int32 and float32 arrays ``(n, k)``, nearest first.
    """
    if uses_exact(len(x), metric):
        return exact(x, k, metric)
    return approximate(x, k, metric)


def _row_stats(x: np.ndarray, metric: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """float64 per row: the mean a metric subtracts (correlation; 0 for cosine) and the length after it.

    ``(None, None)`` for Euclidean. Computed in blocks, so a wide layer is
    never copied whole in float64.
    """
    if metric == "euclidean":
        return None, None
    if metric not in ("cosine", "correlation"):
        raise NeighbourError(f"exact neighbours support {list(EXACT_METRICS)}; got {metric!r}")
    n, d = x.shape
    means = x.mean(axis=1, dtype=np.float64) if metric == "correlation" else np.zeros(n)
    norms = np.empty(n)
    step = max(1, BLOCK_VALUES // max(d, 1))
    for start in range(0, n, step):
        block = x[start : start + step].astype(np.float64) - means[start : start + step, None]
        norms[start : start + step] = np.sqrt(np.einsum("ij,ij->i", block, block))
    return means, norms


def _rows64(x: np.ndarray, index, means: np.ndarray | None, norms: np.ndarray | None) -> np.ndarray:
    """``x[index]`` in float64 as the metric compares rows: as they are (Euclidean), else centred and of length 1.

    A row of length 0 (after centring) stays 0.
    """
    rows = x[index].astype(np.float64)
    if means is None:
        return rows
    rows -= means[index][..., None]
    lengths = norms[index]
    rows /= np.where(lengths == 0.0, 1.0, lengths)[..., None]
    return rows


def _unit32(x: np.ndarray, means: np.ndarray, norms: np.ndarray) -> np.ndarray:
    """Every row centred and scaled to length 1 (:func:`_rows64`), stored as float32, built in blocks."""
    out = np.empty(x.shape, dtype=np.float32)
    step = max(1, BLOCK_VALUES // max(x.shape[1], 1))
    for start in range(0, len(x), step):
        out[start : start + step] = _rows64(x, slice(start, start + step), means, norms)
    return out


def _pair_distances(
    x: np.ndarray, means: np.ndarray | None, norms: np.ndarray | None, metric: str, candidates: np.ndarray
) -> np.ndarray:
    """float64 distances from each row ``i`` of ``x`` to the rows ``candidates[i]``, in blocks of rows.

    Cosine and correlation follow umap-learn's convention for rows of length
    0 (after centring): 0 between two of them, 1 between one and any other.
    """
    n, keep = candidates.shape
    distances = np.empty((n, keep))
    zero = None if norms is None else norms == 0.0
    step = max(1, BLOCK_VALUES // max(keep * x.shape[1], 1))
    for start in range(0, n, step):
        stop = min(n, start + step)
        mine = _rows64(x, slice(start, stop), means, norms)
        theirs = _rows64(x, candidates[start:stop], means, norms)
        if metric == "euclidean":
            diff = theirs - mine[:, None, :]
            distances[start:stop] = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
            continue
        block = 1.0 - np.einsum("ijk,ik->ij", theirs, mine)
        if zero.any():
            flat, flat_too = zero[start:stop, None], zero[candidates[start:stop]]
            block = np.where(flat & flat_too, 0.0, np.where(flat | flat_too, 1.0, block))
        distances[start:stop] = np.maximum(block, 0.0)
    return distances


def _ordered(candidates: np.ndarray, distances: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` nearest candidates by (distance, the row itself first, index): int32, float32."""
    own = np.arange(len(candidates))[:, None]
    order = np.lexsort((candidates, candidates != own, distances), axis=1)[:, :k]
    return (
        np.take_along_axis(candidates, order, 1).astype(np.int32),
        np.take_along_axis(distances, order, 1).astype(np.float32),
    )


def exact(x: np.ndarray, k: int, metric: str = "euclidean") -> tuple[np.ndarray, np.ndarray]:
    """The exact ``k`` nearest neighbours of every row of ``x`` under ``metric`` (:data:`EXACT_METRICS`).

    Cosine and correlation are ranked by dot products of unit rows (centred
    first for correlation), Euclidean by ``|y|² − 2 x·y``, in float32 chunks
    of :data:`CHUNK_VALUES` (BLAS on one thread, so the result does not
    depend on the cores); each row's ``k`` + :data:`MARGIN` best candidates
    are then ranked again by their float64 distances. Quadratic in the
    number of points: meant for up to :data:`EXACT_UP_TO`.

    Returns:
        ``(indices, distances)``: int32 and float32 ``(n, k)``, the row itself
        first, then by distance and index.

    Raises:
        ValueError: an unsupported metric, or ``k`` not within ``[1, n]``.
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    n = len(x)
    if not 1 <= k <= n:
        raise NeighbourError(f"k must be within [1, {n}] for {n} points; got {k}")
    means, norms = _row_stats(x, metric)
    ranked = x if means is None else _unit32(x, means, norms)
    squares = np.einsum("ij,ij->i", ranked, ranked)
    keep = min(n, k + MARGIN)
    candidates = np.empty((n, keep), dtype=np.int64)
    step = max(1, CHUNK_VALUES // n)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        for start in range(0, n, step):
            stop = min(n, start + step)
            scores = ranked[start:stop] @ ranked.T
            if metric == "euclidean":
                scores *= -2.0
                scores += squares[None, :]
            else:
                np.negative(scores, out=scores)
            scores[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # each row keeps itself
            kernels.select_smallest(scores, keep, candidates[start:stop])
    return _ordered(candidates, _pair_distances(x, means, norms, metric, candidates), k)


def approximate(x: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """pynndescent's ``k`` nearest neighbours of every row (umap-learn's ``nearest_neighbors``, seed 0, one thread).

    Correlation runs as cosine on the centred rows (see the module's
    docstring) unless a row has no spread; cosine and correlation distances
    are then computed again in float64 for the pairs found and each row
    sorted by (distance, itself first, index).
    """
    x = np.ascontiguousarray(x, dtype=np.float32)
    search, search_metric = x, metric
    means = norms = None
    if metric in ("cosine", "correlation"):
        means, norms = _row_stats(x, metric)
        if metric == "correlation" and not (norms == 0.0).any():
            search, search_metric = _unit32(x, means, norms), "cosine"
    # A fixed seed and one thread: the graph, and so every map made from it,
    # is the same whichever seed or session asked for it first. pynndescent
    # splits its work by thread count: with n_jobs=2 it is repeatable but
    # another graph (543 of 10,000 rows differ, bench/parallel_steps.py), so
    # the map would depend on the machine's cores.
    indices, distances, _ = umap.umap_.nearest_neighbors(
        search, k, search_metric, {}, False, np.random.RandomState(0), n_jobs=1
    )
    if means is None:
        return indices.astype(np.int32), distances.astype(np.float32)
    candidates = indices.astype(np.int64)
    missing = candidates < 0  # pynndescent's "not found" (-1): kept last
    exact_distances = _pair_distances(x, means, norms, metric, np.where(missing, 0, candidates))
    exact_distances[missing] = np.inf
    found, found_distances = _ordered(np.where(missing, len(x), candidates), exact_distances, k)
    found[found == len(x)] = -1
    return found, found_distances
