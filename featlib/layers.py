"""Every layer of one model at once: outputs on a shared sample, a map and figures per layer, CKA.

:func:`layer_set` reads all layers of a model for a stratified sample of a
dataset split in one pass (:func:`featlib.extract.extract_all`, a multi-output
sub-model), with the model-ready inputs as a first, "input" representation to
compare against. :func:`maps` draws each one in 2-D with any reducer (cached
in the workspace like every map), :func:`metrics_table` scores each one
(:func:`featlib.metrics.layer_metrics`), :func:`follow` finds chosen points'
nearest neighbours in every layer's own space (:mod:`featlib.neighbours`).

Example:
    >>> from featlib import layers  # doctest: +SKIP
    >>> ls = layers.layer_set(model, fp, dataset, "train", sample_size=2000)  # doctest: +SKIP
    >>> [row["knn_acc"] for row in layers.metrics_table(ls)]  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from featlib import embed, metrics, neighbours
from featlib.datasets import Dataset

if TYPE_CHECKING:
    import keras

    from featlib.store import Workspace

INPUT = "input"
"""The name of the model-ready inputs among the representations."""
DEFAULT_SAMPLE = 2_000
MAX_UNITS = 4_096
"""Layers with more output units than this are left out (their figures would be slow and memory-hungry)."""

LayerProgress = Callable[[str, int, int], None]
"""Called as ``progress(layer name, layers done, layers in all)``."""


@dataclass(frozen=True)
class LayerSet:
    """All layers' outputs for one sample of a dataset split.

    ``reps`` maps a name (:data:`INPUT`, then the layers in order) to a float32
    array with one row per point of ``indices`` (positions in the split).
    """

    key: str
    indices: np.ndarray
    labels: np.ndarray
    reps: dict[str, np.ndarray]
    skipped: dict[str, int] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """The representations' names, in order."""
        return list(self.reps)

    def rows(self, points: Sequence[int] | np.ndarray) -> np.ndarray:
        """The rows of dataset indices ``points`` in this sample.

        Raises:
            ValueError: naming the points that are not in the sample.
        """
        points = np.asarray(points, dtype=int).reshape(-1)
        rows = np.searchsorted(self.indices, points)
        rows = np.minimum(rows, len(self.indices) - 1)
        missing = points[self.indices[rows] != points]
        if len(missing):
            raise ValueError(
                f"Points {missing[:5].tolist()} are not among the {len(self.indices):,} sampled points; "
                "pick sampled points or a larger sample."
            )
        return rows


def total_units(model: "keras.Model", max_units: int = MAX_UNITS) -> int:
    """The output units :func:`layer_set` reads per image: every layer's, each at most ``max_units`` (wider ones are skipped)."""
    from featlib.models import ModelError, output_units

    total = 0
    for layer in model.layers:
        try:
            units = output_units(model, layer.name)
        except ModelError:
            continue
        total += units if units <= max_units else 0
    return total


def layer_set(
    model: "keras.Model",
    model_fp: str,
    dataset: Dataset,
    split: str = "train",
    input_scale: str = "0-1",
    sample_size: int | None = DEFAULT_SAMPLE,
    seed: int = 0,
    max_units: int = MAX_UNITS,
) -> LayerSet:
    """Every layer's outputs (and the inputs) for a label-stratified sample of a split, in one pass.

    Args:
        model: a Keras model with one input.
        model_fp: its fingerprint (for the key).
        dataset, split: the images.
        input_scale: see :func:`featlib.models.adapt_images`.
        sample_size: points drawn (``None``: all of the split).
        seed: seed of the sample.
        max_units: wider layers are left out and listed in ``skipped``.

    Raises:
        ValueError: when no layer is narrow enough.
    """
    import keras

    from featlib.extract import extract_all
    from featlib.models import adapt_images

    images, labels = dataset.split(split)
    indices = embed.stratified_sample(labels, sample_size, seed=seed)
    x = adapt_images(images[indices], model, input_scale)
    units = {
        layer.name: int(np.prod([d for d in layer.output.shape[1:] if d is not None]))
        for layer in model.layers
        if not isinstance(layer, keras.layers.InputLayer)
    }
    kept = [name for name, n in units.items() if n <= max_units]
    skipped = {name: n for name, n in units.items() if n > max_units}
    if not kept:
        raise ValueError(f"Every layer has more than {max_units:,} output units; got {units}.")
    reps: dict[str, np.ndarray] = {}
    flat = x.reshape(len(x), -1).astype("float32")
    if flat.shape[1] <= max_units:
        reps[INPUT] = flat
    reps.update(extract_all(model, x, kept))
    key = f"layers/{model_fp}/{dataset.fingerprint}/{split}/{input_scale}/sample={sample_size}/seed={seed}"
    return LayerSet(key, indices, labels[indices], reps, skipped)


