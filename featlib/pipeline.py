"""The cached path from (model, dataset, layer, method, reduction) to a 2-D map.

Both the CLI and the dashboard go through these functions, so a result
computed by one is found by the other in the shared workspace. Keys are short
strings built from fingerprints; see :func:`representation_key`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from featlib import provenance
from featlib.datasets import Dataset
from featlib.lru import Bounded
from featlib.maps.embed import (
    APPROXIMATE_FROM,
    ReducerParams,
    UMAPParams,
    nearest_neighbours,
    reduce,
    stratified_sample,
)
from featlib.maps.embed import Progress as EmbedProgress
from featlib.models import adapt_images, predict_labels
from featlib.read import reductions
from featlib.read.extract import Extractor
from featlib.read.extract import Progress as ExtractProgress
from featlib.store import Workspace

if TYPE_CHECKING:
    import keras

KNN_CACHE_SIZE = 8


knn_graphs: Bounded[tuple] = Bounded(KNN_CACHE_SIZE)
"""kNN graphs by :func:`graph_key`, shared in this process: a map recomputed with another
``min_dist`` or seed skips the nearest-neighbour search."""


@dataclass(frozen=True)
class Embedding:
    """A 2-D map of a sample of a representation."""

    indices: np.ndarray  # int, positions in the dataset split
    coords: np.ndarray  # float32, shape (n, 2)
    key: str


def representation_key(model_fp: str, dataset_fp: str, split: str, layer: str, method: str, scale: str,
                       reduction: str = "flatten") -> str:  # fmt: skip
    """The cache key of one layer's representation for one dataset split.

    ``rep/<model fp>/<dataset fp>/<split>/<layer>/<method>/<scale>``, then
    ``/reduction=gap`` or ``/reduction=gmp`` for a pooled spatial layer
    (:func:`featlib.read.reductions.key_part`): a flattened layer, Dense or
    convolutional, keeps the key it had before reductions existed.

    Raises:
        ReductionError: ``reduction`` is not a key of :data:`featlib.read.reductions.REDUCTIONS`
            (``auto`` is resolved per layer first).
    """
    return f"rep/{model_fp}/{dataset_fp}/{split}/{layer}/{method}/{scale}" + reductions.key_part(reduction)


def embedding_key(rep_key: str, sample_size: int | None, sample_seed: int, params: ReducerParams) -> str:
    """The cache key of a 2-D map (UMAP, PCA or t-SNE) of a representation."""
    return f"emb/{rep_key}/sample={sample_size}/seed={sample_seed}/{params.key}"


def representation(
    workspace: Workspace,
    model: "keras.Model",
    model_fp: str,
    dataset: Dataset,
    split: str,
    layer: str,
    method: str,
    *,
    input_scale: str = "0-1",
    extractor: Extractor | None = None,
    model_id: str | None = None,
    progress: ExtractProgress | None = None,
    reduction: str = reductions.AUTO,
) -> tuple[np.ndarray, str]:
    """A layer's representation of every image of a split, from the workspace or computed.

    Args:
        workspace: where results are cached.
        model, model_fp: the model and its fingerprint.
        dataset, split: the images (``"train"`` or ``"test"``).
        layer, method: what to read and how (see :mod:`featlib.read.extract`).
        input_scale: ``"0-1"`` or ``"0-255"``, see :func:`featlib.models.adapt_images`.
        extractor: a ready (cached) extractor for ``(model, layer, method, reduction)``.
        model_id: the workspace id of the model, recorded with the result.
        progress: ``progress(done, total)`` while computing.
        reduction: a key of :data:`featlib.read.reductions.CHOICES` (default ``auto``:
            flatten up to :data:`featlib.read.reductions.FLATTEN_MAX` values per image,
            else global average pooling); pooling a layer without spatial axes is refused.

    Returns:
        ``(outputs, key)``: a float32 array ``(n, units)`` and its cache key.

    Raises:
        ReductionError: an unknown reduction, or pooling a layer without spatial axes.
    """
    rep = reductions.for_layer(model, layer, reduction)
    key = representation_key(model_fp, dataset.fingerprint, split, layer, method, input_scale, rep.reduction)
    cached = workspace.load_array("representation", key)
    if cached is not None:
        if progress:
            progress(len(cached), len(cached))
        return cached, key
    images, _ = dataset.split(split)
    x = adapt_images(images, model, input_scale)
    extractor = extractor or Extractor(model, layer, method, rep.reduction)
    outputs = extractor(x, progress=progress)
    save_representation(workspace, key, outputs, dataset, split, layer, method, model_id, reduction=rep.reduction)
    return outputs, key


def save_representation(
    workspace: Workspace, key: str, outputs: np.ndarray, dataset: Dataset, split: str, layer: str, method: str,
    model_id: str | None, *, reduction: str = "flatten",
) -> bool:  # fmt: skip
    """Stores a layer's representation ``(n, units)`` under ``key`` with its provenance; False when the model was deleted meanwhile."""
    return workspace.save_array(
        "representation",
        key,
        outputs,
        model_id=model_id,
        meta={"dataset": dataset.name, "split": split, "layer": layer, "method": method, "reduction": reduction,
              "provenance": provenance.for_key(key, {"dataset": dataset.name})},
    )  # fmt: skip


