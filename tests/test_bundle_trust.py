"""Bundles are untrusted: an import never overwrites, every manifest value is checked, figures are measured.

Issue 11, kind 2. Real Keras models, real zips and a real SQLite workspace, as in
``test_bundle.py``: a map stored by alice is exported; a forger edits the bundle
(forged points, a 10-NN accuracy of 1.0, a text where a number belongs) and
imports it into alice's workspace or into another.
"""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from featlib import cli, metrics, models
from featlib.jobs.runner import InlineRunner
from featlib.maps import embed
from featlib.provenance import bytes_sha256
from featlib.service import ModelRef, Service
from featlib.share import bundle
from featlib.share.bundle import AlreadyImportedError, BundleError
from featlib.share.views import View
from featlib.store import AlreadyStoredError, Workspace


def _view_in(ws: Workspace, model, dataset, creator: str = "alice") -> View:
    """alice's model and its map of dense_1 (a PCA of the real outputs) with a 10-NN accuracy of 0.5."""
    record = models.save_model(
        ws,
        model,
        "shared-mlp",
        dataset=dataset.name,
        test_accuracy=0.9,
        creator=creator,
        meta={"dataset_fingerprint": dataset.fingerprint},
    )
    view = View(record.id, "digits", "dense_1", "function", "train", None, embed.UMAPParams())
    outputs, _ = Service(ws, InlineRunner()).representation(
        ModelRef.of_record(ws, record, model), dataset, "train", "dense_1", "function"
    )
    _, emb_key = bundle.view_keys(record, dataset, view)
    indices = embed.stratified_sample(dataset.y_train, None)
    table = np.column_stack([indices.astype("float64"), embed.pca_embed(outputs[indices]).astype("float64")])
    ws.save_array("embedding", emb_key, table, model_id=record.id, creator=creator, meta={"knn_accuracy": 0.5})
    return view


@pytest.fixture(scope="module")
def exported(tmp_path_factory, model, digits):
    """alice's workspace, her view, and its bundle."""
    ws = Workspace(tmp_path_factory.mktemp("alice") / "ws")
    view = _view_in(ws, model, digits)
    return ws, view, bundle.export_bundle(ws, view, exported_by="alice")


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _bundle(
    members: dict[str, bytes], manifest: dict | None = None, compression: int = zipfile.ZIP_DEFLATED, **replaced: bytes
) -> bytes:
    """A zip of ``members`` with some replaced and the manifest (edited or not) listing their true sizes and hashes."""
    members = {**members, **{k.replace("_", "."): v for k, v in replaced.items()}}
    manifest = json.loads(members["manifest.json"]) if manifest is None else manifest
    if replaced:
        for name, content in members.items():
            if name != "manifest.json":
                manifest["files"][name] = {"bytes": len(content), "sha256": bytes_sha256(content)}
    members["manifest.json"] = json.dumps(manifest).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _npy(table: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, table)
    return buffer.getvalue()


def _forged(data: bytes) -> tuple[bytes, np.ndarray]:
    """The bundle with every point moved onto its class's corner and a stated 10-NN accuracy of 1.0."""
    members = _members(data)
    manifest = json.loads(members["manifest.json"])
    manifest["embedding"]["knn_accuracy"] = 1.0
    manifest["model"]["test_accuracy"] = 1.0
    table = np.load(io.BytesIO(members["embedding.npy"]))
    table[:, 1:] = np.random.default_rng(0).normal(size=(len(table), 2))  # noise: far from the real map
    return _bundle(members, manifest, embedding_npy=_npy(table)), table


def _snapshot(ws: Workspace) -> tuple:
    files = sorted(str(p.relative_to(ws.root)) for p in ws.root.rglob("*") if p.is_file() and "index" not in p.name)
    return [(i.kind, i.id, i.creator, i.knn_accuracy, i.test_accuracy) for i in ws.items()], files


# Never overwrite ----------------------------------------------------------------------


