"""Reductions: how a layer's output for one image becomes one row of its representation.

A layer without spatial axes (Dense: ``(n, units)``) is read as it is. A layer
with spatial axes (Conv1D/2D/3D, pooling, their activations: ``(n, *spatial,
channels)``) is large once flattened: Conv2D's 26×26×32 output is 21,632
values per image, 825 MiB for the 10,000 MNIST test images. Its representation
is then one of:

- ``flatten``: every value, ``reshape(n, -1)`` (21,632 columns);
- ``gap``: global average pooling, the mean over the spatial axes (32 columns);
- ``gmp``: global max pooling, the max over the spatial axes (32 columns).

The user picks one (:data:`CHOICES`); ``auto``, the default, flattens up to
:data:`FLATTEN_MAX` values per image and pools by average above it
(:func:`default_reduction`). A pooled representation is named so everywhere
(:func:`describe`) and keyed so in the workspace (:func:`key_part`): a
flattened one keeps the key it always had.

Nothing here imports Keras at module level; :func:`for_layer` reads a model.

Example:
    >>> rep = Representation("conv2d", (26, 26, 32), "gap")
    >>> rep.title, rep.reduced_shape, rep.units
    ('conv2d (global average pooling, 32 of 26×26×32)', (32,), 32)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from featlib.errors import ReductionError
from featlib.lazy import keras
from featlib.models import ModelError, activations, check_layer

if TYPE_CHECKING:
    import keras

REDUCTIONS = {"flatten": "flatten", "gap": "global average pooling", "gmp": "global max pooling"}
"""Every reduction: short name (used in keys, links and the CLI) → its name in words."""
POOLED = ("gap", "gmp")
AUTO = "auto"
FLATTEN_MAX = 4_096
"""``auto`` flattens a spatial layer with at most this many values per image, and pools by average above it.

4,096 float32 values are 16 KiB per image (160 MiB for 10,000 images), the width the Layers page
always accepted (:data:`featlib.read.layers.MAX_UNITS`); MNIST's first Conv2D (26×26×32 = 21,632) is
above it, an 8×8 digits Conv2D (6×6×8 = 288) below."""
CHOICES = {AUTO: f"auto: flatten up to {FLATTEN_MAX:,} values per image, else global average pooling", **REDUCTIONS}
"""What a user may ask for: :data:`AUTO` or a reduction."""
BATCH_BYTES = 64 * 2**20
"""A batch's full-size layer output is kept at most this large (MiB × 2**20) while it is reduced."""


def check_choice(choice: str) -> str:
    """``choice`` when it is a key of :data:`CHOICES`.

    Raises:
        ReductionError: naming the choices and what was received.
    """
    if choice not in CHOICES:
        raise ReductionError(f"Unknown reduction: {choice!r}. Expected one of {list(CHOICES)}.")
    return choice


def is_spatial(shape: Sequence[int | None]) -> bool:
    """Whether a per-image output shape (no batch axis) has spatial axes: at least one besides the channels."""
    return len(shape) >= 2


def default_reduction(shape: Sequence[int | None]) -> str:
    """The reduction ``auto`` picks for a per-image output shape (no batch axis).

    ``flatten`` without spatial axes or with at most :data:`FLATTEN_MAX` values (all sizes known),
    ``gap`` above it.
    """
    if not is_spatial(shape):
        return "flatten"
    if any(d is None for d in shape):
        return "gap"
    return "flatten" if _product(shape) <= FLATTEN_MAX else "gap"


def resolve(shape: Sequence[int | None], choice: str, *, strict: bool = True) -> str:
    """The reduction a choice means for a layer of per-image output ``shape``.

    Args:
        shape: the layer's output shape without the batch axis, e.g. ``(26, 26, 32)``.
        choice: a key of :data:`CHOICES`.
        strict: when False, pooling asked of a layer without spatial axes is read as ``flatten``
            (a choice carried from a convolutional layer to a Dense one); when True it is refused.

    Raises:
        ReductionError: an unknown choice, or (``strict``) pooling a layer without spatial axes.
    """
    check_choice(choice)
    if choice == AUTO:
        return default_reduction(shape)
    if choice in POOLED and not is_spatial(shape):
        if not strict:
            return "flatten"
        raise ReductionError(
            f"{REDUCTIONS[choice]} ({choice}) needs a layer with spatial axes, like a Conv2D output "
            f"(height, width, channels); this layer's output per image is {shape_text(shape)}. "
            "Use flatten or auto."
        )
    return choice


def reduced_shape(shape: Sequence[int | None], reduction: str, channels_first: bool = False) -> tuple:
    """The per-image shape after ``reduction``: ``(product,)`` for flatten, ``(channels,)`` for pooling.

    Raises:
        ReductionError: an unknown reduction, or pooling a shape without spatial axes.
    """
    shape = tuple(shape)
    reduction = resolve(shape, reduction) if reduction != AUTO else default_reduction(shape)
    if reduction == "flatten":
        return (None,) if any(d is None for d in shape) else (_product(shape),)
    return (shape[0] if channels_first else shape[-1],)


