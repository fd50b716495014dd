"""Text on the pages: escaped by default, markup only where featlib wrote it (Jinja's autoescaping, for markdown).

Streamlit renders the body of ``st.markdown``, ``caption``, ``info``, ``warning``, ``error``, ``success``,
``toast``, ``title``, ``header`` and ``subheader`` as markdown, and so widget labels, ``help``, image captions and
progress texts. Names, notes, class names, user names and error messages quoting them come from people and files:
a class named ``[click](javascript:…)`` or ``![x](http://host/beacon)`` must show as written, for every visitor.

So the pages never call those functions themselves (``tests/test_text_escaping.py`` checks it); they call the ones
here, which show any ``str`` as text (:func:`escape`) and pass :class:`Markup` through. Markup is made by :func:`md`
from a template featlib wrote, with every argument escaped::

    text.caption(f"{record.name} has no checkpoints")              # shown as written, whatever the name holds
    text.caption(text.md("**{}** · layer **{}**", record.name, layer))  # bold from the template; names as text
    st.button(text.escape(f"Compute {rep.title}"))                # a widget label (or help, caption, progress text)

A ``Markup`` stays markup only through the operations below (``+`` and :meth:`Markup.join` escape the plain strings
they meet, :meth:`Markup.format` is :func:`md`); any other string operation gives a plain ``str``, which is then
escaped: shown with its markup as text, never run.
"""

from __future__ import annotations

import numbers
import re
import string
from collections.abc import Iterable
from typing import Any

import streamlit as st

_MARKDOWN = re.compile(r"[\\`*_{}\[\]<>#+\-.!|~$&:]")
_WORD_JOINER = "\u2060"
_LINKISH = re.compile(r"\\:(?=//|material/)|(?i:www)(?=\\\.)|@(?=\w)")
"""After escaping: what Streamlit still turns into a link or an icon (it finds them in the parsed text, where
backslash escapes are gone): ``://``, ``www.``, an e-mail's ``@``, ``:material/``."""


class Markup(str):
    """A string that is markdown featlib wrote: the output functions pass it through as it is.

    Made by :func:`md` (a template and escaped arguments), :func:`escape` or :func:`code`; ``Markup(literal)`` for
    markup with no argument. ``markup + text`` and ``text + markup`` escape the plain ``text``;
    ``Markup(sep).join(parts)`` escapes each plain part.
    """

    __slots__ = ()

    def __add__(self, other: object) -> Markup:
        if isinstance(other, str):
            return Markup(str.__add__(self, escape(other)))
        return NotImplemented

    def __radd__(self, other: object) -> Markup:
        if isinstance(other, str):
            return Markup(str.__add__(escape(other), self))
        return NotImplemented

    def join(self, parts: Iterable[object]) -> Markup:
        """The parts, each escaped unless it is markup, joined by this markup."""
        return Markup(str.join(self, (escape(part) for part in parts)))

    def format(self, *args: object, **kwargs: object) -> Markup:
        """:func:`md` with this markup as the template."""
        return md(self, *args, **kwargs)

    def __repr__(self) -> str:
        return f"Markup({str.__repr__(self)})"


def _escape_char(found: re.Match) -> str:
    """A markdown character backslash-escaped; an ``_`` between letters or digits (``dense_1``) is left as it is,
    since CommonMark never reads one there as emphasis."""
    text, at, char = found.string, found.start(), found.group(0)
    if char == "_" and 0 < at < len(text) - 1 and text[at - 1].isalnum() and text[at + 1].isalnum():
        return char
    return "\\" + char


def escape(value: object) -> Markup:
    """``value`` as text that Streamlit's markdown shows as written: never an image, a link, a tag or a format.

    Markup is returned as it is. Anything else is made a string and every markdown character in it is
    backslash-escaped (``(`` and ``)`` do nothing once ``[`` and ``]`` are escaped, nor does an ``_`` inside a
    word), ``:`` too (emoji ``:smile:``, directives ``:red[…]``). Streamlit finds GitHub's autolinks (``http://…``,
    ``www.…``, e-mail addresses) and ``:material/…`` icons in the text after the escapes are gone, so those get an
    invisible word joiner (U+2060) that breaks the pattern and not the reading. A line break stays one. Messages
    also name files, dtypes and config keys (``__lambda__``, ``<U3``, ``$FEATLIB_WORKSPACE``) that markdown would
    otherwise bold, drop or typeset.

    What the output functions do to a plain string; for what is not one of them: widget labels and ``help``,
    image captions, progress texts, metric values.
    """
    if isinstance(value, Markup):
        return value
    text = _LINKISH.sub(lambda found: found.group(0) + _WORD_JOINER, _MARKDOWN.sub(_escape_char, str(value)))
    return Markup(text.replace("\r\n", "\n").replace("\n", "  \n"))


