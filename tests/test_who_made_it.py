"""Issue 28, item 7: who made a result and what it was made from are kept; a new session starts on the latest model.

Maps made by Layers (and Compare, through the same service) are listed under the user's name; a saved view
says what it was made from; a new session with nothing picked is offered the workspace's latest model.
"""

from __future__ import annotations

import hashlib

import numpy as np
from app_testing import APP, TIMEOUT, no_exception, page_path
from streamlit.testing.v1 import AppTest

from featlib import models, provenance
from featlib.app import state
from featlib.jobs.runner import InlineRunner
from featlib.maps import embed
from featlib.service import Service
from featlib.share.views import View
from featlib.store import Workspace

USER = "featlib.user_name"  # featlib.app.identity's session key


def _slot(kind: str, ident: str) -> str:
    return hashlib.sha1(f"{kind}/{ident}".encode()).hexdigest()[:12]


def test_the_service_records_its_user_as_the_maker_of_the_maps_it_stores(tmp_path):
    ws = Workspace(tmp_path / "ws")
    service = Service(ws, InlineRunner(), creator="carol")
    rng = np.random.default_rng(0)
    outputs, labels = rng.normal(size=(40, 5)).astype("float32"), np.repeat(np.arange(4), 10)
    made = service.embedding(
        outputs, "rep/m/d/train/dense/function/0-1", labels, sample_size=None, params=embed.PCAParams()
    )
    assert made is not None
    (item,) = [i for i in ws.items() if i.kind == "embedding"]
    assert item.creator == "carol" and item.maker == "carol"


def test_maps_made_on_the_layers_page_are_listed_by_the_user(tmp_path, monkeypatch, model):
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    record = models.save_model(ws, model, "mlp", dataset="digits", creator="alice")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[USER] = "dave"
    at.session_state[state.MODEL] = record.id
    at = no_exception(at.run())
    at = no_exception(at.switch_page(page_path("layers")).run())
    maps = [i for i in ws.items() if i.kind == "embedding"]
    assert maps, "the Layers page stored no map"
    assert {i.maker for i in maps} == {"dave"}, [(i.name, i.maker) for i in maps]


def test_a_saved_view_says_what_it_was_made_from(tmp_path, monkeypatch, model):
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    record = models.save_model(ws, model, "mlp", dataset="digits", creator="alice")
    query = View(record.id, "digits", "dense_1", "function", "train", 500).to_query()
    saved, _ = ws.save_view("explore", query, "my view", "alice")
    made = provenance.of_view(saved.query, saved.created, {record.id: record.fingerprint})
    assert made["model_fingerprint"] == record.fingerprint and made["dataset_fingerprint"] == "digits"
    assert made["parameters"]["layer"] == "dense_1" and made["made_at"] == saved.created

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at = no_exception(at.run())
    at = no_exception(at.switch_page(page_path("workspace")).run())
    shown = "\n".join(m.value for m in at.markdown).replace("\\", "")
    assert "No provenance recorded" not in shown, shown
    assert f"model fingerprint: {record.fingerprint}" in shown and "layer dense_1" in shown, shown


def test_a_new_session_is_offered_the_latest_model_and_its_dataset(tmp_path, monkeypatch, model):
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    models.save_model(ws, model, "older", dataset="digits")
    latest = models.save_model(ws, model, "latest-mlp", dataset="digits", meta={"dataset_fingerprint": "x"})
    at = no_exception(AppTest.from_file(APP, default_timeout=TIMEOUT).run())
    assert at.session_state[state.MODEL] == latest.id and at.session_state[state.DATASET] == "digits"
    said = " ".join(i.value for i in at.info).replace("\\", "")
    assert "Picked the workspace's latest model, latest-mlp, and its dataset" in said, said
    at = no_exception(at.switch_page(page_path("representations")).run())
    assert "No model picked yet" not in " ".join(i.value for i in at.info)


def test_a_session_that_picked_nothing_in_an_empty_workspace_is_told_to_pick(tmp_path, monkeypatch):
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    at = no_exception(AppTest.from_file(APP, default_timeout=TIMEOUT).run())
    at = no_exception(at.switch_page(page_path("explore")).run())
    assert "No model picked yet" in " ".join(i.value for i in at.info)
