"""2-D maps of representations: UMAP, sampling and map quality.

umap-learn does the work; this module fixes its parameters in one
hashable object, reports its epochs as progress and measures how well the
map keeps the labels apart.
"""

from __future__ import annotations

import io
import re
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

METRICS = ("euclidean", "cosine", "manhattan", "correlation")
DEFAULT_SAMPLE = 10_000

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``."""


@dataclass(frozen=True)
class UMAPParams:
    """umap-learn's parameters that change the map.

    ``n_epochs=None`` keeps umap-learn's own default (500 epochs up to 10,000
    points, 200 above).
    """

    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "euclidean"
    random_state: int = 42
    n_epochs: int | None = None

    def __post_init__(self) -> None:
        if self.n_neighbors < 2:
            raise ValueError(f"n_neighbors must be at least 2; got {self.n_neighbors}")
        if not 0.0 <= self.min_dist <= 1.0:
            raise ValueError(f"min_dist must be within [0, 1]; got {self.min_dist}")
        if self.metric not in METRICS:
            raise ValueError(f"Unknown metric: {self.metric!r}. Choose one of {list(METRICS)}.")

    @property
    def key(self) -> str:
        """A short string naming these parameters, for cache keys and file names."""
        return "umap-" + "-".join(f"{k}={v}" for k, v in asdict(self).items())


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
    """A file for tqdm whose ``bar_format`` is ``{n}/{total}``: parses the counts."""

    _COUNTS = re.compile(r"(\d+)/(\d+)")

    def __init__(self, progress: Progress):
        super().__init__()
        self._progress = progress

    def write(self, text: str) -> int:
        for done, total in self._COUNTS.findall(text):
            self._progress("layout", int(done), int(total))
        return len(text)


def umap_embed(
    x: np.ndarray, params: UMAPParams = UMAPParams(), progress: Progress | None = None
) -> np.ndarray:
    """Embeds the rows of ``x`` in 2-D with umap-learn.

    With a fixed ``random_state`` the result is reproducible (umap-learn then
    runs single-threaded).

    Args:
        x: array of shape ``(n, d)``; needs ``n > n_neighbors``.
        params: the :class:`UMAPParams`.
        progress: optional ``progress(stage, done, total)``; stage is
            ``"neighbours"`` (once, at the start) then ``"layout"`` per epoch.

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
    tqdm_kwds = None
    if progress:
        progress("neighbours", 0, 1)
        tqdm_kwds = {
            "disable": False,
            "file": _TqdmProgress(progress),
            "bar_format": "{n}/{total}\n",
            "mininterval": 0.25,
        }
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=params.n_neighbors,
        min_dist=params.min_dist,
        metric=params.metric,
        random_state=params.random_state,
        n_epochs=params.n_epochs,
        tqdm_kwds=tqdm_kwds,
    )
    return reducer.fit_transform(x).astype("float32")


def knn_accuracy(points: np.ndarray, labels: np.ndarray, k: int = 10, folds: int = 5) -> float:
    """Cross-validated accuracy of a k-nearest-neighbour classifier on ``points``.

    A map that keeps the digits apart scores near 1; random points score
    near chance (1 / number of classes).
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    labels = np.asarray(labels)
    folds = max(2, min(folds, int(np.bincount(labels)[np.bincount(labels) > 0].min())))
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    scores = cross_val_score(KNeighborsClassifier(n_neighbors=k), points, labels, cv=cv)
    return float(np.mean(scores))
