"""Placing new points on a map fitted to others: each reducer's own out-of-sample mapping (PCA's projection,
UMAP's and openTSNE's ``transform``)."""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from featlib.errors import ReducerError
from featlib.lazy import sklearn, threadpoolctl, umap
from featlib.maps.embed import (
    PCAParams,
    Progress,
    ReducerParams,
    TSNEParams,
    UMAPParams,
    _finite_rows,
    _TqdmProgress,
    layout_schedule,
    pca_applies,
    resolve_metric,
    tsne_estimator,
)
from featlib.maps.sampling import stratified_sample  # noqa: F401  (re-exported: featlib.maps.embed.stratified_sample)

PLACE_PROGRESS_STAGE = "placing"
"""The progress stage of :func:`place` while it places the new points (after the fit's own stages)."""


def place(
    fit_on: np.ndarray,
    new: np.ndarray,
    params: ReducerParams = UMAPParams(),
    progress: Progress | None = None,
    labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fits the reducer ``params`` names on ``fit_on`` and places the rows of ``new`` on that map, unchanged by them.

    Each reducer's own out-of-sample mapping: PCA projects ``new`` on the principal axes of ``fit_on`` (exactly
    ``(new - mean) @ axes``); UMAP (umap-learn's ``transform``) lays each new point near its nearest fitted points
    and optimises its place with the fitted points held still; t-SNE (openTSNE's ``TSNEEmbedding.transform``)
    does the same with its own affinities (perplexity 5, median start, 250 iterations: openTSNE's defaults). The
    PCA that UMAP and t-SNE read wide layers through (:func:`pca_applies`) is fitted on ``fit_on`` alone and
    applied to ``new``. Always on the CPU: the fitted reducer must stay in this process to place the points.

    The fitted map is made in this call with umap-learn's own neighbour search (it keeps the search index that
    ``transform`` needs), so a UMAP map of ``fit_on`` here may differ in its details from :func:`umap_embed`'s of
    the same points; PCA's and t-SNE's are the same.

    Args:
        fit_on: ``(n, d)`` points the map is fitted on (the train split's sample).
        new: ``(m, d)`` points placed on it (the test split's sample), the same ``d`` columns; ``m >= 1``.
        params: the reducer and its parameters (as :func:`reduce`).
        progress: optional ``progress(stage, done, total)``: the fit's stages (:func:`umap_embed`,
            :func:`tsne_embed`; PCA ``("working", 0, 1)``), then ``("placing", 0, 1)`` and ``("placing", 1, 1)``.
        labels: ``fit_on``'s integer classes ``(n,)``, for UMAP's ``metric="auto"`` (:func:`resolve_metric`).

    Returns:
        ``(fitted, placed)``: float32 ``(n, 2)`` and ``(m, 2)``.

    Raises:
        ReducerError: fewer points in ``fit_on`` than :func:`min_points`, no point in ``new``, columns that differ,
            or NaN/inf values in either.
    """
    fit_on = _finite_rows(fit_on, params)
    new = _finite_rows(new)
    if len(new) < 1 or new.shape[1] != fit_on.shape[1]:
        raise ReducerError(
            f"Placing points on a map needs at least one point with the {fit_on.shape[1]} columns of the points it "
            f"was fitted on; got shape {new.shape}. Place points of the same layer (the same model and reduction)."
        )
    if isinstance(params, PCAParams):
        if progress:
            progress("working", 0, 1)
        fitted, placed = _pca_place(fit_on, new)
    elif isinstance(params, UMAPParams):
        fitted, placed = _umap_place(fit_on, new, params, progress, labels)
    elif isinstance(params, TSNEParams):
        fitted, placed = _tsne_place(fit_on, new, params, progress)
    else:
        raise TypeError(f"Not reducer parameters: {params!r}.")
    if progress:
        progress(PLACE_PROGRESS_STAGE, 1, 1)
    return fitted.astype("float32"), placed.astype("float32")


def _fitted_pca(components: int, fit_on: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_pca`'s PCA fitted on ``fit_on`` alone; both point sets projected by it (float32)."""
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        pca = sklearn.decomposition.PCA(components, random_state=0).fit(fit_on)
        return pca.transform(fit_on).astype("float32"), pca.transform(new).astype("float32")


def _pca_place(fit_on: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`pca_embed` of ``fit_on``, and ``new`` projected on the same axes (a one-direction map: y is 0)."""
    components = min(2, fit_on.shape[0], fit_on.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):  # constant points: 0/0 in explained_variance_ratio_
        fitted, placed = _fitted_pca(components, fit_on, new)
    if components < 2:
        fitted = np.hstack([fitted, np.zeros((len(fitted), 2 - components), dtype="float32")])
        placed = np.hstack([placed, np.zeros((len(placed), 2 - components), dtype="float32")])
    return fitted, placed


def _narrowed(params: UMAPParams | TSNEParams, fit_on: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both point sets through a PCA to ``params.pca_dims`` fitted on ``fit_on`` when :func:`pca_applies`."""
    if not pca_applies(params, fit_on.shape[1], len(fit_on)):
        return fit_on, new
    return _fitted_pca(params.pca_dims, fit_on, new)


def _umap_place(
    fit_on: np.ndarray, new: np.ndarray, params: UMAPParams, progress: Progress | None, labels: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """umap-learn fitted on ``fit_on`` (its own neighbour search, featlib's epochs and start), then ``transform``."""
    params = replace(params, metric=resolve_metric(params, fit_on, labels))
    fit_on, new = _narrowed(params, fit_on, new)
    sink, tqdm_kwds = None, None
    if progress:
        progress("neighbours", 0, 1)
        sink = _TqdmProgress(progress)
        tqdm_kwds = {"disable": False, "file": sink, "bar_format": "{n}/{total}\n", "mininterval": 0.25}
    epochs, start = layout_schedule(len(fit_on))
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=params.n_neighbors,
        min_dist=params.min_dist,
        metric=params.metric,
        random_state=params.random_state,
        n_epochs=params.n_epochs or epochs,
        init=start,
        tqdm_kwds=tqdm_kwds,
    )
    with warnings.catch_warnings():  # the same expected warnings as umap_embed's
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        warnings.filterwarnings("ignore", message="Spectral initialisation failed", category=UserWarning)
        warnings.filterwarnings("ignore", message="Graph is not fully connected", category=UserWarning)
        fitted = reducer.fit_transform(fit_on)
        if sink is not None and sink.error is not None:
            raise sink.error
        if progress:
            progress(PLACE_PROGRESS_STAGE, 0, 1)
        placed = reducer.transform(new)
    if sink is not None and sink.error is not None:
        raise sink.error
    return np.asarray(fitted), np.asarray(placed)


def _tsne_place(
    fit_on: np.ndarray, new: np.ndarray, params: TSNEParams, progress: Progress | None
) -> tuple[np.ndarray, np.ndarray]:
    """openTSNE's t-SNE of ``fit_on`` (as :func:`tsne_embed`), then ``TSNEEmbedding.transform`` of ``new``."""
    fit_on, new = _narrowed(params, fit_on, new)
    if fit_on.shape[1] < 2:  # a one-unit layer, as tsne_embed pads it
        fit_on = np.hstack([fit_on, np.zeros((len(fit_on), 1), dtype="float32")])
        new = np.hstack([new, np.zeros((len(new), 1), dtype="float32")])
    tsne = tsne_estimator(fit_on, params, progress)
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        fitted = tsne.fit(np.ascontiguousarray(fit_on, dtype="float64"))
        if progress:
            progress(PLACE_PROGRESS_STAGE, 0, 1)
        placed = fitted.transform(np.ascontiguousarray(new, dtype="float64"), k=min(25, len(fit_on) - 1))
    return np.asarray(fitted), np.asarray(placed)
