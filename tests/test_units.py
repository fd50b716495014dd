"""Which units make this cluster? (issue 27, item 2): each unit's most activating images, the dead and the
near-duplicate units of a layer, the units ranked by how well they tell a selection apart (AUROC), as jobs of the
service, counted per layer on the Layers page."""

from __future__ import annotations

import numpy as np
import pytest
from app_testing import TIMEOUT, no_exception
from sklearn.metrics import roc_auc_score
from streamlit.testing.v1 import AppTest

from featlib import keys, plots
from featlib.errors import MetricError
from featlib.jobs.runner import InlineRunner
from featlib.lazy import keras
from featlib.maps import units
from featlib.read import reductions
from featlib.service import Service
from featlib.store import Workspace


def dense_model(activation: str = "relu", width: int = 6, seed: int = 0):
    """Input (8 values in 0..1) → Dense(width, activation), with seeded random weights."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8,))
    return keras.Model(inputs, keras.layers.Dense(width, activation=activation)(inputs))


def inputs(n: int = 300, seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 8)).astype("float32")


def test_a_relu_unit_whose_weights_never_let_it_fire_is_dead_and_never_active():
    model = dense_model()
    kernel, bias = model.layers[-1].get_weights()
    kernel[:, 2], bias[2] = -np.abs(kernel[:, 2]) - 0.1, -0.5  # inputs are >= 0: its sum is always below 0
    kernel[:, 4], bias[4] = 0.0, -1.0  # no weight, a negative bias
    model.layers[-1].set_weights([kernel, bias])
    x = inputs()
    stats = units.unit_stats(model.predict(x, verbose=0))
    assert stats.dead.tolist() == [2, 4]
    assert np.flatnonzero(stats.never_active).tolist() == [2, 4]
    assert stats.summary()["dead"] == 2 and (stats.maximum[[2, 4]] == 0).all()


def test_a_tanh_unit_that_is_always_negative_is_not_dead_but_a_constant_one_is():
    model = dense_model("tanh")
    kernel, bias = model.layers[-1].get_weights()
    kernel[:, 1], bias[1] = -np.abs(kernel[:, 1]) - 0.1, -0.5  # always negative, still varying
    kernel[:, 3], bias[3] = 0.0, 0.7  # constant tanh(0.7)
    model.layers[-1].set_weights([kernel, bias])
    stats = units.unit_stats(model.predict(inputs(), verbose=0))
    assert stats.maximum[1] < 0
    assert stats.dead.tolist() == [3] and not stats.never_active.any()


def test_units_copied_from_one_kernel_column_are_one_near_duplicate_group():
    model = dense_model(width=8)
    kernel, bias = model.layers[-1].get_weights()
    kernel[:, 0] = np.abs(kernel[:, 0]) + 0.05  # always active: a copy's correlation is 1 and scaled copies too
    bias[0] = 0.1
    kernel[:, 3], bias[3] = kernel[:, 0], bias[0]
    kernel[:, 6], bias[6] = 2 * kernel[:, 0], 2 * bias[0]  # relu(2z) = 2 relu(z)
    model.layers[-1].set_weights([kernel, bias])
    stats = units.unit_stats(model.predict(inputs(), verbose=0))
    assert [g.tolist() for g in stats.groups] == [[0, 3, 6]]
    assert stats.pairs.tolist() == [[0, 3], [0, 6], [3, 6]]
    assert (np.abs(stats.r) > units.DUPLICATE_R).all()
    assert stats.duplicated == 3 and stats.redundant == 2


def test_a_convolutions_channels_are_pooled_whatever_reduction_read_it_and_copies_are_found():
    keras.utils.set_random_seed(0)
    images = keras.Input((8, 8, 1))
    model = keras.Model(images, keras.layers.Conv2D(4, 3, activation="relu")(images))
    kernel, bias = model.layers[-1].get_weights()
    kernel[..., 0], bias[0] = np.abs(kernel[..., 0]) + 0.05, 0.1
    kernel[..., 2], bias[2] = kernel[..., 0], bias[0]  # channel 2 copies channel 0
    model.layers[-1].set_weights([kernel, bias])
    x = np.random.default_rng(0).random((200, 8, 8, 1)).astype("float32")
    out = model.predict(x, verbose=0)  # (200, 6, 6, 4)
    rep = reductions.Representation("conv2d", out.shape[1:], "flatten")
    flat = rep.reduce(out)
    expected = out.mean(axis=(1, 2))
    for reduction in ("flatten", "grid", "gap"):
        read = reductions.Representation("conv2d", out.shape[1:], reduction).reduce(out)
        got = units.channels(read, out.shape[1:], reduction)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(units.unit_values(flat, 3, out.shape[1:]), expected[:, 3], rtol=1e-5)
    stats = units.unit_stats(flat, shape=out.shape[1:], reduction="flatten")
    assert stats.units == 4 and [g.tolist() for g in stats.groups] == [[0, 2]]
    np.testing.assert_array_equal(stats.top[1], np.argsort(-expected[:, 1], kind="stable")[: units.TOP_K])


def test_the_ranking_finds_the_units_that_tell_a_planted_selection_apart_in_both_directions():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 30)).astype("float32")
    selected = np.zeros(400, dtype=bool)
    selected[rng.choice(400, 40, replace=False)] = True
    x[selected, 17] += 3.0  # higher on the selection
    x[selected, 5] -= 2.5  # lower on it
    order, auroc = units.rank_units(x, selected)
    assert order[:2].tolist() == [17, 5]
    assert auroc[17] > 0.95 and auroc[5] < 0.05
    assert np.all(np.abs(auroc[order[2:]] - 0.5) < 0.25)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_auroc_equals_sklearns_roc_auc_score_ties_included(seed):
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(size=(250, 12)), 1).astype("float32")  # many ties
    x[:, 4] = 1.0  # constant: 0.5
    selected = rng.random(250) < 0.3
    _, auroc = units.rank_units(x, selected)
    expected = [roc_auc_score(selected, x[:, j]) for j in range(x.shape[1])]
    np.testing.assert_allclose(auroc, expected, atol=1e-12)
    assert auroc[4] == 0.5


def test_a_selection_of_nothing_or_everything_is_refused_naming_the_rule():
    with pytest.raises(MetricError, match="needs selected and unselected images"):
        units.rank_units(np.zeros((5, 2)), np.ones(5, dtype=bool))
    with pytest.raises(MetricError, match="one True/False per image"):
        units.rank_units(np.zeros((5, 2)), np.ones(4, dtype=bool))


def test_the_service_runs_both_as_jobs_equal_to_the_functions_and_keeps_them(tmp_path):
    rng = np.random.default_rng(0)
    outputs = np.maximum(rng.normal(size=(120, 10)), 0).astype("float32")
    outputs[:, 7] = 0.0
    indices = np.arange(0, 120, 2)
    runner = InlineRunner()
    service = Service(Workspace(tmp_path / "ws"), runner)
    got = service.unit_stats("rep/x", outputs, None, indices, 60)
    direct = units.unit_stats(outputs[indices])
    for field in ("top", "top_values", "maximum", "dead", "pairs", "group"):
        np.testing.assert_array_equal(getattr(got, field), getattr(direct, field))
    assert got.dead.tolist() == [7]
    selected = indices[outputs[indices, 3] > 0.5]
    ranked = service.unit_ranking("rep/x", outputs, None, indices, selected, 60, shown=3)
    order, auroc = units.rank_units(outputs[indices], np.isin(indices, selected))
    np.testing.assert_array_equal(ranked.order, order)
    np.testing.assert_allclose(ranked.auroc, auroc)
    assert ranked.order[0] == 3 and ranked.top.shape == (3, units.TOP_K)
    ran = len(runner.ran)
    again = Service(Workspace(tmp_path / "ws"), runner)  # a restarted server: read from the workspace
    np.testing.assert_array_equal(again.unit_stats("rep/x", outputs, None, indices, 60).top, got.top)
    np.testing.assert_array_equal(again.unit_ranking("rep/x", outputs, None, indices, selected, 60, 3).order, order)
    assert len(runner.ran) == ran, "both results were stored under their keys"
    other = units.selection_digest(selected[:-1])
    assert keys.unit_ranking_key("rep/x", 60, other) != keys.unit_ranking_key(
        "rep/x", 60, units.selection_digest(selected)
    )


def test_a_map_coloured_by_a_unit_shades_its_points_by_that_units_values():
    coords = np.random.default_rng(0).normal(size=(5, 2))
    values = np.array([2.0, 3.0, 4.0, 5.0, 6.0])
    figure = plots.scatter_map(coords, np.arange(5), np.zeros(5, int), colour=plots.UNIT_COLOUR, unit=values)
    np.testing.assert_allclose(figure.data[0].marker.color, (values - 2) / 4)  # lowest to highest
    assert list(figure.data[0].marker.colorbar.ticktext) == ["2", "4", "6"]  # in the unit's own values
    with pytest.raises(ValueError, match="needs its value for each"):
        plots.scatter_map(coords, np.arange(5), np.zeros(5, int), colour=plots.UNIT_COLOUR)


def _counts_section(seed: int) -> None:
    """The Layers page's units section (:func:`featlib.app.units.layer_counts`) for a layer set of two small layers."""
    import numpy as _np

    from featlib.app import units as _units
    from featlib.read.layers import LayerSet

    rng = _np.random.default_rng(seed)
    dense = rng.normal(size=(200, 12)).astype("float32")
    relu = _np.maximum(dense, 0)
    relu[:, 4] = 0.0  # never active
    relu[:, 9] = 3 * relu[:, 2]  # a scaled copy
    reps = {"dense": dense, "activation": relu}
    _units.layer_counts(LayerSet("layerset/test", _np.arange(200), _np.zeros(200, int), reps))


def test_the_layers_page_counts_dead_and_near_duplicate_units_per_layer(tmp_path, monkeypatch):
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    at = no_exception(AppTest.from_function(_counts_section, args=(0,), default_timeout=TIMEOUT).run())
    assert "Dead and near-duplicate units" in [h.value.replace("\\", "") for h in at.subheader]  # markdown-escaped
    assert any("near-duplicate (|r|" in c.proto.spec for c in at.get("plotly_chart"))
    table = at.dataframe[0].value.set_index("layer")
    assert table.loc["activation", "dead"] == 1 and table.loc["dense", "dead"] == 0
    assert table.loc["activation", "near-duplicates"] == 2 and table.loc["dense", "near-duplicates"] == 0
    assert [e.label for e in at.expander] == ["The counts as a table"]
