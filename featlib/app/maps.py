"""The Explore page's map: reducer and colour controls, the map with a preview, its metrics, the images.

Everything the page shows of a map goes through here, so the page stays a
short list of calls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from featlib import datasets, embed, pipeline, plots
from featlib.app import links, resources, results

METRICS_SAMPLE = results.METRICS_SAMPLE
MONTAGE_MAX = 120
CAPTIONED_MAX = 40


@dataclass(frozen=True)
class MapChoice:
    """What the sidebar asks for: a reducer with its parameters, a sample size and a colouring."""

    params: embed.ReducerParams
    sample_size: int | None
    colour: str

    @property
    def reducer(self) -> str:
        """The reducer's short name."""
        return embed.reducer_name(self.params)

    @property
    def title(self) -> str:
        """The reducer's display name (``UMAP``, ``PCA``, ``t-SNE``)."""
        return embed.REDUCER_TITLES[self.reducer]


def controls(n_points: int) -> MapChoice:
    """The sidebar: reducer picker, its parameters in a form, and the colouring."""
    links.map_defaults(n_points)
    with st.sidebar:
        reducer = st.radio(
            "Map", list(embed.REDUCERS), format_func=embed.REDUCER_TITLES.get, key=links.REDUCER_PICKER, horizontal=True,
            help="UMAP keeps local and some global structure; PCA is linear and instant; t-SNE keeps local "
                 "neighbourhoods and is slow (scikit-learn's, one core).",
        )  # fmt: skip
        keys = links.REDUCER_WIDGETS[reducer]
        with st.form(f"{reducer}-settings"):
            st.markdown(f"**{embed.REDUCER_TITLES[reducer]} settings**")
            help_sample = "Stratified by label."
            if reducer == "tsne":
                help_sample += f" t-SNE takes 20-90 s for {links.TSNE_SAMPLE:,} points on two cores, minutes for 10,000."
            sample = st.number_input("Sample size", 50, n_points, step=500, key=keys["sample"], help=help_sample)
            if reducer == "umap":
                params: embed.ReducerParams = embed.UMAPParams(
                    int(st.number_input("n_neighbors", 2, 200, key=keys["n_neighbors"])),
                    float(st.number_input("min_dist", 0.0, 1.0, step=0.05, key=keys["min_dist"])),
                    st.selectbox("metric", embed.METRICS, key=keys["metric"]),
                    int(st.number_input("seed", 0, 2**31 - 1, key=keys["random_state"])),
                )
            elif reducer == "tsne":
                params = embed.TSNEParams(
                    float(st.number_input("perplexity", 2.0, 100.0, step=5.0, key=keys["perplexity"])),
                    int(st.number_input("seed", 0, 2**31 - 1, key=keys["random_state"])),
                )
            else:
                params = embed.PCAParams()
                st.caption("PCA has no parameters: the first two principal components.")
            st.form_submit_button("Compute the map", type="primary")
        colour = st.selectbox("Colour by", list(plots.COLOUR_MODES), format_func=plots.COLOUR_MODES.get,
                              key=links.COLOUR_PICKER)  # fmt: skip
    return MapChoice(params, None if sample >= n_points else int(sample), colour)


def compute(record, outputs: np.ndarray, rep_key: str, dataset: datasets.Dataset, split: str,
            choice: MapChoice) -> pipeline.Embedding | None:  # fmt: skip
    """The map from the workspace, or computed by a job, with a PCA preview of the same points meanwhile.

    Returns ``None`` after showing the reason when the map cannot be made.
    """
    _, labels = dataset.split(split)
    key = pipeline.embedding_key(rep_key, choice.sample_size, 0, choice.params)
    emb = pipeline.load_embedding(resources.workspace(), key)
    if emb is not None:
        return emb
    preview = st.empty()
    if choice.reducer != "pca":
        sample = embed.stratified_sample(labels, choice.sample_size)
        with preview.container():  # a PCA of at most 10,000 points takes well under a second
            st.plotly_chart(
                plots.scatter_map(embed.pca_embed(outputs[sample]), sample, labels[sample], class_names=dataset.class_names,
                                  title=f"PCA preview — the {choice.title} map replaces it when ready", axis_name="PCA"),
                key="pca-preview",
            )  # fmt: skip
    emb = results.embedding(record, outputs, rep_key, labels, choice.sample_size, choice.params,
                            label=f"Computing the {choice.title} map")  # fmt: skip
    preview.empty()
    return emb


