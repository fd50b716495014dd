"""Finding points on a map by what is typed in a search box: ``12, 40-45``, ``label:7``, ``confidence<0.6``, ``wrong``.

A query is a list of terms, read left to right:

- ``12`` · ``12, 40-45`` · ``#7`` · ``40 - 45``: these dataset indices (a range ``a-b`` includes both ends); also
  ``index:12-40``, ``index<100``;
- ``label:7`` · ``label:cat``: true label 7, or the class named ``cat`` (any case; quote a name with spaces:
  ``label:"ankle boot"``); ``label:3,5`` is 3 or 5; also ``true:``, ``class:``;
- ``predicted:3``: predicted label 3 (also ``pred:``, ``prediction:``);
- ``confidence<0.6``: the model's probability of its prediction below 0.6 (``<``, ``<=``, ``>``, ``>=``; ``60%`` is
  0.6); ``confidence:0.2-0.5``: between, both ends included (also ``conf``);
- ``wrong`` · ``misclassified``: the predicted label differs from the true one; ``correct``: the other way.

Terms of one kind add up (``label:3 label:5``: either; ``12 40-45``: any of them); terms of different kinds narrow
down (``label:4 predicted:9``: the 4s taken for 9s; ``wrong confidence>0.9``: confident mistakes). Spaces around
``:``, ``<`` and commas do not matter; a comma continues the list of the term before it (``label:3, 5``).
Keys and words are read in any case.

Anything else raises :class:`~featlib.errors.PointQueryError`, naming the term, what was expected and the fix;
nothing else is raised for any text (``tests/test_point_query.py`` checks it on arbitrary text). The time is
bounded: at most :data:`MAX_QUERY_CHARS` characters and :data:`MAX_ITEMS` items, each one vectorised pass over the
points.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from featlib.errors import PointQueryError

MAX_QUERY_CHARS = 500
"""The longest query read (the Explore page's search box takes no more)."""
MAX_ITEMS = 100
"""The most values (indices, ranges, labels, bounds) one query may hold."""
KEYS = {
    "label": "label",
    "true": "label",
    "class": "label",
    "predicted": "predicted",
    "pred": "predicted",
    "prediction": "predicted",
    "confidence": "confidence",
    "conf": "confidence",
    "index": "index",
    "idx": "index",
}
"""The names a term may start with (``label:7``), and the kind each stands for."""
WORDS = {"wrong": True, "misclassified": True, "correct": False}
"""The words that stand alone, and whether they ask for the misclassified points."""
EXAMPLES = "12, 40-45 · label:7 · predicted:3 · confidence<0.6 · confidence:0.2-0.5 · wrong"
"""What the box takes, in one line (the search box's placeholder and every error's hint)."""

_TOKEN = re.compile(
    r"\s*(?:(?P<op><=|>=|<|>|:|=)|(?P<comma>,)|\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<atom>[^\s,:=<>\"']+))"
)
_INDEX = re.compile(r"#?([0-9]+)(?:\s*-\s*#?([0-9]+))?")
_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)%?"
_RANGE = re.compile(rf"({_NUMBER})-({_NUMBER})")
_DASH = re.compile(r"(?<=[0-9%])\s*-\s*(?=[#0-9.])")


def _shown(value: str) -> str:
    """``value`` quoted as an error message names it (at most 40 characters)."""
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _fail(message: str) -> PointQueryError:
    return PointQueryError(f"{message} A search reads like: {EXAMPLES}.")


