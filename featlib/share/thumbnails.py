"""Small PNG pictures of maps (saved views' thumbnails), drawn from the points' coordinates.

No plotting library: the points are placed on a pixel grid with numpy and the
grid is written as a PNG by Pillow (installed with Streamlit). A map of 10,000
points becomes a 160×160 thumbnail in a few milliseconds, so saving a view
draws it in the page's own run. Colours are the map's: the label palette of
:data:`featlib.plots.DIGIT_COLOURS`, grey and red for correct / misclassified,
a blue-to-yellow ramp for confidence; selected points are drawn last, in black.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from featlib.lazy import pil_image
from featlib.plots import CORRECT_COLOUR, DIGIT_COLOURS, WRONG_COLOUR

SIZE = 160
"""Thumbnails are ``SIZE`` × ``SIZE`` pixels."""
MARGIN = 6
BACKGROUND = (255, 255, 255)
SELECTED = (0, 0, 0)
_RAMP = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=float)
"""Viridis at 0, 0.25, 0.5, 0.75 and 1 (plotly's confidence colours), interpolated between."""


@dataclass(frozen=True)
class MapPoints:
    """The points of one map, as a thumbnail needs them.

    Attributes:
        coords: ``(n, 2)`` float coordinates (any scale; NaN or infinite rows are left out); ``(n, 3)``: a 3-D map,
            drawn seen from above (its first two).
        indices: ``(n,)`` int dataset indices of the points (to find the selected ones).
        labels: ``(n,)`` int true labels.
        predicted: ``(n,)`` int predicted labels, or ``None``.
        confidence: ``(n,)`` float confidences in [0, 1], or ``None``.
        colour: a key of :data:`featlib.plots.COLOUR_MODES` (``"label"``, ``"predicted"``, ``"correct"``,
            ``"confidence"``); a colouring whose values are missing falls back to ``"label"``.
        selected: dataset indices drawn in black on top.
    """

    coords: np.ndarray
    indices: np.ndarray
    labels: np.ndarray
    predicted: np.ndarray | None = None
    confidence: np.ndarray | None = None
    colour: str = "label"
    selected: Sequence[int] = field(default=())


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


_PALETTE = np.array([_rgb(c) for c in DIGIT_COLOURS], dtype=np.uint8)


def point_colours(points: MapPoints) -> np.ndarray:
    """The ``(n, 3)`` uint8 RGB colour of every point, as the map colours it."""
    labels = np.asarray(points.labels, dtype=np.int64)
    if points.colour in ("predicted", "correct") and points.predicted is not None:
        predicted = np.asarray(points.predicted, dtype=np.int64)
        if points.colour == "predicted":
            return _PALETTE[np.mod(predicted, len(_PALETTE))]
        colours = np.empty((len(labels), 3), dtype=np.uint8)
        colours[:] = _rgb(CORRECT_COLOUR)
        colours[predicted != labels] = _rgb(WRONG_COLOUR)
        return colours
    if points.colour == "confidence" and points.confidence is not None:
        value = np.clip(np.nan_to_num(np.asarray(points.confidence, dtype=float), nan=0.0), 0.0, 1.0) * 4
        low = np.minimum(value.astype(int), 3)
        t = (value - low)[:, None]
        return (_RAMP[low] * (1 - t) + _RAMP[low + 1] * t).round().astype(np.uint8)
    return _PALETTE[np.mod(labels, len(_PALETTE))]


def _draw(canvas: np.ndarray, points: MapPoints, box: tuple[int, int, int, int]) -> None:
    """Draws one map into ``canvas[y0:y1, x0:x1]`` (``box`` = x0, y0, x1, y1): 2×2-pixel dots, wrong ones and
    selected ones last so they stay visible."""
    coords = np.asarray(points.coords, dtype=float)
    n = len(coords)
    if coords.ndim != 2 or coords.shape[1] not in (2, 3) or len(points.labels) != n or len(points.indices) != n:
        raise ValueError(
            f"coords must be (n, 2) or (n, 3) with n labels and n indices; got coords {coords.shape}, "
            f"{len(points.labels)} labels and {len(points.indices)} indices."
        )
    keep = np.isfinite(coords).all(axis=1)
    if not keep.any():
        return
    colours = point_colours(points)[keep]
    xy = coords[keep][:, :2]  # a 3-D map seen from above: its first two coordinates
    indices = np.asarray(points.indices)[keep]
    x0, y0, x1, y1 = box
    low, high = xy.min(axis=0), xy.max(axis=0)
    span = float(max((high - low).max(), 1e-12))
    inner = min(x1 - x0, y1 - y0) - 2 * MARGIN - 2
    centre = (low + high) / 2
    px = np.round((xy[:, 0] - centre[0]) / span * inner + (x0 + x1) / 2 - 1).astype(int)
    py = np.round((centre[1] - xy[:, 1]) / span * inner + (y0 + y1) / 2 - 1).astype(int)  # y grows upwards
    order = np.arange(len(xy))
    if points.colour == "correct" and points.predicted is not None:
        wrong = (np.asarray(points.predicted) != np.asarray(points.labels))[keep]
        order = np.concatenate([order[~wrong], order[wrong]])
    selected = np.isin(indices, np.asarray(list(points.selected), dtype=np.int64))
    if selected.any():
        colours = colours.copy()
        colours[selected] = SELECTED
        order = np.concatenate([order[~selected[order]], order[selected[order]]])
    px, py, colours = np.clip(px[order], x0, x1 - 2), np.clip(py[order], y0, y1 - 2), colours[order]
    for dx in (0, 1):
        for dy in (0, 1):
            canvas[py + dy, px + dx] = colours  # later points overwrite earlier ones, as plotly draws them


def render_png(maps: Sequence[MapPoints], size: int = SIZE) -> bytes:
    """A ``size`` × ``size`` PNG of one map, or of two to four maps side by side (a comparison: 2 → 1×2,
    3 → 1×3, 4 → 2×2), each scaled to fill its cell keeping its aspect ratio.

    Returns:
        The PNG file's bytes (a few KiB).

    Raises:
        ValueError: no map, more than four, or a map whose arrays do not have one row per point.
    """
    if not 1 <= len(maps) <= 4:
        raise ValueError(f"A thumbnail shows 1 to 4 maps; got {len(maps)}.")
    canvas = np.empty((size, size, 3), dtype=np.uint8)
    canvas[:] = BACKGROUND
    columns = 2 if len(maps) == 4 else len(maps)
    rows = 2 if len(maps) == 4 else 1
    width, height = size // columns, size // rows
    top = (size - height * rows) // 2 if rows == 2 else (size - width) // 2 if columns > 1 else 0
    cell = min(width, height)
    for i, points in enumerate(maps):
        x0 = (i % columns) * width
        y0 = top + (i // columns) * cell if columns > 1 else 0
        _draw(canvas, points, (x0, y0, x0 + cell, y0 + cell))
    if columns > 1:  # thin rules between the panels
        for c in range(1, columns):
            canvas[:, c * width - 1 : c * width] = (220, 220, 220)
        if rows == 2:
            canvas[top + cell - 1 : top + cell, :] = (220, 220, 220)
    buffer = io.BytesIO()
    pil_image.fromarray(canvas, "RGB").save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
