"""featlib's default UMAP metric, chosen by bench/defaults_study.py: "auto" (correlation from 10 columns, else Euclidean)."""

from __future__ import annotations

import numpy as np
import pytest

from featlib import embed


@pytest.mark.parametrize("metric, units, used", [
    ("auto", 64, "correlation"), ("auto", 10, "correlation"), ("auto", 9, "euclidean"), ("auto", 1, "euclidean"),
    ("euclidean", 64, "euclidean"), ("cosine", 3, "cosine"), ("correlation", 2, "correlation"),
])  # fmt: skip
def test_auto_is_correlation_from_ten_columns_and_euclidean_below(metric, units, used):
    assert embed.resolve_metric(metric, units) == used


def test_the_default_metric_is_auto_and_named_in_the_key():
    assert embed.UMAPParams().metric == "auto" == embed.METRICS[0]
    assert "metric=auto" in embed.UMAPParams().key
    assert embed.UMAPParams(metric="euclidean").key != embed.UMAPParams().key  # old links keep their maps


def _clusters(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    return (rng.normal(scale=3.0, size=(3, d))[labels] + rng.normal(size=(n, d))).astype("float32"), labels


@pytest.mark.parametrize("d, resolved", [(3, "euclidean"), (12, "correlation")])
def test_an_auto_map_is_the_resolved_metrics_map_bit_for_bit(d, resolved):
    x, _ = _clusters(200, d)
    auto = embed.umap_embed(x, embed.UMAPParams(n_epochs=30), backend="cpu")
    same = embed.umap_embed(x, embed.UMAPParams(metric=resolved, n_epochs=30), backend="cpu")
    np.testing.assert_array_equal(auto, same)


def test_a_wide_layer_is_resolved_after_pca():
    params = embed.UMAPParams(pca_dims=8)  # 200 columns → 8 after PCA: below ten, so Euclidean
    x, _ = _clusters(120, 200)
    assert embed.reduce_width(x, params).shape[1] == 8
    assert embed.resolve_metric(params.metric, embed.reduce_width(x, params).shape[1]) == "euclidean"