@dataclass(frozen=True)
class PointQuery:
    """A parsed search: what each kind of term asks for (``None`` or empty: no term of that kind).

    Attributes:
        indices: inclusive ``(first, last)`` ranges of dataset indices.
        labels: true labels, any of them.
        predicted: predicted labels, any of them.
        confidence: ``(low, high, low_included, high_included)`` intervals of the confidence, any of them.
        wrong: ``True`` for the misclassified, ``False`` for the correct (both: either).
    """

    indices: tuple[tuple[int, int], ...] = ()
    labels: frozenset[int] | None = None
    predicted: frozenset[int] | None = None
    confidence: tuple[tuple[float, float, bool, bool], ...] = ()
    wrong: frozenset[bool] = field(default_factory=frozenset)

    def mask(
        self, labels: np.ndarray, predicted: np.ndarray | None = None, confidence: np.ndarray | None = None
    ) -> np.ndarray:
        """``(n,)`` bool: which of the ``n`` points (dataset indices ``0 … n-1``) the query finds.

        Raises:
            PointQueryError: the query asks about predictions or confidence that are not given, or for an index
                past the last point.
        """
        n = len(labels)
        found = np.ones(n, dtype=bool)
        if self.indices:
            positions = np.arange(n)
            wanted = np.zeros(n, dtype=bool)
            for first, last in self.indices:
                if first >= n:
                    raise _fail(f"There are {n:,} points, indices 0 to {n - 1:,}; the search asks for index {first:,}.")
                wanted |= (positions >= first) & (positions <= min(last, n - 1))
            found &= wanted
        if self.labels is not None:
            found &= np.isin(labels, _within(self.labels))
        if self.predicted is not None or self.wrong:
            if predicted is None:
                raise _fail("This search asks about the model's predictions, and there are none for these points.")
            if self.predicted is not None:
                found &= np.isin(predicted, _within(self.predicted))
            if len(self.wrong) == 1:
                found &= (predicted != labels) == next(iter(self.wrong))
        if self.confidence:
            if confidence is None:
                raise _fail("This search asks about the model's confidence, and there is none for these points.")
            wanted = np.zeros(n, dtype=bool)
            for low, high, low_in, high_in in self.confidence:
                above = confidence >= low if low_in else confidence > low
                below = confidence <= high if high_in else confidence < high
                wanted |= above & below
            found &= wanted
        return found


def _within(labels: frozenset[int]) -> np.ndarray:
    """The labels that an int64 array can hold (a label past them matches no point)."""
    return np.array([label for label in labels if label <= np.iinfo(np.int64).max], dtype="int64")


def _items(tokens: list[tuple[str, str]], at: int, after: str) -> tuple[list[tuple[str, str]], int]:
    """The values from ``tokens[at]`` on (``value (, value)*``) and the position after them."""
    if at >= len(tokens) or tokens[at][0] not in ("atom", "quoted"):
        raise _fail(f"{after} needs a value after it; got {'nothing' if at >= len(tokens) else _shown(tokens[at][1])}.")
    items = [tokens[at]]
    at += 1
    while at + 1 < len(tokens) and tokens[at][0] == "comma" and tokens[at + 1][0] in ("atom", "quoted"):
        items.append(tokens[at + 1])
        at += 2
    return items, at


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, at, text = [], 0, _DASH.sub("-", text).strip()  # "40 - 45" is 40-45
    while at < len(text):
        found = _TOKEN.match(text, at)
        if found is None:  # only an opening quote with no closing one matches nothing
            raise _fail(f"The quote at {_shown(text[at:])} is never closed.")
        kind = found.lastgroup or ""
        value = found.group(kind)
        tokens.append(("quoted" if kind in ("dq", "sq") else kind, value))
        at = found.end()
    return tokens


def _label(kind: str, item: tuple[str, str], names: Sequence[str], n_classes: int | None) -> set[int]:
    """The labels one value of a ``label:`` or ``predicted:`` term names (a number, or a class's name)."""
    what, value = item
    if what == "atom" and re.fullmatch(r"[0-9]+", value):
        label = int(value)
        if n_classes is not None and label >= n_classes:
            raise _fail(f"{kind}:{value} names no class: the classes are 0 to {n_classes - 1}.")
        return {label}
    wanted = value.strip().casefold()
    found = {i for i, name in enumerate(names) if str(name).strip().casefold() == wanted}
    if not found:
        listed = ", ".join(str(name) for name in names[:10]) + (", ..." if len(names) > 10 else "")
        known = f"a class number or one of the class names ({listed})" if names else "a class number"
        raise _fail(f"{kind}: expects {known}; got {_shown(value)}.")
    return found


def _fraction(value: str, term: str) -> float:
    """A confidence as typed (``0.6``, ``.6``, ``60%``) as a number in [0, 1]."""
    if not re.fullmatch(_NUMBER, value):
        raise _fail(f"{term} expects a number from 0 to 1 (or a percentage, 60%); got {_shown(value)}.")
    number = float(value.rstrip("%")) / (100 if value.endswith("%") else 1)
    if number > 1:
        raise _fail(f"{term} expects a confidence from 0 to 1 (0% to 100%); got {_shown(value)}.")
    return number


