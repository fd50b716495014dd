"""plotly figures: colourings, highlight, the layers grid and the CKA heatmap."""

from __future__ import annotations

import numpy as np
import pytest

from featlib import plots


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    n = 60
    labels = rng.integers(0, 4, n)
    predicted = labels.copy()
    predicted[:7] = (predicted[:7] + 1) % 4  # seven mistakes
    return {
        "coords": rng.normal(size=(n, 2)),
        "indices": np.arange(1000, 1000 + n),  # dataset positions differ from row numbers
        "labels": labels,
        "predicted": predicted,
        "confidence": rng.random(n),
    }


def selection_of(figure, wanted: set[int]) -> list[dict]:
    """The points Streamlit would report for a selection of ``wanted`` dataset indices."""
    return [
        {"curve_number": c, "point_index": i}
        for c, trace in enumerate(figure.data)
        for i, row in enumerate(trace.customdata)
        if int(row[0]) in wanted
    ]


@pytest.mark.parametrize("colour", list(plots.COLOUR_MODES))
def test_a_selection_maps_back_to_dataset_indices_in_every_colouring(points, colour):
    wanted = {1000, 1003, 1030, 1059}
    figure = plots.scatter_map(**points, colour=colour, highlight=[1003, 1030])
    selected = plots.selected_indices(selection_of(figure, wanted), figure)
    assert selected.tolist() == sorted(wanted)
    drawn = np.concatenate([trace.customdata[:, 0] for trace in figure.data if trace.name != plots.HIGHLIGHT_NAME])
    assert sorted(drawn.astype(int).tolist()) == points["indices"].tolist()  # every point once, besides the highlight


def test_the_older_selection_form_still_maps_a_label_coloured_map(points):
    figure = plots.scatter_map(points["coords"], points["indices"], points["labels"])
    chosen = selection_of(figure, {1001, 1020})
    assert plots.selected_indices(chosen, points["indices"], points["labels"]).tolist() == [1001, 1020]


def test_colour_by_correctness_puts_the_misclassified_on_top(points):
    figure = plots.scatter_map(**points, colour="correct")
    assert [t.name for t in figure.data] == ["correct", "misclassified"]
    wrong = figure.data[1]
    assert sorted(wrong.customdata[:, 0].astype(int)) == list(range(1000, 1007))
    assert wrong.marker.size > figure.data[0].marker.size


def test_colour_by_prediction_groups_by_predicted_class(points):
    figure = plots.scatter_map(**points, colour="predicted", class_names=["a", "b", "c", "d"])
    for trace in figure.data:
        assert len(set(trace.customdata[:, 2].astype(int))) == 1
    assert {t.name for t in figure.data} <= {"a", "b", "c", "d"}


def test_colour_by_confidence_shades_one_trace(points):
    figure = plots.scatter_map(**points, colour="confidence")
    (trace,) = figure.data
    assert np.allclose(trace.marker.color, points["confidence"])
    assert (trace.marker.cmin, trace.marker.cmax) == (0.0, 1.0)


def test_highlighted_points_are_drawn_last_larger_and_outlined(points):
    figure = plots.scatter_map(**points, highlight=[1005, 1010, 5])  # 5 is not on the map: skipped
    last = figure.data[-1]
    assert last.name == plots.HIGHLIGHT_NAME
    assert last.customdata[:, 0].astype(int).tolist() == [1005, 1010]
    assert last.marker.size > figure.data[0].marker.size and last.marker.line.color == "black"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"colour": "rainbow"}, "Unknown colouring: 'rainbow'"),
        ({"colour": "correct", "predicted": None}, "needs the predicted labels"),
        ({"colour": "confidence", "confidence": None}, "needs the confidence"),
        ({"confidence": np.ones(3)}, r"confidence must have one value per point \(60\); got 3"),
    ],
)
def test_bad_colourings_are_refused_with_the_reason(points, kwargs, message):
    with pytest.raises(ValueError, match=message):
        plots.scatter_map(**(points | kwargs))


