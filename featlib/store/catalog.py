"""The shared listing: every item, and renaming, notes, claiming and deleting them."""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import TYPE_CHECKING

from featlib import keys
from featlib.names import check_item_name, check_name
from featlib.store.audit import AuditTrail, record, to_trash
from featlib.store.files import file_bytes
from featlib.store.index import now
from featlib.store.permissions import Actor, check
from featlib.store.records import (
    ARRAY_KINDS,
    ITEM_KINDS,
    InUseError,
    Item,
    ModelRecord,
    NameClashError,
    WorkspaceError,
    claimed_maker,
    fraction,
    read_meta,
)
from featlib.store.saved_views import SavedView, SavedViewError, check_id, view_summary


class Catalog(AuditTrail):
    """Listing, renaming, notes and deleting across kinds (a part of :class:`~featlib.store.Workspace`)."""

    if TYPE_CHECKING:  # provided by ModelStore in the Workspace

        def get_model(self, name_or_id: str) -> ModelRecord: ...

    if TYPE_CHECKING:  # provided by ViewStore in the Workspace

        def list_views(self) -> list[SavedView]: ...

        def get_view(self, ident: str) -> SavedView: ...

    def items(self) -> list[Item]:
        """Every model, dataset upload, representation, map and saved view, newest first."""
        with self._connect() as db:
            models = db.execute("SELECT * FROM models").fetchall()
            datasets = db.execute("SELECT * FROM datasets").fetchall()
            artifacts = db.execute("SELECT * FROM artifacts").fetchall()
        views = self.list_views()
        items = [self._model_item(ModelRecord.from_row(row)) for row in models]
        items += [self._dataset_item(dict(row)) for row in datasets]
        names = {row["id"]: row["name"] for row in models}
        names.update({row["fingerprint"]: row["name"] for row in datasets})
        for row in artifacts:  # representations name their dataset; maps are named after them
            meta = read_meta(row["meta"])
            dataset_fp = keys.read_key(row["key"]).dataset_fp
            if isinstance(meta.get("dataset"), str) and meta["dataset"] and dataset_fp:
                names.setdefault(dataset_fp, meta["dataset"])
        items += [_artifact_item(dict(row), names) for row in artifacts if row["kind"] in ARRAY_KINDS]
        items += [_view_item(view, names) for view in views]
        return sorted(self._with_subjects(items), key=lambda item: item.created, reverse=True)

    def _with_subjects(self, items: list[Item]) -> list[Item]:
        """``items`` with their owners' login subjects (``creator_subject``) read from the index."""
        subjects: dict[tuple[str, str], str] = {}
        with self._connect() as db:
            for table, column in (("models", "id"), ("datasets", "fingerprint"), ("artifacts", "key")):
                for row in db.execute(f"SELECT {column}, creator_subject FROM {table} WHERE creator_subject != ''"):
                    subjects[(table, row[0])] = row[1]
            for row in db.execute("SELECT id, creator_subject FROM saved_views WHERE creator_subject != ''"):
                subjects[("saved_views", row[0])] = row[1]
        return [
            dataclasses.replace(item, creator_subject=subjects.get((_table_of(item.kind)[0], item.id), ""))
            for item in items
        ]

    def user_names(self) -> list[str]:
        """Every name recorded as a maker (``creator``) of a model, dataset, result, saved view or job, sorted.

        What a new user name is compared with (:func:`featlib.names.check_lookalike`): one that reads as a name
        already used, with other letters, is refused.
        """
        found: set[str] = set()
        with self._connect() as db:
            for table in ("models", "datasets", "artifacts", "saved_views", "jobs"):
                try:
                    found.update(r[0] for r in db.execute(f"SELECT DISTINCT creator FROM {table}"))
                except sqlite3.OperationalError:  # an index without the table or column: nothing named there
                    continue
        return sorted(n for n in found if isinstance(n, str) and n.strip())

    def sign_in(self, subject: str, name: str, email: str = "") -> str:
        """Records the login account ``subject`` (a stable login subject, :func:`featlib.store.permissions.subject_of`)
        and returns its display name here: ``name`` when no other account holds it, else ``"name (email)"``, else
        ``"name #2"``, ``"name #3"``, ... Display names are unique among accounts, so what an account makes is
        recorded with its subject (the ``creator_subject`` trigger of :mod:`featlib.store.index`). An account whose
        name changed at its provider is renamed; its items keep their subject.

        Raises:
            ValueError: an empty ``subject`` or ``name``.
        """
        subject, name, email = subject.strip(), " ".join(name.split()), email.strip()
        if not subject or not name:
            raise ValueError(f"A login account needs a subject and a name; got {subject!r} and {name!r}.")
        with self._connect() as db:  # most page runs find the account as it was: no write then
            row = db.execute("SELECT name, email FROM accounts WHERE subject = ?", (subject,)).fetchone()
        if (
            row is not None
            and row["email"] == email
            and (row["name"] in (name, f"{name} ({email})") or row["name"].startswith(f"{name} #"))
        ):
            return row["name"]
        with self._write() as db:
            taken = {r[0] for r in db.execute("SELECT name FROM accounts WHERE subject != ?", (subject,))}
            choices = [name] + ([f"{name} ({email})"] if email else []) + [f"{name} #{n}" for n in range(2, 10_000)]
            chosen = next(c for c in choices if c not in taken)
            db.execute(
                "INSERT INTO accounts (subject, name, email, seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(subject) DO UPDATE SET name = excluded.name, email = excluded.email, seen = excluded.seen",
                (subject, chosen, email, now()),
            )
        return chosen

    def _model_item(self, record: ModelRecord) -> Item:
        params = {k: v for k, v in record.meta.items() if k not in ("history", "provenance")}
        return Item(
            "model",
            record.id,
            record.name,
            record.creator,
            record.created,
            f"{record.architecture} · accuracy measured on {record.measured_on}",
            params,
            file_bytes(self.root / record.path),
            record.test_accuracy,
            None,
            record.note,
            record.id,
            _provenance(record.meta),
            "imported" in record.meta,
            claimed_maker(record.meta),
        )

    def _dataset_item(self, row: dict) -> Item:
        meta = read_meta(row["meta"])
        return Item(
            "dataset",
            row["fingerprint"],
            row["name"],
            row["creator"],
            row["created"],
            row["summary"],
            {k: v for k, v in meta.items() if k != "provenance"},
            file_bytes(self.root / row["path"]),
            None,
            None,
            row["note"],
            None,
            _provenance(meta),
            "imported" in meta,
            claimed_maker(meta),
        )

    def get_item(self, kind: str, ident: str) -> Item:
        """One item of :meth:`items` by kind and id (model id or name, fingerprint, key)."""
        if kind == "model":
            return self._with_subjects([self._model_item(self.get_model(ident))])[0]
        if kind == "view":
            with self._connect() as db:
                names = dict(db.execute("SELECT id, name FROM models").fetchall())
            return self._with_subjects([_view_item(self.get_view(ident), names)])[0]
        if kind in ARRAY_KINDS:  # one row, and the names it mentions
            with self._connect() as db:
                row = db.execute("SELECT * FROM artifacts WHERE key = ? AND kind = ?", (ident, kind)).fetchone()
                names = dict(db.execute("SELECT id, name FROM models").fetchall())
                names.update(dict(db.execute("SELECT fingerprint, name FROM datasets").fetchall()))
            if row is not None:
                return self._with_subjects([_artifact_item(dict(row), names)])[0]
        for item in self.items():
            if item.kind == kind and item.id == ident:
                return item
        raise WorkspaceError(f"No such {kind}: {ident}. It may have been deleted by another user.")

    def set_note(self, kind: str, ident: str, note: str, *, who: str = "", actor: Actor | None = None) -> None:
        """Sets the free-text note of an item; the audit trail records ``who`` set it, and the note before. Under a
        login, ``actor``'s role must allow it (:mod:`featlib.store.permissions`); ``None``: no login.

        Raises:
            WorkspaceError: no such item.
            featlib.errors.RoleError: ``actor`` may not change this item (a member, another's; a viewer, any).
        """
        table, column = _table_of(kind)
        with self._write() as db:
            name, owner, old, subject = _describe(db, kind, ident)
            if name:
                check(actor, "note", subject, f"{kind} {name!r}")
            done = db.execute(f"UPDATE {table} SET note = ? WHERE {column} = ?", (note.strip(), ident)).rowcount
            if done:
                record(
                    db,
                    who,
                    "note",
                    kind,
                    ident,
                    name=name,
                    owner=owner,
                    old=old,
                    new=note.strip(),
                    who_subject=_subject(actor),
                    owner_subject=subject,
                )
        if not done:
            raise WorkspaceError(f"No such {kind}: {ident}. It may have been deleted by another user.")

    def rename(self, kind: str, ident: str, new_name: str, *, who: str = "", actor: Actor | None = None) -> None:
        """Renames a model or dataset upload, or titles a representation or map; the audit trail records ``who``
        renamed it, and the name before. Under a login, ``actor``'s role must allow it
        (:mod:`featlib.store.permissions`); ``None``: no login.

        Raises:
            featlib.errors.RoleError: ``actor`` may not change this item (a member, another's; a viewer, any).
            ValueError: a name that breaks :func:`featlib.names.check_name` (empty, too long, not printable).
            NameClashError: another item of the same kind has that name.
            WorkspaceError: no such item.
        """
        what = f"{kind} {'title' if kind in ARRAY_KINDS + ('view',) else 'name'}"
        new_name = check_name(new_name, what)
        table, column = _table_of(kind)
        name_column = "title" if kind in ARRAY_KINDS + ("view",) else "name"
        with self._write() as db:
            old_name, owner, _, subject = _describe(db, kind, ident)
            if old_name:
                check(actor, "rename", subject, f"{kind} {old_name!r}")
            others = [
                r[0]
                for r in db.execute(f"SELECT {name_column} FROM {table} WHERE {column} != ?", (ident,))
                if isinstance(r[0], str)
            ]
            check_item_name(new_name, kind, others, what)  # no id's shape, no look-alike of another's name
            clash = db.execute(
                f"SELECT {column} FROM {table} WHERE {name_column} = ? AND {column} != ?", (new_name, ident)
            ).fetchone()
            if clash is not None and kind != "view":  # saved views may share a title: their ids tell them apart
                raise NameClashError(f"Another {kind} is already named {new_name!r} ({clash[0]}); choose another name.")
            if kind == "dataset":  # the summary starts with the name: "upload:x: 240 train + ..."
                row = db.execute("SELECT name, summary FROM datasets WHERE fingerprint = ?", (ident,)).fetchone()
                if row is not None and row["summary"].startswith(row["name"] + ":"):
                    summary = new_name + row["summary"][len(row["name"]) :]
                    db.execute("UPDATE datasets SET summary = ? WHERE fingerprint = ?", (summary, ident))
            done = db.execute(f"UPDATE {table} SET {name_column} = ? WHERE {column} = ?", (new_name, ident)).rowcount
            if done:
                record(
                    db,
                    who,
                    "rename",
                    kind,
                    ident,
                    name=new_name,
                    owner=owner,
                    old=old_name,
                    new=new_name,
                    who_subject=_subject(actor),
                    owner_subject=subject,
                )
        if not done:
            raise WorkspaceError(f"No such {kind}: {ident}. It may have been deleted by another user.")

    def derived_from(self, kind: str, ident: str) -> list[Item]:
        """What deleting the item would delete with it (maps of a representation, results of a model)."""
        items = self.items()
        if kind == "model":
            record = self.get_model(ident)
            return [i for i in items if i.kind in ARRAY_KINDS and i.model_id == record.id]
        if kind == "representation":
            return [i for i in items if i.kind == "embedding" and i.id.startswith(keys.maps_prefix(ident))]
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

    def delete(
        self, kind: str, ident: str, *, who: str = "", trash: bool = True, actor: Actor | None = None
    ) -> list[str]:
        """Moves an item and what was made from it (files and index rows), nothing else, into the trash
        (:mod:`featlib.store.audit`: restorable with :meth:`restore` for ``FEATLIB_TRASH_DAYS`` days); the audit
        trail records ``who`` deleted it. Trash entries past their days are purged first. With ``trash=False``
        (taking back an import that failed half-way) the files are removed at once, and the delete still recorded.
        Under a login, ``actor``'s role must allow the delete (:mod:`featlib.store.permissions`); ``None``: no login.

        - a model: its file and its representations and maps (results shared
          with another model of the same fingerprint are handed to it instead);
        - a representation: it and its maps; a map: itself; a saved view: itself (not the maps it shows);
        - a dataset upload: refused while models or results made from it remain.

        Returns:
            The descriptions of what was deleted.

        Raises:
            InUseError: a dataset that is still used.
            WorkspaceError: no such item.
            featlib.errors.RoleError: ``actor`` may not delete this item (a member, another's; a viewer, any);
                nothing is deleted.
        """
        if kind == "dataset":
            users = self.users_of_dataset(ident)
            if users:
                raise InUseError(
                    f"The dataset {ident} is in use by {len(users)} item(s): {', '.join(users[:5])}"
                    f"{' …' if len(users) > 5 else ''}. Delete those first."
                )
        self.purge_trash()
        files: list[str] = []
        deleted: list[str] = []
        with self._write() as db:
            rows: dict[str, list[sqlite3.Row]] = {}
            if kind == "model":
                row = db.execute(  # the id first: a name never stands for another model's id
                    "SELECT * FROM models WHERE id = ? OR name = ? ORDER BY id = ? DESC, rowid", (ident, ident, ident)
                ).fetchone()
                if row is None:
                    raise WorkspaceError(f"No such model: {ident}. It may have been deleted by another user.")
                twin = db.execute(
                    "SELECT id FROM models WHERE fingerprint = ? AND id != ?", (row["fingerprint"], row["id"])
                ).fetchone()
                if twin is not None:  # the same weights under another name: it keeps the results
                    db.execute("UPDATE artifacts SET model_id = ? WHERE model_id = ?", (twin["id"], row["id"]))
                derived = db.execute("SELECT * FROM artifacts WHERE model_id = ?", (row["id"],)).fetchall()
                rows = {"models": [row], "artifacts": derived}
                ident, name, owner, subject = row["id"], row["name"], row["creator"], row["creator_subject"] or ""
                check(actor, "delete", subject, f"model {name!r}")
                db.execute("DELETE FROM artifacts WHERE model_id = ?", (row["id"],))
                db.execute("DELETE FROM models WHERE id = ?", (row["id"],))
                db.execute("INSERT OR REPLACE INTO deleted_models (id, deleted) VALUES (?, ?)", (row["id"], now()))
                files += [row["path"]] + [r["path"] for r in derived]
                deleted += [f"model {row['name']}"] + [r["key"] for r in derived]
            elif kind in ARRAY_KINDS:
                prefix = keys.maps_prefix(ident) if kind == "representation" else None
                found = [
                    r
                    for r in db.execute("SELECT * FROM artifacts WHERE key = ? OR key LIKE 'emb/%'", (ident,))
                    if r["key"] == ident or (prefix and r["key"].startswith(prefix))
                ]
                if not any(r["key"] == ident for r in found):
                    raise WorkspaceError(f"No such {kind}: {ident}. It may have been deleted by another user.")
                name, owner, _, subject = _describe(db, kind, ident)
                check(actor, "delete", subject, f"{kind} {name!r}")
                db.executemany("DELETE FROM artifacts WHERE key = ?", [(r["key"],) for r in found])
                rows = {"artifacts": found}
                files += [r["path"] for r in found]
                deleted += [r["key"] for r in found]
            elif kind == "view":
                check_id(ident)
                row = db.execute("SELECT * FROM saved_views WHERE id = ?", (ident,)).fetchone()
                if row is None:
                    raise SavedViewError(f"No saved view {ident!r}: it may have been deleted by another user.")
                subject = row["creator_subject"] or ""
                check(actor, "delete", subject, f"view {row['title']!r}")
                db.execute("DELETE FROM saved_views WHERE id = ?", (ident,))  # the thumbnail is in the row
                rows, name, owner = {"saved_views": [row]}, row["title"], row["creator"]
                deleted.append(f"view {row['title']}")
            elif kind == "dataset":
                row = db.execute("SELECT * FROM datasets WHERE fingerprint = ?", (ident,)).fetchone()
                if row is None:
                    raise WorkspaceError(f"No such dataset: {ident}. It may have been deleted by another user.")
                subject = row["creator_subject"] or ""
                check(actor, "delete", subject, f"dataset {row['name']!r}")
                db.execute("DELETE FROM datasets WHERE fingerprint = ?", (ident,))
                rows, name, owner = {"datasets": [row]}, row["name"], row["creator"]
                files.append(row["path"])
                deleted.append(f"dataset {row['name']}")
            else:
                raise ValueError(f"Unknown item kind: {kind!r}. Choose one of {list(ITEM_KINDS)}.")
            if trash:
                trash_id = to_trash(
                    db,
                    who,
                    kind,
                    ident,
                    name=name,
                    owner=owner,
                    rows=rows,
                    files=files,
                    contents=deleted,
                    who_subject=_subject(actor),
                    owner_subject=subject,
                )
            else:
                record(
                    db,
                    who,
                    "delete",
                    kind,
                    ident,
                    name=name,
                    owner=owner,
                    old=", ".join(deleted),
                    new="removed",
                    who_subject=_subject(actor),
                    owner_subject=subject,
                )
        # Rows first, files after: a crash in between leaves unlisted files, never listed missing ones.
        if trash:
            self.move_files_to_trash(trash_id, files)
        else:
            for relative in files:
                (self.root / relative).unlink(missing_ok=True)
        return deleted

    def claim(self, kind: str, ident: str, creator: str) -> None:
        """Records ``creator`` as the maker of an item that has none yet (results made by the pipeline)."""
        table, column = _table_of(kind)
        if creator.strip():
            with self._write() as db:
                db.execute(  # the owner's login subject with it (featlib.store.permissions)
                    f"UPDATE {table} SET creator = ?, creator_subject = COALESCE((SELECT subject FROM accounts "
                    f"WHERE name = ?), '') WHERE {column} = ? AND creator = ''",
                    (creator.strip(), creator.strip(), ident),
                )