def graph_key(rep_key: str, sample_size: int | None, sample_seed: int, params: ReducerParams) -> str:
    """The key of the kNN graph a UMAP map of this sample uses (shared by maps that differ in ``min_dist`` or seed)."""
    if not isinstance(params, UMAPParams):
        return ""
    return f"{rep_key}/sample={sample_size}/seed={sample_seed}/{params.n_neighbors}/{params.metric}/{params.pca_dims}"


def embedding(
    workspace: Workspace,
    outputs: np.ndarray,
    rep_key: str,
    labels: np.ndarray,
    *,
    sample_size: int | None = 10_000,
    sample_seed: int = 0,
    params: ReducerParams = UMAPParams(),
    model_id: str | None = None,
    progress: EmbedProgress | None = None,
) -> Embedding:
    """A 2-D map of a stratified sample of ``outputs``, from the workspace or computed.

    ``params`` picks the reducer (:class:`~featlib.maps.embed.UMAPParams`,
    ``PCAParams`` or ``TSNEParams``); ``progress`` is reported by UMAP only.
    """
    key = embedding_key(rep_key, sample_size, sample_seed, params)
    cached = load_embedding(workspace, key)
    if cached is not None:
        return cached
    indices = stratified_sample(labels, sample_size, seed=sample_seed)
    points, point_labels = outputs[indices], np.asarray(labels)[indices]
    if not isinstance(params, UMAPParams):
        coords = reduce(points, params)
        return save_embedding(workspace, key, indices, coords, rep_key, model_id)
    graph = None
    from featlib.maps import gpu

    if len(points) >= APPROXIMATE_FROM and gpu.choose("umap") == "cpu":  # cuML finds its own neighbours
        if progress:
            progress("neighbours", 0, 1)
        graph = knn_graphs.get(graph_key(rep_key, sample_size, sample_seed, params), lambda: nearest_neighbours(points, params, point_labels))
    coords = reduce(points, params, progress=progress, knn_graph=graph, labels=point_labels)
    return save_embedding(workspace, key, indices, coords, rep_key, model_id)


def save_embedding(
    workspace: Workspace, key: str, indices: np.ndarray, coords: np.ndarray, rep_key: str, model_id: str | None
) -> Embedding:
    """Stores a map: ``indices`` (int, positions in the split) and ``coords`` float ``(n, 2)``, under ``key``.

    Its ``meta["backend"]`` (and ``meta["provenance"]["backend"]``) names what made it, ``"cpu"`` or
    ``"gpu"``: the backend this process chose for the map's job (:func:`featlib.maps.gpu.backend_of_key`).
    """
    from featlib.maps import gpu

    table = np.column_stack([indices.astype("float64"), coords.astype("float64")])
    backend = gpu.backend_of_key(key)
    workspace.save_array("embedding", key, table, model_id=model_id,
                         meta={"rep": rep_key, "backend": backend, "points": int(len(indices)),
                               "provenance": {**provenance.for_key(key), "backend": backend}})  # fmt: skip
    return Embedding(indices, coords, key)


def embedding_backend(workspace: Workspace, key: str) -> str:
    """What made the map stored under ``key``: ``"cpu"`` or ``"gpu"`` (its ``meta["provenance"]["backend"]``).

    Maps stored before featlib recorded it were all made on the CPU: ``"cpu"``, also for a key never stored.
    """
    try:
        return str(workspace.get_item("embedding", key).provenance.get("backend") or "cpu")
    except (LookupError, ValueError):  # WorkspaceError: deleted meanwhile
        return "cpu"


def load_embedding(workspace: Workspace, key: str) -> Embedding | None:
    """The map stored under ``key``, or ``None`` when it was never computed."""
    table = workspace.load_array("embedding", key)
    if table is None:
        return None
    return Embedding(table[:, 0].astype(int), table[:, 1:].astype("float32"), key)


def predicted_labels(model: "keras.Model", dataset: Dataset, split: str, input_scale: str) -> np.ndarray:
    """The model's predicted class for every image of a split."""
    images, _ = dataset.split(split)
    return predict_labels(model, adapt_images(images, model, input_scale))
