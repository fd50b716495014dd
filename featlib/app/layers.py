"""The Layers page's glue: every layer of the current model on one sample, maps, figures, following points.

Results are shared by every session: the layers' outputs and figures are
jobs' results kept by the server's job manager (by key), the maps are stored
in the workspace.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from featlib import datasets, jobs, models, plots
from featlib.app import maps as map_glue
from featlib.app import resources, state, text, theme, widgets
from featlib.app.runner import service
from featlib.errors import FeatlibError
from featlib.maps import embed
from featlib.maps import prediction_depth as depth_lib
from featlib.read import layers
from featlib.service import ModelRef
from featlib.share import exports
from featlib.store import WorkspaceError

SAMPLE_KEY = "layers_sample"
REDUCER_KEY = "layers_reducer"
COLOUR_KEY = "layers_colour"
POINT_KEY = "layers_point"
_SHOWN_FOLLOWED = "featlib.layers_point_shows"
"""The followed points the "Point index" last showed: a new follow (lasso, button) sets the index to its first."""
FOLLOW = "featlib.layers_follow"
"""Followed points: ``{"context": (model, dataset, split), "indices": [...]}``."""
FOLLOW_ERROR = "featlib.layers_follow_error"
K_NEIGHBOURS = 8
DEPTH_LAST = 16
"""Images shown among those decided last (prediction depth)."""
FOLLOW_SHOWN = 3
SAMPLE_MIN = 100
"""The smallest sample offered (all the points when the split has fewer)."""
TSNE_MAX = 2_000
"""t-SNE maps of every layer are offered up to this sample size (openTSNE: about as long as a UMAP map of four times the points, per layer)."""
COLUMNS = {
    "layer": "layer",
    "units": "units",
    "reduction": "reduction",
    "knn_acc": "10-NN acc (layer)",
    "probe_acc": "linear probe",
    "silhouette": "silhouette",
    "knn_acc_2d": "10-NN acc (map)",
    "trustworthiness": "trustworthiness",
}


@dataclass(frozen=True)
class LayersChoice:
    """The sidebar's choices: sample size, reducer and colouring."""

    sample_size: int | None
    params: embed.ReducerParams
    colour: str
    note: str = ""
    """How the reducer's defaults were fitted to a small sample (:func:`featlib.app.maps.params_for`), or ''."""

    @property
    def title(self) -> str:
        """The reducer's display name."""
        return embed.REDUCER_TITLES[embed.reducer_name(self.params)]


def controls(n_points: int) -> LayersChoice:
    """The sidebar: sample size, the maps' reducer (PCA by default: instant) and the colouring."""
    st.session_state.setdefault(SAMPLE_KEY, min(n_points, layers.DEFAULT_SAMPLE))
    st.session_state[SAMPLE_KEY] = min(st.session_state[SAMPLE_KEY], n_points)
    st.session_state.setdefault(REDUCER_KEY, "pca")
    with st.sidebar:
        text.markdown(text.md("**Layers settings**"))
        low = min(SAMPLE_MIN, n_points)
        st.session_state[SAMPLE_KEY] = max(st.session_state[SAMPLE_KEY], low)
        sample = st.number_input(
            "Sample size",
            low,
            n_points,
            step=500,
            key=SAMPLE_KEY,
            help=f"Stratified by label; every layer is read for these points in one pass. From "
            f"{low:,} to all {n_points:,} points of the split.",
        )
        reducer = st.radio(
            "Maps",
            list(embed.REDUCERS),
            format_func=embed.REDUCER_TITLES.get,
            key=REDUCER_KEY,
            horizontal=True,
            help="PCA is instant; UMAP and t-SNE map each layer in turn, with progress.",
        )
        colour = st.selectbox(
            "Colour by",
            [mode for mode in plots.COLOUR_MODES if mode != "kept"],  # neighbourhood kept: the Explore page's, per map
            format_func=plots.COLOUR_MODES.get,
            key=COLOUR_KEY,
        )
    params, note = map_glue.params_for(embed.REDUCERS[reducer](), min(int(sample), n_points))
    return LayersChoice(None if sample >= n_points else int(sample), params, colour, note)


def layer_set(record, model, dataset: datasets.Dataset, split: str, sample_size: int | None) -> layers.LayerSet | None:
    """Every layer's representation of the sample, read in one pass by a job; ``None`` after explaining a failure.

    Layers with spatial axes are read by the carried reduction (:data:`featlib.app.state.REDUCTION`).
    """
    ref = ModelRef.of_record(resources.workspace(), record, model)
    try:
        return service().layer_set(ref, dataset, split, sample_size=sample_size, reduction=state.get(state.REDUCTION))
    except jobs.JobLimitError as error:
        text.error(f"The layers of this model cannot be read: {error}")
        return None


