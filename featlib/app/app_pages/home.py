"""Home: what featlib is and what the workspace holds."""

import pandas as pd
import streamlit as st

from featlib.app import resources, stored_map, text, widgets

text.title("featlib")
widgets.offer_latest()  # a new session starts on the latest model and its data, saying so
text.markdown(
    text.md(
        "See what each layer of a Keras classifier has learned. Train the classic MNIST MLP "
        "(784-128-64-10) or bring your own model, read any layer's outputs with the backend "
        "function (`K.function`) or a functional sub-model (`Model.predict`), and explore them "
        "as maps coloured by digit, side by side and shared with the team by link."
    )
)
stored_map.preview()  # the map the Explore page opens on, when it is stored (no Keras needed)

STEPS = [
    (widgets.MODEL_PAGE, "1 · Model", "Pick a dataset; train (with checkpoints), upload or pick a model."),
    (widgets.REPRESENTATIONS_PAGE, "2 · Representations", "Pick a layer and a method; compute its outputs."),
    (
        widgets.EXPLORE_PAGE,
        "3 · Explore",
        "Map them with UMAP, PCA or t-SNE; colour by label or mistake; see the digits.",
    ),
    (widgets.LAYERS_PAGE, "Layers", "Every layer at once, with its scores and their CKA similarity."),
    (widgets.COMPARE_PAGE, "Compare", "Layers, checkpoints or methods side by side, aligned and linked."),
    (widgets.WORKSPACE_PAGE, "Workspace", "What the team made: find, rename, annotate, delete, import bundles."),
    (widgets.JOBS_PAGE, "Jobs", "The heavy work running on the workers for everyone: progress, queue, cancel."),
]
for start in range(0, len(STEPS), 3):
    for column, (page, title, blurb) in zip(st.columns(3), STEPS[start : start + 3]):
        with column.container(border=True):
            st.page_link(page, label=title)
            text.caption(blurb)

ws = resources.workspace()
usage = ws.usage()
text.subheader("Workspace")
text.caption(text.md("{} — shared by everyone using this server and by the CLI.", text.code(ws.root.resolve())))
cols = st.columns(5)
cols[0].metric("models", usage["models"])
cols[1].metric("uploaded datasets", usage["datasets"])
cols[2].metric("representations", usage["representations"])
cols[3].metric("maps", usage["embeddings"])
cols[4].metric("disk", f"{usage['bytes'] / 1e6:.1f} MB")

records = ws.list_models()
if records:
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "name": r.name,
                    "dataset": r.dataset,
                    "architecture": r.architecture,
                    "test accuracy": r.test_accuracy,
                    "measured on": r.measured_on,
                    "created": r.created,
                }
                for r in records
            ]
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="%.4f"),
            "measured on": st.column_config.TextColumn(width="medium"),
            "architecture": st.column_config.TextColumn(width="medium"),
        },
    )
else:
    text.info("The workspace holds no model yet. Start on the Model page.")
