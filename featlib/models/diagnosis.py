"""Why a model scores near chance on the current data: the checks featlib can make, in plain sentences.

Streamlit-free: :func:`featlib.jobs.tasks.check_upload` calls these and keeps
their sentences with the uploaded model; the page shows them beside the accuracy
(issue "near-chance accuracy": say the likely causes it can check instead of only
printing the number). Keras is imported lazily, through :mod:`featlib.models`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

import featlib.models.nonfinite as nonfinite
from featlib.errors import MetricError, ModelError
from featlib.models.inputs import (
    INPUT_SCALES,
    adapt_images,
    first_preprocessing_layer,
    implied_input_scale,
    input_shape,
    scale_implied_by,
)
from featlib.models.outputs import choose_output, evaluate_accuracy, model_outputs, output_index

if TYPE_CHECKING:
    import keras

    from featlib.datasets import Dataset

SCALE_WORDS = {"0-1": "pixels / 255", "0-255": "raw 0–255 pixels"}
"""How a sentence names each of :data:`featlib.models.INPUT_SCALES`."""
BETTER_BY = 0.1
"""How much higher the other scaling's accuracy must be to name the scaling as the cause."""
MNIST_SIDE = 28


def near_chance(accuracy: float, num_classes: int) -> bool:
    """Whether ``accuracy`` is near the chance level ``1 / num_classes`` of guessing a class at random.

    The rule: below twice chance *and* less than 10 points above it, i.e.
    ``accuracy < min(2 / k, 1 / k + 0.1)``: 0.2 for 10 classes, 0.6 for 2, 0.02 for 100
    (twice chance alone would call 0.9 "near chance" for 2 classes; chance + 0.1 alone
    would call 10× chance "near" for 100 classes). NaN (nothing measured) is not near chance.

    Args:
        accuracy: a fraction in ``[0, 1]``.
        num_classes: the number of classes the accuracy was measured over, ``>= 1``.

    Raises:
        ValueError: ``num_classes < 1``.
    """
    if int(num_classes) < 1:
        raise MetricError(f"num_classes must be >= 1 (chance is 1 / num_classes); got {num_classes!r}.")
    if accuracy is None or math.isnan(float(accuracy)):
        return False
    chance = 1.0 / int(num_classes)
    return float(accuracy) < min(2.0 * chance, chance + 0.1)


def other_scale(input_scale: str) -> str:
    """The other input scaling of :data:`featlib.models.INPUT_SCALES`: ``"0-1"`` ↔ ``"0-255"``.

    Raises:
        featlib.models.ModelError: an unknown scaling (naming the known ones).
    """
    if input_scale not in INPUT_SCALES:
        raise ModelError(f"Unknown input scale: {input_scale!r}. Choose one of {list(INPUT_SCALES)}.")
    return next(scale for scale in INPUT_SCALES if scale != input_scale)


def scoring_split(dataset: Dataset) -> str:
    """The split a model is scored on: ``"test"``, or ``"train"`` when the dataset has no test images.

    Reads ``dataset.splits`` (the non-empty splits) where the dataset has it, else assumes both.

    Raises:
        featlib.models.ModelError: neither split holds an image.
    """
    splits = tuple(getattr(dataset, "splits", ("train", "test")))
    for split in ("test", "train"):
        if split in splits and len(dataset.split(split)[1]):
            return split
    raise ModelError(
        f"{dataset.name} has no images to score the model on (expected a non-empty 'test' or "
        f"'train' split; its splits are {list(splits)})."
    )


OTHER_DATA = (
    "Data: none of the checks below explains it, so the model was most likely trained on other data than "
    "this dataset: images of another kind with the same size and classes, or the same classes numbered "
    "in another order."
)


