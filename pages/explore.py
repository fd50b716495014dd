"""Explore: a UMAP map of the chosen layer, coloured by digit, with selection."""

import numpy as np
import streamlit as st

from featlib import embed, metrics, models, pipeline, plots
from featlib.app import actions, links, resources, state, widgets
from featlib.extract import METHODS
from featlib.views import View

st.title("Explore")
links.show_link_error()
dataset = widgets.current_dataset()
record, model = widgets.require_model()
if state.get(state.LAYER) not in [layer.name for layer in model.layers]:
    state.put(state.LAYER, models.default_layer(model))
layer, method, split = state.get(state.LAYER), state.get(state.METHOD), state.get(state.SPLIT)
outputs, rep_key = actions.representation(record, model, dataset, split, layer, method)
if outputs is None:
    st.stop()

images, labels = dataset.split(split)
st.caption(f"**{record.name}** · layer **{layer}** · {METHODS[method]} · {dataset.name} {split} split · {len(labels):,} images")

links.umap_defaults(len(labels))
with st.sidebar.form("umap"):
    st.markdown("**UMAP settings**")
    sample = st.number_input("Sample size", 50, len(labels), step=500, key="umap_sample", help="Stratified by label.")
    n_neighbors = st.number_input("n_neighbors", 2, 200, key="umap_n_neighbors")
    min_dist = st.number_input("min_dist", 0.0, 1.0, step=0.05, key="umap_min_dist")
    metric = st.selectbox("metric", embed.METRICS, key="umap_metric")
    seed = st.number_input("seed", 0, 2**31 - 1, key="umap_seed")
    st.form_submit_button("Compute the map", type="primary")

params = embed.UMAPParams(int(n_neighbors), float(min_dist), metric, int(seed))
sample_size = None if sample >= len(labels) else int(sample)
links.share(View(record.id, state.get(state.DATASET), layer, method, split, sample_size, params))
emb_key = pipeline.embedding_key(rep_key, sample_size, 0, params)
emb = pipeline.load_embedding(resources.workspace(), emb_key)
if emb is None:
    preview = st.empty()
    with preview.container():
        status = st.status("Computing the UMAP map…", expanded=True)
        bar = status.progress(0.0, text="Finding nearest neighbours…")
        sample_indices = embed.stratified_sample(labels, sample_size)
        st.plotly_chart(
            plots.scatter_map(embed.pca_embed(outputs[sample_indices]), sample_indices, labels[sample_indices],
                              class_names=dataset.class_names, title="PCA preview — the UMAP map replaces it when ready",
                              axis_name="PCA"),
            key="pca-preview",
        )  # fmt: skip

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "layout":
            bar.progress(done / total, text=f"Optimising the layout: epoch {done}/{total}")

    with resources.heavy_work("map", key=emb_key):
        emb = pipeline.embedding(
            resources.workspace(), outputs, rep_key, labels, sample_size=sample_size,
            params=params, model_id=record.id, progress=progress,
        )  # fmt: skip
    preview.empty()

predicted = resources.predictions(record.id, state.get(state.DATASET), split)
point_labels = labels[emb.indices]
cols = st.columns(3)
cols[0].metric("points", f"{len(emb.indices):,}")
cols[1].metric("10-NN accuracy of the map", f"{metrics.knn_accuracy(emb.coords, point_labels):.3f}",
               help="5-fold cross-validated accuracy of a 10-nearest-neighbour classifier on the 2-D map.")  # fmt: skip
cols[2].metric("model accuracy on these points", f"{np.mean(predicted[emb.indices] == point_labels):.3f}")

figure = plots.scatter_map(emb.coords, emb.indices, point_labels, predicted[emb.indices], dataset.class_names)
event = st.plotly_chart(figure, key="map", on_select="rerun", selection_mode=("box", "lasso"))
st.caption("Click a legend entry to hide a class, double-click to isolate it. Draw a box or lasso to see the digits.")

points = event.selection.points if event and event.selection else []
selected = plots.selected_indices(points, emb.indices, point_labels)
if len(selected):
    st.subheader(f"{len(selected):,} selected points")
    left, right = st.columns([3, 2])
    shown = selected[:120]
    left.image(plots.montage(images[shown], columns=15), caption=f"the first {len(shown)} selected images",
               width="stretch")  # fmt: skip
    right.plotly_chart(plots.label_counts(labels[selected], dataset.class_names), key="counts")
