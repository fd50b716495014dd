"""The classifiers people share, as small look-alikes trained here on the bundled digits.

Each entry builds, trains (a few seconds on two cores) and saves one model the
way its kind is found in public repositories, and says what a user would have
to choose to add it (input scaling) and what ``model.evaluate`` gives on the
digits' test split. Nothing is downloaded: the public MNIST models we tried are
not redistributable as fixtures, so these are look-alikes of their structures
(issue "Every Keras classifier people share", item 8).

Used by ``tests/test_model_zoo.py`` (CLI), ``tests/e2e/test_model_zoo_browser.py``
(Chromium) and ``bench/model_zoo.py`` (the figures of the closing note).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from featlib import datasets, models
from featlib.read import extract

EPOCHS = 8


@dataclass(frozen=True)
class Saved:
    """A model file made by the zoo and what featlib should report for it."""

    name: str
    path: Path
    scale: str  # the input scaling it expects, a key of featlib.models.INPUT_SCALES
    accuracy: float  # model.evaluate on the digits' test split (head A for two heads)
    output: str | None = None  # the output the accuracy comes from, for several outputs


def every_layer_by_both_methods(model, x: np.ndarray) -> dict[str, float]:
    """{layer: largest difference between the function and sub-model methods} for every non-input layer."""
    diffs = {}
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        by_function = extract.extract(model, layer.name, x, method="function")
        by_submodel = extract.extract(model, layer.name, x, method="submodel")
        assert by_function.shape == by_submodel.shape == (len(x), by_function.shape[1])
        diffs[layer.name] = float(np.max(np.abs(by_function - by_submodel)))
    return diffs


def _fit(model, x: np.ndarray, y, epochs: int = EPOCHS, **compile_args) -> None:
    import keras

    keras.utils.set_random_seed(0)
    model.compile(
        optimizer=keras.optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"] * (1 if not isinstance(y, dict) else len(y)),
        **compile_args,
    )
    model.fit(x, y, epochs=epochs, batch_size=32, verbose=0)


def _inputs(model, digits: datasets.Dataset, split: str, scale: str) -> np.ndarray:
    images, _ = digits.split(split)
    return models.adapt_images(images, model, scale)


def _evaluate(model, digits: datasets.Dataset, scale: str, output: int | None = None) -> float:
    probs = model.predict(_inputs(model, digits, "test", scale), verbose=0)
    if output is not None:
        probs = probs[output]
    return float(np.mean(np.argmax(probs, axis=1) == digits.split("test")[1]))


def mlp(folder: Path, digits: datasets.Dataset) -> Saved:
    """The seed MLP on the digits' 64 pixels."""
    model = models.build_mlp((64,), (32, 16), digits.num_classes)
    _fit(model, _inputs(model, digits, "train", "0-1"), np.asarray(digits.y_train))
    return _save(model, folder / "mlp.keras", digits, "0-1")


def cnn_batchnorm(folder: Path, digits: datasets.Dataset) -> Saved:
    """A CNN with BatchNormalization after its convolution and its hidden Dense, and Dropout."""
    import keras
    from keras import layers as kl

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            kl.Conv2D(16, 3, name="conv"),
            kl.BatchNormalization(name="conv_bn"),
            kl.ReLU(name="conv_relu"),
            kl.MaxPooling2D(name="pool"),
            kl.Flatten(name="flatten"),
            kl.Dense(32, name="hidden"),
            kl.BatchNormalization(name="hidden_bn"),
            kl.ReLU(name="hidden_relu"),
            kl.Dropout(0.2, name="dropout"),
            kl.Dense(10, activation="softmax", name="probs"),
        ],
        name="cnn_batchnorm",
    )
    _fit(model, _inputs(model, digits, "train", "0-1"), np.asarray(digits.y_train))
    return _save(model, folder / "cnn-batchnorm.keras", digits, "0-1")


def cnn_leaky_h5(folder: Path, digits: datasets.Dataset) -> Saved:
    """A Sequential CNN with separate LeakyReLU layers and Dropout, saved as a legacy ``.h5``."""
    import keras
    from keras import layers as kl

    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            kl.Conv2D(16, 3, name="conv"),
            kl.LeakyReLU(name="conv_leaky"),
            kl.MaxPooling2D(name="pool"),
            kl.Dropout(0.2, name="conv_dropout"),
            kl.Flatten(name="flatten"),
            kl.Dense(32, name="hidden"),
            kl.LeakyReLU(name="hidden_leaky"),
            kl.Dropout(0.2, name="dropout"),
            kl.Dense(10, activation="softmax", name="probs"),
        ],
        name="cnn_leaky",
    )
    _fit(model, _inputs(model, digits, "train", "0-1"), np.asarray(digits.y_train))
    return _save(model, folder / "cnn-leaky.h5", digits, "0-1")


