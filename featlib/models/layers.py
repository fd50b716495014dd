"""A model's layers: the layer table, each layer's activation, its kind, checking a layer name, nested models."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from featlib.errors import ModelError

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class LayerInfo:
    """One row of a model's layer table."""

    index: int
    name: str
    type: str
    output_shape: str
    params: int
    activation: str = ""  # see :func:`activations`


def layer_table(model: keras.Model) -> list[LayerInfo]:
    """Every layer of ``model``: name, type, output shape, parameter count and activation (:func:`activations`)."""
    rows = []
    notes = activations(model)
    for i, layer in enumerate(model.layers):
        try:
            shape = str(tuple(layer.output.shape))
        except (AttributeError, ValueError):
            shape = "?"
        rows.append(LayerInfo(i, layer.name, type(layer).__name__, shape, int(layer.count_params()), notes[layer.name]))
    return rows


def activations(model: keras.Model) -> dict[str, str]:
    """Each layer's activation, and whether its output is read before or after it.

    The seed MLP keeps each activation as its own layer, so its ``dense_1`` is the
    pre-activation output and ``activation_1`` the post-activation one. Returns,
    by layer name:

    - ``"relu (own)"``: a layer that applies its own non-linear activation;
    - ``"none: pre-activation; relu in activation_1"``: a linear weighted layer whose
      output an activation layer reads next;
    - ``"relu, of dense_1"``: an activation layer (``Activation``, ``ReLU``, ``Softmax``, ...),
      with the layer it reads;
    - ``"none"``: a linear weighted layer nothing activates;
    - ``""``: a layer with no activation to speak of (Flatten, Dropout, ...).
    """
    layers = list(model.layers)
    activation_layers = [layer for layer in layers if _kind(layer) in _ACTIVATION_KINDS]
    reads = {id(layer): _input_producer(layer) for layer in activation_layers}
    notes: dict[str, str] = {}
    for position, layer in enumerate(layers):
        function = _activation_name(layer)
        if id(layer) in reads:
            producer = reads[id(layer)]
            name = _activation_function(layer)
            notes[layer.name] = f"{name}, of {producer.name}" if producer is not None else name
        elif function is not None and function != "linear":
            notes[layer.name] = f"{function} (own)"
        elif function == "linear" or _is_weighted(layer):
            after = [a for a in activation_layers if reads[id(a)] is layer]
            if (
                not after
                and position + 1 < len(layers)
                and id(layers[position + 1]) in reads
                and reads[id(layers[position + 1])] is None
            ):  # a graph Keras cannot trace: the next layer
                after = [layers[position + 1]]
            notes[layer.name] = (
                f"none: pre-activation; {_activation_function(after[0])} in {after[0].name}" if after else "none"
            )
        else:
            notes[layer.name] = ""
    return notes


def other_side_of_activation(model: keras.Model, layer: str) -> tuple[str, str] | None:
    """The same hidden layer read on the other side of its activation, when that is a layer of its own.

    Returns:
        ``(name, words)``: ``("activation_1", "after its relu")`` for the seed's ``dense_1``,
        ``("dense_1", "before its relu")`` for its ``activation_1``; ``None`` for a layer that
        applies its own activation (``Dense(64, activation="relu")``) or has none.
    """
    layers = list(model.layers)
    by_name = {each.name: each for each in layers}
    if layer not in by_name:
        return None
    chosen = by_name[layer]
    if _kind(chosen) in _ACTIVATION_KINDS:
        producer = _input_producer(chosen)
        if producer is None or _kind(producer) == "InputLayer":
            return None
        return producer.name, f"before its {_activation_function(chosen)}"
    if _activation_name(chosen) not in (None, "linear"):
        return None
    after = [each for each in layers if _kind(each) in _ACTIVATION_KINDS and _input_producer(each) is chosen]
    return (after[0].name, f"after its {_activation_function(after[0])}") if after else None


def _activation_function(layer) -> str:
    """An activation layer's function: ``"relu"`` for ``Activation("relu")`` and for ``ReLU()``."""
    kind = _kind(layer)
    return (_activation_name(layer) if kind == "Activation" else None) or _FUNCTION_OF_KIND.get(kind, kind.lower())


