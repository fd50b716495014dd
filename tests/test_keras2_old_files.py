"""The oldest Keras 2 ``.h5`` files: Keras 2.0 and 2.1's layout (issue 23, item 2).

Keras 2.0 and 2.1 wrote a Sequential model's ``model_config`` as ``{"class_name": "Sequential",
"config": [layer, ...]}``: the bare list of its layers, the first carrying ``batch_input_shape``
(``keras/models.py``, ``Sequential.get_config``, until Keras 2.2.0 made it ``{"name", "layers"}``).
Keras 3 alone fails on it with "pop expected at most 1 argument, got 2". The files here are written
by hand in that format, with the settings Keras 2.1 wrote (``VarianceScaling`` initializers, layer
names ``conv2d_1``, weights under ``model_weights/<layer>/<layer>/kernel:0``).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from cli_testing import cli

from featlib import models
from featlib.models import ModelError
from featlib.read import extract

KERAS_2_1 = "2.1.6"


def initializer(distribution: str = "uniform") -> dict:
    """``glorot_uniform`` (or ``glorot_normal``) as Keras 2.0/2.1 serialized it."""
    config = {"scale": 1.0, "mode": "fan_avg", "distribution": distribution, "seed": None}
    return {"class_name": "VarianceScaling", "config": config}


def weighted(distribution: str = "uniform") -> dict:
    return {
        "kernel_initializer": initializer(distribution),
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None,
        "bias_regularizer": None,
        "activity_regularizer": None,
        "kernel_constraint": None,
        "bias_constraint": None,
        "use_bias": True,
    }


def conv2d(name: str, filters: int, **extra) -> dict:
    config = {
        "name": name,
        "trainable": True,
        "filters": filters,
        "kernel_size": [3, 3],
        "strides": [1, 1],
        "padding": "valid",
        "data_format": "channels_last",
        "dilation_rate": [1, 1],
        "activation": "relu",
        **weighted(),
        **extra,
    }
    return {"class_name": "Conv2D", "config": config}


def dense(name: str, units: int, activation: str, distribution: str = "uniform", **extra) -> dict:
    config = {"name": name, "trainable": True, "units": units, "activation": activation}
    return {"class_name": "Dense", "config": {**config, **weighted(distribution), **extra}}


def layer(class_name: str, name: str, **config) -> dict:
    return {"class_name": class_name, "config": {"name": name, "trainable": True, **config}}


def write_h5(path, model_config: dict, weights: dict[str, dict[str, np.ndarray]], version: str = KERAS_2_1) -> None:
    """An ``.h5`` as Keras 2.0/2.1's ``save_model`` wrote it: root attributes, then ``model_weights``.

    ``model_weights`` lists every top-level layer in ``layer_names``; each layer's group names its
    datasets in ``weight_names`` (``conv2d_1/kernel:0``), stored under that path.
    """
    import h5py

    with h5py.File(path, "w") as h5:
        h5.attrs["keras_version"] = version.encode()
        h5.attrs["backend"] = b"tensorflow"
        h5.attrs["model_config"] = json.dumps(model_config).encode()
        group = h5.create_group("model_weights")
        group.attrs["keras_version"] = version.encode()
        group.attrs["backend"] = b"tensorflow"
        layers = model_config["config"]
        layers = layers.get("layers", []) if isinstance(layers, dict) else layers if isinstance(layers, list) else []
        names = [entry.get("name") or entry["config"]["name"] for entry in layers]
        group.attrs["layer_names"] = np.array([name.encode() for name in names])
        for name in names:
            layer_group = group.create_group(name)
            values = weights.get(name, {})
            weight_names = [f"{name}/{weight}:0".encode() for weight in values]
            layer_group.attrs["weight_names"] = np.array(weight_names, dtype="S64")
            for weight_name, value in zip(weight_names, values.values()):
                layer_group.create_dataset(weight_name.decode(), data=value)


def cnn_weights(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "conv2d_1": {
            "kernel": rng.normal(0, 0.3, (3, 3, 1, 4)).astype("f4"),
            "bias": rng.normal(0, 0.1, 4).astype("f4"),
        },
        "dense_1": {"kernel": rng.normal(0, 0.3, (36, 10)).astype("f4"), "bias": np.zeros(10, "f4")},
    }


def keras21_cnn(path) -> dict:
    """The issue's file: a Keras 2.1 Sequential CNN, its layers a bare list, ``batch_input_shape`` on the first."""
    layers = [
        conv2d("conv2d_1", 4, batch_input_shape=[None, 8, 8, 1], dtype="float32"),
        layer(
            "MaxPooling2D",
            "max_pooling2d_1",
            pool_size=[2, 2],
            padding="valid",
            strides=[2, 2],
            data_format="channels_last",
        ),
        layer("Dropout", "dropout_1", rate=0.25, noise_shape=None, seed=None),
        layer("Flatten", "flatten_1"),
        dense("dense_1", 10, "softmax"),
    ]
    weights = cnn_weights()
    write_h5(path, {"class_name": "Sequential", "config": layers}, weights)
    return weights


