"""Tests for featlib.pipeline: computing once, then serving from the workspace."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from featlib import models, pipeline
from featlib.maps.embed import UMAPParams, stratified_sample
from featlib.read import extract
from featlib.read.extract import Extractor
from featlib.store import Workspace

PARAMS = UMAPParams(n_epochs=50)  # same configuration as test_embed: Numba compiles once
SAMPLE = 300


@pytest.fixture(scope="module")
def model_fp(model):
    return models.fingerprint(model)


def test_representation_computes_then_serves_from_cache(tmp_path, model, model_fp, digits, x_digits):
    ws = Workspace(tmp_path / "ws")
    calls = []
    out, key = pipeline.representation(
        ws, model, model_fp, digits, "train", "dense_1", "function", model_id="m1",
        progress=lambda done, total: calls.append((done, total)),
    )  # fmt: skip
    assert key == pipeline.representation_key(model_fp, digits.fingerprint, "train", "dense_1", "function", "0-1")
    assert out.shape == (1437, 64) and out.dtype == np.float32
    np.testing.assert_allclose(out, extract.extract(model, "dense_1", x_digits, method="submodel"), atol=1e-5)
    assert calls[-1] == (1437, 1437)
    assert ws.usage()["representations"] == 1
    arrays = list((ws.root / "arrays" / "representation").glob("*.npy"))
    assert len(arrays) == 1

    # Second call, from a fresh Workspace object on the same folder, with an
    # extractor of another (128-unit) layer: a cache hit never calls it.
    ws2 = Workspace(ws.root)
    other = Extractor(model, "dense", "function")
    calls.clear()
    cached, key2 = pipeline.representation(
        ws2, model, model_fp, digits, "train", "dense_1", "function", extractor=other,
        progress=lambda done, total: calls.append((done, total)),
    )  # fmt: skip
    assert key2 == key
    assert cached.shape == (1437, 64) and cached.dtype == np.float32
    assert np.array_equal(cached, out)
    assert calls == [(1437, 1437)]
    assert ws2.usage()["representations"] == 1
    assert list((ws.root / "arrays" / "representation").glob("*.npy")) == arrays


def test_representation_split_method_and_scale_are_separate_entries(tmp_path, model, model_fp, digits):
    ws = Workspace(tmp_path / "ws")
    test_out, k1 = pipeline.representation(ws, model, model_fp, digits, "test", "dense_1", "submodel")
    assert test_out.shape == (360, 64)
    _, k2 = pipeline.representation(ws, model, model_fp, digits, "test", "dense_1", "function")
    raw, k3 = pipeline.representation(ws, model, model_fp, digits, "test", "dense_1", "submodel",
                                      input_scale="0-255")  # fmt: skip
    assert len({k1, k2, k3}) == 3
    assert ws.usage()["representations"] == 3
    x_raw = models.adapt_images(digits.x_test, model, "0-255")
    np.testing.assert_allclose(raw, extract.extract(model, "dense_1", x_raw), rtol=1e-5, atol=1e-4)
    assert not np.allclose(raw, test_out)


def test_embedding_computes_then_serves_from_cache(tmp_path, model, model_fp, digits):
    ws = Workspace(tmp_path / "ws")
    outputs, rep_key = pipeline.representation(ws, model, model_fp, digits, "train", "dense_1", "function")
    labels = digits.y_train
    stages = []
    emb = pipeline.embedding(ws, outputs, rep_key, labels, sample_size=SAMPLE, sample_seed=3, params=PARAMS,
                             progress=lambda stage, done, total: stages.append(stage))  # fmt: skip
    assert emb.key == pipeline.embedding_key(rep_key, SAMPLE, 3, PARAMS)
    assert np.array_equal(emb.indices, stratified_sample(labels, SAMPLE, seed=3))
    assert emb.coords.shape == (SAMPLE, 2) and emb.coords.dtype == np.float32
    assert stages[0] == "neighbours" and stages[-1] == "layout"
    assert ws.usage()["embeddings"] == 1

    # Cache hit: outputs full of NaN would make UMAP raise if it ran again.
    poisoned = np.full_like(outputs, np.nan)
    stages.clear()
    again = pipeline.embedding(Workspace(ws.root), poisoned, rep_key, labels, sample_size=SAMPLE, sample_seed=3,
                               params=PARAMS, progress=lambda stage, done, total: stages.append(stage))  # fmt: skip
    assert again.key == emb.key
    assert np.issubdtype(again.indices.dtype, np.integer)
    assert np.array_equal(again.indices, emb.indices)
    assert again.coords.dtype == np.float32 and np.array_equal(again.coords, emb.coords)
    assert stages == []
    assert ws.usage()["embeddings"] == 1

    # A different sample seed is a different entry, and is really computed.
    with pytest.raises(ValueError, match="NaN"):
        pipeline.embedding(ws, poisoned, rep_key, labels, sample_size=SAMPLE, sample_seed=4, params=PARAMS)


def test_representation_keys_differ_when_any_component_differs():
    base = ("fpmodel", "fpdata", "train", "dense_1", "function", "0-1")
    variants = [base] + [
        base[:i] + (alt,) + base[i + 1 :]
        for i, alt in enumerate(("fpmodel2", "fpdata2", "test", "dense", "submodel", "0-255"))
    ]
    keys = [pipeline.representation_key(*v) for v in variants]
    assert len(set(keys)) == len(keys) == 7
    assert keys[0] == pipeline.representation_key(*base)  # deterministic


def test_embedding_keys_differ_when_any_component_differs():
    rep = pipeline.representation_key("fpmodel", "fpdata", "train", "dense_1", "function", "0-1")
    rep_other = pipeline.representation_key("fpmodel", "fpdata", "train", "dense_1", "submodel", "0-1")
    params = [UMAPParams(), UMAPParams(n_neighbors=30), UMAPParams(min_dist=0.5), UMAPParams(metric="cosine"),
              UMAPParams(random_state=1), UMAPParams(n_epochs=50)]  # fmt: skip
    keys = [
        pipeline.embedding_key(r, size, seed, p)
        for r, size, seed, p in itertools.product((rep, rep_other), (None, 1000), (0, 1), params)
    ]
    assert len(set(keys)) == len(keys) == 2 * 2 * 2 * 6
    assert pipeline.embedding_key(rep, 1000, 0, UMAPParams()) == pipeline.embedding_key(rep, 1000, 0, UMAPParams())


def test_predicted_labels_match_model_argmax(model, digits):
    predicted = pipeline.predicted_labels(model, digits, "test", "0-1")
    x = models.adapt_images(digits.x_test, model)
    assert predicted.shape == (360,)
    assert np.array_equal(predicted, model.predict(x, verbose=0).argmax(axis=1))
    assert np.mean(predicted == digits.y_test) > 0.85
