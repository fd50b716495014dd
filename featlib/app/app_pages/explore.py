"""Explore: a 2-D or 3-D map (UMAP, PCA or t-SNE) of the chosen layer, model-aware colours, selection and images."""

import numpy as np
import streamlit as st

from featlib import models, plots
from featlib.app import (
    actions,
    exporting,
    inspector,
    links,
    map_search,
    maps,
    placed_map,
    reducing,
    seed_stability,
    shortcuts,
    state,
    text,
    units,
    widgets,
)
from featlib.read.extract import METHODS
from featlib.share.views import View

text.title("Explore")
links.show_link_error()
dataset = widgets.current_dataset()
record, model = widgets.require_model()
widgets.fit_warning(dataset)  # a model not made for this data: said before the figures
if state.get(state.LAYER) not in [layer.name for layer in model.layers]:
    default_layer = models.default_layer(model)
    links.note_link_value("layer", f"{default_layer}, its default layer", f"{record.name} has no layer of that name")
    state.put(state.LAYER, default_layer)
layer, method, split = state.get(state.LAYER), state.get(state.METHOD), widgets.current_split(dataset)
widgets.keep_for_data(
    "explore",
    state.get(state.DATASET),
    split,
    [links.SELECTION, inspector.INSPECTED, maps.SELECTED_PAGE, maps.WRONG_PAGE, "map"],
)
outputs, rep_key = actions.representation(record, model, dataset, split, layer, method, state.get(state.REDUCTION))
if outputs is None:
    st.stop()
rep = reducing.current(model, layer)  # the layer was read: its shape is known

images, labels = dataset.split(split)
text.caption(
    text.md(
        "**{}** · layer **{}** · {} · {} {} split · {:,} images",
        record.name,
        rep.title,
        METHODS[method],
        dataset.name,
        split,
        len(labels),
    )
)
choice = maps.controls(len(labels))
stability_seeds = seed_stability.controls(choice)  # before the link's notes: it keeps the link's figures
links.show_link_notes()
body = st.empty()  # the map's place: the preview alone while a map computes, then the map beside its inspector
emb = maps.compute(record, outputs, rep_key, dataset, split, choice, slot=body)
if emb is None:
    st.stop()

