"""featlib's seeded UMAP layout on every core (featlib.maps.layout): reproducible, the same on one thread and two,
as good as umap-learn's seeded single-threaded layout. The digits only (1,437 points, featlib's 300 epochs)."""

from __future__ import annotations

import warnings

import numba
import numpy as np
import pytest
import umap

from featlib import datasets, metrics
from featlib.maps import embed, layout

PARAMS = embed.UMAPParams(metric="euclidean")  # a fixed metric: no trial maps; featlib's schedule (300, spectral)
THREADS = min(2, numba.config.NUMBA_NUM_THREADS)
needs_two = pytest.mark.skipif(THREADS < 2, reason="Numba has one thread here")


@pytest.fixture(scope="module")
def digits_points():
    ds = datasets.load_digits()
    return ds.x_train.reshape(len(ds.x_train), -1).astype("float32") / 255.0, ds.y_train


def _map(x, params=PARAMS, threads=THREADS, progress=None):
    before = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return embed.umap_embed(x, params, progress=progress, backend="cpu")
    finally:
        numba.set_num_threads(before)


@pytest.fixture(scope="module")
def maps(digits_points):
    x, _ = digits_points
    seen = []  # (stage, done, total, Numba's threads during the report)

    def progress(stage, done, total):
        seen.append((stage, done, total, numba.get_num_threads()))

    return {
        "first": _map(x, progress=progress),
        "again": _map(x),
        "one_thread": _map(x, threads=1),
        "other_seed": _map(x, embed.UMAPParams(metric="euclidean", random_state=7)),
        "progress": seen,
    }


def test_the_same_seed_gives_the_same_map(maps):
    assert maps["first"].shape == (1_437, 2) and maps["first"].dtype == np.float32
    assert np.all(np.isfinite(maps["first"]))
    np.testing.assert_array_equal(maps["first"], maps["again"])


@needs_two
def test_one_thread_and_two_give_the_same_map(maps):
    np.testing.assert_array_equal(maps["first"], maps["one_thread"])


def test_another_seed_gives_another_map(maps):
    assert not np.allclose(maps["first"], maps["other_seed"])


@needs_two
def test_the_layout_runs_on_every_thread_and_reports_each_epoch(maps):
    """Each epoch is reported once, in order, while the layout holds all of Numba's threads (umap-learn's seeded
    layout holds one: it sets Numba's threads to 1 for a seeded fit)."""
    epochs, _ = embed.layout_schedule(1_437)
    reports = [(done, total, threads) for stage, done, total, threads in maps["progress"] if stage == "layout"]
    assert [done for done, _, _ in reports] == list(range(epochs + 1))
    assert {total for _, total, _ in reports} == {epochs}
    assert {threads for _, _, threads in reports} == {THREADS}
    assert maps["progress"][0][0] == "neighbours"


def test_the_threads_are_given_back_after_a_fit(digits_points):
    before = numba.get_num_threads()
    embed.umap_embed(digits_points[0][:300], embed.UMAPParams(metric="euclidean", n_epochs=20), backend="cpu")
    assert numba.get_num_threads() == before


def test_the_map_is_as_good_as_umap_learns_seeded_one(maps, digits_points):
    """10-NN accuracy within 0.02 of umap-learn's seeded (single-threaded) layout of the same graph and start."""
    x, labels = digits_points
    epochs, init = embed.layout_schedule(len(x))
    graph = embed.nearest_neighbours(x, PARAMS)
    reducer = umap.UMAP(
        n_neighbors=PARAMS.n_neighbors,
        min_dist=PARAMS.min_dist,
        random_state=PARAMS.random_state,
        n_epochs=epochs,
        init=init,
        precomputed_knn=graph,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        theirs = reducer.fit_transform(x)
    ours_acc = float(metrics.knn_accuracy(maps["first"], labels))
    theirs_acc = float(metrics.knn_accuracy(theirs, labels))
    assert ours_acc >= theirs_acc - 0.02, (ours_acc, theirs_acc)
    assert ours_acc > 0.95


def test_the_kernel_alone_is_the_same_on_one_thread_and_two():
    """:func:`featlib.maps.layout.optimize` on a ring graph: the thread count never changes a coordinate."""
    n = 200
    head = np.repeat(np.arange(n), 2)
    tail = np.stack([(np.arange(n) - 1) % n, (np.arange(n) + 1) % n], axis=1).ravel()
    start = np.random.default_rng(0).uniform(0, 10, size=(n, 2)).astype("float32")
    a, b = umap.umap_.find_ab_params(1.0, 0.1)
    before, runs = numba.get_num_threads(), []
    for threads in (1, THREADS):
        numba.set_num_threads(threads)
        runs.append(layout.optimize(start, head, tail, np.ones(len(head)), 50, a, b, seed=3))
    numba.set_num_threads(before)
    np.testing.assert_array_equal(runs[0], runs[1])
    np.testing.assert_array_equal(start, np.random.default_rng(0).uniform(0, 10, size=(n, 2)).astype("float32"))
    assert not np.array_equal(runs[0], start)
