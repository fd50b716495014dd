"""Rebuilding the graph of models whose saved input does not fit featlib, at load time.

Two kinds of files load in Keras 3 with an input that featlib cannot feed:

* **A fixed batch size.** A model built by calling it on a batch of 2 (or from
  ``keras.Input(batch_shape=(2, 64))``) keeps ``batch_shape=(2, 64)``: its
  sub-models run, but ``keras.Function`` refuses any other batch size.
  :func:`free_batch_axis` rebuilds it from its config with the batch axis set
  to ``None`` and copies the weights, checking the outputs are unchanged.
* **Keras 2 Sequential ``.h5`` files** whose first layer carries
  ``batch_input_shape=[None, 64]`` without an ``InputLayer``: Keras 3 reads that
  list as the shape of one sample, so the input becomes ``(None, None, 64)``.
  :func:`keras2_input_layers` gives the path of a copy whose config starts with
  the ``InputLayer`` Keras 2 meant, which Keras 3 loads as ``(None, 64)``.
* **Keras 2.0 and 2.1 Sequential ``.h5`` files** store their layers as a bare list
  (``{"class_name": "Sequential", "config": [layer, ...]}``; Keras 2.2 made it
  ``{"name": ..., "layers": [...]}``), which Keras 3 cannot read at all. The same copy gets
  the later layout first, then the ``InputLayer``.

An ``.h5`` file that Keras still cannot read is explained by :func:`h5_problem`: which layer
of the file, of which class, with which settings, and which Keras wrote it.

Keras is imported lazily; the files were checked (:func:`featlib.models.check_h5`,
:func:`featlib.models.check_model_archive`) before anything here runs.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import featlib.models.scratch as scratch
from featlib.errors import ModelError
from featlib.lazy import h5py, keras
from featlib.models.checks import MODEL_CLASSES, layer_entries
from featlib.models.config import first_line, parse_config

if TYPE_CHECKING:
    import keras

# Config keys that hold a whole batch shape (batch axis first): InputLayer's, Keras 2's, Sequential's.
_BATCH_SHAPE_KEYS = ("batch_shape", "batch_input_shape", "build_input_shape")
# Layer settings of Keras 1 that Keras 2.0 renamed (output_dim → units, init → kernel_initializer, ...).
_KERAS1_SETTINGS = {
    "output_dim",
    "init",
    "inner_init",
    "W_regularizer",
    "b_regularizer",
    "W_constraint",
    "b_constraint",
    "border_mode",
    "nb_filter",
    "nb_row",
    "nb_col",
    "subsample",
    "dim_ordering",
    "input_dtype",
    "consume_less",
}
# Tolerance for "the rebuilt model computes the same outputs" (float32 rounding of the same graph).
_SAME_OUTPUTS = {"rtol": 1e-5, "atol": 1e-6}


# ----------------------------------------------------------------------------- fixed batch size


def fixed_batch_size(model: keras.Model) -> int | None:
    """The batch size fixed in ``model``'s input (``2`` for ``batch_shape=(2, 64)``), or None when it is free.

    Reads the first input only (featlib refuses models with several inputs before this).
    """
    try:
        inputs = list(model.inputs or [])
    except (AttributeError, ValueError):
        return None
    if not inputs or inputs[0].shape[0] is None:
        return None
    return int(inputs[0].shape[0])


def free_batch_axis(model: keras.Model, filename: str) -> keras.Model:
    """``model`` rebuilt with a free batch axis (``(None, 64)`` for ``(2, 64)``) and the same weights.

    The config (``model.to_json()``) has the first axis of every batch shape set to ``None``
    (``InputLayer`` ``batch_shape``, Sequential ``build_input_shape``, each layer's
    ``build_config``); the model is rebuilt from it in safe mode and given ``model``'s weights.
    The rebuilt model must compute, on a batch one larger than the fixed size, the same outputs
    as ``model`` on the fixed size (float32, random inputs in [0, 1)).

    Args:
        model: a loaded model whose input has a fixed batch size (:func:`fixed_batch_size`).
        filename: the file's name, for messages.

    Returns:
        A new model; ``model`` itself is returned when its batch axis is already free.

    Raises:
        featlib.models.ModelError: naming the fixed batch size, when the model holds stateful
            layers (they need that batch size), or cannot be rebuilt, or its rebuilt outputs differ.
    """
    batch = fixed_batch_size(model)
    if batch is None:
        return model
    config = json.loads(model.to_json())
    stateful = _stateful_layers(config)
    if stateful:
        raise ModelError(
            _fixed_batch_message(
                model,
                filename,
                batch,
                f"its layer(s) {stateful} are stateful and keep state for exactly that many images",
            )
        )
    _free_first_axes(config)
    try:
        rebuilt = keras.saving.deserialize_keras_object(config, safe_mode=True)
        _copy_weights(model, rebuilt)
        different = _different_outputs(model, rebuilt, batch)
    except Exception as error:  # Keras raises many types for a graph it cannot rebuild.
        different = f"rebuilding it failed: {first_line(error)}"
    if different:
        raise ModelError(_fixed_batch_message(model, filename, batch, different))
    return rebuilt


def _copy_weights(model: keras.Model, rebuilt: keras.Model) -> None:
    """Gives ``rebuilt`` (the same layers as ``model``) ``model``'s weights, as Keras restores a saved model.

    Through a ``.weights.h5`` file rather than ``set_weights``: loading runs each layer's
    ``load_own_variables``, which also refreshes state derived from the weights (an adapted
    ``Normalization`` keeps its mean as a tensor made when it was built).
    """
    with tempfile.TemporaryDirectory(prefix="featlib-rebuild-") as folder:
        path = Path(folder) / "model.weights.h5"
        model.save_weights(path)
        rebuilt.load_weights(path)


def _fixed_batch_message(model: keras.Model, filename: str, batch: int, why: str) -> str:
    shape = tuple(model.inputs[0].shape)
    return (
        f"{filename} was saved with a fixed batch size of {batch} (its input shape is {shape}), so it can only "
        f"read {batch} image(s) at a time, and featlib could not give it a free batch size: {why}. Expected a "
        f"model whose input has no batch size: rebuild it from keras.Input(shape={shape[1:]}) (not batch_shape, "
        "nor by calling an unbuilt model on one batch), copy its weights and save it again."
    )


def _stateful_layers(config: object) -> list[str]:
    """Names of the layers whose config says ``stateful: true``, anywhere in ``config``."""
    found = []
    if isinstance(config, dict):
        inner = config.get("config")
        if isinstance(inner, dict) and inner.get("stateful") is True:
            found.append(str(inner.get("name", config.get("class_name"))))
        for value in config.values():
            found += _stateful_layers(value)
    elif isinstance(config, list):
        for value in config:
            found += _stateful_layers(value)
    return found


def _free_first_axes(config: object) -> None:
    """Sets the batch axis of every batch shape in a model config to ``None``, in place."""
    if isinstance(config, dict):
        for key, value in config.items():
            if key in _BATCH_SHAPE_KEYS or key == "build_config":
                _free_shape(value)
            else:
                _free_first_axes(value)
    elif isinstance(config, list):
        for value in config:
            _free_first_axes(value)


def _free_shape(value: object) -> None:
    """``[2, 64]`` → ``[None, 64]`` in place; recurses into dicts and lists of shapes (``build_config``)."""
    if isinstance(value, list) and value and all(d is None or isinstance(d, int) for d in value):
        value[0] = None
    elif isinstance(value, dict):
        for item in value.values():
            _free_shape(item)
    elif isinstance(value, list):
        for item in value:
            _free_shape(item)


def _different_outputs(model: keras.Model, rebuilt: keras.Model, batch: int) -> str | None:
    """Why ``rebuilt`` on ``batch + 1`` random samples differs from ``model`` on the first ``batch``, or None.

    Not checked (None) when the sample shape has unknown sizes (there is no input to make).
    """
    sample = tuple(model.inputs[0].shape[1:])
    if any(d is None for d in sample):
        return None
    x = np.random.default_rng(0).random((batch + 1, *sample), dtype=np.float32)
    expected = [keras.ops.convert_to_numpy(t) for t in keras.tree.flatten(model(x[:batch], training=False))]
    got = [keras.ops.convert_to_numpy(t)[:batch] for t in keras.tree.flatten(rebuilt(x, training=False))]
    if len(expected) != len(got) or not all(np.allclose(a, b, **_SAME_OUTPUTS) for a, b in zip(expected, got)):
        return (
            f"the model rebuilt with a free batch size computes other outputs than the saved one on the same "
            f"{batch} inputs (expected equal outputs)"
        )
    return None


# ----------------------------------------------------------------------------- Keras 2 .h5 files


def keras2_sequential_fix(config: object) -> bool:
    """Adds the ``InputLayer`` a Keras 2 Sequential config implies, in place; True when something changed.

    Keras 2 stored a Sequential model's input as ``batch_input_shape=[None, 64]`` on its first
    layer, without an ``InputLayer`` entry; Keras 3 passes that list to the layer as the shape
    of one sample, so the model's input becomes ``(None, None, 64)``. This moves it to an
    ``InputLayer`` entry (named ``<first layer>_input``, as Keras 2 named it) in every
    Sequential config in ``config``, nested ones included. Configs that already start with an
    ``InputLayer`` are left as they are.

    Keras 2.0 and 2.1 wrote a Sequential config as the bare list of its layers; such a config
    is first given the layout of Keras 2.2 and later, ``{"name": ..., "layers": [...]}``.
    """
    changed = False
    if isinstance(config, dict):
        if config.get("class_name") == "Sequential" and isinstance(config.get("config"), list):
            changed |= _keras21_layout(config)
        if config.get("class_name") == "Sequential" and isinstance(config.get("config"), dict):
            changed |= _add_input_layer(config["config"])
        for value in config.values():
            changed |= keras2_sequential_fix(value)
    elif isinstance(config, list):
        for value in config:
            changed |= keras2_sequential_fix(value)
    return changed


def _keras21_layout(sequential: dict) -> bool:
    """A Keras 2.0/2.1 Sequential entry, ``{"class_name": "Sequential", "config": [layers]}``, given the later layout.

    The model's name is the entry's own ``name`` (a nested Sequential in a Keras 2.1 functional
    model has one) or ``sequential``, as Keras named it.
    """
    name = sequential.get("name") if isinstance(sequential.get("name"), str) else "sequential"
    sequential["config"] = {"name": name, "layers": sequential["config"]}
    return True


def _add_input_layer(sequential: dict) -> bool:
    """One Sequential config: moves its first layer's ``batch_input_shape`` to a new ``InputLayer``."""
    layers = sequential.get("layers")
    if not isinstance(layers, list) or not layers or not isinstance(layers[0], dict):
        return False
    first = layers[0]
    inner = first.get("config")
    if first.get("class_name") == "InputLayer" or not isinstance(inner, dict):
        return False
    shape = inner.get("batch_input_shape")
    if not isinstance(shape, list) or not shape:
        return False
    del inner["batch_input_shape"]
    dtype = inner.get("dtype") if isinstance(inner.get("dtype"), str) else "float32"
    names = {layer.get("config", {}).get("name") for layer in layers if isinstance(layer, dict)}
    name = f"{inner.get('name', 'layer')}_input"
    while name in names:
        name += "_"
    layers.insert(
        0,
        {
            "class_name": "InputLayer",
            "config": {"batch_input_shape": shape, "dtype": dtype, "sparse": False, "ragged": False, "name": name},
        },
    )
    return True


