"""Comparisons: panels and their link, presets, linked selection, and the Compare page."""

from __future__ import annotations

import pytest
from app_testing import APP, TIMEOUT, no_exception, page_path
from streamlit.testing.v1 import AppTest

from featlib.share import compare
from featlib.share.compare import CompareError, CompareView, Panel, SelectionState

# The view and its link ---------------------------------------------------------


def test_a_view_survives_its_link():
    view = CompareView(
        "digits",
        (Panel("abc123", "dense_1"), Panel("def456", "odd:name", "submodel", "pca")),
        split="test",
        sample=None,
        follow=12,
        k=5,
    )
    query = view.to_query()
    assert query["p2"] == "def456:odd:name:submodel:pca" and query["sample"] == "all"
    assert CompareView.from_query(query) == view
    assert compare.is_compare_query(query) and not compare.is_compare_query({"model": "x", "layer": "y"})


def test_a_comparisons_reduction_travels_in_its_link_when_not_the_default():
    panels = (Panel("abc123", "conv2d"), Panel("abc123", "conv2d_1"))
    assert "reduction" not in CompareView("digits", panels).to_query()
    view = CompareView("digits", panels, reduction="gmp")
    assert view.to_query()["reduction"] == "gmp" and CompareView.from_query(view.to_query()) == view
    with pytest.raises(CompareError, match="Unknown reduction: 'max'"):
        CompareView.from_query(view.to_query() | {"reduction": "max"})


@pytest.mark.parametrize(
    "query, message",
    [
        ({"p1": "a:dense:function:umap"}, "lacks dataset"),
        ({"dataset": "digits", "p1": "a:dense:function:umap"}, "2 to 4 panels; got 1"),
        ({"dataset": "digits", "p1": "a:dense:function:umap", "p2": "a:dense:magic:umap"}, "Unknown method: 'magic'"),
        ({"dataset": "digits", "p1": "a:dense:function:umap", "p2": "a:dense:function:isomap"}, "Unknown reducer"),
        (
            {"dataset": "digits", "p1": "a:dense:function:umap", "p2": "a:dense"},
            "model:layer:method:reducer; got 'a:dense'",
        ),
        ({"dataset": "digits", "p1": "a:d:function:umap", "p2": "a:d:function:umap", "follow": "x"}, "whole numbers"),
        ({"dataset": "digits", "p1": "a:d:function:umap", "p2": "a:d:function:umap", "split": "val"}, "Unknown split"),
    ],
)
def test_bad_links_say_what_is_wrong(query, message):
    with pytest.raises(CompareError, match=message):
        CompareView.from_query(query)


# Linked selection ---------------------------------------------------------------


def test_the_latest_new_selection_is_shown_in_every_panel():
    state = compare.linked_selection(SelectionState(), {"0": [5, 3], "1": []})
    assert state.selected == (3, 5)
    # The charts were redrawn with the highlight and forgot their selection: it stays.
    state = compare.linked_selection(state, {"0": [], "1": []})
    assert state.selected == (3, 5)
    # A new selection in another panel takes over.
    state = compare.linked_selection(state, {"0": [], "1": [9]})
    assert state.selected == (9,)
    # The same selection drawn again in the first panel is new to it: it takes over again.
    state = compare.linked_selection(state, {"0": [3, 5], "1": [9]})
    assert state.selected == (3, 5)


def test_selected_points_map_back_to_dataset_indices():
    points = [
        {"curve_number": 1, "point_index": 0, "customdata": {"0": 41, "1": 3}},
        {"curve_number": 0, "point_index": 2, "customdata": [7, 1]},
    ]
    assert compare.indices_from_points(points) == [41, 7]  # from customdata, either form
    assert compare.indices_from_points(points, traces=[[5, 6, 8], [9]]) == [9, 8]  # from the drawn traces


# Presets --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def trained_with_checkpoints(digits, tmp_path_factory):
    from featlib import models
    from featlib.store import Workspace

    workspace = Workspace(tmp_path_factory.mktemp("cmp") / "ws")
    model = models.build_mlp((64,), hidden=(16, 8))
    x_train, x_test = models.adapt_images(digits.x_train, model), models.adapt_images(digits.x_test, model)
    result = models.train(model, x_train, digits.y_train, x_test, digits.y_test, epochs=3, checkpoint_epochs=(1, 2))
    final = models.save_model(workspace, model, "mlp", dataset="digits", test_accuracy=result.test_accuracy)
    models.save_checkpoints(workspace, model, result, final, dataset="digits")
    return workspace, final


