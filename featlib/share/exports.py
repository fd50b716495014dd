"""Files to take away: tables (CSV, Parquet), figures (HTML, PNG) and models (``.keras``).

Tables are pandas frames written by pandas (Parquet through pyarrow); the
figure's HTML is plotly's own, with plotly.js inlined so that it opens
offline; PNGs are rendered by kaleido in a headless Chromium (Debian's
``/usr/bin/chromium`` unless ``$BROWSER_PATH`` names another).
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from featlib import csv_cells, plots
from featlib.errors import ExportError
from featlib.lazy import kaleido
from featlib.lazy import pandas as pd
from featlib.lazy import plotly_go as go

if TYPE_CHECKING:
    from featlib.store import ModelRecord, Workspace

TABLE_FORMATS = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
CHROMIUM = "/usr/bin/chromium"
PNG_SIZE = (1000, 620)


def embedding_table(
    indices: np.ndarray,
    coords: np.ndarray,
    labels: np.ndarray,
    predicted: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A map as a table: ``index, label, [label_name], predicted, x, y`` (and ``z`` for a 3-D map), one row per point.

    Args:
        indices: positions of the points in their dataset split.
        coords: ``(n, 2)`` map coordinates, or ``(n, 3)`` for a 3-D map.
        labels: true labels of the whole split (indexed by ``indices``).
        predicted: the model's predicted labels of the whole split, if known.
        class_names: names of the classes, by label.
    """
    indices = np.asarray(indices, dtype=np.int64)
    coords = np.asarray(coords)
    if coords.ndim != 2 or coords.shape[0] != len(indices) or coords.shape[1] not in (2, 3):
        raise ValueError(
            f"coords must have shape ({len(indices)}, 2) or ({len(indices)}, 3) to match the indices; got {coords.shape}."
        )
    table = pd.DataFrame({"index": indices, "label": np.asarray(labels)[indices]})
    if class_names is not None:
        table["label_name"] = [class_names[int(c)] for c in table["label"]]
    table["predicted"] = np.asarray(predicted)[indices] if predicted is not None else -1
    for axis, name in enumerate("xyz"[: coords.shape[1]]):
        table[name] = coords[:, axis].astype("float64")
    return table


def representation_table(outputs: np.ndarray, labels: np.ndarray, predicted: np.ndarray | None = None) -> pd.DataFrame:
    """A layer's outputs as a table: ``index, label, predicted, u0, u1, ...``, one row per image."""
    outputs = np.asarray(outputs).reshape(len(outputs), -1)
    if len(labels) != len(outputs):
        raise ValueError(f"Expected one label per output row ({len(outputs)}); got {len(labels)} labels.")
    table = pd.DataFrame({"index": np.arange(len(outputs)), "label": np.asarray(labels)})
    table["predicted"] = np.asarray(predicted) if predicted is not None else -1
    units = pd.DataFrame(outputs, columns=[f"u{i}" for i in range(outputs.shape[1])])
    return pd.concat([table, units], axis=1)


def table_bytes(table: pd.DataFrame, fmt: str) -> bytes:
    """``table`` as CSV (no pandas index column; floats in full precision) or Parquet bytes.

    A CSV's text cells that a spreadsheet would run as a formula (a class name ``=HYPERLINK(...)``) are written
    with a single quote in front (:func:`featlib.csv_cells.safe_frame`); Parquet keeps the values as they are.
    """
    if fmt == "csv":
        return csv_cells.safe_frame(table).to_csv(index=False).encode()
    if fmt == "parquet":
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        return buffer.getvalue()
    raise ExportError(f"Unknown table format: {fmt!r}. Choose one of {list(TABLE_FORMATS)}.")


def figure_html(figure: go.Figure) -> bytes:
    """A self-contained interactive HTML page of ``figure`` (plotly.js inlined: opens offline)."""
    buffer = io.StringIO()
    figure.write_html(buffer, include_plotlyjs=True, full_html=True)
    return buffer.getvalue().encode()


