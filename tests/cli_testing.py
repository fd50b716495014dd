"""What the in-process CLI tests share: ``cli(*args)`` runs ``featlib.cli.main`` as a user's command would."""

from __future__ import annotations

import io
from contextlib import redirect_stderr, redirect_stdout


def cli(*args: str) -> tuple[int, str, str]:
    """``(exit status, stdout, stderr)`` of ``featlib <args>`` run in this process; a traceback fails the test."""
    from featlib.cli import main

    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(list(args))
    assert "Traceback" not in err.getvalue(), err.getvalue()
    return rc, out.getvalue(), err.getvalue()
