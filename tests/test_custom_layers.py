"""Custom layer classes are refused in featlib's words (issue 23, item 5).

A model with a layer class Keras does not define (keras_contrib's ``InstanceNormalization``, for
one) was refused with Keras's "Unknown layer ... ensure you are using a
``keras.utils.custom_object_scope``", which invites the user to load custom code. featlib now names
the class and the layer, says that custom layer classes are code and that it loads only Keras's
own layers, and what to do. The files here are written by hand: a Keras 2 ``.h5`` (classes without
a ``module``, as Keras 2 wrote them, also in the bare-list layout of Keras 2.0/2.1, inside a
wrapper and inside a nested model) and a Keras 3 ``.keras`` whose config names a class that
``keras.layers`` does not have.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from cli_testing import cli
from model_zoo import keras2_dense, write_keras2_h5

from featlib import models
from featlib.models import ModelError
from featlib.models.checks import layer_entries

INSTANCE_NORM = {
    "class_name": "InstanceNormalization",
    "config": {
        "name": "instance_normalization_1",
        "trainable": True,
        "axis": -1,
        "epsilon": 0.001,
        "center": True,
        "scale": True,
        "beta_initializer": {"class_name": "Zeros", "config": {}},
        "gamma_initializer": {"class_name": "Ones", "config": {}},
        "beta_regularizer": None,
        "gamma_regularizer": None,
        "beta_constraint": None,
        "gamma_constraint": None,
    },
}
"""keras_contrib's ``InstanceNormalization`` as Keras 2 saved it: a class name, no module."""


