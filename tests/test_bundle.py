"""Tests for featlib.share.bundle: a view's ZIP exported from one workspace, imported into another.

Real Keras models, real zips, real SQLite. The map is a real table stored under
the view's key (a PCA of the real layer outputs: the bundle does not care how
the map was computed, and UMAP's first fit in a process takes a minute).
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from featlib import models
from featlib.datasets import from_arrays
from featlib.jobs.runner import InlineRunner
from featlib.maps import embed
from featlib.service import ModelRef, Service
from featlib.share import bundle
from featlib.share.bundle import BundleError
from featlib.share.views import View
from featlib.store import Workspace


def _view_in(ws: Workspace, model, dataset, dataset_key: str, creator: str = "alice") -> View:
    record = models.save_model(
        ws,
        model,
        "shared-mlp",
        dataset=dataset.name,
        test_accuracy=0.9,
        creator=creator,
        meta={"dataset_fingerprint": dataset.fingerprint},
    )
    view = View(record.id, dataset_key, "dense_1", "function", "train", None, embed.UMAPParams())
    outputs, rep_key = Service(ws, InlineRunner()).representation(
        ModelRef.of_record(ws, record, model), dataset, "train", "dense_1", "function"
    )
    _, emb_key = bundle.view_keys(record, dataset, view)
    assert emb_key.startswith(f"emb/{rep_key}/")
    indices = embed.stratified_sample(dataset.y_train, None)
    coords = embed.pca_embed(outputs[indices])
    table = np.column_stack([indices.astype("float64"), coords.astype("float64")])
    ws.save_array("embedding", emb_key, table, model_id=record.id, creator=creator, meta={"knn_accuracy": 0.5})
    return view


@pytest.fixture(scope="module")
def exported(tmp_path_factory, model, digits):
    ws = Workspace(tmp_path_factory.mktemp("exporter") / "ws")
    view = _view_in(ws, model, digits, "digits")
    data = bundle.export_bundle(ws, view, exported_by="alice")
    return ws, view, data


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _with(manifest: dict, **model_fields) -> dict:
    return {**manifest, "model": {**manifest["model"], **model_fields}}


def _snapshot(ws: Workspace) -> tuple:
    return (
        [(i.kind, i.id) for i in ws.items()],
        sorted(p.name for p in ws.root.rglob("*") if p.is_file() and "index" not in p.name),
    )


def test_export_holds_model_map_figure_readme_and_provenance(exported):
    ws, view, data = exported
    members = _members(data)
    assert set(members) == {
        "manifest.json",
        "README.md",
        "model.keras",
        "embedding.npy",
        "embedding.csv",
        "figure.html",
    }
    manifest = json.loads(members["manifest.json"])
    record = ws.get_model(view.model)
    assert manifest["view"] == view.to_query() and manifest["model"]["creator"] == "alice"
    assert manifest["provenance"]["model_fingerprint"] == record.fingerprint
    assert manifest["provenance"]["versions"]["keras"] == __import__("keras").__version__
    assert manifest["embedding"]["points"] == 1437 and manifest["embedding"]["knn_accuracy"] == 0.5
    assert b"plotly" in members["figure.html"] and len(members["figure.html"]) > 1_000_000  # plotly.js inlined
    assert members["embedding.csv"].splitlines()[0] == b"index,label,label_name,predicted,x,y"
    assert b"shared-mlp" in members["README.md"] and b"python -m featlib import" in members["README.md"]


def test_import_into_an_empty_workspace_gives_the_same_view(exported, tmp_path, digits):
    ws, view, data = exported
    target = Workspace(tmp_path / "empty")
    result = bundle.import_bundle(target, data, creator="bob")
    assert result.view.model == result.model.id != view.model  # a new id in the new workspace
    assert result.view.to_query() | {"model": view.model} == view.to_query()
    assert result.model.fingerprint == ws.get_model(view.model).fingerprint
    # the importer is recorded as the one who added it; the bundle's maker is kept as a claim
    assert result.model.creator == "bob" and result.model.meta["imported"]["claimed_by"] == "alice"
    _, key = bundle.view_keys(result.model, digits, result.view)
    assert np.array_equal(
        target.load_array("embedding", key),
        ws.load_array("embedding", bundle.view_keys(ws.get_model(view.model), digits, view)[1]),
    )
    assert result.differences == []
    # the imported view exports again, byte-identical map
    again = _members(bundle.export_bundle(target, result.view))
    assert again["embedding.npy"] == _members(data)["embedding.npy"]


def test_an_uploaded_dataset_travels_in_the_bundle(tmp_path, model):
    rng = np.random.default_rng(0)
    dataset = from_arrays(rng.integers(0, 256, (200, 8, 8), dtype=np.uint8), np.arange(200) % 10, "upload:blobs")
    source = Workspace(tmp_path / "a")
    fp = source.save_dataset(dataset)
    view = _view_in(source, model, dataset, "upload:" + fp)
    data = bundle.export_bundle(source, view)
    assert "dataset.npz" in _members(data)
    target = Workspace(tmp_path / "b")
    result = bundle.import_bundle(target, data)
    assert result.dataset_key == "upload:" + fp and target.load_dataset(fp).fingerprint == fp


@pytest.mark.parametrize(
    "tamper, message",
    [
        (lambda m: {**m, "../evil.py": b"import os"}, r"unexpected members \['../evil.py'\]"),
        (lambda m: {**m, "/etc/passwd": b"x"}, "unexpected members"),
        (lambda m: {k: v for k, v in m.items() if k != "manifest.json"}, "no manifest.json"),
        (lambda m: {**m, "embedding.csv": m["embedding.csv"] + b"1,2,3\n"}, "declared as .* bytes in the manifest"),
        (lambda m: {**m, "embedding.csv": m["embedding.csv"][:-3] + b"999"}, "SHA-256 does not match"),
        (lambda m: {**m, "manifest.json": b"{not json"}, "not readable JSON"),
        (
            lambda m: {**m, "manifest.json": json.dumps({**json.loads(m["manifest.json"]), "version": 99}).encode()},
            "version 99",
        ),
        (
            lambda m: {
                **m,
                "manifest.json": json.dumps(_with(json.loads(m["manifest.json"]), test_accuracy="high")).encode(),
            },
            "field 'model.test_accuracy': expected a valid number; received 'high'",
        ),
    ],
    ids=["traversal", "absolute", "no-manifest", "lying-size", "altered", "bad-json", "version", "bad-record"],
)
def test_a_tampered_bundle_is_refused_and_nothing_is_stored(exported, tmp_path, tamper, message):
    _, _, data = exported
    target = Workspace(tmp_path / "t")
    before = _snapshot(target)
    with pytest.raises(BundleError, match=message):
        bundle.import_bundle(target, _zip(tamper(_members(data))))
    assert _snapshot(target) == before


def _rehash(members: dict[str, bytes], **replace: bytes) -> dict[str, bytes]:
    """Members with some replaced and the manifest's sizes and hashes updated to match (a careful forger)."""
    from featlib.provenance import bytes_sha256

    members = {**members, **{k.replace("_", "."): v for k, v in replace.items()}}
    manifest = json.loads(members["manifest.json"])
    for name, content in members.items():
        if name != "manifest.json":
            manifest["files"][name] = {"bytes": len(content), "sha256": bytes_sha256(content)}
    members["manifest.json"] = json.dumps(manifest).encode()
    return members


