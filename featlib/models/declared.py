"""What a ``.keras`` or ``.h5`` model file declares, read without Keras and without reading any weights.

- a ``.keras`` archive (:func:`keras_budget`): its ``config.json`` (read no further than
  :data:`MAX_CONFIG_BYTES`, whatever the zip's header says), sized layer by layer by
  :func:`featlib.models.layer_sizes.config_layers`, and its ``model.weights.h5``;
- a legacy ``.h5`` (:func:`h5_budget`): its ``model_config`` attribute and the datasets under
  ``model_weights``.

A weights file's sizes are every HDF5 dataset's declared shape × its dtype's size, read from
HDF5's metadata (``dataset.shape``, ``dataset.dtype``) without reading any data, so no
compression or fill value hides a size; at most :data:`MAX_H5_OBJECTS` objects are visited.
h5py is imported on first use (:mod:`featlib.lazy`).

:mod:`featlib.models.budget` compares the result with the limit.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from featlib.errors import ModelError
from featlib.lazy import h5py
from featlib.models.checks import check_keras_member_count
from featlib.models.config import first_line as _first_line
from featlib.models.config import parse_config
from featlib.models.layer_sizes import LayerSize, config_layers

MAX_CONFIG_BYTES = 16 * 1024 * 1024
"""The most bytes a ``.keras`` file's ``config.json`` may inflate to (real configs: a few KB to 1 MB)."""
MAX_H5_OBJECTS = 200_000
"""The most HDF5 groups and datasets a weights file may hold (a ResNet-152 holds about 3,000)."""


@dataclass(frozen=True)
class Budget:
    """What a model file declares: per layer from its config, per group from its weights file.

    Attributes:
        config: one entry per top-level layer whose size follows from the config (nested models summed).
        weights: one entry per top-level group of the weights file.
        source_config, source_weights: where each was read (``"config.json"``, ``"model.weights.h5"``).
    """

    config: list[LayerSize] = field(default_factory=list)
    weights: list[LayerSize] = field(default_factory=list)
    source_config: str = ""
    source_weights: str = ""

    @property
    def config_bytes(self) -> int:
        return sum(layer.bytes for layer in self.config)

    @property
    def weights_bytes(self) -> int:
        return sum(layer.bytes for layer in self.weights)

    @property
    def total_bytes(self) -> int:
        """The larger of the two sums: what loading the model needs at least."""
        return max(self.config_bytes, self.weights_bytes)

    @property
    def largest(self) -> LayerSize | None:
        """The largest layer of the larger sum."""
        layers = self.config if self.config_bytes >= self.weights_bytes else self.weights
        return max(layers, key=lambda layer: layer.bytes, default=None)


def keras_budget(path: Path) -> Budget:
    try:
        if not zipfile.is_zipfile(path):
            return Budget()
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            check_keras_member_count(len(members), path.name)  # before any member is opened or extracted
            infos = {info.filename: info for info in members}
            config_info = infos.get("config.json")
            if config_info is None:
                return Budget()
            if config_info.file_size > MAX_CONFIG_BYTES:
                raise ModelError(_config_too_big(path.name, config_info.file_size))
            with archive.open(config_info) as handle:
                raw = handle.read(MAX_CONFIG_BYTES + 1)
            if len(raw) > MAX_CONFIG_BYTES:
                raise ModelError(_config_too_big(path.name, len(raw)))
            budget = Budget(config_layers(parse_config(raw, path.name, "config.json")), [], "config.json", "")
            weights: list[LayerSize] = []
            sources = []
            for name, info in infos.items():
                if not name.lower().endswith((".h5", ".hdf5")):
                    continue
                with archive.open(info) as handle:
                    weights += _h5_weights(handle, f"{path.name}'s {name}", prefix=("layers", "vars"))
                sources.append(name)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError):
        return Budget()  # damaged: check_model_archive refuses it, naming the reason
    except OSError as error:
        raise ModelError(f"{path.name} cannot be read: {error}") from error
    return Budget(budget.config, weights, "config.json", " and ".join(sources) or "weights file")


def _config_too_big(filename: str, size: int) -> str:
    return (
        f"{filename}'s config.json inflates to {size:,} bytes; at most {MAX_CONFIG_BYTES:,} are read "
        "(a model's config is a few KB to 1 MB). Refused before it was parsed."
    )


