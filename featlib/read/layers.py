"""Every layer of one model at once: outputs on a shared sample, a map and figures per layer, CKA.

:func:`layer_set` reads all layers of a model for a stratified sample of a
dataset split in one pass (:func:`featlib.read.extract.extract_all`, a multi-output
sub-model), with the model-ready inputs as a first, "input" representation to
compare against. A layer with spatial axes (a convolution's ``h × w × c``) is
read by the reduction asked for (:mod:`featlib.read.reductions`; ``auto`` pools to a
grid of at most 8×8 cells above :data:`featlib.read.reductions.FLATTEN_MAX` values per image), batch
by batch as it comes out. :func:`maps` draws each one in 2-D with any reducer (the service's
:meth:`~featlib.service.Service.layer_maps` stores them), :func:`metrics_table` scores each one
(:func:`featlib.metrics.layer_metrics`), :func:`follow` finds chosen points'
nearest neighbours in every layer's own space (:mod:`featlib.maps.neighbours`).

Example:
    >>> from featlib.read import layers  # doctest: +SKIP
    >>> ls = layers.layer_set(model, fp, dataset, "train", sample_size=2000)  # doctest: +SKIP
    >>> [row["knn_acc"] for row in layers.metrics_table(ls)]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from featlib import keys, metrics
from featlib.datasets import Dataset
from featlib.errors import LayerError
from featlib.lazy import keras
from featlib.maps import embed, neighbours
from featlib.maps.reducer_params import LAYERS_SAMPLE
from featlib.models import ModelError, adapt_images, nonfinite
from featlib.read import reductions
from featlib.read.extract import METHODS, extract_all

if TYPE_CHECKING:
    import keras

INPUT = "input"
"""The name of the model-ready inputs among the representations."""
DEFAULT_SAMPLE = LAYERS_SAMPLE
"""Points of each layer's figure (:data:`featlib.maps.reducer_params.LAYERS_SAMPLE`)."""
MAX_UNITS = 4_096
"""Layers whose representation has more values per image than this are left out (their figures would be slow
and memory-hungry). It counts after the reduction: a 26×26×32 Conv2D read by pooling counts 32."""

LayerProgress = Callable[[str, int, int], None]
"""Called as ``progress(layer name, layers done, layers in all)``."""


@dataclass(frozen=True)
class LayerSet:
    """All layers' outputs for one sample of a dataset split.

    ``reps`` maps a name (:data:`INPUT`, then the layers in order) to a float32
    array with one row per point of ``indices`` (positions in the split);
    ``representations`` says how each layer was read (its output shape and
    reduction); ``skipped`` maps the layers left out to their values per image;
    ``non_finite`` maps the layers left out because their outputs, or the
    weights they depend on, hold NaN or inf to a sentence saying so (the
    layer, the method, how many values: :mod:`featlib.models.nonfinite`).
    """

    key: str
    indices: np.ndarray
    labels: np.ndarray
    reps: dict[str, np.ndarray]
    skipped: dict[str, int] = field(default_factory=dict)
    representations: dict[str, reductions.Representation] = field(default_factory=dict)
    non_finite: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        """The representations' names, in order."""
        return list(self.reps)

    def describe(self, name: str) -> str:
        """A representation's name in titles: ``"conv2d (global average pooling, 32 of 26×26×32)"``, else ``name``."""
        rep = self.representations.get(name)
        return rep.title if rep is not None else name

    def reduction(self, name: str) -> str:
        """How a representation was reduced: a key of :data:`featlib.read.reductions.REDUCTIONS` (``flatten`` for the inputs)."""
        rep = self.representations.get(name)
        return rep.reduction if rep is not None else "flatten"

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
            raise LayerError(
                f"Points {missing[:5].tolist()} are not among the {len(self.indices):,} sampled points; "
                "pick sampled points or a larger sample."
            )
        return rows


def total_units(model: keras.Model, max_units: int = MAX_UNITS, reduction: str = reductions.AUTO) -> int:
    """The values :func:`layer_set` keeps per image: the inputs' and every layer's after ``reduction``, each at most ``max_units`` (wider ones are skipped)."""
    inputs = int(np.prod([d or 1 for d in model.inputs[0].shape[1:]]))
    widths = [inputs, *_units(model, reduction).values()]
    return sum(units for units in widths if units <= max_units)


