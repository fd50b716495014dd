"""Uploaded datasets: ``datasets/<fingerprint>.npz`` files and their ``datasets`` rows."""

from __future__ import annotations

import dataclasses
import json
import re
from typing import TYPE_CHECKING

import numpy as np

from featlib import provenance
from featlib.datasets import load_npz
from featlib.names import check_item_name
from featlib.store.files import publish, sync_file, temporary_file
from featlib.store.index import IndexedFolder, now
from featlib.store.quotas import check_disk, check_quotas
from featlib.store.records import WorkspaceError

if TYPE_CHECKING:
    from featlib.datasets import Dataset

UPLOAD_PREFIX = "upload:"
"""The app's dataset keys for uploads are ``upload:<fingerprint>``."""
MIN_PREFIX = 6
"""The fewest hex digits of a fingerprint prefix that :meth:`DatasetStore.find_datasets` accepts."""
_INTERNAL_SOURCE = re.compile(r"npz file [0-9a-f]{16}\.npz\b")


class DatasetStore(IndexedFolder):
    """Keeping, listing and loading uploaded datasets (a part of :class:`~featlib.store.Workspace`)."""

    def save_dataset(self, dataset: Dataset, *, creator: str = "", meta: dict | None = None) -> str:
        """Keeps an uploaded dataset (as a compressed ``.npz``); returns its fingerprint.

        The dataset's ``source`` line is kept in the row's provenance (``parameters.source``), so that
        :meth:`load_dataset` gives it back. A dataset with one empty split is kept as it is (empty arrays).
        A dataset listed already under the same fingerprint (the same arrays and class names) is left as it
        is, with its name, maker and file: nothing is overwritten (see :meth:`add_dataset`).
        """
        self.add_dataset(dataset, creator=creator, meta=meta)
        return dataset.fingerprint

    def add_dataset(self, dataset: Dataset, *, creator: str = "", meta: dict | None = None) -> bool:
        """:meth:`save_dataset`, telling whether this call stored it.

        The file is renamed into place and listed in one index transaction, after checking
        that no dataset is listed under its fingerprint.

        Returns:
            ``True`` when stored; ``False`` when a dataset with its fingerprint was listed already
            (left as it was; nothing written).

        Raises:
            featlib.errors.QuotaError: the upload would leave the disk under the free-disk floor (checked with its
                size before compression, before anything is written), or take ``creator`` or the workspace past a
                quota (checked with its compressed size under the index's lock, before it is renamed into place;
                the temporary file is removed). Nothing is stored.
        """
        with self._connect() as db:  # the common case, without compressing anything (checked again below)
            if db.execute("SELECT 1 FROM datasets WHERE fingerprint = ?", (dataset.fingerprint,)).fetchone():
                return False
        check_item_name(dataset.name, "dataset")  # shaped like no fingerprint, in one script
        meta = dict(meta or {})
        meta["provenance"] = provenance.describe(
            dataset_fingerprint=dataset.fingerprint, parameters={"source": dataset.source}, base=meta.get("provenance")
        )
        meta["provenance"].setdefault("parameters", {}).setdefault("source", dataset.source)
        relative = f"datasets/{dataset.fingerprint}.npz"
        arrays = {
            "x_train": dataset.x_train,
            "y_train": dataset.y_train,
            "x_test": dataset.x_test,
            "y_test": dataset.y_test,
            "class_names": np.array(dataset.class_names),
        }
        path = self.root / relative
        # Its compressed size is known once written: the disk is checked now with the size before
        # compression (an upper bound), the quotas under the lock with the file's size.
        check_disk(self.root, sum(a.nbytes for a in arrays.values()), what="dataset upload")
        with temporary_file(path) as tmp:
            np.savez_compressed(tmp, **arrays)
            sync_file(tmp)
            with self._write() as db:  # listed already (the same data): the file and row stay as they are
                if db.execute("SELECT 1 FROM datasets WHERE fingerprint = ?", (dataset.fingerprint,)).fetchone():
                    return False
                check_quotas(db, self.root, creator, tmp.stat().st_size, what="dataset upload")
                names = [r[0] for r in db.execute("SELECT name FROM datasets") if isinstance(r[0], str)]
                check_item_name(dataset.name, "dataset", names)  # no look-alike of another upload's name
                publish(tmp, path, synced=True)
                db.execute(
                    "INSERT INTO datasets (fingerprint, name, summary, path, created, creator, meta) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        dataset.fingerprint,
                        dataset.name,
                        dataset.summary(),
                        relative,
                        now(),
                        creator.strip(),
                        json.dumps(meta),
                    ),
                )
        return True

    def list_datasets(self) -> list[dict]:
        """Uploaded datasets, newest first: fingerprint, name, summary, created."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM datasets ORDER BY created DESC").fetchall()
        return [dict(row) for row in rows]

    def find_datasets(self, name_or_fingerprint: str) -> list[dict]:
        """The uploads a user's string names, newest first (rows as :meth:`list_datasets` gives them).

        Matches: the exact name; the fingerprint; a fingerprint prefix of at least 6 hex digits
        (:data:`MIN_PREFIX`, case-insensitive); and each of these after ``upload:`` (the app's key).
        Ids come before names: a whole fingerprint's row alone when one matches, else the rows a prefix
        matches, else those of that name.
        More than one row means the string is ambiguous; none, that nothing matches.
        """
        text = name_or_fingerprint.strip()
        keys = {text, text[len(UPLOAD_PREFIX) :]} if text.startswith(UPLOAD_PREFIX) else {text}
        prefixes = {k.lower() for k in keys if len(k) >= MIN_PREFIX and re.fullmatch(r"[0-9a-fA-F]+", k)}
        rows = self.list_datasets()
        exact = [row for row in rows if row["fingerprint"] in keys]
        if exact:  # a whole fingerprint names its dataset, whatever another upload is called
            return exact
        by_prefix = [row for row in rows if any(row["fingerprint"].startswith(p) for p in prefixes)]
        return by_prefix or [row for row in rows if row["name"] in keys]  # ids (and their prefixes) before names

    def load_dataset(self, fingerprint: str) -> Dataset:
        """An uploaded dataset by fingerprint, with the name and the ``source`` line it was saved with.

        Rows saved before sources were kept read ``"uploaded to the workspace as '<name>'"``.

        Raises:
            WorkspaceError: no such dataset.
            featlib.datasets.DatasetError: its file is missing or damaged.
        """
        with self._connect() as db:
            row = db.execute("SELECT * FROM datasets WHERE fingerprint = ?", (fingerprint,)).fetchone()
        if row is None:
            raise WorkspaceError(f"No such dataset: {fingerprint}. Upload it again.")
        row = dict(row)
        dataset = load_npz(self.root / row["path"], name=row["name"])
        return dataclasses.replace(dataset, source=_stored_source(row))


def _stored_source(row: dict) -> str:
    """The ``source`` line a dataset row was saved with (never the workspace's own file name)."""
    try:
        meta = json.loads(row.get("meta") or "{}")
    except ValueError:
        meta = {}
    parameters = (meta.get("provenance") or {}).get("parameters") or {} if isinstance(meta, dict) else {}
    source = meta.get("source") if isinstance(meta, dict) else None
    source = source or parameters.get("source")
    if isinstance(source, str) and source.strip() and not _INTERNAL_SOURCE.match(source):
        return source
    return f"uploaded to the workspace as {row['name']!r}"
