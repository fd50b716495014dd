"""A readable log for the server, its job workers and the CLI: TensorFlow's start-up noise is dropped, the rest kept.

:func:`setup`, called once per process before TensorFlow is imported (by the
dashboard's start-up, each job worker and the CLI), does three things:

- sets ``TF_CPP_MIN_LOG_LEVEL=2`` unless the environment sets it (TensorFlow's
  C++ INFO and WARNING lines off; its errors stay);
- while ``import tensorflow`` runs (wherever it is first imported: ``import
  keras`` imports it), the process's stderr (file descriptor 2) goes through a
  filter that drops the lines of :data:`STARTUP_NOISE` and passes every other
  line on at once. TensorFlow 2.21 writes them before its logging reads
  ``TF_CPP_MIN_LOG_LEVEL``, so no setting silences them. On a machine without
  an NVIDIA driver (:func:`has_nvidia_driver`), the lines of
  :data:`NO_GPU_NOISE` ("Could not find cuda drivers", "failed call to cuInit:
  UNKNOWN ERROR (303)") are dropped too; with a driver they are kept, since
  there they say why a GPU is not used. TensorFlow's devices are listed once
  inside the filter, so that the cuInit line comes there rather than at the
  first computation;
- drops TensorFlow's "triggered tf.function retracing" warning for Keras's
  predict step (:class:`PerModelRetracing`): it counts traces over every
  model of the process, and featlib predicts with many models and sub-models
  (one per layer read), each traced once.

``TF_CPP_MIN_LOG_LEVEL=0`` (or 1) in the environment turns the filter off and
shows everything TensorFlow writes. The warnings featlib knows to be false
alarms are filtered where they arise: Numba's "Cannot cache compiled function"
in :func:`featlib.maps.embed.enable_numba_cache`, scikit-learn's "Graph is not fully
connected" in :func:`featlib.maps.embed.umap_embed`.
"""

from __future__ import annotations

import contextlib
import glob
import importlib.abc
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence

try:
    import fcntl
except ImportError:  # not POSIX: the pipe keeps its default size
    fcntl = None

LOG_LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
DEFAULT_LOG_LEVEL = "2"

STARTUP_NOISE = (
    r"^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$",
    r"\bport\.cc:\d+\] oneDNN custom operations are on\.",
    r"\bcpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized to use available CPU instructions",
    r"^To enable the following instructions: .*rebuild TensorFlow with the appropriate compiler flags\.$",
)
"""Lines TensorFlow writes on every import, whatever the machine: dropped while it is imported."""

NO_GPU_NOISE = (
    r"\bcudart_stub\.cc:\d+\] Could not find cuda drivers on your machine, GPU will not be used\.",
    r"\bcuda_platform\.cc:\d+\] failed call to cuInit: ",
    r"\bcuda_executor\.cc:\d+\] .*(no NVIDIA GPU device is present|CUDA_ERROR_NO_DEVICE)",
)
"""Lines saying that CUDA is not there: dropped on a machine without an NVIDIA driver only."""

_lock = threading.Lock()
_done = False
_unfiltered: int | None = None
_filtering = False


def setup() -> None:
    """Once per process, before TensorFlow is imported: the quiet log described in the module's docstring.

    Later calls do nothing; a process that has imported TensorFlow already gets only the
    ``TF_CPP_MIN_LOG_LEVEL`` default (too late for this process) and the retracing filter.
    """
    global _done
    with _lock:
        if _done:
            return
        _done = True
    os.environ.setdefault(LOG_LEVEL_ENV, DEFAULT_LOG_LEVEL)
    logging.getLogger("tensorflow").addFilter(PerModelRetracing())
    if verbose() or "tensorflow" in sys.modules:
        return
    patterns = STARTUP_NOISE + (() if has_nvidia_driver() else NO_GPU_NOISE)
    sys.meta_path.insert(0, _QuietImport("tensorflow", patterns))


def verbose() -> bool:
    """Whether the environment asks for TensorFlow's own lines (``TF_CPP_MIN_LOG_LEVEL`` 0 or 1)."""
    return os.environ.get(LOG_LEVEL_ENV, DEFAULT_LOG_LEVEL).strip() in ("0", "1")


def has_nvidia_driver() -> bool:
    """Whether this machine has an NVIDIA driver (``/proc/driver/nvidia``, ``/dev/nvidia0``…, or WSL's ``/dev/dxg``)."""
    return (
        os.path.exists("/proc/driver/nvidia/version")
        or bool(glob.glob("/dev/nvidia[0-9]*"))
        or os.path.exists("/dev/dxg")
    )


