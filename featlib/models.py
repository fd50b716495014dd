"""Models: the seed MLP, training with progress, saving and loading, fingerprints, layers.

The seed is the classic Keras MNIST MLP (784 → Dense 128 → ReLU → Dense 64 →
ReLU → Dense 10 → softmax) with every activation its own ``Activation`` layer.
Keras is imported lazily so that ``import featlib.models`` stays cheap.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from featlib import archives
from featlib.datasets import UPLOAD_LIMIT_ENV, upload_limit_bytes

if TYPE_CHECKING:
    import keras

    from featlib.store import ModelRecord, Workspace

INPUT_SCALES = {"0-1": "pixels / 255 (as the seed)", "0-255": "raw pixels 0–255"}
OPTIMIZERS = ("sgd", "adam")
MAX_MODEL_BYTES = upload_limit_bytes()  # $FEATLIB_MAX_UPLOAD_MB, 200 MiB by default
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


class ModelError(ValueError):
    """A model file or model that featlib cannot use."""


class InputMismatchError(ModelError):
    """The data's images cannot be fed to the model's input."""


@dataclass(frozen=True)
class LayerInfo:
    """One row of a model's layer table."""

    index: int
    name: str
    type: str
    output_shape: str
    params: int


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


def evaluate_accuracy(model: "keras.Model", x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of ``model`` on ``(x, y)`` without compiling the caller's model."""
    predicted = predict_labels(model, x)
    return float(np.mean(predicted == np.asarray(y)))


def predict_labels(model: "keras.Model", x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Predicted class of each input (argmax of the model's output)."""
    out = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(out).reshape(len(x), -1).argmax(axis=1)


def fingerprint(model: "keras.Model") -> str:
    """A 16-hex-digit digest of the model's architecture and weights."""
    digest = hashlib.sha256(json.dumps(model.get_config(), sort_keys=True, default=str).encode())
    for weights in model.get_weights():
        digest.update(str(weights.shape).encode())
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()[:16]


def layer_table(model: "keras.Model") -> list[LayerInfo]:
    """Every layer of ``model``: name, type, output shape and parameter count."""
    rows = []
    for i, layer in enumerate(model.layers):
        try:
            shape = str(tuple(layer.output.shape))
        except (AttributeError, ValueError):
            shape = "?"
        rows.append(LayerInfo(i, layer.name, type(layer).__name__, shape, int(layer.count_params())))
    return rows


def default_layer(model: "keras.Model") -> str:
    """The layer to show first: the last weighted layer before the output one.

    For the seed MLP this is ``dense_1``, the 64-unit layer the seed read.
    """
    weighted = [layer.name for layer in model.layers if layer.weights]
    if len(weighted) >= 2:
        return weighted[-2]
    if len(model.layers) >= 2:
        return model.layers[-2].name
    return model.layers[-1].name


def architecture_summary(model: "keras.Model") -> str:
    """A one-line summary such as ``784-128-64-10 (Sequential, 109,386 params)``."""
    sizes = [str(int(np.prod(model.input_shape[1:])))]
    sizes += [str(layer.units) for layer in model.layers if hasattr(layer, "units")]
    return f"{'-'.join(sizes)} ({type(model).__name__}, {model.count_params():,} params)"


def check_layer(model: "keras.Model", layer_name: str) -> None:
    """Raises :class:`ModelError` naming the existing layers when absent."""
    names = [layer.name for layer in model.layers]
    if layer_name not in names:
        raise ModelError(f"No such layer: {layer_name}. Existing layers are: {names}.")


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
        InputMismatchError: when the images cannot meaningfully fit the input.
    """
    if scale not in INPUT_SCALES:
        raise ModelError(f"Unknown input scale: {scale!r}. Choose one of {list(INPUT_SCALES)}.")
    target = input_shape(model)
    n, h, w = images.shape
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


def _resize(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    import keras

    resized = keras.ops.image.resize(images[..., None], size, interpolation="bilinear", antialias=True)
    return np.clip(keras.ops.convert_to_numpy(resized)[..., 0], 0.0, 255.0).astype("float32")


def input_shape(model: "keras.Model") -> tuple:
    """The shape of one sample of the model's single input.

    Raises:
        ModelError: when the model has several inputs or no layers.
    """
    inputs = getattr(model, "inputs", None) or []
    if not model.layers:
        raise ModelError("The model has no layers (expected at least one layer after its input); "
                         "there is nothing to look into.")
    if len(inputs) != 1:
        raise ModelError(
            f"featlib reads models with exactly one image input; this model has {len(inputs)} "
            "inputs."
        )
    return tuple(inputs[0].shape[1:])


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
    config = _parse_config(raw, path.name, "config.json")
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
    config = _parse_config(raw, path.name, "model_config")
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
    if size > MAX_MODEL_BYTES:
        raise ModelError(too_big_message(path.name, size))


def too_big_message(filename: str, size: int) -> str:
    """The message for a model file over ``MAX_MODEL_BYTES``."""
    return (
        f"The model file {filename} is {size:,} bytes; model files are limited to {MAX_MODEL_BYTES:,} "
        f"bytes (MAX_MODEL_BYTES; raise it with {UPLOAD_LIMIT_ENV})."
    )


def _parse_config(raw: object, filename: str, what: str) -> object:
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

    ``.keras`` files are checked by :func:`check_model_archive` and loaded with
    ``safe_mode=True``; ``.h5`` files are checked by :func:`check_h5` first;
    SavedModels (folders or zips of them) are refused by :func:`check_savedmodel`.

    Raises:
        ModelError: with the reason, for any file that cannot be used.
    """
    import keras

    path = Path(path)
    suffix = path.suffix.lower()
    check_savedmodel(path)
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
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many types for bad files.
        raise ModelError(f"Keras could not load {path.name}: {_first_line(error)}") from error
    if not isinstance(model, keras.Model):
        raise ModelError(f"{path.name} does not hold a Keras model (got {type(model).__name__}).")
    input_shape(model)  # several inputs or no layers: refuse now, with the reason
    return model


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__