def numpy_cnn(weights: dict, x: np.ndarray) -> np.ndarray:
    """conv 3×3 (valid) + relu → max pool 2×2 → flatten → dense softmax, in NumPy."""
    kernel, bias = weights["conv2d_1"]["kernel"], weights["conv2d_1"]["bias"]
    windows = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(1, 2))  # (n, 6, 6, 1, 3, 3)
    conv = np.maximum(np.einsum("nhwcij,ijcf->nhwf", windows, kernel) + bias, 0)
    pooled = conv.reshape(len(x), 3, 2, 3, 2, 4).max(axis=(2, 4))
    logits = pooled.reshape(len(x), -1) @ weights["dense_1"]["kernel"] + weights["dense_1"]["bias"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def images(n: int = 12, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 8, 8, 1), dtype=np.float32)


def every_layer_by_both_methods(model, x: np.ndarray) -> dict[str, float]:
    return {
        layer.name: float(
            np.abs(
                extract.extract(model, layer.name, x, method="function")
                - extract.extract(model, layer.name, x, method="submodel")
            ).max()
        )
        for layer in model.layers
        if type(layer).__name__ != "InputLayer"
    }


def test_keras3_alone_fails_on_the_keras21_layout_with_its_internals(tmp_path):
    import keras

    keras21_cnn(tmp_path / "old.h5")
    with pytest.raises(TypeError, match="pop expected at most 1 argument, got 2"):
        keras.saving.load_model(tmp_path / "old.h5", compile=False)


def test_a_keras21_sequential_cnn_loads_as_the_model_it_was(tmp_path):
    import keras

    weights = keras21_cnn(tmp_path / "old.h5")
    model = models.load_model(tmp_path / "old.h5")
    assert models.input_shape(model) == (8, 8, 1)
    assert [entry.name for entry in models.layer_table(model)] == [
        "conv2d_1",
        "max_pooling2d_1",
        "dropout_1",
        "flatten_1",
        "dense_1",
    ]
    assert np.array_equal(model.get_layer("conv2d_1").get_weights()[0], weights["conv2d_1"]["kernel"])
    x = images()
    probs = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(probs, numpy_cnn(weights, x), rtol=1e-5, atol=1e-6)
    assert max(every_layer_by_both_methods(model, x).values()) < 1e-6
    (tmp_path / "old.h5").unlink()
    assert not list(tmp_path.iterdir())  # the repaired copy was a temporary file elsewhere


def test_a_keras20_sequential_mlp_with_activation_and_dropout_layers_loads(tmp_path):
    """Keras 2.0.8's MLP: glorot_normal as ``distribution: normal``, separate Activation layers."""
    rng = np.random.default_rng(1)
    weights = {
        "dense_1": {"kernel": rng.normal(0, 0.2, (64, 16)).astype("f4"), "bias": rng.normal(0, 0.1, 16).astype("f4")},
        "dense_2": {"kernel": rng.normal(0, 0.2, (16, 10)).astype("f4"), "bias": np.zeros(10, "f4")},
    }
    layers = [
        dense("dense_1", 16, "linear", distribution="normal", batch_input_shape=[None, 64], dtype="float32"),
        layer("Activation", "activation_1", activation="relu"),
        layer("Dropout", "dropout_1", rate=0.2),
        dense("dense_2", 10, "linear", distribution="normal"),
        layer("Activation", "activation_2", activation="softmax"),
    ]
    write_h5(tmp_path / "mlp20.h5", {"class_name": "Sequential", "config": layers}, weights, version="2.0.8")
    model = models.load_model(tmp_path / "mlp20.h5")
    assert models.input_shape(model) == (64,)
    x = np.random.default_rng(2).random((9, 64), dtype=np.float32)
    hidden = np.maximum(x @ weights["dense_1"]["kernel"] + weights["dense_1"]["bias"], 0)
    logits = hidden @ weights["dense_2"]["kernel"] + weights["dense_2"]["bias"]
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(extract.extract(model, "activation_2", x), expected, rtol=1e-5, atol=1e-6)
    assert max(every_layer_by_both_methods(model, x).values()) < 1e-6


