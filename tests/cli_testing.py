"""What the in-process CLI tests share: ``featlib.cli.main`` run as a user's command would run.

``cli(*args)`` runs a command in the test's own folder and environment; :func:`run_command` runs one in a given
folder with a given environment, as a shell started there would (the docs' pages, ``tests/test_cli.py``), and
:func:`run_script` a Python script there as ``python SCRIPT`` would (the docs' python blocks). All save the
interpreter's start (TensorFlow's import alone takes ~5 CPU s a process); the ``featlib`` entry point itself runs
in fresh interpreters in ``tests/test_cli.py`` and, installed from a wheel, ``tests/test_package.py``.
"""

from __future__ import annotations

import contextlib
import io
import os
import runpy
import subprocess
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from unittest import mock


def cli(*args: str) -> tuple[int, str, str]:
    """``(exit status, stdout, stderr)`` of ``featlib <args>`` run in this process; a traceback fails the test."""
    from featlib.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(args))
    assert "Traceback" not in err.getvalue(), err.getvalue()
    return rc, out.getvalue(), err.getvalue()


@contextlib.contextmanager
def _as_a_process(cwd: Path, env: Mapping[str, str], out: io.StringIO, err: io.StringIO):
    """This process as one started in ``cwd`` with exactly ``env``: both put back afterwards; output captured."""
    with (
        mock.patch.dict(os.environ, env, clear=True),
        contextlib.chdir(cwd),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        yield


def _status(exit_: SystemExit, other: int) -> int:
    """The exit status a shell would see for ``exit_``: its code, 0 for none, ``other`` for a message."""
    return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else other)


def run_command(args: list[str], cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess:
    """``featlib ARGS`` in this process, in ``cwd`` with exactly ``env``'s variables, its output captured.

    The process's environment and folder are put back afterwards. An argparse exit (``--help``, a usage error)
    gives its status like a shell would. No timeout is enforced here: pytest's and the commands' job limits apply.
    """
    from featlib.cli import main

    out, err = io.StringIO(), io.StringIO()
    with _as_a_process(cwd, env, out, err):
        try:
            rc = main(list(args))
        except SystemExit as exit_:
            rc = _status(exit_, other=2)  # argparse's usage errors
    return subprocess.CompletedProcess(["featlib", *args], rc, out.getvalue(), err.getvalue())


def run_script(script: Path, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess:
    """``python SCRIPT`` in this process: ``script`` run as ``__main__`` in a namespace of its own, in ``cwd`` with
    exactly ``env``'s variables, its output captured; an exception it raises gives status 1 and its traceback on
    stderr, as the interpreter would.

    What a fresh interpreter would differ in is what this process has already imported (modules are shared, names
    are not: the script must import what it uses) and the settings read at import (``TF_CPP_MIN_LOG_LEVEL``, ...).
    """
    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    with _as_a_process(cwd, env, out, err):
        sys.argv = [str(script)]
        try:
            runpy.run_path(str(script), run_name="__main__")
            rc = 0
        except SystemExit as exit_:
            rc = _status(exit_, other=1)  # sys.exit("message"), as the interpreter exits: status 1, the message
            if exit_.code is not None and not isinstance(exit_.code, int):
                print(exit_.code, file=sys.stderr)
        except Exception:  # noqa: BLE001  (the script's own error: reported as its process would)
            traceback.print_exc()
            rc = 1
        finally:
            sys.argv = argv
    return subprocess.CompletedProcess([sys.executable, str(script)], rc, out.getvalue(), err.getvalue())