def maps(record, ls: layers.LayerSet, choice: LayersChoice) -> dict[str, np.ndarray] | None:
    """Each layer's map, from the workspace or computed by one job per layer (they run side by side on the workers)."""
    if choice.title == "t-SNE" and len(ls.indices) > TSNE_MAX:
        text.warning(
            f"t-SNE of every layer is offered up to {TSNE_MAX:,} points (openTSNE, about as long per layer as a UMAP map of four times the points, on "
            f"two cores); lower the sample size from {len(ls.indices):,} or pick PCA or UMAP."
        )
        return None
    try:
        embed.check_points(choice.params, len(ls.indices))
    except embed.ReducerError as error:
        text.info(f"No {choice.title} maps of these points: {error}", icon=":material/info:")
        return None
    try:
        return service().layer_maps(ls, choice.params, model_id=record.id)
    except jobs.JobLimitError as error:
        text.error(f"The {choice.title} maps cannot be made: {error}")
        return None


def metrics(ls: layers.LayerSet, coords: dict[str, np.ndarray], choice: LayersChoice) -> list[dict] | None:
    """Every layer's figures (kNN, probe, silhouette, the map's kNN and trustworthiness), one job per layer.

    ``None`` after explaining why the sample cannot be scored.
    """
    try:
        return service().layer_scores(ls, coords, choice.params)
    except jobs.JobLimitError as error:
        text.error(f"The layers cannot be scored on this sample: {error}")
        return None


def titles(ls: layers.LayerSet) -> dict[str, str]:
    """Each panel's title: a layer with spatial axes with its reduction, the others with their units."""
    return {
        name: ls.describe(name)
        if name in ls.representations and ls.representations[name].spatial
        else f"{name} ({ls.reps[name].shape[1]} units)"
        for name in ls.reps
    }


def _cka(ls: layers.LayerSet, other: layers.LayerSet | None = None) -> np.ndarray | None:
    try:
        return service().cka(ls, other)
    except jobs.JobLimitError as error:
        text.error(f"CKA cannot be computed: {error}")
        return None


def cka(ls: layers.LayerSet) -> np.ndarray | None:
    """Linear CKA between every pair of the sample's representations (a job); ``None`` after explaining."""
    return _cka(ls)


def captions(rows: list[dict], title: str) -> dict[str, str]:
    """The figures printed under each panel of the grid."""

    def f(row: dict, key: str) -> str:
        return widgets.score(row.get(key), 2)

    return {
        row["layer"]: f"kNN {f(row, 'knn_acc')} · probe {f(row, 'probe_acc')} · sil {f(row, 'silhouette')}"
        f"\n{title}: kNN {f(row, 'knn_acc_2d')} · trust {f(row, 'trustworthiness')}"
        for row in rows
    }


def unscored(rows: list[dict]) -> list[str]:
    """The figures that could not be computed on the sample, each once: the metrics' own words ("n/a — needs …")."""
    reasons = []
    for row in rows:
        for key, title in COLUMNS.items():
            if key in ("layer", "units", "reduction"):
                continue
            if not widgets.computed(row.get(key)):
                reason = f"{title}: {widgets.score(row.get(key))}"
                if reason not in reasons:
                    reasons.append(reason)
    return reasons


def metrics_frame(rows: list[dict]) -> pd.DataFrame:
    """The metrics table as a frame with readable column names."""
    frame = pd.DataFrame(rows).reindex(columns=list(COLUMNS)).rename(columns=COLUMNS)
    for column in frame.columns[3:]:  # a figure that could not be computed ("n/a — needs …") is a gap, not text
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame.set_index("layer")


def followed(context: tuple[str, str, str]) -> list[int]:
    """The points followed across layers for ``(model, dataset, split)``."""
    kept = st.session_state.get(FOLLOW)
    return list(kept["indices"]) if kept and tuple(kept["context"]) == tuple(context) else []


def follow(context: tuple[str, str, str], indices) -> None:
    """Follows ``indices`` (dataset indices) in every layer."""
    st.session_state[FOLLOW] = {"context": tuple(context), "indices": sorted(int(i) for i in indices)}


def remember_selection(event, figure, context: tuple[str, str, str], current: list[int]) -> bool:
    """Follows a new box or lasso selection made on any panel; True when it changed."""
    points = event.selection.points if event and event.selection else []
    if not points:
        return False
    chosen = plots.selected_indices(points, figure)
    if chosen.tolist() == sorted(current):
        return False
    follow(context, chosen)
    return True


