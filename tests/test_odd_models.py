"""Models saved in odd ways: a fixed batch size, Keras 2 ``.h5`` files, never built, nested, self-scaling.

Each case is a small model (or a hand-written Keras 2 file) built here, the
problem it showed reproduced with Keras alone, then what featlib does with it.
Nothing is downloaded.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from model_zoo import every_layer_by_both_methods, keras2_dense, write_keras2_h5

from featlib import models
from featlib.models import InputMismatchError, ModelError
from featlib.read import extract

ANSI = re.compile(r"\x1b\[")


def dense_net(*layers, name: str | None = None):
    """A Sequential model of ``layers`` (no ``Input``: add one, or build it, to give it an input)."""
    import keras

    return keras.Sequential(list(layers), name=name)


def batch_of(n: int, width: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, width), dtype=np.float32)


def predictions(model, x: np.ndarray) -> np.ndarray:
    import keras

    return keras.ops.convert_to_numpy(model(x, training=False))


# ----------------------------------------------------------------------------- 2. a fixed batch size


def fixed_batch_mlp():
    """The issue's model: a Sequential built by calling it once on a batch of 2 (input ``(2, 64)``)."""
    import keras

    model = dense_net(
        keras.layers.Dense(16, activation="relu", name="hidden"),
        keras.layers.Dense(10, activation="softmax", name="probs"),
    )
    model(batch_of(2))
    return model


def test_a_model_built_on_a_batch_of_2_fails_in_keras_function_as_the_issue_says():
    import keras

    model = fixed_batch_mlp()
    assert tuple(model.inputs[0].shape) == (2, 64)
    assert [row.output_shape for row in models.layer_table(model)] == ["(2, 16)", "(2, 10)"]
    fn = keras.Function(model.inputs, [model.get_layer("hidden").output])
    with pytest.raises(ValueError, match="incompatible inputs"):
        fn([batch_of(5)])


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_model_saved_with_a_fixed_batch_size_loads_with_a_free_one(tmp_path, suffix):
    original = fixed_batch_mlp()
    path = tmp_path / f"fixed{suffix}"
    original.save(path)
    loaded = models.load_model(path)
    assert tuple(loaded.inputs[0].shape) == (None, 64)
    assert [(r.name, r.output_shape) for r in models.layer_table(loaded)] == [
        ("hidden", "(None, 16)"),
        ("probs", "(None, 10)"),
    ]
    assert models.fingerprint(loaded) != models.fingerprint(original)  # its config changed, not its weights
    assert all(np.array_equal(a, b) for a, b in zip(loaded.get_weights(), original.get_weights()))
    np.testing.assert_allclose(predictions(loaded, batch_of(2)), predictions(original, batch_of(2)), atol=1e-6)
    assert every_layer_by_both_methods(loaded, batch_of(5)) == {
        "hidden": pytest.approx(0, abs=1e-6),
        "probs": pytest.approx(0, abs=1e-6),
    }


def test_a_functional_cnn_with_a_fixed_batch_and_adapted_normalization_keeps_its_outputs(tmp_path):
    import keras
    from keras import layers as kl

    norm = kl.Normalization(name="norm")
    norm.adapt(np.random.default_rng(1).random((40, 8, 8, 1), dtype=np.float32) * 255)
    inputs = keras.Input(batch_shape=(4, 8, 8, 1), name="pixels")
    x = kl.BatchNormalization(name="bn")(kl.Conv2D(3, 3, activation="relu", name="conv")(norm(inputs)))
    original = keras.Model(inputs, kl.Dense(10, name="logits")(kl.Flatten(name="flat")(x)))
    original.save(tmp_path / "cnn.keras")
    loaded = models.load_model(tmp_path / "cnn.keras")
    assert tuple(loaded.inputs[0].shape) == (None, 8, 8, 1)
    images = np.random.default_rng(2).random((4, 8, 8, 1), dtype=np.float32) * 255
    np.testing.assert_allclose(predictions(loaded, images), predictions(original, images), rtol=1e-5, atol=1e-5)
    assert max(every_layer_by_both_methods(loaded, np.concatenate([images, images[:3]])).values()) < 1e-4
    assert models.layer_table(loaded)[-1].output_shape == "(None, 10)"


