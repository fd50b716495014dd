"""Links that reopen a view: the Explore page's state in the URL's query, or a saved view's short id.

A view is shared two ways. Its whole state travels in the URL's query
(``/explore?model=…&layer=…&selection=3,17,…``: up to a few KB, made as before
and still opened as before). Or it is saved under a title
(:meth:`featlib.store.Workspace.save_view`) and gets a short link,
``/explore?view=<id>`` (``/compare?view=<id>`` for a comparison), listed on the
Workspace page with a thumbnail; a button copies it to the clipboard in one
click (:mod:`featlib.app.clipboard`). While the page shows a saved view, the
address bar holds its short link.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Sequence
from urllib.parse import urlencode

import numpy as np
import streamlit as st

from featlib.app import clipboard, identity, resources, shortcuts, state, text, widgets
from featlib.errors import FeatlibError, ModelMismatchError
from featlib.maps import embed, reducer_params
from featlib.maps.embed import REDUCER_TITLES, REDUCERS
from featlib.maps.reducer_params import TSNE_SAMPLE  # noqa: F401  (the Explore page's help names it)
from featlib.share import thumbnails, view_queries
from featlib.share.thumbnails import MapPoints
from featlib.share.views import (
    FINGERPRINT,
    MAX_LINK_SELECTION,
    Replaced,
    View,
    ViewError,
    number_text,
    read_link,
)
from featlib.store import SavedView, SavedViewError, WorkspaceError
from featlib.store.saved_views import MAX_TITLE, VIEW_KINDS

_RESTORED = "featlib.link_restored"
LINK_ERROR = "featlib.link_error"
LINK_NOTES = "featlib.link_notes"
"""What the opened link asked for and did not get: ``{parameter: Replaced}``, shown once by the Explore page."""
LINK_ASKED = "featlib.link_asked"
"""The opened link's own values, ``{parameter: text}``, until the Explore page has fitted them to the data."""
SAMPLE_MIN = 50
"""The Explore page's smallest sample size offered (fewer when the split has fewer points)."""
REDUCER_PICKER = "map_reducer"
COLOUR_PICKER = "map_colour"
CONTOURS_TOGGLE = "map_contours"
"""Widget key of the Explore page's "Contours and class labels" toggle (a View's ``contours``)."""
DIMS_TOGGLE = "map_3d"
"""Widget key of the Explore page's "3-D map" toggle (a View's ``params.dims``: ``dims=3`` in the link)."""
PLACE_CHOICE = "explore_place"
"""Widget key of the Explore page's "Place on this map" choice (a View's ``placed``)."""
SEEDS_SWITCH, SEEDS_COUNT = "explore_seed_stability", "explore_stability_seeds"
"""Widget keys of the Explore page's "Compare seeds" switch and its number of seeds (a View's ``seeds``)."""
SELECTION = "featlib.map_selection"
"""The Explore page's selected points: ``{"context": (model, dataset, split), "indices": [...]}``."""
# The Explore page's widgets per reducer, by the View / parameter field they hold.
REDUCER_WIDGETS = {
    "umap": {
        "sample": "umap_sample",
        "n_neighbors": "umap_n_neighbors",
        "min_dist": "umap_min_dist",
        "metric": "umap_metric",
        "random_state": "umap_seed",
    },
    "pca": {"sample": "pca_sample"},
    "tsne": {"sample": "tsne_sample", "perplexity": "tsne_perplexity", "random_state": "tsne_seed"},
}
UMAP_WIDGETS = REDUCER_WIDGETS["umap"]
DEFAULT_SAMPLES = {name: table.sample for name, table in reducer_params.TABLES.items()}
"""Each reducer's default sample size (:data:`featlib.maps.reducer_params.MAP_SAMPLE`, ``TSNE_SAMPLE``)."""


