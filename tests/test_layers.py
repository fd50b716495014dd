"""Every layer at once (featlib.read.layers) and the Layers page, on the bundled digits with a real trained MLP."""

from __future__ import annotations

import numpy as np
import pytest
from app_testing import APP, TIMEOUT, page_path
from streamlit.testing.v1 import AppTest

from featlib import metrics, models
from featlib.jobs.runner import InlineRunner
from featlib.maps import embed
from featlib.read import extract, layers
from featlib.service import Service
from featlib.store import Workspace

SAMPLE = 600
LAYER_NAMES = ["dense", "activation", "dense_1", "activation_1", "dense_2", "activation_2"]


@pytest.fixture(scope="module")
def ls(model, digits):
    return layers.layer_set(model, models.fingerprint(model), digits, "train", sample_size=SAMPLE)


def test_every_layer_and_the_inputs_are_read_for_one_stratified_sample(ls, model, digits, x_digits):
    assert ls.names == [layers.INPUT] + LAYER_NAMES
    assert len(ls.indices) == SAMPLE and np.all(np.diff(ls.indices) > 0)
    assert np.array_equal(ls.labels, digits.y_train[ls.indices])
    assert np.bincount(ls.labels).min() >= SAMPLE // 10 - 2  # stratified
    for name in LAYER_NAMES:
        assert np.allclose(ls.reps[name], extract.extract(model, name, x_digits[ls.indices]), atol=1e-5)
    assert np.allclose(ls.reps[layers.INPUT], x_digits[ls.indices])


def test_layers_wider_than_the_limit_are_left_out_and_named(model, digits):
    narrow = layers.layer_set(model, "fp", digits, sample_size=200, max_units=64)
    assert narrow.skipped == {"dense": 128, "activation": 128}
    assert narrow.names == [layers.INPUT, "dense_1", "activation_1", "dense_2", "activation_2"]
    with pytest.raises(ValueError, match="Every layer has more than 5 output units"):
        layers.layer_set(model, "fp", digits, sample_size=200, max_units=5)


def test_the_metrics_table_has_a_row_per_layer_and_the_output_separates_the_digits(ls):
    coords = layers.maps(ls)  # PCA
    rows = layers.metrics_table(ls, coords)
    assert [row["layer"] for row in rows] == ls.names
    assert {"units", "knn_acc", "probe_acc", "silhouette", "knn_acc_2d", "trustworthiness", "sample"} <= set(rows[0])
    assert all(row["sample"] == SAMPLE for row in rows)
    by_name = {row["layer"]: row for row in rows}
    # The trained model's softmax clusters the classes far better than its pixels do.
    assert by_name["activation_2"]["silhouette"] > by_name[layers.INPUT]["silhouette"] + 0.2
    assert by_name["activation_2"]["knn_acc"] > 0.8
    assert all(0.0 <= row["trustworthiness"] <= 1.0 for row in rows)


def test_maps_are_cached_in_the_workspace(ls, workspace):
    calls = []
    service = Service(workspace, InlineRunner())
    first = service.layer_maps(ls, embed.PCAParams(), progress=lambda name, done, total: calls.append(name))
    assert calls[:-1] == ls.names and calls[-1] == ""
    assert workspace.usage()["embeddings"] == len(ls.names)
    again = service.layer_maps(ls, embed.PCAParams())
    assert all(np.array_equal(first[name], again[name]) for name in ls.names)
    assert workspace.usage()["embeddings"] == len(ls.names)
    assert all(coords.shape == (SAMPLE, 2) for coords in first.values())


def test_cka_between_layers_and_against_another_sample(ls, model, digits):
    matrix = layers.cka(ls)
    assert matrix.shape == (7, 7) and np.allclose(np.diag(matrix), 1.0)
    assert matrix[ls.names.index("dense"), ls.names.index("activation")] > 0.8  # a ReLU changes little
    same = layers.cka(ls, ls)
    assert np.allclose(same, matrix)
    other = layers.layer_set(model, "fp", digits, sample_size=300)
    with pytest.raises(ValueError, match="same points; got samples of 600 and 300 points"):
        layers.cka(ls, other)


def test_following_a_point_finds_its_neighbours_in_each_layers_own_space(ls):
    point = int(ls.indices[10])
    found = layers.follow(ls, [point], k=5)
    assert list(found) == ls.names
    for name, near in found.items():
        assert near.shape == (1, 5) and point not in near[0] and set(near[0]) <= set(ls.indices.tolist())
        distances = np.linalg.norm(ls.reps[name][ls.rows(near[0])] - ls.reps[name][10], axis=1)
        others = np.linalg.norm(ls.reps[name] - ls.reps[name][10], axis=1)
        assert distances.max() <= np.sort(others)[6] + 1e-5  # the 5 nearest after the point itself
    outside = next(i for i in range(2000) if i not in set(ls.indices.tolist()))
    with pytest.raises(ValueError, match=rf"Points \[{outside}\] are not among the 600 sampled points"):
        layers.follow(ls, [outside])


def test_one_hot_representations_score_one_in_the_table():
    labels = np.arange(500) % 10
    ls = layers.LayerSet("k", np.arange(500), labels, {"one-hot": np.eye(10, dtype="float32")[labels]})
    (row,) = layers.metrics_table(ls)
    assert (row["knn_acc"], row["probe_acc"]) == (1.0, 1.0)
    assert row["silhouette"] == pytest.approx(1.0)
    assert metrics.knn_accuracy(np.eye(10)[labels], labels) == 1.0


# ----------------------------------------------------------------------------- the page


def test_the_layers_page_shows_every_layer_with_its_figures_and_follows_a_point(tmp_path, monkeypatch):
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(page_path("model")).run()
    next(n for n in at.number_input if n.label == "Epochs").set_value(3)
    next(b for b in at.get("form_submit_button") if b.label == "Train").click()
    at = at.run()
    at = at.switch_page(page_path("layers")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("every layer of a stratified sample of 1,437 of 1,437 images" in c.value for c in at.caption)
    table = at.dataframe[0].value
    assert list(table.index) == [layers.INPUT] + LAYER_NAMES
    assert table.loc["activation_2", "10-NN acc (layer)"] > 0.5
    assert Workspace(tmp_path / "ws").usage()["embeddings"] == 7  # a PCA map per representation
    [scores] = [c for c in at.get("plotly_chart") if "input pixels: 10-NN" in c.proto.spec]
    assert f"input pixels: 10-NN {table.loc[layers.INPUT, '10-NN acc (layer)']:.3f}" in scores.proto.spec

    next(b for b in at.button if b.label == "Follow a misclassified one").click()
    at = at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("nearest neighbours in each layer's own space" in m.value for m in at.markdown)
    assert sum("share its label" in m.value for m in at.markdown) == 7

    at.number_input(key="layers_point").set_value(1_400)
    next(b for b in at.button if b.label == "Follow this point").click()
    at = at.run()
    assert any("Point #1400" in m.value for m in at.markdown)

    at.radio(key="layers_reducer").set_value("umap")
    at.selectbox(key="layers_colour").set_value("confidence")
    at = at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert Workspace(tmp_path / "ws").usage()["embeddings"] == 14
