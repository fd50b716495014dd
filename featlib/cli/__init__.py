"""``python -m featlib`` (and the ``featlib`` console script): the dashboard's work without a browser.

Every command works on the same workspace as the app (``--workspace``, else ``$FEATLIB_WORKSPACE``, else
``./workspace``) and shares its caches. ``featlib --help`` and ``featlib ls`` never import TensorFlow.

Modules:
    parser: the argument parser (:func:`build_parser`) and :func:`main`, which runs a command and reports errors.
    commands: the commands (``cmd_train``, ``cmd_embed``, ``cmd_ls``, ...) and their helpers.
    runner: running the CLI's jobs in this process or on a Dask cluster, with tqdm bars.
"""

from __future__ import annotations

from featlib.cli.commands import APP_OPTIONS, APP_SCRIPT, _writing  # noqa: F401  (_writing: the tests use it)
from featlib.cli.parser import BUG_LINE, build_parser, main

__all__ = ["APP_OPTIONS", "APP_SCRIPT", "BUG_LINE", "build_parser", "main"]
