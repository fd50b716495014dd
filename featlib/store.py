"""The workspace: models and computed arrays on disk, indexed in SQLite.

Layout of a workspace folder (default ``./workspace``, or the environment
variable ``FEATLIB_WORKSPACE``)::

    index.sqlite          the index (WAL mode): models and artifacts
    models/<id>.keras     saved models
    datasets/<fp>.npz     uploaded datasets, by fingerprint
    arrays/<kind>/<h>.npy representations and embeddings, by key digest
    numba-cache/          umap-learn's compiled code (see featlib.embed.enable_numba_cache)

Every item in the index records who made it (``creator``: the name a user set
in the dashboard, the login name, or the CLI's ``$USER``), a free-text
``note``, and in its ``meta`` a ``provenance`` dict (fingerprints, library
versions, parameters, seed; see :mod:`featlib.provenance`). Models and
datasets can be renamed (names stay unique); representations and maps get a
``title``. Deleting a model deletes the representations and maps made from it
(files and index rows) and nothing else. Indexes written by older versions
gain the new columns (``ALTER TABLE``) when the workspace is opened.

Every file is written to a temporary name (``.tmp-<random><suffix>`` in the
same folder), flushed to disk (``fsync``) and renamed over its final name, and
entered in the index only once complete, so a crash (even ``SIGKILL`` or a
power cut) leaves no half-written item listed: only what the index lists is
ever shown or loaded, and the index lists only complete files.

All index writes go through :meth:`Workspace._write`, one ``BEGIN IMMEDIATE``
transaction each; the index is in WAL mode with a 30-second busy timeout, so
several threads and processes (the server's sessions, the CLI) can read while
one writes. A model saved under a name already taken gets ``name-2``,
``name-3``, ... chosen inside that transaction, so concurrent saves never
overwrite one another.

What a crash can leave behind, and what happens to it:

- a temporary file (``.tmp-*``): never listed. While a writer works on one it
  holds an exclusive ``flock`` on it, released by the kernel when the writer
  exits or is killed. :meth:`Workspace.clean_temporary_files` removes those no
  live writer holds and last modified more than ten minutes ago (the age
  guards writers on file systems where locks are not shared, such as some
  network mounts); opening a workspace runs it.
- a complete file renamed into place whose index entry was never written (a
  kill between the rename and the commit): never listed, and kept (a model's
  file is removed when its index write fails with an exception).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no locks, the age alone decides
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    import keras

    from featlib.datasets import Dataset

WORKSPACE_ENV = "FEATLIB_WORKSPACE"
ARRAY_KINDS = ("representation", "embedding")
TEMP_PREFIX = ".tmp-"
STALE_TEMP_SECONDS = 600.0
"""Age past which :meth:`Workspace.clean_temporary_files` removes unheld temporary files."""
_FOLDERS = ("models", "datasets", "arrays")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    dataset TEXT NOT NULL,
    architecture TEXT NOT NULL,
    test_accuracy REAL,
    input_scale TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    path TEXT NOT NULL,
    created TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS datasets (
    fingerprint TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    summary TEXT NOT NULL,
    path TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS artifacts (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    model_id TEXT,
    path TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    created TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS deleted_models (
    id TEXT PRIMARY KEY,
    deleted TEXT NOT NULL
);
"""


ITEM_KINDS = ("model", "dataset") + ARRAY_KINDS
# Columns added after the first release: added to older indexes when opened.
_ADDED_COLUMNS = {
    "models": {"creator": "TEXT NOT NULL DEFAULT ''", "note": "TEXT NOT NULL DEFAULT ''"},
    "datasets": {"creator": "TEXT NOT NULL DEFAULT ''", "note": "TEXT NOT NULL DEFAULT ''",
                 "meta": "TEXT NOT NULL DEFAULT '{}'"},
    "artifacts": {"creator": "TEXT NOT NULL DEFAULT ''", "note": "TEXT NOT NULL DEFAULT ''",
                  "title": "TEXT NOT NULL DEFAULT ''"},
}  # fmt: skip


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


