"""The job functions: one per heavy operation, plain inputs in, plain outputs out.

Each function takes its inputs (arrays, a :class:`~featlib.datasets.Dataset`,
a model as ``.keras`` bytes) and parameters as keyword arguments, and a
``progress(stage, done, total, **extra)`` function; it touches no workspace
and no Streamlit. :data:`KINDS` maps a job's ``kind`` to its function; the
same function runs in-process (:func:`run_inline`), on a local cluster's
worker or on a remote one (:mod:`featlib.jobs.worker`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from featlib import metrics, models, pipeline
from featlib.datasets import Dataset
from featlib.jobs.cache import extractor as cached_extractor
from featlib.jobs.cache import model as cached_model
from featlib.jobs.spec import JobSpec, Progress
from featlib.lazy import LazyModule, keras
from featlib.maps import (
    checkpoint_flow,
    embed,
    gpu,
    layer_flow,
    neighbour_change,
    neighbours,
    placed_map,
    prediction_depth,
    seed_stability,
    units,
)
from featlib.models import adapt_images, diagnosis, nonfinite, scratch
from featlib.models import saliency as saliency_maps
from featlib.models.inputs import resolve_input_scale
from featlib.read import layers
from featlib.read.extract import METHODS
from featlib.read.extract import compare_methods as compare

bundle = LazyModule("featlib.share.bundle")
"""The bundle checks (:mod:`featlib.share.bundle`), imported by the bundle job: its manifest's pydantic models are
built at import, which no other job (nor ``featlib --help``) needs."""


def _quiet(*_args: Any, **_kwargs: Any) -> None:
    """A progress function that reports nowhere."""


def train(
    *,
    dataset: Dataset,
    hidden: Sequence[int],
    optimizer: str,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    checkpoint_epochs: Sequence[int] = (),
    seed: int | None = 0,
    progress: Progress = _quiet,
) -> dict:
    """Builds (weights seeded by ``seed``) and trains the seed MLP on ``dataset`` (inputs scaled to 0..1), as :func:`featlib.models.train`.

    Progress: ``("epoch", epoch, epochs, logs={...})`` after each epoch.

    Returns:
        ``{"model": bytes of the .keras file, "fingerprint", "architecture",
        "test_accuracy", "test_loss", "seconds", "history": {metric: [per epoch]},
        "checkpoints": [{"epoch", "model", "fingerprint", "test_accuracy", "logs"}]}``.

    Raises:
        featlib.models.ModelError: bad optimizer, epochs or checkpoint epochs.
        featlib.models.nonfinite.NonFiniteError: training diverged: a weight holds NaN or inf (nothing is returned
            to be stored).
    """
    h, w = dataset.image_shape
    model = models.build_mlp((h * w,), tuple(hidden), dataset.num_classes, seed=seed)
    (x_train, y_train), (x_test, y_test) = dataset.split("train"), dataset.split("test")
    result = models.train(
        model,
        models.adapt_images(x_train, model, "0-1"),
        y_train,
        models.adapt_images(x_test, model, "0-1"),
        y_test,
        optimizer=optimizer,
        learning_rate=learning_rate,
        epochs=int(epochs),
        batch_size=int(batch_size),
        on_epoch_end=lambda epoch, total, logs: progress("epoch", epoch, total, logs=logs),
        checkpoint_epochs=checkpoint_epochs,
    )
    nonfinite.check_weights(
        model,
        f"The model trained for {int(epochs)} epochs at learning rate {learning_rate:g}",
        fix="Training diverged: train again with a lower learning rate (or the default preset).",
    )
    checkpoints = []
    for epoch, checkpoint in sorted(result.checkpoints.items()):
        at_epoch = models.model_with_weights(model, checkpoint.weights)
        checkpoints.append(
            {
                "epoch": epoch,
                "model": models.model_to_bytes(at_epoch),
                "fingerprint": models.fingerprint(at_epoch),
                "test_accuracy": checkpoint.test_accuracy,
                "logs": checkpoint.logs,
            }
        )
    return {
        "model": models.model_to_bytes(model),
        "fingerprint": models.fingerprint(model),
        "architecture": models.architecture_summary(model),
        "test_accuracy": result.test_accuracy,
        "test_loss": result.test_loss,
        "seconds": result.seconds,
        "history": result.history,
        "checkpoints": checkpoints,
    }


def check_upload(
    *,
    data: bytes,
    filename: str,
    dataset: Dataset,
    input_scale: str,
    output: str | None = None,
    progress: Progress = _quiet,
) -> dict:
    """Checks and loads an uploaded model file (see :func:`featlib.models.load_model`) and scores it on ``dataset``.

    It is scored on the test split, or on the train split when the dataset has no test images
    (:func:`featlib.models.diagnosis.scoring_split`). When the accuracy is near chance
    (:func:`featlib.models.diagnosis.near_chance`), it is measured once more with the other input
    scaling and the likely causes are listed (:func:`featlib.models.diagnosis.likely_causes`); other
    uploads pay for neither. Runs where a worker's memory limit bounds it: a file that
    declares more than the limit ends its worker, not the server.

    A model with several outputs is scored from ``output`` (a name of
    :func:`featlib.models.model_outputs`), or by default from its first output with one value per
    class (:func:`featlib.models.choose_output`).

    Returns:
        ``{"model": .keras bytes, "fingerprint", "architecture", "accuracy", "split": "test" or
        "train", "n_images": images scored, "other_scale_accuracy": float or None (measured only
        near chance), "hints": list of sentences (empty unless near chance), "output": the name of
        the output scored, "outputs": [{"name", "width"}] every output of the model, "implied_scale":
        "0-1", "0-255" or None, the scaling the model's own Rescaling/Normalization implies
        (:func:`featlib.models.implied_input_scale`), "input_scale": the scaling it was scored with (a key of
        :data:`featlib.models.INPUT_SCALES`: ``input_scale`` itself, or for ``"own"`` the model's own, else
        ``"0-1"``), "scale_note": a sentence saying where that scaling comes from
        (:func:`featlib.models.inputs.resolve_input_scale`)}``.

    Raises:
        featlib.models.ModelError: the file is refused (code layers, bad archive, wrong inputs), the
            dataset has no image to score it on, or no output of the model fits its classes (naming
            the outputs and their widths).
        featlib.models.nonfinite.NonFiniteError: a weight holds NaN or inf, or a layer gives NaN or inf for the
            scoring images (naming the weights or layers and how many values): refused, not scored.
    """
    progress("loading", 0, 2)
    model = _load_upload(data, filename)  # NaN/inf weights: refused there (NonFiniteError)
    progress("scoring", 1, 2)
    input_scale, scale_note = resolve_input_scale(model, input_scale)  # "own": what its Rescaling/Normalization states
    scored = diagnosis.score(model, dataset, input_scale, output, filename)
    return {
        "model": models.model_to_bytes(model),
        "fingerprint": models.fingerprint(model),
        "architecture": models.architecture_summary(model),
        **scored,
        "input_scale": input_scale,
        "scale_note": scale_note,
    }


def _load_upload(data: bytes, filename: str):
    """Writes the upload under its own name (made safe, so messages name the user's file) and loads it safely."""
    suffix = Path(filename).suffix.lower()
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(filename).stem)[:80].lstrip(".") or "upload"
    with scratch.folder(prefix="featlib-upload-") as folder:  # removed even when the worker is killed at its limit
        path = Path(folder) / f"{stem}{suffix}"
        path.write_bytes(data)
        return models.load_model(path)


