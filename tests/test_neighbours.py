"""Nearest neighbours of chosen points in a layer's own space."""

from __future__ import annotations

import numpy as np
import pytest

from featlib import neighbours


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
    from featlib.extract import Extractor

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
