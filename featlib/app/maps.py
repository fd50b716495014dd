"""The Explore page's map: reducer and colour controls, the map with a preview, its metrics, the images.

Everything the page shows of a map goes through here, so the page stays a
short list of calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import streamlit as st

from featlib import datasets, keys, metrics, pipeline, plots
from featlib.app import links, map_search, resources, results, shortcuts, text, theme, widgets
from featlib.maps import embed, reducer_params
from featlib.maps.neighbour_change import NeighbourChange

METRICS_SAMPLE = results.METRICS_SAMPLE
MONTAGE_MAX = 120
CAPTIONED_MAX = 40
SELECTED_PAGE, WRONG_PAGE = "selected_page", "wrong_page"
"""Widget keys of the page pickers of the selected and the misclassified images."""
MAP_WIDTH, SIDE_WIDTH, MAP_HEIGHT = 600, 340, 520
"""Pixels of the Explore map and of the column beside it (the point inspector, the figures): both fit a
1440-pixel window beside the sidebar; a narrower page puts the column under the map. The map's height
fits a 768-pixel window under the page's title."""
PROBABILITY_TOLERANCE = 1e-3
THREE_D_HELP = (
    "The same reducer in three dimensions (UMAP, PCA or t-SNE with n_components=3), in the same colours: drag to turn "
    "it, scroll to zoom, hover a point for its index. A 3-D map is a map of its own (computed and kept apart from the "
    "2-D one), carried in links as dims=3. Box and lasso selection, class contours, placing other images and comparing "
    "seeds are 2-D only; the chart sends no clicks in 3-D, so a point is inspected by its index."
)


@dataclass(frozen=True)
class MapChoice:
    """What the sidebar asks for: a reducer with its parameters (``params.dims``: a 2-D or a 3-D map), a sample size,
    a colouring and whether the classes' contours and labels are drawn (never on a 3-D map)."""

    params: embed.ReducerParams
    sample_size: int | None
    colour: str
    contours: bool = False

    @property
    def reducer(self) -> str:
        """The reducer's short name."""
        return embed.reducer_name(self.params)

    @property
    def title(self) -> str:
        """The reducer's display name (``UMAP``, ``PCA``, ``t-SNE``)."""
        return embed.REDUCER_TITLES[self.reducer]

    @property
    def three_d(self) -> bool:
        """Whether the map is 3-D (``params.dims == 3``)."""
        return self.params.dims == 3


