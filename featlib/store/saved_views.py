"""Saved views: an Explore map or a comparison kept under a title, opened by a short link.

A saved view is one row of the index's ``saved_views`` table: its id, its
kind (``"explore"`` or ``"compare"``), a title, the view's URL query (the
validated, canonical form of :meth:`featlib.share.views.View.to_query` or
:meth:`featlib.share.compare.CompareView.to_query`, as JSON), who saved it and when,
a note, and a small PNG thumbnail of the map (:mod:`featlib.share.thumbnails`). The
row, thumbnail included, is written in one transaction: nothing is half-saved,
and nothing is overwritten.

The id is 8 lowercase letters and digits, derived from a SHA-256 of the kind
and the canonical query: the same view gets the same id, on every server and
after a delete and a new save, so its short link (``/explore?view=<id>``,
``/compare?view=<id>``) is stable. Saving a view that is already saved returns
the saved one unchanged (its title, maker and time) instead of a second row.
Two different views whose hashes collide on the first 8 characters (about one
in 2.8 × 10¹² per pair) get the next free id of the same hash salted 1, 2, ...

A row is read back as written, then checked again when it is opened
(:func:`featlib.share.view_queries.parse`): an id that is not 8 letters and digits, an id the workspace
does not hold, or a row whose kind or query was edited by hand raise
:class:`SavedViewError` naming what was expected and what was found.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from featlib.errors import SavedViewError, ViewError
from featlib.names import check_item_name
from featlib.store.audit import to_trash
from featlib.store.index import IndexedFolder, now
from featlib.store.permissions import Actor, check
from featlib.store.quotas import check_disk, check_quotas

VIEW_KINDS = {"explore": "Explore map", "compare": "Comparison"}
"""The kinds of saved views, with their titles."""
ID_LENGTH = 8
ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
ID_PATTERN = re.compile(rf"[0-9a-z]{{{ID_LENGTH}}}")
ID_RULE = f"saved views have ids of {ID_LENGTH} lowercase letters and digits, like 'k3x9q2ab'"
MAX_TITLE = 120
"""The most characters a view's title may have (:data:`featlib.names.MAX_NAME_LENGTH`)."""
MAX_QUERY_CHARS = 20_000
"""The most characters a saved query may have (a view with 1,000 selected points takes about 6,000)."""
MAX_THUMBNAIL_BYTES = 256 * 1024
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_SALTS = 64


@dataclass(frozen=True)
class SavedView:
    """One saved view as stored.

    Attributes:
        id: 8 lowercase letters and digits (:data:`ID_PATTERN`).
        kind: ``"explore"`` or ``"compare"`` (:data:`VIEW_KINDS`).
        title: as typed (plain text: pages escape it, :mod:`featlib.app.text`).
        query: the view's URL query parameters, ``{name: value}`` strings.
        creator: who saved it (``""``: nobody named).
        created: when (ISO 8601, UTC, seconds).
        note: a free-text note.
        thumbnail: PNG bytes of the map (``b""``: none).
    """

    id: str
    kind: str
    title: str
    query: dict[str, str]
    creator: str = ""
    created: str = ""
    note: str = ""
    thumbnail: bytes = field(default=b"", repr=False)

    @property
    def path(self) -> str:
        """The short link's path and query, relative to the server's root: ``"explore?view=k3x9q2ab"``."""
        return f"{self.kind}?view={self.id}"


def canonical(query: Mapping[str, str]) -> str:
    """``query`` as one JSON text with sorted keys: the form that is hashed and stored."""
    return json.dumps({str(k): str(v) for k, v in query.items()}, sort_keys=True, separators=(",", ":"))


