"""Maps: the scatter of one map (Explore), a Compare panel, and what is drawn over a map (contours, placed points, the stable core, neighbourhoods kept).

A 3-D map (coordinates ``(n, 3)``) is drawn by the same functions as plotly ``Scatter3d`` traces (WebGL, as
``Scattergl`` in 2-D) in a turnable scene, with the same traces, colours, legend groups, ``customdata`` and
hover; what is 2-D only (the class contours, a box or lasso, fixed axis ranges) is left out of it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from featlib.lazy import plotly_go as go
from featlib.maps import class_centres
from featlib.plots.style import (
    CORRECT_COLOUR,
    WRONG_COLOUR,
    colour_of,
    colourbar,
    frame,
    table_frame,
    table_values,
    text,
    title_lines,
)

COLOUR_MODES = {
    "label": "true label",
    "predicted": "predicted label",
    "correct": "correct / misclassified",
    "confidence": "confidence",
    "kept": "neighbourhood kept",
}
"""How :func:`scatter_map` can colour its points, with their titles."""


SHADED = ("confidence", "kept")
"""The colourings that shade one value per point (0 to 1) rather than a class each."""


KEPT_TORN = 0.2
"""A point whose share of neighbours kept on the map is below this is outlined as torn (``"kept"``): at k = 10, at
most one of its neighbours in the layer is near it on the map. On a UMAP map of the seed MLP's digits the mean share
is about 0.5; on 10,000 Fashion-MNIST images it is lower, and a bound of 0.3 outlined most of the map."""


TORN_COLOUR = "#d62728"


RING_THIN_FROM = 2_000
"""Maps of more points than this draw the torn points' rings thin and small (10,000 heavy rings bury the map)."""
TORN_NAME = f"torn: under {KEPT_TORN:.0%} of its neighbours kept"
"""The trace that outlines those points again, on top (:data:`KEPT_TORN`)."""


HIGHLIGHT_NAME = "highlighted"


HIGHLIGHT_LINE = "rgba(40, 40, 40, 0.55)"
"""The selected points' outline: thin and half transparent, so their own colour (a misclassified red) shows."""


UNSELECTED_OPACITY = 0.3
"""The other points' opacity while some are selected: the selection stands out without a heavy ring."""


SCENE_3D = {
    "xaxis": {"showticklabels": False, "title": ""},
    "yaxis": {"showticklabels": False, "title": ""},
    "zaxis": {"showticklabels": False, "title": ""},
    "aspectmode": "cube",
    "dragmode": "turntable",
    "camera": {"eye": {"x": 1.15, "y": 1.15, "z": 0.8}},
}
"""The scene of a 3-D map: axes without numbers (a map's coordinates mean nothing), in a cube (as a 2-D map fills its
plot area, whatever its spread on each axis), seen from a little closer and lower than plotly's default camera (the
map fills more of its figure), turned about its vertical axis by a drag."""


def _scene(axis_name: str = "") -> dict:
    """:data:`SCENE_3D` with its axes named ``<axis_name> 1`` to ``3`` (no names for ``""``)."""
    return {
        **SCENE_3D,
        **{
            f"{a}axis": {**SCENE_3D[f"{a}axis"], "title": f"{axis_name} {i + 1}" if axis_name else ""}
            for i, a in enumerate("xyz")
        },
    }


SYMBOLS_3D = {"star": "diamond", "diamond-open": "diamond-open", "circle-open": "circle-open"}
"""2-D marker symbols a 3-D scene draws otherwise (plotly's 3-D markers have a few symbols only)."""


UNIT_COLOUR = "unit"
"""The colouring of :func:`scatter_map` by one unit's activation (``unit=``): offered by a button where units are
shown (:mod:`featlib.app.units`), not in the colour pickers of :data:`COLOUR_MODES`."""