def restore_from_link() -> None:
    """Once per session, turns a link's query parameters into the carried choices.

    A link to something no longer in the workspace, or one without model,
    dataset or layer, leaves a message for the page (:func:`show_link_error`)
    and changes nothing. A value the link cannot have (unknown, out of range)
    is replaced (:func:`featlib.share.views.read_link`) and named on the Explore page
    (:func:`show_link_notes`), which also fits the link's numbers to the data
    (:func:`fit_to_data`) and its layer to the model.
    """
    if st.session_state.get(_RESTORED):
        return
    st.session_state[_RESTORED] = True
    query = st.query_params.to_dict()
    if "model" not in query and "view" in query:  # a saved view's short link
        saved = saved_view(query["view"], "explore")
        if saved is None:
            return
        query = dict(saved.query)
    if "model" not in query:
        return
    try:
        open_query(query)
    except ViewError as error:
        st.session_state[LINK_ERROR] = str(error)
    except ModelMismatchError as error:  # another model under the link's id: never shown in its place
        st.session_state[LINK_ERROR] = f"This link cannot be opened. {error}"
    except FeatlibError as error:
        st.session_state[LINK_ERROR] = (
            "This link names something that is no longer in the workspace (deleted, or the link "
            f"comes from another server): {error}"
        )


def open_query(query: dict[str, str]) -> None:
    """Makes the Explore view a link's ``query`` describes the current choices, keeping what it asked for and
    what was replaced for the page (:func:`show_link_notes`).

    Raises:
        ViewError: the query describes no view (:func:`featlib.share.views.read_link`).
        WorkspaceError, DatasetError: its model or dataset is not in the workspace; nothing is changed.
    """
    view, replaced = read_link(query)
    resources.workspace().get_model(view.model, fingerprint=view.fingerprint or None)  # by id first, pinned
    resources.dataset(view.dataset)
    open_view(view)
    st.session_state[LINK_NOTES] = dict(replaced)
    st.session_state[LINK_ASKED] = {name: str(value) for name, value in query.items()}


def saved_view(ident: str, kind: str, error_key: str = LINK_ERROR) -> SavedView | None:
    """The saved view a short link names, when it is of ``kind`` (``"explore"`` or ``"compare"``); else ``None``,
    leaving the reason for the page under ``error_key`` (:func:`show_link_error`)."""
    try:
        saved = resources.workspace().get_view(ident)
    except SavedViewError as error:
        st.session_state[error_key] = f"This link cannot be opened. {error}"
        return None
    if saved.kind != kind:  # each page opens its own kind
        what = VIEW_KINDS[saved.kind].lower()
        st.session_state[error_key] = (
            f"The saved view {saved.title!r} ({saved.id}) is {'an' if what[0] in 'aeiou' else 'a'} "
            f"{what}: open it at {saved.path}."
        )
        return None
    return saved


def note_link_value(name: str, used: object, reason: str) -> None:
    """Names, on the Explore page, a value the opened link asked for that the page cannot use (and what it uses).

    Does nothing when the current link did not ask for ``name`` (a value
    carried from earlier is fitted to the data without a word).
    """
    asked = st.session_state.get(LINK_ASKED) or {}
    if name in asked:
        st.session_state.setdefault(LINK_NOTES, {})[name] = Replaced(name, asked[name], str(used), reason)


def show_link_notes() -> None:
    """Shows, once, every value of the opened link that was replaced, with the value used instead."""
    st.session_state.pop(LINK_ASKED, None)
    for replaced in (st.session_state.pop(LINK_NOTES, None) or {}).values():
        text.warning(replaced.message, icon=":material/link_off:")


def widget_range(name: str, n_points: int) -> tuple[float, float]:
    """The range the Explore page offers for parameter ``name`` (a key of :data:`REDUCER_WIDGETS`' entries) on ``n_points`` points.

    Sample sizes run from :data:`SAMPLE_MIN` (or all the points, when fewer) to all of them; ``n_neighbors``
    stays below the number of points and ``perplexity`` below a third of it (:func:`featlib.maps.embed.max_n_neighbors`,
    :func:`featlib.maps.embed.max_perplexity`); seeds and ``min_dist`` do not depend on the data. When the points are
    too few for the reducer at all, its smallest value is the whole range (the page then says what it needs).
    The bounds that do not depend on the data are the reducers' tables' (:mod:`featlib.maps.reducer_params`).

    Raises:
        KeyError: ``name`` is no parameter with a range on the page.
    """
    if name == "sample":
        return min(SAMPLE_MIN, n_points), n_points
    if name not in ("n_neighbors", "perplexity", "min_dist", "random_state"):
        raise KeyError(
            f"No range for {name!r}; expected one of sample, n_neighbors, perplexity, min_dist, random_state."
        )
    spec = reducer_params.param(name)
    low, high = spec.rule.kind(spec.low), spec.rule.kind(spec.high)
    if name == "n_neighbors":
        return low, min(high, embed.max_n_neighbors(n_points) or low)
    if name == "perplexity":
        most = min(high, embed.max_perplexity(n_points) or low)
        return low, max(low, math.floor(most * 100) / 100)
    return low, high