def follow_controls(context: tuple[str, str, str], ls: layers.LayerSet, wrong: np.ndarray) -> None:
    """A point index to follow, a misclassified one at random, or none."""
    cols = st.columns([2, 2, 2, 3], vertical_alignment="bottom")
    now = followed(context)
    if now and st.session_state.get(_SHOWN_FOLLOWED) != now:  # followed from a map or a button: the index shows it
        st.session_state[POINT_KEY] = int(now[0])
    st.session_state[_SHOWN_FOLLOWED] = now
    top = int(ls.indices.max())
    if not isinstance(st.session_state.get(POINT_KEY), int) or not 0 <= st.session_state[POINT_KEY] <= top:
        st.session_state[POINT_KEY] = int(ls.indices[0])
    cols[0].number_input(
        "Point index",
        0,
        top,
        key=POINT_KEY,
        help="A point's index in the dataset split, as hover shows it; the first point followed.",
    )
    cols[1].button("Follow this point", on_click=_follow_one, args=(context, ls))
    rng = np.random.default_rng(len(followed(context)))
    if len(wrong):
        cols[2].button("Follow a misclassified one", on_click=follow, args=(context, [int(rng.choice(wrong))]))
    if followed(context):
        cols[3].button("Stop following", on_click=follow, args=(context, []))


def _follow_one(context: tuple[str, str, str], ls: layers.LayerSet) -> None:
    index = int(st.session_state[POINT_KEY])  # the value typed before the click
    if index not in set(ls.indices.tolist()):
        st.session_state[FOLLOW_ERROR] = (
            f"Point {index} is not among the {len(ls.indices):,} sampled points; pick one shown on the maps "
            "(hover shows each point's index) or raise the sample size."
        )
        return
    follow(context, [index])


def show_neighbours(
    ls: layers.LayerSet, points: list[int], images: np.ndarray, labels: np.ndarray, class_names
) -> None:
    """For each followed point (the first few), its nearest neighbours in every layer's own space, as images."""
    message = st.session_state.pop(FOLLOW_ERROR, None)
    if message:
        text.error(message)
    try:
        found = layers.follow(ls, points[:FOLLOW_SHOWN], k=K_NEIGHBOURS)
    except FeatlibError as error:
        text.error(error)
        return
    for row, point in enumerate(points[:FOLLOW_SHOWN]):
        text.markdown(
            text.md(
                "**Point #{}** — true {}: its {} nearest neighbours in each layer's own space (first "
                "image: the point itself)",
                point,
                class_names[labels[point]],
                K_NEIGHBOURS,
            )
        )
        for name, neighbours in found.items():
            near = neighbours[row]
            same = int(np.sum(labels[near] == labels[point]))
            left, right = st.columns([1, 5], vertical_alignment="center")
            text.markdown(text.md("**{}**  \n{}/{} share its label", name, same, len(near)), on=left)
            tiles = plots.upscale(images[np.concatenate([[point], near])], size=28)
            right.image(
                plots.montage(tiles, columns=len(near) + 1, pad=2, dark=theme.dark()),
                caption=text.escape(" · ".join(class_names[labels[i]] for i in near)),
                width=min(720, 80 * (len(near) + 1)),
            )
    if len(points) > FOLLOW_SHOWN:
        text.caption(
            f"{len(points):,} points followed: all are outlined on the maps, the first {FOLLOW_SHOWN} shown here."
        )


def compare_models(record, ls: layers.LayerSet, dataset: datasets.Dataset, split: str, sample_size: int | None) -> None:
    """Linear CKA between this model's layers and another model's, on the same sampled points.

    Offered for the workspace's models trained on the same dataset.
    """
    others = {
        r.id: r
        for r in resources.workspace().list_models()
        if r.id != record.id and (r.meta.get("dataset_fingerprint") == dataset.fingerprint or r.dataset == dataset.name)
    }
    if not others:
        text.caption(f"No other model in the workspace was trained on {dataset.name}: train or upload one to compare.")
        return
    other_id = st.selectbox(
        "Another model trained on this dataset",
        list(others),
        format_func=lambda i: others[i].label,
        key="layers_other_model",
    )
    other = others[other_id]
    try:
        other_ls = layer_set(other, resources.model(other.id), dataset, split, sample_size)
    except (WorkspaceError, models.ModelError) as error:
        text.error(f"{other.name} cannot be read: {error}")
        return
    if other_ls is None:
        return
    if not np.array_equal(ls.indices, other_ls.indices):
        text.error("CKA compares representations of the same points; the two samples differ.")
        return
    matrix = _cka(ls, other_ls)
    if matrix is None:
        return
    figure = plots.cka_heatmap(matrix, ls.names, [f"{name} " for name in other_ls.names])
    figure.update_layout(yaxis_title=plots.text(record.name), xaxis_title=plots.text(other.name))
    st.plotly_chart(figure, key="cka-models")
    text.caption(f"Rows: {record.name}'s layers; columns: {other.name}'s, on the same {len(ls.indices):,} points.")