def score(
    model: keras.Model, dataset: Dataset, input_scale: str, output: int | str | None = None, label: str = "the model"
) -> dict:
    """A model's accuracy on ``dataset`` as an upload (and a bundle's model) is scored, with the causes near chance.

    Scored on :func:`scoring_split` from ``output`` (:func:`featlib.models.choose_output`). Near chance
    (:func:`near_chance`) it is measured once more with the other input scaling and the likely causes
    are listed (:func:`likely_causes`); other models pay for neither.

    Returns:
        ``{"accuracy": float in [0, 1], "split", "n_images", "other_scale_accuracy": float or None,
        "hints": list of sentences, "output": the output's name, "outputs": [{"name", "width"}],
        "implied_scale": "0-1", "0-255" or None}``.

    Raises:
        featlib.models.ModelError: no output fits the classes, the images do not fit the model, or no
            image to score on.
        featlib.models.nonfinite.NonFiniteError: a layer gives NaN or inf for the scoring images (named by ``label``).
    """
    chosen = choose_output(model, dataset.num_classes, output)
    split = scoring_split(dataset)
    images, labels = dataset.split(split)
    x = adapt_images(images, model, input_scale)
    nonfinite.check_model_outputs(model, x, label)  # finite weights that still overflow: refused, naming layers
    accuracy = evaluate_accuracy(model, x, labels, chosen.index)
    other_accuracy, hints = None, []
    if near_chance(accuracy, dataset.num_classes):
        other = other_scale(input_scale)
        try:
            other_accuracy = evaluate_accuracy(model, adapt_images(images, model, other), labels, chosen.index)
        except nonfinite.NonFiniteError:  # the other scaling overflows: it is not the cause
            other_accuracy = None
        hints = likely_causes(
            model, dataset, split, input_scale, accuracy, other_scale_accuracy=other_accuracy, output=chosen.index
        )
    return {
        "accuracy": accuracy,
        "split": split,
        "n_images": int(len(labels)),
        "other_scale_accuracy": other_accuracy,
        "hints": hints,
        "output": chosen.name,
        "outputs": [{"name": o.name, "width": o.width} for o in model_outputs(model)],
        "implied_scale": implied_input_scale(model),
    }


def misfit(model: keras.Model, dataset: Dataset, output: int | str | None = None) -> list[str]:
    """The ways ``model`` was not made for ``dataset`` that can be seen without scoring it, one sentence each.

    The checks of :func:`likely_causes` that need no accuracy: the image size (the images are resized to the
    model's input) and the classes (the output's width against the dataset's classes). Every page that shows
    figures of a model on some data says these before the figures (the Model page with the accuracy).

    Args:
        output: the output scored (a name or position, as :func:`featlib.models.outputs.output_index`);
            None or unknown: the first.

    Returns:
        The sentences of the checks that found a mismatch; empty when the model fits the data.
    """
    try:
        index = output_index(model, output) if output is not None else 0
    except ModelError:
        index = 0
    findings = [_size_check(model, dataset), _classes_check(model, dataset, index)]
    return [sentence for sentence, cause in findings if sentence and cause]


def likely_causes(
    model: keras.Model,
    dataset: Dataset,
    split: str,
    input_scale: str,
    accuracy: float,
    *,
    other_scale_accuracy: float | None = None,
    output: int = 0,
) -> list[str]:
    """The checks that can explain a near-chance accuracy, one plain sentence each, the ones that found a cause first.

    Checks: the model's output width against the dataset's classes; the model's input image
    size against the dataset's (resizing); the accuracy with the other input scaling, when
    measured; preprocessing layers (Rescaling, Normalization) at the model's input and the
    scaling they imply.

    Args:
        model: the model scored.
        dataset: the data it was scored on.
        split: the split scored (``"test"`` or ``"train"``), named in the sentences.
        input_scale: the scaling used, a key of :data:`featlib.models.INPUT_SCALES`.
        accuracy: the accuracy measured with ``input_scale``.
        other_scale_accuracy: the accuracy with :func:`other_scale`, or None when not measured.
        output: the position of the output the accuracy was read from (in ``model.outputs``), whose
            width is checked against the classes.

    Returns:
        A list of sentences (each starts with the check's name, e.g. ``"Input scaling: ..."``); when no
        check finds a cause, the first is :data:`OTHER_DATA`.

    Raises:
        featlib.models.ModelError: an unknown ``input_scale``.
    """
    other = other_scale(input_scale)
    findings = [_classes_check(model, dataset, output), _size_check(model, dataset)]
    if other_scale_accuracy is not None:
        findings.append(_scaling_check(input_scale, other, split, accuracy, other_scale_accuracy, dataset.num_classes))
    findings.append(_preprocessing_check(model, input_scale))
    found = [sentence for sentence, cause in findings if sentence and cause]
    if not found:
        found = [OTHER_DATA]
    return found + [sentence for sentence, cause in findings if sentence and not cause]


