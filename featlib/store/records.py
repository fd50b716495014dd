"""What the workspace lists (models, items), the kinds of items, and its errors."""

from __future__ import annotations

import json
import math
import sqlite3
from dataclasses import dataclass

from featlib.errors import AlreadyStoredError, InUseError, NameClashError, WorkspaceError  # noqa: F401 (their old home)

ARRAY_KINDS = ("representation", "embedding")
RESULT_KIND = "result"
"""The kind of a stored job result that is not an array item (:meth:`featlib.store.Workspace.save_result`)."""
ITEM_KINDS = ("model", "dataset") + ARRAY_KINDS + ("view",)


@dataclass(frozen=True)
class Item:
    """One entry of the workspace listing (a model, dataset upload, representation, map or saved view)."""

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
    imported: bool = False  # stored by a bundle import: ``creator`` is who imported it
    claimed_by: str = ""  # an imported item: who the bundle says made it (a claim, not checked)
    creator_subject: str = ""  # under st.login: the owner's login subject (featlib.store.permissions); "": none

    @property
    def maker(self) -> str:
        """Who made it, in words: ``"alice"``, or for an import ``"imported by bob; bundle says made by alice"``."""
        if self.imported or self.claimed_by:
            said = f"; bundle says made by {self.claimed_by}" if self.claimed_by else ""
            return f"imported by {self.creator or 'nobody named'}{said}"
        return self.creator or "unknown"


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
        n, split = self.meta.get("n_images"), self.meta.get("split")
        split = split if split in ("train", "test") else "test"
        return f"{dataset_title}, {split} split" + (f", {n:,} images" if isinstance(n, int) and n > 0 else "")

    @property
    def scored_output(self) -> str:
        """For a model with several outputs, the one its accuracy and predicted labels come from, and the others.

        ``"output head_a, 10-way; other outputs: head_b (1 unit)"`` from ``meta["output"]`` and
        ``meta["outputs"]`` (kept on upload); ``""`` for a model with one output.
        """
        listed = self.meta.get("outputs")
        outputs = [o for o in listed if isinstance(o, dict)] if isinstance(listed, list) else []
        chosen = self.meta.get("output")
        if len(outputs) < 2 or chosen is None:
            return ""
        width = next((o.get("width") for o in outputs if o.get("name") == chosen), None)
        others = [f"{o.get('name')} ({_units(o.get('width'))})" for o in outputs if o.get("name") != chosen]
        return f"output {chosen}" + (f", {width}-way" if width else "") + f"; other outputs: {', '.join(others)}"

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ModelRecord:
        """The record of a ``models`` row; a ``meta`` that is not a JSON object reads as ``{}``, an accuracy
        that is not a number in [0, 1] as ``None`` (rows written by older versions or by hand)."""
        values = dict(row)
        values["meta"] = read_meta(values["meta"])
        values["test_accuracy"] = fraction(values.get("test_accuracy"))
        values.pop("creator_subject", None)  # the owner's login subject: on the listing's Item, never in a bundle
        return cls(**values)


def read_meta(raw: object) -> dict:
    """A row's ``meta`` column as a dict: ``{}`` when it is empty, not JSON, or JSON other than an object."""
    if isinstance(raw, dict):
        return raw
    try:
        meta = json.loads(raw or "{}") if isinstance(raw, (str, bytes)) else {}
    except (ValueError, RecursionError):
        return {}
    return meta if isinstance(meta, dict) else {}


def fraction(value: object) -> float | None:
    """``value`` as a float when it is a finite number in [0, 1] (an accuracy), else ``None``.

    Figures read back from the index are shown and sorted as numbers; a stored text
    (``"high"``) or ``NaN`` reads as unknown instead of breaking every listing.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None


def claimed_maker(meta: dict) -> str:
    """Who a bundle said made an imported item (``meta["imported"]["claimed_by"]``), as printable text; ``""``."""
    imported = meta.get("imported")
    claim = imported.get("claimed_by") if isinstance(imported, dict) else None
    if not isinstance(claim, str):
        return ""
    return "".join(c if c.isprintable() else "?" for c in claim.strip())[:120]


def _units(width: object) -> str:
    """``"1 unit"``, ``"10 units"``, or ``"size not fixed"`` for an output without a fixed width."""
    return f"{width} unit{'s' if width != 1 else ''}" if isinstance(width, int) else "size not fixed"
