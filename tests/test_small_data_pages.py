"""Every page on datasets of 1, 2, 6, 8, 30 and 100 images and of one image per class (issue 11, kind 5).

Each dataset is an upload in the workspace with the seed MLP beside it, and
each page is run under AppTest as a user would reach it: no page may raise,
every widget's range follows the data (an 8-image upload once failed with
``min_value 50 > max_value 6``), and a page whose points are too few for a
map says what it needs instead of drawing one.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from app_testing import APP, no_exception, page_path
from streamlit.testing.v1 import AppTest

from featlib import datasets, models
from featlib.app import resources, state
from featlib.store import Workspace

PAGES = ("model", "representations", "explore", "layers", "compare", "workspace", "jobs")
EMPTY = (np.empty((0, 8, 8), np.uint8), np.empty((0,), np.int64))


def _digits_per_class(n: int, classes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """``n`` of the bundled digits, taking the classes in turn (one of each first)."""
    x, y = datasets.load_digits().split("train")
    order = [np.flatnonzero(y == i % classes)[i // classes] for i in range(n)]
    return x[order], y[order]


def _case(name: str) -> tuple[datasets.Dataset, str]:
    """The dataset of a case and the split the pages show (the one with the case's images)."""
    if name == "1":  # one image is refused as an upload (one class); a split of one image is not
        x, y = _digits_per_class(3)
        return datasets.from_arrays(x[:2], y[:2], name="one test image", x_test=x[2:], y_test=y[2:]), "test"
    if name == "one per class":
        x, y = _digits_per_class(10)
        return datasets.from_arrays(x, y, name="one image per class", x_test=EMPTY[0], y_test=EMPTY[1]), "train"
    n = int(name)
    x, y = _digits_per_class(n)
    if n == 2:  # two images cannot be split into train and test with two classes in each
        return datasets.from_arrays(x, y, name="two images", x_test=EMPTY[0], y_test=EMPTY[1]), "train"
    return datasets.from_arrays(x, y, name=f"{n} images"), "train"  # split 80/20 as an upload is by default


CASES = ("1", "2", "6", "8", "30", "100", "one per class")


def test_one_image_is_refused_as_an_upload_saying_why():
    x, y = _digits_per_class(1)
    with pytest.raises(datasets.DatasetError, match="need at least 2 images"):
        datasets.from_arrays(x, y, name="one")
    with pytest.raises(datasets.DatasetError, match="needs at least 2 classes"):
        datasets.from_arrays(x, y, name="one", x_test=EMPTY[0], y_test=EMPTY[1])


@pytest.fixture(scope="module")
def small_workspace(tmp_path_factory):
    """One workspace with every case's dataset and an (untrained) seed MLP for 8×8 images."""
    root = tmp_path_factory.mktemp("small-data") / "ws"
    workspace = Workspace(root)
    stored = {}
    for name in CASES:
        dataset, split = _case(name)
        workspace.save_dataset(dataset)
        stored[name] = (dataset, split)
    record = models.save_model(workspace, models.build_mlp((64,), seed=0), "mlp", dataset="digits")
    return root, stored, record


def _messages(at: AppTest) -> str:
    return " ".join(e.value for kind in ("error", "warning", "info", "caption") for e in getattr(at, kind)).replace(
        "\\", ""
    )


def _charts(at: AppTest) -> list:
    return at.get("plotly_chart")


@pytest.mark.parametrize("case", CASES)
def test_every_page_works_or_says_what_it_needs(case, small_workspace, monkeypatch):
    root, stored, record = small_workspace
    dataset, split = stored[case]
    n = len(dataset.split(split)[1])
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(root))
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state[state.DATASET] = resources.UPLOAD_PREFIX + dataset.fingerprint
    at.session_state[state.MODEL] = record.id
    at.session_state[state.SPLIT] = split
    at = no_exception(at.run())
    started = time.perf_counter()
    for page in PAGES:
        at = no_exception(at.switch_page(page_path(page)).run())
        text = _messages(at)
        assert "Traceback" not in text and "Error:" not in text, (page, text)
        if page == "representations":
            next(b for b in at.button if b.label.startswith("Compute")).click()
            at = no_exception(at.run())
            assert any(f"{n:,} × 64 outputs" in s.value for s in at.success), (page, _messages(at))
        elif page == "explore":
            # The sample size's range follows the split: from min(50, n) to n.
            sample = at.number_input(key="umap_sample")
            assert (sample.min, sample.max, sample.value) == (min(50, n), n, n)
            assert at.number_input(key="umap_n_neighbors").max == max(2, min(200, n - 1))
            if n < 4:
                assert "UMAP needs at least 4 points" in text and not _charts(at), text
            else:
                assert _charts(at), text
            at.radio(key="map_reducer").set_value("tsne")
            at = no_exception(at.run())
            if n < 7:
                assert "t-SNE needs at least 7 points" in _messages(at), _messages(at)
            else:
                assert at.number_input(key="tsne_perplexity").max <= (n - 1) / 3
            at.radio(key="map_reducer").set_value("pca")
            at = no_exception(at.run())
            if n < 2:
                assert "PCA needs at least 2 points" in _messages(at)
            at.radio(key="map_reducer").set_value("umap")
        elif page == "layers":
            assert at.number_input(key="layers_sample").min == min(100, n)
            if n < 2:
                assert "PCA needs at least 2 points" in text, text
            else:
                assert _charts(at), text
                at.radio(key="layers_reducer").set_value("umap")
                at = no_exception(at.run())
                if n < 4:
                    assert "UMAP needs at least 4 points" in _messages(at), _messages(at)
                elif n < 16:
                    assert f"UMAP with n_neighbors={n - 1}" in _messages(at), _messages(at)
                at.radio(key="layers_reducer").set_value("pca")
                at = no_exception(at.run())
        elif page == "compare":
            assert at.number_input(key="cmp_sample").min == min(10, n)
            next(b for b in at.button if b.label == "Function vs sub-model").click()
            at = no_exception(at.run())
            if n < 4:
                assert "UMAP needs at least" in _messages(at), _messages(at)
            else:
                assert len(_charts(at)) >= 2, _messages(at)
        assert not at.exception
    print(f"{case}: every page in {time.perf_counter() - started:.1f} s")
