"""Images as figures: montages, the class grid, label counts."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from featlib.lazy import plotly_go as go
from featlib.plots.style import colour_of, frame, text


def upscale(image: np.ndarray, size: int = 56) -> np.ndarray:
    """An image (or a stack of them, ``(..., h, w)``) enlarged by whole pixels to about ``size``, so small digits stay sharp."""
    image = np.asarray(image)
    factor = max(1, size // max(image.shape[-2:]))
    return image.repeat(factor, axis=-2).repeat(factor, axis=-1)


def montage(images: np.ndarray, columns: int, pad: int = 1, dark: bool = False) -> np.ndarray:
    """Tiles ``(n, h, w)`` uint8 images (ink 255 on a blank 0) into one uint8 image, ``columns`` per row: dark ink
    on white, or with ``dark`` (a page in the dark theme, :mod:`featlib.app.theme`) the images as they are on
    black."""
    n, h, w = images.shape
    rows = max(1, -(-n // columns))
    canvas = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad), 0 if dark else 255, dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        canvas[top : top + h, left : left + w] = image if dark else 255 - image
    return canvas


GRID_TILE = 36
"""Pixels per image on screen in :func:`class_grid` (its rows shrink past twelve classes)."""


def class_grid(images_by_class: dict[int, np.ndarray], class_names: Sequence[str]) -> go.Figure:
    """A grid of sample images, one row per class, labelled by class name."""
    rows = [images for _, images in sorted(images_by_class.items())]
    per_row = max(len(images) for images in rows)
    h, w = rows[0].shape[1:]
    blank = np.zeros((h, w), dtype=np.uint8)
    tiles = np.stack([row[i] if i < len(row) else blank for row in rows for i in range(per_row)])
    canvas = montage(tiles, per_row)
    fig = go.Figure(go.Heatmap(z=canvas, colorscale="gray", showscale=False, hoverinfo="skip"))
    centres = [1 + r * (h + 1) + h / 2 for r in range(len(rows))]
    names = [text(class_names[label]) for label in sorted(images_by_class)]
    # Sized to its images (whole pixels per image pixel, a tile of about GRID_TILE px), not stretched across
    # the page: the figure is as wide as its tiles and labels, so that nothing is left empty beside it.
    tile = GRID_TILE if len(rows) <= 12 else max(16, GRID_TILE * 12 // len(rows))
    scale = max(1, round(tile / (h + 1)))
    left = 16 + 7 * max(len(name) for name in names)
    return frame(
        fig,
        toolbar=False,
        width=left + 10 + canvas.shape[1] * scale,
        height=4 + 10 + canvas.shape[0] * scale,
        margin={"l": left, "r": 10, "b": 10},
        xaxis={"visible": False, "range": [-0.5, canvas.shape[1] - 0.5], "constrain": "domain"},
        yaxis={
            "range": [canvas.shape[0] - 0.5, -0.5],
            "tickvals": centres,
            "ticktext": names,
            "automargin": False,
            "scaleanchor": "x",
            "constrain": "domain",
            "showgrid": False,
            "zeroline": False,
            "ticks": "",
        },
    )


def label_counts(labels: np.ndarray, class_names: Sequence[str]) -> go.Figure:
    """A bar chart of how many points of each class there are."""
    counts = np.bincount(np.asarray(labels), minlength=len(class_names))
    present = np.flatnonzero(counts)
    fig = go.Figure(
        go.Bar(
            x=[text(class_names[i]) for i in present],
            y=counts[present],
            marker_color=[colour_of(i) for i in present],
            text=counts[present],
        )
    )
    return frame(fig, height=260, xaxis={"type": "category"}, yaxis={"automargin": True})
