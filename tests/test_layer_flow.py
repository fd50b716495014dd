"""Layer flow (featlib.maps.layer_flow): k-means clusters per representation and the images flowing between them,
on planted clusters whose answer is known; the job through the service, stored; the Sankey; the Layers page."""

from __future__ import annotations

import numpy as np
import pytest
from app_testing import APP, TIMEOUT, no_exception, page_path
from streamlit.testing.v1 import AppTest

from featlib import jobs, keys, models, plots
from featlib.app import layer_flow as flow_view
from featlib.app import layers as layer_glue
from featlib.app import links, state
from featlib.errors import LayerError
from featlib.jobs import tasks
from featlib.jobs.runner import InlineRunner
from featlib.maps import layer_flow as lf
from featlib.service import Service
from featlib.store import Workspace

PER = 30
"""Images per planted class."""


def planted() -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Three classes in three representations, four tight blobs in each (k = 4):

    - class 0: one blob in "input", split in two far blobs (its first and second half) from "hidden" on;
    - class 1: two blobs in "input" (halves), merged into one from "hidden" on;
    - class 2: one blob throughout, but its image 2·PER (misclassified as 1) moves into class 1's blob in "hidden";
    - "hidden" to "output": every blob stays together.
    """
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], PER)
    half = np.tile(np.repeat([0, 1], PER // 2), 3)
    centres = np.array([[0, 0], [10, 0], [20, 0], [0, 10], [30, 30]], dtype=np.float32)
    first = centres[np.select([labels == 0, (labels == 1) & (half == 0), labels == 1], [0, 1, 2], 3)]
    later = centres[np.select([(labels == 0) & (half == 0), labels == 0, labels == 1], [0, 4, 1], 3)]
    moved = 2 * PER
    later[moved] = [10, 0]
    predicted = labels.copy()
    predicted[moved] = 1
    predicted[[1, PER + 1]] = [2, 0]  # two more mistakes that stay with their class
    reps = {
        name: (x + rng.normal(0, 0.1, x.shape)).astype(np.float32)
        for name, x in (("input", first), ("hidden", later), ("output", later * 2.0))
    }
    return reps, labels, predicted


@pytest.fixture(scope="module")
def flow() -> lf.LayerFlow:
    reps, labels, predicted = planted()
    return lf.layer_flow(reps, labels, predicted, k=4)


def test_clusters_are_named_by_majority_class_and_purity_and_ordered_by_class(flow):
    assert flow.names == ["input", "hidden", "output"] and flow.k == 4
    assert np.diff(flow.cluster_offsets).tolist() == [4, 4, 4]
    assert flow.cluster_label.tolist() == [0, 1, 1, 2, 0, 0, 1, 2, 0, 0, 1, 2]  # each column ordered by class
    names = lf.cluster_names(flow, ["zero", "one", "two"])
    assert names[flow.node(1, 2)] == "one · 97%"  # class 1's merged blob holds the moved image of class 2
    assert names[flow.node(0, 0)] == "zero · 100%"


def test_planted_clusters_that_stay_together_flow_as_one_ribbon(flow):
    last = np.flatnonzero(flow.link_layer == 1)
    assert len(last) == 4  # hidden -> output: one ribbon per blob
    assert np.array_equal(flow.link_count[last], flow.cluster_size[flow.cluster_offsets[1] : flow.cluster_offsets[2]])
    assert all(event.layer == 0 for event in lf.splits(flow) + lf.merges(flow))  # nothing splits or merges later


def test_a_class_that_splits_in_a_later_layer_is_found_as_a_split_and_a_merge_as_a_merge(flow):
    (split,) = lf.splits(flow)
    assert (split.kind, split.layer, flow.cluster_label[flow.node(0, split.cluster)]) == ("split", 0, 0)
    assert split.classes == (0, 0) and split.shares == (0.5, 0.5) and not split.mixed
    (merge,) = lf.merges(flow)
    assert (merge.layer, merge.classes, merge.shares) == (0, (1, 1), (15 / 31, 15 / 31))
    assert flow.cluster_label[flow.node(1, merge.cluster)] == 1


def test_counts_conserve_the_sample(flow):
    n = flow.n
    for layer in range(len(flow.names)):
        assert flow.cluster_size[flow.cluster_offsets[layer] : flow.cluster_offsets[layer + 1]].sum() == n
    for layer in range(len(flow.names) - 1):
        links = np.flatnonzero(flow.link_layer == layer)
        assert flow.link_count[links].sum() == n
        rows = np.concatenate([flow.rows(i) for i in links])
        assert np.array_equal(np.sort(rows), np.arange(n))  # every image once
        for i in links:  # a link's images are in its source and target clusters
            assert np.all(flow.assign[layer, flow.rows(i)] == flow.link_source[i])
            assert np.all(flow.assign[layer + 1, flow.rows(i)] == flow.link_target[i])


def test_misclassified_flows_are_a_subset_and_the_mistake_that_leaves_its_class_is_found(flow):
    wrong = flow.predicted != flow.labels
    for i in range(flow.n_links):
        part = flow.rows(i, "wrong")
        assert set(part) <= set(flow.rows(i)) and np.all(wrong[part]) and len(part) == flow.link_wrong[i]
        assert not np.any(wrong[flow.rows(i, "correct")])
    for layer in range(len(flow.names) - 1):
        assert flow.link_wrong[flow.link_layer == layer].sum() == wrong.sum() == 3
    top = lf.mistakes_leaving(flow)
    assert len(top) == 1 and flow.rows(top[0], "wrong").tolist() == [2 * PER]  # class 2 -> class 1's cluster
    assert flow.link_layer[top[0]] == 0 and flow.link_label[top[0]] == 2
    assert lf.leaving(flow)[top[0]] == 1
    top = lf.largest(flow, 1)[0]  # the largest: class 1's merged blob and the moved image, hidden -> output
    assert (flow.link_count[top], flow.link_layer[top], flow.link_label[top]) == (PER + 1, 1, 1)


def test_the_default_k_is_twice_the_classes_capped_by_the_sample_and_bad_inputs_are_refused():
    reps, labels, predicted = planted()
    assert lf.cluster_count(1000, 10) == 20 and lf.cluster_count(7, 10) == 7
    assert lf.layer_flow(reps, labels, predicted).k == 6
    with pytest.raises(LayerError, match="at least two"):
        lf.layer_flow({"input": reps["input"]}, labels, predicted)
    with pytest.raises(LayerError, match="same images"):
        lf.layer_flow({"a": reps["input"], "b": reps["hidden"][:5]}, labels, predicted)
    with pytest.raises(LayerError, match="NaN or inf"):
        lf.layer_flow({"a": reps["input"], "b": np.full_like(reps["hidden"], np.nan)}, labels, predicted)
    with pytest.raises(jobs.JobLimitError):
        jobs.specs.layer_flow_spec("ls", 10_000_000, 7, 20)


def test_the_job_reports_progress_per_layer_and_stores_what_it_found(flow, tmp_path):
    reps, labels, predicted = planted()
    seen = []
    spec = jobs.specs.layer_flow_spec("ls", len(labels), len(reps), 4)
    found = tasks.run_inline(
        spec, {"reps": reps, "labels": labels, "predicted": predicted}, lambda *a, **_: seen.append(a)
    )
    assert seen == [("layers", i, 3) for i in range(4)]
    again = lf.LayerFlow.of_fields(flow.fields())
    for name, value in flow.fields().items():
        assert np.array_equal(getattr(found, name), value) and np.array_equal(getattr(again, name), value)


def test_the_sankey_draws_one_node_per_cluster_and_the_misclassified_in_red(flow):
    fig = plots.layer_flow(flow, ["zero", "one", "two"])
    (sankey,) = fig.data
    assert sankey.type == "sankey" and len(sankey.node.label) == flow.cluster_offsets[-1]
    assert sum(sankey.link.value) == flow.n * 2 and plots.WRONG_COLOUR not in sankey.link.color
    followed = plots.layer_flow(flow, ["zero", "one", "two"], follow_wrong=True, highlight=0).data[0]
    red = [
        v for v, c in zip(followed.link.value, followed.link.color, strict=True) if "214, 39, 40" in c or c == "#d62728"
    ]
    assert sum(red) == 3 * 2 and sum(followed.link.value) == flow.n * 2
    assert [a.text for a in fig.layout.annotations] == ["input", "hidden", "output"]


@pytest.fixture(scope="module")
def studied(model, digits, tmp_path_factory):
    """The seed MLP on 300 digits test images, through the service in this process."""
    workspace = Workspace(tmp_path_factory.mktemp("flow") / "ws")
    record = models.save_model(workspace, model, "mlp", dataset="digits")
    runner = InlineRunner()
    service = Service(workspace, runner)
    ls = service.layer_set(record, digits, "test", sample_size=300)
    predicted, _ = service.predictions(record, digits, "test")
    return workspace, ls, predicted[ls.indices], service.layer_flow(ls, predicted[ls.indices], 10), runner


def test_the_job_equals_the_function_through_the_service_and_is_stored(studied):
    workspace, ls, predicted, found, runner = studied
    assert runner.ran[-1] == keys.layer_flow_key(ls.key, 20)  # ran as a job, keyed by the layer set and k
    expected = lf.layer_flow(ls.reps, ls.labels, predicted, k=20)
    assert found.names == ls.names and found.names[0] == "input"
    for name, value in expected.fields().items():
        assert np.array_equal(getattr(found, name), value), name
    later = InlineRunner()
    again = Service(workspace, later).layer_flow(ls, predicted, 10)  # another process: read from the workspace
    assert later.ran == [] and np.array_equal(again.link_rows, found.link_rows) and again.names == found.names


def test_the_layers_page_draws_the_flow_and_a_ribbon_selects_its_images_everywhere(tmp_path, monkeypatch, model):
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    record = models.save_model(Workspace(tmp_path / "ws"), model, "mlp", dataset="digits")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[state.MODEL] = record.id
    at.session_state["layers_sample"] = 100
    at = no_exception(at.run())
    at = no_exception(at.switch_page(page_path("layers")).run())
    assert any(h.value == "Layer flow" for h in at.subheader)
    assert any('"sankey"' in c.proto.spec for c in at.get("plotly_chart"))
    ribbon = at.selectbox(key=flow_view.RIBBON_KEY)
    assert ribbon.value is not None and "images" in ribbon.format_func(ribbon.value)
    at = no_exception(at.button(key=flow_view.SELECT_KEY).click().run())
    followed = at.session_state[layer_glue.FOLLOW]["indices"]
    assert followed == sorted(followed) and at.session_state[links.SELECTION]["indices"] == followed
    assert f"Select this ribbon's {len(followed):,} images" in [b.label for b in at.button]
    at.toggle(key=flow_view.WRONG_KEY).set_value(True)
    at = no_exception(at.radio(key=flow_view.RANKING_KEY).set_value("mistakes").run())
    assert any("misclassified images in red" in c.proto.spec for c in at.get("plotly_chart"))
