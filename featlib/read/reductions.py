"""Reductions: how a layer's output for one image becomes one row of its representation.

A layer without spatial axes (Dense: ``(n, units)``) is read as it is. A layer
with spatial axes (Conv1D/2D/3D, pooling, their activations: ``(n, *spatial,
channels)``) is large once flattened: Conv2D's 26×26×32 output is 21,632
values per image, 825 MiB for the 10,000 MNIST test images. Its representation
is then one of:

- ``flatten``: every value, ``reshape(n, -1)`` (21,632 columns);
- ``grid``: average pooling to a small spatial grid (adaptive average pooling: at most
  :data:`GRID_CELLS` cells, 8×8 for an image, and at most :data:`GRID_MAX` columns),
  the mean of each cell per channel (8×8×32 = 2,048 columns);
- ``gap``: global average pooling, the mean over the spatial axes (32 columns);
- ``gmp``: global max pooling, the max over the spatial axes (32 columns).

The user picks one (:data:`CHOICES`); ``auto``, the default, flattens up to
:data:`FLATTEN_MAX` values per image and pools to the grid above it
(:func:`default_reduction`). The grid keeps where in the image a feature fired,
so neighbourhoods survive: on a small CNN trained on Fashion-MNIST, each Conv2D's
10-NN accuracy pooled to the grid stays within 1 point of the flattened layer's, where
global average pooling (one number per channel) loses 13 to 22 points and ranks the
first convolution far below the input pixels (``bench/reductions_study.py``; a 4×4
grid lost 3 points there).
Global pooling stays a choice. A pooled representation is named so everywhere
(:func:`describe`) and keyed so in the workspace (:func:`key_part`): a
flattened one keeps the key it always had.

Nothing here imports Keras at module level; :func:`for_layer` reads a model.

Example:
    >>> rep = Representation("conv2d", (26, 26, 32), "gap")
    >>> rep.title, rep.reduced_shape, rep.units
    ('conv2d (global average pooling, 32 of 26×26×32)', (32,), 32)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from featlib.errors import ReductionError
from featlib.lazy import keras
from featlib.models import ModelError, activations, check_layer

if TYPE_CHECKING:
    import keras

REDUCTIONS = {
    "flatten": "flatten",
    "grid": "grid average pooling",
    "gap": "global average pooling",
    "gmp": "global max pooling",
}
"""Every reduction: short name (used in keys, links and the CLI) → its name in words."""
POOLED = ("grid", "gap", "gmp")
"""The reductions that pool over spatial axes (refused for a layer without them)."""
AUTO = "auto"
FLATTEN_MAX = 4_096
"""``auto`` flattens a spatial layer with at most this many values per image, and pools it to a grid above it.

4,096 float32 values are 16 KiB per image (160 MiB for 10,000 images), the width the Layers page
always accepted (:data:`featlib.read.layers.MAX_UNITS`); MNIST's first Conv2D (26×26×32 = 21,632) is
above it, an 8×8 digits Conv2D (6×6×8 = 288) below."""
GRID_CELLS = 64
"""``grid`` pools the spatial axes to at most this many cells: 8×8 for an image, 64 steps for a sequence, 4×4×4
for a volume (never more cells along an axis than it has positions)."""
GRID_MAX = 2_048
"""``grid`` keeps at most this many columns (8 KiB per image in float32): with more channels the grid is coarser
(64 channels: 5×5, 512: 2×2), down to 1×1 (global average pooling) when even that is wider."""
CHOICES = {AUTO: f"auto: flatten up to {FLATTEN_MAX:,} values per image, else grid average pooling", **REDUCTIONS}
"""What a user may ask for: :data:`AUTO` or a reduction."""
AUTO_GRID_KEY = "auto-grid"
"""How a layer set's key names ``auto`` when it read a layer by ``grid`` (:func:`set_key_choice`): such layer sets
were read by global average pooling before ``auto`` pooled to a grid, under the key without a reduction."""
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
    ``grid`` above it (average pooling to at most 8×8 cells, see :func:`grid_cells`), ``gap`` when a
    size is not fixed (the grid's width would not be either).
    """
    if not is_spatial(shape):
        return "flatten"
    if any(d is None for d in shape):
        return "gap"
    return "flatten" if _product(shape) <= FLATTEN_MAX else "grid"


