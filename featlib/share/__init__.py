"""Sharing what a page shows: views as data and URLs, comparisons, bundles, exported files, thumbnails.

``from featlib.share import views``; the package imports none of its modules until one is used.

Modules:
    views: a view of the Explore page as plain data, and its URL query form.
    compare: comparisons as plain data: panels side by side, their link, their presets.
    view_queries: reading a saved view's query back into a view or a comparison.
    bundle: a view as one ZIP file that another featlib server imports and shows as it was.
    bundle_manifest: the declared schema of a bundle's ``manifest.json``.
    exports: files to take away: tables (CSV, Parquet), figures (HTML, PNG) and models (``.keras``).
    thumbnails: small PNG pictures of maps (saved views' thumbnails).
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["bundle", "bundle_manifest", "compare", "exports", "thumbnails", "view_queries", "views"]


def __getattr__(name: str) -> ModuleType:
    """The modules, imported on first use (``featlib.share.views`` after ``import featlib.share``): importing the
    package imports none of them, so no heavy library loads before it is needed."""
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
