"""The point inspector: one click on a map's point shows its image, labels, confidence and nearest neighbours.

A click (a selection of one point, no box or lasso) makes that point the
inspected one; it does not change the kept box / lasso selection. The point
is marked on the map (:func:`mark`) and shown beside it (:func:`show`): its
image large, true and predicted label, the model's confidence, and its
nearest neighbours in the layer's own space (the layer's outputs, not the
2-D map) among the map's points, found by a job
(:func:`featlib.maps.neighbours.nearest_with_distances`) with the map's metric; under its image, what the
model looked at (:mod:`featlib.app.saliency`).

On a 3-D map a click reaches no one: Streamlit (1.67) passes on a plotly chart's selections (``plotly_selected``,
which plotly's 3-D scenes never emit) and clicks on hierarchical charts only (its ``onClick`` keeps points with an
``id`` and a ``parent``: treemaps, sunbursts). So a 3-D map offers :func:`picker` under it: the index a point's hover
shows, typed, opens the same inspector.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from featlib import jobs, keys, pipeline, plots
from featlib.app import job_watch as running
from featlib.app import saliency as looked_at
from featlib.app import text, theme
from featlib.maps import embed
from featlib.maps.neighbour_change import NeighbourChange

INSPECTED = "featlib.inspected_point"
"""Session key: ``{"context", "point", "clicks"}``, the inspected point of ``(model, dataset, split)``."""
TOOL = "featlib.map_tool"
"""Session key: the map's drag tool (plotly ``dragmode``) after the last gesture: ``zoom``, ``select`` or ``lasso``."""
K_PICKER = "inspector_k"
K_CHOICES = (4, 8, 16, 32)
K_DEFAULT = 8
MARK_NAME = "inspected point"
LARGE = 112  # pixels of the inspected image (it sits beside the map, in a column of maps.SIDE_WIDTH)
THUMB = 64  # pixels of a neighbour's image: four to a row of that column
MARK_COLOUR = "#000000"
"""The inspected point's ring: black, a colour no class, colouring or selection uses."""


def single_click(event) -> dict | None:
    """The one point of ``event`` when it is a click (one point, no box or lasso), else ``None``."""
    selection = event.selection if event and event.selection else None
    if not selection:
        return None
    points = selection.get("points") or []
    if len(points) != 1 or selection.get("box") or selection.get("lasso"):
        return None
    return points[0]


def remember_click(event, figure: go.Figure, context: tuple[str, str, str]) -> bool:
    """Keeps a clicked point of ``figure`` as the inspected point of ``context``; True when there was a click.

    The page then reruns: the map is drawn again with the point marked, and
    as a new chart (each click changes the mark's ``meta``), so the chart
    holds no selection and the click is not reported twice.
    """
    selection = event.selection if event and event.selection else {}
    if selection.get("box") or selection.get("lasso"):  # the tool stays as the user left it
        st.session_state[TOOL] = "select" if selection.get("box") else "lasso"
    point = single_click(event)
    if point is None:
        return False
    st.session_state[TOOL] = "zoom"
    [index] = plots.selected_indices([point], figure)
    inspect(context, int(index))
    return True


def inspect(context: tuple[str, str, str], index: int | None) -> None:
    """Makes dataset index ``index`` the inspected point of ``context`` (``None``: closes the inspector)."""
    kept = st.session_state.get(INSPECTED) or {}
    if index is None:
        st.session_state.pop(INSPECTED, None)
        return
    st.session_state[INSPECTED] = {"context": tuple(context), "point": int(index), "clicks": kept.get("clicks", 0) + 1}


def inspected(context: tuple[str, str, str], emb: pipeline.Embedding) -> int | None:
    """The inspected point of ``context`` when it is on the map ``emb``; otherwise ``None`` (saying why)."""
    kept = st.session_state.get(INSPECTED)
    if not kept or tuple(kept["context"]) != tuple(context):
        return None
    if not np.any(emb.indices == kept["point"]):
        text.caption(
            f"Point #{kept['point']} is not among this map's {len(emb.indices):,} points: click a point to inspect it."
        )
        return None
    return int(kept["point"])


