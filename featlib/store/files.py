"""Files of a workspace: where it lives, atomic writes, and the temporary files crashes leave.

Every file is written to a temporary name (``.tmp-<random><suffix>`` in the
same folder) by :func:`write_atomically`, flushed to disk and renamed over its
final name. :func:`clean_temporary_files` removes the temporary files of
writers that died.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path
from typing import Callable

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
    """``$FEATLIB_WORKSPACE`` when set, else ``./workspace``."""
    return Path(os.environ.get(WORKSPACE_ENV) or "workspace")


def write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    """Calls ``write(tmp)`` on a temporary file beside ``path``, then renames it.

    The temporary file is named ``.tmp-<random><suffix>`` (it keeps ``path``'s
    suffix: Keras insists on ``.keras``), is created with the usual permissions
    (``0o666`` less the umask), is locked (``flock``) by this writer until the
    rename so that :func:`clean_temporary_files` leaves it alone, is
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