def scatter_map(
    coords: np.ndarray,
    indices: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    title: str = "",
    axis_name: str = "UMAP",
    *,
    colour: str = "label",
    confidence: np.ndarray | None = None,
    highlight: Sequence[int] | np.ndarray | None = None,
    height: int = 620,
    kept: np.ndarray | None = None,
    unit: np.ndarray | None = None,
    unit_title: str = "unit",
    contours: bool = False,
) -> go.Figure:
    """A WebGL scatter of a 2-D (or 3-D) map, coloured by label, prediction, correctness, confidence or neighbourhood kept.

    Clicking a legend entry hides that group, double-clicking isolates it.
    Each point carries ``customdata = [index, true label, predicted label,
    confidence]`` (``-1`` / NaN when unknown), shown on hover and returned by
    selections: map a selection back with :func:`selected_indices`.

    Args:
        coords: ``(n, 2)`` map coordinates; ``(n, 3)``: a 3-D map, plotly ``Scatter3d`` traces (WebGL) in a
            turnable scene, the same traces otherwise (:func:`is_3d`; no contours).
        indices: ``(n,)`` positions of the points in their dataset split.
        labels: ``(n,)`` true labels.
        predicted: optional ``(n,)`` predicted labels (needed by the
            ``"predicted"`` and ``"correct"`` colourings).
        class_names: names of the classes, by label.
        title: the figure title.
        axis_name: the projection's name, for the axis titles.
        colour: a key of :data:`COLOUR_MODES`: one trace per true class
            (``"label"``) or per predicted class (``"predicted"``), a
            ``correct`` and a ``misclassified`` trace (the latter larger and on
            top), or one trace shaded by ``confidence``.
        confidence: optional ``(n,)`` probabilities of the predicted class
            (needed by ``"confidence"``).
        highlight: dataset indices drawn again on top in their own colours with a thin
            outline, the other points faded (those not among ``indices`` are skipped).
        height: the figure height in pixels.
        kept: optional ``(n,)`` share of each point's neighbours in the layer that are its neighbours on the
            map (:attr:`featlib.maps.neighbour_change.NeighbourChange.kept_share`; needed by ``"kept"``, which
            also outlines the points under :data:`KEPT_TORN`).
        unit: optional ``(n,)`` one unit's activation per point (:func:`featlib.maps.units.unit_values`; needed
            by ``colour=UNIT_COLOUR``, which shades the points from its lowest value to its highest);
            unit_title: its name, for the legend and the colour bar.
        contours: also draw each class's 50 % density contour and a label at its centre with its purity
            (``"7 · 94 %"``, :func:`class_contours`): by predicted class when ``colour`` is ``"predicted"``, else
            by true class. The contours come after the point traces (no customdata, no hover, no selection).

    Raises:
        ValueError: for an unknown colouring, one whose data is missing, or
            arrays whose lengths differ.
    """
    coords, indices, labels = np.asarray(coords), np.asarray(indices), np.asarray(labels)
    fig = go.Figure()
    for trace in _map_traces(
        coords,
        indices,
        labels,
        predicted,
        class_names,
        colour,
        confidence,
        highlight,
        kept=kept,
        unit=unit,
        unit_title=unit_title,
    ):
        fig.add_trace(trace)
    legend = {
        "title": COLOUR_MODES.get(colour, unit_title),
        "itemsizing": "constant",
        "orientation": "h",
        "yanchor": "top",
        "y": -0.06,
        "x": 0,
    }
    if is_3d(coords):  # no contours in 3-D: a class's 2-D density line has no place in a turned scene
        return frame(fig, title=text(title) if title else "", height=height, legend=legend, scene=_scene(axis_name))
    if contours:
        class_contours(fig, coords, labels if colour != "predicted" else np.asarray(predicted), class_names)
    return frame(
        fig,
        title=text(title) if title else "",
        height=height,
        dragmode="lasso",
        # Under the map, not beside it: on a narrow screen a legend beside the map left it 150 pixels wide.
        legend=legend,
        xaxis={"showticklabels": False, "zeroline": False, "title": f"{axis_name} 1"},
        yaxis={"showticklabels": False, "zeroline": False, "title": f"{axis_name} 2"},
    )


