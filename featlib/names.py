"""Names people give things (models, dataset uploads, titles): printable, bounded, never markup.

A name is stored as typed once it passes :func:`check_name`; pages show it as
plain text. The rule is the one of :func:`str.isprintable` (no control
characters, so no terminal escape codes reach a CLI listing) and a length
limit, so that one name cannot fill every page's sidebar.

Three more rules keep one name from passing for another:

- every name is normalised to Unicode NFKC first (a full-width ``ｍｌｐ`` or a ligature ``ﬁ`` is stored as
  ``mlp``, ``fi``), so two names that read the same are the same text;
- a word of a name may not mix scripts (:func:`check_script`: Latin with Cyrillic or Greek letters, as in
  ``аlice`` with a Cyrillic ``а``), except the mixes a language writes (Han with Hiragana and Katakana, Han with Hangul, each with
  Latin), and a name whose look-alike skeleton (:func:`skeleton`, after Unicode's UTS #39 confusables) equals
  another existing name's is refused (:func:`check_lookalike`);
- an item's name may not have the shape of an id the workspace issues (:func:`check_not_id`): links, saved
  views, bundles and the CLI look ids up first, and a name shaped like an id would read as one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from featlib.errors import TextError

MAX_NAME_LENGTH = 120


def check_name(text: str, what: str = "name", max_length: int = MAX_NAME_LENGTH) -> str:
    """``text`` stripped, when it is a usable name.

    Args:
        text: the name as typed or derived from a file name.
        what: what is named, for the message (``"dataset name"``).
        max_length: the most characters allowed.

    Returns:
        The name in Unicode NFKC form, without surrounding white space.

    Raises:
        ValueError: an empty name, one longer than ``max_length`` characters, or
            one holding characters that are not printable (control characters,
            escape codes, line breaks); the message names the rule and what was received.
    """
    name = unicodedata.normalize("NFKC", str(text)).strip()
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
    return check_script(name, what)


# ----------------------------------------------------------------------------- look-alikes

_LANGUAGE_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),  # Japanese
    frozenset({"LATIN", "HAN", "HANGUL"}),  # Korean
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),  # Chinese with phonetics
)
"""The mixes of scripts a name may hold (UTS #39's "highly restrictive" level); any other mix is refused."""
_WORD = re.compile(r"[^\W\d_]+(?:[\u0300-\u036f\u0483-\u0489][^\W\d_]*)*")
"""A run of letters (and the marks on them): the unit whose script must be one."""


def script_of(char: str) -> str | None:
    """The script of a letter as Unicode names it (``"LATIN"``, ``"CYRILLIC"``, ``"GREEK"``, ``"HAN"``, ...);
    ``None`` for what is not a letter (digits, punctuation, spaces, marks: they belong to every script)."""
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    if not name:
        return None
    first = name.split()[0].split("-")[0]
    if first == "CJK":
        return "HAN"
    if first in ("MODIFIER", "FULLWIDTH", "HALFWIDTH", "MATHEMATICAL", "SMALL", "CAPITAL"):  # not scripts
        rest = name.split()[1:]
        return rest[0] if rest and rest[0] not in ("LETTER", "SMALL", "CAPITAL") else first
    return first


def scripts_of(text: str) -> list[str]:
    """The scripts of ``text``'s letters, in order of first use."""
    found: list[str] = []
    for char in text:
        script = script_of(char)
        if script and script not in found:
            found.append(script)
    return found


def check_script(name: str, what: str = "name") -> str:
    """``name`` when its letters come from one script, or from one of the mixes a language writes.

    Raises:
        TextError: naming the rule, the scripts found and the first letter of the second script.
    """
    for word in _WORD.findall(name):
        found = scripts_of(word)
        if len(found) > 1 and not any(set(found) <= mix for mix in _LANGUAGE_MIXES):
            odd_script = next((s for s in found if s != "LATIN"), found[1]) if "LATIN" in found else found[1]
            odd = next(c for c in word if script_of(c) == odd_script)
            raise TextError(
                f"A {what} must not mix scripts within a word (a letter of one alphabet passing for another's, "
                f"as a Cyrillic 'а' for a Latin 'a'); got {' and '.join(s.title() for s in found)} letters in "
                f"{word[:40]!r} of {name[:40]!r} (first {odd!r}, {unicodedata.name(odd, '?').title()}). "
                "Type each word in one script."
            )
    return name


_CONFUSABLES = {
    # Cyrillic (UTS #39 confusables.txt: the letters that look like Latin ones)
    "а": "a", "в": "b", "е": "e", "ё": "e", "һ": "h", "і": "i", "ї": "i", "ј": "j", "к": "k", "ӏ": "l", "м": "m",
    "н": "h", "о": "o", "р": "p", "ԛ": "q", "г": "r", "ѕ": "s", "т": "t", "ц": "u", "ѵ": "v", "ԝ": "w", "х": "x",
    "у": "y", "ԁ": "d", "ь": "b", "п": "n", "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "І": "l", "Ј": "J",
    "К": "K", "М": "M", "О": "O", "Р": "P", "Ѕ": "S", "Т": "T", "Х": "X", "У": "Y", "Ԁ": "D", "Ԍ": "G", "Ԛ": "Q",
    "Ԝ": "W", "с": "c", "ѡ": "w",
    # Greek
    "α": "a", "β": "B", "γ": "y", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "l", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O",
    "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "ϲ": "c", "ϳ": "j",
    # Armenian and Cherokee letters that pass for Latin ones
    "օ": "o", "ս": "u", "ց": "g", "հ": "h", "ո": "n", "Ꭺ": "A", "Ᏼ": "B", "Ꮯ": "C", "Ꭼ": "E", "Ꮋ": "H", "Ꮶ": "K",
    "Ꮇ": "M", "Ꮲ": "P", "Ꭲ": "T", "Ꮃ": "W", "Ꮪ": "S", "Ꮓ": "Z",
    # Latin and digits that read alike in common fonts
    "ı": "i", "ɑ": "a", "ɡ": "g", "ᴀ": "A", "ʙ": "B", "ᴄ": "C", "ᴅ": "D", "ᴇ": "E", "ɢ": "G", "ʜ": "H", "ɪ": "l",
    "ᴋ": "K", "ʟ": "L", "ᴍ": "M", "ɴ": "N", "ᴏ": "O", "ᴘ": "P", "ʀ": "R", "ᴛ": "T", "ᴜ": "U", "ᴠ": "V", "ᴡ": "W",
    "ʏ": "Y", "ᴢ": "Z", "0": "O", "1": "l", "I": "l", "|": "l",
}  # fmt: skip
"""Characters mapped to the Latin letter they pass for (a selection of Unicode's UTS #39 ``confusables.txt``)."""
_CONFUSABLE_PAIRS = (("rn", "m"), ("vv", "w"))


def skeleton(text: str) -> str:
    """What ``text`` looks like, after UTS #39: NFKC, marks dropped, look-alike letters mapped to the Latin letter
    they pass for, white space folded. Two names with the same skeleton read the same to a person.

    >>> skeleton("аlice") == skeleton("alice")  # a Cyrillic "а"
    True
    """
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFKC", str(text)))
    mapped = "".join(_CONFUSABLES.get(c, c) for c in decomposed if not unicodedata.combining(c))
    mapped = " ".join(mapped.split())
    for pair, single in _CONFUSABLE_PAIRS:
        mapped = mapped.replace(pair, single)
    return mapped


def check_lookalike(name: str, existing: Iterable[str], what: str = "name") -> str:
    """``name`` when no other existing name reads the same: the same :func:`skeleton` with other characters.

    A name equal to an existing one passes (the same label); callers that need names unique check that apart.

    Raises:
        TextError: naming the rule, the name received and the existing name it imitates.
    """
    shape = skeleton(name)
    for other in existing:
        if other and other != name and skeleton(other) == shape:
            raise TextError(
                f"A {what} must not look like another one (names with look-alike letters, such as a Cyrillic 'а' "
                f"for a Latin 'a', or 'rn' for 'm', are refused); {name[:40]!r} reads as the existing "
                f"{other[:40]!r}. Choose a name that reads differently."
            )
    return name


# ----------------------------------------------------------------------------- names that read as ids

ID_SHAPES: dict[str, tuple[re.Pattern[str], str]] = {
    "hex": (
        re.compile(r"(upload:)?[0-9a-f]{6,}", re.IGNORECASE),
        "6 or more hexadecimal digits (the shape of model ids, job ids and dataset fingerprints, which the "
        "workspace and the CLI also match by a prefix of 6), with or without 'upload:'",
    ),
    "key": (
        re.compile(r"(rep|emb|layers|layerset)/.*"),
        "a workspace key (rep/..., emb/..., layers/...)",
    ),
    "view": (
        re.compile(r"(?=[0-9a-z]*[0-9])(?=[0-9a-z]*[a-z])[0-9a-z]{8}"),
        "8 lowercase letters and digits, mixed (the shape of a saved view's id, like 'k3x9q2ab')",
    ),
}
"""The shapes of the ids the workspace issues, with how a message describes each."""
_SHAPES_OF_KIND = {"view": ("hex", "key", "view")}


def looks_like_id(name: str, kind: str = "model") -> str | None:
    """How ``name`` looks like an id an item of ``kind`` could be opened by (a description), or ``None``.

    Every item's name is checked against model ids, job ids and dataset fingerprints (and their 6-digit
    prefixes) and workspace keys; a saved view's title also against saved views' ids.
    """
    for shape in _SHAPES_OF_KIND.get(kind, ("hex", "key")):
        pattern, described = ID_SHAPES[shape]
        if pattern.fullmatch(name.strip()):
            return described
    return None


def check_not_id(name: str, kind: str = "model", what: str | None = None) -> str:
    """``name`` when it does not have the shape of an id (:func:`looks_like_id`).

    Raises:
        TextError: naming the rule and the name received.
    """
    described = looks_like_id(name, kind)
    if described:
        raise TextError(
            f"A {what or kind + ' name'} must not look like an id, since links, saved views, bundles and the CLI "
            f"open items by id first; {name[:40]!r} has the shape of {described}. Add a word or a dash "
            "(such as 'model-' in front)."
        )
    return name


def check_item_name(
    text: str, kind: str, existing: Iterable[str] = (), what: str | None = None, max_length: int = MAX_NAME_LENGTH
) -> str:
    """A name for a workspace item of ``kind`` (``"model"``, ``"dataset"``, ``"view"``, ...): :func:`check_name`,
    then :func:`check_not_id` and :func:`check_lookalike` against the ``existing`` names of that kind.

    Returns:
        The name, normalised (NFKC, stripped).

    Raises:
        TextError: the first rule the name breaks, naming it.
    """
    what = what or f"{kind} name"
    name = check_name(text, what, max_length)
    check_not_id(name, kind, what)
    return check_lookalike(name, existing, what)
