"""Who changed what: the workspace's audit trail, and its trash of deleted items with Restore.

Every rename, note, delete, restore and job cancel writes one row of the index's ``audit`` table, in the same
transaction as the change itself: who acted (the dashboard's user, the login's name, the CLI's ``$USER``, and under
``st.login`` the login's stable subject), the action, the item's kind, id and name, whose item it was (its
``creator`` and subject), the value before and after, and when (ISO 8601, UTC, seconds). Under a login the roles of
:mod:`featlib.store.permissions` are checked inside the same transaction: only admins restore and purge.

A delete moves the item into the trash instead of removing it: its index rows are kept (as JSON) in one row of
the ``trash`` table and its files are renamed into ``trash/<trash id>/`` in the workspace folder (the same file
system: a rename, no copy). :meth:`AuditTrail.restore` puts the rows and files back exactly (files byte-identical,
listed again as before). It refuses, naming why, when another item took the name or the key meanwhile: it never
restores under another name, so a link or a note naming the item still means it. Items in the trash longer than
``FEATLIB_TRASH_DAYS`` days are removed for good when the workspace is opened and at each delete.

Trashed items are not listed, so they do not count against the quotas (:mod:`featlib.store.quotas`): the trash
is purged after the set days, and the free-disk floor still sees their bytes.
"""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from featlib import settings
from featlib.errors import NameClashError, WorkspaceError
from featlib.store.index import OWNED_TABLES, IndexedFolder, now
from featlib.store.permissions import Actor, check

TRASH_FOLDER = "trash"
"""The folder of the workspace that holds the files of trashed items, one sub-folder per trash entry."""
ACTIONS = ("rename", "note", "delete", "restore", "purge", "cancel")
"""The actions the audit trail records."""
_KEYS = {"models": "id", "datasets": "fingerprint", "artifacts": "key", "saved_views": "id"}


@dataclass(frozen=True)
class AuditRow:
    """One change recorded: ``who`` did ``action`` to the ``kind`` item ``item_id`` (``item_name``, made by
    ``owner``), changing ``old_value`` to ``new_value``, at ``at`` (ISO 8601, UTC); under a login ``who_subject``
    and ``owner_subject`` are the login subjects of both (``""``: none)."""

    id: int
    at: str
    who: str
    action: str
    kind: str
    item_id: str
    item_name: str
    owner: str
    old_value: str
    new_value: str
    who_subject: str = ""
    owner_subject: str = ""


@dataclass(frozen=True)
class TrashEntry:
    """One deleted item in the trash: its kind, id and name, whose it was, who deleted it and when, and what it
    took with it (``contents``: the items deleted with it, as the delete described them)."""

    id: str
    kind: str
    item_id: str
    name: str
    owner: str
    deleted_by: str
    deleted_at: str
    contents: tuple[str, ...]
    owner_subject: str = ""
    deleted_by_subject: str = ""


def record(
    db: sqlite3.Connection,
    who: str,
    action: str,
    kind: str,
    item_id: str,
    *,
    name: str = "",
    owner: str = "",
    old: str = "",
    new: str = "",
    who_subject: str = "",
    owner_subject: str = "",
) -> None:
    """Writes one audit row inside the caller's write transaction ``db`` (so the change and its record commit
    together); ``who_subject`` and ``owner_subject`` are the login subjects of who acted and whose item it is.

    Raises:
        ValueError: an action outside :data:`ACTIONS`.
    """
    if action not in ACTIONS:
        raise ValueError(f"Unknown audit action {action!r}: expected one of {list(ACTIONS)}.")
    db.execute(
        "INSERT INTO audit (at, who, action, kind, item_id, item_name, owner, old_value, new_value, who_subject, "
        "owner_subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            now(),
            who.strip(),
            action,
            kind,
            item_id,
            name or "",
            owner or "",
            old or "",
            new or "",
            who_subject or "",
            owner_subject or "",
        ),
    )


def _encode(row: sqlite3.Row) -> dict:
    """A row as JSON-ready values (a thumbnail's bytes as ``{"base64": ...}``)."""
    out = {}
    for key in row.keys():
        value = row[key]
        out[key] = {"base64": base64.b64encode(value).decode()} if isinstance(value, bytes) else value
    return out


def _decode(value: object) -> object:
    if isinstance(value, dict) and set(value) == {"base64"}:
        return base64.b64decode(value["base64"])
    return value


