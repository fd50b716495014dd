"""Reading a layer's outputs: the seed's two extraction methods.

1. The backend function: Keras 2's ``K.function([model.input], [layer.output])``,
   whose Keras 3 successor is ``keras.Function(inputs, outputs)``.
2. The functional sub-model: ``Model(inputs, layer.output)``, run by its predict
   function one batch at a time (``predict_on_batch``), with a large batch
   (``predict``'s default of 32 is many times slower).

Both read the caller's model through its public graph and never change it, and both run
every layer in inference mode, as ``predict`` does: each layer whose call takes ``training``
(random augmentation, noise, dropout, normalisation), at the top level or inside a nested
model, is called with ``training=False``. ``predict`` passes it itself; the backend function is
a ``keras.Function`` that passes it to every layer of its graph (:func:`featlib.models.inference.inference_function`),
as the seed's ``K.function`` ran in Keras 2's test phase. Without it, Keras 3's random
augmentation layers transform every image on every read.
Both run in batches and reduce each batch as it comes out (see
:mod:`featlib.read.reductions`) into one preallocated float32 array of the reduced
size: a convolutional layer read by global average pooling never holds more
than a batch of its full-size output (:data:`featlib.read.reductions.BATCH_BYTES`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from featlib.errors import ExtractionError
from featlib.lazy import keras
from featlib.models import ModelError, check_layer, nonfinite, padded
from featlib.models.inference import inference_function
from featlib.read import reductions

if TYPE_CHECKING:
    import keras

METHODS = {
    "function": "backend function (K.function)",
    "submodel": "functional sub-model (Model.predict)",
}
"""The extraction methods; a reduction (:data:`featlib.read.reductions.REDUCTIONS`) is applied after either."""
DEFAULT_BATCH_SIZE = 8192  # fewer predict steps; 8192 × 784 float32 inputs are 26 MB

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` with counts of samples."""