def grid_cells(shape: Sequence[int | None], channels_first: bool = False) -> tuple[int, ...] | None:
    """The cells per spatial axis ``grid`` pools a per-image output shape (no batch axis) to.

    As many per axis as :data:`GRID_CELLS` allows in all (8 per axis for an image), never more than the
    axis has positions, fewer while the result would be wider than :data:`GRID_MAX` columns (down to 1:
    global average pooling).

    Returns:
        ``(8, 8)`` for ``(26, 26, 32)`` (2,048 columns); ``(5, 5)`` for ``(11, 11, 64)``; ``(2, 2)`` for
        ``(7, 7, 512)``; ``(3,)`` for ``(3, 64)``; ``None`` when a spatial size is not fixed or the shape
        has no spatial axes.

    >>> grid_cells((26, 26, 32)), grid_cells((11, 11, 64)), grid_cells((32, 7, 7), channels_first=True)
    ((8, 8), (5, 5), (7, 7))
    """
    shape = tuple(shape)
    if not is_spatial(shape):
        return None
    spatial, channels = (shape[1:], shape[0]) if channels_first else (shape[:-1], shape[-1])
    if any(d is None for d in spatial):
        return None
    side = 1
    while (side + 1) ** len(spatial) <= GRID_CELLS:
        side += 1
    for size in range(side, 0, -1):
        cells = tuple(min(int(n), size) for n in spatial)
        if size == 1 or channels is None or _product(cells) * int(channels) <= GRID_MAX:
            return cells
    return cells  # pragma: no cover (the loop returns at size 1)


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
    """The per-image shape after ``reduction``: ``(product,)`` for flatten, ``(cells × channels,)`` for the grid,
    ``(channels,)`` for global pooling; ``(None,)`` when that size is not fixed.

    Raises:
        ReductionError: an unknown reduction, or pooling a shape without spatial axes.
    """
    shape = tuple(shape)
    reduction = resolve(shape, reduction) if reduction != AUTO else default_reduction(shape)
    if reduction == "flatten":
        return (None,) if any(d is None for d in shape) else (_product(shape),)
    channels = shape[0] if channels_first else shape[-1]
    if reduction == "grid":
        cells = grid_cells(shape, channels_first)
        return (None,) if cells is None or channels is None else (_product(cells) * int(channels),)
    return (channels,)


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
        float32 ``(n, units)``: ``batch.reshape(n, -1)`` for flatten (no copy when already float32);
        for grid the mean over each cell of :func:`grid_cells` (adaptive average pooling: cell ``i`` of
        ``g`` along an axis of ``m`` positions covers ``[i·m//g, (i+1)·m//g)``), flattened; else the mean
        (gap) or max (gmp) over the spatial axes, one column per channel.

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
    if reduction == "grid":
        return _grid_pool(batch, axes, channels_first)
    if reduction == "gap":
        return batch.mean(axis=axes, dtype="float32")
    return batch.max(axis=axes).astype("float32", copy=False)


def _grid_pool(batch: np.ndarray, axes: tuple[int, ...], channels_first: bool) -> np.ndarray:
    """``batch`` averaged over the cells of :func:`grid_cells` along ``axes``, as float32 ``(n, cells × channels)``.

    One :func:`numpy.add.reduceat` per spatial axis (no loop over images or cells): the first one reads the
    batch once and writes an array already ``positions / cells`` times smaller.
    """
    cells = grid_cells(batch.shape[1:], channels_first)
    pooled = batch
    for axis, count in zip(axes, cells or (), strict=True):
        size = pooled.shape[axis]
        starts = (np.arange(count) * size) // count
        widths = np.diff(np.append(starts, size)).astype("float32")
        pooled = np.add.reduceat(pooled, starts, axis=axis, dtype="float32")
        pooled /= widths.reshape([-1 if a == axis else 1 for a in range(pooled.ndim)])
    return np.ascontiguousarray(pooled.reshape(len(pooled), -1), dtype="float32")


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


def reduction_text(shape: Sequence[int | None], reduction: str, channels_first: bool = False) -> str:
    """A reduction in words for a layer of per-image ``shape``: ``"global average pooling"``, the grid with its cells
    (``"grid average pooling 8×8"``).

    Raises:
        ReductionError: an unknown reduction.
    """
    if reduction not in REDUCTIONS:
        raise ReductionError(f"Unknown reduction: {reduction!r}. Expected one of {list(REDUCTIONS)}.")
    cells = grid_cells(shape, channels_first) if reduction == "grid" else None
    return f"{REDUCTIONS[reduction]} {shape_text(cells)}" if cells else REDUCTIONS[reduction]


def describe(layer: str, shape: Sequence[int | None], reduction: str, channels_first: bool = False) -> str:
    """The representation's name: ``"conv2d (global average pooling, 32 of 26×26×32)"``, just ``"dense"`` without spatial axes.

    A flattened spatial layer reads ``"conv2d (flatten, 288 of 6×6×8)"``, one pooled to a grid
    ``"conv2d (grid average pooling 8×8, 2,048 of 26×26×32)"``.
    """
    if not is_spatial(shape):
        return layer
    (units,) = reduced_shape(shape, reduction, channels_first)
    width = "?" if units is None else f"{units:,}"
    return f"{layer} ({reduction_text(shape, reduction, channels_first)}, {width} of {shape_text(shape)})"


def set_key_choice(choice: str, representations: Iterable[Representation]) -> str:
    """The reduction choice as the key of a layer set reading ``representations`` names it.

    ``choice`` itself, but :data:`AUTO_GRID_KEY` for ``auto`` when it read a layer by ``grid``: before
    ``auto`` pooled wide layers to a grid it pooled them globally, under the key that names no reduction,
    so those stored maps and scores are not read back as the grid's. A layer set whose ``auto`` flattened
    every layer (an MLP, a small CNN) keeps the key it always had.
    """
    if choice == AUTO and any(rep.reduction == "grid" for rep in representations):
        return AUTO_GRID_KEY
    return choice


def key_part(reduction: str) -> str:
    """What a reduction adds to a representation's key: ``""`` for flatten (old keys stay valid), ``"/reduction=gap"``,
    ``"/reduction=grid"``.

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
        return describe(self.layer, self.shape, self.reduction, self.channels_first)

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
    return for_shape(layer_name, shape, is_spatial(shape) and channels_first(model, layer_name), choice, strict=strict)


def for_shape(
    layer_name: str, shape: Sequence[int | None], first: bool, choice: str = AUTO, *, strict: bool = True
) -> Representation:
    """The representation ``choice`` means for a layer of output ``shape`` (no batch axis) whose channels come
    first when ``first`` (only spatial layers have channels): :func:`for_layer` without the model.

    Raises:
        ReductionError: an unknown choice, or (``strict``) pooling a layer without spatial axes.
    """
    shape = tuple(shape)
    try:
        return Representation(layer_name, shape, resolve(shape, choice, strict=strict), is_spatial(shape) and first)
    except ReductionError as error:
        raise ReductionError(f"Layer {layer_name}: {error}") from None


@dataclass(frozen=True)
class LayerRow:
    """One row of :func:`layer_table`: a layer, its output and its representation for ``n_images`` images."""

    index: int
    name: str
    type: str
    output_shape: str  # e.g. "26×26×32"
    reduction: str  # "flatten", "grid average pooling 8×8", "global average pooling", ...; "" when it cannot be read
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
            shape, after = shape_text(rep.shape), shape_text(rep.reduced_shape)
            reduction = reduction_text(rep.shape, rep.reduction, rep.channels_first)
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
