"""2-D maps of representations: UMAP, PCA and t-SNE, and sampling.

umap-learn, scikit-learn's PCA and its t-SNE do the work; this module fixes
each reducer's parameters in one hashable object (``UMAPParams``,
``PCAParams``, ``TSNEParams``) and maps points through :func:`reduce`, with
UMAP's epochs reported as progress.
"""

from __future__ import annotations

import io
import os
import re
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

METRICS = ("euclidean", "cosine", "manhattan", "correlation")
DEFAULT_SAMPLE = 10_000
SMALL_MAP_POINTS = 10_000
"""Up to this many points a map gets :data:`SMALL_MAP_EPOCHS` and a spectral start; above, fewer epochs and a PCA start."""
SMALL_MAP_EPOCHS = 300
LARGE_MAP_EPOCHS = 200
PCA_DIMS = 50
PCA_FROM = 100
"""Representations with more units than this are reduced to ``pca_dims`` by PCA before UMAP."""
APPROXIMATE_FROM = 4_096
"""umap-learn finds exact neighbours below this many points, approximate ones above."""
WARM_UP_POINTS = 4_500

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``."""


@dataclass(frozen=True)
class UMAPParams:
    """umap-learn's parameters that change the map.

    ``n_epochs=None`` (the default) follows :func:`layout_schedule`: 300
    epochs up to 10,000 points (umap-learn: 500) and 200 above, where the
    layout also starts from PCA instead of the spectral embedding, whose
    eigen-solve takes 7 s of the 31 s a 70,000-point map costs on two cores.
    ``python -m featlib bench`` prints the maps' 10-NN accuracy beside
    umap-learn's defaults. ``pca_dims`` reduces wider representations with
    PCA first (``None``: never).
    """

    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "euclidean"
    random_state: int = 42
    n_epochs: int | None = None
    pca_dims: int | None = PCA_DIMS

    def __post_init__(self) -> None:
        if self.n_neighbors < 2:
            raise ValueError(f"n_neighbors must be at least 2; got {self.n_neighbors}")
        if not 0.0 <= self.min_dist <= 1.0:
            raise ValueError(f"min_dist must be within [0, 1]; got {self.min_dist}")
        if self.metric not in METRICS:
            raise ValueError(f"Unknown metric: {self.metric!r}. Choose one of {list(METRICS)}.")
        if self.n_epochs is not None and self.n_epochs < 1:
            raise ValueError(f"n_epochs must be at least 1 (or None for featlib's schedule); got {self.n_epochs}")

    @property
    def key(self) -> str:
        """A short string naming these parameters, for cache keys and file names."""
        return "umap-" + "-".join(f"{k}={v}" for k, v in asdict(self).items())


@dataclass(frozen=True)
class PCAParams:
    """A linear 2-D projection: PCA on the (centred) representation. Deterministic."""

    @property
    def key(self) -> str:
        """A short string naming these parameters, for cache keys and file names."""
        return "pca"


@dataclass(frozen=True)
class TSNEParams:
    """scikit-learn's t-SNE (Barnes-Hut). Representations wider than :data:`PCA_FROM` get PCA first."""

    perplexity: float = 30.0
    random_state: int = 42
    pca_dims: int | None = PCA_DIMS

    def __post_init__(self) -> None:
        if not 2.0 <= self.perplexity <= 100.0:
            raise ValueError(f"perplexity must be within [2, 100]; got {self.perplexity}")

    @property
    def key(self) -> str:
        """A short string naming these parameters, for cache keys and file names."""
        return "tsne-" + "-".join(f"{k}={v}" for k, v in asdict(self).items())


ReducerParams = UMAPParams | PCAParams | TSNEParams
REDUCERS: dict[str, type] = {"umap": UMAPParams, "pca": PCAParams, "tsne": TSNEParams}
"""Reducers by short name, as in links and the CLI."""
REDUCER_TITLES = {"umap": "UMAP", "pca": "PCA", "tsne": "t-SNE"}


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
) -> np.ndarray:
    """Maps the rows of ``x`` to 2-D with the reducer ``params`` names.

    ``progress`` and ``knn_graph`` are used by UMAP only (see :func:`umap_embed`).
    Returns a float32 array of shape ``(n, 2)``.
    """
    if isinstance(params, UMAPParams):
        return umap_embed(x, params, progress=progress, knn_graph=knn_graph)
    x = _finite_rows(x)
    if isinstance(params, PCAParams):
        return pca_embed(x)
    if isinstance(params, TSNEParams):
        return tsne_embed(x, params)
    raise TypeError(f"Not reducer parameters: {params!r}.")