def fit_to_data(n_points: int) -> None:
    """Brings every Explore parameter widget within :func:`widget_range` for ``n_points``, naming the link's values that change.

    A value the opened link asked for outside the range is replaced by the nearest bound and named on the page
    (:func:`note_link_value`): "The link asked for n_neighbors=100000; at most 200 are allowed for 1,797 points —
    using 200." Values carried from earlier (a larger dataset's sample size) follow the data silently.
    """
    asked = st.session_state.get(LINK_ASKED) or {}
    link_reducer = asked.get("reducer", "umap") if asked else None
    for reducer, keys in REDUCER_WIDGETS.items():
        for name, key in keys.items():
            if name == "metric":
                continue
            low, high = widget_range(name, n_points)
            value = st.session_state.get(key)
            if value is None:
                continue
            fitted = min(max(value, low), high)
            if fitted != value:
                st.session_state[key] = type(value)(fitted)
            if reducer != link_reducer or name not in asked:
                continue
            wanted = _number(asked[name]) if not (name == "sample" and asked[name] == "all") else None
            if wanted is None:
                continue
            if wanted > high:
                note_link_value(
                    name,
                    f"all {n_points:,}" if name == "sample" else number_text(high),
                    _out_of_range(name, low, high, n_points, above=True),
                )
            elif wanted < low:
                note_link_value(name, number_text(low), _out_of_range(name, low, high, n_points, above=False))


def _out_of_range(name: str, low: float, high: float, n_points: int, above: bool) -> str:
    """Why a link's value of ``name`` cannot be used: "at most 200 are allowed for 1,797 points"."""
    if name in ("random_state", "min_dist"):
        top = f"{int(high):,}" if name == "random_state" else number_text(high)
        return f"{'seeds run' if name == 'random_state' else 'min_dist runs'} from {number_text(low)} to {top}"
    if name == "sample" and above:
        return f"there are {n_points:,} points"
    verb = "is" if name == "perplexity" else "are"
    if above:
        return f"at most {number_text(high)} {verb} allowed for {n_points:,} points"
    return f"at least {number_text(low)} {verb} allowed" + (f" for {n_points:,} points" if name == "sample" else "")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def open_view(view: View) -> None:
    """Makes ``view``'s model, dataset, layer, method, reduction, split, reducer, colouring, selection and what the
    map shows beside (contours, placed images, seeds compared) the current choices.

    Call it before the Explore page's widgets are drawn in the run (from a link, or from another page).
    """
    state.put(state.MODEL, view.model)
    widgets.select_dataset(view.dataset)
    state.put(state.LAYER, view.layer)
    state.put(state.METHOD, view.method)
    state.put(state.REDUCTION, view.reduction)
    state.put(state.SPLIT, view.split)
    st.session_state[REDUCER_PICKER] = view.reducer
    st.session_state[COLOUR_PICKER] = view.colour
    st.session_state[CONTOURS_TOGGLE] = view.contours
    st.session_state[DIMS_TOGGLE] = view.params.dims == 3
    st.session_state[PLACE_CHOICE] = view.placed
    st.session_state[SEEDS_SWITCH] = bool(view.seeds)
    if view.seeds:
        st.session_state[SEEDS_COUNT] = view.seeds
    values = dict(vars(view.params), sample=view.sample)
    for name, key in REDUCER_WIDGETS[view.reducer].items():
        if values[name] is not None:
            st.session_state[key] = values[name]
    state.claim_data("explore", (view.dataset, view.split))
    if view.selection:
        put_selection((view.model, view.dataset, view.split), view.selection)


