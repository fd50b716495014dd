"""2-D and 3-D maps of representations: UMAP, PCA and t-SNE, and sampling.

umap-learn, scikit-learn's PCA and openTSNE's t-SNE do the work; this module fixes
each reducer's parameters in one hashable object (``UMAPParams``,
``PCAParams``, ``TSNEParams``) and maps points through :func:`reduce`, with
UMAP's epochs and t-SNE's iterations reported as progress.

Few points: every reducer needs a number of them (:func:`min_points`; the
least per reducer in :data:`MIN_POINTS`: PCA 2, UMAP 4, t-SNE 7) and refuses
fewer with a :class:`ReducerError` naming the rule and what to lower;
:func:`max_n_neighbors` and :func:`max_perplexity` give the widest parameters
a number of points allows, to bound the pages' widgets. Parameters outside
featlib's ranges (one table per reducer in :mod:`featlib.maps.reducer_params`:
its defaults and bounds, also :data:`MAX_N_NEIGHBORS`, :data:`MAX_SEED`,
:data:`MAX_EPOCHS`) are refused when the parameter object is made.

Three dimensions: every parameter object has ``dims`` (2, the default, or 3: :data:`featlib.maps.reducer_params.DIMS`),
and :func:`reduce` then returns ``(n, 3)``. Its key (:attr:`UMAPParams.key`) names ``dims=3`` only for a 3-D map,
so every 2-D key, stored map and link made before stays valid. t-SNE in 3-D runs openTSNE's Barnes-Hut gradient
(its FFT interpolation lays out one or two dimensions only) on the CPU (cuML's t-SNE makes 2-D maps only).
"""

from __future__ import annotations

import io
import os
import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from featlib.errors import ReducerError
from featlib.lazy import LazyModule, numba, opentsne, sklearn, threadpoolctl, umap
from featlib.maps import auto_metric, gpu, knn, reducer_params
from featlib.maps.auto_metric import (
    ANGULAR_MIN_UNITS,  # noqa: F401  (re-exported: the Explore page's help names it)
    MetricChoice,
)
from featlib.maps.reducer_params import AUTO_METRIC, MAP_SAMPLE, TSNE, UMAP
from featlib.maps.sampling import stratified_sample  # noqa: F401  (re-exported: featlib.maps.embed.stratified_sample)

layout = LazyModule("featlib.maps.layout")
"""UMAP's seeded layout on every core (:mod:`featlib.maps.layout`), imported with Numba and umap-learn at the first map."""

METRICS: tuple[str, ...] = UMAP["metric"].rule.choices
"""UMAP's metrics: ``"auto"`` (the default, :func:`resolve_metric`) or one of umap-learn's."""
AUTO_RULE = "trial-maps"
"""The version of what ``metric="auto"`` means (:mod:`featlib.maps.auto_metric`), in :attr:`UMAPParams.key`: a map
stored under an earlier rule is not served for this one."""
DEFAULT_SAMPLE = MAP_SAMPLE
"""A map's sample size (:data:`featlib.maps.reducer_params.MAP_SAMPLE`)."""
SMALL_MAP_POINTS = 10_000
"""Up to this many points a map gets :data:`SMALL_MAP_EPOCHS` and a spectral start; above, :data:`LARGE_MAP_EPOCHS`
and a PCA start."""
SMALL_MAP_EPOCHS = 300
LARGE_MAP_EPOCHS = 300
"""umap-learn's 200 above 10,000 points until 2026-12-07; 300 since the float32 layout made them affordable:
on 70,000 Fashion-MNIST points 0.3 point more 10-NN accuracy, level with Embedding Atlas's map (bench/RESULTS.md)."""
PCA_DIMS: int = UMAP["pca_dims"].default
PCA_FROM = 100
"""Representations with more units than this are reduced to ``pca_dims`` by PCA before UMAP."""
APPROXIMATE_FROM = 4_096
"""umap-learn's own small path (exact neighbours from all pairwise distances) ends here; from this many points
on, the pages keep a map's kNN graph in memory for reuse (:data:`featlib.pipeline.knn_graphs`)."""
WARM_UP_POINTS = 4_500
MAX_N_NEIGHBORS = int(UMAP["n_neighbors"].high)
"""The largest ``n_neighbors`` featlib takes (the Explore page's widget bound; links above it are refused)."""
MAX_SEED = reducer_params.SEED_MAX
"""Seeds are integers in ``[0, MAX_SEED]`` (NumPy refuses negative ones; the pages' widgets stop here)."""
MAX_EPOCHS = int(UMAP["n_epochs"].high)
"""The most UMAP epochs one map may ask for (featlib's schedule uses 200 or 300)."""
UMAP_MIN_POINTS = UMAP.min_points
"""UMAP's spectral layout needs at least this many points (umap-learn's eigen-solve fails on 3), whatever ``n_neighbors``."""
PCA_MIN_POINTS = reducer_params.PCA.min_points
TSNE_MIN_PERPLEXITY = float(TSNE["perplexity"].low)
MAX_PERPLEXITY = float(TSNE["perplexity"].high)
TSNE_PCA_MIN_SPREAD = 1e-12
"""Below this spread (the root of the summed column variances) t-SNE starts from a random layout, not PCA."""
TSNE_JOBS = 1
"""openTSNE's threads: a constant, never the machine's cores, because the map depends on it (the 1,797 digits, seed
42: 10-NN accuracy 0.9883 with one thread, 0.9872 with two). For a fixed count it is deterministic: the same
points, parameters and seed give the same map, bit for bit (``tests/test_tsne.py``; two threads too, measured on
the digits and on 10,000 Fashion-MNIST images). One, as UMAP's layout: two threads were 1.3-1.5 times as fast at
10,000 points on the 2-core machine when it was quiet (41-48 s against 62 s) but slower on the digits when it was
loaded (28-58 s against 17-23 s), and jobs share its two cores."""
TSNE_EXAGGERATION_ITERATIONS = 250
"""openTSNE's early-exaggeration iterations (its default), before :data:`TSNE_ITERATIONS`."""
TSNE_ITERATIONS = 500
"""openTSNE's iterations after the early exaggeration (its default)."""
TSNE_PROGRESS_EVERY = 10
"""t-SNE reports its progress (and checks for cancellation through it) every this many iterations."""