def extract(
    *,
    model: bytes,
    model_fp: str,
    dataset: Dataset,
    split: str,
    layer: str,
    method: str,
    input_scale: str,
    reduction: str = "flatten",
    progress: Progress = _quiet,
) -> np.ndarray:
    """One layer's representation of every image of a split: float32 ``(n, units)``; progress ``("images", done, total)``.

    ``reduction`` (:data:`featlib.read.reductions.REDUCTIONS`) is applied batch by batch as the outputs come out.
    """
    loaded = cached_model(model_fp, model)
    images, _ = dataset.split(split)
    x = adapt_images(images, loaded, input_scale)
    extractor = cached_extractor(model_fp, model, layer, method, reduction)
    return extractor(x, progress=lambda done, total: progress("images", done, total))


def layer_set(
    *,
    model: bytes,
    model_fp: str,
    dataset: Dataset,
    split: str,
    input_scale: str,
    sample_size: int | None,
    reduction: str = "auto",
    progress: Progress = _quiet,
):
    """Every layer's representation of a stratified sample, in one pass: :func:`featlib.read.layers.layer_set`.

    ``reduction`` (:data:`featlib.read.reductions.CHOICES`) applies to every layer with spatial axes.
    """
    progress("working", 0, 1)
    return layers.layer_set(
        cached_model(model_fp, model), model_fp, dataset, split, input_scale, sample_size, reduction=reduction
    )


