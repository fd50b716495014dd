"""Tests for featlib.maps.embed: real umap-learn fits (few points, few epochs)."""

from __future__ import annotations

import numpy as np
import pytest

from featlib import metrics
from featlib.maps import embed
from featlib.maps.embed import UMAPParams

N_POINTS = 300
EPOCHS = 50
PARAMS = UMAPParams(n_epochs=EPOCHS)  # the one UMAP configuration of the suite (Numba compiles once)


@pytest.fixture(scope="module")
def blobs():
    """300 points in 16-D around 3 well-separated centres."""
    rng = np.random.default_rng(0)
    labels = np.arange(N_POINTS) % 3
    centres = rng.normal(scale=10.0, size=(3, 16))
    return (centres[labels] + rng.normal(size=(N_POINTS, 16))).astype("float32"), labels


@pytest.fixture(scope="module")
def first_fit(blobs):
    calls = []
    coords = embed.umap_embed(blobs[0], PARAMS, progress=lambda *c: calls.append(c))
    return coords, calls


# ----------------------------------------------------------------------------- umap_embed


def test_umap_embed_shape_and_dtype(first_fit):
    coords, _ = first_fit
    assert coords.shape == (N_POINTS, 2)
    assert coords.dtype == np.float32
    assert np.all(np.isfinite(coords))
    assert coords.std(axis=0).min() > 0  # not collapsed to a point


def test_umap_embed_reproducible_with_same_seed_different_with_other(first_fit, blobs):
    coords, _ = first_fit
    again = embed.umap_embed(blobs[0], PARAMS)
    assert np.array_equal(again, coords)
    other = embed.umap_embed(blobs[0], UMAPParams(n_epochs=EPOCHS, random_state=7))
    assert other.shape == coords.shape
    assert not np.allclose(other, coords)


def test_umap_embed_in_three_dimensions_is_its_own_reproducible_map(first_fit, blobs):
    """Issue 25, item 4 (the other reducers' 3-D maps: tests/test_three_d.py): here, where Numba has compiled."""
    three = UMAPParams(n_epochs=EPOCHS, dims=3)
    coords = embed.umap_embed(blobs[0], three)
    assert coords.shape == (N_POINTS, 3) and coords.dtype == np.float32 and np.isfinite(coords).all()
    assert coords.std(axis=0).min() > 0  # three dimensions of its own
    np.testing.assert_array_equal(coords, embed.umap_embed(blobs[0], three))
    assert three.key == PARAMS.key + "-dims=3"


def test_umap_embed_keeps_separated_clusters_apart(first_fit, blobs):
    coords, _ = first_fit
    assert metrics.knn_accuracy(coords, blobs[1]) > 0.95


def test_umap_embed_progress_reports_neighbours_then_layout_to_total(first_fit):
    _, calls = first_fit
    assert calls[0] == ("neighbours", 0, 1)
    layout = [c for c in calls[1:]]
    assert layout and all(stage == "layout" and total == EPOCHS for stage, _, total in layout)
    assert layout[-1] == ("layout", EPOCHS, EPOCHS)
    assert all(0 <= done <= EPOCHS for _, done, _ in layout)


def test_umap_embed_refuses_nan_and_inf():
    x = np.random.default_rng(1).normal(size=(40, 4)).astype("float32")
    x[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        embed.umap_embed(x, PARAMS)
    x[3, 2] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        embed.umap_embed(x, PARAMS)


def test_umap_embed_refuses_too_few_points():
    x = np.random.default_rng(1).normal(size=(15, 4))
    with pytest.raises(
        embed.ReducerError,
        match=r"UMAP needs at least 16 points for n_neighbors=15 \(more points "
        r"than neighbours, and at least 4\); got 15\. The fix: lower "
        r"n_neighbors to 14 or fewer",
    ):
        embed.umap_embed(x, PARAMS)


# ----------------------------------------------------------------------------- UMAPParams


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"n_neighbors": 1}, "n_neighbors must be at least 2; got 1"),
        ({"min_dist": -0.1}, r"min_dist must be within \[0, 1\]; got -0.1"),
        ({"min_dist": 1.5}, r"min_dist must be within \[0, 1\]; got 1.5"),
        ({"metric": "hamming"}, r"Unknown metric: 'hamming'. Choose one of \['auto', 'euclidean'"),
    ],
)
def test_umap_params_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        UMAPParams(**kwargs)


def test_layout_schedule_gives_small_maps_more_epochs_and_large_ones_a_pca_start():
    assert embed.layout_schedule(1_797) == embed.layout_schedule(10_000) == (300, "spectral")
    assert embed.layout_schedule(10_001) == embed.layout_schedule(70_000) == (300, "pca")
    with pytest.raises(ValueError, match="n_epochs must be at least 1"):
        UMAPParams(n_epochs=0)


