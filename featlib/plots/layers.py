"""Figures over a model's layers: the grid of maps, their scores, CKA, prediction depth, units, neighbours' classes and the layer flow."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from featlib.lazy import plotly_go as go
from featlib.lazy import plotly_subplots
from featlib.maps.layer_flow import LayerFlow, cluster_names
from featlib.plots.scatter import _HOVER, COLOUR_MODES, _map_traces
from featlib.plots.style import (
    LEGEND_ROW,
    MARGIN,
    MODEBAR_HEIGHT,
    SUBPLOT_TITLE,
    TITLE_LINE,
    WRONG_COLOUR,
    _rgba,
    colour_of,
    colourbar,
    frame,
    table_frame,
    table_values,
    text,
    title_lines,
)


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
    other_names = [text(n) for n in (names if other_names is None else other_names)]
    names = [text(n) for n in names]
    matrix = table_values(matrix, names, other_names, "The CKA matrix")
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
    return table_frame(fig, rows=len(names), row_height=36, base=120)


def class_shift_heatmap(shift: np.ndarray, class_names: Sequence[str], before: str, after: str) -> go.Figure:
    """Where neighbours went, class by class (:func:`featlib.maps.neighbour_change.class_shift`), as a heatmap.

    Args:
        shift: ``(C, C)``: row ``i``, column ``j``: the change in the share of class ``j`` among the neighbours
            of class ``i``'s images, from ``before`` to ``after`` (−1 to 1; red: gained, blue: lost).
        class_names: the ``C`` classes.
        before, after: the two representations' names, for the title and the hover text.
    """
    names = [text(n) for n in class_names]
    shift = table_values(shift, names, names, "The class shift")
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
    return table_frame(
        fig,
        rows=len(names),
        row_height=30,
        title=title_lines(f"Where neighbours went: {after} against {before}", 60),
        x_title="class of the neighbours",
        y_title="class of the image",
    )


def prediction_depth_heatmap(counts: np.ndarray, class_names: Sequence[str], layer_names: Sequence[str]) -> go.Figure:
    """How many images of each class are decided at each layer (prediction depth), as a heatmap.

    Args:
        counts: int ``(C, L + 1)``: row ``i``, column ``d``: images of class ``i`` with depth ``d``
            (:func:`featlib.maps.prediction_depth.counts_by_class`); the last column: never settled.
        class_names: the ``C`` classes; layer_names: the ``L`` representations, in order.
    """
    rows = [text(n) for n in class_names]
    columns = [f"{i} {text(n)}" for i, n in enumerate(layer_names)] + [f"{len(layer_names)} never"]
    counts = table_values(counts, rows, columns, "The depth counts")
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
    return table_frame(
        fig,
        rows=len(rows),
        row_height=28,
        title="Prediction depth per class: the layer from which every later layer's k-NN vote is the prediction",
        x_title="prediction depth (layer)",
        y_title="true class",
        every_x_tick=False,
    )


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


def unit_counts(rows: Sequence[dict]) -> go.Figure:
    """Each layer's dead and near-duplicate units as grouped bars (:meth:`featlib.maps.units.UnitStats.summary`).

    Args:
        rows: ``[{"layer", "dead", "duplicated", "examined"}]``, one per layer, in layer order.
    """
    names = [text(row["layer"]) for row in rows]
    figure = go.Figure()
    for field, title, colour in (
        ("dead", "dead (constant on the data)", "#7f7f7f"),
        ("duplicated", "near-duplicate (|r| > 0.99 with another)", "#ff7f0e"),
    ):
        counts = [int(row[field]) for row in rows]
        shares = [row[field] / max(1, row["examined"]) for row in rows]
        figure.add_trace(
            go.Bar(
                x=names,
                y=counts,
                name=title,
                marker_color=colour,
                customdata=np.column_stack([shares, [row["examined"] for row in rows]]),
                hovertemplate="%{x}: %{y:,} of %{customdata[1]:,} units (%{customdata[0]:.0%})<extra></extra>",
            )
        )
    return frame(
        figure,
        top=LEGEND_ROW,
        height=300,
        barmode="group",
        yaxis_title="units",
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    )


def unit_auroc(units: Sequence[int], auroc: Sequence[float], title: str = "") -> go.Figure:
    """Units by how well each tells a selection apart: horizontal bars of each unit's AUROC drawn from 0.5, the best
    on top; right of 0.5 (blue) the unit is higher on the selection, left (red) lower."""
    units, auroc = [int(u) for u in units], np.asarray(auroc, dtype=float)
    names = [f"unit {u}" for u in units]
    figure = go.Figure(
        go.Bar(
            x=auroc - 0.5,
            y=names,
            base=0.5,
            orientation="h",
            marker_color=np.where(auroc >= 0.5, "#1f77b4", "#d62728").tolist(),
            customdata=auroc,
            hovertemplate="%{y}: AUROC %{customdata:.3f}<extra></extra>",
        )
    )
    figure.add_vline(x=0.5, line={"color": "#7f7f7f", "dash": "dot", "width": 1})
    return frame(
        figure,
        title=text(title) if title else "",
        height=max(220, 22 * len(units) + 80),
        xaxis={"range": [0.0, 1.0], "title": "AUROC (0.5: chance)"},
        yaxis={"autorange": "reversed"},
        showlegend=False,
    )


FLOW_NODE_PAD = 6
"""Pixels between two clusters of one column of :func:`layer_flow`."""


FLOW_NODE_THICKNESS = 14
"""Pixels of a cluster's bar in :func:`layer_flow`."""


