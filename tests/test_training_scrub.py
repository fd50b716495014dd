"""A training you can scrub: one stable map of a layer across checkpoints, its job, its animated figure."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from featlib import jobs, keys, plots
from featlib.errors import ReducerError
from featlib.jobs.runner import InlineRunner
from featlib.maps import checkpoint_flow as flow_lib
from featlib.maps import embed
from featlib.service import Service
from featlib.store import Workspace

PARAMS = embed.UMAPParams(metric="euclidean", n_neighbors=10, n_epochs=60)


@pytest.fixture(scope="module")
def pixels(digits):
    """240 digits as (240, 64) pixels in 0..1, and their labels."""
    images, labels = digits.split("train")
    return images[:240].reshape(240, -1).astype("float32") / 16, labels[:240]


@pytest.mark.parametrize("method", sorted(flow_lib.METHODS))
def test_identical_checkpoints_barely_move_where_independent_maps_jump(pixels, method):
    x, _ = pixels
    noise = np.random.default_rng(0).normal(0, 0.01, x.shape).astype("float32")
    flow = flow_lib.checkpoint_flow([x, x, x + noise], PARAMS, method=method)  # one fit: each costs a compile
    assert flow.shape == (3, 240, 2) and flow.dtype == np.float32 and np.isfinite(flow).all()
    moved = flow_lib.displacement(flow)
    assert moved.shape == (2, 240)
    independent = [embed.umap_embed(x, PARAMS), embed.umap_embed(x, replace(PARAMS, random_state=1))]
    jump = np.median(flow_lib.displacement(independent))
    # identical checkpoints, then a layer that changed a little: its images move a little
    assert np.median(moved[0]) < 0.1 < jump and np.median(moved[1]) < 0.1, (np.median(moved, axis=1), jump)


def test_the_displacement_is_in_units_of_the_map_size():
    square = np.array([[0, 0], [2, 0], [0, 2], [2, 2]], dtype="float32")
    assert flow_lib.spread(square) == pytest.approx(np.sqrt(2))
    moved = flow_lib.displacement([square, square * 10])  # a map drawn ten times larger: its points did move
    assert moved.shape == (1, 4) and np.all(moved >= 0)
    assert flow_lib.displacement([square, square]).max() == 0
    assert flow_lib.moved_images(np.stack([square, square + [[0, 0], [0, 0], [5, 0], [0, 1]]]), 0, 1, 2).tolist() == [
        2,
        3,
    ]


def test_the_frames_figure_has_one_frame_per_checkpoint(pixels):
    x, labels = pixels
    flow = np.stack([x[:, :2], x[:, 2:4], x[:, 4:6]])
    indices = np.arange(100, 340)
    names = ["epoch 1", "epoch 2", "epoch 3 (trained)"]
    fig = plots.checkpoint_flow(flow, indices, labels, names, [f"c{i}" for i in range(10)], marked=[100, 5], start=2)
    assert [f.name for f in fig.frames] == names
    assert [step["label"] for step in fig.layout.sliders[0].steps] == [n.removeprefix("epoch ") for n in names]
    assert fig.layout.sliders[0].active == 2
    assert [b.label for b in fig.layout.updatemenus[0].buttons] == ["▶ Play", "❚❚ Pause"]
    classes = len(np.unique(labels))
    for frame, coords in zip(fig.frames, flow):
        assert len(frame.data) == classes + 1  # a trace per class and the ringed images, in every frame
        for trace in frame.data[:classes]:
            rows = np.array([int(i) for i in trace.ids]) - 100  # each point keeps its identity: its dataset index
            assert np.allclose(np.column_stack([trace.x, trace.y]), coords[rows])
        assert list(frame.data[-1].ids) == ["moved-100"]  # 5 is not among the points
    assert list(fig.data[0].ids) == list(fig.frames[2].data[0].ids)
    low, high = fig.layout.xaxis.range
    assert low <= flow[..., 0].min() and high >= flow[..., 0].max()  # the axes hold every frame
    with pytest.raises(ValueError, match="One title per checkpoint"):
        plots.checkpoint_flow(flow, indices, labels, names[:2])


def _reps(pixels) -> list[tuple[str, np.ndarray]]:
    x, _ = pixels
    rng = np.random.default_rng(0)
    return [
        (f"rep/m{i}/d/train/dense_1/function/0-1", x + rng.normal(0, 0.02 * i, x.shape).astype("float32"))
        for i in range(3)
    ]


def test_the_job_equals_the_function_and_its_maps_are_stored(tmp_path, pixels):
    x, labels = pixels
    reps = _reps(pixels)
    workspace, runner = Workspace(tmp_path / "ws"), InlineRunner()
    service = Service(workspace, runner)
    params = PARAMS
    maps = service.checkpoint_flow(reps, labels, sample_size=200, params=params)  # the default method
    indices = embed.stratified_sample(labels, 200, seed=0)
    expected = flow_lib.checkpoint_flow([r[indices] for _, r in reps], params)
    assert [np.array_equal(m.indices, indices) for m in maps] == [True] * 3
    assert np.allclose(np.stack([m.coords for m in maps]), expected, atol=1e-5)
    assert runner.ran == [keys.checkpoint_flow_key([k for k, _ in reps], 200, 0, params, flow_lib.DEFAULT_METHOD)]
    # stored as maps of each checkpoint's representation: found again without a job, read back by their keys
    again = Service(workspace, runner).checkpoint_flow(reps, labels, sample_size=200, params=params)
    assert len(runner.ran) == 1 and all(np.array_equal(a.coords, m.coords) for a, m in zip(again, maps))
    fields = keys.read_key(maps[1].key)
    assert (fields.is_map, fields.rep_key, fields.reducer, fields.parameters["how"]) == (
        True,
        reps[1][0],
        "umap",
        flow_lib.DEFAULT_METHOD,
    )
    assert maps[1].key.startswith(keys.maps_prefix(reps[1][0]))


def test_the_job_reports_progress_per_checkpoint(pixels):
    x, labels = pixels
    reps = [r for _, r in _reps(pixels)]
    seen = []
    spec = jobs.specs.checkpoint_flow_spec("flow/test", len(x), len(reps), PARAMS, "transform")
    jobs.run_inline(
        spec,
        {"reps": reps, "labels": labels},
        progress=lambda stage, done, total, **_: seen.append((stage, done, total)),
    )
    assert seen[-1] == ("checkpoints", 3, 3) and {d for _, d, _ in seen} == {0, 1, 2, 3}


def test_the_flow_refuses_what_it_cannot_lay_out(pixels, monkeypatch):
    x, _ = pixels
    with pytest.raises(ReducerError, match=r"2 to 12 checkpoints together; got 1\. Save checkpoints"):
        flow_lib.checkpoint_flow([x], PARAMS)
    with pytest.raises(ReducerError, match=r"all of one shape\); got shapes \[\(240, 64\), \(200, 64\)\]"):
        flow_lib.checkpoint_flow([x, x[:200]], PARAMS)
    with pytest.raises(ReducerError, match="Unknown flow method 'tsne'"):
        flow_lib.checkpoint_flow([x, x], PARAMS, method="tsne")
    with pytest.raises(ReducerError, match="is a UMAP map; got PCA"):
        jobs.specs.checkpoint_flow_spec("k", 100, 2, embed.PCAParams(), "transform")
    with pytest.raises(ReducerError, match="got 13. Pick fewer epochs"):
        jobs.specs.checkpoint_flow_spec("k", 100, 13, PARAMS, "transform")
    with pytest.raises(ReducerError, match="Unknown way to tie a training's maps: 'umap'"):
        jobs.specs.checkpoint_flow_spec("k", 100, 3, PARAMS, "umap")
    monkeypatch.setenv("FEATLIB_LIMIT_REDUCE_UMAP_POINTS", "1000")
    with pytest.raises(jobs.JobLimitError):
        jobs.specs.checkpoint_flow_spec("k", 400, 3, PARAMS, "transform")  # 1,200 points in all


def test_the_compare_page_scrubs_a_training_run_in_the_users_own_fit(app, tmp_path, digits):
    from app_testing import no_exception, page_path

    from featlib import models
    from featlib.callbacks import CheckpointCallback

    model = models.build_mlp((64,), hidden=(16, 8), seed=1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    saver = CheckpointCallback(tmp_path / "ws", "own", digits, epochs=[1])
    model.fit(models.adapt_images(digits.x_train, model), digits.y_train, epochs=2, callbacks=[saver], verbose=0)

    at = no_exception(app.run())
    at = no_exception(at.switch_page(page_path("compare")).run())
    assert at.selectbox(key="scrub_model").value == saver.record.id
    at.selectbox(key="scrub_layer").set_value("dense_1")
    at.number_input(key="scrub_sample").set_value(200)
    at = no_exception(at.run())
    next(b for b in at.button if b.label == "Lay out the checkpoints").click()
    at = no_exception(at.run())
    [chart] = [c for c in at.get("plotly_chart") if c.key == "scrub-flow"]
    assert (
        '"frames"' in chart.proto.spec and '"epoch 1"' in chart.proto.spec and "epoch 2 (trained)" in chart.proto.spec
    )
    assert any("moved by a median of" in c.value for c in at.caption)
    assert any("images that moved most" in m.value for m in at.markdown)
    assert [at.selectbox(key=k).value for k in ("scrub_epoch_a", "scrub_epoch_b")] == ["epoch 1", "epoch 2 (trained)"]


def test_a_long_training_is_scrubbed_through_evenly_spread_checkpoints():
    from featlib.app import training_scrub
    from featlib.store import ModelRecord

    final = ModelRecord("f", "run", "digits", "", 0.9, "0-1", "fp", "p", "now", {"epochs": 20})
    checkpoints = [
        ModelRecord(
            f"c{e}", f"run@epoch{e}", "digits", "", 0.5, "0-1", f"fp{e}", "p", "now", {"checkpoint_of": "f", "epoch": e}
        )
        for e in range(1, 20)
    ]
    other = ModelRecord("o", "alone", "digits", "", 0.9, "0-1", "fo", "p", "now", {})
    chains = training_scrub.trainings([final, *checkpoints, other])
    assert list(chains) == ["f"]  # a model without checkpoints has nothing to scrub
    chain = chains["f"]
    assert len(chain) == flow_lib.MAX_CHECKPOINTS and chain[-1] is final
    epochs = [r.meta["epoch"] for r in chain[:-1]]
    assert epochs[0] == 1 and epochs[-1] == 19 and epochs == sorted(set(epochs))
    assert training_scrub.titles(chain)[-2:] == ["epoch 19", "epoch 20 (trained)"]