def is_3d(coords: np.ndarray) -> bool:
    """Whether ``coords`` (``(n, 2)`` or ``(n, 3)``) is a 3-D map."""
    coords = np.asarray(coords)
    return coords.ndim == 2 and coords.shape[1] == 3


def point_trace(coords: np.ndarray, **kwargs: object) -> go.Scattergl | go.Scatter3d:
    """One trace of markers at ``coords``: ``Scattergl`` for ``(n, 2)``, ``Scatter3d`` for ``(n, 3)`` (both WebGL).

    In 3-D a marker's 2-D-only settings are translated (:data:`SYMBOLS_3D`; a transparent fill with an outline is
    drawn as an open circle in the outline's colour; only a single outline width and colour are kept).
    """
    coords = np.asarray(coords)
    if not is_3d(coords):
        return go.Scattergl(x=coords[:, 0], y=coords[:, 1], mode="markers", **kwargs)
    marker = dict(kwargs.pop("marker", None) or {})
    line = marker.pop("line", None) or {}
    if (
        isinstance(marker.get("color"), str) and marker["color"] == "rgba(0,0,0,0)"
    ):  # a ring: an open circle in its outline's colour
        marker.update(symbol="circle-open", color=line.get("color", "black"))
    elif "symbol" in marker:
        marker["symbol"] = SYMBOLS_3D.get(str(marker["symbol"]), "circle")
    if isinstance(line.get("color"), str) and not str(marker.get("symbol", "")).endswith("-open"):
        marker["line"] = {"color": line["color"], "width": float(line.get("width", 1))}
    return go.Scatter3d(x=coords[:, 0], y=coords[:, 1], z=coords[:, 2], mode="markers", marker=marker, **kwargs)


_HOVER = (
    "index %{customdata[0]}<br>true %{customdata[1]}<br>predicted %{customdata[2]}"
    "<br>confidence %{customdata[3]:.2f}<extra></extra>"
)