def test_umap_params_key_names_every_parameter_and_is_hashable():
    a = UMAPParams()
    assert a.key == "umap-n_neighbors=15-min_dist=0.1-metric=auto:trial-maps-random_state=42-n_epochs=None-pca_dims=50"
    assert hash(a) == hash(UMAPParams())
    keys = {
        a.key,
        UMAPParams(n_neighbors=30).key,
        UMAPParams(min_dist=0.5).key,
        UMAPParams(metric="cosine").key,
        UMAPParams(random_state=1).key,
        UMAPParams(n_epochs=50).key,
        UMAPParams(pca_dims=None).key,
    }
    assert len(keys) == 7


# ----------------------------------------------------------------------------- stratified_sample


def test_stratified_sample_keeps_class_proportions(digits):
    labels = digits.y_train
    size = 300
    idx = embed.stratified_sample(labels, size, seed=0)
    assert len(idx) == size == len(np.unique(idx))
    assert np.array_equal(idx, np.sort(idx))
    assert idx.min() >= 0 and idx.max() < len(labels)
    expected = np.bincount(labels) * size / len(labels)
    counts = np.bincount(labels[idx], minlength=10)
    assert np.all(np.abs(counts - expected) <= 1), (counts, expected)


def test_stratified_sample_is_deterministic_per_seed(digits):
    a = embed.stratified_sample(digits.y_train, 100, seed=0)
    assert np.array_equal(a, embed.stratified_sample(digits.y_train, 100, seed=0))
    assert not np.array_equal(a, embed.stratified_sample(digits.y_train, 100, seed=1))


@pytest.mark.parametrize("size", [None, 1437, 5000])
def test_stratified_sample_returns_all_indices_when_size_none_or_large(digits, size):
    assert np.array_equal(embed.stratified_sample(digits.y_train, size), np.arange(1437))


def test_stratified_sample_refuses_size_below_one(digits):
    with pytest.raises(ValueError, match="sample size must be at least 1; got 0"):
        embed.stratified_sample(digits.y_train, 0)


def test_stratified_sample_with_fewer_points_than_classes():
    labels = np.repeat(np.arange(10), 20)
    idx = embed.stratified_sample(labels, 5)
    assert len(idx) == 5 == len(np.unique(idx))


@pytest.mark.parametrize("size", [1436, 1430])
def test_stratified_sample_close_to_n(digits, size):
    idx = embed.stratified_sample(digits.y_train, size)
    assert len(idx) == size == len(np.unique(idx))
    counts = np.bincount(digits.y_train[idx], minlength=10)
    assert np.all(np.bincount(digits.y_train) - counts >= 0)


# ----------------------------------------------------------------------------- speed levers


def test_reduce_width_applies_pca_only_to_wide_layers():
    rng = np.random.default_rng(0)
    assert embed.reduce_width(rng.normal(size=(300, 64)).astype("float32"), UMAPParams()).shape == (300, 64)
    wide = embed.reduce_width(rng.normal(size=(300, 256)).astype("float32"), UMAPParams())
    assert wide.shape == (300, 50)
    assert embed.reduce_width(rng.normal(size=(300, 256)), UMAPParams(pca_dims=None)).shape == (300, 256)


def test_pca_preview_is_two_dimensional_and_keeps_clusters_apart(blobs):
    x, labels = blobs
    coords = embed.pca_embed(x)
    assert coords.shape == (len(x), 2) and coords.dtype == np.float32
    assert metrics.knn_accuracy(coords, labels) > 0.9


def test_a_reused_knn_graph_gives_the_same_map_as_a_fresh_one():
    rng = np.random.default_rng(1)
    centres = rng.normal(scale=5, size=(5, 20))
    labels = rng.integers(0, 5, embed.APPROXIMATE_FROM + 200)
    x = (centres[labels] + rng.normal(size=(len(labels), 20))).astype("float32")
    params = UMAPParams(n_epochs=30)
    graph = embed.nearest_neighbours(x, params)
    assert graph[0].shape == (len(x), params.n_neighbors)
    np.testing.assert_array_equal(embed.umap_embed(x, params), embed.umap_embed(x, params, knn_graph=graph))
    other_seed = UMAPParams(n_epochs=30, random_state=7, min_dist=0.5)
    np.testing.assert_array_equal(embed.umap_embed(x, other_seed), embed.umap_embed(x, other_seed, knn_graph=graph))


# ----------------------------------------------------------------------------- other reducers


