"""Tests for featlib.service and featlib.keys: one get-or-make path, whoever runs the jobs.

Real runners (in this process) on real workspaces in ``tmp_path``: the CLI's and the library's give the
same keys, and a result stored by one is loaded by the other without running a job.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pytest

from featlib import keys, models
from featlib.cli.runner import Runner as CliRunner
from featlib.jobs.runner import InlineRunner
from featlib.maps import embed
from featlib.maps.embed import UMAPParams, stratified_sample
from featlib.read import extract, layers
from featlib.service import ModelRef, Service
from featlib.store import Workspace

PARAMS = UMAPParams(n_epochs=50)  # same configuration as test_embed: Numba compiles once
SAMPLE = 300
FEATLIB = Path(__file__).resolve().parents[1] / "featlib"


@pytest.fixture(scope="module")
def model_fp(model):
    return models.fingerprint(model)


@pytest.fixture
def saved(tmp_path, model, digits):
    """A workspace holding the trained model, and its record."""
    ws = Workspace(tmp_path / "ws")
    record = models.save_model(ws, model, "mlp", dataset="digits", meta={"dataset_fingerprint": digits.fingerprint})
    return ws, record


# ----------------------------------------------------------------------------- keys


def test_known_keys_are_those_stored_workspaces_hold():
    rep = keys.representation_key("mfp", "dfp", "train", "dense_1", "function", "0-1")
    assert rep == "rep/mfp/dfp/train/dense_1/function/0-1"
    assert (
        keys.representation_key("mfp", "dfp", "test", "conv", "submodel", "0-255", "gap")
        == "rep/mfp/dfp/test/conv/submodel/0-255/reduction=gap"
    )
    assert (
        keys.embedding_key(rep, 10_000, 0, embed.PCAParams())
        == "emb/rep/mfp/dfp/train/dense_1/function/0-1/sample=10000/seed=0/pca"
    )
    assert keys.embedding_key(rep, None, 0, UMAPParams()) == (
        "emb/rep/mfp/dfp/train/dense_1/function/0-1/sample=None/seed=0/"
        "umap-n_neighbors=15-min_dist=0.1-metric=auto:trial-maps-random_state=42-n_epochs=None-pca_dims=50"
    )
    assert (
        keys.graph_key(rep, 500, 0, UMAPParams())
        == "rep/mfp/dfp/train/dense_1/function/0-1/sample=500/seed=0/15/auto/50"
    )
    assert keys.graph_key(rep, 500, 0, embed.PCAParams()) == ""
    assert keys.layer_set_key("mfp", "dfp", "train", "0-1", 2000, 0) == "layers/mfp/dfp/train/0-1/sample=2000/seed=0"
    assert (
        keys.layer_set_key("mfp", "dfp", "train", "0-1", None, 0, "gmp")
        == "layers/mfp/dfp/train/0-1/sample=None/seed=0/reduction=gmp"
    )
    assert keys.layer_set_job_key("mfp", "dfp", "train", "0-1", 2000) == "layerset/mfp/dfp/train/0-1/2000"
    assert (
        keys.layer_set_job_key("mfp", "dfp", "test", "0-1", None, "gap")
        == "layerset/mfp/dfp/test/0-1/None/reduction=gap"
    )
    assert keys.predict_key("mfp", "dfp", "test", "0-1") == "predict/mfp/dfp/test/0-1"
    assert keys.predict_key("mfp", "dfp", "test", "0-1", "head") == "predict/mfp/dfp/test/0-1/output=head"
    assert keys.metrics_key("emb/x", 5000) == "metrics/emb/x/5000"
    assert keys.cka_key(keys.cka_subject("layers/a", other="layers/b")) == "cka/layers/a/layers/b"
    assert keys.points_key(rep, 500) == f"points/{rep}/500"
    assert keys.model_input_key("mfp") == "model/mfp" and keys.dataset_input_key("dfp") == "dataset/dfp"
    assert keys.extractor_key("mfp", "dense_1", "function") == "mfp/dense_1/function/flatten"


def test_every_key_function_has_a_docstring_and_a_caller():
    functions = [
        name
        for name, value in inspect.getmembers(keys, inspect.isfunction)
        if value.__module__ == keys.__name__ and not name.startswith("_")
    ]
    assert "representation_key" in functions and "embedding_key" in functions
    sources = "\n".join(path.read_text() for path in FEATLIB.rglob("*.py") if path.name != "keys.py")
    unused = [name for name in functions if not re.search(rf"\bkeys\.{name}\(", sources)]
    assert not unused, f"key functions no part of featlib calls: {unused}"
    assert all(inspect.getdoc(getattr(keys, name)) for name in functions)


def test_no_key_is_spelled_outside_keys_py():
    """The key prefixes are written in featlib/keys.py only."""
    spelled = re.compile(
        r"""f["'](rep|emb|layers|layerset|metrics|cka|predict|check|neighbours|points|model|dataset)/\{"""
    )
    found = [
        f"{path.relative_to(FEATLIB)}:{n}"
        for path in FEATLIB.rglob("*.py")
        if path.name != "keys.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if spelled.search(line)
    ]
    assert not found, found


