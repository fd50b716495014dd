"""Heavy third-party packages, imported on first use: the one lazy-import mechanism of featlib.

featlib's modules import each other at the top of their files. The packages that take seconds
to import (TensorFlow through Keras, umap-learn and numba, scikit-learn, SciPy, Dask's
``distributed``, h5py, Plotly's figure classes) are reached through the proxies below instead,
so that ``featlib --help``, ``featlib ls`` and every refusal of bad input return without
loading them, and the first attribute looked up on a proxy imports the package then.

The design follows Keras's ``keras/src/utils/module_utils.py`` (``LazyModule``): a proxy
holds the module's name and the package to install; an attribute lookup imports the module
once and forwards to it. Two additions: a submodule that its package does not import by itself
(``sklearn.neighbors``, ``scipy.linalg``, ``distributed.security``) is imported when it is
looked up, so one proxy per package serves every submodule; and a package that is not
installed raises :class:`ImportError` naming the package to install.

A featlib module that must not be imported with its importer is reached the same way: the Numba
kernels (``kernels = LazyModule("featlib.maps.kernels")`` in :mod:`featlib.maps.knn`: ``@numba.njit``
needs Numba where the function is defined), and, in the CLI's dispatcher, the modules of one or two
commands that take long to import. ``tests/test_import_graph.py`` counts such a proxy as an import.

Example:
    >>> from featlib.lazy import LazyModule
    >>> json = LazyModule("json")
    >>> json.loaded in (True, False)
    True
    >>> json.dumps([1, 2])
    '[1, 2]'
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any

__all__ = [
    "LazyModule",
    "anywidget",
    "cuml",
    "cupy",
    "dask",
    "distributed",
    "h5py",
    "keras",
    "kaleido",
    "numba",
    "opentsne",
    "pandas",
    "pil_image",
    "plotly_colors",
    "plotly_go",
    "plotly_subplots",
    "psutil",
    "scipy",
    "sklearn",
    "threadpoolctl",
    "tqdm",
    "umap",
]


class LazyModule(ModuleType):
    """A module that is imported the first time one of its attributes is looked up.

    Args:
        name: the module's import name (``"keras"``, ``"plotly.graph_objects"``).
        pip_name: the distribution that provides it, named in the error when it is missing
            (``"umap-learn"`` for ``umap``); defaults to ``name``'s first part.

    Raises:
        ImportError: on first use, when the module is not installed; the message names the
            module, the package to install and what was received.
    """

    def __init__(self, name: str, pip_name: str | None = None) -> None:
        super().__init__(name)
        self.__dict__["_lazy_name"] = name
        self.__dict__["_lazy_pip_name"] = pip_name or name.split(".")[0]
        self.__dict__["_lazy_module"] = None

    def __repr__(self) -> str:
        state = "imported" if self.loaded else "not imported yet"
        return f"<lazy module {self._lazy_name!r} ({state})>"

    @property
    def loaded(self) -> bool:
        """Whether the module has been imported in this process (by this proxy or elsewhere)."""
        return self._lazy_name in sys.modules

    @property
    def available(self) -> bool:
        """Whether the module can be imported here, found without importing it."""
        if self.loaded:
            return True
        try:
            return importlib.util.find_spec(self._lazy_name) is not None
        except (ImportError, ValueError):
            return False

    def load(self) -> ModuleType:
        """Import the module now (once) and return it.

        Raises:
            ImportError: when it is not installed, naming the package to install.
        """
        module = self.__dict__["_lazy_module"]
        if module is None:
            try:
                module = importlib.import_module(self._lazy_name)
            except ModuleNotFoundError as error:
                if error.name is None or not self._lazy_name.startswith(error.name):
                    raise
                raise ImportError(
                    f"This needs the Python package {self._lazy_pip_name!r} (module "
                    f"{self._lazy_name!r}), which is not installed here (the import failed with: "
                    f"{error}). Install it with `pip install {self._lazy_pip_name}`."
                ) from error
            self.__dict__["_lazy_module"] = module
        return module

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("__") and attribute.endswith("__"):
            # Dunder lookups (doctest, pickle, typing probes) must not import the package.
            raise AttributeError(attribute)
        module = self.load()
        try:
            return getattr(module, attribute)
        except AttributeError:
            pass
        # A submodule its package does not import by itself (sklearn.neighbors, scipy.linalg).
        submodule = f"{self._lazy_name}.{attribute}"
        try:
            return importlib.import_module(submodule)
        except ModuleNotFoundError as error:
            if error.name != submodule:
                raise
            raise AttributeError(f"module {self._lazy_name!r} has no attribute {attribute!r}") from None

    def __setattr__(self, attribute: str, value: Any) -> None:
        setattr(self.load(), attribute, value)

    def __dir__(self) -> list[str]:
        return dir(self.load())


# The heavy packages featlib uses, one proxy each. Import them as
# ``from featlib.lazy import keras`` and look attributes up inside functions.
keras = LazyModule("keras")
umap = LazyModule("umap", "umap-learn")
numba = LazyModule("numba")
sklearn = LazyModule("sklearn", "scikit-learn")
opentsne = LazyModule("openTSNE", "openTSNE")  # t-SNE maps (FFT-accelerated; featlib.maps.embed.tsne_embed)
scipy = LazyModule("scipy")
h5py = LazyModule("h5py")
dask = LazyModule("dask", "dask[distributed]")
distributed = LazyModule("distributed")
threadpoolctl = LazyModule("threadpoolctl")
psutil = LazyModule("psutil")
pandas = LazyModule("pandas")
plotly_go = LazyModule("plotly.graph_objects", "plotly")
plotly_colors = LazyModule("plotly.colors", "plotly")
plotly_subplots = LazyModule("plotly.subplots", "plotly")
kaleido = LazyModule("kaleido")
pil_image = LazyModule("PIL.Image", "pillow")
tqdm = LazyModule("tqdm")
anywidget = LazyModule("anywidget", "featlib[notebook]")  # the notebook widget (featlib.notebook), an extra
# RAPIDS, on GPU machines only (requirements-gpu.txt): featlib.maps.gpu asks ``available`` before using them.
cuml = LazyModule("cuml", "cuml-cu12")
cupy = LazyModule("cupy", "cupy-cuda12x")