def _map_traces(
    coords: np.ndarray,
    indices: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray | None,
    class_names: Sequence[str] | None,
    colour: str,
    confidence: np.ndarray | None,
    highlight: Sequence[int] | np.ndarray | None,
    legendgroup_prefix: str = "",
    showlegend: bool = True,
    kept: np.ndarray | None = None,
    unit: np.ndarray | None = None,
    unit_title: str = "unit",
) -> list[go.Scattergl | go.Scatter3d]:
    """The traces of one map, in drawing order (see :func:`scatter_map`); ``Scatter3d`` for ``(n, 3)`` coords."""
    if colour not in COLOUR_MODES and colour != UNIT_COLOUR:
        raise ValueError(f"Unknown colouring: {colour!r}. Choose one of {[*COLOUR_MODES, UNIT_COLOUR]}.")
    if colour == UNIT_COLOUR and (unit is None or len(unit) != len(labels)):
        raise ValueError(f"Colouring by a unit needs its value for each of the {len(labels)} points; got none.")
    n = len(labels)
    if coords.shape not in ((n, 2), (n, 3)) or len(indices) != n:
        raise ValueError(
            f"coords must be (n, 2) or (n, 3) and indices (n,) for n = {n} labels; got {coords.shape} and "
            f"{indices.shape}."
        )
    if colour in ("predicted", "correct") and predicted is None:
        raise ValueError(f"Colouring by {COLOUR_MODES[colour]} needs the predicted labels; got none.")
    if colour == "confidence" and confidence is None:
        raise ValueError("Colouring by confidence needs the confidence of each point; got none.")
    if colour == "kept" and kept is None:
        raise ValueError("Colouring by neighbourhood kept needs each point's share of neighbours kept; got none.")
    for name, values in (("predicted", predicted), ("confidence", confidence), ("kept", kept)):
        if values is not None and len(values) != n:
            raise ValueError(f"{name} must have one value per point ({n}); got {len(values)}.")
    predicted = np.full(n, -1) if predicted is None else np.asarray(predicted)
    confidence = np.full(n, np.nan) if confidence is None else np.asarray(confidence, dtype=float)
    top = int(max(labels.max(initial=0), predicted.max(initial=0)))
    names = [text(c) for c in class_names] if class_names is not None else [str(i) for i in range(top + 1)]
    custom = np.column_stack([indices, labels, predicted, confidence])

    def trace(mask: np.ndarray, name: str, marker: dict, group: str) -> go.Scattergl | go.Scatter3d:
        return point_trace(
            coords[mask],
            name=name,
            marker=marker,
            customdata=custom[mask],
            hovertemplate=_HOVER,
            legendgroup=legendgroup_prefix + group,
            showlegend=showlegend,
        )

    traces = []
    if colour in ("label", "predicted"):
        by = labels if colour == "label" else predicted
        for label in np.unique(by):
            name = names[label] if 0 <= label < len(names) else str(label)
            marker = {"size": 4, "color": colour_of(label), "opacity": 0.8}
            traces.append(trace(by == label, name, marker, f"class-{label}"))
    elif colour == "correct":
        wrong = predicted != labels
        traces.append(trace(~wrong, "correct", {"size": 4, "color": CORRECT_COLOUR, "opacity": 0.5}, "correct"))
        traces.append(trace(wrong, "misclassified", {"size": 7, "color": WRONG_COLOUR, "opacity": 0.95}, "wrong"))
    else:
        shade = confidence if colour == "confidence" else np.asarray(kept if colour == "kept" else unit, dtype=float)
        bar = colourbar(COLOUR_MODES.get(colour, unit_title))
        if colour == UNIT_COLOUR:  # shaded from its lowest value to its highest, the colour bar in its own values
            shade, bar = _unit_shade(shade, bar)
        marker = {
            "size": 4,
            "color": shade,
            "colorscale": "Viridis",
            "cmin": 0.0,
            "cmax": 1.0,
            "opacity": 0.85,
            "colorbar": bar if showlegend else None,
        }
        traces.append(trace(np.ones(n, dtype=bool), COLOUR_MODES.get(colour, unit_title), marker, colour))
        if colour == "kept":  # where the map tears the layer apart: an outline, the point's colour still seen
            torn = shade < KEPT_TORN
            many = n > RING_THIN_FROM  # thin, small rings on a large map: its colours must stay readable under them
            ring = {
                "size": 5 if many else 9,
                "color": "rgba(0,0,0,0)",
                "line": {"color": TORN_COLOUR, "width": 0.6 if many else 1.2},
            }
            traces.append(trace(torn, TORN_NAME, ring, "torn"))
    if highlight is not None and len(highlight):
        mask = np.isin(indices, np.asarray(highlight, dtype=int))
        if mask.any():  # the rest fades; the selected keep their colouring, thinly outlined
            for other in traces:
                other.marker.opacity = UNSELECTED_OPACITY
        few = mask.sum() <= 20  # a few followed points stand out; a large selection must not bury the map
        marker = {
            "size": 10 if few else 6,
            "opacity": 1.0,
            "line": {"color": HIGHLIGHT_LINE, "width": 1.5 if few else 0.75},
            **_point_colours(
                colour,
                labels[mask],
                predicted[mask],
                (confidence if colour not in ("kept", UNIT_COLOUR) else shade)[mask],
            ),
        }
        traces.append(trace(mask, HIGHLIGHT_NAME, marker, "highlight"))
    return traces