def _describe(db: sqlite3.Connection, kind: str, ident: str) -> tuple[str, str, str, str]:
    """The name (a representation's or map's title, else its key), maker, note and maker's login subject of an item;
    ``("", "", "", "")`` when there is none."""
    table, column = _table_of(kind)
    name_column = "title" if table in ("artifacts", "saved_views") else "name"
    row = db.execute(
        f"SELECT {name_column}, creator, note, creator_subject FROM {table} WHERE {column} = ?", (ident,)
    ).fetchone()
    if row is None:
        return "", "", "", ""
    return row[0] or ident, row[1] or "", row[2] or "", row[3] or ""


def _subject(actor: Actor | None) -> str:
    """The login subject of who acts (``""`` without a login)."""
    return actor.subject if actor is not None else ""


def _table_of(kind: str) -> tuple[str, str]:
    if kind == "model":
        return "models", "id"
    if kind == "dataset":
        return "datasets", "fingerprint"
    if kind in ARRAY_KINDS:
        return "artifacts", "key"
    if kind == "view":
        return "saved_views", "id"
    raise ValueError(f"Unknown item kind: {kind!r}. Choose one of {list(ITEM_KINDS)}.")


def _artifact_item(row: dict, names: dict[str, str]) -> Item:
    """A representation or map as a listing entry; what it was made from is read from its key.

    ``names`` maps model ids and dataset fingerprints to their names.
    """
    meta = read_meta(row["meta"])
    key = row["key"]
    fields = keys.read_key(key)
    params: dict = {}
    model_name = names.get(row["model_id"] or "", "")
    layer, made_from = fields.layer or "", fields.rep_key
    if fields.kind:
        params = {
            "model_fingerprint": fields.model_fp,
            "dataset_fingerprint": fields.dataset_fp,
            "split": fields.split,
            "layer": layer,
            "method": fields.method or "all layers in one pass",
            "input_scale": fields.input_scale,
        }
        made_from = f"{names.get(fields.dataset_fp, fields.dataset_fp)} {fields.split} · {layer} · {params['method']}"
        if fields.kind == "layer":  # the Layers page: every layer of a sample, in one pass
            params.update(layers_sample=fields.parameters["layers_sample"], seed=fields.parameters["layers_seed"])
            made_from += " (Layers page)"
        if "reduction" in fields.parameters:  # a pooled layer's "reduction=gap" (featlib.read.reductions.key_part)
            params["reduction"] = fields.parameters["reduction"]
            made_from += f" · reduction {params['reduction']}" if fields.kind == "representation" else ""
        if model_name:
            made_from += f" · model {model_name}"
    if fields.is_map:
        params.update({k: v for k, v in fields.parameters.items() if k not in ("layers_sample", "layers_seed")})
    reducer = fields.reducer
    default_name = default_title(
        row["kind"],
        model_name,
        layer,
        params.get("method", ""),
        reducer,
        meta.get("points") if isinstance(meta.get("points"), int) else None,
    )
    return Item(
        row["kind"],
        key,
        row["title"] or default_name,
        row["creator"],
        row["created"],
        made_from,
        params,
        int(row["bytes"]),
        None,
        fraction(meta.get("knn_accuracy")),
        row["note"],
        row["model_id"],
        _provenance(meta),
        bool(meta.get("imported")),
        claimed_maker(meta),
    )