def _flow_positions(flow: LayerFlow, plot_height: float) -> tuple[list[float], list[float]]:
    """Each cluster's centre (x, y in 0..1) in :func:`layer_flow`: one column per representation, clusters stacked
    in rank order at the heights plotly's Sankey gives them (its scale is set by the column with most clusters)."""
    columns = len(flow.names)
    most = max(flow.clusters(layer) for layer in range(columns))
    scale = max(plot_height - (most - 1) * FLOW_NODE_PAD, 1.0) / max(flow.n, 1)  # pixels per image
    xs, ys = [], []
    for layer in range(columns):
        top = 0.0
        for node in range(flow.cluster_offsets[layer], flow.cluster_offsets[layer + 1]):
            size = float(flow.cluster_size[node]) * scale
            xs.append(min(max(layer / max(columns - 1, 1), 0.001), 0.999))  # 0 reads as "unset" to plotly
            ys.append(min(max((top + size / 2) / plot_height, 0.001), 0.999))
            top += size + FLOW_NODE_PAD
    return xs, ys


def layer_flow(
    flow: LayerFlow,
    class_names: Sequence[str],
    *,
    follow_wrong: bool = False,
    highlight: int | None = None,
    height: int = 560,
) -> go.Figure:
    """The sampled images flowing between clusters from the input pixels through every layer, as a Sankey diagram.

    Args:
        flow: a :class:`featlib.maps.layer_flow.LayerFlow`: one column of clusters per representation, ordered
            by majority class (each named by its class and purity, coloured by its class), one ribbon per link.
        class_names: the dataset's classes (a majority class past them is named by its number).
        follow_wrong: each ribbon split in two: its correctly classified images faded in their class's colour,
            its misclassified ones in red (:data:`WRONG_COLOUR`); else one ribbon per link in the colour of its
            images' majority class.
        highlight: a link drawn darker than the others (the one picked), or ``None``.
        height: the figure's height in pixels.

    Each ribbon's ``customdata`` is ``[link number, misclassified images of the link]``.
    """
    names = [text(name) for name in cluster_names(flow, class_names)]
    layer_of = np.repeat(np.arange(len(flow.names)), np.diff(flow.cluster_offsets))
    top = MODEBAR_HEIGHT + TITLE_LINE + 6 + 2 * TITLE_LINE
    xs, ys = _flow_positions(flow, height - top - MARGIN["b"])
    source = flow.cluster_offsets[flow.link_layer] + flow.link_source
    target = flow.cluster_offsets[flow.link_layer + 1] + flow.link_target
    links = np.arange(flow.n_links)
    picked = np.zeros(flow.n_links, dtype=bool) if highlight is None else links == int(highlight)
    base = np.where(picked, 0.9, 0.18 if follow_wrong else 0.4)
    class_colours = [_rgba(colour_of(label), alpha) for label, alpha in zip(flow.link_label, base, strict=True)]
    if follow_wrong:
        right = flow.link_count - flow.link_wrong
        parts = [
            (right, class_colours),
            (flow.link_wrong, [WRONG_COLOUR if p else _rgba(WRONG_COLOUR, 0.75) for p in picked]),
        ]
    else:
        parts = [(flow.link_count, class_colours)]
    value, colour, sources, targets, data = [], [], [], [], []
    for counts, colours in parts:
        keep = np.flatnonzero(counts > 0)
        value += counts[keep].tolist()
        colour += [colours[i] for i in keep]
        sources += source[keep].tolist()
        targets += target[keep].tolist()
        data += [[int(i), int(flow.link_wrong[i])] for i in keep]
    fig = go.Figure(
        go.Sankey(
            arrangement="fixed",
            node={
                "label": names,
                "x": xs,
                "y": ys,
                "pad": FLOW_NODE_PAD,
                "thickness": FLOW_NODE_THICKNESS,
                "color": [colour_of(label) for label in flow.cluster_label],
                "line": {"width": 0.5, "color": "rgba(40, 40, 40, 0.4)"},
                "customdata": [
                    [text(flow.names[layer]), int(w)] for layer, w in zip(layer_of, flow.cluster_wrong, strict=True)
                ],
                "hovertemplate": "%{customdata[0]}: cluster %{label}<br>%{value:,} images, "
                "%{customdata[1]:,} misclassified<extra></extra>",
            },
            link={
                "source": sources,
                "target": targets,
                "value": value,
                "color": colour,
                "customdata": data,
                "hovertemplate": "%{source.label} → %{target.label}<br>%{value:,} images "
                "(the link's misclassified: %{customdata[1]:,})<extra></extra>",
            },
        )
    )
    for layer, name in enumerate(flow.names):
        fig.add_annotation(
            x=layer / max(len(flow.names) - 1, 1),
            y=1.0,
            xref="paper",
            yref="paper",
            yanchor="bottom",
            xanchor="center" if 0 < layer < len(flow.names) - 1 else ("left" if layer == 0 else "right"),
            text=text(name),
            showarrow=False,
            font={"size": 12},
        )
    wrong = " · misclassified images in red" if follow_wrong else ""
    return frame(
        fig,
        title=f"Layer flow: {flow.n:,} images through {flow.k} clusters per layer, from the input to the output{wrong}",
        height=height,
        top=2 * TITLE_LINE,
    )
