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
        "kept": rng.integers(0, 11, n) / 10,  # neighbourhood kept: some points under KEPT_TORN, outlined
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
    again = (plots.HIGHLIGHT_NAME, plots.TORN_NAME)  # points drawn a second time, on top
    drawn = np.concatenate([trace.customdata[:, 0] for trace in figure.data if trace.name not in again])
    assert sorted(drawn.astype(int).tolist()) == points["indices"].tolist()  # every point once, besides those


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
    assert last.marker.size > figure.data[0].marker.size and last.marker.line.color == plots.HIGHLIGHT_LINE
    assert figure.data[0].marker.opacity == plots.UNSELECTED_OPACITY  # the rest fades (issue 28: no heavy ring)


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
    figure = plots.layers_grid(
        maps,
        points["indices"],
        points["labels"],
        points["predicted"],
        titles={"dense": "dense · kNN 0.90"},
        highlight=[1002],
        columns=2,
    )
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
    rows = [
        {"layer": "input", "knn_acc": 0.978, "probe_acc": 0.95},
        {"layer": "dense", "knn_acc": 0.96, "probe_acc": 0.97},
        {"layer": "dense_1", "knn_acc": 0.985, "probe_acc": None},
    ]
    figure = plots.layer_scores(rows, chance=0.1)
    knn, probe, knn_pixels, probe_pixels = figure.data
    assert list(knn.x) == ["dense", "dense_1"] and list(knn.y) == [0.96, 0.985]
    assert probe.y[0] == 0.97 and np.isnan(probe.y[1])  # not scored: a gap, not a zero
    assert (knn_pixels.name, list(knn_pixels.y)) == ("input pixels: 10-NN 0.978", [0.978, 0.978])
    assert (probe_pixels.name, probe_pixels.line.dash) == ("input pixels: probe 0.950", "dash")
    assert figure.layout.yaxis.range[0] == pytest.approx(0.92)  # the figures' range, so a point's difference shows
    assert not figure.layout.shapes  # chance (0.10) lies far below it


# Layout: plotly's toolbar covers no title ----------------------------------------------


def every_figure(points) -> dict:
    """One figure from each builder, titled where the builder takes a title."""
    maps = {"dense": points["coords"], "dense_1": -points["coords"]}
    names = ["0", "1", "2", "3"]
    rows = [{"layer": "input", "knn_acc": 0.9, "probe_acc": 0.9}, {"layer": "dense", "knn_acc": 0.95, "probe_acc": 0.9}]
    return {
        "scatter_map": plots.scatter_map(**points, title="mlp · dense_1 · PCA"),
        "scatter_map untitled": plots.scatter_map(**points, colour="confidence"),
        "layers_grid": plots.layers_grid(maps, points["indices"], points["labels"], captions={"dense": "kNN 0.9"}),
        "cka_heatmap": plots.cka_heatmap(np.eye(2), ["a", "b"]),
        "training_curves": plots.training_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.6], "accuracy": [0.5, 0.9]}),
        "label_counts": plots.label_counts(points["labels"], names),
        "method_times": plots.method_times({"function": 0.01, "submodel": 0.02}, {"function": "K.function"}),
        "class_means": plots.class_means(np.ones((4, 8)), names),
        "compare_panel": plots.compare_panel(
            points["coords"],
            points["indices"],
            points["labels"],
            title="mlp-digits@epoch1 · dense_1 · K.function · PCA",
        ),
        "layer_scores": plots.layer_scores(rows, chance=0.1),
    }


def test_every_figure_keeps_the_toolbar_band_free_and_titles_under_it(points):
    for name, figure in every_figure(points).items():
        layout = figure.layout
        lines = layout.title.text.count("<br>") + 1 if layout.title.text else 0
        assert layout.margin.t >= plots.MODEBAR_HEIGHT + plots.TITLE_LINE * lines, name
        assert set(plots.MODEBAR_REMOVE) <= set(layout.modebar.remove), name  # a toolbar short enough for a panel
        if lines:  # the title sits just above the plot area, below the toolbar's band, not at the figure's top
            assert (layout.title.yref, layout.title.y, layout.title.yanchor) == ("paper", 1, "bottom"), name
        legend = layout.legend
        if legend.orientation == "h" and legend.y is not None and legend.y > 1:  # a legend above the plot area
            assert layout.margin.t >= plots.MODEBAR_HEIGHT + plots.LEGEND_ROW, name


def test_subplot_titles_and_colour_bar_titles_are_clear_of_the_toolbar(points):
    figures = every_figure(points)
    for name in ("layers_grid", "training_curves"):  # subplot titles sit above the first row, in the top margin
        assert figures[name].layout.margin.t >= plots.MODEBAR_HEIGHT + plots.SUBPLOT_TITLE, name
    for name in ("cka_heatmap", "class_means", "scatter_map untitled"):  # colour bar titles read along the bar
        trace = figures[name].data[0]
        bar = trace.colorbar if name != "scatter_map untitled" else trace.marker.colorbar
        assert bar.title.side == "right" and bar.title.text, name


