"""NaN and infinity in a model's weights and in a layer's outputs, found and named.

A weight that holds NaN or inf cannot give faithful outputs: NaN spreads
through every product it enters, and a compiled predict function can turn it
into ordinary numbers (a softmax over NaN came out as 0.1 everywhere), so the
two extraction methods can disagree while both look like numbers. Every
extraction therefore also counts the non-finite values of each layer on the
way (:func:`counters`), in the same pass. featlib refuses such models where they come in
(:func:`featlib.models.load_model`, so the Model page's upload, ``featlib
add``, ``featlib layers FILE`` and bundle imports) and refuses to read a
layer that depends on such a weight, or whose outputs are not finite
(:class:`featlib.read.extract.Extractor`, both methods); :func:`featlib.read.layers.layer_set`
sets such layers aside, naming why (``LayerSet.non_finite``).

Every refusal is a :class:`NonFiniteError` (a :class:`~featlib.models.ModelError`)
whose message names the layer, the weight or the method, and how many values
are not finite.

Example:
    >>> from featlib.models import nonfinite  # doctest: +SKIP
    >>> [w.describe() for w in nonfinite.non_finite_weights(model)]  # doctest: +SKIP
    ['dense_1/kernel (128×64): 8,192 NaN of 8,192 values']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from featlib.errors import NonFiniteError
from featlib.lazy import keras
from featlib.models.inference import inference_function

if TYPE_CHECKING:
    import keras

LISTED = 5
"""At most this many weights are named in one message (then a count of the others)."""


@dataclass(frozen=True)
class BadWeight:
    """One weight variable holding NaN or inf values.

    Attributes:
        layer: the model's layer holding it, as the layer table names it (a nested model's name for
            the weights of its inner layers).
        path: the weight's path under the model, ``"dense_1/kernel"`` (``"encoder/dense/kernel"``
            inside a nested model).
        shape: its shape.
        nan: how many values are NaN.
        inf: how many are +inf or -inf.
        variable_path: Keras's own path of the variable (unique in the model), to match it in sub-models.
    """

    layer: str
    path: str
    shape: tuple[int, ...]
    nan: int
    inf: int
    variable_path: str = ""

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    def describe(self) -> str:
        """``"dense_1/kernel (128×64): 3 NaN, 1 inf of 8,192 values"``."""
        counts = ", ".join(f"{n:,} {kind}" for n, kind in ((self.nan, "NaN"), (self.inf, "inf")) if n)
        shape = "×".join(map(str, self.shape)) or "scalar"
        return f"{self.path} ({shape}): {counts} of {self.size:,} values"


def count_non_finite(values: np.ndarray) -> tuple[int, int]:
    """``(NaN count, inf count)`` of a numeric array (integers have neither)."""
    values = np.asarray(values)
    if values.dtype.kind not in "fc":
        return 0, 0
    nan = int(np.count_nonzero(np.isnan(values)))
    inf = int(np.count_nonzero(np.isinf(values)))
    return nan, inf


def non_finite_weights(model: keras.Model) -> list[BadWeight]:
    """Every weight variable of ``model`` (trainable or not, nested models included) that holds NaN or inf.

    Returns:
        One :class:`BadWeight` per such variable, in the model's order; empty when all are finite.
    """
    found, seen = [], set()
    for layer in model.layers:
        for variable in layer.weights:
            full = _variable_path(variable)
            if full in seen:  # a weight shared by several layers is named once
                continue
            seen.add(full)
            values = keras.ops.convert_to_numpy(variable)
            nan, inf = count_non_finite(values)
            if nan or inf:
                path = full[len(model.name) + 1 :] if full.startswith(f"{model.name}/") else full
                found.append(BadWeight(layer.name, path, tuple(int(d) for d in np.shape(values)), nan, inf, full))
    return found


def _variable_path(variable) -> str:
    return str(getattr(variable, "path", None) or variable.name)


def _listing(bad: Sequence[BadWeight]) -> str:
    shown = "; ".join(w.describe() for w in bad[:LISTED])
    return shown + (f"; and {len(bad) - LISTED} more weight(s)" if len(bad) > LISTED else "")


UPLOAD_FIX = (
    "Re-train the model or restore its weights from a checkpoint saved before the values diverged (a "
    "lower learning rate, gradient clipping), then upload it again."
)


def check_weights(model: keras.Model, what: str, fix: str = UPLOAD_FIX) -> None:
    """Refuses a model with any NaN or inf weight, naming the layers, the weights and the counts.

    Args:
        model: a loaded Keras model.
        what: the model in words for the message (its file name).
        fix: the last sentence of the message: what to do instead.

    Raises:
        NonFiniteError: naming up to :data:`LISTED` weights and how many values of each are not finite.
    """
    bad = non_finite_weights(model)
    if bad:
        total = sum(w.nan + w.inf for w in bad)
        layers = list(dict.fromkeys(w.layer for w in bad))
        raise NonFiniteError(
            f"{what} is refused: its weights must be finite numbers, but {len(bad)} weight(s) of layer(s) "
            f"{', '.join(layers[:LISTED])}{' …' if len(layers) > LISTED else ''} hold {total:,} NaN or infinite "
            f"values ({_listing(bad)}). Layers after these cannot give finite, faithful outputs. {fix}",
            layer=layers[0],
            count=total,
        )


def weights_feeding(model: keras.Model, layer_name: str, bad: Sequence[BadWeight] | None = None) -> list[BadWeight]:
    """The non-finite weights that ``layer_name``'s output depends on (the layer's own included).

    Found through the public graph: a functional sub-model ``Model(inputs, layer.output)``
    holds exactly the weights of the layers between the inputs and that layer.

    Args:
        model: a built Keras model with one input.
        layer_name: one of its layers.
        bad: :func:`non_finite_weights` of ``model`` when already known.
    """
    bad = non_finite_weights(model) if bad is None else list(bad)
    if not bad:
        return []
    submodel = keras.Model(inputs=model.inputs, outputs=model.get_layer(layer_name).output)
    paths = {_variable_path(v) for v in submodel.weights}
    return [w for w in bad if w.variable_path in paths]


def check_layer_weights(
    model: keras.Model, layer_name: str, method: str, bad: Sequence[BadWeight] | None = None
) -> None:
    """Refuses to read ``layer_name`` when a weight it depends on holds NaN or inf.

    Args:
        method: the extraction method in words, for the message.

    Raises:
        NonFiniteError: naming the layer, the method, the weights and their counts.
    """
    feeding = weights_feeding(model, layer_name, bad)
    if feeding:
        total = sum(w.nan + w.inf for w in feeding)
        raise NonFiniteError(
            f"{layer_name} cannot be read by the {method}: the weights it depends on hold {total:,} NaN or "
            f"infinite values ({_listing(feeding)}), so its outputs would be NaN, or numbers that hide them. "
            "Expected finite weights; re-train or replace the model.",
            layer=layer_name,
            count=total,
        )


def path_layers(model: keras.Model, layer_name: str) -> list:
    """The layers ``layer_name``'s output is computed from, itself last, in the model's order (no ``InputLayer``)."""

    submodel = keras.Model(inputs=model.inputs, outputs=model.get_layer(layer_name).output)
    names = {layer.name for layer in submodel.layers}
    return [layer for layer in model.layers if layer.name in names and not isinstance(layer, keras.layers.InputLayer)]


def counters(layers: Sequence) -> tuple[list[str], list]:
    """Symbolic per-image counts of non-finite values in each layer's output, to add to a (sub-)model's outputs.

    Read in the same pass as the layer asked for, they tell a layer that is finite only because a
    later operation hid its inputs' NaN (a compiled softmax of NaN can come out as 0.1 everywhere)
    from one that is finite. Layers without one plain output tensor (a layer called several times)
    are passed over.

    Returns:
        ``(names, tensors)``: each tensor is int32 ``(batch,)``.
    """
    names, tensors = [], []
    for layer in layers:
        try:
            output = layer.output
        except (AttributeError, ValueError, RuntimeError):  # several nodes, or none
            continue
        if not hasattr(output, "shape") or len(output.shape) < 1 or "float" not in str(output.dtype):
            continue
        bad = keras.ops.cast(keras.ops.logical_not(keras.ops.isfinite(output)), "int32")
        tensors.append(keras.ops.sum(bad, axis=tuple(range(1, len(output.shape)))) if len(output.shape) > 1 else bad)
        names.append(layer.name)
    return names, tensors


def scan(model: keras.Model, x: np.ndarray, batch_size: int = 1024) -> dict[str, int]:
    """How many non-finite values each layer of ``model`` gives for inputs ``x``, in one pass.

    Read by the backend function (``keras.Function`` in inference mode,
    :func:`featlib.models.inference.inference_function`) over :func:`counters` of every layer, so a
    later operation that hides NaN (as a compiled predict function's softmax can) does not hide it here.

    Returns:
        ``{layer name: count}`` for every layer watched, in the model's order.
    """
    names, tensors = counters([layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)])
    if not names:
        return {}
    function = inference_function(inputs=model.inputs, outputs=tensors)  # as predict: no layer in training mode
    totals = dict.fromkeys(names, 0)
    for start in range(0, len(x), max(1, batch_size)):
        for name, count in zip(names, function([x[start : start + batch_size]])):
            totals[name] += int(np.sum(keras.ops.convert_to_numpy(count)))
    return totals


def check_model_outputs(model: keras.Model, x: np.ndarray, what: str) -> None:
    """Refuses a model any of whose layers gives NaN or inf for the inputs ``x`` (its weights being finite).

    Raises:
        NonFiniteError: naming the first such layers and how many values, for how many images.
    """
    bad = {name: n for name, n in scan(model, x).items() if n}
    if bad:
        first = next(iter(bad))
        listed = ", ".join(f"{name} ({n:,} values)" for name, n in list(bad.items())[:LISTED])
        raise NonFiniteError(
            f"{what} is refused: its layers must give finite values, but for {len(x):,} images "
            f"{len(bad)} layer(s) give NaN or inf: {listed}{' …' if len(bad) > LISTED else ''}. An accuracy "
            "read from them would be meaningless. Check the input scaling (0-1 or 0-255) and the model's weights.",
            layer=first,
            count=sum(bad.values()),
        )


def upstream_problem(layer_name: str, method: str, counts: dict[str, int], images: int) -> str | None:
    """The sentence naming the layers before ``layer_name`` whose outputs were not finite, or ``None``.

    Args:
        counts: ``{layer: non-finite values}`` of the layers ``layer_name`` depends on (itself excluded).
    """
    bad = {name: n for name, n in counts.items() if n and name != layer_name}
    if not bad:
        return None
    listed = ", ".join(f"{name} ({n:,} values)" for name, n in list(bad.items())[:LISTED])
    return (
        f"{layer_name} read by the {method} depends on layers whose outputs are not finite (NaN or inf) for "
        f"{images:,} images: {listed}{' …' if len(bad) > LISTED else ''}; its own values would hide them. "
        "Expected finite outputs: check the model's weights and the input scaling (0-1 or 0-255)."
    )


def output_problem(layer_name: str, method: str, nan: int, inf: int, size: int, images: int) -> str | None:
    """The sentence naming a layer's non-finite outputs, or ``None`` when there are none."""
    if not (nan or inf):
        return None
    counts = ", ".join(f"{n:,} {kind}" for n, kind in ((nan, "NaN"), (inf, "inf")) if n)
    return (
        f"{layer_name} read by the {method} gave {nan + inf:,} non-finite values ({counts}) of {size:,} for "
        f"{images:,} images; expected finite outputs. The layer overflows or its inputs do: check the model's "
        "weights and the input scaling (0-1 or 0-255)."
    )


def check_outputs(values: np.ndarray, layer_name: str, method: str) -> None:
    """Refuses a layer's outputs ``(n, units)`` that hold NaN or inf.

    Raises:
        NonFiniteError: naming the layer, the method and how many values are not finite.
    """
    nan, inf = count_non_finite(values)
    problem = output_problem(layer_name, method, nan, inf, int(np.size(values)), len(values))
    if problem:
        raise NonFiniteError(problem, layer=layer_name, count=nan + inf)
