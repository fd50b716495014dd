"""The Explore page's Export panel: download buttons for tables, figure, model and bundle.

Every file is made only when its button is clicked (Streamlit's deferred
downloads): the page does not build a 5 MB HTML file on every rerun.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from featlib.app import identity, resources, state, text
from featlib.maps.embed import REDUCER_TITLES, reducer_name
from featlib.share import bundle, exports, projector
from featlib.share.views import View, ViewError
from featlib.store import ModelRecord, WorkspaceError

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from featlib.datasets import Dataset
    from featlib.pipeline import Embedding


def record_map_figures(emb: Embedding, scores: dict | None) -> None:
    """Records who made a map and its 10-NN accuracy in the workspace, when not yet recorded.

    The accuracy is the one the page scored (a job): 5-fold, on ``scores["sample"]``
    of the map's points (all of them up to :data:`featlib.app.results.METRICS_SAMPLE`).
    """
    workspace = resources.workspace()
    try:
        item = workspace.get_item("embedding", emb.key)
    except WorkspaceError:
        return
    workspace.claim("embedding", emb.key, identity.current_user())
    accuracy = (scores or {}).get("knn_acc_2d")
    if item.knn_accuracy is None and isinstance(accuracy, (int, float)) and math.isfinite(accuracy):  # not "n/a …"
        workspace.update_meta(
            "embedding", emb.key, {"knn_accuracy": float(accuracy), "knn_accuracy_points": scores["sample"]}
        )


def export_panel(
    record: ModelRecord,
    dataset: Dataset,
    split: str,
    outputs: np.ndarray,
    emb: Embedding,
    predicted: np.ndarray,
    figure: go.Figure,
    scores: dict | None = None,
    view: View | None = None,
    layer_title: str | None = None,
) -> None:
    """An "Export" expander with a download button per format.

    ``view`` is the page's view (without one, it is read from the page's URL); ``layer_title`` the layer as it
    was read (``conv2d (global average pooling, 32 of 26×26×32)``), for the PNG's title. Both are read now,
    in the page's run: a download's callback runs outside it, where the URL and the session cannot be read.
    """
    _, labels = dataset.split(split)
    record_map_figures(emb, scores)
    stem = exports.safe_file_name(f"{record.name}-{split}")
    try:
        linked = View.from_query(st.query_params.to_dict())  # the whole link (a saved view's holds its id only)
    except ViewError:
        linked = None
    title = png_title(record, dataset, split, emb, view or linked, layer_title)
    bundled = linked or view
    with st.expander("Export", icon=":material/download:"):
        text.caption("Tables hold index, label, predicted label and the coordinates or the layer's units.")
        left, middle, right = st.columns(3)
        with left:
            text.markdown(text.md("**Map**"))
            table = lambda: exports.embedding_table(emb.indices, emb.coords, labels, predicted, dataset.class_names)  # noqa: E731
            _button("CSV", lambda: exports.table_bytes(table(), "csv"), f"{stem}-map.csv", "text/csv")
            _button(
                "Parquet",
                lambda: exports.table_bytes(table(), "parquet"),
                f"{stem}-map.parquet",
                exports.TABLE_FORMATS["parquet"],
            )
            _button("Interactive HTML", lambda: exports.figure_html(figure), f"{stem}-map.html", "text/html")
            _button(
                "PNG image",
                lambda: exports.figure_png(figure, title=title),
                f"{stem}-map.png",
                "image/png",
            )
        with middle:
            text.markdown(text.md("**Layer outputs**"))
            reps = lambda: exports.representation_table(outputs, labels, predicted)  # noqa: E731
            _button("CSV ", lambda: exports.table_bytes(reps(), "csv"), f"{stem}-layer.csv", "text/csv")
            _button(
                "Parquet ",
                lambda: exports.table_bytes(reps(), "parquet"),
                f"{stem}-layer.parquet",
                exports.TABLE_FORMATS["parquet"],
            )
            images = dataset.split(split)[0]
            refused = projector.refusal(len(emb.indices), images.shape[1:])
            _button(
                "Projector (.zip)",
                lambda: projector.zip_bytes(
                    projector.projector_files(
                        outputs[emb.indices],
                        images[emb.indices],
                        labels[emb.indices],
                        predicted[emb.indices],
                        dataset.class_names,
                        title,
                        emb.indices,
                    )
                ),
                f"{stem}-projector.zip",
                "application/zip",
                help=f"The layer's outputs of the map's {len(emb.indices):,} images, their labels and a sprite of "
                "the images, as TensorBoard's Embedding Projector reads them: unzip, then "
                "`tensorboard --logdir projector`." + (f" Not for this map: {refused}." if refused else ""),
                disabled=bool(refused),
            )
        with right:
            text.markdown(text.md("**Model and view**"))
            workspace = resources.workspace()
            _button(
                "Model (.keras)",
                lambda: exports.model_bytes(workspace, record),
                f"{stem}.keras",
                "application/octet-stream",
            )
            if bundled is None:
                return
            user = identity.current_user()
            _button(
                "Bundle (.zip)",
                lambda: bundle.export_bundle(
                    workspace,
                    bundled,
                    dataset=dataset,
                    emb_key=emb.key,
                    predicted=predicted,
                    figure=figure,
                    exported_by=user,
                ),
                f"{stem}-view.zip",
                "application/zip",
                help="Model, parameters, map, figure and a README; another featlib server imports it "
                "on its Workspace page or with `python -m featlib import`.",
            )


SHORT_METHODS = {"function": "K.function", "submodel": "Model.predict"}


def png_title(
    record: ModelRecord,
    dataset: Dataset,
    split: str,
    emb: Embedding,
    view: View | None = None,
    layer_title: str | None = None,
) -> str:
    """What an exported map shows: ``model · layer · method · reducer · N points · dataset split``.

    From the page's ``view`` (the map's own layer, method and reducer); without one, from the current
    choices. Call it in the page's run, not in a download's callback (no session there).
    """
    if view is not None:
        layer, method, reducer = view.layer, view.method, REDUCER_TITLES[reducer_name(view.params)]
    else:
        layer, method, reducer = state.get(state.LAYER), state.get(state.METHOD), None
    parts = [
        record.name,
        layer_title or layer,
        SHORT_METHODS.get(method, method),
        reducer,
        f"{len(emb.indices):,} points",
        f"{dataset.name} {split}",
    ]
    return " · ".join(str(part) for part in parts if part)


def _button(
    label: str, make: Callable[[], bytes], file_name: str, mime: str, help: str | None = None, disabled: bool = False
) -> None:
    st.download_button(
        label,
        make,
        file_name=file_name,
        mime=mime,
        on_click="ignore",
        help=help,
        disabled=disabled,
        icon=":material/download:",
        key=f"export-{file_name}-{label}",
    )