def keras2_mlp_h5(folder: Path, digits: datasets.Dataset) -> Saved:
    """A 64-32-10 MLP in the layout tf.keras 2.x wrote: no InputLayer, ``batch_input_shape`` on the first Dense."""
    import keras
    from keras import layers as kl

    model = keras.Sequential(
        [
            keras.Input((64,)),
            kl.Dense(32, activation="relu", name="dense"),
            kl.Dense(10, activation="softmax", name="dense_1"),
        ]
    )
    _fit(model, _inputs(model, digits, "train", "0-1"), np.asarray(digits.y_train))
    accuracy = _evaluate(model, digits, "0-1")
    weights = {layer.name: {"kernel": layer.kernel.numpy(), "bias": layer.bias.numpy()} for layer in model.layers}
    path = folder / "keras2-mlp.h5"
    write_keras2_h5(
        path,
        [keras2_dense("dense", 32, "relu", batch_input_shape=[None, 64]), keras2_dense("dense_1", 10, "softmax")],
        weights,
    )
    return Saved("keras2-mlp", path, "0-1", accuracy)


def two_heads(folder: Path, digits: datasets.Dataset) -> Saved:
    """A shared trunk and two 10-way softmax heads: A reads the digit, B a shuffled labelling."""
    import keras
    from keras import layers as kl

    inputs = keras.Input((64,), name="pixels")
    trunk = kl.Dense(32, activation="relu", name="trunk")(inputs)
    head_a = kl.Dense(10, activation="softmax", name="head_a")(trunk)
    head_b = kl.Dense(10, activation="softmax", name="head_b")(trunk)
    model = keras.Model(inputs, [head_a, head_b], name="two_heads")
    y = np.asarray(digits.y_train)
    shuffled = np.random.default_rng(1).permutation(10)[y]
    _fit(model, _inputs(model, digits, "train", "0-1"), {"head_a": y, "head_b": shuffled})
    return _save(model, folder / "two-heads.keras", digits, "0-1", output=0, output_name="head_a")


def fixed_batch(folder: Path, digits: datasets.Dataset) -> Saved:
    """A Sequential built by calling it once on a batch of 2 (its input is ``(2, 64)``), then given trained weights."""
    import keras
    from keras import layers as kl

    trained = keras.Sequential(
        [keras.Input((64,)), kl.Dense(32, activation="relu"), kl.Dense(10, activation="softmax")]
    )
    _fit(trained, _inputs(trained, digits, "train", "0-1"), np.asarray(digits.y_train))
    model = keras.Sequential(
        [kl.Dense(32, activation="relu", name="hidden"), kl.Dense(10, activation="softmax", name="probs")],
        name="fixed_batch",
    )
    model(np.zeros((2, 64), "float32"))
    model.set_weights(trained.get_weights())
    assert tuple(model.inputs[0].shape) == (2, 64)
    accuracy = _evaluate(trained, digits, "0-1")
    path = folder / "fixed-batch.keras"
    model.save(path)
    return Saved("fixed-batch", path, "0-1", accuracy)


def nested(folder: Path, digits: datasets.Dataset) -> Saved:
    """A functional model wrapping a Sequential ``encoder``."""
    import keras
    from keras import layers as kl

    encoder = keras.Sequential(
        [
            keras.Input((64,)),
            kl.Dense(32, activation="relu", name="inner_dense"),
            kl.Dense(16, activation="relu", name="inner_code"),
        ],
        name="encoder",
    )
    inputs = keras.Input((64,), name="pixels")
    outputs = kl.Dense(10, activation="softmax", name="probs")(encoder(inputs))
    model = keras.Model(inputs, outputs, name="nested")
    _fit(model, _inputs(model, digits, "train", "0-1"), np.asarray(digits.y_train))
    return _save(model, folder / "nested.keras", digits, "0-1")


def rescaling_first(folder: Path, digits: datasets.Dataset) -> Saved:
    """A model that scales its own input: ``Rescaling(1/255)`` first, so it expects raw 0–255 pixels."""
    import keras
    from keras import layers as kl

    model = keras.Sequential(
        [
            keras.Input((8, 8)),
            kl.Rescaling(1 / 255, name="to_unit"),
            kl.Flatten(name="flatten"),
            kl.Dense(32, activation="relu", name="hidden"),
            kl.Dense(10, activation="softmax", name="probs"),
        ],
        name="rescaling_first",
    )
    _fit(model, _inputs(model, digits, "train", "0-255"), np.asarray(digits.y_train))
    return _save(model, folder / "rescaling-first.keras", digits, "0-255")


