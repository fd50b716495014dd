"""The maps: 2-D pictures of a layer's outputs (UMAP, PCA, t-SNE) and what they are made with.

``from featlib.maps import embed``; the package imports none of its modules until one is used.

Modules:
    embed: the maps themselves (UMAP, PCA, t-SNE), their parameters and cache keys.
    reducer_params: every reducer's parameters, once (one constraint table per reducer), and the sample sizes.
    auto_metric: what ``metric="auto"`` means for a UMAP map: the metric whose map keeps the labels apart.
    knn: k-nearest-neighbour graphs for UMAP: exact for small maps, pynndescent's search for large ones.
    gpu: UMAP and t-SNE on a CUDA GPU with RAPIDS cuML, when the machine has one.
    compile_cache: one cache of umap-learn's, pynndescent's and featlib's compiled code per user and machine.
    sampling: label-stratified samples of points, shared by maps, scores and the metric choice.
    align: aligning 2-D maps so that side-by-side panels can be compared by eye.
    neighbours: nearest neighbours of chosen points in a layer's own space.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["align", "auto_metric", "compile_cache", "embed", "gpu", "knn", "neighbours", "reducer_params", "sampling"]


def __getattr__(name: str) -> ModuleType:
    """The modules, imported on first use (``featlib.maps.embed`` after ``import featlib.maps``): importing the
    package imports none of them, so no heavy library loads before it is needed."""
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
