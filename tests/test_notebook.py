"""``featlib.explore``, the notebook's live map (issue 25 item 1), without a browser: what the widget sends to the
front end, a selection coming back through the comm's update message, the service and keys it shares with the app
and the CLI, and its refusals. The browser half (a real JupyterLab in Chromium) is
``tests/e2e/test_notebook_browser.py``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ipywidgets.widgets.widget import _remove_buffers

import featlib
from featlib import keys, metrics, models, pipeline
from featlib.errors import FeatlibError, MissingExtraError, NotebookError
from featlib.jobs.runner import InlineRunner
from featlib.maps import embed
from featlib.notebook import COLOURINGS, map_data
from featlib.notebook.widget import MapWidget
from featlib.plots.style import DIGIT_COLOURS
from featlib.service import Service
from featlib.store import Workspace

ROOT = Path(__file__).resolve().parents[1]
PCA = embed.PCAParams()  # instant: what is tested is the path and the widget, not the reducer


@pytest.fixture(scope="module")
def stored(tmp_path_factory, model):
    """A workspace holding the session's trained MLP as ``seed-mlp``."""
    workspace = Workspace(tmp_path_factory.mktemp("notebook") / "ws")
    record = models.save_model(workspace, model, "seed-mlp", dataset="digits")
    return workspace, record


@pytest.fixture(scope="module")
def widget(stored, digits):
    """``featlib.explore`` of the saved model's dense_1 on the digits' test split, as a notebook cell calls it."""
    workspace, _ = stored
    return featlib.explore("seed-mlp", digits, split="test", layer="dense_1", workspace=workspace, params=PCA)


def comm_update(widget: MapWidget, **state) -> None:
    """What the front end's ``model.save_changes()`` sends: an ``update`` message on the widget's comm."""
    widget._handle_msg({"content": {"data": {"method": "update", "state": state, "buffer_paths": []}}, "buffers": []})


def test_the_widget_sends_the_map_its_classes_and_images(widget, stored, digits):
    images, labels = digits.split("test")
    state, buffer_paths, buffers = _remove_buffers(widget.get_state())
    assert sorted(buffer_paths) == [["images"], ["points"]]  # binary, not JSON lists of numbers
    points = np.frombuffer(widget.points, dtype="<f4").reshape(-1, 2)
    indices = np.array(state["indices"])
    assert points.shape == (len(labels), 2) and np.all(np.isfinite(points))  # 360 points: all mapped
    assert np.array_equal(indices, np.arange(len(labels)))
    assert state["labels"] == labels[indices].tolist()
    h, w = images.shape[1:]
    assert state["image_shape"] == [h, w]
    assert np.array_equal(np.frombuffer(widget.images, dtype="uint8").reshape(-1, h, w), images[indices])
    assert state["class_names"] == list(digits.class_names)
    assert state["palette"]["classes"] == list(DIGIT_COLOURS) and len(state["palette"]["confidence"]) >= 2
    assert all(0 <= c <= 1 for c in state["confidence"]) and set(state["predicted"]) <= set(range(10))
    assert state["color_by"] == "label" and set(state["colourings"]) == set(COLOURINGS)
    # The map is the stored one, under the key the Explore page and `featlib embed` use for it.
    workspace, record = stored
    rep_key = keys.representation_key(
        record.fingerprint, digits.fingerprint, "test", "dense_1", "function", "0-1", "flatten"
    )
    stored_map = pipeline.load_embedding(workspace, keys.embedding_key(rep_key, None, 0, PCA))
    assert np.array_equal(stored_map.coords, points) and np.array_equal(stored_map.indices, indices)


def test_the_widget_shows_the_explore_pages_figures(widget, stored):
    names = [row[0] for row in widget.figures]
    assert names == [name for name, _, _ in metrics.map_figures({"n": 1}, "PCA", None)]
    figures = {name: value for name, value, _ in widget.figures}
    assert figures["points"] == "360"
    assert 0.9 <= float(figures["model accuracy on these points"]) <= 1  # the trained MLP
    assert 0 < float(figures["trustworthiness"]) <= 1
    assert "seed-mlp" in widget.title and "dense_1" in widget.title and "digits test split" in widget.title


