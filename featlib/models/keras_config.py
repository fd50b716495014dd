"""What a ``.keras`` file says about its layers, read from its ``config.json`` without Keras.

Commands that read a layer (``featlib extract --layer``, ``embed``, ``precompute
--layers``) refuse an unknown name from this, in a fraction of a second, before
TensorFlow is imported and the model loaded. Only a name the file mentions nowhere
is refused here; every other name goes on to the checks on the loaded model
(:func:`featlib.models.check_layer`), which also explain layers inside nested models.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator

from featlib.errors import ModelError

MAX_CONFIG_BYTES = 64 * 1024 * 1024
"""A ``config.json`` declared larger than this is not read here (the loaded model's checks decide)."""


def top_level_layers(data: bytes) -> list[str] | None:
    """The names of a ``.keras`` file's top-level layers as ``model.layers`` lists them, or None when unknown.

    A Sequential model's list leaves out its ``InputLayer`` (as Keras does); a Functional
    model's includes it. None for another kind of model (a subclassed one) or a file that is
    not a readable ``.keras`` archive.
    """
    config = _config(data)
    if config is None or config.get("class_name") not in ("Sequential", "Functional", "Model"):
        return None
    layers = (config.get("config") or {}).get("layers")
    if not isinstance(layers, list):
        return None
    sequential = config["class_name"] == "Sequential"
    names = [_name(layer) for layer in layers if not (sequential and layer.get("class_name") == "InputLayer")]
    return names if all(isinstance(n, str) for n in names) else None


def check_layer(data: bytes, layer_name: str) -> None:
    """Refuses ``layer_name`` when the ``.keras`` file ``data`` names no layer so, at any depth.

    Raises:
        ModelError: ``"No such layer: NAME. Existing layers are: [...]"`` (the top-level layers),
            as :func:`featlib.models.check_layer` words it.
    """
    unknown = unknown_layers(data, [layer_name])
    if unknown:
        raise ModelError(f"No such layer: {layer_name}. Existing layers are: {top_level_layers(data)}.")


def unknown_layers(data: bytes, names: list[str]) -> list[str]:
    """The ``names`` that the file's config gives to no layer at any depth; [] when the config cannot be read."""
    config = _config(data)
    if config is None or top_level_layers(data) is None:
        return []
    known = set(_all_names(config))
    return [name for name in names if name not in known]


def _config(data: bytes) -> dict | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            info = archive.getinfo("config.json")
            if info.file_size > MAX_CONFIG_BYTES:
                return None
            config = json.loads(archive.read(info))
    except (
        KeyError,
        OSError,
        ValueError,
        RecursionError,
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        EOFError,
    ):
        return None
    return config if isinstance(config, dict) else None


def _name(layer: object) -> object:
    if not isinstance(layer, dict):
        return None
    return (layer.get("config") or {}).get("name", layer.get("name"))


def _all_names(config: object) -> Iterator[str]:
    """Every layer name anywhere in ``config`` (nested models' inner layers too)."""
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "class_name" in node:
                for name in (
                    node.get("name"),
                    (node.get("config") or {}).get("name") if isinstance(node.get("config"), dict) else None,
                ):
                    if isinstance(name, str):
                        yield name
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