def _number(value: object) -> bool:
    """Whether ``value`` formats as digits, sign, point and exponent only: a real number (numpy's too)."""
    return isinstance(value, numbers.Real)


class _EscapingFormatter(string.Formatter):
    """``str.format`` that escapes every field: markup and numbers (lists of numbers too) go in as they format."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if isinstance(value, Markup):
            return format(str(value), format_spec)
        if _number(value) or (isinstance(value, (list, tuple)) and all(_number(item) for item in value)):
            return format(value, format_spec)
        return escape(format(value, format_spec))


_FORMATTER = _EscapingFormatter()


def md(template: str, *args: object, **kwargs: object) -> Markup:
    """The markdown ``template`` (featlib's, a literal) formatted with every argument escaped.

    ``md("**{}** · layer **{}**", name, layer)``: the bold is the template's, the names are shown as written. Fields
    take ``str.format``'s conversions and specs (``{:,}``, ``{!r}``); an argument is formatted, then escaped.
    Markup (:func:`md`, :func:`code`, :func:`escape`) goes in as it is, and so do numbers and lists of numbers,
    which format to no markup a template did not put there. Braces meant as text are doubled (``{{``).
    """
    return Markup(_FORMATTER.vformat(template, args, kwargs))


def code(value: object) -> Markup:
    """``value`` as an inline code span (a path, a link, a command): shown as written, in a fence it cannot close."""
    text = str(value).replace("\r\n", " ").replace("\n", " ")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return Markup(f"{fence}{pad}{text}{pad}{fence}")


def _show(kind: str, body: object, on: Any, kwargs: dict[str, Any]) -> Any:
    """``on.<kind>(body, **kwargs)`` with ``body`` and ``help`` escaped unless they are markup."""
    if "unsafe_allow_html" in kwargs:
        raise TypeError("featlib pages show no raw HTML: unsafe_allow_html is not passed on")
    if kwargs.get("help") is not None:
        kwargs["help"] = str(escape(kwargs["help"]))
    return getattr(on, kind)(str(escape(body)), **kwargs)


def markdown(body: object, *, on: Any = st, **kwargs: Any) -> Any:
    """``st.markdown`` of ``body``: escaped unless it is :class:`Markup`; ``on``: a container, column or
    ``st.sidebar``; the other keywords are Streamlit's (``help`` is escaped too)."""
    return _show("markdown", body, on, kwargs)


def caption(body: object, *, on: Any = st, **kwargs: Any) -> Any:
    """``st.caption`` of ``body``: escaped unless it is :class:`Markup` (see :func:`markdown`)."""
    return _show("caption", body, on, kwargs)


def info(body: object, *, on: Any = st, **kwargs: Any) -> Any:
    """``st.info`` of ``body``: escaped unless it is :class:`Markup` (see :func:`markdown`)."""
    return _show("info", body, on, kwargs)


def warning(body: object, *, on: Any = st, **kwargs: Any) -> Any:
    """``st.warning`` of ``body``: escaped unless it is :class:`Markup` (see :func:`markdown`)."""
    return _show("warning", body, on, kwargs)


def error(body: object, *, on: Any = st, **kwargs: Any) -> Any:
    """``st.error`` of ``body``: escaped unless it is :class:`Markup` (see :func:`markdown`)."""
    return _show("error", body, on, kwargs)


def success(body: object, *, on: Any = st, **kwargs: Any) -> Any:
    """``st.success`` of ``body``: escaped unless it is :class:`Markup` (see :func:`markdown`)."""
    return _show("success", body, on, kwargs)


def toast(body: object, *, on: Any = st, **kwargs: Any) -> Any:
    """``st.toast`` of ``body``: escaped unless it is :class:`Markup` (see :func:`markdown`)."""
    return _show("toast", body, on, kwargs)


def title(body: object, *, on: Any = st, **kwargs: Any) -> Any:
    """``st.title`` of ``body``: escaped unless it is :class:`Markup` (see :func:`markdown`)."""
    return _show("title", body, on, kwargs)


def header(body: object, *, on: Any = st, **kwargs: Any) -> Any:
    """``st.header`` of ``body``: escaped unless it is :class:`Markup` (see :func:`markdown`)."""
    return _show("header", body, on, kwargs)


def subheader(body: object, *, on: Any = st, **kwargs: Any) -> Any:
    """``st.subheader`` of ``body``: escaped unless it is :class:`Markup` (see :func:`markdown`)."""
    return _show("subheader", body, on, kwargs)
