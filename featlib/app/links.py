"""Links that reopen a view: the Explore page's state in the URL's query."""

from __future__ import annotations

import math
from urllib.parse import urlencode

import streamlit as st

from featlib import embed
from featlib.app import resources, state, widgets
from featlib.embed import DEFAULT_SAMPLE, REDUCERS
from featlib.store import WorkspaceError
from featlib.views import MAX_LINK_SELECTION, Replaced, View, ViewError, number_text, read_link

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
SELECTION = "featlib.map_selection"
"""The Explore page's selected points: ``{"context": (model, dataset, split), "indices": [...]}``."""
TSNE_SAMPLE = 2_000
"""t-SNE's default sample: scikit-learn's t-SNE took 20-90 s for 2,000 points on the busy 2-core machine."""
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
DEFAULT_SAMPLES = {"umap": DEFAULT_SAMPLE, "pca": DEFAULT_SAMPLE, "tsne": TSNE_SAMPLE}


def restore_from_link() -> None:
    """Once per session, turns a link's query parameters into the carried choices.

    A link to something no longer in the workspace, or one without model,
    dataset or layer, leaves a message for the page (:func:`show_link_error`)
    and changes nothing. A value the link cannot have (unknown, out of range)
    is replaced (:func:`featlib.views.read_link`) and named on the Explore page
    (:func:`show_link_notes`), which also fits the link's numbers to the data
    (:func:`fit_to_data`) and its layer to the model.
    """
    if st.session_state.get(_RESTORED):
        return
    st.session_state[_RESTORED] = True
    query = st.query_params.to_dict()
    if "model" not in query:
        return
    try:
        view, replaced = read_link(query)
        resources.record(view.model)
        resources.dataset(view.dataset)
    except ViewError as error:
        st.session_state[LINK_ERROR] = str(error)
        return
    except (WorkspaceError, LookupError, ValueError) as error:
        st.session_state[LINK_ERROR] = (
            "This link names something that is no longer in the workspace (deleted, or the link "
            f"comes from another server): {error}"
        )
        return
    open_view(view)
    st.session_state[LINK_NOTES] = dict(replaced)
    st.session_state[LINK_ASKED] = {name: str(value) for name, value in query.items()}


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
        st.warning(widgets.plain(replaced.message), icon=":material/link_off:")


def widget_range(name: str, n_points: int) -> tuple[float, float]:
    """The range the Explore page offers for parameter ``name`` (a key of :data:`REDUCER_WIDGETS`' entries) on ``n_points`` points.

    Sample sizes run from :data:`SAMPLE_MIN` (or all the points, when fewer) to all of them; ``n_neighbors``
    stays below the number of points and ``perplexity`` below a third of it (:func:`featlib.embed.max_n_neighbors`,
    :func:`featlib.embed.max_perplexity`); seeds and ``min_dist`` do not depend on the data. When the points are
    too few for the reducer at all, its smallest value is the whole range (the page then says what it needs).
    """
    if name == "sample":
        return min(SAMPLE_MIN, n_points), n_points
    if name == "n_neighbors":
        return 2, embed.max_n_neighbors(n_points) or 2
    if name == "perplexity":
        most = embed.max_perplexity(n_points) or embed.TSNE_MIN_PERPLEXITY
        return embed.TSNE_MIN_PERPLEXITY, max(embed.TSNE_MIN_PERPLEXITY, math.floor(most * 100) / 100)
    if name == "min_dist":
        return 0.0, 1.0
    if name == "random_state":
        return 0, embed.MAX_SEED
    raise KeyError(f"No range for {name!r}; expected one of sample, n_neighbors, perplexity, min_dist, random_state.")


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
                note_link_value(name, f"all {n_points:,}" if name == "sample" else number_text(high),
                                _out_of_range(name, low, high, n_points, above=True))  # fmt: skip
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
    """Makes ``view``'s model, dataset, layer, method, reduction, split, reducer, colouring and selection the current choices.

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
    values = dict(vars(view.params), sample=view.sample)
    for name, key in REDUCER_WIDGETS[view.reducer].items():
        if values[name] is not None:
            st.session_state[key] = values[name]
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
        st.error(widgets.plain(message))


def copy_link(query: dict[str, str], *notes: str) -> None:
    """Puts ``query`` in the URL and offers the whole link to copy, under ``notes``."""
    st.query_params.from_dict(query)
    base = (st.context.url or "").split("?")[0]
    with st.popover("Copy link", icon=":material/link:"):
        for note in notes:
            st.caption(note)
        st.code(f"{base}?{urlencode(query)}", language=None, wrap_lines=True)


def share(view: View) -> None:
    """Puts ``view`` in the URL and offers the link to copy."""
    notes = ["Anyone using this server opens the same map with this link."]
    if len(view.selection) == MAX_LINK_SELECTION:
        notes.append(f"The link carries the first {MAX_LINK_SELECTION:,} selected points.")
    copy_link(view.to_query(), *notes)


def map_defaults(n_points: int) -> None:
    """Sets the Explore page's reducer, colour and parameter widgets to their defaults where unset.

    Sample sizes are capped at ``n_points``.
    """
    st.session_state.setdefault(REDUCER_PICKER, "umap")
    st.session_state.setdefault(COLOUR_PICKER, "label")
    for reducer, keys in REDUCER_WIDGETS.items():
        defaults = dict(vars(REDUCERS[reducer]()), sample=min(n_points, DEFAULT_SAMPLES[reducer]))
        for name, key in keys.items():
            st.session_state.setdefault(key, defaults[name])
        st.session_state[keys["sample"]] = min(st.session_state[keys["sample"]], n_points)

