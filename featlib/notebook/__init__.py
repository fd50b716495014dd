"""featlib in a notebook: a layer's map as a live widget, :func:`explore` (``featlib.explore``).

:func:`explore` asks the same get-or-make service as the dashboard and the CLI (:class:`featlib.service.Service`,
in this process through an :class:`~featlib.jobs.runner.InlineRunner`) for what the Explore page shows: the
layer's representation, its map, the model's predictions and the map's figures
(:func:`featlib.metrics.map_figures`), under the same keys in the same workspace (``./workspace`` or
``$FEATLIB_WORKSPACE`` unless ``workspace=`` names another). A map made once, here, in the app or by
``featlib embed``, is found by the others. The widget (:class:`featlib.notebook.widget.MapWidget`, an
`anywidget <https://anywidget.dev>`_ drawn on a plain canvas by ``widget.js``, no network) runs in JupyterLab,
Jupyter Notebook and VS Code: hover shows a point's image, colour by label, prediction, correctness or
confidence, box and lasso selections come back to Python (``widget.selected``, ``widget.on_select``).

This module imports neither Keras nor anywidget when imported (``featlib --help`` stays light); anywidget is the
``notebook`` extra (``pip install featlib[notebook]``), asked for only when a widget is made.

Example (a trained model in memory and the bundled digits; the widget shows when it is a cell's value)::

    import featlib
    from featlib import datasets

    data = datasets.load_digits()
    w = featlib.explore(model, data.x_test, data.y_test, layer="dense_1")
    w                        # the live map
    w.selected               # the dataset indices of the last box or lasso selection
    w.on_select(lambda indices: print(len(indices), "selected"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from featlib import datasets
from featlib.errors import MissingExtraError
from featlib.lazy import LazyModule, anywidget
from featlib.notebook.data import COLOURINGS, MapData, check_colouring, map_data
from featlib.store import ModelRecord

if TYPE_CHECKING:
    import keras

    from featlib.notebook.widget import MapWidget

__all__ = ["COLOURINGS", "MapData", "explore", "map_data"]

widget = LazyModule("featlib.notebook.widget", "featlib[notebook]")
"""The widget's module, imported when a widget is made: it imports anywidget."""


def explore(
    model: keras.Model | ModelRecord | str,
    images: np.ndarray | datasets.Dataset,
    labels: np.ndarray | None = None,
    layer: str | None = None,
    *,
    color_by: str = "label",
    **options: Any,
) -> MapWidget:
    """A layer's map as a live notebook widget: the Explore page's map, colours and figures, with selection.

    Asks :class:`featlib.service.Service` for the layer's representation, its map (UMAP by default), the model's
    predictions and the map's figures, as the Explore page does: each is loaded from the workspace when it is
    there, else made by a job in this process and stored, under the keys the app and the CLI use.

    Args:
        model, images, labels, layer: what is mapped (:func:`featlib.notebook.map_data`): a Keras model in memory,
            a saved model's record, name or id; images ``(n, h, w)`` with labels ``(n,)``, or a featlib Dataset.
        color_by: a key of :data:`COLOURINGS` (the widget's menu changes it too).
        options: :func:`featlib.notebook.map_data`'s keywords: ``split``, ``workspace`` (default: the app's),
            ``method``, ``params`` (the reducer; UMAP by default), ``sample_size``, ``input_scale``, ``name``,
            ``class_names``.

    Returns:
        A :class:`featlib.notebook.widget.MapWidget`: ``selected`` (dataset indices, positions in ``images``),
        ``on_select(callback)``, ``color_by``, ``figures``; shown when it is a cell's value.

    Raises:
        NotebookError: ``color_by`` is not a colouring.
        MissingExtraError: anywidget is not installed (``pip install 'featlib[notebook]'``); nothing ran.
        The errors of :func:`featlib.notebook.map_data` (bad arguments, no such model or layer, too few points).
    """
    check_colouring(color_by)
    if not anywidget.available:  # before any work: the widget is what was asked for
        raise MissingExtraError(
            "featlib.explore shows the map as a Jupyter widget, which needs the Python package 'anywidget' "
            "(not installed here). Install featlib's notebook extra: pip install 'featlib[notebook]' "
            "(or featlib.notebook.map_data(...) gives the same map as arrays, without a widget)."
        )
    return widget.MapWidget.of(map_data(model, images, labels, layer, **options), color_by=color_by)