def mark(figure: go.Figure, emb: pipeline.Embedding, point: int | None) -> None:
    """Makes a click on ``figure`` inspect a point, and draws the inspected ``point`` (a ring on top, in the legend).

    Streamlit reports a click on a point only while the chart's drag tool is
    zoom or pan (in box or lasso mode a click selects nothing), so the map
    opens with the zoom tool, or with the box or lasso tool the last
    selection was drawn with; the chart's toolbar switches tools.
    """
    figure.update_layout(dragmode=st.session_state.get(TOOL, "zoom"))
    if point is None:
        return
    row = int(np.flatnonzero(emb.indices == point)[0])
    custom = next(
        (
            [list(c) for c in trace.customdata if int(c[0]) == point]
            for trace in figure.data
            if trace.customdata is not None and np.any(np.asarray(trace.customdata)[:, 0] == point)
        ),
        [[point, -1, -1, np.nan]],
    )
    figure.add_trace(
        plots.point_trace(
            emb.coords[row : row + 1],
            name=f"{MARK_NAME} #{point}",
            marker={"size": 20, "symbol": "circle-open", "color": MARK_COLOUR, "line": {"width": 3}},
            customdata=custom,
            hoverinfo="skip",
            meta=(st.session_state.get(INSPECTED) or {}).get("clicks", 0),
        )
    )


PICKER = "inspector_point"
"""Widget key of a 3-D map's "Inspect point" field (:func:`picker`)."""
PICKER_HELP = (
    "On a 3-D map the chart sends no clicks (Streamlit passes on plotly's 2-D selections only): hover a point to read "
    "its index, type it here and press Inspect. The same inspector opens as for a click on a 2-D map."
)


def picker(context: tuple[str, str, str], emb: pipeline.Embedding) -> None:
    """A 3-D map's point picker: an index typed opens the inspector on that point (a click on a 2-D map's point does
    the same); an index not on the map is refused, saying so.

    Args:
        context: ``(model, dataset, split)``; emb: the map, whose ``indices`` are the points it offers.
    """
    with st.form("inspect-point", border=False, enter_to_submit=True):
        row = st.container(horizontal=True, gap="small", vertical_alignment="bottom")
        with row:
            st.number_input(
                "Inspect point",
                min_value=0,
                value=None,
                step=1,
                key=PICKER,
                placeholder="a point's index (hover to read it)",
                help=text.escape(PICKER_HELP),
                width=260,
            )
            st.form_submit_button("Inspect", icon=":material/ads_click:", on_click=_pick, args=(context, emb.indices))
    refused = st.session_state.pop(_PICK_REFUSED, None)
    if refused is not None:
        text.warning(
            f"Point #{refused} is not among this map's {len(emb.indices):,} points: pick an index that hovering a "
            "point shows.",
            icon=":material/search_off:",
        )


_PICK_REFUSED = "featlib.inspector_pick_refused"


def _pick(context: tuple[str, str, str], indices: np.ndarray) -> None:
    """The Inspect button's callback: inspects the typed index when it is on the map, else keeps it to say so."""
    typed = st.session_state.get(PICKER)
    if typed is None:
        return
    if np.any(np.asarray(indices) == int(typed)):
        inspect(context, int(typed))
    else:
        st.session_state[_PICK_REFUSED] = int(typed)


def unmark(figure: go.Figure) -> None:
    """Removes :func:`mark`'s ring from ``figure`` (an exported map does not show it)."""
    figure.data = [trace for trace in figure.data if not str(trace.name or "").startswith(MARK_NAME)]


def close(context: tuple[str, str, str]) -> None:
    """The Close button: no point inspected."""
    inspect(context, None)


