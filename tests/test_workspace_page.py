"""Streamlit AppTest runs of the Workspace page: listing, filter, rename, note, delete with confirmation."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from app_testing import APP, page_path
from streamlit.testing.v1 import AppTest

from featlib import models
from featlib.store import Workspace

PAGE = page_path("workspace")


def slot(kind: str, ident: str) -> str:
    return hashlib.sha1(f"{kind}/{ident}".encode()).hexdigest()[:12]


@pytest.fixture
def shared(tmp_path, monkeypatch):
    """A workspace where alice made a model with a representation and a map, and bob a model."""
    root = tmp_path / "ws"
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(root))
    ws = Workspace(root)
    a = models.save_model(
        ws,
        models.build_mlp((4,), hidden=(3,), num_classes=2, seed=0),
        "alice-mlp",
        dataset="digits",
        test_accuracy=0.8,
        creator="alice",
    )
    rep = f"rep/{a.fingerprint}/dsfp/train/dense/function/0-1"
    ws.save_array("representation", rep, np.ones((5, 3), "float32"), model_id=a.id, creator="alice")
    ws.save_array(
        "embedding",
        f"emb/{rep}/sample=None/seed=0/umap-n_neighbors=15",
        np.ones((5, 3)),
        model_id=a.id,
        creator="alice",
        meta={"knn_accuracy": 0.75},
    )
    b = models.save_model(
        ws, models.build_mlp((4,), hidden=(3,), num_classes=2, seed=1), "bob-mlp", dataset="digits", creator="bob"
    )
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["featlib.user_name"] = "alice"  # changes to bob's items ask first (tests/test_audit_trash.py)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return ws, a, b, at


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_lists_every_item_with_maker_figures_and_disk_use(shared):
    ws, a, b, at = shared
    text = markdown(at)
    assert "**alice\\-mlp** · Model · by **alice**" in text and "test acc **0.800**" in text
    assert "**bob\\-mlp** · Model · by **bob**" in text and "kNN acc **0.750**" in text
    assert {m.label: m.value for m in at.metric}["models"] == "2"
    assert any("4 of 4 items" in c.value for c in at.caption)


def test_filter_and_sort(shared):
    ws, a, b, at = shared
    next(t for t in at.text_input if t.label == "Filter").set_value("bob").run()
    assert any("1 of 4 items" in c.value for c in at.caption)
    next(t for t in at.text_input if t.label == "Filter").set_value("").run()
    next(s for s in at.selectbox if s.label == "Sort by").set_value("name").run()
    names = [m.value.split("**")[1] for m in at.markdown if " · by **" in m.value]
    assert names == sorted(names, key=str.lower)


def test_rename_clash_is_explained_and_rename_and_note_are_stored(shared):
    ws, a, b, at = shared
    s = slot("model", a.id)
    at.text_input(key=f"name-{s}").set_value("bob-mlp")
    at.button(key=f"rename-button-{s}").click().run()
    assert any("Another model is already named 'bob-mlp'" in e.value.replace("\\", "") for e in at.error)
    assert ws.get_model(a.id).name == "alice-mlp"
    at.text_input(key=f"name-{s}").set_value("alice-best")
    at.button(key=f"rename-button-{s}").click().run()
    assert ws.get_model(a.id).name == "alice-best"
    at.text_area(key=f"note-{s}").set_value("3 epochs, SGD")
    at.button(key=f"note-button-{s}").click().run()
    assert ws.get_model(a.id).note == "3 epochs, SGD"
    assert any("3 epochs, SGD" in c.value for c in at.caption)


def test_delete_asks_then_removes_the_model_and_its_results_only(shared):
    ws, a, b, at = shared
    at.button(key=f"delete-{slot('model', a.id)}").click().run()
    assert "With it go the 2 result(s) made from it" in markdown(at)
    assert len(ws.items()) == 4  # nothing deleted before the confirmation
    at.button(key="confirm-delete").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert [(i.kind, i.name) for i in ws.items()] == [("model", "bob-mlp")]
    assert not list((ws.root / "arrays").rglob("*.npy"))


def test_a_map_made_on_explore_is_named_by_what_it_is_and_opens_its_view(app, tmp_path):
    from test_app import train_small_model

    at = train_small_model(app.run())
    at.switch_page(page_path("explore")).run()
    at.radio(key="map_reducer").set_value("pca")
    at = at.run()
    assert not at.exception, [e.value for e in at.exception]
    at.switch_page(PAGE).run()
    maps = {i.name: i for i in Workspace(tmp_path / "ws").items() if i.kind == "embedding"}
    assert "PCA map · mlp-digits · dense_1 · function · 1,437 points" in maps, list(maps)
    item = maps["PCA map · mlp-digits · dense_1 · function · 1,437 points"]
    assert "**PCA map · mlp\\-digits · dense_1 · function · 1,437 points** · Map" in markdown(at)
    at.button(key=f"view-{slot('embedding', item.id)}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.radio(key="map_reducer").value == "pca"  # the Explore page, on the map's own choices
    assert any("layer **dense\\_1**" in c.value or "layer **dense_1**" in c.value for c in at.caption)