def default_root() -> Path:
    """``$FEATLIB_WORKSPACE`` when set, else ``./workspace``."""
    return Path(os.environ.get(WORKSPACE_ENV) or "workspace")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Calls ``write(tmp)`` on a temporary file beside ``path``, then renames it.

    The temporary file is named ``.tmp-<random><suffix>`` (it keeps ``path``'s
    suffix: Keras insists on ``.keras``), is created with the usual permissions
    (``0o666`` less the umask), is locked (``flock``) by this writer until the
    rename so that :meth:`Workspace.clean_temporary_files` leaves it alone, is
    fsynced before the rename, and is removed if ``write`` fails. The folder is
    fsynced after the rename, so the new name is on disk when this returns.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}{path.suffix}")
    lock_fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        if fcntl is not None:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            write(tmp)
            # Reopened: ``write`` may have replaced the file the lock was taken on.
            sync_fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            try:
                os.fsync(sync_fd)
            finally:
                os.close(sync_fd)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    finally:
        os.close(lock_fd)  # releases the lock
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _held_by_a_writer(path: Path) -> bool:
    """Whether a live writer holds ``path``'s lock (see :func:`write_atomically`)."""
    if fcntl is None:  # pragma: no cover
        return False
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # locks not supported here: cannot tell, so the age alone decides
        return False
    finally:
        os.close(fd)  # releases the lock if it was taken
    return False