DIMS = reducer_params.DIMS


def _key(name: str, values: dict) -> str:
    """``<name>-<field>=<value>-…`` for cache keys, ``dims`` left out when 2 (every 2-D key as it was)."""
    if values.get(DIMS.name) == DIMS.default:
        values = {k: v for k, v in values.items() if k != DIMS.name}
    return "-".join([name, *(f"{k}={v}" for k, v in values.items())])


Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``."""


@dataclass(frozen=True)
class UMAPParams:
    """umap-learn's parameters that change the map.

    ``n_epochs=None`` (the default) follows :func:`layout_schedule`: 300
    epochs (umap-learn: 500 up to 10,000 points, 200 above); above 10,000
    points the layout starts from PCA instead of the spectral embedding, whose
    eigen-solve takes about 7 s on 70,000 points on two cores.
    ``python -m featlib bench`` prints the maps' 10-NN accuracy beside
    umap-learn's defaults. ``pca_dims`` reduces wider representations with
    PCA first (``None``: never). ``metric="auto"`` (the default) is Euclidean
    or correlation, whichever separates the points' classes better in the
    layer (:func:`resolve_metric`, :mod:`featlib.maps.auto_metric`).
    """

    n_neighbors: int = UMAP["n_neighbors"].default
    min_dist: float = UMAP["min_dist"].default
    metric: str = UMAP["metric"].default
    random_state: int = UMAP["random_state"].default
    n_epochs: int | None = UMAP["n_epochs"].default
    pca_dims: int | None = UMAP["pca_dims"].default
    dims: int = DIMS.default
    """The map's dimensions, 2 or 3 (:data:`featlib.maps.reducer_params.DIMS`)."""

    def __post_init__(self) -> None:
        """Refuses a field outside :data:`featlib.maps.reducer_params.UMAP` or ``dims`` outside 2..3 with a
        ``ValueError`` naming it."""
        UMAP.check(self)
        DIMS.check(self.dims)

    @property
    def key(self) -> str:
        """A short string naming these parameters, for cache keys and file names (``dims=3`` only in 3-D)."""
        return _key("umap", dict(asdict(self), metric=self.metric_key))

    @property
    def metric_key(self) -> str:
        """The metric in keys: its name, or for ``"auto"`` the rule's version too (``"auto:trial-maps"``)."""
        return f"{AUTO_METRIC}:{AUTO_RULE}" if self.metric == AUTO_METRIC else self.metric


@dataclass(frozen=True)
class PCAParams:
    """A linear 2-D (or 3-D: ``dims=3``) projection: PCA on the (centred) representation. Deterministic."""

    dims: int = DIMS.default
    """The map's dimensions, 2 or 3: the first two or three principal components."""

    def __post_init__(self) -> None:
        """Refuses ``dims`` outside 2..3 with a ``ValueError`` naming it."""
        DIMS.check(self.dims)

    @property
    def key(self) -> str:
        """A short string naming these parameters, for cache keys and file names (``pca``; ``pca-dims=3``)."""
        return _key("pca", asdict(self))


@dataclass(frozen=True)
class TSNEParams:
    """openTSNE's t-SNE (:func:`tsne_embed`). Representations wider than :data:`PCA_FROM` get PCA first."""

    perplexity: float = TSNE["perplexity"].default
    random_state: int = TSNE["random_state"].default
    pca_dims: int | None = TSNE["pca_dims"].default
    dims: int = DIMS.default
    """The map's dimensions, 2 or 3 (3: openTSNE's Barnes-Hut gradient, on the CPU)."""

    def __post_init__(self) -> None:
        """Refuses a field outside :data:`featlib.maps.reducer_params.TSNE` or ``dims`` outside 2..3 with a
        ``ValueError`` naming it."""
        TSNE.check(self)
        DIMS.check(self.dims)

    @property
    def key(self) -> str:
        """A short string naming these parameters, for cache keys and file names (``dims=3`` only in 3-D)."""
        return _key("tsne", asdict(self))