# Layer kinds, by class name, that the default layer and the summary reason about. Sources: Keras 3's
# keras.layers (activations, normalization, regularization and preprocessing sections).
_ACTIVATION_LAYERS = frozenset({"Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU"})
_NORMALISATION_LAYERS = frozenset(
    {"BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization", "RMSNormalization"}
)
# Identity at inference (Keras calls them with training=False when a model predicts).
_INFERENCE_IDENTITY_LAYERS = frozenset(
    {
        "Dropout",
        "SpatialDropout1D",
        "SpatialDropout2D",
        "SpatialDropout3D",
        "AlphaDropout",
        "GaussianDropout",
        "GaussianNoise",
        "ActivityRegularization",
    }
)
_PREPROCESSING_LAYERS = frozenset({"Rescaling", "Normalization", "Resizing", "CenterCrop"})
_SOFTMAX_FUNCTIONS = frozenset({"softmax", "log_softmax"})
_ACTIVATION_KINDS = _ACTIVATION_LAYERS | {"Softmax"}
_FUNCTION_OF_KIND = {
    "ReLU": "relu",
    "LeakyReLU": "leaky_relu",
    "PReLU": "prelu",
    "ELU": "elu",
    "ThresholdedReLU": "thresholded_relu",
    "Softmax": "softmax",
}


def _body_layers(model: keras.Model) -> list:
    """``model.layers`` without its ``InputLayer`` objects (functional models list them)."""
    return [layer for layer in model.layers if _kind(layer) != "InputLayer"]


def _kind(layer) -> str:
    return type(layer).__name__


def _activation_name(layer) -> str | None:
    """The activation function's name of a layer with an ``activation`` (``"relu"``), else None."""
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    name = getattr(activation, "__name__", None) or str(activation)
    return str(name)


def _is_follower(layer) -> bool:
    """Whether ``layer`` only transforms its input elementwise, normalises it or is identity at inference."""
    kind = _kind(layer)
    if kind == "Activation":
        return _activation_name(layer) not in _SOFTMAX_FUNCTIONS
    return kind in _ACTIVATION_LAYERS | _NORMALISATION_LAYERS | _INFERENCE_IDENTITY_LAYERS


def _is_weighted(layer) -> bool:
    """A layer that computes a representation with weights: Dense, Conv2D, a nested model, ...

    Activation (PReLU), normalisation and preprocessing (Normalization) layers hold weights too
    but only rescale what they are given, so they are not counted.
    """
    kind = _kind(layer)
    if kind in _ACTIVATION_LAYERS | _NORMALISATION_LAYERS | _PREPROCESSING_LAYERS:
        return False
    try:
        return bool(layer.weights)
    except (AttributeError, ValueError):
        return False


def _producer(tensor):
    """The layer that made a Keras symbolic tensor, or None when unknown."""
    history = getattr(tensor, "_keras_history", None)
    return getattr(history, "operation", None) if history is not None else None


def _input_producer(layer):
    """The layer whose output ``layer`` reads (its first call), or None when unknown or several."""
    try:
        inputs = layer.input
    except (AttributeError, ValueError, RuntimeError):
        return None
    return None if isinstance(inputs, (list, tuple, dict)) else _producer(inputs)


def _label(layer) -> str:
    """``"Dense 64"``, ``"Conv2D 32"``, ``"Dense 64, relu"`` (a built-in activation), or the class name."""
    kind = _kind(layer)
    width = getattr(layer, "units", None) or getattr(layer, "filters", None)
    text = f"{kind} {width}" if isinstance(width, int) else kind
    activation = _activation_name(layer) if kind not in _ACTIVATION_LAYERS else None
    return f"{text}, {activation}" if activation and activation != "linear" else text


def _follower_label(layer) -> str:
    """``"relu activation"`` for an ``Activation`` layer, the class name for the others (``"LeakyReLU"``)."""
    return f"{_activation_name(layer)} activation" if _kind(layer) == "Activation" else _kind(layer)


