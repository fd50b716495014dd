"""The Model and Representations pages under AppTest: choices kept, uploads named, models described truly."""

from __future__ import annotations

import dataclasses
import gzip

import numpy as np
import pytest
from app_testing import no_exception, page_path
from streamlit.testing.v1 import AppTest

from featlib import datasets, models
from featlib.app import resources
from featlib.store import Workspace


def _write_idx(path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0))


@pytest.fixture
def test_only_upload(tmp_path) -> datasets.Dataset:
    """The digits' images as a t10k-style IDX pair, uploaded as a test split only (no train split)."""
    digits = datasets.load_digits()
    x, y = digits.split("train")
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", x)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", y)
    loaded = datasets.load_idx(
        tmp_path / "t10k-images-idx3-ubyte.gz",
        tmp_path / "t10k-labels-idx1-ubyte.gz",
        name="upload",
        single_split="test",
    )
    files = ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
    named = dataclasses.replace(loaded, name=datasets.default_upload_name(files, loaded, "IDX"))
    Workspace(tmp_path / "ws").save_dataset(named)
    return named


def _cnn_with_batchnorm():
    import keras
    from keras import layers as kl

    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            kl.Conv2D(4, 3, name="conv"),
            kl.MaxPooling2D(name="pool"),
            kl.Flatten(name="flat"),
            kl.Dense(16, name="hidden"),
            kl.BatchNormalization(name="norm"),
            kl.ReLU(name="relu"),
            kl.Dropout(0.3, name="drop"),
            kl.Dense(10, activation="softmax", name="out"),
        ],
        name="cnn",
    )


def _text(elements) -> str:
    """The elements' markdown as the reader sees it: pages escape names with backslashes (``text.escape``)."""
    return " ".join(e.value for e in elements).replace("\\", "")


def _pick_dataset(at: AppTest, fingerprint: str) -> AppTest:
    at.selectbox(key="dataset_picker").set_value(resources.UPLOAD_PREFIX + fingerprint)
    return no_exception(at.run())


def test_an_upload_is_listed_by_its_name_and_stays_picked_across_reruns(app, test_only_upload):
    at = no_exception(app.run().switch_page(page_path("model")).run())
    picker = at.selectbox(key="dataset_picker")
    label = picker.format_func(resources.UPLOAD_PREFIX + test_only_upload.fingerprint)
    assert label == ("t10k-images-idx3-ubyte.gz + labels (IDX, 10 classes, 1,437 images, 8×8)")
    at = _pick_dataset(at, test_only_upload.fingerprint)
    at.radio(key="upload_scale").set_value("0-255")  # another widget's rerun
    at = no_exception(at.run())
    at = no_exception(at.switch_page(page_path("workspace")).run())
    at = no_exception(at.switch_page(page_path("model")).run())
    assert at.selectbox(key="dataset_picker").value == resources.UPLOAD_PREFIX + test_only_upload.fingerprint
    captions = _text(at.caption)
    assert "1,437 test images (no train split)" in captions
    assert (
        "IDX files t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (one pair, used as the test split)" in captions
    )
    assert "npz file" not in captions and "upload:" not in " ".join(m.value for m in at.sidebar.markdown)
    assert "has no train split" in _text(at.info)  # so the seed MLP cannot be trained on it
    assert not [b for b in at.get("form_submit_button") if b.label == "Train"]


def test_a_cnn_is_described_truly_and_its_default_layer_is_explained(app, tmp_path, test_only_upload):
    model = _cnn_with_batchnorm()
    record = models.save_model(
        Workspace(tmp_path / "ws"),
        model,
        "cnn",
        dataset=test_only_upload.name,
        meta={"dataset_fingerprint": test_only_upload.fingerprint},
    )
    at = no_exception(app.run().switch_page(page_path("model")).run())
    at = _pick_dataset(at, test_only_upload.fingerprint)
    saved = next(s for s in at.selectbox if s.label == "Saved models")
    saved.set_value(record.id)
    next(b for b in at.button if b.label == "Use this model").click()
    at = no_exception(at.run())
    card = next(s for s in (_text([s]) for s in at.success) if "Current model: cnn" in s)
    assert "Conv2D 4" in card and "MaxPooling2D" in card and "BatchNormalization" in card, card
    assert "784-" not in card and "8×8×1" in card, card

    at = no_exception(at.switch_page(page_path("representations")).run())
    assert at.selectbox(key="layer_picker").value == "relu"  # after its BatchNormalization and ReLU, before Dropout
    assert [r.value for r in at.radio if r.key == "split_picker"] == ["test"]  # the only split the upload has
    assert at.radio(key="split_picker").options == ["test split"]
    note = _text(at.caption)
    assert "Default layer relu" in note and "hidden" in note, note


def test_a_model_name_with_control_characters_is_refused(app, tmp_path):
    at = no_exception(app.run().switch_page(page_path("model")).run())
    next(t for t in at.text_input if t.label == "Save as").set_value("mlp\x1b[31mred")
    next(b for b in at.get("form_submit_button") if b.label == "Train").click()
    at = no_exception(at.run())
    assert "printable characters only" in _text(at.error)
    assert Workspace(tmp_path / "ws").list_models() == []
