"""The SQLite index of a workspace: the one owner of its schema and of its writes.

Every write goes through :meth:`IndexedFolder._write`, one ``BEGIN IMMEDIATE``
transaction each; the index is in WAL mode with a 30-second busy timeout, so
several threads and processes can read while one writes. Indexes written by
older versions gain new tables and columns when opened (:func:`create_schema`).
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from featlib.store.quotas import check_disk, check_quotas

SCHEMA = """
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
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    kind TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    creator TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    progress_text TEXT NOT NULL DEFAULT '',
    queued_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT,
    error TEXT NOT NULL DEFAULT '',
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status);
CREATE INDEX IF NOT EXISTS jobs_key ON jobs (key);
CREATE TABLE IF NOT EXISTS saved_views (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    digest TEXT NOT NULL,
    title TEXT NOT NULL,
    query TEXT NOT NULL,
    creator TEXT NOT NULL DEFAULT '',
    created TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    thumbnail BLOB,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE UNIQUE INDEX IF NOT EXISTS saved_views_digest ON saved_views (kind, digest);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    who TEXT NOT NULL DEFAULT '',
    action TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_id TEXT NOT NULL,
    item_name TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    old_value TEXT NOT NULL DEFAULT '',
    new_value TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
CREATE TABLE IF NOT EXISTS trash (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    item_id TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    owner TEXT NOT NULL DEFAULT '',
    deleted_by TEXT NOT NULL DEFAULT '',
    deleted_at TEXT NOT NULL,
    rows TEXT NOT NULL,
    files TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    subject TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL DEFAULT '',
    seen TEXT NOT NULL
);
"""

# Columns added after the first release: added to older indexes when opened.
ADDED_COLUMNS = {
    "models": {"creator": "TEXT NOT NULL DEFAULT ''", "note": "TEXT NOT NULL DEFAULT ''"},
    "datasets": {
        "creator": "TEXT NOT NULL DEFAULT ''",
        "note": "TEXT NOT NULL DEFAULT ''",
        "meta": "TEXT NOT NULL DEFAULT '{}'",
    },
    "artifacts": {
        "creator": "TEXT NOT NULL DEFAULT ''",
        "note": "TEXT NOT NULL DEFAULT ''",
        "title": "TEXT NOT NULL DEFAULT ''",
    },
    "audit": {"who_subject": "TEXT NOT NULL DEFAULT ''", "owner_subject": "TEXT NOT NULL DEFAULT ''"},
    "trash": {"owner_subject": "TEXT NOT NULL DEFAULT ''", "deleted_by_subject": "TEXT NOT NULL DEFAULT ''"},
}
OWNED_TABLES = ("models", "datasets", "artifacts", "saved_views", "jobs")
"""The tables whose rows record an owner: ``creator`` (the display name) and ``creator_subject`` (the login's stable
subject, ``""``: none). A row inserted without ``creator_subject`` gets the subject of the login account whose
display name (``accounts``, unique per account) is its ``creator``, by a trigger, so every path that stores an item
records its owner; rows of an index older than the column keep ``""`` (under a login only admins change them)."""


def now() -> str:
    """The current UTC time as recorded in the index (ISO 8601, seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class IndexedFolder:
    """A folder with an SQLite index; every part of :class:`~featlib.store.Workspace` builds on it.

    Holds ``root`` and ``index_path``, opens connections (:meth:`_connect`)
    and is the one place that writes the index (:meth:`_write`).
    """

    root: Path
    index_path: Path

    def _open_index(self) -> None:
        """Puts the index in WAL mode and creates or migrates its schema."""
        with self._connect() as db:
            set_wal(db)
        with self._write() as db:
            create_schema(db)

    def check_room(
        self, maker: str, nbytes: int, *, what: str = "item", new_items: int = 1, replacing: int = 0
    ) -> None:
        """Refuses a new item before its file is written: past a quota of its maker or of the workspace, or
        leaving the disk under the free-disk floor (:mod:`featlib.store.quotas`); returns when it fits.

        Args:
            maker: who it counts for (its ``creator``; a job's result: who asked for the job).
            nbytes: the bytes about to be written.
            what: the item in words (``"model"``, ``"dataset upload"``, ``"map"``, ...).
            new_items: 1 for a new item; 0 when it replaces one listed under the same key.
            replacing: the bytes of the item it replaces.

        Raises:
            featlib.errors.QuotaError: (a :class:`~featlib.errors.WorkspaceError`) naming the quota, the use now,
                the size of the item and the fix (delete items on the Workspace page, or the admin raises the
                setting); nothing is written.
        """
        check_disk(self.root, nbytes - replacing, what=what)
        with self._connect() as db:
            check_quotas(db, self.root, maker, nbytes, what=what, new_items=new_items, replacing=replacing)

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


def create_schema(db: sqlite3.Connection) -> None:
    """Creates the tables and indexes of :data:`SCHEMA` that are missing, then the missing columns."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    add_missing_columns(db)
    add_owner_subjects(db)


def add_missing_columns(db: sqlite3.Connection) -> None:
    """Adds the columns of :data:`ADDED_COLUMNS` that an older index lacks."""
    for table, columns in ADDED_COLUMNS.items():
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        for name, definition in columns.items():
            if name not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {definition}")


def add_owner_subjects(db: sqlite3.Connection) -> None:
    """Adds ``creator_subject`` to each of :data:`OWNED_TABLES` that lacks it (its rows get ``""``: no subject), and
    the trigger that fills it on insert from the ``accounts`` table."""
    for table in OWNED_TABLES:
        present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if "creator_subject" not in present:
            db.execute(f"ALTER TABLE {table} ADD COLUMN creator_subject TEXT")
            db.execute(f"UPDATE {table} SET creator_subject = ''")  # made before owners were recorded
        db.execute(
            f"CREATE TRIGGER IF NOT EXISTS {table}_owner AFTER INSERT ON {table} WHEN NEW.creator_subject IS NULL "
            f"BEGIN UPDATE {table} SET creator_subject = COALESCE((SELECT subject FROM accounts "
            "WHERE name = NEW.creator AND NEW.creator != ''), '') WHERE rowid = NEW.rowid; END"
        )


def set_wal(db: sqlite3.Connection, tries: int = 50) -> None:
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