def compare_methods(
    *,
    model: bytes,
    model_fp: str,
    dataset: Dataset,
    split: str,
    layer: str,
    input_scale: str,
    sample: int,
    reduction: str = "flatten",
    progress: Progress = _quiet,
):
    """Both extraction methods on the first ``sample`` images, each reduced by ``reduction``: :func:`featlib.read.extract.compare_methods`."""
    loaded = cached_model(model_fp, model)
    images, _ = dataset.split(split)
    x = adapt_images(images[:sample], loaded, input_scale)
    progress("images", 0, 1)
    return compare(
        {m: cached_extractor(model_fp, model, layer, m, reduction) for m in METHODS},
        x,
        progress=lambda done, total: progress("images", done, total),
    )


def predict(
    *,
    model: bytes,
    model_fp: str,
    dataset: Dataset,
    split: str,
    input_scale: str,
    output: str | None = None,
    progress: Progress = _quiet,
) -> tuple[np.ndarray, np.ndarray]:
    """The predicted label (int64) and its probability (float32) for every image of a split.

    ``output`` names the output read for a model with several (the record's ``meta["output"]``);
    unset, the model's only output, or the first with one value per class of ``dataset``
    (:func:`featlib.models.default_output`).

    Raises:
        featlib.models.ModelError: no such output, or none fits the dataset's classes.
    """
    loaded = cached_model(model_fp, model)
    images, _ = dataset.split(split)
    index = models.recorded_output(loaded, output, dataset.num_classes)
    progress("working", 0, 1)
    outputs = models.predict_output(loaded, models.adapt_images(images, loaded, input_scale), 1024, index)
    return metrics.prediction_confidence(outputs)


def reduce(
    *,
    points: np.ndarray,
    params,
    labels: np.ndarray | None = None,
    graph_key: str = "",
    backend: str | None = None,
    progress: Progress = _quiet,
) -> np.ndarray:
    """A 2-D map of ``points`` (float32 ``(n, 2)``) by the reducer ``params`` names (:func:`featlib.maps.embed.reduce`).

    ``labels`` (the points' classes) decide UMAP's ``metric="auto"`` (:func:`featlib.maps.embed.resolve_metric`).

    UMAP reports ``("neighbours", 0, 1)`` then ``("layout", epoch, epochs)``, t-SNE the same per 10 iterations
    (:func:`featlib.maps.embed.tsne_embed`), PCA ``("working", 0, 1)``;
    its kNN graph is kept per ``graph_key`` in the worker, so another
    ``min_dist`` or seed on the same points skips the neighbour search.
    ``backend``: ``"cpu"`` or ``"gpu"`` as the submitter chose (:func:`featlib.maps.gpu.choose`);
    ``None``: chosen here.
    """
    if backend is None:
        backend = gpu.choose(embed.reducer_name(params))
    if isinstance(params, embed.UMAPParams) and len(points) >= embed.APPROXIMATE_FROM and backend == "cpu":
        progress("neighbours", 0, 1)
        graph = (
            pipeline.knn_graphs.get(graph_key, lambda: embed.nearest_neighbours(points, params, labels))
            if graph_key
            else embed.nearest_neighbours(points, params, labels)
        )
        return embed.reduce(points, params, progress=progress, knn_graph=graph, backend=backend, labels=labels)
    if isinstance(params, embed.PCAParams):  # UMAP and t-SNE report their own stages, neighbours first
        progress("working", 0, 1)
    return embed.reduce(points, params, progress=progress, backend=backend, labels=labels)


def layer_metrics(
    *,
    reps: np.ndarray,
    labels: np.ndarray,
    coords: np.ndarray | None,
    sample_size: int | None,
    progress: Progress = _quiet,
) -> dict:
    """The figures of a layer and its map: :func:`featlib.metrics.layer_metrics`."""
    progress("working", 0, 1)
    return metrics.layer_metrics(reps, labels, coords, sample_size=sample_size)


def cka(
    *, reps: Sequence[np.ndarray], other: Sequence[np.ndarray] | None = None, progress: Progress = _quiet
) -> np.ndarray:
    """Linear CKA between every pair of representations of the same points: rows ``reps``, columns ``other`` (or ``reps``).

    Returns a float64 array ``(len(reps), len(other or reps))``; see :func:`featlib.metrics.linear_cka`.
    """
    progress("working", 0, 1)
    if other is None:
        return metrics.cka_matrix(list(reps))
    return np.array([[metrics.linear_cka(a, b) for b in other] for a in reps])


