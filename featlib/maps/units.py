"""Which units make this cluster? Per-unit statistics of a layer (issue 27, item 2).

A layer's representation is ``(n images, units)`` float32. A *unit* is one column of it for a layer without
spatial axes (a Dense layer's neuron), and one **channel** for a layer with spatial axes (a convolution's
filter): its value for an image is the channel's mean over the spatial positions (global average pooling,
:func:`channels`), whatever reduction read the layer (``flatten`` and ``grid`` are pooled here, ``gap`` is
already the mean, ``gmp`` keeps the channel's maximum it was read with).

For the units of one layer over a set of images, :func:`unit_stats` gives

- each unit's **most activating images**: the ``k`` images with the highest value, highest first;
- the **dead units**: units that are *constant over the data* (peak-to-peak at most
  :data:`CONSTANT_TOLERANCE` times the layer's largest absolute value, or 1 when that is below 1). In a layer
  whose values are never negative (a ReLU's output: the layer's minimum is ``>= 0``) a unit whose maximum is
  ``<= 0`` is never active, always 0, and so constant: such units are marked :attr:`UnitStats.never_active`.
  A unit whose maximum is ``<= 0`` in a layer with negative values (tanh, linear, a logit) still carries
  information and is *not* dead: "active" means above 0 only where 0 is the floor of the activation;
- the **near-duplicate units**: pairs of non-constant units whose Pearson correlation over the images has an
  absolute value above :data:`DUPLICATE_R` (0.99; anti-correlated copies count: one is the other's mirror),
  and the groups they join into (connected components of the pairs).

:func:`rank_units` ranks the units by how well each, alone, tells a selection of images from the rest: the
area under the ROC curve of the unit's value as a score for "selected" (AUROC; 1: every selected image has a
higher value than every other, 0: every lower, 0.5: no better than chance). It equals
:func:`sklearn.metrics.roc_auc_score` ``(selected, values[:, j])`` for every unit ``j``, computed for all
units at once from average ranks (the Mann–Whitney U statistic: ``AUROC = U / (n₁ n₀)``, ``U = R₁ − n₁(n₁+1)/2``
with ``R₁`` the sum of the selected images' ranks, ties sharing their mean rank; Hanley & McNeil, "The meaning
and use of the area under a ROC curve", Radiology 143, 1982). Units are ranked by ``|AUROC − 0.5|``: a unit
far below 0.5 tells the selection apart as well, by being *lower* there (the direction is kept in the AUROC).

Bounded: at most :data:`MAX_UNITS` units (the first ones) and :data:`MAX_IMAGES` images are examined; more
images are sampled (deterministically, seed 0) and the rows examined are returned.

Example:
    >>> import numpy as np
    >>> x = np.array([[0, 1, 2, 2], [0, 3, 1, 1], [0, 2, 5, 5]], dtype="float32")
    >>> stats = unit_stats(x, k=2)
    >>> stats.dead.tolist(), stats.top[1].tolist(), [g.tolist() for g in stats.groups]
    ([0], [1, 2], [[2, 3]])
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from featlib.errors import MetricError
from featlib.lazy import scipy
from featlib.read import reductions

MAX_UNITS = 4_096
"""The most units (columns or channels, the first ones) examined: 4,096 is the widest representation the Layers
page reads (:data:`featlib.read.layers.MAX_UNITS`); their correlation matrix is 64 MiB in float32."""
MAX_IMAGES = 10_000
"""The most images examined; more are sampled (seed 0). 10,000 × 4,096 float32 values are 160 MiB."""
TOP_K = 12
"""Most activating images kept per unit."""
DUPLICATE_R = 0.99
"""Two units are near-duplicates when the absolute value of their Pearson correlation is above this."""
CONSTANT_TOLERANCE = 1e-6
"""A unit is constant (dead) when its peak-to-peak over the images is at most this times the layer's scale
(its largest absolute value, at least 1): float32 rounding of a pooled constant stays far below it."""
MAX_PAIRS = 10_000
"""Near-duplicate pairs kept (the most correlated first); the groups are computed from all of them."""
BLOCK = 512
"""Units whose correlations with every other are computed at once (a progress step)."""

Progress = Callable[..., None]


def _quiet(*_args, **_kwargs) -> None:
    """A progress function that reports nowhere."""


@dataclass(frozen=True)
class UnitStats:
    """Per-unit statistics of a layer over a set of images (:func:`unit_stats`).

    Attributes:
        units: the layer's units in all (columns, or channels of a spatial layer).
        rows: int64 ``(m,)``: positions (in the rows given) of the images examined, ascending.
        top: int64 ``(examined, k)``: each examined unit's most activating images, highest first, as positions in
            the rows given (ties: lower position first).
        top_values: float32 ``(examined, k)``: their values.
        minimum, maximum, mean: float32 ``(examined,)``: each unit over the images examined.
        dead: int64: the dead (constant) units, ascending.
        never_active: bool ``(examined,)``: dead units of a layer that is never negative whose value is ``<= 0``.
        pairs: int64 ``(p, 2)``: near-duplicate pairs ``i < j``, most correlated first (at most :data:`MAX_PAIRS`).
        r: float32 ``(p,)``: their Pearson correlation (its absolute value is above :data:`DUPLICATE_R`).
        group: int64 ``(examined,)``: each unit's near-duplicate group, numbered from 0 (largest group first, ties:
            lowest unit first), -1 for a unit with no near-duplicate.
    """

    units: int
    rows: np.ndarray
    top: np.ndarray
    top_values: np.ndarray
    minimum: np.ndarray
    maximum: np.ndarray
    mean: np.ndarray
    dead: np.ndarray
    never_active: np.ndarray
    pairs: np.ndarray
    r: np.ndarray
    group: np.ndarray

    @property
    def groups(self) -> tuple[np.ndarray, ...]:
        """The near-duplicate groups: int64 arrays of units (ascending), largest group first."""
        return tuple(
            np.flatnonzero(self.group == g).astype("int64") for g in range(int(self.group.max(initial=-1)) + 1)
        )

    @property
    def examined(self) -> int:
        """Units examined: ``min(units, MAX_UNITS)``."""
        return len(self.maximum)

    @property
    def duplicated(self) -> int:
        """Units that have a near-duplicate (every member of every group)."""
        return int(sum(len(g) for g in self.groups))

    @property
    def redundant(self) -> int:
        """Units that could go with one unit kept per group: members of groups minus the groups."""
        return self.duplicated - len(self.groups)

    def summary(self) -> dict:
        """The counts as one row: ``units``, ``examined``, ``images``, ``dead``, ``never_active``, ``duplicated``,
        ``groups``, ``redundant``."""
        return {
            "units": self.units,
            "examined": self.examined,
            "images": len(self.rows),
            "dead": len(self.dead),
            "never_active": int(self.never_active.sum()),
            "duplicated": self.duplicated,
            "groups": len(self.groups),
            "redundant": self.redundant,
        }


@dataclass(frozen=True)
class UnitRanking:
    """The units ranked by how well each tells a selection from the rest (:func:`ranking`).

    Attributes:
        order: int64 ``(examined,)``: units by ``|AUROC − 0.5|``, largest first (ties: lower unit first).
        auroc: float64 ``(examined,)``: each unit's AUROC for "selected" (by unit, not by rank).
        top: int64 ``(shown, k)``: the most activating images of the first ``shown`` units of ``order``, as
            positions in the rows given, highest first.
        selected, others: how many images of each side the AUROC was computed on.
    """

    order: np.ndarray
    auroc: np.ndarray
    top: np.ndarray
    selected: int
    others: int


def channels(
    outputs: np.ndarray,
    shape: Sequence[int | None] | None = None,
    reduction: str = "flatten",
    channels_first: bool = False,
) -> np.ndarray:
    """The representation's units: its columns, or for a spatial layer each channel's mean over the positions.

    Args:
        outputs: ``(n, columns)``, a layer's representation read by ``reduction``.
        shape: the layer's output per image (no batch axis), e.g. ``(26, 26, 32)``; ``None`` or no spatial
            axes: the columns are the units.
        reduction: how the representation was read (a key of :data:`featlib.read.reductions.REDUCTIONS`):
            ``flatten`` and ``grid`` are averaged here (the grid's cells weighted by the positions they cover,
            so both give the global mean), ``gap`` and ``gmp`` are already one column per channel.
        channels_first: the channels are the first axis of ``shape``.

    Returns:
        float32 ``(n, units)``.

    Raises:
        MetricError: ``outputs`` is not 2-D or its columns do not fit ``shape`` read by ``reduction``.
    """
    view, weights = _per_channel(outputs, shape, reduction, channels_first)
    if view.ndim == 2:
        return view.astype("float32", copy=False)
    if weights is None:
        return view.mean(axis=1, dtype="float32")
    return (np.tensordot(weights, view, axes=([0], [1])) / weights.sum()).astype("float32")


def unit_values(
    outputs: np.ndarray,
    unit: int,
    shape: Sequence[int | None] | None = None,
    reduction: str = "flatten",
    channels_first: bool = False,
) -> np.ndarray:
    """One unit's value for each image (column ``unit`` of :func:`channels`), without pooling the others.

    Returns:
        float32 ``(n,)``.

    Raises:
        MetricError: as :func:`channels`, or ``unit`` is not one of the units.
    """
    view, weights = _per_channel(outputs, shape, reduction, channels_first)
    count = view.shape[-1]
    if not 0 <= int(unit) < count:
        raise MetricError(f"A unit is a number from 0 to {count - 1} for this layer ({count:,} units); got {unit}.")
    if view.ndim == 2:
        return view[:, int(unit)].astype("float32")
    column = view[:, :, int(unit)]
    if weights is None:
        return column.mean(axis=1, dtype="float32")
    return (column @ weights / weights.sum()).astype("float32")


def unit_stats(
    outputs: np.ndarray,
    k: int = TOP_K,
    *,
    shape: Sequence[int | None] | None = None,
    reduction: str = "flatten",
    channels_first: bool = False,
    progress: Progress = _quiet,
) -> UnitStats:
    """Each unit's most activating images, the dead units and the near-duplicate units (see the module's text).

    Args:
        outputs: ``(n, columns)``, a layer's representation (rows: images); see :func:`channels` for ``shape``,
            ``reduction`` and ``channels_first``.
        k: most activating images per unit (at most ``n``).
        progress: called as ``("units", done, total)`` while correlations are computed.

    Returns:
        A :class:`UnitStats` over at most :data:`MAX_UNITS` units and :data:`MAX_IMAGES` images.

    Raises:
        MetricError: no image, a value not finite, ``k`` below 1, or what :func:`channels` raises.
    """
    if int(k) < 1:
        raise MetricError(f"The most activating images per unit must be at least 1; got {k}.")
    values = channels(outputs, shape, reduction, channels_first)
    units = values.shape[1]
    if not len(values) or not units:
        raise MetricError(f"Unit statistics need at least one image and one unit; got shape {values.shape}.")
    rows = _sample(len(values), MAX_IMAGES)
    x = _finite(values[rows][:, :MAX_UNITS])
    m, examined = x.shape
    progress("units", 0, examined)
    top = _top_rows(x, min(int(k), m))
    top_values = np.take_along_axis(x, top.T, axis=0).T
    minimum, maximum = x.min(axis=0), x.max(axis=0)
    scale = max(1.0, float(np.abs(x).max()))
    constant = (maximum - minimum) <= CONSTANT_TOLERANCE * scale
    never_active = constant & (maximum <= 0) & (float(minimum.min()) >= 0)
    pairs, r = _duplicates(x, ~constant, progress)
    return UnitStats(
        units=units,
        rows=rows,
        top=rows[top],
        top_values=top_values.astype("float32"),
        minimum=minimum,
        maximum=maximum,
        mean=x.mean(axis=0, dtype="float64").astype("float32"),
        dead=np.flatnonzero(constant).astype("int64"),
        never_active=never_active,
        pairs=pairs[:MAX_PAIRS],
        r=r[:MAX_PAIRS],
        group=_groups(pairs, examined),
    )


def rank_units(outputs: np.ndarray, selected_mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The units ranked by how well each tells the selected images from the others (AUROC).

    Args:
        outputs: ``(n, units)``, each image's value of each unit (:func:`channels` of a spatial layer); only
            the first :data:`MAX_UNITS` units are ranked.
        selected_mask: bool ``(n,)``: the selection.

    Returns:
        ``(order, auroc)``: int64 ``(units,)``, the units by ``|AUROC − 0.5|`` largest first (ties: lower unit
        first), and float64 ``(units,)``, each unit's AUROC (by unit), equal to
        ``sklearn.metrics.roc_auc_score(selected_mask, outputs[:, j])``. A constant unit's is 0.5.

    Raises:
        MetricError: ``selected_mask`` is not one bool per row, no image or every image is selected, or a value is
            not finite.
    """
    x = _finite(np.asarray(outputs)[:, :MAX_UNITS])
    mask = _mask(selected_mask, len(x))
    ranks = scipy.stats.rankdata(x, axis=0)  # average ranks of ties, 1..n per column
    n1, n0 = int(mask.sum()), int((~mask).sum())
    u = ranks[mask].sum(axis=0) - n1 * (n1 + 1) / 2.0
    auroc = u / (n1 * n0)
    order = np.lexsort((np.arange(len(auroc)), -np.abs(auroc - 0.5))).astype("int64")
    return order, auroc