def test_a_bundle_cannot_overwrite_another_users_map(exported, model, digits, tmp_path):
    source, view, data = exported
    ws = Workspace(tmp_path / "shared")
    view = _view_in(ws, model, digits)  # alice's map in the shared workspace, under the key the bundle names
    record = ws.get_model(view.model)
    _, key = bundle.view_keys(record, digits, view)
    original = ws.load_array("embedding", key)
    before = _snapshot(ws)
    forged, _ = _forged(data)
    with pytest.raises(
        BundleError,
        match=r"would replace another map stored under the same key: the map "
        r"'UMAP map · shared-mlp · dense_1 · function' of model 'shared-mlp' \(alice, .*key 'emb/rep/",
    ):
        bundle.import_bundle(ws, forged, creator="mallory")
    assert np.array_equal(ws.load_array("embedding", key), original)
    item = ws.get_item("embedding", key)
    assert (item.creator, item.knn_accuracy, item.imported) == ("alice", 0.5, False)
    assert _snapshot(ws) == before  # no model, dataset or file added either


def test_the_store_itself_refuses_to_overwrite_under_its_lock(workspace):
    key = "emb/rep/x/y/train/dense/function/0-1/sample=None/seed=0/pca-n_components=2"
    workspace.save_array("embedding", key, np.zeros((3, 3)), creator="alice", meta={"knn_accuracy": 0.5})
    with pytest.raises(AlreadyStoredError, match=r"already holds a embedding under the key 'emb/rep/x.*made by alice"):
        workspace.save_array("embedding", key, np.ones((3, 3)), creator="mallory", overwrite=False)
    assert np.array_equal(workspace.load_array("embedding", key), np.zeros((3, 3)))
    assert workspace.get_item("embedding", key).creator == "alice"
    assert not list(workspace.root.rglob(".tmp-*"))


def test_a_map_stored_by_another_session_during_an_import_is_kept_and_the_import_undone(
    exported, tmp_path, monkeypatch
):
    """The race: the key is free when looked up, then another session stores a map under it before this one."""
    _, _, data = exported
    ws = Workspace(tmp_path / "t")
    checked = bundle.check_bundle(data)
    theirs = np.zeros((3, 3))

    def meanwhile(workspace, checked):
        workspace.save_array("embedding", checked.emb_key, theirs, creator="carol")

    monkeypatch.setattr(bundle, "_refuse_existing", meanwhile)
    with pytest.raises(
        BundleError,
        match=r"map cannot be stored: The workspace already holds a embedding under the key "
        r"'emb/rep/.*made by carol.*not overwritten.*Nothing was imported",
    ):
        bundle.store_bundle(ws, checked, creator="bob")
    assert [(i.kind, i.creator) for i in ws.items()] == [("embedding", "carol")]  # the model stored first is gone
    assert np.array_equal(ws.load_array("embedding", checked.emb_key), theirs)


def test_a_dataset_upload_is_never_replaced_by_the_same_data_under_another_name(workspace):
    from featlib.datasets import from_arrays

    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (40, 8, 8), dtype=np.uint8), np.arange(40) % 10
    fp = workspace.save_dataset(from_arrays(images, labels, "alice-data"), creator="alice")
    path = workspace.root / f"datasets/{fp}.npz"
    stat = path.stat()
    assert workspace.add_dataset(from_arrays(images, labels, "mallory-data"), creator="mallory") is False
    [row] = workspace.list_datasets()
    assert (row["name"], row["creator"]) == ("alice-data", "alice")
    assert (path.stat().st_ino, path.stat().st_mtime_ns) == (stat.st_ino, stat.st_mtime_ns)  # the file untouched


def test_the_same_bundle_twice_is_already_there_and_stores_nothing(exported, tmp_path):
    _, _, data = exported
    ws = Workspace(tmp_path / "t")
    bundle.import_bundle(ws, data, creator="bob")
    before = _snapshot(ws)
    with pytest.raises(
        AlreadyImportedError,
        match=r"already in the workspace: the map .* of model 'shared-mlp' "
        r"\(imported by bob; bundle says made by alice.*Nothing was stored",
    ):
        bundle.import_bundle(ws, data, creator="carol")
    assert _snapshot(ws) == before


