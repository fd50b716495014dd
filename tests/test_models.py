"""Tests for featlib.models: real Keras models, real files."""

from __future__ import annotations

import json
import re
import zipfile

import numpy as np
import pytest

from featlib import models
from featlib.models import InputMismatchError, ModelError

SEED_LAYERS = [
    ("dense", "Dense"),
    ("activation", "Activation"),
    ("dense_1", "Dense"),
    ("activation_1", "Activation"),
    ("dense_2", "Dense"),
    ("activation_2", "Activation"),
]


def weights_equal(a, b) -> bool:
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb))


def lambda_model():
    import keras

    inp = keras.Input((4,))
    out = keras.layers.Lambda(lambda t: t * 2.0, name="double")(inp)
    return keras.Model(inp, keras.layers.Dense(2)(out))


# ----------------------------------------------------------------------------- build_mlp


def test_build_mlp_layer_names_types_and_shapes():
    model = models.build_mlp()
    assert [(layer.name, type(layer).__name__) for layer in model.layers] == SEED_LAYERS
    assert [layer.get_config()["activation"] for layer in model.layers[1::2]] == ["relu", "relu", "softmax"]
    assert [layer.get_config()["activation"] for layer in model.layers[0::2]] == ["linear"] * 3
    assert [tuple(layer.output.shape) for layer in model.layers] == [
        (None, 128),
        (None, 128),
        (None, 64),
        (None, 64),
        (None, 10),
        (None, 10),
    ]
    assert models.input_shape(model) == (784,)
    assert model.count_params() == 109_386
    assert models.architecture_summary(model) == "784-128-64-10 (Sequential, 109,386 params)"


def test_build_mlp_names_do_not_depend_on_earlier_models():
    models.build_mlp((16,), hidden=(8,))
    again = models.build_mlp((64,), hidden=(32, 16, 8), num_classes=3)
    assert [layer.name for layer in again.layers] == [
        "dense",
        "activation",
        "dense_1",
        "activation_1",
        "dense_2",
        "activation_2",
        "dense_3",
        "activation_3",
    ]
    assert again.layers[-2].units == 3


@pytest.mark.parametrize("hidden", [(), (0,), (16, -1)])
def test_build_mlp_rejects_bad_hidden_sizes(hidden):
    with pytest.raises(ModelError, match="hidden sizes must be positive"):
        models.build_mlp((64,), hidden=hidden)


def test_build_mlp_same_seed_same_weights_other_seed_differs():
    a = models.build_mlp((64,), seed=3)
    b = models.build_mlp((64,), seed=3)
    c = models.build_mlp((64,), seed=4)
    assert weights_equal(a, b)
    assert not weights_equal(a, c)
    assert models.fingerprint(a) == models.fingerprint(b) != models.fingerprint(c)


# ----------------------------------------------------------------------------- train


