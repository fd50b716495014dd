"""One stable map of a layer across a training's checkpoints, to scrub through epochs (issue 29, item 2).

The same ``n`` images read in one layer at each of ``c`` checkpoints of one training (epoch 1, 2, ...,
the trained model) are drawn on one map per checkpoint, made so that an image moves on the map only as
far as its place in the layer changed: independent UMAP maps of two epochs are turned, mirrored and
shuffled against each other by the layout's randomness, so the same image jumps about even when the
layer hardly changed.

Two ways are offered (:data:`METHODS`):

- ``"aligned"``: umap-learn's ``AlignedUMAP``, one UMAP per checkpoint laid out
  together, each image tied to itself in the neighbouring checkpoints (``relations``: the identity between
  consecutive checkpoints, the same images in the same order). Each checkpoint keeps its own neighbour graph,
  so each frame is a UMAP of its own checkpoint.
- ``"transform"`` (:data:`DEFAULT_METHOD`): one UMAP fitted on the last checkpoint (the trained model), every earlier one placed on it
  by ``UMAP.transform``: each image where its nearest neighbours *of the trained model's layer* lie, so an
  early epoch is drawn in the trained model's terms.

Measured by ``bench/checkpoint_flow.py`` (the seed MLP on Fashion-MNIST, ``dense_1`` after each of 4 epochs,
10,000 test images, 2 cores otherwise idle): ``AlignedUMAP`` made the 4 maps in 309 s, within the UMAP job's
900 s, and moved an image between consecutive epochs by a median of 1.9 to 2.3 % of the map's size;
``transform`` took 17 s and moved it by 1.7 to 3.4 %; two independent maps (16 s) by 16 to 22 % turned onto
each other (Procrustes), up to 210 % as made. ``transform`` is the default: 18 times faster for about the same
stability, so a training is scrubbable in seconds, not minutes. The aligned maps' cost:
umap-learn compiles the aligned layout again at every fit (``numba.njit`` inside
``optimize_layout_aligned_euclidean``: seconds on an idle machine, a minute on a busy one), and reports no
progress inside the fit (the job says ``aligning`` with its time).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from featlib.errors import ReducerError
from featlib.lazy import umap
from featlib.maps import embed
from featlib.maps.embed import UMAPParams

METHODS = {
    "aligned": "aligned UMAP",
    "transform": "a UMAP of the trained model, the checkpoints placed on it",
}
"""How the checkpoints' maps are tied together, by the name in keys (``how=``)."""
DEFAULT_METHOD = "transform"
"""The method the dashboard and :meth:`featlib.service.Service.checkpoint_flow` use (see the module's docstring)."""
MIN_CHECKPOINTS = 2
MAX_CHECKPOINTS = 12
"""The most checkpoints one flow lays out together (the time grows with each; pick a few epochs)."""


def check_reps(reps: Sequence[np.ndarray]) -> None:
    """Refuses representations that cannot make one flow, before any work.

    Args:
        reps: one float ``(n, units)`` array per checkpoint, in training order, the same ``n`` images in the
            same order in each.

    Raises:
        ReducerError: fewer than :data:`MIN_CHECKPOINTS` or more than :data:`MAX_CHECKPOINTS` of them,
            or arrays of different shapes (other images, or another layer).
    """
    count = len(reps)
    if not MIN_CHECKPOINTS <= count <= MAX_CHECKPOINTS:
        raise ReducerError(
            f"A training's flow lays out {MIN_CHECKPOINTS} to {MAX_CHECKPOINTS} checkpoints together; got {count}. "
            + (
                "Save checkpoints while training (the Model page's 'Save checkpoints after epoch', or "
                "featlib.callbacks.CheckpointCallback in your own model.fit)."
                if count < MIN_CHECKPOINTS
                else "Pick fewer epochs."
            )
        )
    shapes = [tuple(np.shape(r)) for r in reps]
    if len(set(shapes)) != 1 or len(shapes[0]) != 2:
        raise ReducerError(
            "Every checkpoint's representation must be the same layer read for the same images (one 2-D array "
            f"(images, units) each, all of one shape); got shapes {shapes}. Read one layer of every checkpoint "
            "on one sample."
        )


def checkpoint_flow(
    reps: Sequence[np.ndarray],
    params: UMAPParams = UMAPParams(),
    *,
    method: str = DEFAULT_METHOD,
    labels: np.ndarray | None = None,
    progress=None,
) -> np.ndarray:
    """One stable 2-D map per checkpoint of the same images (see the module's docstring).

    Args:
        reps: one float ``(n, units)`` array per checkpoint, in training order (the same images, same order).
        params: the UMAP parameters (``metric="auto"`` is resolved once, on the last checkpoint, with
            ``labels``; ``n_epochs=None`` follows :func:`featlib.maps.embed.layout_schedule`).
        method: a key of :data:`METHODS`.
        labels: int ``(n,)``, the images' classes, for ``metric="auto"`` only.
        progress: optional ``progress(stage, done, total)``: ``("checkpoints", i, c)`` as each checkpoint is
            prepared (``"aligned"``, then ``("aligning", 0, 1)`` for the whole layout) or placed
            (``"transform"``), then ``("checkpoints", c, c)``.

    Returns:
        float32 ``(c, n, 2)``: each checkpoint's map, the images in the order given.

    Raises:
        ReducerError: see :func:`check_reps`; an unknown ``method``.
        ReducerError: fewer images than UMAP needs with ``params``, or NaN/inf values.
    """
    check_reps(reps)
    if method not in METHODS:
        raise ReducerError(f"Unknown flow method {method!r}: choose one of {list(METHODS)}.")
    report = progress or (lambda *_args: None)
    count = len(reps)
    xs = [embed._finite_rows(np.asarray(r, dtype="float32"), params) for r in reps]
    embed.check_points(params, len(xs[0]))
    params = replace(params, metric=embed.resolve_metric(params, xs[-1], labels))
    epochs, start = embed.layout_schedule(len(xs[0]))
    n_epochs = params.n_epochs or epochs
    if method == "aligned":
        flow = _aligned(xs, params, n_epochs, report)
    else:
        flow = _placed(xs, params, n_epochs, start, report)
    report("checkpoints", count, count)
    return _fill_unplaced(flow)


