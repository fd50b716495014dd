"""The default layer a map is drawn of (:func:`choose_default_layer`), with the reason it was chosen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from featlib.errors import ModelError
from featlib.models.inputs import input_shape
from featlib.models.layers import (
    _ACTIVATION_KINDS,
    _INFERENCE_IDENTITY_LAYERS,
    _activation_name,
    _and,
    _body_layers,
    _follower_label,
    _input_producer,
    _is_follower,
    _is_weighted,
    _kind,
    _label,
    _producer,
)

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class DefaultLayer:
    """The layer a page shows first, and why (see :func:`choose_default_layer`).

    Attributes:
        name: the layer's name in ``model.layers``.
        reason: one plain sentence naming the rule that chose it, e.g.
            ``"leaky_re_lu_1: the last hidden layer (dense, Dense 64) after its LeakyReLU."``
        alternative: the other reading of the same hidden layer, one click away, or None: the
            layer after its activation for the seed (which reads before it), the weighted layer
            before its activation otherwise.
    """

    name: str
    reason: str
    alternative: str | None = None


def choose_default_layer(model: keras.Model) -> DefaultLayer:
    """The layer to show first: the last hidden representation after its activation and normalisation.

    The rule (issue "default layer": a CNN's default was the linear Dense before its LeakyReLU, or a
    BatchNormalization layer): take the last *hidden weighted layer* (a layer with weights, such as
    Dense or Conv2D, that is not an output layer, an activation, a normalisation or a preprocessing
    layer), then move forward over the layers that directly follow it and only transform it
    elementwise or normalise it (:data:`_ACTIVATION_LAYERS`, :data:`_NORMALISATION_LAYERS`). Dropout
    and noise layers are skipped over but never chosen: they are the identity at inference, so the
    layer before them holds the same values under a name that says what they are.

    One exception keeps the seed's story: a model laid out as the seed (a flat input, then pairs of
    linear ``Dense`` and ``Activation`` layers ending in softmax, as :func:`build_mlp` builds it)
    defaults to its last hidden ``Dense`` *before* its activation, the layer the seed script read
    (``dense_1`` for 784-128-64-10); the layer after the activation is ``alternative``.

    Without a hidden weighted layer, the default is the input of the output layer (e.g. ``flatten``),
    or the output layer itself when nothing comes before it.

    A graph that is not a chain (a layer that merges branches, such as a residual ``Add`` or a
    ``Concatenate``, or a layer called more than once) defaults to the representation its
    classification head reads: the input of the layer that makes the (first) output, Dropout passed
    over. For a ResNet that is the pooled vector (``global_average_pooling2d``) rather than the last
    weighted layer's ``BatchNormalization`` inside the last block, before its ``Add``, which the
    classifier never reads (see :func:`head_input`).

    Raises:
        ModelError: the model has no layers.
    """
    layers = _body_layers(model)
    if not layers:
        raise ModelError(
            "The model has no layers (expected at least one layer after its input); there is no layer to show."
        )
    seed = _seed_default(layers, model)
    if seed is not None:
        return seed
    weighted = [layer for layer in layers if _is_weighted(layer)]
    outputs = _output_layers(model, weighted) if weighted else []
    hidden = [layer for layer in weighted if layer not in outputs]
    chain = _after_activation(hidden[-1], layers) if hidden else _without_hidden_layer(layers, weighted)
    graph = _head_default(model, layers, weighted, chain.name)
    if graph is None:
        why = not_a_chain(model) if weighted else []
        if why:  # e.g. the head reads a shared layer's second call, which the layer's name does not read
            note = f" The model is not a chain ({'; '.join(why)}) and what its head reads has no layer name of its own."
            return DefaultLayer(chain.name, chain.reason + note, chain.alternative)
        return chain
    return graph


def not_a_chain(model: keras.Model) -> list[str]:
    """Why ``model`` is not a chain of layers: its layers that merge branches or are called more than once.

    Returns:
        Phrases naming them, e.g. ``["add, add_1 and add_2 merge branches"]`` or
        ``["shared is called 2 times"]``; empty for a chain (every Sequential model, and a functional
        model whose layers each read one tensor and are called once; several heads reading one trunk
        are still a chain up to the trunk).
    """
    if _kind(model) == "Sequential":
        return []
    layers = _body_layers(model)
    merges = [layer.name for layer in layers if _reads_several(layer)]
    calls = {layer.name: _calls(model, layer) for layer in layers}
    shared = [name for name, n in calls.items() if n > 1]
    found = []
    if merges:
        found.append(f"{_and(_few(merges))} {'merges' if len(merges) == 1 else 'merge'} branches")
    if shared:
        counts = sorted({calls[name] for name in shared})
        times = f"{counts[0]} times" if len(counts) == 1 else "several times"
        found.append(f"{_and(_few(shared))} {'is' if len(shared) == 1 else 'are'} called {times}")
    return found


def head_input(model: keras.Model):
    """The layer whose output the model's classification head reads, or None when it cannot be named.

    The head is the weighted layer that makes the model's first output (over the softmax or activation
    after it); its input is read over Dropout and the other layers that are the identity at inference.
    None when the head reads several tensors, the model's input, or a later call of a shared layer
    (the layer's name reads its first call).
    """
    layers = _body_layers(model)
    weighted = [layer for layer in layers if _is_weighted(layer)]
    if not weighted:
        return None
    head = _output_layers(model, weighted)[0]
    if _calls(model, head) != 1:
        return None
    tensor = _single_input(head)
    while tensor is not None:
        history = getattr(tensor, "_keras_history", None)
        producer = getattr(history, "operation", None)
        if producer is None or producer not in layers or getattr(history, "node_index", 0) != 0:
            return None
        if _kind(producer) not in _INFERENCE_IDENTITY_LAYERS:
            return producer
        tensor = _single_input(producer)
    return None


def hidden_layers(model: keras.Model, *, after_activation: bool = True, output: bool = False) -> list[str]:
    """The model's hidden representations in order, each named as :func:`choose_default_layer` would read it.

    Args:
        model: a loaded model.
        after_activation: read each hidden weighted layer after its activation and normalisation
            (``activation`` for the seed's ``dense``), else the weighted layer itself (``dense``).
        output: also list the output layer (after its softmax when ``after_activation``).

    Returns:
        Layer names, input side first: ``["activation", "activation_1"]`` for the seed MLP
        (``["dense", "dense_1"]`` with ``after_activation=False``); the default layer alone for a
        model without hidden weighted layers. For a graph that is not a chain (:func:`not_a_chain`),
        ``after_activation`` also lists the representation its head reads (the default) after the
        hidden layers.
    """
    layers = _body_layers(model)
    weighted = [layer for layer in layers if _is_weighted(layer)]
    outputs = _output_layers(model, weighted) if weighted else []
    chosen = [layer for layer in weighted if layer not in outputs] + (outputs if output else [])
    if not chosen:
        return [default_layer(model)] if layers else []
    if not after_activation:
        return [layer.name for layer in chosen]
    graph = _head_default(model, layers, weighted)
    names = []
    for layer in chosen:
        after = [f for f in _followers(layer, layers) if _kind(f) not in _INFERENCE_IDENTITY_LAYERS]
        if layer in outputs and not after:  # the seed's softmax is its own Activation layer, not a follower
            after = [
                f
                for f in layers[layers.index(layer) + 1 : layers.index(layer) + 2]
                if _kind(f) in _ACTIVATION_KINDS and _input_producer(f) in (layer, None)
            ]
        names.append((after[-1] if after else layer).name)
    if graph is not None and graph.name not in names:  # the head's input of a graph: after the hidden layers
        hidden = len(chosen) - (len(outputs) if output else 0)
        names.insert(hidden, graph.name)
    return names


def default_layer(model: keras.Model) -> str:
    """The name of the layer to show first: :func:`choose_default_layer`'s ``name``.

    ``dense_1`` for the seed MLP; for other models the last hidden layer after its activation and
    normalisation (``leaky_re_lu_1`` for ... Dense 64 → LeakyReLU → Dropout → Dense 10).
    """
    return choose_default_layer(model).name


def default_layer_reason(model: keras.Model) -> str:
    """Why :func:`default_layer` chose its layer: :func:`choose_default_layer`'s one-sentence ``reason``."""
    return choose_default_layer(model).reason


def _output_layers(model: keras.Model, weighted: list) -> list:
    """The weighted layers that make the model's outputs (each output traced back over its followers).

    Falls back on the last weighted layer when the model's graph cannot be read.
    """
    found = []
    try:
        outputs = list(model.outputs or [])
    except (AttributeError, ValueError, RuntimeError):
        outputs = []
    for tensor in outputs:
        layer = _producer(tensor)
        while layer is not None and (_is_follower(layer) or _kind(layer) in ("Softmax", "Activation")):
            layer = _input_producer(layer)
        if layer is not None and layer in weighted and layer not in found:
            found.append(layer)
    return found or weighted[-1:]


def _followers(hidden, layers: list) -> list:
    """The follower layers directly after ``hidden``, in order (stops at the first other layer)."""
    chain = []
    previous = hidden
    for layer in layers[layers.index(hidden) + 1 :]:
        producer = _input_producer(layer)
        if not _is_follower(layer) or (producer is not None and producer is not previous):
            break
        chain.append(layer)
        previous = layer
    return chain


def _after_activation(hidden, layers: list) -> DefaultLayer:
    """The default for a model with a hidden weighted layer: the last non-identity layer of its followers."""
    chain = _followers(hidden, layers)
    kept = [layer for layer in chain if _kind(layer) not in _INFERENCE_IDENTITY_LAYERS]
    chosen = kept[-1] if kept else hidden
    trailing = [_kind(layer) for layer in (chain[chain.index(chosen) + 1 :] if kept else chain)]
    note = (
        f"; the {_and(trailing)} after it {'changes' if len(trailing) == 1 else 'change'} nothing at inference"
        if trailing
        else ""
    )
    if chosen is hidden:
        return DefaultLayer(hidden.name, f"{hidden.name}: the last hidden layer ({_label(hidden)}){note}.")
    after = _and([_follower_label(layer) for layer in kept])
    reason = f"{chosen.name}: the last hidden layer ({hidden.name}, {_label(hidden)}) after its {after}{note}."
    return DefaultLayer(chosen.name, reason, alternative=hidden.name)


def _head_default(model: keras.Model, layers: list, weighted: list, before: str | None = None) -> DefaultLayer | None:
    """The default of a graph that is not a chain: the layer its head reads (see :func:`head_input`), else None.

    ``before`` is the layer the rule for chains would pick, named in the reason when it is another.
    """
    why = not_a_chain(model)
    chosen = head_input(model) if why and weighted else None
    if chosen is None or _kind(chosen) == "InputLayer":
        return None
    head = _output_layers(model, weighted)[0]
    reason = (
        f"{chosen.name}: what the classification head ({head.name}, {_label(head)}) reads; "
        f"the model is not a chain ({'; '.join(why)})"
    )
    if before is not None and before != chosen.name:
        reason += f", so its last hidden layer {before} is not what the classifier reads"
    alternative = chosen
    while _is_follower(alternative) and _input_producer(alternative) is not None:
        alternative = _input_producer(alternative)
    return DefaultLayer(
        chosen.name,
        reason + ".",
        alternative=alternative.name if alternative is not chosen and _is_weighted(alternative) else None,
    )


def _reads_several(layer) -> bool:
    """Whether ``layer`` reads several tensors (Add, Concatenate, Multiply, ...) in its first call."""
    try:
        inputs = layer.input
    except (AttributeError, ValueError, RuntimeError):
        return False
    return isinstance(inputs, (list, tuple, dict)) and len(inputs) > 1


def _single_input(layer):
    """The one tensor ``layer`` reads in its first call, or None (several, or unknown)."""
    try:
        inputs = layer.input
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
        inputs = inputs[0]
    return None if isinstance(inputs, (list, tuple, dict)) else inputs


def _calls(model: keras.Model, layer) -> int:
    """How many times ``layer`` is called in ``model``'s graph (a shared layer: more than once).

    Read from the graph's nodes (Keras keys them ``<id of the layer>_ib-<call>``); from the layer's own
    calls when the model does not say (those may include calls in other models).
    """
    nodes = getattr(model, "_nodes", None)
    if isinstance(nodes, (set, frozenset, list, tuple)) and nodes:
        prefix = f"{id(layer)}_ib-"
        return sum(1 for key in nodes if isinstance(key, str) and key.startswith(prefix))
    return len(getattr(layer, "_inbound_nodes", None) or [])


def _few(names: list[str], most: int = 3) -> list[str]:
    """At most ``most`` names, the rest counted: ``["add", "add_1", "add_2", "7 more"]``."""
    return names if len(names) <= most else [*names[:most], f"{len(names) - most} more"]


def _seed_default(layers: list, model: keras.Model) -> DefaultLayer | None:
    """The seed's choice for a model laid out as the seed (see :func:`choose_default_layer`), else None."""
    kinds = [_kind(layer) for layer in layers]
    pairs = len(layers) // 2
    try:
        flat = len(input_shape(model)) == 1
    except ModelError:
        return None
    if not flat or pairs < 2 or kinds != ["Dense", "Activation"] * pairs:
        return None
    if any(_activation_name(layer) != "linear" for layer in layers[0::2]):
        return None
    if _activation_name(layers[-1]) != "softmax" or any(_activation_name(a) == "softmax" for a in layers[1:-1:2]):
        return None
    dense, activation = layers[-4], layers[-3]
    function = _activation_name(activation)
    reason = (
        f"{dense.name}: the last hidden layer ({_label(dense)}) before its {function} activation, as the seed "
        f"script read it; {activation.name} is the same layer after its {function}."
    )
    return DefaultLayer(dense.name, reason, alternative=activation.name)


def _without_hidden_layer(layers: list, weighted: list) -> DefaultLayer:
    """The default for a model without a hidden weighted layer."""
    if not weighted:
        last = layers[-1]
        return DefaultLayer(last.name, f"{last.name}: the model's last layer (it has no layer with weights).")
    output = weighted[-1]
    before = [layer for layer in layers[: layers.index(output)] if _kind(layer) not in _INFERENCE_IDENTITY_LAYERS]
    if before:
        chosen = before[-1]
        return DefaultLayer(
            chosen.name,
            f"{chosen.name}: the input of the output layer {output.name} "
            f"({_label(output)}); the model has no hidden layer with weights.",
        )
    return DefaultLayer(
        output.name, f"{output.name}: the output layer ({_label(output)}); the model has no hidden layer."
    )
