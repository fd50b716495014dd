"""One cache of umap-learn's, pynndescent's and featlib's compiled code per user and machine.

umap-learn and pynndescent compile about 250 Numba functions in every new
process (45 s for a first map of 10,000 points on two cores; 16 s with the
compiled code loaded from disk). :func:`enable` keeps that code in one folder,
:func:`folder`, shared by everything featlib runs on the machine: the
server's Dask workers (:mod:`featlib.jobs.worker`), the CLI's in-process runs
(:mod:`featlib.cli`) and ``python -m featlib bench``. A new workspace or a new
CLI process then loads the code instead of compiling it.

Several processes filling the folder at once
---------------------------------------------
Numba (``numba/core/caching.py``, ``IndexDataCacheFile``) keeps, per function,
an index file (``<function>.nbi``: the source file's stamp and a table
signature → data file) and one data file per compiled signature
(``<function>-N.nbc``). Each file is written whole through a temporary file
renamed over the old one (``IndexDataCacheFile._open_for_write``:
``open(tmpname, "wb")`` then ``os.replace(tmpname, filepath)``), so a reader
never sees half a file: it sees the old index or the new one. A stale or
foreign index (another Numba version, changed source) is ignored and
rewritten, not trusted (``_load_index`` compares the version and the stamp).

What ``os.replace`` alone does not make safe is ``IndexDataCacheFile.save``:
it reads the index, picks the first free data-file name, writes the index,
then the data. Two processes saving two *different* signatures of one
function at the same moment can both pick ``<function>-1.nbc``; depending on
the order of their four writes the index may then pair one signature with
the other's code. :func:`enable` closes that window: it wraps ``save`` in an
exclusive ``fcntl.flock`` on ``<index>.lock`` (POSIX; on Windows Numba's own
behaviour is kept), so the read-modify-write of one function's index is done
by one process at a time. Loading takes no lock (it reads files that are
replaced whole). Two processes compiling the same function each compile it
(one of their identical entries wins); no process waits for another's
compile.

Entries that could never be found again are not written
-------------------------------------------------------
pynndescent passes its distance function to five jitted functions
(``process_candidates``, ``generate_leaf_updates``, ``init_random``,
``init_rp_tree``, ``generate_graph_update_array``). Their signatures hold
that function's Numba type, which compares equal only to the same function
object of the same process, so their cache entries never match in another
process: every new process compiled them again *and* wrote another
~260 KiB entry (66 copies of ``process_candidates`` after a day of runs).
:func:`lock_index_saves` skips saving a signature that holds a function
type. They still compile in every new process (with ``nn_descent``, which
Numba cannot cache at all): about 11 s of a first map on two cores, the part
of the compile wait no cache removes. No cached wrapper can keep them either:
a jitted function that names the distance function itself (``nn_descent(...,
alternative_dot, ...)`` with ``cache=True``) embeds the dispatcher's address
(Numba lowers a dispatcher constant with ``add_dynamic_addr``), and Numba
refuses to cache code with such "dynamic globals".

So featlib's maps of up to :data:`featlib.maps.knn.EXACT_UP_TO` points do not run
them: :func:`featlib.maps.knn.exact` finds those graphs with NumPy's BLAS and one
small cached kernel of its own (``featlib.maps.kernels.select_smallest``, cached here
with umap-learn's functions), and the fit then runs only cached code
(umap-learn's ``smooth_knn_dist`` and ``compute_membership_strengths``, featlib's
layout epoch ``featlib.maps.layout.epoch``, cached here too):
a new process's first 10,000-point map costs what the same fit warm does.
Larger maps still compile pynndescent's search once per process (the
server's workers do it in their warm-up, :func:`featlib.maps.embed.warm_up`).
What still compiles at import, outside any fit: umap-learn's few functions
with explicit signatures (``umap.utils.tau_rand_int``), under a second.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from featlib import settings
from featlib.lazy import numba
from featlib.maps import embed

try:
    import fcntl
except ImportError:  # Windows: Numba's cache saves keep their own behaviour (see lock_index_saves)
    fcntl = None

ENV = "FEATLIB_NUMBA_CACHE"
"""The environment variable naming the folder; unset or empty: :func:`default_folder`."""

_save_locked = False


def default_folder(environ: Mapping[str, str] | None = None, platform: str | None = None) -> Path:
    """The platform's per-user cache folder, then ``featlib/numba``.

    - Linux and other POSIX: ``$XDG_CACHE_HOME`` or ``~/.cache`` (the XDG base
      directory specification), e.g. ``~/.cache/featlib/numba``;
    - macOS: ``~/Library/Caches/featlib/numba``;
    - Windows: ``%LOCALAPPDATA%\\featlib\\numba`` (else ``~/AppData/Local``).

    Args:
        environ: the environment to read (default ``os.environ``).
        platform: ``sys.platform``'s value to answer for (default this one's).

    Returns:
        An absolute path; nothing is created.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    home = Path(environ.get("HOME") or Path.home())
    if platform == "darwin":
        base = home / "Library" / "Caches"
    elif platform.startswith("win"):
        base = Path(environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    else:
        base = Path(environ.get("XDG_CACHE_HOME") or home / ".cache")
    return base / "featlib" / "numba"


def folder(environ: Mapping[str, str] | None = None) -> Path:
    """Where featlib keeps compiled code on this machine: ``$FEATLIB_NUMBA_CACHE``, else :func:`default_folder`.

    Example:
        >>> folder({"FEATLIB_NUMBA_CACHE": "/srv/numba"})
        PosixPath('/srv/numba')
    """
    value = settings.get(ENV, environ)
    return value if value is not None else default_folder(environ)


def enable(where: str | Path | None = None) -> Path:
    """Turns on the machine's cache for umap-learn and pynndescent in this process, before its first fit.

    Calls :func:`featlib.maps.embed.enable_numba_cache` on ``where`` (default
    :func:`folder`) after making Numba's cache saves take a per-function lock
    (see the module's docstring). Child processes inherit the folder through
    ``NUMBA_CACHE_DIR``.

    Args:
        where: another folder (the bench's empty-cache runs); default :func:`folder`.

    Returns:
        The folder used.

    Raises:
        OSError: the folder cannot be created.
    """
    path = Path(where) if where is not None else folder()
    lock_index_saves()
    embed.enable_numba_cache(path)
    return path


def lock_index_saves() -> bool:
    """Wraps Numba's ``IndexDataCacheFile.save`` in an exclusive file lock, once per process.

    Returns:
        ``True`` when saves are locked (now or before), ``False`` where
        ``fcntl`` is missing (Windows), which keeps Numba's own behaviour.
    """
    global _save_locked
    if _save_locked:
        return True
    if fcntl is None:
        return False
    cache_file = numba.core.caching.IndexDataCacheFile
    original = cache_file.save

    def save(self, key, data):  # noqa: ANN001  (Numba's signature)
        if _holds_a_function_type(key):  # never found again in another process (see the module's docstring)
            return None
        with _locked(self._index_path + ".lock"):
            return original(self, key, data)

    save.__wrapped__ = original  # type: ignore[attr-defined]
    cache_file.save = save
    _save_locked = True
    return True


def _holds_a_function_type(key: object) -> bool:
    """Whether a Numba cache key's signature (``key[0]``) has an argument typed as a function (a dispatcher)."""
    types = numba.core.types
    signature = key[0] if isinstance(key, tuple) and key else ()
    return any(isinstance(t, (types.Dispatcher, types.FunctionType)) for t in getattr(signature, "args", signature))


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created if missing) for the block."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
