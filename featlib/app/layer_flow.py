"""The Layers page's "Layer flow" section: the sample's images flowing between clusters from the input to the output.

Each representation of the page's layer set is cut into clusters (twice the classes) by a job
(:meth:`featlib.service.Service.layer_flow`, stored in the workspace), drawn as a Sankey diagram
(:func:`featlib.plots.layer_flow`). Streamlit's ``st.plotly_chart(on_select=...)`` does not return a click on a
Sankey ribbon (its chart sends back only box and lasso selections, and clicks on points that have an id and a
parent: sunburst, treemap and icicle sectors), so the ribbons are offered as a ranked pick list instead: the
largest flows, or where the misclassified images leave their class. The picked ribbon is drawn darker, and a
button makes its images the followed points of the Layers page (:func:`featlib.app.layers.follow`: outlined on
every map, their neighbours shown) and the Explore page's selection (:func:`featlib.app.links.put_selection`).
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from featlib import datasets, jobs, plots
from featlib.app import layers as layer_glue
from featlib.app import links, text
from featlib.app.runner import service
from featlib.maps import layer_flow as flow_lib
from featlib.read import layers

WRONG_KEY = "layer_flow_wrong"
RANKING_KEY = "layer_flow_ranking"
RIBBON_KEY = "layer_flow_ribbon"
SELECT_KEY = "layer_flow_select"
SELECT_WRONG_KEY = "layer_flow_select_wrong"
CHART_KEY = "layer-flow"
SHOWN = 15
"""Ribbons offered in the pick list."""
EVENTS_SHOWN = 6
"""Splits and merges of different classes named under the diagram, each."""
RANKINGS = {
    "largest": "Largest flows",
    "mistakes": "Where the mistakes leave their class",
}


def compute(ls: layers.LayerSet, predicted: np.ndarray, classes: int) -> flow_lib.LayerFlow | None:
    """The layer flow of the sample (a job, stored); ``None`` after explaining why there is none.

    ``predicted``: int ``(points,)``, the model's label of each sampled image (rows of ``ls``).
    """
    if len(ls.reps) < 2:
        text.info("The layer flow needs the input pixels and at least one layer; this sample has one representation.")
        return None
    try:
        return service().layer_flow(ls, predicted, classes)
    except jobs.JobLimitError as error:
        text.error(f"The layer flow cannot be computed: {error}")
        return None


def ribbon_name(flow: flow_lib.LayerFlow, link: int, names: list[str]) -> str:
    """A ribbon in words: ``"dense → activation: T-shirt · 92% → T-shirt · 95%, 180 images (3 misclassified)"``."""
    layer = int(flow.link_layer[link])
    source = names[flow.node(layer, int(flow.link_source[link]))]
    target = names[flow.node(layer + 1, int(flow.link_target[link]))]
    return (
        f"{flow.names[layer]} → {flow.names[layer + 1]}: {source} → {target}, "
        f"{int(flow.link_count[link]):,} images ({int(flow.link_wrong[link]):,} misclassified)"
    )


def select(context: tuple[str, str, str], indices) -> None:
    """Makes ``indices`` (dataset indices) the followed points of the Layers page and the Explore selection."""
    chosen = sorted(int(i) for i in indices)
    layer_glue.follow(context, chosen)
    links.put_selection(context, chosen)


def _events(flow: flow_lib.LayerFlow, names: list[str]) -> list[str]:
    """Sentences naming where clusters of different classes split apart or merge, the largest first."""
    found = []
    for event in flow_lib.splits(flow) + flow_lib.merges(flow):
        if not event.mixed:
            continue
        here = event.layer if event.kind == "split" else event.layer + 1
        there = event.layer + 1 if event.kind == "split" else event.layer
        parts = ", ".join(
            f"{names[flow.node(there, p)]} ({share:.0%})" for p, share in zip(event.parts, event.shares, strict=True)
        )
        verb = "separates into" if event.kind == "split" else "is where these merge:"
        weight = int(flow.cluster_size[flow.node(here, event.cluster)])
        found.append(
            (
                weight,
                f"{flow.names[event.layer]} → {flow.names[event.layer + 1]}: the cluster "
                f"{names[flow.node(here, event.cluster)]} of {flow.names[here]} {verb} {parts}",
            )
        )
    return [sentence for _, sentence in sorted(found, key=lambda item: -item[0])]


def show(ls: layers.LayerSet, predicted: np.ndarray, dataset: datasets.Dataset, context: tuple[str, str, str]) -> None:
    """The "Layer flow" section: the Sankey diagram, the ribbons to pick and the buttons selecting their images.

    Args:
        ls: the page's layer set; predicted: int ``(points,)``, the model's label of each sampled image;
        dataset: the page's dataset (its class names and count); context: ``(model, dataset, split)``.
    """
    flow = compute(ls, predicted, dataset.num_classes)
    if flow is None:
        return
    names = flow_lib.cluster_names(flow, dataset.class_names)
    left, right = st.columns([2, 3], vertical_alignment="bottom")
    follow_wrong = left.toggle(
        "Follow the misclassified",
        key=WRONG_KEY,
        help="Split every ribbon: its misclassified images in red, the others faded in their class's colour.",
    )
    ranking = right.radio("Ribbons to pick", list(RANKINGS), format_func=RANKINGS.get, key=RANKING_KEY, horizontal=True)
    chosen = flow_lib.largest(flow, SHOWN) if ranking == "largest" else flow_lib.mistakes_leaving(flow, SHOWN)
    options = [int(i) for i in chosen]
    if st.session_state.get(RIBBON_KEY) not in options:
        st.session_state.pop(RIBBON_KEY, None)
    picked = (
        st.selectbox(
            "Ribbon",
            options,
            format_func=lambda link: ribbon_name(flow, link, names),
            key=RIBBON_KEY,
            help="The ribbons ranked as chosen above; the one picked is drawn darker. A click on the diagram "
            "does not pick one: Streamlit's charts do not send back clicks on a Sankey's ribbons.",
        )
        if options
        else None
    )
    if not options:
        text.info("No misclassified image leaves a cluster of its own class for one of another class in this sample.")
    figure = plots.layer_flow(flow, dataset.class_names, follow_wrong=follow_wrong, highlight=picked)
    st.plotly_chart(figure, key=CHART_KEY)
    if picked is not None:
        rows = flow.rows(picked)
        wrong = flow.rows(picked, "wrong")
        cols = st.columns(2)
        cols[0].button(
            f"Select this ribbon's {len(rows):,} images",
            key=SELECT_KEY,
            on_click=select,
            args=(context, ls.indices[rows].tolist()),
            help="Follows them on every map above and selects them on the Explore page.",
        )
        if len(wrong):
            cols[1].button(
                f"Select its {len(wrong):,} misclassified images",
                key=SELECT_WRONG_KEY,
                on_click=select,
                args=(context, ls.indices[wrong].tolist()),
            )
    text.caption(
        f"Every layer's outputs on the {flow.n:,} sampled images cut into {flow.k} clusters by k-means (twice the "
        "classes, fixed seed), the input pixels first; each cluster is named by its most common true class and "
        "the share of its images of that class, and a class's clusters sit at the same height in every column. "
        "A ribbon is the images going from one cluster to one of the next layer."
    )
    for sentence in _events(flow, names)[:EVENTS_SHOWN]:
        text.caption(sentence)
