"""Names people give things (models, dataset uploads, titles): printable, bounded, never markup.

A name is stored as typed once it passes :func:`check_name`; pages show it as
plain text. The rule is the one of :func:`str.isprintable` (no control
characters, so no terminal escape codes reach a CLI listing) and a length
limit, so that one name cannot fill every page's sidebar.
"""

from __future__ import annotations

from featlib.errors import TextError

MAX_NAME_LENGTH = 120


def check_name(text: str, what: str = "name", max_length: int = MAX_NAME_LENGTH) -> str:
    """``text`` stripped, when it is a usable name.

    Args:
        text: the name as typed or derived from a file name.
        what: what is named, for the message (``"dataset name"``).
        max_length: the most characters allowed.

    Returns:
        The name without surrounding white space.

    Raises:
        ValueError: an empty name, one longer than ``max_length`` characters, or
            one holding characters that are not printable (control characters,
            escape codes, line breaks); the message names the rule and what was received.
    """
    name = str(text).strip()
    if not name:
        raise TextError(f"A {what} cannot be empty; type a short name.")
    if len(name) > max_length:
        raise TextError(
            f"A {what} can have at most {max_length} characters; got {len(name):,} (starting {name[:40]!r})."
        )
    bad = sorted({c for c in name if not c.isprintable()})
    if bad:
        shown = ", ".join(repr(c) for c in bad[:5])
        raise TextError(
            f"A {what} must hold printable characters only (no control characters, tabs or line breaks); "
            f"got {shown} in {name[:40]!r}."
        )
    return name