def controls(n_points: int) -> MapChoice:
    """The sidebar: reducer picker, its parameters in a form, and the colouring.

    Every range follows the ``n_points`` points of the split (:func:`featlib.app.links.widget_range`); a
    link's value outside it is replaced and named on the page (:func:`featlib.app.links.fit_to_data`).
    """
    links.map_defaults(n_points)
    links.fit_to_data(n_points)
    bounds = {
        name: links.widget_range(name, n_points)
        for name in ("sample", "n_neighbors", "perplexity", "min_dist", "random_state")
    }
    umap, tsne = reducer_params.UMAP, reducer_params.TSNE  # the widgets' steps and defaults
    with st.sidebar:
        reducer = st.radio(
            "Map",
            list(embed.REDUCERS),
            format_func=embed.REDUCER_TITLES.get,
            key=links.REDUCER_PICKER,
            horizontal=True,
            help="UMAP keeps local and some global structure; PCA is linear and instant; t-SNE keeps local "
            "neighbourhoods and is slower (openTSNE's, one core).",
        )
        three_d = st.toggle("3-D map", key=links.DIMS_TOGGLE, help=text.escape(THREE_D_HELP))
        keys = links.REDUCER_WIDGETS[reducer]
        with st.form(f"{reducer}-settings"):
            text.markdown(text.md("**{} settings**", embed.REDUCER_TITLES[reducer]))
            help_sample = "Stratified by label."
            if reducer == "tsne":
                help_sample += (
                    f" t-SNE (openTSNE, one core) maps {links.TSNE_SAMPLE:,} points in about the time UMAP takes "
                    "for 10,000 (8-16 s on two cores); 10,000 take 40-130 s."
                )
            help_sample += f" From {bounds['sample'][0]:,} to all {n_points:,} points of the split."
            st.number_input(
                "Sample size",
                *bounds["sample"],
                step=int(reducer_params.SAMPLE.step),
                key=keys["sample"],
                help=help_sample,
            )
            if reducer == "umap":
                low, high = bounds["n_neighbors"]
                st.number_input(
                    "n_neighbors",
                    low,
                    high,
                    key=keys["n_neighbors"],
                    help=f"{low} to {high} for {n_points:,} points: fewer than the points, "
                    f"at most {embed.MAX_N_NEIGHBORS}.",
                )
                st.number_input("min_dist", *bounds["min_dist"], step=umap["min_dist"].step, key=keys["min_dist"])
                st.selectbox(
                    "metric",
                    embed.METRICS,
                    key=keys["metric"],
                    help="auto: euclidean or correlation, whichever keeps the digits apart better "
                    "in a short trial map of 2,000 of the points (the 10-NN accuracy of each); "
                    f"euclidean when UMAP reads fewer than {embed.ANGULAR_MIN_UNITS} columns "
                    "(bench/defaults_study.py).",
                )
                st.number_input("seed", *bounds["random_state"], key=keys["random_state"])
                if embed.max_n_neighbors(n_points) is not None and high < embed.UMAPParams().n_neighbors:
                    text.caption(
                        f"{n_points:,} points: n_neighbors is at most {high} (default "
                        f"{embed.UMAPParams().n_neighbors})."
                    )
            elif reducer == "tsne":
                low, high = bounds["perplexity"]
                st.number_input(
                    "perplexity",
                    low,
                    high,
                    step=tsne["perplexity"].step,
                    key=keys["perplexity"],
                    help=f"{low:g} to {high:g} for {n_points:,} points: less than a third "
                    f"of the points, at most {embed.MAX_PERPLEXITY:g}.",
                )
                st.number_input("seed", *bounds["random_state"], key=keys["random_state"])
                if embed.max_perplexity(n_points) is not None and high < embed.TSNEParams().perplexity:
                    text.caption(
                        f"{n_points:,} points: perplexity is at most {high:g} (default "
                        f"{embed.TSNEParams().perplexity:g})."
                    )
            else:
                text.caption(f"PCA has no parameters: the first {'three' if three_d else 'two'} principal components.")
            st.form_submit_button("Compute the map", type="primary", shortcut=shortcuts.keys("compute"))
        st.selectbox("Colour by", list(plots.COLOUR_MODES), format_func=plots.COLOUR_MODES.get, key=links.COLOUR_PICKER)
        if three_d:  # the toggle keeps its value for the 2-D map
            text.caption("Contours and class labels are drawn on 2-D maps only.")
        else:
            map_search.contours_toggle()
    return current_choice(n_points)


def current_choice(n_points: int) -> MapChoice:
    """The map the session's choices ask for, read from its state: what :func:`controls` returns once its widgets
    are drawn, and, without them, the map a page draws before it has its controls (:mod:`featlib.app.stored_map`).

    The choices are set (:func:`featlib.app.links.map_defaults`, which :func:`controls` calls before its widgets);
    a sample of all ``n_points`` points is ``None``.
    """
    reducer = st.session_state[links.REDUCER_PICKER]
    values = {name: st.session_state[key] for name, key in links.REDUCER_WIDGETS[reducer].items()}
    sample = int(values.pop("sample"))
    three_d = bool(st.session_state[links.DIMS_TOGGLE])
    table = reducer_params.TABLES[reducer]
    params = embed.REDUCERS[reducer](
        **{
            name: table[name].rule.kind(value) if isinstance(table[name].rule, reducer_params.Interval) else value
            for name, value in values.items()
        }
    )
    params = replace(params, dims=3 if three_d else 2)
    contours = not three_d and bool(st.session_state[links.CONTOURS_TOGGLE])
    return MapChoice(params, None if sample >= n_points else sample, st.session_state[links.COLOUR_PICKER], contours)


