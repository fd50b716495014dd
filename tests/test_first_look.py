"""The server prepares the first look before anyone asks (issue 24, item 2): on an empty workspace it trains
the seed MLP and maps its default layer as jobs on its cluster, with the keys of the Explore page's defaults, so
that the first visitor's Explore page shows that map without computing anything (and says what it shows)."""

from __future__ import annotations

import socket

from app_testing import no_exception, page_path

from featlib import datasets, first_look, keys, models
from featlib.app import job_watch, start_up
from featlib.jobs.runner import InlineRunner
from featlib.service import Service
from featlib.store import Workspace


def test_prepare_trains_the_seed_mlp_then_maps_its_default_layer_once(tmp_path):
    workspace = Workspace(tmp_path / "ws")
    service = Service(workspace, InlineRunner(), creator=first_look.CREATOR)
    digits = datasets.load_digits()
    made = first_look.prepare(service, digits)
    assert made is not None and made.trained
    [record] = workspace.list_models()
    assert (record.name, record.creator, record.id) == (first_look.FIRST_MODEL, first_look.CREATOR, made.model.id)
    assert record.test_accuracy > 0.8, record.test_accuracy  # the seed MLP on the digits: a model worth mapping
    model = workspace.load_model(record)
    assert made.layer == models.default_layer(model)
    assert workspace.load_array("embedding", made.emb_key) is not None
    assert keys.read_key(made.emb_key).layer == made.layer
    again = first_look.prepare(service, digits)  # a later start: nothing trained, the map found stored
    assert again is not None and not again.trained and again.emb_key == made.emb_key
    assert len(workspace.list_models()) == 1
    other = datasets.load_builtin("digits")
    assert first_look.prepare(service, other) is not None  # the same data, loaded again: the same fingerprint


def test_a_latest_model_of_other_data_is_left_to_its_visitors(tmp_path, model):
    workspace = Workspace(tmp_path / "ws")
    models.save_model(workspace, model, "theirs", dataset="fashion_mnist", creator="ann")
    record = workspace.list_models()[0]
    assert record.meta.get("dataset_fingerprint") != datasets.load_digits().fingerprint
    service = Service(workspace, InlineRunner(), creator=first_look.CREATOR)
    assert first_look.prepare(service, datasets.load_digits()) is None
    assert [r.name for r in workspace.list_models()] == ["theirs"]


def test_the_first_visitor_s_explore_page_shows_the_prepared_map_and_says_so(app, monkeypatch, tmp_path):
    monkeypatch.setenv("FEATLIB_FIRST_LOOK", "1")
    start_up._begin.clear()
    job_watch._start.clear()  # this server's own engine (on the test process's cluster), on this test's workspace
    try:
        at = no_exception(app.run())
        state = start_up._begin(str(tmp_path / "ws"))
        assert state.done.wait(240), "the first look was not ready in 4 minutes"
        assert state.error is None, state.error
        made = state.result
        at.switch_page(page_path("explore")).run()
        no_exception(at)
        notes = " ".join(i.value for i in at.info).replace("\\", "")  # the markdown escapes of plain text
        assert f"Picked {first_look.FIRST_MODEL}, the seed MLP (128-64) the server trained" in notes, notes
        assert not [e.value for e in at.error]
        workspace = Workspace(tmp_path / "ws")
        maps = [(j.kind, j.creator) for j in workspace.jobs.list() if j.kind == "reduce"]
        assert maps == [("reduce", first_look.CREATOR)], maps  # the visitor's map is the prepared one
        assert workspace.load_array("embedding", made.emb_key) is not None
    finally:
        start_up._begin.clear()
        job_watch._start.clear()


def test_a_restarted_server_s_explore_page_draws_the_stored_map_while_its_cluster_still_starts(
    app, monkeypatch, tmp_path, model, digits
):
    """A later start (issue 24, item 2): what the first start prepared is stored, so the Explore page draws it
    without waiting for the job cluster. Here the cluster's scheduler accepts connections and never answers: its
    start is still under way when the map has been drawn."""
    from featlib.jobs import engine

    workspace = Workspace(tmp_path / "ws")
    models.save_model(workspace, model, "prepared", dataset="digits", meta={"dataset_fingerprint": digits.fingerprint})
    made = first_look.prepare(Service(workspace, InlineRunner(), creator=first_look.CREATOR), digits)
    assert made is not None and not made.trained
    credentials = engine.temporary_credentials()
    for name, field in zip(engine.TLS_ENV, ("tls_ca_file", "tls_client_cert", "tls_client_key")):
        (tmp_path / name).write_text(getattr(credentials, field))
        monkeypatch.setenv(name, str(tmp_path / name))
    with socket.create_server(("127.0.0.1", 0)) as silent:  # a scheduler that never answers
        monkeypatch.setenv("FEATLIB_SCHEDULER", f"tls://127.0.0.1:{silent.getsockname()[1]}")
        job_watch._start.clear()
        try:
            at = no_exception(app.run())
            notes = " ".join(i.value for i in at.info).replace("\\", "")
            assert "Picked the workspace's latest model, prepared" in notes, notes  # said on the first page
            at.switch_page(page_path("explore")).run()
            still_starting = not job_watch.starting().done.is_set()
            no_exception(at)
            assert not [e.value for e in at.error]
            assert any("**prepared** · layer" in c.value for c in at.caption)  # what the map shows
            assert "map" in [c.key for c in at.get("plotly_chart")], "no map drawn"
            assert still_starting, "the page waited for the job cluster"
        finally:
            job_watch._start.clear()
