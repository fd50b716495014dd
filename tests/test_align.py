"""Aligning 2-D maps: Procrustes with scale, on the points two maps share."""

from __future__ import annotations

import numpy as np
import pytest

from featlib.maps import align


def similar_copy(points: np.ndarray, angle: float, scale: float, shift, mirror: bool = False) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    rotation = np.array([[c, -s], [s, c]])
    if mirror:
        rotation = rotation @ np.diag([1.0, -1.0])
    return scale * points @ rotation + np.asarray(shift)


@pytest.fixture
def points():
    return np.random.default_rng(0).normal(size=(200, 2)) * [3.0, 1.0]


@pytest.mark.parametrize("mirror", [False, True])
def test_procrustes_recovers_a_rotated_scaled_shifted_copy_exactly(points, mirror):
    moved = similar_copy(points, angle=1.1, scale=0.37, shift=[5.0, -2.0], mirror=mirror)
    fit = align.fit_procrustes(points, moved)
    np.testing.assert_allclose(fit.apply(moved), points, atol=1e-9)
    assert fit.scale == pytest.approx(1 / 0.37)
    assert fit.disparity == pytest.approx(0.0, abs=1e-12)
    assert np.linalg.det(fit.rotation) == pytest.approx(-1.0 if mirror else 1.0)


def test_without_scale_the_size_is_kept(points):
    moved = similar_copy(points, angle=0.3, scale=2.0, shift=[1.0, 1.0])
    fit = align.fit_procrustes(points, moved, scale=False)
    assert fit.scale == 1.0
    assert fit.disparity > 0.1


def test_a_noisy_copy_gets_a_small_disparity_and_an_unrelated_map_a_large_one(points):
    rng = np.random.default_rng(1)
    noisy = similar_copy(points, 2.0, 3.0, [0, 0]) + rng.normal(scale=0.05, size=points.shape)
    assert align.fit_procrustes(points, noisy).disparity < 0.01
    assert align.fit_procrustes(points, rng.normal(size=points.shape)).disparity > 0.8


def test_maps_are_matched_by_dataset_index_not_by_row(points):
    indices = np.arange(100, 300)
    moved = similar_copy(points, -0.7, 4.0, [10.0, 3.0])
    order = np.random.default_rng(2).permutation(len(points))[:150]  # another order, and a part only
    extra = np.array([[99.0, 99.0]])  # a point the reference does not have
    moving_indices = np.concatenate([indices[order], [5]])
    moving_coords = np.concatenate([moved[order], extra])
    aligned, fits = align.align_maps([(indices, points), (moving_indices, moving_coords)])
    np.testing.assert_allclose(aligned[1][:-1], points[order], atol=1e-5)
    assert fits[1].shared == 150
    np.testing.assert_array_equal(aligned[0], points.astype("float32"))  # the reference is unchanged


def test_real_pca_maps_of_a_layer_and_of_its_rescaled_copy_align(model, x_digits):
    from featlib.maps.embed import PCAParams, reduce
    from featlib.read.extract import Extractor

    reps = Extractor(model, "dense_1")(x_digits)
    first, second = reduce(reps, PCAParams()), reduce(3.0 * reps + 1.0, PCAParams())
    indices = np.arange(len(reps))
    (_, aligned), (_, fit) = align.align_maps([(indices, first), (indices, second)])
    np.testing.assert_allclose(aligned, first, atol=1e-3 * np.abs(first).max())
    assert fit.scale == pytest.approx(1 / 3, rel=1e-4)


def test_common_range_holds_every_map(points):
    other = points * 2 + 7
    (x0, x1), (y0, y1) = align.common_range([points, other])
    both = np.concatenate([points, other])
    assert x0 < both[:, 0].min() and x1 > both[:, 0].max()
    assert y0 < both[:, 1].min() and y1 > both[:, 1].max()


def test_errors_name_what_was_expected_and_received(points):
    with pytest.raises(align.AlignmentError, match=r"share 2 points; aligning needs at least 3"):
        align.fit_on_shared(np.arange(5), points[:5], np.array([3, 4, 9]), points[:3])
    with pytest.raises(align.AlignmentError, match=r"shape \(n, 2\) or, in 3-D, \(n, 3\); got shape \(5, 4\)"):
        align.fit_procrustes(points[:5], np.zeros((5, 4)))
    with pytest.raises(align.AlignmentError, match=r"same points; got shapes \(5, 2\) and \(4, 2\)"):
        align.fit_procrustes(points[:5], points[:4])
    with pytest.raises(align.AlignmentError, match="NaN"):
        align.fit_procrustes(points[:5], np.full((5, 2), np.nan))
    with pytest.raises(align.AlignmentError, match="4 indices for 5 points"):
        align.fit_on_shared(np.arange(5), points[:5], np.arange(4), points[:5])
