"""What a worker process keeps between jobs: loaded models and extractors, by fingerprint (bounded).

A job receives a model as the bytes of its ``.keras`` file (sent to the
cluster once per fingerprint); the first job on a worker loads it, later ones
reuse it. The same caches serve jobs run in-process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from featlib import keys
from featlib.lru import Bounded
from featlib.models import model_from_bytes
from featlib.read.extract import Extractor

if TYPE_CHECKING:
    import keras

MAX_MODELS = 4
MAX_EXTRACTORS = 16


_models: Bounded[keras.Model] = Bounded(MAX_MODELS)
_extractors: Bounded[Extractor] = Bounded(MAX_EXTRACTORS)


def model(fingerprint: str, data: bytes) -> keras.Model:
    """The model with this fingerprint, loaded from ``data`` the first time (at most :data:`MAX_MODELS` kept)."""
    return _models.get(fingerprint, lambda: model_from_bytes(data))


def extractor(fingerprint: str, data: bytes, layer: str, method: str, reduction: str = "flatten") -> Extractor:
    """The sub-model or backend function reading ``layer`` of the model reduced by ``reduction``, built once per worker."""
    loaded = model(fingerprint, data)
    return _extractors.get(
        keys.extractor_key(fingerprint, layer, method, reduction), lambda: Extractor(loaded, layer, method, reduction)
    )
