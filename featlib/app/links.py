"""Links that reopen a view: the Explore page's state in the URL's query."""

from __future__ import annotations

from urllib.parse import urlencode

import streamlit as st

from featlib.app import resources, state, widgets
from featlib.embed import DEFAULT_SAMPLE, UMAPParams
from featlib.store import WorkspaceError
from featlib.views import View, ViewError

_RESTORED = "featlib.link_restored"
LINK_ERROR = "featlib.link_error"
# The Explore page's UMAP widgets, by the View field they hold.
UMAP_WIDGETS = {
    "sample": "umap_sample",
    "n_neighbors": "umap_n_neighbors",
    "min_dist": "umap_min_dist",
    "metric": "umap_metric",
    "random_state": "umap_seed",
}


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
    state.put(state.MODEL, view.model)
    widgets.select_dataset(view.dataset)
    state.put(state.LAYER, view.layer)
    state.put(state.METHOD, view.method)
    state.put(state.SPLIT, view.split)
    umap = dict(vars(view.umap), sample=view.sample)
    for name, key in UMAP_WIDGETS.items():
        if umap[name] is not None:
            st.session_state[key] = umap[name]


def show_link_error() -> None:
    """Shows, once, why a link could not be opened."""
    message = st.session_state.pop(LINK_ERROR, None)
    if message:
        st.error(widgets.plain(message))


def share(view: View) -> None:
    """Puts ``view`` in the URL and offers the link to copy."""
    query = view.to_query()
    st.query_params.from_dict(query)
    base = (st.context.url or "").split("?")[0]
    with st.popover("Copy link", icon=":material/link:"):
        st.caption("Anyone using this server opens the same map with this link.")
        st.code(f"{base}?{urlencode(query)}", language=None, wrap_lines=True)


def umap_defaults(n_points: int) -> None:
    """Sets the Explore page's UMAP widgets to their defaults where unset."""
    defaults = UMAPParams()
    initial = {
        "sample": min(n_points, DEFAULT_SAMPLE),
        "n_neighbors": defaults.n_neighbors,
        "min_dist": defaults.min_dist,
        "metric": defaults.metric,
        "random_state": defaults.random_state,
    }
    for name, key in UMAP_WIDGETS.items():
        st.session_state.setdefault(key, initial[name])
    st.session_state[UMAP_WIDGETS["sample"]] = min(st.session_state[UMAP_WIDGETS["sample"]], n_points)
