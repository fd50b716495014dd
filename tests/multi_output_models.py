"""Functional models with a shared trunk and several heads, trained briefly on the digits (issue 12's models).

Shared by ``test_multi_output`` and ``test_cli``. Head ``head_a`` is a 10-way softmax trained on the
labels; the other head is trained on something else (shuffled labels, or the label as a number),
so the accuracy of the whole model depends on which output is read.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

EPOCHS = 20


def heads_model(widths: Sequence[tuple[str, int]], seed: int = 0):
    """An uncompiled model 64 → Dense 32 relu (``trunk``) → one Dense head per ``(name, units)``.

    A head of 2 units or more ends in a softmax; a 1-unit head is linear.
    """
    import keras

    pixels = keras.Input((64,), name="pixels")
    trunk = keras.layers.Dense(
        32, activation="relu", name="trunk", kernel_initializer=keras.initializers.GlorotUniform(seed)
    )(pixels)
    heads = [
        keras.layers.Dense(
            units,
            activation="softmax" if units > 1 else None,
            name=name,
            kernel_initializer=keras.initializers.GlorotUniform(seed + 1 + i),
        )(trunk)
        for i, (name, units) in enumerate(widths)
    ]
    return keras.Model(pixels, heads, name="heads")


def _inputs(digits, split: str) -> tuple[np.ndarray, np.ndarray]:
    images, labels = digits.split(split)
    return images.reshape(len(images), -1).astype("float32") / 255.0, labels


def trained_two_heads(digits, second: int = 10):
    """``head_a`` (10-way, the labels) and ``head_b``: 10-way on shuffled labels, or with ``second=1`` the label / 9.

    Returns:
        ``(model, head_a's test accuracy by model.evaluate)``.
    """
    import keras

    model = heads_model([("head_a", 10), ("head_b", second)])
    x, y = _inputs(digits, "train")
    x_test, y_test = _inputs(digits, "test")
    rng = np.random.default_rng(0)
    if second == 1:
        losses, target, test_target = ["sparse_categorical_crossentropy", "mse"], y / 9.0, y_test / 9.0
        metrics = [["accuracy"], []]
    else:
        losses, target, test_target = ["sparse_categorical_crossentropy"] * 2, rng.permutation(y), y_test
        metrics = [["accuracy"], ["accuracy"]]
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=losses, metrics=metrics)
    model.fit(x, [y, target], epochs=EPOCHS, batch_size=32, verbose=0)
    figures = model.evaluate(x_test, [y_test, test_target], verbose=0, return_dict=True)
    return model, float(figures["head_a_accuracy"])
