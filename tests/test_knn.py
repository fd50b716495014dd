"""featlib.maps.knn: the exact kNN graph of small maps and correlation searched as cosine on centred rows."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from featlib.maps import embed, knn


def _points(n: int = 400, d: int = 24, seed: int = 0) -> np.ndarray:
    """Clustered float32 points with the cases a brute force must agree on: duplicates and constant rows."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(6, d))
    x = (centres[rng.integers(0, 6, n)] + rng.normal(size=(n, d))).astype("float32")
    x[10] = x[11] = x[12]  # three identical points
    x[20], x[21] = 2.5, -1.0  # two constant rows: no spread once centred (correlation undefined)
    return x


def _brute(x: np.ndarray, metric: str) -> np.ndarray:
    """All pairwise distances in float64 by scipy, with umap-learn's convention for rows without spread."""
    distances = cdist(x.astype("float64"), x.astype("float64"), metric)
    if metric in ("cosine", "correlation"):
        rows = x.astype("float64") - (x.mean(axis=1, keepdims=True) if metric == "correlation" else 0.0)
        flat = np.linalg.norm(rows, axis=1) == 0
        distances[flat[:, None] | flat[None, :]] = 1.0  # one row without spread: 1 (scipy: nan)
        distances[flat[:, None] & flat[None, :]] = 0.0  # both: 0
    return distances


@pytest.mark.parametrize("metric", knn.EXACT_METRICS)
def test_the_exact_graph_is_a_brute_force_search(metric):
    x = _points()
    indices, distances = knn.exact(x, 15, metric)
    assert indices.shape == distances.shape == (len(x), 15)
    assert indices.dtype == np.int32 and distances.dtype == np.float32  # the types umap-learn's cached code takes
    brute = _brute(x, metric)
    assert (indices[:, 0] == np.arange(len(x))).all()  # each point first, even among its duplicates
    np.testing.assert_allclose(distances, np.take_along_axis(brute, indices.astype(int), 1), atol=1e-6)
    assert (np.diff(distances[:, 1:], axis=1) >= 0).all()
    kth = np.sort(brute, axis=1)[:, 14]  # the 15th smallest distance, the point itself included
    # the same neighbours as the brute force: every one found is within the 15th distance, and none is missed
    assert (np.take_along_axis(brute, indices.astype(int), 1) <= kth[:, None] + 1e-9).all()
    for i in range(len(x)):
        assert set(np.flatnonzero(brute[i] < kth[i] - 1e-6)) <= set(indices[i]), i


def test_the_exact_graph_does_not_depend_on_the_chunk_size(monkeypatch):
    x = _points(300)
    whole = knn.exact(x, 10, "correlation")
    monkeypatch.setattr(knn, "CHUNK_VALUES", 7 * len(x))  # 7 rows per chunk of scores
    monkeypatch.setattr(knn, "BLOCK_VALUES", 5 * x.shape[1] * (10 + knn.MARGIN))  # 5 rows per block of distances
    chunked = knn.exact(x, 10, "correlation")
    np.testing.assert_array_equal(whole[0], chunked[0])
    np.testing.assert_array_equal(whole[1], chunked[1])


def test_the_exact_graph_refuses_what_it_does_not_compute():
    with pytest.raises(ValueError, match="exact neighbours support"):
        knn.exact(_points(50), 5, "manhattan")
    with pytest.raises(ValueError, match="k must be within"):
        knn.exact(_points(50), 51, "euclidean")


def test_graph_is_exact_up_to_the_threshold_and_approximate_above(monkeypatch):
    calls = []
    monkeypatch.setattr(knn, "exact", lambda x, k, metric: calls.append(("exact", len(x))) or "exact")
    monkeypatch.setattr(knn, "approximate", lambda x, k, metric: calls.append(("approximate", len(x))) or "approx")
    knn.graph(np.zeros((knn.EXACT_UP_TO, 2)), 5, "correlation")
    knn.graph(np.zeros((knn.EXACT_UP_TO + 1, 2)), 5, "correlation")
    knn.graph(np.zeros((100, 2)), 5, "manhattan")  # not a matrix product: pynndescent's
    assert calls == [("exact", knn.EXACT_UP_TO), ("approximate", knn.EXACT_UP_TO + 1), ("approximate", 100)]


def test_correlation_searched_as_cosine_on_centred_rows_gives_correlation_distances():
    """Above the threshold correlation runs as pynndescent's cosine on centred rows; the distances it returns are
    scipy's correlation distances (to float32 precision), and it finds nearly every true neighbour."""
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(600, 32)) + rng.normal(scale=4.0, size=(600, 1))).astype("float32")  # varied row means
    indices, distances = knn.approximate(x, 15, "correlation")
    brute = cdist(x.astype("float64"), x.astype("float64"), "correlation")
    np.testing.assert_allclose(distances, np.take_along_axis(brute, indices.astype(int), 1), rtol=0, atol=1e-6)
    assert (indices[:, 0] == np.arange(len(x))).all()
    truth = np.argsort(brute, axis=1, kind="stable")[:, :15]
    recall = np.mean([len(set(a) & set(b)) / 15 for a, b in zip(indices, truth)])
    assert recall > 0.95, recall


def test_small_maps_use_the_exact_graph_and_the_same_seed_gives_the_same_map(monkeypatch):
    x = _points(500)
    params = embed.UMAPParams(n_epochs=20)
    first = embed.umap_embed(x, params)
    np.testing.assert_array_equal(first, embed.umap_embed(x, params))
    graph = knn.exact(x, params.n_neighbors, "correlation")  # 24 columns: metric "auto" is correlation
    np.testing.assert_array_equal(first, embed.umap_embed(x, params, knn_graph=(*graph, None)))
    for name in ("nearest_neighbors", "pairwise_distances"):  # pynndescent's search, umap-learn's small path
        monkeypatch.setattr(f"umap.umap_.{name}", lambda *a, name=name, **k: pytest.fail(f"umap-learn called {name}"))
    np.testing.assert_array_equal(first, embed.umap_embed(x, params))


def test_the_exact_graph_is_the_same_whatever_the_blas_threads():
    from threadpoolctl import threadpool_limits

    x = _points(300)
    with threadpool_limits(1, user_api="blas"):
        one = knn.exact(x, 15, "euclidean")
    with threadpool_limits(2, user_api="blas"):
        two = knn.exact(x, 15, "euclidean")
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[1], two[1])
