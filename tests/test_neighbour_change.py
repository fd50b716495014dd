"""What moved between two panels (issue 29, item 3): each image's nearest neighbours in two representations of
the same images, the share it kept (Jaccard), the images that moved most, where neighbours went class by class,
as a job of the service and a section of the Compare page with a CSV."""

from __future__ import annotations

import io

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from app_testing import no_exception, page_path
from hypothesis import given, settings

from featlib import keys
from featlib.errors import NeighbourError
from featlib.jobs.runner import InlineRunner
from featlib.maps import neighbour_change
from featlib.service import Service
from featlib.store import Workspace


def clusters(n_per: int = 30, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(classes), n_per)
    centres = rng.normal(scale=10.0, size=(classes, 6))
    return (centres[labels] + rng.normal(size=(len(labels), 6))).astype("float32"), labels


def test_a_representation_and_a_rotation_of_it_keep_every_neighbour():
    a, _ = clusters()
    rotation, _ = np.linalg.qr(np.random.default_rng(1).normal(size=(6, 6)))
    change = neighbour_change.neighbour_change(a, a @ rotation + 5.0, k=10)  # distances unchanged
    assert change.before.shape == change.after.shape == (len(a), 10)
    np.testing.assert_array_equal(change.jaccard, 1.0)
    assert change.kept == pytest.approx(1.0)
    assert not (change.before == np.arange(len(a))[:, None]).any(), "an image is not its own neighbour"


def test_the_images_moved_to_another_cluster_are_the_ones_that_moved_most():
    a, labels = clusters()
    b = a.copy()
    moved = np.array([3, 17, 40, 71])
    for i in moved:  # each into the middle of the next class's cluster
        b[i] = a[labels == (labels[i] + 1) % 3].mean(axis=0)
    change = neighbour_change.neighbour_change(a, b, k=10)
    assert set(neighbour_change.moved_most(change, 4).tolist()) == set(moved.tolist())
    assert (change.jaccard[moved] == 0).all()
    shift = neighbour_change.class_shift(change, labels, 3)
    np.testing.assert_allclose(shift.sum(axis=1), 0.0, atol=1e-12)
    for i in moved:  # the moved images' class gained neighbours of the class they moved into
        assert shift[labels[i], (labels[i] + 1) % 3] > 0


@settings(max_examples=30, deadline=None)
@given(st.integers(5, 40), st.integers(1, 4), st.integers(0, 10_000))
def test_the_jaccard_index_is_symmetric_and_bounded(n, k, seed):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(n, 3)), rng.normal(size=(n, 5))
    k = min(k, n - 1)
    one, other = neighbour_change.neighbour_change(a, b, k), neighbour_change.neighbour_change(b, a, k)
    np.testing.assert_array_equal(one.jaccard, other.jaccard)
    assert ((one.jaccard >= 0) & (one.jaccard <= 1)).all()
    shared = [len(set(x) & set(y)) for x, y in zip(one.before, one.after)]
    np.testing.assert_allclose(one.jaccard, np.array(shared) / (2 * k - np.array(shared)), rtol=1e-6)


@pytest.mark.parametrize(
    "a, b, k, message",
    [
        (np.zeros((5, 2)), np.zeros((6, 2)), 2, "same images in the same order; got 5 rows and 6"),
        (np.zeros((5, 2)), np.zeros((5, 2)), 5, "k must be from 1 to 4"),
        (np.zeros((5, 2)), np.zeros(5), 2, "must be 2-D"),
        (np.full((5, 2), np.nan), np.zeros((5, 2)), 2, "NaN or infinite"),
        (np.zeros((1, 2)), np.zeros((1, 2)), 1, "at least 2 images"),
    ],
)
def test_bad_inputs_are_refused_naming_what_was_expected(a, b, k, message):
    with pytest.raises(NeighbourError, match=message):
        neighbour_change.neighbour_change(a, b, k)