context = (record.id, state.get(state.DATASET), split)
predicted, confidence = maps.predictions(*context)
point_labels, point_predicted = labels[emb.indices], predicted[emb.indices]
selected = maps.selection(context, len(labels))
wrong = emb.indices[point_predicted != point_labels]
point = inspector.inspected(context, emb)
# Where the map can be trusted: each point's neighbours in the layer kept on the map (a job, when it is shown).
trusted = (
    maps.trust(outputs, rep_key, emb, choice.sample_size) if choice.colour == "kept" or point is not None else None
)
colour = choice.colour if choice.colour != "kept" or trusted is not None else "label"
shade = units.coloured_unit(context, rep_key, outputs, rep, emb)  # a unit's button asked for it
colour = plots.UNIT_COLOUR if shade is not None else colour
figure = maps.map_figure(
    choice,
    emb,
    labels,
    predicted,
    confidence,
    dataset.class_names,
    colour,
    highlight=selected,
    kept=None if trusted is None else trusted.kept_share,
    unit=None if shade is None else shade[0],
    unit_title="" if shade is None else shade[1],
)
view = View(
    *context[:2],
    layer,
    method,
    split,
    choice.sample_size,
    choice.params,
    choice.colour,
    tuple(selected),
    rep.choice,
    contours=choice.contours,
    placed="" if choice.three_d else st.session_state.get(links.PLACE_CHOICE) or "",
    seeds=stability_seeds or 0,
)
view = seed_stability.with_figures(view, emb.key, stability_seeds)  # the seeds' figures travel with the link
# One block inside the slot: the preview's first element takes its place whole, so nothing of this map stays
# on the page, stale, while another computes (Streamlit keeps a replaced block's later children until the run ends).
with body.container(), st.container():
    # The map first, the inspector and the figures beside it (under it where the page is narrower than both).
    row = st.container(horizontal=True, gap="small", key="explore-row")
    left = row.container(width=maps.MAP_WIDTH, key="explore-map")
    side = row.container(width=maps.SIDE_WIDTH, key="explore-side")
    with left:
        inspector.mark(figure, emb, point)
        if choice.three_d:  # no selection events come from a 3-D chart (featlib.app.inspector): none asked for
            st.plotly_chart(figure, key="map-3d")
            event = None
            inspector.picker(context, emb)
        else:
            event = st.plotly_chart(figure, key="map", on_select="rerun", selection_mode=("points", "box", "lasso"))
        maps.probabilities_note(outputs[emb.indices], choice.title)
        map_search.contours_note(choice.contours)
        if colour == "kept":
            maps.trust_note(trusted, choice.title)
        units.colour_note(shade)
        actions_row = st.container(horizontal=True, gap="small", vertical_alignment="center")
        with actions_row:
            st.button(
                f"Show the {len(wrong):,} misclassified",
                icon=":material/error:",
                disabled=not len(wrong),
                on_click=maps.select_misclassified,
                args=(context, wrong),
                shortcut=shortcuts.keys("misclassified"),
            )
            if len(selected):
                st.button("Clear the selection", on_click=links.put_selection, args=(context, []))
            widgets.activation_switch(model, layer)
        map_search.search_box(context, emb.indices, labels, predicted, confidence, dataset.class_names)
        links.share(
            view,
            emb.coords,
            emb.indices,
            point_labels,
            point_predicted,
            confidence[emb.indices],
        )
        text.caption(
            "Drag to turn the map, scroll to zoom; hover a point for its index and type it in Inspect point to see "
            "its image and nearest neighbours. Box and lasso selection, contours and placing images are 2-D only "
            "(a 3-D chart sends no selection): Find points selects here. Click a legend entry to hide a group, "
            "double-click to isolate it."
            if choice.three_d
            else "Click a point to see its image and nearest neighbours; drag to zoom, double-click to zoom out. Pick "
            "Box or Lasso Select in the chart's toolbar to see the images of many; selected points keep their "
            "colour and the others fade, here and in the link. Click a legend entry to hide a group, "
            "double-click to isolate it."
        )
    if inspector.remember_click(event, figure, context) or maps.remember_selection(event, figure, context, selected):
        st.rerun()
    inspector.unmark(figure)
    with side:
        inspector.show(
            context,
            point,
            emb,
            outputs,
            rep_key,
            choice.sample_size,
            choice.params,
            rep.title,
            images,
            labels,
            predicted,
            confidence,
            dataset.class_names,
            trusted,
        )
        figures = st.container()  # filled last: scoring takes seconds, the map and the inspector should not wait
    if len(selected):
        maps.show_images(selected, images, labels, predicted, dataset.class_names, f"{len(selected):,} selected points")
        units.tell_apart(context, rep_key, outputs, rep, emb, selected, images, choice.sample_size)
    units.unit_browser(context, rep_key, outputs, rep, emb, images, choice.sample_size)
    export = st.container()
scores = None
with figures:
    scores = maps.map_metrics(emb.key, outputs[emb.indices], point_labels, emb.coords)
    if scores is not None:
        maps.show_metrics(scores, choice.title, float(np.mean(point_predicted == point_labels)))
with export:
    exporting.export_panel(record, dataset, split, outputs, emb, predicted, figure, scores, view, rep.title)
seed_stability.show(outputs, emb, labels, choice, stability_seeds)
if choice.three_d:
    text.caption("Placing other images on the map and comparing seeds: on the 2-D map (turn 3-D map off).")
else:
    placed_map.show(
        record, model, dataset, state.get(state.DATASET), split, layer, method, state.get(state.REDUCTION), choice
    )
