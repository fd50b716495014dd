"""Files of a workspace: where it lives, atomic writes, and the temporary files crashes leave.

Every file is written to a temporary name (``.tmp-<random><suffix>`` in the
same folder) by :func:`write_atomically`, flushed to disk and renamed over its
final name. :func:`clean_temporary_files` removes the temporary files of
writers that died.
"""

from __future__ import annotations

import contextlib
import errno
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from featlib import settings

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no locks, the age alone decides
    fcntl = None  # type: ignore[assignment]

WORKSPACE_ENV = "FEATLIB_WORKSPACE"
TEMP_PREFIX = ".tmp-"
STALE_TEMP_SECONDS = 600.0
"""Age past which :func:`clean_temporary_files` removes unheld temporary files."""
FOLDERS = ("models", "datasets", "arrays")
"""The workspace folders that hold written files (and so may hold temporary ones)."""


def default_root() -> Path:
    """``$FEATLIB_WORKSPACE`` when set, else ``./workspace`` (:func:`featlib.settings.get`)."""
    return settings.get(WORKSPACE_ENV)


def write_atomically(path: Path, write: Callable[[Path], None], *, replace: bool = True) -> None:
    """Calls ``write(tmp)`` on a temporary file beside ``path``, then renames it.

    The temporary file is named ``.tmp-<random><suffix>`` (it keeps ``path``'s
    suffix: Keras insists on ``.keras``), is created with the usual permissions
    (``0o666`` less the umask), is locked (``flock``) by this writer until the
    rename so that :func:`clean_temporary_files` leaves it alone, is
    fsynced before the rename, and is removed if ``write`` fails. The folder is
    fsynced after the rename, so the new name is on disk when this returns.

    Args:
        path: the final name.
        write: writes the file at the path it is given.
        replace: whether a file already at ``path`` is replaced; ``False``: it is
            kept and ``FileExistsError`` raised (see :func:`publish`).

    Raises:
        FileExistsError: ``replace=False`` and ``path`` exists.
    """
    with temporary_file(path) as tmp:
        write(tmp)
        publish(tmp, path, replace=replace)


@contextlib.contextmanager
def temporary_file(path: Path) -> Iterator[Path]:
    """A locked temporary file beside ``path`` (``.tmp-<random><suffix>``), removed on exit unless published.

    For writers that must rename under another lock (the index's: see
    :meth:`featlib.store.arrays.ArrayStore.save_array`): write the file, then
    :func:`publish` it while holding that lock.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TEMP_PREFIX}{uuid.uuid4().hex}{path.suffix}")
    lock_fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        if fcntl is not None:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            yield tmp
        finally:
            tmp.unlink(missing_ok=True)  # gone already once published by a rename
    finally:
        os.close(lock_fd)  # releases the lock


def publish(tmp: Path, path: Path, *, replace: bool = True, synced: bool = False) -> None:
    """Fsyncs ``tmp``, gives it the name ``path``, and fsyncs the folder.

    Args:
        synced: ``tmp`` was fsynced already (:func:`sync_file`, before taking a lock).
        replace: ``True``: renamed over whatever is at ``path``. ``False``: linked
            to ``path`` only when nothing is there (``os.link`` fails rather than
            replace, atomically); on a file system without hard links, a check then
            a rename.

    Raises:
        FileExistsError: ``replace=False`` and ``path`` exists; ``tmp`` is left for
            its :func:`temporary_file` to remove.
    """
    if not synced:
        sync_file(tmp)
    if replace:
        os.replace(tmp, path)
    else:
        try:
            os.link(tmp, path)
        except FileExistsError:
            raise
        except OSError:  # no hard links on this file system
            if path.exists():
                raise FileExistsError(errno.EEXIST, "File exists; not replaced", str(path)) from None
            os.replace(tmp, path)
        else:
            tmp.unlink(missing_ok=True)
    _fsync_folder(path.parent)


def sync_file(path: Path) -> None:
    """Flushes a written file to disk (``fsync``)."""
    # Reopened: the writer may have replaced the file a lock was taken on.
    sync_fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        os.fsync(sync_fd)
    finally:
        os.close(sync_fd)


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


def clean_temporary_files(root: Path, older_than: float = STALE_TEMP_SECONDS) -> list[Path]:
    """Removes the temporary files under ``root``'s :data:`FOLDERS` left by writers that died.

    A temporary file is removed when no live writer holds its lock and it
    was last modified more than ``older_than`` seconds ago.

    Returns:
        The files removed.
    """
    removed: list[Path] = []
    now = time.time()
    for folder in FOLDERS:
        for tmp in sorted((root / folder).rglob(TEMP_PREFIX + "*")):
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


def file_bytes(path: Path) -> int:
    """The size of a file; 0 when it is missing."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def folder_bytes(root: Path) -> int:
    """The size of every file under ``root``, skipping files that vanish meanwhile."""
    total = 0
    for folder, _, names in os.walk(root):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(os.path.join(folder, name), follow_symlinks=False).st_size
    return total