def test_a_nested_model_with_a_fixed_batch_is_freed_too(tmp_path):
    import keras

    encoder = fixed_batch_mlp()
    encoder.name = "encoder"
    inputs = keras.Input(batch_shape=(2, 64))
    original = keras.Model(inputs, keras.layers.Dense(3, name="head")(encoder(inputs)))
    original.save(tmp_path / "nested-fixed.keras")
    loaded = models.load_model(tmp_path / "nested-fixed.keras")
    assert tuple(loaded.inputs[0].shape) == (None, 64)
    assert tuple(loaded.get_layer("encoder").inputs[0].shape) == (None, 64)
    np.testing.assert_allclose(predictions(loaded, batch_of(2)), predictions(original, batch_of(2)), atol=1e-6)
    assert max(every_layer_by_both_methods(loaded, batch_of(7)).values()) < 1e-6


def test_a_stateful_model_with_a_fixed_batch_is_refused_naming_the_batch_size(tmp_path):
    import keras

    stateful = keras.Sequential(
        [keras.Input(batch_shape=(2, 5, 8)), keras.layers.SimpleRNN(4, stateful=True, name="memory")]
    )
    stateful.save(tmp_path / "stateful.keras")
    with pytest.raises(ModelError) as caught:
        models.load_model(tmp_path / "stateful.keras")
    message = str(caught.value)
    assert "stateful.keras was saved with a fixed batch size of 2 (its input shape is (2, 5, 8))" in message
    assert "['memory'] are stateful" in message and "keras.Input(shape=(5, 8))" in message


def test_a_rebuilt_model_that_computes_other_outputs_is_refused(monkeypatch, tmp_path):
    from featlib.models import repair as model_repair

    fixed_batch_mlp().save(tmp_path / "fixed.keras")

    def scrambled(model, rebuilt):
        rebuilt.set_weights([w * 1.5 for w in model.get_weights()])

    monkeypatch.setattr(model_repair, "_copy_weights", scrambled)
    with pytest.raises(ModelError, match=r"fixed batch size of 2 .* computes other outputs than the saved one"):
        models.load_model(tmp_path / "fixed.keras")


def test_a_model_with_a_free_batch_is_returned_as_loaded(model, tmp_path):
    from featlib.models import repair as model_repair

    assert model_repair.fixed_batch_size(model) is None
    assert model_repair.free_batch_axis(model, "seed.keras") is model


# ----------------------------------------------------------------------------- 3. Keras 2 .h5 files


