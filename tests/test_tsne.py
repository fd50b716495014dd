"""Issue 24, item 3: t-SNE maps are openTSNE's (FFT-accelerated), seeded and reproducible, report their progress
per iteration, and take the larger limits and default sample of the reducer table."""

from __future__ import annotations

import numpy as np
import openTSNE
import pytest
import threadpoolctl

from bench import scaling as bench_scaling  # the repository's bench/, not installed
from featlib import metrics
from featlib.jobs import limits, tasks
from featlib.maps import embed, reducer_params

SKLEARN_DIGITS_500 = 0.948
"""scikit-learn's t-SNE (``TSNE(2, perplexity=30, init="pca", random_state=42, n_jobs=1)``, featlib's map before)
on the 500-point stratified sample of the 1,797 digits below: its 10-NN accuracy, measured once by
``python bench/tsne_study.py --dataset digits --sizes 500 --umap-sizes ""`` (11 s; openTSNE 2.9 s, 0.946)."""


def _digits(digits, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A stratified sample of ``n`` of every digit (train, then test), pixels in 0..1, as bench/tsne_study.py takes."""
    images = np.concatenate([digits.x_train, digits.x_test])
    labels = np.concatenate([digits.y_train, digits.y_test])
    idx = embed.stratified_sample(labels, n)
    return (images[idx].reshape(n, -1) / 255.0).astype("float32"), labels[idx]


def test_the_map_is_opentsnes_and_the_same_seed_gives_the_same_map(digits):
    x, _ = _digits(digits, 200)
    params = embed.TSNEParams(perplexity=20, random_state=3)
    coords = embed.tsne_embed(x, params, backend="cpu")
    # openTSNE's own map of the same points with the same settings, bit for bit (scikit-learn's map before differed);
    # on one BLAS thread, as featlib runs it: its PCA start differs in the last bits with more, and so does the map
    with threadpoolctl.threadpool_limits(1, user_api="blas"):
        theirs = openTSNE.TSNE(perplexity=20, random_state=3, n_jobs=1).fit(x.astype("float64"))
    np.testing.assert_array_equal(coords, np.asarray(theirs, dtype="float32"))
    assert coords.dtype == np.float32 and coords.shape == (200, 2)
    np.testing.assert_array_equal(coords, embed.reduce(x, params, backend="cpu"))  # the same seed: the same map
    other = embed.tsne_embed(x, embed.TSNEParams(perplexity=20, random_state=4), backend="cpu")
    assert not np.allclose(coords, other)  # another seed: another map
    assert embed.TSNE_JOBS == 1  # one thread: the same map wherever it is made (two threads' maps differ)


def test_the_digits_map_keeps_neighbourhoods_as_scikit_learns_did(digits):
    x, labels = _digits(digits, 500)
    coords = embed.tsne_embed(x, embed.TSNEParams(), backend="cpu")
    accuracy = float(metrics.knn_accuracy(coords, labels))
    assert accuracy >= SKLEARN_DIGITS_500 - 0.03, accuracy


def test_a_tsne_job_reports_its_iterations_as_they_run(digits):
    x, _ = _digits(digits, 200)
    reports = []
    coords = tasks.reduce(
        points=x, params=embed.TSNEParams(perplexity=10), backend="cpu", progress=lambda *r, **_: reports.append(r)
    )
    assert coords.shape == (200, 2)
    layout = [(done, total) for stage, done, total in reports if stage == "iterations"]
    total = embed.TSNE_EXAGGERATION_ITERATIONS + embed.TSNE_ITERATIONS
    assert reports.index(("neighbours", 0, 1)) < reports.index(("iterations", *layout[0]))  # neighbours, then layout
    fractions = [done / total for done, total in layout]
    assert len(layout) == total // embed.TSNE_PROGRESS_EVERY and {t for _, t in layout} == {total}
    assert fractions == sorted(fractions) and len(set(fractions)) == len(fractions) and fractions[-1] == 1.0


def test_an_exception_from_progress_stops_the_fit():
    x = np.random.default_rng(0).normal(size=(60, 5)).astype("float32")

    def stop(stage: str, done: int, total: int) -> None:
        if stage == "iterations" and done >= 20:
            raise KeyboardInterrupt("stop")

    with pytest.raises(KeyboardInterrupt, match="stop"):
        embed.reduce(x, embed.TSNEParams(perplexity=5), progress=stop, backend="cpu")


def test_the_limits_and_the_default_sample_come_from_the_table():
    table = reducer_params.TSNE
    assert table.sample == reducer_params.TSNE_SAMPLE == 2_500  # about the time of a 10,000-point UMAP map
    assert table.max_points == reducer_params.TSNE_MAX_POINTS == 50_000  # openTSNE's, inside the job's 600 s
    rule = limits.limit("reduce:tsne")
    assert rule.max_points == table.max_points and rule.max_seconds == 600
    limits.check_size("reduce:tsne", 50_000)  # scikit-learn's limit was 10,000
    with pytest.raises(limits.JobLimitError, match=r"A t-SNE map is limited to 50,000 points"):
        limits.check_size("reduce:tsne", 50_001)


def test_the_bench_maps_tsne_beside_umap_and_not_as_a_peer():
    assert bench_scaling.TSNE in bench_scaling.methods(include_gpu=False)
    assert bench_scaling.missing(bench_scaling.TSNE) is None
    row = {"n_points": 1_000, "featlib_s": 2.0, "featlib_knn_acc_2d": 0.80, "tsne_s": 9.0, "tsne_knn_acc_2d": 0.85}
    names = [bench_scaling.FEATLIB, bench_scaling.TSNE]
    assert bench_scaling.verdict([row], names) == []  # a slower, sharper t-SNE is no miss of featlib's UMAP
    table = bench_scaling.format_scaling([row], names)
    assert "tsne" in table and "9.00 s (0.850) [4.50×]" in table
    peers_text = bench_scaling.format_peers(
        {"peers": {"tsne": {"s": 9.0, "knn_acc_2d": 0.85}}, "peer_points": 1_000, "featlib_at_peer_size": None}
    )
    assert "featlib's t-SNE (openTSNE" in peers_text