TITLE_FONT = 16
"""Pixels of an exported figure's title text."""
TITLE_CHAR = 0.6
"""A generous average glyph width of the title's font, in font sizes: lines this long fit the image."""
TITLE_PART = 48
"""Characters a part of the title (a model or dataset name) keeps at most; longer ones are cut in the middle."""


def shorten(part: str, most: int = TITLE_PART) -> str:
    """``part`` cut in its middle to at most ``most`` characters (``"t10k-images…10 classes)"``)."""
    part = str(part)
    if len(part) <= most:
        return part
    head = (most - 1) // 2
    return part[:head] + "…" + part[len(part) - (most - 1 - head) :]


def title_text(title: str, width: int = PNG_SIZE[0]) -> str:
    """``title`` (parts joined by `` · ``) as lines that fit an image ``width`` pixels wide, escaped, ``<br>`` between.

    Each part keeps at most :data:`TITLE_PART` characters; the lines break between parts.
    """
    chars = max(20, int((width - 40) / (TITLE_FONT * TITLE_CHAR)))
    parts = [shorten(part, min(TITLE_PART, chars)) for part in str(title).split(" · ")]
    return plots.title_lines(" · ".join(parts), width=chars)


def titled(figure: go.Figure, title: str, width: int = PNG_SIZE[0]) -> go.Figure:
    """A copy of ``figure`` with ``title`` (plain text, escaped here) across its top, for a file read away from the page.

    The page names what a map shows in a caption above it; a PNG has no page around it. The title is
    broken into lines that fit ``width`` pixels (:func:`title_text`), and the axes' zero lines are left out:
    a map's coordinates have no meaningful zero.
    """
    copy = go.Figure(figure)
    text = title_text(title, width)
    lines = text.count("<br>") + 1
    # A PNG has no toolbar: its band at the top (plots.MODEBAR_HEIGHT) holds the title instead.
    top = max(int(copy.layout.margin.t or 0) - plots.MODEBAR_HEIGHT, 10) + (TITLE_FONT + 6) * lines + 24
    copy.update_xaxes(zeroline=False)
    copy.update_yaxes(zeroline=False)
    copy.update_layout(
        title={
            "text": text,
            "x": 0.01,
            "xanchor": "left",
            "xref": "paper",
            "y": 1,
            "yref": "container",
            "yanchor": "top",
            "pad": {"t": 10},
            "font": {"size": TITLE_FONT},
        },
        margin={"t": top},
    )
    return copy


def figure_png(figure: go.Figure, size: tuple[int, int] = PNG_SIZE, title: str | None = None) -> bytes:
    """``figure`` as a PNG image, rendered by kaleido in headless Chromium.

    Args:
        figure: the figure; left unchanged.
        size: width and height in pixels.
        title: plain text drawn across the image's top (:func:`titled`), e.g. model · layer ·
            method · reducer · points: what the image shows, read away from the page.

    Raises:
        ExportError: kaleido or a Chromium is missing, naming what to install.
    """
    if not os.environ.get("BROWSER_PATH") and os.path.exists(CHROMIUM):
        os.environ["BROWSER_PATH"] = CHROMIUM
    try:
        kaleido.load()
    except ImportError:
        raise ExportError(
            "PNG export needs the kaleido package: pip install 'kaleido>=1' (see requirements.txt)."
        ) from None
    try:
        return (titled(figure, title, size[0]) if title else figure).to_image(
            format="png", width=size[0], height=size[1]
        )
    except Exception as error:  # choreographer and kaleido raise many types when Chromium fails
        raise ExportError(
            f"PNG rendering failed ({type(error).__name__}: {str(error)[:200]}); kaleido needs Chrome or "
            f"Chromium: install Debian's 'chromium' or set BROWSER_PATH. The HTML export works without it."
        ) from error


def model_bytes(workspace: Workspace, record: ModelRecord) -> bytes:
    """The saved ``.keras`` file of a workspace model, as stored."""
    return (workspace.root / record.path).read_bytes()


def safe_file_name(text: str) -> str:
    """``text`` reduced to letters, digits, ``-``, ``_`` and ``.``, for download file names."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-.")
    return cleaned[:80] or "featlib"
