"""Model: pick the data, then train, upload or pick a model."""

import streamlit as st

from featlib import datasets, plots
from featlib.app import actions, model_card, resources, state, text, training, uploads, widgets

text.title("Model")

# Data -------------------------------------------------------------------------
text.subheader("Data")
widgets.dataset_picker()
uploads.show_notice()
with st.expander("Upload a dataset (.npz or IDX files)"):
    uploads.dataset_form()

dataset = widgets.current_dataset()
text.caption(dataset.summary() + (f" · {dataset.source}" if dataset.source else ""))
with st.expander("Sample images per class", expanded=False):
    images, labels = dataset.split(dataset.splits[0])
    picks = datasets.sample_indices_per_class(labels, per_class=12)
    st.plotly_chart(
        plots.class_grid({c: images[i] for c, i in picks.items()}, dataset.class_names),
        width="content",
        config={"displayModeBar": False},
    )

# Model ------------------------------------------------------------------------
text.subheader("Train, upload or pick a model")
# Keyed: the tab picked stays picked on every rerun (picking a file, a notice above that goes away); and with a
# model file picked the tabs open on its tab even when the browser draws them anew.
train_tab, upload_tab, pick_tab = st.tabs(
    ["Train the seed MLP", "Upload a model", "Pick a saved model"],
    key="model_tabs",
    default="Upload a model" if actions.model_file_picked() else None,
)

with train_tab:
    training.training_form(dataset)

with upload_tab:
    actions.upload_form(dataset)

with pick_tab:
    records = resources.workspace().list_models()
    if not records:
        text.info("No saved model yet.")
    else:
        by_id = {r.id: r for r in records}
        current = state.get(state.MODEL)
        chosen = st.selectbox(
            "Saved models",
            list(by_id),
            index=list(by_id).index(current) if current in by_id else 0,
            format_func=lambda i: by_id[i].label,
        )
        if st.button("Use this model"):
            state.put(state.MODEL, chosen)

record = model_card.current()
if record is not None:
    model_card.show(record, dataset)
    st.page_link(widgets.REPRESENTATIONS_PAGE, label="Next: pick a layer", icon=":material/arrow_forward:")