def maps(
    ls: LayerSet,
    params: embed.ReducerParams = embed.PCAParams(),
    workspace: "Workspace | None" = None,
    model_id: str | None = None,
    progress: LayerProgress | None = None,
    epoch_progress: embed.Progress | None = None,
) -> dict[str, np.ndarray]:
    """A 2-D map of every representation of ``ls``, all of the same points.

    With a ``workspace`` each map is cached there (as :func:`featlib.pipeline.embedding`
    does for one layer), so a repeat is a file read.

    Returns:
        ``{name: float32 (n, 2)}``, rows in the order of ``ls.indices``.
    """
    from featlib import pipeline

    result = {}
    for done, (name, reps) in enumerate(ls.reps.items()):
        if progress:
            progress(name, done, len(ls.reps))
        if workspace is None:
            result[name] = embed.reduce(reps, params, progress=epoch_progress)
        else:
            emb = pipeline.embedding(workspace, reps, f"{ls.key}/{name}", ls.labels, sample_size=None,
                                     params=params, model_id=model_id, progress=epoch_progress)  # fmt: skip
            result[name] = emb.coords
    if progress:
        progress("", len(ls.reps), len(ls.reps))
    return result


def metrics_table(
    ls: LayerSet,
    coords: dict[str, np.ndarray] | None = None,
    progress: LayerProgress | None = None,
) -> list[dict]:
    """One row of figures per representation: :func:`featlib.metrics.layer_metrics` plus name and units.

    Scored on all of the sample's points (``sample`` in each row); with
    ``coords`` (from :func:`maps`) the rows add the map's kNN accuracy and
    trustworthiness.
    """
    rows = []
    for done, (name, reps) in enumerate(ls.reps.items()):
        if progress:
            progress(name, done, len(ls.reps))
        map_coords = None if coords is None else coords.get(name)
        scores = metrics.layer_metrics(reps, ls.labels, map_coords, sample_size=None)
        rows.append({"layer": name, "units": int(reps.shape[1]), **scores})
    if progress:
        progress("", len(ls.reps), len(ls.reps))
    return rows


def cka(ls: LayerSet, other: LayerSet | None = None) -> np.ndarray:
    """Linear CKA between every pair of representations (rows ``ls``, columns ``other`` or ``ls``).

    Raises:
        ValueError: when ``other`` holds other points.
    """
    if other is None:
        return metrics.cka_matrix(list(ls.reps.values()))
    if not np.array_equal(ls.indices, other.indices):
        raise ValueError(
            f"CKA compares representations of the same points; got samples of {len(ls.indices):,} "
            f"and {len(other.indices):,} points that differ."
        )
    return np.array([[metrics.linear_cka(a, b) for b in other.reps.values()] for a in ls.reps.values()])


def follow(ls: LayerSet, points: Sequence[int] | np.ndarray, k: int = 8) -> dict[str, np.ndarray]:
    """The ``k`` nearest neighbours of ``points`` (dataset indices) in each representation's own space.

    Neighbours are searched among the sample. Returns ``{name: int array
    (len(points), k)}`` of dataset indices, nearest first.

    Raises:
        ValueError: for points outside the sample.
    """
    rows = ls.rows(points)
    return {name: ls.indices[neighbours.nearest(reps, rows, k=k)] for name, reps in ls.reps.items()}
