"""What every featlib figure shares: the class palette, escaped text, the toolbar band, margins and colour bars."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np

from featlib.lazy import plotly_go as go

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


def table_values(values: object, rows: Sequence[str], columns: Sequence[str], what: str) -> np.ndarray:
    """``values`` as a float array of one row per name of ``rows`` and one column per name of ``columns``.

    Raises:
        ValueError: another shape; the message names ``what`` ("The CKA matrix"), the shape expected and the
            shape received.
    """
    values = np.asarray(values, dtype=float)
    if values.shape != (len(rows), len(columns)):
        raise ValueError(f"{what} must be {len(rows)} × {len(columns)} for these names; got {values.shape}.")
    return values


def table_frame(
    fig: go.Figure,
    *,
    rows: int,
    row_height: int,
    base: int = 140,
    title: str = "",
    x_title: str = "",
    y_title: str = "",
    every_x_tick: bool = True,
) -> go.Figure:
    """Frames a table drawn as a heatmap (:func:`frame`): category axes, the first row at the top, every row's
    name shown, and a height of ``base`` pixels plus the toolbar's band plus ``row_height`` pixels a row.

    Args:
        fig: the figure, changed in place.
        rows: the table's row count; row_height, base: pixels.
        title: already escaped; x_title, y_title: the axes' titles.
        every_x_tick: show every column's name (``False``: as many as fit).
    """
    return frame(
        fig,
        title=title,
        height=base + MODEBAR_HEIGHT + row_height * rows,
        xaxis={"type": "category", "title": x_title, **({"tickmode": "linear"} if every_x_tick else {})},
        yaxis={"type": "category", "autorange": "reversed", "title": y_title, "tickmode": "linear"},
    )


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
        modebar={"remove": list(MODEBAR_REMOVE), "orientation": "h", "bgcolor": "rgba(0,0,0,0)"},
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


CORRECT_COLOUR = "#b0b7bf"


WRONG_COLOUR = "#d62728"


def _rgba(colour: str, alpha: float) -> str:
    """``"#1f77b4"`` as ``"rgba(31, 119, 180, alpha)"``."""
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"