def point_neighbours(
    *, points: np.ndarray, position: int, k: int, params, labels: np.ndarray | None = None, progress: Progress = _quiet
) -> tuple[np.ndarray, np.ndarray, str]:
    """The ``k`` nearest neighbours of row ``position`` among ``points`` (a map's sample of a layer's outputs),
    by the metric of the map made with ``params`` of these points and ``labels``
    (:func:`featlib.maps.neighbours.map_metric`: ``"auto"`` is resolved here, as the map's job resolved it).

    Returns ``(rows, distances, metric)``: int64 ``(k',)`` rows of ``points``, nearest first, their float64
    distances under ``metric`` (:func:`featlib.maps.neighbours.nearest_with_distances`; ``k' < k`` when the
    points are fewer than ``k + 1``), and the metric's name.
    """
    progress("neighbours", 0, 1)
    metric = neighbours.map_metric(params, points, labels)
    found, distances = neighbours.nearest_with_distances(points, [position], k=k, metric=metric)
    return found[0], distances[0], metric


def neighbours_kept(
    *, before: np.ndarray, after: np.ndarray, k: int, progress: Progress = _quiet
) -> neighbour_change.NeighbourChange:
    """Each image's ``k`` nearest neighbours in ``before`` and ``after`` (the same images' rows, in the same order)
    and the Jaccard index of the two sets: :func:`featlib.maps.neighbour_change.neighbour_change`."""
    progress("neighbours", 0, 1)
    return neighbour_change.neighbour_change(before, after, k)


def flow(
    *,
    reps: Sequence[np.ndarray],
    params: embed.UMAPParams,
    method: str,
    labels: np.ndarray | None = None,
    progress: Progress = _quiet,
) -> np.ndarray:
    """One stable 2-D map per checkpoint of the same sampled images (``reps``: one ``(n, units)`` array each, in
    training order), progress ``("checkpoints", done, total)``: float32 ``(c, n, 2)``
    (:func:`featlib.maps.checkpoint_flow.checkpoint_flow`)."""
    return checkpoint_flow.checkpoint_flow(reps, params, method=method, labels=labels, progress=progress)


def depth(
    *,
    reps: Sequence[np.ndarray],
    predicted: np.ndarray,
    support: np.ndarray | None,
    k: int,
    progress: Progress = _quiet,
) -> np.ndarray:
    """Each image's prediction depth over ``reps`` (the same images in layer order), the k-NN vote per layer
    reported as progress: int64 ``(n,)`` (:func:`featlib.maps.prediction_depth.prediction_depth`)."""
    agree = []
    for done, x in enumerate(reps):
        progress("layers", done, len(reps))
        agree.append(prediction_depth.agreement([x], predicted, k, support)[0])
    progress("layers", len(reps), len(reps))
    return prediction_depth.depth_of(np.stack(agree))


def flow_of_layers(
    *,
    reps: dict[str, np.ndarray],
    labels: np.ndarray,
    predicted: np.ndarray,
    k: int,
    progress: Progress = _quiet,
) -> layer_flow.LayerFlow:
    """Each representation of ``reps`` (the same images in layer order) cut into ``k`` clusters and the images
    flowing between consecutive ones, one layer's k-means per progress step
    (:func:`featlib.maps.layer_flow.layer_flow`)."""
    return layer_flow.layer_flow(reps, labels, predicted, k=k, progress=progress)


def units_of(
    *,
    outputs: np.ndarray,
    k: int,
    shape: Sequence[int | None] | None = None,
    reduction: str = "flatten",
    channels_first: bool = False,
    progress: Progress = _quiet,
) -> units.UnitStats:
    """A layer's per-unit statistics (each channel pooled): :func:`featlib.maps.units.unit_stats`."""
    return units.unit_stats(
        outputs, k, shape=shape, reduction=reduction, channels_first=channels_first, progress=progress
    )


def units_telling(
    *,
    outputs: np.ndarray,
    selected: np.ndarray,
    shown: int,
    k: int,
    shape: Sequence[int | None] | None = None,
    reduction: str = "flatten",
    channels_first: bool = False,
    progress: Progress = _quiet,
) -> units.UnitRanking:
    """A layer's units ranked by how well each tells the ``selected`` rows (bool) from the others (AUROC):
    :func:`featlib.maps.units.ranking`."""
    return units.ranking(
        outputs,
        selected,
        shape=shape,
        reduction=reduction,
        channels_first=channels_first,
        shown=shown,
        k=k,
        progress=progress,
    )