def show(
    context: tuple[str, str, str],
    point: int | None,
    emb: pipeline.Embedding,
    outputs: np.ndarray,
    rep_key: str,
    sample_size: int | None,
    params: embed.ReducerParams,
    layer_title: str,
    images: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    class_names,
    trusted: NeighbourChange | None = None,
) -> None:
    """The inspector of ``point`` (a dataset index on the map ``emb``); nothing when ``None``.

    Args:
        context: ``(model id, dataset key, split)``.
        emb: the map; its ``indices`` are the points searched.
        outputs: the layer's outputs for the whole split ``(n, d)``; ``rep_key`` their key.
        sample_size, params: the map's sample size and reducer parameters (the metric follows the map's).
        layer_title: the layer as it is read (shown as given, escaped).
        images, labels, predicted, confidence: the split's images ``(n, h, w)`` uint8, true labels,
            predicted labels and the predicted class's probability, per dataset index.
        class_names: the classes' names, by label.
        trusted: each map point's neighbours kept on the map (:func:`featlib.app.maps.trust`), to say how far
            the map can be trusted around the point.
    """
    if point is None:
        how = "Type a point's index under the map" if plots.is_3d(emb.coords) else "Click a point of the map"
        text.caption(f"{how}: its image, labels and nearest neighbours open here.")
        return
    true, guess = class_names[labels[point]], class_names[predicted[point]]
    wrong = labels[point] != predicted[point]
    with st.container(border=True, key="point-inspector"):
        head = st.container(horizontal=True, vertical_alignment="center", horizontal_alignment="distribute")
        text.subheader(text.md("Point #{}", point), on=head)
        head.button("Close", icon=":material/close:", key="inspector-close", on_click=close, args=(context,))
        picture = st.container(horizontal=True, gap="small", vertical_alignment="top")
        picture.image(theme.ink(plots.upscale(images[point], size=LARGE)), width=LARGE)
        with picture.container(width="stretch"):
            if wrong:
                text.error(f"Misclassified: a {true} taken for a {guess}.", icon=":material/error:")
            else:
                text.success("Correctly classified.", icon=":material/check_circle:")
            k = st.selectbox(
                "Neighbours",
                K_CHOICES,
                index=K_CHOICES.index(K_DEFAULT),
                key=K_PICKER,
                help="How many nearest neighbours to show.",
            )
        facts = st.container(horizontal=True, gap="small")
        facts.metric("true label", text.escape(true), width="content")
        facts.metric("predicted label", text.escape(guess), width="content")
        facts.metric(
            "confidence",
            f"{float(confidence[point]):.3f}",
            help="The model's probability of its predicted label.",
            width="content",
        )
        if trusted is not None:
            position = int(np.flatnonzero(emb.indices == point)[0])
            shared = int(trusted.shared[position])
            text.caption(
                f"{shared} of its {trusted.k} nearest neighbours in the layer are among its {trusted.k} nearest on "
                "the map"
                + (": the map tears its neighbourhood apart here." if shared < plots.KEPT_TORN * trusted.k else ".")
            )
        under_image = st.container()  # "What the model looked at": filled once the neighbours are known
        near = _neighbours(
            point,
            int(k),
            emb,
            outputs,
            rep_key,
            sample_size,
            params,
            layer_title,
            images,
            labels,
            predicted,
            class_names,
        )
        with under_image:
            looked_at.show(context, point, near, images, labels, predicted, class_names)


def _neighbours(
    point: int,
    k: int,
    emb: pipeline.Embedding,
    outputs: np.ndarray,
    rep_key: str,
    sample_size: int | None,
    params: embed.ReducerParams,
    layer_title: str,
    images: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray,
    class_names,
) -> np.ndarray | None:
    """The point's ``k`` nearest neighbours among the map's points, found by a job, as captioned images; their
    dataset indices, nearest first (``None`` when they cannot be found)."""
    position = int(np.flatnonzero(emb.indices == point)[0])
    try:
        spec = jobs.specs.neighbours_spec(rep_key, sample_size, len(emb.indices), position, k, params)
    except jobs.JobLimitError as error:
        text.error(f"The neighbours cannot be found: {error}")
        return None
    indices = emb.indices
    points = jobs.Input(keys.points_key(rep_key, sample_size), lambda: outputs[indices])  # the map job's points
    try:
        found = running.run(
            spec,
            {"points": points, "labels": labels[indices]},
            label=f"Finding the {k} nearest neighbours of #{point}",
            failure="The neighbours cannot be found",
        )
    except jobs.JobLimitError as error:  # TooManyJobsError: this user has as many jobs queued or running as one may
        text.error(f"The neighbours cannot be found: {error}")
        return None
    if found is None:
        return None
    rows, distances, metric = found
    near = emb.indices[rows]
    reducer = embed.REDUCER_TITLES[embed.reducer_name(params)]
    same = int(np.sum(labels[near] == labels[point]))
    fewer = f" (the map has only {len(emb.indices) - 1:,} other points)" if len(near) < k else ""
    text.markdown(
        text.md(
            "**{} nearest neighbours in {}'s own space**{} · {}/{} share its true label",
            len(near),
            layer_title,
            fewer,
            same,
            len(near),
        )
    )
    text.caption(
        text.md(
            "Searched among the map's {:,} points in the layer's {:,} values per image (not on the "
            "map), by {} distance: the metric of this {} map. Caption: index · true label (→ predicted, "
            "when misclassified) · distance.",
            len(emb.indices),
            outputs.shape[1],
            metric,
            reducer,
        )
    )
    if not len(near):
        return near
    captions = []
    for i, distance in zip(near, distances):
        label = class_names[labels[i]] + (f" → {class_names[predicted[i]]}" if predicted[i] != labels[i] else "")
        captions.append(text.escape(f"#{i} · {label} · {distance:.3g}"))
    st.image([theme.ink(plots.upscale(images[i], size=THUMB)) for i in near], caption=captions, width=THUMB)
    return near
