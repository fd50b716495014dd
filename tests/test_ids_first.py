"""Issue 26, item 3: a link, saved view, bundle or CLI command opens the model it names by id, never another.

User B renamed a model to the id of user A's model, and A's shared link then opened B's model. Now ids are
looked up before names everywhere (the store, the Workspace page's deletes, dataset strings), no name may have
the shape of an id (models, datasets, saved views' titles, results' titles, bundles' names), and a link, saved
view or bundle pins the model's fingerprint: another model found under its id is refused, naming both.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from app_testing import APP, TIMEOUT, no_exception, page_path
from streamlit.testing.v1 import AppTest

from featlib import models
from featlib.cli import main as cli_main
from featlib.datasets import from_arrays
from featlib.errors import BundleError, ModelMismatchError, TextError
from featlib.share import bundle
from featlib.share.views import View, ViewError
from featlib.store import Workspace


def _model_row(ws: Workspace, name: str, fingerprint: str):
    return ws.save_model_file(b"not read here", name, fingerprint=fingerprint, architecture="x", dataset="digits")


def _tiny_dataset(name: str, value: int = 0):
    x = np.full((8, 2, 2), value, "uint8")
    return from_arrays(x, np.array([0, 1] * 4), name, ("a", "b"), x, np.array([0, 1] * 4))


def _force_name(ws: Workspace, model_id: str, name: str) -> None:
    """What an older workspace may hold: a name set before the rule (by SQL, as the old rename did)."""
    with sqlite3.connect(ws.index_path) as db:
        db.execute("UPDATE models SET name = ? WHERE id = ?", (name, model_id))


@pytest.fixture
def two(tmp_path):
    ws = Workspace(tmp_path / "ws")
    a = _model_row(ws, "alice-mlp", "a" * 16)
    b = _model_row(ws, "bob-mlp", "b" * 16)
    return ws, a, b


def test_a_model_cannot_be_renamed_to_another_models_id(two):
    ws, a, b = two
    with pytest.raises(TextError, match="must not look like an id") as caught:
        ws.rename("model", b.id, a.id)
    assert a.id in str(caught.value) and "hexadecimal digits" in str(caught.value)  # the rule and the name
    assert ws.get_model(b.id).name == "bob-mlp"


@pytest.mark.parametrize(
    "kind, name",
    [
        ("model", "3f2a9c1d7e4b"),  # a model id
        ("model", "DEADBEEF0042"),  # upper case reads the same
        ("dataset", "upload:0123456789abcdef"),  # a dataset key
        ("dataset", "0123ab"),  # a fingerprint prefix the CLI accepts
        ("view", "k3x9q2ab"),  # a saved view's id
        ("embedding", "emb/rep/x/y"),  # a result's key
    ],
)
def test_no_item_name_may_have_the_shape_of_an_id(tmp_path, kind, name):
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(TextError, match="must not look like an id"):
        if kind == "model":
            _model_row(ws, name, "c" * 16)
        elif kind == "dataset":
            ws.save_dataset(_tiny_dataset(name))
        elif kind == "view":
            query = {"model": "m", "dataset": "digits", "layer": "dense"}
            ws.save_view("explore", query, name)
        else:
            ws.rename(kind, "emb/whatever", name)


@pytest.mark.parametrize("title", ["baseline", "dropouts", "relu net"])
def test_a_view_title_of_eight_plain_letters_is_not_taken_for_an_id(tmp_path, title):
    ws = Workspace(tmp_path / "ws")
    saved, _ = ws.save_view("explore", {"model": "m", "dataset": "digits", "layer": "dense"}, title)
    assert ws.get_view(saved.id).title == title


def test_ids_are_looked_up_before_names_in_an_older_workspace(two):
    ws, a, b = two
    _force_name(ws, b.id, a.id)  # B took A's id as its name before the rule existed
    assert ws.get_model(a.id).id == a.id  # was B: names were matched first
    assert ws.get_item("model", a.id).id == a.id
    ws.delete("model", a.id)  # deletes A, not B
    assert [m.id for m in ws.list_models()] == [b.id]


def test_a_pinned_fingerprint_refuses_another_model_naming_both(two):
    ws, a, b = two
    with pytest.raises(ModelMismatchError) as caught:
        ws.get_model(a.id, fingerprint=b.fingerprint)
    message = str(caught.value)
    assert "expected" in message and b.fingerprint in message and a.fingerprint in message
    assert ws.get_model(a.id, fingerprint=a.fingerprint).id == a.id


def test_a_link_carries_the_model_fingerprint_and_reads_it_back():
    view = View("3f2a9c1d7e4b", "digits", "dense_1", fingerprint="0123456789abcdef")
    assert view.to_query()["model_fp"] == "0123456789abcdef"
    assert View.from_query(view.to_query()) == view
    assert "model_fp" not in View("m", "digits", "dense_1").to_query()  # older links stay as they were
    with pytest.raises(ViewError, match="16 hexadecimal digits"):
        View.from_query({"model": "m", "dataset": "digits", "layer": "d", "model_fp": "../../etc"})


def test_a_bundle_of_a_pinned_view_refuses_another_model(two):
    ws, a, b = two
    view = View(a.id, "digits", "dense_1", fingerprint=b.fingerprint)
    with pytest.raises(BundleError, match="expected the model with fingerprint"):
        bundle.export_bundle(ws, view)


def test_dataset_strings_take_a_fingerprint_before_a_name(tmp_path):
    ws = Workspace(tmp_path / "ws")
    first, second = _tiny_dataset("first"), _tiny_dataset("second", 1)
    ws.save_dataset(first)
    ws.save_dataset(second)
    with sqlite3.connect(ws.index_path) as db:  # an older workspace: "second" renamed to first's fingerprint
        db.execute("UPDATE datasets SET name = ? WHERE fingerprint = ?", (first.fingerprint, second.fingerprint))
    assert [r["fingerprint"] for r in ws.find_datasets(first.fingerprint)] == [first.fingerprint]
    assert [r["fingerprint"] for r in ws.find_datasets(first.fingerprint[:8])] == [first.fingerprint]


def test_the_cli_opens_a_model_by_id_before_a_name(tmp_path, model, capsys):
    ws = Workspace(tmp_path / "ws")
    a = models.save_model(ws, model, "alice-mlp", dataset="digits")
    b = models.save_model(ws, models.build_mlp((64,), hidden=(5,), seed=3), "bob-small", dataset="digits")
    _force_name(ws, b.id, a.id)
    assert cli_main(["--workspace", str(ws.root), "layers", a.id]) == 0
    out = capsys.readouterr().out
    assert "dense_1" in out and "(None, 5)" not in out  # A's layers (128, 64), not B's (5)


def test_a_shared_link_never_opens_another_model(tmp_path, monkeypatch, model):
    """The example of the issue, in the dashboard: B's model under A's id is never shown for A's link."""
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    a = models.save_model(ws, model, "alice-mlp", dataset="digits", creator="alice")
    b = models.save_model(ws, models.build_mlp((64,), seed=5), "bob-mlp", dataset="digits", creator="bob")
    link = {"model": a.id, "dataset": "digits", "layer": "dense_1", "reducer": "pca", "model_fp": b.fingerprint}
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in link.items():
        at.query_params[key] = value
    at = no_exception(at.run())
    at = no_exception(at.switch_page(page_path("explore")).run())
    errors = " ".join(e.value for e in at.error)
    assert "not the one this was made with" in errors and a.fingerprint in errors and b.fingerprint[:16] in errors

    _force_name(ws, b.id, a.id)  # an older workspace: B renamed to A's id before the rule
    del link["model_fp"]  # a link made before links pinned the fingerprint
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in link.items():
        at.query_params[key] = value
    at = no_exception(no_exception(at.run()).switch_page(page_path("explore")).run())
    shown = " ".join(c.value for c in at.caption)
    assert "alice" in shown and "bob" not in shown, shown[:300]  # A's model, not B's
    query = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert query["model"] == a.id and query["model_fp"] == a.fingerprint  # the link it offers now pins A
