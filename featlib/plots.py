"""plotly figures: the map, training curves, image grids and small charts."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from featlib.lazy import plotly_go as go
from featlib.lazy import plotly_subplots

# A fixed ten-colour palette (D3's category10), so digit 3 has the same colour
# in every plot, page and session.
DIGIT_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def text(value: object) -> str:
    """``value`` as plotly shows it literally, for names that come from people and files.

    plotly renders a subset of HTML in titles, legends, tick labels, annotations
    and hover texts (``<b>``, ``<a href=…>``, ``<br>``, entities), and fills
    ``%{…}`` in hover templates: both are escaped, so a class or model named
    ``<b>x</b>`` or ``%{x}`` reads as written.
    """
    return html.escape(str(value), quote=False).replace("%", "&#37;")


def colour_of(label: int) -> str:
    """The palette colour of a class label (cycles past ten classes)."""
    return DIGIT_COLOURS[int(label) % len(DIGIT_COLOURS)]


# Layout shared by every figure ---------------------------------------------------
#
# plotly draws its toolbar (the modebar) over the top right of a figure, inside
# the figure: whatever sits there (a title, the legend's or a colour bar's title,
# a subplot title) is covered while the mouse is on the chart. Every figure keeps
# a band of MODEBAR_HEIGHT pixels free at its top for it, and its title (left,
# just above the plot area) below that band.

MODEBAR_HEIGHT = 32
"""Pixels at the top of a figure kept free for plotly's toolbar (one row of buttons and its padding)."""
TITLE_LINE = 20
"""Pixels per line of a figure title (14 px text)."""
MODEBAR_REMOVE = (
    "zoomIn2d",
    "zoomOut2d",
    "autoScale2d",
    "toggleSpikelines",
    "hoverCompareCartesian",
    "hoverClosestCartesian",
)
"""Toolbar buttons left out: the mouse wheel zooms, double-click resets; a short toolbar fits a narrow panel."""
MARGIN = {"l": 10, "r": 10, "b": 10}
SUBPLOT_TITLE = 24
"""Pixels above a first row of subplots for their titles."""
LEGEND_ROW = 28
"""Pixels above the plot area for a one-row horizontal legend."""
COLOURBAR = {"thickness": 14, "title": {"side": "right"}}
"""A colour bar whose title reads along its side, clear of the toolbar above it."""


def colourbar(title: str) -> dict:
    """A colour bar's settings: ``title`` along its right side (:data:`COLOURBAR`)."""
    return {**COLOURBAR, "title": {**COLOURBAR["title"], "text": text(title)}}


def title_lines(title: str, width: int = 34) -> str:
    """``title`` broken at its `` · `` separators into lines of at most about ``width`` characters (``<br>``).

    A long part stays whole; the text is escaped (:func:`text`).
    """
    parts = str(title).split(" · ")
    if len(str(title)) <= width or len(parts) == 1:
        return text(title)
    # Two lines of half the parts each (``model · layer`` / ``method · reducer``) when they fit, else
    # the split of two lines that fit nearest to that.
    halves = [(" · ".join(parts[:i]), " · ".join(parts[i:])) for i in range(1, len(parts))]
    fitting = [pair for pair in halves if max(len(pair[0]), len(pair[1])) <= width]
    if fitting:
        first, second = min(fitting, key=lambda pair: abs(pair[0].count(" · ") + 1 - len(parts) / 2))
        return text(first) + "<br>" + text(second)
    lines: list[str] = []  # else greedily, a long part on a line of its own
    for part in parts:
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return "<br>".join(text(line) for line in lines)


