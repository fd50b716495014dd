"""Computed arrays: representations and maps (``arrays/<kind>/<digest>.npy``), and the figures computed from
them (``arrays/result/<digest>.npz``: predictions, a map's figures, ...), with their ``artifacts`` rows."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from featlib import provenance
from featlib.store.files import publish, sync_file, temporary_file
from featlib.store.index import IndexedFolder, now
from featlib.store.quotas import check_quotas
from featlib.store.records import ARRAY_KINDS, RESULT_KIND, AlreadyStoredError

NPY_HEADER = 128
"""The bytes ``np.save`` writes before an array's data (a header padded to 64 bytes; 128 for featlib's arrays)."""


class ArrayStore(IndexedFolder):
    """Storing and loading arrays by ``(kind, key)`` (a part of :class:`~featlib.store.Workspace`)."""

    def _array_path(self, kind: str, key: str) -> str:
        if kind not in ARRAY_KINDS + (RESULT_KIND,):
            raise ValueError(f"Unknown array kind: {kind!r}. Choose one of {list(ARRAY_KINDS)}.")
        suffix = ".npz" if kind == RESULT_KIND else ".npy"
        return f"arrays/{kind}/{hashlib.sha256(key.encode()).hexdigest()[:24]}{suffix}"

    def save_array(
        self,
        kind: str,
        key: str,
        array: np.ndarray,
        *,
        model_id: str | None = None,
        meta: dict | None = None,
        creator: str = "",
        overwrite: bool = True,
    ) -> bool:
        """Stores ``array`` under ``(kind, key)``, replacing an older one unless ``overwrite`` is false.

        ``meta["provenance"]`` is completed with the library versions. When
        ``model_id`` names a model deleted meanwhile (another session deleted
        it while this result was computed), nothing is listed and no file is
        left (deleted model ids are remembered in ``deleted_models``).

        The file is written to a temporary name first; it is renamed into place
        and listed in one index transaction (under the index's write lock), so
        the check for an item already listed and the write cannot be told apart
        by any other writer.

        Args:
            kind: one of :data:`~featlib.store.ARRAY_KINDS`.
            key: the item's key (its file is named by the key's digest).
            array: the array, saved as ``.npy`` (no pickles).
            model_id: the model it was made from.
            meta: figures and parameters kept with it.
            creator: who made it; an item replaced keeps its maker, note and title.
            overwrite: ``False``: refuse when an item is listed under ``key``
                (what a bundle import stores never replaces anything).

        Returns:
            Whether the array was stored.

        Raises:
            AlreadyStoredError: ``overwrite=False`` and an item is listed under ``key``;
                it is left as it was.
            featlib.errors.QuotaError: the array would take its maker (``creator``; for an item replaced, its
                maker) or the workspace past a quota, or leave the disk under the free-disk floor
                (:mod:`featlib.store.quotas`); checked before the file is written, and again under the index's
                lock with the file's size. Nothing is stored.
        """
        if kind not in ARRAY_KINDS:
            raise ValueError(f"Unknown array kind: {kind!r}. Choose one of {list(ARRAY_KINDS)}.")
        array = np.asarray(array)
        return self._save_file(
            kind,
            key,
            lambda tmp: np.save(tmp, array, allow_pickle=False),
            array.nbytes + NPY_HEADER,
            model_id=model_id,
            meta=meta,
            creator=creator,
            overwrite=overwrite,
        )

    def save_result(
        self,
        key: str,
        arrays: dict[str, np.ndarray],
        values: dict,
        *,
        model_id: str | None = None,
        creator: str = "",
    ) -> bool:
        """Stores a job's result that is not a representation or a map (predictions, a map's figures, ...).

        Kept as ``arrays/result/<digest>.npz`` (no pickles) with ``values`` (JSON) in its row's meta, under the
        same rules as :meth:`save_array`: written to a temporary name, then renamed and listed in one index
        transaction, within the quotas; deleted and restored with its model. Not shown in the workspace
        listing: a result is a figure of the items it was computed from, made again when it is missing.

        Args:
            key: the job's key (:mod:`featlib.keys`).
            arrays: by name; numbers, not objects.
            values: JSON-able numbers, strings, lists and dicts.
            model_id: the model it was computed from (nothing is stored when it was deleted meanwhile).
            creator: who asked for it.

        Returns:
            Whether it was stored.

        Raises:
            featlib.errors.QuotaError: see :meth:`save_array`.
        """
        arrays = {name: np.asarray(array) for name, array in arrays.items()}
        return self._save_file(
            RESULT_KIND,
            key,
            lambda tmp: np.savez(tmp, **arrays),
            sum(a.nbytes for a in arrays.values()) + NPY_HEADER * max(1, len(arrays)),
            model_id=model_id,
            meta={"values": values},
            creator=creator,
        )

    def load_result(self, key: str) -> tuple[dict[str, np.ndarray], dict] | None:
        """``(arrays, values)`` of a result stored by :meth:`save_result`, or ``None`` when absent or unreadable."""
        with self._connect() as db:
            row = db.execute(
                "SELECT path, meta FROM artifacts WHERE key = ? AND kind = ?", (key, RESULT_KIND)
            ).fetchone()
        if row is None:
            return None
        try:
            with np.load(self.root / row["path"], allow_pickle=False) as found:
                arrays = {name: found[name] for name in found.files}
            values = json.loads(row["meta"] or "{}").get("values", {})
        except (OSError, ValueError):  # a file removed by hand, or not what was written: made again
            return None
        return arrays, values

    def _save_file(
        self,
        kind: str,
        key: str,
        write: Callable[[Path], None],
        nbytes: int,
        *,
        model_id: str | None,
        meta: dict | None,
        creator: str,
        overwrite: bool = True,
    ) -> bool:
        """Writes one file of ``nbytes`` bytes (about) by ``write(path)`` and lists it: see :meth:`save_array`."""
        relative = self._array_path(kind, key)
        path = self.root / relative
        meta = dict(meta or {})
        meta["provenance"] = provenance.describe(base=meta.get("provenance"))
        what = {"embedding": "map", RESULT_KIND: "figure"}.get(kind, kind)
        with self._connect() as db:
            old = db.execute("SELECT creator, bytes FROM artifacts WHERE key = ?", (key,)).fetchone()
        if old is None or overwrite:  # else refused below (AlreadyStoredError) without writing anything
            self.check_room(
                (old["creator"] if old is not None else "") or creator,
                nbytes,
                what=what,
                new_items=0 if old is not None or kind == RESULT_KIND else 1,
                replacing=int(old["bytes"] or 0) if old is not None else 0,
            )
        with temporary_file(path) as tmp:
            write(tmp)
            sync_file(tmp)  # before the lock: a large file's fsync does not hold up other writers
            with self._write() as db:
                if (
                    model_id is not None
                    and db.execute("SELECT 1 FROM deleted_models WHERE id = ?", (model_id,)).fetchone()
                ):
                    return False
                old = db.execute(
                    "SELECT kind, creator, created, note, title, bytes FROM artifacts WHERE key = ?", (key,)
                ).fetchone()
                if old is not None and not overwrite:
                    raise AlreadyStoredError(old["kind"], key, old["creator"], old["created"], old["title"])
                creator, note, title = (
                    (old["creator"] or creator.strip(), old["note"], old["title"]) if old else (creator.strip(), "", "")
                )
                check_quotas(  # again, under the lock: two sessions cannot both pass a quota meant for one
                    db,
                    self.root,
                    creator,
                    tmp.stat().st_size,
                    what=what,
                    new_items=0 if old is not None or kind == RESULT_KIND else 1,
                    replacing=int(old["bytes"] or 0) if old is not None else 0,
                )
                publish(tmp, path, synced=True)  # an unlisted file left at this name by a crash is replaced
                db.execute(
                    "INSERT OR REPLACE INTO artifacts (key, kind, model_id, path, bytes, created, meta, creator, note, title) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (key, kind, model_id, relative, path.stat().st_size, now(), json.dumps(meta), creator, note, title),
                )
        return True

    def load_array(self, kind: str, key: str) -> np.ndarray | None:
        """The array stored under ``(kind, key)``, or ``None`` when absent."""
        with self._connect() as db:
            row = db.execute("SELECT path FROM artifacts WHERE key = ? AND kind = ?", (key, kind)).fetchone()
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