def test_across_checkpoints_puts_the_epochs_in_order_then_the_trained_model(trained_with_checkpoints):
    workspace, final = trained_with_checkpoints
    records = workspace.list_models()
    names = {r.id: r.name for r in records}
    panels = compare.across_checkpoints(records, final.id, "dense_1", reducer="pca")
    assert [names[p.model] for p in panels] == ["mlp@epoch1", "mlp@epoch2", "mlp"]
    # Starting from a checkpoint finds the same training.
    epoch1 = next(r.id for r in records if r.name == "mlp@epoch1")
    assert compare.across_checkpoints(records, epoch1, "dense_1") == compare.across_checkpoints(
        records, final.id, "dense_1"
    )


def test_a_model_without_checkpoints_says_how_to_get_some():
    from featlib.store import ModelRecord

    record = ModelRecord("id1", "lonely", "digits", "", 0.9, "0-1", "fp", "p", "now", {})
    with pytest.raises(CompareError, match="lonely has no checkpoints; train it with 'Save checkpoints"):
        compare.across_checkpoints([record], "id1", "dense_1")


def test_an_empty_compare_opens_on_the_models_hidden_layers_never_two_identical_panels():
    import keras

    from featlib import models

    seed = models.build_mlp((64,))
    assert compare.layer_series(seed) == ["dense", "dense_1", "dense_2"]  # read as its default, dense_1, is
    assert [p.layer for p in compare.opening_panels("m", compare.layer_series(seed), 2)] == ["dense", "dense_1"]
    assert [p.layer for p in compare.opening_panels("m", compare.layer_series(seed), 3)] == [
        "dense",
        "dense_1",
        "dense_2",
    ]
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Flatten()(keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs))
    x = keras.layers.Dropout(0.1)(keras.layers.LeakyReLU(name="leaky")(keras.layers.Dense(8, name="hidden")(x)))
    cnn = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="head")(x))
    assert models.hidden_layers(cnn) == ["conv", "leaky"]  # after the activation, past the Dropout
    assert models.hidden_layers(cnn, after_activation=False) == ["conv", "hidden"]
    assert compare.layer_series(cnn) == ["conv", "leaky", "head"]
    single = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="softmax", name="only")])
    assert [p.layer for p in compare.opening_panels("m", compare.layer_series(single), 2)] == ["only", "only"]


def test_other_presets():
    assert [p.layer for p in compare.all_layers("m", ["a", "b", "c", "d", "e"])] == ["b", "c", "d", "e"]
    assert [p.method for p in compare.both_methods("m", "dense_1")] == ["function", "submodel"]


# The page -------------------------------------------------------------------------


def errors(at: AppTest) -> list[str]:
    """The page's error messages as shown (markdown escapes removed)."""
    return [e.value.replace("\\", "") for e in at.error]


def query_of(at: AppTest) -> dict[str, str]:
    return {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}


def train_with_checkpoints(at: AppTest) -> AppTest:
    at = no_exception(at.switch_page(page_path("model")).run())
    next(n for n in at.number_input if n.label == "Epochs").set_value(3)
    next(t for t in at.text_input if t.label == "Save checkpoints after epoch").set_value("1")
    next(b for b in at.get("form_submit_button") if b.label == "Train").click()
    return no_exception(at.run())


def test_compare_epoch_1_with_the_trained_model_and_follow_a_digit(app, tmp_path):
    from featlib.store import Workspace

    at = train_with_checkpoints(app.run())
    assert any("Checkpoints saved" in c.value and "epoch1" in c.value for c in at.caption)
    records = {r.name: r for r in Workspace(tmp_path / "ws").list_models()}
    assert records["mlp-digits@epoch1"].meta["checkpoint_of"] == records["mlp-digits"].id
    assert records["mlp-digits@epoch1"].meta["epoch"] == 1

    at = no_exception(at.switch_page(page_path("compare")).run())
    assert any("press Compare" in i.value for i in at.info)
    assert [at.selectbox(key=f"cmp_layer_{i}").value for i in range(2)] == ["dense", "dense_1"]  # not twice the same
    at.selectbox(key="cmp_reducer_0").set_value("pca")
    at = no_exception(at.run())
    next(b for b in at.button if b.label == "This layer across checkpoints").click()
    at = no_exception(at.run())
    table = at.dataframe[0].value
    assert list(table["model"]) == ["mlp-digits@epoch1", "mlp-digits"]
    assert list(table["layer"]) == ["dense_1", "dense_1"]
    assert (table["points scored"] == 1437).all()
    for column in ("10-NN layer", "10-NN map", "linear probe", "trustworthiness"):
        assert table[column].between(0, 1).all()
    assert table["10-NN layer"].iloc[1] > 0.8  # the trained model's layer separates the digits
    assert query_of(at)["p1"].endswith(":dense_1:function:pca")

    at.number_input(key="cmp_follow").set_value(7)
    at = no_exception(at.run())
    assert any("Point 7's neighbours shared with panel 1" in c.value for c in at.caption)
    assert query_of(at)["follow"] == "7"

    # The link reopens the same comparison in a new session.
    query = query_of(at)
    other = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        other.query_params[key] = value
    other = no_exception(other.run())
    other = no_exception(other.switch_page(page_path("compare")).run())
    assert list(other.dataframe[0].value["model"]) == ["mlp-digits@epoch1", "mlp-digits"]
    assert other.number_input(key="cmp_follow").value == 7