def spatial_axes(ndim: int, channels_first: bool = False) -> tuple[int, ...]:
    """The spatial axes of a batch of ``ndim`` axes (batch first): ``1..ndim-2``, or ``2..ndim-1`` channels first."""
    return tuple(range(2, ndim)) if channels_first else tuple(range(1, ndim - 1))


def reduce_batch(batch: np.ndarray, reduction: str, channels_first: bool = False) -> np.ndarray:
    """One batch of a layer's outputs as rows of its representation.

    Args:
        batch: the layer's outputs, shape ``(n, *per_image)``, any float dtype.
        reduction: a key of :data:`REDUCTIONS`.
        channels_first: the channels are axis 1 (``data_format="channels_first"``), not the last.

    Returns:
        float32 ``(n, units)``: ``batch.reshape(n, -1)`` for flatten (no copy when already float32),
        else the mean (gap) or max (gmp) over the spatial axes, one column per channel.

    Raises:
        ReductionError: an unknown reduction, or pooling a batch without spatial axes (ndim < 3).
    """
    batch = np.asarray(batch)
    if reduction not in REDUCTIONS:
        raise ReductionError(f"Unknown reduction: {reduction!r}. Expected one of {list(REDUCTIONS)}.")
    if reduction == "flatten":
        return batch.reshape(len(batch), -1).astype("float32", copy=False)
    if batch.ndim < 3:
        raise ReductionError(
            f"{REDUCTIONS[reduction]} needs outputs with spatial axes (n, ..., channels); got shape {batch.shape}."
        )
    axes = spatial_axes(batch.ndim, channels_first)
    if reduction == "gap":
        return batch.mean(axis=axes, dtype="float32")
    return batch.max(axis=axes).astype("float32", copy=False)