class PerModelRetracing(logging.Filter):
    """Drops TensorFlow's "N out of the last N calls to <... make_predict_function ...> triggered tf.function retracing".

    TensorFlow counts traces per Python function, over every model of the process. Keras's
    predict step is one such function, traced once for every model and sub-model predicted
    with (each layer read by the sub-model method is its own sub-model), so a worker that
    reads several layers or models in a row trips the warning although no function is traced
    twice for the same model and input shape (featlib pads the last batch to the batch size,
    :func:`featlib.models.padded`). Retracing warnings about any other function are kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("triggered tf.function retracing" in message and "make_predict_function" in message)


class _QuietImport(importlib.abc.MetaPathFinder):
    """Finds ``name`` (once) through the other finders and runs its import inside :func:`filtered_stderr`."""

    def __init__(self, name: str, patterns: Sequence[str]):
        self.name = name
        self.patterns = tuple(patterns)

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)  # once: the import below, and every later one, goes the usual way
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _QuietLoader(spec.loader, self.patterns)
        return spec


class _QuietLoader(importlib.abc.Loader):
    """Runs the real loader's ``exec_module`` (and TensorFlow's device listing) with stderr filtered."""

    def __init__(self, loader, patterns: tuple[str, ...]):
        self._loader = loader
        self._patterns = patterns

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        module.__loader__ = self._loader  # the module sees its own loader, as without this class
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self._loader
        with filtered_stderr(self._patterns):
            self._loader.exec_module(module)
            _list_devices(module)

    def __getattr__(self, name: str):
        return getattr(self._loader, name)


def _list_devices(tensorflow) -> None:
    """Lists TensorFlow's devices now (CUDA is initialised, or fails to be, here rather than at the first op)."""
    try:
        tensorflow.config.list_physical_devices()
    except Exception:  # noqa: BLE001  (TensorFlow then fails, and says why, where it is used)
        logging.getLogger(__name__).debug("listing TensorFlow's devices failed", exc_info=True)


@contextlib.contextmanager
def filtered_stderr(patterns: Sequence[str]) -> Iterator[None]:
    """Within the block, lines written to file descriptor 2 that match one of ``patterns`` are dropped.

    Every other line goes on to the real stderr as soon as it is complete (a thread reads a
    pipe), so nothing else is delayed or lost, whichever thread or library writes it. A
    process started inside the block inherits the pipe: its lines go through the same filter
    for as long as it writes, unless it is given :func:`child_stderr`. Without a usable file
    descriptor 2, nothing is filtered.
    """
    compiled = [re.compile(p) for p in patterns]
    try:
        sys.stderr.flush()
    except (AttributeError, OSError, ValueError):
        pass
    global _unfiltered, _filtering
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    read, write = os.pipe()
    with contextlib.suppress(Exception):  # a larger pipe (Linux): a burst of lines never blocks the writer
        fcntl.fcntl(write, getattr(fcntl, "F_SETPIPE_SZ", 1031), 1 << 20)
    out = os.dup(saved)
    forwarder = threading.Thread(target=_forward, args=(read, out, compiled), name="featlib-quiet-stderr", daemon=True)
    forwarder.start()
    _unfiltered, _filtering = saved, True  # kept open: a process started now may still be handed it
    os.dup2(write, 2)
    os.close(write)
    try:
        yield
    finally:
        with contextlib.suppress(AttributeError, OSError, ValueError):
            sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe's last write end here closes: the forwarder reads to its end and stops
        _filtering = False
        forwarder.join(timeout=1)


def child_stderr() -> int | None:
    """For ``subprocess.Popen(stderr=...)``: the unfiltered stderr while :func:`filtered_stderr` runs, else None.

    A long-lived process started while TensorFlow is being imported (the dashboard starts its
    job cluster then) would otherwise write through this process's filter for its whole life.
    """
    return _unfiltered if _filtering else None


def _forward(read: int, out: int, patterns: list[re.Pattern]) -> None:
    """Copies lines from ``read`` to ``out`` except those matching ``patterns``; closes both at the end."""
    pending = b""
    try:
        while True:
            chunk = os.read(read, 65536)
            if not chunk:
                break
            pending += chunk
            *lines, pending = pending.split(b"\n")
            kept = [line + b"\n" for line in lines if not _matches(line, patterns)]
            if kept:
                _write_all(out, b"".join(kept))
        if pending and not _matches(pending, patterns):
            _write_all(out, pending)
    except OSError:
        pass
    finally:
        os.close(read)
        os.close(out)


def _matches(line: bytes, patterns: list[re.Pattern]) -> bool:
    text = line.decode("utf-8", "replace").rstrip("\r")
    return any(p.search(text) for p in patterns)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]