ReducerParams = UMAPParams | PCAParams | TSNEParams
REDUCERS: dict[str, type] = {"umap": UMAPParams, "pca": PCAParams, "tsne": TSNEParams}
"""Reducers by short name, as in links and the CLI."""
REDUCER_TITLES = {name: table.title for name, table in reducer_params.TABLES.items()}
MIN_POINTS: dict[str, int] = {name: table.min_points for name, table in reducer_params.TABLES.items()}
"""The fewest points each reducer maps with its smallest parameters (UMAP ``n_neighbors=2``, t-SNE
``perplexity=2``); :func:`min_points` gives the bound for given parameters."""


def min_points(reducer: str | ReducerParams, params: ReducerParams | None = None) -> int:
    """The fewest points ``reducer`` can map with ``params``.

    - PCA: 2 (one point has no direction).
    - UMAP: ``max(n_neighbors + 1, 4)``: more points than neighbours, and at
      least :data:`UMAP_MIN_POINTS` for its spectral layout (15 neighbours,
      the default: 16 points).
    - t-SNE: ``floor(3 × perplexity) + 1``: more than 3 × perplexity, the
      neighbours t-SNE reads per point (perplexity
      30, the default: 91 points; perplexity 2, the least: 7).

    Args:
        reducer: a short name (a key of :data:`REDUCERS`) or a parameter object.
        params: the parameters when ``reducer`` is a name; ``None``: that
            reducer's defaults.

    Returns:
        The minimum number of points, an int ≥ 2.

    Raises:
        ValueError: an unknown reducer name, or ``params`` of another reducer.

    Example:
        >>> min_points("umap"), min_points(UMAPParams(n_neighbors=5)), min_points("tsne", TSNEParams(perplexity=5))
        (16, 6, 16)
    """
    if isinstance(reducer, str):
        if reducer not in REDUCERS:
            raise ReducerError(f"Unknown reducer: {reducer!r}. Expected one of {list(REDUCERS)}.")
        params = REDUCERS[reducer]() if params is None else params
        if not isinstance(params, REDUCERS[reducer]):
            raise ReducerError(f"{REDUCER_TITLES[reducer]} takes {REDUCERS[reducer].__name__}; got {params!r}.")
    else:
        params = reducer
    if isinstance(params, UMAPParams):
        return max(params.n_neighbors + 1, UMAP_MIN_POINTS)
    if isinstance(params, TSNEParams):
        return int(np.floor(3 * params.perplexity)) + 1
    if isinstance(params, PCAParams):
        return PCA_MIN_POINTS
    raise TypeError(f"Not reducer parameters: {params!r}.")


def max_n_neighbors(n_points: int) -> int | None:
    """The largest UMAP ``n_neighbors`` for ``n_points`` points (``n_points - 1``, at most :data:`MAX_N_NEIGHBORS`).

    Returns ``None`` when UMAP cannot map that few points at all (below :data:`UMAP_MIN_POINTS`).
    """
    if n_points < UMAP_MIN_POINTS:
        return None
    return min(int(n_points) - 1, MAX_N_NEIGHBORS)


def max_perplexity(n_points: int) -> float | None:
    """The largest t-SNE perplexity for ``n_points`` points: ``(n_points - 1) / 3``, at most :data:`MAX_PERPLEXITY`.

    Returns ``None`` when t-SNE cannot map that few points at all (below ``MIN_POINTS["tsne"]``, 7).
    """
    if n_points < MIN_POINTS["tsne"]:
        return None
    return min((int(n_points) - 1) / 3, MAX_PERPLEXITY)


def check_points(params: ReducerParams, n_points: int) -> None:
    """Refuses a map of ``n_points`` points that ``params`` cannot make (see :func:`min_points`).

    Raises:
        ReducerError: too few points, naming the rule, the number received and what to lower.
    """
    need = min_points(params)
    if n_points >= need:
        return
    name = reducer_name(params)
    title = REDUCER_TITLES[name]
    if isinstance(params, UMAPParams):
        most = max_n_neighbors(n_points)
        fix = (
            f"lower n_neighbors to {most} or fewer, or map more points"
            if most is not None
            else f"map at least {UMAP_MIN_POINTS} points, or use PCA"
        )
        raise ReducerError(
            f"{title} needs at least {need} points for n_neighbors={params.n_neighbors} (more points "
            f"than neighbours, and at least {UMAP_MIN_POINTS}); got {n_points}. The fix: {fix}."
        )
    if isinstance(params, TSNEParams):
        most = max_perplexity(n_points)
        fix = (
            f"lower perplexity to {np.floor(most * 10) / 10:g} or less, or map more points"
            if most is not None and most >= TSNE_MIN_PERPLEXITY
            else f"map at least {MIN_POINTS['tsne']} points, or use PCA"
        )
        raise ReducerError(
            f"{title} needs at least {need} points for perplexity={params.perplexity:g} (more than 3 "
            f"× perplexity); got {n_points}. The fix: {fix}."
        )
    raise ReducerError(f"{title} needs at least {need} points for a 2-D map; got {n_points}. Map more points.")


