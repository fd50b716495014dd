"""The checks of an uploaded model file before Keras reads it: size, archive members, code layers, SavedModels.

One check needs Keras's list of its own layers, so it runs once Keras is to read the file anyway:
:func:`check_layer_classes` refuses a layer class that Keras does not define (a custom layer).
"""

from __future__ import annotations

import builtins
import zipfile
from collections.abc import Iterator
from pathlib import Path

from featlib import archives
from featlib.datasets import UPLOAD_LIMIT_ENV, upload_limit_bytes
from featlib.errors import ModelError
from featlib.lazy import h5py, keras
from featlib.models.config import parse_config


def __getattr__(name: str) -> int:
    """``MAX_MODEL_BYTES``: the largest model file in bytes, ``$FEATLIB_MAX_UPLOAD_MB`` MiB (200 by default), read now.

    Raises:
        featlib.errors.SettingError: the setting holds no positive number of MiB.
    """
    if name == "MAX_MODEL_BYTES":
        return upload_limit_bytes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


MAX_MODEL_INFLATED_BYTES = 1024 * 1024 * 1024
KERAS_FILES = ("config.json", "metadata.json", "model.weights.h5", "model.weights.npz")
"""The files Keras 3 writes at the top of a ``.keras`` archive (``keras/src/saving/saving_lib.py``: the config,
the metadata, the weights as HDF5 or, with ``weights_format="npz"``, NumPy); everything else it writes lies
under ``assets/`` (the vocabularies of lookup and text layers)."""
ASSETS_FOLDER = "assets/"
MAX_ASSET_MEMBERS = 64
"""The most ``assets/`` members a ``.keras`` file may hold (a lookup or text layer saves one vocabulary file)."""
MAX_KERAS_MEMBERS = 3 + MAX_ASSET_MEMBERS
"""The most members a ``.keras`` archive may hold: the config, the metadata, one weights file (Keras writes
``model.weights.h5`` or ``model.weights.npz``) and :data:`MAX_ASSET_MEMBERS` assets.
Keras extracts every member of an archive with assets to a temporary folder before it loads it: 200,000
members took 52 s and 200,000 inodes."""
# Layers and serialized objects that carry arbitrary Python code; refused in
# uploads even where the format would load them.
_CODE_LAYERS = {"Lambda", "TFOpLambda", "SlicingOpLambda", "__lambda__"}
# The Keras namespaces whose functions a model config may name (activations,
# losses, ...); functions from any other namespace (keras.utils.get_file,
# keras.config.enable_unsafe_deserialization, ...) are not part of a model.
_MODELING_NAMESPACES = {
    "activations",
    "losses",
    "metrics",
    "ops",
    "nn",
    "numpy",
    "image",
    "math",
    "linalg",
    "initializers",
    "regularizers",
    "constraints",
    "optimizers",
    "schedules",
}
MODEL_CLASSES = ("Sequential", "Functional", "Model")
"""The class names of a whole Keras model in a config (Keras 2 wrote ``Model``, Keras 3 writes ``Functional``)."""
# Keys of a layer's settings that hold whole inner layers: wrappers (TimeDistributed, Bidirectional) and RNNs.
_INNER_LAYER_KEYS = ("layer", "forward_layer", "backward_layer", "cell")
# Layers of Keras 2 that Keras 3 no longer has, and what Keras 3 has in their place.
_KERAS2_ONLY_LAYERS = {
    "CuDNNLSTM": "keras.layers.LSTM",
    "CuDNNGRU": "keras.layers.GRU",
    "ThresholdedReLU": "keras.layers.ReLU(threshold=...)",
    "LocallyConnected1D": "keras.layers.Conv1D",
    "LocallyConnected2D": "keras.layers.Conv2D",
    "DenseFeatures": "keras.layers.Concatenate of the features",
}
# What Keras has in place of some well-known custom layers (keras_contrib's, first).
_BUILT_IN_FOR = {
    "InstanceNormalization": "keras.layers.GroupNormalization(groups=-1), which computes the same",
    "GroupNormalization": "keras.layers.GroupNormalization",
    "LayerNormalization": "keras.layers.LayerNormalization",
}
_SAVEDMODEL_FILES = ("saved_model.pb", "saved_model.pbtxt")
_SAVEDMODEL_REASON = (
    "TensorFlow SavedModels are refused: loading one runs the TensorFlow graph stored in it, which "
    "featlib cannot inspect. Re-save the model in Keras 3 format, e.g. model.save('model.keras')."
)