def test_a_model_swapped_for_another_fails_its_fingerprint(exported, tmp_path):
    _, _, data = exported
    other = tmp_path / "other.keras"
    models.build_mlp((64,), seed=5).save(other)
    target = Workspace(tmp_path / "t")
    with pytest.raises(BundleError, match="model's fingerprint is .* the manifest says"):
        bundle.import_bundle(target, _zip(_rehash(_members(data), model_keras=other.read_bytes())))
    assert target.items() == []


def test_a_lambda_model_in_a_bundle_is_refused(exported, tmp_path):
    import keras

    _, _, data = exported
    inputs = keras.Input((64,))
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs)).save(path)
    target = Workspace(tmp_path / "t")
    with pytest.raises(BundleError, match="model cannot be used: .*Lambda"):
        bundle.import_bundle(target, _zip(_rehash(_members(data), model_keras=path.read_bytes())))
    assert target.items() == []


def test_a_map_that_does_not_fit_the_data_is_refused(exported, tmp_path):
    _, _, data = exported
    table = np.load(io.BytesIO(_members(data)["embedding.npy"]))
    table[0, 0] = 5000  # digits' train split has 1,437 images
    buffer = io.BytesIO()
    np.save(buffer, table)
    target = Workspace(tmp_path / "t")
    with pytest.raises(BundleError, match="indices must be distinct whole numbers from 0 to 1436"):
        bundle.import_bundle(target, _zip(_rehash(_members(data), embedding_npy=buffer.getvalue())))
    assert target.items() == []


def test_a_zip_bomb_and_non_zips_are_refused(tmp_path):
    target = Workspace(tmp_path / "t")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", b"{}")
        archive.writestr("figure.html", b"\0" * (60 * 1024 * 1024))
    with pytest.raises(BundleError, match="zip bomb"):
        bundle.import_bundle(target, buffer.getvalue())
    with pytest.raises(BundleError, match="not a zip archive"):
        bundle.import_bundle(target, b"hello")
    with pytest.raises(BundleError, match="empty"):
        bundle.import_bundle(target, b"")
    assert target.items() == []


def test_export_without_a_map_says_what_to_do(tmp_path, model):
    ws = Workspace(tmp_path / "ws")
    record = models.save_model(ws, model, "m", dataset="digits")
    with pytest.raises(BundleError, match="its map is not in the workspace.*Explore page"):
        bundle.export_bundle(ws, View(record.id, "digits", "dense_1"))