def _view_item(view: SavedView, names: dict[str, str]) -> Item:
    """A saved view as a listing entry: its title, what it shows (``names``: model ids to names), its thumbnail's size."""
    params = {"view": view.kind, "link": view.path, **view.query}
    return Item(
        "view",
        view.id,
        view.title,
        view.creator,
        view.created,
        view_summary(view, names),
        params,
        len(view.thumbnail),
        None,
        None,
        view.note,
        None,
        {},
    )


REDUCER_NAMES = {"umap": "UMAP", "pca": "PCA", "tsne": "t-SNE"}


def default_title(kind: str, model: str, layer: str, method: str, reducer: str = "", points: int | None = None) -> str:
    """What an untitled representation or map is: ``"UMAP map · mlp-digits · dense_1 · function · 1,437 points"``.

    The parts that are unknown (a key of an older form, a model since deleted) are left out, never shown as ``?``.
    """
    what = f"{REDUCER_NAMES.get(reducer, reducer.upper())} map" if kind == "embedding" else "layer outputs"
    parts = [what, model, layer, method] + ([f"{points:,} points"] if points else [])
    return " · ".join(part for part in parts if part)


def _provenance(meta: dict) -> dict:
    """``meta["provenance"]`` when it is a dict, else ``{}`` (meta written by hand or by an older version)."""
    made = meta.get("provenance")
    return made if isinstance(made, dict) else {}
