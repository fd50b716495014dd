"""A model's outputs: which one is the classifier's, reading it in fixed-size batches, labels and accuracy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from featlib.errors import ModelError
from featlib.lazy import keras
from featlib.models.layers import _and, _producer
from featlib.models.nonfinite import check_outputs

if TYPE_CHECKING:
    import keras


def evaluate_accuracy(model: keras.Model, x: np.ndarray, y: np.ndarray, output: int | str | None = None) -> float:
    """Accuracy of ``model`` on ``(x, y)`` without compiling the caller's model.

    Args:
        model, x, y: the model, its inputs and the integer labels ``(n,)``.
        output: the output whose argmax is the predicted class, by name or position (see
            :func:`output_index`); ``None`` for a model with one output.

    Raises:
        ModelError: no such output, or ``None`` for a model with several outputs.
    """
    predicted = predict_labels(model, x, output=output)
    return float(np.mean(predicted == np.asarray(y)))


def predict_labels(
    model: keras.Model, x: np.ndarray, batch_size: int = 1024, output: int | str | None = None
) -> np.ndarray:
    """Predicted class of each input: the argmax of one output, int64 ``(n,)``.

    Args:
        output: the output read, by name or position (see :func:`output_index`); ``None`` for a
            model with one output.

    Raises:
        ModelError: no such output, or ``None`` for a model with several outputs.
        NonFiniteError: the output holds NaN or inf (:class:`featlib.models.nonfinite.NonFiniteError`): no
            class can be read from it, so no accuracy is reported.
    """
    outputs = predict_output(model, x, batch_size, output)
    check_outputs(
        outputs,
        "the model's output" if output is None else f"the model's output {output!r}",
        "predict function (scoring)",
    )
    return outputs.argmax(axis=1)


@dataclass(frozen=True)
class OutputInfo:
    """One output of a model (see :func:`model_outputs`).

    Attributes:
        index: its position in ``model.outputs`` (0 for a model with one output).
        name: the name of the layer that makes it (``"head_a"``), unique among the model's outputs.
        width: the values it gives per image (its shape without the batch axis, multiplied out), or
            None when that is not fixed.
    """

    index: int
    name: str
    width: int | None

    @property
    def size_text(self) -> str:
        """``"1 unit"``, ``"10 units"`` or ``"size not fixed"``."""
        if self.width is None:
            return "size not fixed"
        return f"{self.width} unit{'s' if self.width != 1 else ''}"

    @property
    def label(self) -> str:
        """``"head_a (10 units)"``: its name and size, as messages and pickers name it."""
        return f"{self.name} ({self.size_text})"


def model_outputs(model: keras.Model) -> list[OutputInfo]:
    """Every output of ``model``, in the order of ``model.outputs`` (empty when the model's graph cannot be read).

    An output is named by the layer that makes it; a name that two outputs share gets ``#<index>``
    appended on the later one.
    """
    try:
        tensors = list(model.outputs or [])
    except (AttributeError, ValueError, RuntimeError):
        return []
    found: list[OutputInfo] = []
    for i, tensor in enumerate(tensors):
        layer = _producer(tensor)
        name = str(getattr(layer, "name", "") or f"output_{i}")
        if any(info.name == name for info in found):
            name = f"{name}#{i}"
        found.append(OutputInfo(i, name, _flat_width(tensor)))
    return found


def _flat_width(tensor) -> int | None:
    """Values per sample of a symbolic tensor (its shape without the batch axis, multiplied out), or None."""
    try:
        shape = tuple(tensor.shape)[1:]
    except (AttributeError, TypeError):
        return None
    return None if any(d is None for d in shape) else int(np.prod(shape, dtype=np.int64))


def classification_outputs(model: keras.Model, num_classes: int) -> list[OutputInfo]:
    """The outputs that can classify data of ``num_classes`` classes: those with exactly one value per class.

    Returns:
        The fitting outputs in the order of ``model.outputs`` (possibly empty).
    """
    return [info for info in model_outputs(model) if info.width == int(num_classes)]


def describe_outputs(outputs: Sequence[OutputInfo]) -> str:
    """``"head_a (12 units) and head_b (1 unit)"``: outputs as messages name them."""
    return _and([info.label for info in outputs]) if outputs else "no outputs"


def default_output(model: keras.Model, num_classes: int) -> int:
    """The position of the output a model is scored and predicts from.

    A model with one output: that output (0), whatever its width, as before outputs could be
    chosen. A model with several: the first whose width equals ``num_classes``
    (:func:`classification_outputs`).

    Raises:
        ModelError: a model with several outputs none of which has ``num_classes`` values; the
            message names every output and its width.
    """
    outputs = model_outputs(model)
    if len(outputs) <= 1:
        return 0
    fitting = classification_outputs(model, num_classes)
    if not fitting:
        raise ModelError(
            f"The model has {len(outputs)} outputs, {describe_outputs(outputs)}, and none can be scored on "
            f"data of {num_classes} classes: expected an output with one value per class ({num_classes} units). "
            f"Score it on data with as many classes as one of its outputs, or give it a {num_classes}-unit "
            "classification output."
        )
    return fitting[0].index


def output_index(model: keras.Model, output: int | str | None) -> int:
    """The position in ``model.outputs`` of an output given by name (:func:`model_outputs`) or position.

    Args:
        output: a name such as ``"head_a"``, a position, or ``None`` for the only output of a
            model with one output.

    Raises:
        ModelError: no such output (naming the model's outputs), or ``None`` for a model with
            several outputs (they must be told apart: see :func:`default_output`).
    """
    outputs = model_outputs(model)
    if output is None:
        if len(outputs) > 1:
            raise ModelError(
                f"The model has {len(outputs)} outputs, {describe_outputs(outputs)}: expected the output to "
                "read (its name or position), got none."
            )
        return 0
    for info in outputs:
        if output == info.name or (
            isinstance(output, (int, np.integer)) and not isinstance(output, bool) and int(output) == info.index
        ):
            return info.index
    if not outputs and output in (0, None):
        return 0
    raise ModelError(f"No such output: {output!r}. The model's outputs are {describe_outputs(outputs)}.")


def recorded_output(model: keras.Model, output: int | str | None, num_classes: int) -> int:
    """The position of the output to predict from for a saved model whose record names ``output``.

    ``output`` is the record's ``meta["output"]``; unset (every model with one output, and models
    saved before outputs could be chosen), :func:`default_output` for ``num_classes`` classes.

    Raises:
        ModelError: no such output, or none fits ``num_classes``.
    """
    return default_output(model, num_classes) if output is None else output_index(model, output)


def choose_output(model: keras.Model, num_classes: int, output: int | str | None = None) -> OutputInfo:
    """The output to score and predict from: ``output`` when given, else :func:`default_output`.

    For a model with several outputs, a given ``output`` must have one value per class.

    Raises:
        ModelError: none fits (see :func:`default_output`), no such output, or a given output of
            another width than ``num_classes`` on a model with several outputs.
    """
    outputs = model_outputs(model)
    index = default_output(model, num_classes) if output is None else output_index(model, output)
    if not outputs:
        return OutputInfo(0, "output", None)
    chosen = outputs[index]
    if len(outputs) > 1 and chosen.width != int(num_classes):
        fitting = classification_outputs(model, num_classes)
        raise ModelError(
            f"The output {chosen.label} cannot be scored on data of {num_classes} classes: expected an output "
            f"with one value per class ({num_classes} units); the outputs that fit are "
            f"{describe_outputs(fitting) if fitting else 'none'}."
        )
    return chosen


def predict_output(
    model: keras.Model, x: np.ndarray, batch_size: int = 1024, output: int | str | None = None
) -> np.ndarray:
    """One output's values for every input: float32 ``(n, width)`` (wider outputs flattened).

    A model with one output is predicted as it is; for a model with several, only the chosen
    output is computed (a sub-model from the inputs to that output).

    Args:
        output: the output read, by name or position (see :func:`output_index`); ``None`` for a
            model with one output.

    Raises:
        ModelError: no such output, or ``None`` for a model with several outputs.
    """
    index = output_index(model, output)
    if len(model_outputs(model)) > 1:
        model = keras.Model(model.inputs, model.outputs[index])
    step = min(batch_size, len(x)) or 1
    batches = [
        np.asarray(model.predict_on_batch(padded(x[start : start + step], step)))[: len(x[start : start + step])]
        for start in range(0, len(x), step)
    ]
    out = np.concatenate(batches) if batches else np.asarray(model.predict(x, verbose=0))
    return out.reshape(len(x), -1)


def padded(batch: np.ndarray, rows: int) -> np.ndarray:
    """``batch`` with zero rows appended up to ``rows`` rows (``batch`` itself when it has that many).

    A model then gets batches of one shape (the last one padded, its extra rows dropped from the
    outputs), so Keras traces its predict function once per model rather than once more for the
    last, shorter batch.
    """
    if len(batch) >= rows:
        return batch
    return np.concatenate([batch, np.zeros((rows - len(batch),) + batch.shape[1:], dtype=batch.dtype)])