def _representations(model: keras.Model, reduction: str) -> dict[str, reductions.Representation]:
    """How ``reduction`` reads each layer but the inputs (layers without spatial axes are flattened)."""
    found = {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            found[layer.name] = reductions.for_layer(model, layer.name, reduction, strict=False)
        except ModelError:
            continue
    return found


def _units(model: keras.Model, reduction: str) -> dict[str, int]:
    """Each readable layer's values per image after ``reduction`` (unknown sizes count as 1)."""
    return {
        name: int(np.prod([d or 1 for d in rep.reduced_shape]))
        for name, rep in _representations(model, reduction).items()
    }


layer_set_key = keys.layer_set_key
"""The key of a :class:`LayerSet` (:func:`featlib.keys.layer_set_key`), re-exported."""


def layer_set(
    model: keras.Model,
    model_fp: str,
    dataset: Dataset,
    split: str = "train",
    input_scale: str = "0-1",
    sample_size: int | None = DEFAULT_SAMPLE,
    seed: int = 0,
    max_units: int = MAX_UNITS,
    reduction: str = reductions.AUTO,
) -> LayerSet:
    """Every layer's representation (and the inputs) for a label-stratified sample of a split, in one pass.

    Args:
        model: a Keras model with one input.
        model_fp: its fingerprint (for the key).
        dataset, split: the images.
        input_scale: see :func:`featlib.models.adapt_images`.
        sample_size: points drawn (``None``: all of the split).
        seed: seed of the sample.
        max_units: layers whose representation is wider are left out and listed in ``skipped``.
        reduction: a key of :data:`featlib.read.reductions.CHOICES` for every layer with spatial axes
            (default ``auto``: flatten up to :data:`featlib.read.reductions.FLATTEN_MAX` values, else
            grid average pooling); layers without spatial axes are flattened.

    The key ends in ``/reduction=<choice>`` unless the choice is ``auto`` (the keys of
    maps made before reductions existed stay valid); ``auto`` that pooled a layer to a grid
    ends in ``/reduction=auto-grid`` (:func:`featlib.read.reductions.set_key_choice`).

    Layers whose outputs hold NaN or inf, or that depend on a weight that does, are left out
    of ``reps`` and named in ``non_finite`` with the reason.

    Raises:
        ValueError: when no layer is narrow enough.
        ReductionError: an unknown reduction.
    """
    reductions.check_choice(reduction)
    images, labels = dataset.split(split)
    indices = embed.stratified_sample(labels, sample_size, seed=seed)
    x = adapt_images(images[indices], model, input_scale)
    units = _units(model, reduction)
    kept = [name for name, n in units.items() if n <= max_units]
    skipped = {name: n for name, n in units.items() if n > max_units}
    if not kept:
        raise LayerError(
            f"Every layer has more than {max_units:,} output units (values per image after the "
            f"reduction {reduction!r}); got {units}."
        )
    reps: dict[str, np.ndarray] = {}
    flat = x.reshape(len(x), -1).astype("float32")
    if flat.shape[1] <= max_units:
        reps[INPUT] = flat
    reps.update(extract_all(model, x, kept, reduction=reduction))
    non_finite = _non_finite_layers(model, reps, kept, METHODS["submodel"], len(x))
    for name in non_finite:
        del reps[name]
    every = _representations(model, reduction)
    described = {name: rep for name, rep in every.items() if name in reps or name in non_finite}
    keyed = reductions.set_key_choice(reduction, every.values())
    key = keys.layer_set_key(model_fp, dataset.fingerprint, split, input_scale, sample_size, seed, keyed)
    return LayerSet(key, indices, labels[indices], reps, skipped, described, non_finite)


def _non_finite_layers(
    model: keras.Model, reps: dict[str, np.ndarray], layer_names: list[str], method: str, images: int
) -> dict[str, str]:
    """The layers of ``layer_names`` whose outputs in ``reps``, or the weights they depend on, hold NaN or inf, with why."""
    found: dict[str, str] = {}
    bad_weights = nonfinite.non_finite_weights(model)
    for name in layer_names:
        try:
            nonfinite.check_layer_weights(model, name, method, bad_weights)
        except nonfinite.NonFiniteError as error:
            found[name] = str(error)
            continue
        nan, inf = nonfinite.count_non_finite(reps[name])
        problem = nonfinite.output_problem(name, method, nan, inf, reps[name].size, images)
        if problem:
            found[name] = problem
    return found


def maps(
    ls: LayerSet,
    params: embed.ReducerParams = embed.PCAParams(),
    progress: LayerProgress | None = None,
    epoch_progress: embed.Progress | None = None,
) -> dict[str, np.ndarray]:
    """A 2-D map of every representation of ``ls``, all of the same points, computed here and not stored.

    :meth:`featlib.service.Service.layer_maps` makes the same maps as jobs and stores them in a workspace,
    so a repeat is a file read.

    Returns:
        ``{name: float32 (n, 2)}``, rows in the order of ``ls.indices``.
    """
    result = {}
    for done, (name, reps) in enumerate(ls.reps.items()):
        if progress:
            progress(name, done, len(ls.reps))
        result[name] = embed.reduce(reps, params, progress=epoch_progress, labels=ls.labels)
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
        rows.append({"layer": name, "units": int(reps.shape[1]), "reduction": ls.reduction(name), **scores})
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
        raise LayerError(
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