def frame(
    fig: go.Figure,
    *,
    title: str = "",
    lines: int | None = None,
    top: int = 0,
    toolbar: bool = True,
    margin: dict | None = None,
    **layout: object,
) -> go.Figure:
    """Gives ``fig`` the layout every featlib figure shares: margins, toolbar band, title place.

    Args:
        fig: the figure, changed in place.
        title: its title, already escaped (``<br>`` breaks a line); left-aligned just above the
            plot area, under the toolbar's band.
        lines: the title lines to make room for (default: as many as ``title`` has); panels shown
            side by side pass the same number, so that their plot areas line up.
        top: more pixels above the plot area (for a legend or subplot titles placed there).
        toolbar: whether the figure is shown with plotly's toolbar (``False`` for a figure drawn
            with ``displayModeBar: False``): when it is, the band at the top stays free for it.
        margin: left, right and bottom margins, over :data:`MARGIN`.
        **layout: more layout settings (height, axes, legend, ...).
    """
    count = (title.count("<br>") + 1 if title else 0) if lines is None else lines
    room = (MODEBAR_HEIGHT if toolbar else 4) + TITLE_LINE * count + (6 if count else 0) + top
    fig.update_layout(
        margin={**MARGIN, **(margin or {}), "t": room},
        modebar={"remove": list(MODEBAR_REMOVE), "orientation": "h", "bgcolor": "rgba(255,255,255,0.8)"},
        **layout,
    )
    if title:
        fig.update_layout(
            title={
                "text": title,
                "font": {"size": 14},
                "x": 0,
                "xanchor": "left",
                "xref": "paper",
                "y": 1,
                "yanchor": "bottom",
                "yref": "paper",
                "pad": {"b": 6 + top},
            }
        )
    return fig


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
KEPT_TORN = 0.3
"""A point whose share of neighbours kept on the map is below this is outlined as torn (``"kept"``): on a UMAP
map of the seed MLP's digits the mean share is about 0.5 at k = 10, and about a tenth of the points fall under 0.3."""
TORN_COLOUR = "#d62728"
TORN_NAME = f"torn: under {KEPT_TORN:.0%} of its neighbours kept"
"""The trace that outlines those points again, on top (:data:`KEPT_TORN`)."""
CORRECT_COLOUR = "#b0b7bf"
WRONG_COLOUR = "#d62728"
HIGHLIGHT_NAME = "highlighted"
HIGHLIGHT_LINE = "rgba(40, 40, 40, 0.55)"
"""The selected points' outline: thin and half transparent, so their own colour (a misclassified red) shows."""
UNSELECTED_OPACITY = 0.3
"""The other points' opacity while some are selected: the selection stands out without a heavy ring."""


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
) -> go.Figure:
    """A WebGL scatter of a 2-D map, coloured by label, prediction, correctness, confidence or neighbourhood kept.

    Clicking a legend entry hides that group, double-clicking isolates it.
    Each point carries ``customdata = [index, true label, predicted label,
    confidence]`` (``-1`` / NaN when unknown), shown on hover and returned by
    selections: map a selection back with :func:`selected_indices`.

    Args:
        coords: ``(n, 2)`` map coordinates.
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

    Raises:
        ValueError: for an unknown colouring, one whose data is missing, or
            arrays whose lengths differ.
    """
    coords, indices, labels = np.asarray(coords), np.asarray(indices), np.asarray(labels)
    fig = go.Figure()
    for trace in _map_traces(coords, indices, labels, predicted, class_names, colour, confidence, highlight, kept=kept):
        fig.add_trace(trace)
    return frame(
        fig,
        title=text(title) if title else "",
        height=height,
        dragmode="lasso",
        # Under the map, not beside it: on a narrow screen a legend beside the map left it 150 pixels wide.
        legend={
            "title": COLOUR_MODES[colour],
            "itemsizing": "constant",
            "orientation": "h",
            "yanchor": "top",
            "y": -0.06,
            "x": 0,
        },
        xaxis={"showticklabels": False, "zeroline": False, "title": f"{axis_name} 1"},
        yaxis={"showticklabels": False, "zeroline": False, "title": f"{axis_name} 2"},
    )


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
) -> list[go.Scattergl]:
    """The traces of one map, in drawing order (see :func:`scatter_map`)."""
    if colour not in COLOUR_MODES:
        raise ValueError(f"Unknown colouring: {colour!r}. Choose one of {list(COLOUR_MODES)}.")
    n = len(labels)
    if coords.shape != (n, 2) or len(indices) != n:
        raise ValueError(
            f"coords must be (n, 2) and indices (n,) for n = {n} labels; got {coords.shape} and {indices.shape}."
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

    def trace(mask: np.ndarray, name: str, marker: dict, group: str) -> go.Scattergl:
        return go.Scattergl(
            x=coords[mask, 0],
            y=coords[mask, 1],
            mode="markers",
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
        shade = confidence if colour == "confidence" else np.asarray(kept, dtype=float)
        marker = {
            "size": 4,
            "color": shade,
            "colorscale": "Viridis",
            "cmin": 0.0,
            "cmax": 1.0,
            "opacity": 0.85,
            "colorbar": colourbar(COLOUR_MODES[colour]) if showlegend else None,
        }
        traces.append(trace(np.ones(n, dtype=bool), COLOUR_MODES[colour], marker, colour))
        if colour == "kept":  # where the map tears the layer apart: an outline, the point's colour still seen
            torn = shade < KEPT_TORN
            ring = {"size": 9, "color": "rgba(0,0,0,0)", "line": {"color": TORN_COLOUR, "width": 1.2}}
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
            **_point_colours(colour, labels[mask], predicted[mask], (confidence if colour != "kept" else shade)[mask]),
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


def upscale(image: np.ndarray, size: int = 56) -> np.ndarray:
    """An image (or a stack of them, ``(..., h, w)``) enlarged by whole pixels to about ``size``, so small digits stay sharp."""
    image = np.asarray(image)
    factor = max(1, size // max(image.shape[-2:]))
    return image.repeat(factor, axis=-2).repeat(factor, axis=-1)


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


def layers_grid(
    coords_by_layer: dict[str, np.ndarray],
    indices: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    *,
    titles: dict[str, str] | None = None,
    captions: dict[str, str] | None = None,
    colour: str = "label",
    confidence: np.ndarray | None = None,
    highlight: Sequence[int] | np.ndarray | None = None,
    columns: int = 3,
    axis_name: str = "PCA",
    panel_height: int = 300,
) -> go.Figure:
    """Small multiples: one 2-D map per layer of the same points, in a grid.

    The legend is shared: hiding a class hides it in every panel. Each panel
    holds the traces :func:`scatter_map` would draw, so :func:`selected_indices`
    maps a selection on any panel back to dataset indices, and ``highlight``
    marks the same points in every panel.

    Args:
        coords_by_layer: ``{layer name: (n, 2) coordinates}``, in panel order,
            every map of the same ``n`` points.
        indices, labels, predicted, class_names, colour, confidence, highlight:
            as for :func:`scatter_map`.
        titles: optional panel titles by layer name (default: the name).
        captions: optional text under each panel, by layer name (e.g. its metrics); ``\n`` breaks a line.
        columns: panels per row.
        axis_name: the projection's name, for the hover.
        panel_height: pixels per row of panels.

    Raises:
        ValueError: for no layers, or as :func:`scatter_map`.
    """
    if not coords_by_layer:
        raise ValueError("The layers grid needs at least one layer's map; got none.")
    if columns < 1:
        raise ValueError(f"columns must be at least 1; got {columns}")
    names = list(coords_by_layer)
    columns = min(columns, len(names))
    rows = -(-len(names) // columns)
    titles, captions = titles or {}, captions or {}
    gap = 80 if captions else 40  # pixels between rows: the captions, then the next row's titles
    plot_height = panel_height * rows + gap * (rows - 1)
    fig = plotly_subplots.make_subplots(
        rows=rows,
        cols=columns,
        subplot_titles=[text(titles.get(n, n)) for n in names],
        horizontal_spacing=0.03,
        vertical_spacing=gap / plot_height if rows > 1 else 0.0,
    )
    indices, labels = np.asarray(indices), np.asarray(labels)
    for i, name in enumerate(names):
        coords = np.asarray(coords_by_layer[name])
        traces = _map_traces(
            coords, indices, labels, predicted, class_names, colour, confidence, highlight, showlegend=i == 0
        )
        for trace in traces:
            trace.hovertemplate = f"<b>{text(name)}</b><br>" + _HOVER
            fig.add_trace(trace, row=i // columns + 1, col=i % columns + 1)
    fig.update_annotations(font_size=13)
    for i, name in enumerate(names):
        if name in captions:
            axis = "" if i == 0 else str(i + 1)
            fig.add_annotation(
                text="<br>".join(text(line) for line in str(captions[name]).split("\n")),
                showarrow=False,
                font={"size": 11, "color": "#444"},
                xref=f"x{axis} domain",
                yref=f"y{axis} domain",
                x=0.5,
                y=-0.02,
                yanchor="top",
            )
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False)
    frame(
        fig,
        top=SUBPLOT_TITLE,
        dragmode="lasso",
        legend={"title": COLOUR_MODES[colour], "itemsizing": "constant"},
        margin={"b": 10 + (40 if captions else 0)},
    )
    fig.update_layout(height=plot_height + fig.layout.margin.t + fig.layout.margin.b)
    return fig


def cka_heatmap(matrix: np.ndarray, names: Sequence[str], other_names: Sequence[str] | None = None) -> go.Figure:
    """A heatmap of linear CKA between representations, each cell labelled with its value.

    Args:
        matrix: ``(k, m)`` CKA values in [0, 1] (NaN shown blank).
        names: the rows' names (``k``).
        other_names: the columns' names (``m``; default ``names``).
    """
    matrix = np.asarray(matrix, dtype=float)
    other_names = [text(n) for n in (names if other_names is None else other_names)]
    names = [text(n) for n in names]
    if matrix.shape != (len(names), len(other_names)):
        raise ValueError(
            f"The CKA matrix must be {len(names)} × {len(other_names)} for these names; got {matrix.shape}."
        )
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=other_names,
            y=list(names),
            zmin=0.0,
            zmax=1.0,
            colorscale="Blues",
            texttemplate="%{z:.2f}",
            colorbar=colourbar("linear CKA"),
            hovertemplate="%{y} · %{x}<br>linear CKA %{z:.3f}<extra></extra>",
        )
    )
    return frame(
        fig,
        height=120 + MODEBAR_HEIGHT + 36 * len(names),
        xaxis={"type": "category"},
        yaxis={"type": "category", "autorange": "reversed"},
    )


def class_shift_heatmap(shift: np.ndarray, class_names: Sequence[str], before: str, after: str) -> go.Figure:
    """Where neighbours went, class by class (:func:`featlib.maps.neighbour_change.class_shift`), as a heatmap.

    Args:
        shift: ``(C, C)``: row ``i``, column ``j``: the change in the share of class ``j`` among the neighbours
            of class ``i``'s images, from ``before`` to ``after`` (−1 to 1; red: gained, blue: lost).
        class_names: the ``C`` classes.
        before, after: the two representations' names, for the title and the hover text.
    """
    shift = np.asarray(shift, dtype=float)
    names = [text(n) for n in class_names]
    if shift.shape != (len(names), len(names)):
        raise ValueError(f"The class shift must be {len(names)} × {len(names)}; got {shift.shape}.")
    most = max(float(np.abs(shift).max()), 1e-9)
    cells = [[f"{v:+.0%}" if abs(v) >= 0.005 else "" for v in row] for row in shift]  # a blank: under half a point
    fig = go.Figure(
        go.Heatmap(
            z=shift,
            x=names,
            y=names,
            zmin=-most,
            zmax=most,
            colorscale="RdBu_r",
            text=cells,
            texttemplate="%{text}",
            colorbar=colourbar("share"),
            hovertemplate=f"images of class %{{y}}: neighbours of class %{{x}}<br>%{{z:+.3f}} in {text(after)} "
            f"against {text(before)}<extra></extra>",
        )
    )
    return frame(
        fig,
        title=title_lines(f"Where neighbours went: {after} against {before}", 60),
        height=140 + MODEBAR_HEIGHT + 30 * len(names),
        xaxis={"type": "category", "title": "class of the neighbours", "tickmode": "linear"},
        yaxis={"type": "category", "autorange": "reversed", "title": "class of the image", "tickmode": "linear"},
    )


def neighbours_kept_map(
    coords: np.ndarray, indices: np.ndarray, kept: np.ndarray, title: str, axis_name: str = "UMAP"
) -> go.Figure:
    """A map whose points are coloured by how many neighbours each image kept: the Jaccard index, 0 to 1.

    Args:
        coords: float ``(m, 2)``; indices: int ``(m,)`` the images (shown on hover); kept: float ``(m,)``.
        title: the figure's title (plain text, escaped here).
    """
    fig = go.Figure(
        go.Scattergl(
            x=coords[:, 0],
            y=coords[:, 1],
            mode="markers",
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
    return frame(
        fig,
        title=title_lines(title, 60),
        height=460,
        xaxis={"title": f"{axis_name} 1", "showticklabels": False},
        yaxis={"title": f"{axis_name} 2", "showticklabels": False},
    )


def prediction_depth_heatmap(counts: np.ndarray, class_names: Sequence[str], layer_names: Sequence[str]) -> go.Figure:
    """How many images of each class are decided at each layer (prediction depth), as a heatmap.

    Args:
        counts: int ``(C, L + 1)``: row ``i``, column ``d``: images of class ``i`` with depth ``d``
            (:func:`featlib.maps.prediction_depth.counts_by_class`); the last column: never settled.
        class_names: the ``C`` classes; layer_names: the ``L`` representations, in order.
    """
    counts = np.asarray(counts)
    rows = [text(n) for n in class_names]
    columns = [f"{i} {text(n)}" for i, n in enumerate(layer_names)] + [f"{len(layer_names)} never"]
    if counts.shape != (len(rows), len(columns)):
        raise ValueError(f"The depth counts must be {len(rows)} × {len(columns)}; got {counts.shape}.")
    totals = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    share = counts / totals
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=columns,
            y=rows,
            zmin=0.0,
            zmax=1.0,
            colorscale="Blues",
            text=[[str(int(v)) if v else "" for v in row] for row in counts],
            texttemplate="%{text}",
            customdata=counts,
            colorbar=colourbar("share of the class"),
            hovertemplate="class %{y}: %{customdata:,} images decided at %{x}<br>%{z:.1%} of the class<extra></extra>",
        )
    )
    return frame(
        fig,
        title="Prediction depth per class: the layer from which every later layer's k-NN vote is the prediction",
        height=140 + MODEBAR_HEIGHT + 28 * len(rows),
        xaxis={"type": "category", "title": "prediction depth (layer)"},
        yaxis={"type": "category", "autorange": "reversed", "title": "true class", "tickmode": "linear"},
    )


def training_curves(history: dict[str, list[float]]) -> go.Figure:
    """Loss and accuracy per epoch, training and validation side by side."""
    fig = plotly_subplots.make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
    for col, metric in enumerate(("loss", "accuracy"), start=1):
        for prefix, dash in (("", "solid"), ("val_", "dash")):
            values = history.get(prefix + metric)
            if values:
                fig.add_trace(
                    go.Scatter(
                        x=list(range(1, len(values) + 1)),
                        y=values,
                        name=("validation " if prefix else "training ") + metric,
                        line={"dash": dash},
                        mode="lines+markers",
                    ),
                    row=1,
                    col=col,
                )
        fig.update_xaxes(title_text="epoch", row=1, col=col)
    epochs = max((len(v) for v in history.values() if v), default=0)
    if epochs <= 12:  # whole epochs only: no tick at 1.5
        fig.update_xaxes(tick0=1, dtick=1)
    return frame(fig, top=SUBPLOT_TITLE, height=320)


def montage(images: np.ndarray, columns: int, pad: int = 1) -> np.ndarray:
    """Tiles ``(n, h, w)`` images into one uint8 image, ``columns`` per row."""
    n, h, w = images.shape
    rows = max(1, -(-n // columns))
    canvas = np.full((rows * (h + pad) + pad, columns * (w + pad) + pad), 255, dtype=np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        top, left = pad + r * (h + pad), pad + c * (w + pad)
        canvas[top : top + h, left : left + w] = 255 - image  # dark ink on white
    return canvas


GRID_TILE = 36
"""Pixels per image on screen in :func:`class_grid` (its rows shrink past twelve classes)."""


def class_grid(images_by_class: dict[int, np.ndarray], class_names: Sequence[str]) -> go.Figure:
    """A grid of sample images, one row per class, labelled by class name."""
    rows = [images for _, images in sorted(images_by_class.items())]
    per_row = max(len(images) for images in rows)
    h, w = rows[0].shape[1:]
    blank = np.zeros((h, w), dtype=np.uint8)
    tiles = np.stack([row[i] if i < len(row) else blank for row in rows for i in range(per_row)])
    canvas = montage(tiles, per_row)
    fig = go.Figure(go.Heatmap(z=canvas, colorscale="gray", showscale=False, hoverinfo="skip"))
    centres = [1 + r * (h + 1) + h / 2 for r in range(len(rows))]
    names = [text(class_names[label]) for label in sorted(images_by_class)]
    # Sized to its images (whole pixels per image pixel, a tile of about GRID_TILE px), not stretched across
    # the page: the figure is as wide as its tiles and labels, so that nothing is left empty beside it.
    tile = GRID_TILE if len(rows) <= 12 else max(16, GRID_TILE * 12 // len(rows))
    scale = max(1, round(tile / (h + 1)))
    left = 16 + 7 * max(len(name) for name in names)
    return frame(
        fig,
        toolbar=False,
        width=left + 10 + canvas.shape[1] * scale,
        height=4 + 10 + canvas.shape[0] * scale,
        margin={"l": left, "r": 10, "b": 10},
        xaxis={"visible": False, "range": [-0.5, canvas.shape[1] - 0.5], "constrain": "domain"},
        yaxis={
            "range": [canvas.shape[0] - 0.5, -0.5],
            "tickvals": centres,
            "ticktext": names,
            "automargin": False,
            "scaleanchor": "x",
            "constrain": "domain",
            "showgrid": False,
            "zeroline": False,
            "ticks": "",
        },
    )


def label_counts(labels: np.ndarray, class_names: Sequence[str]) -> go.Figure:
    """A bar chart of how many points of each class there are."""
    counts = np.bincount(np.asarray(labels), minlength=len(class_names))
    present = np.flatnonzero(counts)
    fig = go.Figure(
        go.Bar(
            x=[text(class_names[i]) for i in present],
            y=counts[present],
            marker_color=[colour_of(i) for i in present],
            text=counts[present],
        )
    )
    return frame(fig, height=260, xaxis={"type": "category"}, yaxis={"automargin": True})


def method_times(seconds: dict[str, float], names: dict[str, str]) -> go.Figure:
    """A horizontal bar chart of each extraction method's time."""
    fig = go.Figure(
        go.Bar(
            y=[names.get(m, m) for m in seconds],
            x=[s * 1000 for s in seconds.values()],
            orientation="h",
            text=[f"{s * 1000:.1f} ms" for s in seconds.values()],
        )
    )
    return frame(fig, height=150 + MODEBAR_HEIGHT, xaxis_title="ms")


def class_means(means: np.ndarray, class_names: Sequence[str]) -> go.Figure:
    """A heatmap of each class's mean output per unit (classes × units)."""
    fig = go.Figure(
        go.Heatmap(
            z=means,
            y=[text(c) for c in class_names],
            colorscale="Viridis",
            colorbar=colourbar("mean output"),
            hovertemplate="class %{y}<br>unit %{x}<br>mean %{z:.3f}<extra></extra>",
        )
    )
    return frame(
        fig,
        height=60 + MODEBAR_HEIGHT + 24 * len(class_names),
        xaxis_title="unit",
        yaxis={"type": "category", "autorange": "reversed"},
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
        x_range, y_range: fixed axis ranges (the same for aligned panels).
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
            go.Scattergl(
                x=coords[mask, 0],
                y=coords[mask, 1],
                mode="markers",
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
    if x_range is not None:
        fig.update_xaxes(range=list(x_range), autorange=False)
    if y_range is not None:
        fig.update_yaxes(range=list(y_range), autorange=False)
    return fig


def layer_scores(rows: Sequence[dict], reference: str = "input", chance: float | None = None) -> go.Figure:
    """Each layer's 10-NN and linear-probe accuracy in its own space, with the input pixels' as dashed reference lines.

    The question the Layers page asks is whether a layer separates the classes
    better than the raw inputs do; the dashed lines are that bar. The y axis
    spans the figures shown (not 0–1), so that differences of a point stay visible.

    Args:
        rows: one dict per representation in model order, with ``layer``,
            ``knn_acc`` and ``probe_acc`` (floats in [0, 1], or ``None`` / a
            non-number when the sample was too small to score: a gap); the row named
            ``reference`` is drawn as the dashed lines, not as a point.
        reference: the name of the input representation (:data:`featlib.read.layers.INPUT`).
        chance: ``1 / classes``: drawn as a dotted line when it falls within the figures' range.
    """

    def score(row: dict, key: str) -> float:
        value = row.get(key)
        return float(value) if isinstance(value, (int, float, np.floating)) else float("nan")

    layer_rows = [row for row in rows if row["layer"] != reference]
    names = [text(row["layer"]) for row in layer_rows]
    figure = go.Figure()
    series = (
        ("knn_acc", "10-NN accuracy", "10-NN", "#1f77b4"),
        ("probe_acc", "linear probe accuracy", "probe", "#ff7f0e"),
    )
    shown = []
    for key, title, _, colour in series:
        values = [score(row, key) for row in layer_rows]
        shown += values
        figure.add_trace(go.Scatter(x=names, y=values, mode="lines+markers", name=title, line={"color": colour}))
    for row in rows:
        if row["layer"] != reference:
            continue
        for key, _, short, colour in series:
            value = score(row, key)
            if np.isfinite(value) and names:
                shown.append(value)
                figure.add_trace(
                    go.Scatter(
                        x=names,
                        y=[value] * len(names),
                        mode="lines",
                        hoverinfo="skip",
                        name=f"input pixels: {short} {value:.3f}",
                        line={"color": colour, "dash": "dash", "width": 1},
                    )
                )
    finite = [v for v in shown if np.isfinite(v)]
    low = max(0.0, min(finite) - 0.03) if finite else 0.0
    if chance is not None and chance >= low:
        figure.add_hline(
            y=chance,
            line={"color": "#7f7f7f", "dash": "dot", "width": 1},
            annotation_text=f"chance {chance:.2f}",
            annotation_position="top left",
        )
    return frame(
        figure,
        top=LEGEND_ROW,
        height=320,
        yaxis_title="accuracy",
        yaxis_range=[low, 1.005],
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        hovermode="x unified",
    )
