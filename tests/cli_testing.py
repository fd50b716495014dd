"""What the in-process CLI tests share: ``featlib.cli.main`` run as a user's command would run.

``cli(*args)`` runs a command in the test's own folder and environment; :func:`run_command` runs one in a given
folder with a given environment, as a shell started there would (the docs' pages, ``tests/test_cli.py``). Both
save the interpreter's start (TensorFlow's import alone takes ~5 CPU s a process); the ``featlib`` entry point
itself runs in fresh interpreters in ``tests/test_cli.py`` and, installed from a wheel, ``tests/test_package.py``.
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
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


def run_command(args: list[str], cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess:
    """``featlib ARGS`` in this process, in ``cwd`` with exactly ``env``'s variables, its output captured.

    The process's environment and folder are put back afterwards. An argparse exit (``--help``, a usage error)
    gives its status like a shell would. No timeout is enforced here: pytest's and the commands' job limits apply.
    """
    from featlib.cli import main

    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, env, clear=True),
        contextlib.chdir(cwd),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            rc = main(list(args))
        except SystemExit as exit_:
            rc = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    return subprocess.CompletedProcess(["featlib", *args], rc, out.getvalue(), err.getvalue())
