"""Test images on the train map (issue 29, item 4): a map fitted on one split's sample with the other split's placed
on it by the reducer's own transform, as a job of the service, drawn as hollow diamonds in the label's colour."""

from __future__ import annotations

import numpy as np
import pytest
from app_testing import no_exception, page_path

from featlib import datasets, keys, models, plots
from featlib.errors import JobLimitError, ReducerError
from featlib.jobs import specs, tasks
from featlib.jobs.runner import InlineRunner
from featlib.maps import embed, placed_map, placement
from featlib.service import Service
from featlib.store import Workspace


def blobs(per_class: int, seed: int, classes: int = 4, units: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Well separated classes: the same centres for every seed (a train and a test split of one dataset)."""
    centres = np.random.default_rng(0).normal(scale=8.0, size=(classes, units))
    labels = np.repeat(np.arange(classes), per_class)
    points = centres[labels] + np.random.default_rng(seed).normal(size=(len(labels), units))
    return points.astype("float32"), labels


def test_pca_placement_is_the_train_splits_projection_exactly():
    train, _ = blobs(40, seed=1)
    test, _ = blobs(10, seed=2)
    fitted, placed = placement.place(train, test, embed.PCAParams())
    np.testing.assert_allclose(fitted, embed.pca_embed(train), atol=1e-4)  # the train map is the page's PCA map
    # The fitted map is a linear projection of the centred train points: find it, then the test points must be
    # projected by exactly the same axes and centre (not a PCA of their own).
    mean = train.astype("float64").mean(axis=0)
    axes, *_ = np.linalg.lstsq(train - mean, fitted.astype("float64"), rcond=None)
    np.testing.assert_allclose(fitted, (train - mean) @ axes, atol=1e-4)
    np.testing.assert_allclose(placed, (test - mean) @ axes, atol=1e-4)
    own = embed.pca_embed(test)  # a PCA of the test points alone is another map
    assert not np.allclose(np.abs(own), np.abs(placed), atol=1e-2)


@pytest.mark.parametrize(
    "params",
    [embed.PCAParams(), embed.UMAPParams(n_neighbors=10, n_epochs=60), embed.TSNEParams(perplexity=10)],
    ids=["pca", "umap", "tsne"],
)
def test_placed_test_points_land_in_their_class_region_on_the_train_map(params):
    train, train_labels = blobs(50, seed=1)
    test, test_labels = blobs(15, seed=2)
    found = placed_map.place(train, test, params, labels=train_labels)
    assert found.fitted.shape == (len(train), 2) and found.placed.shape == (len(test), 2)
    assert found.fitted.dtype == found.placed.dtype == np.float32
    # The 10 nearest train points on the map vote for each test point's own label.
    assert placed_map.land_agreement(found.fitted, train_labels, found.placed, test_labels) >= 0.9


def test_points_of_another_layer_width_are_refused_naming_the_fix():
    train, _ = blobs(20, seed=1)
    with pytest.raises(ReducerError, match="same layer"):
        placement.place(train, train[:, :5], embed.PCAParams())
    with pytest.raises(ReducerError, match="NaN or infinite"):
        placement.place(train, np.full((3, train.shape[1]), np.nan), embed.PCAParams())


def test_the_job_places_the_other_split_with_progress_and_the_service_keys_it(tmp_path):
    train, train_labels = blobs(30, seed=1)
    test, test_labels = blobs(12, seed=2)
    seen = []
    found = tasks.placed(points=train, other=test, params=embed.PCAParams(), progress=lambda *a, **k: seen.append(a[0]))
    assert seen[0] == "working" and seen[-1] == placement.PLACE_PROGRESS_STAGE
    assert found.placed.shape == (len(test), 2)

    runner = InlineRunner()
    service = Service(Workspace(tmp_path / "ws"), runner)
    result = service.placed_map(("rep/a", train, train_labels), ("rep/b", test, test_labels), 60, embed.PCAParams())
    assert runner.ran == [keys.placed_map_key("rep/a", "rep/b", 60, embed.PCAParams())]
    assert len(result.fitted_indices) == 60 and len(result.placed_indices) == len(test)  # a stratified sample each
    assert np.bincount(train_labels[result.fitted_indices]).tolist() == [15] * 4
    direct = placement.place(train[result.fitted_indices], test[result.placed_indices], embed.PCAParams())
    np.testing.assert_allclose(result.placed, direct[1], atol=1e-5)  # the sample's own map, the test points on it
    again = Service(Workspace(tmp_path / "ws"), InlineRunner())
    kept = again.placed_map(("rep/a", train, train_labels), ("rep/b", test, test_labels), 60, embed.PCAParams())
    np.testing.assert_array_equal(kept.placed, result.placed)  # kept in the workspace: no job ran
    np.testing.assert_array_equal(kept.fitted_indices, result.fitted_indices)


def test_the_job_is_refused_past_the_maps_point_limit(monkeypatch):
    monkeypatch.setenv("FEATLIB_LIMIT_REDUCE_PCA_POINTS", "100")
    with pytest.raises(JobLimitError):
        specs.placed_map_spec("placed/x", 80, 40, embed.PCAParams())  # both sides count
    assert specs.placed_map_spec("placed/x", 60, 40, embed.PCAParams()).limit == "reduce:pca"


def test_placed_points_are_hollow_diamonds_in_their_labels_colour():
    train, train_labels = blobs(10, seed=1, classes=3)
    test, test_labels = blobs(4, seed=2, classes=3)
    fitted, placed = placement.place(train, test, embed.PCAParams())
    figure = plots.scatter_map(fitted, np.arange(len(train)), train_labels)
    before = len(figure.data)
    plots.add_placed_points(figure, placed, np.arange(len(test)), test_labels, ["a", "b", "c"], "test")
    added = figure.data[before:]
    assert [t.name for t in added] == ["a (test)", "b (test)", "c (test)"]
    for label, trace in enumerate(added):
        assert trace.marker.symbol == "diamond-open"
        assert trace.marker.color == plots.colour_of(label) == figure.data[label].marker.color
    assert sum(len(t.x) for t in added) == len(test)


def test_where_another_datasets_classes_land_is_counted_per_class():
    train, train_labels = blobs(30, seed=1)
    fitted = train[:, :2]
    # Another dataset's class 0 lands on fitted class 2, its class 1 half on class 0 and half on class 3.
    placed = np.concatenate(
        [fitted[train_labels == 2][:10], fitted[train_labels == 0][:5], fitted[train_labels == 3][:5]]
    )
    placed_labels = np.array([0] * 10 + [1] * 10)
    shares = placed_map.landing_shares(fitted, train_labels, placed, placed_labels, 4, 3)
    assert shares.shape == (3, 4)
    np.testing.assert_allclose(shares[0], [0, 0, 1, 0])
    np.testing.assert_allclose(shares[1], [0.5, 0, 0, 0.5])
    np.testing.assert_allclose(shares[2], 0)  # no placed image of class 2
    with pytest.raises(ReducerError, match="Placed labels run from 0 to 0; got 1"):
        placed_map.landing_shares(fitted, train_labels, placed, placed_labels, 4, 1)
    figure = plots.landing_heatmap(shares, ["a", "<b>b</b>", "c"], ["0", "1", "2", "3"], "MNIST test", "train")
    assert list(figure.data[0].y) == ["a", "&lt;b&gt;b&lt;/b&gt;", "c"]


def test_explore_places_another_dataset_and_says_where_its_classes_land(app, tmp_path):
    workspace = Workspace(tmp_path / "ws")
    models.save_model(workspace, models.build_mlp((64,), hidden=(16, 8), seed=0), "mlp", dataset="digits")
    digits = datasets.load_digits()
    images, labels = digits.split("test")
    letters = [f"letter {c}" for c in "abcdefghij"]
    fingerprint = workspace.save_dataset(datasets.from_arrays(images[:200], labels[:200], "letters", letters))
    app.session_state["map_reducer"] = "pca"  # no UMAP of the 1,437 digits in this test
    at = no_exception(no_exception(app.run()).switch_page(page_path("explore")).run())
    choices = at.selectbox(key="explore_place").options
    assert any("letters (another dataset)" in option for option in choices)
    at.selectbox(key="explore_place").set_value(f"dataset:upload:{fingerprint}")
    at = no_exception(at.run())
    placed = next(c.value for c in at.caption if "hollow diamonds" in c.value)
    assert "images of letters" in placed and "1,437 train images" in placed
    assert any("what this layer takes them for" in c.value for c in at.caption)
    heatmap = next(chart for chart in at.get("plotly_chart") if "Where letters" in chart.proto.spec)
    assert "letter a" in heatmap.proto.spec
