"""Test images on the train map: a map fitted on one split's sample with another's placed on it (issue 29, item 4).

The map is fitted on the points of one split (the train split's sample) and the other points (the test split's
sample) are placed on it by the reducer's own out-of-sample mapping (:func:`featlib.maps.placement.place`: PCA's
projection, umap-learn's ``transform``, openTSNE's ``TSNEEmbedding.transform``), so the fitted map is not moved
by them: where a test image lands is where the map the model's layer learned from puts it.

:func:`land_agreement` says how many placed points land among fitted points of their own class: the vote of
their ``k`` nearest fitted points on the map (Euclidean on the 2-D coordinates) against their label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from featlib.errors import ReducerError
from featlib.lazy import sklearn
from featlib.maps import embed, placement

DEFAULT_K = 10
"""Fitted points voting on where a placed point landed: the 10 of the maps' 10-NN figures."""


@dataclass(frozen=True)
class PlacedMap:
    """A map fitted on one set of points with another placed on it.

    Attributes:
        fitted: float32 ``(n, 2)``, the fitted points' map coordinates (rows as the fitted sample's).
        placed: float32 ``(m, 2)``, the placed points' coordinates on the same map (rows as the placed sample's).
        fitted_indices, placed_indices: int ``(n,)`` and ``(m,)``, the two samples' positions in their own splits
            (set by :meth:`featlib.service.Service.placed_map`; ``None`` when the points were given as they are).
    """

    fitted: np.ndarray
    placed: np.ndarray
    fitted_indices: np.ndarray | None = None
    placed_indices: np.ndarray | None = None


def place(
    fit_on: np.ndarray,
    new: np.ndarray,
    params: embed.ReducerParams = embed.UMAPParams(),
    progress: embed.Progress | None = None,
    labels: np.ndarray | None = None,
) -> PlacedMap:
    """:func:`featlib.maps.placement.place` as a :class:`PlacedMap` (the same arguments, errors and progress)."""
    fitted, placed = placement.place(fit_on, new, params, progress=progress, labels=labels)
    return PlacedMap(fitted, placed)


def land_votes(fitted: np.ndarray, fitted_labels: np.ndarray, placed: np.ndarray, k: int = DEFAULT_K) -> np.ndarray:
    """The class each placed point lands among: the majority label of its ``k`` nearest fitted points on the map.

    Args:
        fitted: ``(n, 2)`` map coordinates of the fitted points; fitted_labels: their integer classes ``(n,)``.
        placed: ``(m, 2)`` coordinates of the placed points.
        k: fitted points voting, at most ``n`` (fewer fitted points: all of them vote).

    Returns:
        int64 ``(m,)``; ties go to the nearest of the tied classes' points (scikit-learn's k-NN vote, by distance
        rank).

    Raises:
        ReducerError: no fitted point, labels of another length, or coordinates that are not ``(·, 2)``.
    """
    fitted, placed = np.asarray(fitted, dtype="float64"), np.asarray(placed, dtype="float64")
    fitted_labels = np.asarray(fitted_labels)
    if fitted.ndim != 2 or fitted.shape[1] != 2 or placed.ndim != 2 or placed.shape[1] != 2 or not len(fitted):
        raise ReducerError(
            f"Voting on a map needs 2-D coordinates (n, 2) of at least one fitted point; got fitted {fitted.shape} "
            f"and placed {placed.shape}."
        )
    if fitted_labels.shape != (len(fitted),):
        raise ReducerError(
            f"The fitted points need one label each ({len(fitted):,}); got labels of shape {fitted_labels.shape}."
        )
    if not len(placed):
        return np.zeros(0, dtype="int64")
    vote = sklearn.neighbors.KNeighborsClassifier(n_neighbors=min(int(k), len(fitted)))
    vote.fit(fitted, fitted_labels)
    return np.asarray(vote.predict(placed), dtype="int64")


def land_agreement(
    fitted: np.ndarray,
    fitted_labels: np.ndarray,
    placed: np.ndarray,
    placed_labels: np.ndarray,
    k: int = DEFAULT_K,
) -> float:
    """The share of placed points whose ``k`` nearest fitted points on the map vote for their own label, in [0, 1].

    A map on which the test images land among the train images of their class scores near the layer's own
    10-NN accuracy; a placed set the model never learned (another dataset) lands wherever the layer sends it.

    Raises:
        ReducerError: as :func:`land_votes`, or ``placed_labels`` not one per placed point; no placed point.
    """
    placed_labels = np.asarray(placed_labels)
    if placed_labels.shape != (len(placed),) or not len(placed):
        raise ReducerError(
            f"The placed points need one label each and at least one point; got {len(placed):,} points and labels "
            f"of shape {placed_labels.shape}."
        )
    return float(np.mean(land_votes(fitted, fitted_labels, placed, k) == placed_labels))


def landing_shares(
    fitted: np.ndarray,
    fitted_labels: np.ndarray,
    placed: np.ndarray,
    placed_labels: np.ndarray,
    fitted_classes: int,
    placed_classes: int,
    k: int = DEFAULT_K,
) -> np.ndarray:
    """Where each placed class lands: the share of its points among fitted points of each class (:func:`land_votes`).

    For placed points of another dataset (a Fashion-MNIST model's map with MNIST digits placed on it) the labels
    name other classes, so agreement means nothing; this table says what the layer takes each of them for.

    Args:
        fitted, fitted_labels, placed, k: as :func:`land_votes`; placed_labels: int ``(m,)``, the placed points'
            own classes, in ``[0, placed_classes)``; fitted_classes: the fitted points' number of classes.

    Returns:
        float64 ``(placed_classes, fitted_classes)``: row ``i`` the share of placed class ``i``'s points landing
        among each fitted class (a row of a class with no placed point is all 0).

    Raises:
        ReducerError: as :func:`land_votes`, or labels outside their class counts.
    """
    placed_labels = np.asarray(placed_labels, dtype="int64")
    if placed_labels.shape != (len(placed),) or (len(placed_labels) and not 0 <= placed_labels.min()):
        raise ReducerError(f"The placed points need one label each, from 0; got labels of shape {placed_labels.shape}.")
    if len(placed_labels) and placed_labels.max() >= placed_classes:
        raise ReducerError(f"Placed labels run from 0 to {placed_classes - 1}; got {int(placed_labels.max())}.")
    landed = land_votes(fitted, fitted_labels, placed, k)
    if len(landed) and landed.max() >= fitted_classes:
        raise ReducerError(f"Fitted labels run from 0 to {fitted_classes - 1}; got {int(landed.max())}.")
    counts = np.zeros((placed_classes, fitted_classes))
    np.add.at(counts, (placed_labels, landed), 1)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
