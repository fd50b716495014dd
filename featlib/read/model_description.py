"""What a page needs of a saved model before Keras is loaded: its layers' output shapes and its default layer.

A restarted server imports TensorFlow for 5-7 s on two cores; a stored map needs none of it, only the keys of
what is stored, which depend on the layer's name and how it is read (:func:`featlib.read.reductions.for_layer`,
from its output shape). The first time the server loads a model it records its :class:`ModelDescription` in the
model's record (``meta["description"]``, :func:`record_description`), so that later its Explore page draws the
stored map while Keras loads behind it (:mod:`featlib.app.stored_map`; issue 24, item 2).

A description is read back strictly (:meth:`ModelDescription.from_json`): one that is not what this module writes
is not used, and the page waits for Keras as without it.

Example:
    >>> described = ModelDescription((LayerShape("dense", (128,)), LayerShape("dense_1", (64,))), "dense_1")
    >>> ModelDescription.from_json(described.to_json()) == described
    True
    >>> described.representation("dense_1").units
    64
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from featlib import models
from featlib.errors import ModelError
from featlib.read import reductions
from featlib.store import WorkspaceError

if TYPE_CHECKING:
    import keras

    from featlib.store import ModelRecord, Workspace

META_KEY = "description"
"""The key of a model record's meta that holds its description."""
VERSION = 1
"""The version of the description's JSON form; another is not read."""


@dataclass(frozen=True)
class LayerShape:
    """One layer: its name, its output shape per image (no batch axis; a size may be ``None``) and whether its
    channels come first (:func:`featlib.read.reductions.channels_first`)."""

    name: str
    shape: tuple[int | None, ...]
    channels_first: bool = False


@dataclass(frozen=True)
class ModelDescription:
    """A model's layers with single outputs, in order, and its default layer (:func:`featlib.models.default_layer`)."""

    layers: tuple[LayerShape, ...]
    default_layer: str

    def names(self) -> list[str]:
        """The layers' names, in the model's order."""
        return [layer.name for layer in self.layers]

    def representation(self, layer: str, choice: str = reductions.AUTO) -> reductions.Representation:
        """How ``layer`` is read under the reduction ``choice``, as :func:`featlib.read.reductions.for_layer` reads
        it from the loaded model (non-strict: a layer without spatial axes is flattened whatever ``choice`` says).

        Raises:
            ModelError: no layer of that name (naming the layers).
            ReductionError: an unknown ``choice``.
        """
        for each in self.layers:
            if each.name == layer:
                return reductions.for_shape(layer, each.shape, each.channels_first, choice, strict=False)
        raise ModelError(f"No layer named {layer!r} in the model's description; its layers: {self.names()}.")

    def to_json(self) -> dict[str, Any]:
        """The JSON form kept in the record: ``{"version", "default_layer", "layers": [[name, shape, first], ...]}``."""
        return {
            "version": VERSION,
            "default_layer": self.default_layer,
            "layers": [[each.name, list(each.shape), each.channels_first] for each in self.layers],
        }

    @classmethod
    def from_json(cls, document: Any) -> ModelDescription | None:
        """The description :meth:`to_json` wrote, or ``None`` for anything else (another version, a wrong type)."""
        if not isinstance(document, Mapping) or document.get("version") != VERSION:
            return None
        layers, default = document.get("layers"), document.get("default_layer")
        if not isinstance(layers, list) or not isinstance(default, str):
            return None
        found = []
        for row in layers:
            if not (isinstance(row, list) and len(row) == 3 and isinstance(row[0], str) and isinstance(row[1], list)):
                return None
            name, shape, first = row
            if not all(d is None or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in shape):
                return None
            if not isinstance(first, bool):
                return None
            found.append(LayerShape(name, tuple(shape), first))
        described = cls(tuple(found), default)
        return described if default in described.names() else None


def describe(model: keras.Model) -> ModelDescription:
    """The description of a loaded model: each layer with a single output (others are left out) and the default
    layer.

    Raises:
        ModelError: the model has no layers (:func:`featlib.models.default_layer`).
    """
    layers = []
    for layer in model.layers:
        try:
            shape = reductions.output_shape(model, layer.name)
        except ModelError:  # several outputs: never read by name
            continue
        layers.append(LayerShape(layer.name, shape, reductions.channels_first(model, layer.name)))
    return ModelDescription(tuple(layers), models.default_layer(model))


def of_record(record: ModelRecord) -> ModelDescription | None:
    """The description kept in ``record`` (:func:`record_description`), or ``None`` when it has none or another."""
    return ModelDescription.from_json(record.meta.get(META_KEY))


def record_description(workspace: Workspace, record: ModelRecord, model: keras.Model) -> ModelDescription | None:
    """Keeps ``model``'s description in ``record`` when it has none yet; the description, or ``None`` when the model
    cannot be described (no layers) or its record was deleted meanwhile.

    ``model`` is the loaded model of ``record`` (the server's, loaded once per process). Nothing else of the record
    changes (:meth:`featlib.store.Workspace.merge_model_meta`).
    """
    found = of_record(record)
    if found is not None:
        return found
    try:
        described = describe(model)
        workspace.merge_model_meta(record.id, {META_KEY: described.to_json()})
    except (ModelError, WorkspaceError):
        return None
    return described