def view_id(kind: str, query: Mapping[str, str], salt: int = 0) -> str:
    """The id of a view: 8 base-36 characters of SHA-256(kind, canonical query, salt).

    Args:
        kind: ``"explore"`` or ``"compare"``.
        query: the view's query parameters.
        salt: 0 for the first choice; 1, 2, ... when that id is taken by another view.

    Returns:
        A string matching :data:`ID_PATTERN`.
    """
    digest = hashlib.sha256(f"{kind}\n{canonical(query)}\n{salt}".encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(ID_LENGTH):
        number, rest = divmod(number, len(ID_ALPHABET))
        chars.append(ID_ALPHABET[rest])
    return "".join(chars)


def check_id(text: object) -> str:
    """``text`` when it has the form of a saved view's id.

    Raises:
        SavedViewError: naming the rule and what was received (shortened, as its ``repr``).
    """
    if not isinstance(text, str) or not ID_PATTERN.fullmatch(text):
        shown = repr(text if not isinstance(text, str) or len(text) <= 40 else text[:37] + "...")
        raise SavedViewError(f"{shown} is not a saved view id: {ID_RULE}.")
    return text


def check_query(kind: str, query: Mapping[str, str]) -> dict[str, str]:
    """``query`` in the form a saved view stores, after the structural checks.

    Raises:
        ValueError: an unknown kind, a query that is not names and values as text, or one longer than
            :data:`MAX_QUERY_CHARS`; the message names what was expected and received.
    """
    if kind not in VIEW_KINDS:
        raise ViewError(f"Unknown kind of view: {kind!r}. Expected one of {list(VIEW_KINDS)}.")
    if not isinstance(query, Mapping) or not query:
        raise ViewError(f"A saved view's query is a non-empty mapping of names to values; got {type(query).__name__}.")
    bad = [k for k, v in query.items() if not isinstance(k, str) or not isinstance(v, str) or not k]
    if bad:
        raise ViewError(f"A saved view's query maps names to text values; got {bad[:3]!r} with other types.")
    size = len(canonical(query))
    if size > MAX_QUERY_CHARS:
        raise ViewError(f"A saved view's query can have at most {MAX_QUERY_CHARS:,} characters; got {size:,}.")
    return dict(query)


ViewParser = Callable[[str, Mapping[str, str]], Any]
"""Reads a saved view's query strictly: ``parse(kind, query)`` returns the view (its ``to_query()`` is the
canonical form that is stored) or raises ``ValueError``. The layer above the store provides it
(:func:`featlib.share.view_queries.parse`); the store itself never imports the view modules."""


def canonical_query(kind: str, query: Mapping[str, str], parse: ViewParser | None) -> dict[str, str]:
    """``query`` as a saved view stores it: read by ``parse`` and written back in its canonical form, or, without
    a parser, only checked structurally (:func:`check_query`).

    Raises:
        ValueError: a bad kind or query, naming what was expected and received.
    """
    query = check_query(kind, query)
    return query if parse is None else parse(kind, query).to_query()


def printable(text: str, limit: int = MAX_TITLE) -> str:
    """``text`` with every character that is not printable shown as ``?``, at most ``limit`` characters
    (a title or creator edited in the index by hand still lists as one plain line)."""
    return "".join(c if c.isprintable() else "?" for c in str(text))[:limit]


def _from_row(row: sqlite3.Row) -> SavedView:
    """The saved view of a row, checked: a tampered kind or query raises :class:`SavedViewError`."""
    ident = row["id"]
    if row["kind"] not in VIEW_KINDS:
        raise SavedViewError(
            f"The saved view {ident!r} is of kind {str(row['kind'])[:40]!r}, not one of "
            f"{list(VIEW_KINDS)}: its row in the index was changed by hand, so it is not opened."
        )
    try:
        query = json.loads(row["query"]) if isinstance(row["query"], str) else None
        query = check_query(row["kind"], query)  # type: ignore[arg-type]
    except (ValueError, RecursionError) as error:
        raise SavedViewError(
            f"The saved view {ident!r} holds no readable query (its row in the index was changed "
            f"by hand): {str(error)[:200]}"
        ) from None
    thumbnail = (
        row["thumbnail"] if isinstance(row["thumbnail"], bytes) and row["thumbnail"].startswith(PNG_MAGIC) else b""
    )
    return SavedView(
        ident,
        row["kind"],
        printable(row["title"] or "untitled"),
        query,
        printable(row["creator"] or "", 120),
        str(row["created"]),
        str(row["note"] or ""),
        thumbnail,
    )


class ViewStore(IndexedFolder):
    """Saved views in the index (a part of :class:`~featlib.store.Workspace`)."""

    def save_view(
        self,
        kind: str,
        query: Mapping[str, str],
        title: str,
        creator: str = "",
        thumbnail: bytes = b"",
        *,
        parse: ViewParser | None = None,
    ) -> tuple[SavedView, bool]:
        """Saves a view under a title, or finds it saved already; one transaction.

        Args:
            kind: ``"explore"`` or ``"compare"``.
            query: the view's URL query (``View.to_query()`` / ``CompareView.to_query()``); it is read
                strictly by ``parse`` and stored in the view's own canonical form.
            title: 1 to :data:`MAX_TITLE` printable characters (:func:`featlib.names.check_name`); any text,
                markup included, is kept as typed and shown as plain text.
            creator: who saves it.
            thumbnail: PNG bytes (at most :data:`MAX_THUMBNAIL_BYTES`), or ``b""``.
            parse: reads the query strictly (:func:`featlib.share.view_queries.parse`, what the pages pass);
                ``None``: the query is only checked structurally and stored as given.

        Returns:
            ``(saved, new)``: the saved view, and whether this call stored it (``False``: the same view
            was saved before, and that row, with its title, maker and time, is returned unchanged).

        Raises:
            ValueError: a bad kind, query, title or thumbnail, naming what was expected and received.
            featlib.errors.QuotaError: a new view that would take ``creator`` or the workspace past a quota (its
                thumbnail's bytes), or leave the disk under the free-disk floor (:mod:`featlib.store.quotas`);
                checked before its row is written, in the same transaction. Nothing is stored.
        """
        title = check_item_name(title, "view", what="view title", max_length=MAX_TITLE)
        query = canonical_query(kind, query, parse)  # validated, canonical
        if thumbnail and (not thumbnail.startswith(PNG_MAGIC) or len(thumbnail) > MAX_THUMBNAIL_BYTES):
            raise ViewError(
                f"A thumbnail is a PNG of at most {MAX_THUMBNAIL_BYTES:,} bytes; got {len(thumbnail):,} "
                f"bytes starting {thumbnail[:8]!r}."
            )
        text = canonical(query)
        digest = hashlib.sha256(f"{kind}\n{text}".encode()).hexdigest()
        with self._write() as db:
            row = db.execute("SELECT * FROM saved_views WHERE kind = ? AND digest = ?", (kind, digest)).fetchone()
            if row is not None:
                return _from_row(row), False
            check_disk(self.root, len(thumbnail) + len(text), what="saved view")
            check_quotas(db, self.root, creator, len(thumbnail), what="saved view")
            titles = [r[0] for r in db.execute("SELECT title FROM saved_views") if isinstance(r[0], str)]
            check_item_name(title, "view", titles, "view title", MAX_TITLE)  # no look-alike of another's title
            for salt in range(_SALTS):
                ident = view_id(kind, query, salt)
                if db.execute("SELECT 1 FROM saved_views WHERE id = ?", (ident,)).fetchone() is None:
                    break
            else:  # pragma: no cover - 64 collisions of a 41-bit hash
                raise RuntimeError(f"No free id for this view after {_SALTS} tries.")
            created = now()
            db.execute(
                "INSERT INTO saved_views (id, kind, digest, title, query, creator, created, thumbnail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (ident, kind, digest, title, text, creator.strip(), created, sqlite3.Binary(thumbnail)),
            )
        return SavedView(ident, kind, title, query, creator.strip(), created, "", thumbnail), True

    def get_view(self, ident: str) -> SavedView:
        """The saved view ``ident``.

        Raises:
            SavedViewError: ``ident`` is not 8 letters and digits, the workspace holds no such view (deleted,
                or the link comes from another server), or its row was changed by hand.
        """
        ident = check_id(ident)
        with self._connect() as db:
            row = db.execute("SELECT * FROM saved_views WHERE id = ?", (ident,)).fetchone()
        if row is None:
            raise SavedViewError(
                f"No saved view {ident!r} in this workspace: it was deleted, or the link comes from "
                f"another server ({ID_RULE})."
            )
        return _from_row(row)

    def find_view(self, kind: str, query: Mapping[str, str], *, parse: ViewParser | None = None) -> SavedView | None:
        """The saved view showing exactly ``query`` (compared in its canonical form: read by ``parse``, as in
        :meth:`save_view`), if any; never raises for a query that is no view (``None``)."""
        try:
            query = canonical_query(kind, query, parse)
        except ValueError:
            return None
        digest = hashlib.sha256(f"{kind}\n{canonical(query)}".encode()).hexdigest()
        with self._connect() as db:
            row = db.execute("SELECT * FROM saved_views WHERE kind = ? AND digest = ?", (kind, digest)).fetchone()
        try:
            return None if row is None else _from_row(row)
        except SavedViewError:
            return None

    def list_views(self) -> list[SavedView]:
        """Every saved view that can be read, newest first (rows changed by hand into no view are left out)."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM saved_views ORDER BY created DESC, id").fetchall()
        views = []
        for row in rows:
            try:
                views.append(_from_row(row))
            except SavedViewError:
                continue
        return views

    def delete_view(self, ident: str, *, who: str = "", actor: Actor | None = None) -> None:
        """Moves the saved view ``ident`` (its row and thumbnail; the maps it shows stay) into the workspace's
        trash (:mod:`featlib.store.audit`); the audit trail records ``who`` deleted it. Under a login, ``actor``'s
        role must allow it (:mod:`featlib.store.permissions`); ``None``: no login.

        Raises:
            SavedViewError: a malformed id, or no such view (deleted meanwhile by another user).
            featlib.errors.RoleError: ``actor`` may not delete this view; nothing is deleted.
        """
        ident = check_id(ident)
        with self._write() as db:
            row = db.execute("SELECT * FROM saved_views WHERE id = ?", (ident,)).fetchone()
            if row is not None:
                check(actor, "delete", row["creator_subject"] or "", f"view {row['title']!r}")
            done = db.execute("DELETE FROM saved_views WHERE id = ?", (ident,)).rowcount
            if done:
                contents = [f"view {row['title']}"]
                rows = {"saved_views": [row]}
                to_trash(
                    db,
                    who,
                    "view",
                    ident,
                    name=row["title"],
                    owner=row["creator"],
                    rows=rows,
                    files=[],
                    contents=contents,
                    who_subject=actor.subject if actor is not None else "",
                    owner_subject=row["creator_subject"] or "",
                )
        if not done:
            raise SavedViewError(
                f"No saved view {ident!r} in this workspace: it may have been deleted by another user."
            )


_REDUCER_TITLES = {"umap": "UMAP", "pca": "PCA", "tsne": "t-SNE"}


def view_summary(view: SavedView, names: Mapping[str, str] | None = None) -> str:
    """What a saved view shows, in one line, read from its query without loading any model.

    ``"Explore map · mlp-digits · dense_1 · function · UMAP · digits train · 1,437 points · 12 selected"``;
    ``"Comparison of 3 panels · mlp-digits dense, mlp-digits dense_1, ... · digits train"``. ``names``
    maps model ids to their names (an id not in it is shown as it is).
    """
    names = names or {}
    q = view.query
    where = f"{q.get('dataset', '?')} {q.get('split', 'train')}"
    sample = q.get("sample", "all")
    points = (
        "all points" if sample == "all" else (f"{int(sample):,} points" if sample.isdigit() else f"sample {sample}")
    )
    if view.kind == "explore":
        parts = [
            VIEW_KINDS["explore"],
            names.get(q.get("model", ""), q.get("model", "?")),
            q.get("layer", "?"),
            q.get("method", "function"),
            _REDUCER_TITLES.get(q.get("reducer", "umap"), q.get("reducer", "?")),
            where,
            points,
        ]
        selected = [p for p in q.get("selection", "").split(",") if p]
        if selected:
            parts.append(f"{len(selected):,} selected")
        stability = stability_summary(q.get("stability", ""))
        if stability:
            parts.append(stability)
        return printable(" · ".join(parts), 400)
    panels = [q[key] for key in sorted(q) if re.fullmatch(r"p\d", key)]
    shown = []
    for text in panels:
        model, _, rest = text.partition(":")
        layer = rest.split(":")[0]
        shown.append(f"{names.get(model, model)} {layer}")
    return printable(f"{VIEW_KINDS['compare']} of {len(panels)} panels · {', '.join(shown)} · {where} · {points}", 400)


def stability_summary(raw: str) -> str:
    """A saved Explore view's seed stability figures (its query's ``stability``, written by
    :meth:`featlib.maps.seed_stability.StabilityFigures.to_text`: seeds, median displacement, trustworthiness low
    and high, core share) in words: ``"median displacement 0.12 of the map's width over 5 seeds; trustworthiness
    0.91–0.93"``; ``""`` when the view has none or they do not read (the store never imports the view modules, so
    it reads the five numbers itself)."""
    parts = str(raw).split(",")
    try:
        seeds, moved, low, high = int(parts[0]), float(parts[1]), float(parts[2]), float(parts[3])
    except (ValueError, IndexError):
        return ""
    if len(parts) != 5:
        return ""
    trust = f"{low:.2f}" if f"{low:.2f}" == f"{high:.2f}" else f"{low:.2f}–{high:.2f}"
    return f"median displacement {moved:.2f} of the map's width over {seeds} seeds; trustworthiness {trust}"