def _point_colours(colour: str, labels: np.ndarray, predicted: np.ndarray, shade: np.ndarray) -> dict:
    """Marker colour settings that give each point the colour its group has under ``colour`` (``shade``: the
    value a shaded colouring shows, confidence or neighbourhood kept)."""
    if colour == "label":
        return {"color": [colour_of(label) for label in labels]}
    if colour == "predicted":
        return {"color": [colour_of(label) for label in predicted]}
    if colour == "correct":
        return {"color": np.where(predicted == labels, CORRECT_COLOUR, WRONG_COLOUR).tolist()}
    return {"color": shade, "colorscale": "Viridis", "cmin": 0.0, "cmax": 1.0}


def selected_indices(
    points: Sequence[dict], figure: go.Figure | np.ndarray, labels: np.ndarray | None = None
) -> np.ndarray:
    """Dataset indices of the points selected in a :func:`scatter_map` (or :func:`layers_grid`) figure.

    Args:
        points: the selection's points as Streamlit reports them (each with
            ``curve_number`` and ``point_index``).
        figure: the figure the selection was made on: each point's dataset
            index is read from its trace's ``customdata``, so every colouring
            and the highlight trace map back correctly. (The older form
            ``selected_indices(points, indices, labels)`` of a map coloured by
            label is still accepted.)
    """
    if not isinstance(figure, go.Figure):
        if labels is None:
            raise TypeError("selected_indices needs the figure (or the indices and labels it was made from).")
        figure = scatter_map(np.zeros((len(labels), 2)), np.asarray(figure), np.asarray(labels))
    chosen = set()
    for p in points:
        curve, point = int(p["curve_number"]), int(p["point_index"])
        if not 0 <= curve < len(figure.data):
            raise ValueError(f"The selection names trace {curve}; the figure has {len(figure.data)} traces.")
        chosen.add(int(figure.data[curve].customdata[point][0]))
    return np.array(sorted(chosen), dtype=int)


def neighbours_kept_map(
    coords: np.ndarray, indices: np.ndarray, kept: np.ndarray, title: str, axis_name: str = "UMAP"
) -> go.Figure:
    """A map whose points are coloured by how many neighbours each image kept: the Jaccard index, 0 to 1.

    Args:
        coords: float ``(m, 2)`` (``(m, 3)``: a 3-D map, drawn in a turnable scene); indices: int ``(m,)`` the images
            (shown on hover); kept: float ``(m,)``.
        title: the figure's title (plain text, escaped here).
    """
    fig = go.Figure(
        point_trace(
            coords,
            customdata=np.stack([indices, kept], axis=1),
            marker={
                "size": 5,
                "color": kept,
                "cmin": 0.0,
                "cmax": 1.0,
                "colorscale": "Viridis",
                "colorbar": colourbar("Jaccard"),
            },
            hovertemplate="image %{customdata[0]:.0f}<br>neighbours kept (Jaccard) %{customdata[1]:.2f}<extra></extra>",
        )
    )
    if is_3d(coords):
        return frame(fig, title=title_lines(title, 60), height=460, scene=_scene(axis_name))
    return frame(
        fig,
        title=title_lines(title, 60),
        height=460,
        xaxis={"title": f"{axis_name} 1", "showticklabels": False},
        yaxis={"title": f"{axis_name} 2", "showticklabels": False},
    )


FOLLOWED_NAME = "followed"


PANEL_TITLE_LINES = 2
"""Title lines every Compare panel makes room for (``model · layer`` / ``method · reducer``), so plot areas line up."""


NEIGHBOURS_NAME = "neighbours in the layer"