def _finite_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype="float32").reshape(len(x), -1)
    if not np.all(np.isfinite(x)):
        raise ValueError("The representation holds NaN or infinite values; it cannot be mapped.")
    return x


def tsne_embed(x: np.ndarray, params: TSNEParams = TSNEParams()) -> np.ndarray:
    """Embeds the rows of ``x`` in 2-D with scikit-learn's t-SNE (PCA initialisation)."""
    from sklearn.manifold import TSNE

    x = _finite_rows(x)
    if len(x) <= 3 * params.perplexity:
        raise ValueError(
            f"t-SNE needs more than 3 × perplexity ({3 * params.perplexity:g}) points; got {len(x)}."
        )
    if params.pca_dims is not None and x.shape[1] > max(PCA_FROM, params.pca_dims) and len(x) > params.pca_dims:
        from sklearn.decomposition import PCA

        x = PCA(params.pca_dims, random_state=0).fit_transform(x).astype("float32")
    tsne = TSNE(2, perplexity=params.perplexity, init="pca", random_state=params.random_state, n_jobs=1)
    return tsne.fit_transform(x).astype("float32")


def layout_schedule(n_points: int) -> tuple[int, str]:
    """featlib's ``(n_epochs, init)`` for a UMAP map of ``n_points`` points.

    Chosen with ``python -m featlib bench`` on Fashion-MNIST (README,
    "Performance"): 300 epochs from the spectral embedding keep umap-learn's
    10-NN accuracy at 10,000 points in 60 % of its 500 epochs' time; above,
    umap-learn's own 200 epochs from a PCA start.
    """
    if n_points <= SMALL_MAP_POINTS:
        return SMALL_MAP_EPOCHS, "spectral"
    return LARGE_MAP_EPOCHS, "pca"