def put_selection(context: tuple[str, str, str], indices) -> None:
    """Keeps the selected points (dataset indices) of ``(model, dataset, split)``."""
    st.session_state[SELECTION] = {"context": tuple(context), "indices": [int(i) for i in indices]}


def get_selection(context: tuple[str, str, str]) -> list[int]:
    """The selected points kept for ``(model, dataset, split)``; none for another context."""
    kept = st.session_state.get(SELECTION)
    return list(kept["indices"]) if kept and tuple(kept["context"]) == tuple(context) else []


def show_link_error(key: str = LINK_ERROR) -> None:
    """Shows, once, why a link could not be opened (the message left under ``key``)."""
    message = st.session_state.pop(key, None)
    if message:
        text.error(message)


SAVE_TITLE = "featlib.save_view_title"
"""Widget key of the "Save view" form's title field."""
SAVE_BUTTON = "featlib.save_view_button"
_SAVED_NOW = "featlib.saved_now"


def page_root() -> str:
    """The server's address as the browser sees it (``http://host:8501``), or ``""`` when unknown (AppTest)."""
    url = (st.context.url or "").split("?")[0].split("#")[0]
    return url.rsplit("/", 1)[0] if url.count("/") >= 3 else ""


def short_link(saved: SavedView) -> str:
    """The saved view's short link: ``http://host:8501/explore?view=k3x9q2ab`` (relative when the address is unknown)."""
    root = page_root()
    return f"{root}/{saved.path}" if root else saved.path


def copy_link(
    query: dict[str, str], *notes: str, kind: str = "explore", maps: Sequence[MapPoints] = (), title: str = ""
) -> None:
    """Offers a view to save under a title (a short link) and its whole link to copy; puts the link in the URL.

    Shows, in one row: a "Save view" popover (a title, prefilled with ``title``, and a Save button that stores
    the view with a thumbnail of ``maps``); a one-click "Copy link" button (the whole link) while the view is not
    saved; the "Show link" popover with the whole link under ``notes``; and, when this exact view is saved, its
    title, maker, short link and a one-click "Copy short link" button. The address bar
    holds the short link while the view is a saved one, else the whole query.

    Args:
        query: the view's URL query (:meth:`featlib.share.views.View.to_query`, :meth:`featlib.share.compare.CompareView.to_query`).
        notes: captions above the whole link.
        kind: ``"explore"`` or ``"compare"``.
        maps: the points of the map(s) shown, for the thumbnail (none: saved without one).
        title: the title offered when saving.
    """
    base = (st.context.url or "").split("?")[0]
    workspace = resources.workspace()
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    with row:
        with st.popover("Save view", icon=":material/bookmark_add:"):
            _save_form(workspace, kind, query, maps, title)
        saved = workspace.find_view(kind, query, parse=view_queries.parse)  # after the form: one saved in this run
        link = f"{base}?{urlencode(query)}"
        if saved is None:  # one click puts the whole link on the clipboard; a saved view's short link is copied below
            clipboard.copy_button(link, "Copy link", key=f"copy-{kind}-link", shortcut=shortcuts.keys("copy_link"))
        with st.popover("Show link", icon=":material/link:"):
            for note in notes:
                text.caption(note)
            if saved is None:
                text.caption("Save the view for a short link, listed on the Workspace page.")
            st.code(link, language=None, wrap_lines=True)
        if saved is not None:
            clipboard.copy_button(
                saved.path, "Copy short link", key=f"copy-{kind}-view", shortcut=shortcuts.keys("copy_link")
            )
    if saved is not None:  # its own line under the buttons: a long title must not push the copy button down
        when = saved.created.replace("T", " ")[:16]
        text.markdown(
            text.md(
                "Saved as **{}** by {}, {} UTC: {}",
                saved.title,
                saved.creator or "unknown",
                when,
                text.code(short_link(saved)),
            )
        )
    st.query_params.from_dict({"view": saved.id} if saved is not None else query)


