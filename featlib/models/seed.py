"""The seed MLP and training: :func:`build_mlp`, :func:`train` with per-epoch progress and checkpoints.

The seed is the classic Keras MNIST MLP (784 → Dense 128 → ReLU → Dense 64 → ReLU → Dense 10 → softmax) with
every activation its own ``Activation`` layer. Keras is imported at its first use (:mod:`featlib.lazy`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from featlib.errors import ModelError
from featlib.lazy import keras
from featlib.models.outputs import evaluate_accuracy
from featlib.models.serialize import save_model

if TYPE_CHECKING:
    import keras

    from featlib.store import ModelRecord, Workspace


OPTIMIZERS = ("sgd", "adam")


@dataclass
class TrainingResult:
    """What :func:`train` returns: per-epoch history and the test figures."""

    history: dict[str, list[float]] = field(default_factory=dict)
    test_loss: float = float("nan")
    test_accuracy: float = float("nan")
    seconds: float = 0.0
    checkpoints: dict[int, Checkpoint] = field(default_factory=dict)


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
) -> keras.Model:
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

    class EpochCallback(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            on_epoch_end(epoch + 1, epochs, {k: float(v) for k, v in (logs or {}).items()})

    return EpochCallback()


def train(
    model: keras.Model,
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


def _checkpoint_callback(model: keras.Model, epochs: set[int], into: dict[int, Checkpoint]):
    """A Keras callback that copies ``model``'s weights after each epoch in ``epochs``."""

    class CheckpointCallback(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch + 1 in epochs:
                weights = [np.array(w, copy=True) for w in model.get_weights()]
                logs = {k: float(v) for k, v in (logs or {}).items()}
                into[epoch + 1] = Checkpoint(epoch + 1, weights, logs)

    return CheckpointCallback()


def save_checkpoints(
    workspace: Workspace,
    model: keras.Model,
    result: TrainingResult,
    final: ModelRecord,
    *,
    dataset: str,
    meta: dict | None = None,
    creator: str = "",
) -> list[ModelRecord]:
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
                workspace,
                model_with_weights(model, checkpoint.weights),
                f"{final.name}@epoch{epoch}",
                dataset=dataset,
                test_accuracy=checkpoint.test_accuracy,
                input_scale=final.input_scale,
                **({"creator": creator} if creator else {}),
                meta={**(meta or {}), "history": history, "epochs": epoch, "checkpoint_of": final.id, "epoch": epoch},
            )
        )
    return records


def model_with_weights(model: keras.Model, weights: Sequence[np.ndarray]) -> keras.Model:
    """A new model with ``model``'s architecture and layer names and the given weights.

    ``model`` is left as it is (``keras.models.clone_model``, then ``set_weights``).
    """
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
        raise ModelError(
            f"Checkpoint epochs must be whole numbers separated by commas, like '1, 5'; got {text!r}."
        ) from None
    outside = [e for e in chosen if not 1 <= e <= epochs]
    if outside:
        raise ModelError(
            f"Checkpoint epochs must be within 1..{epochs} (the epochs to train); got {outside} in {text!r}."
        )
    return tuple(e for e in chosen if e != epochs)