def stratified_sample(labels: np.ndarray, size: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of a label-stratified sample of ``size`` points.

    Returns every index when ``size`` is ``None`` or at least ``len(labels)``.
    """
    labels = np.asarray(labels)
    if size is None or size >= len(labels):
        return np.arange(len(labels))
    if size < 1:
        raise ValueError(f"sample size must be at least 1; got {size}")
    from sklearn.model_selection import train_test_split

    counts = np.bincount(labels)
    n_classes = np.count_nonzero(counts)
    # sklearn needs every class on both sides of the split to stratify.
    can_stratify = counts[counts > 0].min() >= 2 and min(size, len(labels) - size) >= n_classes
    stratify = labels if can_stratify else None
    chosen, _ = train_test_split(
        np.arange(len(labels)), train_size=size, random_state=seed, stratify=stratify
    )
    return np.sort(chosen)


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
) -> np.ndarray:
    """Embeds the rows of ``x`` in 2-D with umap-learn.

    With a fixed ``random_state`` the result is reproducible (umap-learn then
    runs single-threaded).

    Args:
        x: array of shape ``(n, d)``; needs ``n > n_neighbors``.
        params: the :class:`UMAPParams`.
        progress: optional ``progress(stage, done, total)``; stage is
            ``"neighbours"`` (once, at the start) then ``"layout"`` per epoch.
            An exception it raises during the layout ends the reports and is
            raised when the fit returns, never inside umap-learn's tqdm.
        knn_graph: a graph from :func:`nearest_neighbours` for the same
            points, ``n_neighbors`` and metric, to skip that step. From
            :data:`APPROXIMATE_FROM` points on, the graph is always made by
            :func:`nearest_neighbours`, so a map does not depend on whether
            its graph came from a cache.
        init: umap-learn's ``init``; ``None`` follows :func:`layout_schedule`.

    Returns:
        A float32 array of shape ``(n, 2)``.
    """
    import umap

    x = np.asarray(x, dtype="float32").reshape(len(x), -1)
    if len(x) <= params.n_neighbors:
        raise ValueError(
            f"UMAP needs more points than n_neighbors ({params.n_neighbors}); got {len(x)}."
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("The representation holds NaN or infinite values; UMAP cannot map it.")
    x = reduce_width(x, params)
    if knn_graph is None and len(x) >= APPROXIMATE_FROM:
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
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=params.n_neighbors,
        min_dist=params.min_dist,
        metric=params.metric,
        random_state=params.random_state,
        n_epochs=params.n_epochs or scheduled_epochs,
        init=init or scheduled_init,
        tqdm_kwds=tqdm_kwds,
        precomputed_knn=knn_graph if knn_graph is not None else (None, None, None),
    )
    with warnings.catch_warnings():
        # "n_jobs value 1 overridden to 1 by setting random_state": expected.
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        # A reused kNN graph carries no search index; featlib never calls transform.
        warnings.filterwarnings("ignore", message="precomputed_knn", category=UserWarning)
        coords = reducer.fit_transform(x).astype("float32")
    if sink is not None and sink.error is not None:
        raise sink.error
    return coords


def reduce_width(x: np.ndarray, params: UMAPParams) -> np.ndarray:
    """``x`` reduced to ``params.pca_dims`` columns by PCA when it has more than :data:`PCA_FROM`."""
    if params.pca_dims is None or x.shape[1] <= max(PCA_FROM, params.pca_dims) or len(x) <= params.pca_dims:
        return x
    from sklearn.decomposition import PCA

    return PCA(params.pca_dims, random_state=0).fit_transform(x).astype("float32")


def nearest_neighbours(x: np.ndarray, params: UMAPParams) -> tuple:
    """umap-learn's kNN graph of ``x`` for ``params``, reusable across fits.

    Pass it to :func:`umap_embed` as ``knn_graph`` when only ``min_dist``,
    ``n_epochs`` or the seed change: the graph depends on the points,
    ``n_neighbors`` and the metric alone.
    """
    return _nearest_neighbours(reduce_width(np.asarray(x, dtype="float32").reshape(len(x), -1), params), params)


def _nearest_neighbours(x: np.ndarray, params: UMAPParams) -> tuple:
    from umap.umap_ import nearest_neighbors

    # A fixed seed and one thread: the graph, and so every map made from it,
    # is the same whichever seed or session asked for it first.
    indices, distances, _ = nearest_neighbors(
        x, params.n_neighbors, params.metric, {}, False, np.random.RandomState(0), n_jobs=1
    )
    return indices, distances, None


def pca_embed(x: np.ndarray) -> np.ndarray:
    """A 2-D PCA projection of ``x``: a preview shown while UMAP computes."""
    from sklearn.decomposition import PCA

    x = np.asarray(x, dtype="float32").reshape(len(x), -1)
    return PCA(2, random_state=0).fit_transform(x).astype("float32")


def enable_numba_cache(folder: str | Path) -> int:
    """Keeps umap-learn's and pynndescent's compiled code on disk in ``folder``.

    Only one of umap-learn's jitted functions has ``cache=True``, so every new
    process compiles again (about a minute on two cores). This turns caching
    on for all of them; the next process loads what it can. Call before the
    first fit. Returns the number of functions now cached.
    """
    import numba
    from numba.core.registry import CPUDispatcher

    Path(folder).mkdir(parents=True, exist_ok=True)
    numba.config.CACHE_DIR = str(folder)
    os.environ["NUMBA_CACHE_DIR"] = str(folder)  # for child processes
    import umap  # noqa: F401  (imports pynndescent too)

    count = 0
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in ("umap", "pynndescent"):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, CPUDispatcher):
                value.enable_caching()
                count += 1
    return count


def warm_up(seed: int = 0) -> None:
    """Fits UMAP on synthetic points so that later fits skip compiling.

    First a small fit (umap-learn's exact-neighbour path, as for the bundled
    digits), then one of :data:`WARM_UP_POINTS` points for the approximate
    nearest-neighbour path (4,096 points and up) and featlib's kNN-graph reuse.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(10, 64))
    x = (centres[rng.integers(0, 10, WARM_UP_POINTS)] + rng.normal(size=(WARM_UP_POINTS, 64))).astype("float32")
    params = UMAPParams(n_epochs=10)
    umap_embed(x[:500], params)
    umap_embed(x, params)
