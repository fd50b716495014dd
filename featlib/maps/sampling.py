"""Label-stratified samples of points: the sampling that maps, scores and the metric choice share.

This module imports nothing from featlib but :mod:`featlib.errors` and :mod:`featlib.lazy` (scikit-learn is
imported at the first sample drawn).
"""

from __future__ import annotations

import numpy as np

from featlib.errors import ReducerError
from featlib.lazy import sklearn


def stratified_sample(labels: np.ndarray, size: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of a label-stratified sample of ``size`` points.

    Returns every index when ``size`` is ``None`` or at least ``len(labels)``.
    """
    labels = np.asarray(labels)
    if size is None or size >= len(labels):
        return np.arange(len(labels))
    if size < 1:
        raise ReducerError(f"sample size must be at least 1; got {size}")
    counts = np.bincount(labels)
    n_classes = np.count_nonzero(counts)
    # sklearn needs every class on both sides of the split to stratify.
    can_stratify = counts[counts > 0].min() >= 2 and min(size, len(labels) - size) >= n_classes
    stratify = labels if can_stratify else None
    chosen, _ = sklearn.model_selection.train_test_split(
        np.arange(len(labels)), train_size=size, random_state=seed, stratify=stratify
    )
    return np.sort(chosen)
