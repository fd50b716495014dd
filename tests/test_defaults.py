"""featlib's default UMAP metric, "auto": Euclidean or correlation, whichever makes the trial map that keeps the
labels apart better (featlib.maps.auto_metric; the study behind it is bench/defaults_study.py)."""

from __future__ import annotations

import numpy as np
import pytest

from featlib import jobs, metrics
from featlib.maps import embed


def _patterns(n: int = 400, d: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Classes told apart by their pattern only: each point is its class's pattern times a random gain plus a
    random level, so Euclidean distances mostly measure gain and level, correlation the pattern."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    patterns = rng.normal(size=(4, d))
    gain, level = rng.uniform(0.2, 5.0, (n, 1)), rng.normal(scale=20.0, size=(n, 1))
    return (gain * patterns[labels] + level + 0.3 * rng.normal(size=(n, d))).astype("float32"), labels


def _levels(n: int = 400, d: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Classes told apart by their level only (the same value added to every column), which correlation removes."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    return (3.0 * labels[:, None] + rng.normal(size=(n, d))).astype("float32"), labels


@pytest.mark.parametrize(
    "metric, units, used",
    [
        ("euclidean", 64, "euclidean"),
        ("cosine", 3, "cosine"),
        ("correlation", 2, "correlation"),
        ("manhattan", 64, "manhattan"),
    ],
)
def test_a_metric_named_is_used_as_named_whatever_the_labels(metric, units, used):
    x, labels = _patterns(d=units)
    assert embed.resolve_metric(embed.UMAPParams(metric=metric), x, labels) == used


def test_auto_follows_the_better_trial_map():
    x, labels = _patterns()
    choice = embed.choose_metric(x, labels)
    assert choice.metric == "correlation" and choice.scores["correlation"] > choice.scores["euclidean"] + 0.2, choice
    for metric in ("euclidean", "correlation"):  # each score is the 10-NN accuracy of a 50-epoch trial map
        trial = embed.umap_embed(x, embed.UMAPParams(metric=metric, n_epochs=50), backend="cpu")
        assert choice.scores[metric] == metrics.knn_accuracy(trial, labels)
    assert choice.reason == (
        "10-NN accuracy of 50-epoch trial maps of 400 points: "
        f"euclidean {choice.scores['euclidean']:.3f}, correlation {choice.scores['correlation']:.3f}"
    )
    x, labels = _levels()
    choice = embed.choose_metric(x, labels)
    assert choice.metric == "euclidean" and choice.scores["euclidean"] > choice.scores["correlation"] + 0.2, choice
    assert embed.resolve_metric(embed.UMAPParams(), x, labels) == "euclidean"


def test_the_trial_maps_take_the_maps_own_parameters():
    x, labels = _patterns(n=300)
    params = embed.UMAPParams(n_neighbors=8, min_dist=0.5, random_state=3)
    choice = embed.choose_metric(x, labels, params=params)
    trial = embed.umap_embed(
        x, embed.UMAPParams(n_neighbors=8, min_dist=0.5, random_state=3, metric="euclidean", n_epochs=50), backend="cpu"
    )
    assert choice.scores["euclidean"] == metrics.knn_accuracy(trial, labels)


def test_a_tie_goes_to_euclidean_and_at_most_2000_points_are_scored():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(5), 600)
    x = (rng.normal(scale=50.0, size=(5, 16))[labels] + rng.normal(size=(3000, 16))).astype("float32")
    choice = embed.choose_metric(x, labels)
    assert choice.scores == {"euclidean": 1.0, "correlation": 1.0} and choice.metric == "euclidean"
    assert "trial maps of 2,000 points" in choice.reason


@pytest.mark.parametrize(
    "labels",
    [None, np.zeros(400, int), np.r_[np.zeros(399, int), 1]],
    ids=["no labels", "one class", "a class of one point"],
)
def test_without_labels_that_can_decide_auto_is_correlation_from_ten_columns(labels):
    x, _ = _levels()  # labels would have said Euclidean
    choice = embed.choose_metric(x, labels)
    assert (choice.metric, choice.scores) == ("correlation", {}), choice
    assert "no labels can decide" in choice.reason


def test_too_few_points_for_a_trial_map_fall_back_without_mapping():
    x, labels = _levels(n=12)  # 15 neighbours need 16 points: the map itself refuses, naming the rule
    assert embed.choose_metric(x, labels).reason == "UMAP reads 32 columns and no labels can decide: correlation"
    with pytest.raises(embed.ReducerError):
        embed.umap_embed(x, embed.UMAPParams(), labels=labels)


@pytest.mark.parametrize("d", [1, 3, 9])
def test_below_ten_columns_auto_is_euclidean_whatever_the_labels(d):
    x, labels = _patterns(d=d)
    assert embed.resolve_metric(embed.UMAPParams(), x, labels) == "euclidean"
    assert embed.choose_metric(x, labels).reason == f"UMAP reads {d} columns, fewer than 10: Euclidean"


def test_a_wide_layer_counts_the_columns_umap_reads_after_pca():
    x, labels = _patterns(n=300, d=200)  # correlation would win on the layer's values...
    assert embed.choose_metric(x, labels).metric == "correlation"
    params = embed.UMAPParams(pca_dims=8)  # ...but UMAP reads 8 PCA columns: Euclidean
    assert embed.reduce_width(x, params).shape[1] == 8
    assert embed.resolve_metric(params, x, labels) == "euclidean"


def test_the_default_metric_is_auto_and_its_rule_is_named_in_the_key():
    assert embed.UMAPParams().metric == "auto" == embed.METRICS[0]
    assert "-metric=auto:trial-maps-" in embed.UMAPParams().key  # a map stored under the width-only rule is not served
    assert embed.UMAPParams(metric="euclidean").key != embed.UMAPParams().key
    assert "-metric=euclidean-" in embed.UMAPParams(metric="euclidean").key


@pytest.mark.parametrize("data, resolved", [(_patterns, "correlation"), (_levels, "euclidean")])
def test_an_auto_map_is_the_resolved_metrics_map_bit_for_bit(data, resolved):
    x, labels = data(n=200)
    auto = embed.umap_embed(x, embed.UMAPParams(n_epochs=30), backend="cpu", labels=labels)
    same = embed.umap_embed(x, embed.UMAPParams(metric=resolved, n_epochs=30), backend="cpu")
    np.testing.assert_array_equal(auto, same)


def test_the_map_job_and_the_neighbours_job_resolve_auto_alike():
    """The reducer job gets the labels with the points; the point inspector's job finds the same metric."""
    x, labels = _levels(n=300)
    params = embed.UMAPParams(n_epochs=30)
    coords = jobs.run_inline(jobs.specs.reduce_spec("emb/auto", len(x), params), {"points": x, "labels": labels})
    np.testing.assert_array_equal(
        coords, embed.umap_embed(x, embed.UMAPParams(metric="euclidean", n_epochs=30), backend="cpu")
    )
    spec = jobs.specs.neighbours_spec("rep/auto", None, len(x), 7, 5, params)
    assert spec.key == "neighbours/rep/auto/None/auto:trial-maps/k=5/7"
    rows, distances, metric = jobs.run_inline(spec, {"points": x, "labels": labels})
    assert metric == "euclidean" and len(rows) == 5 and np.all(np.diff(distances) >= 0)