def map_figure(
    choice: MapChoice,
    emb: pipeline.Embedding,
    labels: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    class_names: list[str],
    colour: str | None = None,
    **marks,
):
    """The Explore map's figure (:func:`featlib.plots.scatter_map`) of ``emb``'s points.

    ``labels``, ``predicted`` (int) and ``confidence`` (float) hold one value per image of the split; the map's
    points are ``emb.indices`` of them. ``colour`` overrides the choice's (``"kept"`` needs the trust job, so it
    falls back on ``"label"`` where not given); ``marks`` are :func:`featlib.plots.scatter_map`'s highlight, kept,
    unit and unit_title.
    """
    return plots.scatter_map(
        emb.coords,
        emb.indices,
        labels[emb.indices],
        predicted[emb.indices],
        class_names,
        axis_name=choice.title,
        colour=colour or ("label" if choice.colour == "kept" else choice.colour),
        confidence=confidence[emb.indices],
        height=MAP_HEIGHT,
        contours=choice.contours,
        **marks,
    )


def params_for(params: embed.ReducerParams, n_points: int) -> tuple[embed.ReducerParams, str]:
    """A reducer's default ``params`` fitted to a map of ``n_points`` points, and a note saying how ('' when unchanged).

    UMAP's ``n_neighbors`` stays below the number of points and t-SNE's
    ``perplexity`` below a third of it (:func:`featlib.maps.embed.max_n_neighbors`,
    :func:`featlib.maps.embed.max_perplexity`), so that the Layers and Compare pages,
    which have no parameter widgets, still map small samples. Points too few
    for the reducer at all get its smallest parameters, so that
    :func:`featlib.maps.embed.check_points` names the fewest points it needs.
    """
    if isinstance(params, embed.UMAPParams):
        most = embed.max_n_neighbors(n_points)
        if most is None:  # too few for any n_neighbors: check_points then names the least it needs
            return replace(params, n_neighbors=2), ""
        if params.n_neighbors > most:
            return replace(params, n_neighbors=most), (
                f"UMAP with n_neighbors={most}, fewer than the {n_points:,} points (default {params.n_neighbors})"
            )
    elif isinstance(params, embed.TSNEParams):
        most = embed.max_perplexity(n_points)
        if most is None:
            return replace(params, perplexity=embed.TSNE_MIN_PERPLEXITY), ""
        if params.perplexity > most:
            fitted = max(embed.TSNE_MIN_PERPLEXITY, math.floor(most * 100) / 100)
            return replace(params, perplexity=fitted), (
                f"t-SNE with perplexity={fitted:g}, less than a third of the "
                f"{n_points:,} points (default {params.perplexity:g})"
            )
    return params, ""


def stored_embedding(rep_key: str, choice: MapChoice) -> pipeline.Embedding | None:
    """The map ``choice`` asks for of the representation ``rep_key``, when it is stored (no job, no Keras)."""
    return pipeline.load_embedding(
        resources.workspace(), keys.embedding_key(rep_key, choice.sample_size, 0, choice.params)
    )


def compute(
    record,
    outputs: np.ndarray,
    rep_key: str,
    dataset: datasets.Dataset,
    split: str,
    choice: MapChoice,
    slot=None,
) -> pipeline.Embedding | None:
    """The map from the workspace, or computed by a job, with a PCA preview of the same points meanwhile.

    ``slot`` (an ``st.empty``) is where the page's map and figures go, in one block: the preview's first element
    replaces that block whole while the map computes, so that no earlier map (a UMAP while t-SNE computes) or
    its figures stay under the preview.
    Returns ``None`` after showing the reason when the map cannot be made.
    """
    _, labels = dataset.split(split)
    try:
        embed.check_points(choice.params, min(choice.sample_size or len(labels), len(labels)))
    except embed.ReducerError as error:
        text.info(f"No {choice.title} map of these points: {error}", icon=":material/info:")
        return None
    emb = stored_embedding(rep_key, choice)
    if emb is not None:  # stored: no preview
        return emb
    preview = st.empty() if slot is None else slot
    if choice.reducer != "pca":
        sample = embed.stratified_sample(labels, choice.sample_size)
        with preview.container():  # a PCA of at most 10,000 points takes well under a second
            text.info(
                f"Computing the {choice.title} map of {len(sample):,} points; meanwhile a PCA of the same points. "
                "The map, its figures and the point inspector follow when it is ready.",
                icon=":material/hourglass_top:",
            )
            st.plotly_chart(
                plots.scatter_map(
                    embed.pca_embed(outputs[sample], dims=choice.params.dims),
                    sample,
                    labels[sample],
                    class_names=dataset.class_names,
                    title=f"PCA preview — the {choice.title} map replaces it when ready",
                    axis_name="PCA",
                ),
                key="pca-preview",
            )
    emb = results.embedding(
        record, outputs, rep_key, labels, choice.sample_size, choice.params, label=f"Computing the {choice.title} map"
    )
    preview.empty()
    return emb


