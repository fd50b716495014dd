"""Issue 27 item 5: each class's density contour, centre and purity on a map (:mod:`featlib.maps.class_centres`),
drawn by :func:`featlib.plots.scatter_map` on request, the switch carried in links."""

from __future__ import annotations

import time

import numpy as np
import pytest

from featlib import plots
from featlib.errors import MetricError
from featlib.maps import class_centres
from featlib.maps.class_centres import GRID, class_regions
from featlib.share.views import View, read_link


def blobs(offset: float, n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian blobs of ``n`` points each, class 0 at the origin and class 1 at ``(offset, 0)``."""
    rng = np.random.default_rng(seed)
    coords = np.concatenate([rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + [offset, 0.0]])
    return coords, np.repeat([0, 1], n)


def test_well_separated_blobs_are_pure_and_each_class_has_a_closed_contour():
    coords, labels = blobs(offset=12.0)
    regions = class_regions(coords, labels)
    assert [r.label for r in regions.regions] == [0, 1]
    assert regions.x.shape == regions.y.shape == (GRID,)
    for region in regions.regions:
        assert region.purity == pytest.approx(1.0)
        assert region.size == 400
        assert region.density.shape == (GRID, GRID) and region.density.sum() == pytest.approx(1.0, abs=0.02)
        inside = region.density >= region.level
        assert 0.45 <= region.density[inside].sum() <= 0.6  # the densest half: the line drawn
        assert not inside[[0, -1], :].any() and not inside[:, [0, -1]].any()  # it closes inside the grid
        # Inside the line: about half the class's own points (a Gaussian's 50 % region), no stranger.
        assert 0.3 * region.size <= region.inside <= 0.7 * region.size
    centre_0, centre_1 = (np.array(r.centre) for r in regions.regions)
    assert np.linalg.norm(centre_0) < 0.5 and np.linalg.norm(centre_1 - [12.0, 0.0]) < 0.5
    assert regions.regions[1].text("7") == "7 · 100 %"


def test_mixed_blobs_are_less_pure():
    coords, labels = blobs(offset=0.5)
    purities = [r.purity for r in class_regions(coords, labels).regions]
    assert all(0.3 < p < 0.75 for p in purities), purities
    far = [r.purity for r in class_regions(*blobs(offset=3.0)).regions]
    assert all(p > max(purities) for p in far) and all(p < 1.0 for p in far), far  # touching: in between


def test_the_centre_is_a_point_of_the_class_even_for_a_ring():
    """A medoid, not the median: a ring's median falls in its empty middle (here on another class)."""
    angle = np.linspace(0, 2 * np.pi, 300, endpoint=False)
    ring = np.column_stack([np.cos(angle), np.sin(angle)]) * 10
    middle = np.random.default_rng(1).normal(size=(100, 2))
    coords, labels = np.concatenate([ring, middle]), np.repeat([0, 1], [300, 100])
    centre = np.array(class_regions(coords, labels).regions[0].centre)
    assert np.min(np.linalg.norm(ring - centre, axis=1)) < 1e-9  # one of the ring's own points
    assert np.linalg.norm(np.median(ring, axis=0)) < 1.0  # where the median would have put it


def test_at_most_max_classes_the_largest_and_unknown_labels_are_strangers():
    coords, labels = blobs(offset=12.0)
    labels = labels.copy()
    labels[:5] = 2  # a class of five points
    labels[400:410] = -1  # unknown: counted inside class 1's region, drawn for no class
    regions = class_regions(coords, labels, max_classes=2)
    assert [r.label for r in regions.regions] == [0, 1]
    assert [r.label for r in class_regions(coords, labels).regions] == [0, 1, 2]
    assert class_regions(np.zeros((0, 2)), np.zeros(0, dtype=int)).regions == ()
    assert len(class_regions(np.ones((3, 2)), np.array([4, 4, 4])).regions) == 1  # one spot: no crash


def test_a_larger_map_is_read_on_a_sample_and_keeps_its_class_sizes(monkeypatch):
    monkeypatch.setattr(class_centres, "MAX_POINTS", 300)
    coords, labels = blobs(offset=12.0)
    regions = class_regions(coords, labels).regions
    assert [r.size for r in regions] == [400, 400]  # counted on every point
    assert all(r.purity == 1.0 and r.inside < 300 for r in regions)  # read on the sample
    assert regions[0].centre == class_regions(coords, labels).regions[0].centre  # seeded: the same each time


def test_bad_maps_are_refused_with_featlibs_error():
    coords, labels = blobs(offset=3.0, n=20)
    coords[3, 1] = np.nan
    with pytest.raises(MetricError, match="finite"):
        class_regions(coords, labels)
    with pytest.raises(MetricError, match=r"\(n, 2\)"):
        class_regions(np.zeros((5, 3)), np.zeros(5, dtype=int))


def test_ten_thousand_points_take_well_under_a_second():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 10_000)
    coords = rng.normal(size=(10_000, 2)) + np.column_stack([np.cos(labels), np.sin(labels)]) * 6
    best = np.inf
    for _ in range(3):
        start = time.perf_counter()
        class_regions(coords, labels)
        best = min(best, time.perf_counter() - start)
    assert best < 0.5, best  # about 30 ms on two busy cores


