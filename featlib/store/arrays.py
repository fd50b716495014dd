"""Computed arrays (representations and maps): ``arrays/<kind>/<digest>.npy`` and their ``artifacts`` rows."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from featlib import provenance
from featlib.store.files import write_atomically
from featlib.store.index import IndexedFolder, now
from featlib.store.records import ARRAY_KINDS


class ArrayStore(IndexedFolder):
    """Storing and loading arrays by ``(kind, key)`` (a part of :class:`~featlib.store.Workspace`)."""

    def _array_path(self, kind: str, key: str) -> str:
        if kind not in ARRAY_KINDS:
            raise ValueError(f"Unknown array kind: {kind!r}. Choose one of {list(ARRAY_KINDS)}.")
        return f"arrays/{kind}/{hashlib.sha256(key.encode()).hexdigest()[:24]}.npy"

    def save_array(
        self,
        kind: str,
        key: str,
        array: np.ndarray,
        *,
        model_id: str | None = None,
        meta: dict | None = None,
        creator: str = "",
    ) -> bool:
        """Stores ``array`` under ``(kind, key)``, replacing an older one.

        ``meta["provenance"]`` is completed with the library versions. When
        ``model_id`` names a model deleted meanwhile (another session deleted
        it while this result was computed), nothing is listed and the file is
        removed (deleted model ids are remembered in ``deleted_models``).

        Returns:
            Whether the array was stored.
        """
        relative = self._array_path(kind, key)
        path = self.root / relative
        meta = dict(meta or {})
        meta["provenance"] = provenance.describe(base=meta.get("provenance"))
        write_atomically(path, lambda tmp: np.save(tmp, np.asarray(array), allow_pickle=False))
        with self._write() as db:
            if model_id is not None and db.execute("SELECT 1 FROM deleted_models WHERE id = ?", (model_id,)).fetchone():
                listed = db.execute("SELECT 1 FROM artifacts WHERE key = ?", (key,)).fetchone()
                if listed is None:
                    path.unlink(missing_ok=True)
                return False
            old = db.execute("SELECT creator, note, title FROM artifacts WHERE key = ?", (key,)).fetchone()
            creator, note, title = (old["creator"] or creator.strip(), old["note"], old["title"]) if old else (creator.strip(), "", "")
            db.execute(
                "INSERT OR REPLACE INTO artifacts (key, kind, model_id, path, bytes, created, meta, creator, note, title) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, kind, model_id, relative, path.stat().st_size, now(), json.dumps(meta), creator, note, title),
            )
        return True

    def load_array(self, kind: str, key: str) -> np.ndarray | None:
        """The array stored under ``(kind, key)``, or ``None`` when absent."""
        with self._connect() as db:
            row = db.execute(
                "SELECT path FROM artifacts WHERE key = ? AND kind = ?", (key, kind)
            ).fetchone()
        if row is None or not (self.root / row["path"]).exists():
            return None
        return np.load(self.root / row["path"], allow_pickle=False)

    def update_meta(self, kind: str, key: str, values: dict) -> None:
        """Merges ``values`` into a representation's or map's ``meta`` (figures computed later)."""
        if kind not in ARRAY_KINDS:
            raise ValueError(f"Unknown array kind: {kind!r}. Choose one of {list(ARRAY_KINDS)}.")
        with self._write() as db:
            row = db.execute("SELECT meta FROM artifacts WHERE key = ? AND kind = ?", (key, kind)).fetchone()
            if row is not None:
                meta = {**json.loads(row["meta"] or "{}"), **values}
                db.execute("UPDATE artifacts SET meta = ? WHERE key = ?", (json.dumps(meta), key))
