"""Tests for featlib.pipeline: the keys it re-exports, predicted labels.

Computing once, then serving from the workspace, is featlib.service's: tests/test_service.py.
"""

from __future__ import annotations

import itertools

import numpy as np

from featlib import models, pipeline
from featlib.maps.embed import UMAPParams


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
    params = [
        UMAPParams(),
        UMAPParams(n_neighbors=30),
        UMAPParams(min_dist=0.5),
        UMAPParams(metric="cosine"),
        UMAPParams(random_state=1),
        UMAPParams(n_epochs=50),
    ]
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
