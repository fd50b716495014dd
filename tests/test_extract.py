"""Tests for featlib.read.extract: both methods against a NumPy forward pass."""

from __future__ import annotations

import numpy as np
import pytest

from featlib import models
from featlib.models import ModelError
from featlib.read import extract
from featlib.read.extract import METHODS, Extractor

N = 300
LAYERS = ["dense", "activation", "dense_1", "activation_1", "dense_2", "activation_2"]


@pytest.fixture(scope="module")
def x(x_digits):
    return x_digits[:N]


@pytest.fixture(scope="module")
def reference(model, x, forward):
    return forward(model, x)


@pytest.mark.parametrize("method", list(METHODS))
@pytest.mark.parametrize("layer", LAYERS)
def test_methods_match_numpy_forward_pass(model, x, reference, method, layer):
    out = extract.extract(model, layer, x, method=method)
    expected = reference[layer]
    assert out.shape == expected.shape == (N, model.get_layer(layer).output.shape[-1])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)


def test_relu_layers_are_nonnegative_and_softmax_rows_sum_to_one(model, x):
    act = extract.extract(model, "activation_1", x)
    assert act.min() == 0.0 and act.max() > 0.0  # ReLU zeros some units, not all
    probs = extract.extract(model, "activation_2", x, method="submodel")
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)


def test_compare_methods_agree(model, x):
    extractors = {m: Extractor(model, "dense_1", m) for m in METHODS}
    comparison = extract.compare_methods(extractors, x, repeats=2)
    assert comparison.max_abs_diff < 1e-5
    assert comparison.agree is True
    assert set(comparison.seconds) == {"function", "submodel"}
    assert all(s > 0 for s in comparison.seconds.values())
    assert comparison.n_samples == N


def test_compare_methods_detects_disagreement(model, x):
    # Different layers of the same width disagree: the comparison must say so.
    extractors = {"function": Extractor(model, "dense_1"), "submodel": Extractor(model, "activation_1", "submodel")}
    comparison = extract.compare_methods(extractors, x, repeats=1)
    assert comparison.max_abs_diff > 1e-3
    assert comparison.agree is False


@pytest.mark.parametrize("method", list(METHODS))
def test_progress_is_monotone_and_reaches_total(model, x, method):
    calls = []
    out = extract.extract(
        model, "dense_1", x, method=method, batch_size=64, progress=lambda done, total: calls.append((done, total))
    )
    assert out.shape == (N, 64)
    assert calls == [(64, N), (128, N), (192, N), (256, N), (N, N)]


@pytest.mark.parametrize("method", list(METHODS))
def test_batch_size_not_dividing_n(model, x, reference, method):
    n = 101
    out = extract.extract(model, "dense_1", x[:n], method=method, batch_size=32)
    assert out.shape == (n, 64)
    np.testing.assert_allclose(out, reference["dense_1"][:n], rtol=0, atol=1e-5)
    tiny = extract.extract(model, "dense_1", x[:7], method=method, batch_size=3)
    np.testing.assert_allclose(tiny, out[:7], rtol=0, atol=1e-5)


def test_extractor_is_reusable_across_calls(model, x, reference):
    ex = Extractor(model, "activation", "function")
    a, b = ex(x[:10]), ex(x[10:30])
    np.testing.assert_allclose(np.concatenate([a, b]), reference["activation"][:30], atol=1e-5)


def test_unknown_layer_raises_model_error(model, x):
    with pytest.raises(ModelError, match=r"No such layer: dense_9\. Existing layers are"):
        extract.extract(model, "dense_9", x)
    with pytest.raises(ModelError, match="No such layer"):
        Extractor(model, "nope", "submodel")


def test_unknown_method_raises_value_error(model, x):
    with pytest.raises(ValueError, match=r"Unknown method: 'K.function'"):
        extract.extract(model, "dense_1", x, method="K.function")


def test_callers_model_is_unchanged(model, x):
    layers_before = [layer.name for layer in model.layers]
    weights_before = [w.copy() for w in model.get_weights()]
    fp_before = models.fingerprint(model)
    out_before = model.predict(x[:20], verbose=0)
    for method in METHODS:
        for layer in LAYERS:
            extract.extract(model, layer, x[:20], method=method)
    assert [layer.name for layer in model.layers] == layers_before
    assert len(model.layers) == len(layers_before)
    weights_after = model.get_weights()
    assert len(weights_after) == len(weights_before)
    assert all(np.array_equal(a, b) for a, b in zip(weights_after, weights_before))
    assert models.fingerprint(model) == fp_before
    assert len(model.outputs) == 1 and model.outputs[0].shape[-1] == 10
    np.testing.assert_array_equal(model.predict(x[:20], verbose=0), out_before)