@contextlib.contextmanager
def keras2_input_layers(path: str | Path) -> Iterator[Path]:
    """The path to load: ``path`` itself, or a temporary copy whose config :func:`keras2_sequential_fix` fixed.

    Only ``.h5`` files are read (other paths are yielded as they are); the copy, with the same
    suffix, is removed when the ``with`` block ends. The weights are untouched: Keras 3 loads
    them by the order of the layers that hold weights, which an ``InputLayer`` does not change.

    Raises:
        featlib.models.ModelError: the file's config is not readable JSON (as :func:`featlib.models.check_h5`).
    """
    path = Path(path)
    config = _h5_config(path) if path.suffix.lower() in (".h5", ".hdf5") else None
    if config is None or not keras2_sequential_fix(config):
        yield path
        return
    with scratch.folder(prefix="featlib-keras2-") as folder:  # removed even when the process is killed
        copy = Path(folder) / f"model{path.suffix.lower()}"
        shutil.copyfile(path, copy)
        with h5py.File(copy, "r+") as h5:
            h5.attrs["model_config"] = json.dumps(config)
        yield copy


def _h5_config(path: Path) -> object:
    """The parsed ``model_config`` of an ``.h5`` file, or None when it has none."""
    try:
        with h5py.File(path, "r") as h5:
            raw = h5.attrs.get("model_config")
    except OSError as error:
        raise ModelError(f"{path.name} is not a readable HDF5 (.h5) file: {error}") from error
    return None if raw is None else parse_config(raw, path.name, "model_config")


