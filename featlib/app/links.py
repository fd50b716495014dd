"""Links that reopen a view: the Explore page's state in the URL's query."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from featlib.app import resources, state, widgets
from featlib.embed import DEFAULT_SAMPLE, REDUCERS
from featlib.store import WorkspaceError
from featlib.views import MAX_LINK_SELECTION, View, ViewError

_RESTORED = "featlib.link_restored"
LINK_ERROR = "featlib.link_error"
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

    A link to something no longer in the workspace, or a malformed one, leaves
    a message for the page (:func:`show_link_error`) and changes nothing.
    """
    if st.session_state.get(_RESTORED):
        return
    st.session_state[_RESTORED] = True
    query = st.query_params.to_dict()
    if "model" not in query:
        return
    try:
        view = View.from_query(query)
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

