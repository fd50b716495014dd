"""Both cores where the result stays the same, one where it would not (bench/parallel_steps.py measures each step)."""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from featlib import metrics
from featlib.maps import embed


def _points(n: int = 1_500, d: int = 120, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.normal(scale=3.0, size=(8, d))[rng.integers(0, 8, n)] + rng.normal(size=(n, d))).astype("float32")


def test_trustworthiness_on_two_blas_threads_gives_the_one_thread_score():
    from sklearn.manifold import trustworthiness

    x = _points()
    coords = x[:, :2] + np.random.default_rng(1).normal(size=(len(x), 2)).astype("float32")
    with threadpool_limits(1, user_api="blas"):
        one = float(trustworthiness(x, coords, n_neighbors=10))
    assert metrics.trustworthiness(x, coords, sample_size=None) == one
    assert metrics.THREADS == 2


def test_pca_runs_on_one_blas_thread_whatever_the_caller_allows():
    from sklearn.decomposition import PCA

    x = _points()
    with threadpool_limits(1, user_api="blas"):
        one = PCA(50, random_state=0).fit_transform(x).astype("float32")
    with threadpool_limits(2, user_api="blas"):
        np.testing.assert_array_equal(embed.reduce_width(x, embed.UMAPParams(pca_dims=50)), one)


def test_the_neighbour_graph_is_searched_on_one_thread(monkeypatch):
    import umap.umap_

    seen = {}

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return np.zeros((3, 2), int), np.zeros((3, 2), "float32"), None

    from featlib.maps import knn

    monkeypatch.setattr(umap.umap_, "nearest_neighbors", spy)
    monkeypatch.setattr(
        knn, "EXACT_UP_TO", 0
    )  # pynndescent's search, as for maps above featlib.maps.knn.EXACT_UP_TO points
    embed.nearest_neighbours(_points(30, 12), embed.UMAPParams(metric="euclidean"))  # the spy's graph as it is
    assert seen["n_jobs"] == 1  # pynndescent's graph depends on the thread count (bench/parallel_steps.py)