def reducer_name(params: ReducerParams) -> str:
    """The short name (``"umap"``, ``"pca"``, ``"tsne"``) of a parameter object."""
    for name, cls in REDUCERS.items():
        if isinstance(params, cls):
            return name
    raise TypeError(f"Not reducer parameters: {params!r}. Expected one of {[c.__name__ for c in REDUCERS.values()]}.")


def reduce(
    x: np.ndarray,
    params: ReducerParams = UMAPParams(),
    progress: Progress | None = None,
    knn_graph: tuple | None = None,
    backend: str | None = None,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """Maps the rows of ``x`` to 2-D (3-D: ``params.dims == 3``) with the reducer ``params`` names.

    ``progress`` is used by UMAP (its epochs, :func:`umap_embed`) and t-SNE (its iterations, :func:`tsne_embed`);
    ``knn_graph`` and ``labels`` by UMAP only;
    ``backend`` (``"cpu"``, ``"gpu"``; ``None``: :func:`featlib.maps.gpu.choose`) by UMAP and t-SNE.
    Returns a float32 array of shape ``(n, params.dims)``.

    Raises:
        ReducerError: fewer points than :func:`min_points`, or NaN/inf values in ``x``.
        featlib.maps.gpu.BackendError: ``backend="gpu"`` where cuML or a CUDA GPU is missing.
    """
    if isinstance(params, UMAPParams):
        return umap_embed(x, params, progress=progress, knn_graph=knn_graph, backend=backend, labels=labels)
    x = _finite_rows(x, params)
    if isinstance(params, PCAParams):
        return pca_embed(x, dims=params.dims)
    if isinstance(params, TSNEParams):
        return tsne_embed(x, params, backend=backend, progress=progress)
    raise TypeError(f"Not reducer parameters: {params!r}.")


def _finite_rows(x: np.ndarray, params: ReducerParams | None = None) -> np.ndarray:
    """``x`` as float32 rows, after checking there are enough (for ``params``) and every value is finite.

    Raises:
        ReducerError: too few points, or NaN/inf values (counted).
    """
    x = np.asarray(x, dtype="float32").reshape(len(x), -1)
    if params is not None:
        check_points(params, len(x))
    finite = np.isfinite(x)
    if not finite.all():
        bad_rows = int((~finite).any(axis=1).sum())
        raise ReducerError(
            f"The representation holds NaN or infinite values ({int((~finite).sum()):,} of "
            f"{x.size:,}, in {bad_rows:,} of {len(x):,} rows); it cannot be mapped. Expected "
            "finite values: check the model's weights and the layer's outputs."
        )
    return x


def tsne_embed(
    x: np.ndarray, params: TSNEParams = TSNEParams(), backend: str | None = None, progress: Progress | None = None
) -> np.ndarray:
    """Embeds the rows of ``x`` in 2-D (3-D: ``params.dims == 3``) with openTSNE's t-SNE (PCA start), or cuML's on a
    GPU (2-D only: a 3-D map runs openTSNE's Barnes-Hut gradient on the CPU, whatever ``backend``).

    openTSNE (Poličar et al.) computes the repulsive forces with Barnes-Hut below 10,000 points and by FFT-accelerated
    interpolation from there on: on one thread, faster than scikit-learn's Barnes-Hut t-SNE on both cores at the
    same 10-NN accuracy, and far faster when the machine is loaded (``python bench/tsne_study.py``;
    docs/performance.md). Its defaults: 250 iterations of early
    exaggeration (12), then 500 (:data:`TSNE_EXAGGERATION_ITERATIONS`, :data:`TSNE_ITERATIONS`), learning rate
    ``n / exaggeration``, neighbours ``3 × perplexity`` (exact below 1,000 points, Annoy's above, seeded). One thread
    (:data:`TSNE_JOBS`) and one BLAS thread (its PCA start): the same points, parameters and seed give the same map.

    Points that all coincide, or nearly (a spread below :data:`TSNE_PCA_MIN_SPREAD`), start from a random layout
    instead: a PCA start divides by the first component's spread, 0 for a dead layer's zeros.

    Args:
        x: array ``(n, d)``; needs ``n`` above ``3 × perplexity`` (:func:`min_points`).
        params: the :class:`TSNEParams`.
        backend: ``"cpu"``, ``"gpu"`` (:func:`featlib.maps.gpu.tsne`, no progress per iteration), ``None``:
            :func:`featlib.maps.gpu.choose`.
        progress: optional ``progress(stage, done, total)``: ``("neighbours", 0, 1)`` at the start (the
            neighbours and affinities), then ``("layout", iteration, 750)`` every :data:`TSNE_PROGRESS_EVERY`
            iterations. An exception it raises stops the fit and is raised from here.

    Returns:
        A float32 array of shape ``(n, params.dims)``.

    Raises:
        ReducerError: fewer points than ``min_points(params)`` (more than 3 × perplexity), or NaN/inf values.
        featlib.maps.gpu.BackendError: ``backend="gpu"`` where cuML or a CUDA GPU is missing.
    """
    x = _finite_rows(x, params)
    backend = gpu.choose("tsne") if backend is None else backend
    if params.dims != DIMS.default:  # cuML's t-SNE lays out two dimensions only
        backend = "cpu"
    gpu.check(backend)
    if pca_applies(params, x.shape[1], len(x)):
        x = _pca(params.pca_dims, x)
    if x.shape[1] < params.dims:  # a one-unit layer: zero columns leave distances as they are and let PCA start it
        x = np.hstack([x, np.zeros((len(x), params.dims - x.shape[1]), dtype="float32")])
    if backend == "gpu":
        if progress:
            progress("neighbours", 0, 1)
        coords = gpu.tsne(x, perplexity=params.perplexity, random_state=params.random_state)
        if progress:
            progress("iterations", 1, 1)
        return coords
    tsne = tsne_estimator(x, params, progress)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):  # its PCA start: the same bits on any machine
        return np.asarray(tsne.fit(np.ascontiguousarray(x, dtype="float64")), dtype="float32")