def h5_budget(path: Path) -> Budget:
    try:
        handle = h5py.File(path, "r")
    except OSError:
        return Budget()  # not HDF5: check_h5 refuses it, naming the reason
    try:
        with handle as h5:
            refuse_links(h5, path.name)  # before any object is opened by name: a link is never followed
            raw = h5.attrs.get("model_config")
            root = h5["model_weights"] if "model_weights" in h5 else h5
            weights = _h5_weights(root, path.name, prefix=())
    except ModelError:
        raise
    except Exception as error:  # h5py raises many kinds for odd files
        raise ModelError(f"{path.name}'s HDF5 structure cannot be read: {_first_line(error)}") from error
    config = config_layers(parse_config(raw, path.name, "model_config")) if raw is not None else []
    return Budget(config, weights, "model_config", "weights (model_weights)")


def refuse_links(root: Any, label: str) -> None:
    """Refuses an HDF5 file (or group) holding an external link, looking at its links without following any.

    Each group's links are read as links (``group.get(name, getlink=True)``: an ``h5py.HardLink``,
    ``SoftLink`` or ``ExternalLink``), and only hard links are descended: an external link would open another
    file of the host (and h5py's error would tell whether that path exists, is a folder or an HDF5 file), so
    it is refused naming only where it is in the model file. Soft links (paths inside the file) are left
    alone, never followed. At most :data:`MAX_H5_OBJECTS` links are looked at.

    Raises:
        ModelError: an external link (the message names its place in the file, nothing of its target), or
            more than :data:`MAX_H5_OBJECTS` links.
    """
    stack: list[tuple[str, Any]] = [("", root)]
    seen = 0
    while stack:
        where, group = stack.pop()
        for name in group:  # the link names of the group: nothing is resolved
            seen += 1
            if seen > MAX_H5_OBJECTS:
                raise ModelError(
                    f"{label} holds more than {MAX_H5_OBJECTS:,} HDF5 objects; a model's weights file "
                    "holds a few thousand at most. Refused."
                )
            link = group.get(name, getlink=True)
            place = f"{where}/{name}"
            if isinstance(link, h5py.ExternalLink):
                raise ModelError(
                    f"{label} holds an HDF5 external link at {place[:80]!r}, which points into another file; a "
                    "model file must hold its weights itself, so links to other files are refused without being "
                    "followed."
                )
            if isinstance(link, h5py.HardLink):
                target = group.get(name)
                if isinstance(target, h5py.Group):
                    stack.append((place, target))


def _h5_weights(source: Any, label: str, prefix: tuple[str, ...]) -> list[LayerSize]:
    """Every dataset's declared bytes, summed per top-level group (``layers/dense``), from metadata only."""
    try:
        h5 = h5py.File(source, "r") if not isinstance(source, h5py.Group) else None
    except OSError:  # not HDF5: nothing declared here; Keras's own reading refuses it (after these checks)
        return []
    root = h5 if h5 is not None else source
    try:
        refuse_links(root, label)
    except BaseException:
        if h5 is not None:
            h5.close()
        raise
    sums: dict[str, list] = {}
    seen = [0]

    def visit(name: str, obj: Any) -> None:
        seen[0] += 1
        if seen[0] > MAX_H5_OBJECTS:
            raise ModelError(
                f"{label} holds more than {MAX_H5_OBJECTS:,} HDF5 objects; a model's weights file "
                "holds a few thousand at most. Refused."
            )
        if not isinstance(obj, h5py.Dataset):
            return
        if obj.is_virtual or obj.id.get_create_plist().get_external_count():  # data kept in other files
            raise ModelError(
                f"{label} holds the dataset {name[:80]!r} whose data lie in other files (HDF5 external storage or a "
                "virtual dataset); a model file must hold its weights itself. Refused without reading them."
            )
        parts = name.split("/")
        group = "/".join(parts[:2]) if parts[0] in prefix and len(parts) > 2 else parts[0]
        shape = tuple(int(d) for d in (obj.shape or ()))
        count = math.prod(shape)
        entry = sums.setdefault(group, [0, 0, shape, str(obj.dtype)])
        entry[0] += count
        entry[1] += count * int(obj.dtype.itemsize)
        if count >= math.prod(entry[2]):
            entry[2], entry[3] = shape, str(obj.dtype)

    try:
        root.visititems(visit)
    except ModelError:
        raise
    except Exception as error:  # h5py raises many kinds for odd files
        raise ModelError(f"{label}'s HDF5 structure cannot be read: {_first_line(error)}") from error
    finally:
        if h5 is not None:
            h5.close()
    return [
        LayerSize(group, "weights", params, size, f"largest dataset {shape} {dtype}")
        for group, (params, size, shape, dtype) in sums.items()
    ]
