"""Tests for featlib.models.diagnosis: near chance, the scoring split, the likely causes, on real Keras models.

A plain ReLU MLP hardly cares about the input scaling (ReLU is positively
homogeneous: ×255 scales every pre-activation and the biases fade), so the model
that is near chance with the wrong scaling here is the realistic kind: it
standardises raw 0–255 pixels itself with a ``Normalization`` layer.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from featlib import datasets, models
from featlib.models import ModelError, diagnosis


@functools.lru_cache(maxsize=1)
def raw_pixel_model_bytes() -> bytes:
    """A 64-32-10 MLP trained on raw 0–255 digits, standardising them with a Normalization layer (``.keras`` bytes)."""
    import keras
    from keras import layers as kl

    digits = datasets.load_digits()
    x = digits.x_train.reshape(len(digits.x_train), -1).astype("float32")
    init = keras.initializers.GlorotUniform
    model = keras.Sequential(
        [
            keras.Input((64,)),
            kl.Normalization(mean=x.mean(0), variance=x.var(0) + 1.0),
            kl.Dense(32, activation="relu", kernel_initializer=init(0)),
            kl.Dense(10, activation="softmax", kernel_initializer=init(1)),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    keras.utils.set_random_seed(0)  # the batches' shuffle too: the same model, so its 0–1 accuracy, every run
    model.fit(x, digits.y_train, epochs=5, batch_size=32, verbose=0)
    return models.model_to_bytes(model)


def raw_pixel_model():
    return models.model_from_bytes(raw_pixel_model_bytes())


def digits_789(digits) -> datasets.Dataset:
    """The digits 7, 8 and 9 only, labelled 0, 1 and 2: a 3-class dataset whose classes mean other things."""
    train, test = np.isin(digits.y_train, (7, 8, 9)), np.isin(digits.y_test, (7, 8, 9))
    return datasets.from_arrays(
        digits.x_train[train],
        digits.y_train[train] - 7,
        "digits-789",
        class_names=["7", "8", "9"],
        x_test=digits.x_test[test],
        y_test=digits.y_test[test] - 7,
    )


class TrainOnly:
    """A dataset with no test images: ``splits == ("train",)``, as :attr:`Dataset.splits` reports it."""

    splits = ("train",)

    def __init__(self, base: datasets.Dataset, splits: tuple[str, ...] = ("train",)):
        self.base, self.splits = base, splits
        self.name, self.num_classes, self.image_shape = "train-only", base.num_classes, base.image_shape

    def split(self, split: str):
        if split not in self.splits:
            raise ValueError(f"The dataset has no {split} split; its splits are {list(self.splits)}.")
        return self.base.split(split)


def accuracy(model, dataset, scale: str, split: str = "test") -> float:
    images, labels = dataset.split(split)
    return models.evaluate_accuracy(model, models.adapt_images(images, model, scale), labels)


# ----------------------------------------------------------------------------- near_chance


@pytest.mark.parametrize(
    "value, classes, near",
    [
        (0.10, 10, True),
        (0.19, 10, True),
        (0.20, 10, False),
        (0.97, 10, False),
        (0.55, 2, True),
        (0.60, 2, False),
        (0.90, 2, False),
        (0.015, 100, True),
        (0.05, 100, False),
        (0.0, 3, True),
        (0.43, 3, True),
        (0.44, 3, False),
    ],
)
def test_near_chance_is_below_twice_chance_and_below_chance_plus_ten_points(value, classes, near):
    assert diagnosis.near_chance(value, classes) is near


def test_near_chance_of_nothing_measured_is_false_and_bad_class_counts_are_refused():
    assert diagnosis.near_chance(math.nan, 10) is False
    with pytest.raises(ValueError, match=r"num_classes must be >= 1 \(chance is 1 / num_classes\); got 0"):
        diagnosis.near_chance(0.1, 0)


def test_other_scale_swaps_the_two_scalings():
    assert diagnosis.other_scale("0-1") == "0-255" and diagnosis.other_scale("0-255") == "0-1"
    with pytest.raises(ModelError, match=r"Unknown input scale: '0-16'. Choose one of \['0-1', '0-255'\]"):
        diagnosis.other_scale("0-16")


# ----------------------------------------------------------------------------- scoring_split


def test_scoring_split_is_test_or_train_when_there_is_no_test_split(digits):
    assert diagnosis.scoring_split(digits) == "test"
    assert diagnosis.scoring_split(TrainOnly(digits)) == "train"
    with pytest.raises(
        ModelError,
        match=r"train-only has no images to score the model on \(expected a non-empty "
        r"'test' or 'train' split; its splits are \[\]\)",
    ):
        diagnosis.scoring_split(TrainOnly(digits, splits=()))


# ----------------------------------------------------------------------------- likely_causes


def test_a_model_given_the_wrong_scaling_is_near_chance_and_the_scaling_hint_names_the_better_accuracy(digits):
    model = raw_pixel_model()
    right, wrong = accuracy(model, digits, "0-255"), accuracy(model, digits, "0-1")
    assert right > 0.8, right
    assert diagnosis.near_chance(wrong, digits.num_classes), wrong
    hints = diagnosis.likely_causes(model, digits, "test", "0-1", wrong, other_scale_accuracy=right)
    assert hints[0] == (
        f"Input scaling: with raw 0–255 pixels the accuracy on the test split is {right:.2f} (against "
        f"{wrong:.2f} with pixels / 255): the model expects that scaling; choose the input scaling "
        "'0-255' (raw pixels 0–255)."
    )
    assert hints[1].startswith(
        "Preprocessing: the model starts with Normalization (normalization); the mean it subtracts is "
    )
    assert hints[1].endswith("which suggests it expects raw 0–255 pixels, but it was given pixels / 255.")
    assert hints[2:] == [
        "Classes: the model has 10 outputs and the dataset 10 classes: they match.",
        "Image size: the model reads 8×8 images, the dataset's size (no resizing).",
    ]


def test_a_ten_way_model_on_a_dataset_with_other_classes(model, digits):
    other = digits_789(digits)
    measured = accuracy(model, other, "0-1")
    assert diagnosis.near_chance(measured, other.num_classes), measured
    hints = diagnosis.likely_causes(model, other, "test", "0-1", measured)
    assert hints[0] == (
        "Classes: the model has 10 outputs but digits-789 has 3 classes: it was trained on other "
        "classes, so its class numbers need not mean those of digits-789, and every prediction of a "
        "class from 3 to 9 is wrong."
    )
    assert not any(h.startswith("Input scaling") for h in hints)  # not measured, not said
    assert len(hints) == 3


def test_a_model_with_fewer_outputs_than_classes_and_a_28x28_model_on_8x8_images(digits):
    three = models.build_mlp((64,), hidden=(4,), num_classes=3)
    assert diagnosis.likely_causes(three, digits, "test", "0-1", 0.1)[0] == (
        "Classes: the model has 3 outputs but digits has 10 classes: labels 3 to 9 can never be predicted, so it was "
        "trained for other data."
    )
    mnist_sized = models.build_mlp((784,), hidden=(4,))
    assert diagnosis.likely_causes(mnist_sized, digits, "test", "0-1", 0.1)[0] == (
        "Image size: the model reads 28×28 images; the images of digits are 8×8, so they were resized from 8×8 to "
        "28×28, and a model trained on 28×28 images (such as MNIST's) may not recognise resized ones."
    )


def test_the_scaling_hint_says_when_the_other_scaling_is_no_better(model, digits):
    hints = diagnosis.likely_causes(model, digits, "train", "0-1", 0.11, other_scale_accuracy=0.12)
    assert (
        "Input scaling: with raw 0–255 pixels the accuracy on the train split is 0.12, no better: the scaling is "
        "not the cause." in hints
    )
    assert hints[-1] == (
        "Preprocessing: the model has no Rescaling or Normalization layer at its input, so it takes "
        "the pixels as given (pixels / 255)."
    )
    assert hints[0] == diagnosis.OTHER_DATA  # no check found a cause: the data is the likely one


def test_a_rescaling_layer_at_the_input_implies_raw_pixels(digits):
    import keras
    from keras import layers as kl

    model = keras.Sequential([keras.Input((8, 8)), kl.Rescaling(1 / 255, name="to_unit"), kl.Flatten(), kl.Dense(10)])
    given_unit = diagnosis.likely_causes(model, digits, "test", "0-1", 0.1)
    assert given_unit[0] == (
        "Preprocessing: the model starts with Rescaling (to_unit); it multiplies its inputs by "
        "0.003922, which suggests it expects raw 0–255 pixels, but it was given pixels / 255."
    )
    given_raw = diagnosis.likely_causes(model, digits, "test", "0-255", 0.1)
    assert given_raw[-1].endswith("which suggests it expects raw 0–255 pixels, as given.")


def test_a_trained_model_with_the_right_scaling_is_not_near_chance(model, digits):
    assert not diagnosis.near_chance(accuracy(model, digits, "0-1"), digits.num_classes)
    assert not diagnosis.near_chance(accuracy(raw_pixel_model(), digits, "0-255"), digits.num_classes)
