"""Quotas (featlib.store.quotas): per user and per workspace, bytes and items, and the free-disk floor.

Real files in a real workspace (``tmp_path``) with its real SQLite index: a new item past a quota is refused
before anything is stored, with a message naming the quota, the use now, the item's size and the fix, and the
workspace (its listing and its files) is left exactly as it was.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from app_testing import APP, page_path
from streamlit.testing.v1 import AppTest

from featlib import cli, datasets, models
from featlib.errors import FeatlibError, QuotaError, WorkspaceError
from featlib.jobs import stored, tasks
from featlib.store import Workspace
from featlib.store.arrays import NPY_HEADER

QUOTAS = (
    "FEATLIB_QUOTA_USER_MB",
    "FEATLIB_QUOTA_USER_ITEMS",
    "FEATLIB_QUOTA_WORKSPACE_MB",
    "FEATLIB_QUOTA_WORKSPACE_ITEMS",
    "FEATLIB_MIN_FREE_MB",
)
KIB = 1024
ARRAY_BYTES = 1000 * 8 + NPY_HEADER  # one 1,000-value float64 array as stored (.npy)


@pytest.fixture(autouse=True)
def no_quotas(monkeypatch):
    """Each test sets the quotas it tries; none is inherited from the environment."""
    for name in QUOTAS:
        monkeypatch.delenv(name, raising=False)


def snapshot(ws: Workspace) -> tuple[list, list]:
    """What the workspace lists (kind, id, maker, bytes) and every file it holds (path, size), the index aside."""
    listing = sorted((i.kind, i.id, i.creator, i.bytes) for i in ws.items())
    files = sorted(
        (str(p.relative_to(ws.root)), p.stat().st_size)
        for p in ws.root.rglob("*")
        if p.is_file() and not p.name.startswith("index.sqlite")
    )
    return listing, files


def rep_key(n: int) -> str:
    return f"rep/modelfp/datafp/train/dense_{n}/function/0-1"


def store_rep(ws: Workspace, n: int, creator: str) -> None:
    """A representation of 1,000 float64 values (:data:`ARRAY_BYTES` on disk) made by ``creator``."""
    ws.save_array("representation", rep_key(n), np.full(1000, float(n)), creator=creator)


def tiny_dataset(seed: int, name: str) -> datasets.Dataset:
    rng = np.random.default_rng(seed)
    return datasets.from_arrays(
        rng.integers(0, 255, (40, 8, 8)).astype("uint8"),
        np.arange(40) % 4,
        name,
        x_test=rng.integers(0, 255, (12, 8, 8)).astype("uint8"),
        y_test=np.arange(12) % 4,
    )


def refused(call, *words: str) -> QuotaError:
    """Runs ``call``, which must be refused with a :class:`QuotaError` whose message holds every word."""
    with pytest.raises(QuotaError) as caught:
        call()
    message = str(caught.value)
    for word in words:
        assert word in message, (word, message)
    assert "Nothing was stored" in message and "Workspace page" in message, message
    return caught.value


def test_the_error_is_featlibs_and_a_store_error():
    assert issubclass(QuotaError, FeatlibError) and issubclass(QuotaError, WorkspaceError)
    assert issubclass(QuotaError, LookupError)  # what callers catch for store errors today


def test_a_user_over_their_byte_quota_is_refused_and_nothing_changes(workspace, monkeypatch, digits):
    ws = workspace
    monkeypatch.setenv("FEATLIB_QUOTA_USER_MB", str(20 * KIB / 2**20))  # 20 KiB each
    store_rep(ws, 1, "alice")
    store_rep(ws, 2, "alice")  # 15.9 KiB: under 20 KiB
    before = snapshot(ws)
    error = refused(
        lambda: store_rep(ws, 3, "alice"),
        "FEATLIB_QUOTA_USER_MB = 20.0 KiB",
        "'alice'",
        "use 15.9 KiB now (2 items)",
        "this representation (7.9 KiB)",
        "ask the admin to raise FEATLIB_QUOTA_USER_MB",
    )
    assert error.setting == "FEATLIB_QUOTA_USER_MB"
    # every kind of new item is refused the same way, before anything is stored
    model = models.build_mlp((64,), hidden=(16,), seed=0)
    refused(lambda: models.save_model(ws, model, "m", dataset="digits", creator="alice"), "'alice'", "this model")
    refused(lambda: ws.save_model_file(b"x" * 8 * KIB, "m2", fingerprint="f", architecture="a", dataset="d",
                                       creator="alice"), "this model (8.0 KiB)")  # fmt: skip
    refused(lambda: ws.save_dataset(tiny_dataset(0, "alice-data"), creator="alice"), "this dataset upload")
    emb = f"emb/{rep_key(1)}/sample=None/seed=0/umap-n_neighbors=15"
    refused(lambda: ws.save_array("embedding", emb, np.ones((1000, 3)), creator="alice"), "this map (23.6 KiB)")
    assert snapshot(ws) == before  # the listing and the files, byte for byte
    assert not list(ws.root.rglob(".tmp-*"))  # nothing half-written left behind
    # replacing one of her own items by one of the same size takes no more room
    ws.save_array("representation", rep_key(2), np.zeros(1000), creator="alice")
    # another user is not affected
    store_rep(ws, 4, "bob")
    store_rep(ws, 5, "bob")
    assert {s.maker: (s.items, s.bytes) for s in ws.shares()} == {
        "alice": (2, 2 * ARRAY_BYTES),
        "bob": (2, 2 * ARRAY_BYTES),
    }


def test_the_item_quota_refuses_the_next_item_of_that_user_only(workspace, monkeypatch):
    ws = workspace
    monkeypatch.setenv("FEATLIB_QUOTA_USER_ITEMS", "2")
    store_rep(ws, 1, "alice")
    ws.save_view("explore", {"model": "m", "layer": "dense"}, "a view", "alice")
    before = snapshot(ws)
    refused(
        lambda: store_rep(ws, 2, "alice"),
        "FEATLIB_QUOTA_USER_ITEMS = 2 items",
        "they hold 2 items now",
        "this representation (7.9 KiB)",
        "raise FEATLIB_QUOTA_USER_ITEMS",
    )
    refused(lambda: ws.save_view("explore", {"model": "m", "layer": "dense_1"}, "b view", "alice"), "this saved view")
    assert snapshot(ws) == before and len(ws.list_views()) == 1
    store_rep(ws, 1, "alice")  # the same key again: a replacement, not a new item
    assert ws.save_view("explore", {"model": "m", "layer": "dense"}, "a view", "alice")[1] is False  # saved already
    store_rep(ws, 3, "bob")
    store_rep(ws, 4, "bob")
    refused(lambda: store_rep(ws, 5, "bob"), "'bob'")
    store_rep(ws, 6, "carol")


def test_the_workspace_quotas_refuse_whoever_stores_next(workspace, monkeypatch):
    ws = workspace
    monkeypatch.setenv("FEATLIB_QUOTA_WORKSPACE_MB", str(20 * KIB / 2**20))
    store_rep(ws, 1, "alice")
    store_rep(ws, 2, "bob")
    before = snapshot(ws)
    error = refused(
        lambda: store_rep(ws, 3, "carol"),
        "past its quota FEATLIB_QUOTA_WORKSPACE_MB = 20.0 KiB",
        "its items use 15.9 KiB now (2 items)",
        "this representation (7.9 KiB)",
        "raise FEATLIB_QUOTA_WORKSPACE_MB",
    )
    assert error.setting == "FEATLIB_QUOTA_WORKSPACE_MB" and snapshot(ws) == before
    monkeypatch.setenv("FEATLIB_QUOTA_WORKSPACE_MB", "1")  # read when used: raised, it applies at once
    monkeypatch.setenv("FEATLIB_QUOTA_WORKSPACE_ITEMS", "3")
    store_rep(ws, 3, "carol")
    refused(lambda: store_rep(ws, 4, "dave"), "FEATLIB_QUOTA_WORKSPACE_ITEMS = 3 items", "it holds 3 items now")


def test_the_default_workspace_quota_and_floor_do_not_get_in_the_way(workspace):
    limits = workspace.quotas()
    assert (limits.user_bytes, limits.user_items, limits.workspace_items) == (None, None, None)
    assert limits.workspace_bytes == 50 * 2**30 and limits.min_free == 500 * 2**20
    store_rep(workspace, 1, "alice")


def test_the_free_disk_floor_is_refused_clearly(workspace, monkeypatch, model):
    ws = workspace
    store_rep(ws, 1, "alice")
    before = snapshot(ws)
    free_mb = shutil.disk_usage(ws.root).free // 2**20
    monkeypatch.setenv("FEATLIB_MIN_FREE_MB", str(free_mb + 1000))  # above what is free: nothing fits
    error = refused(
        lambda: store_rep(ws, 2, "alice"),
        "this representation (7.9 KiB)",
        "under the floor FEATLIB_MIN_FREE_MB",
        "free now:",
        str(ws.root),
        "lower FEATLIB_MIN_FREE_MB",
    )
    assert error.setting == "FEATLIB_MIN_FREE_MB"
    refused(lambda: models.save_model(ws, model, "m", dataset="digits", creator="bob"), "FEATLIB_MIN_FREE_MB")
    refused(lambda: ws.save_dataset(tiny_dataset(1, "d"), creator="bob"), "FEATLIB_MIN_FREE_MB")
    refused(lambda: ws.save_view("compare", {"p0": "m:dense"}, "v", "bob"), "FEATLIB_MIN_FREE_MB")
    assert snapshot(ws) == before and not list(ws.root.rglob(".tmp-*"))
    monkeypatch.setenv("FEATLIB_MIN_FREE_MB", "0")  # 0: no floor
    store_rep(ws, 2, "alice")


def test_a_job_result_stored_for_a_user_counts_for_them(workspace, monkeypatch, digits, tmp_path):
    ws = workspace
    model = models.build_mlp((64,), hidden=(16,), seed=0)
    model.save(tmp_path / "m.keras")
    data = (tmp_path / "m.keras").read_bytes()
    output = tasks.check_upload(data=data, filename="m.keras", dataset=digits, input_scale="0-1")

    def store(name: str):
        return stored.store_upload(
            ws,
            output,
            name=name,
            filename="m.keras",
            dataset=digits.name,
            dataset_fp=digits.fingerprint,
            input_scale="0-1",
            creator="alice",
        )

    record = store("first")
    size = (ws.root / record.path).stat().st_size
    assert [(s.maker, s.items, s.bytes) for s in ws.shares()] == [("alice", 1, size)]
    monkeypatch.setenv("FEATLIB_QUOTA_USER_MB", str(1.5 * size / 2**20))  # room for one more half
    before = snapshot(ws)
    refused(lambda: store("second"), "'alice'", "FEATLIB_QUOTA_USER_MB", "this model")
    assert snapshot(ws) == before


def test_featlib_add_over_quota_exits_2_with_the_error(tmp_path, monkeypatch, capsys):
    root = tmp_path / "ws"
    ws = Workspace(root)
    store_rep(ws, 1, "alice")
    path = tmp_path / "m.keras"
    models.build_mlp((64,), hidden=(16,), seed=0).save(path)
    monkeypatch.setenv("FEATLIB_QUOTA_USER_ITEMS", "1")
    before = snapshot(ws)
    argv = ["--workspace", str(root), "add", str(path), "--name", "m", "--dataset", "digits", "--by", "alice"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: Storing this model") and "'alice'" in last, err
    assert "FEATLIB_QUOTA_USER_ITEMS = 1 item: they hold 1 item now (7.9 KiB)" in last, err
    assert "Traceback" not in err
    assert snapshot(ws) == before
    monkeypatch.setenv("FEATLIB_QUOTA_USER_ITEMS", "2")
    assert cli.main(argv) == 0
    assert [m.name for m in Workspace(root).list_models()] == ["m"]


def test_the_workspace_page_shows_each_users_share(tmp_path, monkeypatch):
    root = tmp_path / "ws"
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(root))
    monkeypatch.setenv("FEATLIB_QUOTA_USER_MB", str(32 * KIB / 2**20))
    ws = Workspace(root)
    store_rep(ws, 1, "alice")
    store_rep(ws, 2, "alice")
    store_rep(ws, 3, "bob")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(page_path("workspace")).run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(s.value == "Each user's share" for s in at.subheader)
    table = next(d.value for d in at.dataframe if "user" in d.value.columns)
    rows = {r["user"]: r for r in table.to_dict("records")}
    assert set(rows) == {"alice", "bob"}
    assert (rows["alice"]["items"], rows["alice"]["size"]) == (2, "15.9 KiB")
    assert (rows["bob"]["items"], rows["bob"]["size"]) == (1, "7.9 KiB")
    assert rows["alice"]["of the workspace"] == pytest.approx(2 / 3)
    assert rows["alice"]["of their size quota"] == pytest.approx(2 * ARRAY_BYTES / (32 * KIB))
    caption = "\n".join(c.value for c in at.caption).replace("\\", "")  # markdown escapes
    assert "per user 32.0 KiB (FEATLIB_QUOTA_USER_MB)" in caption, caption
    assert "FEATLIB_MIN_FREE_MB" in caption and "free" in caption


def test_a_bundle_import_past_a_quota_stores_nothing(tmp_path, monkeypatch, model, digits):
    from test_bundle import _view_in

    from featlib.share import bundle

    source = Workspace(tmp_path / "source")
    data = bundle.export_bundle(source, _view_in(source, model, digits, "digits"), exported_by="alice")
    scratch = Workspace(tmp_path / "scratch")
    model_bytes = (scratch.root / bundle.import_bundle(scratch, data, creator="bob").model.path).stat().st_size
    ws = Workspace(tmp_path / "ws")
    store_rep(ws, 1, "bob")
    before = snapshot(ws)
    # for bob (7.9 KiB stored), room for the model but not for its map (33.8 KiB): the model stored first is
    # taken back; a user with nothing stored has room for both
    monkeypatch.setenv("FEATLIB_QUOTA_USER_MB", str((model_bytes + 40 * KIB) / 2**20))
    refused(lambda: bundle.import_bundle(ws, data, creator="bob"), "'bob'", "this map", "FEATLIB_QUOTA_USER_MB")
    assert snapshot(ws) == before and not list(ws.root.rglob(".tmp-*"))
    refused(lambda: bundle.import_bundle(ws, data, creator="bob"), "this map")  # again: still nothing left over
    bundle.import_bundle(ws, data, creator="carol")  # another user's import is not affected
    assert {s.maker: s.items for s in ws.shares()} == {"bob": 1, "carol": 2}