# ----------------------------------------------------------------------------- .h5 files Keras cannot read


def h5_problem(path: str | Path) -> str | None:
    """What in the ``.h5`` file ``path`` keeps Keras 3 from reading it, in featlib's words, or None when nothing is found.

    Looked at after Keras failed on the file (the upload checks passed before): the model config's
    structure (a model class, a list of layers), then each layer built alone from its settings. A
    layer that fails is named with its class, its place in the file's config and the settings its
    Keras 3 class does not take (Keras 1 names such as ``output_dim`` or ``init``); the Keras
    version the file says wrote it follows.

    Raises:
        featlib.models.ModelError: the file is not readable HDF5 or its config is not JSON.
    """
    path = Path(path)
    config = _h5_config(path)
    if config is None:
        return None
    version = _keras_version(path)
    written = f" (the file says Keras {version} wrote it)" if version else ""
    if not isinstance(config, dict) or config.get("class_name") not in MODEL_CLASSES:
        found = config.get("class_name") if isinstance(config, dict) else type(config).__name__
        return (
            f"its model_config describes {found!r}, not a whole Keras model (expected class_name "
            f"{' or '.join(MODEL_CLASSES)}; a subclassed model's .h5 file holds no config Keras can rebuild){written}"
        )
    layers = config.get("config")
    layers = layers.get("layers") if isinstance(layers, dict) else layers
    if not isinstance(layers, list):
        return (
            f"its model_config holds no list of layers (expected config.layers, or the bare list of layers "
            f"Keras 2.0 and 2.1 wrote for a Sequential model){written}"
        )
    for where, entry in layer_entries(config):
        if entry["class_name"] in MODEL_CLASSES:
            continue
        problem = _layer_problem(entry)
        if problem:
            name = entry.get("config", {}).get("name") if isinstance(entry.get("config"), dict) else None
            name = name or entry.get("name")
            return f"its layer {name!r} ({entry['class_name']}, at {where}) {problem}{written}"
    if version.startswith("1."):
        return f"it was written by Keras {version}, whose model files Keras 3 cannot read"
    return None


