"""Reading a model file's config JSON and Keras's error messages: the helpers that
:mod:`featlib.models`, :mod:`featlib.models.budget` and :mod:`featlib.models.repair` share.

This module imports nothing from featlib but :mod:`featlib.errors` (and never Keras).
"""

from __future__ import annotations

import json
import re

from featlib.errors import ModelError

_ANSI_CODES = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|\x1b")
# Keras wraps errors raised inside a layer's call in a header line that names only the call.
_KERAS_HEADERS = ("Exception encountered when calling",)


def first_line(error: Exception) -> str:
    """The first informative line of ``error``'s message, without terminal colour codes, at most 300 characters.

    Keras marks its messages with ANSI codes (``\\x1b[1m``) and puts ``Exception encountered
    when calling Layer.call().`` before the real reason; both are dropped.
    """
    lines = [line.strip() for line in _ANSI_CODES.sub("", str(error)).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith(_KERAS_HEADERS)] or lines
    return lines[0][:300] if lines else type(error).__name__


def parse_config(raw: object, filename: str, what: str) -> object:
    """A model config's JSON (``config.json`` of a ``.keras``, an ``.h5``'s ``model_config``) as Python objects.

    Raises:
        ModelError: the text is not JSON, not text, or nested deeper than Python's recursion limit.
    """
    try:
        text = raw.decode() if isinstance(raw, bytes) else raw
        if not isinstance(text, str):
            raise ValueError(f"expected JSON text, got {type(raw).__name__}")
        return json.loads(text)
    except RecursionError:
        raise ModelError(
            f"{filename} has a {what} nested too deeply to read (expected a Keras model config, "
            "got JSON deeper than Python's recursion limit); refused."
        ) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise ModelError(f"{filename} has an unreadable {what} (expected JSON): {first_line(error)}") from error