def test_train_adam_on_digits_beats_chance(trained, digits):
    result = trained.result
    assert result.test_accuracy > 0.85, result  # chance is 0.1
    assert result.test_loss < 1.0
    assert result.seconds > 0
    assert set(result.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(len(values) == trained.epochs for values in result.history.values())
    assert result.history["accuracy"][-1] > result.history["accuracy"][0]
    assert result.history["loss"][-1] < result.history["loss"][0]
    # The model really was trained in place: its own predictions reach that accuracy.
    x_test = models.adapt_images(digits.x_test, trained.model)
    assert models.evaluate_accuracy(trained.model, x_test, digits.y_test) == pytest.approx(
        result.test_accuracy, abs=1e-6
    )


def test_train_calls_on_epoch_end_once_per_epoch(trained):
    calls = trained.epoch_calls
    assert [(epoch, epochs) for epoch, epochs, _ in calls] == [
        (i, trained.epochs) for i in range(1, trained.epochs + 1)
    ]
    for i, (_, _, logs) in enumerate(calls):
        assert {"loss", "accuracy", "val_loss", "val_accuracy"} <= set(logs)
        assert all(isinstance(v, float) for v in logs.values())
        assert logs["accuracy"] == pytest.approx(trained.result.history["accuracy"][i])


def test_train_rejects_unknown_optimizer_and_bad_epochs(digits):
    model = models.build_mlp((64,), hidden=(8,))
    x = models.adapt_images(digits.x_train[:20], model)
    y = digits.y_train[:20]
    with pytest.raises(ModelError, match=r"Unknown optimizer: 'rmsprop'.*\['sgd', 'adam'\]"):
        models.train(model, x, y, x, y, optimizer="rmsprop")
    with pytest.raises(ModelError, match="epochs and batch_size must be >= 1"):
        models.train(model, x, y, x, y, epochs=0)


def test_predict_labels_is_argmax_of_output(model, x_digits):
    out = model.predict(x_digits[:50], verbose=0)
    assert np.array_equal(models.predict_labels(model, x_digits[:50], batch_size=7), out.argmax(axis=1))


# ----------------------------------------------------------------------------- fingerprint & layers


def test_fingerprint_stable_across_save_and_load(model, tmp_path):
    fp = models.fingerprint(model)
    assert len(fp) == 16 and int(fp, 16) >= 0
    assert models.fingerprint(model) == fp
    model.save(tmp_path / "m.keras")
    assert models.fingerprint(models.load_model(tmp_path / "m.keras")) == fp


def test_fingerprint_changes_when_weights_change():
    model = models.build_mlp((64,), hidden=(8,), seed=0)
    before = models.fingerprint(model)
    weights = model.get_weights()
    weights[0] = weights[0].copy()
    weights[0][0, 0] += 1e-3
    model.set_weights(weights)
    assert models.fingerprint(model) != before
    weights[0][0, 0] -= 1e-3
    model.set_weights(weights)
    assert models.fingerprint(model) == before


def test_layer_table_rows(model):
    rows = models.layer_table(model)
    assert [(r.index, r.name, r.type) for r in rows] == [(i, n, t) for i, (n, t) in enumerate(SEED_LAYERS)]
    assert [r.output_shape for r in rows] == [
        "(None, 128)",
        "(None, 128)",
        "(None, 64)",
        "(None, 64)",
        "(None, 10)",
        "(None, 10)",
    ]
    assert [r.params for r in rows] == [64 * 128 + 128, 0, 128 * 64 + 64, 0, 64 * 10 + 10, 0]
    assert sum(r.params for r in rows) == model.count_params()
    assert [r.activation for r in rows] == [
        "none: pre-activation; relu in activation",
        "relu, of dense",
        "none: pre-activation; relu in activation_1",
        "relu, of dense_1",
        "none: pre-activation; softmax in activation_2",
        "softmax, of dense_2",
    ]


def test_activations_name_each_layers_function_and_which_side_of_it_is_read():
    import keras

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(8, name="hidden")(x)
    x = keras.layers.LeakyReLU(name="leaky")(x)
    x = keras.layers.Dropout(0.1, name="drop")(x)
    x = keras.layers.Dense(6, name="linear")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="head")(x)
    notes = models.activations(keras.Model(inputs, outputs))
    inputs_named = {
        k: "" for k in notes if k.startswith("input_layer")
    }  # input_layer_N: Keras numbers them per process
    assert len(inputs_named) == 1
    assert (
        notes
        == {
            "conv": "relu (own)",
            "flat": "",
            "hidden": "none: pre-activation; leaky_relu in leaky",
            "leaky": "leaky_relu, of hidden",
            "drop": "",
            "linear": "none",
            "head": "softmax (own)",
        }
        | inputs_named
    )


def test_default_layer_is_dense_1_for_seed_mlp(model):
    assert models.default_layer(model) == "dense_1"
    assert models.default_layer(models.build_mlp()) == "dense_1"


# ----------------------------------------------------------------------------- default layer


def sequential(input_shape, *layers):
    import keras

    return keras.Sequential([keras.Input(input_shape), *layers])


def small_cnn(*head):
    """Conv2D → LeakyReLU → MaxPooling2D → Dropout → Flatten, then ``head``."""
    from keras import layers as kl

    return sequential(
        (28, 28, 1),
        kl.Conv2D(8, 3, name="conv"),
        kl.LeakyReLU(name="conv_act"),
        kl.MaxPooling2D(name="pool"),
        kl.Dropout(0.25, name="conv_drop"),
        kl.Flatten(name="flat"),
        *head,
    )


