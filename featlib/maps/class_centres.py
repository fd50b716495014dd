"""Where each class lies on a 2-D map, read at a glance: its density contour, its centre and its purity.

For every class (true or predicted label) of a map this module computes, on one fixed grid:

- its **density**: a histogram of the class's points on a :data:`GRID` × :data:`GRID` grid over the map, smoothed
  by a Gaussian of Scott's bandwidth (``σ = std · n^(-1/6)`` per axis, at least one cell), so that the time does
  not depend on the number of points beyond one pass over them;
- its **region**: the smallest set of grid cells that holds :data:`REGION_MASS` (half) of the class's density, the
  "50 % highest-density region"; its edge is the contour line drawn on the map (:attr:`ClassRegion.level`);
- its **purity**: the share of the map's points inside that region (of every class) that carry the class's label.
  1 when the class's dense half holds no stranger; ``0.6`` when 4 of every 10 points there belong to other classes.
  Measured on the line the map draws, it reads the same way as the picture: "inside this line, 94 % are 7s";
- its **centre**: the class's *medoid* on the map, the point of the class with the least total distance to the
  class's other points (on a seeded sample of at most :data:`MEDOID_SAMPLE`). A medoid rather than the per-axis
  median or the mean: it is always one of the class's own points, so the label sits on the class even when the
  class is a ring, a crescent or two islands (where the median and the mean fall in the empty middle, often on
  another class), and one stray point far away does not move it.

Everything is NumPy; the time is bounded by one pass over at most :data:`MAX_POINTS` points per class (a seeded
sample of a larger map), ``GRID²``-sized matrix products and the medoid's ``MEDOID_SAMPLE²`` distances per class,
for at most :data:`MAX_CLASSES` classes (the largest): about 30 ms for 10,000 points in 10 classes on an idle core
(``python -m featlib.maps.class_centres`` prints the times for 10,000, 100,000 and 1,000,000 points).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from featlib.errors import MetricError

GRID = 80
"""Cells per axis of the density grid (80 × 80): finer than the eye reads a contour on a 600-pixel map."""
REGION_MASS = 0.5
"""The share of a class's density inside its region (its drawn contour, where purity is measured)."""
MEDOID_SAMPLE = 500
"""At most this many of a class's points (a seeded sample) are searched for its medoid: 500² distances."""
MAX_POINTS = 50_000
"""Larger maps are read on a seeded sample of this many points (densities, purity, medoids): the time stays bounded
and a contour of 50,000 points does not differ to the eye from one of all of them."""
MAX_CLASSES = 30
"""At most this many classes, the largest, get a region and a label: more would cover the map."""
PAD = 0.08
"""The grid reaches this share of the map's extent beyond its points on every side, so contours close."""


@dataclass(frozen=True)
class ClassRegion:
    """One class on a map: its centre, its 50 % density region and how pure that region is.

    Attributes:
        label: the class's label (an int ≥ 0).
        size: how many of the map's points carry it.
        centre: ``(x, y)`` of the class's medoid on the map.
        purity: the share of the map's points inside the region that carry ``label``, in [0, 1] (0 when none is inside).
        inside: how many of the map's points (of every class) lie inside the region (of the sample of
            :data:`MAX_POINTS`, on a larger map).
        level: the density at the region's edge: the contour ``density == level`` is its outline.
        density: ``(GRID, GRID)`` float64, the class's smoothed density indexed ``[y cell, x cell]`` (as plotly's
            ``z``), summing to about 1 over the grid.
    """

    label: int
    size: int
    centre: tuple[float, float]
    purity: float
    inside: int
    level: float
    density: np.ndarray

    def text(self, name: str) -> str:
        """The label drawn at the centre: ``"7 · 94 %"`` (``name`` is the class's name, as given)."""
        return f"{name} · {round(self.purity * 100)} %"


@dataclass(frozen=True)
class ClassRegions:
    """Every drawn class of a map on one grid: ``x`` and ``y`` hold the cells' centres (``(GRID,)`` float64 each)."""

    x: np.ndarray
    y: np.ndarray
    regions: tuple[ClassRegion, ...]


def _extent(values: np.ndarray) -> tuple[float, float]:
    low, high = float(values.min()), float(values.max())
    pad = (high - low) * PAD if high > low else 1.0
    return low - pad, high + pad


def _blur(sigma: float, grid: int) -> np.ndarray:
    """A ``(grid, grid)`` Gaussian smoothing matrix of ``sigma`` cells (mass past the grid's edge is lost)."""
    steps = np.arange(grid, dtype="float64")
    kernel = np.exp(-0.5 * ((steps[:, None] - steps[None, :]) / sigma) ** 2)
    return kernel / (sigma * np.sqrt(2 * np.pi))