def test_cli_import_twice_says_already_there(exported, tmp_path, capsys):
    _, _, data = exported
    path = tmp_path / "view.zip"
    path.write_bytes(data)
    root = str(tmp_path / "ws")
    assert cli.main(["--workspace", root, "import", str(path), "--by", "bob"]) == 0
    assert "Measured here, not copied from the bundle: the model's test accuracy" in capsys.readouterr().out
    assert cli.main(["--workspace", root, "import", str(path), "--by", "bob"]) == 0
    assert "already there: This bundle's map is already in the workspace" in capsys.readouterr().out


# Every value checked --------------------------------------------------------------------


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("knn_accuracy", "1.0", r"field 'embedding.knn_accuracy': expected a valid number; received '1.0' \(str\)"),
        ("knn_accuracy", 7, r"field 'embedding.knn_accuracy': expected less than or equal to 1; received 7 \(int\)"),
        ("knn_accuracy", float("nan"), r"field 'embedding.knn_accuracy': expected a finite number; received nan"),
        ("points", "1437", r"field 'embedding.points': expected a valid integer; received '1437' \(str\)"),
        ("creator", "\x1b[2Jmallory", r"field 'embedding.creator': A user name must hold printable characters only"),
        (
            "creator",
            "m" * 10_000,
            r"field 'embedding.creator': A user name can have at most 120 characters; got 10,000",
        ),
    ],
)
def test_a_manifest_value_of_the_wrong_type_range_or_length_is_refused_naming_the_field(
    exported, tmp_path, field, value, expected
):
    _, _, data = exported
    members = _members(data)
    manifest = json.loads(members["manifest.json"])
    manifest["embedding"][field] = value
    ws = Workspace(tmp_path / "t")
    before = _snapshot(ws)
    with pytest.raises(BundleError, match="manifest.json breaks the bundle format: " + expected):
        bundle.import_bundle(ws, _bundle(members, manifest))
    assert _snapshot(ws) == before


def test_a_stored_text_knn_accuracy_breaks_neither_the_listing_nor_ls(exported, tmp_path, capsys):
    """Records written before the schema (a text accuracy, meta that is not JSON) read as unknown figures."""
    from featlib.app import catalog

    _, _, data = exported
    ws = Workspace(tmp_path / "old")
    result = bundle.import_bundle(ws, data, creator="bob")
    with sqlite3.connect(ws.index_path) as db:
        db.execute(
            "UPDATE artifacts SET meta = ? WHERE kind = 'embedding'",
            (json.dumps({"knn_accuracy": "1.0", "provenance": "forged", "imported": {"claimed_by": 5}}),),
        )
        db.execute(
            "INSERT INTO artifacts (key, kind, model_id, path, bytes, created, meta) "
            "VALUES ('emb/odd', 'embedding', NULL, 'arrays/x.npy', 0, '2026-01-01T00:00:00+00:00', '{not json')"
        )
        db.execute("UPDATE models SET test_accuracy = 'high', meta = '[1, 2]' WHERE id = ?", (result.model.id,))
    items = ws.items()
    assert {i.knn_accuracy for i in items} == {None} and {i.test_accuracy for i in items} == {None}
    assert all(catalog.summary_line(i) for i in items)
    for key, reverse in catalog.SORTS.values():
        sorted(items, key=key, reverse=reverse)
    assert cli.main(["--workspace", str(ws.root), "ls"]) == 0
    assert cli.main(["--workspace", str(ws.root), "ls", "--json"]) == 0
    assert "emb/odd" in capsys.readouterr().out


def test_the_workspace_page_lists_bad_records_and_shows_claims(exported, tmp_path, monkeypatch):
    from app_testing import APP, page_path
    from streamlit.testing.v1 import AppTest

    _, _, data = exported
    root = tmp_path / "page"
    ws = Workspace(root)
    bundle.import_bundle(ws, data, creator="bob")
    with sqlite3.connect(ws.index_path) as db:
        db.execute("UPDATE artifacts SET meta = json_set(meta, '$.knn_accuracy', 'high') WHERE kind = 'embedding'")
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(root))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(page_path("workspace")).run()
    assert not at.exception, [e.value for e in at.exception]
    text = "\n".join(m.value for m in at.markdown)
    assert "**shared\\-mlp** · Model · imported by **bob**; bundle says made by alice" in text
    assert "Map · imported by **bob**; bundle says made by alice" in text