def test_default_layer_of_a_cnn_is_after_its_separate_leaky_relu_not_the_dropout():
    from keras import layers as kl

    model = small_cnn(
        kl.Dense(64, name="hidden"),
        kl.LeakyReLU(name="hidden_act"),
        kl.Dropout(0.5, name="drop"),
        kl.Dense(10, activation="softmax", name="out"),
    )
    chosen = models.choose_default_layer(model)
    assert chosen == models.DefaultLayer(
        "hidden_act",
        "hidden_act: the last hidden layer (hidden, Dense 64) after its LeakyReLU; the Dropout after it "
        "changes nothing at inference.",
        alternative="hidden",
    )
    assert models.default_layer(model) == "hidden_act"
    assert models.default_layer_reason(model) == chosen.reason


def test_default_layer_of_a_cnn_with_batch_normalization_is_after_activation_and_normalisation():
    from keras import layers as kl

    model = small_cnn(
        kl.Dense(128, name="hidden"),
        kl.LeakyReLU(name="act"),
        kl.BatchNormalization(name="norm"),
        kl.Dropout(0.3, name="drop"),
        kl.Dense(10, name="logits"),
        kl.Softmax(name="probs"),
    )
    chosen = models.choose_default_layer(model)
    assert (chosen.name, chosen.alternative) == ("norm", "hidden")
    assert chosen.reason.startswith(
        "norm: the last hidden layer (hidden, Dense 128) after its LeakyReLU and BatchNormalization;"
    )
    normalised_first = small_cnn(
        kl.Dense(32, name="hidden"),
        kl.BatchNormalization(name="norm"),
        kl.Activation("relu", name="act"),
        kl.Dense(10, name="out"),
    )
    chosen = models.choose_default_layer(normalised_first)
    assert chosen.name == "act"
    assert chosen.reason == (
        "act: the last hidden layer (hidden, Dense 32) after its BatchNormalization and relu activation."
    )


def test_default_layer_of_a_flatten_mlp_is_its_hidden_dense_with_builtin_activation():
    from keras import layers as kl

    model = sequential(
        (28, 28),
        kl.Flatten(name="flat"),
        kl.Dense(128, activation="relu", name="hidden"),
        kl.Dense(10, activation="softmax", name="out"),
    )
    assert models.choose_default_layer(model) == models.DefaultLayer(
        "hidden", "hidden: the last hidden layer (Dense 128, relu)."
    )


def test_default_layer_of_the_seed_layout_is_its_dense_before_activation_with_the_activation_one_click_away():
    chosen = models.choose_default_layer(models.build_mlp())
    assert chosen == models.DefaultLayer(
        "dense_1",
        "dense_1: the last hidden layer (Dense 64) before its relu activation, as the seed script read it; "
        "activation_1 is the same layer after its relu.",
        alternative="activation_1",
    )
    assert models.default_layer(models.build_mlp((64,), hidden=(32, 16, 8))) == "dense_2"


def test_default_layer_of_models_not_laid_out_as_the_seed_is_after_the_activation():
    from keras import layers as kl

    leaky = sequential(
        (64,),
        kl.Dense(32, name="d0"),
        kl.LeakyReLU(name="a0"),
        kl.Dense(16, name="d1"),
        kl.LeakyReLU(name="a1"),
        kl.Dense(10, name="d2"),
        kl.Activation("softmax", name="a2"),
    )
    assert models.default_layer(leaky) == "a1"
    flattened = sequential(
        (8, 8),
        kl.Flatten(),
        kl.Dense(16, name="d0"),
        kl.Activation("relu", name="a0"),
        kl.Dense(10, name="d1"),
        kl.Activation("softmax", name="a1"),
    )
    assert models.default_layer(flattened) == "a0"