def keras2_mlp_weights(seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    return {
        "dense": {"kernel": rng.normal(0, 0.3, (64, 16)).astype("f4"), "bias": rng.normal(0, 0.1, 16).astype("f4")},
        "dense_1": {"kernel": rng.normal(0, 0.3, (16, 10)).astype("f4"), "bias": np.zeros(10, "f4")},
    }


def keras2_mlp(path, batch_input_shape=(None, 64)) -> dict:
    """The issue's file: a 64-16-10 Sequential whose first Dense carries ``batch_input_shape``; returns its weights."""
    weights = keras2_mlp_weights()
    write_keras2_h5(
        path,
        [
            keras2_dense("dense", 16, "relu", batch_input_shape=list(batch_input_shape)),
            keras2_dense("dense_1", 10, "softmax"),
        ],
        weights,
    )
    return weights


def numpy_mlp(weights: dict, x: np.ndarray) -> np.ndarray:
    hidden = np.maximum(x @ weights["dense"]["kernel"] + weights["dense"]["bias"], 0)
    logits = hidden @ weights["dense_1"]["kernel"] + weights["dense_1"]["bias"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_keras3_alone_reads_the_keras2_file_with_input_none_none_64_and_fails_with_colour_codes(tmp_path, digits):
    import keras

    keras2_mlp(tmp_path / "keras2.h5")
    with pytest.warns(UserWarning, match="input_shape"):
        raw = keras.saving.load_model(tmp_path / "keras2.h5", compile=False)
    assert tuple(raw.inputs[0].shape) == (None, None, 64)
    with pytest.raises(ValueError) as caught:
        raw.predict(digits.x_test[:5].astype("float32"), verbose=0)
    assert ANSI.search(str(caught.value)), "the reproduction should show Keras's colour codes"
    with pytest.raises(InputMismatchError) as refused:  # featlib refuses such an input before Keras sees it
        models.adapt_images(digits.x_test[:5], raw)
    assert "(None, 64): one side of the image is unknown" in str(refused.value)
    assert not ANSI.search(str(refused.value))


def test_a_keras2_h5_loads_as_the_flat_64_value_model_it_was(tmp_path, digits):
    weights = keras2_mlp(tmp_path / "keras2.h5")
    loaded = models.load_model(tmp_path / "keras2.h5")
    assert models.input_shape(loaded) == (64,)
    assert [(r.name, r.output_shape) for r in models.layer_table(loaded)] == [
        ("dense", "(None, 16)"),
        ("dense_1", "(None, 10)"),
    ]
    assert models.architecture_summary(loaded) == "64-16-10 (Sequential, 1,210 params)"
    x = models.adapt_images(digits.x_test[:20], loaded)
    assert x.shape == (20, 64)
    np.testing.assert_allclose(predictions(loaded, x), numpy_mlp(weights, x), rtol=1e-5, atol=1e-6)
    assert max(every_layer_by_both_methods(loaded, x).values()) < 1e-6
    (tmp_path / "keras2.h5").unlink()
    assert not list(tmp_path.iterdir())  # the fixed copy was a temporary file elsewhere


def test_a_keras2_h5_with_a_fixed_batch_size_gets_both_fixes(tmp_path):
    weights = keras2_mlp(tmp_path / "keras2-fixed.h5", batch_input_shape=(32, 64))
    loaded = models.load_model(tmp_path / "keras2-fixed.h5")
    assert tuple(loaded.inputs[0].shape) == (None, 64)
    np.testing.assert_allclose(predictions(loaded, batch_of(3)), numpy_mlp(weights, batch_of(3)), rtol=1e-5, atol=1e-6)


def test_a_keras2_cnn_h5_loads_with_its_image_input(tmp_path):
    import keras

    rng = np.random.default_rng(3)
    conv = {
        "name": "conv2d",
        "trainable": True,
        "batch_input_shape": [None, 8, 8, 1],
        "dtype": "float32",
        "filters": 2,
        "kernel_size": [3, 3],
        "strides": [1, 1],
        "padding": "valid",
        "data_format": "channels_last",
        "dilation_rate": [1, 1],
        "groups": 1,
        "activation": "relu",
        "use_bias": True,
        "kernel_initializer": {"class_name": "GlorotUniform", "config": {"seed": None}},
        "bias_initializer": {"class_name": "Zeros", "config": {}},
        "kernel_regularizer": None,
        "bias_regularizer": None,
        "activity_regularizer": None,
        "kernel_constraint": None,
        "bias_constraint": None,
    }
    flatten = {"name": "flatten", "trainable": True, "dtype": "float32", "data_format": "channels_last"}
    layers = [
        {"class_name": "Conv2D", "config": conv},
        {"class_name": "Flatten", "config": flatten},
        keras2_dense("dense", 10, "softmax"),
    ]
    weights = {
        "conv2d": {"kernel": rng.normal(0, 0.3, (3, 3, 1, 2)).astype("f4"), "bias": np.zeros(2, "f4")},
        "dense": {"kernel": rng.normal(0, 0.3, (72, 10)).astype("f4"), "bias": np.zeros(10, "f4")},
    }
    write_keras2_h5(tmp_path / "cnn.h5", layers, weights)
    with pytest.raises(ValueError, match=r"input of shape \(None, None, 8, 8, 1\)"):  # Keras 3 alone: a 5-D input
        keras.saving.load_model(tmp_path / "cnn.h5", compile=False)
    loaded = models.load_model(tmp_path / "cnn.h5")
    assert models.input_shape(loaded) == (8, 8, 1)
    assert np.array_equal(loaded.get_layer("conv2d").get_weights()[0], weights["conv2d"]["kernel"])


def test_a_keras2_h5_that_already_has_an_input_layer_is_loaded_as_it_is(tmp_path):
    from featlib.models import repair as model_repair

    input_layer = {
        "class_name": "InputLayer",
        "config": {
            "batch_input_shape": [None, 64],
            "dtype": "float32",
            "sparse": False,
            "ragged": False,
            "name": "dense_input",
        },
    }
    weights = keras2_mlp_weights()
    layers = [
        input_layer,
        keras2_dense("dense", 16, "relu", batch_input_shape=[None, 64]),
        keras2_dense("dense_1", 10, "softmax"),
    ]
    assert not model_repair.keras2_sequential_fix({"class_name": "Sequential", "config": {"layers": layers}})
    write_keras2_h5(tmp_path / "with-input.h5", layers, weights)
    loaded = models.load_model(tmp_path / "with-input.h5")
    assert models.input_shape(loaded) == (64,)
    np.testing.assert_allclose(predictions(loaded, batch_of(3)), numpy_mlp(weights, batch_of(3)), rtol=1e-5, atol=1e-6)


def test_keras_errors_reach_featlib_messages_without_colour_codes():
    wrapped = ValueError(
        "Exception encountered when calling Dense.call().\n\n\x1b[1mInput 0 of layer 'dense' is "
        "incompatible with the layer\x1b[0m\n\nArguments received by Dense.call():\n  • inputs=..."
    )
    assert models._first_line(wrapped) == "Input 0 of layer 'dense' is incompatible with the layer"
    assert models._first_line(ValueError("\x1b[31mred\x1b[0m only")) == "red only"
    assert models._first_line(ValueError("")) == "ValueError"


def test_a_keras_load_error_is_wrapped_without_colour_codes(tmp_path):
    weights = keras2_mlp_weights()
    del weights["dense_1"]  # one layer's weights missing: Keras refuses the file
    write_keras2_h5(
        tmp_path / "short.h5",
        [keras2_dense("dense", 16, "relu", batch_input_shape=[None, 64]), keras2_dense("dense_1", 10, "softmax")],
        weights,
    )
    with pytest.raises(ModelError, match=r"^Keras could not load short\.h5: ") as caught:
        models.load_model(tmp_path / "short.h5")
    assert not ANSI.search(str(caught.value))


# ----------------------------------------------------------------------------- 4a. never built


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_a_model_saved_before_it_was_built_says_so_and_how_to_fix_it(tmp_path, suffix):
    import warnings

    import keras

    unbuilt = dense_net(keras.layers.Dense(16, name="a"), keras.layers.Dense(10, name="b"), name="never_built")
    path = tmp_path / f"unbuilt{suffix}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns that the model has not been built
        unbuilt.save(path)
    with pytest.raises(ModelError) as caught:
        models.load_model(path)
    message = str(caught.value)
    assert message.startswith(
        "This Sequential model (never_built, 2 layers) was saved before it was built: "
        "it has no input shape and no weights"
    )
    assert "keras.Input(shape=(784,))" in message and "model(x[:1])" in message and "save it again" in message
    assert "0 inputs" not in message


def test_an_empty_sequential_still_says_it_has_no_layers(tmp_path):
    import keras

    with pytest.raises(ModelError, match="has no layers"):
        models.input_shape(keras.Sequential(name="empty"))


# ----------------------------------------------------------------------------- 4b. nested models


def nested_model():
    """A functional model wrapping a Sequential ``encoder`` (inner_dense → inner_relu), then ``head``."""
    import keras

    encoder = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(16, name="inner_dense"), keras.layers.ReLU(name="inner_relu")],
        name="encoder",
    )
    inputs = keras.Input((64,), name="pixels")
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="head")(encoder(inputs)))


