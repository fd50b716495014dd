"""A model's architecture in one short line (:func:`architecture_summary`), e.g. ``784 → 128 → 64 → 10``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from featlib.models.layers import _activation_name, _body_layers, _input_producer, _is_follower, _kind, _producer

if TYPE_CHECKING:
    import keras


SUMMARY_MAX_CHARS = 200
_TOKEN_MAX_CHARS = 40


def architecture_summary(model: keras.Model) -> str:
    """A one-line description of any model, at most :data:`SUMMARY_MAX_CHARS` characters.

    A flat-input stack of Dense layers (with or without separate ``Activation`` layers), such as the
    seed, keeps its familiar form ``784-128-64-10 (Sequential, 109,386 params)``. Any other model is
    described by its input shape, its layers in order (runs of repeated layers folded, long models
    abbreviated with a count of the layers left out), its output width when the last layer does not
    state it, and its parameter count::

        input 28×28×1 · Conv2D 32 → MaxPooling2D → Conv2D 64 → MaxPooling2D → Flatten → Dense 64 → Dense 10
        (Sequential, 93,322 params)

    (one line). Separate activation layers appear as their function (``relu``) or class
    (``LeakyReLU``); nested models as their class and name. Never raises for a loaded model: what
    cannot be read is shown as ``?``.
    """
    tail = f" ({type(model).__name__}, {_param_text(model)})"
    layers = _body_layers(model)
    widths = _dense_stack_widths(model, layers)
    if widths:
        return _clip("-".join(widths) + tail)
    head = _inputs_text(model)
    output = _output_text(model, layers)
    budget = SUMMARY_MAX_CHARS - len(head) - len(output) - len(tail) - 3
    chain = _chain_text([_layer_token(layer) for layer in layers], budget) if layers else "no layers"
    return _clip(f"{head} · {chain}{output}{tail}")


def _clip(text: str) -> str:
    return text if len(text) <= SUMMARY_MAX_CHARS else text[: SUMMARY_MAX_CHARS - 1] + "…"


def _param_text(model: keras.Model) -> str:
    try:
        return f"{int(model.count_params()):,} params"
    except (AttributeError, ValueError, RuntimeError):
        return "? params"


def _shape_text(shape) -> str:
    """``(None, 28, 28, 1)`` → ``"28×28×1"`` (the batch axis dropped, unknown sizes as ``?``)."""
    return "×".join("?" if d is None else str(int(d)) for d in tuple(shape)[1:]) or "scalar"


def _dense_stack_widths(model: keras.Model, layers: list) -> list[str] | None:
    """``["784", "128", "64", "10"]`` for a flat-input stack of Dense (and Activation) layers, else None."""
    kinds = {_kind(layer) for layer in layers}
    if "Dense" not in kinds or not kinds <= {"Dense", "Activation"}:
        return None
    try:
        inputs = list(model.inputs or [])
    except (AttributeError, ValueError, RuntimeError):
        return None
    if len(inputs) != 1 or len(inputs[0].shape) != 2 or inputs[0].shape[1] is None or not _is_chain(model, layers):
        return None
    return [str(int(inputs[0].shape[1]))] + [str(layer.units) for layer in layers if _kind(layer) == "Dense"]


def _is_chain(model: keras.Model, layers: list) -> bool:
    """Whether ``layers`` form one chain (each reads the one before it) ending in the model's single output."""
    try:
        outputs = list(model.outputs or [])
    except (AttributeError, ValueError, RuntimeError):
        return False
    if len(outputs) != 1 or _producer(outputs[0]) not in (None, layers[-1]):
        return False
    return all(_input_producer(layer) in (None, before) for before, layer in zip(layers, layers[1:]))


def _inputs_text(model: keras.Model) -> str:
    try:
        shapes = [_shape_text(t.shape) for t in (model.inputs or [])]
    except (AttributeError, ValueError, RuntimeError):
        shapes = []
    if not shapes:
        return "input ?"
    text = ("input " if len(shapes) == 1 else "inputs ") + ", ".join(shapes)
    return text if len(text) <= _TOKEN_MAX_CHARS else text[: _TOKEN_MAX_CHARS - 1] + "…"


