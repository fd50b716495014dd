"""Uploaded datasets: ``datasets/<fingerprint>.npz`` files and their ``datasets`` rows."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import numpy as np

from featlib import provenance
from featlib.store.files import write_atomically
from featlib.store.index import IndexedFolder, now
from featlib.store.records import WorkspaceError

if TYPE_CHECKING:
    from featlib.datasets import Dataset


class DatasetStore(IndexedFolder):
    """Keeping, listing and loading uploaded datasets (a part of :class:`~featlib.store.Workspace`)."""

    def save_dataset(self, dataset: "Dataset", *, creator: str = "", meta: dict | None = None) -> str:
        """Keeps an uploaded dataset (as a compressed ``.npz``); returns its fingerprint."""
        meta = dict(meta or {})
        meta["provenance"] = provenance.describe(
            dataset_fingerprint=dataset.fingerprint, parameters={"source": dataset.source}, base=meta.get("provenance")
        )
        relative = f"datasets/{dataset.fingerprint}.npz"
        arrays = {
            "x_train": dataset.x_train, "y_train": dataset.y_train,
            "x_test": dataset.x_test, "y_test": dataset.y_test,
            "class_names": np.array(dataset.class_names),
        }  # fmt: skip
        write_atomically(self.root / relative, lambda tmp: np.savez_compressed(tmp, **arrays))
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO datasets (fingerprint, name, summary, path, created, creator, meta) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (dataset.fingerprint, dataset.name, dataset.summary(), relative, now(), creator.strip(),
                 json.dumps(meta)),
            )
        return dataset.fingerprint

    def list_datasets(self) -> list[dict]:
        """Uploaded datasets, newest first: fingerprint, name, summary, created."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM datasets ORDER BY created DESC").fetchall()
        return [dict(row) for row in rows]

    def load_dataset(self, fingerprint: str) -> "Dataset":
        """An uploaded dataset by fingerprint."""
        from featlib.datasets import load_npz

        with self._connect() as db:
            row = db.execute("SELECT * FROM datasets WHERE fingerprint = ?", (fingerprint,)).fetchone()
        if row is None:
            raise WorkspaceError(f"No such dataset: {fingerprint}. Upload it again.")
        return load_npz(self.root / row["path"], name=row["name"])
