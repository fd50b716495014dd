"""featlib: see what the layers of a Keras classifier have learned.

The core (everything here except ``featlib.app``) is plain Python on NumPy,
Keras, umap-learn, plotly and SQLite, and never imports Streamlit, so it works
the same from a notebook, the CLI or the dashboard.

Packages, by topic (each ``__init__`` lists its modules):
    datasets: datasets of small grey images, their files and the built-ins.
    models: the seed MLP, training, loading and checking model files, outputs, layers.
    read: reading a model's layers (extraction, reductions, the layer set).
    maps: 2-D maps of representations (UMAP, PCA, t-SNE) and their parameters.
    share: views, comparisons, bundles, exports and thumbnails.
    store: the workspace (SQLite index and files).
    jobs: jobs on a Dask cluster or in this process.
    cli: the ``featlib`` command (``python -m featlib``).
    app: the Streamlit dashboard's glue.

Modules: errors, settings, provenance, quiet, names, lru, archives, plots, metrics, pipeline, precompute, serve,
callbacks (``featlib.CheckpointCallback``: a Keras callback saving a training's checkpoints into a workspace),
notebook (``featlib.explore``: a layer's map as a live Jupyter widget, with the ``notebook`` extra).
"""

import importlib

__version__ = "0.1.0"


LAZY_NAMES = {"CheckpointCallback": "featlib.callbacks", "explore": "featlib.notebook"}
"""``featlib.<name>`` -> the module it is imported from on first use."""


def __getattr__(name: str) -> object:
    """``featlib.CheckpointCallback`` (:class:`featlib.callbacks.CheckpointCallback`) and ``featlib.explore``
    (:func:`featlib.notebook.explore`), imported on first use: their modules import Keras and the service, which
    ``import featlib`` (and ``featlib --help``) must not."""
    if name in LAZY_NAMES:
        return getattr(importlib.import_module(LAZY_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
