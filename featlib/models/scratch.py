"""Temporary folders of model loads, removed however a load ends, a worker killed at its limit included.

Loading a model writes files: the upload itself, Keras's copy of a ``.keras`` archive's members (Keras
extracts every member of an archive with assets to a temporary folder), a legacy ``.h5`` rewritten for
Keras 3. A ``with tempfile.TemporaryDirectory()`` removes its folder when the block ends, but not when the
process is killed: a job stopped at its time limit has its worker restarted, and a load stopped that way
left 51,000 files behind. So every such folder lives under one folder per process,
``$TMPDIR/featlib-load-<pid>-<random>`` (mode 0700, made by :func:`tempfile.mkdtemp`):

- :func:`folder` makes a folder there and removes it when its block ends (``finally``);
- Keras's own temporary folders of a load are made there too (:func:`keep_keras_temp_here`);
- the process's folder is removed when the process exits (``atexit``), and :func:`clean_stale` removes
  those of processes that no longer run (a killed worker's): every model load runs it first, so what a
  stopped load left is gone by the next one.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from featlib.lazy import keras

PREFIX = "featlib-load-"
_lock = threading.Lock()
_installed: list[bool] = []


_roots: dict[tuple[int, str], Path] = {}


def process_root() -> Path:
    """This process's folder of load files, ``$TMPDIR/featlib-load-<pid>-<random>`` (mode 0700).

    Made once per process and temporary folder with :func:`tempfile.mkdtemp`, so its name cannot be guessed
    and another local account cannot plant it (a folder or a link) before this process makes it.
    """
    base = tempfile.gettempdir()
    key = (os.getpid(), base)
    with _lock:
        root = _roots.get(key)
        if root is None or not root.is_dir():
            root = _roots[key] = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base))
    return root


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_stale(base: str | Path | None = None) -> list[Path]:
    """Removes the load folders of processes that no longer run (this user's only); returns those removed."""
    base = Path(base or tempfile.gettempdir())
    removed = []
    with contextlib.suppress(OSError):
        for path in base.glob(f"{PREFIX}*"):
            pid = path.name[len(PREFIX) :].partition("-")[0]
            if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)):
                continue
            with contextlib.suppress(OSError):
                if path.is_dir() and not path.is_symlink() and path.stat().st_uid == os.getuid():
                    shutil.rmtree(path, ignore_errors=True)
                    removed.append(path)
    return removed


@contextlib.contextmanager
def folder(prefix: str = "featlib-") -> Iterator[Path]:
    """A new folder under :func:`process_root`, removed when the block ends however it ends."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=process_root()))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _remove_own_root() -> None:
    for (pid, _), root in list(_roots.items()):
        if pid == os.getpid():
            shutil.rmtree(root, ignore_errors=True)


def keep_keras_temp_here() -> None:
    """Makes Keras's temporary folders of saving and loading (``saving_lib.get_temp_dir``) under
    :func:`process_root`, so that a killed process's are removed by :func:`clean_stale`. Idempotent."""
    with _lock:
        if _installed:
            return
        _installed.append(True)
        atexit.register(_remove_own_root)
        try:
            saving_lib = keras.src.saving.saving_lib  # a private module: nothing is changed when it moves
        except (AttributeError, ImportError):
            return
        if not hasattr(saving_lib, "get_temp_dir"):
            return

        def get_temp_dir() -> str:
            return tempfile.mkdtemp(prefix="keras-", dir=process_root())

        saving_lib.get_temp_dir = get_temp_dir
