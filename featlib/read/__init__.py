"""Reading a model's layers: the outputs of one layer or of all of them, and how an image becomes one row.

``from featlib.read import extract``; the package imports none of its modules until one is used.

Modules:
    extract: reading a layer's outputs (the seed's two extraction methods), in batches.
    reductions: how a layer's output for one image becomes one row of its representation (flatten, pooling).
    layers: every layer of one model at once (the layer set): outputs on a shared sample, maps, scores, CKA.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["extract", "layers", "reductions"]


def __getattr__(name: str) -> ModuleType:
    """The modules, imported on first use (``featlib.read.extract`` after ``import featlib.read``): importing the
    package imports none of them, so no heavy library loads before it is needed."""
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