def test_default_layer_of_a_functional_model_with_two_heads_is_the_shared_trunk():
    import keras
    from keras import layers as kl

    pixels = keras.Input((64,))
    trunk = kl.ReLU(name="trunk_act")(kl.Dense(32, name="trunk")(pixels))
    model = keras.Model(pixels, [kl.Dense(10, name="digit")(trunk), kl.Dense(1, name="score")(trunk)])
    assert models.choose_default_layer(model) == models.DefaultLayer(
        "trunk_act", "trunk_act: the last hidden layer (trunk, Dense 32) after its ReLU.", alternative="trunk"
    )


def test_default_layer_moves_only_over_layers_that_read_the_hidden_layer():
    import keras
    from keras import layers as kl

    pixels = keras.Input((16,))
    hidden = kl.Dense(8, name="hidden")(pixels)
    beside = kl.ReLU(name="beside")(pixels)  # an activation of the input, not of the hidden layer
    # A second output, not a Concatenate: a graph that merges branches defaults to what its head reads (issue 23).
    model = keras.Model(pixels, [beside, kl.Dense(3, name="out")(hidden)])  # layers: hidden, beside, out
    assert models.default_layer(model) == "hidden"


def test_default_layer_of_models_without_a_hidden_layer():
    from keras import layers as kl

    only = sequential((64,), kl.Dense(10, name="only"))
    assert models.choose_default_layer(only) == models.DefaultLayer(
        "only", "only: the output layer (Dense 10); the model has no hidden layer."
    )
    flat = sequential((8, 8), kl.Flatten(name="flat"), kl.Dropout(0.1), kl.Dense(10, name="out"))
    assert models.choose_default_layer(flat) == models.DefaultLayer(
        "flat", "flat: the input of the output layer out (Dense 10); the model has no hidden layer with weights."
    )
    weightless = sequential((8, 8), kl.Flatten(name="flat"))
    assert models.default_layer(weightless) == "flat"


def test_default_layer_of_a_nested_model_is_the_nested_model():
    import keras
    from keras import layers as kl

    backbone = keras.Sequential([keras.Input((28, 28, 1)), kl.Conv2D(4, 3), kl.Flatten()], name="backbone")
    model = sequential((28, 28, 1), backbone, kl.Dense(10, name="out"))
    assert models.choose_default_layer(model) == models.DefaultLayer(
        "backbone", "backbone: the last hidden layer (Sequential)."
    )


def test_default_layer_of_a_model_without_layers_says_so():
    import keras

    with pytest.raises(ModelError, match=r"The model has no layers \(expected at least one layer after its input\)"):
        models.choose_default_layer(keras.Sequential([]))


# ----------------------------------------------------------------------------- architecture summary


def test_summary_of_a_cnn_names_its_convolutions():
    from keras import layers as kl

    model = sequential(
        (28, 28, 1),
        kl.Conv2D(32, 3, activation="relu"),
        kl.MaxPooling2D(),
        kl.Conv2D(64, 3, activation="relu"),
        kl.MaxPooling2D(),
        kl.Flatten(),
        kl.Dense(64, activation="relu"),
        kl.Dense(10, activation="softmax"),
    )
    assert models.architecture_summary(model) == (
        "input 28×28×1 · Conv2D 32 → MaxPooling2D → Conv2D 64 → MaxPooling2D → Flatten → Dense 64 → Dense 10 "
        f"(Sequential, {model.count_params():,} params)"
    )


def test_summary_lists_separate_activation_normalisation_and_dropout_layers():
    from keras import layers as kl

    model = small_cnn(
        kl.Dense(64), kl.LeakyReLU(), kl.BatchNormalization(), kl.Dropout(0.5), kl.Dense(10), kl.Softmax()
    )
    assert models.architecture_summary(model) == (
        "input 28×28×1 · Conv2D 8 → LeakyReLU → MaxPooling2D → Dropout → Flatten → Dense 64 → LeakyReLU → "
        f"BatchNormalization → Dropout → Dense 10 → Softmax (Sequential, {model.count_params():,} params)"
    )
    mlp = sequential(
        (64,), kl.Dense(32), kl.Activation("relu"), kl.Dropout(0.2), kl.Dense(10), kl.Activation("softmax")
    )
    assert (
        models.architecture_summary(mlp) == "input 64 · Dense 32 → relu → Dropout → Dense 10 → softmax "
        "(Sequential, 2,410 params)"
    )


