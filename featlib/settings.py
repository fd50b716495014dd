"""Sizes set in the environment: one reader, so that every limit takes the same form and says the same thing."""

from __future__ import annotations

import math
import os
from typing import Mapping


def mebibytes(name: str, default_mb: int, environ: Mapping[str, str] | None = None) -> int:
    """``$name`` read as a positive number of MiB, in bytes; ``default_mb`` MiB when unset or empty.

    Args:
        name: the environment variable, e.g. ``FEATLIB_MAX_UPLOAD_MB``.
        default_mb: MiB when it is not set.
        environ: the environment to read (``os.environ`` by default).

    Returns:
        The size in bytes, at least 1.

    Raises:
        ValueError: the variable holds something other than a positive, finite number; the message names
            the variable, the form expected and what it holds.
    """
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default_mb * 1024 * 1024
    try:
        mb = float(raw)
    except ValueError:
        mb = math.nan
    if not (math.isfinite(mb) and mb > 0):
        raise ValueError(f"{name} must be a positive number of megabytes (MiB), like {default_mb}; got {raw!r}.")
    return max(1, int(mb * 1024 * 1024))
