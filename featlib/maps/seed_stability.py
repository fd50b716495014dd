"""Is this picture an accident of the seed? The same map made with several seeds, compared (issue 29, item 5).

UMAP and t-SNE start from random places and sample at random: the same points give another map for another seed.
:func:`seed_maps` makes the map of the same points with ``n`` seeds (the map's own first, then the next ones);
:func:`stability` lays every map onto the first by Procrustes (:func:`featlib.maps.align.fit_procrustes`: a
rotation or reflection, one scale, a shift, fitted on all points) and measures how far each point moved.

Units. A displacement is a distance on the first map divided by the **map's width**: the span, along the wider of
its two axes, of the middle 98 % of its points (from the 1st to the 99th percentile, so that a few far points do
not shrink every figure). 0.12 means "moved by 12 % of the map's width". Each point's displacement is the median,
over the other seeds' aligned maps, of its distance to where the first map puts it.

The **stable core** is the points whose displacement is under :data:`CORE_THRESHOLD` (a tenth of the width): where
the map draws them does not depend on the seed. :func:`core_grid` gives the share of core points over a grid of
the map, smoothed, whose 0.5 contour the Explore page draws as the core's outline.

:class:`StabilityFigures` holds what a saved view keeps (:mod:`featlib.share.views`): the seeds, the median
displacement, the spread of the maps' trustworthiness (:func:`featlib.metrics.trustworthiness`, each seed's map
scored on the same sample) and the core's share of the points.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from featlib import metrics
from featlib.errors import ReducerError
from featlib.lazy import scipy
from featlib.maps import align, embed

DEFAULT_SEEDS = 5
"""Seeds compared by default (the map's own and the next four)."""
MIN_SEEDS, MAX_SEEDS = 2, 10
"""The fewest and the most seeds one comparison may ask for (each seed is a whole map)."""
CORE_THRESHOLD = 0.1
"""A point whose median displacement is under this share of the map's width is in the stable core."""
WIDTH_PERCENTILES = (1.0, 99.0)
"""The map's width is the span between these percentiles of its coordinates, along its wider axis."""
TRUST_SAMPLE = metrics.DEFAULT_SAMPLE
"""Each seed's map is scored for trustworthiness on at most this many points (the same sample for every seed)."""
GRID_BINS = 48
"""Cells per axis of :func:`core_grid`."""

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)``."""


@dataclass(frozen=True)
class StabilityFigures:
    """What a map's seed stability comes to, in a few numbers (kept with a saved view).

    Attributes:
        seeds: how many seeds were compared (the map's own included).
        median_displacement: the median over the points of their displacement, as a share of the map's width.
        trust_low, trust_high: the least and the greatest trustworthiness of the seeds' maps.
        core_share: the share of the points in the stable core (displacement under :data:`CORE_THRESHOLD`).
    """

    seeds: int
    median_displacement: float
    trust_low: float
    trust_high: float
    core_share: float

    def __post_init__(self) -> None:
        if not MIN_SEEDS <= int(self.seeds) <= MAX_SEEDS:
            raise ReducerError(f"Seed stability compares {MIN_SEEDS} to {MAX_SEEDS} seeds; got {self.seeds}.")
        for name in ("median_displacement", "trust_low", "trust_high", "core_share"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                raise ReducerError(f"The seed stability's {name} is a finite number ≥ 0; got {value!r}.")
        if self.trust_low > self.trust_high or self.trust_high > 1 or self.core_share > 1:
            raise ReducerError(
                "The seed stability's trustworthiness runs from trust_low to trust_high within [0, 1] and its core "
                f"share is within [0, 1]; got {self.trust_low}, {self.trust_high} and {self.core_share}."
            )

    @property
    def sentence(self) -> str:
        """``"median displacement 0.12 of the map's width over 5 seeds; trustworthiness 0.91–0.93; 64% of the
        points in the stable core"``."""
        trust = (
            f"{self.trust_low:.2f}"
            if f"{self.trust_low:.2f}" == f"{self.trust_high:.2f}"
            else f"{self.trust_low:.2f}–{self.trust_high:.2f}"
        )
        return (
            f"median displacement {self.median_displacement:.2f} of the map's width over {self.seeds} seeds; "
            f"trustworthiness {trust}; {self.core_share:.0%} of the points in the stable core"
        )

    def to_text(self) -> str:
        """The figures as a link carries them: ``"5,0.1234,0.9100,0.9300,0.6400"`` (see :meth:`from_text`)."""
        return ",".join(
            [str(int(self.seeds))]
            + [f"{v:.4f}" for v in (self.median_displacement, self.trust_low, self.trust_high, self.core_share)]
        )

    @classmethod
    def from_text(cls, raw: str) -> StabilityFigures:
        """The figures :meth:`to_text` wrote.

        Raises:
            ReducerError: not five comma-separated numbers (seeds a whole number) within the rules above.
        """
        parts = str(raw).split(",")
        try:
            if len(parts) != 5:
                raise ValueError
            seeds = int(parts[0])
            values = [float(p) for p in parts[1:]]
        except ValueError:
            raise ReducerError(
                "A seed stability is five numbers 'seeds,median displacement,trust low,trust high,core share' "
                f"like '5,0.1200,0.9100,0.9300,0.6400'; got {str(raw)[:60]!r}."
            ) from None
        return cls(seeds, *values)


@dataclass(frozen=True)
class SeedStability:
    """The maps of several seeds, aligned, and how far each point moved.

    Attributes:
        seeds: the seeds, the first the map's own.
        maps: float32 ``(s, n, 2)``: each seed's map aligned onto the first (``maps[0]`` is the first as made).
        displacement: float32 ``(n,)``: each point's median displacement over the other seeds, in map widths.
        width: the first map's width (its own units) that displacements are divided by.
        trust: float64 ``(s,)``: each seed's map's trustworthiness (NaN where it cannot be computed).
        threshold: the stable core's bound (:data:`CORE_THRESHOLD`).
    """

    seeds: tuple[int, ...]
    maps: np.ndarray
    displacement: np.ndarray
    width: float
    trust: np.ndarray
    threshold: float = CORE_THRESHOLD

    @property
    def core(self) -> np.ndarray:
        """bool ``(n,)``: the points of the stable core (displacement under :attr:`threshold`)."""
        return self.displacement < self.threshold

    @property
    def figures(self) -> StabilityFigures:
        """The :class:`StabilityFigures` (trustworthiness 0 to 0 when no seed's map could be scored)."""
        trust = self.trust[np.isfinite(self.trust)]
        low, high = (float(trust.min()), float(trust.max())) if len(trust) else (0.0, 0.0)
        return StabilityFigures(
            len(self.seeds),
            float(np.median(self.displacement)),
            low,
            high,
            float(np.mean(self.core)),
        )


def check_seeds(n_seeds: int) -> int:
    """``n_seeds`` as an int when it is from :data:`MIN_SEEDS` to :data:`MAX_SEEDS`.

    Raises:
        ReducerError: outside those bounds, or not a whole number.
    """
    if (
        isinstance(n_seeds, bool)
        or not isinstance(n_seeds, (int, np.integer))
        or not (MIN_SEEDS <= int(n_seeds) <= MAX_SEEDS)
    ):
        raise ReducerError(
            f"Seed stability compares {MIN_SEEDS} to {MAX_SEEDS} seeds (each one a whole map); got {n_seeds!r}. "
            f"Ask for {DEFAULT_SEEDS}, the default, or fewer to finish sooner."
        )
    return int(n_seeds)


def seeds_for(params: embed.ReducerParams, n_seeds: int = DEFAULT_SEEDS) -> tuple[int, ...]:
    """The seeds compared for a map made with ``params``: its own seed, then the next ones (wrapping at
    :data:`featlib.maps.embed.MAX_SEED`).

    Raises:
        ReducerError: a PCA map (PCA has no seed: every seed gives the same map), or ``n_seeds`` out of bounds.
    """
    n_seeds = check_seeds(n_seeds)
    if isinstance(params, embed.PCAParams):
        raise ReducerError(
            "A PCA map has no seed: it is the same map for every seed, so there is nothing to compare. "
            "Compare the seeds of a UMAP or t-SNE map."
        )
    first = int(params.random_state)
    return tuple((first + i) % (embed.MAX_SEED + 1) for i in range(n_seeds))


def map_width(coords: np.ndarray) -> float:
    """The width displacements are measured in: the span between the 1st and 99th percentiles of ``coords``
    ``(n, 2)`` along its wider axis; 1.0 for a map of one point or of points all in one place."""
    coords = np.asarray(coords, dtype="float64")
    low, high = np.percentile(coords, WIDTH_PERCENTILES, axis=0)
    width = float(np.max(high - low)) if len(coords) else 0.0
    return width if width > 0 and math.isfinite(width) else 1.0


def stability(
    maps: Sequence[np.ndarray],
    seeds: Sequence[int] | None = None,
    trust: Sequence[float] | None = None,
    threshold: float = CORE_THRESHOLD,
) -> SeedStability:
    """Aligns every map onto the first (Procrustes: rotation or reflection, scale, shift) and measures each point's
    displacement.

    Args:
        maps: :data:`MIN_SEEDS` to :data:`MAX_SEEDS` maps of the same ``n`` points, float ``(n, 2)`` each, rows in
            the same order; the first is the reference.
        seeds: their seeds (default ``0, 1, …``); trust: their trustworthiness (default NaN each).
        threshold: the stable core's bound, in map widths.

    Returns:
        A :class:`SeedStability`.

    Raises:
        ReducerError: fewer than 2 or more than 10 maps, or seeds or scores not one per map.
        featlib.errors.AlignmentError: maps of other shapes, fewer than 3 points, NaN or inf coordinates.
    """
    check_seeds(len(maps))
    seeds = tuple(range(len(maps))) if seeds is None else tuple(int(s) for s in seeds)
    trust_values = np.full(len(maps), np.nan) if trust is None else np.asarray(trust, dtype="float64")
    if len(seeds) != len(maps) or trust_values.shape != (len(maps),):
        raise ReducerError(
            f"Seed stability needs one seed and one score per map ({len(maps)}); got {len(seeds)} seeds and "
            f"{trust_values.shape} scores."
        )
    reference = np.asarray(maps[0], dtype="float64")
    aligned = [reference]
    for coords in maps[1:]:
        aligned.append(align.fit_procrustes(reference, coords, scale=True).apply(coords))
    stack = np.stack(aligned)
    width = map_width(reference)
    moved = np.linalg.norm(stack[1:] - reference[None], axis=2) / width  # (s - 1, n)
    displacement = np.median(moved, axis=0).astype("float32")
    return SeedStability(seeds, stack.astype("float32"), displacement, width, trust_values, float(threshold))


def settled_metric(params: embed.ReducerParams, x: np.ndarray, labels: np.ndarray | None) -> embed.ReducerParams:
    """``params`` with UMAP's ``metric="auto"`` resolved as the map's own seed resolves it
    (:func:`featlib.maps.embed.resolve_metric`), so every seed's map uses the metric of the map compared.

    ``auto`` picks its metric by trial maps made with the map's seed: another seed may pick another metric, and a
    kNN graph found for one metric (shared by the seeds' maps) then holds no edge the other metric's map keeps
    (umap-learn disconnects them all, and lays out noise). t-SNE's parameters are returned as they are.
    """
    if isinstance(params, embed.UMAPParams):
        return replace(params, metric=embed.resolve_metric(params, x, labels))
    return params


def seed_maps(
    x: np.ndarray,
    params: embed.ReducerParams,
    n_seeds: int = DEFAULT_SEEDS,
    labels: np.ndarray | None = None,
    progress: Progress | None = None,
    backend: str | None = None,
    threshold: float = CORE_THRESHOLD,
) -> SeedStability:
    """The map of ``x`` by ``params`` for each of :func:`seeds_for`'s seeds, aligned, with each map's
    trustworthiness: :func:`stability` of them.

    UMAP's metric is settled once (:func:`settled_metric`) and its kNN graph found once
    (:func:`featlib.maps.embed.nearest_neighbours`: it does not depend on the seed) from :data:`featlib.maps.embed.APPROXIMATE_FROM` points on, as the map's own job does, so the first map is
    the one the page shows.

    Args:
        x: ``(n, d)`` the points (the map's sample of a layer); labels: their classes ``(n,)`` (UMAP's
            ``metric="auto"``).
        params: the map's reducer and parameters (UMAP or t-SNE).
        n_seeds: from :data:`MIN_SEEDS` to :data:`MAX_SEEDS`.
        progress: optional ``progress("seeds", done, n_seeds)`` before and after each seed's map.
        backend: as :func:`featlib.maps.embed.reduce`.
        threshold: the stable core's bound.

    Raises:
        ReducerError: a PCA map, ``n_seeds`` out of bounds, too few points, NaN or inf values.
    """
    seeds = seeds_for(params, n_seeds)
    x = np.asarray(x, dtype="float32").reshape(len(x), -1)
    embed.check_points(params, len(x))
    params = settled_metric(params, x, labels)
    graph = None
    if isinstance(params, embed.UMAPParams) and len(x) >= embed.APPROXIMATE_FROM and backend != "gpu":
        graph = embed.nearest_neighbours(x, params, labels)
    maps, trust = [], []
    for done, seed in enumerate(seeds):
        if progress:
            progress("seeds", done, len(seeds))
        seeded = replace(params, random_state=seed)
        if isinstance(seeded, embed.UMAPParams):
            coords = embed.reduce(x, seeded, knn_graph=graph, backend=backend, labels=labels)
        else:
            coords = embed.reduce(x, seeded, backend=backend)
        maps.append(coords)
        score = metrics.trustworthiness(x, coords, sample_size=TRUST_SAMPLE, seed=0)
        trust.append(metrics.as_float(score) if metrics.is_available(score) else float("nan"))
    if progress:
        progress("seeds", len(seeds), len(seeds))
    return stability(maps, seeds, trust, threshold)


def core_grid(coords: np.ndarray, core: np.ndarray, bins: int = GRID_BINS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The share of stable-core points over a ``bins × bins`` grid of the map, smoothed, for a contour at 0.5.

    Args:
        coords: ``(n, 2)`` the map; core: bool ``(n,)`` (:attr:`SeedStability.core`).
        bins: cells per axis.

    Returns:
        ``(xs, ys, share)``: the cells' centres float64 ``(bins,)`` each and ``share`` float64 ``(bins, bins)``
        indexed ``[y, x]`` (as a contour plot takes it): the Gaussian-smoothed count of core points over that of
        all points, NaN where hardly any point is near.

    Raises:
        ReducerError: ``core`` not one flag per point, or no point.
    """
    coords, core = np.asarray(coords, dtype="float64"), np.asarray(core, dtype=bool)
    if coords.ndim != 2 or coords.shape[1] != 2 or core.shape != (len(coords),) or not len(coords):
        raise ReducerError(
            f"The stable core's outline needs a map (n, 2) of at least one point and one flag per point; got "
            f"{coords.shape} and {core.shape}."
        )
    low, high = coords.min(axis=0), coords.max(axis=0)
    pad = np.maximum((high - low) * 0.05, 1e-6)
    edges = [np.linspace(low[i] - pad[i], high[i] + pad[i], bins + 1) for i in range(2)]
    every, _, _ = np.histogram2d(coords[:, 0], coords[:, 1], bins=edges)
    stable, _, _ = np.histogram2d(coords[core, 0], coords[core, 1], bins=edges)
    every = scipy.ndimage.gaussian_filter(every, 1.0)
    stable = scipy.ndimage.gaussian_filter(stable, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(every > 0.05, stable / every, np.nan)
    centres = [(e[:-1] + e[1:]) / 2 for e in edges]
    return centres[0], centres[1], share.T