def test_summary_keeps_the_compact_form_for_flat_dense_stacks_only():
    from keras import layers as kl

    assert models.architecture_summary(models.build_mlp((64,), hidden=(32,))) == "64-32-10 (Sequential, 2,410 params)"
    assert (
        models.architecture_summary(sequential((64,), kl.Dense(10, activation="softmax")))
        == "64-10 (Sequential, 650 params)"
    )
    flatten = sequential((28, 28), kl.Flatten(), kl.Dense(128, activation="relu"), kl.Dense(10))
    assert (
        models.architecture_summary(flatten)
        == "input 28×28 · Flatten → Dense 128 → Dense 10 (Sequential, 101,770 params)"
    )


def test_summary_folds_runs_and_abbreviates_long_models_within_the_limit():
    from keras import layers as kl

    blocks = [layer for _ in range(6) for layer in (kl.Conv2D(16, 3, padding="same"), kl.ReLU())]
    repeated = sequential((32, 32, 3), *blocks, kl.GlobalAveragePooling2D(), kl.Dense(100))
    assert models.architecture_summary(repeated) == (
        "input 32×32×3 · (Conv2D 16 → ReLU) ×6 → GlobalAveragePooling2D → Dense 100 "
        f"(Sequential, {repeated.count_params():,} params)"
    )
    varied = [
        layer
        for i in range(20)
        for layer in (kl.Conv2D(8 * (i % 3 + 1), 3, padding="same"), kl.BatchNormalization(), kl.ReLU())
    ]
    long = sequential((32, 32, 3), *varied, kl.GlobalAveragePooling2D(), kl.Dense(100))
    text = models.architecture_summary(long)
    assert len(text) <= models.SUMMARY_MAX_CHARS
    assert text.startswith("input 32×32×3 · Conv2D 8 → ")
    assert text.endswith(f"→ GlobalAveragePooling2D → Dense 100 (Sequential, {long.count_params():,} params)")
    left_out = int(re.search(r"… (\d+) more layers …", text).group(1))
    shown = text.split(" · ", 1)[1].split(" (Sequential")[0].split(" → ")
    assert left_out + len(shown) - 1 == len(long.layers)  # every layer is shown or counted


def test_summary_of_nested_and_multi_output_models_does_not_crash():
    import keras
    from keras import layers as kl

    backbone = keras.Sequential([keras.Input((28, 28, 1)), kl.Conv2D(4, 3), kl.Flatten()], name="backbone")
    nested = sequential((28, 28, 1), backbone, kl.Dense(10))
    assert models.architecture_summary(nested) == (
        f"input 28×28×1 · Sequential backbone → Dense 10 (Sequential, {nested.count_params():,} params)"
    )
    pixels = keras.Input((4,))
    trunk = kl.Dense(8)(pixels)
    two = keras.Model(pixels, [kl.Dense(3)(trunk), kl.Dense(1)(trunk)])
    assert (
        models.architecture_summary(two)
        == "input 4 · Dense 8 → Dense 3 → Dense 1 · outputs 3, 1 (Functional, 76 params)"
    )
    weightless = sequential((8, 8), kl.Flatten())
    assert models.architecture_summary(weightless) == "input 8×8 · Flatten · output 64 (Sequential, 0 params)"


def test_check_layer_names_existing_layers(model):
    models.check_layer(model, "dense_1")
    with pytest.raises(ModelError, match=r"No such layer: nope\. Existing layers are: \['dense', 'activation'"):
        models.check_layer(model, "nope")


# ----------------------------------------------------------------------------- adapt_images


def test_adapt_images_flat_64_model_with_8x8_data(model, digits):
    images = digits.x_train[:30]
    x = models.adapt_images(images, model)
    assert x.shape == (30, 64) and x.dtype == np.float32
    np.testing.assert_allclose(x, images.reshape(30, 64) / 255.0, rtol=0, atol=1e-7)
    assert images.dtype == np.uint8  # the caller's array is untouched


