"""Models: the seed MLP, training with progress, saving and loading, fingerprints, layers.

The seed is the classic Keras MNIST MLP (784 → Dense 128 → ReLU → Dense 64 →
ReLU → Dense 10 → softmax) with every activation its own ``Activation`` layer.
Keras is imported lazily so that ``import featlib.models`` stays cheap.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import re
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from featlib import archives
from featlib.datasets import UPLOAD_LIMIT_ENV, upload_limit_bytes
from featlib.errors import InputMismatchError, ModelError

if TYPE_CHECKING:
    import keras

    from featlib.store import ModelRecord, Workspace


def __getattr__(name: str) -> int:
    """``MAX_MODEL_BYTES``: the largest model file in bytes, ``$FEATLIB_MAX_UPLOAD_MB`` MiB (200 by default), read now.

    Raises:
        featlib.errors.SettingError: the setting holds no positive number of MiB.
    """
    if name == "MAX_MODEL_BYTES":
        return upload_limit_bytes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


INPUT_SCALES = {"0-1": "pixels / 255 (as the seed)", "0-255": "raw pixels 0–255"}
OPTIMIZERS = ("sgd", "adam")
MAX_MODEL_INFLATED_BYTES = 1024 * 1024 * 1024
# Layers and serialized objects that carry arbitrary Python code; refused in
# uploads even where the format would load them.
_CODE_LAYERS = {"Lambda", "TFOpLambda", "SlicingOpLambda", "__lambda__"}
# The Keras namespaces whose functions a model config may name (activations,
# losses, ...); functions from any other namespace (keras.utils.get_file,
# keras.config.enable_unsafe_deserialization, ...) are not part of a model.
_MODELING_NAMESPACES = {"activations", "losses", "metrics", "ops", "nn", "numpy", "image", "math", "linalg",
                        "initializers", "regularizers", "constraints", "optimizers", "schedules"}
_SAVEDMODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
_SAVEDMODEL_REASON = (
    "TensorFlow SavedModels are refused: loading one runs the TensorFlow graph stored in it, which "
    "featlib cannot inspect. Re-save the model in Keras 3 format, e.g. model.save('model.keras')."
)


@dataclass(frozen=True)
class LayerInfo:
    """One row of a model's layer table."""

    index: int
    name: str
    type: str
    output_shape: str
    params: int
    activation: str = ""  # see :func:`activations`


@dataclass
class TrainingResult:
    """What :func:`train` returns: per-epoch history and the test figures."""

    history: dict[str, list[float]] = field(default_factory=dict)
    test_loss: float = float("nan")
    test_accuracy: float = float("nan")
    seconds: float = 0.0
    checkpoints: dict[int, "Checkpoint"] = field(default_factory=dict)


@dataclass
class Checkpoint:
    """A copy of the weights taken at the end of one epoch, with that epoch's figures.

    ``test_accuracy`` is measured on the test inputs given to :func:`train`
    with these weights; :func:`model_with_weights` rebuilds the model.
    """

    epoch: int
    weights: list[np.ndarray]
    logs: dict[str, float]
    test_accuracy: float = float("nan")


def build_mlp(
    input_shape: Sequence[int] = (784,),
    hidden: Sequence[int] = (128, 64),
    num_classes: int = 10,
    seed: int | None = 0,
) -> "keras.Model":
    """Builds the seed's MLP with each activation as its own layer.

    Layers are named as Keras names them in a fresh process (``dense``,
    ``activation``, ``dense_1``, ...), so ``dense_1`` is the 64-unit layer of
    the default model whatever was built before in the same process.

    Args:
        input_shape: shape of one input sample, e.g. ``(784,)`` or ``(64,)``.
        hidden: units of each hidden Dense layer.
        num_classes: units of the softmax output.
        seed: seed for the weight initialisers, for reproducible models.

    Returns:
        An uncompiled ``keras.Sequential`` model.

    Example:
        >>> model = build_mlp((64,), hidden=(32,))  # doctest: +SKIP
        >>> [layer.name for layer in model.layers]  # doctest: +SKIP
        ['dense', 'activation', 'dense_1', 'activation_1']
    """
    import keras

    if not hidden or any(int(units) < 1 for units in hidden):
        raise ModelError(f"hidden sizes must be positive integers; got {list(hidden)}")
    def suffix(i: int) -> str:
        return "" if i == 0 else f"_{i}"

    layers: list = [keras.Input(shape=tuple(int(d) for d in input_shape), name="pixels")]
    sizes = [int(units) for units in hidden] + [int(num_classes)]
    for i, units in enumerate(sizes):
        # A seed per initialiser rather than keras.utils.set_random_seed, which
        # would reseed every session's training in this process.
        init = keras.initializers.GlorotUniform(seed=None if seed is None else seed + i)
        layers.append(keras.layers.Dense(units, kernel_initializer=init, name=f"dense{suffix(i)}"))
        activation = "softmax" if i == len(sizes) - 1 else "relu"
        layers.append(keras.layers.Activation(activation, name=f"activation{suffix(i)}"))
    return keras.Sequential(layers, name="mlp_" + "_".join(str(s) for s in hidden))


