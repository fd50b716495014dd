"""How each image's nearest neighbours change between two representations of the same images (issue 29, item 3).

The same ``n`` images read in two places (two layers, two checkpoints, two models, two extraction
methods) are compared image by image: each image's ``k`` nearest neighbours are found in each
representation's own space (Euclidean, :func:`featlib.maps.knn.graph`: exact up to
:data:`featlib.maps.knn.EXACT_UP_TO` points), and the two neighbour sets are compared by their Jaccard
index ``|A ∩ B| / |A ∪ B|``: 1 when the image kept every neighbour, 0 when it kept none. The mean of
``|A ∩ B| / k`` over the images is the neighbourhood-overlap score used to compare embeddings (the
co-ranking matrix's ``Q_NX(k)``, Lee & Verleysen, "Quality assessment of dimensionality reduction",
Neurocomputing 72, 2009); the Jaccard index is its per-image form, symmetric in the two representations.

:func:`class_shift` summarises where the neighbours went, class by class, and :func:`moved_most` picks the
images whose neighbourhood changed most.

With a 2-D map as the second representation (its coordinates), each point's :attr:`NeighbourChange.kept_share`
says how far the map can be trusted there: the share of its neighbours in the layer that are also its
neighbours on the map (issue 27, item 1). Points where it is low sit where the map tears the layer apart
(neighbours in the layer drawn far from each other) or glues distant points together; the map's
trustworthiness (:func:`featlib.metrics.layer_metrics`) summarises the first kind over the whole map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from featlib.errors import NeighbourError
from featlib.maps import knn

DEFAULT_K = 10
"""Neighbours compared per image: the 10 of the maps' 10-NN figures."""


@dataclass(frozen=True)
class NeighbourChange:
    """Each image's neighbours in two representations and how many it kept.

    Attributes:
        k: neighbours per image.
        jaccard: float32 ``(n,)``, ``|A ∩ B| / |A ∪ B|`` of each image's neighbour sets, in ``[0, 1]``.
        before: int64 ``(n, k)``: each image's neighbours in the first representation, nearest first, as
            positions ``0..n-1`` in the rows given.
        after: int64 ``(n, k)``: the same in the second representation.
        shared: int64 ``(n,)``: how many of its ``k`` neighbours each image has in both, ``|A ∩ B|``.
    """

    k: int
    jaccard: np.ndarray
    before: np.ndarray
    after: np.ndarray
    shared: np.ndarray

    @property
    def kept(self) -> float:
        """The mean share of neighbours kept, ``mean(|A ∩ B|) / k`` (``Q_NX(k)``), in ``[0, 1]``."""
        return float(np.mean(self.shared) / self.k)

    @property
    def kept_share(self) -> np.ndarray:
        """float32 ``(n,)``: each image's share of its ``k`` neighbours kept, ``|A ∩ B| / k``."""
        return (self.shared / self.k).astype("float32")


def neighbour_change(a: np.ndarray, b: np.ndarray, k: int = DEFAULT_K) -> NeighbourChange:
    """Each image's ``k`` nearest neighbours in ``a`` and in ``b``, and the Jaccard index of the two sets.

    Args:
        a: ``(n, d_a)``, the images' first representation (one row per image).
        b: ``(n, d_b)``, the same images, in the same row order, in the second.
        k: neighbours per image, from 1 to ``n - 1``.

    Returns:
        A :class:`NeighbourChange` (an image is never its own neighbour; ties broken as
        :func:`featlib.maps.knn.graph` breaks them, by position).

    Raises:
        NeighbourError: ``a`` or ``b`` is not 2-D, their rows differ in number, fewer than 2 rows, a value is
            not finite, or ``k`` is outside ``1..n-1``.
    """
    a, b = _rows(a, "first"), _rows(b, "second")
    if len(a) != len(b):
        raise NeighbourError(
            f"The two representations must hold the same images in the same order; got {len(a):,} rows and {len(b):,}."
        )
    n = len(a)
    if n < 2:
        raise NeighbourError(f"Comparing neighbours needs at least 2 images; got {n}.")
    if not 1 <= int(k) <= n - 1:
        raise NeighbourError(f"k must be from 1 to {n - 1} (the images but one) for {n:,} images; got {k}.")
    k = int(k)
    before, after = _neighbours(a, k), _neighbours(b, k)
    shared = np.array([len(np.intersect1d(x, y, assume_unique=True)) for x, y in zip(before, after)], dtype="int64")
    jaccard = (shared / (2 * k - shared)).astype("float32")
    return NeighbourChange(k, jaccard, before, after, shared)


def moved_most(change: NeighbourChange, count: int) -> np.ndarray:
    """Positions of the ``count`` images that kept the fewest neighbours, fewest first (ties: lower position first).

    Returns:
        int64 ``(min(count, n),)``.
    """
    order = np.lexsort((np.arange(len(change.jaccard)), change.jaccard))
    return order[: max(0, int(count))].astype("int64")


def class_shift(change: NeighbourChange, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Where neighbours went, class by class: ``(C, C)`` float64.

    Entry ``(i, j)`` is, over the images of class ``i``, the mean share of class ``j`` among their ``k``
    neighbours in the second representation minus that share in the first: positive where images of class
    ``i`` gained neighbours of class ``j``. Each row sums to 0; a class with no image has a row of zeros.

    Raises:
        NeighbourError: ``labels`` does not give one class in ``0..n_classes-1`` per image.
    """
    labels = np.asarray(labels)
    if labels.shape != change.jaccard.shape or (len(labels) and (labels.min() < 0 or labels.max() >= n_classes)):
        raise NeighbourError(
            f"labels must give one class from 0 to {n_classes - 1} per image ({len(change.jaccard):,}); got "
            f"shape {labels.shape}."
        )
    shift = np.zeros((n_classes, n_classes))
    for c in range(n_classes):
        rows = labels == c
        if rows.any():
            for neighbours, sign in ((change.after, 1.0), (change.before, -1.0)):
                counts = np.bincount(labels[neighbours[rows]].ravel(), minlength=n_classes)
                shift[c] += sign * counts / (rows.sum() * change.k)
    return shift


def _rows(x: np.ndarray, which: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise NeighbourError(f"The {which} representation must be 2-D (images, units); got shape {x.shape}.")
    if not np.isfinite(x).all():
        raise NeighbourError(f"The {which} representation holds NaN or infinite values; neighbours need finite ones.")
    return x.astype("float32", copy=False)


def _neighbours(x: np.ndarray, k: int) -> np.ndarray:
    """Each row's ``k`` nearest other rows (its own row left out wherever the search placed it)."""
    found, _ = knn.graph(x, min(k + 1, len(x)), "euclidean")
    found = np.asarray(found, dtype="int64")
    own = found == np.arange(len(x))[:, None]
    # Without itself: its own row where listed (duplicate rows may list it anywhere), else the farthest one.
    drop = np.where(own.any(axis=1), own.argmax(axis=1), found.shape[1] - 1)
    keep = np.ones(found.shape, dtype=bool)
    keep[np.arange(len(x)), drop] = False
    return found[keep].reshape(len(x), found.shape[1] - 1)[:, :k]