class Workspace:
    """A folder of models and cached arrays with an SQLite index.

    Args:
        root: the folder; created when missing. Defaults to :func:`default_root`.

    Example:
        >>> ws = Workspace("/tmp/ws")  # doctest: +SKIP
        >>> record = ws.save_model(model, "demo", dataset="digits")  # doctest: +SKIP
        >>> ws.load_model("demo")  # doctest: +SKIP
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.index_path = self.root / "index.sqlite"
        with self._connect() as db:
            _set_wal(db)
        with self._write() as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            _add_missing_columns(db)
        with contextlib.suppress(OSError):  # a read-only workspace still opens
            self.clean_temporary_files()

    @property
    def numba_cache(self) -> Path:
        """Where umap-learn's compiled code is kept between processes."""
        return self.root / "numba-cache"

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.index_path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        try:
            db.execute("PRAGMA busy_timeout=30000")
            db.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns
            yield db
        finally:
            db.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """The one place that writes the index: an immediate transaction."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def clean_temporary_files(self, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
        """Removes temporary files left by writers that died (a crash, ``SIGKILL``).

        A temporary file is removed when no live writer holds its lock and it
        was last modified more than ``older_than`` seconds ago. Such files are
        never listed whether or not they are removed; this only frees the disk.
        Opening a workspace calls it with the default age (ten minutes).

        Returns:
            The files removed.
        """
        removed: list[Path] = []
        now = time.time()
        for folder in _FOLDERS:
            for tmp in sorted((self.root / folder).rglob(TEMP_PREFIX + "*")):
                try:
                    if not tmp.is_file() or now - tmp.stat().st_mtime < older_than:
                        continue
                    if _held_by_a_writer(tmp):
                        continue
                    tmp.unlink()
                except FileNotFoundError:  # renamed into place or removed meanwhile
                    continue
                removed.append(tmp)
        return removed

    # Models -----------------------------------------------------------------

    def save_model(
        self,
        model: "keras.Model",
        name: str,
        *,
        dataset: str,
        test_accuracy: float | None = None,
        input_scale: str = "0-1",
        meta: dict | None = None,
        creator: str = "",
    ) -> ModelRecord:
        """Saves ``model`` as ``.keras`` and lists it under a unique name.

        When ``name`` is taken, ``name-2``, ``name-3``, ... is used instead:
        nothing saved earlier is overwritten. ``meta["provenance"]`` is
        completed with the model's fingerprint and the library versions.
        """
        from featlib import provenance
        from featlib.models import architecture_summary, fingerprint

        name = name.strip()
        if not name:
            raise ValueError("A model name cannot be empty.")
        model_id = uuid.uuid4().hex[:12]
        relative = f"models/{model_id}.keras"
        write_atomically(self.root / relative, lambda tmp: model.save(tmp))
        row = dict(
            id=model_id,
            dataset=dataset,
            architecture=architecture_summary(model),
            test_accuracy=None if test_accuracy is None else float(test_accuracy),
            input_scale=input_scale,
            fingerprint=fingerprint(model),
            path=relative,
            created=_now(),
            creator=creator.strip(),
        )
        meta = dict(meta or {})
        meta["provenance"] = provenance.describe(
            model_fingerprint=row["fingerprint"], dataset_fingerprint=meta.get("dataset_fingerprint"),
            parameters={k: v for k, v in meta.items() if k not in ("history", "provenance")},
            seed=meta.get("seed"), base=meta.get("provenance"),
        )  # fmt: skip
        row["meta"] = json.dumps(meta)
        try:
            with self._write() as db:
                taken = {r[0] for r in db.execute("SELECT name FROM models")}
                row["name"] = _unique_name(name, taken)
                db.execute(
                    f"INSERT INTO models ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                    tuple(row.values()),
                )
        except BaseException:
            self._remove_unlisted(model_id, relative)
            raise
        return self.get_model(model_id)

    def _remove_unlisted(self, model_id: str, relative: str) -> None:
        """Removes a model file whose index write failed, unless the index lists it after all."""
        with contextlib.suppress(Exception):  # cannot tell: keep the file, it harms nothing
            with self._connect() as db:
                listed = db.execute("SELECT 1 FROM models WHERE id = ?", (model_id,)).fetchone()
            if listed is None:
                (self.root / relative).unlink(missing_ok=True)

    def list_models(self) -> list[ModelRecord]:
        """Every saved model, newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM models ORDER BY created DESC, rowid DESC").fetchall()
        return [_record(row) for row in rows]

    def get_model(self, name_or_id: str) -> ModelRecord:
        """The record of a model by name or id.

        Raises:
            WorkspaceError: naming the models the workspace holds.
        """
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM models WHERE name = ? OR id = ? ORDER BY name = ? DESC",
                (name_or_id, name_or_id, name_or_id),
            ).fetchone()
        if row is None:
            names = [m.name for m in self.list_models()]
            raise WorkspaceError(f"No such model: {name_or_id}. The workspace holds: {names}.")
        return _record(row)

    def load_model(self, name_or_id: str | ModelRecord) -> "keras.Model":
        """Loads a saved model (``safe_mode=True``)."""
        from featlib.models import load_model

        record = name_or_id if isinstance(name_or_id, ModelRecord) else self.get_model(name_or_id)
        return load_model(self.root / record.path)

    # Datasets ---------------------------------------------------------------

    def save_dataset(self, dataset: "Dataset", *, creator: str = "", meta: dict | None = None) -> str:
        """Keeps an uploaded dataset (as a compressed ``.npz``); returns its fingerprint."""
        from featlib import provenance

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
                (dataset.fingerprint, dataset.name, dataset.summary(), relative, _now(), creator.strip(),
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

    # Arrays -----------------------------------------------------------------

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
        from featlib import provenance

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
                (key, kind, model_id, relative, path.stat().st_size, _now(), json.dumps(meta), creator, note, title),
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

    def usage(self) -> dict[str, int]:
        """Counts of models and arrays, and the bytes they use on disk.

        Files may come and go while the folder is read (SQLite's ``-wal`` and
        ``-shm`` files when connections close, temporary files renamed by
        other sessions' saves): those are simply not counted.
        """
        with self._connect() as db:
            kinds = dict(db.execute("SELECT kind, COUNT(*) FROM artifacts GROUP BY kind").fetchall())
            models = db.execute("SELECT COUNT(*) FROM models").fetchone()[0]
            datasets = db.execute("SELECT COUNT(*) FROM datasets").fetchone()[0]
        return {
            "models": models,
            "datasets": datasets,
            "representations": kinds.get("representation", 0),
            "embeddings": kinds.get("embedding", 0),
            "bytes": _folder_bytes(self.root),
        }


    # Sharing: listing, renaming, notes, deleting -----------------------------

    def items(self) -> list[Item]:
        """Every model, dataset upload, representation and map, newest first."""
        with self._connect() as db:
            models = db.execute("SELECT * FROM models").fetchall()
            datasets = db.execute("SELECT * FROM datasets").fetchall()
            artifacts = db.execute("SELECT * FROM artifacts").fetchall()
        items = [self._model_item(_record(row)) for row in models]
        items += [self._dataset_item(dict(row)) for row in datasets]
        names = {row["id"]: row["name"] for row in models}
        names.update({row["fingerprint"]: row["name"] for row in datasets})
        for row in artifacts:  # representations name their dataset; maps are named after them
            meta = json.loads(row["meta"] or "{}")
            if meta.get("dataset") and row["key"].count("/") >= 6:
                names.setdefault(row["key"].split("/")[2], meta["dataset"])
        items += [_artifact_item(dict(row), names) for row in artifacts]
        return sorted(items, key=lambda item: item.created, reverse=True)

    def _model_item(self, record: ModelRecord) -> Item:
        params = {k: v for k, v in record.meta.items() if k not in ("history", "provenance")}
        return Item(
            "model", record.id, record.name, record.creator, record.created,
            f"{record.dataset} · {record.architecture}", params, _file_bytes(self.root / record.path),
            record.test_accuracy, None, record.note, record.id, record.meta.get("provenance", {}),
        )  # fmt: skip

    def _dataset_item(self, row: dict) -> Item:
        meta = json.loads(row["meta"] or "{}")
        return Item(
            "dataset", row["fingerprint"], row["name"], row["creator"], row["created"], row["summary"],
            {k: v for k, v in meta.items() if k != "provenance"}, _file_bytes(self.root / row["path"]),
            None, None, row["note"], None, meta.get("provenance", {}),
        )  # fmt: skip

    def get_item(self, kind: str, ident: str) -> Item:
        """One item of :meth:`items` by kind and id (model id or name, fingerprint, key)."""
        if kind == "model":
            return self._model_item(self.get_model(ident))
        if kind in ARRAY_KINDS:  # one row, and the names it mentions
            with self._connect() as db:
                row = db.execute("SELECT * FROM artifacts WHERE key = ? AND kind = ?", (ident, kind)).fetchone()
                names = dict(db.execute("SELECT id, name FROM models").fetchall())
                names.update(dict(db.execute("SELECT fingerprint, name FROM datasets").fetchall()))
            if row is not None:
                return _artifact_item(dict(row), names)
        for item in self.items():
            if item.kind == kind and item.id == ident:
                return item
        raise WorkspaceError(f"No such {kind}: {ident}. It may have been deleted by another user.")

    def set_note(self, kind: str, ident: str, note: str) -> None:
        """Sets the free-text note of an item."""
        table, column = _table_of(kind)
        with self._write() as db:
            done = db.execute(f"UPDATE {table} SET note = ? WHERE {column} = ?", (note.strip(), ident)).rowcount
        if not done:
            raise WorkspaceError(f"No such {kind}: {ident}. It may have been deleted by another user.")

    def rename(self, kind: str, ident: str, new_name: str) -> None:
        """Renames a model or dataset upload, or titles a representation or map.

        Raises:
            ValueError: an empty name.
            NameClashError: another item of the same kind has that name.
            WorkspaceError: no such item.
        """
        new_name = new_name.strip()
        if not new_name:
            raise ValueError(f"A {kind} name cannot be empty; got {new_name!r}.")
        table, column = _table_of(kind)
        name_column = "title" if kind in ARRAY_KINDS else "name"
        with self._write() as db:
            clash = db.execute(
                f"SELECT {column} FROM {table} WHERE {name_column} = ? AND {column} != ?", (new_name, ident)
            ).fetchone()
            if clash is not None:
                raise NameClashError(
                    f"Another {kind} is already named {new_name!r} ({clash[0]}); choose another name."
                )
            if kind == "dataset":  # the summary starts with the name: "upload:x: 240 train + ..."
                row = db.execute("SELECT name, summary FROM datasets WHERE fingerprint = ?", (ident,)).fetchone()
                if row is not None and row["summary"].startswith(row["name"] + ":"):
                    summary = new_name + row["summary"][len(row["name"]) :]
                    db.execute("UPDATE datasets SET summary = ? WHERE fingerprint = ?", (summary, ident))
            done = db.execute(f"UPDATE {table} SET {name_column} = ? WHERE {column} = ?", (new_name, ident)).rowcount
        if not done:
            raise WorkspaceError(f"No such {kind}: {ident}. It may have been deleted by another user.")

    def derived_from(self, kind: str, ident: str) -> list[Item]:
        """What deleting the item would delete with it (maps of a representation, results of a model)."""
        items = self.items()
        if kind == "model":
            record = self.get_model(ident)
            return [i for i in items if i.kind in ARRAY_KINDS and i.model_id == record.id]
        if kind == "representation":
            return [i for i in items if i.kind == "embedding" and i.id.startswith(f"emb/{ident}/")]
        return []

    def users_of_dataset(self, fingerprint: str) -> list[str]:
        """The models and results made from an uploaded dataset, as one-line descriptions."""
        users = []
        for item in self.items():
            from_it = (item.kind == "model" and item.parameters.get("dataset_fingerprint") == fingerprint) or (
                item.kind in ARRAY_KINDS and f"/{fingerprint}/" in item.id
            )
            if from_it:
                users.append(f"{item.kind} {item.name}")
        return users

    def delete(self, kind: str, ident: str) -> list[str]:
        """Deletes an item and what was made from it (files and index rows), nothing else.

        - a model: its file and its representations and maps (results shared
          with another model of the same fingerprint are handed to it instead);
        - a representation: it and its maps; a map: itself;
        - a dataset upload: refused while models or results made from it remain.

        Returns:
            The descriptions of what was deleted.

        Raises:
            InUseError: a dataset that is still used.
            WorkspaceError: no such item.
        """
        if kind == "dataset":
            users = self.users_of_dataset(ident)
            if users:
                raise InUseError(
                    f"The dataset {ident} is in use by {len(users)} item(s): {', '.join(users[:5])}"
                    f"{' …' if len(users) > 5 else ''}. Delete those first."
                )
        files: list[str] = []
        deleted: list[str] = []
        with self._write() as db:
            if kind == "model":
                row = db.execute("SELECT * FROM models WHERE id = ? OR name = ?", (ident, ident)).fetchone()
                if row is None:
                    raise WorkspaceError(f"No such model: {ident}. It may have been deleted by another user.")
                twin = db.execute(
                    "SELECT id FROM models WHERE fingerprint = ? AND id != ?", (row["fingerprint"], row["id"])
                ).fetchone()
                if twin is not None:  # the same weights under another name: it keeps the results
                    db.execute("UPDATE artifacts SET model_id = ? WHERE model_id = ?", (twin["id"], row["id"]))
                derived = db.execute("SELECT key, path FROM artifacts WHERE model_id = ?", (row["id"],)).fetchall()
                db.execute("DELETE FROM artifacts WHERE model_id = ?", (row["id"],))
                db.execute("DELETE FROM models WHERE id = ?", (row["id"],))
                db.execute("INSERT OR REPLACE INTO deleted_models (id, deleted) VALUES (?, ?)", (row["id"], _now()))
                files += [row["path"]] + [r["path"] for r in derived]
                deleted += [f"model {row['name']}"] + [r["key"] for r in derived]
            elif kind in ARRAY_KINDS:
                prefix = f"emb/{ident}/" if kind == "representation" else None
                rows = [
                    r for r in db.execute("SELECT key, path FROM artifacts WHERE key = ? OR key LIKE 'emb/%'", (ident,))
                    if r["key"] == ident or (prefix and r["key"].startswith(prefix))
                ]
                if not any(r["key"] == ident for r in rows):
                    raise WorkspaceError(f"No such {kind}: {ident}. It may have been deleted by another user.")
                db.executemany("DELETE FROM artifacts WHERE key = ?", [(r["key"],) for r in rows])
                files += [r["path"] for r in rows]
                deleted += [r["key"] for r in rows]
            elif kind == "dataset":
                row = db.execute("SELECT * FROM datasets WHERE fingerprint = ?", (ident,)).fetchone()
                if row is None:
                    raise WorkspaceError(f"No such dataset: {ident}. It may have been deleted by another user.")
                db.execute("DELETE FROM datasets WHERE fingerprint = ?", (ident,))
                files.append(row["path"])
                deleted.append(f"dataset {row['name']}")
            else:
                raise ValueError(f"Unknown item kind: {kind!r}. Choose one of {list(ITEM_KINDS)}.")
        # Rows first, files after: a crash in between leaves unlisted files, never listed missing ones.
        for relative in files:
            (self.root / relative).unlink(missing_ok=True)
        return deleted

    def claim(self, kind: str, ident: str, creator: str) -> None:
        """Records ``creator`` as the maker of an item that has none yet (results made by the pipeline)."""
        table, column = _table_of(kind)
        if creator.strip():
            with self._write() as db:
                db.execute(f"UPDATE {table} SET creator = ? WHERE {column} = ? AND creator = ''", (creator.strip(), ident))

    def update_meta(self, kind: str, key: str, values: dict) -> None:
        """Merges ``values`` into a representation's or map's ``meta`` (figures computed later)."""
        if kind not in ARRAY_KINDS:
            raise ValueError(f"Unknown array kind: {kind!r}. Choose one of {list(ARRAY_KINDS)}.")
        with self._write() as db:
            row = db.execute("SELECT meta FROM artifacts WHERE key = ? AND kind = ?", (key, kind)).fetchone()
            if row is not None:
                meta = {**json.loads(row["meta"] or "{}"), **values}
                db.execute("UPDATE artifacts SET meta = ? WHERE key = ?", (json.dumps(meta), key))


def _table_of(kind: str) -> tuple[str, str]:
    if kind == "model":
        return "models", "id"
    if kind == "dataset":
        return "datasets", "fingerprint"
    if kind in ARRAY_KINDS:
        return "artifacts", "key"
    raise ValueError(f"Unknown item kind: {kind!r}. Choose one of {list(ITEM_KINDS)}.")


def _artifact_item(row: dict, names: dict[str, str]) -> Item:
    """A representation or map as a listing entry; what it was made from is read from its key.

    ``names`` maps model ids and dataset fingerprints to their names.
    """
    meta = json.loads(row["meta"] or "{}")
    key = row["key"]
    rep_key = key.split("/sample=")[0][len("emb/"):] if row["kind"] == "embedding" else key
    parts = rep_key.split("/")
    params: dict = {}
    if len(parts) >= 7:
        _, model_fp, dataset_fp, split, layer, method, scale = parts[:7]
        params = {"model_fingerprint": model_fp, "dataset_fingerprint": dataset_fp, "split": split,
                  "layer": layer, "method": method, "input_scale": scale}  # fmt: skip
        made_from = f"{names.get(dataset_fp, dataset_fp)} {split} · {layer} · {method}"
        if row["model_id"] in names:
            made_from += f" · model {names[row['model_id']]}"
    else:
        layer, made_from = "?", rep_key
    if row["kind"] == "embedding":
        for part in key[len("emb/" + rep_key) :].strip("/").split("/"):
            for pair in part.split("-"):
                if "=" in pair:
                    name, value = pair.split("=", 1)
                    params[name] = value
    reducer = key.rsplit("/", 1)[-1].split("-", 1)[0].upper() if row["kind"] == "embedding" else ""
    default_name = f"{layer} outputs" if row["kind"] == "representation" else f"{reducer} map of {layer}"
    return Item(
        row["kind"], key, row["title"] or default_name, row["creator"], row["created"], made_from, params,
        int(row["bytes"]), None, meta.get("knn_accuracy"), row["note"], row["model_id"], meta.get("provenance", {}),
    )  # fmt: skip


def _file_bytes(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _add_missing_columns(db: sqlite3.Connection) -> None:
    """Adds the columns of :data:`_ADDED_COLUMNS` that an older index lacks."""
    for table, columns in _ADDED_COLUMNS.items():
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for name, definition in columns.items():
            if name not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")


def _folder_bytes(root: Path) -> int:
    """The size of every file under ``root``, skipping files that vanish meanwhile."""
    total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(os.path.join(folder, name), follow_symlinks=False).st_size
    return total


def _set_wal(db: sqlite3.Connection, tries: int = 50) -> None:
    """Puts the index in WAL mode (kept in the file; a no-op once done).

    Processes opening a new workspace at the same moment may find the switch
    locked by one another; SQLite does not always wait for it, so retry.
    """
    for attempt in range(tries):
        try:
            db.execute("PRAGMA journal_mode=WAL").fetchone()
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == tries - 1:
                raise
            time.sleep(0.1)


def _unique_name(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"


def _record(row: sqlite3.Row) -> ModelRecord:
    values = dict(row)
    values["meta"] = json.loads(values["meta"] or "{}")
    return ModelRecord(**values)