def augmented_resnet(folder: Path, digits: datasets.Dataset) -> Saved:
    """A residual CNN as Keras's tutorials build one (issue 23): a nested augmentation block, then
    ``Rescaling(1/255)`` (raw 0–255 pixels expected), a residual block (``Add``), global pooling, one head.

    Read by the backend function, the augmentation block must run in inference mode (both methods agree);
    its default layer is the pooled vector the head reads, not the last block's BatchNormalization.
    """
    import keras
    from keras import layers as kl

    augment = keras.Sequential(
        [
            kl.RandomRotation(0.05, seed=1, name="rotate"),
            kl.RandomTranslation(0.1, 0.1, seed=2, name="shift"),
            kl.RandomZoom(0.1, seed=3, name="zoom"),
        ],
        name="augment",
    )
    inputs = keras.Input((8, 8, 1), name="pixels")
    x = kl.Rescaling(1 / 255, name="to_unit")(augment(inputs))
    x = kl.Conv2D(16, 3, padding="same", activation="relu", name="conv")(x)
    y = kl.Conv2D(16, 3, padding="same", name="block_conv")(x)
    y = kl.BatchNormalization(name="block_bn")(y)
    x = kl.ReLU(name="block_relu")(kl.Add(name="block_add")([x, y]))
    x = kl.GlobalAveragePooling2D(name="pooled")(x)
    outputs = kl.Dense(10, activation="softmax", name="probs")(x)
    model = keras.Model(inputs, outputs, name="augmented_resnet")
    _fit(model, _inputs(model, digits, "train", "0-255"), np.asarray(digits.y_train), epochs=15)
    return _save(model, folder / "augmented-resnet.keras", digits, "0-255")


def flatten_28(folder: Path, digits: datasets.Dataset) -> Saved:
    """An MNIST-shaped MLP: ``Flatten`` from ``(28, 28)`` (the digits are resized to 28×28 to fit it)."""
    import keras
    from keras import layers as kl

    model = keras.Sequential(
        [
            keras.Input((28, 28)),
            kl.Flatten(name="flatten"),
            kl.Dense(32, activation="relu", name="hidden"),
            kl.Dense(10, activation="softmax", name="probs"),
        ],
        name="flatten_28",
    )
    _fit(model, _inputs(model, digits, "train", "0-1"), np.asarray(digits.y_train))
    return _save(model, folder / "flatten-28.keras", digits, "0-1")


ZOO: dict[str, Callable[[Path, datasets.Dataset], Saved]] = {
    "mlp": mlp,
    "cnn-batchnorm": cnn_batchnorm,
    "cnn-leaky-h5": cnn_leaky_h5,
    "keras2-mlp": keras2_mlp_h5,
    "two-heads": two_heads,
    "fixed-batch": fixed_batch,
    "nested": nested,
    "rescaling-first": rescaling_first,
    "augmented-resnet": augmented_resnet,
    "flatten-28": flatten_28,
}


def _save(
    model, path: Path, digits: datasets.Dataset, scale: str, output: int | None = None, output_name: str | None = None
) -> Saved:
    accuracy = _evaluate(model, digits, scale, output)
    model.save(path)
    return Saved(path.name.split(".")[0], path, scale, accuracy, output_name)


# ----------------------------------------------------------------------------- Keras 2 .h5 files


def keras2_dense(name: str, units: int, activation: str, **extra) -> dict:
    """A Dense layer's entry as tf.keras 2.x wrote it in ``model_config`` (no ``module`` key)."""
    config = {
        "name": name,
        "trainable": True,
        "dtype": "float32",
        "units": units,
        "activation": activation,
        "use_bias": True,
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None,
        "bias_regularizer": None,
        "activity_regularizer": None,
        "kernel_constraint": None,
        "bias_constraint": None,
        **extra,
    }
    return {"class_name": "Dense", "config": config}


def write_keras2_h5(path, layers: list[dict], weights: dict[str, dict[str, np.ndarray]]) -> None:
    """Writes a Sequential ``.h5`` the way tf.keras 2.x did.

    Root attributes ``keras_version``, ``backend`` and ``model_config`` (JSON, class_name
    Sequential); a ``model_weights`` group listing every layer in ``layer_names`` and, per layer, a
    group whose ``weight_names`` attribute names its datasets ``<layer>/<layer>/<weight>:0``.
    """
    config = {"class_name": "Sequential", "config": {"name": "sequential", "layers": layers}}
    with h5py.File(path, "w") as h5:
        h5.attrs["keras_version"] = "2.4.0"
        h5.attrs["backend"] = "tensorflow"
        h5.attrs["model_config"] = json.dumps(config).encode()
        group = h5.create_group("model_weights")
        group.attrs["keras_version"] = b"2.4.0"
        group.attrs["backend"] = b"tensorflow"
        names = [layer["config"]["name"] for layer in layers if layer["class_name"] != "InputLayer"]
        group.attrs["layer_names"] = np.array([name.encode() for name in names])
        for name in names:
            layer_group = group.create_group(name)
            values = weights.get(name, {})
            weight_names = [f"{name}/{weight}:0".encode() for weight in values]
            layer_group.attrs["weight_names"] = np.array(weight_names, dtype="S64")
            for weight_name, value in zip(weight_names, values.values()):
                layer_group.create_dataset(weight_name.decode(), data=value)