def to_trash(
    db: sqlite3.Connection,
    who: str,
    kind: str,
    item_id: str,
    *,
    name: str,
    owner: str,
    rows: dict[str, list[sqlite3.Row]],
    files: list[str],
    contents: list[str],
    who_subject: str = "",
    owner_subject: str = "",
) -> str:
    """Records, inside the delete's write transaction ``db``, a trash entry holding ``rows`` (table name to the
    rows deleted from it) and the relative paths of ``files`` (moved by :func:`move_files_to_trash` after the
    commit), and the audit row of the delete. Returns the trash entry's id."""
    trash_id = uuid.uuid4().hex[:12]
    db.execute(
        "INSERT INTO trash (id, kind, item_id, name, owner, deleted_by, deleted_at, rows, files, owner_subject, "
        "deleted_by_subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            trash_id,
            kind,
            item_id,
            name,
            owner or "",
            who.strip(),
            now(),
            json.dumps({table: [_encode(r) for r in found] for table, found in rows.items()}),
            json.dumps({"files": files, "contents": contents}),
            owner_subject or "",
            who_subject or "",
        ),
    )
    record(
        db,
        who,
        "delete",
        kind,
        item_id,
        name=name,
        owner=owner,
        old=", ".join(contents),
        new=f"trash {trash_id}",
        who_subject=who_subject,
        owner_subject=owner_subject,
    )
    return trash_id


class AuditTrail(IndexedFolder):
    """The audit trail and the trash (a part of :class:`~featlib.store.Workspace`)."""

    def history(self, limit: int = 500) -> list[AuditRow]:
        """The recorded changes, newest first (at most ``limit``)."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (int(limit),)).fetchall()
        return [AuditRow(**dict(row)) for row in rows]

    def trash(self) -> list[TrashEntry]:
        """The items in the trash, newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM trash ORDER BY deleted_at DESC, rowid DESC").fetchall()
        return [_entry(row) for row in rows]

    def _trash_path(self, trash_id: str, relative: str) -> Path:
        return self.root / TRASH_FOLDER / trash_id / relative

    def move_files_to_trash(self, trash_id: str, files: list[str]) -> None:
        """Renames the files of a trashed item into ``trash/<trash_id>/`` (missing ones are skipped)."""
        for relative in files:
            source = self.root / relative
            if source.exists():
                target = self._trash_path(trash_id, relative)
                target.parent.mkdir(parents=True, exist_ok=True)
                source.rename(target)

    def restore(self, trash_id: str, *, who: str = "", actor: Actor | None = None) -> TrashEntry:
        """Puts a trashed item back: its index rows as they were and its files byte-identical, at their paths.
        Under a login (``actor``: :mod:`featlib.store.permissions`) only an admin restores; ``None``: no login.

        Raises:
            featlib.errors.RoleError: ``actor`` is not an admin; nothing is restored.
            WorkspaceError: no such trash entry (restored or purged meanwhile), or a file of it is gone.
            NameClashError: another item took its name, id or key meanwhile: nothing is restored; rename or
                delete the other item first (the message names it).
        """
        moved: list[tuple[str, str]] = []
        try:
            with self._write() as db:
                row = db.execute("SELECT * FROM trash WHERE id = ?", (trash_id,)).fetchone()
                if row is None:
                    raise WorkspaceError(
                        f"No item {trash_id!r} in the trash: it was restored or purged meanwhile (the trash keeps "
                        f"deleted items {settings.get('FEATLIB_TRASH_DAYS')} days, FEATLIB_TRASH_DAYS)."
                    )
                check(actor, "restore", row["owner_subject"] or "", f"{row['kind']} {row['name']!r}")
                stored = json.loads(row["rows"])
                files = json.loads(row["files"])["files"]
                _check_free(db, row["kind"], row["name"], stored)
                for relative in files:  # files first: a failed rename leaves the index unchanged
                    source, target = self._trash_path(trash_id, relative), self.root / relative
                    if source.exists():
                        if target.exists():
                            raise NameClashError(
                                f"Cannot restore {row['kind']} {row['name']!r}: a file is already at {relative}. "
                                "Delete the item that uses it first."
                            )
                        target.parent.mkdir(parents=True, exist_ok=True)
                        source.rename(target)
                        moved.append((str(source), str(target)))
                    elif not target.exists():
                        raise WorkspaceError(
                            f"Cannot restore {row['kind']} {row['name']!r}: its file {relative} is no longer in the "
                            "trash. Nothing was restored."
                        )
                for table, found in stored.items():
                    for values in found:
                        if table in OWNED_TABLES:  # trashed before owners were recorded: it stays without one
                            values.setdefault("creator_subject", "")
                        columns = list(values)
                        db.execute(
                            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                            tuple(_decode(values[c]) for c in columns),
                        )
                for model in stored.get("models", []):
                    db.execute("DELETE FROM deleted_models WHERE id = ?", (model["id"],))
                db.execute("DELETE FROM trash WHERE id = ?", (trash_id,))
                record(
                    db,
                    who,
                    "restore",
                    row["kind"],
                    row["item_id"],
                    name=row["name"],
                    owner=row["owner"],
                    old=f"trash {trash_id}",
                    new=row["name"],
                    who_subject=actor.subject if actor is not None else "",
                    owner_subject=row["owner_subject"] or "",
                )
        except BaseException:
            for source, target in reversed(moved):  # put the files back in the trash
                with contextlib.suppress(OSError):
                    shutil.move(target, source)
            raise
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root / TRASH_FOLDER / trash_id)
        return _entry(row)

    def purge_trash(self, days: float | None = None, *, who: str = "", actor: Actor | None = None) -> list[str]:
        """Removes for good the trash entries older than ``days`` (default: ``FEATLIB_TRASH_DAYS``). Under a login a
        purge asked by a user (``actor``: :mod:`featlib.store.permissions`) is an admin's only; ``None``: featlib's
        own purge when the workspace opens and at each delete, or no login.

        Returns:
            The ids of the entries removed.

        Raises:
            featlib.errors.RoleError: ``actor`` is not an admin; nothing is purged.
            featlib.errors.SettingError: ``FEATLIB_TRASH_DAYS`` holds a value outside its rule.
        """
        check(actor, "purge", "", "the trash")
        days = settings.get("FEATLIB_TRASH_DAYS") if days is None else days
        cutoff = (datetime.now(UTC) - timedelta(days=float(days))).isoformat(timespec="seconds")
        with self._connect() as db:  # most opens find nothing to purge: no write transaction then
            if db.execute("SELECT 1 FROM trash WHERE deleted_at <= ? LIMIT 1", (cutoff,)).fetchone() is None:
                return []
        with self._write() as db:
            old = db.execute(
                "SELECT id, kind, item_id, name, owner, owner_subject FROM trash WHERE deleted_at <= ?", (cutoff,)
            )
            old = old.fetchall()
            for row in old:
                db.execute("DELETE FROM trash WHERE id = ?", (row["id"],))
                record(
                    db,
                    who,
                    "purge",
                    row["kind"],
                    row["item_id"],
                    name=row["name"],
                    owner=row["owner"],
                    old=f"trash {row['id']}",
                    new=f"removed after {days:g} days",
                    who_subject=actor.subject if actor is not None else "",
                    owner_subject=row["owner_subject"] or "",
                )
        for row in old:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.root / TRASH_FOLDER / row["id"])
        return [row["id"] for row in old]