def _bound(kind: str, op: str, value: str) -> tuple[float, float, bool, bool]:
    """``confidence<0.6`` as an interval."""
    number = _fraction(value, f"{kind}{op}")
    if op.startswith("<"):
        return 0.0, number, True, op == "<="
    return number, 1.0, op == ">=", True


def _index_bound(op: str, value: str) -> tuple[int, int] | None:
    """``index<100`` as an inclusive range (``None``: no index at all, as ``index<0``)."""
    if not re.fullmatch(r"#?[0-9]+", value):
        raise _fail(f"index{op} expects a point index (a whole number); got {_shown(value)}.")
    number = int(value.lstrip("#"))
    if op in ("<", "<="):
        last = number - (op == "<")
        return None if last < 0 else (0, last)
    return number + (op == ">"), np.iinfo(np.int64).max


def _index_range(value: str, term: str) -> tuple[int, int]:
    found = _INDEX.fullmatch(value)
    if found is None:
        raise _fail(f"{term} expects point indices such as 12 or 40-45; got {_shown(value)}.")
    first = int(found.group(1))
    last = int(found.group(2)) if found.group(2) else first
    if last < first:
        raise _fail(f"The range {_shown(value)} ends before it starts; write the lower index first ({last}-{first}).")
    return first, last


def parse_query(text: str, class_names: Sequence[str] | None = None, n_classes: int | None = None) -> PointQuery:
    """A search's text read as a :class:`PointQuery` (the module's docstring lists what it takes).

    Args:
        text: what was typed.
        class_names: the classes' names, by label, for ``label:cat`` (none: numbers only).
        n_classes: how many classes there are, to refuse ``label:12`` of 10 (default: ``len(class_names)``).

    Raises:
        PointQueryError: empty text, text longer than :data:`MAX_QUERY_CHARS`, more than :data:`MAX_ITEMS` values,
            or a term that is not one of the module's; the message names the term, what was expected and received.
    """
    if not isinstance(text, str):
        raise PointQueryError(f"A search is text; got {type(text).__name__}.")
    if len(text) > MAX_QUERY_CHARS:
        raise _fail(f"A search has at most {MAX_QUERY_CHARS} characters; got {len(text):,}.")
    names = [str(name) for name in class_names] if class_names is not None else []
    n_classes = len(names) if n_classes is None and class_names is not None else n_classes
    tokens = _tokens(text)
    if not [t for t in tokens if t[0] != "comma"]:
        raise _fail("The search is empty.")
    indices: list[tuple[int, int]] = []
    labels: dict[str, set[int] | None] = {"label": None, "predicted": None}
    confidence: list[tuple[float, float, bool, bool]] = []
    wrong: set[bool] = set()
    at, count = 0, 0
    while at < len(tokens):
        what, value = tokens[at]
        if what == "comma":
            at += 1
            continue
        if what == "op":
            raise _fail(f"{_shown(value)} needs a name before it, as in confidence<0.6 or label:7.")
        if what == "atom" and at + 1 < len(tokens) and tokens[at + 1][0] == "op":
            key, op = value, tokens[at + 1][1]
            kind = KEYS.get(key.casefold())
            if kind is None:
                raise _fail(f"Unknown search term {_shown(key + op)}: expected one of {', '.join(KEYS)}.")
            at += 2
            if op == ":" and at < len(tokens) and tokens[at][0] == "op" and tokens[at][1] not in (":", "="):
                op, at = tokens[at][1], at + 1  # confidence:<0.6 reads as confidence<0.6
            items, at = _items(tokens, at, f"{key}{op}")
            count += len(items)
            if count > MAX_ITEMS:
                raise _fail(f"A search holds at most {MAX_ITEMS} values; this one holds more.")
            term = f"{key}{op}"
            if kind in ("label", "predicted"):
                if op not in (":", "="):
                    raise _fail(f"{key} is compared with ':' ({key}:7); got {_shown(op)}.")
                found = set().union(*(_label(key, item, names, n_classes) for item in items))
                labels[kind] = (labels[kind] or set()) | found
            elif kind == "confidence":
                for _, item in items:
                    if op in (":", "="):
                        bounds = _RANGE.fullmatch(item)
                        if bounds is None:
                            raise _fail(
                                f"{term} expects a range such as {key}:0.2-0.5 (or a bound, {key}<0.6); "
                                f"got {_shown(item)}."
                            )
                        low, high = _fraction(bounds.group(1), term), _fraction(bounds.group(2), term)
                        if high < low:
                            raise _fail(f"The range {_shown(item)} ends before it starts; write the lower end first.")
                        confidence.append((low, high, True, True))
                    else:
                        confidence.append(_bound(key, op, item))
            else:
                for item_kind, item in items:
                    if item_kind != "atom":
                        raise _fail(f"{term} expects point indices such as 12 or 40-45; got {_shown(item)}.")
                    if op in (":", "="):
                        indices.append(_index_range(item, term))
                    elif (bound := _index_bound(op, item)) is not None:
                        indices.append(bound)
                    else:
                        indices.append((-1, -1))  # index<0: no point; kept so that the term still narrows
            continue
        items, at = _items(tokens, at, "A search")
        count += len(items)
        if count > MAX_ITEMS:
            raise _fail(f"A search holds at most {MAX_ITEMS} values; this one holds more.")
        for item_kind, item in items:
            word = item.casefold()
            if item_kind == "atom" and word in WORDS:
                wrong.add(WORDS[word])
            elif item_kind == "atom" and _INDEX.fullmatch(item):
                indices.append(_index_range(item, "An index"))
            else:
                hint = f" For the class, type label:{_quoted(item)}." if _is_name(item, names) else ""
                raise _fail(
                    f"{_shown(item)} is no point index, range or search term: expected a number such as 12, a "
                    f"range such as 40-45, a word ({', '.join(WORDS)}) or a term such as label:7.{hint}"
                )
    return PointQuery(
        tuple(indices),
        None if labels["label"] is None else frozenset(labels["label"]),
        None if labels["predicted"] is None else frozenset(labels["predicted"]),
        tuple(confidence),
        frozenset(wrong),
    )