def trust(
    outputs: np.ndarray, rep_key: str, emb: pipeline.Embedding, sample_size: int | None
) -> NeighbourChange | None:
    """Each map point's 10 nearest neighbours in the layer (Euclidean) and on the map, and how many it kept there
    (a job, :meth:`featlib.service.Service.neighbour_change`, kept in memory); ``None`` after explaining.

    ``outputs``: the layer's outputs for the whole split ``(n, d)``; the map's points are ``emb.indices``.
    """
    placed = np.zeros((len(outputs), emb.coords.shape[1]), dtype="float32")  # the map's coordinates, by dataset index
    placed[emb.indices] = emb.coords
    return results.neighbour_change((rep_key, outputs), (emb.key, placed), emb.indices, sample_size)


def predictions(model_id: str, dataset_key: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The model's predicted label and its probability for every image of a split (a job, kept in memory)."""
    return results.predictions(model_id, dataset_key, split)


def map_metrics(emb_key: str, reps: np.ndarray, labels: np.ndarray, coords: np.ndarray) -> dict | None:
    """:func:`featlib.metrics.layer_metrics` of a map's points, on at most :data:`METRICS_SAMPLE` of them (a job),
    with ``"backend"``: what made the map (``"cpu"`` or ``"gpu"``, :func:`featlib.pipeline.embedding_backend`)."""
    scores = results.layer_metrics(emb_key, reps, labels, coords, METRICS_SAMPLE)
    if scores is None:
        return None
    return {**scores, "backend": pipeline.embedding_backend(resources.workspace(), emb_key)}


def show_metrics(scores: dict, title: str, model_accuracy: float) -> None:
    """The map's figures as one small table (figure, value) beside the map, with the sample they were scored on.

    A figure the points are too few for reads ``n/a``; its reason (the metrics' own words) is under the table.
    """
    rows, missing, helps = [], [], []
    for label, value, help_text in metrics.map_figures(scores, title, model_accuracy):
        if label == "points":
            rows.append((label, f"{value:,}"))
            continue
        figure = widgets.score(value)
        rows.append((label, figure if widgets.computed(value) else "n/a"))
        if not widgets.computed(value):
            missing.append(f"{label}: {figure}")
        elif help_text:
            helps.append(f"{label}: {help_text}")
    st.table(
        pd.DataFrame(rows, columns=["figure", "value"]).set_index("figure"),
        hide_header=True,
        border="horizontal",
    )
    sampled = (
        f"scored on a stratified sample of {scores['sample']:,}" if scores["sample"] < scores["n"] else "scored on all"
    )
    made_on = {"gpu": "the GPU (RAPIDS cuML)", "cpu": "the CPU"}.get(scores.get("backend", "cpu"), "the CPU")
    text.caption(
        text.md(
            "Metrics {} of the map's {:,} points · silhouette by label in the layer {} · map made on {}.",
            sampled,
            scores["n"],
            widgets.score(scores.get("silhouette")),
            made_on,
        ),
        help=text.escape("; ".join(helps)) if helps else None,
    )
    for line in dict.fromkeys(missing):
        text.caption(line)


def are_probabilities(outputs: np.ndarray, rows: int = 2_000) -> bool:
    """Whether a layer's ``outputs`` (``(n, d)``, ``d`` ≥ 2) read as class probabilities: every value in [0, 1] and
    every row summing to 1 (a softmax output), on the first ``rows`` rows."""
    head = np.asarray(outputs[:rows], dtype="float64")
    if head.ndim != 2 or head.shape[1] < 2 or not len(head):
        return False
    tol = PROBABILITY_TOLERANCE
    return bool(head.min() >= -tol and head.max() <= 1 + tol and np.all(np.abs(head.sum(axis=1) - 1.0) <= tol))


def probabilities_note(outputs: np.ndarray, reducer_title: str) -> bool:
    """Says under the map why a map of class probabilities (a softmax output) looks empty; True when it did."""
    if not are_probabilities(outputs):
        return False
    where = (
        "PCA, a linear projection, puts each class's pile at a corner of the map and the few unsure images on "
        "the lines between"
        if reducer_title == "PCA"
        else f"{reducer_title} draws each class's pile as a tight clump"
    )
    text.caption(
        f"This layer is the model's class probabilities (every row sums to 1, as a softmax output does): a "
        f"confident model gives most images one class near 1 and the others near 0, so the images of a class "
        f"pile up on one spot and the map looks nearly empty. {where}. A hidden layer shows more structure."
    )
    return True


def trust_note(trusted: NeighbourChange, reducer_title: str) -> None:
    """Says under a map coloured by neighbourhood kept what the colour and the outlines mean, with the figures."""
    torn = int(np.sum(trusted.kept_share < plots.KEPT_TORN))
    text.caption(
        text.md(
            "Colour: the share of each point's {} nearest neighbours in the layer (Euclidean) that are also among "
            "its {} nearest on this {} map; on average **{:.0%}**. Outlined in red: the **{:,}** points that keep "
            "fewer than {:.0%}, where the map tears apart images that are neighbours in the layer (or draws "
            "strangers beside them): read the map there with care.",
            trusted.k,
            trusted.k,
            reducer_title,
            trusted.kept,
            torn,
            plots.KEPT_TORN,
        )
    )


def show_images(
    selected: np.ndarray, images: np.ndarray, labels: np.ndarray, predicted: np.ndarray, class_names, title: str
) -> None:
    """The selected points' images, their label counts, and the misclassified among them with captions."""
    text.subheader(title)
    left, right = st.columns([3, 2])
    with left:
        shown = selected[widgets.page_of(len(selected), MONTAGE_MAX, SELECTED_PAGE)]
        st.image(plots.montage(images[shown], columns=15, dark=theme.dark()), width="stretch")
    right.plotly_chart(plots.label_counts(labels[selected], class_names), key="counts")
    wrong = selected[predicted[selected] != labels[selected]]
    if len(wrong):
        text.markdown(text.md("**Misclassified among them: {:,}** (true → predicted)", len(wrong)))
        first = wrong[widgets.page_of(len(wrong), CAPTIONED_MAX, WRONG_PAGE, "misclassified images")]
        st.image(
            [theme.ink(plots.upscale(images[i])) for i in first],
            caption=[text.escape(f"#{i}: {class_names[labels[i]]} → {class_names[predicted[i]]}") for i in first],
            width=84,
        )


def select_misclassified(context: tuple[str, str, str], wrong: np.ndarray) -> None:
    """Colours the map by correctness and selects the misclassified points (a button's callback)."""
    st.session_state[links.COLOUR_PICKER] = "correct"
    links.put_selection(context, wrong)


def remember_selection(event, figure, context: tuple[str, str, str], selected: np.ndarray) -> bool:
    """Keeps a new box or lasso selection on ``figure``; True when it differs from ``selected``.

    The page then reruns, so that the selection is outlined on the map and
    carried in the link (a chart redrawn with the outline loses the
    selection Streamlit reported, so it is kept in the session). A click on
    one point is no selection: it is the point inspector's
    (:mod:`featlib.app.inspector`).
    """
    selection = event.selection if event and event.selection else {}
    points = selection.get("points") or []
    if not points or not (selection.get("box") or selection.get("lasso")):
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
        text.warning(
            text.md(
                "The split has {:,} images; points {} of the selection do not exist and are left out.",
                n_points,
                outside[:5].tolist(),
            )
        )
        kept = kept[kept < n_points]
        links.put_selection(context, kept)
    return kept
