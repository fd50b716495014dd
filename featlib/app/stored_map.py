"""The Explore page's stored map, drawn without Keras: on the Home page, and on Explore while Keras loads (issue 24,
item 2).

A server imports TensorFlow for 5-7 s after it starts, and the Explore page needs Keras for its layers, its
controls and its figures. The map itself is stored: its key needs only the model's record, its description
(:mod:`featlib.read.model_description`, kept when the server first loaded the model) and the session's choices.
:func:`show` draws it, in the same colours and with the same hover as the page's own, while the page waits for
Keras (:func:`featlib.app.dashboard.main`); the page then draws itself in its place. :func:`preview` draws it on
the Home page, which never waits for Keras: a restarted server's first visitor sees the map on arrival.

Drawn only where nothing is left to decide: no link to read (a link's values are checked against the model),
a model measured on the session's dataset (no fit warning is due), its map and its predictions stored. Anything
else waits for Keras, as without it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

from featlib import datasets, pipeline
from featlib.app import links, maps, resources, state, text, widgets
from featlib.app.runner import service
from featlib.errors import FeatlibError
from featlib.read import model_description
from featlib.read.extract import METHODS
from featlib.store import ModelRecord


@dataclass(frozen=True)
class StoredView:
    """What :func:`show` draws: a model's record, the data, the layer, the map asked for, the stored map and the
    model's stored predictions (int64 labels and float32 probabilities, one per image of the split)."""

    record: ModelRecord
    dataset: datasets.Dataset
    split: str
    layer: str
    choice: maps.MapChoice
    emb: pipeline.Embedding
    predicted: np.ndarray
    confidence: np.ndarray


def show() -> Callable[[], None] | None:
    """Draws the session's Explore map when it is stored, without Keras; once drawn, what the page loads first.

    Reads the session's model, dataset, layer, method, split, reduction and map choices (their defaults, and the
    workspace's latest model, in a new session), looks up the stored map and predictions (:func:`stored_view`), and
    draws the map with a caption saying what it is. Never starts a job and never waits for one.

    Returns:
        ``None`` when nothing was drawn; else a function that loads the map's model (with Keras, once it has
        loaded: :func:`featlib.app.resources.model`), so that the page, which needs it first, replaces this map
        with its own at once.
    """
    view = _readable_view()
    if view is None:
        return None
    text.caption(
        text.md(
            "**{}** · layer **{}** · {} · {} {} split · the stored {} map; its controls, inspector and figures follow "
            "once TensorFlow has loaded…",
            *_named(view),
        )
    )
    _draw(view, "stored-map")
    return lambda: resources.model(view.record.id)


def preview() -> bool:
    """Draws, on the Home page, the map the session's Explore page opens on, when it is stored; never needs Keras.

    The same map as :func:`show` (the session's model, the workspace's latest in a new session, with the Explore
    page's choices), under a line naming it and a link to Explore, where its points can be inspected. Returns
    whether it drew it: nothing is drawn where :func:`show` would draw nothing.
    """
    view = _readable_view()
    if view is None:
        return False
    text.subheader("Your map")
    text.caption(
        text.md(
            "**{}** · layer **{}** · {} · {} {} split · {} · {} points; open it on Explore to inspect its points, "
            "change the layer or compare.",
            *_named(view),
            f"{len(view.emb.indices):,}",
        )
    )
    _draw(view, "home-map")
    st.page_link(widgets.EXPLORE_PAGE, label="Open on Explore", icon=":material/scatter_plot:")
    return True


def _readable_view() -> StoredView | None:
    """:func:`stored_view` where there is no link to read and everything is readable, else ``None``."""
    if st.query_params:
        return None
    try:
        return stored_view()
    except (FeatlibError, OSError, KeyError, ValueError):
        return None  # the page, once Keras has loaded, says what is wrong


def _named(view: StoredView) -> tuple[str, str, str, str, str, str]:
    """What names ``view``'s map, in the order its lines give them: model, layer, method, data, split, reducer."""
    method = METHODS[state.get(state.METHOD)]
    return view.record.name, view.layer, method, view.dataset.name, view.split, view.choice.title


def _draw(view: StoredView, key: str) -> None:
    _, labels = view.dataset.split(view.split)
    figure = maps.map_figure(view.choice, view.emb, labels, view.predicted, view.confidence, view.dataset.class_names)
    with st.container(width=maps.MAP_WIDTH):
        st.plotly_chart(figure, key=key)


def stored_view() -> StoredView | None:
    """The session's Explore map and what it is drawn with, when all of it is stored; else ``None``.

    ``None`` too for a model without a description (never loaded by a server since this was added), one not
    measured on the session's dataset, or a session whose dataset was picked but no model.

    Raises:
        FeatlibError: the model or the dataset cannot be read from the workspace.
    """
    model_id, dataset_key = state.get(state.MODEL), state.get(state.DATASET)
    if not model_id:
        if state.DATASET in st.session_state or (latest := widgets.latest_choice()) is None:
            return None
        model_id, dataset_key = latest
    record = resources.record(model_id)
    described = model_description.of_record(record)
    dataset = resources.dataset(dataset_key)
    if described is None or record.meta.get("dataset_fingerprint") != dataset.fingerprint:
        return None
    layer = state.get(state.LAYER)
    layer = layer if layer in described.names() else described.default_layer
    split = widgets.split_of(dataset)
    rep = described.representation(layer, state.get(state.REDUCTION))
    rep_key = service().representation_request(record, dataset, split, rep, state.get(state.METHOD)).key
    n_points = len(dataset.split(split)[1])
    links.map_defaults(n_points)  # what the page's controls start from
    choice = maps.current_choice(n_points)
    emb = maps.stored_embedding(rep_key, choice)
    predictions = service().predictions_request(record, dataset, split).load()
    if emb is None or predictions is None:
        return None
    return StoredView(record, dataset, split, layer, choice, emb, *predictions)