def test_the_layers_grid_has_one_panel_per_layer_and_one_legend(points):
    maps = {"dense": points["coords"], "activation": points["coords"] * 2, "dense_1": -points["coords"]}
    figure = plots.layers_grid(maps, points["indices"], points["labels"], points["predicted"],
                               titles={"dense": "dense · kNN 0.90"}, highlight=[1002], columns=2)  # fmt: skip
    per_panel = len(np.unique(points["labels"])) + 1  # classes + highlight
    assert len(figure.data) == 3 * per_panel
    assert [a.text for a in figure.layout.annotations] == ["dense · kNN 0.90", "activation", "dense_1"]
    captioned = plots.layers_grid(maps, points["indices"], points["labels"], captions={"dense_1": "kNN 0.9"})
    assert [a.text for a in captioned.layout.annotations][-1] == "kNN 0.9"
    assert sum(bool(t.showlegend) for t in figure.data) == per_panel  # the first panel's entries only
    highlighted = [t for t in figure.data if t.name == plots.HIGHLIGHT_NAME]
    assert len(highlighted) == 3 and all(t.customdata[0, 0] == 1002 for t in highlighted)
    chosen = selection_of(figure, {1002, 1040})
    assert plots.selected_indices(chosen, figure).tolist() == [1002, 1040]


def test_the_cka_heatmap_labels_rows_and_columns():
    figure = plots.cka_heatmap(np.array([[1.0, 0.5], [0.5, 1.0]]), ["a", "b"])
    assert list(figure.data[0].x) == ["a", "b"] and figure.data[0].zmax == 1.0
    with pytest.raises(ValueError, match=r"must be 3 × 3 for these names; got \(2, 2\)"):
        plots.cka_heatmap(np.eye(2), ["a", "b", "c"])


@pytest.mark.parametrize("colour", ["correct", "predicted", "confidence"])
def test_highlighted_points_keep_the_colour_of_their_group(points, colour):
    figure = plots.scatter_map(**points, colour=colour, highlight=[1000, 1010])  # 1000 is misclassified, 1010 not
    last = figure.data[-1]
    if colour == "correct":
        assert list(last.marker.color) == [plots.WRONG_COLOUR, plots.CORRECT_COLOUR]
    elif colour == "predicted":
        assert list(last.marker.color) == [plots.colour_of(points["predicted"][i]) for i in (0, 10)]
    else:
        assert np.allclose(last.marker.color, points["confidence"][[0, 10]])


def test_upscale_enlarges_by_whole_pixels():
    image = np.arange(4, dtype=np.uint8).reshape(2, 2)
    big = plots.upscale(image, size=6)
    assert big.shape == (6, 6) and np.array_equal(big[:3, :3], np.zeros((3, 3)))
    assert plots.upscale(np.zeros((5, 28, 28)), size=28).shape == (5, 28, 28)


def test_layer_scores_draws_layers_as_points_and_the_input_pixels_as_reference_lines():
    rows = [{"layer": "input", "knn_acc": 0.978, "probe_acc": 0.95},
            {"layer": "dense", "knn_acc": 0.96, "probe_acc": 0.97},
            {"layer": "dense_1", "knn_acc": 0.985, "probe_acc": None}]  # fmt: skip
    figure = plots.layer_scores(rows, chance=0.1)
    knn, probe, knn_pixels, probe_pixels = figure.data
    assert list(knn.x) == ["dense", "dense_1"] and list(knn.y) == [0.96, 0.985]
    assert probe.y[0] == 0.97 and np.isnan(probe.y[1])  # not scored: a gap, not a zero
    assert (knn_pixels.name, list(knn_pixels.y)) == ("input pixels: 10-NN 0.978", [0.978, 0.978])
    assert (probe_pixels.name, probe_pixels.line.dash) == ("input pixels: probe 0.950", "dash")
    assert figure.layout.yaxis.range[0] == pytest.approx(0.92)  # the figures' range, so a point's difference shows
    assert not figure.layout.shapes  # chance (0.10) lies far below it
