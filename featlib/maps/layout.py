"""UMAP's layout on every core, reproducibly: the same seed and points give the same map on any number of threads.

umap-learn runs its stochastic gradient descent on one thread whenever a seed is given (its parallel epoch
updates the positions from several threads at once, in an order that depends on their timing: umap-learn
issues #853, #1080), so a seeded map leaves the other cores idle. featlib keeps umap-learn for everything
before the layout (the fuzzy graph, ``a`` and ``b``, the spectral or PCA start: :class:`SeededUMAP` is
``umap.UMAP`` with only its layout step replaced) and runs the layout with :func:`optimize`, a Numba
``prange`` kernel whose result does not depend on how its work is split:

- **Each point is moved by one thread only.** The graph's edges are sorted by their head; a thread takes a
  block of heads and, for each, walks its edges in order, moving the head. The graph holds both directions
  of every edge (it is symmetric), so where umap-learn moves both ends of an edge when it samples it
  (``move_other=True``), here each end is moved by its own owner, through its own copy of the edge. Each
  owner moves its point by the pull of both directions (twice the one edge's clipped step), so a point gets
  the same pull per sampled edge as in umap-learn.
- **Every other point is read from a snapshot** taken at the start of the epoch, so no value read depends
  on which thread got there first.
- **Negative samples come from a counter-based random function** of ``(seed, epoch, edge, sample)``
  (splitmix64's mixing function), not from a random state shared or carried between points.
- **The start is made on one BLAS thread** (umap-learn's spectral or PCA start, its code), so that it too
  is the same on any number of cores.
- The rest is umap-learn's (``umap/layouts.py``, ``_optimize_layout_euclidean_single_epoch``): ``a``,
  ``b``, the repulsion strength ``gamma``, the learning rate falling linearly from 1, each edge sampled every
  ``epochs_per_sample`` epochs (:func:`umap.umap_.make_epochs_per_sample` of its weight) with
  ``negative_sample_rate`` negative samples per sample, every step clipped to ``[-4, 4]`` per coordinate.

So a map is a function of the points, the parameters and the seed alone: one thread and two give the same
coordinates, bit for bit (``tests/test_parallel_layout.py``), which is more than the issue asks (the same
map for the same core count). It is not umap-learn's map for the same seed (umap-learn moves points in
another order, with another random stream), but of the same quality: ``bench/parallel_layout_study.py``
compares the 10-NN accuracy and trustworthiness of both on the digits and on Fashion-MNIST samples, and
times both on one and two threads.

The kernel is compiled with ``cache=True`` and kept in featlib's compile cache with umap-learn's functions
(:func:`featlib.maps.embed.enable_numba_cache`); :func:`featlib.maps.embed.warm_up` compiles it. This
module imports Numba and umap-learn when it is imported: :mod:`featlib.maps.embed` reaches it through a
:class:`featlib.lazy.LazyModule` proxy, at the first map.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np

from featlib.errors import ReducerError
from featlib.lazy import sklearn, threadpoolctl, umap

INITS = ("spectral", "pca", "random")
"""The starts :class:`SeededUMAP` lays out itself (umap-learn's, made as umap-learn makes them); any other
``init`` (an array, ``"tswspectral"``) goes to umap-learn's own single-threaded layout."""
CLIP = np.float32(4.0)
"""umap-learn's bound on each coordinate of one step's gradient (``umap.layouts.clip``), as float32: the kernel
computes in float32, the positions' type."""
GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_SHIFT = np.uint64(32)
MAX_POINTS = 1 << 32
"""The kernel draws negative samples with 32 random bits: at most this many points."""

LayoutProgress = Callable[[int, int], None]
"""Called as ``progress(epochs_done, n_epochs)`` at the start (0) and after every epoch."""


@numba.njit(cache=True, nogil=True, inline="always")
def _mix(z):  # noqa: ANN001, ANN202  (compiled by Numba)
    """splitmix64's finaliser: a bijection of uint64 that spreads every input bit over the output."""
    z = (z ^ (z >> np.uint64(30))) * _MIX_1
    z = (z ^ (z >> np.uint64(27))) * _MIX_2
    return z ^ (z >> np.uint64(31))


@numba.njit(cache=True, nogil=True, inline="always")
def _clip(value):  # noqa: ANN001, ANN202  (compiled by Numba)
    if value > CLIP:
        return CLIP
    if value < -CLIP:
        return -CLIP
    return value


@numba.njit(cache=True, nogil=True, parallel=True, fastmath=True)
def epoch(  # noqa: PLR0913  (the kernel's state, passed as arrays)
    positions,
    snapshot,
    starts,
    tail,
    epochs_per_sample,
    epoch_of_next_sample,
    epochs_per_negative_sample,
    epoch_of_next_negative_sample,
    a,
    b,
    gamma,
    alpha,
    n,
    key,
):  # noqa: ANN001, ANN201  (compiled by Numba)
    """One epoch of UMAP's layout; moves ``positions`` in place.

    ``positions`` and ``snapshot`` are float32 ``(n_points, dim)``, ``snapshot`` a copy of ``positions``
    at the start of the epoch; the edges of point ``v`` are ``starts[v]:starts[v + 1]`` of ``tail`` and of
    the four float64 schedules (umap-learn's). ``n`` is the epoch's number, ``key`` the seed's uint64.
    Point ``v`` is moved by the thread that owns it only, and every other point is read from
    ``snapshot``, so the result does not depend on the number of threads.
    """
    n_points, dim = positions.shape
    # float32 arithmetic throughout (``a``, ``b``, ``gamma``, ``alpha`` come as float32), the positions' type:
    # float32 pow is cheaper than float64's, at the same map quality (bench/RESULTS.md, "The layout in float32")
    one, two, small = np.float32(1.0), np.float32(2.0), np.float32(0.001)
    n_vertices = np.uint64(n_points)
    epoch_key = _mix(key ^ _mix(np.uint64(n) * GOLDEN))
    for v in numba.prange(n_points):
        current = positions[v]
        for i in range(starts[v], starts[v + 1]):
            if epoch_of_next_sample[i] > n:
                continue
            k = tail[i]
            other = snapshot[k]
            dist_squared = np.float32(0.0)
            for d in range(dim):
                diff = current[d] - other[d]
                dist_squared += diff * diff
            if dist_squared > 0.0:
                power = pow(dist_squared, b)  # d^(2b); d^(2b - 2) is power / d² (one pow, not umap-learn's two)
                grad_coeff = -two * a * b * (power / dist_squared) / (a * power + one)
                for d in range(dim):
                    # both directions of the edge pull this point (umap-learn's move_other): twice the step
                    current[d] += two * _clip(grad_coeff * (current[d] - other[d])) * alpha
            epoch_of_next_sample[i] += epochs_per_sample[i]

            n_neg_samples = int((n - epoch_of_next_negative_sample[i]) / epochs_per_negative_sample[i])
            edge_key = _mix(epoch_key ^ (np.uint64(i) * GOLDEN))
            for p in range(n_neg_samples):
                # the high 32 bits scaled to [0, n_points) (Lemire's multiply-shift: no division)
                k = np.int64(((_mix(edge_key + np.uint64(p + 1) * GOLDEN) >> _SHIFT) * n_vertices) >> _SHIFT)
                if k == v:
                    continue
                other = snapshot[k]
                dist_squared = np.float32(0.0)
                for d in range(dim):
                    diff = current[d] - other[d]
                    dist_squared += diff * diff
                if dist_squared > 0.0:
                    grad_coeff = two * gamma * b
                    grad_coeff /= (small + dist_squared) * (a * pow(dist_squared, b) + one)
                    for d in range(dim):
                        current[d] += _clip(grad_coeff * (current[d] - other[d])) * alpha
            epoch_of_next_negative_sample[i] += n_neg_samples * epochs_per_negative_sample[i]


def optimize(
    positions: np.ndarray,
    head: np.ndarray,
    tail: np.ndarray,
    weights: np.ndarray,
    n_epochs: int,
    a: float,
    b: float,
    seed: int,
    gamma: float = 1.0,
    initial_alpha: float = 1.0,
    negative_sample_rate: float = 5.0,
    progress: LayoutProgress | None = None,
) -> np.ndarray:
    """UMAP's layout of a symmetric graph from ``positions``, on Numba's threads, the same on any number of them.

    Args:
        positions: float ``(n_points, dim)``, the start (umap-learn's, scaled to ``[0, 10]``); not modified.
        head, tail: int ``(n_edges,)``, the graph's edges; both directions of every edge present (umap-learn's
            fuzzy graph is symmetric).
        weights: float ``(n_edges,)``, their membership strengths, all positive.
        n_epochs: epochs (≥ 1).
        a, b: the curve ``1 / (1 + a d^(2b))`` (:func:`umap.umap_.find_ab_params`).
        seed: the negative samples' seed, an int in ``[0, 2**64)``.
        gamma, initial_alpha, negative_sample_rate: umap-learn's ``repulsion_strength``, ``learning_rate``
            and ``negative_sample_rate``.
        progress: ``progress(done, n_epochs)`` at the start (``done=0``) and after each epoch; what it raises
            stops the layout.

    Returns:
        The layout, float32 ``(n_points, dim)``, C-contiguous.

    Raises:
        ReducerError: :data:`MAX_POINTS` points or more.
    """
    positions = np.array(positions, dtype=np.float32, order="C")
    if len(positions) >= MAX_POINTS:
        raise ReducerError(
            f"featlib's UMAP layout draws its negative samples from 32 random bits, so it lays out fewer than "
            f"{MAX_POINTS:,} points; got {len(positions):,}. Map a sample of the points."
        )
    head = np.asarray(head, dtype=np.int64)
    order = np.argsort(head, kind="stable") if len(head) and np.any(np.diff(head) < 0) else None
    if order is not None:
        head, tail, weights = head[order], np.asarray(tail)[order], np.asarray(weights)[order]
    tail = np.ascontiguousarray(tail, dtype=np.int64)
    starts = np.zeros(len(positions) + 1, dtype=np.int64)
    np.cumsum(np.bincount(head, minlength=len(positions)), out=starts[1:])
    epochs_per_sample = umap.umap_.make_epochs_per_sample(np.asarray(weights, dtype=np.float64), n_epochs)
    epochs_per_sample = np.ascontiguousarray(epochs_per_sample, dtype=np.float64)
    epochs_per_negative_sample = epochs_per_sample / negative_sample_rate
    epoch_of_next_negative_sample = epochs_per_negative_sample.copy()
    epoch_of_next_sample = epochs_per_sample.copy()
    snapshot = np.empty_like(positions)
    key = np.uint64(int(seed) % (1 << 64))
    alpha = float(initial_alpha)
    if progress is not None:
        progress(0, n_epochs)
    for n in range(n_epochs):
        np.copyto(snapshot, positions)
        epoch(
            positions,
            snapshot,
            starts,
            tail,
            epochs_per_sample,
            epoch_of_next_sample,
            epochs_per_negative_sample,
            epoch_of_next_negative_sample,
            np.float32(a),
            np.float32(b),
            np.float32(gamma),
            np.float32(alpha),
            n,
            key,
        )
        alpha = initial_alpha * (1.0 - n / n_epochs)  # umap-learn's schedule (epochs 0 and 1 both at 1)
        if progress is not None:
            progress(n + 1, n_epochs)
    return positions


class SeededUMAP(umap.UMAP):
    """``umap.UMAP`` whose layout step is :func:`optimize`: every core, and the same map on any number of them.

    Everything before the layout is umap-learn's (its fit, the fuzzy graph, ``a`` and ``b``, the start, the
    pruning of weak edges, the ``NaN`` of disconnected points). Set :attr:`layout_threads` (Numba's threads
    for the layout; umap-learn runs the rest of a seeded fit on one) and :attr:`layout_progress` before
    fitting. Needs an integer ``random_state`` and an ``init`` of :data:`INITS`; anything else (and
    densMAP, or a non-Euclidean output metric) is laid out by umap-learn itself.
    """

    layout_threads: int = 1
    layout_progress: LayoutProgress | None = None

    def _fit_embed_data(self, X, n_epochs, init, random_state, **kwargs):  # noqa: ANN001, ANN202, N803 (umap-learn's)
        """umap-learn's ``simplicial_set_embedding`` up to its layout (same pruning, start and scaling), then
        :func:`optimize`. Returns ``(embedding, aux_data)`` as umap-learn's does."""
        if (
            not isinstance(init, str)
            or init not in INITS
            or not isinstance(n_epochs, int)
            or n_epochs < 1
            or self.densmap
            or self.output_dens
            or self.output_metric not in ("euclidean", "l2")
        ):
            return super()._fit_embed_data(X, n_epochs, init, random_state, **kwargs)
        graph = self.graph_.tocoo()
        graph.sum_duplicates()
        default_epochs = 500 if graph.shape[0] <= 10_000 else 200
        graph.data[graph.data < graph.data.max() / float(n_epochs if n_epochs > 10 else default_epochs)] = 0.0
        graph.eliminate_zeros()
        with threadpoolctl.threadpool_limits(1, user_api="blas"):  # the start: the same bits on any core count
            embedding = _start(X, graph, init, self.n_components, random_state, self)
        # umap-learn draws its layout's random state here; the kernel's key comes from the same draws
        draws = random_state.randint(umap.umap_.INT32_MIN, umap.umap_.INT32_MAX, 3).astype(np.int64)
        key = ((int(draws[0]) & 0xFFFFFFFF) << 32) | (int(draws[1]) & 0xFFFFFFFF)
        span = np.max(embedding, 0) - np.min(embedding, 0)
        embedding = (10.0 * (embedding - np.min(embedding, 0)) / span).astype(np.float32, order="C")
        before = numba.get_num_threads()
        numba.set_num_threads(max(1, int(self.layout_threads)))
        try:
            embedding = optimize(
                embedding,
                graph.row,
                graph.col,
                graph.data,
                n_epochs,
                self._a,
                self._b,
                key,
                gamma=self.repulsion_strength,
                initial_alpha=self._initial_alpha,
                negative_sample_rate=self.negative_sample_rate,
                progress=self.layout_progress,
            )
        finally:
            numba.set_num_threads(before)
        return embedding, {}


def _start(x: np.ndarray, graph: object, init: str, dim: int, random_state: object, reducer: object) -> np.ndarray:
    """umap-learn's start for ``init`` (``simplicial_set_embedding``'s code): random in ``[-10, 10]``, or PCA
    or the spectral embedding of the graph, scaled to ``[-10, 10]`` with a little noise."""
    if init == "random":
        return random_state.uniform(low=-10.0, high=10.0, size=(graph.shape[0], dim)).astype(np.float32)
    if init == "pca":  # featlib maps dense arrays (umap-learn takes a truncated SVD of sparse ones)
        pca = sklearn.decomposition.PCA(n_components=dim, random_state=random_state)
        coords = pca.fit_transform(x).astype(np.float32)
    else:
        coords = umap.spectral.spectral_layout(
            x,
            graph,
            dim,
            random_state,
            metric=reducer._input_distance_func,
            metric_kwds=reducer._metric_kwds,
        )
    return umap.umap_.noisy_scale_coords(coords, random_state, max_coord=10, noise=0.0001)