def compare_panel(
    coords: np.ndarray,
    indices: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    title: str = "",
    axis_name: str = "UMAP",
    *,
    x_range: Sequence[float] | None = None,
    y_range: Sequence[float] | None = None,
    selected: Sequence[int] | np.ndarray | None = None,
    followed: int | None = None,
    neighbours: Sequence[int] | np.ndarray | None = None,
    height: int = 460,
) -> go.Figure:
    """One panel of a comparison: :func:`scatter_map` with shared axes and marks on chosen points.

    The selection shared by all panels is drawn as :func:`scatter_map`'s
    highlight; the followed point as a black star (trace :data:`FOLLOWED_NAME`)
    and its nearest neighbours in the panel's own layer as black rings (trace
    :data:`NEIGHBOURS_NAME`). Every trace keeps ``customdata[:, 0]`` = dataset
    index, so :func:`selected_indices` works on this figure too.

    Args:
        coords, indices, labels, predicted, class_names, title, axis_name: as
            for :func:`scatter_map`.
        x_range, y_range: fixed axis ranges (the same for aligned panels); unused for a 3-D map (``(n, 3)``
            coords: each scene fits its own points, and is turned on its own).
        selected: dataset indices highlighted (those not on the map are skipped).
        followed: the dataset index of the followed point, or ``None``.
        neighbours: dataset indices of its neighbours, or ``None``.
        height: the figure height in pixels.
    """
    coords, indices, labels = np.asarray(coords), np.asarray(indices), np.asarray(labels)
    fig = scatter_map(
        coords, indices, labels, predicted, class_names, title, axis_name, highlight=selected, height=height
    )
    pred = np.full(len(labels), -1) if predicted is None else np.asarray(predicted)
    marks = (
        (NEIGHBOURS_NAME, neighbours, {"size": 13, "symbol": "circle-open", "color": "black", "line": {"width": 2}}),
        (
            FOLLOWED_NAME,
            None if followed is None else [followed],
            {"size": 20, "symbol": "star", "color": "black", "line": {"color": "white", "width": 1}},
        ),
    )
    for name, chosen, marker in marks:
        if chosen is None or not len(chosen):
            continue
        mask = np.isin(indices, np.asarray(chosen, dtype=int))
        if not mask.any():
            continue
        custom = np.column_stack([indices[mask], labels[mask], pred[mask], np.full(mask.sum(), np.nan)])
        fig.add_trace(
            point_trace(
                coords[mask],
                name=name,
                marker=marker,
                customdata=custom,
                hovertemplate=f"<b>{name}</b><br>" + _HOVER,
            )
        )
    fig.update_xaxes(title=None)
    fig.update_yaxes(title=None)
    frame(
        fig,
        title=title_lines(title) if title else "",
        lines=PANEL_TITLE_LINES if title else 0,
        legend={"orientation": "h", "yanchor": "top", "y": -0.02, "x": 0, "title": None, "itemsizing": "constant"},
    )
    if is_3d(coords):  # a panel's scene without axis names, as a 2-D panel's axes
        fig.update_layout(scene=_scene())
        return fig
    if x_range is not None:
        fig.update_xaxes(range=list(x_range), autorange=False)
    if y_range is not None:
        fig.update_yaxes(range=list(y_range), autorange=False)
    return fig


def _unit_shade(values: np.ndarray, bar: dict) -> tuple[np.ndarray, dict]:
    """One unit's values scaled to 0..1 (lowest to highest; all 0.5 when constant) and the colour bar ``bar``
    labelled in the unit's own values."""
    low, high = (float(np.min(values)), float(np.max(values))) if len(values) else (0.0, 0.0)
    spread = high - low
    scaled = (values - low) / spread if spread > 0 else np.full(len(values), 0.5)
    ticks = [0.0, 0.5, 1.0]
    labels = [f"{low + t * spread:.3g}" for t in ticks]
    return scaled, {**bar, "tickvals": ticks, "ticktext": labels}


CONTOUR_NAME = "contour"
"""The name of a class's density contour trace on a map (:func:`class_contours`): ``"contour 7"``."""