def check_model_archive(path: str | Path) -> None:
    """Refuses a ``.keras`` file that is not a zip, is a zip bomb, is a SavedModel or holds code.

    ``keras.saving.load_model(..., safe_mode=True)`` already refuses
    ``Lambda`` layers; this check runs first so that no part of a hostile
    archive is inflated beyond ``config.json`` and the message names the reason.
    """
    path = Path(path)
    _check_size(path)
    if not zipfile.is_zipfile(path):
        raise ModelError(
            f"{path.name} is not a Keras 3 .keras file (a .keras file is a zip archive); "
            "it may be truncated or another format."
        )
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _refuse_savedmodel_zip(members, path.name)
            inflated, packed = archives.declared_sizes(members)
            if archives.is_bomb(inflated, packed, MAX_MODEL_INFLATED_BYTES):
                raise ModelError(
                    f"{path.name} would inflate to {inflated:,} bytes from {packed:,} (ratio "
                    f"{inflated / packed:,.0f}x); the limits are {MAX_MODEL_INFLATED_BYTES:,} bytes "
                    f"and {archives.BOMB_MAX_RATIO}x above {archives.BOMB_MIN_BYTES:,} bytes: "
                    "refusing a possible zip bomb."
                )
            check_keras_member_count(len(members), path.name)
            names = {m.filename for m in members}
            if "config.json" not in names:
                raise ModelError(
                    f"{path.name} has no config.json; it is not a Keras 3 model file (members: {sorted(names)[:10]})."
                )
            _refuse_foreign_members(names, path.name)
            raw = archive.read("config.json")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError) as error:
        raise ModelError(f"{path.name} is a damaged zip archive: {error}") from error
    config = parse_config(raw, path.name, "config.json")
    _refuse_code_layers(config, path.name)


def check_keras_member_count(count: int, filename: str) -> None:
    """Refuses a ``.keras`` archive of more than :data:`MAX_KERAS_MEMBERS` members, before anything is extracted.

    Raises:
        ModelError: naming the count, the bound and what a Keras 3 model file holds.
    """
    if count > MAX_KERAS_MEMBERS:
        raise ModelError(
            f"{filename} holds {count:,} members; a Keras 3 .keras file holds {', '.join(KERAS_FILES[:3])} "
            f"and at most {MAX_ASSET_MEMBERS} files under {ASSETS_FOLDER} ({MAX_KERAS_MEMBERS} members in all). "
            "Refused before anything was extracted."
        )


def _refuse_foreign_members(names: set[str], filename: str) -> None:
    """Refuses members Keras never writes (anything but :data:`KERAS_FILES` and ``assets/...``)."""
    foreign = sorted(n for n in names if n not in KERAS_FILES and not n.startswith(ASSETS_FOLDER))
    if foreign:
        shown = ", ".join(repr(n[:60]) for n in foreign[:5])
        raise ModelError(
            f"{filename} holds {len(foreign):,} member(s) that Keras 3 never writes ({shown}); a .keras file holds "
            f"{', '.join(KERAS_FILES)} or files under {ASSETS_FOLDER}. Refused before anything was extracted."
        )


def check_h5(path: str | Path) -> None:
    """Refuses a legacy ``.h5`` model whose stored config holds code or non-Keras objects."""
    path = Path(path)
    _check_size(path)
    try:
        with h5py.File(path, "r") as h5:
            raw = h5.attrs.get("model_config")
    except OSError as error:
        raise ModelError(f"{path.name} is not a readable HDF5 (.h5) file: {error}") from error
    if raw is None:
        raise ModelError(f"{path.name} holds weights only (no model_config); upload a whole model.")
    config = parse_config(raw, path.name, "model_config")
    _refuse_code_layers(config, path.name)


def check_savedmodel(path: str | Path) -> None:
    """Refuses a SavedModel folder or a zip of one, naming the reason; other files pass."""
    path = Path(path)
    if path.is_dir():
        found = [name for name in _SAVEDMODEL_FILES if (path / name).exists()]
        what = f"a TensorFlow SavedModel folder (it holds {found[0]})" if found else "a folder"
        raise ModelError(f"{path.name} is {what}, not a model file. {_SAVEDMODEL_REASON}")
    if path.is_file() and zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as archive:
                _refuse_savedmodel_zip(archive.infolist(), path.name)
        except (zipfile.BadZipFile, OSError) as error:
            raise ModelError(f"{path.name} is a damaged zip archive: {error}") from error