def test_adapt_images_scale_0_255_keeps_raw_values(model, digits):
    images = digits.x_train[:30]
    x = models.adapt_images(images, model, scale="0-255")
    assert x.dtype == np.float32
    assert np.array_equal(x, images.reshape(30, 64).astype("float32"))
    assert x.max() == 255.0
    assert models.adapt_images(images, model, scale="0-1").max() == pytest.approx(1.0)
    with pytest.raises(ModelError, match="Unknown input scale"):
        models.adapt_images(images, model, scale="0-16")


def test_adapt_images_resizes_8x8_for_flat_784_model(digits):
    model = models.build_mlp((784,), hidden=(8,))
    images = digits.x_train[:20]
    x = models.adapt_images(images, model)
    assert x.shape == (20, 784) and x.dtype == np.float32
    assert 0.0 <= x.min() and x.max() <= 1.0
    # Bilinear resizing keeps each image's mean brightness roughly.
    np.testing.assert_allclose(x.mean(axis=1), images.reshape(20, -1).mean(axis=1) / 255.0, atol=0.05)
    white = np.full((2, 8, 8), 255, np.uint8)
    np.testing.assert_allclose(models.adapt_images(white, model), 1.0, atol=1e-6)


def test_adapt_images_conv_style_28x28x1_input(digits):
    import keras

    inp = keras.Input((28, 28, 1))
    conv_like = keras.Model(inp, keras.layers.Dense(10)(keras.layers.Flatten()(inp)))
    x = models.adapt_images(digits.x_train[:5], conv_like)
    assert x.shape == (5, 28, 28, 1) and x.dtype == np.float32
    assert conv_like.predict(x, verbose=0).shape == (5, 10)
    flat = models.adapt_images(digits.x_train[:5], models.build_mlp((784,), hidden=(4,)))
    np.testing.assert_allclose(x.reshape(5, -1), flat, atol=1e-6)


def test_adapt_images_three_channel_and_no_channel_inputs(digits):
    import keras

    inp3 = keras.Input((8, 8, 3))
    rgb = keras.Model(inp3, keras.layers.Dense(2)(keras.layers.Flatten()(inp3)))
    x3 = models.adapt_images(digits.x_train[:4], rgb)
    assert x3.shape == (4, 8, 8, 3)
    assert np.array_equal(x3[..., 0], x3[..., 2])
    inp2 = keras.Input((8, 8))
    plain = keras.Model(inp2, keras.layers.Dense(2)(keras.layers.Flatten()(inp2)))
    assert models.adapt_images(digits.x_train[:4], plain).shape == (4, 8, 8)


def test_adapt_images_refuses_non_square_flat_input(digits):
    model = models.build_mlp((50,), hidden=(4,))
    with pytest.raises(InputMismatchError, match=r"flat inputs of 50 values, which is not a square"):
        models.adapt_images(digits.x_train[:3], model)


def test_adapt_images_refuses_five_channel_input(digits):
    import keras

    inp = keras.Input((8, 8, 5))
    model = keras.Model(inp, keras.layers.Dense(2)(keras.layers.Flatten()(inp)))
    with pytest.raises(InputMismatchError, match=r"expects images with 5 channels"):
        models.adapt_images(digits.x_train[:3], model)


def test_adapt_images_refuses_non_square_data_for_square_model(model):
    images = np.zeros((3, 8, 6), np.uint8)
    with pytest.raises(InputMismatchError, match=r"8×8 images; the data are 8×6"):
        models.adapt_images(images, model)


# ----------------------------------------------------------------------------- load_model


def test_load_keras_roundtrip(model, tmp_path, x_digits):
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = models.load_model(path)
    assert weights_equal(loaded, model)
    assert [layer.name for layer in loaded.layers] == [name for name, _ in SEED_LAYERS]
    np.testing.assert_allclose(
        loaded.predict(x_digits[:64], verbose=0), model.predict(x_digits[:64], verbose=0), atol=1e-6
    )


