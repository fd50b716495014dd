"""Issue 28, item 11 (the pieces of the Model, Layers, Jobs pages and the sidebar): short names, a point index that
follows, jobs named by their model and layer, and a dataset that failed to load not named as current."""

from __future__ import annotations

import numpy as np
from app_testing import APP, TIMEOUT, no_exception, page_path
from streamlit.testing.v1 import AppTest

from featlib import datasets, keys, models
from featlib.app import job_list, layers, resources, state, widgets
from featlib.store import JobRow, Workspace

LONG = "t10k-images-idx3-ubyte.gz + t10k-labels-idx1-ubyte.gz (MNIST-like IDX, 10 classes, 10,000 images"


def test_the_default_upload_name_of_an_idx_pair_is_short():
    mnist_like = datasets.from_arrays(
        np.empty((0,)), [], "m", x_test=np.zeros((20, 28, 28), "uint8"), y_test=np.arange(20) % 10
    )
    name = datasets.default_upload_name(["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"], mnist_like, "IDX")
    assert name == "t10k-images-idx3-ubyte.gz + labels (MNIST-like IDX, 10 classes, 20 images, 28×28)"
    assert len(name) < 85


def test_a_long_name_is_cut_in_the_sidebar_with_the_whole_name_in_its_tooltip(tmp_path, monkeypatch, model):
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    record = models.save_model(Workspace(tmp_path / "ws"), model, LONG, dataset="digits")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.MODEL] = record.id
    at = no_exception(at.run())
    (summary,) = [m for m in at.sidebar.markdown if "**Model**" in m.value]
    line = summary.value.replace("\\", "").split("**Model** ", 1)[1].split("  \n")[0]
    assert len(line) <= widgets.SIDEBAR_CHARS and "…" in line, line
    assert LONG in summary.proto.help.replace("\\", ""), summary.proto.help


def test_a_dataset_that_failed_to_load_is_not_named_as_current(tmp_path, monkeypatch):
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    loader = resources.dataset

    def offline(key: str):
        if key == "mnist":
            raise datasets.DatasetUnavailableError("MNIST cannot be downloaded: no network.")
        return loader(key)

    monkeypatch.setattr(resources, "dataset", offline)
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.DATASET] = "mnist"
    at = no_exception(at.run())
    at = no_exception(at.switch_page(page_path("model")).run())
    assert "cannot be downloaded" in " ".join(e.value for e in at.error)
    sidebar = " ".join(m.value for m in at.sidebar.markdown).replace("\\", "")
    assert "not loaded" in sidebar, sidebar


def test_the_layers_point_index_shows_the_point_followed(tmp_path, monkeypatch, model):
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    record = models.save_model(Workspace(tmp_path / "ws"), model, "mlp", dataset="digits")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.MODEL] = record.id
    at = no_exception(at.run())
    at = no_exception(at.switch_page(page_path("layers")).run())
    first = at.number_input(key=layers.POINT_KEY).value
    chosen = int(next(i for i in range(300, 1437) if i != first))
    at.session_state[layers.FOLLOW] = {"context": (record.id, "digits", "train"), "indices": [chosen, chosen + 1]}
    at = no_exception(at.run())
    assert at.number_input(key=layers.POINT_KEY).value == chosen


def test_a_jobs_what_names_its_model_and_layer():
    rep = keys.representation_key("fp-model", "fp-data", "train", "dense_1", "function", "0-1")
    layer_set = keys.layer_set_key("fp-model", "fp-data", "train", "0-1", 2_000, 0)
    names = {"fp-model": "mlp-digits"}
    assert job_list.subject(keys.metrics_key(rep, 2_000), names) == "mlp-digits · dense_1"
    assert job_list.subject(keys.metrics_key(keys.layer_key(layer_set, "conv"), 2_000), names) == "mlp-digits · conv"
    assert job_list.subject("train/fp-data/token", names) == ""
    job = keys.layer_set_job_key("fp-model", "fp-data", "train", "0-1", 2_000)  # reads every layer at once
    assert job_list.subject(job, names) == "mlp-digits · every layer"  # not its sample size taken for a layer
    assert job_list.subject(keys.layer_set_job_key("fp-model", "fp-data", "train", "0-1", 2_000, "mean"), names) == (
        "mlp-digits · every layer"
    )
    row = JobRow(
        "j1",
        keys.metrics_key(rep, 2_000),
        "metrics",
        "scoring 2,000 points",
        "",
        "done",
        1.0,
        "",
        "",
        None,
        None,
        "",
        {},
    )
    frame = job_list.frame([row], names)
    assert frame["job"][0] == "scoring 2,000 points · mlp-digits · dense_1"
    assert list(frame.columns)[:4] == ["status", "job", "by", "progress"]  # what matters first, the rest after


def test_the_exports_make_their_files_without_calling_streamlit_off_the_script_thread(tmp_path, monkeypatch, model):
    """A download's bytes are made outside the page's run (no session, no URL): they must not call Streamlit, which
    logs ``missing ScriptRunContext!`` there (six times per PNG export before)."""
    import logging
    import threading

    from featlib.app import exporting

    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    record = models.save_model(Workspace(tmp_path / "ws"), model, "mlp", dataset="digits")
    made: dict = {}
    monkeypatch.setattr(exporting, "_button", lambda label, make, *a, **k: made.setdefault(label, make))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.MODEL] = record.id
    at = no_exception(at.run())
    at = no_exception(at.switch_page(page_path("explore")).run())
    at.radio(key="map_reducer").set_value("pca")
    at = no_exception(at.run())
    assert "PNG image" in made, list(made)

    warnings: list[str] = []

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            warnings.append(record.getMessage())

    logger = logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context")
    handler = Catch()
    logger.addHandler(handler)
    try:
        for label in ("PNG image", "CSV", "Interactive HTML"):
            out: dict = {}
            worker = threading.Thread(target=lambda m=made[label], o=out: o.setdefault("bytes", m()))
            worker.start()
            worker.join()
            assert out.get("bytes"), label
    finally:
        logger.removeHandler(handler)
    assert not [w for w in warnings if "missing ScriptRunContext" in w], warnings