def test_the_layer_table_lists_top_level_layers_and_the_note_names_the_inner_ones(tmp_path):
    model = nested_model()
    model.save(tmp_path / "nested.keras")
    loaded = models.load_model(tmp_path / "nested.keras")
    assert [(r.name, r.type) for r in models.layer_table(loaded)] == [
        ("pixels", "InputLayer"),
        ("encoder", "Sequential"),
        ("head", "Dense"),
    ]
    assert models.nested_layers_note(loaded) == (
        "encoder is a nested Sequential model; its 2 inner layers "
        "(inner_dense, inner_relu) are read only as encoder's output."
    )
    assert models.nested_layers_note(models.build_mlp((64,), hidden=(8,))) is None


def test_an_inner_layer_name_is_refused_naming_the_enclosing_model():
    model = nested_model()
    for asked in ("inner_dense", "encoder/inner_dense"):
        with pytest.raises(ModelError) as caught:
            models.check_layer(model, asked)
        assert str(caught.value).startswith(
            f"No such layer: {asked}. It is inside the nested model encoder "
            "(as encoder/inner_dense), and featlib reads only a model's top-level "
            f"layers, so {asked} is read only as part of encoder's output."
        )
        assert "['pixels', 'encoder', 'head']" in str(caught.value)
    with pytest.raises(ModelError, match=r"inside the nested model encoder"):
        extract.extract(model, "inner_relu", batch_of(3), method="function")
    with pytest.raises(ModelError, match=r"^No such layer: nope\. Existing layers are: \['pixels'"):
        models.check_layer(model, "nope")