def test_load_h5_roundtrip(model, tmp_path, x_digits):
    path = tmp_path / "m.h5"
    model.save(path)
    loaded = models.load_model(path)
    assert weights_equal(loaded, model)
    assert models.fingerprint(loaded) == models.fingerprint(model)
    np.testing.assert_allclose(
        loaded.predict(x_digits[:64], verbose=0), model.predict(x_digits[:64], verbose=0), atol=1e-6
    )


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_load_refuses_lambda_layer(tmp_path, suffix):
    path = tmp_path / f"lambda{suffix}"
    lambda_model().save(path)
    assert path.stat().st_size > 0
    with pytest.raises(ModelError, match=r"contains Lambda layer\(s\)"):
        models.load_model(path)


def test_load_refuses_truncated_keras(model, tmp_path):
    good = tmp_path / "good.keras"
    model.save(good)
    data = good.read_bytes()
    bad = tmp_path / "truncated.keras"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match=r"truncated\.keras is not a Keras 3 \.keras file.*truncated"):
        models.load_model(bad)


def test_load_refuses_empty_file(tmp_path):
    for name in ("empty.keras", "empty.h5"):
        path = tmp_path / name
        path.write_bytes(b"")
        with pytest.raises(ModelError, match=r"empty \(0 bytes\)"):
            models.load_model(path)
    not_h5 = tmp_path / "text.h5"
    not_h5.write_bytes(b"not HDF5")
    with pytest.raises(ModelError, match="not a readable HDF5"):
        models.load_model(not_h5)


@pytest.mark.parametrize("name", ["model.pb", "model.pkl", "model"])
def test_load_refuses_unknown_suffix(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"whatever")
    with pytest.raises(ModelError, match=r"Unsupported model file"):
        models.load_model(path)


def test_load_refuses_model_with_two_inputs(tmp_path):
    import keras

    a, b = keras.Input((4,)), keras.Input((4,))
    two = keras.Model([a, b], keras.layers.Dense(2)(keras.layers.Concatenate()([a, b])))
    path = tmp_path / "two.keras"
    two.save(path)
    with pytest.raises(ModelError, match=r"exactly one image input; this model has 2 inputs"):
        models.load_model(path)


def test_load_refuses_keras_zip_without_config(tmp_path):
    path = tmp_path / "noconfig.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", "{}")
    with pytest.raises(ModelError, match="has no config.json"):
        models.load_model(path)


def test_load_refuses_zip_bomb(model, tmp_path, monkeypatch):
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {}}))
        archive.writestr("model.weights.h5", b"\0" * (4 * 1024 * 1024))
    assert path.stat().st_size < 64 * 1024  # small on disk, 4 MiB inflated
    monkeypatch.setattr(models.checks, "MAX_MODEL_INFLATED_BYTES", 1024 * 1024)
    with pytest.raises(ModelError, match="refusing a possible zip bomb"):
        models.load_model(path)
    # The limit is what refused it: above the limit, a real model loads.
    good = tmp_path / "good.keras"
    model.save(good)
    monkeypatch.setattr(models.checks, "MAX_MODEL_INFLATED_BYTES", 1024 * 1024 * 1024)
    models.load_model(good)
    monkeypatch.setattr(models.checks, "MAX_MODEL_INFLATED_BYTES", 1024)
    with pytest.raises(ModelError, match="zip bomb"):
        models.load_model(good)


def test_load_refuses_h5_with_weights_only(model, tmp_path):
    path = tmp_path / "only.weights.h5"
    model.save_weights(path)
    with pytest.raises(ModelError, match="holds weights only"):
        models.load_model(path)


def test_the_other_side_of_an_activation_is_named_for_every_hidden_layer(model):
    assert models.other_side_of_activation(model, "dense_1") == ("activation_1", "after its relu")
    assert models.other_side_of_activation(model, "activation") == ("dense", "before its relu")
    assert models.other_side_of_activation(model, "dense_2") == ("activation_2", "after its softmax")
    assert models.other_side_of_activation(model, "nope") is None
    import keras

    own = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu", name="own")])
    assert models.other_side_of_activation(own, "own") is None  # its activation is not a layer of its own
