"""Issue 28, item 8: the waits say what they wait for, count images as images, and give an estimate."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from featlib import keys
from featlib.app import job_watch
from featlib.jobs import tasks
from featlib.jobs.manager import JobHandle, describe
from featlib.jobs.spec import JobSpec


@pytest.fixture(scope="module")
def model_bytes(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("progress") / "mlp.keras"
    model.save(path)
    return path.read_bytes()


def _recorder():
    seen = []
    return seen, lambda stage, done, total, **extra: seen.append((stage, done, total))


def test_reading_a_layer_counts_images(model_bytes, digits):
    seen, progress = _recorder()
    tasks.extract(
        model=model_bytes,
        model_fp="fp-progress",
        dataset=digits,
        split="test",
        layer="dense_1",
        method="function",
        input_scale="0-1",
        progress=progress,
    )
    n = len(digits.split("test")[1])
    assert seen and {stage for stage, _, _ in seen} == {"images"}, seen
    assert seen[-1][1:] == (n, n)


def test_checking_both_methods_reports_its_progress_in_images(model_bytes, digits):
    seen, progress = _recorder()
    tasks.compare_methods(
        model=model_bytes,
        model_fp="fp-progress",
        dataset=digits,
        split="test",
        layer="dense_1",
        input_scale="0-1",
        sample=200,
        progress=progress,
    )
    counted = [(done, total) for stage, done, total in seen if stage == "images" and total > 1]
    assert len(counted) >= 8, seen  # 2 methods × (1 + 3 runs), at least one step each
    assert counted[-1] == (2 * 4 * 200, 2 * 4 * 200)
    assert [d for d, _ in counted] == sorted(d for d, _ in counted)


def _handle(stage: str, done: int, total: int, started_ago: float) -> JobHandle:
    spec = JobSpec("extract", keys.representation_key("m", "d", "train", "dense", "function", "0-1"), {}, "reading")
    handle = JobHandle("j1", spec, "alice")
    handle.status, handle.stage, handle.done, handle.total = "running", stage, done, total
    handle.started = time.monotonic() - started_ago
    return handle


@pytest.mark.parametrize("stage", ["images", "batch"])
def test_progress_says_images_and_how_long_is_left(stage):
    said = describe(_handle(stage, 2_325, 10_000, started_ago=10.0))
    assert said.startswith("images 2,325/10,000"), said
    assert "batch" not in said
    assert "about 33 s left" in said, said


def test_a_job_waiting_for_a_fresh_worker_says_it_loads_tensorflow():
    handle = _handle("queued", 0, 1, started_ago=0.0)
    handle.status, handle.started, handle.future = "queued", None, object()
    handle.submitted = time.monotonic() - 5
    engine = SimpleNamespace(worker_of=lambda future: "tcp://fresh:1", busy_workers=lambda: 1, workers=lambda: 2)
    running = SimpleNamespace(position=lambda h: 1, engine=engine)
    said = job_watch._state(running, handle)
    assert "loading TensorFlow and Keras on a worker" in said and "about 20 s" in said and "5 s so far" in said, said
    assert said != "starting on a worker"


@pytest.mark.parametrize(
    ("stage", "said"),
    [
        ("layers", "layer 3/7 · about"),
        ("seeds", "map of seed 3/7 · about"),
        ("checkpoints", "checkpoint 3/7 · about"),
        ("units", "units 3/7 · about"),
        ("aligning", "aligning the checkpoints' maps (10 s)"),
        ("placing", "placing the other images on the map (10 s)"),
    ],
)
def test_every_stage_a_job_reports_is_said_in_words(stage, said):
    assert describe(_handle(stage, 3, 7, started_ago=10.0)).startswith(said)
