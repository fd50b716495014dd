"""plotly figures: the map, training curves, image grids and small charts."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

# A fixed ten-colour palette (D3's category10), so digit 3 has the same colour
# in every plot, page and session.
DIGIT_COLOURS = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)  # fmt: skip


def colour_of(label: int) -> str:
    """The palette colour of a class label (cycles past ten classes)."""
    return DIGIT_COLOURS[int(label) % len(DIGIT_COLOURS)]


def scatter_map(
    coords: np.ndarray,
    indices: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
    title: str = "",
    axis_name: str = "UMAP",
) -> go.Figure:
    """A WebGL scatter of a 2-D map, one trace per class.

    Clicking a legend entry hides that class, double-clicking isolates it.
    Each point carries ``customdata = [index, true label, predicted label]``
    (``-1`` when unknown), shown on hover and returned by selections.

    Args:
        coords: ``(n, 2)`` map coordinates.
        indices: ``(n,)`` positions of the points in their dataset split.
        labels: ``(n,)`` true labels.
        predicted: optional ``(n,)`` predicted labels.
        class_names: names of the classes, by label.
        title: the figure title.
        axis_name: the projection's name, for the axis titles.
    """
    labels = np.asarray(labels)
    predicted = np.full(len(labels), -1) if predicted is None else np.asarray(predicted)
    names = list(class_names) if class_names is not None else [str(i) for i in range(labels.max() + 1)]
    fig = go.Figure()
    for label, mask in _class_masks(labels):
        custom = np.column_stack([indices[mask], labels[mask], predicted[mask]])
        fig.add_trace(
            go.Scattergl(
                x=coords[mask, 0],
                y=coords[mask, 1],
                mode="markers",
                name=f"{names[label]}",
                marker={"size": 4, "color": colour_of(label), "opacity": 0.8},
                customdata=custom,
                hovertemplate=(
                    "index %{customdata[0]}<br>true %{customdata[1]}"
                    "<br>predicted %{customdata[2]}<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        title=title,
        height=620,
        dragmode="lasso",
        legend={"title": "label", "itemsizing": "constant"},
        margin={"l": 10, "r": 10, "t": 50 if title else 10, "b": 10},
        xaxis={"showticklabels": False, "title": f"{axis_name} 1"},
        yaxis={"showticklabels": False, "title": f"{axis_name} 2"},
    )
    return fig


def _class_masks(labels: np.ndarray):
    """``(label, mask)`` per class present, in the order of :func:`scatter_map`'s traces."""
    for label in np.unique(labels):
        yield int(label), labels == label


def selected_indices(points: Sequence[dict], indices: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Dataset indices of the points selected in a :func:`scatter_map` figure.

    Args:
        points: the selection's points as Streamlit reports them (each with
            ``curve_number`` and ``point_index``).
        indices, labels: the arrays the figure was made from.
    """
    members = [indices[mask] for _, mask in _class_masks(np.asarray(labels))]
    chosen = {int(members[p["curve_number"]][p["point_index"]]) for p in points}
    return np.array(sorted(chosen), dtype=int)


def training_curves(history: dict[str, list[float]]) -> go.Figure:
    """Loss and accuracy per epoch, training and validation side by side."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("loss", "accuracy"))
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
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


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
    fig.update_layout(
        height=max(200, 34 * len(rows)),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"visible": False},
        yaxis={
            "autorange": "reversed",
            "tickvals": centres,
            "ticktext": [class_names[label] for label in sorted(images_by_class)],
            "scaleanchor": "x",
        },
    )
    return fig


def label_counts(labels: np.ndarray, class_names: Sequence[str]) -> go.Figure:
    """A bar chart of how many points of each class there are."""
    counts = np.bincount(np.asarray(labels), minlength=len(class_names))
    present = np.flatnonzero(counts)
    fig = go.Figure(
        go.Bar(
            x=[class_names[i] for i in present],
            y=counts[present],
            marker_color=[colour_of(i) for i in present],
            text=counts[present],
        )
    )
    fig.update_layout(
        height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10}, xaxis={"type": "category"}
    )
    return fig


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
    fig.update_layout(height=180, margin={"l": 10, "r": 10, "t": 10, "b": 10}, xaxis_title="ms")
    return fig


def class_means(means: np.ndarray, class_names: Sequence[str]) -> go.Figure:
    """A heatmap of each class's mean output per unit (classes × units)."""
    fig = go.Figure(
        go.Heatmap(
            z=means,
            y=list(class_names),
            colorscale="Viridis",
            colorbar={"title": "mean"},
            hovertemplate="class %{y}<br>unit %{x}<br>mean %{z:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        height=60 + 24 * len(class_names),
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis_title="unit",
        yaxis={"type": "category", "autorange": "reversed"},
    )
    return fig