def _medoid(points: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The point of ``points`` ``(m, 2)`` with the least total distance to the others (on a sample of them)."""
    if len(points) > MEDOID_SAMPLE:
        points = points[rng.choice(len(points), MEDOID_SAMPLE, replace=False)]
    x, y = points[:, 0].astype("float32"), points[:, 1].astype("float32")  # float32 in place: 5 times faster
    distances = x[:, None] - x[None, :]
    distances *= distances
    across = y[:, None] - y[None, :]
    across *= across
    distances += across
    np.sqrt(distances, out=distances)
    return points[int(np.argmin(distances.sum(axis=1, dtype="float64")))]


def class_regions(
    coords: np.ndarray,
    labels: np.ndarray,
    *,
    grid: int = GRID,
    mass: float = REGION_MASS,
    max_classes: int = MAX_CLASSES,
    seed: int = 0,
) -> ClassRegions:
    """Each class's centre, density region and purity on a 2-D map (see the module's docstring for the definitions).

    Args:
        coords: ``(n, 2)`` finite map coordinates.
        labels: ``(n,)`` int labels (true or predicted); negative ones (unknown) are drawn for no class but count
            as strangers inside the other classes' regions.
        grid: cells per axis of the density grid (at least 8).
        mass: the share of each class's density inside its region, in (0, 1).
        max_classes: at most this many classes, the largest (ties: the lower label), are returned.
        seed: the seed of the medoid's sample (the same map gives the same centres).

    Returns:
        The grid's cell centres and one :class:`ClassRegion` per class, by label; none for a map without points.

    Raises:
        MetricError: shapes that do not match, coordinates that are not finite, or a bad ``grid`` or ``mass``.
    """
    coords, labels = np.asarray(coords, dtype="float64"), np.asarray(labels)
    n = len(labels)
    if coords.shape != (n, 2) or labels.ndim != 1:
        raise MetricError(
            f"Class regions need (n, 2) map coordinates and (n,) labels; got {coords.shape} and {labels.shape}."
        )
    if not np.isfinite(coords).all():
        raise MetricError(
            f"Class regions need finite map coordinates; {int((~np.isfinite(coords)).any(axis=1).sum()):,} of the "
            f"{n:,} points are NaN or infinite. Remake the map."
        )
    if int(grid) != grid or grid < 8 or not 0 < mass < 1:
        raise MetricError(f"Class regions need a grid of at least 8 cells and a mass in (0, 1); got {grid}, {mass}.")
    x0, x1 = _extent(coords[:, 0]) if n else (0.0, 1.0)
    y0, y1 = _extent(coords[:, 1]) if n else (0.0, 1.0)
    width, height = (x1 - x0) / grid, (y1 - y0) / grid
    xs, ys = x0 + width * (np.arange(grid) + 0.5), y0 + height * (np.arange(grid) + 0.5)
    if not n:
        return ClassRegions(xs, ys, ())
    labels = labels.astype("int64")
    found, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = np.lexsort((found, -counts))[:max_classes]
    rng = np.random.default_rng(seed)
    if n > MAX_POINTS:  # the grid spans every point; the rest is read on a sample
        keep = np.sort(rng.choice(n, MAX_POINTS, replace=False))
        coords, labels = coords[keep], labels[keep]
    cell_x = np.clip(((coords[:, 0] - x0) / width).astype("int64"), 0, grid - 1)
    cell_y = np.clip(((coords[:, 1] - y0) / height).astype("int64"), 0, grid - 1)
    cell = cell_y * grid + cell_x
    regions = []
    for label, size in sorted(zip(found[order].tolist(), counts[order].tolist())):
        mine = labels == label
        points = coords[mine]
        if not len(points):  # a class too rare to be in the sample of a huge map
            continue
        histogram = np.bincount(cell[mine], minlength=grid * grid).reshape(grid, grid).astype("float64")
        scale = len(points) ** (-1 / 6)
        sigma_x = max(1.0, float(points[:, 0].std()) * scale / width)
        sigma_y = max(1.0, float(points[:, 1].std()) * scale / height)
        density = _blur(sigma_y, grid) @ histogram @ _blur(sigma_x, grid).T
        density /= density.sum()
        ranked = np.sort(density, axis=None)[::-1]
        level = float(ranked[min(int(np.searchsorted(np.cumsum(ranked), mass)), len(ranked) - 1)])
        inside = density.ravel()[cell] >= level
        n_inside = int(inside.sum())
        purity = float(np.mean(labels[inside] == label)) if n_inside else 0.0
        centre = _medoid(points, rng)
        regions.append(
            ClassRegion(int(label), int(size), (float(centre[0]), float(centre[1])), purity, n_inside, level, density)
        )
    return ClassRegions(xs, ys, tuple(regions))


def _time_it(n: int = 10_000, classes: int = 10, repeats: int = 5) -> float:
    """The best of ``repeats`` timings, in seconds, of :func:`class_regions` on ``n`` random points in blobs."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, classes, n)
    coords = rng.normal(size=(n, 2)) + np.column_stack([np.cos(labels), np.sin(labels)]) * 6
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        class_regions(coords, labels)
        best = min(best, time.perf_counter() - start)
    return best


if __name__ == "__main__":
    for size in (10_000, 100_000, 1_000_000):
        print(f"class_regions of {size:,} points in 10 classes: {_time_it(size) * 1000:.0f} ms")