def class_contours(
    fig: go.Figure, coords: np.ndarray, labels: np.ndarray, class_names: Sequence[str] | None = None
) -> go.Figure:
    """Draws on a map each class's 50 % density contour in its colour and, at its centre, its name and purity.

    The definitions (density, region, medoid centre, purity) are :func:`featlib.maps.class_centres.class_regions`'s:
    the line encloses the densest half of the class, and ``"7 · 94 %"`` says that 94 % of the map's points inside
    it are 7s. One ``go.Contour`` per class (lines only, no hover, no colour bar, in the class's legend group so
    that hiding the class hides its line) and one annotation per class, over the points.

    Args:
        fig: a :func:`scatter_map` figure, changed in place.
        coords: ``(n, 2)`` map coordinates.
        labels: ``(n,)`` int labels the classes are read from.
        class_names: names of the classes, by label (escaped: shown as written).

    Raises:
        MetricError: coordinates that are not finite, or shapes that do not match.
    """
    regions = class_centres.class_regions(coords, labels)
    shifts = label_shifts([region.centre for region in regions.regions], coords)
    for region, shift in zip(regions.regions, shifts, strict=True):
        colour = colour_of(region.label)
        fig.add_trace(
            go.Contour(
                x=regions.x,
                y=regions.y,
                z=region.density,
                contours={"start": region.level, "end": region.level, "size": 1.0, "coloring": "none"},
                autocontour=False,
                line={"color": colour, "width": 1.5},
                showscale=False,
                hoverinfo="skip",
                showlegend=False,
                name=f"{CONTOUR_NAME} {region.label}",
                legendgroup=f"class-{region.label}",
            )
        )
        known = class_names is not None and region.label < len(class_names)
        fig.add_annotation(
            x=region.centre[0],
            y=region.centre[1],
            text=text(region.text(str(class_names[region.label] if known else region.label))),
            showarrow=False,
            yshift=shift,
            font={"size": 12, "color": "#222222"},
            bgcolor="rgba(255,255,255,0.8)",
            bordercolor=colour,
            borderwidth=1.5,
            borderpad=2,
        )
    return fig


LABEL_ROW = 20
"""Pixels between two class labels that would overlap on a map (:func:`label_shifts`)."""


def label_shifts(centres, coords: np.ndarray, width: float = 0.12, height: float = 0.05) -> list[int]:
    """Vertical shifts (pixels) that keep the class labels drawn at ``centres`` apart: in order, each label moves
    down a row (:data:`LABEL_ROW`) while another label already placed lies within ``width`` × ``height`` of the
    map's span (a label about 14 characters wide, one line high, on a map about 600 px square) of it.

    Args:
        centres: the labels' ``(x, y)`` positions on the map; coords: ``(n, 2)`` the map's points (for its span).
    """
    coords = np.asarray(coords, dtype=float)
    span = np.ptp(coords, axis=0) if len(coords) else np.ones(2)
    span = np.where(span > 0, span, 1.0)
    placed: list[tuple[float, float]] = []
    shifts = []
    for centre in centres:
        x, y = (np.asarray(centre, dtype=float) - coords.min(axis=0)) / span if len(coords) else (0.0, 0.0)
        rows = 0
        while any(abs(x - px) < width and abs((y - rows * height) - py) < height for px, py in placed):
            rows += 1
        placed.append((x, y - rows * height))
        shifts.append(-rows * LABEL_ROW)
    return shifts


PLACED_NAME = "placed"
"""The legend group of the points placed on a map fitted on others (:func:`add_placed_points`)."""


CORE_COLOUR = "#2b2b2b"


CORE_NAME = "stable core"
"""The outline of a map's stable core (:func:`add_stable_core`)."""