def test_a_selection_from_the_front_end_comes_back_to_python_with_an_event(widget):
    heard, observed = [], []
    widget.on_select(heard.append)
    widget.observe(lambda change: observed.append(change["new"]), names="selected")
    chosen = [widget.indices[7], widget.indices[2], widget.indices[7]]
    comm_update(widget, selected=chosen)
    assert widget.selected == sorted({widget.indices[2], widget.indices[7]})
    assert heard == [widget.selected] and observed == [widget.selected]
    comm_update(widget, color_by="confidence")  # the widget's colour menu
    assert widget.color_by == "confidence"
    comm_update(widget, selected=[])
    assert widget.selected == [] and heard[-1] == []


def test_the_second_call_loads_everything_from_the_workspace(widget, stored, digits):
    workspace, record = stored
    runner = InlineRunner()
    again = map_data(record, digits, split="test", layer="dense_1", params=PCA, service=Service(workspace, runner))
    assert runner.ran == []  # representation, map, predictions and figures: all stored by the first call
    assert np.array_equal(again.coords, widget.coords)


def test_arrays_in_memory_map_in_the_order_given(model, digits, tmp_path):
    images, labels = digits.split("test")
    w = featlib.explore(model, images[:60], labels[:60], workspace=tmp_path / "ws", params=PCA, color_by="correct")
    assert w.indices == list(range(60)) and w.color_by == "correct"
    assert "dense_1" in w.title  # the seed MLP's default layer


@pytest.mark.parametrize(
    "change, words",
    [
        ({"color_by": "rainbow"}, ["color_by", "'label'", "'confidence'", "'rainbow'"]),
        ({"selected": [10_000]}, ["selected", "360 points", "[10000]"]),
    ],
)
def test_bad_values_set_from_python_are_refused(widget, change, words):
    with pytest.raises(NotebookError) as caught:
        for name, value in change.items():
            setattr(widget, name, value)
    assert all(word in str(caught.value) for word in words), str(caught.value)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"model": "no-such-model"}, ["no-such-model"]),
        ({"model": 42}, ["keras.Model", "int"]),
        ({"labels": None, "images": "digits-arrays"}, ["labels", "None"]),
        ({"color_by": "hue"}, ["color_by", "'hue'"]),
        ({"method": "guess"}, ["method", "'guess'"]),
        ({"sample_size": 0}, ["sample_size", "0"]),
        ({"split": "validation"}, ["validation", "'test'"]),
        ({"layer": "dense_9"}, ["dense_9", "dense_1"]),
    ],
)
def test_bad_arguments_are_refused_naming_what_was_expected_and_received(stored, digits, kwargs, words):
    workspace, _ = stored
    images, labels = digits.split("test")
    args = {"model": "seed-mlp", "images": digits, "labels": None, "split": "test", "params": PCA}
    if kwargs.get("images") == "digits-arrays":
        args.update(images=images, split=None)
    args.update({k: v for k, v in kwargs.items() if k != "images"})
    with pytest.raises(FeatlibError) as caught:
        featlib.explore(workspace=workspace, **args)
    assert all(word in str(caught.value) for word in words), str(caught.value)


def test_without_anywidget_explore_names_the_extra_and_import_stays_light():
    """A fresh interpreter where anywidget cannot be imported: ``import featlib.notebook`` loads neither Keras nor
    anywidget, and ``featlib.explore`` refuses before any work, naming ``pip install 'featlib[notebook]'``."""
    script = """
import sys, importlib.abc
class NoAnywidget(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "anywidget" or name.startswith("anywidget."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NoAnywidget())
import featlib, featlib.notebook
assert "keras" not in sys.modules and "anywidget" not in sys.modules and "tensorflow" not in sys.modules
try:
    featlib.explore(None, None)
except featlib.errors.MissingExtraError as error:
    print(error)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT, check=True
    )
    assert "pip install 'featlib[notebook]'" in done.stdout and "anywidget" in done.stdout, done.stdout + done.stderr
    assert issubclass(MissingExtraError, ImportError)
