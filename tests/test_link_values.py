"""A link's values that cannot be used are named on the page with the value used instead (issue 11, kind 4).

Before, a link with ``n_neighbors=100000``, ``random_state=-1`` or an unknown
layer opened with ``200``/``2``, ``0`` and ``dense_1`` and no word.
"""

from __future__ import annotations

import numpy as np
import pytest
from app_testing import APP, no_exception, page_path
from streamlit.testing.v1 import AppTest

from featlib import datasets, models
from featlib.app import resources
from featlib.share.views import View
from featlib.store import Workspace

TIMEOUT = 240


@pytest.fixture(scope="module")
def linked(tmp_path_factory):
    """A workspace with the seed MLP (untrained: these tests are about values, not accuracy) and an 8-image upload."""
    root = tmp_path_factory.mktemp("links") / "ws"
    workspace = Workspace(root)
    record = models.save_model(workspace, models.build_mlp((64,), seed=0), "mlp", dataset="digits")
    x, y = datasets.load_digits().split("train")
    order = [np.flatnonzero(y == i % 8)[i // 8] for i in range(8)]
    eight = datasets.from_arrays(x[order], y[order], name="eight images")  # 6 train + 2 test, as uploaded
    workspace.save_dataset(eight)
    return root, record, resources.UPLOAD_PREFIX + eight.fingerprint


def open_link(root, monkeypatch, query: dict[str, str]) -> AppTest:
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(root))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    at = no_exception(at.run())
    return no_exception(at.switch_page(page_path("explore")).run())


def warnings(at: AppTest) -> list[str]:
    """The page's warnings as the reader sees them (markdown escapes removed)."""
    return [w.value.replace("\\", "") for w in at.warning]


def link(record, dataset: str = "digits", **values) -> dict[str, str]:
    query = View(record.id, dataset, "dense_1", sample=300).to_query()
    return query | {k: str(v) for k, v in values.items()}


def test_n_neighbors_above_what_the_points_allow_is_named_with_the_value_used(linked, monkeypatch):
    root, record, _ = linked
    at = open_link(root, monkeypatch, link(record, n_neighbors=100000))
    assert "The link asked for n_neighbors=100000; at most 200 are allowed for 1,437 points — using 200." in warnings(
        at
    )
    assert at.number_input(key="umap_n_neighbors").value == 200
    assert at.query_params["n_neighbors"] in (["200"], "200")  # the page's own link says what it shows


def test_a_negative_seed_is_named_with_the_seed_used(linked, monkeypatch):
    root, record, _ = linked
    at = open_link(root, monkeypatch, link(record, random_state=-1))
    assert "The link asked for random_state=-1; seeds run from 0 to 2,147,483,647 — using 0." in warnings(at)
    assert at.number_input(key="umap_seed").value == 0


def test_an_unknown_layer_is_named_with_the_layer_shown(linked, monkeypatch):
    root, record, _ = linked
    at = open_link(root, monkeypatch, link(record, layer="dense_9", reducer="pca"))
    assert (
        "The link asked for layer=dense_9; mlp has no layer of that name — using dense_1, its default layer."
        in warnings(at)
    )
    assert "dense_1" in at.caption[0].value.replace("\\", "")


def test_values_the_small_data_cannot_have_are_named_for_its_size(linked, monkeypatch):
    root, record, eight = linked
    at = open_link(root, monkeypatch, link(record, eight, n_neighbors=50, sample=1000))
    shown = warnings(at)
    assert "The link asked for n_neighbors=50; at most 5 are allowed for 6 points — using 5." in shown, shown
    assert "The link asked for sample=1000; there are 6 points — using all 6." in shown, shown
    assert at.number_input(key="umap_n_neighbors").value == 5 and at.get("plotly_chart")


@pytest.mark.parametrize(
    "values, message",
    [
        (
            {"colour": "rainbow"},
            "The link asked for colour=rainbow; expected one of label, predicted, correct, confidence, kept — using label.",
        ),
        ({"reducer": "lle"}, "The link asked for reducer=lle; expected one of umap, pca, tsne — using umap."),
        (
            {"reducer": "umap", "metric": "os.system"},
            "The link asked for metric=os.system; expected one of auto, "
            "euclidean, cosine, manhattan, correlation — using auto.",
        ),
        ({"reducer": "umap", "min_dist": "7"}, "The link asked for min_dist=7; min_dist runs from 0 to 1 — using 1."),
        (
            {"reducer": "umap", "n_neighbors": "many"},
            "The link asked for n_neighbors=many; expected a whole number — using 15.",
        ),
        (
            {"reducer": "tsne", "perplexity": "500"},
            "The link asked for perplexity=500; at most 100 is allowed for 1,437 points — using 100.",
        ),
        ({"sample": "3"}, "The link asked for sample=3; at least 50 are allowed for 1,437 points — using 50."),
        (
            {"selection": "3,x,-4"},
            "The link asked for selection=3,x,-4; 'x', '-4' are no point indices — using the 1 "
            "point indices among them.",
        ),
    ],
)
def test_every_value_a_link_cannot_have_is_named(values, message, linked, monkeypatch):
    root, record, _ = linked
    query = link(record, **({"reducer": "pca", "sample": "50"} | values))  # PCA, or small maps: the words are tested
    at = open_link(root, monkeypatch, query)
    assert message in warnings(at), warnings(at)


def test_a_comparison_link_following_a_point_beyond_the_split_says_so(linked, monkeypatch):
    root, record, eight = linked
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(root))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    query = {
        "dataset": eight,
        "split": "train",
        "sample": "all",
        "p1": f"{record.id}:dense_1:function:pca",
        "p2": f"{record.id}:dense_1:submodel:pca",
        "follow": "99999",
        "k": "8",
    }
    for key, value in query.items():
        at.query_params[key] = value
    at = no_exception(no_exception(at.run()).switch_page(page_path("compare")).run())
    assert any("Point 99999 is not among the 6 images of the train split" in w for w in warnings(at)), warnings(at)
    assert len(at.get("plotly_chart")) >= 2
