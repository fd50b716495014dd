"""The notebook's live map: :class:`MapWidget`, an anywidget drawn on a canvas by ``widget.js`` (shipped here).

The front end (``widget.js``, an ES module; ``widget.css``) needs nothing from the network: it draws the points on
a ``<canvas>``, shows a point's image on hover from the pixels sent once, colours by :data:`COLOURINGS` and turns
a box or lasso drag into ``selected``, which the comm brings back to Python. It runs wherever Jupyter widgets do
(JupyterLab, Jupyter Notebook 7, VS Code).

What travels to the front end (traitlets synced with ``sync=True``):
    points: bytes, float32 ``(m, 2)`` little-endian, row by row (the map's coordinates).
    indices, labels, predicted: lists of int ``(m,)``; confidence: list of float ``(m,)``.
    images: bytes, uint8 ``(m, h, w)``; image_shape: ``[h, w]``.
    class_names, palette (class colours, correct / wrong colours, the confidence scale: the Explore page's Viridis), figures, title, reducer.
    color_by: a key of :data:`COLOURINGS`, set from Python or the widget's menu.
    selected: the selected points' dataset indices (sorted), set by a selection in the widget or from Python.

This is the one featlib module that imports anywidget (:func:`featlib.explore` imports it when it makes a widget).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import traitlets

from featlib.errors import NotebookError
from featlib.lazy import anywidget, plotly_colors
from featlib.notebook.data import COLOURINGS, MapData, check_colouring
from featlib.plots.style import CORRECT_COLOUR, DIGIT_COLOURS, WRONG_COLOUR

HERE = Path(__file__).parent

LAYOUT = {"width": 600, "height": 520, "margin": 14}
"""The map's canvas in CSS pixels, as the Explore page's map (600 × 520): a point at ``(x, y)`` is drawn at
``margin + (x - min x) / (max x - min x) · (width - 2 margin)`` across and ``height - margin - (y - min y) /
(max y - min y) · (height - 2 margin)`` down (each axis scaled on its own, y up)."""


class MapWidget(anywidget.AnyWidget):
    """A layer's map in a notebook: hover for a point's image, colour menu, box and lasso selection.

    Make it with :func:`featlib.explore` (or :meth:`of` from :func:`featlib.notebook.map_data`'s
    :class:`~featlib.notebook.MapData`). ``selected`` holds the dataset indices (positions in the images given)
    of the last selection, sorted; :meth:`on_select` calls a function with them after each new one.
    """

    _esm = HERE / "widget.js"
    _css = HERE / "widget.css"

    points = traitlets.Bytes(b"").tag(sync=True)
    indices = traitlets.List(traitlets.Int()).tag(sync=True)
    labels = traitlets.List(traitlets.Int()).tag(sync=True)
    predicted = traitlets.List(traitlets.Int()).tag(sync=True)
    confidence = traitlets.List(traitlets.Float()).tag(sync=True)
    images = traitlets.Bytes(b"").tag(sync=True)
    image_shape = traitlets.List(traitlets.Int(), default_value=[0, 0]).tag(sync=True)
    class_names = traitlets.List(traitlets.Unicode()).tag(sync=True)
    palette = traitlets.Dict().tag(sync=True)
    colourings = traitlets.Dict().tag(sync=True)
    figures = traitlets.List().tag(sync=True)
    title = traitlets.Unicode("").tag(sync=True)
    reducer = traitlets.Unicode("UMAP").tag(sync=True)
    layout = traitlets.Dict().tag(sync=True)
    color_by = traitlets.Unicode("label").tag(sync=True)
    selected = traitlets.List(traitlets.Int()).tag(sync=True)

    @classmethod
    def of(cls, data: MapData, color_by: str = "label") -> MapWidget:
        """The widget of one map (:func:`featlib.notebook.map_data`), coloured by ``color_by``.

        Raises:
            NotebookError: ``color_by`` is not a key of :data:`COLOURINGS`.
        """
        coords = np.ascontiguousarray(data.coords, dtype="<f4")
        images = np.ascontiguousarray(data.images, dtype="uint8")
        return cls(
            points=coords.tobytes(),
            indices=[int(i) for i in data.indices],
            labels=[int(v) for v in data.labels],
            predicted=[int(v) for v in data.predicted],
            confidence=[float(v) if np.isfinite(v) else -1.0 for v in data.confidence],
            images=images.tobytes(),
            image_shape=[int(images.shape[1]), int(images.shape[2])] if images.ndim == 3 else [0, 0],
            class_names=list(data.class_names),
            palette={
                "classes": list(DIGIT_COLOURS),
                "correct": CORRECT_COLOUR,
                "wrong": WRONG_COLOUR,
                "confidence": list(plotly_colors.sequential.Viridis),
            },
            colourings=dict(COLOURINGS),
            figures=[list(row) for row in data.figures],
            title=data.title,
            reducer=data.reducer,
            layout=dict(LAYOUT),
            color_by=check_colouring(color_by),
        )

    @traitlets.validate("color_by")
    def _valid_colouring(self, proposal: dict) -> str:
        return check_colouring(proposal["value"])

    @traitlets.validate("selected")
    def _valid_selection(self, proposal: dict) -> list[int]:
        chosen = proposal["value"]
        on_map = set(self.indices)
        outside = [i for i in chosen if i not in on_map]
        if outside:
            raise NotebookError(
                f"selected holds dataset indices of points on this map ({len(on_map):,} points, indices as in "
                f"widget.indices); got {len(outside):,} that are not on it, like {outside[:5]}."
            )
        return sorted(set(chosen))

    @property
    def coords(self) -> np.ndarray:
        """The map's coordinates, float32 ``(m, 2)``, in the order of :attr:`indices`."""
        return np.frombuffer(self.points, dtype="<f4").reshape(-1, 2)

    def on_select(self, callback: Callable[[list[int]], object]) -> None:
        """Calls ``callback(indices)`` after each new selection: the selected dataset indices, sorted (``[]``: cleared).

        Raises:
            NotebookError: ``callback`` is not callable.
        """
        if not callable(callback):
            raise NotebookError(
                f"on_select takes a function of the selected indices, like lambda indices: print(indices); "
                f"got {type(callback).__name__}."
            )
        self.observe(lambda change: callback(list(change["new"])), names="selected")
