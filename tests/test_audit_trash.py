"""Issue 26, item 2: who changed whose work is recorded; deletes go to a trash with Restore, purged after a time.

Real SQLite indexes and real files in ``tmp_path``; two users, alice and bob.
"""

from __future__ import annotations

import hashlib
import sqlite3

import numpy as np
import pytest
from app_testing import APP, page_path
from streamlit.testing.v1 import AppTest

from featlib import jobs
from featlib.errors import NameClashError, QuotaError
from featlib.jobs import JobManager
from featlib.maps import embed
from featlib.store import Workspace

PNG = b"\x89PNG\r\n\x1a\n" + b"thumbnail"
REP = "rep/mfp/dsfp/train/dense/function/0-1"
MAP = f"emb/{REP}/sample=None/seed=0/umap-n_neighbors=15"


def _files(ws: Workspace) -> dict[str, str]:
    """Every file of the items (models, datasets, arrays), by relative path, with its SHA-256."""
    found = {}
    for folder in ("models", "datasets", "arrays"):
        for path in sorted((ws.root / folder).rglob("*")):
            if path.is_file():
                found[str(path.relative_to(ws.root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _listing(ws: Workspace) -> list[tuple]:
    return sorted((i.kind, i.id, i.name, i.creator, i.note, i.bytes, i.created) for i in ws.items())


@pytest.fixture
def ws(tmp_path) -> Workspace:
    """alice's model with a representation and a map, bob's model, alice's saved view."""
    ws = Workspace(tmp_path / "ws")
    a = ws.save_model_file(b"alice-weights" * 50, "alice-mlp", fingerprint="mfp", architecture="a", dataset="digits")
    ws.claim("model", a.id, "alice")
    ws.save_array("representation", REP, np.arange(15, dtype="float32").reshape(5, 3), model_id=a.id, creator="alice")
    ws.save_array("embedding", MAP, np.ones((5, 2)), model_id=a.id, creator="alice")
    ws.save_model_file(
        b"bob-weights" * 40, "bob-mlp", fingerprint="bfp", architecture="a", dataset="digits", creator="bob"
    )
    ws.save_view("explore", {"model": a.id, "layer": "dense"}, "alice's view", creator="alice", thumbnail=PNG)
    return ws


def _model(ws: Workspace, name: str):
    return next(m for m in ws.list_models() if m.name == name)


def test_each_rename_note_and_delete_is_recorded_with_who_whose_and_the_old_value(ws):
    a = _model(ws, "alice-mlp")
    view = ws.list_views()[0]
    ws.set_note("model", a.id, "3 epochs", who="alice")
    ws.set_note("model", a.id, "bob was here", who="bob")
    ws.rename("model", a.id, "bobs-now", who="bob")
    ws.rename("view", view.id, "renamed view", who="bob")
    ws.delete("view", view.id, who="bob")
    ws.delete("model", a.id, who="bob")
    rows = [(r.who, r.action, r.kind, r.item_id, r.owner, r.old_value, r.new_value) for r in ws.history()]
    assert rows[:6] == [  # newest first
        ("bob", "delete", "model", a.id, "alice", f"model bobs-now, {REP}, {MAP}", rows[0][6]),
        ("bob", "delete", "view", view.id, "alice", "view renamed view", rows[1][6]),
        ("bob", "rename", "view", view.id, "alice", "alice's view", "renamed view"),
        ("bob", "rename", "model", a.id, "alice", "alice-mlp", "bobs-now"),
        ("bob", "note", "model", a.id, "alice", "3 epochs", "bob was here"),
        ("alice", "note", "model", a.id, "alice", "", "3 epochs"),
    ]
    assert rows[0][6].startswith("trash ") and rows[1][6].startswith("trash ")
    for row in ws.history():  # when: ISO 8601, UTC
        assert row.at.endswith("+00:00") and row.at[10] == "T"


def test_a_deleted_model_goes_to_the_trash_and_restores_byte_identical_with_its_results(ws):
    before_files, before_listing = _files(ws), _listing(ws)
    a = _model(ws, "alice-mlp")
    deleted = ws.delete("model", a.id, who="bob")
    assert deleted == ["model alice-mlp", REP, MAP]
    assert [i.name for i in ws.items() if i.kind != "view"] == ["bob-mlp"]
    assert set(_files(ws)) == {p for p in before_files if p.startswith("models/") and a.id not in p}
    [entry] = ws.trash()
    assert (entry.kind, entry.item_id, entry.name, entry.owner, entry.deleted_by) == (
        "model",
        a.id,
        "alice-mlp",
        "alice",
        "bob",
    )
    assert (ws.root / "trash" / entry.id).is_dir()
    restored = ws.restore(entry.id, who="alice")
    assert restored.id == entry.id and ws.trash() == []
    assert _files(ws) == before_files  # byte-identical, at the same paths
    assert _listing(ws) == before_listing  # listed as before: names, makers, notes, sizes, times
    assert not (ws.root / "trash" / entry.id).exists()
    assert np.array_equal(ws.load_array("representation", REP), np.arange(15, dtype="float32").reshape(5, 3))
    assert ws.history()[0].action == "restore" and ws.history()[0].who == "alice"


def test_a_deleted_saved_view_restores_with_its_thumbnail(ws):
    view = ws.list_views()[0]
    ws.delete_view(view.id, who="bob")
    assert ws.list_views() == []
    ws.restore(ws.trash()[0].id, who="alice")
    assert ws.get_view(view.id) == view and ws.get_view(view.id).thumbnail == PNG


def test_restore_refuses_naming_why_when_a_new_item_took_the_name(ws):
    a = _model(ws, "alice-mlp")
    ws.delete("model", a.id, who="bob")
    ws.save_model_file(b"new", "alice-mlp", fingerprint="nfp", architecture="a", dataset="digits", creator="bob")
    entry = ws.trash()[0]
    with pytest.raises(NameClashError, match="took the name 'alice-mlp'.*Rename that one first"):
        ws.restore(entry.id, who="alice")
    assert ws.trash() == [entry]  # nothing restored, nothing lost
    assert [m.name for m in ws.list_models()].count("alice-mlp") == 1
    assert (ws.root / "trash" / entry.id / "models" / f"{a.id}.keras").read_bytes() == b"alice-weights" * 50
    ws.rename("model", _model(ws, "alice-mlp").id, "bobs-new", who="bob")
    ws.restore(entry.id, who="alice")
    assert _model(ws, "alice-mlp").id == a.id


def test_the_trash_is_purged_after_the_set_days(ws, monkeypatch):
    a = _model(ws, "alice-mlp")
    ws.delete("model", a.id, who="bob")
    entry = ws.trash()[0]
    assert Workspace(ws.root).trash() == [entry]  # 7 days by default: kept when opened again
    with sqlite3.connect(ws.index_path) as db:  # deleted 8 days ago
        db.execute("UPDATE trash SET deleted_at = '2000-01-01T00:00:00+00:00' WHERE id = ?", (entry.id,))
    ws = Workspace(ws.root)  # opening purges
    assert ws.trash() == [] and not (ws.root / "trash" / entry.id).exists()
    assert ws.history()[0].action == "purge"
    monkeypatch.setenv("FEATLIB_TRASH_DAYS", "0")  # 0 days: gone at the next delete
    ws.delete("view", ws.list_views()[0].id, who="alice")
    ws.delete("model", _model(ws, "bob-mlp").id, who="bob")
    assert [e.kind for e in ws.trash()] == ["model"]


def test_trashed_items_do_not_count_against_the_quotas(ws, monkeypatch):
    monkeypatch.setenv("FEATLIB_QUOTA_USER_ITEMS", "1")
    with pytest.raises(QuotaError):
        ws.save_model_file(b"x", "bob-2", fingerprint="b2", architecture="a", dataset="digits", creator="bob")
    ws.delete("model", _model(ws, "bob-mlp").id, who="bob")
    ws.save_model_file(b"x", "bob-2", fingerprint="b2", architecture="a", dataset="digits", creator="bob")


def test_a_job_cancel_is_recorded_with_who_cancelled_whose_job(ws):
    ws.jobs.add("job1", "rep/x", "representation", title="layer outputs of alice-mlp", creator="alice")
    ws.jobs.update("job1", status="running")
    ws.jobs.record_cancel("job1", "bob")
    row = ws.history()[0]
    assert (row.who, row.action, row.kind, row.item_id, row.owner, row.old_value, row.new_value) == (
        "bob",
        "cancel",
        "job",
        "job1",
        "alice",
        "running",
        "cancelled",
    )


def test_the_job_managers_cancel_records_who_cancelled_whose_job(tmp_path, shared_engine, hold_the_worker):
    """The test process's real cluster of one worker (``shared_engine``): bob cancels alice's job, queued or running."""
    engine = shared_engine
    manager = JobManager(engine, Workspace(tmp_path / "jobs-ws"))
    try:
        points = np.random.default_rng(0).normal(size=(3_000, 16)).astype("float32")
        spec = jobs.specs.reduce_spec("emb/alice", len(points), embed.PCAParams())
        hold_the_worker(engine, 5.0)  # alice's job waits for the worker until it is cancelled, however fast it is
        handle = manager.submit(spec, {"points": points}, creator="alice")
        assert manager.cancel(handle.job_id, who="bob")
        assert handle.wait(10) and handle.status == "cancelled"
        row = manager.workspace.history()[0]
        assert (row.who, row.action, row.kind, row.item_id, row.owner, row.new_value) == (
            "bob",
            "cancel",
            "job",
            handle.job_id,
            "alice",
            "cancelled",
        )
    finally:
        manager.close()


def _slot(kind: str, ident: str) -> str:
    return hashlib.sha1(f"{kind}/{ident}".encode()).hexdigest()[:12]


@pytest.fixture
def page(tmp_path, monkeypatch):
    """The Workspace page, opened by bob, on a workspace where alice made a model."""
    root = tmp_path / "page-ws"
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(root))
    ws = Workspace(root)
    a = ws.save_model_file(b"alice-weights", "alice-mlp", fingerprint="afp", architecture="a", dataset="digits")
    ws.claim("model", a.id, "alice")
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["featlib.user_name"] = "bob"
    at.run()
    at.switch_page(page_path("workspace")).run()
    assert not at.exception, [e.value for e in at.exception]
    return ws, a, at


def _texts(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [w.value for w in at.warning] + [c.value for c in at.caption])


def test_bob_renaming_alices_model_is_asked_first_then_recorded(page):
    ws, a, at = page
    s = _slot("model", a.id)
    at.text_input(key=f"name-{s}").set_value("bobs-now")
    at.button(key=f"rename-button-{s}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert "alice made this; names are only labels here — change it anyway?" in _texts(at).replace("\\", "")
    assert ws.get_model(a.id).name == "alice-mlp"  # nothing changed before the answer
    at.button(key="confirm-change").click().run()
    assert ws.get_model(a.id).name == "bobs-now"
    row = ws.history()[0]
    assert (row.who, row.action, row.owner, row.old_value, row.new_value) == (
        "bob",
        "rename",
        "alice",
        "alice-mlp",
        "bobs-now",
    )


def test_the_page_shows_history_and_trash_and_restores(page):
    ws, a, at = page
    at.button(key=f"delete-{_slot('model', a.id)}").click().run()
    assert "alice made this; names are only labels here — delete it anyway?" in _texts(at).replace("\\", "")
    at.button(key="confirm-delete").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert ws.list_models() == []
    assert [s.value for s in at.subheader if s.value in ("Trash", "History")] == ["Trash", "History"]
    assert "deleted by bob" in _texts(at)
    history = next(d.value for d in at.dataframe if "who" in d.value.columns)
    assert list(history["who"][:1]) == ["bob"] and list(history["did"][:1]) == ["delete"]
    entry = ws.trash()[0]
    at.button(key=f"restore-{entry.id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [m.name for m in ws.list_models()] == ["alice-mlp"] and ws.trash() == []
    assert (ws.root / "models" / f"{a.id}.keras").read_bytes() == b"alice-weights"
