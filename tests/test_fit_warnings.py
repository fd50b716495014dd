"""Issue 28, item 2: a model not made for the data (another image size, other classes, near chance) is said so on
every page that shows figures, before them; Compare's panels picked for another model are marked as such."""

from __future__ import annotations

import pytest
from app_testing import APP, no_exception, page_path
from streamlit.testing.v1 import AppTest

from featlib import datasets, models
from featlib.app import comparing, state
from featlib.share.compare import CompareView, Panel
from featlib.store import Workspace


@pytest.fixture(scope="module")
def fit_workspace(tmp_path_factory):
    """A workspace with an (untrained) MLP for 28×28 images (MNIST's), one for the 8×8 digits, and one with 3 classes."""
    root = tmp_path_factory.mktemp("fit") / "ws"
    workspace = Workspace(root)
    digits = datasets.load_digits()
    mnist_mlp = models.save_model(
        workspace, models.build_mlp((784,), seed=0), "mnist-mlp", dataset="mnist", meta={"dataset_fingerprint": "m"}
    )
    three = models.save_model(
        workspace, models.build_mlp((64,), num_classes=3, seed=0), "three-classes", dataset="digits"
    )
    digits_mlp = models.save_model(
        workspace,
        models.build_mlp((64,), seed=0),
        "digits-mlp",
        dataset="digits",
        test_accuracy=0.95,
        meta={"dataset_fingerprint": digits.fingerprint},
    )
    return root, {"mnist": mnist_mlp, "three": three, "digits": digits_mlp}


def _app(root, monkeypatch, model_id: str) -> AppTest:
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(root))
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state[state.DATASET] = "digits"
    at.session_state[state.MODEL] = model_id
    return at


def _warnings(at: AppTest) -> str:
    return " ".join(w.value for w in at.warning).replace("\\", "")


def _stop_before_figures(monkeypatch) -> None:
    """The figures' jobs are not what is tested: each page stops where its figures would start."""
    from featlib.app import actions, layers

    monkeypatch.setattr(actions, "representation", lambda *a, **k: (None, None))
    monkeypatch.setattr(layers, "layer_set", lambda *a, **k: None)
    monkeypatch.setattr(comparing, "compute_panel", lambda *a, **k: None)


@pytest.mark.parametrize("page", ["explore", "layers", "representations", "model"])
def test_a_model_for_other_image_sizes_is_said_so_before_the_figures(page, fit_workspace, monkeypatch):
    root, records = fit_workspace
    _stop_before_figures(monkeypatch)
    at = no_exception(_app(root, monkeypatch, records["mnist"].id).run())
    at = no_exception(at.switch_page(page_path(page)).run())
    said = _warnings(at)
    assert "mnist-mlp was not made for" in said, (page, said)
    assert "resized from 8×8 to 28×28" in said, said


def test_a_model_for_other_classes_is_said_so(fit_workspace, monkeypatch):
    root, records = fit_workspace
    _stop_before_figures(monkeypatch)
    at = no_exception(_app(root, monkeypatch, records["three"].id).run())
    at = no_exception(at.switch_page(page_path("explore")).run())
    said = _warnings(at)
    assert "three-classes was not made for" in said and "3 outputs" in said and "10 classes" in said, said


def test_a_model_that_fits_is_not_warned_about(fit_workspace, monkeypatch):
    root, records = fit_workspace
    _stop_before_figures(monkeypatch)
    at = no_exception(_app(root, monkeypatch, records["digits"].id).run())
    for page in ("explore", "layers", "model"):
        at = no_exception(at.switch_page(page_path(page)).run())
        assert "was not made for" not in _warnings(at), page


def test_compare_says_which_panels_do_not_fit_and_that_they_were_picked_for_another_model(fit_workspace, monkeypatch):
    root, records = fit_workspace
    _stop_before_figures(monkeypatch)
    at = _app(root, monkeypatch, records["digits"].id)
    view = CompareView("digits", (Panel(records["mnist"].id, "dense"), Panel(records["mnist"].id, "dense_1")))
    at.session_state[comparing.VIEW] = view
    at = no_exception(at.run())
    at = no_exception(at.switch_page(page_path("compare")).run())
    said = _warnings(at)
    assert "mnist-mlp was not made for" in said and "resized" in said, said
    notes = " ".join(i.value for i in at.info).replace("\\", "")
    assert "picked for mnist-mlp, not for the model picked on the Model page (digits-mlp)" in notes, notes
    assert "computed on digits" in notes, notes
