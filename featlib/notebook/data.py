"""What the notebook widget shows of a layer's map (:class:`MapData`), asked of the service as the Explore page asks.

The core of :func:`featlib.explore`, without a widget: :func:`map_data` gives the same map, colours and figures
as plain arrays (no anywidget needed).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from featlib import datasets, metrics, models
from featlib.errors import NotebookError
from featlib.jobs.runner import InlineRunner
from featlib.maps import compile_cache, embed
from featlib.maps.reducer_params import MAP_METRICS_SAMPLE, MAP_SAMPLE
from featlib.plots.scatter import COLOUR_MODES
from featlib.read.extract import METHODS
from featlib.service import ModelRef, Service
from featlib.store import ModelRecord, Workspace

if TYPE_CHECKING:
    import keras

__all__ = ["COLOURINGS", "MapData", "check_colouring", "map_data"]

COLOURINGS = {mode: title for mode, title in COLOUR_MODES.items() if mode != "kept"}
"""The widget's ``color_by`` values and their titles: the Explore page's colourings but "neighbourhood kept"
(a job of its own, the point inspector's)."""


@dataclass(frozen=True)
class MapData:
    """What the notebook widget shows of one map: the Explore page's map, colours and figures, as plain arrays.

    Attributes:
        coords: float32 ``(m, 2)``, the map's points (the reducer's units).
        indices: int64 ``(m,)``, each point's position among the images given (sorted).
        labels, predicted: int64 ``(m,)``, each point's true and predicted class.
        confidence: float32 ``(m,)``, the predicted class's probability (0 to 1).
        images: uint8 ``(m, h, w)``, each point's image (0: background, 255: ink).
        class_names: one name per class.
        figures: :func:`featlib.metrics.map_figures`, the values formatted: ``[(name, text, help), ...]``.
        title: one line: model · layer · method · dataset split · images.
        reducer: the reducer's title (``"UMAP"``, ``"PCA"``, ``"t-SNE"``).
        key: the map's key in the workspace (:func:`featlib.keys.embedding_key`).
    """

    coords: np.ndarray
    indices: np.ndarray
    labels: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    images: np.ndarray
    class_names: tuple[str, ...]
    figures: tuple[tuple[str, str, str], ...]
    title: str
    reducer: str
    key: str


def _workspace(workspace: Workspace | str | Path | None) -> Workspace:
    if workspace is None or isinstance(workspace, Workspace):
        return workspace if workspace is not None else Workspace()  # the app's: ./workspace or $FEATLIB_WORKSPACE
    if isinstance(workspace, (str, Path)) and str(workspace):
        return Workspace(workspace)
    raise NotebookError(
        "featlib.explore keeps its results in a featlib workspace: pass workspace= a featlib.store.Workspace or "
        f"its folder, or leave it out for the app's; got {type(workspace).__name__} {workspace!r}."
    )


def _dataset(
    images: np.ndarray | datasets.Dataset, labels: np.ndarray | None, split: str | None, name: str, class_names
) -> tuple[datasets.Dataset, str]:
    if isinstance(images, datasets.Dataset):
        if labels is not None:
            raise NotebookError(
                "featlib.explore takes a featlib Dataset's labels from the dataset: leave labels=None with a "
                f"Dataset (or pass images and labels as arrays); got labels of type {type(labels).__name__}."
            )
        chosen = split or ("test" if "test" in images.splits else images.splits[0])
        if chosen not in images.splits:
            raise NotebookError(f"{images.name} has no {chosen!r} split to map; it has {list(images.splits)}.")
        return images, chosen
    if labels is None:
        raise NotebookError(
            "featlib.explore needs each image's class to colour the map: labels, int (n,) (or one-hot (n, k)), "
            "beside images (n, h, w); got labels=None. Pass the labels, or a featlib Dataset as images."
        )
    if split is not None:
        raise NotebookError(
            f"split= picks a split of a featlib Dataset; images given as an array are mapped whole; got split={split!r}."
        )
    # All the images as one split, in the order given: a selection's indices are positions in ``images``.
    empty = np.zeros((0,), dtype="uint8")
    return datasets.from_arrays(images, labels, name, class_names, x_test=empty, y_test=empty), "train"


def _model_ref(model: keras.Model | ModelRecord | str, workspace: Workspace, input_scale: str | None) -> ModelRef:
    if isinstance(model, str):
        model = workspace.get_model(model)  # WorkspaceError naming the models there
    if isinstance(model, ModelRecord):
        ref = ModelRef.of_record(workspace, model)
        return ref if input_scale is None else dataclasses.replace(ref, input_scale=input_scale)
    if hasattr(model, "layers") and hasattr(model, "get_weights"):  # a Keras model (without importing Keras)
        return ModelRef.of_model(model, input_scale=input_scale or "0-1")
    raise NotebookError(
        "featlib.explore maps a layer of a Keras classifier: pass model= a keras.Model, a saved model's record or "
        f"its name or id in the workspace; got {type(model).__name__}."
    )


def check_colouring(color_by: object) -> str:
    """``color_by`` when it is a key of :data:`COLOURINGS`.

    Raises:
        NotebookError: any other value, naming the choices.
    """
    if not isinstance(color_by, str) or color_by not in COLOURINGS:
        raise NotebookError(
            f"color_by colours the map's points by one of {list(COLOURINGS)}; got {color_by!r}. "
            "Use color_by='label' for the true classes."
        )
    return color_by


def map_data(
    model: keras.Model | ModelRecord | str,
    images: np.ndarray | datasets.Dataset,
    labels: np.ndarray | None = None,
    layer: str | None = None,
    *,
    split: str | None = None,
    workspace: Workspace | str | Path | None = None,
    method: str = "function",
    params: embed.ReducerParams | None = None,
    sample_size: int | None = MAP_SAMPLE,
    input_scale: str | None = None,
    name: str = "notebook",
    class_names: list[str] | tuple[str, ...] | None = None,
    service: Service | None = None,
) -> MapData:
    """The Explore page's map of a layer, as :class:`MapData`, from the workspace or made by jobs in this process.

    Asks :class:`featlib.service.Service` for the layer's representation, its map, the model's predictions and
    the map's figures, as the Explore page does: each is loaded from the workspace when it is there, else made by
    a job in this process and stored, under the keys the app and the CLI use. :func:`featlib.explore` shows it.

    Args:
        model: a Keras classifier in memory (not saved: its results are kept under its fingerprint), a saved
            model's :class:`~featlib.store.ModelRecord`, or its name or id in the workspace.
        images: uint8 ``(n, h, w)`` (or what :func:`featlib.datasets.from_arrays` takes: ``(n, h*w)``, floats in
            [0, 1] or [0, 255]), mapped whole and in this order; or a :class:`featlib.datasets.Dataset`.
        labels: int ``(n,)`` (or one-hot ``(n, k)``) with ``images``; ``None`` with a Dataset.
        layer: the layer's name (default: :func:`featlib.models.default_layer`, ``dense_1`` for the seed MLP).
        split: a Dataset's split (default ``"test"`` when it has one); not with arrays.
        workspace: a :class:`~featlib.store.Workspace` or its folder (default: the app's, ``./workspace`` or
            ``$FEATLIB_WORKSPACE``).
        method: how the layer is read, a key of :data:`featlib.read.extract.METHODS`.
        params: the reducer (:class:`~featlib.maps.embed.UMAPParams` by default, ``PCAParams``, ``TSNEParams``).
        sample_size: points mapped at most, stratified by label (``None``: all; the Explore page's 10,000).
        input_scale: ``"0-1"`` or ``"0-255"`` (default: the saved model's, else ``"0-1"``).
        name: the images' dataset name (arrays only), shown in the title and kept in the keys.
        class_names: one name per class (arrays only; default ``"0"``, ``"1"``, ...).

        service: ask this service instead of a new one (in this process) on ``workspace``.

    Raises:
        NotebookError: an argument of the wrong kind (the message names what was expected and received).
        featlib.datasets.DatasetError: images or labels that are no dataset.
        featlib.store.WorkspaceError: no model of that name in the workspace.
        featlib.models.ModelError: no such layer, or images the model cannot read.
        featlib.maps.embed.ReducerError: too few points for the reducer's parameters.
        featlib.jobs.JobLimitError: a job larger than its kind allows here.
    """
    if method not in METHODS:
        raise NotebookError(f"method reads a layer by one of {list(METHODS)}; got {method!r}.")
    params = embed.UMAPParams() if params is None else params
    if isinstance(sample_size, bool) or not (
        sample_size is None or (isinstance(sample_size, int) and sample_size >= 1)
    ):
        raise NotebookError(
            f"sample_size is how many points are mapped, a whole number ≥ 1 or None; got {sample_size!r}."
        )
    if service is None:
        service = Service(_workspace(workspace), InlineRunner())
    dataset, split = _dataset(images, labels, split, name, class_names)
    split_images, split_labels = dataset.split(split)
    sample = None if sample_size is None or sample_size >= len(split_labels) else sample_size  # the app's keys
    embed.check_points(params, sample or len(split_labels))  # before any model loads (ReducerError)
    ref = _model_ref(model, service.workspace, input_scale)
    loaded = ref.loaded()
    layer = models.default_layer(loaded) if layer is None else layer
    models.check_layer(loaded, layer)  # ModelError naming the layers there
    models.adapt_images(split_images[:1], loaded, ref.input_scale)  # the model reads these images
    compile_cache.enable()  # umap-learn's compiled code kept between processes, as the CLI does
    outputs, rep_key = service.representation(ref, dataset, split, layer, method)
    emb = service.embedding(outputs, rep_key, split_labels, sample_size=sample, params=params, model_id=ref.id)
    predicted, confidence = service.predictions(ref, dataset, split)
    point_labels, point_predicted = split_labels[emb.indices], predicted[emb.indices]
    scores = service.scores(emb.key, outputs[emb.indices], point_labels, emb.coords, MAP_METRICS_SAMPLE)
    reducer = embed.REDUCER_TITLES[embed.reducer_name(params)]
    accuracy = float(np.mean(point_predicted == point_labels)) if len(point_labels) else None
    figures = tuple(
        (label, f"{value:,}" if label == "points" else metrics.format_score(value), help_text)
        for label, value, help_text in metrics.map_figures(scores, reducer, accuracy)
    )
    model_name = model.name if isinstance(model, ModelRecord) else str(getattr(model, "name", model))
    data_name = f"{dataset.name} {split} split" if isinstance(images, datasets.Dataset) else dataset.name
    return MapData(
        coords=np.asarray(emb.coords, dtype="float32"),
        indices=np.asarray(emb.indices, dtype="int64"),
        labels=point_labels.astype("int64"),
        predicted=point_predicted.astype("int64"),
        confidence=np.asarray(confidence, dtype="float32")[emb.indices],
        images=np.asarray(split_images[emb.indices], dtype="uint8"),
        class_names=tuple(dataset.class_names),
        figures=figures,
        title=f"{model_name} · layer {layer} · {METHODS[method]} · {data_name} · {len(split_labels):,} images",
        reducer=reducer,
        key=emb.key,
    )