def add_placed_points(
    fig: go.Figure,
    coords: np.ndarray,
    indices: np.ndarray,
    labels: np.ndarray,
    class_names: Sequence[str] | None = None,
    what: str = "test",
) -> go.Figure:
    """Draws points placed on a fitted map (:func:`featlib.maps.placement.place`) on top of it, as hollow diamonds in
    their true label's colour, one trace per class (legend ``"<class> (<what>)"``), in ``fig`` (changed, returned).

    Each carries ``customdata = [index, true label, -1, NaN]`` as :func:`scatter_map`'s points do (its index is
    the point's position in its own split).

    Raises:
        ValueError: ``coords`` not ``(n, 2)`` or ``indices`` and ``labels`` not one per point.
    """
    coords, indices, labels = np.asarray(coords), np.asarray(indices), np.asarray(labels)
    n = len(labels)
    if coords.shape != (n, 2) or indices.shape != (n,):
        raise ValueError(
            f"coords must be (n, 2) and indices (n,) for n = {n} labels; got {coords.shape} and {indices.shape}."
        )
    custom = np.column_stack([indices, labels, np.full(n, -1), np.full(n, np.nan)])
    for label in np.unique(labels):
        mask = labels == label
        name = text(class_names[label]) if class_names is not None and 0 <= label < len(class_names) else str(label)
        fig.add_trace(
            go.Scattergl(
                x=coords[mask, 0],
                y=coords[mask, 1],
                mode="markers",
                name=f"{name} ({text(what)})",
                marker={
                    "symbol": "diamond-open",
                    "size": 7,
                    "color": colour_of(int(label)),
                    "line": {"width": 1.5, "color": colour_of(int(label))},
                },
                customdata=custom[mask],
                hovertemplate=f"{text(what)} index %{{customdata[0]}}<br>true %{{customdata[1]}}<extra></extra>",
                legendgroup=f"{PLACED_NAME}-{label}",
            )
        )
    return fig


def add_stable_core(fig: go.Figure, xs: np.ndarray, ys: np.ndarray, share: np.ndarray) -> go.Figure:
    """Outlines a map's stable core in ``fig`` (changed, returned): the 0.5 contour of the share of core points
    over a grid (:func:`featlib.maps.seed_stability.core_grid`: cell centres ``xs``, ``ys``, ``share[y, x]``, NaN
    where no point is near), a thin dark line without fill, in the legend as :data:`CORE_NAME`."""
    fig.add_trace(
        go.Contour(
            x=np.asarray(xs),
            y=np.asarray(ys),
            z=np.asarray(share),
            contours={"start": 0.5, "end": 0.5, "size": 1.0, "coloring": "none", "showlabels": False},
            line={"color": CORE_COLOUR, "width": 2},
            showscale=False,
            connectgaps=False,
            hoverinfo="skip",
            name=CORE_NAME,
            showlegend=True,
        )
    )
    return fig


def landing_heatmap(
    shares: np.ndarray, placed_names: Sequence[str], fitted_names: Sequence[str], placed: str, fitted: str
) -> go.Figure:
    """Where each placed class lands on a map (:func:`featlib.maps.placed_map.landing_shares`), as a heatmap.

    Args:
        shares: ``(P, F)`` in [0, 1]: row ``i``, column ``j``: the share of placed class ``i``'s points among fitted
            points of class ``j``.
        placed_names, fitted_names: the ``P`` placed and ``F`` fitted classes.
        placed, fitted: what was placed and what the map was fitted on, for the title ("MNIST test", "train split").
    """
    rows, columns = [text(n) for n in placed_names], [text(n) for n in fitted_names]
    shares = table_values(shares, rows, columns, "The landing table")
    cells = [[f"{v:.0%}" if v >= 0.005 else "" for v in row] for row in shares]
    fig = go.Figure(
        go.Heatmap(
            z=shares,
            x=columns,
            y=rows,
            zmin=0,
            zmax=1,
            colorscale="Blues",
            text=cells,
            texttemplate="%{text}",
            colorbar=colourbar("share"),
            hovertemplate="%{y} (placed) among %{x}: %{z:.1%}<extra></extra>",
        )
    )
    return table_frame(
        fig,
        rows=len(rows),
        row_height=28,
        title=title_lines(f"Where {placed} lands among {fitted}", 60),
        x_title=f"class it lands among ({text(fitted)})",
        y_title="its own class",
    )
