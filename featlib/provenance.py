"""What a stored result was made from: fingerprints, library versions, parameters, seed.

Every item the workspace stores carries a provenance dict in its ``meta``
(``meta["provenance"]``), made by :func:`describe`::

    {"model_fingerprint": "…", "dataset_fingerprint": "…",
     "parameters": {...}, "seed": 0,
     "versions": {"featlib": "…", "python": "3.11.2", "keras": "3.15.1", ...},
     "made_at": "2026-11-26T15:00:00+00:00"}

Bundles carry it too; :func:`compare` lists what differs between two of them
(a fingerprint that does not match is a different model or different data;
other library versions may give other numbers).
"""

from __future__ import annotations

import hashlib
import platform
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from featlib import keys

LIBRARIES = ("featlib", "numpy", "keras", "tensorflow", "umap-learn", "scikit-learn", "pynndescent", "plotly")
"""The distributions whose versions are recorded (``featlib`` itself when installed)."""
FINGERPRINTS = ("model_fingerprint", "dataset_fingerprint")

_versions_cache: dict[str, str] | None = None


def library_versions() -> dict[str, str]:
    """Python's and the :data:`LIBRARIES`' versions, read from package metadata (nothing is imported)."""
    global _versions_cache
    if _versions_cache is None:
        versions = {"python": platform.python_version()}
        for name in LIBRARIES:
            try:
                versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue
        _versions_cache = versions
    return dict(_versions_cache)


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, as 64 hex digits (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def bytes_sha256(data: bytes) -> str:
    """The SHA-256 of ``data``, as 64 hex digits."""
    return hashlib.sha256(data).hexdigest()


def describe(
    *,
    model_fingerprint: str | None = None,
    dataset_fingerprint: str | None = None,
    parameters: dict | None = None,
    seed: int | None = None,
    base: dict | None = None,
) -> dict:
    """A provenance dict; values already in ``base`` are kept, missing ones filled in.

    Args:
        model_fingerprint: :func:`featlib.models.fingerprint` of the model used.
        dataset_fingerprint: :attr:`featlib.datasets.Dataset.fingerprint` of the data used.
        parameters: the parameters that made the result (JSON-serialisable).
        seed: the random seed, when one was used.
        base: an earlier provenance dict (for example one read from a bundle).

    Example:
        >>> describe(model_fingerprint="ab12", seed=0)["versions"]["python"]  # doctest: +SKIP
        '3.11.2'
    """
    made = {
        "model_fingerprint": model_fingerprint,
        "dataset_fingerprint": dataset_fingerprint,
        "parameters": dict(parameters or {}),
        "seed": seed,
        "versions": library_versions(),
        "made_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    merged = dict(base or {})
    for key, value in made.items():
        if merged.get(key) in (None, {}, ""):
            merged[key] = value
    return {k: v for k, v in merged.items() if v is not None}


def compare(expected: dict, actual: dict) -> tuple[list[str], list[str]]:
    """What differs between two provenance dicts.

    Returns:
        ``(mismatches, differences)``: fingerprints that differ (a different
        model or different data: the result does not belong to it), and
        library versions that differ (the result may not be reproduced
        exactly). Each is a list of sentences naming both values.
    """
    mismatches = [
        f"{key.replace('_', ' ')}: expected {expected[key]}, got {actual.get(key)}"
        for key in FINGERPRINTS
        if expected.get(key) and expected.get(key) != actual.get(key)
    ]
    theirs, ours = expected.get("versions", {}), actual.get("versions", {})
    differences = [
        f"{name} {theirs[name]} made it; this server has {ours.get(name, 'none')}"
        for name in sorted(theirs)
        if name != "featlib" and theirs[name] != ours.get(name)
    ]
    return mismatches, differences


def for_key(key: str, parameters: dict | None = None) -> dict:
    """The provenance of a representation or map, read from its workspace key.

    Keys are ``rep/<model fp>/<dataset fp>/<split>/<layer>/<method>/<scale>``
    (then ``/reduction=gap`` or ``gmp`` for a pooled layer, read as the parameter ``reduction``)
    and ``emb/<rep key>/sample=…/seed=…/<reducer parameters>``, read by :func:`featlib.keys.read_key` (a layer
    set's layer as well).
    """
    fields = keys.read_key(key)
    made: dict = dict(parameters or {})
    if fields.kind:
        made.update({"split": fields.split, "layer": fields.layer, "input_scale": fields.input_scale})
        made.update({"method": fields.method} if fields.method else {})
    for name, value in fields.parameters.items():
        made.setdefault(name, value)
    seed = made.get("random_state")
    return describe(
        model_fingerprint=fields.model_fp,
        dataset_fingerprint=fields.dataset_fp,
        parameters=made,
        seed=int(seed) if isinstance(seed, str) and seed.isdigit() else None,
    )


VIEW_FIELDS = ("model", "dataset", "split", "layer", "method", "reducer", "sample", "reduction")
"""The fields of a saved view's query that say what it shows (the rest: reducer parameters, colour, selection)."""


def of_view(query: dict, saved_at: str, model_fingerprints: dict[str, str] | None = None) -> dict:
    """The provenance of a saved view, from what it records: a view is a link, its maps are made from its query.

    Args:
        query: the view's query (``View.to_query()`` or ``CompareView.to_query()``, as stored).
        saved_at: when it was saved (the index's ``created``).
        model_fingerprints: the models' fingerprints by workspace id (those still in the workspace); a view's
            own ``model_fp`` is used first.

    Returns:
        A provenance dict as :func:`describe` makes, with ``made_at`` the time it was saved and no library
        versions (a view stores no result: it is recomputed, or found stored, when opened).
    """
    known = model_fingerprints or {}
    panels = [str(query[k]).split(":", 1)[0] for k in ("p1", "p2", "p3", "p4") if query.get(k)]  # Compare's
    models = [query["model"]] if query.get("model") else panels
    fingerprints = [str(query["model_fp"])] if query.get("model_fp") else []
    fingerprints += [known[m] for m in dict.fromkeys(models) if m in known and known[m] not in fingerprints]
    dataset = str(query.get("dataset") or "")
    made = {
        "model_fingerprint": ", ".join(fingerprints) or None,
        "dataset_fingerprint": dataset.split(":", 1)[1] if dataset.startswith("upload:") else dataset or None,
        "parameters": {k: query[k] for k in VIEW_FIELDS if query.get(k)},
        "made_at": saved_at,
    }
    return {k: v for k, v in made.items() if v not in (None, {}, "")}