# ----------------------------------------------------------------------------- prediction depth


def prediction_depth(ls: layers.LayerSet, predicted: np.ndarray) -> np.ndarray | None:
    """Each sampled image's prediction depth (a job; :meth:`featlib.service.Service.prediction_depth`).

    ``predicted``: int ``(points,)``, the model's label of each sampled image. ``k`` is
    :data:`featlib.maps.prediction_depth.DEFAULT_K` (fewer on a tiny sample). ``None`` after explaining.
    """
    k = min(depth_lib.DEFAULT_K, len(ls.indices) - 1)
    if k < 1:
        text.info("Prediction depth needs at least two sampled images.", icon=":material/info:")
        return None
    try:
        return service().prediction_depth(ls, predicted, k)
    except jobs.JobLimitError as error:
        text.error(f"The prediction depth cannot be computed: {error}")
        return None


def class_name(class_names, label: int) -> str:
    """The name of class ``label``, or the label itself when the dataset has no such class (a model with more
    outputs than the data's classes predicts them too)."""
    return str(class_names[label]) if 0 <= int(label) < len(class_names) else str(int(label))


def depth_frame(
    ls: layers.LayerSet, depth: np.ndarray, predicted: np.ndarray, confidence: np.ndarray, class_names
) -> pd.DataFrame:
    """One row per sampled image: its index, true and predicted class, confidence, depth and the layer it names."""
    decided = np.array(ls.names + ["never"], dtype=object)
    return pd.DataFrame(
        {
            "index": ls.indices.astype(int),
            "true": [class_names[i] for i in ls.labels],
            "predicted": [class_name(class_names, i) for i in predicted],
            "confidence": np.round(np.asarray(confidence, dtype=float), 4),
            "depth": depth.astype(int),
            "decided at": decided[depth],
        }
    )


def decided_last(depth: np.ndarray, confidence: np.ndarray, n: int = DEPTH_LAST) -> np.ndarray:
    """Rows of the ``n`` images decided last: deepest first, the least confident first among equals."""
    return np.lexsort((np.asarray(confidence, dtype=float), -np.asarray(depth)))[:n]


def show_depth(
    ls: layers.LayerSet, predicted: np.ndarray, confidence: np.ndarray, images: np.ndarray, class_names
) -> None:
    """The "Prediction depth" section: its distribution per class, its link to confidence, the images decided last
    and the CSV."""
    depth = prediction_depth(ls, predicted)
    if depth is None:
        return
    found = depth_lib.summary(depth, predicted == ls.labels, confidence)
    counts = depth_lib.counts_by_class(depth, ls.labels, len(class_names), len(ls.names))
    st.plotly_chart(plots.prediction_depth_heatmap(counts, class_names, ls.names), key="prediction-depth")
    k = min(depth_lib.DEFAULT_K, len(ls.indices) - 1)
    text.caption(
        f"An image's prediction depth (Baldock et al., NeurIPS 2021) is the first layer from which the {k}-NN "
        "vote of the other sampled images (by their true labels) in that layer's own space is the model's "
        "prediction, and stays so in every later layer; 0 is the input pixels. Late images are the hard ones."
    )
    spearman = "n/a (depth or confidence is constant)" if np.isnan(found.spearman) else f"{found.spearman:+.3f}"
    wrong = f"{found.mean_wrong:.2f}" if found.n_wrong else "n/a (none misclassified)"
    text.markdown(
        text.md(
            "Mean depth: **{}** for the {:,} correctly classified images, **{}** for the {:,} misclassified. "
            "Spearman correlation of depth with the model's confidence: **{}**.",
            f"{found.mean_correct:.2f}" if found.n_correct else "n/a",
            found.n_correct,
            wrong,
            found.n_wrong,
            spearman,
        )
    )
    last = decided_last(depth, confidence)
    tiles = plots.upscale(images[ls.indices[last]], size=28)
    st.image(
        plots.montage(tiles, columns=min(len(last), 8), pad=2, dark=theme.dark()),
        caption=text.escape(
            "Decided last: "
            + "; ".join(
                f"#{ls.indices[r]} true {class_names[ls.labels[r]]}, predicted {class_name(class_names, predicted[r])}, "
                f"depth {depth[r]}"
                for r in last
            )
        ),
        width=min(720, 90 * min(len(last), 8)),
    )
    st.download_button(
        "Download the prediction depth of every sampled image (CSV)",
        exports.table_bytes(depth_frame(ls, depth, predicted, confidence, class_names), "csv"),
        file_name="prediction-depth.csv",
        mime="text/csv",
        icon=":material/download:",
        key="prediction-depth-csv",
    )