def _is_name(item: str, names: Sequence[str]) -> bool:
    return any(str(name).strip().casefold() == item.strip().casefold() for name in names)


def _quoted(item: str) -> str:
    return f'"{item}"' if re.search(r"[\s,:=<>']", item) else item


def find_points(
    text: str,
    labels: np.ndarray,
    predicted: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    among: np.ndarray | None = None,
) -> np.ndarray:
    """The dataset indices of the points a search finds, sorted.

    Args:
        text: what was typed (see the module's docstring).
        labels: ``(n,)`` int true labels of the split's points, by dataset index.
        predicted: ``(n,)`` int predicted labels (needed by ``predicted:``, ``wrong`` and ``correct``).
        confidence: ``(n,)`` float probabilities of the predicted class (needed by ``confidence``).
        class_names: the classes' names, by label (for ``label:cat``; also bounds the class numbers).
        among: dataset indices to search among (the map's points); ``None``: all ``n``.

    Returns:
        ``(m,)`` int64 dataset indices, ascending (empty when nothing matches).

    Raises:
        PointQueryError: text that is no search (:func:`parse_query`), or a search the data cannot answer (an index
            past the last point, predictions or confidence asked and not given, arrays of other lengths).
    """
    labels = np.asarray(labels)
    n = len(labels)
    for name, values in (("predicted", predicted), ("confidence", confidence)):
        if values is not None and len(values) != n:
            raise PointQueryError(f"{name} must have one value per point ({n:,}); got {len(values):,}.")
    n_classes = None
    if class_names is None:
        top = [int(values.max()) for values in (labels, predicted) if values is not None and len(values)]
        n_classes = max(top) + 1 if top else None
    query = parse_query(text, class_names, n_classes)
    mask = query.mask(
        labels,
        None if predicted is None else np.asarray(predicted),
        None if confidence is None else np.asarray(confidence, dtype="float64"),
    )
    if among is not None:
        keep = np.zeros(n, dtype=bool)
        among = np.asarray(among, dtype="int64")
        keep[among[(among >= 0) & (among < n)]] = True
        mask &= keep
    return np.flatnonzero(mask).astype(np.int64)
