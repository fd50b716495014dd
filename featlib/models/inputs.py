"""Inputs that fit a model: the pixel scale it implies, resizing images to its input, its input shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from featlib.errors import InputMismatchError, ModelError
from featlib.lazy import keras
from featlib.models.layers import _INFERENCE_IDENTITY_LAYERS, _is_nested, _kind

if TYPE_CHECKING:
    import keras


INPUT_SCALES = {"0-1": "pixels / 255 (as the seed)", "0-255": "raw pixels 0–255"}

OWN_SCALE = "own"
"""Asks for the model's own input scaling: the one its ``Rescaling`` or ``Normalization`` layer at the input
states (:func:`implied_input_scale`), else :data:`DEFAULT_SCALE`. The default of ``featlib add``, the Model
page's upload and :func:`adapt_images`; resolved to a key of :data:`INPUT_SCALES` by
:func:`resolve_input_scale` before anything is stored."""

DEFAULT_SCALE = "0-1"
"""The scaling given to a model that states none (the seed MLP's: pixels / 255)."""

SCALE_CHOICES = {
    OWN_SCALE: "the model's own (its Rescaling or Normalization layer at the input), else pixels / 255",
    **INPUT_SCALES,
}
"""What a user may ask for: the model's own scaling or one of :data:`INPUT_SCALES`, with their words."""

# Augmentation layers whose names do not start with "Random": like the Random* layers, they change images
# only while training and pass them through at inference (checked on Keras 3.15).
_AUGMENTATION_LAYERS = frozenset({"RandAugment", "AugMix", "CutMix", "MixUp", "Solarization"})

# Layers that may come before a model's Rescaling / Normalization without changing the pixel values'
# scale: shape only, resizing and cropping, identity at inference (plus augmentation, ``Random*``).
_BEFORE_PREPROCESSING = (
    frozenset({"InputLayer", "Reshape", "Flatten", "Resizing", "CenterCrop"})
    | _INFERENCE_IDENTITY_LAYERS
    | _AUGMENTATION_LAYERS
)


def implied_input_scale(model: keras.Model) -> str | None:
    """The input scaling a model's own preprocessing implies: a key of :data:`INPUT_SCALES`, or None.

    ``"0-255"`` when the model starts with a ``Rescaling`` by a small factor (``1/255``, ``1/127.5``)
    or a ``Normalization`` whose mean is above 1 (fitted on raw pixels); ``"0-1"`` when it starts
    with a ``Rescaling`` by a factor above 0.5 or a ``Normalization`` fitted on values in 0..1;
    None when the model has no such layer at its input or it says neither (see
    :func:`first_preprocessing_layer`, :func:`scale_implied_by`).

    Example:
        >>> implied_input_scale(keras.Sequential([keras.Input((8, 8)), keras.layers.Rescaling(1 / 255),
        ...                                       keras.layers.Flatten(), keras.layers.Dense(10)]))  # doctest: +SKIP
        '0-255'
    """
    layer = first_preprocessing_layer(model)
    return None if layer is None else scale_implied_by(layer)[0]


def first_preprocessing_layer(model: keras.Model):
    """The first ``Rescaling`` or ``Normalization`` layer among the model's leading layers, or None.

    Leading layers are those before the first layer that computes anything from the pixels: shape
    layers (``Flatten``, ``Reshape``), ``Resizing`` and ``CenterCrop``, augmentation (``Random*``,
    ``RandAugment``, ``AugMix``, ``CutMix``, ``MixUp``, ``Solarization``) and layers that are the identity
    at inference (``Dropout``, ...) are passed over, and nested blocks at the start (an ``augmentation``
    Sequential, a ``Pipeline``, a ``preprocessing`` model, blocks within blocks) are looked into.
    """
    return _leading_preprocessing(model.layers)[0]


def _leading_preprocessing(layers: Sequence) -> tuple[object | None, bool]:
    """(the first Rescaling/Normalization among ``layers``' leading ones or None, whether another layer came first)."""
    for layer in layers:
        kind = _kind(layer)
        if kind in ("Rescaling", "Normalization"):
            return layer, True
        if _is_nested(layer):
            found, stopped = _leading_preprocessing(layer.layers)
            if found is not None or stopped:
                return found, True
        elif kind not in _BEFORE_PREPROCESSING and not kind.startswith("Random"):
            return None, True
    return None, False


def scale_implied_by(layer) -> tuple[str | None, str]:
    """(the input scaling a ``Rescaling`` or ``Normalization`` layer implies or None, what was read from it).

    ``Rescaling``: a factor below 0.1 in size implies raw pixels ``"0-255"`` (``1/255``, ``1/127.5``),
    above 0.5 pixels in 0..1 ``"0-1"``. ``Normalization``: a mean above 1 implies ``"0-255"`` (values
    in 0..1 cannot average above 1), a mean in 0..1 ``"0-1"``; a negative mean, an inverting layer
    and one never adapted (mean 0, variance 1) imply nothing. What was read is a phrase such as
    ``"it multiplies its inputs by 0.003922"`` or ``"the mean it subtracts is 33.6 on average"``.
    """
    if _kind(layer) == "Rescaling":
        factor = _mean_of(getattr(layer, "scale", None))
        if factor is None:
            return None, "its scale could not be read"
        expected = "0-255" if abs(factor) < 0.1 else "0-1" if abs(factor) > 0.5 else None
        return expected, f"it multiplies its inputs by {factor:.4g}"
    mean = _mean_of(getattr(layer, "mean", None))
    if mean is None:
        return None, "its mean could not be read"
    what = f"the mean it subtracts is {mean:.3g} on average"
    if getattr(layer, "invert", False):
        return None, f"it inverts a normalisation ({what})"
    if mean == 0.0 and _mean_of(getattr(layer, "variance", None)) == 1.0:
        return None, "its mean is 0 and its variance 1, so it passes its inputs through (it was never adapted)"
    return ("0-255" if mean > 1.0 else "0-1" if mean >= 0.0 else None), what


def resolve_input_scale(model: keras.Model, scale: str = OWN_SCALE) -> tuple[str, str]:
    """(the input scaling to give ``model``, a key of :data:`INPUT_SCALES`; a sentence saying where it comes from).

    ``scale`` :data:`OWN_SCALE` gives the model's own: the scaling its ``Rescaling`` or ``Normalization``
    layer at the input states (:func:`implied_input_scale`, nested blocks before it looked into), else
    :data:`DEFAULT_SCALE` (pixels / 255, as the seed). A key of :data:`INPUT_SCALES` is the user's choice
    and is kept, the sentence then naming the model's own when it differs.

    Example sentence: ``"raw pixels 0–255 ('0-255'), the model's own, stated by its Rescaling layer 'rescaling'
    at the input (it multiplies its inputs by 0.003922)"``.

    Raises:
        ModelError: ``scale`` is neither :data:`OWN_SCALE` nor a key of :data:`INPUT_SCALES`.
    """
    if scale != OWN_SCALE and scale not in INPUT_SCALES:
        raise ModelError(
            f"Unknown input scale: {scale!r}. Expected one of {list(SCALE_CHOICES)} ({OWN_SCALE!r}: the model's own)."
        )
    layer = first_preprocessing_layer(model)
    stated, what = scale_implied_by(layer) if layer is not None else (None, "")
    source = f"its {_kind(layer)} layer {layer.name!r} at the input" if layer is not None else ""
    if scale == OWN_SCALE:
        if stated is not None:
            return stated, f"{_scale_words(stated)}, the model's own, stated by {source} ({what})"
        why = (
            f"{source} does not say which ({what})"
            if layer is not None
            else "it has no Rescaling or Normalization layer at its input"
        )
        return DEFAULT_SCALE, f"{_scale_words(DEFAULT_SCALE)}: the model states no input scaling ({why})"
    if stated is not None and stated != scale:
        return (
            scale,
            f"{_scale_words(scale)}, as chosen; the model's own is {_scale_words(stated)}, stated by {source} ({what})",
        )
    return scale, f"{_scale_words(scale)}, as chosen" + (", the model's own too" if stated == scale else "")


def _scale_words(scale: str) -> str:
    return f"{INPUT_SCALES[scale]} ('{scale}')"


def _mean_of(value) -> float | None:
    """The mean of a number, list, array or tensor, or None when it cannot be read as numbers."""
    if value is None:
        return None
    try:
        array = np.asarray(keras.ops.convert_to_numpy(value), dtype="float64")
    except (TypeError, ValueError, AttributeError):
        return None
    return float(array.mean()) if array.size and np.all(np.isfinite(array)) else None


def adapt_images(images: np.ndarray, model: keras.Model, scale: str = OWN_SCALE) -> np.ndarray:
    """Turns uint8 images ``(n, h, w)`` into inputs that fit ``model``.

    Handles flat inputs (``h*w``), ``(h, w)`` and ``(h, w, 1)`` or ``(h, w, 3)``
    image inputs, and resizes square images to the model's size (e.g. 8×8
    digits for a 28×28 model) with bilinear interpolation.

    Args:
        images: uint8 array of shape ``(n, h, w)``.
        model: the model whose single input the result must fit.
        scale: ``"0-1"`` divides by 255 (the seed); ``"0-255"`` keeps raw values; ``"own"`` (the default,
            :data:`OWN_SCALE`) the model's own scaling, from its Rescaling or Normalization layer at the
            input, else ``"0-1"`` (:func:`resolve_input_scale`).

    Returns:
        A float32 array of shape ``(n, *model_input_shape)``.

    Raises:
        ModelError: an unknown ``scale``.
        InputMismatchError: when the images cannot meaningfully fit the input, including an
            input with unknown sizes other than a free image size (``(None, None, 1)`` fits any
            size; ``(None,)``, ``(None, 64)`` or ``(28, 28, None)`` fit none).
    """
    scale, _ = resolve_input_scale(model, scale)
    target = input_shape(model)
    n, h, w = images.shape
    _check_known_sizes(target, h, w)
    if len(target) == 1:
        side = int(round(np.sqrt(target[0])))
        if side * side != target[0]:
            raise InputMismatchError(
                f"The model expects flat inputs of {target[0]} values, which is not a square "
                f"image; the data are {h}×{w} images ({h * w} values). Pick a model made for "
                f"{h}×{w} images or a dataset that fits it."
            )
        size, channels, flat = (side, side), 0, True
    elif len(target) in (2, 3):
        size, flat = (target[0], target[1]), False
        channels = target[2] if len(target) == 3 else 0
        if channels not in (0, 1, 3):
            raise InputMismatchError(
                f"The model expects images with {channels} channels; featlib's datasets are "
                f"grayscale (1 channel, or 3 by repetition). Got input shape {target}."
            )
    else:
        raise InputMismatchError(
            f"The model's input shape {target} is not an image or a flat vector; the data are {h}×{w} images."
        )
    if None in size:
        size = (h, w)
    if (h == w) != (size[0] == size[1]):
        raise InputMismatchError(
            f"The model expects {size[0]}×{size[1]} images; the data are {h}×{w} images and "
            "cannot be resized without distortion."
        )
    x = images.astype("float32")
    if (h, w) != tuple(size):
        x = _resize(x, size)
    if scale == "0-1":
        x /= 255.0
    if flat:
        return x.reshape(n, -1)
    if channels:
        x = np.repeat(x[..., None], channels, axis=-1)
    return x


def _check_known_sizes(target: tuple, h: int, w: int) -> None:
    """Refuses an input shape whose unknown sizes featlib cannot fill from ``h×w`` images.

    An image input may leave both its height and width unknown (they are taken from the data);
    any other unknown size (a flat length, one side only, the channels) says nothing of the
    image the model reads.

    Raises:
        InputMismatchError: naming the input shape, the data's size and the fix.
    """
    if None not in target or len(target) not in (1, 2, 3):
        return
    if len(target) > 1 and target[0] is None and target[1] is None and None not in target[2:]:
        return
    where = (
        "its length"
        if len(target) == 1
        else "the number of channels"
        if None in target[2:]
        else "one side of the image"
    )
    raise InputMismatchError(
        f"The model's input shape per image is {target}: {where} is unknown (None), so featlib cannot tell "
        f"what image it reads; the data are {h}×{w} images. (A Keras 2 model whose batch_input_shape "
        "[None, 64] was read as the shape of one image has input (None, 64).) Expected a known input size: "
        f"re-save the model from keras.Input(shape=(...)) with every size given, e.g. ({h * w},) or "
        f"({h}, {w}, 1)."
    )


def _resize(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    resized = keras.ops.image.resize(images[..., None], size, interpolation="bilinear", antialias=True)
    return np.clip(keras.ops.convert_to_numpy(resized)[..., 0], 0.0, 255.0).astype("float32")


def input_shape(model: keras.Model) -> tuple:
    """The shape of one sample of the model's single input.

    Raises:
        ModelError: when the model has several inputs or no layers, or was saved before it was
            built (no input shape, no weights).
    """
    inputs = getattr(model, "inputs", None) or []
    if not model.layers:
        raise ModelError(
            "The model has no layers (expected at least one layer after its input); there is nothing to look into."
        )
    if not inputs and not getattr(model, "built", True):
        raise ModelError(_unbuilt_message(model))
    if len(inputs) != 1:
        raise ModelError(f"featlib reads models with exactly one image input; this model has {len(inputs)} inputs.")
    return tuple(inputs[0].shape[1:])


def _unbuilt_message(model: keras.Model) -> str:
    """Why a model saved before it was built cannot be read, and how to save it built."""
    count = len(model.layers)
    return (
        f"This {type(model).__name__} model ({model.name}, {count} layer{'s' if count != 1 else ''}) was saved "
        "before it was built: it has no input shape and no weights (Keras creates them the first time the "
        "model sees data), so there is nothing to read. Expected a built model: start it with an input, e.g. "
        "keras.Sequential([keras.Input(shape=(784,)), ...]), or call it once on a batch (model(x[:1])), "
        "train it, then save it again."
    )
