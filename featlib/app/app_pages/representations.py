"""Representations: pick a layer, a method and (for a layer with spatial axes) a reduction, compute it, check the methods."""

import numpy as np
import streamlit as st

from featlib import jobs, keys, models, plots
from featlib.app import actions, reducing, resources, state, text, widgets
from featlib.app import job_watch as running
from featlib.read.extract import METHODS

text.title("Representations")
dataset = widgets.current_dataset()
record, model = widgets.require_model()
widgets.fit_warning(dataset)  # a model not made for this data: said before the figures

table = st.container()  # filled once the split is picked: its MiB column counts the split's images
names = [layer.name for layer in model.layers]
if state.get(state.LAYER) not in names:
    state.put(state.LAYER, models.default_layer(model))
cols = st.columns(4)
layer = state.carried_widget(
    cols[0].selectbox,
    "Layer",
    names,
    state.LAYER,
    "layer_picker",
    help="Default: the last hidden representation (see the note below the pickers).",
)
method = state.carried_widget(
    cols[1].radio, "Method", list(METHODS), state.METHOD, "method_picker", format_func=METHODS.get
)
split = state.carried_widget(
    cols[2].radio, "Images", dataset.splits, state.SPLIT, "split_picker", format_func=lambda s: f"{s} split"
)
rep = reducing.picker(cols[3], model, layer)
widgets.default_layer_note(model, layer)
widgets.activation_switch(model, layer, beside_default_note=True)
if models.nested_layers_note(model):
    text.caption(models.nested_layers_note(model), on=table)

images, labels = dataset.split(split)
table.dataframe(
    reducing.layer_frame(model, len(images), split),
    hide_index=True,
    width="stretch",
    column_config={
        "params": st.column_config.NumberColumn(format="%d"),
        reducing.MIB_COLUMN: st.column_config.NumberColumn(
            format="%.1f",
            help=f"The representation's size (float32) for the {len(images):,} images of the {split} split",
        ),
    },
)
try:
    models.adapt_images(images[:1], model, record.input_scale)  # the model can read these images
except models.ModelError as error:
    text.error(f"This model cannot read {dataset.name}: {error}")
    st.stop()

key = keys.representation_key(
    record.fingerprint, dataset.fingerprint, split, layer, method, record.input_scale, rep.reduction
)
cached = resources.workspace().load_array("representation", key)
if cached is None and (
    st.button(text.escape(f"Compute {rep.title} for {len(images):,} images"), type="primary") or running.active(key)
):
    cached, key = actions.representation(record, model, dataset, split, layer, method, rep.reduction)

if cached is None:
    text.caption("Results are cached in the workspace per model, dataset, split, layer, method and reduction.")
    st.stop()

outputs = cached
text.success(
    f"{rep.title}: {outputs.shape[0]:,} × {outputs.shape[1]:,} outputs ({METHODS[method]}), cached in the workspace."
)
cols = st.columns(4)
cols[0].metric("units", f"{outputs.shape[1]:,}")
cols[1].metric("mean", f"{outputs.mean():.3f}")
cols[2].metric("zero outputs", f"{np.mean(outputs == 0):.1%}")
cols[3].metric("max", f"{outputs.max():.3f}")
text.markdown(text.md("**Mean output per class** (first 128 units)"))
means = np.stack([outputs[labels == c, :128].mean(axis=0) for c in range(dataset.num_classes) if np.any(labels == c)])
st.plotly_chart(plots.class_means(means, [dataset.class_names[c] for c in np.unique(labels)]))

text.subheader("Do the two methods agree?")
text.caption("Runs both methods on the same images (up to 10,000) and compares their outputs and times.")
comparison = None
if st.button("Check both methods"):
    try:
        spec = jobs.specs.compare_methods_spec(
            key,
            min(len(images), 10_000),
            model_fp=record.fingerprint,
            split=split,
            layer=layer,
            input_scale=record.input_scale,
            reduction=rep.reduction,
        )
        comparison = running.run(
            spec,
            {"model": running.model_input(record), "dataset": running.dataset_input(dataset)},
            label="Running both methods",
            failure="The methods cannot be compared",
        )
    except jobs.JobLimitError as error:
        text.error(f"The methods cannot be compared: {error}")
if comparison is not None:
    cols = st.columns(2)
    cols[0].metric("largest absolute difference", f"{comparison.max_abs_diff:.2e}")
    cols[1].metric("verdict", "agree" if comparison.agree else "differ")
    st.plotly_chart(plots.method_times(comparison.seconds, METHODS))
    text.caption(f"Median of 3 runs on {comparison.n_samples:,} images, after one warm-up run.")

st.page_link(widgets.EXPLORE_PAGE, label="Next: explore the map", icon=":material/arrow_forward:")
