"""The map's backend (featlib.maps.gpu): choosing CPU or GPU, refusing a GPU that is missing, recording what made a map.

The tests of the GPU itself run only where RAPIDS cuML and a CUDA device are
there; elsewhere they skip, saying why. The choice, the refusal and the
metadata are tested everywhere.
"""

from __future__ import annotations

import numpy as np
import pytest

from featlib import pipeline
from featlib.jobs import specs, tasks
from featlib.maps import embed, gpu


def _points(n: int = 400, d: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    return (rng.normal(scale=4.0, size=(4, d))[labels] + rng.normal(size=(n, d))).astype("float32"), labels


# ----------------------------------------------------------------------------- everywhere


def test_the_setting_is_auto_cpu_or_gpu_and_anything_else_is_refused():
    assert gpu.requested({}) == "auto"
    assert gpu.requested({"FEATLIB_UMAP_BACKEND": " GPU "}) == "gpu"
    with pytest.raises(gpu.BackendError, match=r"FEATLIB_UMAP_BACKEND must be one of auto, cpu, gpu; got 'cuda'"):
        gpu.requested({"FEATLIB_UMAP_BACKEND": "cuda"})


@pytest.mark.parametrize(
    "setting, reducer, gpu_missing, chosen",
    [
        ("auto", "umap", None, "gpu"),
        ("auto", "umap", "cuML is not installed", "cpu"),
        ("auto", "tsne", None, "gpu"),
        ("auto", "pca", None, "cpu"),
        ("cpu", "umap", None, "cpu"),
        ("gpu", "umap", "no GPU", "gpu"),
        ("gpu", "pca", None, "cpu"),
    ],
)
def test_choose_picks_the_gpu_where_asked_or_found_and_pca_stays_on_the_cpu(setting, reducer, gpu_missing, chosen):
    assert gpu.choose(reducer, {"FEATLIB_UMAP_BACKEND": setting}, probe=lambda: gpu_missing) == chosen


def test_a_map_asked_of_a_missing_gpu_fails_saying_what_is_missing(monkeypatch):
    x, _ = _points()
    monkeypatch.setattr(gpu, "missing", lambda: "RAPIDS cuML is not installed (pip install -r requirements-gpu.txt)")
    with pytest.raises(
        gpu.BackendError,
        match=r"asked of the GPU backend, which cannot run here: RAPIDS cuML is not "
        r"installed .*FEATLIB_UMAP_BACKEND=auto or cpu",
    ):
        embed.umap_embed(x, embed.UMAPParams(), backend="gpu")
    with pytest.raises(gpu.BackendError, match="cannot run here"):
        embed.reduce(x, embed.TSNEParams(perplexity=5), backend="gpu")
    with pytest.raises(gpu.BackendError, match=r"Unknown backend: 'tpu'"):
        embed.umap_embed(x, embed.UMAPParams(), backend="tpu")
    assert isinstance(gpu.BackendError("x"), embed.ReducerError)  # the pages show it as a map that cannot be made


def test_without_cuml_auto_maps_on_the_cpu():
    if gpu.missing() is None:
        pytest.skip("cuML and a GPU are here: auto picks the GPU")
    assert gpu.choose("umap", {}) == "cpu"


def test_the_job_carries_the_backend_chosen_by_the_submitter(monkeypatch):
    monkeypatch.setenv("FEATLIB_UMAP_BACKEND", "cpu")
    assert specs.reduce_spec("emb/k", 100, embed.UMAPParams()).params["backend"] == "cpu"
    monkeypatch.setenv("FEATLIB_UMAP_BACKEND", "gpu")
    assert specs.reduce_spec("emb/k", 100, embed.UMAPParams()).params["backend"] == "gpu"
    assert specs.reduce_spec("emb/k", 100, embed.PCAParams()).params["backend"] == "cpu"
    seen = {}
    monkeypatch.setattr(embed, "reduce", lambda points, params, **kw: seen.update(kw) or points[:, :2])
    tasks.reduce(points=_points()[0], params=embed.UMAPParams(), backend="gpu")
    assert seen["backend"] == "gpu"


def test_a_stored_map_records_its_backend(monkeypatch, tmp_path):
    from featlib.store import Workspace

    workspace = Workspace(tmp_path / "ws")
    coords, indices = np.zeros((5, 2), "float32"), np.arange(5)
    key = pipeline.embedding_key("rep/m/d/train/dense/function/0-1", None, 0, embed.UMAPParams())
    monkeypatch.setenv("FEATLIB_UMAP_BACKEND", "cpu")
    pipeline.save_embedding(workspace, key, indices, coords, "rep/m/d/train/dense/function/0-1", None)
    assert pipeline.embedding_backend(workspace, key) == "cpu"
    item = workspace.get_item("embedding", key)
    assert item.provenance["backend"] == "cpu"
    monkeypatch.setenv("FEATLIB_UMAP_BACKEND", "gpu")
    tsne_key = pipeline.embedding_key("rep/m/d/train/dense/function/0-1", None, 0, embed.TSNEParams())
    pipeline.save_embedding(workspace, tsne_key, indices, coords, "rep/m/d/train/dense/function/0-1", None)
    assert pipeline.embedding_backend(workspace, tsne_key) == "gpu"
    pca_key = pipeline.embedding_key("rep/m/d/train/dense/function/0-1", None, 0, embed.PCAParams())
    pipeline.save_embedding(workspace, pca_key, indices, coords, "rep/m/d/train/dense/function/0-1", None)
    assert pipeline.embedding_backend(workspace, pca_key) == "cpu"  # PCA never runs on the GPU
    assert pipeline.embedding_backend(workspace, "emb/never/stored") == "cpu"


def test_backend_of_key_reads_the_reducer_from_the_key():
    env = {"FEATLIB_UMAP_BACKEND": "gpu"}
    assert gpu.backend_of_key("emb/rep/a/b/c/d/e/sample=None/seed=0/umap-n_neighbors=15-metric=cosine", env) == "gpu"
    assert gpu.backend_of_key("emb/rep/a/b/c/d/e/sample=None/seed=0/pca", env) == "cpu"


# ----------------------------------------------------------------------------- on a GPU only


@pytest.fixture(scope="module")
def cuda():
    pytest.importorskip(
        "cuml",
        reason="RAPIDS cuML is not installed (pip install -r requirements-gpu.txt, on a machine with a CUDA 12 GPU)",
    )
    reason = gpu.missing()
    if reason:
        pytest.skip(f"no GPU map here: {reason}")


def test_gpu_umap_keeps_the_result_contract(cuda):
    x, labels = _points(2_000)
    params = embed.UMAPParams(metric="cosine", random_state=7)
    first = embed.umap_embed(x, params, backend="gpu")
    again = embed.umap_embed(x, params, backend="gpu")
    assert first.shape == (2_000, 2) and first.dtype == np.float32 and np.isfinite(first).all()
    np.testing.assert_array_equal(first, again)  # the same seed, the same map
    from featlib import metrics

    assert metrics.knn_accuracy(first, labels) > 0.9  # four well-separated clusters stay apart


def test_gpu_tsne_and_a_large_map_keep_the_contract(cuda):
    x, _ = _points(300)
    coords = embed.reduce(x, embed.TSNEParams(perplexity=10), backend="gpu")
    assert coords.shape == (300, 2) and coords.dtype == np.float32
    big, _ = _points(12_000)  # above SMALL_MAP_POINTS: featlib's PCA start becomes cuML's spectral one
    coords = embed.umap_embed(big, embed.UMAPParams(), backend="gpu")
    assert coords.shape == (12_000, 2) and coords.dtype == np.float32
