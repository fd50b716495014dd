"""The upload flow keeps what the user chose (issue: "uploaded data stays current, uploads are told apart").

Two IDX test sets with the same file names and different contents: Debian's
Fashion-MNIST ``t10k`` pair, and the same images flipped with every label
moved to the next class. A model trained here on Fashion-MNIST is uploaded;
the accuracy the page shows must be ``model.evaluate`` on the dataset the
user picked, after every rerun on the way.
"""

from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_browser import goto
from test_hostile_pages import settle

from featlib import datasets
from featlib.store import Workspace

pytestmark = pytest.mark.e2e

FASHION = datasets.DEBIAN_FASHION_MNIST_DIR
IMAGES, LABELS = "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"


def _write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0))


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    """Two t10k pairs with the same names, a Fashion-MNIST model, and its accuracy on each pair."""
    if not (FASHION / IMAGES).exists():
        pytest.skip(f"{FASHION} is missing: install Debian's package dataset-fashion-mnist")
    import keras

    root = tmp_path_factory.mktemp("upload-flow")
    fashion, other = root / "fashion", root / "other"
    fashion.mkdir()
    other.mkdir()
    for name in (IMAGES, LABELS):
        shutil.copy(FASHION / name, fashion / name)
    a = datasets.load_idx(fashion / IMAGES, fashion / LABELS, name="a", single_split="test")
    x, y = a.split("test")
    _write_idx(other / IMAGES, x[:, ::-1, :])  # upside down
    _write_idx(other / LABELS, (y + 1) % 10)  # and every label moved to the next class
    b = datasets.load_idx(other / IMAGES, other / LABELS, name="b", single_split="test")

    train = datasets.load_idx(
        FASHION / "train-images-idx3-ubyte.gz",
        FASHION / "train-labels-idx1-ubyte.gz",
        name="fashion-train",
        single_split="train",
    )
    xt, yt = train.split("train")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((784,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10, activation="softmax")]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(np.asarray(xt[:20_000].reshape(-1, 784), "float32") / 255, np.asarray(yt[:20_000]), epochs=1, verbose=0)
    path = root / "fashion-mlp.keras"
    model.save(path)

    def accuracy(d: datasets.Dataset) -> float:
        xs, ys = d.split("test")
        return float(model.evaluate(np.asarray(xs.reshape(-1, 784), "float32") / 255, np.asarray(ys), verbose=0)[1])

    return {
        "fashion": fashion,
        "other": other,
        "model": path,
        "a": a,
        "b": b,
        "acc_a": accuracy(a),
        "acc_b": accuracy(b),
    }


def _attach(page, label: str, path: Path) -> None:
    uploader = page.get_by_test_id("stFileUploader").filter(
        has=page.get_by_test_id("stWidgetLabel").get_by_text(label, exact=True)
    )
    if uploader.get_by_test_id("stFileChip").count():  # a file of the same name from before: remove it first
        uploader.get_by_test_id("stFileChipDeleteBtn").click()
        uploader.get_by_test_id("stFileChip").wait_for(state="detached")
        settle(page)  # a file put in an uploader while the app reruns is dropped
    uploader.locator("input[type=file]").set_input_files(str(path))
    uploader.get_by_test_id("stFileChip").wait_for()
    uploader.get_by_test_id("stFileChipIconSpinner").wait_for(state="detached")  # the upload has finished


def open_tab(page, name: str) -> None:
    """Clicks a tab once the page's rerun has ended (while it runs, the previous run's tabs are still shown too)."""
    settle(page)
    page.get_by_role("tab", name=name, exact=True).click()


def _picked_dataset(page) -> str:
    return page.get_by_role("combobox", name="Dataset").input_value()


def _add_idx_pair(page, folder: Path) -> None:
    goto(page, "Model")
    settle(page)
    if not page.get_by_role("tab", name="IDX").is_visible():
        page.get_by_text("Upload a dataset").click()
    open_tab(page, "IDX")
    _attach(page, "images", folder / IMAGES)
    _attach(page, "labels", folder / LABELS)
    page.get_by_text("as the test split only").wait_for()  # a t10k pair is guessed to be a test set
    page.get_by_role("button", name="Add these IDX files").click()
    page.get_by_text("it is now the current dataset").wait_for()