def weights(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    return {
        "dense": {"kernel": rng.normal(0, 0.3, (64, 16)).astype("f4"), "bias": np.zeros(16, "f4")},
        "instance_normalization_1": {"gamma": np.ones(16, "f4"), "beta": np.zeros(16, "f4")},
        "dense_1": {"kernel": rng.normal(0, 0.3, (16, 10)).astype("f4"), "bias": np.zeros(10, "f4")},
    }


def contrib_h5(path) -> None:
    """A Keras 2 Sequential MLP with keras_contrib's InstanceNormalization between its Dense layers."""
    layers = [
        keras2_dense("dense", 16, "relu", batch_input_shape=[None, 64]),
        INSTANCE_NORM,
        keras2_dense("dense_1", 10, "softmax"),
    ]
    write_keras2_h5(path, layers, weights())


def expected_message(filename: str, where: str, class_name: str = "InstanceNormalization", name: str = "") -> str:
    name = name or "instance_normalization_1"
    return (
        f"{filename} uses the layer class {class_name!r} (layer {name!r}, at {where}), which is not one of Keras's "
        "own layers. A custom layer class is Python code (from a library such as keras_contrib, or the script that "
        "made the model) that the file only names; featlib loads only Keras's own layers and never loads such "
        f"code. Expected a model made of built-in Keras layers: rebuild it with a built-in layer in place of "
        f"{class_name}"
    )


def refused(path) -> str:
    with pytest.raises(ModelError) as caught:
        models.load_model(path)
    message = str(caught.value)
    assert "custom_object_scope" not in message and "Unknown layer" not in message, message
    return message


@pytest.mark.filterwarnings("ignore:Do not pass an `input_shape`")
def test_keras_alone_invites_the_user_to_load_custom_code(tmp_path):
    import keras

    contrib_h5(tmp_path / "contrib.h5")
    with pytest.raises(Exception, match="custom_object_scope"):
        keras.saving.load_model(tmp_path / "contrib.h5", compile=False, safe_mode=True)


def test_a_keras2_h5_with_a_keras_contrib_layer_is_refused_in_featlibs_words(tmp_path):
    contrib_h5(tmp_path / "contrib.h5")
    message = refused(tmp_path / "contrib.h5")
    assert message.startswith(expected_message("contrib.h5", "config.layers[1]")), message
    assert "keras.layers.GroupNormalization(groups=-1), which computes the same" in message
    assert message.endswith("copy the weights and save it again.")


def test_the_oldest_layout_a_wrapper_and_a_nested_model_are_looked_into(tmp_path):
    inner = {"class_name": "Sequential", "config": {"name": "block", "layers": [INSTANCE_NORM]}}
    wrapped = {"class_name": "TimeDistributed", "config": {"name": "each_step", "layer": INSTANCE_NORM}}
    cases = {
        "bare.h5": ([keras2_dense("dense", 16, "relu", batch_input_shape=[None, 64]), INSTANCE_NORM], "config[1]"),
        "nested.h5": (
            [keras2_dense("dense", 16, "relu", batch_input_shape=[None, 64]), inner],
            "config.layers[1].config.layers[0]",
        ),
        "wrapped.h5": (
            [keras2_dense("dense", 16, "relu", batch_input_shape=[None, 4, 64]), wrapped],
            "config.layers[1].config.layer",
        ),
    }
    for filename, (layers, where) in cases.items():
        if filename == "bare.h5":  # Keras 2.0/2.1: the bare list
            write_bare_h5(tmp_path / filename, layers)
        else:
            write_keras2_h5(tmp_path / filename, layers, {})
        assert refused(tmp_path / filename).startswith(expected_message(filename, where)), filename


def write_bare_h5(path, layers: list) -> None:
    import h5py

    with h5py.File(path, "w") as h5:
        h5.attrs["keras_version"] = b"2.1.6"
        h5.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": layers}).encode()
        h5.create_group("model_weights").attrs["layer_names"] = np.array([], dtype="S8")


def test_a_keras3_file_naming_a_class_keras_does_not_have_is_refused_alike(tmp_path):
    import keras

    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(16, name="dense"), keras.layers.Dense(10, name="probs")]
    )
    model.save(tmp_path / "real.keras")
    with zipfile.ZipFile(tmp_path / "real.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    config["config"]["layers"][1]["class_name"] = "InstanceNormalization"  # module stays "keras.layers"
    assert config["config"]["layers"][1]["module"] == "keras.layers"
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "custom.keras", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    message = refused(tmp_path / "custom.keras")
    assert message.startswith(expected_message("custom.keras", "config.layers[1]", name="dense")), message


def test_a_keras2_layer_that_keras3_dropped_is_named_as_such(tmp_path):
    lstm = {"class_name": "CuDNNLSTM", "config": {"name": "cu_dnnlstm", "units": 8, "batch_input_shape": [None, 5, 3]}}
    write_keras2_h5(tmp_path / "cudnn.h5", [lstm, keras2_dense("dense", 10, "softmax")], {})
    message = refused(tmp_path / "cudnn.h5")
    assert message == (
        "cudnn.h5 uses the layer class 'CuDNNLSTM' (layer 'cu_dnnlstm', at config.layers[0]), a Keras 2 layer "
        "that Keras 3 no longer has, so featlib cannot build it. Expected a model made of Keras 3 layers: rebuild "
        "it with keras.layers.LSTM in its place, copy the weights and save it again."
    )


def test_models_of_keras_own_layers_pass_and_the_walk_sees_every_layer_entry(tmp_path):
    import keras

    block = keras.Sequential([keras.layers.GroupNormalization(groups=-1), keras.layers.Dropout(0.1)], name="block")
    inputs = keras.Input((8, 8), name="rows")
    x = keras.layers.TimeDistributed(keras.layers.Dense(4), name="each_row")(inputs)
    x = block(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(3), name="bi")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="probs")(x))
    for suffix in (".keras", ".h5"):
        model.save(tmp_path / f"own{suffix}")
        loaded = models.load_model(tmp_path / f"own{suffix}")  # Keras's own layers, wrapped and nested: loaded
        assert [layer.name for layer in loaded.layers][-3:] == ["block", "bi", "probs"]
    config = {
        "class_name": "Functional",
        "config": {
            "layers": [
                {"class_name": "InputLayer", "config": {"name": "in"}},
                {
                    "class_name": "Bidirectional",
                    "config": {
                        "name": "bi",
                        "layer": {"class_name": "LSTM", "config": {"name": "f"}},
                        "backward_layer": {"class_name": "LSTM", "config": {"name": "b"}},
                        "kernel_initializer": {"class_name": "Zeros", "config": {}},
                    },
                },
                {
                    "class_name": "RNN",
                    "config": {
                        "name": "rnn",
                        "cell": {
                            "class_name": "StackedRNNCells",
                            "config": {"cells": [{"class_name": "GRUCell", "config": {}}]},
                        },
                    },
                },
            ]
        },
    }
    assert [entry["class_name"] for _, entry in layer_entries(config)] == [
        "Functional",
        "InputLayer",
        "Bidirectional",
        "LSTM",
        "LSTM",
        "RNN",
        "StackedRNNCells",
        "GRUCell",
    ]


# ----------------------------------------------------------------------------- through the CLI


def test_the_cli_refuses_a_custom_layer_naming_it(tmp_path):
    contrib_h5(tmp_path / "contrib.h5")
    workspace = str(tmp_path / "ws")
    for args in (["add", str(tmp_path / "contrib.h5"), "--name", "contrib"], ["layers", str(tmp_path / "contrib.h5")]):
        rc, out, err = cli("--workspace", workspace, *args)
        assert rc == 2, err
        assert "error: " + expected_message("contrib.h5", "config.layers[1]") in err, err
        assert "custom_object_scope" not in err
    rc, out, _ = cli("--workspace", workspace, "ls", "--json")
    assert rc == 0 and '"kind": "model"' not in out  # nothing stored