def predictions(model_id: str, dataset_key: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The model's predicted label and its probability for every image of a split (a job, kept in memory)."""
    return results.predictions(model_id, dataset_key, split)


def map_metrics(emb_key: str, reps: np.ndarray, labels: np.ndarray, coords: np.ndarray) -> dict | None:
    """:func:`featlib.metrics.layer_metrics` of a map's points, on at most :data:`METRICS_SAMPLE` of them (a job)."""
    return results.layer_metrics(emb_key, reps, labels, coords, METRICS_SAMPLE)


def show_metrics(scores: dict, title: str, model_accuracy: float) -> None:
    """The map's figures in a row of metrics, with the sample they were scored on."""
    cols = st.columns(3) + st.columns(3)
    cols[0].metric("points", f"{scores['n']:,}")
    cols[1].metric("10-NN accuracy of the map", f"{scores['knn_acc_2d']:.3f}",
                   help=f"5-fold cross-validated accuracy of a 10-nearest-neighbour classifier on the 2-D {title} map.")  # fmt: skip
    cols[2].metric("trustworthiness", f"{scores['trustworthiness']:.3f}",
                   help="scikit-learn's trustworthiness (10 neighbours): 1 when no point's neighbours on the map "
                        "are strangers in the layer.")  # fmt: skip
    cols[3].metric("model accuracy on these points", f"{model_accuracy:.3f}")
    cols[4].metric("10-NN accuracy of the layer", f"{scores['knn_acc']:.3f}",
                   help="The same classifier in the layer's own space: what the map could keep.")  # fmt: skip
    cols[5].metric("linear probe", f"{scores['probe_acc']:.3f}",
                   help="5-fold accuracy of a logistic regression reading the layer.")  # fmt: skip
    sampled = f"scored on a stratified sample of {scores['sample']:,}" if scores["sample"] < scores["n"] else "scored on all"
    st.caption(f"Metrics {sampled} of the map's {scores['n']:,} points · silhouette by label in the layer "
               f"{scores['silhouette']:.3f}.")  # fmt: skip


def show_images(selected: np.ndarray, images: np.ndarray, labels: np.ndarray, predicted: np.ndarray,
                class_names, title: str) -> None:  # fmt: skip
    """The selected points' images, their label counts, and the misclassified among them with captions."""
    st.subheader(title)
    left, right = st.columns([3, 2])
    shown = selected[:MONTAGE_MAX]
    left.image(plots.montage(images[shown], columns=15), caption=f"the first {len(shown)} of {len(selected):,} images",
               width="stretch")  # fmt: skip
    right.plotly_chart(plots.label_counts(labels[selected], class_names), key="counts")
    wrong = selected[predicted[selected] != labels[selected]]
    if len(wrong):
        st.markdown(f"**Misclassified among them: {len(wrong):,}** (true → predicted)")
        first = wrong[:CAPTIONED_MAX]
        st.image([255 - plots.upscale(images[i]) for i in first],
                 caption=[f"#{i}: {class_names[labels[i]]} → {class_names[predicted[i]]}" for i in first], width=84)  # fmt: skip


def select_misclassified(context: tuple[str, str, str], wrong: np.ndarray) -> None:
    """Colours the map by correctness and selects the misclassified points (a button's callback)."""
    st.session_state[links.COLOUR_PICKER] = "correct"
    links.put_selection(context, wrong)


def remember_selection(event, figure, context: tuple[str, str, str], selected: np.ndarray) -> bool:
    """Keeps a new box or lasso selection on ``figure``; True when it differs from ``selected``.

    The page then reruns, so that the selection is outlined on the map and
    carried in the link (a chart redrawn with the outline loses the
    selection Streamlit reported, so it is kept in the session).
    """
    points = event.selection.points if event and event.selection else []
    if not points:
        return False
    chosen = plots.selected_indices(points, figure)
    if np.array_equal(chosen, selected):
        return False
    links.put_selection(context, chosen)
    return True


def selection(context: tuple[str, str, str], n_points: int) -> np.ndarray:
    """The kept selection of ``context`` (dataset indices); indices past the split's end are dropped, saying so."""
    kept = np.array(links.get_selection(context), dtype=int)
    outside = kept[kept >= n_points]
    if len(outside):
        st.warning(f"The split has {n_points:,} images; points {outside[:5].tolist()} of the selection do not exist "
                   "and are left out.")  # fmt: skip
        kept = kept[kept < n_points]
        links.put_selection(context, kept)
    return kept