def ranking(
    outputs: np.ndarray,
    selected_mask: np.ndarray,
    *,
    shape: Sequence[int | None] | None = None,
    reduction: str = "flatten",
    channels_first: bool = False,
    shown: int = 8,
    k: int = TOP_K,
    progress: Progress = _quiet,
) -> UnitRanking:
    """:func:`rank_units` of a layer's units (:func:`channels`), with the most activating images of the first few.

    More than :data:`MAX_IMAGES` images are sampled per side (seed 0): the selected ones up to half of it (more
    when the others are fewer), the others to fill it. The AUROC compares the two sides only, so sampling each
    side leaves it an unbiased estimate.

    Args:
        outputs: ``(n, columns)``, the representation; ``selected_mask``: bool ``(n,)``.
        shown: units whose most activating images are returned (the first of the ranking); k: images per unit.

    Raises:
        MetricError: as :func:`rank_units` and :func:`channels`.
    """
    values = channels(outputs, shape, reduction, channels_first)
    mask = _mask(selected_mask, len(values))
    progress("units", 0, 1)
    chosen, others = np.flatnonzero(mask), np.flatnonzero(~mask)
    keep_chosen = min(len(chosen), max(MAX_IMAGES - len(others), MAX_IMAGES // 2))
    keep_others = min(len(others), MAX_IMAGES - keep_chosen)
    rows = np.sort(
        np.concatenate([chosen[_sample(len(chosen), keep_chosen)], others[_sample(len(others), keep_others)]])
    )
    x = values[rows]
    order, auroc = rank_units(x, mask[rows])
    first = order[: max(0, int(shown))]
    top = rows[_top_rows(x[:, first], min(int(k), len(rows)))] if len(first) else np.zeros((0, 0), "int64")
    progress("units", 1, 1)
    return UnitRanking(order, auroc, top, int(mask[rows].sum()), int((~mask[rows]).sum()))


def selection_digest(selected: np.ndarray) -> str:
    """A short digest of a selection's images (sorted, duplicates dropped), for a job's key: 16 hex digits."""
    ids = np.unique(np.asarray(selected, dtype="int64"))
    return hashlib.sha256(ids.tobytes()).hexdigest()[:16]


def selection_mask(indices: np.ndarray, selected: np.ndarray) -> np.ndarray:
    """bool ``(len(indices),)``: which of the images ``indices`` (e.g. a map's points) are in ``selected``."""
    return np.isin(np.asarray(indices), np.asarray(selected, dtype="int64"))


# ----------------------------------------------------------------------------- helpers


def _per_channel(
    outputs: np.ndarray, shape: Sequence[int | None] | None, reduction: str, channels_first: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """``outputs`` as ``(n, units)`` (no pooling needed) or a view ``(n, positions, channels)`` and the positions'
    weights (``None``: equal)."""
    outputs = np.asarray(outputs)
    if outputs.ndim != 2:
        raise MetricError(f"A representation is 2-D (images, columns); got shape {outputs.shape}.")
    if reduction not in reductions.REDUCTIONS:
        raise MetricError(f"Unknown reduction: {reduction!r}. Expected one of {list(reductions.REDUCTIONS)}.")
    if shape is None or not reductions.is_spatial(shape) or reduction in ("gap", "gmp"):
        return outputs, None
    shape = tuple(shape)
    channel_count = shape[0] if channels_first else shape[-1]
    if channel_count is None or outputs.shape[1] % int(channel_count):
        raise MetricError(
            f"The representation's {outputs.shape[1]:,} columns do not split into the channels of a layer of "
            f"output {reductions.shape_text(shape)} read by {reduction}; give the layer's own shape."
        )
    c = int(channel_count)
    n = len(outputs)
    weights = None
    if reduction == "grid":
        cells = reductions.grid_cells(shape, channels_first)
        spatial = shape[1:] if channels_first else shape[:-1]
        weights = np.ones(1, dtype="float32")
        for size, count in zip(spatial, cells, strict=True):
            starts = (np.arange(count) * int(size)) // count
            widths = np.diff(np.append(starts, int(size))).astype("float32")
            weights = np.multiply.outer(weights, widths).ravel()
    positions = outputs.shape[1] // c
    if weights is not None and len(weights) != positions:
        raise MetricError(
            f"The representation's {outputs.shape[1]:,} columns are not the grid of a layer of output "
            f"{reductions.shape_text(shape)}; give the layer's own shape and reduction."
        )
    view = outputs.reshape(n, c, positions).transpose(0, 2, 1) if channels_first else outputs.reshape(n, positions, c)
    return view, weights


def _finite(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype="float32")
    if not np.isfinite(x).all():
        raise MetricError("The layer's values hold NaN or infinite values; unit statistics need finite ones.")
    return x


def _mask(selected_mask: np.ndarray, n: int) -> np.ndarray:
    mask = np.asarray(selected_mask)
    if mask.shape != (n,) or mask.dtype != bool:
        raise MetricError(
            f"The selection must be one True/False per image ({n:,}); got {mask.dtype} of shape {mask.shape}."
        )
    if not mask.any() or mask.all():
        raise MetricError(
            f"Telling a selection apart needs selected and unselected images; got {int(mask.sum()):,} selected "
            f"of {n:,}. Select some points, not all."
        )
    return mask


def _sample(n: int, most: int) -> np.ndarray:
    """``arange(n)``, or ``most`` of it drawn without replacement (seed 0), ascending."""
    if n <= most:
        return np.arange(n, dtype="int64")
    return np.sort(np.random.default_rng(0).choice(n, size=most, replace=False)).astype("int64")


def _top_rows(x: np.ndarray, k: int) -> np.ndarray:
    """int64 ``(units, k)``: each column's ``k`` highest rows, highest first (ties: lower row first)."""
    if k <= 0 or not x.shape[1]:
        return np.zeros((x.shape[1], 0), dtype="int64")
    part = np.argpartition(-x, k - 1, axis=0)[:k] if k < len(x) else np.tile(np.arange(len(x))[:, None], x.shape[1])
    got = np.take_along_axis(x, part, axis=0)
    order = np.lexsort((part, -got), axis=0)
    return np.take_along_axis(part, order, axis=0).T.astype("int64")


def _duplicates(x: np.ndarray, live: np.ndarray, progress: Progress) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of live units with ``|r| > DUPLICATE_R``, most correlated first, and their ``r``."""
    units = np.flatnonzero(live)
    total = x.shape[1]
    if len(units) < 2:
        progress("units", total, total)
        return np.zeros((0, 2), dtype="int64"), np.zeros(0, dtype="float32")
    z = x[:, units] - x[:, units].mean(axis=0, dtype="float64").astype("float32")
    z /= np.sqrt(np.einsum("ij,ij->j", z, z, dtype="float64")).astype("float32")
    found_i, found_j, found_r = [], [], []
    for start in range(0, len(units), BLOCK):
        corr = z[:, start : start + BLOCK].T @ z  # (block, live units)
        i, j = np.nonzero(np.abs(corr) > DUPLICATE_R)
        keep = j > i + start
        found_i.append(units[i[keep] + start])
        found_j.append(units[j[keep]])
        found_r.append(corr[i[keep], j[keep]])
        progress("units", min(start + BLOCK, len(units)), len(units))
    pairs = np.stack([np.concatenate(found_i), np.concatenate(found_j)], axis=1).astype("int64")
    r = np.clip(np.concatenate(found_r), -1.0, 1.0).astype("float32")
    order = np.lexsort((pairs[:, 1], pairs[:, 0], -np.abs(r)))
    return pairs[order], r[order]


def _groups(pairs: np.ndarray, units: int) -> np.ndarray:
    """Each unit's connected component of the pairs, numbered largest first (ties: lowest unit first), -1 alone."""
    group = np.full(units, -1, dtype="int64")
    if not len(pairs):
        return group
    graph = scipy.sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(units, units))
    _, component = scipy.sparse.csgraph.connected_components(graph, directed=False)
    sizes = np.bincount(component)
    found = sorted((np.flatnonzero(component == c) for c in np.flatnonzero(sizes > 1)), key=lambda g: (-len(g), g[0]))
    for number, members in enumerate(found):
        group[members] = number
    return group
