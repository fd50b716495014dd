"""Explore's "Place the other split on this map" section: test images on the train map (issue 29, item 4).

A switch under the map: when on, the layer is read for the other split too, and a job
(:meth:`featlib.service.Service.placed_map`) fits a map of the page's reducer and parameters on a sample of the
page's split and places a sample of the same size of the other split on it, unchanged by them
(:func:`featlib.maps.placement.place`). The fitted points are drawn as on the map, the placed ones as hollow diamonds
in their label's colour (:func:`featlib.plots.add_placed_points`), with the share of placed points that land
among fitted points of their own class (:func:`featlib.maps.placed_map.land_agreement`).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from featlib import datasets, jobs, plots
from featlib.app import actions, text
from featlib.app.maps import MapChoice
from featlib.app.runner import service
from featlib.errors import FeatlibError
from featlib.maps import placed_map
from featlib.maps.placed_map import PlacedMap

SWITCH = "explore_place_other_split"
"""The widget key of the switch."""
HEIGHT = 480


def other_split(dataset: datasets.Dataset, split: str) -> str | None:
    """The split placed on a map of ``split``: the other one, or ``None`` when ``dataset`` has only one."""
    others = [name for name in dataset.splits if name != split]
    return others[0] if others else None


def show(
    record, model, dataset: datasets.Dataset, split: str, layer: str, method: str, reduction: str, choice: MapChoice
) -> None:
    """The switch and, when it is on, the map of ``split`` with the other split placed on it.

    Args:
        record, model: the page's model (its workspace record, the loaded Keras model).
        dataset, split, layer, method, reduction: what the page maps.
        choice: the page's :class:`featlib.app.maps.MapChoice` (reducer, parameters, sample size).
    """
    other = other_split(dataset, split)
    if other is None:
        return
    on = st.toggle(
        f"Place the {other} split on this map",
        key=SWITCH,
        help=f"Fits a {choice.title} map on a sample of the {split} split and places a sample of the {other} split "
        "on it without moving it (PCA's projection, UMAP's and t-SNE's own transform): where the images the "
        "model did not learn from land against those it did. A job: the other split is read by this layer first.",
    )
    if not on:
        return
    outputs, rep_key = actions.representation(record, model, dataset, split, layer, method, reduction)
    other_outputs, other_key = actions.representation(record, model, dataset, other, layer, method, reduction)
    if outputs is None or other_outputs is None:
        return
    (_, labels), (_, other_labels) = dataset.split(split), dataset.split(other)
    try:
        found = service().placed_map(
            (rep_key, outputs, labels), (other_key, other_outputs, other_labels), choice.sample_size, choice.params
        )
    except (jobs.JobLimitError, FeatlibError) as error:
        text.error(f"The {other} split cannot be placed on this map: {error}")
        return
    if found is None:
        return
    draw(found, labels, other_labels, dataset.class_names, split, other, choice.title)


def draw(
    found: PlacedMap,
    labels: np.ndarray,
    other_labels: np.ndarray,
    class_names,
    split: str,
    other: str,
    title: str,
) -> None:
    """The fitted map with the placed points on it, and the share that land among their own class."""
    fitted_labels, placed_labels = labels[found.fitted_indices], other_labels[found.placed_indices]
    figure = plots.scatter_map(
        found.fitted,
        found.fitted_indices,
        fitted_labels,
        class_names=class_names,
        axis_name=title,
        height=HEIGHT,
        title=f"{other} split placed on a {title} map of the {split} split",
    )
    plots.add_placed_points(figure, found.placed, found.placed_indices, placed_labels, class_names, other)
    st.plotly_chart(figure, key="placed-map")
    agree = placed_map.land_agreement(found.fitted, fitted_labels, found.placed, placed_labels)
    text.caption(
        text.md(
            "Dots: {:,} {} images the map was fitted on; hollow diamonds: {:,} {} images placed on it, in their "
            "true label's colour. **{:.0%}** of the placed images land among {} images of their own class (the "
            "vote of their {} nearest on the map). This map is fitted in the job itself, so its layout may "
            "differ in detail from the map above.",
            len(found.fitted),
            split,
            len(found.placed),
            other,
            agree,
            split,
            placed_map.DEFAULT_K,
        )
    )