def test_a_keras21_functional_model_with_a_nested_sequential_in_the_old_layout_loads(tmp_path):
    """Keras 2.1's ``Model`` config, holding a Sequential whose own config is a bare list."""
    rng = np.random.default_rng(4)
    inner = {
        "name": "sequential_1",
        "class_name": "Sequential",
        "config": [
            dense("dense_1", 16, "relu", batch_input_shape=[None, 64], dtype="float32"),
            dense("dense_2", 10, "softmax"),
        ],
        "inbound_nodes": [[["input_1", 0, 0, {}]]],
    }
    config = {
        "class_name": "Model",
        "config": {
            "name": "model_1",
            "layers": [
                {
                    "name": "input_1",
                    "class_name": "InputLayer",
                    "config": {"batch_input_shape": [None, 64], "dtype": "float32", "sparse": False, "name": "input_1"},
                    "inbound_nodes": [],
                },
                inner,
            ],
            "input_layers": [["input_1", 0, 0]],
            "output_layers": [["sequential_1", 0, 0]],
        },
    }
    weights = {
        "dense_1": {"kernel": rng.normal(0, 0.2, (64, 16)).astype("f4"), "bias": np.zeros(16, "f4")},
        "dense_2": {"kernel": rng.normal(0, 0.2, (16, 10)).astype("f4"), "bias": np.zeros(10, "f4")},
    }
    write_nested_h5(tmp_path / "nested.h5", config, weights)
    model = models.load_model(tmp_path / "nested.h5")
    assert models.input_shape(model) == (64,)
    x = np.random.default_rng(5).random((7, 64), dtype=np.float32)
    hidden = np.maximum(x @ weights["dense_1"]["kernel"], 0)
    logits = hidden @ weights["dense_2"]["kernel"]
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(
        extract.extract(model, "sequential_1", x), expected / expected.sum(1, keepdims=True), rtol=1e-5, atol=1e-6
    )


def write_nested_h5(path, config: dict, weights: dict) -> None:
    """Keras 2.1's file of a model holding a Sequential: the Sequential's weights are in its own group."""
    import h5py

    with h5py.File(path, "w") as h5:
        h5.attrs["keras_version"] = KERAS_2_1.encode()
        h5.attrs["backend"] = b"tensorflow"
        h5.attrs["model_config"] = json.dumps(config).encode()
        group = h5.create_group("model_weights")
        group.attrs["keras_version"] = KERAS_2_1.encode()
        group.attrs["layer_names"] = np.array([b"input_1", b"sequential_1"])
        group.create_group("input_1").attrs["weight_names"] = np.array([], dtype="S64")
        nested = group.create_group("sequential_1")
        names = [f"{layer}/{weight}:0" for layer, values in weights.items() for weight in values]
        nested.attrs["weight_names"] = np.array([name.encode() for name in names], dtype="S64")
        for name, value in zip(names, [v for values in weights.values() for v in values.values()]):
            nested.create_dataset(name, data=value)


# ----------------------------------------------------------------------------- the same checks first


def test_a_keras21_file_with_a_lambda_layer_is_refused_as_code_before_keras(tmp_path):
    layers = [
        dense("dense_1", 16, "relu", batch_input_shape=[None, 64]),
        {"class_name": "Lambda", "config": {"name": "lambda_1", "function": ["e30=", None, None]}},
    ]
    write_h5(tmp_path / "lambda.h5", {"class_name": "Sequential", "config": layers}, {})
    with pytest.raises(ModelError, match="contains Lambda layer\\(s\\), which can run arbitrary Python code"):
        models.load_model(tmp_path / "lambda.h5")