def tsne_estimator(x: np.ndarray, params: TSNEParams, progress: Progress | None = None) -> opentsne.TSNE:
    """featlib's openTSNE estimator for the rows of ``x`` (already narrowed and padded as :func:`tsne_embed` does):
    its schedule, one thread, a PCA start (random when the points do not spread), progress per
    :data:`TSNE_PROGRESS_EVERY` iterations (stage ``"iterations"``, after ``("neighbours", 0, 1)``)."""
    spread = float(np.sqrt(np.var(x, axis=0, dtype="float64").sum()))
    callbacks = None
    if progress:
        progress("neighbours", 0, 1)
        callbacks = [_TSNEProgress(progress)]
    # openTSNE's FFT interpolation (its choice from 10,000 points on) lays out one or two dimensions; Barnes-Hut any
    three_d = {"negative_gradient_method": "bh"} if params.dims == 3 else {}
    return opentsne.TSNE(
        n_components=params.dims,
        **three_d,
        perplexity=params.perplexity,
        early_exaggeration_iter=TSNE_EXAGGERATION_ITERATIONS,
        n_iter=TSNE_ITERATIONS,
        initialization="pca" if spread > TSNE_PCA_MIN_SPREAD else "random",
        n_jobs=TSNE_JOBS,
        random_state=params.random_state,
        callbacks=callbacks,
        callbacks_every_iters=TSNE_PROGRESS_EVERY,
    )


class _TSNEProgress:
    """openTSNE's callback (``callback(iteration, error, embedding)``, called every :data:`TSNE_PROGRESS_EVERY`
    iterations of each of its two phases) as ``progress("iterations", done, total)`` over both phases."""

    def __init__(self, progress: Progress):
        self._progress = progress
        self._done = 0
        self._total = TSNE_EXAGGERATION_ITERATIONS + TSNE_ITERATIONS

    def __call__(self, iteration: int, error: float, embedding: np.ndarray) -> bool:
        self._done += TSNE_PROGRESS_EVERY
        self._progress("iterations", min(self._done, self._total), self._total)
        return False  # go on


def resolve_metric(params: UMAPParams, x: np.ndarray, labels: np.ndarray | None = None) -> str:
    """The metric a UMAP map by ``params`` of the points ``x`` uses: ``params.metric``, or for ``"auto"`` the one
    chosen by the maps it makes.

    ``"auto"`` is Euclidean when UMAP reads fewer than
    :data:`ANGULAR_MIN_UNITS` columns (after its PCA, :func:`pca_applies`),
    where two points' values correlate at ±1 or hardly at all. Otherwise it
    is Euclidean or correlation (1 − the Pearson correlation of two points'
    values: cosine after centring each point), whichever makes the better
    trial map of a stratified sample of 2,000 points (50 epochs, scored by the
    10-NN accuracy of ``labels`` on the map); correlation when no labels can
    decide (:func:`featlib.maps.auto_metric.choose` gives the rule and the study
    behind it). The choice depends on the points, labels and parameters alone, so a
    map stays the same for the same points, labels, parameters and seed.

    Args:
        params: the map's parameters.
        x: the points, ``(n, d)``, as the map receives them (before its PCA).
        labels: their integer classes ``(n,)``, or ``None``.

    Returns:
        One of umap-learn's metrics (never ``"auto"``).

    Example:
        >>> x = np.random.default_rng(0).normal(size=(40, 64))
        >>> auto, cosine = UMAPParams(), UMAPParams(metric="cosine")
        >>> resolve_metric(auto, x), resolve_metric(auto, x[:, :3]), resolve_metric(cosine, x[:, :3])
        ('correlation', 'euclidean', 'cosine')
    """
    if params.metric != AUTO_METRIC:
        return params.metric
    x = np.asarray(x).reshape(len(x), -1)
    read = params.pca_dims if pca_applies(params, x.shape[1], len(x)) else x.shape[1]
    return choose_metric(x, labels, columns=read, params=params).metric