def _refuse_savedmodel_zip(members: list[zipfile.ZipInfo], filename: str) -> None:
    found = [m.filename for m in members if m.filename.rsplit("/", 1)[-1] in _SAVEDMODEL_FILES]
    if found:
        raise ModelError(
            f"{filename} is a zipped TensorFlow SavedModel (it holds {found[0]}), not a Keras 3 "
            f".keras file. {_SAVEDMODEL_REASON}"
        )


def _check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise ModelError(f"No such model file: {str(path)!r}.") from None
    if size == 0:
        raise ModelError(f"The model file {path.name} is empty (0 bytes); expected a .keras or .h5 model.")
    if size > upload_limit_bytes():
        raise ModelError(too_big_message(path.name, size))


def too_big_message(filename: str, size: int) -> str:
    """The message for a model file over ``MAX_MODEL_BYTES``."""
    return (
        f"The model file {filename} is {size:,} bytes; model files are limited to {upload_limit_bytes():,} "
        f"bytes (MAX_MODEL_BYTES; raise it with {UPLOAD_LIMIT_ENV})."
    )


def _refuse_code_layers(config: object, filename: str) -> None:
    """Refuses code layers and any object that is not Keras's own, naming where it is."""
    try:
        objects = list(_config_objects(config, ""))
    except RecursionError:
        raise ModelError(f"{filename} has a model config nested too deeply to check; refused.") from None
    found = sorted({obj["class_name"] for _, obj in objects} & _CODE_LAYERS)
    if found:
        what = [f"{name} layer(s)" for name in found if name != "__lambda__"]
        what += ["a serialized Python lambda (__lambda__)"] if "__lambda__" in found else []
        raise ModelError(
            f"{filename} contains {' and '.join(what)}, which can run arbitrary Python code; "
            "featlib refuses to load them. Rebuild the model without Lambda layers or lambdas."
        )
    for where, obj in objects:
        where = where or "the top level"
        problem = _foreign_object(obj)
        if problem:
            raise ModelError(
                f"{filename} names {problem} in its config (at {where}); featlib loads only Keras's own "
                "layers and modeling functions, since any other callable named in a model file can run "
                "as code. Rebuild the model from Keras layers only."
            )


def _foreign_object(obj: dict) -> str | None:
    """Describes what is wrong with one serialized object, or None when it is Keras's own."""
    class_name, module = obj["class_name"], obj.get("module")
    registered = obj.get("registered_name")
    if isinstance(registered, str) and ">" in registered:
        return f"the custom registered object {registered!r} (not part of Keras)"
    if module is None:
        return None
    if not isinstance(module, str):
        return f"an object with a non-text module {module!r}"
    function = class_name == "function" or class_name[:1].islower()
    name = obj.get("config") if class_name == "function" else class_name
    name = name if isinstance(name, str) else str(registered or class_name)
    top, *rest = module.split(".")
    if top == "builtins":
        if not function:
            return f"builtins.{class_name} (expected a Keras function name)"
        if hasattr(builtins, name):
            return f"the Python builtin {name} (builtins.{name})"
        return None
    if top != "keras":
        return f"{module}.{name} (module {module!r} is not part of Keras)"
    if function and not _MODELING_NAMESPACES & set(rest):
        return f"{module}.{name} (a Keras utility, not a layer or modeling function)"
    return None


def _config_objects(config: object, where: str):
    """Yields ``(path, dict)`` for every serialized object (a dict with a text class_name)."""
    if isinstance(config, dict):
        if isinstance(config.get("class_name"), str):
            yield where, config
        for key, value in config.items():
            yield from _config_objects(value, f"{where}.{key}" if where else str(key))
    elif isinstance(config, list):
        for i, value in enumerate(config):
            yield from _config_objects(value, f"{where}[{i}]")


