"""Issue 28's figure objects: the PNG export's title and axes, the selection's style, a softmax layer's map,
the Compare page's alignment (items 4, 6 and 11; the layouts are checked in Chromium, tests/e2e/test_*_layout.py).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from app_testing import APP, TIMEOUT, no_exception, page_path
from streamlit.testing.v1 import AppTest

from featlib import models, plots
from featlib.app import comparing, exporting, maps
from featlib.datasets import load_digits
from featlib.maps import align, embed
from featlib.pipeline import Embedding
from featlib.share import exports
from featlib.share.views import View
from featlib.store import Workspace

LONG_DATA = "t10k-images-idx3-ubyte.gz + t10k-labels-idx1-ubyte.gz (MNIST-like IDX, 10 classes, 10,000 images, 28×28)"


def a_map(n: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    predicted = labels.copy()
    predicted[::7] = (labels[::7] + 1) % 10
    return rng.normal(size=(n, 2)) * 5 + 3, np.arange(n), labels, predicted


class _Record:
    name = "mnist-cnn-uploaded"


class _Data:
    name = LONG_DATA


def test_the_png_title_names_the_maps_own_method_layer_and_reducer():
    view = View("m1", "digits", "dense_1", "submodel", "test", 2_000, embed.PCAParams())
    emb = Embedding(np.arange(2_000), np.zeros((2_000, 2), dtype="float32"), "k")
    title = exporting.png_title(_Record(), _Data(), "test", emb, view, "dense_1")
    assert title.split(" · ")[:4] == ["mnist-cnn-uploaded", "dense_1", "Model.predict", "PCA"], title
    assert "2,000 points" in title and LONG_DATA in title


def test_the_png_title_fits_the_image_and_no_zero_lines_cross_the_map():
    coords, indices, labels, predicted = a_map()
    figure = plots.scatter_map(coords, indices, labels, predicted)
    assert figure.layout.xaxis.zeroline is False and figure.layout.yaxis.zeroline is False
    title = f"mnist-cnn-uploaded · dense_1 · Model.predict · UMAP · 10,000 points · {LONG_DATA} test"
    titled = exports.titled(figure, title)
    assert titled.layout.xaxis.zeroline is False and titled.layout.yaxis.zeroline is False
    lines = titled.layout.title.text.split("<br>")
    most = (exports.PNG_SIZE[0] - 40) / (exports.TITLE_FONT * exports.TITLE_CHAR)
    assert all(len(line) <= most for line in lines), lines
    assert len(lines) >= 2 and "Model.predict" in titled.layout.title.text and "UMAP" in titled.layout.title.text
    assert titled.layout.margin.t >= (exports.TITLE_FONT + 6) * len(lines)  # room for every line


def test_an_exported_png_title_is_not_cut_at_the_right_edge():
    pytest.importorskip("kaleido")
    from PIL import Image

    coords, indices, labels, predicted = a_map()
    figure = plots.scatter_map(coords, indices, labels, predicted)
    title = f"mnist-cnn-uploaded · dense_1 · Model.predict · UMAP · 10,000 points · {LONG_DATA} test"
    try:
        png = exports.figure_png(figure, title=title)
    except exports.ExportError as error:  # no Chromium for kaleido here
        pytest.skip(str(error))
    image = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    band = image[: int(exports.titled(figure, title).layout.margin.t) - 10]  # the title's rows, above the plot
    assert band.min() < 128, "no title drawn"
    assert band[:, -12:].min() > 200, "the title runs into the image's right edge"


def test_selected_points_keep_their_colouring_under_a_light_outline():
    coords, indices, labels, predicted = a_map()
    wrong = indices[predicted != labels]
    figure = plots.scatter_map(coords, indices, labels, predicted, colour="correct", highlight=wrong[:30])
    [marked] = [t for t in figure.data if t.name == plots.HIGHLIGHT_NAME]
    assert set(marked.marker.color) == {plots.WRONG_COLOUR}, "a misclassified point stays red when selected"
    assert marked.marker.line.width <= 1 and marked.marker.line.color not in ("black", "#000000")
    assert marked.marker.size <= 7
    assert all(t.marker.opacity <= 0.35 for t in figure.data if t.name != plots.HIGHLIGHT_NAME)


def test_the_inspected_point_is_marked_in_no_class_colour():
    from featlib.app import inspector

    assert inspector.MARK_COLOUR.lower() not in {c.lower() for c in plots.DIGIT_COLOURS}
    assert inspector.MARK_COLOUR.lower() != plots.WRONG_COLOUR.lower()


def test_softmax_outputs_are_told_from_hidden_ones(model, x_digits):
    from featlib.read import extract

    softmax = extract.extract(model, "activation_2", x_digits[:200])
    hidden = extract.extract(model, "dense_1", x_digits[:200])
    assert maps.are_probabilities(softmax) and not maps.are_probabilities(hidden)
    assert not maps.are_probabilities(np.abs(hidden) / (np.abs(hidden).sum(axis=1, keepdims=True) + 1))


def test_the_softmax_layers_map_says_why_it_looks_empty(app, tmp_path, model):
    record = models.save_model(Workspace(tmp_path / "ws"), model, "softmax-mlp", dataset="digits")
    captions = {}
    for layer in ("activation_2", "dense_1"):
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)  # a new session, opened by a link
        for key, value in {"model": record.id, "dataset": "digits", "layer": layer, "reducer": "pca"}.items():
            at.query_params[key] = value
        at = no_exception(at.run())
        at = no_exception(at.switch_page(page_path("explore")).run())
        captions[layer] = " ".join(c.value for c in at.caption)
    assert "class probabilities" in captions["activation_2"] and "corner" in captions["activation_2"]
    assert "class probabilities" not in captions["dense_1"]


def test_compare_aligns_without_shrinking_and_can_show_the_raw_maps():
    rng = np.random.default_rng(1)
    reference = rng.normal(size=(200, 2)) * 10
    turn = np.array([[0.0, -1.0], [1.0, 0.0]])
    other = (reference @ turn) * 0.05 + rng.normal(size=(200, 2)) * 0.2  # another spread, turned, noisy

    class _Map:
        def __init__(self, coords):
            self.embedding = Embedding(np.arange(200), coords.astype("float32"), "k")

    maps_ = [_Map(reference), _Map(other)]
    aligned, fits = comparing.aligned_maps(maps_, "rotate")
    assert fits[1].scale == 1.0  # turned and mirrored only
    assert np.ptp(aligned[1], axis=0) == pytest.approx(np.ptp(other @ fits[1].rotation, axis=0), rel=1e-4)
    for coords, (x_range, y_range) in zip(aligned, align.own_ranges(aligned)):
        across = np.ptp(coords[:, 0]) / (x_range[1] - x_range[0])
        up = np.ptp(coords[:, 1]) / (y_range[1] - y_range[0])
        assert min(across, up) >= 0.5, "each panel spans its own axes"
    raw, none = comparing.aligned_maps(maps_, "off")
    assert none == [None, None] and np.array_equal(raw[1], other.astype("float32"))
    assert comparing.alignment_note(1, None, "off") == "not aligned"


def test_digits_is_what_the_long_title_shortens():
    short = exports.shorten(LONG_DATA, 40)
    assert len(short) == 40 and short.startswith("t10k-images") and short.endswith("28×28)") and "…" in short
    assert load_digits().name in exports.title_text(f"m · l · {load_digits().name}")
