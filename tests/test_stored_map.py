"""A restarted server's Explore map drawn before Keras has loaded (issue 24, item 2; :mod:`featlib.app.stored_map`).

What the page would draw once Keras has loaded is drawn from what is stored (the model's description, its map and
predictions), point for point and colour for colour; where anything is missing or a link is to be read, nothing is
drawn and the page waits for Keras as before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from app_testing import APP, TIMEOUT, no_exception, page_path
from cli_testing import cli
from streamlit.testing.v1 import AppTest

from featlib import first_look, models
from featlib.jobs.runner import InlineRunner
from featlib.read import model_description
from featlib.service import Service
from featlib.store import Workspace


def _stored_map_script():
    import streamlit as st

    from featlib.app import stored_map

    st.session_state["drawn"] = stored_map.show() is not None


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, model, digits):
    """A workspace whose latest model was prepared as a server's first look: described, mapped, predicted."""
    workspace = Workspace(tmp_path_factory.mktemp("stored-map") / "ws")
    models.save_model(workspace, model, "prepared", dataset="digits", meta={"dataset_fingerprint": digits.fingerprint})
    made = first_look.prepare(Service(workspace, InlineRunner(), creator=first_look.CREATOR), digits)
    assert made is not None and model_description.of_record(workspace.get_model(made.model.id)) is not None
    return workspace, made


def _traces(at: AppTest, key: str) -> list[dict]:
    [chart] = [c for c in at.get("plotly_chart") if c.key == key]
    fields = ("name", "x", "y", "customdata", "marker", "hovertemplate")
    return [{k: trace.get(k) for k in fields} for trace in json.loads(chart.proto.spec)["data"]]


def test_the_stored_map_is_the_page_s_map_point_for_point(prepared, monkeypatch):
    workspace, made = prepared
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(workspace.root))
    early = no_exception(AppTest.from_function(_stored_map_script, default_timeout=TIMEOUT).run())
    assert early.session_state["drawn"]
    said = " ".join(c.value for c in early.caption)
    assert f"**prepared** · layer **{made.layer}**" in said and "the stored UMAP map" in said, said
    page = no_exception(AppTest.from_file(APP, default_timeout=TIMEOUT).run())
    page.switch_page(page_path("explore")).run()
    no_exception(page)
    stored, drawn = _traces(early, "stored-map"), _traces(page, "map")
    assert len(stored) >= 10 and stored == drawn  # every class's points, at the same places, in the same colours


def test_home_draws_the_map_explore_opens_on(prepared, monkeypatch):
    """A returning visitor's first page shows the map, without Keras: the Explore page's own, point for point."""
    workspace, made = prepared
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(workspace.root))
    at = no_exception(AppTest.from_file(APP, default_timeout=TIMEOUT).run())
    said = " ".join(c.value for c in at.caption)
    assert f"**prepared** · layer **{made.layer}**" in said and " · UMAP · " in said, said
    home = _traces(at, "home-map")
    at.switch_page(page_path("explore")).run()
    no_exception(at)
    assert len(home) >= 10 and home == _traces(at, "map")


def test_home_draws_no_map_for_an_empty_workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    at = no_exception(AppTest.from_file(APP, default_timeout=TIMEOUT).run())
    assert not at.get("plotly_chart") and not [h for h in at.subheader if h.value == "Your map"]
    assert any("holds no model yet" in i.value for i in at.info)


@pytest.mark.parametrize("missing", ["description", "layer's map", "link"])
def test_nothing_is_drawn_where_something_is_missing(prepared, monkeypatch, missing):
    workspace, made = prepared
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(workspace.root))
    at = AppTest.from_function(_stored_map_script, default_timeout=TIMEOUT)
    record = workspace.get_model(made.model.id)
    if missing == "description":
        workspace.merge_model_meta(record.id, {model_description.META_KEY: None})
    elif missing == "layer's map":  # another layer, never mapped
        at.session_state["featlib.layer"] = model_description.of_record(record).names()[1]
    else:  # a link's values are read against the loaded model first
        at.query_params["model"] = record.id
    try:
        no_exception(at.run())
        assert at.session_state["drawn"] is False
        assert not at.get("plotly_chart")
    finally:
        workspace.merge_model_meta(record.id, {model_description.META_KEY: record.meta[model_description.META_KEY]})


def test_featlib_prepare_finds_a_prepared_workspace_without_tensorflow(prepared):
    """``make run``'s ``featlib prepare`` on a prepared workspace: a fresh process finds everything stored and
    never imports TensorFlow (the check a server's restart and every ``make run`` makes)."""
    workspace, made = prepared
    check = (
        "import sys; from featlib.cli import main; rc = main(['prepare']); "
        "print(rc, 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    env = dict(os.environ, FEATLIB_WORKSPACE=str(workspace.root), FEATLIB_FIRST_LOOK="1")
    done = subprocess.run([sys.executable, "-c", check], env=env, capture_output=True, text=True, timeout=300)
    assert done.stdout.split() == ["0", "False", "False"], (done.stdout, done.stderr[-2000:])
    assert f"first look found stored: prepared, layer {made.layer}" in done.stderr, done.stderr[-2000:]


def test_featlib_prepare_is_off_with_the_first_look(prepared, monkeypatch):
    workspace, _ = prepared
    monkeypatch.setenv("FEATLIB_FIRST_LOOK", "0")
    before = [(r.id, r.meta) for r in workspace.list_models()]
    rc, _, err = cli("--workspace", str(workspace.root), "prepare")
    assert rc == 0 and "FEATLIB_FIRST_LOOK is off: nothing prepared" in err, err
    assert [(r.id, r.meta) for r in workspace.list_models()] == before