def test_panels_picked_in_the_editor_are_compared(app, tmp_path):
    from featlib import models
    from featlib.store import Workspace

    workspace = Workspace(tmp_path / "ws")
    models.save_model(workspace, models.build_mlp((64,), hidden=(16, 8)), "small", dataset="digits")
    at = no_exception(app.run())
    at = no_exception(at.switch_page(page_path("compare")).run())
    at.number_input(key="cmp_n").set_value(3)
    at = no_exception(at.run())
    for i, layer in enumerate(["dense", "dense_1", "dense_2"]):
        at.selectbox(key=f"cmp_layer_{i}").set_value(layer)
        at.selectbox(key=f"cmp_reducer_{i}").set_value("pca")
    at.selectbox(key="cmp_method_2").set_value("submodel")
    at = no_exception(at.run())
    next(b for b in at.button if b.label == "Compare").click()
    at = no_exception(at.run())
    table = at.dataframe[0].value
    assert list(table["layer"]) == ["dense", "dense_1", "dense_2"]
    assert list(table["method"]) == ["function", "function", "submodel"]
    assert [c.key for c in at.get("plotly_chart")] == [
        "cmp_map_0",
        "cmp_map_1",
        "cmp_map_2",
        "moved-map",
        "moved-classes",
    ]


def test_a_model_that_does_not_fit_the_data_or_a_missing_layer_is_explained(app, tmp_path):
    from featlib import models
    from featlib.store import Workspace

    workspace = Workspace(tmp_path / "ws")
    good = models.save_model(workspace, models.build_mlp((64,), hidden=(8,)), "good", dataset="digits")
    wrong = models.save_model(workspace, models.build_mlp((50,), hidden=(8,)), "wrong-input", dataset="other")
    view = CompareView("digits", (Panel(good.id, "dense", reducer="pca"), Panel(wrong.id, "dense", reducer="pca")))
    for key, value in view.to_query().items():
        app.query_params[key] = value
    at = no_exception(app.run())
    at = no_exception(at.switch_page(page_path("compare")).run())
    assert any("wrong-input cannot be shown on digits" in e and "50 values" in e for e in errors(at)), errors(at)
    across = next(b for b in at.button if b.label == "This layer across checkpoints")
    assert across.disabled and "has no checkpoints" in across.help  # offered only where it can work
    with pytest.raises(CompareError, match="good has no checkpoints"):
        compare.across_checkpoints(workspace.list_models(), good.id, "dense")

    missing = CompareView("digits", (Panel(good.id, "dense", reducer="pca"), Panel(good.id, "nope", reducer="pca")))
    other = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in missing.to_query().items():
        other.query_params[key] = value
    other = no_exception(other.run())
    other = no_exception(other.switch_page(page_path("compare")).run())
    assert any("No such layer: nope" in e for e in errors(other)), errors(other)


def test_a_panel_figure_marks_the_selection_the_followed_point_and_its_neighbours():
    import numpy as np

    from featlib import plots

    coords = np.random.default_rng(0).normal(size=(50, 2))
    indices, labels = np.arange(100, 150), np.arange(50) % 5
    figure = plots.compare_panel(
        coords,
        indices,
        labels,
        selected=[101, 102, 7],
        followed=110,
        neighbours=[111, 112],
        x_range=[-4, 4],
        y_range=[-3, 3],
        title="panel",
    )
    by_name = {t.name: t for t in figure.data}
    assert len(by_name[plots.HIGHLIGHT_NAME].x) == 2  # index 7 is not on this map
    assert list(by_name[plots.FOLLOWED_NAME].customdata[:, 0]) == [110]
    assert sorted(by_name[plots.NEIGHBOURS_NAME].customdata[:, 0]) == [111, 112]
    assert list(figure.layout.xaxis.range) == [-4, 4] and list(figure.layout.yaxis.range) == [-3, 3]
    # A selection on any trace maps back to dataset indices.
    curve = list(by_name).index(plots.FOLLOWED_NAME)
    assert plots.selected_indices([{"curve_number": curve, "point_index": 0}], figure).tolist() == [110]