def _epoch_callback(on_epoch_end: Callable[[int, int, dict], None], epochs: int):
    """Adapts a plain ``(epoch, epochs, logs)`` function to a Keras callback."""
    import keras

    class EpochCallback(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            on_epoch_end(epoch + 1, epochs, {k: float(v) for k, v in (logs or {}).items()})

    return EpochCallback()


def train(
    model: "keras.Model",
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    optimizer: str = "sgd",
    learning_rate: float = 0.01,
    epochs: int = 5,
    batch_size: int = 128,
    validation_split: float = 0.2,
    on_epoch_end: Callable[[int, int, dict], None] | None = None,
    checkpoint_epochs: Sequence[int] = (),
) -> TrainingResult:
    """Compiles and trains ``model`` as the seed did, then evaluates it.

    Args:
        model: a fresh model, e.g. from :func:`build_mlp`; trained in place
            (it is the caller's new model, not an uploaded one).
        x_train, y_train, x_test, y_test: model-ready inputs and integer labels.
        optimizer: ``"sgd"`` (the seed's) or ``"adam"``.
        learning_rate: the optimizer's learning rate.
        epochs, batch_size, validation_split: as in ``keras.Model.fit``.
        on_epoch_end: called as ``on_epoch_end(epoch, epochs, logs)`` after
            each epoch, with ``logs`` holding loss, accuracy, val_loss, ...
        checkpoint_epochs: epochs (1-based, within ``1..epochs``) after which a
            copy of the weights is kept, in ``result.checkpoints[epoch]``, and
            scored on ``(x_test, y_test)``. The model itself trains on untouched.

    Returns:
        A :class:`TrainingResult`.
    """
    import keras

    if optimizer not in OPTIMIZERS:
        raise ModelError(f"Unknown optimizer: {optimizer!r}. Choose one of {list(OPTIMIZERS)}.")
    if epochs < 1 or batch_size < 1:
        raise ModelError(f"epochs and batch_size must be >= 1; got {epochs} and {batch_size}")
    wanted = sorted({int(e) for e in checkpoint_epochs})
    outside = [e for e in wanted if not 1 <= e <= epochs]
    if outside:
        raise ModelError(f"Checkpoint epochs must be within 1..{epochs} (the epochs trained); got {outside}.")
    opt = (keras.optimizers.SGD if optimizer == "sgd" else keras.optimizers.Adam)(learning_rate)
    model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = [_epoch_callback(on_epoch_end, epochs)] if on_epoch_end else []
    checkpoints: dict[int, Checkpoint] = {}
    if wanted:
        callbacks.insert(0, _checkpoint_callback(model, set(wanted), checkpoints))
    start = time.perf_counter()
    fit = model.fit(
        x_train,
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        validation_split=validation_split,
        callbacks=callbacks,
        verbose=0,
    )
    test_loss, test_accuracy = model.evaluate(x_test, y_test, batch_size=1024, verbose=0)
    seconds = time.perf_counter() - start
    for checkpoint in checkpoints.values():
        checkpoint.test_accuracy = evaluate_accuracy(model_with_weights(model, checkpoint.weights), x_test, y_test)
    return TrainingResult(
        history={k: [float(v) for v in values] for k, values in fit.history.items()},
        test_loss=float(test_loss),
        test_accuracy=float(test_accuracy),
        seconds=seconds,
        checkpoints=checkpoints,
    )


def _checkpoint_callback(model: "keras.Model", epochs: set[int], into: dict[int, Checkpoint]):
    """A Keras callback that copies ``model``'s weights after each epoch in ``epochs``."""
    import keras

    class CheckpointCallback(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 in epochs:
                weights = [np.array(w, copy=True) for w in model.get_weights()]
                logs = {k: float(v) for k, v in (logs or {}).items()}
                into[epoch + 1] = Checkpoint(epoch + 1, weights, logs)

    return CheckpointCallback()


def save_model(
    workspace: "Workspace",
    model: "keras.Model",
    name: str,
    *,
    dataset: str,
    test_accuracy: float | None = None,
    input_scale: str = "0-1",
    meta: dict | None = None,
    creator: str = "",
) -> "ModelRecord":
    """Saves ``model`` in ``workspace`` as ``.keras`` and lists it under a unique name.

    The model is written straight into the workspace's temporary file
    (``model.save``) and handed to :meth:`~featlib.store.Workspace.save_model_file`
    with its :func:`fingerprint` and :func:`architecture_summary`. When ``name``
    is taken, ``name-2``, ``name-3``, ... is used instead: nothing saved earlier
    is overwritten. ``meta["provenance"]`` is completed with the model's
    fingerprint and the library versions.

    Raises:
        ValueError: an empty name.
    """
    return workspace.save_model_file(
        lambda path: model.save(path), name, fingerprint=fingerprint(model), architecture=architecture_summary(model),
        dataset=dataset, test_accuracy=test_accuracy, input_scale=input_scale, meta=meta, creator=creator,
    )  # fmt: skip


def model_from_bytes(data: bytes) -> "keras.Model":
    """Loads a ``.keras`` file's bytes with Keras's ``safe_mode`` (the bytes featlib itself saved)."""
    import keras

    with tempfile.TemporaryDirectory(prefix="featlib-model-") as folder:
        path = Path(folder) / "model.keras"
        path.write_bytes(data)
        return keras.saving.load_model(path, compile=False, safe_mode=True)


def model_to_bytes(model: "keras.Model") -> bytes:
    """The bytes of ``model`` saved as a ``.keras`` file."""
    with tempfile.TemporaryDirectory(prefix="featlib-model-") as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return path.read_bytes()


def save_checkpoints(
    workspace: "Workspace",
    model: "keras.Model",
    result: TrainingResult,
    final: "ModelRecord",
    *,
    dataset: str,
    meta: dict | None = None,
    creator: str = "",
) -> list["ModelRecord"]:
    """Saves each of ``result``'s checkpoints as its own workspace model.

    Each is named ``<final name>@epoch<n>`` (``mlp-digits@epoch1``) and records
    ``meta={"checkpoint_of": final.id, "epoch": n, ...}`` beside ``meta``, its
    test accuracy and the history up to its epoch.

    Args:
        workspace: where to save.
        model: the trained model (its architecture is reused; it is not changed).
        result: what :func:`train` returned, with ``checkpoints``.
        final: the workspace record of the trained model.
        dataset: the dataset name recorded with each checkpoint.
        meta: more to record with each (optimizer, learning rate, ...).
        creator: who made them (as for the trained model).

    Returns:
        The records saved, by epoch.
    """
    records = []
    for epoch, checkpoint in sorted(result.checkpoints.items()):
        history = {k: v[:epoch] for k, v in result.history.items()}
        records.append(
            save_model(
                workspace, model_with_weights(model, checkpoint.weights), f"{final.name}@epoch{epoch}", dataset=dataset,
                test_accuracy=checkpoint.test_accuracy, input_scale=final.input_scale,
                **({"creator": creator} if creator else {}),
                meta={**(meta or {}), "history": history, "epochs": epoch, "checkpoint_of": final.id, "epoch": epoch},
            )
        )  # fmt: skip
    return records


def model_with_weights(model: "keras.Model", weights: Sequence[np.ndarray]) -> "keras.Model":
    """A new model with ``model``'s architecture and layer names and the given weights.

    ``model`` is left as it is (``keras.models.clone_model``, then ``set_weights``).
    """
    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(list(weights))
    return clone


def parse_epochs(text: str, epochs: int) -> tuple[int, ...]:
    """``"1, 5"`` → ``(1, 5)``: checkpoint epochs for a training of ``epochs`` epochs.

    The last epoch is dropped (the trained model is that checkpoint); an empty
    text gives ``()``.

    Raises:
        ModelError: for a part that is not a whole number or lies outside ``1..epochs``.
    """
    parts = [part for part in str(text).replace(" ", ",").split(",") if part.strip()]
    try:
        chosen = sorted({int(part) for part in parts})
    except ValueError:
        raise ModelError(f"Checkpoint epochs must be whole numbers separated by commas, like '1, 5'; got {text!r}.") from None
    outside = [e for e in chosen if not 1 <= e <= epochs]
    if outside:
        raise ModelError(f"Checkpoint epochs must be within 1..{epochs} (the epochs to train); got {outside} in {text!r}.")
    return tuple(e for e in chosen if e != epochs)


def evaluate_accuracy(model: "keras.Model", x: np.ndarray, y: np.ndarray, output: int | str | None = None) -> float:
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


def predict_labels(model: "keras.Model", x: np.ndarray, batch_size: int = 1024,
                   output: int | str | None = None) -> np.ndarray:  # fmt: skip
    """Predicted class of each input: the argmax of one output, int64 ``(n,)``.

    Args:
        output: the output read, by name or position (see :func:`output_index`); ``None`` for a
            model with one output.

    Raises:
        ModelError: no such output, or ``None`` for a model with several outputs.
        NonFiniteError: the output holds NaN or inf (:class:`featlib.nonfinite.NonFiniteError`): no
            class can be read from it, so no accuracy is reported.
    """
    from featlib.nonfinite import check_outputs

    outputs = predict_output(model, x, batch_size, output)
    check_outputs(outputs, "the model's output" if output is None else f"the model's output {output!r}",
                  "predict function (scoring)")
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


def model_outputs(model: "keras.Model") -> list[OutputInfo]:
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


def classification_outputs(model: "keras.Model", num_classes: int) -> list[OutputInfo]:
    """The outputs that can classify data of ``num_classes`` classes: those with exactly one value per class.

    Returns:
        The fitting outputs in the order of ``model.outputs`` (possibly empty).
    """
    return [info for info in model_outputs(model) if info.width == int(num_classes)]


def describe_outputs(outputs: Sequence[OutputInfo]) -> str:
    """``"head_a (12 units) and head_b (1 unit)"``: outputs as messages name them."""
    return _and([info.label for info in outputs]) if outputs else "no outputs"


def default_output(model: "keras.Model", num_classes: int) -> int:
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


def output_index(model: "keras.Model", output: int | str | None) -> int:
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
        if output == info.name or (isinstance(output, (int, np.integer)) and not isinstance(output, bool)
                                   and int(output) == info.index):  # fmt: skip
            return info.index
    if not outputs and output in (0, None):
        return 0
    raise ModelError(f"No such output: {output!r}. The model's outputs are {describe_outputs(outputs)}.")


def recorded_output(model: "keras.Model", output: int | str | None, num_classes: int) -> int:
    """The position of the output to predict from for a saved model whose record names ``output``.

    ``output`` is the record's ``meta["output"]``; unset (every model with one output, and models
    saved before outputs could be chosen), :func:`default_output` for ``num_classes`` classes.

    Raises:
        ModelError: no such output, or none fits ``num_classes``.
    """
    return default_output(model, num_classes) if output is None else output_index(model, output)


def choose_output(model: "keras.Model", num_classes: int, output: int | str | None = None) -> OutputInfo:
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


def predict_output(model: "keras.Model", x: np.ndarray, batch_size: int = 1024,
                   output: int | str | None = None) -> np.ndarray:  # fmt: skip
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
        import keras

        model = keras.Model(model.inputs, model.outputs[index])
    step = min(batch_size, len(x)) or 1
    batches = [np.asarray(model.predict_on_batch(padded(x[start : start + step], step)))[: len(x[start : start + step])]
               for start in range(0, len(x), step)]  # fmt: skip
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


def fingerprint(model: "keras.Model") -> str:
    """A 16-hex-digit digest of the model's architecture and weights."""
    digest = hashlib.sha256(json.dumps(model.get_config(), sort_keys=True, default=str).encode())
    for weights in model.get_weights():
        digest.update(str(weights.shape).encode())
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()[:16]


def layer_table(model: "keras.Model") -> list[LayerInfo]:
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


def activations(model: "keras.Model") -> dict[str, str]:
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
            if not after and position + 1 < len(layers) and id(layers[position + 1]) in reads \
                    and reads[id(layers[position + 1])] is None:  # a graph Keras cannot trace: the next layer
                after = [layers[position + 1]]
            notes[layer.name] = (f"none: pre-activation; {_activation_function(after[0])} in {after[0].name}"
                                 if after else "none")  # fmt: skip
        else:
            notes[layer.name] = ""
    return notes


def other_side_of_activation(model: "keras.Model", layer: str) -> tuple[str, str] | None:
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
_NORMALISATION_LAYERS = frozenset({"BatchNormalization", "LayerNormalization", "GroupNormalization",
                                   "UnitNormalization", "RMSNormalization"})
# Identity at inference (Keras calls them with training=False when a model predicts).
_INFERENCE_IDENTITY_LAYERS = frozenset({"Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                                        "AlphaDropout", "GaussianDropout", "GaussianNoise", "ActivityRegularization"})
_PREPROCESSING_LAYERS = frozenset({"Rescaling", "Normalization", "Resizing", "CenterCrop"})
_SOFTMAX_FUNCTIONS = frozenset({"softmax", "log_softmax"})
_ACTIVATION_KINDS = _ACTIVATION_LAYERS | {"Softmax"}
_FUNCTION_OF_KIND = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "PReLU": "prelu", "ELU": "elu",
                     "ThresholdedReLU": "thresholded_relu", "Softmax": "softmax"}  # fmt: skip
SUMMARY_MAX_CHARS = 200
_TOKEN_MAX_CHARS = 40


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


def choose_default_layer(model: "keras.Model") -> DefaultLayer:
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

    Raises:
        ModelError: the model has no layers.
    """
    layers = _body_layers(model)
    if not layers:
        raise ModelError("The model has no layers (expected at least one layer after its input); "
                         "there is no layer to show.")
    seed = _seed_default(layers, model)
    if seed is not None:
        return seed
    weighted = [layer for layer in layers if _is_weighted(layer)]
    outputs = _output_layers(model, weighted)
    hidden = [layer for layer in weighted if layer not in outputs]
    if hidden:
        return _after_activation(hidden[-1], layers)
    return _without_hidden_layer(layers, weighted)


def hidden_layers(model: "keras.Model", *, after_activation: bool = True, output: bool = False) -> list[str]:
    """The model's hidden representations in order, each named as :func:`choose_default_layer` would read it.

    Args:
        model: a loaded model.
        after_activation: read each hidden weighted layer after its activation and normalisation
            (``activation`` for the seed's ``dense``), else the weighted layer itself (``dense``).
        output: also list the output layer (after its softmax when ``after_activation``).

    Returns:
        Layer names, input side first: ``["activation", "activation_1"]`` for the seed MLP
        (``["dense", "dense_1"]`` with ``after_activation=False``); the default layer alone for a
        model without hidden weighted layers.
    """
    layers = _body_layers(model)
    weighted = [layer for layer in layers if _is_weighted(layer)]
    outputs = _output_layers(model, weighted) if weighted else []
    chosen = [layer for layer in weighted if layer not in outputs] + (outputs if output else [])
    if not chosen:
        return [default_layer(model)] if layers else []
    if not after_activation:
        return [layer.name for layer in chosen]
    names = []
    for layer in chosen:
        after = [f for f in _followers(layer, layers) if _kind(f) not in _INFERENCE_IDENTITY_LAYERS]
        if layer in outputs and not after:  # the seed's softmax is its own Activation layer, not a follower
            after = [f for f in layers[layers.index(layer) + 1:layers.index(layer) + 2]
                     if _kind(f) in _ACTIVATION_KINDS and _input_producer(f) in (layer, None)]  # fmt: skip
        names.append((after[-1] if after else layer).name)
    return names


def default_layer(model: "keras.Model") -> str:
    """The name of the layer to show first: :func:`choose_default_layer`'s ``name``.

    ``dense_1`` for the seed MLP; for other models the last hidden layer after its activation and
    normalisation (``leaky_re_lu_1`` for ... Dense 64 → LeakyReLU → Dropout → Dense 10).
    """
    return choose_default_layer(model).name


def default_layer_reason(model: "keras.Model") -> str:
    """Why :func:`default_layer` chose its layer: :func:`choose_default_layer`'s one-sentence ``reason``."""
    return choose_default_layer(model).reason


def _body_layers(model: "keras.Model") -> list:
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


def _output_layers(model: "keras.Model", weighted: list) -> list:
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


def _followers(hidden, layers: list) -> list:
    """The follower layers directly after ``hidden``, in order (stops at the first other layer)."""
    chain = []
    previous = hidden
    for layer in layers[layers.index(hidden) + 1:]:
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
    trailing = [_kind(layer) for layer in (chain[chain.index(chosen) + 1:] if kept else chain)]
    note = f"; the {_and(trailing)} after it {'changes' if len(trailing) == 1 else 'change'} nothing at inference" \
        if trailing else ""  # fmt: skip
    if chosen is hidden:
        return DefaultLayer(hidden.name, f"{hidden.name}: the last hidden layer ({_label(hidden)}){note}.")
    after = _and([_follower_label(layer) for layer in kept])
    reason = f"{chosen.name}: the last hidden layer ({hidden.name}, {_label(hidden)}) after its {after}{note}."
    return DefaultLayer(chosen.name, reason, alternative=hidden.name)


def _seed_default(layers: list, model: "keras.Model") -> DefaultLayer | None:
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
    reason = (f"{dense.name}: the last hidden layer ({_label(dense)}) before its {function} activation, as the seed "
              f"script read it; {activation.name} is the same layer after its {function}.")
    return DefaultLayer(dense.name, reason, alternative=activation.name)


def _without_hidden_layer(layers: list, weighted: list) -> DefaultLayer:
    """The default for a model without a hidden weighted layer."""
    if not weighted:
        last = layers[-1]
        return DefaultLayer(last.name, f"{last.name}: the model's last layer (it has no layer with weights).")
    output = weighted[-1]
    before = [layer for layer in layers[:layers.index(output)] if _kind(layer) not in _INFERENCE_IDENTITY_LAYERS]
    if before:
        chosen = before[-1]
        return DefaultLayer(chosen.name, f"{chosen.name}: the input of the output layer {output.name} "
                                         f"({_label(output)}); the model has no hidden layer with weights.")
    return DefaultLayer(output.name, f"{output.name}: the output layer ({_label(output)}); the model has no "
                                     "hidden layer.")


def architecture_summary(model: "keras.Model") -> str:
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
    return text if len(text) <= SUMMARY_MAX_CHARS else text[:SUMMARY_MAX_CHARS - 1] + "…"


def _param_text(model: "keras.Model") -> str:
    try:
        return f"{int(model.count_params()):,} params"
    except (AttributeError, ValueError, RuntimeError):
        return "? params"


def _shape_text(shape) -> str:
    """``(None, 28, 28, 1)`` → ``"28×28×1"`` (the batch axis dropped, unknown sizes as ``?``)."""
    return "×".join("?" if d is None else str(int(d)) for d in tuple(shape)[1:]) or "scalar"


def _dense_stack_widths(model: "keras.Model", layers: list) -> list[str] | None:
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


def _is_chain(model: "keras.Model", layers: list) -> bool:
    """Whether ``layers`` form one chain (each reads the one before it) ending in the model's single output."""
    try:
        outputs = list(model.outputs or [])
    except (AttributeError, ValueError, RuntimeError):
        return False
    if len(outputs) != 1 or _producer(outputs[0]) not in (None, layers[-1]):
        return False
    return all(_input_producer(layer) in (None, before) for before, layer in zip(layers, layers[1:]))


def _inputs_text(model: "keras.Model") -> str:
    try:
        shapes = [_shape_text(t.shape) for t in (model.inputs or [])]
    except (AttributeError, ValueError, RuntimeError):
        shapes = []
    if not shapes:
        return "input ?"
    text = ("input " if len(shapes) == 1 else "inputs ") + ", ".join(shapes)
    return text if len(text) <= _TOKEN_MAX_CHARS else text[:_TOKEN_MAX_CHARS - 1] + "…"


def _output_text(model: "keras.Model", layers: list) -> str:
    """``" · output 10"`` (``" · outputs 10, 1"``), or ``""`` when the last Dense already states the width."""
    try:
        shapes = [tuple(t.shape) for t in (model.outputs or [])]
    except (AttributeError, ValueError, RuntimeError):
        return " · output ?"
    widths = ["?" if any(d is None for d in s[1:]) else str(int(np.prod(s[1:], dtype=np.int64))) for s in shapes]
    if len(widths) == 1 and _last_dense_states(layers, shapes[0]):
        return ""
    text = ("output " if len(widths) == 1 else "outputs ") + ", ".join(widths)
    return " · " + (text if len(text) <= _TOKEN_MAX_CHARS else text[:_TOKEN_MAX_CHARS - 1] + "…")


def _last_dense_states(layers: list, output_shape: tuple) -> bool:
    """Whether the last layer with ``units`` outputs ``output_shape`` and only followers come after it."""
    for i in range(len(layers) - 1, -1, -1):
        if isinstance(getattr(layers[i], "units", None), int):
            try:
                same = tuple(layers[i].output.shape) == output_shape
            except (AttributeError, ValueError, RuntimeError):
                return False
            rest = layers[i + 1:]
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
    return text if len(text) <= _TOKEN_MAX_CHARS else text[:_TOKEN_MAX_CHARS - 1] + "…"


def _runs(tokens: list[str], longest: int = 4) -> list[tuple[str, int]]:
    """Folds repeats: ``[a, b, a, b, c]`` → ``[("(a → b) ×2", 4), ("c", 1)]``: (text, layers it stands for)."""
    parts: list[tuple[str, int]] = []
    i = 0
    while i < len(tokens):
        size, repeats = 1, 1
        for n in range(1, longest + 1):
            pattern = tokens[i:i + n]
            if len(pattern) < n:
                break
            r = 1
            while tokens[i + r * n:i + (r + 1) * n] == pattern:
                r += 1
            if r > 1 and n * r > size * repeats:
                size, repeats = n, r
        pattern = tokens[i:i + size]
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


def check_layer(model: "keras.Model", layer_name: str) -> None:
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


def nested_layers_note(model: "keras.Model") -> str | None:
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
        sentences.append(f"{layer.name} is a nested {_kind(layer)} model; {listed} "
                         f"{'are' if len(inner) != 1 else 'is'} read only as {layer.name}'s output.")
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


def _enclosing_path(model: "keras.Model", layer_name: str) -> tuple[str, str] | None:
    """``("encoder/inner_dense", "encoder")`` when ``layer_name`` (a name or path) is in a nested model, else None."""
    for layer in model.layers:
        if not _is_nested(layer):
            continue
        for path, inner in _inner_layers(layer):
            full = f"{layer.name}/{path}"
            if layer_name in (inner.name, full):
                return full, layer.name
    return None


# Layers that may come before a model's Rescaling / Normalization without changing the pixel values'
# scale: shape only, resizing and cropping, identity at inference (plus augmentation, ``Random*``).
_BEFORE_PREPROCESSING = frozenset({"InputLayer", "Reshape", "Flatten", "Resizing", "CenterCrop"}) \
    | _INFERENCE_IDENTITY_LAYERS  # fmt: skip


def implied_input_scale(model: "keras.Model") -> str | None:
    """The input scaling a model's own preprocessing implies: a key of :data:`INPUT_SCALES`, or None.

    ``"0-255"`` when the model starts with a ``Rescaling`` by a small factor (``1/255``, ``1/127.5``)
    or a ``Normalization`` whose mean is above 1 (fitted on raw pixels); ``"0-1"`` when it starts
    with a ``Rescaling`` by a factor above 0.5 or a ``Normalization`` fitted on values in 0..1;
    None when the model has no such layer at its input or it says neither (see
    :func:`first_preprocessing_layer`, :func:`scale_implied_by`).

    Example:
        >>> implied_input_scale(keras.Sequential([keras.Input((8, 8)), keras.layers.Rescaling(1 / 255),
        ...                                       keras.layers.Flatten(), keras.layers.Dense(10)]))  # doctest: +SKIP
        '0-255'
    """
    layer = first_preprocessing_layer(model)
    return None if layer is None else scale_implied_by(layer)[0]


def first_preprocessing_layer(model: "keras.Model"):
    """The first ``Rescaling`` or ``Normalization`` layer among the model's leading layers, or None.

    Leading layers are those before the first layer that computes anything from the pixels: shape
    layers (``Flatten``, ``Reshape``), ``Resizing`` and ``CenterCrop``, augmentation (``Random*``) and
    layers that are the identity at inference (``Dropout``, ...) are passed over, and a nested model
    at the start (a ``preprocessing`` Sequential) is looked into.
    """
    return _leading_preprocessing(model.layers)[0]


def _leading_preprocessing(layers: Sequence) -> tuple[object | None, bool]:
    """(the first Rescaling/Normalization among ``layers``' leading ones or None, whether another layer came first)."""
    for layer in layers:
        kind = _kind(layer)
        if kind in ("Rescaling", "Normalization"):
            return layer, True
        if _is_nested(layer):
            found, stopped = _leading_preprocessing(layer.layers)
            if found is not None or stopped:
                return found, True
        elif kind not in _BEFORE_PREPROCESSING and not kind.startswith("Random"):
            return None, True
    return None, False


def scale_implied_by(layer) -> tuple[str | None, str]:
    """(the input scaling a ``Rescaling`` or ``Normalization`` layer implies or None, what was read from it).

    ``Rescaling``: a factor below 0.1 in size implies raw pixels ``"0-255"`` (``1/255``, ``1/127.5``),
    above 0.5 pixels in 0..1 ``"0-1"``. ``Normalization``: a mean above 1 implies ``"0-255"`` (values
    in 0..1 cannot average above 1), a mean in 0..1 ``"0-1"``; a negative mean, an inverting layer
    and one never adapted (mean 0, variance 1) imply nothing. What was read is a phrase such as
    ``"it multiplies its inputs by 0.003922"`` or ``"the mean it subtracts is 33.6 on average"``.
    """
    if _kind(layer) == "Rescaling":
        factor = _mean_of(getattr(layer, "scale", None))
        if factor is None:
            return None, "its scale could not be read"
        expected = "0-255" if abs(factor) < 0.1 else "0-1" if abs(factor) > 0.5 else None
        return expected, f"it multiplies its inputs by {factor:.4g}"
    mean = _mean_of(getattr(layer, "mean", None))
    if mean is None:
        return None, "its mean could not be read"
    what = f"the mean it subtracts is {mean:.3g} on average"
    if getattr(layer, "invert", False):
        return None, f"it inverts a normalisation ({what})"
    if mean == 0.0 and _mean_of(getattr(layer, "variance", None)) == 1.0:
        return None, "its mean is 0 and its variance 1, so it passes its inputs through (it was never adapted)"
    return ("0-255" if mean > 1.0 else "0-1" if mean >= 0.0 else None), what


def _mean_of(value) -> float | None:
    """The mean of a number, list, array or tensor, or None when it cannot be read as numbers."""
    if value is None:
        return None
    try:
        import keras

        array = np.asarray(keras.ops.convert_to_numpy(value), dtype="float64")
    except (TypeError, ValueError, AttributeError):
        return None
    return float(array.mean()) if array.size and np.all(np.isfinite(array)) else None


def output_units(model: "keras.Model", layer_name: str) -> int:
    """How many values ``layer_name`` outputs per image (its output shape without the batch axis, multiplied out).

    Raises:
        ModelError: no such layer (naming the existing ones), or its output size is not fixed.
    """
    check_layer(model, layer_name)
    shape = model.get_layer(layer_name).output.shape[1:]
    if any(d is None for d in shape):
        raise ModelError(f"Layer {layer_name} has no fixed output size: its output shape is {tuple(shape)}.")
    return int(np.prod(shape, dtype=np.int64))


def adapt_images(images: np.ndarray, model: "keras.Model", scale: str = "0-1") -> np.ndarray:
    """Turns uint8 images ``(n, h, w)`` into inputs that fit ``model``.

    Handles flat inputs (``h*w``), ``(h, w)`` and ``(h, w, 1)`` or ``(h, w, 3)``
    image inputs, and resizes square images to the model's size (e.g. 8×8
    digits for a 28×28 model) with bilinear interpolation.

    Args:
        images: uint8 array of shape ``(n, h, w)``.
        model: the model whose single input the result must fit.
        scale: ``"0-1"`` divides by 255 (the seed); ``"0-255"`` keeps raw values.

    Returns:
        A float32 array of shape ``(n, *model_input_shape)``.

    Raises:
        InputMismatchError: when the images cannot meaningfully fit the input, including an
            input with unknown sizes other than a free image size (``(None, None, 1)`` fits any
            size; ``(None,)``, ``(None, 64)`` or ``(28, 28, None)`` fit none).
    """
    if scale not in INPUT_SCALES:
        raise ModelError(f"Unknown input scale: {scale!r}. Choose one of {list(INPUT_SCALES)}.")
    target = input_shape(model)
    n, h, w = images.shape
    _check_known_sizes(target, h, w)
    if len(target) == 1:
        side = int(round(np.sqrt(target[0])))
        if side * side != target[0]:
            raise InputMismatchError(
                f"The model expects flat inputs of {target[0]} values, which is not a square "
                f"image; the data are {h}×{w} images ({h * w} values). Pick a model made for "
                f"{h}×{w} images or a dataset that fits it."
            )
        size, channels, flat = (side, side), 0, True
    elif len(target) in (2, 3):
        size, flat = (target[0], target[1]), False
        channels = target[2] if len(target) == 3 else 0
        if channels not in (0, 1, 3):
            raise InputMismatchError(
                f"The model expects images with {channels} channels; featlib's datasets are "
                f"grayscale (1 channel, or 3 by repetition). Got input shape {target}."
            )
    else:
        raise InputMismatchError(
            f"The model's input shape {target} is not an image or a flat vector; "
            f"the data are {h}×{w} images."
        )
    if None in size:
        size = (h, w)
    if (h == w) != (size[0] == size[1]):
        raise InputMismatchError(
            f"The model expects {size[0]}×{size[1]} images; the data are {h}×{w} images and "
            "cannot be resized without distortion."
        )
    x = images.astype("float32")
    if (h, w) != tuple(size):
        x = _resize(x, size)
    if scale == "0-1":
        x /= 255.0
    if flat:
        return x.reshape(n, -1)
    if channels:
        x = np.repeat(x[..., None], channels, axis=-1)
    return x


def _check_known_sizes(target: tuple, h: int, w: int) -> None:
    """Refuses an input shape whose unknown sizes featlib cannot fill from ``h×w`` images.

    An image input may leave both its height and width unknown (they are taken from the data);
    any other unknown size (a flat length, one side only, the channels) says nothing of the
    image the model reads.

    Raises:
        InputMismatchError: naming the input shape, the data's size and the fix.
    """
    if None not in target or len(target) not in (1, 2, 3):
        return
    if len(target) > 1 and target[0] is None and target[1] is None and None not in target[2:]:
        return
    where = ("its length" if len(target) == 1 else "the number of channels" if None in target[2:]
             else "one side of the image")  # fmt: skip
    raise InputMismatchError(
        f"The model's input shape per image is {target}: {where} is unknown (None), so featlib cannot tell "
        f"what image it reads; the data are {h}×{w} images. (A Keras 2 model whose batch_input_shape "
        "[None, 64] was read as the shape of one image has input (None, 64).) Expected a known input size: "
        f"re-save the model from keras.Input(shape=(...)) with every size given, e.g. ({h * w},) or "
        f"({h}, {w}, 1)."
    )


def _resize(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import keras

    resized = keras.ops.image.resize(images[..., None], size, interpolation="bilinear", antialias=True)
    return np.clip(keras.ops.convert_to_numpy(resized)[..., 0], 0.0, 255.0).astype("float32")


def input_shape(model: "keras.Model") -> tuple:
    """The shape of one sample of the model's single input.

    Raises:
        ModelError: when the model has several inputs or no layers, or was saved before it was
            built (no input shape, no weights).
    """
    inputs = getattr(model, "inputs", None) or []
    if not model.layers:
        raise ModelError("The model has no layers (expected at least one layer after its input); "
                         "there is nothing to look into.")
    if not inputs and not getattr(model, "built", True):
        raise ModelError(_unbuilt_message(model))
    if len(inputs) != 1:
        raise ModelError(
            f"featlib reads models with exactly one image input; this model has {len(inputs)} "
            "inputs."
        )
    return tuple(inputs[0].shape[1:])


def _unbuilt_message(model: "keras.Model") -> str:
    """Why a model saved before it was built cannot be read, and how to save it built."""
    count = len(model.layers)
    return (
        f"This {type(model).__name__} model ({model.name}, {count} layer{'s' if count != 1 else ''}) was saved "
        "before it was built: it has no input shape and no weights (Keras creates them the first time the "
        "model sees data), so there is nothing to read. Expected a built model: start it with an input, e.g. "
        "keras.Sequential([keras.Input(shape=(784,)), ...]), or call it once on a batch (model(x[:1])), "
        "train it, then save it again."
    )


def check_model_archive(path: str | Path) -> None:
    """Refuses a ``.keras`` file that is not a zip, is a zip bomb, is a SavedModel or holds code.

    ``keras.saving.load_model(..., safe_mode=True)`` already refuses
    ``Lambda`` layers; this check runs first so that no part of a hostile
    archive is inflated beyond ``config.json`` and the message names the reason.
    """
    path = Path(path)
    _check_size(path)
    if not zipfile.is_zipfile(path):
        raise ModelError(
            f"{path.name} is not a Keras 3 .keras file (a .keras file is a zip archive); "
            "it may be truncated or another format."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _refuse_savedmodel_zip(members, path.name)
            inflated, packed = archives.declared_sizes(members)
            if archives.is_bomb(inflated, packed, MAX_MODEL_INFLATED_BYTES):
                raise ModelError(
                    f"{path.name} would inflate to {inflated:,} bytes from {packed:,} (ratio "
                    f"{inflated / packed:,.0f}x); the limits are {MAX_MODEL_INFLATED_BYTES:,} bytes "
                    f"and {archives.BOMB_MAX_RATIO}x above {archives.BOMB_MIN_BYTES:,} bytes: "
                    "refusing a possible zip bomb."
                )
            names = {m.filename for m in members}
            if "config.json" not in names:
                raise ModelError(
                    f"{path.name} has no config.json; it is not a Keras 3 model file (members: "
                    f"{sorted(names)[:10]})."
                )
            raw = archive.read("config.json")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as error:
        raise ModelError(f"{path.name} is a damaged zip archive: {error}") from error
    config = parse_config(raw, path.name, "config.json")
    _refuse_code_layers(config, path.name)


def check_h5(path: str | Path) -> None:
    """Refuses a legacy ``.h5`` model whose stored config holds code or non-Keras objects."""
    import h5py

    path = Path(path)
    _check_size(path)
    try:
        with h5py.File(path, "r") as h5:
            raw = h5.attrs.get("model_config")
    except OSError as error:
        raise ModelError(f"{path.name} is not a readable HDF5 (.h5) file: {error}") from error
    if raw is None:
        raise ModelError(f"{path.name} holds weights only (no model_config); upload a whole model.")
    config = parse_config(raw, path.name, "model_config")
    _refuse_code_layers(config, path.name)


def check_savedmodel(path: str | Path) -> None:
    """Refuses a SavedModel folder or a zip of one, naming the reason; other files pass."""
    path = Path(path)
    if path.is_dir():
        found = [name for name in _SAVEDMODEL_FILES if (path / name).exists()]
        what = f"a TensorFlow SavedModel folder (it holds {found[0]})" if found else "a folder"
        raise ModelError(f"{path.name} is {what}, not a model file. {_SAVEDMODEL_REASON}")
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                _refuse_savedmodel_zip(archive.infolist(), path.name)
        except (zipfile.BadZipFile, OSError) as error:
            raise ModelError(f"{path.name} is a damaged zip archive: {error}") from error


def _refuse_savedmodel_zip(members: list[zipfile.ZipInfo], filename: str) -> None:
    found = [m.filename for m in members if m.filename.rsplit("/", 1)[-1] in _SAVEDMODEL_FILES]
    if found:
        raise ModelError(
            f"{filename} is a zipped TensorFlow SavedModel (it holds {found[0]}), not a Keras 3 "
            f".keras file. {_SAVEDMODEL_REASON}"
        )


def _check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ModelError(f"No such model file: {str(path)!r}.") from None
    if size == 0:
        raise ModelError(f"The model file {path.name} is empty (0 bytes); expected a .keras or .h5 model.")
    if size > upload_limit_bytes():
        raise ModelError(too_big_message(path.name, size))


def too_big_message(filename: str, size: int) -> str:
    """The message for a model file over ``MAX_MODEL_BYTES``."""
    return (
        f"The model file {filename} is {size:,} bytes; model files are limited to {upload_limit_bytes():,} "
        f"bytes (MAX_MODEL_BYTES; raise it with {UPLOAD_LIMIT_ENV})."
    )


def parse_config(raw: object, filename: str, what: str) -> object:
    """A model config's JSON (``config.json`` of a ``.keras``, an ``.h5``'s ``model_config``) as Python objects.

    Raises:
        ModelError: the text is not JSON, not text, or nested deeper than Python's recursion limit.
    """
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
        if not isinstance(text, str):
            raise ValueError(f"expected JSON text, got {type(raw).__name__}")
        return json.loads(text)
    except RecursionError:
        raise ModelError(
            f"{filename} has a {what} nested too deeply to read (expected a Keras model config, "
            "got JSON deeper than Python's recursion limit); refused."
        ) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelError(f"{filename} has an unreadable {what} (expected JSON): {_first_line(error)}") from error


def _refuse_code_layers(config: object, filename: str) -> None:
    """Refuses code layers and any object that is not Keras's own, naming where it is."""
    try:
        objects = list(_config_objects(config, ""))
    except RecursionError:
        raise ModelError(f"{filename} has a model config nested too deeply to check; refused.") from None
    found = sorted({obj["class_name"] for _, obj in objects} & _CODE_LAYERS)
    if found:
        what = [f"{name} layer(s)" for name in found if name != "__lambda__"]
        what += ["a serialized Python lambda (__lambda__)"] if "__lambda__" in found else []
        raise ModelError(
            f"{filename} contains {' and '.join(what)}, which can run arbitrary Python code; "
            "featlib refuses to load them. Rebuild the model without Lambda layers or lambdas."
        )
    for where, obj in objects:
        where = where or "the top level"
        problem = _foreign_object(obj)
        if problem:
            raise ModelError(
                f"{filename} names {problem} in its config (at {where}); featlib loads only Keras's own "
                "layers and modeling functions, since any other callable named in a model file can run "
                "as code. Rebuild the model from Keras layers only."
            )


def _foreign_object(obj: dict) -> str | None:
    """Describes what is wrong with one serialized object, or None when it is Keras's own."""
    class_name, module = obj["class_name"], obj.get("module")
    registered = obj.get("registered_name")
    if isinstance(registered, str) and ">" in registered:
        return f"the custom registered object {registered!r} (not part of Keras)"
    if module is None:
        return None
    if not isinstance(module, str):
        return f"an object with a non-text module {module!r}"
    function = class_name == "function" or class_name[:1].islower()
    name = obj.get("config") if class_name == "function" else class_name
    name = name if isinstance(name, str) else str(registered or class_name)
    top, *rest = module.split(".")
    if top == "builtins":
        if not function:
            return f"builtins.{class_name} (expected a Keras function name)"
        if hasattr(builtins, name):
            return f"the Python builtin {name} (builtins.{name})"
        return None
    if top != "keras":
        return f"{module}.{name} (module {module!r} is not part of Keras)"
    if function and not _MODELING_NAMESPACES & set(rest):
        return f"{module}.{name} (a Keras utility, not a layer or modeling function)"
    return None


def _config_objects(config: object, where: str):
    """Yields ``(path, dict)`` for every serialized object (a dict with a text class_name)."""
    if isinstance(config, dict):
        if isinstance(config.get("class_name"), str):
            yield where, config
        for key, value in config.items():
            yield from _config_objects(value, f"{where}.{key}" if where else str(key))
    elif isinstance(config, list):
        for i, value in enumerate(config):
            yield from _config_objects(value, f"{where}[{i}]")


def load_model(path: str | Path) -> "keras.Model":
    """Loads a ``.keras`` or legacy ``.h5`` model safely.

    First, what the file declares (its config's layers and its weights file's datasets) is added
    up and refused above ``FEATLIB_MAX_MODEL_MB`` (:func:`featlib.model_budget.check_model_file`),
    before Keras builds anything. ``.keras`` files are checked by :func:`check_model_archive` and loaded with
    ``safe_mode=True``; ``.h5`` files are checked by :func:`check_h5` first;
    SavedModels (folders or zips of them) are refused by :func:`check_savedmodel`.

    Two kinds of saved graphs are rebuilt so that featlib can feed them
    (:mod:`featlib.model_repair`): Keras 2 Sequential ``.h5`` files whose first layer
    carries ``batch_input_shape`` (Keras 3 alone reads ``[None, 64]`` as ``(None, None, 64)``)
    get the ``InputLayer`` they meant, and models saved with a fixed batch size
    (``(2, 64)``) get a free one, ``(None, 64)``, with the same weights and outputs.

    Raises:
        ModelError: with the reason, for any file that cannot be used: code layers, a
            damaged file, several inputs, a model saved before it was built, a fixed batch
            size that cannot be freed, NaN or inf in a weight (a
            :class:`~featlib.nonfinite.NonFiniteError` naming the layer and weight), ...
    """
    import keras

    from featlib import model_budget, model_repair

    path = Path(path)
    suffix = path.suffix.lower()
    check_savedmodel(path)
    model_budget.check_model_file(path)  # what the config and weights declare, before anything is built
    if suffix == ".keras":
        check_model_archive(path)
    elif suffix in (".h5", ".hdf5"):
        check_h5(path)
    else:
        raise ModelError(
            f"Unsupported model file {path.name!r}: upload a Keras 3 .keras file or a legacy "
            ".h5 file (SavedModel folders are not accepted: they can run arbitrary code)."
        )
    try:
        with model_repair.keras2_input_layers(path) as readable:
            model = keras.saving.load_model(readable, compile=False, safe_mode=True)
    except ModelError:
        raise
    except Exception as error:  # Keras raises many types for bad files.
        raise ModelError(f"Keras could not load {path.name}: {_first_line(error)}") from error
    if not isinstance(model, keras.Model):
        raise ModelError(f"{path.name} does not hold a Keras model (got {type(model).__name__}).")
    input_shape(model)  # several inputs, no layers, never built: refuse now, with the reason
    from featlib.nonfinite import check_weights

    check_weights(model, path.name)  # NaN/inf weights: refused, naming the layer and weight (NonFiniteError)
    return model_repair.free_batch_axis(model, path.name)


_ANSI_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\x1b")
# Keras wraps errors raised inside a layer's call in a header line that names only the call.
_KERAS_HEADERS = ("Exception encountered when calling",)


def _first_line(error: Exception) -> str:
    """The first informative line of ``error``'s message, without terminal colour codes, at most 300 characters.

    Keras marks its messages with ANSI codes (``\\x1b[1m``) and puts ``Exception encountered
    when calling Layer.call().`` before the real reason; both are dropped.
    """
    lines = [line.strip() for line in _ANSI_CODES.sub("", str(error)).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(_KERAS_HEADERS)] or lines
    return lines[0][:300] if lines else type(error).__name__
