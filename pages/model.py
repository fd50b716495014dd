"""Model: pick the data, then train, upload or pick a model."""

import streamlit as st

from featlib import datasets, models, plots
from featlib.app import actions, resources, state, widgets

widgets.require_navigation()
st.title("Model")

# Data -------------------------------------------------------------------------
st.subheader("Data")
choices = resources.dataset_choices()
key = state.get(state.DATASET)
key = key if key in choices else "digits"
picked = st.selectbox(
    "Dataset", list(choices), index=list(choices).index(key), format_func=choices.get,
    key=widgets.DATASET_PICKER,
)  # fmt: skip
state.put(state.DATASET, picked)

with st.expander("Upload a dataset (.npz or IDX files)"):
    st.caption(
        "An `.npz` with `x_train, y_train, x_test, y_test` (the Keras layout) or `x, y`; or "
        "MNIST-style IDX files (`.gz` or raw). Images are grayscale, pixel values 0–255 or 0–1. "
        f"Limit {datasets.MAX_UPLOAD_BYTES / 2**20:g} MB a file."
    )
    npz_tab, idx_tab = st.tabs(["npz", "IDX"])
    with npz_tab:
        npz_file = st.file_uploader("Dataset .npz", type=["npz"], key="npz_upload")
        if npz_file is not None and st.button("Add this dataset", key="add_npz"):
            actions.add_dataset(lambda: datasets.load_npz(npz_file, name=f"upload:{npz_file.name}"))
    with idx_tab:
        cols = st.columns(2)
        idx_files = {
            part: cols[i % 2].file_uploader(part, key=f"idx_{part}")
            for i, part in enumerate(["train images", "train labels", "test images", "test labels"])
        }
        if idx_files["train images"] and idx_files["train labels"] and st.button("Add these IDX files"):
            actions.add_dataset(
                lambda: datasets.load_idx(
                    idx_files["train images"], idx_files["train labels"],
                    idx_files["test images"], idx_files["test labels"],
                    name=f"upload:{idx_files['train images'].name}",
                )
            )  # fmt: skip

dataset = widgets.current_dataset()
st.caption(dataset.summary() + (f" · {dataset.source}" if dataset.source else ""))
with st.expander("Sample images per class", expanded=False):
    x_train, y_train = dataset.split("train")
    picks = datasets.sample_indices_per_class(y_train, per_class=12)
    st.plotly_chart(
        plots.class_grid({c: x_train[i] for c, i in picks.items()}, dataset.class_names),
        config={"displayModeBar": False},
    )

# Model ------------------------------------------------------------------------
st.subheader("Train, upload or pick a model")
train_tab, upload_tab, pick_tab = st.tabs(["Train the seed MLP", "Upload a model", "Pick a saved model"])

with train_tab:
    with st.form("train"):
        cols = st.columns(3)
        hidden_text = cols[0].text_input("Hidden layer sizes", "128, 64")
        optimizer = cols[1].selectbox("Optimizer", models.OPTIMIZERS, format_func=str.upper)
        learning_rate = cols[2].number_input("Learning rate", 1e-5, 1.0, 0.01, format="%.4f")
        epochs = cols[0].number_input("Epochs", 1, 200, 20 if dataset.x_train.shape[0] < 10_000 else 5)
        batch_size = cols[1].number_input("Batch size", 1, 4096, 32)
        name = cols[2].text_input("Save as", f"mlp-{dataset.name.removeprefix('upload:')}")
        checkpoints_text = cols[0].text_input(
            "Save checkpoints after epoch", "", placeholder="e.g. 1, 5",
            help="Each is saved as its own model, named like mlp-digits@epoch1, to compare on the Compare page.",
        )  # fmt: skip
        st.caption("Validation split 0.2, as in the seed. Inputs scaled to 0–1.")
        submitted = st.form_submit_button("Train", type="primary")
    if submitted:
        actions.train_seed_mlp(dataset, hidden_text, optimizer, learning_rate, epochs, batch_size, name, checkpoints_text)
    else:
        actions.resume_training()

with upload_tab:
    st.caption(
        "A Keras 3 `.keras` file or a legacy `.h5` file, loaded with `safe_mode=True`; "
        "Lambda layers (arbitrary code) are refused, and so are TensorFlow SavedModels "
        f"(a zipped one is explained). Limit {models.MAX_MODEL_BYTES / 2**20:g} MB."
    )
    # .zip is accepted only so that a zipped SavedModel is refused with the reason.
    model_file = st.file_uploader("Model file", type=["keras", "h5", "zip"], key="model_upload")
    cols = st.columns(2)
    scale = cols[0].radio(
        "Input scaling the model expects", list(models.INPUT_SCALES), format_func=models.INPUT_SCALES.get
    )
    upload_name = cols[1].text_input("Save as", model_file.name.rsplit(".", 1)[0] if model_file else "uploaded")
    if model_file is not None and st.button("Load this model", type="primary"):
        actions.add_uploaded_model(model_file, upload_name, scale, dataset)

with pick_tab:
    records = resources.workspace().list_models()
    if not records:
        st.info("No saved model yet.")
    else:
        by_id = {r.id: r for r in records}
        current = state.get(state.MODEL)
        chosen = st.selectbox(
            "Saved models", list(by_id), index=list(by_id).index(current) if current in by_id else 0,
            format_func=lambda i: by_id[i].label,
        )  # fmt: skip
        if st.button("Use this model"):
            state.put(state.MODEL, chosen)

model_id = state.get(state.MODEL)
if model_id:
    rec = resources.record(model_id)
    st.success(f"Current model: **{rec.name}** — {rec.architecture}, trained on {rec.dataset}.")
    if rec.meta.get("history"):
        st.plotly_chart(plots.training_curves(rec.meta["history"]))
    st.page_link(widgets.REPRESENTATIONS_PAGE, label="Next: pick a layer", icon=":material/arrow_forward:")
