"""A model as bytes and back, saved into the workspace, and its fingerprint (architecture and weights)."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from featlib.lazy import keras
from featlib.models.summary import architecture_summary

if TYPE_CHECKING:
    import keras

    from featlib.store import ModelRecord, Workspace


def save_model(
    workspace: Workspace,
    model: keras.Model,
    name: str,
    *,
    dataset: str,
    test_accuracy: float | None = None,
    input_scale: str = "0-1",
    meta: dict | None = None,
    creator: str = "",
) -> ModelRecord:
    """Saves ``model`` in ``workspace`` as ``.keras`` and lists it under a unique name.

    The model is written straight into the workspace's temporary file
    (``model.save``) and handed to :meth:`~featlib.store.Workspace.save_model_file`
    with its :func:`fingerprint` and :func:`architecture_summary`. When ``name``
    is taken, ``name-2``, ``name-3``, ... is used instead: nothing saved earlier
    is overwritten. ``meta["provenance"]`` is completed with the model's
    fingerprint and the library versions.

    Raises:
        ValueError: an empty name.
    """
    return workspace.save_model_file(
        lambda path: model.save(path),
        name,
        fingerprint=fingerprint(model),
        architecture=architecture_summary(model),
        dataset=dataset,
        test_accuracy=test_accuracy,
        input_scale=input_scale,
        meta=meta,
        creator=creator,
    )


def model_from_bytes(data: bytes) -> keras.Model:
    """Loads a ``.keras`` file's bytes with Keras's ``safe_mode`` (the bytes featlib itself saved)."""

    with tempfile.TemporaryDirectory(prefix="featlib-model-") as folder:
        path = Path(folder) / "model.keras"
        path.write_bytes(data)
        return keras.saving.load_model(path, compile=False, safe_mode=True)


def model_to_bytes(model: keras.Model) -> bytes:
    """The bytes of ``model`` saved as a ``.keras`` file."""
    with tempfile.TemporaryDirectory(prefix="featlib-model-") as folder:
        path = Path(folder) / "model.keras"
        model.save(path)
        return path.read_bytes()


def fingerprint(model: keras.Model) -> str:
    """A 16-hex-digit digest of the model's architecture and weights."""
    digest = hashlib.sha256(json.dumps(model.get_config(), sort_keys=True, default=str).encode())
    for weights in model.get_weights():
        digest.update(str(weights.shape).encode())
        digest.update(np.ascontiguousarray(weights).tobytes())
    return digest.hexdigest()[:16]
