"""A job's result as arrays and JSON values, for the workspace (:meth:`featlib.store.Workspace.save_result`).

The results that are not representations or maps (predictions, a map's figures, CKA, prediction depth, the
neighbours two representations share) are stored so that a restarted server, the CLI or another session
finds them, instead of running the job again. They are written as ``.npz`` arrays with no pickles and JSON
values, and read back only into the types named here: nothing in a stored result is ever run or imported.

- an array: itself;
- a tuple of arrays (predictions: labels and probabilities): each array;
- a dict of figures (:func:`featlib.metrics.layer_metrics`): numbers, text and lists as JSON,
  :class:`featlib.metrics.NotAvailable` figures as their reason, arrays beside them;
- a dataclass of :data:`DATACLASSES` (:class:`featlib.maps.neighbour_change.NeighbourChange`): its fields.

Example:
    >>> import numpy as np
    >>> arrays, values = encode((np.arange(3), np.ones(3, "float32")))
    >>> labels, probabilities = decode(arrays, values)
    >>> labels.tolist(), probabilities.dtype.name
    ([0, 1, 2], 'float32')
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from featlib.maps.neighbour_change import NeighbourChange
from featlib.maps.placed_map import PlacedMap
from featlib.maps.seed_stability import SeedStability
from featlib.maps.units import UnitRanking, UnitStats
from featlib.metrics import NotAvailable

DATACLASSES: dict[str, type] = {
    "NeighbourChange": NeighbourChange,
    "PlacedMap": PlacedMap,
    "SeedStability": SeedStability,
    "UnitStats": UnitStats,
    "UnitRanking": UnitRanking,
}
"""The dataclasses a stored result may be read back into, by name; their fields are arrays and JSON values."""


def encode(result: Any) -> tuple[dict[str, np.ndarray], dict] | None:
    """``(arrays, values)`` for :meth:`featlib.store.Workspace.save_result`, or ``None`` for a result of a kind
    not stored (it stays in the job manager's memory only).

    Args:
        result: an ``np.ndarray``, a tuple of arrays, a dict of figures or a dataclass of :data:`DATACLASSES`.
    """
    if isinstance(result, np.ndarray) and result.dtype != object:
        return {"value": result}, {"type": "array"}
    if isinstance(result, tuple) and result and all(_is_array(part) for part in result):
        return {str(i): part for i, part in enumerate(result)}, {"type": "tuple", "n": len(result)}
    if isinstance(result, dict) and all(isinstance(name, str) for name in result):
        return _encode_fields(result, "figures")
    if dataclasses.is_dataclass(result) and type(result).__name__ in DATACLASSES:
        fields = {field.name: getattr(result, field.name) for field in dataclasses.fields(result)}
        found = _encode_fields(fields, "dataclass")
        if found is not None:
            found[1]["class"] = type(result).__name__
        return found
    return None


def decode(arrays: dict[str, np.ndarray], values: dict) -> Any:
    """The result :func:`encode` was given, from what it returned.

    Raises:
        ValueError: ``values`` does not say a type :func:`encode` writes (a file written by something else).
    """
    kind = values.get("type")
    if kind == "array":
        return arrays["value"]
    if kind == "tuple":
        return tuple(arrays[str(i)] for i in range(int(values["n"])))
    if kind == "figures":
        return _decode_fields(arrays, values)
    if kind == "dataclass" and values.get("class") in DATACLASSES:
        return DATACLASSES[values["class"]](**_decode_fields(arrays, values))
    raise ValueError(f"A stored result must be one featlib writes; this one says it is {kind!r}.")


def _is_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype != object


def _encode_fields(fields: dict[str, Any], kind: str) -> tuple[dict[str, np.ndarray], dict] | None:
    arrays: dict[str, np.ndarray] = {}
    plain: dict[str, Any] = {}
    missing: dict[str, dict] = {}
    for name, value in fields.items():
        if _is_array(value):
            arrays[name] = value
        elif isinstance(value, NotAvailable):
            missing[name] = {"metric": value.metric, "reason": value.reason}
        elif isinstance(value, np.generic):
            plain[name] = value.item()
        elif _is_json(value):
            plain[name] = value
        else:
            return None  # something this module does not write: the result is not stored
    return arrays, {"type": kind, "values": plain, "not_available": missing}


def _decode_fields(arrays: dict[str, np.ndarray], values: dict) -> dict[str, Any]:
    fields: dict[str, Any] = dict(values.get("values", {}))
    fields.update(arrays)
    for name, found in values.get("not_available", {}).items():
        fields[name] = NotAvailable(found["metric"], found["reason"])
    return fields


def _is_json(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(name, str) and _is_json(item) for name, item in value.items())
    return False
