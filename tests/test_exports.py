"""Tests for featlib.share.exports: real tables, real HTML, a real PNG rendered by kaleido in Chromium."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pandas as pd
import pytest

from featlib import plots
from featlib.share import exports
from featlib.store import Workspace


@pytest.fixture(scope="module")
def points():
    rng = np.random.default_rng(0)
    labels = np.arange(300) % 10
    predicted = labels.copy()
    predicted[::7] = 0
    indices = np.sort(rng.choice(300, 120, replace=False))
    coords = rng.normal(size=(120, 2)).astype("float32")
    return indices, coords, labels, predicted


def test_embedding_table_in_csv_and_parquet_round_trips(points):
    indices, coords, labels, predicted = points
    table = exports.embedding_table(indices, coords, labels, predicted, [f"c{i}" for i in range(10)])
    assert list(table.columns) == ["index", "label", "label_name", "predicted", "x", "y"]
    assert np.array_equal(table["label"], labels[indices]) and np.array_equal(table["predicted"], predicted[indices])
    back_csv = pd.read_csv(io.BytesIO(exports.table_bytes(table, "csv")))
    back_parquet = pd.read_parquet(io.BytesIO(exports.table_bytes(table, "parquet")))
    pd.testing.assert_frame_equal(back_parquet, table)
    pd.testing.assert_frame_equal(back_csv, table, check_exact=False, rtol=1e-15)  # CSV keeps full precision
    assert np.array_equal(back_parquet[["x", "y"]].to_numpy(), coords.astype("float64"))


def test_representation_table(points):
    _, _, labels, predicted = points
    outputs = np.random.default_rng(1).random((300, 4)).astype("float32")
    table = exports.representation_table(outputs, labels, predicted)
    assert list(table.columns) == ["index", "label", "predicted", "u0", "u1", "u2", "u3"]
    back = pd.read_parquet(io.BytesIO(exports.table_bytes(table, "parquet")))
    assert np.array_equal(back[["u0", "u1", "u2", "u3"]].to_numpy(), outputs)
    with pytest.raises(ValueError, match="one label per output row \\(300\\); got 5 labels"):
        exports.representation_table(outputs, labels[:5])
    with pytest.raises(exports.ExportError, match="Unknown table format: 'xls'"):
        exports.table_bytes(table, "xls")


def test_figure_html_is_self_contained(points):
    indices, coords, labels, predicted = points
    figure = plots.scatter_map(coords, indices, labels[indices], predicted[indices])
    html = exports.figure_html(figure)
    assert html.startswith(b"<!doctype html>") and b"<script src=" not in html  # nothing fetched
    assert len(html) > 1_000_000  # plotly.js inlined
    traces = json.loads(figure.to_json())["data"]
    assert len(traces) == 10 and all(
        t["x"]["bdata"].encode() in html.replace(b"\\u002f", b"/") for t in traces
    )  # every point is in the page


@pytest.mark.skipif(not os.path.exists(exports.CHROMIUM), reason="PNG rendering needs Debian's chromium")
def test_figure_png_is_rendered(points):
    indices, coords, labels, predicted = points
    png = exports.figure_png(plots.scatter_map(coords, indices, labels[indices], predicted[indices]), size=(500, 400))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (500, 400)


def test_model_bytes_are_the_stored_keras_file(tmp_path, model):
    from featlib.models import fingerprint, load_model, save_model

    ws = Workspace(tmp_path / "ws")
    record = save_model(ws, model, "m", dataset="digits")
    path = tmp_path / "copy.keras"
    path.write_bytes(exports.model_bytes(ws, record))
    assert fingerprint(load_model(path)) == record.fingerprint
    assert exports.safe_file_name("my model/../x") == "my-model-..-x"
