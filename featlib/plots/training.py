"""Figures of a training: its curves, the scrubbable map of its checkpoints, and the extraction methods' times."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from featlib.lazy import plotly_go as go
from featlib.lazy import plotly_subplots
from featlib.plots.style import LEGEND_ROW, MODEBAR_HEIGHT, SUBPLOT_TITLE, colour_of, frame, text


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


FLOW_SMOOTH_POINTS = 5_000
"""Up to this many points a training's flow (:func:`checkpoint_flow`) is drawn as SVG, whose points glide from
one epoch to the next; above, as WebGL, whose frames are redrawn (the points jump), so the page stays fluid."""


FLOW_MOVED_NAME = "moved most"
"""The legend name of the rings around the images that moved most in :func:`checkpoint_flow`."""


def checkpoint_flow(
    flow: np.ndarray | Sequence[np.ndarray],
    indices: np.ndarray,
    labels: np.ndarray,
    titles: Sequence[str],
    class_names: Sequence[str] | None = None,
    *,
    title: str = "",
    marked: Sequence[int] | np.ndarray | None = None,
    start: int = 0,
    height: int = 620,
) -> go.Figure:
    """A training's stable map as an animation: one frame per checkpoint, a slider over them and a play button.

    Every point keeps its identity from frame to frame (plotly's ``ids``: its dataset index), so the play
    button and the slider move each image from its place at one epoch to its place at the next. The axes are
    fixed to hold every frame, one colour per class as on every map.

    Args:
        flow: ``(c, n, 2)`` float coordinates, one map per checkpoint of the same images
            (:func:`featlib.maps.checkpoint_flow.checkpoint_flow`).
        indices: int ``(n,)``, the images' dataset indices; labels: int ``(n,)``, their classes.
        titles: ``c`` names of the frames ("epoch 1", ..., "trained"): the slider's labels and the frames' names.
        class_names: the legend's names of the classes (default: the labels).
        title: the figure's title (escaped here).
        marked: dataset indices ringed in black in every frame (:data:`FLOW_MOVED_NAME`), e.g. the images that
            moved most; those not among ``indices`` are skipped.
        start: the frame shown first.
        height: the figure's height in pixels.

    Returns:
        A figure with ``len(titles)`` frames, named by ``titles``.

    Raises:
        ValueError: ``flow``, ``indices``, ``labels`` and ``titles`` disagree in size.
    """
    flow = np.asarray(flow, dtype="float64")
    indices, labels = np.asarray(indices, dtype=int), np.asarray(labels, dtype=int)
    if flow.ndim != 3 or flow.shape[2] != 2 or flow.shape[1] != len(indices) or len(labels) != len(indices):
        raise ValueError(
            f"A flow is (checkpoints, points, 2) coordinates of the points given; got {flow.shape} for "
            f"{len(indices)} indices and {len(labels)} labels."
        )
    if len(titles) != len(flow):
        raise ValueError(f"One title per checkpoint: {len(flow)} checkpoints, got {len(titles)} titles.")
    names = list(class_names) if class_names is not None else [str(c) for c in range(int(labels.max(initial=0)) + 1)]
    smooth = len(indices) <= FLOW_SMOOTH_POINTS
    trace_type = go.Scatter if smooth else go.Scattergl
    ring = np.isin(indices, np.asarray([] if marked is None else marked, dtype=int))
    groups = [(int(c), labels == c) for c in np.unique(labels)]

    def traces(i: int) -> list:
        coords = flow[i]
        drawn = []
        for c, mask in groups:
            drawn.append(
                trace_type(
                    x=coords[mask, 0],
                    y=coords[mask, 1],
                    ids=[str(j) for j in indices[mask]],
                    mode="markers",
                    name=text(names[c] if c < len(names) else c),
                    marker={"size": 5, "color": colour_of(c), "opacity": 0.75},
                    customdata=np.column_stack([indices[mask], labels[mask]]),
                    hovertemplate="index %{customdata[0]}<br>true %{customdata[1]}<extra></extra>",
                    legendgroup=str(c),
                )
            )
        drawn.append(
            trace_type(
                x=coords[ring, 0],
                y=coords[ring, 1],
                ids=[f"moved-{j}" for j in indices[ring]],
                mode="markers",
                name=FLOW_MOVED_NAME,
                marker={"size": 13, "symbol": "circle-open", "color": "black", "line": {"width": 2}},
                customdata=np.column_stack([indices[ring], labels[ring]]),
                hovertemplate=f"<b>{FLOW_MOVED_NAME}</b><br>index %{{customdata[0]}}<extra></extra>",
                showlegend=bool(ring.any()),
            )
        )
        return drawn

    start = min(max(int(start), 0), len(flow) - 1)
    fig = go.Figure(
        data=traces(start),
        frames=[go.Frame(data=traces(i), name=str(name)) for i, name in enumerate(titles)],
    )
    low, high = np.nanmin(flow, axis=(0, 1)), np.nanmax(flow, axis=(0, 1))
    pad = (high - low) * 0.04 + 1e-9
    step = {"duration": 700, "redraw": not smooth}
    slide = {"duration": 450, "easing": "cubic-in-out"} if smooth else {"duration": 0}
    fig.update_layout(
        updatemenus=[
            {
                "type": "buttons",
                "direction": "left",
                "showactive": False,
                "x": 0,
                "y": -0.06,
                "xanchor": "left",
                "yanchor": "top",
                "pad": {"r": 8, "t": 8},
                "buttons": [
                    {
                        "label": "▶ Play",
                        "method": "animate",
                        "args": [None, {"frame": step, "transition": slide, "fromcurrent": True}],
                    },
                    {
                        "label": "❚❚ Pause",
                        "method": "animate",
                        "args": [[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}],
                    },
                ],
            }
        ],
        sliders=[
            {
                "active": start,
                "x": 0.16,
                "len": 0.78,  # room on the right for the last tick's "(trained)"
                "y": -0.02,
                "yanchor": "top",
                "currentvalue": {"prefix": "epoch "},
                "pad": {"t": 8},
                "steps": [
                    {
                        "label": text(str(name).removeprefix("epoch ")),  # the number: the prefix says epoch
                        "method": "animate",
                        "args": [
                            [str(name)],
                            {"mode": "immediate", "frame": {"duration": 0, "redraw": not smooth}, "transition": slide},
                        ],
                    }
                    for name in titles
                ],
            }
        ],
        xaxis={"range": [low[0] - pad[0], high[0] + pad[0]], "autorange": False, "showticklabels": False},
        yaxis={"range": [low[1] - pad[1], high[1] + pad[1]], "autorange": False, "showticklabels": False},
    )
    frame(
        fig,
        title=text(title),
        height=height,
        margin={"b": 110},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "x": 0, "title": None, "itemsizing": "constant"},
        top=LEGEND_ROW,
    )
    return fig