def _and(words: Sequence[str]) -> str:
    """``["a", "b", "c"]`` → ``"a, b and c"``."""
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def check_layer(model: keras.Model, layer_name: str) -> None:
    """Raises :class:`ModelError` naming the existing layers when ``layer_name`` is not a top-level layer.

    A layer inside a nested model (``inner_dense`` in ``encoder``, also asked for as
    ``encoder/inner_dense``) is named as such, with the enclosing top-level layer to read
    instead: featlib reads top-level layers only (see :func:`nested_layers_note`).
    """
    names = [layer.name for layer in model.layers]
    if layer_name in names:
        return
    inside = _enclosing_path(model, layer_name)
    if inside is not None:
        path, top = inside
        raise ModelError(
            f"No such layer: {layer_name}. It is inside the nested model {top} (as {path}), and featlib reads "
            f"only a model's top-level layers, so {layer_name} is read only as part of {top}'s output. "
            f"Read {top} instead, or pick one of the top-level layers: {names}."
        )
    raise ModelError(f"No such layer: {layer_name}. Existing layers are: {names}.")


NESTED_NOTE_MAX_NAMES = 6
"""How many inner layers :func:`nested_layers_note` names per nested model before ``…``."""


def nested_layers_note(model: keras.Model) -> str | None:
    """What featlib cannot read of a model's nested models, for the page to show under the layer table.

    featlib reads the top-level layers of a model: a nested model (a Sequential ``encoder`` inside a
    functional model) is one layer whose output is its last inner layer's. Its inner layers are not
    rebuilt as addressable layers: Keras 3 layer names cannot hold ``/`` (so ``encoder/inner_dense``
    cannot be a layer name), and every page, job and cache addresses a layer by its name.

    Returns:
        One sentence per top-level nested model, e.g. ``"encoder is a nested Sequential model; its 2
        inner layers (inner_dense, inner_relu) are read only as encoder's output."``, joined by spaces;
        None when the model has no nested model (with inner layers).
    """
    sentences = []
    for layer in model.layers:
        if not _is_nested(layer):
            continue
        inner = [path for path, _ in _inner_layers(layer)]
        if not inner:
            continue
        shown = inner[:NESTED_NOTE_MAX_NAMES] + (["…"] if len(inner) > NESTED_NOTE_MAX_NAMES else [])
        listed = f"its {len(inner)} inner layer{'s' if len(inner) != 1 else ''} ({', '.join(shown)})"
        sentences.append(
            f"{layer.name} is a nested {_kind(layer)} model; {listed} "
            f"{'are' if len(inner) != 1 else 'is'} read only as {layer.name}'s output."
        )
    return " ".join(sentences) or None


def _is_nested(layer) -> bool:
    """Whether ``layer`` is a model used as a layer (it has layers of its own)."""
    return _kind(layer) != "InputLayer" and isinstance(getattr(layer, "layers", None), list)


def _inner_layers(nested, prefix: str = "") -> list[tuple[str, object]]:
    """``[("inner_dense", layer), ("block", ...), ("block/conv", ...)]``: every layer inside ``nested``, depth first.

    Paths are relative to ``nested``; ``InputLayer`` objects are left out.
    """
    found = []
    for layer in nested.layers:
        if _kind(layer) == "InputLayer":
            continue
        path = f"{prefix}{layer.name}"
        found.append((path, layer))
        if _is_nested(layer):
            found += _inner_layers(layer, f"{path}/")
    return found


def _enclosing_path(model: keras.Model, layer_name: str) -> tuple[str, str] | None:
    """``("encoder/inner_dense", "encoder")`` when ``layer_name`` (a name or path) is in a nested model, else None."""
    for layer in model.layers:
        if not _is_nested(layer):
            continue
        for path, inner in _inner_layers(layer):
            full = f"{layer.name}/{path}"
            if layer_name in (inner.name, full):
                return full, layer.name
    return None


def output_units(model: keras.Model, layer_name: str) -> int:
    """How many values ``layer_name`` outputs per image (its output shape without the batch axis, multiplied out).

    Raises:
        ModelError: no such layer (naming the existing ones), or its output size is not fixed.
    """
    check_layer(model, layer_name)
    shape = model.get_layer(layer_name).output.shape[1:]
    if any(d is None for d in shape):
        raise ModelError(f"Layer {layer_name} has no fixed output size: its output shape is {tuple(shape)}.")
    return int(np.prod(shape, dtype=np.int64))