def batch_size(shape: Sequence[int | None], requested: int, budget: int | None = None) -> int:
    """How many images to read at once so that one batch's full float32 output stays within ``budget`` bytes.

    ``budget`` defaults to :data:`BATCH_BYTES` (read at each call). At most ``requested``, at least 1;
    ``requested`` when a size is unknown.
    """
    budget = BATCH_BYTES if budget is None else budget
    if any(d is None for d in shape):
        return max(1, int(requested))
    per_image = 4 * _product(shape)
    return max(1, min(int(requested), budget // max(per_image, 1)))


def widest_output(model: keras.Model, up_to: str | None = None) -> int:
    """The most values per image any layer outputs, among the layers up to ``up_to`` (default: all).

    Computing a layer's output for a batch computes the layers before it on the same batch, so this
    (not only the layer's own width) bounds a batch's memory. Layers of unknown size count 0.
    """
    widest = 0
    for layer in model.layers:
        try:
            shape = tuple(layer.output.shape)[1:]
        except (AttributeError, ValueError):
            shape = (None,)
        if shape and all(d is not None for d in shape):
            widest = max(widest, _product(shape))
        if layer.name == up_to:
            break
    return widest


def describe(layer: str, shape: Sequence[int | None], reduction: str) -> str:
    """The representation's name: ``"conv2d (global average pooling, 32 of 26×26×32)"``, just ``"dense"`` without spatial axes.

    A flattened spatial layer reads ``"conv2d (flatten, 288 of 6×6×8)"``.
    """
    if not is_spatial(shape):
        return layer
    (units,) = reduced_shape(shape, reduction)
    width = "?" if units is None else f"{units:,}"
    return f"{layer} ({REDUCTIONS[reduction]}, {width} of {shape_text(shape)})"


def key_part(reduction: str) -> str:
    """What a reduction adds to a representation's key: ``""`` for flatten (old keys stay valid), ``"/reduction=gap"``.

    Raises:
        ReductionError: an unknown reduction (``auto`` must be resolved first, see :func:`resolve`).
    """
    if reduction not in REDUCTIONS:
        raise ReductionError(f"A key names a reduction, one of {list(REDUCTIONS)}; got {reduction!r}.")
    return "" if reduction == "flatten" else f"/reduction={reduction}"


def mib(units: int, n_images: int) -> float:
    """The MiB a float32 representation of ``units`` values per image takes for ``n_images``."""
    return 4 * int(units) * int(n_images) / 2**20


@dataclass(frozen=True)
class Representation:
    """One layer read one way: its per-image output shape and the reduction applied to it.

    Attributes:
        layer: the layer's name.
        shape: its output shape without the batch axis, e.g. ``(26, 26, 32)``.
        reduction: a key of :data:`REDUCTIONS` (resolved: never ``auto``).
        channels_first: the channels are the first axis of ``shape``.
    """

    layer: str
    shape: tuple
    reduction: str = "flatten"
    channels_first: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(self.shape))
        object.__setattr__(self, "reduction", resolve(self.shape, self.reduction))

    @property
    def spatial(self) -> bool:
        """Whether the layer has spatial axes (a reduction can be chosen)."""
        return is_spatial(self.shape)

    @property
    def reduced_shape(self) -> tuple:
        """The per-image shape of the representation: ``(units,)``."""
        return reduced_shape(self.shape, self.reduction, self.channels_first)

    @property
    def units(self) -> int:
        """Columns of the representation (values per image).

        Raises:
            ReductionError: the layer's output size is not fixed (flatten of unknown sizes).
        """
        (units,) = self.reduced_shape
        if units is None:
            raise ReductionError(
                f"Layer {self.layer} has no fixed output size: its output per image is "
                f"{shape_text(self.shape)}; pool it (gap or gmp) instead."
            )
        return int(units)

    @property
    def full_units(self) -> int | None:
        """Values per image before the reduction; ``None`` when a size is not fixed."""
        return None if any(d is None for d in self.shape) else _product(self.shape)

    @property
    def title(self) -> str:
        """Its name in pages, job titles and CLI output (see :func:`describe`)."""
        return describe(self.layer, self.shape, self.reduction)

    @property
    def choice(self) -> str:
        """The reduction as a link carries it: :data:`AUTO` when it is the layer's default."""
        return AUTO if self.reduction == default_reduction(self.shape) else self.reduction

    @property
    def key_part(self) -> str:
        """What it adds to the representation's key (see :func:`key_part`)."""
        return key_part(self.reduction)

    def mib(self, n_images: int) -> float:
        """Its size in MiB for ``n_images`` images (float32)."""
        return mib(self.units, n_images)

    def reduce(self, batch: np.ndarray) -> np.ndarray:
        """A batch ``(n, *shape)`` of the layer's outputs as float32 rows ``(n, units)`` (:func:`reduce_batch`)."""
        return reduce_batch(batch, self.reduction, self.channels_first)


def output_shape(model: keras.Model, layer_name: str) -> tuple:
    """``layer_name``'s output shape without the batch axis (sizes may be ``None``).

    Raises:
        ModelError: no such layer (naming the existing ones), or a layer with several outputs.
    """
    check_layer(model, layer_name)
    try:
        shape = model.get_layer(layer_name).output.shape
    except (AttributeError, ValueError) as error:
        raise ModelError(f"Layer {layer_name} has no single output to read: {error}") from None
    return tuple(None if d is None else int(d) for d in tuple(shape)[1:])


def channels_first(model: keras.Model, layer_name: str) -> bool:
    """Whether ``layer_name`` keeps channels on axis 1: its own ``data_format``, else Keras' image data format."""
    layer = model.get_layer(layer_name)
    data_format = getattr(layer, "data_format", None) or keras.config.image_data_format()
    return data_format == "channels_first"


def for_layer(model: keras.Model, layer_name: str, choice: str = AUTO, *, strict: bool = True) -> Representation:
    """The representation ``choice`` means for ``layer_name`` of ``model`` (see :func:`resolve`).

    Raises:
        ModelError: no such layer.
        ReductionError: an unknown choice, or (``strict``) pooling a layer without spatial axes.
    """
    shape = output_shape(model, layer_name)
    first = is_spatial(shape) and channels_first(model, layer_name)
    try:
        return Representation(layer_name, shape, resolve(shape, choice, strict=strict), first)
    except ReductionError as error:
        raise ReductionError(f"Layer {layer_name}: {error}") from None


@dataclass(frozen=True)
class LayerRow:
    """One row of :func:`layer_table`: a layer, its output and its representation for ``n_images`` images."""

    index: int
    name: str
    type: str
    output_shape: str  # e.g. "26×26×32"
    reduction: str  # "flatten", "global average pooling", ...; "" when the layer cannot be read
    representation_shape: str  # e.g. "32"
    mib: float | None  # float32 MiB of the representation for n_images; None when unknown
    params: int
    activation: str = ""  # see featlib.models.activations: "relu (own)", "none: pre-activation; relu in activation"


def layer_table(model: keras.Model, choice: str = AUTO, n_images: int = 0) -> list[LayerRow]:
    """Every layer: output shape before and after the reduction ``choice`` means for it, and its MiB for ``n_images``.

    Layers without spatial axes are flattened whatever ``choice`` says.
    """
    rows = []
    notes = activations(model)
    for i, layer in enumerate(model.layers):
        try:
            rep = for_layer(model, layer.name, choice, strict=False)
            shape, reduction, after = shape_text(rep.shape), REDUCTIONS[rep.reduction], shape_text(rep.reduced_shape)
            size = None if rep.reduced_shape[0] is None else rep.mib(n_images)
        except (ModelError, ReductionError):
            shape, reduction, after, size = "?", "", "?", None
        rows.append(
            LayerRow(
                i,
                layer.name,
                type(layer).__name__,
                shape,
                reduction,
                after,
                size,
                int(layer.count_params()),
                notes[layer.name],
            )
        )
    return rows


def _product(shape: Sequence[int | None]) -> int:
    return int(np.prod([int(d) for d in shape], dtype=np.int64))


def shape_text(shape: Sequence[int | None]) -> str:
    """A per-image shape in words: ``(26, 26, 32)`` → ``"26×26×32"``, unknown sizes as ``?``."""
    return "×".join("?" if d is None else str(int(d)) for d in shape) or "scalar"
