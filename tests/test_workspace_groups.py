"""Issue 28, item 9: the Workspace page groups items by model and dataset, collapses near-identical ones, offers a
table, and deletes many at once through the store's own delete."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from app_testing import APP, no_exception, page_path
from streamlit.testing.v1 import AppTest

from featlib import datasets, keys, models
from featlib.app import catalog
from featlib.maps import embed
from featlib.store import Workspace

LAYERS = ("dense", "activation", "dense_1", "activation_1")


@pytest.fixture
def wall(tmp_path, monkeypatch):
    """Two models on two datasets; the first with the maps of one Layers pass (4 layers) and a map of its own."""
    root = tmp_path / "ws"
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(root))
    ws = Workspace(root)
    digits = datasets.load_digits()
    a = models.save_model(
        ws,
        models.build_mlp((64,), seed=0),
        "mlp-a",
        dataset="digits",
        creator="alice",
        meta={"dataset_fingerprint": digits.fingerprint},
    )
    b = models.save_model(
        ws,
        models.build_mlp((784,), seed=1),
        "mlp-b",
        dataset="mnist",
        creator="bob",
        meta={"dataset_fingerprint": "f" * 16},
    )
    layer_set = keys.layer_set_key(a.fingerprint, digits.fingerprint, "train", "0-1", 500, 0)
    for layer in LAYERS:
        rep = keys.layer_key(layer_set, layer)
        ws.save_array(
            "embedding",
            keys.embedding_key(rep, 500, 0, embed.PCAParams()),
            np.ones((5, 3)),
            model_id=a.id,
            creator="alice",
            meta={"rep": rep},
        )
    rep = keys.representation_key(b.fingerprint, "f" * 16, "train", "dense_1", "function", "0-1")
    ws.save_array("representation", rep, np.ones((5, 3), "float32"), model_id=b.id, creator="bob")
    return ws, a, b


def _open(view: str | None = None) -> AppTest:
    at = no_exception(AppTest.from_file(APP, default_timeout=120).run())
    at = no_exception(at.switch_page(page_path("workspace")).run())
    if view is not None:
        next(g for g in at.get("button_group") if g.key == "workspace-layout").set_value(view)
        at = no_exception(at.run())
    return at


def test_items_are_grouped_by_model_and_dataset_and_a_layers_pass_is_one_row(wall):
    ws, a, b = wall
    at = _open()
    labels = [e.label.replace("\\", "") for e in at.expander]
    assert any(label.startswith("mlp-a · digits — 5 items") for label in labels), labels
    assert any(label.startswith("mlp-b · mnist — 2 items") for label in labels), labels
    shown = "\n".join(m.value for m in at.markdown).replace("\\", "")
    assert "PCA maps of 4 layers, all layers in one pass (dense, activation, dense_1, activation_1)" in shown, shown
    assert any(b.label == "Delete these 4…" for b in at.button)


def test_a_layers_pass_that_crosses_a_second_is_named_in_the_models_order(wall):
    """The listing is newest first; a pass whose last map is stored a second later still reads in layer order."""
    ws, _, _ = wall
    maps = [i for i in ws.items() if i.kind == "embedding"]
    second = {layer: "2026-12-07 12:22:34+00:00" for layer in LAYERS} | {"activation_1": "2026-12-07 12:22:35+00:00"}
    crossed = [dataclasses.replace(m, created=second[m.parameters["layer"]]) for m in maps]
    newest_first = sorted(crossed, key=lambda m: m.created, reverse=True)
    assert [m.parameters["layer"] for m in newest_first][0] == "activation_1"
    assert catalog.family_title(newest_first) == (
        "PCA maps of 4 layers, all layers in one pass (dense, activation, dense_1, activation_1)"
    )


def test_the_table_lists_every_item_and_deletes_the_selected_ones_at_once(wall):
    ws, a, b = wall
    at = _open("table")
    frame = at.dataframe[0].value
    assert len(frame) == 7 and set(frame["model"]) == {"mlp-a", "mlp-b"}, frame
    maps = [i for i, kind in enumerate(frame["kind"]) if kind == "Map"][:2]
    at.session_state["workspace-table"] = {"selection": {"rows": maps, "columns": [], "cells": []}}
    at = no_exception(at.run())
    next(b for b in at.button if b.label == "Delete the 2 selected…").click()
    at = no_exception(at.run())
    assert len(ws.items()) == 7  # nothing deleted before the confirmation
    at.button(key="confirm-bulk-delete").click()
    at = no_exception(at.run())
    assert len([i for i in ws.items() if i.kind == "embedding"]) == 2


def test_deleting_many_goes_through_the_store_and_keeps_its_checks(wall):
    ws, a, b = wall
    upload = datasets.from_arrays(
        np.zeros((20, 8, 8), "uint8"),
        np.arange(20) % 2,
        name="pairs",
        x_test=np.zeros((4, 8, 8), "uint8"),
        y_test=np.arange(4) % 2,
    )
    ws.save_dataset(upload)
    models.save_model(
        ws,
        models.build_mlp((64,), num_classes=2, seed=2),
        "on-pairs",
        dataset="pairs",
        meta={"dataset_fingerprint": upload.fingerprint},
    )
    user = next(r for r in ws.list_models() if r.name == "on-pairs")
    # The dataset is still used by a model that is not deleted: refused, the rest deleted; a map of a deleted
    # model (gone with it) is no error.
    maps = [(i.kind, i.id) for i in ws.items() if i.kind == "embedding"]
    deleted, refused = catalog.delete_many(ws, [("dataset", upload.fingerprint), ("model", a.id), *maps])
    assert refused and "in use" in refused[0], refused
    assert {i.kind for i in ws.items()} == {"model", "dataset", "representation"}
    assert upload.fingerprint in {i.id for i in ws.items()}
    # With its model, the dataset goes too (the model first).
    deleted, refused = catalog.delete_many(ws, [("dataset", upload.fingerprint), ("model", user.id)])
    assert not refused and upload.fingerprint not in {i.id for i in ws.items()}


def test_a_saved_view_is_grouped_with_the_items_of_its_model_and_dataset(wall):
    ws, a, b = wall
    ws.save_view("explore", {"model": a.id, "dataset": "digits", "layer": "dense_1"}, "first look", creator="alice")
    at = _open()
    labels = [e.label.replace("\\", "") for e in at.expander]
    assert any(label.startswith("mlp-a · digits — 6 items") for label in labels), labels  # not a group of its own
    assert not any("Digits 8×8" in label for label in labels), labels
