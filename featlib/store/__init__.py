"""The workspace: models and computed arrays on disk, indexed in SQLite.

Layout of a workspace folder (default ``./workspace``, or the environment
variable ``FEATLIB_WORKSPACE``)::

    index.sqlite          the index (WAL mode): models, artifacts and jobs
    models/<id>.keras     saved models
    datasets/<fp>.npz     uploaded datasets, by fingerprint
                          (saved views, with their PNG thumbnails, are rows of the index)
    arrays/<kind>/<h>.npy representations and embeddings, by key digest

umap-learn's compiled code is no longer kept here but once per user and machine
(:mod:`featlib.maps.compile_cache`); a ``numba-cache/`` folder left by older versions
is no longer read and can be deleted.

Every item in the index records who made it (``creator``: the name a user set
in the dashboard, the login name, or the CLI's ``$USER``), a free-text
``note``, and in its ``meta`` a ``provenance`` dict (fingerprints, library
versions, parameters, seed; see :mod:`featlib.provenance`). Models and
datasets can be renamed (names stay unique); representations and maps get a
``title``. Deleting a model deletes the representations and maps made from it
(files and index rows) and nothing else. Indexes written by older versions
gain the new columns (``ALTER TABLE``) and tables (``jobs``) when the workspace is opened.

Every file is written to a temporary name (``.tmp-<random><suffix>`` in the
same folder), flushed to disk (``fsync``) and renamed over its final name, and
entered in the index only once complete, so a crash (even ``SIGKILL`` or a
power cut) leaves no half-written item listed: only what the index lists is
ever shown or loaded, and the index lists only complete files. Arrays and
dataset uploads are renamed into place inside the index transaction that lists
them, after looking up what is listed under their key: an upload already listed
(same fingerprint) is kept as it is, and ``save_array(..., overwrite=False)``
(what a bundle import stores) refuses a key already listed with
:class:`AlreadyStoredError`. Model files get a new id each and are linked into
place without ever replacing a file.

All index writes (jobs included) go through :meth:`Workspace._write`, one ``BEGIN IMMEDIATE``
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

The store knows nothing of Keras beyond loading a saved file: a model is saved
by :func:`featlib.models.save_model`, which serialises it and hands the file
to :meth:`Workspace.save_model_file`.

Modules (one job each):

- :mod:`~featlib.store.files`: the workspace folder, atomic writes, temporary-file cleaning;
- :mod:`~featlib.store.index`: the SQLite schema, migrations and the one writer;
- :mod:`~featlib.store.records`: the records listed (``ModelRecord``, ``Item``) and the errors;
- :mod:`~featlib.store.saved_models`, :mod:`~featlib.store.saved_datasets`,
  :mod:`~featlib.store.arrays`: each kind of content, its files and rows;
- :mod:`~featlib.store.saved_views`: saved views (a title, a short id, a thumbnail);
- :mod:`~featlib.store.catalog`: the shared listing, renames, notes, deletes;
- :mod:`~featlib.store.audit`: who renamed, noted, deleted or cancelled what (the ``audit`` table), and the trash
  deletes go to (``trash/`` and the ``trash`` table), restorable for ``FEATLIB_TRASH_DAYS`` days;
- :mod:`~featlib.store.permissions`: with ``st.login`` on, the roles (viewer, member, admin) and the one rule
  table every change checks; owners are keyed by the login's stable subject (``creator_subject``);
- :mod:`~featlib.store.quotas`: quotas per maker and per workspace, and the free-disk floor, checked before
  every new item is written (:meth:`Workspace.check_room`; refusals are ``QuotaError``);
- :mod:`~featlib.store.jobs`: the job table (``workspace.jobs``);
- :mod:`~featlib.store.workspace`: :class:`Workspace`, made of those parts.
"""

from featlib.store.files import STALE_TEMP_SECONDS, TEMP_PREFIX, WORKSPACE_ENV, default_root, write_atomically
from featlib.store.jobs import FINISHED, JOB_STATUSES, JobIndex, JobRow
from featlib.store.records import (
    ARRAY_KINDS,
    ITEM_KINDS,
    AlreadyStoredError,
    InUseError,
    Item,
    ModelRecord,
    NameClashError,
    WorkspaceError,
)
from featlib.store.saved_views import SavedView, SavedViewError
from featlib.store.workspace import Workspace

__all__ = [
    "ARRAY_KINDS",
    "FINISHED",
    "ITEM_KINDS",
    "JOB_STATUSES",
    "STALE_TEMP_SECONDS",
    "TEMP_PREFIX",
    "WORKSPACE_ENV",
    "AlreadyStoredError",
    "InUseError",
    "Item",
    "JobIndex",
    "JobRow",
    "ModelRecord",
    "NameClashError",
    "SavedView",
    "SavedViewError",
    "Workspace",
    "WorkspaceError",
    "default_root",
    "write_atomically",
]