def check_layer_classes(path: str | Path) -> None:
    """Refuses a ``.keras`` or ``.h5`` model whose config names a layer class that Keras does not define.

    Every layer entry is looked at (nested models' layers, wrappers' and RNNs' inner layers, the bare
    list of a Keras 2.0/2.1 Sequential), whatever its ``module``: its class must be a layer of
    ``keras.layers`` or a model (:data:`MODEL_CLASSES`). A custom layer class (keras_contrib's
    ``InstanceNormalization``, a model script's own) is code the file only names; Keras would ask for
    it to be loaded, and featlib loads only Keras's own layers. Files the other checks refuse, or
    without a config, pass here. Imports Keras (its list of layers); run it right before Keras reads the file.

    Raises:
        ModelError: naming the class, the layer and where it is in the config, why it is refused and
            what to do (re-save the model with built-in layers).
    """
    path = Path(path)
    config = _stored_config(path)
    if config is None:
        return
    known = _keras_layer_classes()
    try:
        entries = list(layer_entries(config))
    except RecursionError:
        raise ModelError(f"{path.name} has a model config nested too deeply to check; refused.") from None
    for where, entry in entries:
        class_name = entry["class_name"]
        if class_name in known:
            continue
        settings = entry.get("config")
        name = (settings.get("name") if isinstance(settings, dict) else None) or entry.get("name")
        layer = (
            f"layer {name!r}, at {where or 'the top level'}"
            if isinstance(name, str)
            else f"at {where or 'the top level'}"
        )
        if class_name in _KERAS2_ONLY_LAYERS:
            raise ModelError(
                f"{path.name} uses the layer class {class_name!r} ({layer}), a Keras 2 layer that Keras 3 no "
                f"longer has, so featlib cannot build it. Expected a model made of Keras 3 layers: rebuild it with "
                f"{_KERAS2_ONLY_LAYERS[class_name]} in its place, copy the weights and save it again."
            )
        instead = _BUILT_IN_FOR.get(class_name)
        hint = f" (for {class_name}: {instead})" if instead else ""
        raise ModelError(
            f"{path.name} uses the layer class {class_name!r} ({layer}), which is not one of Keras's own layers. "
            "A custom layer class is Python code (from a library such as keras_contrib, or the script that made "
            "the model) that the file only names; featlib loads only Keras's own layers and never loads such "
            f"code. Expected a model made of built-in Keras layers: rebuild it with a built-in layer in place of "
            f"{class_name}{hint}, copy the weights and save it again."
        )


def layer_entries(config: object, where: str = "") -> Iterator[tuple[str, dict]]:
    """``(place, entry)`` for a model config's top entry and every layer entry in it, at any depth.

    A layer entry is a dict with a text ``class_name``: the top one, the items of a model's ``layers``
    (or of the bare list Keras 2.0 and 2.1 wrote for a Sequential), a wrapper's or RNN's inner layer
    (:data:`_INNER_LAYER_KEYS`) and the items of ``cells``. Other serialized objects (initializers,
    regularizers, dtype policies) are not layers and are not yielded.
    """
    stack: list[tuple[str, object]] = [(where, config)]
    while stack:
        place, entry = stack.pop()
        if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
            continue
        yield place, entry
        settings = entry.get("config")
        children: list[tuple[str, object]] = []
        if isinstance(settings, list):  # a Keras 2.0/2.1 Sequential: the bare list of its layers
            children += [(_joined(place, f"config[{i}]"), item) for i, item in enumerate(settings)]
        elif isinstance(settings, dict):
            for key in ("layers", "cells"):
                if isinstance(settings.get(key), list):
                    children += [(_joined(place, f"config.{key}[{i}]"), item) for i, item in enumerate(settings[key])]
            children += [
                (_joined(place, f"config.{key}"), settings[key]) for key in _INNER_LAYER_KEYS if key in settings
            ]
        stack.extend(reversed(children))


def _joined(place: str, step: str) -> str:
    return f"{place}.{step}" if place else step


def _keras_layer_classes() -> set[str]:
    """The class names Keras builds from a config by itself: ``keras.layers``' layers and the model classes."""
    names = set(MODEL_CLASSES)
    for name, value in vars(keras.layers).items():
        if isinstance(value, type) and issubclass(value, keras.layers.Layer):
            names.add(name)
    return names


def _stored_config(path: Path) -> object:
    """The parsed config of a ``.keras`` (``config.json``) or ``.h5`` (``model_config``) file, or None when unreadable."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".keras":
            with zipfile.ZipFile(path) as archive:
                raw = archive.read("config.json")
            return parse_config(raw, path.name, "config.json")
        if suffix in (".h5", ".hdf5"):
            with h5py.File(path, "r") as h5:
                raw = h5.attrs.get("model_config")
            return None if raw is None else parse_config(raw, path.name, "model_config")
    except (KeyError, OSError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError):
        return None
    return None