def test_the_map_draws_a_contour_and_a_label_per_class_only_when_asked():
    coords, labels = blobs(offset=12.0, n=100)
    indices = np.arange(200) + 1000
    names = ["<b>zero</b>", "one %{x}"]
    plain = plots.scatter_map(coords, indices, labels, labels, names)
    assert not [t for t in plain.data if t.type == "contour"] and not plain.layout.annotations
    figure = plots.scatter_map(coords, indices, labels, labels, names, highlight=[1000, 1150], contours=True)
    contours = [t for t in figure.data if t.type == "contour"]
    assert [t.name for t in contours] == ["contour 0", "contour 1"]
    assert all(t.hoverinfo == "skip" and t.showscale is False and t.contours.coloring == "none" for t in contours)
    assert [t.line.color for t in contours] == [plots.colour_of(0), plots.colour_of(1)]
    assert [a.text for a in figure.layout.annotations] == [
        "&lt;b&gt;zero&lt;/b&gt; · 100 &#37;",  # names and the % sign as written, never markup
        "one &#37;{x} · 100 &#37;",
    ]
    # The points' traces come first, unchanged: a selection still maps back to dataset indices.
    points = [{"curve_number": 0, "point_index": 0}, {"curve_number": 1, "point_index": 2}]
    assert plots.selected_indices(points, figure).tolist() == [1000, 1102]
    by_prediction = plots.scatter_map(coords, indices, labels, 1 - labels, names, colour="predicted", contours=True)
    first = next(t for t in by_prediction.data if t.type == "contour")
    assert first.name == "contour 0" and np.argmax(first.z.max(axis=0)) > GRID // 2  # predicted 0: the right blob


def test_the_contours_switch_travels_in_links():
    view = View("m", "digits", "dense_1", contours=True)
    assert view.to_query()["contours"] == "on"
    assert View.from_query(view.to_query()) == view
    assert "contours" not in View("m", "digits", "dense_1").to_query()  # old links stay as they were
    assert View.from_query(View("m", "digits", "dense_1").to_query()).contours is False
    opened, replaced = read_link(view.to_query() | {"contours": "maybe"})
    assert opened.contours is False and "expected one of off, on" in replaced["contours"].message


def test_labels_that_would_overlap_are_moved_a_row_apart_and_far_ones_stay():
    coords = np.array([[0.0, 0.0], [10.0, 10.0]])
    shifts = plots.label_shifts([(5.0, 5.0), (5.2, 5.1), (5.1, 4.9), (9.0, 1.0)], coords)
    assert shifts[0] == 0 and shifts[3] == 0  # the first label and a far one stay where their class is
    assert len({shifts[0], shifts[1], shifts[2]}) == 3  # the three near ones on three rows
    assert all(shift % plots.LABEL_ROW == 0 and shift <= 0 for shift in shifts)
