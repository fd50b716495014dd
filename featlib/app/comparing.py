"""The Compare page's glue: the panel editor, presets, panel maps, linked selection, links.

The comparison shown is a :class:`featlib.share.compare.CompareView` kept in the
session (and in the URL); the editor's widgets are a draft until "Compare"
applies them, so that picking models and layers does not start a UMAP fit at
every click. Presets and links apply at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from featlib import datasets, models, pipeline
from featlib.app import actions, links, maps, resources, results, state, text, widgets
from featlib.errors import FeatlibError
from featlib.maps import align, embed
from featlib.maps.embed import REDUCER_TITLES
from featlib.maps.reducer_params import COMPARE_SAMPLE
from featlib.read import reductions
from featlib.read.extract import METHODS
from featlib.share import compare
from featlib.share.compare import CompareError, CompareView, Panel, SelectionState
from featlib.share.thumbnails import MapPoints
from featlib.store import ModelRecord, WorkspaceError
from featlib.store.saved_views import MAX_TITLE

VIEW = "featlib.share.compare.view"
SELECTION = "featlib.share.compare.selection"
TRACES = "featlib.share.compare.traces"
_RESTORED = "featlib.share.compare.link_restored"
LINK_ERROR = "featlib.share.compare.link_error"
DEFAULT_SAMPLE = COMPARE_SAMPLE
METRICS_SAMPLE = 2_000
MONTAGE_MAX = 120  # selected images a page of the grid shows
"""Points scored per panel at most (a label-stratified sample of the map's points)."""
N_PANELS, SAMPLE, SPLIT, FOLLOW, K = "cmp_n", "cmp_sample", "cmp_split", "cmp_follow", "cmp_k"
SPLIT_POINTS = "cmp_split_points"
"""The number of images of the split the editor shows, for the callbacks that apply it."""
SAMPLE_MIN = 10
DIMS = "cmp_3d"
"""Widget key of the Compare page's "3-D maps" toggle (a :class:`CompareView`'s ``dims``, ``dims=3`` in its link)."""
THREE_D_HELP = (
    "Every panel in three dimensions (the same reducer with n_components=3), turned onto panel 1 in space, in the "
    "same colours: drag a panel to turn it, hover a point for its index and follow it by that index. Box and lasso "
    "selection are 2-D only (a 3-D chart sends no selection); a selection made in 2-D stays highlighted."
)
ALIGN = "cmp_align"
"""Widget key of the panels' alignment (a key of :data:`ALIGNMENTS`)."""
ALIGNMENTS = {"rotate": "turn onto panel 1", "off": "off"}
"""How the panels are aligned: rotation and reflection onto panel 1 (no scaling), or not at all."""
"""The smallest sample a comparison offers (:class:`featlib.share.compare.CompareView`'s rule; all points when fewer)."""


PAGE = "compare"
SELECTED_PAGE = "cmp_selected_page"
"""Widget key of the page picker of the selected points' images."""


def keep_for_data(dataset_key: str, split: str) -> None:
    """Drops the selection, the followed point, the panels' chart selections and the image page when the
    comparison's data (dataset and split) is not the one they were made on (see :func:`state.keep_for_data`)."""
    keys = [SELECTION, TRACES, FOLLOW, SELECTED_PAGE, *(panel_key("map", i) for i in range(compare.MAX_PANELS))]
    widgets.keep_for_data(PAGE, dataset_key, split, keys)


def panel_key(field: str, i: int) -> str:
    """The widget key of one panel's field (``model``, ``layer``, ``method``, ``reducer``, ``map``)."""
    return f"cmp_{field}_{i}"


# The view, links -------------------------------------------------------------


def current_view() -> CompareView | None:
    """The comparison applied in this session, if any."""
    return st.session_state.get(VIEW)


def apply(view: CompareView) -> None:
    """Shows ``view``: sets it, the editor's widgets and the carried dataset; clears the selection.

    Safe in widget callbacks (it only writes session state).
    """
    st.session_state[VIEW] = view
    st.session_state[SELECTION] = SelectionState()
    state.claim_data(PAGE, (view.dataset, view.split))
    state.put(state.DATASET, view.dataset)
    state.put(state.REDUCTION, view.reduction)
    st.session_state[N_PANELS] = len(view.panels)
    st.session_state[SPLIT] = view.split
    st.session_state[SAMPLE] = view.sample
    st.session_state[FOLLOW] = view.follow
    st.session_state[K] = view.k
    st.session_state[DIMS] = view.dims == 3
    for i, panel in enumerate(view.panels):
        for field in ("model", "layer", "method", "reducer"):
            st.session_state[panel_key(field, i)] = getattr(panel, field)


def restore_from_link() -> None:
    """Once per session, opens the comparison a link's query names; explains a bad link."""
    if st.session_state.get(_RESTORED):
        return
    st.session_state[_RESTORED] = True
    query = st.query_params.to_dict()
    if query.get("view") and not compare.is_compare_query(query):  # a saved comparison's short link
        st.session_state.pop(links.LINK_ERROR, None)  # what the Explore page's reading of ?view= left is not shown here
        saved = links.saved_view(query["view"], "compare", LINK_ERROR)
        if saved is None:
            return
        query = dict(saved.query)
    if not compare.is_compare_query(query):
        return
    try:
        view = CompareView.from_query(query)
        for panel in view.panels:
            resources.record(panel.model)
        resources.dataset(view.dataset)
    except CompareError as error:
        st.session_state[LINK_ERROR] = f"This comparison link cannot be read: {error}"
        return
    except FeatlibError as error:
        st.session_state[LINK_ERROR] = (
            "This comparison link names something that is no longer in the workspace (deleted, or the "
            f"link comes from another server): {error}"
        )
        return
    apply(view)


def share(view: CompareView, maps: list[PanelMap] | None = None, labels: np.ndarray | None = None) -> None:
    """Puts ``view`` in the URL and offers to save it (a short link, ``/compare?view=<id>``) or copy its whole link.

    Args:
        view: the comparison shown.
        maps: the panels' maps (:func:`compute_panel`), drawn side by side in the saved view's thumbnail.
        labels: ``(n,)`` int true labels of the split's images, indexed by the maps' dataset indices.
    """
    points = []
    if maps and labels is not None:
        points = [
            MapPoints(m.embedding.coords, m.embedding.indices, labels[m.embedding.indices])
            for m in maps[: compare.MAX_PANELS]
        ]
    shown = []
    for panel in view.panels:
        try:
            shown.append(f"{resources.record(panel.model).name} {panel.layer}")
        except WorkspaceError:
            shown.append(f"{panel.model} {panel.layer}")
    links.copy_link(
        view.to_query(),
        "Anyone using this server opens the same comparison with this link.",
        kind="compare",
        maps=points,
        title=("Compare " + " vs ".join(shown))[:MAX_TITLE],
    )


# Editor and presets ----------------------------------------------------------


def layer_names(model_id: str) -> list[str]:
    """The layers of a saved model; empty when it cannot be loaded."""
    try:
        return [layer.name for layer in resources.model(model_id).layers]
    except (WorkspaceError, models.ModelError):
        return []


def layer_series(model_id: str) -> list[str]:
    """A saved model's hidden layers and output, as the Compare page opens on them (:func:`featlib.share.compare.layer_series`)."""
    return compare.layer_series(resources.model(model_id))


def _base_view(panels: list[Panel]) -> CompareView:
    """A view of ``panels`` with the editor's shared choices (dataset, split, sample, follow, k) and the carried reduction."""
    sample = st.session_state.get(SAMPLE, DEFAULT_SAMPLE)
    if sample is not None and sample >= st.session_state.get(SPLIT_POINTS, sample + 1):
        sample = None  # every point of the split, however few
    return CompareView(
        state.get(state.DATASET),
        tuple(panels),
        st.session_state.get(SPLIT, "train"),
        sample,
        st.session_state.get(FOLLOW),
        int(st.session_state.get(K, compare.DEFAULT_K)),
        state.get(state.REDUCTION),
    )


def _apply_preset(build) -> None:
    """A button callback: builds panels and applies them, or leaves the reason for the page."""
    try:
        panels = build()
        if len(panels) < compare.MIN_PANELS:
            raise CompareError(f"This preset gives {len(panels)} panel; a comparison needs at least two.")
        apply(_base_view(panels))
    except (CompareError, WorkspaceError, models.ModelError) as error:
        st.session_state[LINK_ERROR] = str(error)


def presets(records: list[ModelRecord], reducer: str) -> None:
    """The quick comparisons of the carried model (or the first panel's)."""
    trained = [r.id for r in records if not r.meta.get("checkpoint_of")] or [records[0].id]
    model_id = st.session_state.get(panel_key("model", 0)) or state.get(state.MODEL) or trained[0]
    if model_id not in {r.id for r in records}:
        model_id = trained[0]
    names = layer_names(model_id)
    layer = state.get(state.LAYER)  # the layer picked on the other pages, else the model's default
    if layer not in names:
        layer = models.default_layer(resources.model(model_id)) if names else ""
    method = state.get(state.METHOD)
    name = {r.id: r.name for r in records}[model_id]
    text.caption(text.md("Quick comparisons of **{}**, layer **{}**, by {}:", name, layer, REDUCER_TITLES[reducer]))

    def chosen_reducer() -> str:  # read when the button is pressed, not when it was drawn
        return st.session_state.get(panel_key("reducer", 0), reducer)

    series = layer_series(model_id) if names else []
    shown = series[-compare.MAX_PANELS :]
    checkpoints = compare.checkpoints_of(records, compare.final_model_of(records, model_id))
    row = st.container(horizontal=True, gap="small")  # buttons as wide as their labels; the row wraps
    row.button(
        "Layer by layer",
        on_click=_apply_preset,
        disabled=len(series) < compare.MIN_PANELS,
        args=(lambda: compare.all_layers(model_id, series, method, chosen_reducer()),),
        help=text.escape(
            f"{', '.join(shown)}: the hidden layers and the output, input side first"
            + (f" (the last {compare.MAX_PANELS})" if len(series) > compare.MAX_PANELS else "")
            + "."
            if len(series) >= compare.MIN_PANELS
            else "The model has a single layer to show."
        ),
    )
    row.button(
        "This layer across checkpoints",
        on_click=_apply_preset,
        disabled=not checkpoints,
        args=(lambda: compare.across_checkpoints(records, model_id, layer, method, chosen_reducer()),),
        help="The checkpoints saved while training this model (epoch 1, ...) against the trained model."
        if checkpoints
        else "This model has no checkpoints: train one with 'Save checkpoints after epoch' "
        "(e.g. 1, 5) on the Model page to compare a layer across epochs.",
    )
    row.button(
        "Function vs sub-model",
        on_click=_apply_preset,
        args=(lambda: compare.both_methods(model_id, layer, chosen_reducer()),),
    )
    if not checkpoints:
        text.caption(
            f"{name} has no checkpoints, so it cannot be compared across epochs: train one with "
            "'Save checkpoints after epoch' on the Model page."
        )


def editor(records: list[ModelRecord], dataset: datasets.Dataset) -> None:
    """The panels' widgets (a draft) and the button that applies them."""
    by_id = {r.id: r for r in records}
    view = current_view()
    st.session_state.setdefault(N_PANELS, 2)
    if st.session_state.get(SPLIT) not in dataset.splits:
        st.session_state[SPLIT] = widgets.split_of(dataset)
    n_points = len(dataset.split(st.session_state[SPLIT])[1])
    st.session_state[SPLIT_POINTS] = n_points
    st.session_state.setdefault(SAMPLE, min(DEFAULT_SAMPLE, n_points))
    low = min(SAMPLE_MIN, n_points)
    if st.session_state[SAMPLE] is not None:  # None: all the points (a link's "all")
        st.session_state[SAMPLE] = min(max(int(st.session_state[SAMPLE]), low), n_points)
    top = st.columns([1, 1, 1, 3])
    n = top[0].number_input("Panels", compare.MIN_PANELS, compare.MAX_PANELS, key=N_PANELS)
    top[1].selectbox("Images", dataset.splits, key=SPLIT, format_func=lambda s: f"{s} split")
    top[2].number_input(
        "Sample size",
        low,
        n_points,
        step=500,
        key=SAMPLE,
        placeholder="all",
        help=f"The same label-stratified sample in every panel: {low:,} to all {n_points:,} points of the split.",
    )
    cols = st.columns(int(n))
    trained = [r.id for r in records if not r.meta.get("checkpoint_of")] or [records[0].id]
    default_model = state.get(state.MODEL) if state.get(state.MODEL) in by_id else trained[0]
    panels = []
    for i, col in enumerate(cols):
        with col.container(border=True):
            text.markdown(text.md("**Panel {}**", i + 1))
            model_key, layer_key = panel_key("model", i), panel_key("layer", i)
            if st.session_state.get(model_key) not in by_id:
                st.session_state[model_key] = default_model
            model_id = st.selectbox("Model", list(by_id), key=model_key, format_func=lambda m: by_id[m].label)
            names = layer_names(model_id)
            if not names:
                text.error(f"{by_id[model_id].name} cannot be loaded.")
                continue
            if st.session_state.get(layer_key) not in names:  # an empty editor opens on the model's hidden layers
                opening = compare.opening_panels(model_id, layer_series(model_id), int(n))
                st.session_state[layer_key] = opening[i].layer
            layer = st.selectbox("Layer", names, key=layer_key)
            method = st.selectbox("Method", list(METHODS), key=panel_key("method", i), format_func=METHODS.get)
            reducer = st.selectbox(
                "Reducer", list(REDUCER_TITLES), key=panel_key("reducer", i), format_func=REDUCER_TITLES.get
            )
            panels.append(Panel(model_id, layer, method, reducer))
    label = "Compare" if view is None else "Compare these panels"
    st.button(label, type="primary", disabled=len(panels) < len(cols), on_click=_apply_editor, args=(int(n),))


def _apply_editor(n: int) -> None:
    """The Compare button's callback: applies the panels the editor's widgets hold."""

    def panels() -> list[Panel]:
        fields = ("model", "layer", "method", "reducer")
        return [Panel(*(st.session_state[panel_key(f, i)] for f in fields)) for i in range(n)]

    _apply_preset(panels)


# Panels ------------------------------------------------------------------------


@dataclass
class PanelMap:
    """One panel's results: its model's record, the layer's representation (how it was read, its outputs) and the map."""

    panel: Panel
    record: ModelRecord
    outputs: np.ndarray
    embedding: pipeline.Embedding
    predicted: np.ndarray
    representation: reductions.Representation | None = None
    note: str = ""
    """How the reducer's defaults were fitted to a small sample (:func:`featlib.app.maps.params_for`), or ''."""

    @property
    def layer_title(self) -> str:
        """The layer as the panel read it: ``"conv2d (global average pooling, 32 of 26×26×32)"``, or its name."""
        return self.representation.title if self.representation is not None else self.panel.layer


def panel_title(record: ModelRecord, panel: Panel, layer_title: str | None = None) -> str:
    """A short title: model, layer (``layer_title``: with its reduction), method, reducer."""
    method = "K.function" if panel.method == "function" else "Model.predict"
    return f"{record.name} · {layer_title or panel.layer} · {method} · {REDUCER_TITLES[panel.reducer]}"


def compute_panel(
    panel: Panel,
    dataset_key: str,
    dataset: datasets.Dataset,
    split: str,
    sample: int | None,
    reduction: str = reductions.AUTO,
    dims: int = 2,
) -> PanelMap | None:
    """A panel's map from the workspace, or computed with progress; ``None`` after an ``st.error``.

    ``reduction`` (a key of :data:`featlib.read.reductions.CHOICES`) applies when the panel's layer has spatial axes;
    ``dims``: a 2-D or a 3-D map (2 or 3).
    """
    try:
        record = resources.record(panel.model)
        model = resources.model(panel.model)
        models.check_layer(model, panel.layer)
        models.adapt_images(dataset.split(dataset.splits[0])[0][:1], model, record.input_scale)
    except WorkspaceError as error:
        text.error(f"Panel {panel.model}: {error}")
        return None
    except models.ModelError as error:
        text.error(f"{resources.record(panel.model).name} cannot be shown on {dataset.name}: {error}")
        return None
    outputs, rep_key = actions.representation(record, model, dataset, split, panel.layer, panel.method, reduction)
    if outputs is None:
        return None
    rep = reductions.for_layer(model, panel.layer, reduction, strict=False)
    _, labels = dataset.split(split)
    title = f"{REDUCER_TITLES[panel.reducer]} of {record.name} · {rep.title}"
    points = min(sample or len(labels), len(labels))
    params, note = maps.params_for(panel.params(dims), points)
    try:
        embed.check_points(params, points)
    except embed.ReducerError as error:
        text.info(f"No {title}: {error}", icon=":material/info:")
        return None
    emb = results.embedding(record, outputs, rep_key, labels, sample, params, label=f"Computing the {title}")
    if emb is None:
        return None
    predicted, _ = results.predictions(record.id, dataset_key, split)
    return PanelMap(panel, record, outputs, emb, predicted, rep, note)


FIGURES = {
    "knn_acc": "10-NN layer",
    "knn_acc_2d": "10-NN map",
    "probe_acc": "linear probe",
    "silhouette": "silhouette",
    "trustworthiness": "trustworthiness",
}
"""The metrics table's figures: key of :func:`featlib.metrics.layer_metrics`'s result → column."""


def figures_text(scores: dict) -> tuple[dict[str, str], list[str]]:
    """A panel's figures as its caption prints them (``n/a`` when not computed), and why each n/a is, once each."""
    shown, reasons = {}, []
    for key, title in FIGURES.items():
        text = widgets.score(scores.get(key))
        shown[key] = text if widgets.computed(scores.get(key)) else "n/a"
        if not widgets.computed(scores.get(key)) and f"{title}: {text}" not in reasons:
            reasons.append(f"{title}: {text}")
    return shown, reasons


def metrics_table(table: list[dict]) -> None:
    """The Compare page's metrics table, one row per panel, fitted to the page's width.

    Each row holds the panel's ``map`` (its title: model · layer · method · reducer), its ``model``,
    ``layer``, ``method`` and ``reducer``, ``model acc.`` and where it was ``measured on``, the
    :data:`FIGURES` and ``points scored``. The table shows the map's title for the four fields it
    joins and says once, under the table, where the accuracies were measured, so that every
    column fits 1280 pixels without scrolling sideways.
    """
    frame = pd.DataFrame(table).set_index("panel")
    numbers = {name: st.column_config.NumberColumn(name, format="%.3f") for name in ("model acc.", *FIGURES.values())}
    numbers["trustworthiness"] = st.column_config.NumberColumn(
        "trust", format="%.3f", help="The map's trustworthiness (10 neighbours)."
    )
    numbers["linear probe"] = st.column_config.NumberColumn(
        "probe", format="%.3f", help="A linear probe's accuracy in the layer."
    )
    st.dataframe(
        frame,
        width="stretch",
        column_order=("map", "model acc.", *FIGURES.values(), "points scored"),
        column_config={
            "panel": st.column_config.NumberColumn("panel", width=50),
            "map": st.column_config.TextColumn("map", help="model · layer · method · reducer"),
            "points scored": st.column_config.NumberColumn("points", format="%d"),
            **numbers,
        },
    )
    measured = list(dict.fromkeys(str(row.get("model acc. measured on", "")) for row in table))
    if len(measured) == 1:
        text.caption(f"Model accuracy measured on {measured[0]}.")
    else:
        text.caption(
            "Model accuracy measured on: "
            + "; ".join(f"panel {row['panel']}: {row.get('model acc. measured on', '')}" for row in table)
            + "."
        )


def number(value: object) -> float:
    """A figure for a table column of numbers: itself, or NaN (a blank) when it could not be computed."""
    return float(value) if widgets.computed(value) else float("nan")


def scores(result: PanelMap, labels: np.ndarray) -> dict | None:
    """The panel's figures on at most :data:`METRICS_SAMPLE` of its map's points (a job, kept per map)."""
    idx = result.embedding.indices
    return results.layer_metrics(
        result.embedding.key, result.outputs[idx], labels[idx], result.embedding.coords, METRICS_SAMPLE
    )


# Linked selection --------------------------------------------------------------


def linked_selection(n_panels: int) -> np.ndarray:
    """The points selected in any panel (the latest selection), to highlight in all of them."""
    current = {}
    drawn = st.session_state.get(TRACES, {})
    for i in range(n_panels):
        event = st.session_state.get(panel_key("map", i))
        selection = event.get("selection") if hasattr(event, "get") else None
        points = (selection or {}).get("points") or []
        current[str(i)] = compare.indices_from_points(points, drawn.get(i))
    before = st.session_state.get(SELECTION, SelectionState())
    after = compare.linked_selection(before, current)
    st.session_state[SELECTION] = after
    return np.array(after.selected, dtype=int)


def fit_neighbours(n_points: int) -> int:
    """The most neighbours a point of ``n_points`` has (at most :data:`featlib.share.compare.MAX_K`); a larger
    "Neighbours shown" (a link's, or the default on a tiny split) is lowered to it, saying so."""
    most = max(1, min(compare.MAX_K, n_points - 1))
    asked = st.session_state.get(K, compare.DEFAULT_K)
    if asked > most:
        text.caption(
            f"{asked} neighbours asked for; the {n_points:,} images of the split give each point at most "
            f"{most}, so {most} are shown."
        )
        st.session_state[K] = most
    st.session_state.setdefault(K, compare.DEFAULT_K)
    return most


def follow(index: int) -> None:
    """A button callback: follow the point ``index`` in every panel."""
    st.session_state[FOLLOW] = index


def clear_selection() -> None:
    """A button callback: no point selected any more."""
    st.session_state[SELECTION] = SelectionState()


def aligned_maps(maps: list[PanelMap], alignment: str) -> tuple[list[np.ndarray], list[align.Similarity | None]]:
    """The panels' coordinates as drawn: turned and mirrored onto panel 1 (``"rotate"``, no scaling), or as made
    (``"off"``); with the transform of each (``None`` when not aligned).

    Scaling is never fitted: a layer of another width maps to another spread, and a least-squares scale shrank
    a poorly matching map to a few dots in the middle of shared axes. Each panel is then zoomed to its own
    points (:func:`featlib.maps.align.own_ranges`).
    """
    raw = [(m.embedding.indices, m.embedding.coords) for m in maps]
    if alignment == "off":
        return [np.asarray(coords, dtype="float32") for _, coords in raw], [None] * len(raw)
    return align.align_maps(raw, scale=False)


def alignment_note(i: int, fit: align.Similarity | None, alignment: str) -> str:
    """What a panel's caption says of its alignment."""
    if alignment == "off" or fit is None:
        return "not aligned"
    if i == 0:
        return "reference"
    turned = "mirrored and turned" if np.linalg.det(fit.rotation) < 0 else "turned"
    return f"{turned} onto panel 1, not scaled"


def remember_traces(i: int, figure) -> None:
    """Keeps the dataset index of every point of the figure drawn in panel ``i``."""
    st.session_state.setdefault(TRACES, {})[i] = [np.asarray(t.customdata)[:, 0].astype(int) for t in figure.data]