# ----------------------------------------------------------------------------- one path, any runner


def test_the_cli_runner_and_the_library_share_keys_and_stored_results(saved, digits):
    ws, record = saved
    cli = CliRunner(ws, "inline")
    library = InlineRunner()
    outputs, key = Service(ws, cli).representation(record, digits, "train", "dense_1", "function")
    again, key2 = Service(Workspace(ws.root), library).representation(record, digits, "train", "dense_1", "function")
    assert (
        key2
        == key
        == keys.representation_key(record.fingerprint, digits.fingerprint, "train", "dense_1", "function", "0-1")
    )
    assert np.array_equal(again, outputs) and library.ran == []
    emb = Service(ws, library).embedding(
        outputs, key, digits.y_train, sample_size=SAMPLE, params=embed.PCAParams(), model_id=record.id
    )
    assert library.ran == [emb.key]
    from_cli = Service(ws, cli).embedding(
        np.full_like(outputs, np.nan), key, digits.y_train, sample_size=SAMPLE, params=embed.PCAParams()
    )  # a job would fail on NaN
    assert from_cli.key == emb.key and np.array_equal(from_cli.coords, emb.coords)
    assert ws.usage()["representations"] == 1 and ws.usage()["embeddings"] == 1
    assert ws.jobs.list() == []  # in this process: nothing recorded, nothing run the second time


def test_representation_computes_then_serves_from_cache(tmp_path, model, model_fp, digits, x_digits):
    ws = Workspace(tmp_path / "ws")
    calls = []
    runner = InlineRunner(lambda stage, done, total, **extra: calls.append((done, total)))
    out, key = Service(ws, runner).representation(
        ModelRef.of_model(model, model_fp, model_id="m1"), digits, "train", "dense_1", "function"
    )
    assert key == keys.representation_key(model_fp, digits.fingerprint, "train", "dense_1", "function", "0-1")
    assert out.shape == (1437, 64) and out.dtype == np.float32
    np.testing.assert_allclose(out, extract.extract(model, "dense_1", x_digits, method="submodel"), atol=1e-5)
    assert calls[-1] == (1437, 1437)
    assert ws.usage()["representations"] == 1
    arrays = list((ws.root / "arrays" / "representation").glob("*.npy"))
    assert len(arrays) == 1

    # Second call, from a fresh Workspace object on the same folder: a cache hit runs no job.
    ws2 = Workspace(ws.root)
    calls.clear()
    again = InlineRunner(lambda stage, done, total, **extra: calls.append((done, total)))
    cached, key2 = Service(ws2, again).representation(
        ModelRef.of_model(model, model_fp), digits, "train", "dense_1", "function"
    )
    assert key2 == key
    assert cached.shape == (1437, 64) and cached.dtype == np.float32
    assert np.array_equal(cached, out)
    assert calls == [] and again.ran == []
    assert ws2.usage()["representations"] == 1
    assert list((ws.root / "arrays" / "representation").glob("*.npy")) == arrays


