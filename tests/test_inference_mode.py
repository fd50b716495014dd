"""Both extraction methods read every layer in inference mode, as ``predict`` does (issue 23, item 1).

A model that carries a data-augmentation block (a nested ``Sequential`` of ``RandomRotation``,
``RandomTranslation`` and ``RandomZoom``, as Keras's tutorials build one) was read by the backend
function with the block in training mode: a plain ``keras.Function`` calls its layers without
``training``, and Keras 3's random layers then transform every image, differently on every call.
The models here are built in this file: that block, noise and dropout inside nested blocks and at
the top level (also where the model recorded ``training=True`` for them), and BatchNormalization.
"""

from __future__ import annotations

import numpy as np
import pytest
from cli_testing import cli

from featlib import models
from featlib.read import extract


def augmentation_block():
    """The tutorials' block: random rotation, translation and zoom, nested as one Sequential layer."""
    import keras

    return keras.Sequential(
        [
            keras.layers.RandomRotation(0.2, seed=1),
            keras.layers.RandomTranslation(0.2, 0.2, seed=2),
            keras.layers.RandomZoom(0.2, seed=3),
        ],
        name="augment",
    )


def augmented_cnn():
    """Raw 0–255 digits (8×8×1) → augmentation → Rescaling → Conv2D → BatchNormalization → Dense."""
    import keras

    inputs = keras.Input((8, 8, 1), name="pixels")
    x = augmentation_block()(inputs)
    x = keras.layers.Rescaling(1 / 255, name="rescale")(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(x)
    x = keras.layers.BatchNormalization(name="norm")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dropout(0.5, name="drop")(x)
    outputs = keras.layers.Dense(10, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="augmented")


def noisy_mlp():
    """Noise and dropout in a nested block and at the top level, recorded there with ``training=True`` (MC style).

    ``predict`` runs them all in inference mode (it passes ``training=False`` to every layer, over
    what the graph recorded); so must the backend function.
    """
    import keras

    inputs = keras.Input((64,), name="pixels")
    x = keras.layers.Rescaling(1 / 255, name="rescale")(inputs)
    x = keras.Sequential([keras.layers.GaussianNoise(0.3), keras.layers.Dropout(0.3)], name="noise_block")(x)
    x = keras.layers.Dense(32, activation="relu", name="hidden")(x)
    x = keras.layers.GaussianNoise(0.5, name="noise")(x, training=True)
    x = keras.layers.BatchNormalization(name="norm")(x, training=True)
    x = keras.layers.Dropout(0.5, name="drop")(x, training=True)
    outputs = keras.layers.Dense(10, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="noisy")


def with_moving_statistics(model):
    """``model`` with BatchNormalization moving statistics away from 0/1, so that training mode would show."""
    for layer in model.layers:
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, variance = layer.get_weights()
            layer.set_weights([gamma, beta, mean + 0.5, variance * 4])
    return model


@pytest.fixture(scope="module")
def images(digits):
    return digits.x_train[:96].reshape(-1, 8, 8, 1).astype("float32")  # raw 0–255 pixels


def every_layer(model, x):
    """{layer: (by function, by sub-model)} for every non-input layer."""
    return {
        layer.name: (
            extract.extract(model, layer.name, x, method="function"),
            extract.extract(model, layer.name, x, method="submodel"),
        )
        for layer in model.layers
        if type(layer).__name__ != "InputLayer"
    }


def test_a_plain_keras_function_runs_the_augmentation_block_as_in_training(images):
    """The cause, with Keras alone: ``keras.Function`` passes no ``training``; ``predict`` passes False."""
    import keras

    model = augmented_cnn()
    block = model.get_layer("augment").output
    by_function = keras.ops.convert_to_numpy(keras.Function(model.inputs, [block])([images])[0])
    by_predict = keras.Model(model.inputs, block).predict(images, verbose=0)
    assert np.abs(by_function - images).max() > 50  # randomly transformed images
    np.testing.assert_array_equal(by_predict, images)  # the block is the identity in inference


def test_both_methods_read_every_layer_of_an_augmented_cnn_alike(images):
    model = with_moving_statistics(augmented_cnn())
    reads = every_layer(model, images)
    np.testing.assert_array_equal(reads["augment"][0], images.reshape(len(images), -1))  # not transformed
    for name, (by_function, by_submodel) in reads.items():
        assert np.abs(by_function - by_submodel).max() <= 1e-5, name
    expected = model.predict(images, verbose=0)
    np.testing.assert_allclose(reads["probs"][0], expected, rtol=0, atol=1e-6)


def test_the_backend_function_gives_the_same_map_on_every_run(images):
    import keras

    reader = extract.Extractor(augmented_cnn(), "conv", method="function")
    first, second = reader(images), reader(images)
    np.testing.assert_array_equal(first, second)
    assert isinstance(reader._fn, keras.Function)  # still a genuine backend function


def test_the_method_check_holds_on_an_augmented_cnn(images):
    model = augmented_cnn()
    for layer in ("augment", "conv", "probs"):
        extractors = {method: extract.Extractor(model, layer, method) for method in extract.METHODS}
        comparison = extract.compare_methods(extractors, images, repeats=1)
        assert comparison.agree and comparison.max_abs_diff <= 1e-5, (layer, comparison.max_abs_diff)


def test_noise_and_dropout_nested_or_recorded_as_training_are_read_in_inference_mode(digits):
    model = with_moving_statistics(noisy_mlp())
    x = digits.x_train[:96].reshape(-1, 64).astype("float32")
    saved = [w.copy() for w in model.get_weights()]
    reads = every_layer(model, x)
    for kept, now in zip(saved, model.get_weights()):  # BatchNormalization's moving statistics untouched
        np.testing.assert_array_equal(kept, now)
    for name, (by_function, by_submodel) in reads.items():
        assert np.abs(by_function - by_submodel).max() <= 1e-5, name
    np.testing.assert_allclose(reads["noise_block"][0], x / 255, rtol=0, atol=1e-6)  # noise and dropout: off
    np.testing.assert_array_equal(reads["noise"][0], reads["hidden"][0])  # recorded training=True: off too
    np.testing.assert_allclose(reads["probs"][0], model.predict(x, verbose=0), rtol=0, atol=1e-6)
    again = extract.extract(model, "probs", x, method="function")
    np.testing.assert_array_equal(again, reads["probs"][0])


def test_the_upload_check_for_non_finite_values_leaves_the_moving_statistics_alone(digits):
    """The kind of item 1 beyond extraction: every backend function featlib runs is in inference mode. The
    upload check (featlib.models.nonfinite.scan) ran a plain keras.Function, which moved the moving statistics
    of a BatchNormalization recorded with training=True in the model being checked."""
    from featlib.models import nonfinite

    model = with_moving_statistics(noisy_mlp())
    x = digits.x_train[:96].reshape(-1, 64).astype("float32")
    saved = [w.copy() for w in model.get_weights()]
    counts = nonfinite.scan(model, x)
    assert counts and not any(counts.values()), counts
    for kept, now in zip(saved, model.get_weights()):
        np.testing.assert_array_equal(kept, now)


def test_the_caller_model_still_trains_with_its_augmentation(images):
    """Reading in inference mode changes nothing in the model: called in training, the block still augments."""
    model = augmented_cnn()
    extract.extract(model, "augment", images, method="function")
    block = model.get_layer("augment")
    assert np.abs(np.asarray(block(images, training=True)) - images).max() > 50


# ----------------------------------------------------------------------------- through the CLI


def test_an_augmented_cnn_added_through_the_cli_is_read_alike_by_both_methods(tmp_path, digits):
    import keras

    keras.utils.set_random_seed(0)
    model = augmented_cnn()
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    model.fit(digits.x_train.reshape(-1, 8, 8, 1).astype("float32"), digits.y_train, epochs=3, verbose=0)
    path = tmp_path / "augmented.keras"
    model.save(path)
    ws = str(tmp_path / "ws")
    rc, out, err = cli("--workspace", ws, "add", str(path), "--name", "aug", "--dataset", "digits", "--scale", "0-255")
    assert rc == 0, err
    test_images = models.adapt_images(digits.x_test, model).astype("float32")
    for layer in ("augment", "conv", "probs"):
        reads = {}
        for method in extract.METHODS:
            out_path = tmp_path / f"{layer}-{method}.npy"
            rc, _, err = cli(
                "--workspace", ws, "extract", "aug", "--layer", layer, "--method", method,
                "--split", "test", "--scale", "0-255", "--out", str(out_path),
            )  # fmt: skip
            assert rc == 0, err
            reads[method] = np.load(out_path)
        assert np.abs(reads["function"] - reads["submodel"]).max() <= 1e-5, layer
        if layer == "augment":
            np.testing.assert_array_equal(reads["function"], test_images.reshape(len(test_images), -1))