def _save_form(workspace, kind: str, query: dict[str, str], maps: Sequence[MapPoints], title: str) -> None:
    """The "Save view" form; saving draws the thumbnail and stores the view (or finds it saved already)."""
    with st.form(f"save-{kind}-view", border=False):
        typed = st.text_input(
            "Title",
            value=title[:MAX_TITLE],
            max_chars=MAX_TITLE,
            key=SAVE_TITLE,
            help="Shown on the Workspace page beside a thumbnail of the map; anyone using this "
            "server can open the view by its short link.",
        )
        if not st.form_submit_button(
            "Save",
            type="primary",
            icon=":material/bookmark_add:",
            key=SAVE_BUTTON,
            shortcut=shortcuts.keys("save_view"),
        ):
            return
    try:
        png = thumbnails.render_png(list(maps)) if maps else b""
        saved, new = workspace.save_view(kind, query, typed, identity.current_user(), png, parse=view_queries.parse)
    except FeatlibError as error:
        text.error(f"The view was not saved: {error}")
        return
    if new:
        text.success(f"Saved as {saved.title!r}: copy its short link beside this button.")
    else:
        text.info(
            f"This view was already saved as {saved.title!r} by {saved.creator or 'nobody named'} "
            f"on {saved.created.replace('T', ' ')[:16]} UTC; its short link is unchanged."
        )


def explore_title(view: View) -> str:
    """A title to offer when saving an Explore view: ``"mlp-digits · dense_1 · UMAP · 12 selected"``."""
    try:
        model = resources.record(view.model).name
    except WorkspaceError:
        model = view.model
    parts = [model, view.layer, REDUCER_TITLES.get(view.reducer, view.reducer)]
    if view.colour != "label":
        parts.append(f"coloured by {view.colour}")
    if view.selection:
        parts.append(f"{len(view.selection):,} selected")
    return " · ".join(parts)[:MAX_TITLE]


def share(
    view: View,
    coords: np.ndarray | None = None,
    indices: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    predicted: np.ndarray | None = None,
    confidence: np.ndarray | None = None,
) -> None:
    """Puts ``view`` in the URL and offers to save it (a short link) or copy its whole link.

    Args:
        view: the Explore page's view.
        coords: ``(n, 2)`` float coordinates of the map's points, for the saved view's thumbnail (``None``: no
            thumbnail).
        indices: ``(n,)`` int dataset indices of those points.
        labels: ``(n,)`` int true labels; ``predicted``: ``(n,)`` int predicted labels; ``confidence``: ``(n,)``
            floats in [0, 1] (each ``None`` when unknown; the thumbnail is coloured as ``view.colour`` says).
    """
    if not view.fingerprint:  # the link pins the model it shows: another model under its id is refused
        with contextlib.suppress(WorkspaceError):
            fingerprint = resources.record(view.model).fingerprint
            if FINGERPRINT.fullmatch(fingerprint):
                view = dataclasses.replace(view, fingerprint=fingerprint)
    notes = ["Anyone using this server opens the same map with this link."]
    if len(view.selection) == MAX_LINK_SELECTION:
        notes.append(f"The link carries the first {MAX_LINK_SELECTION:,} selected points.")
    maps = []
    if coords is not None and indices is not None and labels is not None:
        maps = [MapPoints(coords, indices, labels, predicted, confidence, view.colour, view.selection)]
    copy_link(view.to_query(), *notes, kind="explore", maps=maps, title=explore_title(view))


def map_defaults(n_points: int) -> None:
    """Sets the Explore page's reducer, colour and parameter widgets to their defaults where unset.

    Sample sizes are capped at ``n_points``.
    """
    st.session_state.setdefault(REDUCER_PICKER, "umap")
    st.session_state.setdefault(COLOUR_PICKER, "label")
    st.session_state.setdefault(CONTOURS_TOGGLE, False)
    st.session_state.setdefault(DIMS_TOGGLE, False)
    for reducer, keys in REDUCER_WIDGETS.items():
        defaults = dict(vars(REDUCERS[reducer]()), sample=min(n_points, DEFAULT_SAMPLES[reducer]))
        for name, key in keys.items():
            st.session_state.setdefault(key, defaults[name])
        st.session_state[keys["sample"]] = min(st.session_state[keys["sample"]], n_points)
