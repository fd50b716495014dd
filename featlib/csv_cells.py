"""Cells of every CSV file featlib writes, safe to open in a spreadsheet.

A spreadsheet (Excel, LibreOffice, Google Sheets) runs a cell that starts with
``=``, ``+``, ``-`` or ``@`` as a formula (``=HYPERLINK(...)`` leaks data,
``=cmd|' /C calc'!A0`` runs a program through DDE), and one starting with a tab
or a carriage return is read past that character. Class names come from
uploads, so featlib follows OWASP's advice on CSV injection
(https://owasp.org/www-community/attacks/CSV_Injection): a text cell that
starts with one of those characters (or their full-width forms) is written
with a single quote in front (``'=HYPERLINK(...)``), which spreadsheets show as
text; the CSV writer quotes the rest. Numbers, and text that is a plain number
(``-1.25``, a formatted coordinate), are written as they are: a spreadsheet
reads them as numbers, which run nothing.

Every CSV featlib writes goes through this module: the Explore page's map and
layer tables and a bundle's ``embedding.csv`` (:func:`featlib.share.exports.table_bytes`)
and ``featlib embed``'s output (:func:`safe_row`). It imports nothing heavy.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""The first characters that make a spreadsheet run (or shift) a cell: OWASP's list, line feeds and the full-width
forms of ``= + - @``."""
PREFIX = "'"
"""What neutralises such a cell: a single quote in front (shown as text, not run)."""
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """``value`` as a spreadsheet may read it: text starting with :data:`FORMULA_STARTS` gets :data:`PREFIX` in
    front, unless it is a plain number; everything else (numbers, other text) is returned unchanged.

    >>> safe_cell("=HYPERLINK(\\"http://x\\")"), safe_cell("@SUM(1,1)"), safe_cell("-1.5"), safe_cell(3)
    ('\\'=HYPERLINK("http://x")', "'@SUM(1,1)", '-1.5', 3)
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(value):
        return PREFIX + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    """A row for :func:`csv.writer`'s ``writerow``, each cell through :func:`safe_cell`."""
    return [safe_cell(value) for value in row]


def safe_frame(table):
    """A copy of the pandas ``table`` whose text cells and column names went through :func:`safe_cell`
    (numeric columns are left as they are); what :func:`featlib.share.exports.table_bytes` writes as CSV."""
    table = table.copy()
    for column in table.columns:
        if getattr(table[column].dtype, "kind", "O") in "OSU":  # text (or mixed) columns only
            table[column] = table[column].map(safe_cell)
    table.columns = [safe_cell(str(c)) if isinstance(c, str) else c for c in table.columns]
    return table
