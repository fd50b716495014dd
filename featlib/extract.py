"""Reading a layer's outputs: the seed's two extraction methods.

1. The backend function: Keras 2's ``K.function([model.input], [layer.output])``,
   whose Keras 3 successor is ``keras.Function(inputs, outputs)``.
2. The functional sub-model: ``Model(inputs, layer.output).predict(x)``, with a
   large batch (``predict``'s default of 32 is many times slower).

Both read the caller's model through its public graph and never change it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from featlib.models import check_layer

if TYPE_CHECKING:
    import keras

METHODS = {
    "function": "backend function (K.function)",
    "submodel": "functional sub-model (Model.predict)",
}
DEFAULT_BATCH_SIZE = 8192  # fewer predict steps; 8192 × 784 float32 inputs are 26 MB

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` with counts of samples."""


class Extractor:
    """A cached reader of one layer's outputs by one method.

    Building it costs graph tracing; calling it only computes. Calls are
    serialised by a lock because a Keras model object is not safe to run from
    several threads at once (Streamlit serves each session in its own thread).

    Args:
        model: a built Keras model with one input.
        layer_name: the layer whose output is read.
        method: a key of :data:`METHODS`.
    """

    def __init__(self, model: "keras.Model", layer_name: str, method: str = "function"):
        import keras

        if method not in METHODS:
            raise ValueError(f"Unknown method: {method!r}. Choose one of {list(METHODS)}.")
        check_layer(model, layer_name)
        self.layer_name = layer_name
        self.method = method
        output = model.get_layer(layer_name).output
        if method == "function":
            self._fn = keras.Function(inputs=model.inputs, outputs=[output])
        else:
            self._submodel = keras.Model(inputs=model.inputs, outputs=output)
        self._lock = threading.Lock()

    def __call__(
        self,
        x: np.ndarray,
        batch_size: int = DEFAULT_BATCH_SIZE,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """Returns the layer's outputs for ``x`` as float32, one row per sample."""
        total = len(x)
        if total == 0:
            raise ValueError("No inputs to extract from: got an empty array.")
        with self._lock:
            if self.method == "function":
                out = self._run_function(x, batch_size, progress)
            else:
                out = self._run_submodel(x, batch_size, progress)
        return out.reshape(total, -1).astype("float32", copy=False)

    def _run_function(self, x: np.ndarray, batch_size: int, progress: Progress | None) -> np.ndarray:
        import keras

        parts = []
        for start in range(0, len(x), batch_size):
            (out,) = self._fn([x[start : start + batch_size]])
            parts.append(keras.ops.convert_to_numpy(out))
            if progress:
                progress(min(start + batch_size, len(x)), len(x))
        return np.concatenate(parts)

    def _run_submodel(self, x: np.ndarray, batch_size: int, progress: Progress | None) -> np.ndarray:
        # One predict call for all batches: each call sets up a data pipeline.
        callbacks = [_batch_progress(progress, len(x), batch_size)] if progress else []
        return self._submodel.predict(x, batch_size=batch_size, verbose=0, callbacks=callbacks)


def _batch_progress(progress: Progress, total: int, batch_size: int):
    """A Keras callback reporting ``progress(done, total)`` after each predict batch."""
    import keras

    class BatchProgress(keras.callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            progress(min((batch + 1) * batch_size, total), total)

    return BatchProgress()


def extract(
    model: "keras.Model",
    layer_name: str,
    x: np.ndarray,
    method: str = "function",
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
) -> np.ndarray:
    """Reads ``layer_name``'s outputs for inputs ``x``.

    Args:
        model: a Keras model with a single input.
        layer_name: name of any layer of ``model``.
        x: model-ready inputs.
        method: ``"function"`` (``keras.Function``, the seed's ``K.function``)
            or ``"submodel"`` (``Model(inputs, layer.output).predict``).
        batch_size: samples per call.
        progress: optional ``progress(done, total)`` callback.

    Returns:
        A float32 array of shape ``(len(x), units)`` (outputs are flattened).

    Example:
        >>> reps = extract(model, "dense_1", x, method="submodel")  # doctest: +SKIP
    """
    return Extractor(model, layer_name, method)(x, batch_size=batch_size, progress=progress)


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
    extractors: dict[str, Extractor], x: np.ndarray, repeats: int = 3
) -> MethodComparison:
    """Runs each extractor on ``x`` and reports their largest difference.

    Each time is the median of ``repeats`` runs after one warm-up run, so
    tracing and first-call costs are not counted.
    """
    outputs, seconds = {}, {}
    for method, extractor in extractors.items():
        outputs[method] = extractor(x)
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            extractor(x)
            runs.append(time.perf_counter() - start)
        seconds[method] = float(np.median(runs))
    values = list(outputs.values())
    diff = max(float(np.max(np.abs(v - values[0]), initial=0.0)) for v in values)
    return MethodComparison(max_abs_diff=diff, seconds=seconds, n_samples=len(x))


def extract_all(
    model: "keras.Model",
    x: np.ndarray,
    layer_names: "list[str] | None" = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> dict[str, np.ndarray]:
    """Reads several layers' outputs for inputs ``x`` in one pass.

    One multi-output functional sub-model,
    ``keras.Model(model.inputs, [layer.output for layer in layers]).predict(x)``:
    the inputs go through the network once, whatever the number of layers.

    Args:
        model: a Keras model with a single input.
        x: model-ready inputs.
        layer_names: the layers to read, in order (default: every layer
            except ``InputLayer``); a name given twice is read once.
        batch_size: samples per predict batch.

    Returns:
        ``{layer name: float32 array (len(x), units)}`` in layer order
        (outputs are flattened).

    Raises:
        ModelError: for an unknown layer name, naming the existing ones.
        ValueError: for empty inputs.

    Example:
        >>> reps = extract_all(model, x)  # doctest: +SKIP
        >>> {name: r.shape for name, r in reps.items()}  # doctest: +SKIP
        {'dense': (1437, 128), 'activation': (1437, 128), ..., 'activation_2': (1437, 10)}
    """
    import keras

    from featlib.models import ModelError

    if len(x) == 0:
        raise ValueError("No inputs to extract from: got an empty array.")
    if layer_names is None:
        layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    else:
        for name in layer_names:
            check_layer(model, name)
        layers = [model.get_layer(name) for name in dict.fromkeys(layer_names)]
    if not layers:
        raise ModelError(f"No layers to read: the model's layers are {[layer.name for layer in model.layers]}.")
    submodel = keras.Model(inputs=model.inputs, outputs=[layer.output for layer in layers])
    outputs = submodel.predict(x, batch_size=batch_size, verbose=0)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    return {
        layer.name: np.asarray(out).reshape(len(x), -1).astype("float32", copy=False)
        for layer, out in zip(layers, outputs)
    }