def _output_text(model: keras.Model, layers: list) -> str:
    """``" · output 10"`` (``" · outputs 10, 1"``), or ``""`` when the last Dense already states the width."""
    try:
        shapes = [tuple(t.shape) for t in (model.outputs or [])]
    except (AttributeError, ValueError, RuntimeError):
        return " · output ?"
    widths = ["?" if any(d is None for d in s[1:]) else str(int(np.prod(s[1:], dtype=np.int64))) for s in shapes]
    if len(widths) == 1 and _last_dense_states(layers, shapes[0]):
        return ""
    text = ("output " if len(widths) == 1 else "outputs ") + ", ".join(widths)
    return " · " + (text if len(text) <= _TOKEN_MAX_CHARS else text[: _TOKEN_MAX_CHARS - 1] + "…")


def _last_dense_states(layers: list, output_shape: tuple) -> bool:
    """Whether the last layer with ``units`` outputs ``output_shape`` and only followers come after it."""
    for i in range(len(layers) - 1, -1, -1):
        if isinstance(getattr(layers[i], "units", None), int):
            try:
                same = tuple(layers[i].output.shape) == output_shape
            except (AttributeError, ValueError, RuntimeError):
                return False
            rest = layers[i + 1 :]
            return same and all(_is_follower(layer) or _kind(layer) in ("Softmax", "Activation") for layer in rest)
    return False


def _layer_token(layer) -> str:
    """One layer in a summary: ``"Conv2D 32"``, ``"Dense 10"``, ``"relu"``, ``"Functional backbone"``."""
    kind = _kind(layer)
    if hasattr(layer, "layers") and kind not in ("InputLayer",):
        text = f"{kind} {layer.name}"
    elif kind == "Activation":
        text = str(_activation_name(layer))
    else:
        width = getattr(layer, "units", None) or getattr(layer, "filters", None)
        text = f"{kind} {width}" if isinstance(width, int) else kind
    return text if len(text) <= _TOKEN_MAX_CHARS else text[: _TOKEN_MAX_CHARS - 1] + "…"


def _runs(tokens: list[str], longest: int = 4) -> list[tuple[str, int]]:
    """Folds repeats: ``[a, b, a, b, c]`` → ``[("(a → b) ×2", 4), ("c", 1)]``: (text, layers it stands for)."""
    parts: list[tuple[str, int]] = []
    i = 0
    while i < len(tokens):
        size, repeats = 1, 1
        for n in range(1, longest + 1):
            pattern = tokens[i : i + n]
            if len(pattern) < n:
                break
            r = 1
            while tokens[i + r * n : i + (r + 1) * n] == pattern:
                r += 1
            if r > 1 and n * r > size * repeats:
                size, repeats = n, r
        pattern = tokens[i : i + size]
        body = pattern[0] if size == 1 else "(" + " → ".join(pattern) + ")"
        parts.append((f"{body} ×{repeats}" if repeats > 1 else body, size * repeats))
        i += size * repeats
    return parts


def _chain_text(tokens: list[str], budget: int) -> str:
    """The folded layers joined by arrows; when over ``budget`` characters, the middle becomes ``… n more layers …``."""
    parts = _runs(tokens)
    text = " → ".join(p for p, _ in parts)
    if len(text) <= budget:
        return text
    head: list[tuple[str, int]] = []
    tail: list[tuple[str, int]] = []
    rest = list(parts)
    while len(rest) > 1:  # whole model did not fit: at least one part is left out
        front = len(head) <= len(tail)
        trial_head, trial_tail = (head + rest[:1], tail) if front else (head, rest[-1:] + tail)
        trial_rest = rest[1:] if front else rest[:-1]
        if len(_abbreviated(trial_head, trial_rest, trial_tail)) > budget:
            break
        head, tail, rest = trial_head, trial_tail, trial_rest
    return _abbreviated(head, rest, tail)


def _abbreviated(head: list[tuple[str, int]], rest: list[tuple[str, int]], tail: list[tuple[str, int]]) -> str:
    """``"a → b → … 12 more layers … → z"``: the parts of ``head`` and ``tail`` around a count of ``rest``'s layers."""
    skipped = sum(n for _, n in rest)
    middle = [f"… {skipped} more layer{'s' if skipped != 1 else ''} …"] if rest else []
    return " → ".join([p for p, _ in head] + middle + [p for p, _ in tail])
