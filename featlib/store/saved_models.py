"""Saved models: ``models/<id>.keras`` files and their ``models`` rows.

The store keeps model files without knowing how they are made: Keras-specific
saving (serialising, fingerprinting) is :func:`featlib.models.save_model`.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from featlib import provenance
from featlib.errors import ModelMismatchError
from featlib.lazy import keras
from featlib.names import check_item_name, check_lookalike
from featlib.store.files import publish, sync_file, temporary_file
from featlib.store.index import IndexedFolder, now
from featlib.store.quotas import check_quotas
from featlib.store.records import ModelRecord, WorkspaceError

if TYPE_CHECKING:
    import keras


_FINDINGS = ("history", "provenance", "hints", "other_scale_accuracy", "implied_scale", "imported")
"""Meta keys that record what was measured or found (or, for ``imported``, what a bundle claims), not how a model
was made: left out of its provenance parameters."""


class ModelStore(IndexedFolder):
    """Saving, listing, finding and loading models (a part of :class:`~featlib.store.Workspace`)."""

    def save_model_file(
        self,
        data: bytes | Callable[[Path], None],
        name: str,
        *,
        fingerprint: str,
        architecture: str,
        dataset: str,
        test_accuracy: float | None = None,
        input_scale: str = "0-1",
        meta: dict | None = None,
        creator: str = "",
    ) -> ModelRecord:
        """Stores a serialised ``.keras`` model atomically and lists it under a unique name.

        Args:
            data: the file's bytes, or a function that writes the file at the
                path it is given (such as ``model.save``), so a large model
                need not be held in memory twice.
            name: the name wanted; when taken, ``name-2``, ``name-3``, ... is
                used instead (chosen inside the index transaction): nothing
                saved earlier is overwritten.
            fingerprint: the model's fingerprint (:func:`featlib.models.fingerprint`).
            architecture: its one-line summary (:func:`featlib.models.architecture_summary`).
            dataset, test_accuracy, input_scale, meta, creator: recorded as given;
                ``meta["provenance"]`` is completed with the fingerprint and the
                library versions.

        Raises:
            TextError: a name that breaks :func:`featlib.names.check_item_name`: empty, too long, not printable,
                mixing scripts, shaped like an id, or reading as another model's name with look-alike letters.
            featlib.errors.QuotaError: the model would take ``creator`` (for a job's result: who asked for it) or
                the workspace past a quota, or leave the disk under the free-disk floor
                (:mod:`featlib.store.quotas`). Checked before the file is written (a model given as bytes: with its
                size; one written by a function: the disk, with nothing yet), and again under the index's lock
                with the file's size, before it is linked into place. Nothing is stored.
        """
        name = check_item_name(name, "model")
        model_id = uuid.uuid4().hex[:12]
        relative = f"models/{model_id}.keras"
        write = data if callable(data) else (lambda tmp: tmp.write_bytes(data))
        self.check_room(creator, 0 if callable(data) else len(data), what="model")
        row = dict(
            id=model_id,
            dataset=dataset,
            architecture=architecture,
            test_accuracy=None if test_accuracy is None else float(test_accuracy),
            input_scale=input_scale,
            fingerprint=fingerprint,
            path=relative,
            created=now(),
            creator=creator.strip(),
        )
        meta = dict(meta or {})
        meta["provenance"] = provenance.describe(
            model_fingerprint=row["fingerprint"],
            dataset_fingerprint=meta.get("dataset_fingerprint"),
            parameters={k: v for k, v in meta.items() if k not in _FINDINGS},
            seed=meta.get("seed"),
            base=meta.get("provenance"),
        )
        row["meta"] = json.dumps(meta)
        path = self.root / relative
        with temporary_file(path) as tmp:
            write(tmp)
            sync_file(tmp)  # before the lock: a large file's fsync does not hold up other writers
            try:
                with self._write() as db:
                    check_quotas(db, self.root, creator, tmp.stat().st_size, what="model")  # nothing linked yet
                    taken = {r[0] for r in db.execute("SELECT name FROM models")}
                    check_lookalike(name, taken, "model name")
                    row["name"] = _unique_name(name, taken)
                    publish(tmp, path, replace=False, synced=True)  # a new id: never over another model's file
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

    def update_model(
        self, model_id: str, *, test_accuracy: float | None, meta: dict, input_scale: str | None = None
    ) -> ModelRecord:
        """Sets a saved model's accuracy and merges ``meta`` into its meta (a model scored again; its file is kept).

        ``input_scale``, when given, replaces the scaling its inputs are given (scored again with the other one).

        The values of ``meta`` that the record's provenance lists among its parameters are updated there too.

        Raises:
            WorkspaceError: no such model (it may have been deleted by another user).
        """
        with self._write() as db:
            merged = _merged_meta(db, model_id, meta)
            parameters = (merged.get("provenance") or {}).get("parameters")
            if isinstance(parameters, dict):
                parameters.update({k: v for k, v in meta.items() if k in parameters})
            accuracy = None if test_accuracy is None else float(test_accuracy)
            db.execute(
                "UPDATE models SET test_accuracy = ?, meta = ?, input_scale = COALESCE(?, input_scale) WHERE id = ?",
                (accuracy, json.dumps(merged), input_scale, model_id),
            )
        return self.get_model(model_id)

    def merge_model_meta(self, model_id: str, meta: dict) -> ModelRecord:
        """Merges ``meta`` into a saved model's meta and changes nothing else: for what is read from the model
        itself (its description, :mod:`featlib.read.model_description`), never for what a user sets.

        Raises:
            WorkspaceError: no such model (it may have been deleted by another user).
        """
        with self._write() as db:
            merged = _merged_meta(db, model_id, meta)
            db.execute("UPDATE models SET meta = ? WHERE id = ?", (json.dumps(merged), model_id))
        return self.get_model(model_id)

    def list_models(self) -> list[ModelRecord]:
        """Every saved model, newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM models ORDER BY created DESC, rowid DESC").fetchall()
        return [ModelRecord.from_row(row) for row in rows]

    def get_model(self, name_or_id: str, *, fingerprint: str | None = None) -> ModelRecord:
        """The record of a model by id, else by name: an id always wins, so a model renamed to another model's
        id (which :func:`featlib.names.check_not_id` refuses now, but an older workspace may hold) never stands
        in for it.

        Args:
            name_or_id: the model's id, or its name.
            fingerprint: when given (a link, saved view or bundle pins the model it was made with), the model
                found must have it.

        Raises:
            WorkspaceError: naming the models the workspace holds; or, with ``fingerprint``, naming the
                fingerprint expected and the one found.
        """
        with self._connect() as db:
            row = db.execute(
                "SELECT * FROM models WHERE id = ? OR name = ? ORDER BY id = ? DESC, rowid",
                (name_or_id, name_or_id, name_or_id),
            ).fetchone()
        if row is None:
            names = [m.name for m in self.list_models()]
            raise WorkspaceError(f"No such model: {name_or_id}. The workspace holds: {names}.")
        record = ModelRecord.from_row(row)
        if fingerprint and record.fingerprint != fingerprint:
            raise ModelMismatchError(
                f"The model {name_or_id!r} is not the one this was made with: expected the model with fingerprint "
                f"{fingerprint[:16]}, found {record.name!r} ({record.id}) with fingerprint "
                f"{record.fingerprint[:16]}. It was replaced or renamed since; nothing was opened."
            )
        return record

    def model_bytes(self, name_or_id: str | ModelRecord) -> bytes:
        """The bytes of a saved model's ``.keras`` file (what jobs receive; see :mod:`featlib.jobs`).

        Raises:
            WorkspaceError: no such model, or its file is gone.
        """
        record = name_or_id if isinstance(name_or_id, ModelRecord) else self.get_model(name_or_id)
        try:
            return (self.root / record.path).read_bytes()
        except OSError as error:
            raise WorkspaceError(f"The file of model {record.name} ({record.path}) cannot be read: {error}") from error

    def load_model(self, name_or_id: str | ModelRecord) -> keras.Model:
        """Loads a saved model with Keras (``safe_mode=True``, not compiled).

        The workspace holds only files it wrote itself from models built here
        or checked on upload (:func:`featlib.models.load_model`), so they are
        read with Keras directly.

        Raises:
            WorkspaceError: no such model, or Keras cannot read its file.
        """
        record = name_or_id if isinstance(name_or_id, ModelRecord) else self.get_model(name_or_id)
        try:
            return keras.saving.load_model(self.root / record.path, compile=False, safe_mode=True)
        except Exception as error:  # Keras raises many types for bad files.
            lines = str(error).strip().splitlines()
            reason = lines[0][:300] if lines else type(error).__name__
            raise WorkspaceError(f"Keras could not load the model {record.name} ({record.path}): {reason}") from error


def _unique_name(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"


def _merged_meta(db, model_id: str, meta: dict) -> dict:
    """A saved model's meta with ``meta`` merged in, read inside the write transaction ``db``.

    Raises:
        WorkspaceError: no such model (it may have been deleted by another user).
    """
    row = db.execute("SELECT meta FROM models WHERE id = ?", (model_id,)).fetchone()
    if row is None:
        raise WorkspaceError(f"No such model: {model_id}. It may have been deleted by another user.")
    return {**json.loads(row["meta"] or "{}"), **meta}