class Extractor:
    """A cached reader of one layer's representation by one method.

    Building it costs graph tracing; calling it only computes. Calls are
    serialised by a lock because a Keras model object is not safe to run from
    several threads at once (Streamlit serves each session in its own thread).

    Args:
        model: a built Keras model with one input.
        layer_name: the layer whose output is read.
        method: a key of :data:`METHODS`.
        reduction: a key of :data:`featlib.read.reductions.CHOICES` (``"flatten"``
            by default: every value of the layer's output; ``"auto"`` resolves
            per :func:`featlib.read.reductions.default_reduction`).

    Attributes:
        representation: the layer's :class:`~featlib.read.reductions.Representation`
            (its output shape and the resolved reduction).

    Raises:
        ModelError: no such layer.
        NonFiniteError: a weight the layer depends on holds NaN or inf (a
            :class:`~featlib.models.nonfinite.NonFiniteError`, naming the weights).
        ReductionError: an unknown reduction, or pooling a layer without spatial axes.
        ValueError: an unknown method.
    """

    def __init__(self, model: keras.Model, layer_name: str, method: str = "function", reduction: str = "flatten"):
        if method not in METHODS:
            raise ExtractionError(f"Unknown method: {method!r}. Choose one of {list(METHODS)}.")
        check_layer(model, layer_name)
        self.layer_name = layer_name
        self.method = method
        self.representation = reductions.for_layer(model, layer_name, reduction)
        # Both methods refuse alike: the sub-model may turn NaN into 0 where the backend function keeps NaN.
        nonfinite.check_layer_weights(model, layer_name, METHODS[method])
        self._widest = reductions.widest_output(model, up_to=layer_name)
        output = model.get_layer(layer_name).output
        # Per-image counts of non-finite values of every layer on the way, read in the same pass.
        self._watched, counters = nonfinite.counters(nonfinite.path_layers(model, layer_name))
        self._counts = dict.fromkeys(self._watched, 0)
        if method == "function":
            self._fn = inference_function(inputs=model.inputs, outputs=[output, *counters])
        else:
            self._submodel = keras.Model(inputs=model.inputs, outputs=[output, *counters])
        self._lock = threading.Lock()

    @property
    def reduction(self) -> str:
        """The resolved reduction: a key of :data:`featlib.read.reductions.REDUCTIONS`."""
        return self.representation.reduction

    def __call__(
        self,
        x: np.ndarray,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """The layer's representation of ``x``: float32 ``(len(x), units)``, one row per sample.

        Reads at most ``batch_size`` samples at a time, fewer when a batch of the
        layer's full-size output, or of a wider layer before it, would exceed
        :data:`featlib.read.reductions.BATCH_BYTES`; each batch is reduced at once
        and written into the preallocated result.

        Raises:
            ValueError: ``x`` is empty.
            NonFiniteError: the outputs hold NaN or inf (a
                :class:`~featlib.models.nonfinite.NonFiniteError` naming the layer, the
                method and how many values), counted batch by batch.
        """
        total = len(x)
        if total == 0:
            raise ExtractionError("No inputs to extract from: got an empty array.")
        widest = max(self.representation.full_units or 0, self._widest)
        step = reductions.batch_size((widest,) if widest else self.representation.shape, batch_size)
        out: np.ndarray | None = None
        nan = inf = 0
        with self._lock:
            self._counts = dict.fromkeys(self._watched, 0)
            for start in range(0, total, step):
                rows = self.representation.reduce(self._batch(x[start : start + step], min(step, total)))
                if out is None:
                    out = np.empty((total, rows.shape[1]), dtype="float32")
                out[start : start + len(rows)] = rows
                batch_nan, batch_inf = nonfinite.count_non_finite(out[start : start + len(rows)])
                nan, inf = nan + batch_nan, inf + batch_inf
                del rows
                if progress:
                    progress(min(start + step, total), total)
            counts = dict(self._counts)
        method = METHODS[self.method]
        problem = nonfinite.output_problem(
            self.layer_name, method, nan, inf, out.size, total
        ) or nonfinite.upstream_problem(self.layer_name, method, counts, total)
        if problem:
            raise nonfinite.NonFiniteError(problem, layer=self.layer_name, count=(nan + inf) or sum(counts.values()))
        return out

    def _batch(self, x: np.ndarray, rows: int = 0) -> np.ndarray:
        """The layer's full-size outputs for one batch ``x``, as a NumPy array.

        The sub-model predicts ``x`` padded to ``rows`` rows (:func:`featlib.models.padded`), so that its
        predict function is traced once, not again for the last, shorter batch. The per-image counts of
        non-finite values on the way (:func:`featlib.models.nonfinite.counters`) of the batch's own rows are
        added to ``self._counts``.
        """
        if self.method == "function":
            out, *counts = self._fn([x])
            out = keras.ops.convert_to_numpy(out)
        else:
            outputs = self._submodel.predict_on_batch(padded(x, rows))
            out, *counts = outputs if isinstance(outputs, (list, tuple)) else [outputs]
            out = np.asarray(out)[: len(x)]
        for name, count in zip(self._watched, counts):
            self._counts[name] += int(np.sum(keras.ops.convert_to_numpy(count)[: len(x)]))
        return out


def extract(
    model: keras.Model,
    layer_name: str,
    x: np.ndarray,
    method: str = "function",
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    reduction: str = "flatten",
) -> np.ndarray:
    """Reads ``layer_name``'s representation of inputs ``x``.

    Args:
        model: a Keras model with a single input.
        layer_name: name of any layer of ``model``.
        x: model-ready inputs.
        method: ``"function"`` (``keras.Function``, the seed's ``K.function``)
            or ``"submodel"`` (``Model(inputs, layer.output)``'s predict function).
        batch_size: samples per call (fewer for a wide spatial layer, see :class:`Extractor`).
        progress: optional ``progress(done, total)`` callback.
        reduction: ``"flatten"`` (default), ``"gap"``, ``"gmp"`` or ``"auto"``
            (see :mod:`featlib.read.reductions`).

    Returns:
        A float32 array of shape ``(len(x), units)``: flattened outputs, or one
        column per channel for a pooled spatial layer.

    Example:
        >>> reps = extract(model, "dense_1", x, method="submodel")  # doctest: +SKIP
        >>> extract(cnn, "conv2d", x, reduction="gap").shape  # doctest: +SKIP
        (1437, 32)
    """
    return Extractor(model, layer_name, method, reduction)(x, batch_size=batch_size, progress=progress)


@dataclass(frozen=True)
class MethodComparison:
    """How the two methods compare on the same inputs."""

    max_abs_diff: float
    seconds: dict[str, float]
    n_samples: int

    @property
    def agree(self) -> bool:
        """True when the outputs match to float32 rounding."""
        return self.max_abs_diff <= 1e-4


def compare_methods(
    extractors: dict[str, Extractor], x: np.ndarray, repeats: int = 3, progress: Progress | None = None
) -> MethodComparison:
    """Runs each extractor on ``x`` and reports their largest difference.

    Each time is the median of ``repeats`` runs after one warm-up run, so
    tracing and first-call costs are not counted. ``progress(done, total)`` counts the images read over
    every run (``len(extractors) * (1 + repeats) * len(x)`` in all).
    """
    outputs, seconds = {}, {}
    total, done = len(extractors) * (1 + repeats) * len(x), 0

    def counted(extractor: Extractor) -> np.ndarray:
        nonlocal done
        before = done

        def step(read: int, _: int) -> None:
            if progress is not None:
                progress(before + read, total)

        result = extractor(x, progress=step)
        done = before + len(x)
        return result

    for method, extractor in extractors.items():
        outputs[method] = counted(extractor)
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            counted(extractor)
            runs.append(time.perf_counter() - start)
        seconds[method] = float(np.median(runs))
    values = list(outputs.values())
    diff = max(float(np.max(np.abs(v - values[0]), initial=0.0)) for v in values)
    return MethodComparison(max_abs_diff=diff, seconds=seconds, n_samples=len(x))


def extract_all(
    model: keras.Model,
    x: np.ndarray,
    layer_names: list[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    reduction: str = "flatten",
) -> dict[str, np.ndarray]:
    """Reads several layers' representations of inputs ``x`` in one pass.

    One multi-output functional sub-model,
    ``keras.Model(model.inputs, [layer.output for layer in layers])``, run
    batch by batch by its predict function: the inputs go through the network
    once, whatever the number of layers. Each batch's outputs are reduced at
    once into preallocated float32 arrays, and a batch holds at most
    :data:`featlib.read.reductions.BATCH_BYTES` of full-size outputs of all layers.

    Args:
        model: a Keras model with a single input.
        x: model-ready inputs.
        layer_names: the layers to read, in order (default: every layer
            except ``InputLayer``); a name given twice is read once.
        batch_size: samples per batch at most.
        reduction: a key of :data:`featlib.read.reductions.CHOICES`, applied to every
            layer with spatial axes (layers without are flattened).

    Returns:
        ``{layer name: float32 array (len(x), units)}`` in layer order.

    Raises:
        ModelError: for an unknown layer name, naming the existing ones.
        ReductionError: an unknown reduction.
        ValueError: for empty inputs.

    Example:
        >>> reps = extract_all(model, x)  # doctest: +SKIP
        >>> {name: r.shape for name, r in reps.items()}  # doctest: +SKIP
        {'dense': (1437, 128), 'activation': (1437, 128), ..., 'activation_2': (1437, 10)}
    """
    reductions.check_choice(reduction)
    if len(x) == 0:
        raise ExtractionError("No inputs to extract from: got an empty array.")
    if layer_names is None:
        layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    else:
        for name in layer_names:
            check_layer(model, name)
        layers = [model.get_layer(name) for name in dict.fromkeys(layer_names)]
    if not layers:
        raise ModelError(f"No layers to read: the model's layers are {[layer.name for layer in model.layers]}.")
    reps = [reductions.for_layer(model, layer.name, reduction, strict=False) for layer in layers]
    submodel = keras.Model(inputs=model.inputs, outputs=[layer.output for layer in layers])
    widest = max(sum(rep.full_units or 0 for rep in reps), reductions.widest_output(model))
    step = reductions.batch_size((widest,), batch_size)
    result: dict[str, np.ndarray] = {}
    for start in range(0, len(x), step):
        batch = x[start : start + step]
        outputs = submodel.predict_on_batch(padded(batch, min(step, len(x))))  # one shape: traced once
        if not isinstance(outputs, (list, tuple)):
            outputs = [outputs]
        for rep, out in zip(reps, outputs):
            rows = rep.reduce(np.asarray(out)[: len(batch)])
            if rep.layer not in result:
                result[rep.layer] = np.empty((len(x), rows.shape[1]), dtype="float32")
            result[rep.layer][start : start + len(rows)] = rows
        del outputs
    return result
