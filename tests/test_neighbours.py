"""Nearest neighbours of chosen points in a layer's own space."""

from __future__ import annotations

import numpy as np
import pytest

from featlib.maps import neighbours


def test_in_a_one_hot_label_space_every_neighbour_has_the_same_class(digits):
    labels = digits.y_train
    reps = np.eye(10)[labels]
    query = [0, 1, 2, 3, 40]
    found = neighbours.nearest(reps, query, k=8)
    assert found.shape == (5, 8)
    for q, row in zip(query, found):
        assert q not in row  # itself excluded, though its duplicates are at distance 0
        assert set(labels[row]) == {labels[q]}


def test_matches_a_brute_force_search_and_respects_among():
    rng = np.random.default_rng(0)
    reps = rng.normal(size=(300, 5))
    among = np.sort(rng.choice(300, 120, replace=False))
    query = [among[0], 7]
    found = neighbours.nearest(reps, query, k=6, among=among)
    for q, row in zip(query, found):
        candidates = among[among != q]
        distances = np.linalg.norm(reps[candidates] - reps[q], axis=1)
        np.testing.assert_array_equal(row, candidates[np.argsort(distances)[:6]])
        assert set(row) <= set(among)


def test_neighbours_in_a_trained_layer_are_mostly_of_the_same_digit(model, x_digits, digits):
    from featlib.read.extract import Extractor

    reps = Extractor(model, "dense_1")(x_digits)
    query = np.arange(0, 1400, 28)
    found = neighbours.nearest(reps, query, k=10)
    same = np.mean(digits.y_train[found] == digits.y_train[query][:, None])
    assert same > 0.8


def test_few_candidates_give_fewer_neighbours():
    reps = np.arange(10.0)[:, None]
    assert neighbours.nearest(reps, [0], k=8, among=[0, 1, 2]).tolist() == [[1, 2]]


def test_overlap_counts_shared_neighbours():
    assert neighbours.overlap(np.array([[1, 2, 3, 4]]), np.array([[4, 3, 9, 8]])) == 0.5
    assert neighbours.overlap(np.array([[1, 2]]), np.array([[2, 1]])) == 1.0


def test_errors_name_the_bad_value():
    reps = np.zeros((10, 3))
    with pytest.raises(ValueError, match=r"within \[0, 9\]; got \[10\]"):
        neighbours.nearest(reps, [10])
    with pytest.raises(ValueError, match="k must be at least 1; got 0"):
        neighbours.nearest(reps, [1], k=0)
    with pytest.raises(ValueError, match="Unknown metric: 'jaccard'"):
        neighbours.nearest(reps, [1], metric="jaccard")
    with pytest.raises(ValueError, match=r"shape \(n, d\); got shape \(10,\)"):
        neighbours.nearest(np.zeros(10), [1])


@pytest.mark.parametrize(
    "metric, scipy_metric",
    [("euclidean", "euclidean"), ("cosine", "cosine"), ("manhattan", "cityblock"), ("correlation", "correlation")],
)
def test_distances_match_a_brute_force_search_for_every_metric(metric, scipy_metric):
    from scipy.spatial.distance import cdist

    rng = np.random.default_rng(1)
    reps = rng.normal(size=(400, 12))
    among = np.sort(rng.choice(400, 250, replace=False))
    query = [among[3], 5, among[100]]
    found, distances = neighbours.nearest_with_distances(reps, query, k=7, among=among, metric=metric)
    assert found.shape == distances.shape == (3, 7) and found.dtype == np.int64 and distances.dtype == np.float64
    for q, row, dist in zip(query, found, distances):
        candidates = among[among != q]
        expected = cdist(reps[[q]], reps[candidates], metric=scipy_metric)[0]
        order = np.lexsort((candidates, expected))[:7]
        np.testing.assert_array_equal(row, candidates[order])
        np.testing.assert_allclose(dist, expected[order], rtol=1e-6, atol=1e-9)


def test_float32_points_give_the_float64_answer():
    rng = np.random.default_rng(2)
    reps = rng.normal(size=(500, 64)).astype("float32")
    for metric in ("euclidean", "correlation"):
        single = neighbours.nearest_with_distances(reps, [7, 8], k=8, metric=metric)
        double = neighbours.nearest_with_distances(reps.astype("float64"), [7, 8], k=8, metric=metric)
        np.testing.assert_array_equal(single[0], double[0])
        np.testing.assert_allclose(single[1], double[1], rtol=1e-4, atol=1e-5)