def choose_metric(
    x: np.ndarray, labels: np.ndarray | None = None, columns: int | None = None, params: UMAPParams | None = None
) -> MetricChoice:
    """The metric a UMAP map of ``x`` uses for ``metric="auto"``: :func:`featlib.maps.auto_metric.choose`, with its
    trial maps made by :func:`umap_embed` (on the CPU) with ``params``'s ``n_neighbors``, ``min_dist``, seed and
    ``pca_dims`` (default: featlib's defaults).

    Raises:
        ValueError: ``labels`` and ``x`` differ in length.
    """
    params = UMAPParams() if params is None else params

    def trial_map(points: np.ndarray, metric: str, n_epochs: int) -> np.ndarray:
        # 2-D trial maps whatever the map's dims: a 3-D map uses the metric its 2-D twin uses
        return umap_embed(points, replace(params, metric=metric, n_epochs=n_epochs, dims=2), backend="cpu")

    return auto_metric.choose(x, labels, columns, trial_map=trial_map, min_points=min_points(params))


def layout_schedule(n_points: int) -> tuple[int, str]:
    """featlib's ``(n_epochs, init)`` for a UMAP map of ``n_points`` points.

    Chosen with ``python -m featlib bench`` on Fashion-MNIST (docs/performance.md,
    "Defaults chosen by the maps they make"): 300 epochs from the spectral
    embedding keep umap-learn's 10-NN accuracy at 10,000 points in 60 % of its
    500 epochs' time; above, 300 epochs from a PCA start (the spectral start's
    eigen-solve takes seconds there; umap-learn's own 200 epochs lost 0.3 to 0.7
    point of 10-NN accuracy against Embedding Atlas's map at 70,000 points).
    """
    if n_points <= SMALL_MAP_POINTS:
        return SMALL_MAP_EPOCHS, "spectral"
    return LARGE_MAP_EPOCHS, "pca"


class _TqdmProgress(io.StringIO):
    """A file for tqdm whose ``bar_format`` is ``{n}/{total}``: parses the counts.

    tqdm writes while it holds its process-wide lock and does not release it
    when the write raises, so an exception out of ``progress`` would leave
    every later tqdm bar (every later UMAP fit) waiting forever. The first
    exception is kept in :attr:`error` instead, progress stops being
    reported, and :func:`umap_embed` raises it once the fit has returned.
    """

    _COUNTS = re.compile(r"(\d+)/(\d+)")

    def __init__(self, progress: Progress):
        super().__init__()
        self._progress = progress
        self.error: BaseException | None = None

    def write(self, text: str) -> int:
        if self.error is None:
            try:
                for done, total in self._COUNTS.findall(text):
                    self._progress("layout", int(done), int(total))
            except BaseException as error:  # noqa: BLE001  (raised after the fit, outside tqdm's lock)
                self.error = error
        return len(text)


