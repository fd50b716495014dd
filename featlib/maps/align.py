"""Aligning 2-D maps so that side-by-side panels can be compared by eye.

Two maps of the same points (two layers, two checkpoints, two reducers) come
out of UMAP, PCA or t-SNE turned, mirrored, shifted and scaled at random.
:func:`fit_procrustes` finds the similarity transform (rotation or
reflection, one scale, a shift) that best lays one map onto a reference on
the points they share, with scipy's ``orthogonal_procrustes``; the transform
then applies to every point of the moving map. :func:`align_maps` aligns a
list of maps onto the first; :func:`common_range` gives them one set of axis
ranges and :func:`own_ranges` each its own (the Compare page aligns by rotation
and reflection only, ``scale=False``, and zooms every panel to its own points,
so that a map of another spread is not shrunk to a few dots).

Example:
    >>> from featlib.maps import align  # doctest: +SKIP
    >>> aligned = align.align_maps([(idx_a, coords_a), (idx_b, coords_b)])  # doctest: +SKIP
    >>> x_range, y_range = align.common_range(aligned)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from featlib.errors import AlignmentError
from featlib.lazy import scipy

MIN_SHARED = 3
"""Points two maps must share for a transform to be fitted (a 2-D similarity has 4 unknowns)."""


@dataclass(frozen=True)
class Similarity:
    """``x ↦ scale · x @ rotation + shift`` for row vectors ``x``.

    ``rotation`` is orthogonal ``(2, 2)``: a rotation, or a reflection when its
    determinant is -1 (a mirrored map is the same map). ``disparity`` is the
    sum of squared distances left between the moved shared points and the
    reference, divided by the reference's sum of squares about its centre: 0
    for a perfect fit, 1 for a fit no better than the centre.
    """

    rotation: np.ndarray
    scale: float
    shift: np.ndarray
    disparity: float
    shared: int

    def apply(self, coords: np.ndarray) -> np.ndarray:
        """The transform applied to ``coords`` ``(n, 2)`` (``(n, 3)`` for 3-D maps); float64."""
        return self.scale * (np.asarray(coords, dtype="float64") @ self.rotation) + self.shift

    @classmethod
    def identity(cls, shared: int = 0, dims: int = 2) -> Similarity:
        """The transform that leaves a map of ``dims`` dimensions as it is (the reference's own)."""
        return cls(np.eye(dims), 1.0, np.zeros(dims), 0.0, shared)


def _coords(coords: np.ndarray, name: str) -> np.ndarray:
    coords = np.asarray(coords, dtype="float64")
    if coords.ndim != 2 or coords.shape[1] not in (2, 3):
        raise AlignmentError(f"{name} must be a map of shape (n, 2) or, in 3-D, (n, 3); got shape {coords.shape}.")
    if not np.all(np.isfinite(coords)):
        raise AlignmentError(f"{name} holds NaN or infinite coordinates; it cannot be aligned.")
    return coords


def fit_procrustes(reference: np.ndarray, moving: np.ndarray, scale: bool = True) -> Similarity:
    """The similarity transform laying ``moving`` onto ``reference``, row by row.

    Row ``i`` of both arrays is the same point. Least squares: the rotation
    from :func:`scipy.linalg.orthogonal_procrustes` on the centred points, the
    optimal scale from its singular values (``scale=False`` keeps 1), and the
    shift between the centres.

    Args:
        reference: ``(n, 2)`` coordinates to match (or ``(n, 3)``: the same in 3-D, rotations and mirrors of space).
        moving: ``(n, 2)`` coordinates of the same points in the other map (``(n, 3)`` with a 3-D reference).
        scale: fit a scale factor too.

    Returns:
        A :class:`Similarity`; ``fit.apply(moving)`` is close to ``reference``.

    Raises:
        AlignmentError: for shapes that differ or fewer than :data:`MIN_SHARED` points.
    """
    reference, moving = _coords(reference, "reference"), _coords(moving, "moving")
    if reference.shape != moving.shape:
        raise AlignmentError(
            f"reference and moving must hold the same points; got shapes {reference.shape} and {moving.shape}."
        )
    if len(reference) < MIN_SHARED:
        raise AlignmentError(f"Aligning two maps needs at least {MIN_SHARED} shared points; got {len(reference)}.")
    ref_centre, mov_centre = reference.mean(axis=0), moving.mean(axis=0)
    ref0, mov0 = reference - ref_centre, moving - mov_centre
    mov_norm = float(np.sum(mov0**2))
    ref_norm = float(np.sum(ref0**2))
    if mov_norm == 0.0:  # every moving point in one place: only the shift is defined
        dims = reference.shape[1]
        return Similarity(np.eye(dims), 1.0, ref_centre - mov_centre, 1.0 if ref_norm else 0.0, len(reference))
    rotation, singular_sum = scipy.linalg.orthogonal_procrustes(mov0, ref0)
    factor = float(singular_sum) / mov_norm if scale else 1.0
    shift = ref_centre - factor * (mov_centre @ rotation)
    residual = float(np.sum((factor * (mov0 @ rotation) - ref0) ** 2))
    disparity = residual / ref_norm if ref_norm else 0.0
    return Similarity(rotation, factor, shift, disparity, len(reference))


def fit_on_shared(
    reference_indices: np.ndarray,
    reference_coords: np.ndarray,
    indices: np.ndarray,
    coords: np.ndarray,
    scale: bool = True,
) -> Similarity:
    """:func:`fit_procrustes` on the points two maps share, matched by dataset index.

    Args:
        reference_indices, reference_coords: the reference map: dataset
            indices ``(n,)`` and coordinates ``(n, 2)``.
        indices, coords: the map to move, likewise (its own points and order).
        scale: fit a scale factor too.

    Raises:
        AlignmentError: when the maps share fewer than :data:`MIN_SHARED` points.
    """
    reference_indices, indices = np.asarray(reference_indices), np.asarray(indices)
    for name, idx, xy in (("reference", reference_indices, reference_coords), ("moving", indices, coords)):
        if len(idx) != len(xy):
            raise AlignmentError(f"The {name} map has {len(idx)} indices for {len(xy)} points; expected one each.")
    shared, in_ref, in_moving = np.intersect1d(reference_indices, indices, assume_unique=True, return_indices=True)
    if len(shared) < MIN_SHARED:
        raise AlignmentError(
            f"The two maps share {len(shared)} points; aligning needs at least {MIN_SHARED}. "
            "Draw both on the same sample (same dataset, split, sample size and seed)."
        )
    return fit_procrustes(np.asarray(reference_coords)[in_ref], np.asarray(coords)[in_moving], scale=scale)


def align_maps(
    maps: Sequence[tuple[np.ndarray, np.ndarray]], scale: bool = True
) -> tuple[list[np.ndarray], list[Similarity]]:
    """Aligns every map onto the first, on the points each shares with it.

    Args:
        maps: ``(indices, coords)`` per map; the first is the reference.
        scale: fit a scale factor too (maps then share one scale).

    Returns:
        ``(coords, fits)``: the aligned float32 coordinates of each map (the
        first unchanged) and the :class:`Similarity` applied to each.
    """
    if not maps:
        return [], []
    ref_indices, ref_coords = maps[0]
    ref_coords = _coords(ref_coords, "the first map")
    aligned = [ref_coords.astype("float32")]
    fits = [Similarity.identity(len(ref_coords), ref_coords.shape[1])]
    for indices, coords in maps[1:]:
        fit = fit_on_shared(ref_indices, ref_coords, indices, coords, scale=scale)
        aligned.append(fit.apply(coords).astype("float32"))
        fits.append(fit)
    return aligned, fits


def own_ranges(maps: Sequence[np.ndarray], pad: float = 0.05) -> list[tuple[list[float], list[float]]]:
    """Each map's own ``([x0, x1], [y0, y1])`` (:func:`common_range` of it alone), so that every panel fills its axes.

    Maps of layers of other widths have spreads of other sizes: on one shared set of axes the smallest
    would be a few dots in the middle. Aligned by rotation and reflection only (``scale=False``), each
    panel keeps its orientation matched to the reference and its own zoom.
    """
    return [common_range([m], pad) for m in maps]


def common_range(maps: Sequence[np.ndarray], pad: float = 0.05) -> tuple[list[float], list[float]]:
    """One ``([x0, x1], [y0, y1])`` that holds every map, padded by ``pad`` of its span."""
    points = np.concatenate([_coords(m, "a map") for m in maps]) if maps else np.zeros((0, 2))
    if len(points) == 0:
        return [-1.0, 1.0], [-1.0, 1.0]
    low, high = points.min(axis=0), points.max(axis=0)
    margin = np.maximum((high - low) * pad, 1e-6)
    low, high = low - margin, high + margin
    return [float(low[0]), float(high[0])], [float(low[1]), float(high[1])]
