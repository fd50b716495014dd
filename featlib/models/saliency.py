"""What the model looked at: a saliency map of one image for one class, by integrated gradients or Grad-CAM.

Two methods (:data:`METHODS`), both on the model's own inputs (the images as :func:`featlib.models.adapt_images`
gives them: resized to the model's input, scaled as the model reads them, flat for an MLP):

- **Integrated gradients** (Sundararajan, Taly and Yan, "Axiomatic Attribution for Deep Networks", ICML 2017),
  for any model: the attribution of pixel ``i`` is ``(x_i - x'_i) * ∫₀¹ ∂F(x' + α(x - x'))/∂x_i dα`` with a black
  baseline ``x' = 0`` (black is 0 on either input scale, :data:`featlib.models.INPUT_SCALES`). The integral is
  the midpoint rule over ``steps`` intervals (``steps`` gradients, plus the image and the baseline for their
  scores, sent through the model in batches of at most :data:`BATCH_ROWS` inputs). Completeness (the paper's axiom): the attributions sum to
  ``F(x) - F(x')``; :attr:`Saliency.completeness_gap` reports how far the sum is from it.
- **Grad-CAM** (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via Gradient-based
  Localization", ICCV 2017), for models with a convolutional layer: the last one's feature maps ``A^k``
  (after the activation and normalisation layers that directly follow it, :func:`last_conv_layer`), weighted
  by the spatial mean of ``∂F/∂A^k``, summed, ReLU'd and upsampled (bilinear) to the input image's size.

``F`` is the class's **logit** (the input of the model's final softmax, as both papers use it) when the output
comes from a softmax, either a ``Softmax``/``Activation("softmax")`` layer or a layer with its own softmax
activation (read through a copy of that layer without it); otherwise the output's value for the class
(:attr:`Saliency.score` says which). A model with several outputs is read from the output featlib predicts from
(:func:`featlib.models.recorded_output`, given as ``output``).

Normalisation of the map shown (:attr:`Saliency.map`, float32 ``(h, w)`` in ``[0, 1]``): the evidence *for* the
class, i.e. the positive part of the per-pixel attribution (integrated gradients: summed over the image's
channels; Grad-CAM: ReLU'd by definition), divided by its maximum over the image; all zeros when no pixel speaks
for the class. The signed values before normalisation are kept (:attr:`Saliency.attributions`). A black baseline
gives black pixels no attribution (``x_i - x'_i = 0``): integrated gradients show what the strokes contribute,
never what a missing stroke does.

Example (an untrained seed MLP on one digit)::

    >>> from featlib import datasets, models
    >>> digits = datasets.load_digits()
    >>> model = models.build_mlp((64,), hidden=(16,), seed=0)
    >>> x = models.adapt_images(digits.split("test")[0][:1], model, "0-1")[0]
    >>> found = saliency(model, x, 3, "integrated_gradients", steps=32)
    >>> found.map.shape, found.score, found.completeness_relative < 0.01
    ((8, 8), 'logit', True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from featlib.errors import SaliencyError
from featlib.lazy import LazyModule, keras
from featlib.models.inference import inference_function
from featlib.models.inputs import input_shape
from featlib.models.layers import _SOFTMAX_FUNCTIONS, _activation_name, _is_follower, _kind, _producer, layer_table
from featlib.models.outputs import model_outputs, output_index

if TYPE_CHECKING:
    import keras

tf = LazyModule("tensorflow")
"""TensorFlow, for ``tf.GradientTape`` (Keras's backend here: :func:`check_backend`)."""

INTEGRATED_GRADIENTS = "integrated_gradients"
GRAD_CAM = "grad_cam"
AUTO = "auto"
METHODS = {
    INTEGRATED_GRADIENTS: "integrated gradients (Sundararajan et al. 2017), black baseline",
    GRAD_CAM: "Grad-CAM (Selvaraju et al. 2017) on the last convolutional layer",
}
"""The methods, with their words. :data:`AUTO` picks Grad-CAM for a model with a convolutional layer, else
integrated gradients (:func:`resolve_method`)."""

DEFAULT_STEPS = 64
"""Intervals of integrated gradients' integral (``steps + 2`` inputs through the model per image)."""
MIN_STEPS, MAX_STEPS = 8, 256
"""The steps accepted (the paper: 20 to 300 suffice; the completeness gap says when more are needed)."""
BATCH_ROWS = 256
"""At most this many interpolated inputs per gradient computation."""
COMPLETENESS_TOLERANCE = 0.05
"""The relative completeness gap above which the result says that more steps are needed (:attr:`Saliency.complete`)."""

_CONV_KINDS = frozenset({"Conv2D", "SeparableConv2D", "DepthwiseConv2D", "Conv2DTranspose"})


@dataclass(frozen=True)
class Saliency:
    """One image's saliency map for one class.

    Attributes:
        map: float32 ``(h, w)`` in ``[0, 1]``: the positive evidence for the class over the model's input image,
            divided by its maximum (see the module's normalisation); ``h × w`` is the model's input size
            (``√d × √d`` for a flat input of ``d`` values).
        attributions: float32 ``(h, w)`` before normalisation: integrated gradients' signed attribution per
            pixel (summed over channels); Grad-CAM's ReLU'd, upsampled map.
        method: a key of :data:`METHODS`.
        target: the class explained (a position in the output read).
        score: ``"logit"`` (the input of the final softmax) or ``"output"`` (the output's own value).
        scores: float32 ``(classes,)``: every class's score for the image (what ``target`` was picked from).
        baseline_score: the class's score for the black baseline (integrated gradients; NaN for Grad-CAM).
        steps: integrated gradients' intervals (0 for Grad-CAM).
        layer: Grad-CAM's layer (``""`` for integrated gradients).
    """

    map: np.ndarray
    attributions: np.ndarray
    method: str
    target: int
    score: str
    scores: np.ndarray
    baseline_score: float = float("nan")
    steps: int = 0
    layer: str = ""

    @property
    def score_value(self) -> float:
        """The class's score for the image: ``F(x)``."""
        return float(self.scores[self.target])

    @property
    def completeness_gap(self) -> float:
        """``|Σ attributions − (F(x) − F(baseline))|`` (integrated gradients; NaN for Grad-CAM)."""
        if self.method != INTEGRATED_GRADIENTS:
            return float("nan")
        return abs(float(np.sum(self.attributions, dtype=np.float64)) - (self.score_value - self.baseline_score))

    @property
    def completeness_relative(self) -> float:
        """:attr:`completeness_gap` over ``|F(x) − F(baseline)|`` (at least 1e-6); NaN for Grad-CAM."""
        return self.completeness_gap / max(abs(self.score_value - self.baseline_score), 1e-6)

    @property
    def complete(self) -> bool:
        """Whether the completeness gap is within :data:`COMPLETENESS_TOLERANCE` (always True for Grad-CAM)."""
        return self.method != INTEGRATED_GRADIENTS or self.completeness_relative <= COMPLETENESS_TOLERANCE

    @property
    def completeness_text(self) -> str:
        """The completeness check in words, e.g. ``"attributions sum to 4.12; F(x) − F(black) = 4.13 (gap 0.2%)"``."""
        if self.method != INTEGRATED_GRADIENTS:
            return "Grad-CAM has no completeness check."
        total = float(np.sum(self.attributions, dtype=np.float64))
        text = (
            f"attributions sum to {total:.4g}; {self.score} F(x) − F(black) = "
            f"{self.score_value - self.baseline_score:.4g} (gap {100 * self.completeness_relative:.2g}%)"
        )
        return text if self.complete else f"{text}: more steps than {self.steps} are needed for a faithful map"

    def as_figures(self) -> dict:
        """This result as arrays and plain values (the job's result, kept in the workspace): :meth:`from_figures`
        reads it back."""
        return {
            "map": self.map,
            "attributions": self.attributions,
            "scores": self.scores,
            "baseline_score": np.asarray(self.baseline_score, dtype=np.float64),
            "method": self.method,
            "target": int(self.target),
            "score": self.score,
            "steps": int(self.steps),
            "layer": self.layer,
        }

    @classmethod
    def from_figures(cls, figures: dict) -> Saliency:
        """The :class:`Saliency` :meth:`as_figures` wrote.

        Raises:
            SaliencyError: ``figures`` lacks a field (written by something else).
        """
        try:
            return cls(
                np.asarray(figures["map"], dtype=np.float32),
                np.asarray(figures["attributions"], dtype=np.float32),
                str(figures["method"]),
                int(figures["target"]),
                str(figures["score"]),
                np.asarray(figures["scores"], dtype=np.float32),
                float(figures["baseline_score"]),
                int(figures["steps"]),
                str(figures["layer"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise SaliencyError(
                f"A stored saliency map must hold the fields featlib writes; this one lacks {error}. Delete it to "
                "have it made again."
            ) from None


def check_index(index: int, n_images: int, split: str) -> int:
    """``index`` as an int when it names one of the ``n_images`` images of ``split``.

    Raises:
        SaliencyError: not a whole number, or outside ``0 … n_images - 1``.
    """
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < n_images:
        raise SaliencyError(
            f"No image #{index!r} in the {split} split: expected an index from 0 to {n_images - 1} "
            f"({n_images:,} images)."
        )
    return int(index)


def check_backend() -> None:
    """Refuses a Keras backend other than TensorFlow (the gradients are taken with ``tf.GradientTape``).

    Raises:
        SaliencyError: naming the backend and the fix.
    """
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise SaliencyError(
            f"Saliency maps need Keras's TensorFlow backend (gradients by tf.GradientTape); this process runs the "
            f"{backend!r} backend. Set KERAS_BACKEND=tensorflow before featlib starts."
        )


def last_conv_layer(model: keras.Model) -> str | None:
    """The top-level layer Grad-CAM reads: the last convolutional layer with a ``(h, w, channels)`` output (from
    :func:`featlib.models.layer_table`), moved forward over the layers that directly follow it and only activate
    or normalise it (a separate ``ReLU``, a ``BatchNormalization``); ``None`` for a model without one."""
    layers = list(model.layers)
    rows = layer_table(model)
    found = None
    for row in rows:
        if row.type in _CONV_KINDS and _rank(layers[row.index]) == 4:
            found = row.index
    if found is None:
        return None
    while found + 1 < len(layers) and _is_follower(layers[found + 1]) and _rank(layers[found + 1]) == 4:
        if _producer(_input_of(layers[found + 1])) is not layers[found]:
            break
        found += 1
    return layers[found].name


def resolve_method(model: keras.Model, method: str = AUTO) -> str:
    """The method to run: ``method`` itself, or for :data:`AUTO` Grad-CAM on a model with a convolutional layer
    (:func:`last_conv_layer`), else integrated gradients.

    Raises:
        SaliencyError: an unknown method, or Grad-CAM asked of a model without a convolutional layer.
    """
    if method == AUTO:
        return GRAD_CAM if last_conv_layer(model) is not None else INTEGRATED_GRADIENTS
    if method not in METHODS:
        raise SaliencyError(
            f"Unknown saliency method: {method!r}. Expected one of {[AUTO, *METHODS]} ({AUTO!r}: Grad-CAM for a "
            "convolutional model, else integrated gradients)."
        )
    if method == GRAD_CAM and last_conv_layer(model) is None:
        raise SaliencyError(
            "Grad-CAM reads the last convolutional layer (Conv2D and its kin, with an (h, w, channels) output), and "
            f"this model has none (its layers: {[layer.name for layer in model.layers]}). Use "
            f"{INTEGRATED_GRADIENTS!r}, which explains any model."
        )
    return method


def image_size(model: keras.Model) -> tuple[int, int]:
    """The ``(h, w)`` of the image the model reads: its input's first two sizes, or ``(√d, √d)`` for ``d`` flat values.

    Raises:
        ModelError: several inputs, or an unbuilt model (:func:`featlib.models.input_shape`).
        SaliencyError: an input that is not an image nor a square number of flat values, or of unknown size.
    """
    shape = input_shape(model)
    if len(shape) == 1 and shape[0] is not None:
        side = int(round(np.sqrt(shape[0])))
        if side * side == shape[0]:
            return side, side
    elif len(shape) in (2, 3) and None not in shape[:2]:
        return int(shape[0]), int(shape[1])
    raise SaliencyError(
        f"A saliency map is drawn over an image, and this model's input per image is {shape}: expected an image "
        "(h, w) or (h, w, channels) of known size, or a square number of flat values (64 for 8×8)."
    )


def saliency(
    model: keras.Model,
    image: np.ndarray,
    target: int,
    method: str = AUTO,
    *,
    steps: int = DEFAULT_STEPS,
    output: int | str | None = None,
) -> Saliency:
    """One image's saliency map for class ``target``, by ``method`` (:func:`resolve_method`).

    Args:
        model: the Keras model (one input; TensorFlow backend).
        image: float32, one input of the model on its own scale (as :func:`featlib.models.adapt_images` gives):
            its input's shape, or ``(h, w)`` / ``(h, w, c)`` with as many values.
        target: the class explained, a position in the output read.
        steps: integrated gradients' intervals (:data:`MIN_STEPS` to :data:`MAX_STEPS`).
        output: the output read, for a model with several (name or position, :func:`featlib.models.output_index`).

    Returns:
        The :class:`Saliency`.

    Raises:
        SaliencyError: a bad image, class, method or steps, a model without gradients, another backend.
        ModelError: several inputs, no such output.
    """
    chosen = resolve_method(model, method)
    batch = np.asarray(image)[None]
    if chosen == GRAD_CAM:
        return grad_cam(model, batch, [target], output=output)[0]
    return integrated_gradients(model, batch, [target], steps=steps, output=output)[0]


def integrated_gradients(
    model: keras.Model,
    images: np.ndarray,
    targets: Sequence[int],
    *,
    steps: int = DEFAULT_STEPS,
    output: int | str | None = None,
    batch_rows: int = BATCH_ROWS,
) -> list[Saliency]:
    """Integrated gradients of ``n`` images, each for its class, with a black baseline; batched over images and steps.

    Args:
        model: the Keras model (one input; TensorFlow backend).
        images: float32 ``(n, *input shape)`` on the model's scale, or ``(n, h, w)`` / ``(n, h, w, c)`` of as many
            values per image.
        targets: ``n`` classes, one per image.
        steps: intervals of the midpoint rule (:data:`MIN_STEPS` to :data:`MAX_STEPS`).
        output: the output read, for a model with several.
        batch_rows: at most this many interpolated inputs per gradient computation.

    Returns:
        One :class:`Saliency` per image, in order.

    Raises:
        SaliencyError: bad images, classes or steps, a model that gives no gradient, another backend.
        ModelError: several inputs, no such output.
    """
    check_backend()
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not MIN_STEPS <= steps <= MAX_STEPS:
        raise SaliencyError(
            f"Integrated gradients take {MIN_STEPS} to {MAX_STEPS} steps (the integral's intervals); got {steps!r}. "
            f"Use {DEFAULT_STEPS}, or more when the completeness gap is large."
        )
    x = _as_inputs(model, images)
    run, score = _sequential_scorer(model) if isinstance(model, keras.Sequential) else _scorer(model, output)
    width = _output_width(model, output)
    wanted = _check_targets(targets, len(x), width)
    # The midpoint rule: the gradient at (k + 1/2) / steps, k < steps; the ends (the baseline, the image) only give
    # F(x') and F(x). At the baseline itself every ReLU of an untrained model sits at its kink (gradient 0).
    alphas = np.concatenate([[0.0], (np.arange(steps) + 0.5) / steps, [1.0]]).astype(np.float32)
    weights = np.concatenate([[0.0], np.full(steps, 1.0 / steps), [0.0]])
    rows = len(alphas)
    per_call = max(1, int(batch_rows) // rows)  # images per gradient computation
    found = []
    for start in range(0, len(x), per_call):
        chunk, classes = x[start : start + per_call], wanted[start : start + per_call]
        path = (alphas.reshape((1, rows) + (1,) * (x.ndim - 1)) * chunk[:, None]).reshape((-1,) + x.shape[1:])
        grads, values = _gradients(run, path, np.repeat(classes, rows), batch_rows)
        grads = grads.reshape((len(chunk), rows) + x.shape[1:]).astype(np.float64)
        values = values.reshape(len(chunk), rows, -1)
        averaged = np.tensordot(weights, grads, axes=([0], [1]))  # (chunk, *input)
        attributions = (chunk.astype(np.float64) * averaged).astype(np.float32)  # (x - 0) ⊙ mean gradient
        for i, target in enumerate(classes):
            per_pixel = _per_pixel(model, attributions[i])
            found.append(
                Saliency(
                    _normalised(per_pixel),
                    per_pixel,
                    INTEGRATED_GRADIENTS,
                    int(target),
                    score,
                    values[i, -1].astype(np.float32),
                    float(values[i, 0, target]),
                    int(steps),
                )
            )
    return found


def grad_cam(
    model: keras.Model,
    images: np.ndarray,
    targets: Sequence[int],
    *,
    output: int | str | None = None,
    layer: str | None = None,
    batch_rows: int = BATCH_ROWS,
) -> list[Saliency]:
    """Grad-CAM of ``n`` images, each for its class, on ``layer`` (default :func:`last_conv_layer`), upsampled.

    Args:
        model, images, targets, output, batch_rows: as :func:`integrated_gradients`.
        layer: a top-level layer with an ``(h, w, channels)`` output.

    Returns:
        One :class:`Saliency` per image: ``attributions`` the ReLU'd map upsampled (bilinear) to the input image's
        size, ``map`` that divided by its maximum.

    Raises:
        SaliencyError: no convolutional layer, a layer without spatial output or that the output does not depend
            on, bad images or classes, another backend.
        ModelError: several inputs, no such output or layer.
    """
    check_backend()
    name = layer or last_conv_layer(model)
    if name is None:
        resolve_method(model, GRAD_CAM)  # raises, saying why
    chosen = model.get_layer(name) if name in [each.name for each in model.layers] else None
    if chosen is None or _rank(chosen) != 4:
        raise SaliencyError(
            f"Grad-CAM reads a layer with an (h, w, channels) output; {name!r} is "
            + ("not a top-level layer of this model." if chosen is None else f"{_kind(chosen)} of another shape.")
        )
    x = _as_inputs(model, images)
    if isinstance(model, keras.Sequential):
        run, score = _sequential_scorer(model, chosen)
    else:
        run, score = _scorer(model, output, also=chosen.output)
    wanted = _check_targets(targets, len(x), _output_width(model, output))
    size = image_size(model)
    found = []
    for start in range(0, len(x), max(1, int(batch_rows))):
        chunk, classes = x[start : start + batch_rows], wanted[start : start + batch_rows]
        tensor = tf.convert_to_tensor(chunk)
        with tf.GradientTape() as tape:
            maps, values = run(tensor)
            picked = tf.gather(values, tf.constant(classes), axis=1, batch_dims=1)
        grads = tape.gradient(picked, maps)
        if grads is None:
            raise SaliencyError(
                f"The class scores do not depend on {name}'s outputs by any gradient (got none), so Grad-CAM cannot "
                f"weigh its feature maps. Use {INTEGRATED_GRADIENTS!r}."
            )
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)  # alpha_k: each feature map's mean gradient
        cam = tf.nn.relu(tf.reduce_sum(weights * maps, axis=-1, keepdims=True))
        cam = keras.ops.convert_to_numpy(keras.ops.image.resize(cam, size, interpolation="bilinear"))[..., 0]
        scores = keras.ops.convert_to_numpy(values)
        for i, target in enumerate(classes):
            upsampled = np.maximum(cam[i], 0.0).astype(np.float32)
            scored = scores[i].astype(np.float32)
            found.append(Saliency(_normalised(upsampled), upsampled, GRAD_CAM, int(target), score, scored, layer=name))
    return found


# ----------------------------------------------------------------------------- helpers


def _sequential_scorer(model: keras.Sequential, chosen=None) -> tuple[Callable[..., tuple[object, object]], str]:
    """:func:`_scorer`'s ``(run, score)`` for a Sequential model, its layers called one after the other in inference
    mode: ``run(x)`` gives ``(chosen's outputs, or x without one; class scores (n, classes))`` on the tape.

    A Sequential model loaded from its file keeps, as each layer's ``output``, the node of the graph it was first
    built in, not of ``model.inputs``': a function from the inputs to ``chosen.output`` and the scores computes the
    feature maps on a path the scores do not take, and their gradient is ``None``. Called layer by layer, the feature
    maps lie on the one path to the scores. The scores are the logits when the model ends in a softmax (a Softmax
    or softmax Activation layer, left out; or a layer with its own softmax, called as its linear copy).
    """
    layers = list(model.layers)
    cut = 0 if chosen is None else layers.index(chosen) + 1
    front, back, score = layers[:cut], layers[cut:], "output"
    last = back[-1] if back else None
    if last is not None and (
        _kind(last) == "Softmax" or (_kind(last) == "Activation" and _activation_name(last) in _SOFTMAX_FUNCTIONS)
    ):
        back, score = back[:-1], "logit"
    elif last is not None and _activation_name(last) in _SOFTMAX_FUNCTIONS:
        linear = _without_activation(last)
        if linear is not None:
            back, score = back[:-1] + [linear], "logit"

    def run(x):
        for layer in front:
            x = layer(x, training=False)
        maps = x
        for layer in back:
            x = layer(x, training=False)
        return maps, tf.reshape(x, (tf.shape(x)[0], -1))

    return run, score


def _rank(layer) -> int:
    """The rank of a layer's output with its batch axis (0 when unknown)."""
    try:
        return len(layer.output.shape)
    except (AttributeError, ValueError, RuntimeError):
        return 0


def _input_of(layer):
    """The one tensor ``layer`` reads in its first call, or None."""
    try:
        inputs = layer.input
    except (AttributeError, ValueError, RuntimeError):
        return None
    if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
        inputs = inputs[0]
    return None if isinstance(inputs, (list, tuple, dict)) else inputs


def _as_inputs(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """``images`` as float32 ``(n, *input shape)``.

    Raises:
        SaliencyError: not numbers, not finite, no image, or another number of values per image than the input's.
        ModelError: several inputs or an unbuilt model.
    """
    shape = tuple(input_shape(model))
    image_size(model)  # a drawable input, else SaliencyError
    try:
        x = np.asarray(images, dtype=np.float32)
    except (TypeError, ValueError):
        raise SaliencyError(
            f"Saliency maps are computed on images of numbers; got {type(images).__name__}. Pass float32 images on "
            "the model's input scale (featlib.models.adapt_images)."
        ) from None
    size = int(np.prod([d for d in shape if d is not None], dtype=np.int64))
    if x.ndim < 2 or len(x) == 0 or (x[0].size != size and None not in shape):
        raise SaliencyError(
            f"Expected images of the model's input, {shape} per image ({size} values), as a batch (n, ...); got an "
            f"array of shape {tuple(np.shape(images))}. Adapt them with featlib.models.adapt_images."
        )
    if not np.all(np.isfinite(x)):
        raise SaliencyError(
            "The image holds NaN or infinite values; a saliency map needs finite pixels. Check the dataset's images."
        )
    return x if None in shape else x.reshape((len(x),) + shape)


def _output_width(model: keras.Model, output: int | str | None) -> int | None:
    """The values per image of the output read (None when unknown)."""
    outputs = model_outputs(model)
    return outputs[output_index(model, output)].width if outputs else None


def _check_targets(targets: Sequence[int], n: int, width: int | None) -> np.ndarray:
    """``targets`` as int32 ``(n,)``.

    Raises:
        SaliencyError: not one whole number per image, or a class outside the output's ``width`` values.
    """
    values = np.asarray(targets)
    if values.shape != (n,) or values.dtype.kind not in "iu":
        raise SaliencyError(f"Expected one class (a whole number) per image, {n} in all; got {targets!r}.")
    bad = values[(values < 0) | (values >= (width if width is not None else np.iinfo(np.int32).max))]
    if len(bad):
        raise SaliencyError(
            f"No such class: {int(bad[0])}. The output read has {width} values: expected a class from 0 to "
            f"{(width or 1) - 1}."
        )
    return values.astype(np.int32)


def _scorer(
    model: keras.Model, output: int | str | None, also=None
) -> tuple[Callable[..., tuple[object, object]], str]:
    """``(run, score)``: ``run(x)`` gives ``(also's values or None, class scores (n, classes))`` as tensors on the
    tape, the model called in inference mode (:func:`featlib.models.inference.inference_function`); ``score``
    is ``"logit"`` when the scores are the input of the output's softmax, else ``"output"``.

    Raises:
        ModelError: no such output.
    """
    tensor = model.outputs[output_index(model, output)]
    producer = _producer(tensor)
    end, head, score = tensor, None, "output"
    if producer is not None and (
        _kind(producer) == "Softmax"
        or (_kind(producer) == "Activation" and _activation_name(producer) in _SOFTMAX_FUNCTIONS)
    ):
        before = _input_of(producer)
        if before is not None:
            end, score = before, "logit"
    elif producer is not None and _activation_name(producer) in _SOFTMAX_FUNCTIONS:
        before, head = _input_of(producer), _without_activation(producer)
        if before is not None and head is not None:
            end, score = before, "logit"
        else:
            head = None
    function = inference_function(model.inputs, [end] if also is None else [also, end])

    def run(x):
        values = function([x])
        values = list(values) if isinstance(values, (list, tuple)) else [values]
        last = head(values[-1]) if head is not None else values[-1]
        last = tf.reshape(last, (tf.shape(last)[0], -1))
        return (values[0] if also is not None else None), last

    return run, score


def _without_activation(layer):
    """A copy of ``layer`` with its activation replaced by ``linear`` and the same weights, or None when it cannot
    be rebuilt from its config (a custom layer)."""
    try:
        config = {**layer.get_config(), "activation": "linear"}
        copy = type(layer).from_config(config)
        copy.build(_input_of(layer).shape)
        copy.set_weights(layer.get_weights())
    except (TypeError, ValueError, AttributeError, KeyError, NotImplementedError):
        return None
    return copy


def _gradients(run, path: np.ndarray, classes: np.ndarray, batch_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The gradient of each row's class score with respect to the row, and every class score of each row.

    Raises:
        SaliencyError: the model gives no gradient with respect to its input.
    """
    grads, values = [], []
    for start in range(0, len(path), batch_rows):
        tensor = tf.convert_to_tensor(path[start : start + batch_rows])
        with tf.GradientTape() as tape:
            tape.watch(tensor)
            _, scores = run(tensor)
            picked = tf.gather(scores, tf.constant(classes[start : start + batch_rows]), axis=1, batch_dims=1)
        grad = tape.gradient(picked, tensor)
        if grad is None:
            raise SaliencyError(
                "The model's class scores do not depend on its input by any gradient (a layer stops them, e.g. "
                "an argmax, a rounding or a stop_gradient), so no saliency map can be computed: expected a model "
                "differentiable from its input to its output."
            )
        grads.append(keras.ops.convert_to_numpy(grad))
        values.append(keras.ops.convert_to_numpy(scores))
    return np.concatenate(grads), np.concatenate(values)


def _per_pixel(model: keras.Model, attributions: np.ndarray) -> np.ndarray:
    """One image's attributions on its ``(h, w)`` grid, summed over channels: float32."""
    h, w = image_size(model)
    values = attributions.reshape(h, w, -1).sum(axis=-1)
    return values.astype(np.float32)


def _normalised(values: np.ndarray) -> np.ndarray:
    """The positive part of ``values`` divided by its maximum: float32 in ``[0, 1]`` (zeros when none is positive)."""
    positive = np.maximum(np.asarray(values, dtype=np.float64), 0.0)
    top = float(positive.max()) if positive.size else 0.0
    return (positive / top if top > 0 and np.isfinite(top) else np.zeros_like(positive)).astype(np.float32)