# Figures measured, makers recorded -----------------------------------------------------


def test_forged_figures_are_replaced_by_the_ones_measured(exported, model, digits, tmp_path):
    _, _, data = exported
    forged, table = _forged(data)
    ws = Workspace(tmp_path / "t")
    result = bundle.import_bundle(ws, forged, creator="bob")
    labels = digits.y_train[table[:, 0].astype(int)]
    knn = metrics.knn_accuracy(table[:, 1:], labels)
    item = ws.get_item("embedding", bundle.view_keys(result.model, digits, result.view)[1])
    assert item.knn_accuracy == pytest.approx(knn) and knn < 0.3  # noise scores near chance, not 1.0
    accuracy = models.evaluate_accuracy(model, models.adapt_images(digits.x_test, model), digits.y_test)
    assert result.model.test_accuracy == pytest.approx(accuracy) != 1.0
    assert result.model.meta["split"] == "test" and result.model.meta["n_images"] == 360
    assert result.model.meta["imported"]["claimed"]["test_accuracy"] == 1.0
    stored_meta = json.loads(
        sqlite3.connect(ws.index_path).execute("SELECT meta FROM artifacts WHERE kind = 'embedding'").fetchone()[0]
    )
    assert stored_meta["imported"]["claimed"] == {"knn_accuracy": 1.0} and stored_meta["knn_accuracy_points"] == 1437
    text = bundle.measured_text(result)
    assert f"the model's test accuracy {accuracy:.3f} (digits, test split, 360 images; the bundle said 1.000)" in text
    assert f"the map's 10-NN accuracy {knn:.3f} (1,437 points; the bundle said 1.000)" in text


def test_the_importer_is_recorded_and_the_bundles_maker_kept_as_a_claim(exported, digits, tmp_path, capsys):
    _, _, data = exported
    ws = Workspace(tmp_path / "t")
    result = bundle.import_bundle(ws, data, creator="bob")
    model_item = ws.get_item("model", result.model.id)
    map_item = ws.get_item("embedding", bundle.view_keys(result.model, digits, result.view)[1])
    for item in (model_item, map_item):
        assert (item.creator, item.claimed_by) == ("bob", "alice")
        assert item.maker == "imported by bob; bundle says made by alice"
    assert result.model.meta["imported"]["by"] == "bob" and result.model.meta["imported"]["exported_by"] == "alice"
    assert "checkpoint_of" not in result.model.meta  # another workspace's ids mean nothing here
    assert cli.main(["--workspace", str(ws.root), "ls"]) == 0
    out = capsys.readouterr().out
    assert out.count("(imported by bob; bundle says made by alice)") == 2


def test_a_claimed_training_dataset_does_not_pin_a_local_upload(exported, tmp_path):
    """A bundle naming another user's upload as its model's training data cannot make that upload undeletable."""
    from featlib.datasets import from_arrays

    _, _, data = exported
    ws = Workspace(tmp_path / "t")
    rng = np.random.default_rng(0)
    fp = ws.save_dataset(
        from_arrays(rng.integers(0, 256, (40, 8, 8), dtype=np.uint8), np.arange(40) % 10, "alice-data"), creator="alice"
    )
    members = _members(data)
    manifest = json.loads(members["manifest.json"])
    manifest["model"]["meta"]["dataset_fingerprint"] = fp
    result = bundle.import_bundle(ws, _bundle(members, manifest), creator="mallory")
    assert result.model.meta["dataset_fingerprint"] != fp and ws.users_of_dataset(fp) == []