def test_ties_come_in_index_order_also_across_the_kth_place():
    # Point 0 at the origin; 9 points exactly at distance 1 (scrambled rows, both sides) and 2 at distance 2.
    reps = np.zeros((12, 1))
    at_one = [11, 3, 7, 1, 9, 5, 2, 10, 4]
    reps[at_one, 0] = [1, -1, 1, -1, 1, -1, 1, -1, 1]
    reps[[6, 8], 0] = [2.0, -2.0]
    found, distances = neighbours.nearest_with_distances(reps, [0], k=4)
    assert found.tolist() == [[1, 2, 3, 4]]  # the four lowest indices of the nine tied at distance 1
    np.testing.assert_allclose(distances, [[1, 1, 1, 1]])
    assert neighbours.nearest(reps, [0], k=11).tolist() == [[1, 2, 3, 4, 5, 7, 9, 10, 11, 6, 8]]


def test_the_point_is_never_its_own_neighbour_but_its_duplicates_are_at_distance_zero():
    reps = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    found, distances = neighbours.nearest_with_distances(reps, [2], k=3)
    assert found.tolist() == [[0, 4, 3]] and distances.tolist() == [[0.0, 0.0, 1.0]]


def test_fewer_points_than_k_give_fewer_neighbours_and_none_give_an_empty_row():
    reps = np.arange(4.0)[:, None]
    found, distances = neighbours.nearest_with_distances(reps, [0], k=8)
    assert found.tolist() == [[1, 2, 3]] and distances.tolist() == [[1.0, 2.0, 3.0]]
    found, distances = neighbours.nearest_with_distances(reps, [2], k=8, among=[2])
    assert found.shape == distances.shape == (1, 0)
    with pytest.raises(ValueError, match="k must be at least 1; got 2.5"):
        neighbours.nearest_with_distances(reps, [0], k=2.5)
    with pytest.raises(ValueError, match=r"'among' indices must be within \[0, 3\]; got \[0, 7\]"):
        neighbours.nearest_with_distances(reps, [0], among=[0, 7])


def test_the_map_metric_is_umaps_own_and_euclidean_for_pca_and_tsne():
    from featlib.maps import embed

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    levels = (3.0 * labels[:, None] + rng.normal(size=(300, 64))).astype("float32")  # only Euclidean sees the classes
    assert neighbours.map_metric(embed.UMAPParams(), levels, labels) == "euclidean"  # auto, decided by the labels
    assert neighbours.map_metric(embed.UMAPParams(), levels) == "correlation"  # auto, no labels, 10 or more columns
    assert neighbours.map_metric(embed.UMAPParams(), levels[:, :3], labels) == "euclidean"  # auto, fewer
    assert neighbours.map_metric(embed.UMAPParams(metric="cosine"), levels[:, :3]) == "cosine"
    wide = rng.normal(size=(300, 784)).astype("float32")
    assert neighbours.map_metric(embed.UMAPParams(pca_dims=5), wide) == "euclidean"  # UMAP read 5 PCA columns
    assert neighbours.map_metric(embed.PCAParams(), levels, labels) == "euclidean"
    assert neighbours.map_metric(embed.TSNEParams(), levels, labels) == "euclidean"


def test_one_points_neighbours_as_a_job():
    from featlib import jobs
    from featlib.maps import embed

    rng = np.random.default_rng(3)
    points = rng.normal(size=(300, 16)).astype("float32")
    spec = jobs.specs.neighbours_spec("rep/key", None, len(points), 12, 5, embed.UMAPParams(metric="correlation"))
    assert spec.kind == "neighbours" and spec.limit == "metrics" and spec.key.endswith("/correlation/k=5/12")
    rows, distances, metric = jobs.run_inline(spec, {"points": points})
    assert metric == "correlation"
    expected = neighbours.nearest_with_distances(points, [12], k=5, metric="correlation")
    np.testing.assert_array_equal(rows, expected[0][0])
    np.testing.assert_array_equal(distances, expected[1][0])