def _keras_version(path: Path) -> str:
    """The ``keras_version`` attribute of an ``.h5`` file (root, else ``model_weights``), or ``""``."""
    try:
        with h5py.File(path, "r") as h5:
            raw = h5.attrs.get("keras_version")
            if raw is None and isinstance(h5.get("model_weights"), h5py.Group):
                raw = h5["model_weights"].attrs.get("keras_version")
    except (OSError, KeyError, ValueError):
        return ""
    raw = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    return str(raw)[:40] if isinstance(raw, str) else ""


def _layer_problem(entry: dict) -> str | None:
    """Why one layer entry cannot be built from its settings by its Keras 3 class, or None when it can."""
    class_name = entry["class_name"]
    layer_class = getattr(keras.layers, class_name, None)
    if not isinstance(layer_class, type) or not issubclass(layer_class, keras.layers.Layer):
        return "names a class that is not one of Keras's own layers"
    settings = entry.get("config")
    if not isinstance(settings, dict):
        return f"holds no settings (expected a dict of {class_name}'s settings, got {type(settings).__name__})"
    unknown = sorted(set(settings) - _accepted_settings(layer_class))
    settings = copy.deepcopy(settings)
    if class_name != "InputLayer":
        settings.pop("batch_input_shape", None)  # the model's input, which Keras 3 reads from the InputLayer
    try:
        layer_class.from_config(settings)
    except Exception as error:  # Keras raises many types for settings it cannot use.
        if unknown:
            more = f" and {len(unknown) - 8} more" if len(unknown) > 8 else ""
            why = (
                "expected the settings of Keras 2.0 or later: Keras 1 named them otherwise, e.g. output_dim and "
                "init, which Keras 2 renamed units and kernel_initializer"
                if set(unknown) & _KERAS1_SETTINGS
                else f"expected the settings Keras 3's {class_name} takes"
            )
            return f"has settings that Keras 3's {class_name} does not take: {', '.join(unknown[:8])}{more} ({why})"
        return f"cannot be built from its settings: {first_line(error)}"
    return None


def _accepted_settings(layer_class: type) -> set[str]:
    """The setting names ``layer_class`` takes: its ``__init__``'s, the base layer's, and the input shapes."""
    names = {"input_shape", "batch_input_shape", "input_dim"}
    for cls in (layer_class, keras.layers.Layer):
        try:
            names |= set(inspect.signature(cls.__init__).parameters)
        except (TypeError, ValueError):
            continue
    return names