def test_the_enclosing_nested_model_is_read_by_both_methods_as_its_last_inner_layer():
    import keras

    model = nested_model()
    x = batch_of(6)
    diffs = every_layer_by_both_methods(model, x)
    assert set(diffs) == {"encoder", "head"} and max(diffs.values()) < 1e-6
    encoder = model.get_layer("encoder")
    inner = keras.ops.convert_to_numpy(encoder.get_layer("inner_relu")(encoder.get_layer("inner_dense")(x)))
    np.testing.assert_allclose(extract.extract(model, "encoder", x), inner, atol=1e-6)


def test_the_note_names_deeper_paths_and_shortens_long_lists():
    import keras
    from keras import layers as kl

    block = keras.Sequential(
        [keras.Input((16,)), kl.Dense(16, name="block_dense"), kl.ReLU(name="block_relu")], name="block"
    )
    inputs = keras.Input((64,))
    trunk = keras.Model(inputs, block(kl.Dense(16, name="stem")(inputs)), name="trunk")
    many = keras.Sequential([keras.Input((10,))] + [kl.Dense(10, name=f"d{i}") for i in range(8)], name="many")
    outer_in = keras.Input((64,))
    outer = keras.Model(outer_in, many(kl.Dense(10, name="squeeze")(trunk(outer_in))))
    assert models.nested_layers_note(outer) == (
        "trunk is a nested Functional model; its 4 inner layers (stem, block, block/block_dense, block/block_relu) "
        "are read only as trunk's output. many is a nested Sequential model; its 8 inner layers "
        "(d0, d1, d2, d3, d4, d5, …) are read only as many's output."
    )
    with pytest.raises(
        ModelError,
        match=r"No such layer: block_relu\. It is inside the nested model trunk "
        r"\(as trunk/block/block_relu\)",
    ):
        models.check_layer(outer, "block_relu")


# ----------------------------------------------------------------------------- 5. models that scale their own input


def on_8x8(*layers):
    import keras

    return keras.Sequential([keras.Input((8, 8))] + list(layers) + [keras.layers.Flatten(), keras.layers.Dense(10)])


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda kl: [kl.Rescaling(1 / 255, name="scale")], "0-255"),
        (lambda kl: [kl.Rescaling(1 / 127.5, offset=-1, name="scale")], "0-255"),
        (lambda kl: [kl.Rescaling(2.0, offset=-1, name="scale")], "0-1"),
        (lambda kl: [kl.Normalization(mean=33.0, variance=1900.0, name="norm")], "0-255"),
        (lambda kl: [kl.Normalization(mean=1.5, variance=4.0, name="norm")], "0-255"),
        (lambda kl: [kl.Normalization(mean=0.13, variance=0.09, name="norm")], "0-1"),
        (lambda kl: [kl.Normalization(mean=-0.5, variance=1.0, name="norm")], None),
        (lambda kl: [kl.Normalization(name="norm")], None),  # never adapted: mean 0, variance 1
        (lambda kl: [kl.Rescaling(0.3, name="scale")], None),
        (lambda kl: [], None),
        (lambda kl: [kl.Dense(8), kl.Rescaling(1 / 255, name="scale")], None),  # not at the input
        (
            lambda kl: [kl.Reshape((8, 8, 1)), kl.RandomFlip(), kl.Dropout(0.2), kl.Rescaling(1 / 255, name="scale")],
            "0-255",
        ),
        (
            lambda kl: [kl.Rescaling(1 / 255, name="scale"), kl.Normalization(mean=0.13, variance=0.09, name="norm")],
            "0-255",
        ),  # the first one decides
    ],
    ids=[
        "rescaling-1/255",
        "rescaling-1/127.5",
        "rescaling-2",
        "normalization-33",
        "normalization-1.5",
        "normalization-0.13",
        "normalization-negative",
        "normalization-unadapted",
        "rescaling-0.3",
        "none",
        "after-dense",
        "after-reshape-flip-dropout",
        "rescaling-then-normalization",
    ],
)
def test_implied_input_scale(make, expected):
    from keras import layers as kl

    assert models.implied_input_scale(on_8x8(*make(kl))) == expected


def test_implied_input_scale_looks_into_a_preprocessing_model_at_the_start():
    import keras
    from keras import layers as kl

    augment = keras.Sequential([kl.RandomFlip("horizontal"), kl.RandomRotation(0.1)], name="augment")
    scale = keras.Sequential([kl.Rescaling(1 / 255, name="to_unit")], name="preprocess")
    assert models.implied_input_scale(on_8x8(kl.Reshape((8, 8, 1)), augment, scale)) == "0-255"
    assert models.first_preprocessing_layer(on_8x8(kl.Reshape((8, 8, 1)), augment, scale)).name == "to_unit"
    dense_first = keras.Sequential([kl.Dense(8), kl.Rescaling(1 / 255, name="scale")], name="dense_first")
    assert models.implied_input_scale(on_8x8(dense_first)) is None