def _aligned(xs: list[np.ndarray], params: UMAPParams, n_epochs: int, report) -> np.ndarray:
    """umap-learn's ``AlignedUMAP`` of the checkpoints, each image tied to itself in the next: ``(c, n, 2)``."""
    count = len(xs)
    widths = []
    for done, x in enumerate(xs):
        report("checkpoints", done, count)
        widths.append(np.ascontiguousarray(embed.reduce_width(x, params)))
    report("aligning", 0, 1)
    reducer = umap.AlignedUMAP(
        n_neighbors=params.n_neighbors,
        min_dist=params.min_dist,
        metric=params.metric,
        random_state=params.random_state,
        n_epochs=n_epochs,
    )
    identity = {i: i for i in range(len(xs[0]))}
    with _quiet_umap():
        reducer.fit(widths, relations=[identity] * (count - 1))
    return np.stack([np.asarray(e, dtype="float32") for e in reducer.embeddings_])


def _placed(xs: list[np.ndarray], params: UMAPParams, n_epochs: int, start: str, report) -> np.ndarray:
    """One UMAP of the last checkpoint, the others placed on it by ``transform``: ``(c, n, 2)``.

    A layer wider than ``pca_dims`` is read through the PCA of the last checkpoint, applied to every one, so
    that every checkpoint is placed in the space the map was fitted in.
    """
    count = len(xs)
    units = xs[-1].shape[1]
    projection = _pca_of(xs[-1], params.pca_dims) if embed.pca_applies(params, units, len(xs[-1])) else None
    report("checkpoints", 0, count)
    reducer = umap.UMAP(
        n_components=2,
        n_neighbors=params.n_neighbors,
        min_dist=params.min_dist,
        metric=params.metric,
        random_state=params.random_state,
        n_epochs=n_epochs,
        init=start,
    )
    with _quiet_umap():
        fitted = reducer.fit_transform(projection(xs[-1]) if projection else xs[-1]).astype("float32")
        placed = []
        for done, x in enumerate(xs[:-1]):
            report("checkpoints", done + 1, count)
            placed.append(reducer.transform(projection(x) if projection else x).astype("float32"))
    return np.stack([*placed, fitted])


@contextlib.contextmanager
def _quiet_umap():
    """umap-learn's expected warnings (a fixed seed runs one thread; a graph in pieces) left unsaid."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="n_jobs value", category=UserWarning)
        warnings.filterwarnings("ignore", message="Graph is not fully connected", category=UserWarning)
        warnings.filterwarnings("ignore", message="Spectral initialisation failed", category=UserWarning)
        yield


def _pca_of(x: np.ndarray, dims: int):
    """A function projecting rows onto the first ``dims`` principal axes of ``x`` (float32)."""
    mean = x.mean(axis=0)
    _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
    axes = vt[:dims].T.astype("float32")
    return lambda rows: ((np.asarray(rows, dtype="float32") - mean) @ axes).astype("float32")


def _fill_unplaced(flow: np.ndarray) -> np.ndarray:
    """Points umap-learn leaves unplaced (NaN: no neighbour in their checkpoint's graph) drawn where they were in
    the checkpoint before, else at that map's median, so that every frame holds every image."""
    flow = np.array(flow, dtype="float32")
    for i in range(len(flow)):
        missing = ~np.isfinite(flow[i]).all(axis=1)
        if missing.any():
            before = flow[i - 1][missing] if i else None
            centre = np.nanmedian(flow[i], axis=0) if (~missing).any() else np.zeros(2, "float32")
            flow[i][missing] = before if before is not None and np.isfinite(before).all() else centre
    return flow


def spread(coords: np.ndarray) -> float:
    """A map's size: the root mean square distance of its points from their centre (``coords``: ``(n, 2)``)."""
    coords = np.asarray(coords, dtype="float64")
    return float(np.sqrt(np.mean(np.sum((coords - coords.mean(axis=0)) ** 2, axis=1)))) or 1.0


def displacement(flow: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """How far each image moves between consecutive checkpoints, in units of the map's size.

    Args:
        flow: ``(c, n, 2)`` maps of the same images (:func:`checkpoint_flow`, or independent maps).

    Returns:
        float64 ``(c - 1, n)``: row ``i`` is each image's move from map ``i`` to map ``i + 1`` divided by the
        mean of the two maps' :func:`spread`, so maps drawn at other scales compare.
    """
    maps = [np.asarray(m, dtype="float64") for m in flow]
    moves = []
    for a, b in zip(maps, maps[1:]):
        size = (spread(a) + spread(b)) / 2
        moves.append(np.linalg.norm(b - a, axis=1) / size)
    return np.array(moves)


def moved_images(flow: np.ndarray, a: int, b: int, count: int) -> np.ndarray:
    """The positions of the ``count`` images that moved most on the map from checkpoint ``a`` to ``b``, most first."""
    moves = np.linalg.norm(np.asarray(flow[b], "float64") - np.asarray(flow[a], "float64"), axis=1)
    return np.argsort(-moves, kind="stable")[:count]