def test_compare_panel_titles_wrap_and_leave_every_panel_the_same_plot_area(points):
    args = (points["coords"], points["indices"], points["labels"])
    long = plots.compare_panel(*args, title="mlp-digits@epoch1 · dense_1 · K.function · PCA")
    short = plots.compare_panel(*args, title="m · d")
    assert (
        long.layout.title.text == "mlp-digits@epoch1 · dense_1<br>K.function · PCA"
    )  # model · layer / method · reducer
    even = plots.compare_panel(*args, title="mlp-digits · dense · K.function · PCA").layout.title.text
    assert even == "mlp-digits · dense<br>K.function · PCA"
    assert long.layout.margin.t == short.layout.margin.t  # side by side, the plot areas line up
    assert plots.title_lines("<b>a</b> · b", width=4) == "&lt;b&gt;a&lt;/b&gt;<br>b"  # escaped, line by line
    assert plots.title_lines("m · a very long layer title · x · y", width=10) == "m<br>a very long layer title<br>x · y"


def test_training_curves_tick_whole_epochs():
    figure = plots.training_curves({"loss": [1.0, 0.6, 0.5], "accuracy": [0.5, 0.8, 0.9]})
    assert (figure.layout.xaxis.dtick, figure.layout.xaxis2.dtick) == (1, 1)


def test_the_class_grid_is_as_wide_as_its_images_not_the_page():
    images = {c: np.full((12, 8, 8), 16 * c, dtype=np.uint8) for c in range(10)}
    figure = plots.class_grid(images, [f"class {c}" for c in range(10)])
    layout = figure.layout
    plot_w = layout.width - layout.margin.l - layout.margin.r
    plot_h = layout.height - layout.margin.t - layout.margin.b
    canvas_h, canvas_w = figure.data[0].z.shape
    assert plot_w / canvas_w == pytest.approx(plot_h / canvas_h)  # whole image pixels, no stretch, no empty sides
    assert plot_w // 12 >= 30 and layout.width < 700  # tiles of about 36 px; far narrower than a wide page
    assert layout.margin.l > 7 * len("class 9")  # room for the longest class name
    many = plots.class_grid({c: np.zeros((12, 28, 28), np.uint8) for c in range(47)}, [str(c) for c in range(47)])
    assert many.layout.height < 47 * 36  # many classes: smaller tiles


def test_an_exported_png_names_what_it_shows_and_the_page_figure_keeps_its_caption(points):
    from featlib.share import exports

    figure = plots.scatter_map(**points)
    title = "mlp-digits · dense_1 · K.function · PCA · 60 points · digits test"
    titled = exports.titled(figure, title)
    assert titled.layout.title.text == title and not figure.layout.title.text  # a copy: the page's figure unchanged
    assert titled.layout.margin.t >= plots.TITLE_LINE + 10  # room for the title line
    assert exports.titled(figure, "<b>x</b>").layout.title.text == "&lt;b&gt;x&lt;/b&gt;"


def test_an_exported_png_has_its_title_drawn_in_its_top_rows(points):
    import io

    from PIL import Image

    from featlib.share import exports

    if not __import__("os").path.exists(exports.CHROMIUM):
        pytest.skip(f"{exports.CHROMIUM} is missing: install Debian's package 'chromium'")
    figure = plots.scatter_map(**points)
    size = (600, 400)

    def top_band(png: bytes) -> np.ndarray:
        image = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
        return image[:28, : size[0] // 2]  # the title's place: top left, clear of the legend

    png = exports.figure_png(figure, size=size, title="mlp-digits · dense_1 · PCA · 60 points")
    titled = top_band(png)
    assert titled.min() < 100 and (titled < 128).sum() > 100  # dark text where the title is
    assert figure.layout.margin.t < 40 and not figure.layout.title.text  # without the title this band is blank margin


def test_colour_by_neighbourhood_kept_outlines_the_torn_points(points):
    figure = plots.scatter_map(**points, colour="kept")
    shaded, torn = figure.data
    assert shaded.name == "neighbourhood kept" and torn.name == plots.TORN_NAME
    np.testing.assert_array_equal(shaded.marker.color, points["kept"])
    expected = points["indices"][points["kept"] < plots.KEPT_TORN]
    assert sorted(torn.customdata[:, 0].astype(int).tolist()) == expected.tolist()
    with pytest.raises(ValueError, match="needs each point's share of neighbours kept"):
        plots.scatter_map(**{**points, "kept": None}, colour="kept")