def test_a_bundled_model_declaring_a_huge_layer_is_refused_before_keras(exported, tmp_path, monkeypatch):
    """Models inside bundles go through the same size budget as uploads (featlib.models.budget)."""
    import keras

    _, _, data = exported
    members = _members(data)
    with zipfile.ZipFile(io.BytesIO(members["model.keras"])) as archive:
        config = json.loads(archive.read("config.json"))
        next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Dense")["config"]["units"] = 10**9
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as out:
            for info in archive.infolist():
                out.writestr(info, json.dumps(config) if info.filename == "config.json" else archive.read(info))
    monkeypatch.setattr(keras.saving, "load_model", lambda *a, **k: pytest.fail("Keras was reached"))
    ws = Workspace(tmp_path / "t")
    with pytest.raises(
        BundleError,
        match=r"model cannot be used: model.keras declares .* of weights in its config.json; "
        r".* layer 'dense' \(Dense, 64 inputs × units 1,000,000,000, float32\)",
    ):
        bundle.import_bundle(ws, _bundle(members, None, model_keras=buffer.getvalue()))
    assert ws.items() == []


# Fuzzing: mutated manifests -------------------------------------------------------------


def _paths(value, prefix=()) -> list[tuple]:
    """Every path into a JSON value (keys and list positions), containers included."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, prefix + (i,))
    return found


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            "x" * 5_000,
            "\x1b[31m",
            "../../etc/passwd",
            "1.0",
            "NaN",
            "0-255",
            "test",
            "dense",
            "0" * 16,
            "emb/rep/x",
            "digits",
            "upload:0000000000000000",
            "2026-13-45T99:00:00",
        ]
    ),
    st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
)


@st.composite
def _mutations(draw, manifest: dict):
    """A list of 1-3 edits: (path, "set", value), (path, "drop", None) or (path, "add", value)."""
    # Hypothesis favours the first choices: the sections whose values reach the import's code first,
    # the format and version (refused at once) last.
    order = ("view", "embedding", "dataset", "model", "files", "provenance", "exported_by", "exported_at")
    paths = sorted(_paths(manifest), key=lambda p: (order.index(p[0]) if p[0] in order else len(order), len(p)))
    edits = []
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["set", "set", "drop", "add"]))
        edits.append((path, action, draw(_VALUES)))
    return edits


def _apply(manifest: dict, edits) -> dict:
    manifest = json.loads(json.dumps(manifest))
    for path, action, value in edits:
        parent = manifest
        try:
            for step in path[:-1]:
                parent = parent[step]
            if action == "set":
                parent[path[-1]] = value
            elif action == "drop":
                del parent[path[-1]]
            elif isinstance(parent, dict):
                parent[f"extra_{len(path)}"] = value
        except (KeyError, IndexError, TypeError):  # an earlier edit changed the shape: skip this one
            continue
    return manifest


@pytest.fixture(scope="module")
def fuzz_base(exported):
    _, _, data = exported
    members = _members(data)
    return members, json.loads(members["manifest.json"])


@settings(
    derandomize=True,
    max_examples=60,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_mutated_manifest_imports_or_is_refused_with_a_bundle_error(fuzz_base, tmp_path_factory, data):
    members, manifest = fuzz_base
    edits = data.draw(_mutations(manifest))
    mutated = _apply(manifest, edits)
    ws = Workspace(tmp_path_factory.mktemp("fuzz"))
    before = _snapshot(ws)
    try:
        result = bundle.import_bundle(ws, _bundle(members, mutated, zipfile.ZIP_STORED), creator="fuzz")
    except BundleError as error:
        message = str(error)
        assert message.startswith(("the bundle", "This bundle")), message
        if "breaks the bundle format" in message:
            assert "field '" in message and "expected" in message, message
            assert "received" in message or "it is missing" in message, message
        assert _snapshot(ws) == before, message  # refused: nothing stored
    else:
        item = ws.get_item("model", result.model.id)
        assert item.creator == "fuzz" and (item.test_accuracy is None or 0 <= item.test_accuracy <= 1)
        assert all(i.knn_accuracy is None or 0 <= i.knn_accuracy <= 1 for i in ws.items())
