"""UMAP and t-SNE on a CUDA GPU with RAPIDS cuML, when the machine has one: the map's backend.

``$FEATLIB_UMAP_BACKEND`` chooses where UMAP and t-SNE maps are made:

- ``auto`` (the default): on the GPU when RAPIDS cuML is installed and a CUDA
  device answers, else on the CPU (umap-learn, scikit-learn);
- ``cpu``: always on the CPU;
- ``gpu``: always on the GPU; a map asked for where cuML or the GPU is missing
  fails with a message saying what is missing (never a silent CPU map).

PCA always runs on the CPU (it takes well under a second). cuML is an
optional extra: ``pip install -r requirements-gpu.txt`` (``cuml-cu12`` from
NVIDIA's package index, https://pypi.nvidia.com; CUDA 12 drivers needed).

The GPU maps keep featlib's result contract: the same parameters
(``n_neighbors``, ``min_dist``, ``metric``, epochs, seed), a float32 array
of shape ``(n, 2)``, and the same map for the same seed on the same GPU and
cuML version (cuML's UMAP is deterministic when ``random_state`` is given;
its docs: https://docs.rapids.ai/api/cuml/stable/api/#umap). The map differs
from umap-learn's for the same seed (another implementation), so each map's
metadata records its backend (``meta["backend"]`` and
``meta["provenance"]["backend"]``, :func:`featlib.pipeline.save_embedding`),
and the Explore page and the bench say which one made it.

Differences, by design of cuML: a layout that featlib starts from PCA
(above 10,000 points, :func:`featlib.maps.embed.layout_schedule`) starts from
cuML's spectral embedding on the GPU, which costs little there; t-SNE uses
cuML's FFT-accelerated t-SNE (Linderman et al. 2019) from a random start.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Callable, Mapping

import numpy as np

from featlib import settings
from featlib.errors import BackendError, SettingError
from featlib.lazy import cuml, cupy

ENV = "FEATLIB_UMAP_BACKEND"
CHOICES = settings.UMAP_BACKENDS
BACKENDS = ("cpu", "gpu")
GPU_REDUCERS = ("umap", "tsne")
"""The reducers cuML can run; PCA stays on the CPU."""
TITLES = {"cpu": "CPU (umap-learn, scikit-learn)", "gpu": "GPU (RAPIDS cuML)"}
INSTALL = "pip install -r requirements-gpu.txt (RAPIDS cuML for CUDA 12, from https://pypi.nvidia.com)"


def requested(environ: Mapping[str, str] | None = None) -> str:
    """``$FEATLIB_UMAP_BACKEND``, lower-cased: ``"auto"`` (also when unset or empty), ``"cpu"`` or ``"gpu"``.

    Raises:
        BackendError: another value, naming the choices and the value received.
    """
    try:
        return settings.get(ENV, environ)
    except SettingError as error:
        raise BackendError(str(error)) from None


@functools.lru_cache(maxsize=1)
def missing() -> str | None:
    """Why maps cannot be made on a GPU here, or ``None`` when cuML and a CUDA device are there.

    Checked once per process: cuML importable, then at least one CUDA device
    (``cupy.cuda.runtime.getDeviceCount``).
    """
    if importlib.util.find_spec("cuml") is None:
        return f"RAPIDS cuML is not installed ({INSTALL})"
    try:
        cuml.load()
        devices = int(cupy.cuda.runtime.getDeviceCount())
    except Exception as error:  # cuML without a driver raises CUDA errors of many types
        return f"no usable CUDA GPU ({type(error).__name__}: {str(error)[:200]})"
    return None if devices > 0 else "no CUDA GPU found"


def choose(
    reducer: str = "umap", environ: Mapping[str, str] | None = None, probe: Callable[[], str | None] | None = None
) -> str:
    """The backend, ``"cpu"`` or ``"gpu"``, that makes a map by ``reducer`` (``"umap"``, ``"tsne"``, ``"pca"``).

    ``gpu`` is returned when asked for (``FEATLIB_UMAP_BACKEND=gpu``), even if
    the GPU is missing here: the map then fails where it is made
    (:func:`check`), saying what is missing. ``auto`` asks ``probe``
    (default :func:`missing`).

    Raises:
        BackendError: ``$FEATLIB_UMAP_BACKEND`` names no backend.

    Example:
        >>> choose("umap", {"FEATLIB_UMAP_BACKEND": "cpu"}), choose("pca", {"FEATLIB_UMAP_BACKEND": "gpu"})
        ('cpu', 'cpu')
        >>> choose("umap", {}, probe=lambda: None), choose("umap", {}, probe=lambda: "no GPU")
        ('gpu', 'cpu')
    """
    want = requested(environ)
    if reducer not in GPU_REDUCERS or want == "cpu":
        return "cpu"
    if want == "gpu":
        return "gpu"
    return "cpu" if (probe or missing)() else "gpu"


def check(backend: str, probe: Callable[[], str | None] | None = None) -> None:
    """Refuses a ``backend`` that is not one, or ``"gpu"`` where the GPU is missing (``probe``, default :func:`missing`).

    Raises:
        BackendError: naming the backends, or what is missing and what to install or set.
    """
    if backend not in BACKENDS:
        raise BackendError(f"Unknown backend: {backend!r}. Expected one of {list(BACKENDS)}.")
    if backend == "gpu":
        reason = (probe or missing)()
        if reason:
            raise BackendError(
                f"This map was asked of the GPU backend, which cannot run here: {reason}. Install "
                f"cuML on a machine with a CUDA GPU, or set {ENV}=auto or cpu."
            )


def backend_of_key(key: str, environ: Mapping[str, str] | None = None) -> str:
    """The backend :func:`choose` gives the map whose workspace key is ``key`` (reducer parameters last)."""
    reducer = key.rsplit("/", 1)[-1].split("-", 1)[0]
    return choose(reducer, environ)


def umap(
    x: np.ndarray,
    *,
    n_neighbors: int,
    min_dist: float,
    metric: str,
    random_state: int,
    n_epochs: int,
    init: str,
    n_components: int = 2,
) -> np.ndarray:
    """cuML's UMAP of ``x`` (float32 ``(n, d)``): float32 ``(n, n_components)``, 2 or 3.

    ``init="pca"`` (featlib's start above 10,000 points) becomes cuML's
    ``"spectral"``: cuML starts from ``"spectral"`` or ``"random"`` only.
    """
    reducer = cuml.manifold.UMAP(
        n_components=n_components,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        metric=metric,
        random_state=random_state,
        n_epochs=n_epochs,
        init="random" if init == "random" else "spectral",
        output_type="numpy",
    )
    return np.asarray(reducer.fit_transform(np.ascontiguousarray(x, dtype="float32")), dtype="float32")


def tsne(x: np.ndarray, *, perplexity: float, random_state: int) -> np.ndarray:
    """cuML's t-SNE of ``x`` (float32 ``(n, d)``): float32 ``(n, 2)``."""
    reducer = cuml.manifold.TSNE(n_components=2, perplexity=perplexity, random_state=random_state, output_type="numpy")
    return np.asarray(reducer.fit_transform(np.ascontiguousarray(x, dtype="float32")), dtype="float32")
