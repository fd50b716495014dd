"""What the workspace lists (models, items), the kinds of items, and its errors."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

ARRAY_KINDS = ("representation", "embedding")
ITEM_KINDS = ("model", "dataset") + ARRAY_KINDS


class WorkspaceError(LookupError):
    """An item the workspace does not hold."""


class NameClashError(ValueError):
    """A rename to a name another item of the same kind already has."""


class InUseError(ValueError):
    """A delete refused because other items were made from the item."""


@dataclass(frozen=True)
class Item:
    """One entry of the workspace listing (a model, dataset upload, representation or map)."""

    kind: str  # one of ITEM_KINDS
    id: str  # model id, dataset fingerprint, or array key
    name: str
    creator: str
    created: str
    made_from: str  # one line: dataset, layer, method, ...
    parameters: dict
    bytes: int
    test_accuracy: float | None
    knn_accuracy: float | None
    note: str
    model_id: str | None
    provenance: dict


@dataclass(frozen=True)
class ModelRecord:
    """One saved model as listed in the index."""

    id: str
    name: str
    dataset: str
    architecture: str
    test_accuracy: float | None
    input_scale: str
    fingerprint: str
    path: str
    created: str
    meta: dict
    creator: str = ""
    note: str = ""

    @property
    def label(self) -> str:
        """A one-line label for pickers: name, dataset, accuracy."""
        acc = "" if self.test_accuracy is None else f", test acc {self.test_accuracy:.3f}"
        return f"{self.name} ({self.dataset}{acc})"

    @property
    def measured_on(self) -> str:
        """Where ``test_accuracy`` was measured: ``"Fashion t10k, test split, 10,000 images"``.

        Records made before the split and image count were kept name the
        dataset and the test split, which is where every accuracy was measured then.
        """
        return self.where_measured(self.dataset)

    def where_measured(self, dataset_title: str) -> str:
        """:attr:`measured_on` with the dataset named ``dataset_title`` (a name told apart from its namesakes)."""
        n = self.meta.get("n_images")
        return f"{dataset_title}, {self.meta.get('split', 'test')} split" + (f", {n:,} images" if n else "")

    @property
    def scored_output(self) -> str:
        """For a model with several outputs, the one its accuracy and predicted labels come from, and the others.

        ``"output head_a, 10-way; other outputs: head_b (1 unit)"`` from ``meta["output"]`` and
        ``meta["outputs"]`` (kept on upload); ``""`` for a model with one output.
        """
        outputs = [o for o in self.meta.get("outputs") or [] if isinstance(o, dict)]
        chosen = self.meta.get("output")
        if len(outputs) < 2 or chosen is None:
            return ""
        width = next((o.get("width") for o in outputs if o.get("name") == chosen), None)
        others = [f"{o.get('name')} ({_units(o.get('width'))})" for o in outputs if o.get("name") != chosen]
        return f"output {chosen}" + (f", {width}-way" if width else "") + f"; other outputs: {', '.join(others)}"

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "ModelRecord":
        """The record of a ``models`` row."""
        values = dict(row)
        values["meta"] = json.loads(values["meta"] or "{}")
        return cls(**values)


def _units(width: object) -> str:
    """``"1 unit"``, ``"10 units"``, or ``"size not fixed"`` for an output without a fixed width."""
    return f"{width} unit{'s' if width != 1 else ''}" if isinstance(width, int) else "size not fixed"
