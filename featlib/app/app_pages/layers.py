"""Layers: every layer of the current model side by side on one sample, with its figures, CKA and followed points."""

import streamlit as st

from featlib import plots
from featlib.app import layer_flow, layers, maps, state, text, units, widgets
from featlib.read.layers import MAX_UNITS
from featlib.read.reductions import CHOICES

text.title("Layers")
dataset = widgets.current_dataset()
record, model = widgets.require_model()
widgets.fit_warning(dataset)  # a model not made for this data: said before the figures
split = widgets.current_split(dataset)
widgets.keep_for_data("layers", state.get(state.DATASET), split, [layers.FOLLOW, layers.POINT_KEY, "layers-grid"])
images, labels = dataset.split(split)
choice = layers.controls(len(labels))
ls = layers.layer_set(record, model, dataset, split, choice.sample_size)
if ls is None:
    st.stop()
text.caption(
    text.md(
        "**{}** · {} {} split · every layer of a stratified sample of {:,} of {:,} images, read in one pass · {} maps",
        record.name,
        dataset.name,
        split,
        len(ls.indices),
        len(labels),
        choice.title,
    )
)
if any(rep.spatial for rep in ls.representations.values()):
    text.caption(
        f"Layers with spatial axes are read by the reduction {CHOICES[state.get(state.REDUCTION)]} "
        "(pick another on the Representations page)."
    )
if ls.skipped:
    text.caption(f"Left out (more than {MAX_UNITS:,} values per image after the reduction): {', '.join(ls.skipped)}")
if choice.note:
    text.caption(f"{choice.note}: the sample is small.")
coords = layers.maps(record, ls, choice)
if coords is None:
    st.stop()
rows = layers.metrics(ls, coords, choice)  # None after saying why: the maps are still drawn

context = (record.id, state.get(state.DATASET), split)
predicted, confidence = maps.predictions(*context)
wrong = ls.indices[predicted[ls.indices] != ls.labels]
layers.follow_controls(context, ls, wrong)
followed = layers.followed(context)
figure = plots.layers_grid(
    coords,
    ls.indices,
    ls.labels,
    predicted[ls.indices],
    dataset.class_names,
    titles=layers.titles(ls),
    captions=layers.captions(rows, choice.title) if rows else None,
    colour=choice.colour,
    confidence=confidence[ls.indices],
    highlight=followed,
    axis_name=choice.title,
)
event = st.plotly_chart(figure, key="layers-grid", on_select="rerun", selection_mode=("box", "lasso"))
text.caption(
    "Under each map: 10-NN accuracy and a linear probe's accuracy in the layer's own space, silhouette by "
    "label, then the map's 10-NN accuracy and trustworthiness. Draw a box or lasso on any map to follow "
    "those points in every layer; the legend hides a class in all maps."
)
if layers.remember_selection(event, figure, context, followed):
    st.rerun()
if followed:
    text.subheader("Followed points")
    layers.show_neighbours(ls, followed, images, labels, dataset.class_names)

if rows is not None:
    text.subheader("Figures per layer")
    st.plotly_chart(plots.layer_scores(rows, chance=1 / dataset.num_classes), key="layer-scores")
    text.caption(
        "Each layer's accuracy in its own space; the dashed lines are the same figures for the input pixels, "
        "the bar a layer has to clear to have learned something the pixels do not already show."
    )
    st.dataframe(layers.metrics_frame(rows).style.format(precision=3), width="stretch")
    text.caption(f"Scored on the {len(ls.indices):,} sampled points; chance is {1 / dataset.num_classes:.2f}.")
    for reason in layers.unscored(rows):
        text.caption(f"Not computed (blank above): {reason}")
units.layer_counts(ls)  # dead and near-duplicate units per layer
text.subheader("Prediction depth")
layers.show_depth(ls, predicted[ls.indices], confidence[ls.indices], images, dataset.class_names)
text.subheader("Layer flow")
layer_flow.show(ls, predicted[ls.indices], dataset, context)

left, _ = st.columns([3, 2])
text.subheader("Linear CKA between layers", on=left)
matrix = layers.cka(ls)
if matrix is not None:
    left.plotly_chart(plots.cka_heatmap(matrix, ls.names), key="cka")

with st.expander("Linear CKA against another model's layers"):
    layers.compare_models(record, ls, dataset, split, choice.sample_size)