def saliency(
    *,
    model: bytes,
    model_fp: str,
    dataset: Dataset,
    split: str,
    index: int,
    target: int,
    method: str,
    steps: int,
    input_scale: str,
    output: str | None = None,
    progress: Progress = _quiet,
) -> dict:
    """Image ``index`` of a split's saliency map for class ``target``: :func:`featlib.models.saliency.saliency` on the
    image as the model reads it (:func:`featlib.models.adapt_images` with ``input_scale``), from the output the
    record names (``output``; unset: :func:`featlib.models.default_output`).

    Returns:
        :meth:`featlib.models.saliency.Saliency.as_figures` (arrays and plain values, kept in the workspace).

    Raises:
        featlib.errors.SaliencyError: no such image or class, a model without gradients.
        featlib.models.ModelError: several inputs, no output fits the dataset's classes.
    """
    loaded = cached_model(model_fp, model)
    images, _ = dataset.split(split)
    index = saliency_maps.check_index(index, len(images), split)
    x = adapt_images(images[index : index + 1], loaded, input_scale)
    head = models.recorded_output(loaded, output, dataset.num_classes)
    progress("working", 0, 1)
    found = saliency_maps.saliency(loaded, x[0], target, method, steps=steps, output=head)
    return found.as_figures()


def placed(
    *,
    points: np.ndarray,
    other: np.ndarray,
    params,
    labels: np.ndarray | None = None,
    progress: Progress = _quiet,
) -> placed_map.PlacedMap:
    """A map fitted on ``points`` with ``other`` placed on it (:func:`featlib.maps.placed_map.place`), on the CPU.

    Progress: the fit's stages as :func:`reduce` reports them, then ``("placing", 0, 1)`` and ``("placing", 1, 1)``.
    """
    return placed_map.place(points, other, params, progress=progress, labels=labels)


def stability(
    *,
    points: np.ndarray,
    params,
    n_seeds: int,
    labels: np.ndarray | None = None,
    backend: str | None = None,
    progress: Progress = _quiet,
) -> seed_stability.SeedStability:
    """The map of ``points`` made with ``n_seeds`` seeds, aligned, and each point's displacement
    (:func:`featlib.maps.seed_stability.seed_maps`); progress ``("seeds", done, n_seeds)`` per seed."""
    return seed_stability.seed_maps(points, params, n_seeds, labels=labels, progress=progress, backend=backend)


def check_bundle(*, data: bytes, label: str, progress: Progress = _quiet):
    """Checks a bundle's bytes as an untrusted upload (:func:`featlib.share.bundle.check_bundle`): a :class:`~featlib.share.bundle.CheckedBundle`."""
    progress("working", 0, 1)
    return bundle.check_bundle(data, label)


def warm_up(*, progress: Progress = _quiet) -> int:
    """Imports Keras and umap-learn and fits UMAP on synthetic points (:func:`featlib.maps.embed.warm_up`); returns the worker's pid."""
    keras.load()  # imported once here, not by two jobs at once
    embed.warm_up()
    return os.getpid()


KINDS: Mapping[str, Callable[..., Any]] = {
    "train": train,
    "upload": check_upload,
    "extract": extract,
    "extract_all": layer_set,
    "compare_methods": compare_methods,
    "predict": predict,
    "reduce": reduce,
    "metrics": layer_metrics,
    "cka": cka,
    "neighbours": point_neighbours,
    "neighbour_change": neighbours_kept,
    "prediction_depth": depth,
    "layer_flow": flow_of_layers,
    "checkpoint_flow": flow,
    "placed_map": placed,
    "seed_stability": stability,
    "saliency": saliency,
    "unit_stats": units_of,
    "unit_ranking": units_telling,
    "bundle": check_bundle,
    "warm_up": warm_up,
}
"""Every kind of job and its function."""


def run_inline(spec: JobSpec, inputs: Mapping[str, Any], progress: Progress = _quiet) -> Any:
    """Runs ``spec`` in this process (tests, notebooks): the kind's function on ``inputs`` and its parameters.

    Raises:
        KeyError: an unknown kind (the message lists the known ones).
        Whatever the kind's function raises.
    """
    if spec.kind not in KINDS:
        raise KeyError(f"No such kind of job: {spec.kind!r}. Known kinds are: {sorted(KINDS)}")
    return KINDS[spec.kind](**inputs, **spec.params, progress=progress)
