"""Prediction depth (featlib.maps.prediction_depth; Baldock et al., NeurIPS 2021): the core on data whose answer is
known, the paper's finding on the seed MLP, the job, the Layers page's section and the CLI's CSV."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from app_testing import APP, TIMEOUT, no_exception, page_path
from cli_testing import cli
from streamlit.testing.v1 import AppTest

from featlib import jobs, keys, models
from featlib.app import state
from featlib.errors import NeighbourError
from featlib.jobs.runner import InlineRunner
from featlib.maps import prediction_depth as pd_
from featlib.read import layers
from featlib.service import Service
from featlib.store import Workspace


def alternating(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Points on a line whose two nearest other points are always of the other class (labels alternate)."""
    labels = np.arange(n) % 2
    return np.arange(n, dtype=np.float32)[:, None], labels


def test_points_separated_only_from_layer_2_on_have_depth_2():
    x, labels = alternating(40)
    separated = (labels * 100.0 + np.arange(40) * 0.01)[:, None].astype(np.float32)
    depth = pd_.prediction_depth([x, x * 3, separated, separated * 2], labels, k=2, support=labels)
    assert depth.tolist() == [2] * 40


def test_an_image_never_votes_for_itself():
    # With itself among its neighbours every point's 1-NN vote would be its own label (depth 0).
    x, labels = alternating(20)
    assert pd_.prediction_depth([x], labels, k=1).tolist() == [1] * 20


def test_depth_is_where_agreement_starts_for_good_and_the_layer_count_when_never():
    agree = np.array(
        [
            [True, True, False, True],
            [False, True, True, True],
            [True, True, True, False],
        ]
    )
    assert pd_.depth_of(agree).tolist() == [2, 0, 1, 3]


def test_a_prediction_unlike_every_vote_is_never_settled():
    x, labels = alternating(30)
    separated = (labels * 100.0)[:, None].astype(np.float32)
    predicted = labels.copy()
    predicted[5] = 1 - predicted[5]  # the model disagrees with the neighbours' true labels everywhere
    depth = pd_.prediction_depth([x, separated], predicted, k=3, support=labels)
    assert depth[5] == 2 and np.all(np.delete(depth, 5) == 1)


def test_bad_inputs_are_refused_in_featlibs_words():
    x, labels = alternating(10)
    with pytest.raises(NeighbourError, match="k = 10 for 10 images"):
        pd_.prediction_depth([x], labels, k=10)
    with pytest.raises(NeighbourError, match="same images"):
        pd_.prediction_depth([x, x[:5]], labels, k=2)
    with pytest.raises(NeighbourError, match="NaN or inf"):
        pd_.prediction_depth([np.full_like(x, np.nan)], labels, k=2)
    with pytest.raises(jobs.JobLimitError):
        jobs.specs.prediction_depth_spec("ls", 10_000_000, 7, 10)


@pytest.fixture(scope="module")
def studied(model, digits, tmp_path_factory):
    """The seed MLP (trained on digits' train split) on all 360 test images, through the service in this process."""
    workspace = Workspace(tmp_path_factory.mktemp("depth") / "ws")
    record = models.save_model(workspace, model, "mlp", dataset="digits")
    runner = InlineRunner()
    service = Service(workspace, runner)
    ls = service.layer_set(record, digits, "test", sample_size=None)
    predicted, confidence = service.predictions(record, digits, "test")
    predicted, confidence = predicted[ls.indices], confidence[ls.indices]
    depth = service.prediction_depth(ls, predicted, 10)
    return ls, predicted, confidence, depth, runner


def test_the_job_returns_what_the_function_computes(studied):
    ls, predicted, _, depth, runner = studied
    assert runner.ran[-1] == keys.prediction_depth_key(ls.key, 10)  # ran as a job, keyed by layer set and k
    expected = pd_.prediction_depth(list(ls.reps.values()), predicted, 10, support=ls.labels)
    assert depth.dtype == np.int64 and np.array_equal(depth, expected)
    assert depth.min() >= 0 and depth.max() <= len(ls.names)


def test_misclassified_and_unconfident_images_are_decided_later_as_the_paper_reports(studied):
    ls, predicted, confidence, depth, _ = studied
    correct = predicted == ls.labels
    assert 0 < (~correct).sum() < len(correct) // 2
    found = pd_.summary(depth, correct, confidence)
    assert found.mean_wrong > found.mean_correct + 1.0
    assert found.spearman < -0.2 and found.spearman_p < 1e-3
    low = confidence <= np.quantile(confidence, 0.25)
    assert depth[low].mean() > depth[~low].mean()


def test_the_cli_prints_the_figures_and_writes_one_row_per_image(model, tmp_path):
    workspace = Workspace(tmp_path / "ws")
    models.save_model(workspace, model, "mlp", dataset="digits")
    out = tmp_path / "depth.csv"
    rc, stdout, _ = cli(
        "--workspace", str(tmp_path / "ws"), "depth", "mlp", "--dataset", "digits", "--split", "test",
        "--sample", "300", "--k", "5", "--out", str(out),
    )  # fmt: skip
    assert rc == 0
    assert "mean depth: correct" in stdout and "spearman(depth, confidence)" in stdout
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 300
    assert set(rows[0]) == {"index", "label", "predicted", "confidence", "depth", "layer"}
    names = [layers.INPUT, "dense", "activation", "dense_1", "activation_1", "dense_2", "activation_2", "never"]
    assert all(names[int(row["depth"])] == row["layer"] for row in rows)
    rc, _, err = cli("--workspace", str(tmp_path / "ws"), "depth", "mlp", "--dataset", "digits", "--k", "0")
    assert rc == 2 and "--k must be at least 1" in err


def test_the_layers_page_shows_the_prediction_depth_section(tmp_path, monkeypatch, model):
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    record = models.save_model(Workspace(tmp_path / "ws"), model, "mlp", dataset="digits")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.MODEL] = record.id
    at.session_state["layers_sample"] = 300
    at = no_exception(at.run())
    at = no_exception(at.switch_page(page_path("layers")).run())
    assert any(h.value == "Prediction depth" for h in at.subheader)
    assert any("Prediction depth per class" in c.proto.spec for c in at.get("plotly_chart"))
    assert any("Spearman correlation of depth" in m.value for m in at.markdown)
    assert any("Decided last" in c for e in at.get("image") for c in e.captions)
    assert any("prediction depth" in b.proto.label for b in at.get("download_button"))