def _classes_check(model: keras.Model, dataset: Dataset, output: int = 0) -> tuple[str, bool]:
    """(sentence, whether it is a likely cause) for the output's width against the dataset's classes."""
    width, classes, name = _output_width(model, output), dataset.num_classes, dataset.name
    if width is None:
        return "", False
    if width == classes:
        return f"Classes: the model has {width} outputs and the dataset {classes} classes: they match.", False
    if width == 1:
        return (
            f"Classes: the model outputs 1 value per image, so it always predicts class 0; {name} has "
            f"{classes} classes."
        ), True
    if width < classes:
        return (
            f"Classes: the model has {width} outputs but {name} has {classes} classes: labels {width} to "
            f"{classes - 1} can never be predicted, so it was trained for other data."
        ), True
    return (
        f"Classes: the model has {width} outputs but {name} has {classes} classes: it was trained on other "
        f"classes, so its class numbers need not mean those of {name}, and every prediction of a class "
        f"from {classes} to {width - 1} is wrong."
    ), True


def _size_check(model: keras.Model, dataset: Dataset) -> tuple[str, bool]:
    """(sentence, whether it is a likely cause) for the model's input image size against the dataset's."""
    size = _input_size(model)
    h, w = dataset.image_shape
    if size is None:
        return "", False
    if size == (h, w):
        return f"Image size: the model reads {h}×{w} images, the dataset's size (no resizing).", False
    mh, mw = size
    trained = " (such as MNIST's)" if size == (MNIST_SIDE, MNIST_SIDE) else ""
    return (
        f"Image size: the model reads {mh}×{mw} images; the images of {dataset.name} are {h}×{w}, so they were "
        f"resized from {h}×{w} to {mh}×{mw}, and a model trained on {mh}×{mw} images{trained} may not "
        "recognise resized ones."
    ), True


def _scaling_check(
    scale: str, other: str, split: str, accuracy: float, other_accuracy: float, num_classes: int
) -> tuple[str, bool]:
    """(sentence, whether it is a likely cause) comparing the accuracy with both input scalings."""
    better = other_accuracy >= accuracy + BETTER_BY and not near_chance(other_accuracy, num_classes)
    measured = f"with {SCALE_WORDS[other]} the accuracy on the {split} split is {other_accuracy:.2f}"
    if better:
        return (
            f"Input scaling: {measured} (against {accuracy:.2f} with {SCALE_WORDS[scale]}): the model expects "
            f"that scaling; choose the input scaling '{other}' ({INPUT_SCALES[other]})."
        ), True
    return f"Input scaling: {measured}, no better: the scaling is not the cause.", False


def _preprocessing_check(model: keras.Model, scale: str) -> tuple[str, bool]:
    """(sentence, whether it is a likely cause) for Rescaling / Normalization layers at the model's input."""
    layer = first_preprocessing_layer(model)
    given = SCALE_WORDS[scale]
    if layer is None:
        return (
            f"Preprocessing: the model has no Rescaling or Normalization layer at its input, so it takes the "
            f"pixels as given ({given})."
        ), False
    kind = type(layer).__name__
    expected, what = scale_implied_by(layer)
    if expected is None:
        return f"Preprocessing: the model starts with {kind} ({layer.name}); {what}.", False
    if expected == scale:
        return (
            f"Preprocessing: the model starts with {kind} ({layer.name}); {what}, which suggests it "
            f"expects {SCALE_WORDS[expected]}, as given."
        ), False
    return (
        f"Preprocessing: the model starts with {kind} ({layer.name}); {what}, which suggests it expects "
        f"{SCALE_WORDS[expected]}, but it was given {given}."
    ), True


def _output_width(model: keras.Model, output: int = 0) -> int | None:
    """Values per image of the model's output at position ``output`` (its classes), or None when not fixed."""
    try:
        shape = tuple(model.outputs[output].shape[1:])
    except (AttributeError, IndexError, ValueError, TypeError):
        return None
    return None if any(d is None for d in shape) else int(np.prod(shape, dtype=np.int64))


def _input_size(model: keras.Model) -> tuple[int, int] | None:
    """(height, width) of the images the model reads (a flat input of n values: √n × √n), or None."""
    try:
        shape = input_shape(model)
    except ModelError:
        return None
    if len(shape) == 1 and shape[0] is not None:
        side = int(round(math.sqrt(shape[0])))
        return (side, side) if side * side == shape[0] else None
    if len(shape) in (2, 3) and None not in shape[:2]:
        return int(shape[0]), int(shape[1])
    return None