def test_reduce_dispatches_on_the_parameters(blobs):
    x, labels = blobs
    np.testing.assert_array_equal(embed.reduce(x, embed.PCAParams()), embed.pca_embed(x))
    tsne = embed.reduce(x, embed.TSNEParams(perplexity=20))
    assert tsne.shape == (N_POINTS, 2) and tsne.dtype == np.float32
    assert metrics.knn_accuracy(tsne, labels) > 0.95
    np.testing.assert_array_equal(tsne, embed.tsne_embed(x, embed.TSNEParams(perplexity=20)))  # seeded


def test_reducer_names_and_keys_are_distinct():
    params = [UMAPParams(), embed.PCAParams(), embed.TSNEParams(), embed.TSNEParams(perplexity=50)]
    assert [embed.reducer_name(p) for p in params] == ["umap", "pca", "tsne", "tsne"]
    assert len({p.key for p in params}) == 4
    with pytest.raises(TypeError, match="Not reducer parameters"):
        embed.reducer_name({"n_neighbors": 15})


@pytest.mark.parametrize("reducer", [embed.PCAParams(), embed.TSNEParams()])
def test_other_reducers_refuse_non_finite_values(blobs, reducer):
    x = blobs[0].copy()
    x[5, 3] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        embed.reduce(x, reducer)


def test_tsne_refuses_too_few_points_for_its_perplexity(blobs):
    with pytest.raises(
        embed.ReducerError,
        match=r"t-SNE needs at least 91 points for perplexity=30 \(more than 3 × "
        r"perplexity\); got 50\. The fix: lower perplexity to 16.3 or less",
    ):
        embed.tsne_embed(blobs[0][:50], embed.TSNEParams(perplexity=30))
    with pytest.raises(ValueError, match="perplexity must be within"):
        embed.TSNEParams(perplexity=500)


def test_enable_numba_cache_writes_compiled_code_to_the_folder(tmp_path):
    """A fresh process that enables the cache on a folder compiles umap-learn's ``smooth_knn_dist`` (not cached by
    umap-learn itself) into it.

    The folder starts as a copy of this machine's compile cache (empty on a fresh machine) less that function's
    files, so the process loads umap-learn's other compiled code instead of compiling it all again (a minute of
    CPU), and what it writes can only come from this run.
    """
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from featlib.maps import compile_cache

    folder = tmp_path / "numba"
    if compile_cache.folder().is_dir():
        shutil.copytree(compile_cache.folder(), folder, ignore=shutil.ignore_patterns("*.lock", "*smooth_knn_dist*"))
    assert not list(folder.rglob("*smooth_knn_dist*"))
    code = (
        "import numpy as np, sys\n"
        "from featlib.maps import embed\n"
        "n = embed.enable_numba_cache(sys.argv[1])\n"
        "assert n > 100, n\n"
        "from umap.umap_ import smooth_knn_dist\n"  # one uncached-by-default function, quick to compile
        "smooth_knn_dist(np.random.default_rng(0).random((50, 5)).astype('float32'), 5.0)\n"
    )
    root = Path(__file__).resolve().parents[1]
    subprocess.run(
        [sys.executable, "-c", code, str(folder)],
        check=True,
        cwd=root,
        env={**__import__("os").environ, "PYTHONPATH": str(root)},
        timeout=600,
    )
    written = {path.suffix for path in folder.rglob("umap_.smooth_knn_dist-*")}
    assert {".nbi", ".nbc"} <= written, f"Numba wrote no index and code for smooth_knn_dist: {written}"


def test_a_progress_callback_that_raises_leaves_the_next_fit_working():
    """An exception out of the progress sink during the layout is raised after the fit, outside tqdm's lock.

    Before, it escaped while tqdm held its process-wide write lock: every later UMAP fit (and every
    tqdm bar) in the process then waited forever.
    """
    import threading

    from featlib.maps import embed

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2_000, 8)).astype("float32")
    calls = []

    def stop_mid_layout(stage, done, total):  # the first report between the start and the end of the layout
        calls.append((stage, done))
        if stage == "layout" and 0 < done < total:
            raise KeyboardInterrupt("the page was reloaded")  # what Streamlit raises into a page is no Exception

    with pytest.raises(KeyboardInterrupt, match="the page was reloaded"):
        embed.umap_embed(x, embed.UMAPParams(n_epochs=3_000, random_state=0), progress=stop_mid_layout)
    assert any(stage == "layout" and 0 < done < 3_000 for stage, done in calls), calls
    result: list = []  # the next fit, in another thread (as another session's job would be)
    worker = threading.Thread(
        target=lambda: result.append(
            embed.umap_embed(x[:300], embed.UMAPParams(n_epochs=20, random_state=0), progress=lambda *a: None)
        ),
        daemon=True,
    )
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "the next fit hangs"
    assert result[0].shape == (300, 2)
    assert calls[-1][0] == "layout" and 0 < calls[-1][1] < 3_000  # no report after the one that raised
