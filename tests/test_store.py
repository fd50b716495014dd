"""Tests for featlib.store: real files, real SQLite."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from featlib import models, store
from featlib.store import Workspace, WorkspaceError, write_atomically


def tiny_model(seed: int):
    return models.build_mlp((4,), hidden=(3,), num_classes=2, seed=seed)


def weights_equal(a, b) -> bool:
    wa, wb = a.get_weights(), b.get_weights()
    return len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb))


def leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob(".tmp-*")]


# ----------------------------------------------------------------------------- layout & index


def test_workspace_creates_folder_and_wal_index(tmp_path):
    root = tmp_path / "a" / "b"
    ws = Workspace(root)
    assert ws.root == root and root.is_dir()
    assert ws.index_path == root / "index.sqlite" and ws.index_path.is_file()
    db = sqlite3.connect(ws.index_path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        db.close()
    assert {"models", "datasets", "artifacts"} <= tables
    Workspace(root)  # opening again keeps the index
    assert ws.usage()["models"] == 0


def test_default_root_respects_env(tmp_path, monkeypatch):
    monkeypatch.setenv(store.WORKSPACE_ENV, str(tmp_path / "from-env"))
    assert store.default_root() == tmp_path / "from-env"
    ws = Workspace()
    assert ws.root == tmp_path / "from-env" and (tmp_path / "from-env" / "index.sqlite").is_file()


def test_default_root_without_env_is_local_workspace(tmp_path, monkeypatch):
    monkeypatch.delenv(store.WORKSPACE_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert store.default_root() == Path("workspace")
    Workspace()
    assert (tmp_path / "workspace" / "index.sqlite").is_file()
    monkeypatch.setenv(store.WORKSPACE_ENV, "")  # empty counts as unset
    assert store.default_root() == Path("workspace")


# ----------------------------------------------------------------------------- models


def test_save_list_get_load_model_roundtrip(workspace):
    model = tiny_model(0)
    record = models.save_model(
        workspace, model, "  demo ", dataset="digits", test_accuracy=0.9, input_scale="0-255", meta={"epochs": 2}
    )
    assert record.name == "demo"
    assert record.dataset == "digits" and record.test_accuracy == pytest.approx(0.9)
    assert record.input_scale == "0-255" and record.meta["epochs"] == 2
    assert record.meta["provenance"]["model_fingerprint"] == record.fingerprint
    assert record.meta["provenance"]["parameters"] == {"epochs": 2}
    assert record.meta["provenance"]["versions"]["keras"] == __import__("keras").__version__
    assert record.fingerprint == models.fingerprint(model)
    assert record.architecture == models.architecture_summary(model)
    assert record.path == f"models/{record.id}.keras"
    assert (workspace.root / record.path).is_file()
    assert record.label == "demo (digits, test acc 0.900)"
    assert workspace.list_models() == [record]
    assert workspace.get_model("demo") == record == workspace.get_model(record.id)
    for handle in ("demo", record.id, record):
        loaded = workspace.load_model(handle)
        assert weights_equal(loaded, model)
        assert models.fingerprint(loaded) == record.fingerprint
    assert leftovers(workspace.root) == []


def test_save_model_same_name_gets_unique_name_and_keeps_first(workspace):
    first, second, third = tiny_model(1), tiny_model(2), tiny_model(3)
    assert not weights_equal(first, second)
    r1 = models.save_model(workspace, first, "demo", dataset="digits")
    r2 = models.save_model(workspace, second, "demo", dataset="digits")
    r3 = models.save_model(workspace, third, "demo", dataset="digits")
    assert (r1.name, r2.name, r3.name) == ("demo", "demo-2", "demo-3")
    assert len({r1.id, r2.id, r3.id}) == 3 and len({r1.path, r2.path, r3.path}) == 3
    assert weights_equal(workspace.load_model("demo"), first)
    assert weights_equal(workspace.load_model("demo-2"), second)
    assert weights_equal(workspace.load_model("demo-3"), third)
    assert [r.name for r in workspace.list_models()] == ["demo-3", "demo-2", "demo"]  # newest first
    assert r1.label == "demo (digits)"  # no accuracy given


def test_save_model_refuses_empty_name(workspace):
    with pytest.raises(ValueError, match="cannot be empty"):
        models.save_model(workspace, tiny_model(0), "   ", dataset="digits")
    assert workspace.list_models() == []


def test_get_model_unknown_lists_names(workspace):
    models.save_model(workspace, tiny_model(0), "alpha", dataset="digits")
    models.save_model(workspace, tiny_model(1), "beta", dataset="digits")
    with pytest.raises(WorkspaceError, match=r"No such model: gamma\. The workspace holds: \['beta', 'alpha'\]"):
        workspace.get_model("gamma")
    with pytest.raises(WorkspaceError, match="No such model"):
        workspace.load_model("gamma")
    assert issubclass(WorkspaceError, LookupError)


def test_stray_files_are_not_listed(workspace):
    record = models.save_model(workspace, tiny_model(0), "demo", dataset="digits")
    models_dir = workspace.root / "models"
    (models_dir / ".tmp-abc123.keras").write_bytes(b"half-written")
    tiny_model(1).save(models_dir / "not-indexed.keras")
    (workspace.root / "arrays" / "representation").mkdir(parents=True)
    np.save(workspace.root / "arrays" / "representation" / "stray.npy", np.zeros(3))
    assert workspace.list_models() == [record]
    usage = workspace.usage()
    assert usage["models"] == 1 and usage["representations"] == 0 and usage["embeddings"] == 0
    with pytest.raises(WorkspaceError):
        workspace.get_model("not-indexed")


# ----------------------------------------------------------------------------- arrays


def test_save_and_load_array_roundtrip(workspace):
    a = np.arange(12, dtype="float32").reshape(4, 3)
    workspace.save_array("representation", "rep/key", a, model_id="m1", meta={"layer": "dense_1"})
    out = workspace.load_array("representation", "rep/key")
    assert out.dtype == np.float32 and np.array_equal(out, a)
    # Same key, other kind: absent. Same key replaced: the new array.
    assert workspace.load_array("embedding", "rep/key") is None
    workspace.save_array("representation", "rep/key", a * 2)
    assert np.array_equal(workspace.load_array("representation", "rep/key"), a * 2)
    assert workspace.usage()["representations"] == 1
    assert len(list((workspace.root / "arrays" / "representation").glob("*.npy"))) == 1
    assert leftovers(workspace.root) == []


def test_load_array_missing_is_none(workspace):
    assert workspace.load_array("representation", "never-saved") is None
    workspace.save_array("embedding", "emb/x", np.ones((3, 3)))
    path = next((workspace.root / "arrays" / "embedding").glob("*.npy"))
    path.unlink()  # indexed but gone from disk
    assert workspace.load_array("embedding", "emb/x") is None


def test_array_kind_is_checked(workspace):
    with pytest.raises(ValueError, match=r"Unknown array kind: 'weights'"):
        workspace.save_array("weights", "k", np.zeros(2))


def test_arrays_are_stored_without_pickle(workspace):
    with pytest.raises(ValueError):
        workspace.save_array("representation", "obj", np.array([{"a": 1}], dtype=object))
    assert workspace.load_array("representation", "obj") is None
    assert leftovers(workspace.root) == []


# ----------------------------------------------------------------------------- write_atomically


def test_write_atomically_writes_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "file.npy"
    write_atomically(target, lambda tmp: np.save(tmp, np.arange(3)))
    assert np.array_equal(np.load(target), np.arange(3))
    assert leftovers(tmp_path) == []


def test_write_atomically_failure_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("old")
    seen = []

    def failing(tmp: Path) -> None:
        seen.append(tmp)
        assert tmp.parent == target.parent and tmp.name.startswith(".tmp-") and tmp.suffix == ".txt"
        tmp.write_text("partial new content")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomically(target, failing)
    assert target.read_text() == "old"
    assert seen and not seen[0].exists()
    assert leftovers(tmp_path) == []

    def interrupted(tmp: Path) -> None:
        tmp.write_text("x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, interrupted)
    assert target.read_text() == "old" and leftovers(tmp_path) == []


# ----------------------------------------------------------------------------- datasets


def test_save_load_list_dataset_roundtrip(workspace, digits):
    fp = workspace.save_dataset(digits)
    assert fp == digits.fingerprint
    assert (workspace.root / "datasets" / f"{fp}.npz").is_file()
    listed = workspace.list_datasets()
    assert len(listed) == 1
    assert listed[0]["fingerprint"] == fp and listed[0]["name"] == "digits"
    assert listed[0]["summary"] == digits.summary()
    loaded = workspace.load_dataset(fp)
    assert loaded.fingerprint == digits.fingerprint
    assert loaded.name == "digits" and loaded.class_names == digits.class_names
    for field in ("x_train", "y_train", "x_test", "y_test"):
        a, b = getattr(loaded, field), getattr(digits, field)
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert workspace.save_dataset(digits) == fp  # again: still one entry
    assert len(workspace.list_datasets()) == 1
    assert leftovers(workspace.root) == []


def test_load_dataset_unknown(workspace):
    with pytest.raises(WorkspaceError, match="No such dataset: 0123"):
        workspace.load_dataset("0123")


def test_usage_counts(workspace, digits):
    empty = workspace.usage()
    assert set(empty) == {"models", "datasets", "representations", "embeddings", "views", "bytes"}
    assert [empty[k] for k in ("models", "datasets", "representations", "embeddings", "views")] == [0, 0, 0, 0, 0]
    assert empty["bytes"] > 0  # the index itself
    models.save_model(workspace, tiny_model(0), "a", dataset="digits")
    models.save_model(workspace, tiny_model(1), "a", dataset="digits")
    workspace.save_dataset(digits)
    workspace.save_array("representation", "r1", np.zeros((5, 4), "float32"))
    workspace.save_array("representation", "r2", np.zeros((5, 4), "float32"))
    workspace.save_array("representation", "r2", np.ones((5, 4), "float32"))  # replaced, not added
    workspace.save_array("embedding", "e1", np.zeros((5, 3)))
    usage = workspace.usage()
    assert (usage["models"], usage["datasets"], usage["representations"], usage["embeddings"]) == (2, 1, 2, 1)
    on_disk = sum(p.stat().st_size for p in workspace.root.rglob("*") if p.is_file())
    assert usage["bytes"] == on_disk
    model_files = sum(p.stat().st_size for p in (workspace.root / "models").glob("*.keras"))
    assert usage["bytes"] > model_files > 0


# ----------------------------------------------------------------------------- index write failures


def test_model_file_is_removed_when_its_index_write_fails(workspace, monkeypatch):
    import contextlib

    @contextlib.contextmanager
    def locked(self):
        raise sqlite3.OperationalError("database is locked")
        yield  # pragma: no cover

    monkeypatch.setattr(Workspace, "_write", locked)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        models.save_model(workspace, tiny_model(0), "demo", dataset="digits")
    monkeypatch.undo()
    assert workspace.list_models() == []
    assert list((workspace.root / "models").iterdir()) == []  # no orphan, no temp


def test_model_file_is_kept_when_the_failure_comes_after_the_commit(workspace, monkeypatch):
    import contextlib

    real_write = Workspace._write

    @contextlib.contextmanager
    def interrupted_after_commit(self):
        with real_write(self) as db:
            yield db
        raise KeyboardInterrupt

    monkeypatch.setattr(Workspace, "_write", interrupted_after_commit)
    with pytest.raises(KeyboardInterrupt):
        models.save_model(workspace, tiny_model(0), "demo", dataset="digits")
    monkeypatch.undo()
    (record,) = workspace.list_models()
    assert weights_equal(workspace.load_model(record), tiny_model(0))


def test_temporary_files_get_usual_permissions_and_every_index_write_goes_through_write(tmp_path, monkeypatch):
    import os

    target = tmp_path / "file.npy"
    seen = []
    write_atomically(target, lambda tmp: (seen.append(os.stat(tmp).st_mode & 0o777), np.save(tmp, np.arange(3))))
    umask = os.umask(0)
    os.umask(umask)
    assert seen == [0o666 & ~umask] and (target.stat().st_mode & 0o777) == 0o666 & ~umask

    calls = []
    real_write = Workspace._write

    def counting(self):
        calls.append(1)
        return real_write(self)

    monkeypatch.setattr(Workspace, "_write", counting)
    ws = Workspace(tmp_path / "ws")  # the schema
    models.save_model(ws, tiny_model(0), "demo", dataset="digits")
    ws.save_array("embedding", "e", np.zeros((3, 3)))
    assert len(calls) == 3


def test_usage_while_another_thread_saves(workspace):
    """Files come and go under usage() (SQLite's -wal, temporary files): it must not fail.

    Before the fix about one call in fifteen raised FileNotFoundError on
    index.sqlite-wal, shown as an exception on the Home page under load.
    """
    import threading

    stop = threading.Event()
    saved = []

    def writer() -> None:
        while not stop.is_set():
            workspace.save_array("embedding", f"k{len(saved) % 5}", np.zeros((100, 3)))
            saved.append(1)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(300):
            usage = workspace.usage()
            assert usage["bytes"] > 0 and usage["embeddings"] <= 5
    finally:
        stop.set()
        thread.join(timeout=60)
    assert saved and workspace.usage()["embeddings"] == 5


# ----------------------------------------------------------------------------- sharing: who, notes, rename, delete


def _old_schema_index(root: Path) -> None:
    """An index as the first release wrote it: no creator, note, title or dataset meta columns."""
    root.mkdir(parents=True)
    db = sqlite3.connect(root / "index.sqlite")
    db.executescript(
        """
        CREATE TABLE models (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, dataset TEXT NOT NULL,
            architecture TEXT NOT NULL, test_accuracy REAL, input_scale TEXT NOT NULL, fingerprint TEXT NOT NULL,
            path TEXT NOT NULL, created TEXT NOT NULL, meta TEXT NOT NULL DEFAULT '{}');
        CREATE TABLE datasets (fingerprint TEXT PRIMARY KEY, name TEXT NOT NULL, summary TEXT NOT NULL,
            path TEXT NOT NULL, created TEXT NOT NULL);
        CREATE TABLE artifacts (key TEXT PRIMARY KEY, kind TEXT NOT NULL, model_id TEXT, path TEXT NOT NULL,
            bytes INTEGER NOT NULL, created TEXT NOT NULL, meta TEXT NOT NULL DEFAULT '{}');
        INSERT INTO models VALUES ('old1', 'old', 'digits', '4-3-2', 0.5, '0-1', 'fp', 'models/old1.keras',
            '2020-01-01T00:00:00+00:00', '{}');
        """
    )
    db.commit()
    db.close()


def test_an_old_index_gains_the_new_columns_and_keeps_its_rows(tmp_path):
    root = tmp_path / "old"
    _old_schema_index(root)
    ws = Workspace(root)
    record = ws.get_model("old")
    assert (record.creator, record.note) == ("", "")
    db = sqlite3.connect(ws.index_path)
    try:
        for table, column in (("models", "creator"), ("datasets", "meta"), ("artifacts", "title")):
            assert column in {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
    finally:
        db.close()
    ws.set_note("model", "old1", "from 2020")
    assert Workspace(root).get_model("old1").note == "from 2020"  # reopening migrates nothing twice


def _model_with_results(ws: Workspace, name: str, seed: int, creator: str):
    record = models.save_model(
        ws, tiny_model(seed), name, dataset="digits", creator=creator, meta={"dataset_fingerprint": "dsfp"}
    )
    rep = f"rep/{record.fingerprint}/dsfp/train/dense/function/0-1"
    emb = f"emb/{rep}/sample=None/seed=0/umap-n_neighbors=15-min_dist=0.1"
    ws.save_array("representation", rep, np.ones((5, 3), "float32"), model_id=record.id, creator=creator)
    ws.save_array("embedding", emb, np.ones((5, 3)), model_id=record.id, creator=creator)
    return record, rep, emb


def test_items_list_who_made_what_from_what_and_its_size(workspace):
    record, rep, emb = _model_with_results(workspace, "alice-mlp", 0, "alice")
    items = {item.kind: item for item in workspace.items()}
    assert set(items) == {"model", "representation", "embedding"}
    assert all(item.creator == "alice" for item in items.values())
    model = items["model"]
    assert model.name == "alice-mlp" and model.bytes == (workspace.root / record.path).stat().st_size > 0
    assert model.provenance["model_fingerprint"] == record.fingerprint
    assert items["representation"].parameters["layer"] == "dense" and items["representation"].bytes > 0
    assert items["embedding"].parameters["n_neighbors"] == "15" and items["embedding"].model_id == record.id
    assert items["embedding"].provenance["versions"]["numpy"] == np.__version__


def test_rename_and_note_and_name_clash(workspace):
    a, rep, _ = _model_with_results(workspace, "a", 0, "alice")
    models.save_model(workspace, tiny_model(1), "b", dataset="digits")
    workspace.rename("model", a.id, "  renamed ")
    workspace.set_note("model", a.id, "the good one")
    got = workspace.get_model(a.id)
    assert (got.name, got.note) == ("renamed", "the good one")
    with pytest.raises(store.NameClashError, match="Another model is already named 'b'"):
        workspace.rename("model", a.id, "b")
    with pytest.raises(ValueError, match="cannot be empty"):
        workspace.rename("model", a.id, "  ")
    with pytest.raises(WorkspaceError, match="No such model"):
        workspace.rename("model", "nope", "x")
    assert workspace.get_model(a.id).name == "renamed"  # refusals changed nothing
    workspace.rename("representation", rep, "layer 2 of a")
    assert workspace.get_item("representation", rep).name == "layer 2 of a"


def test_deleting_a_model_removes_its_results_files_and_rows_and_nothing_else(workspace):
    a, rep_a, emb_a = _model_with_results(workspace, "a", 0, "alice")
    b, rep_b, emb_b = _model_with_results(workspace, "b", 1, "bob")
    files_a = [workspace.root / a.path] + [
        workspace.root / workspace._array_path(k, key) for k, key in (("representation", rep_a), ("embedding", emb_a))
    ]
    assert all(f.is_file() for f in files_a)
    assert {i.id for i in workspace.derived_from("model", a.id)} == {rep_a, emb_a}
    deleted = workspace.delete("model", a.id)
    assert set(deleted) == {"model a", rep_a, emb_a}
    assert not any(f.exists() for f in files_a)
    assert {(i.kind, i.id) for i in workspace.items()} == {
        ("model", b.id),
        ("representation", rep_b),
        ("embedding", emb_b),
    }
    assert workspace.load_array("embedding", emb_b) is not None and workspace.load_model("b") is not None
    # a result that a session was computing for the deleted model is not listed afterwards
    assert workspace.save_array("embedding", emb_a + "/late", np.ones((2, 3)), model_id=a.id) is False
    assert workspace.load_array("embedding", emb_a + "/late") is None
    with pytest.raises(WorkspaceError, match="No such model"):
        workspace.delete("model", a.id)


def test_deleting_a_representation_removes_its_maps_only(workspace):
    a, rep, emb = _model_with_results(workspace, "a", 0, "alice")
    assert workspace.delete("representation", rep) == [rep, emb]
    assert [i.kind for i in workspace.items()] == ["model"]


def test_a_model_twin_keeps_the_shared_results(workspace):
    model = tiny_model(0)
    a = models.save_model(workspace, model, "a", dataset="digits")
    b = models.save_model(workspace, model, "b", dataset="digits")
    rep = f"rep/{a.fingerprint}/dsfp/train/dense/function/0-1"
    workspace.save_array("representation", rep, np.ones((2, 2)), model_id=a.id)
    workspace.delete("model", a.id)
    assert workspace.get_item("representation", rep).model_id == b.id
    assert workspace.load_array("representation", rep) is not None


def test_deleting_a_dataset_in_use_is_refused(workspace):
    from featlib.datasets import from_arrays

    rng = np.random.default_rng(0)
    data = from_arrays(rng.integers(0, 255, (40, 4, 4), dtype=np.uint8), np.arange(40) % 2, "upload:tiny")
    fp = workspace.save_dataset(data, creator="carol")
    models.save_model(workspace, tiny_model(0), "uses-it", dataset=data.name, meta={"dataset_fingerprint": fp})
    with pytest.raises(store.InUseError, match="in use by 1 item.*model uses-it"):
        workspace.delete("dataset", fp)
    assert workspace.load_dataset(fp).fingerprint == fp
    workspace.rename("dataset", fp, "tiny blobs")
    assert workspace.list_datasets()[0]["summary"].startswith("tiny blobs: 32 train + 8 test images")
    assert workspace.load_dataset(fp).name == "tiny blobs"
    workspace.delete("model", "uses-it")
    assert workspace.delete("dataset", fp) == ["dataset tiny blobs"]
    assert workspace.list_datasets() == [] and not list((workspace.root / "datasets").glob("*.npz"))


def test_workspace_items_are_named_by_what_they_are(workspace):
    from featlib import pipeline
    from featlib.maps import embed

    record = models.save_model(workspace, models.build_mlp((64,), hidden=(8,)), "mlp-digits", dataset="digits")
    indices, coords = np.arange(30), np.zeros((30, 2), "float32")
    explore_rep = pipeline.representation_key(record.fingerprint, "dfp", "train", "dense_1", "function", "0-1")
    from featlib.read.layers import layer_set_key

    layers_rep = f"{layer_set_key(record.fingerprint, 'dfp', 'train', '0-1', None, 0)}/activation"  # the Layers page's
    for rep_key, params in ((explore_rep, embed.UMAPParams()), (layers_rep, embed.PCAParams())):
        key = pipeline.embedding_key(rep_key, None, 0, params)
        pipeline.save_embedding(workspace, key, indices, coords, rep_key, record.id)
    titles = {item.parameters.get("layer"): item.name for item in workspace.items() if item.kind == "embedding"}
    assert titles == {
        "dense_1": "UMAP map · mlp-digits · dense_1 · function · 30 points",
        "activation": "PCA map · mlp-digits · activation · all layers in one pass · 30 points",
    }
    from featlib.store.catalog import default_title

    assert default_title("embedding", "", "", "", "tsne") == "t-SNE map"  # unknown parts left out, never "?"
