"""Storing and loading the product's results in the workspace: representations and maps, with their provenance.

What to compute, and whether it is stored already, is :mod:`featlib.service`'s (the one get-or-make
path of the pages, the CLI and ``precompute``); the keys are :mod:`featlib.keys`'s, re-exported here
(:func:`representation_key`, :func:`embedding_key`, :func:`graph_key`) for notebooks and older code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from featlib import provenance
from featlib.datasets import Dataset
from featlib.keys import embedding_key, graph_key, representation_key  # noqa: F401  (re-exported)
from featlib.lru import Bounded
from featlib.maps import gpu
from featlib.models import adapt_images, predict_labels
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


def save_representation(
    workspace: Workspace,
    key: str,
    outputs: np.ndarray,
    dataset: Dataset,
    split: str,
    layer: str,
    method: str,
    model_id: str | None,
    *,
    reduction: str = "flatten",
    creator: str = "",
) -> bool:
    """Stores a layer's representation ``(n, units)`` under ``key`` with its provenance and maker (``creator``);
    False when the model was deleted meanwhile."""
    return workspace.save_array(
        "representation",
        key,
        outputs,
        model_id=model_id,
        creator=creator,
        meta={
            "dataset": dataset.name,
            "split": split,
            "layer": layer,
            "method": method,
            "reduction": reduction,
            "provenance": provenance.for_key(key, {"dataset": dataset.name}),
        },
    )


def save_embedding(
    workspace: Workspace,
    key: str,
    indices: np.ndarray,
    coords: np.ndarray,
    rep_key: str,
    model_id: str | None,
    *,
    creator: str = "",
) -> Embedding:
    """Stores a map: ``indices`` (int, positions in the split) and ``coords`` float ``(n, 2)``, under ``key``.

    Its ``meta["backend"]`` (and ``meta["provenance"]["backend"]``) names what made it, ``"cpu"`` or
    ``"gpu"``: the backend this process chose for the map's job (:func:`featlib.maps.gpu.backend_of_key`).
    """
    table = np.column_stack([indices.astype("float64"), coords.astype("float64")])
    backend = gpu.backend_of_key(key)
    workspace.save_array(
        "embedding",
        key,
        table,
        model_id=model_id,
        creator=creator,
        meta={
            "rep": rep_key,
            "backend": backend,
            "points": int(len(indices)),
            "provenance": {**provenance.for_key(key), "backend": backend},
        },
    )
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


def predicted_labels(model: keras.Model, dataset: Dataset, split: str, input_scale: str) -> np.ndarray:
    """The model's predicted class for every image of a split."""
    images, _ = dataset.split(split)
    return predict_labels(model, adapt_images(images, model, input_scale))