def test_representation_split_method_and_scale_are_separate_entries(tmp_path, model, model_fp, digits):
    ws = Workspace(tmp_path / "ws")
    service, ref = Service(ws, InlineRunner()), ModelRef.of_model(model, model_fp)
    test_out, k1 = service.representation(ref, digits, "test", "dense_1", "submodel")
    assert test_out.shape == (360, 64)
    _, k2 = service.representation(ref, digits, "test", "dense_1", "function")
    raw, k3 = service.representation(ref, digits, "test", "dense_1", "submodel", input_scale="0-255")
    assert len({k1, k2, k3}) == 3
    assert ws.usage()["representations"] == 3
    x_raw = models.adapt_images(digits.x_test, model, "0-255")
    np.testing.assert_allclose(raw, extract.extract(model, "dense_1", x_raw), rtol=1e-5, atol=1e-4)
    assert not np.allclose(raw, test_out)


def test_embedding_computes_then_serves_from_cache(tmp_path, model, model_fp, digits):
    ws = Workspace(tmp_path / "ws")
    stages = []
    service = Service(ws, InlineRunner(lambda stage, done, total, **extra: stages.append(stage)))
    outputs, rep_key = service.representation(
        ModelRef.of_model(model, model_fp), digits, "train", "dense_1", "function"
    )
    labels = digits.y_train
    stages.clear()
    emb = service.embedding(outputs, rep_key, labels, sample_size=SAMPLE, sample_seed=3, params=PARAMS)
    assert emb.key == keys.embedding_key(rep_key, SAMPLE, 3, PARAMS)
    assert np.array_equal(emb.indices, stratified_sample(labels, SAMPLE, seed=3))
    assert emb.coords.shape == (SAMPLE, 2) and emb.coords.dtype == np.float32
    assert stages[0] == "neighbours" and stages[-1] == "layout"
    assert ws.usage()["embeddings"] == 1

    # Cache hit: outputs full of NaN would make UMAP raise if it ran again.
    poisoned = np.full_like(outputs, np.nan)
    stages.clear()
    again = Service(Workspace(ws.root), service.runner).embedding(
        poisoned, rep_key, labels, sample_size=SAMPLE, sample_seed=3, params=PARAMS
    )
    assert again.key == emb.key
    assert np.issubdtype(again.indices.dtype, np.integer)
    assert np.array_equal(again.indices, emb.indices)
    assert again.coords.dtype == np.float32 and np.array_equal(again.coords, emb.coords)
    assert stages == []
    assert ws.usage()["embeddings"] == 1

    # A different sample seed is a different entry, and is really computed.
    with pytest.raises(ValueError, match="NaN"):
        service.embedding(poisoned, rep_key, labels, sample_size=SAMPLE, sample_seed=4, params=PARAMS)


def test_a_layer_set_its_scores_and_cka_through_the_service(saved, digits):
    ws, record = saved
    service = Service(ws, InlineRunner())
    ls = service.layer_set(record, digits, "test", sample_size=200)
    assert ls.key == keys.layer_set_key(record.fingerprint, digits.fingerprint, "test", "0-1", 200, 0)
    assert ls.names[0] == layers.INPUT and len(ls.indices) == 200
    assert service.runner.ran == [keys.layer_set_job_key(record.fingerprint, digits.fingerprint, "test", "0-1", 200)]
    rows = service.layer_scores(ls, names=["dense_1"])
    assert [row["layer"] for row in rows] == ["dense_1"] and rows[0]["units"] == 64 and rows[0]["knn_acc"] > 0.5
    matrix = service.cka(ls, names=ls.names[1:])
    assert matrix.shape == (len(ls.names) - 1,) * 2 and np.allclose(np.diag(matrix), 1.0)
    predicted, confidence = service.predictions(record, digits, "test")
    assert predicted.shape == confidence.shape == (360,) and np.mean(predicted == digits.y_test) > 0.85
