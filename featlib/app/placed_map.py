"""Explore's "Place on this map" section: test images, or another dataset, on the train map (issue 29, item 4).

A choice under the map: nothing, the other split, or another dataset of the server (its test split, else its only
one). The layer is read for those images too, and a job (:meth:`featlib.service.Service.placed_map`) fits a map of
the page's reducer and parameters on a sample of the page's split and places a sample of the same size of the other
images on it, unchanged by them (:func:`featlib.maps.placement.place`). The fitted points are drawn as on the map,
the placed ones as hollow diamonds in their label's colour (:func:`featlib.plots.add_placed_points`), with the share
of placed points that land among fitted points of their own class (:func:`featlib.maps.placed_map.land_agreement`);
for another dataset, whose classes are others, where each of its classes lands
(:func:`featlib.maps.placed_map.landing_shares`).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from featlib import datasets, jobs, plots
from featlib.app import actions, links, resources, text
from featlib.app.maps import MapChoice
from featlib.app.runner import service
from featlib.errors import FeatlibError
from featlib.maps import placed_map
from featlib.maps.placed_map import PlacedMap

CHOICE = links.PLACE_CHOICE
"""The widget key of the choice of what to place (a link's ``placed``)."""
NOTHING = ""
HEIGHT = 480


def other_split(dataset: datasets.Dataset, split: str) -> str | None:
    """The split placed on a map of ``split``: the other one, or ``None`` when ``dataset`` has only one."""
    others = [name for name in dataset.splits if name != split]
    return others[0] if others else None


def placeable(dataset_key: str, dataset: datasets.Dataset, split: str) -> dict[str, str]:
    """What can be placed on a map of ``dataset``'s ``split``, by choice key: nothing, the other split, and every
    other dataset of the server (built-ins and uploads), whose test split (else its only one) is placed.

    Keys: ``""`` (nothing), ``"split"`` (the other split), ``"dataset:<dataset key>"``.
    """
    found = {NOTHING: "Nothing"}
    other = other_split(dataset, split)
    if other is not None:
        found["split"] = f"The {other} split"
    for key, label in resources.dataset_choices().items():
        if key != dataset_key:
            found[f"dataset:{key}"] = f"{label} (another dataset)"
    return found


def show(
    record,
    model,
    dataset: datasets.Dataset,
    dataset_key: str,
    split: str,
    layer: str,
    method: str,
    reduction: str,
    choice: MapChoice,
) -> None:
    """The choice of what to place and, when one is made, the map of ``split`` with those images placed on it.

    Args:
        record, model: the page's model (its workspace record, the loaded Keras model).
        dataset, dataset_key, split, layer, method, reduction: what the page maps (``dataset_key``: the page's
            carried dataset key, a built-in name or an upload's).
        choice: the page's :class:`featlib.app.maps.MapChoice` (reducer, parameters, sample size).
    """
    options = placeable(dataset_key, dataset, split)
    asked = st.session_state.get(CHOICE, NOTHING)
    if asked not in options:  # a link's dataset this server lacks, or the split of a one-split dataset
        text.caption(
            text.md("The link asked to place `{}`, which this server does not offer here; nothing is placed.", asked)
        )
        st.session_state[CHOICE] = NOTHING
    picked = st.selectbox(
        "Place on this map",
        list(options),
        format_func=options.get,
        key=CHOICE,
        help=f"Fits a {choice.title} map on a sample of the {split} split and places other images on it without "
        "moving it (PCA's projection, UMAP's and t-SNE's own transform): where the images the model did not learn "
        "from (the other split, or another dataset the model reads, such as MNIST digits on a Fashion-MNIST "
        "model's map) land against those it did. A job: the other images are read by this layer first.",
    )
    if picked == NOTHING or picked not in options:
        return
    if picked == "split":
        other_data, other = dataset, other_split(dataset, split)
        what = f"the {other} split"
    else:
        try:
            other_data = resources.dataset(picked.removeprefix("dataset:"))
        except FeatlibError as error:
            text.error(f"That dataset cannot be loaded here: {error}")
            return
        other = "test" if "test" in other_data.splits else other_data.splits[0]
        what = f"{other_data.name} ({other})"
    outputs, rep_key = actions.representation(record, model, dataset, split, layer, method, reduction)
    other_outputs, other_key = actions.representation(record, model, other_data, other, layer, method, reduction)
    if outputs is None or other_outputs is None:
        return
    (_, labels), (_, other_labels) = dataset.split(split), other_data.split(other)
    try:
        found = service().placed_map(
            (rep_key, outputs, labels), (other_key, other_outputs, other_labels), choice.sample_size, choice.params
        )
    except (jobs.JobLimitError, FeatlibError) as error:
        text.error(f"{what} cannot be placed on this map: {error}")
        return
    if found is None:
        return
    draw(found, labels, other_labels, dataset, other_data, split, what, choice.title)


def draw(
    found: PlacedMap,
    labels: np.ndarray,
    other_labels: np.ndarray,
    dataset: datasets.Dataset,
    other_data: datasets.Dataset,
    split: str,
    what: str,
    title: str,
) -> None:
    """The fitted map with the placed points on it; the share that land among their own class (the same dataset),
    or where each of their classes lands (another dataset)."""
    fitted_labels, placed_labels = labels[found.fitted_indices], other_labels[found.placed_indices]
    figure = plots.scatter_map(
        found.fitted,
        found.fitted_indices,
        fitted_labels,
        class_names=dataset.class_names,
        axis_name=title,
        height=HEIGHT,
        title=f"{what} placed on a {title} map of the {split} split",
    )
    plots.add_placed_points(figure, found.placed, found.placed_indices, placed_labels, other_data.class_names, what)
    st.plotly_chart(figure, key="placed-map")
    said = text.md(
        "Dots: {:,} {} images the map was fitted on; hollow diamonds: {:,} images of {} placed on it, in their "
        "true label's colour. This map is fitted in the job itself, so its layout may differ in detail from the "
        "map above.",
        len(found.fitted),
        split,
        len(found.placed),
        what,
    )
    if other_data.fingerprint == dataset.fingerprint:
        agree = placed_map.land_agreement(found.fitted, fitted_labels, found.placed, placed_labels)
        text.caption(
            said
            + text.md(
                " **{:.0%}** of the placed images land among {} images of their own class (the vote of their {} "
                "nearest on the map).",
                agree,
                split,
                placed_map.DEFAULT_K,
            )
        )
        return
    text.caption(said)
    shares = placed_map.landing_shares(
        found.fitted,
        fitted_labels,
        found.placed,
        placed_labels,
        dataset.num_classes,
        other_data.num_classes,
    )
    st.plotly_chart(
        plots.landing_heatmap(shares, other_data.class_names, dataset.class_names, what, f"the {split} split"),
        key="placed-landing",
    )
    text.caption(
        text.md(
            "Each row: the images of one class of {}, and the share that land among {} images of each class (the "
            "vote of their {} nearest on the map): what this layer takes them for.",
            what,
            split,
            placed_map.DEFAULT_K,
        )
    )