def _check_free(db: sqlite3.Connection, kind: str, name: str, stored: dict[str, list[dict]]) -> None:
    """Refuses a restore when another item holds a key or name of the trashed rows now."""
    for table, found in stored.items():
        key = _KEYS.get(table)
        for values in found:
            if key and db.execute(f"SELECT 1 FROM {table} WHERE {key} = ?", (values[key],)).fetchone():
                raise NameClashError(
                    f"Cannot restore {kind} {name!r}: the workspace holds {values[key]} again ({table}), made "
                    "since the delete. Delete that item first, or keep it and leave this one in the trash."
                )
    for table in ("models", "datasets"):
        for values in stored.get(table, []):
            clash = db.execute(f"SELECT {_KEYS[table]} FROM {table} WHERE name = ?", (values["name"],)).fetchone()
            if clash is not None:
                raise NameClashError(
                    f"Cannot restore {kind} {name!r}: another {table[:-1]} took the name {values['name']!r} "
                    f"({clash[0]}) since the delete. Rename that one first, then restore; nothing was restored."
                )


def _entry(row: sqlite3.Row) -> TrashEntry:
    return TrashEntry(
        row["id"],
        row["kind"],
        row["item_id"],
        row["name"],
        row["owner"],
        row["deleted_by"],
        row["deleted_at"],
        tuple(json.loads(row["files"]).get("contents", [])),
        row["owner_subject"] or "",
        row["deleted_by_subject"] or "",
    )
