"""What a user would pick instead of featlib's map, run the way they would run it: the bench's peers.

Each peer maps float32 vectors ``(n, d)`` to 2-D as its own documentation
shows, with its defaults:

- ``umap_learn_seeded``: ``umap.UMAP(random_state=42).fit_transform(x)``:
  umap-learn's defaults (Euclidean metric, 15 neighbours, 500 epochs up to
  10,000 points then 200, spectral start), reproducible, so single-threaded
  (umap-learn sets ``n_jobs=1`` when a seed is given);
- ``umap_learn_parallel``: ``umap.UMAP(n_jobs=-1).fit_transform(x)``: the
  same without a seed, on every core (not reproducible);
- ``embedding_atlas``: Apple's Embedding Atlas's vector projection,
  ``embedding_atlas.projection._run_umap(x)`` (https://github.com/apple/embedding-atlas,
  ``packages/backend/embedding_atlas/projection.py``; the function
  ``compute_projection(..., modality="vector")`` runs with no UMAP
  arguments): umap-learn's defaults with the cosine metric and a kNN graph
  it computes first with ``umap.umap_.nearest_neighbors`` (unseeded, every
  core). It is installed for the bench only (``requirements-bench.txt``,
  then ``pip install --no-deps embedding-atlas==0.26.0``), never a runtime
  dependency of featlib.

:func:`missing` says why a peer cannot run here (not installed), so the bench
can skip it and say so.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

EMBEDDING_ATLAS_VERSION = "0.26.0"
SEED = 42
"""The seed of the seeded peer (featlib's default seed too)."""


@dataclass(frozen=True)
class Peer:
    """A way to make a 2-D map that the bench measures beside featlib's.

    Attributes:
        name: the key in the bench's JSON (``peers``, ``<name>_s`` in ``scaling``).
        title: what the tables call it.
        module: the module it needs; :func:`missing` checks it is importable.
        install: how to install it, for the message when it is missing.
    """

    name: str
    title: str
    module: str
    install: str


PEERS: dict[str, Peer] = {
    peer.name: peer
    for peer in (
        Peer("umap_learn_seeded", "umap-learn defaults, seeded (1 thread)", "umap", "pip install umap-learn"),
        Peer("umap_learn_parallel", "umap-learn defaults, unseeded, all cores", "umap", "pip install umap-learn"),
        Peer(
            "embedding_atlas",
            "Embedding Atlas vector projection (cosine, all cores)",
            "embedding_atlas",
            f"pip install -r requirements-bench.txt && pip install --no-deps embedding-atlas=={EMBEDDING_ATLAS_VERSION}",
        ),
    )
}


def missing(name: str) -> str | None:
    """Why peer ``name`` cannot run in this environment, or ``None`` when it can.

    Raises:
        KeyError: ``name`` is no peer (the message lists them).
    """
    if name not in PEERS:
        raise KeyError(f"No such peer: {name!r}. Peers are: {list(PEERS)}.")
    peer = PEERS[name]
    try:
        found = importlib.util.find_spec(peer.module) is not None
    except (ImportError, ValueError):
        found = False
    return None if found else f"{peer.title}: the module {peer.module!r} is not installed ({peer.install})"


def fit(name: str, x: np.ndarray) -> np.ndarray:
    """Peer ``name``'s 2-D map of ``x``.

    Args:
        name: a key of :data:`PEERS`.
        x: float array ``(n, d)``, ``n`` above 15 (umap-learn's default neighbours).

    Returns:
        A float32 array ``(n, 2)``.

    Raises:
        KeyError: ``name`` is no peer.
        ImportError: the peer is not installed (see :func:`missing`).
    """
    if name not in PEERS:
        raise KeyError(f"No such peer: {name!r}. Peers are: {list(PEERS)}.")
    x = np.asarray(x, dtype="float32").reshape(len(x), -1)
    return np.asarray(_FITS[name](x), dtype="float32")


def _umap_learn_seeded(x: np.ndarray) -> np.ndarray:
    import umap

    return umap.UMAP(random_state=SEED).fit_transform(x)


def _umap_learn_parallel(x: np.ndarray) -> np.ndarray:
    import umap

    return umap.UMAP(n_jobs=-1).fit_transform(x)


def _embedding_atlas(x: np.ndarray) -> np.ndarray:
    from embedding_atlas.projection import _run_umap

    return _run_umap(x, umap_args={}).projection


_FITS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "umap_learn_seeded": _umap_learn_seeded,
    "umap_learn_parallel": _umap_learn_parallel,
    "embedding_atlas": _embedding_atlas,
}