def test_a_keras21_file_declaring_huge_weights_is_refused_by_the_budget(tmp_path):
    layers = [dense("dense_1", 2**28, "relu", batch_input_shape=[None, 64])]
    write_h5(tmp_path / "huge.h5", {"class_name": "Sequential", "config": layers}, {})
    with pytest.raises(ModelError, match=r"huge.h5 declares [\d,]+ bytes .* in its model_config.*'dense_1' \(Dense"):
        models.load_model(tmp_path / "huge.h5")


# ----------------------------------------------------------------------------- files that still cannot be used


def keras1_mlp(path) -> None:
    """A Keras 1.2.2 Sequential: the same bare list, but Keras 1's layer settings (output_dim, init, ...)."""
    config = {
        "name": "dense_1",
        "trainable": True,
        "batch_input_shape": [None, 64],
        "input_dtype": "float32",
        "output_dim": 10,
        "init": "glorot_uniform",
        "activation": "softmax",
        "W_regularizer": None,
        "b_regularizer": None,
        "activity_regularizer": None,
        "W_constraint": None,
        "b_constraint": None,
        "bias": True,
        "input_dim": 64,
    }
    weights = {"dense_1": {"W": np.zeros((64, 10), "f4"), "b": np.zeros(10, "f4")}}
    write_h5(
        path, {"class_name": "Sequential", "config": [{"class_name": "Dense", "config": config}]}, weights, "1.2.2"
    )


@pytest.mark.parametrize(
    "make, expected",
    [
        (
            keras1_mlp,
            "k.h5 cannot be loaded: its layer 'dense_1' (Dense, at config[0]) has settings that Keras 3's Dense does "
            "not take: W_constraint, W_regularizer, b_constraint, b_regularizer, bias, init, input_dtype, output_dim "
            "(expected the settings of Keras 2.0 or later: Keras 1 named them otherwise, e.g. output_dim and init, "
            "which Keras 2 renamed units and kernel_initializer) (the file says Keras 1.2.2 wrote it). featlib reads "
            ".h5 files of Keras 2.0 or later",
        ),
        (
            lambda path: write_h5(path, {"class_name": "Sequential", "config": "conv2d_1"}, {}),
            "k.h5 cannot be loaded: its model_config holds no list of layers (expected config.layers, or the bare "
            "list of layers Keras 2.0 and 2.1 wrote for a Sequential model) (the file says Keras 2.1.6 wrote it)",
        ),
        (
            lambda path: write_h5(
                path,
                {"class_name": "Sequential", "config": [conv2d("conv2d_1", -4, batch_input_shape=[None, 8, 8, 1])]},
                {},
            ),
            "k.h5 cannot be loaded: its layer 'conv2d_1' (Conv2D, at config[0]) cannot be built from its settings: ",
        ),
    ],
)
def test_a_file_that_still_cannot_be_used_says_what_in_it_is_the_cause(tmp_path, make, expected):
    make(tmp_path / "k.h5")
    with pytest.raises(ModelError) as refused:
        models.load_model(tmp_path / "k.h5")
    message = str(refused.value)
    assert expected in message, message
    assert "pop expected" not in message and "Keras could not load" not in message


# ----------------------------------------------------------------------------- through the CLI


def test_the_cli_adds_a_keras21_file_and_explains_a_keras1_one(tmp_path):
    keras21_cnn(tmp_path / "old.h5")
    workspace = str(tmp_path / "ws")
    rc, out, err = cli("--workspace", workspace, "add", str(tmp_path / "old.h5"), "--name", "old", "--scale", "0-1")
    assert rc == 0, err
    assert out.startswith("added old (") and "on digits, test split, 360 images" in out
    rc, out, err = cli("--workspace", workspace, "layers", "old")
    assert rc == 0 and [line.split()[1] for line in out.splitlines()[1:]][:2] == ["conv2d_1", "max_pooling2d_1"]
    keras1_mlp(tmp_path / "k1.h5")
    rc, out, err = cli("--workspace", workspace, "add", str(tmp_path / "k1.h5"), "--name", "k1")
    assert rc == 2 and "error: k1.h5 cannot be loaded: its layer 'dense_1' (Dense, at config[0])" in err, err
    assert "pop expected" not in err