def test_the_service_runs_it_as_a_job_keyed_by_both_representations_in_order(tmp_path):
    a, _ = clusters()
    b = a[:, ::-1] * 2.0
    service = Service(Workspace(tmp_path / "ws"), InlineRunner())
    indices = np.arange(0, len(a), 2)
    got = service.neighbour_change(("rep/a", a), ("rep/b", b), indices, 45)
    direct = neighbour_change.neighbour_change(a[indices], b[indices])
    np.testing.assert_array_equal(got.jaccard, direct.jaccard)
    assert keys.neighbour_change_key("rep/a", "rep/b", 45, 10) != keys.neighbour_change_key("rep/b", "rep/a", 45, 10)


def test_compare_shows_what_moved_between_two_layers_with_a_csv_of_every_image(app, tmp_path):
    from featlib import models

    workspace = Workspace(tmp_path / "ws")
    models.save_model(workspace, models.build_mlp((64,), hidden=(16, 8)), "small", dataset="digits")
    at = no_exception(app.run())
    at = no_exception(at.switch_page(page_path("compare")).run())
    for i, layer in enumerate(["dense", "dense_1"]):
        at.selectbox(key=f"cmp_layer_{i}").set_value(layer)
        at.selectbox(key=f"cmp_reducer_{i}").set_value("pca")
    at = no_exception(at.run())
    next(b for b in at.button if b.label == "Compare").click()
    at = no_exception(at.run())
    assert "What moved" in [h.value for h in at.subheader]
    captions = " ".join(c.value for c in at.caption)
    assert "nearest neighbours in each panel's own layer space" in captions
    labels = [d.proto.label for d in at.get("download_button")]
    assert "Download the neighbours of every image (CSV)" in labels, labels


def test_the_csv_has_a_row_per_image_with_its_neighbours_and_neutralised_class_names():
    from featlib.app import neighbour_moves
    from featlib.share import exports

    a, labels = clusters()
    indices = np.arange(5, len(a))  # the sample: rows of the split
    change = neighbour_change.neighbour_change(a[indices], a[indices][:, ::-1], k=4)
    names = ["=HYPERLINK(1)", "b", "c"]
    table = pd.read_csv(io.BytesIO(exports.table_bytes(neighbour_moves.table(change, indices, labels, names), "csv")))
    assert list(table.columns) == ["index", "label", "kept_jaccard", "neighbours_before", "neighbours_after"]
    assert table["index"].tolist() == indices.tolist()
    assert "=HYPERLINK(1)" not in set(table["label"]) and "'=HYPERLINK(1)" in set(table["label"])
    assert table["kept_jaccard"].between(0, 1).all()
    for row, before in zip(table["neighbours_before"], change.before):
        assert [int(i) for i in row.split()] == indices[before].tolist()  # split indices, nearest first


def test_a_map_that_cuts_a_ring_open_keeps_every_neighbourhood_but_at_the_cut():
    """Issue 27, item 1, with a known tear: points on a ring in the layer, drawn on the map as the ring cut open
    at angle 0 (the angle along x). Only the points near the cut lose their neighbours from the other side."""
    n, k = 400, 10
    theta = np.linspace(0, 2 * np.pi, n, endpoint=False)
    layer = np.stack([np.cos(theta), np.sin(theta), 0.01 * np.sin(7 * theta)], axis=1) * 10
    cut_open = np.stack([theta, np.zeros(n)], axis=1)
    change = neighbour_change.neighbour_change(layer, cut_open, k)
    near_cut = np.minimum(np.arange(n), n - np.arange(n)) < k  # within k points of the cut, on either side
    torn = change.kept_share < 0.7
    assert torn.any() and near_cut[torn].all(), np.flatnonzero(torn)
    assert (change.kept_share[~near_cut] == 1.0).all()
    assert change.shared[0] == k // 2  # at the cut: the half of its neighbours on the other side is gone