def rescaling_model_bytes(digits) -> bytes:
    """The issue's model: ``Rescaling(1/255)`` first, trained on raw 0–255 digits."""
    import keras
    from keras import layers as kl

    init = keras.initializers.GlorotUniform
    model = keras.Sequential(
        [
            keras.Input((8, 8)),
            kl.Rescaling(1 / 255, name="to_unit"),
            kl.Flatten(),
            kl.Dense(32, activation="relu", kernel_initializer=init(0)),
            kl.Dense(10, activation="softmax", kernel_initializer=init(1)),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(digits.x_train.astype("float32"), digits.y_train, epochs=8, batch_size=32, verbose=0)
    return models.model_to_bytes(model)


def test_check_upload_reports_the_scale_a_rescaling_model_implies(digits):
    from featlib.jobs import tasks

    data = rescaling_model_bytes(digits)
    given_unit = tasks.check_upload(data=data, filename="rescaling.keras", dataset=digits, input_scale="0-1")
    assert given_unit["accuracy"] < 0.3, given_unit["accuracy"]  # the issue's near-chance score
    assert given_unit["implied_scale"] == "0-255"
    given_raw = tasks.check_upload(data=data, filename="rescaling.keras", dataset=digits, input_scale="0-255")
    assert given_raw["accuracy"] > 0.8 and given_raw["implied_scale"] == "0-255"


def test_check_upload_implied_scale_is_none_for_the_seed(model, digits):
    from featlib.jobs import tasks

    output = tasks.check_upload(
        data=models.model_to_bytes(model), filename="seed.keras", dataset=digits, input_scale="0-1"
    )
    assert output["implied_scale"] is None


# ----------------------------------------------------------------------------- input shapes


def image_model(shape, *layers):
    import keras

    inputs = keras.Input(shape)
    x = inputs
    for layer in layers:
        x = layer(x)
    return keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(x)))


def test_the_usual_mnist_inputs_take_the_digits(digits):
    images = digits.x_test[:6]
    for shape, expected in [((28, 28), (6, 28, 28)), ((28, 28, 1), (6, 28, 28, 1)), ((784,), (6, 784))]:
        model = image_model(shape)
        assert models.input_shape(model) == shape
        x = models.adapt_images(images, model)
        assert x.shape == expected and x.dtype == np.float32
        assert predictions(model, x).shape == (6, 10)


def test_a_free_image_size_takes_the_data_size(digits):
    import keras

    model = image_model((None, None, 1), keras.layers.GlobalAveragePooling2D())
    assert models.adapt_images(digits.x_test[:3], model).shape == (3, 8, 8, 1)


@pytest.mark.parametrize(
    "shape, fragment",
    [
        ((None,), "input shape per image is (None,): its length is unknown"),
        ((None, 64), "input shape per image is (None, 64): one side of the image is unknown"),
        ((28, None, 1), "input shape per image is (28, None, 1): one side of the image is unknown"),
        ((28, 28, None), "input shape per image is (28, 28, None): the number of channels is unknown"),
        ((2, 8, 8, 1), "input shape (2, 8, 8, 1) is not an image or a flat vector"),
    ],
)
def test_inputs_that_say_nothing_of_the_image_are_refused_clearly(digits, shape, fragment):
    import keras

    inputs = keras.Input(shape)
    model = keras.Model(inputs, keras.layers.Identity()(inputs))
    with pytest.raises(InputMismatchError) as caught:
        models.adapt_images(digits.x_test[:3], model)
    assert fragment in str(caught.value), str(caught.value)
    assert "the data are 8×8 images" in str(caught.value)


def test_check_upload_stores_the_model_with_its_free_batch_size(digits):
    from featlib.jobs import tasks

    original = fixed_batch_mlp()
    output = tasks.check_upload(
        data=models.model_to_bytes(original), filename="fixed.keras", dataset=digits, input_scale="0-1"
    )
    stored = models.model_from_bytes(output["model"])
    assert tuple(stored.inputs[0].shape) == (None, 64)
    assert output["fingerprint"] == models.fingerprint(stored)
    assert max(every_layer_by_both_methods(stored, models.adapt_images(digits.x_test[:9], stored)).values()) < 1e-6
