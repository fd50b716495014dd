"""The :class:`Workspace`: a folder and its index, made of one part per kind of content."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from featlib.store.arrays import ArrayStore
from featlib.store.catalog import Catalog
from featlib.store.files import STALE_TEMP_SECONDS, clean_temporary_files, default_root, folder_bytes
from featlib.store.jobs import JobIndex
from featlib.store.quotas import Quotas, Share, free_bytes, quotas, shares
from featlib.store.saved_datasets import DatasetStore
from featlib.store.saved_models import ModelStore
from featlib.store.saved_views import ViewStore


class Workspace(ModelStore, DatasetStore, ArrayStore, ViewStore, Catalog):
    """A folder of models and cached arrays with an SQLite index.

    Models (:class:`~featlib.store.saved_models.ModelStore`), dataset uploads
    (:class:`~featlib.store.saved_datasets.DatasetStore`), arrays
    (:class:`~featlib.store.arrays.ArrayStore`), saved views
    (:class:`~featlib.store.saved_views.ViewStore`) and the shared listing
    (:class:`~featlib.store.catalog.Catalog`) are its parts; ``jobs`` is the
    job table (:class:`~featlib.store.jobs.JobIndex`). All of them write the
    index through :meth:`_write` only.

    Args:
        root: the folder; created when missing. Defaults to :func:`default_root`.

    Example:
        >>> ws = Workspace("/tmp/ws")  # doctest: +SKIP
        >>> record = featlib.models.save_model(ws, model, "demo", dataset="digits")  # doctest: +SKIP
        >>> ws.load_model("demo")  # doctest: +SKIP
    """

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_root()
        self.root.mkdir(parents=True, exist_ok=True)
        self.index_path = self.root / "index.sqlite"
        self._open_index()
        self.jobs = JobIndex(self)
        with contextlib.suppress(OSError):  # a read-only workspace still opens
            self.clean_temporary_files()
        with contextlib.suppress(OSError, sqlite3.OperationalError):  # read-only: the trash waits for a writer
            self.purge_trash()

    @property
    def numba_cache(self) -> Path:
        """Where older versions kept umap-learn's compiled code; featlib now keeps it once per user and machine
        (:func:`featlib.maps.compile_cache.folder`) and no longer reads this folder."""
        return self.root / "numba-cache"

    def clean_temporary_files(self, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
        """Removes temporary files left by writers that died (a crash, ``SIGKILL``).

        A temporary file is removed when no live writer holds its lock and it
        was last modified more than ``older_than`` seconds ago. Such files are
        never listed whether or not they are removed; this only frees the disk.
        Opening a workspace calls it with the default age (ten minutes).

        Returns:
            The files removed.
        """
        return clean_temporary_files(self.root, older_than)

    def usage(self) -> dict[str, int]:
        """Counts of models, arrays and saved views, and the bytes they use on disk.

        Files may come and go while the folder is read (SQLite's ``-wal`` and
        ``-shm`` files when connections close, temporary files renamed by
        other sessions' saves): those are simply not counted.
        """
        with self._connect() as db:
            kinds = dict(db.execute("SELECT kind, COUNT(*) FROM artifacts GROUP BY kind").fetchall())
            models = db.execute("SELECT COUNT(*) FROM models").fetchone()[0]
            datasets = db.execute("SELECT COUNT(*) FROM datasets").fetchone()[0]
            views = db.execute("SELECT COUNT(*) FROM saved_views").fetchone()[0]
        return {
            "models": models,
            "datasets": datasets,
            "representations": kinds.get("representation", 0),
            "embeddings": kinds.get("embedding", 0),
            "views": views,
            "bytes": folder_bytes(self.root),
        }

    def shares(self) -> list[Share]:
        """Each maker's share of the workspace: items and bytes per ``creator`` (``""``: nobody named), largest first.

        Counted as the quotas count them (:mod:`featlib.store.quotas`): what the listing shows as made by each
        (an import counts for who imported it; a job's results for who asked for it), with the bytes the
        listing gives each item.
        """
        with self._connect() as db:
            found = shares(db, self.root)
        return sorted(found.values(), key=lambda share: (-share.bytes, -share.items, share.maker))

    def quotas(self) -> Quotas:
        """The quotas in force now (``FEATLIB_QUOTA_*``, ``FEATLIB_MIN_FREE_MB``, read at each call), in bytes and items.

        Raises:
            featlib.errors.SettingError: a quota setting holds a value outside its rule.
        """
        return quotas()

    def free_bytes(self) -> int:
        """The bytes free on the disk that holds the workspace."""
        return free_bytes(self.root)