def umap_embed(
    x: np.ndarray,
    params: UMAPParams = UMAPParams(),
    progress: Progress | None = None,
    knn_graph: tuple | None = None,
    init: str | None = None,
    backend: str | None = None,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """Embeds the rows of ``x`` in 2-D (3-D: ``params.dims == 3``) with umap-learn, or with cuML on a GPU.

    The result is reproducible: the same points, parameters and seed give the same map. With featlib's own kNN
    graph (every map but Manhattan ones below :data:`APPROXIMATE_FROM` points) the layout runs on all of Numba's
    threads and the map is the same on any number of them (:mod:`featlib.maps.layout`); umap-learn does the
    rest, and lays out the maps featlib does not (on one thread, as it does with a seed).

    Args:
        x: array of shape ``(n, d)``; needs ``n > n_neighbors`` and ``n >= 4`` (:func:`min_points`).
        params: the :class:`UMAPParams`.
        progress: optional ``progress(stage, done, total)``; stage is
            ``"neighbours"`` (once, at the start) then ``"layout"`` per epoch.
            An exception it raises during the layout stops the layout there
            (featlib's layout) or ends the reports and is raised when the fit
            returns (umap-learn's), never inside umap-learn's tqdm.
        knn_graph: a graph from :func:`nearest_neighbours` for the same
            points, ``n_neighbors`` and metric, to skip that step. Without
            one the graph is made by :func:`nearest_neighbours` too (exact
            up to :data:`featlib.maps.knn.EXACT_UP_TO` points, so no compile wait
            in a new process; pynndescent's above), so a map does not depend
            on whether its graph came from a cache. Only Manhattan maps of
            fewer than :data:`APPROXIMATE_FROM` points leave it to umap-learn.
        init: umap-learn's ``init``; ``None`` follows :func:`layout_schedule`. When the
            neighbour graph falls apart (few neighbours on few points), umap-learn's spectral
            start fails and it starts from random positions instead; its warning is not shown.
        backend: ``"cpu"`` (umap-learn), ``"gpu"`` (:func:`featlib.maps.gpu.umap`: the same
            parameters and epochs, no progress per epoch, ``knn_graph`` unused);
            ``None``: :func:`featlib.maps.gpu.choose` (``$FEATLIB_UMAP_BACKEND``).
        labels: the points' integer classes ``(n,)``, for ``metric="auto"`` (:func:`resolve_metric`); the map
            is not otherwise fitted to them.

    Returns:
        A float32 array of shape ``(n, params.dims)``.

    Raises:
        ReducerError: fewer points than :func:`min_points`, or NaN/inf values.
        featlib.maps.gpu.BackendError: ``backend="gpu"`` where cuML or a CUDA GPU is missing.
    """
    x = _finite_rows(x, params)
    backend = gpu.choose("umap") if backend is None else backend
    gpu.check(backend)
    params = replace(params, metric=resolve_metric(params, x, labels))
    x = reduce_width(x, params)
    if backend == "gpu":
        epochs, start = layout_schedule(len(x))
        if progress:
            progress("neighbours", 0, 1)
        coords = gpu.umap(
            x,
            n_neighbors=params.n_neighbors,
            min_dist=params.min_dist,
            metric=params.metric,
            random_state=params.random_state,
            n_epochs=params.n_epochs or epochs,
            init=init or start,
            n_components=params.dims,
        )
        if progress:
            progress("layout", 1, 1)
        return coords
    if knn_graph is None and _makes_own_graph(len(x), params.metric):
        knn_graph = _nearest_neighbours(x, params)
    tqdm_kwds = None
    sink = None
    if progress:
        progress("neighbours", 0, 1)
        sink = _TqdmProgress(progress)
        tqdm_kwds = {
            "disable": False,
            "file": sink,
            "bar_format": "{n}/{total}\n",
            "mininterval": 0.25,
        }
    scheduled_epochs, scheduled_init = layout_schedule(len(x))
    # Seeded, with featlib's own graph: the layout on every core, the same map on any number of them
    parallel = knn_graph is not None and params.random_state is not None and (init or scheduled_init) in layout.INITS
    reducer = (layout.SeededUMAP if parallel else umap.UMAP)(
        n_components=params.dims,
        n_neighbors=params.n_neighbors,
        min_dist=params.min_dist,
        metric=params.metric,
        random_state=params.random_state,
        n_epochs=params.n_epochs or scheduled_epochs,
        init=init or scheduled_init,
        tqdm_kwds=None if parallel else tqdm_kwds,
        precomputed_knn=knn_graph if knn_graph is not None else (None, None, None),
    )
    threads = numba.get_num_threads()  # umap-learn runs a seeded fit on one and restores them only when it returns
    if parallel:
        reducer.layout_threads = threads
        reducer.layout_progress = None if progress is None else (lambda done, total: progress("layout", done, total))
    with warnings.catch_warnings():
        # "n_jobs value 1 overridden to 1 by setting random_state": expected.
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        # A reused kNN graph carries no search index; featlib never calls transform.
        warnings.filterwarnings("ignore", message="precomputed_knn", category=UserWarning)
        # Few neighbours on few points can leave the graph in pieces: umap-learn then lays them out from a
        # random start instead of the spectral one, as it says; the map is still a map (see the docstring).
        warnings.filterwarnings("ignore", message="Spectral initialisation failed", category=UserWarning)
        # A kNN graph of several components (well-separated classes): umap-learn lays each out on its own and
        # places them by a spectral embedding of their centroids, whose affinities (exp(-d²)) underflow to 0
        # for distant ones; scikit-learn then warns. The map is made as umap-learn means it to be.
        warnings.filterwarnings("ignore", message="Graph is not fully connected", category=UserWarning)
        try:
            coords = reducer.fit_transform(x).astype("float32")
        finally:
            numba.set_num_threads(threads)
    if sink is not None and sink.error is not None:
        raise sink.error
    return coords


def pca_applies(params: UMAPParams | TSNEParams, units: int, n_points: int) -> bool:
    """Whether a map of ``n_points`` points of ``units`` columns reads them after PCA to ``params.pca_dims`` columns:
    when the points are wider than :data:`PCA_FROM` and than ``pca_dims``, and more than ``pca_dims``."""
    dims = params.pca_dims
    return dims is not None and units > max(PCA_FROM, dims) and n_points > dims


def reduce_width(x: np.ndarray, params: UMAPParams) -> np.ndarray:
    """``x`` reduced to ``params.pca_dims`` columns by PCA when it has more than :data:`PCA_FROM` (:func:`pca_applies`)."""
    if not pca_applies(params, x.shape[1], len(x)):
        return x
    return _pca(params.pca_dims, x)


def _pca(components: int, x: np.ndarray) -> np.ndarray:
    """scikit-learn's PCA (``random_state=0``) of ``x`` to ``components`` columns, float32, on one BLAS thread.

    With two BLAS threads the randomized solver's result differs in its last
    bits (10,000 × 784 → 50, ``bench/parallel_steps.py``), and the map made
    from it may then differ too. Dask workers run one BLAS thread, the CLI's
    in-process runs as many as there are cores: one thread here keeps a map
    the same wherever it is made.
    """
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        return sklearn.decomposition.PCA(components, random_state=0).fit_transform(x).astype("float32")


def nearest_neighbours(x: np.ndarray, params: UMAPParams, labels: np.ndarray | None = None) -> tuple:
    """The kNN graph of ``x`` for ``params`` (:func:`featlib.maps.knn.graph`), reusable across fits.

    Pass it to :func:`umap_embed` as ``knn_graph`` (with the same ``labels``) when only ``min_dist``,
    ``n_epochs`` or the seed change: the graph depends on the points,
    ``n_neighbors`` and the metric alone (``"auto"`` resolved with ``labels``, :func:`resolve_metric`).
    """
    x = np.asarray(x, dtype="float32").reshape(len(x), -1)
    params = replace(params, metric=resolve_metric(params, x, labels))
    return _nearest_neighbours(reduce_width(x, params), params)


def _nearest_neighbours(x: np.ndarray, params: UMAPParams) -> tuple:
    """The graph :func:`featlib.maps.knn.graph` makes (``params.metric`` already resolved): exact up to
    :data:`featlib.maps.knn.EXACT_UP_TO` points, else pynndescent's (fixed seed, one thread), so a map never depends
    on which session computed its graph."""
    indices, distances = knn.graph(x, params.n_neighbors, params.metric)
    return indices, distances, None


def _makes_own_graph(n_points: int, metric: str) -> bool:
    """Whether :func:`umap_embed` builds the kNN graph itself (:func:`_nearest_neighbours`) rather than umap-learn.

    Always, except umap-learn's small path (below :data:`APPROXIMATE_FROM` points) for a metric
    :func:`featlib.maps.knn.exact` does not compute (Manhattan).
    """
    return n_points >= APPROXIMATE_FROM or knn.uses_exact(n_points, metric)


def pca_embed(x: np.ndarray, dims: int = 2) -> np.ndarray:
    """A 2-D (or 3-D) PCA projection of ``x`` (also the preview shown while UMAP computes).

    A representation with fewer columns (or points) than ``dims`` has fewer
    directions: the missing coordinates are 0 (a one-unit layer's map lies on
    the x axis, as a 1-D projection drawn in 2-D would).

    Args:
        x: array ``(n, d)``, ``n >= 2``, finite.
        dims: 2 or 3, the principal components kept (:data:`DIMS`).

    Returns:
        A float32 array of shape ``(n, dims)``.

    Raises:
        ReducerError: fewer than 2 points, or NaN/inf values.
    """
    x = _finite_rows(x, PCAParams(dims=dims))
    components = min(dims, x.shape[0], x.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):  # constant points: 0/0 in explained_variance_ratio_
        coords = _pca(components, x)
    if components < dims:
        coords = np.hstack([coords, np.zeros((len(x), dims - components), dtype="float32")])
    return coords


def enable_numba_cache(folder: str | Path) -> int:
    """Keeps umap-learn's, pynndescent's, :mod:`featlib.maps.kernels`' and :mod:`featlib.maps.layout`'s compiled code
    on disk in ``folder``.

    Only one of umap-learn's jitted functions has ``cache=True``, so every new
    process compiles again (about a minute on two cores). This turns caching
    on for all of them; the next process loads what it can. Call before the
    first fit. Returns the number of functions now cached.
    """
    Path(folder).mkdir(parents=True, exist_ok=True)
    numba.config.CACHE_DIR = str(folder)
    os.environ["NUMBA_CACHE_DIR"] = str(folder)  # for child processes
    umap.load()  # imports pynndescent too
    knn.kernels.load()  # featlib's kernels: a locator made before CACHE_DIR was set would point elsewhere
    layout.load()  # and its layout's (featlib.maps.layout)
    dispatcher = numba.core.registry.CPUDispatcher
    own = (knn.kernels.__name__, layout.__name__)

    count, cached = 0, set()
    for name, module in list(sys.modules.items()):
        if module is None or (name.split(".")[0] not in ("umap", "pynndescent") and name not in own):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, dispatcher):
                value.enable_caching()
                cached.add(value.__name__)
                count += 1
    # A few of them (pynndescent's nn_descent, nn_descent_internal) hold dynamic globals: Numba compiles them
    # as before and warns "Cannot cache compiled function ..." at every compile. Expected; not shown.
    names = "|".join(re.escape(name) for name in sorted(cached))
    warnings.filterwarnings(
        "ignore",
        message=f'Cannot cache compiled function "({names})" as it uses dynamic globals',
        category=numba.NumbaWarning,
    )
    return count


def warm_up(seed: int = 0) -> None:
    """Fits UMAP on synthetic points so that later fits skip compiling.

    Two fits (500 and :data:`WARM_UP_POINTS` points: the exact kNN graph of
    :mod:`featlib.maps.knn` and featlib's kNN-graph reuse; both compile or load
    the parallel layout, :func:`featlib.maps.layout.epoch`), then pynndescent's
    search alone for each metric ``"auto"`` chooses between, as maps above
    :data:`featlib.maps.knn.EXACT_UP_TO` points use it (Euclidean, and cosine on
    centred rows for correlation): its ``nn_descent`` is the one part no cache
    keeps (see :mod:`featlib.maps.compile_cache`). Other metrics compile it at their
    first large map.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(10, 64))
    x = (centres[rng.integers(0, 10, WARM_UP_POINTS)] + rng.normal(size=(WARM_UP_POINTS, 64))).astype("float32")
    params = UMAPParams(n_epochs=10)
    umap_embed(x[:500], params)
    umap_embed(x, params)
    for metric in auto_metric.CANDIDATES:
        knn.approximate(x, params.n_neighbors, metric)