def _shown_accuracy(text: str) -> float:
    return float(re.search(r"[Aa]ccuracy (\d\.\d{4})", text).group(1))


def test_uploads_with_the_same_file_names_are_told_apart_and_scored_on_the_picked_one(
    page, shot, material, workspace_dir
):
    a, b = material["a"], material["b"]
    # 1. Add makes the upload the current dataset: the picker and the sidebar name it.
    _add_idx_pair(page, material["fashion"])
    assert IMAGES in _picked_dataset(page) and "10,000 images" in _picked_dataset(page)
    assert page.get_by_test_id("stSidebar").get_by_text(IMAGES).count() == 1
    assert (
        "10,000 test images (no train split)"
        in page.get_by_test_id("stCaptionContainer").filter(has_text="no train split").first.inner_text()
    )
    shot(page, "1-first-added")

    # 3. A second pair with the same file names: both are listed, told apart by a short fingerprint.
    _add_idx_pair(page, material["other"])
    assert b.fingerprint[:8] in _picked_dataset(page)
    page.get_by_role("combobox", name="Dataset").click()
    options = [o.inner_text() for o in page.get_by_role("option").all()]
    ours = [o for o in options if IMAGES in o]
    assert len(ours) == 2 and len(set(ours)) == 2, options
    page.get_by_role("option").filter(has_text=a.fingerprint[:8]).click()
    page.wait_for_timeout(500)
    assert a.fingerprint[:8] in _picked_dataset(page)
    shot(page, "2-picked-first")

    # 2. Choosing a model file, changing the scaling and back are reruns: the picked dataset stays.
    open_tab(page, "Upload a model")
    _attach(page, "Model file", material["model"])
    assert a.fingerprint[:8] in _picked_dataset(page)
    page.get_by_text("raw pixels 0–255", exact=True).click()  # the radio's label, not the check's caption
    page.get_by_text("pixels / 255 (as the seed)", exact=True).click()
    page.wait_for_timeout(500)
    assert a.fingerprint[:8] in _picked_dataset(page)
    scored_on = page.get_by_text("It will be scored on").inner_text()
    assert a.fingerprint[:8] in scored_on and "test split (10,000 images)" in scored_on
    page.get_by_role("button", name="Load this model").click()
    loaded = page.get_by_text("Loaded fashion-mlp").inner_text()
    assert _shown_accuracy(loaded) == pytest.approx(material["acc_a"], abs=1e-4)
    assert "test split, 10,000 images" in loaded and a.fingerprint[:8] in loaded
    assert a.fingerprint[:8] in _picked_dataset(page)
    shot(page, "3-loaded")

    # Leaving the page and coming back keeps the dataset and the model's figure, named by its data.
    goto(page, "Workspace")
    goto(page, "Model")
    assert a.fingerprint[:8] in _picked_dataset(page)
    card = page.get_by_text("Current model: fashion-mlp").inner_text()
    assert _shown_accuracy(card) == pytest.approx(material["acc_a"], abs=1e-4)

    # The other dataset: the figure is said to belong to the first; scored on it, near chance, with the causes.
    page.get_by_role("combobox", name="Dataset").click()
    page.get_by_role("option").filter(has_text=b.fingerprint[:8]).click()
    page.get_by_text("That accuracy was measured on").wait_for()
    open_tab(page, "Upload a model")
    _attach(page, "Model file", material["model"])
    page.get_by_role("button", name="Load this model").click()
    loaded = page.get_by_text("Loaded fashion-mlp").inner_text()
    assert _shown_accuracy(loaded) == pytest.approx(material["acc_b"], abs=1e-4)
    page.get_by_text("This accuracy is near chance").scroll_into_view_if_needed()
    shot(page, "4-near-chance")
    names = {row["fingerprint"]: row["name"] for row in Workspace(workspace_dir).list_datasets()}
    assert names[a.fingerprint] == names[b.fingerprint]  # the same default name: only the fingerprint tells them apart