def test_without_a_model_the_page_points_to_the_model_page(app):
    at = no_exception(app.run())
    at = no_exception(at.switch_page(page_path("compare")).run())
    assert any("No saved model yet" in i.value for i in at.info)


def test_bad_checkpoint_epochs_are_refused_before_training(app, tmp_path):
    from featlib.store import Workspace

    at = no_exception(app.run().switch_page(page_path("model")).run())
    next(n for n in at.number_input if n.label == "Epochs").set_value(3)
    next(t for t in at.text_input if t.label == "Save checkpoints after epoch").set_value("1, 7")
    next(b for b in at.get("form_submit_button") if b.label == "Train").click()
    at = no_exception(at.run())
    assert any("within 1..3" in e and "[7]" in e for e in errors(at)), errors(at)
    assert Workspace(tmp_path / "ws").list_models() == []


def test_presets_that_cannot_work_are_offered_disabled_saying_why(app):
    at = no_exception(app.run().switch_page(page_path("model")).run())
    next(n for n in at.number_input if n.label == "Epochs").set_value(2)
    next(b for b in at.get("form_submit_button") if b.label == "Train").click()
    at = no_exception(no_exception(at.run()).switch_page(page_path("compare")).run())
    buttons = {b.label: b for b in at.button}
    assert buttons["This layer across checkpoints"].disabled
    assert "has no checkpoints" in buttons["This layer across checkpoints"].help
    assert any(
        "mlp-digits has no checkpoints, so it cannot be compared across epochs" in c.value.replace("\\", "")
        for c in at.caption
    )
    assert not buttons["Layer by layer"].disabled and not buttons["Function vs sub-model"].disabled
    assert (
        "dense, dense\\_1, dense\\_2" in buttons["Layer by layer"].help
        or "dense, dense_1, dense_2" in buttons["Layer by layer"].help
    )


def test_a_selection_made_on_other_data_is_dropped_with_a_note_not_carried(tmp_path, monkeypatch):
    """Issue 28, item 1: a lasso on Compare under one dataset, then another dataset picked on the Model page,
    showed the old selection's indices on the new split ("index 362 is out of bounds for axis 0 with size 360")."""
    from featlib import datasets, models
    from featlib.app import comparing, resources, state
    from featlib.store import Workspace

    digits = datasets.load_digits()
    (x_train, y_train), (x_test, y_test) = digits.split("train"), digits.split("test")
    big = datasets.from_arrays(x_test, y_test, name="big test split", x_test=x_train, y_test=y_train)  # 1,437 test
    workspace = Workspace(tmp_path / "ws")
    workspace.save_dataset(big)
    record = models.save_model(workspace, models.build_mlp((64,), hidden=(8,), seed=0), "mlp", dataset="digits")
    upload = resources.UPLOAD_PREFIX + big.fingerprint
    view = CompareView(
        upload,
        (Panel(record.id, "dense", reducer="pca"), Panel(record.id, "dense_1", reducer="pca")),
        split="test",
        sample=None,
    )
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in view.to_query().items():
        at.query_params[key] = value
    at = no_exception(at.run())
    at = no_exception(at.switch_page(page_path("compare")).run())
    at.session_state[comparing.SELECTION] = SelectionState(tuple(range(300, 1_400)))  # what a lasso leaves
    at.number_input(key=comparing.FOLLOW).set_value(1_200)
    at = no_exception(at.run())
    assert any(h.value == "1,100 selected points, highlighted in every panel" for h in at.subheader)
    assert any("Point 1200's neighbours shared with panel 1" in c.value for c in at.caption)

    at = no_exception(at.switch_page(page_path("model")).run())
    at.session_state[state.DATASET] = "digits"  # as the Model page's dataset picker leaves it
    at = no_exception(at.switch_page(page_path("compare")).run())
    notes = [i.value for i in at.info]
    assert any(
        "made on big test split, test split; the data is now Digits 8×8" in n and "cleared" in n for n in notes
    ), notes
    assert not any("selected points" in h.value for h in at.subheader)
    assert at.number_input(key=comparing.FOLLOW).value is None
    panels = [c for c in at.get("plotly_chart") if str(c.key).startswith("cmp_map_")]
    assert len(panels) == 2  # the comparison itself is drawn on the new data

    at = no_exception(at.run())  # the note is said once
    assert not any("cleared" in i.value for i in at.info)
