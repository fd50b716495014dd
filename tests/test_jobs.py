"""Jobs on a real Dask LocalCluster: results, one job per key, progress, cancel, limits, lost workers.

The cluster is real (worker processes behind nannies), as is the workspace
(files and SQLite index) that the manager records jobs in and stores results to.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from featlib import jobs, pipeline
from featlib.jobs import Input, JobManager
from featlib.maps import embed
from featlib.store import Workspace


@pytest.fixture(scope="module")
def engine():
    engine = jobs.Engine.start(workers=2, memory_limit="3GiB")
    yield engine
    engine.close()


@pytest.fixture()
def manager(engine, tmp_path):
    running = JobManager(engine, Workspace(tmp_path / "ws"))
    yield running
    running.close()


def _points(n: int = 1_437, d: int = 32, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    centres = rng.normal(scale=5.0, size=(10, d))
    return (centres[labels] + rng.normal(size=(n, d))).astype("float32"), labels


def _wait(handle, timeout: float = 240) -> None:
    assert handle.wait(timeout), f"job {handle.spec.kind} did not finish in {timeout} s: {handle.status}"


def test_a_job_gives_on_the_cluster_what_it_gives_in_process(manager):
    points, _ = _points()
    spec = jobs.specs.reduce_spec("emb/same", len(points), embed.UMAPParams(n_epochs=30), graph_key="g/same")
    inline = jobs.run_inline(spec, {"points": points})
    handle = manager.submit(spec, {"points": Input("points/same", lambda: points)})
    _wait(handle)
    np.testing.assert_allclose(handle.outcome(), inline, rtol=1e-5, atol=1e-5)
    row = manager.workspace.jobs.get(handle.job_id)
    assert (row.kind, row.status, row.key) == ("reduce", "done", "emb/same")
    assert row.started_at and row.finished_at and row.queued_at <= row.started_at <= row.finished_at


def test_the_same_key_runs_once_and_progress_is_reported(manager):
    points, _ = _points(seed=1)
    spec = jobs.specs.reduce_spec("emb/once", len(points), embed.UMAPParams(n_epochs=200), graph_key="g/once")
    first = manager.submit(spec, {"points": points}, creator="alice")
    second = manager.submit(spec, {"points": points}, creator="bob")
    assert second is first
    stages = set()
    while not first.wait(0.05):
        stages.add(first.stage)
    assert "layout" in stages
    assert first.done == first.total == 200
    rows = manager.workspace.jobs.list()
    assert [(r.key, r.creator) for r in rows] == [("emb/once", "alice")]


def test_store_runs_in_the_submitting_process_and_writes_the_workspace(manager):
    points, labels = _points(seed=2)
    ws = manager.workspace
    key = "emb/rep/stored"
    spec = jobs.specs.reduce_spec(key, len(points), embed.PCAParams())
    handle = manager.submit(
        spec,
        {"points": points},
        store=lambda coords: pipeline.save_embedding(ws, key, np.arange(len(points)), coords, "rep", None),
    )
    _wait(handle)
    stored = pipeline.load_embedding(ws, key)
    np.testing.assert_array_equal(stored.coords, handle.outcome().coords)
    assert stored.coords.shape == (len(points), 2)


def test_a_failing_job_says_why_and_stores_nothing(manager):
    points, _ = _points(n=10)
    spec = jobs.specs.reduce_spec("emb/few", len(points), embed.UMAPParams())
    handle = manager.submit(spec, {"points": points}, store=lambda result: pytest.fail("stored a failed job"))
    _wait(handle)
    with pytest.raises(jobs.JobFailed, match=r"UMAP needs at least 16 points for n_neighbors=15 .*; got 10"):
        handle.outcome()
    assert manager.workspace.jobs.get(handle.job_id).status == "failed"


def _rescue_check(manager) -> None:
    """The cluster still works: a small job finishes."""
    points, _ = _points(n=200, seed=9)
    spec = jobs.specs.reduce_spec(f"emb/after/{time.monotonic()}", len(points), embed.PCAParams())
    handle = manager.submit(spec, {"points": points})
    _wait(handle, 120)
    assert handle.outcome().shape == (200, 2)


def test_a_cancelled_job_frees_its_worker(manager):
    points, _ = _points(n=4_000, seed=3)
    spec = jobs.specs.reduce_spec("emb/cancel", len(points), embed.TSNEParams())
    handle = manager.submit(spec, {"points": points}, store=lambda result: pytest.fail("stored a cancelled job"))
    deadline = time.monotonic() + 120
    while handle.status != "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert handle.status == "running"
    assert manager.cancel(handle.job_id)
    _wait(handle, 60)
    with pytest.raises(
        jobs.JobCancelled, match="Cancelled: a t-SNE map was stopped before it finished. Nothing was stored"
    ):
        handle.outcome()
    assert manager.workspace.jobs.get(handle.job_id).status == "cancelled"
    _rescue_check(manager)


def test_a_job_over_its_time_limit_stops_and_says_so(manager, monkeypatch):
    monkeypatch.setenv("FEATLIB_LIMIT_REDUCE_TSNE_SECONDS", "2")
    points, _ = _points(n=4_000, seed=4)
    spec = jobs.specs.reduce_spec("emb/slow", len(points), embed.TSNEParams())
    handle = manager.submit(spec, {"points": points})
    _wait(handle, 120)
    with pytest.raises(jobs.JobCancelled, match=r"a t-SNE map is limited to 2 s on this server") as caught:
        handle.outcome()
    assert caught.value.over_limit
    assert manager.workspace.jobs.get(handle.job_id).status == "over-limit"
    _rescue_check(manager)


def test_a_job_whose_worker_is_killed_fails_clearly_and_stores_nothing(manager):
    points, _ = _points(n=6_000, d=64, seed=5)
    spec = jobs.specs.reduce_spec("emb/killed", len(points), embed.UMAPParams(n_epochs=2_000), graph_key="g/killed")
    stored = []
    handle = manager.submit(spec, {"points": points}, store=stored.append)
    pid = None
    deadline = time.monotonic() + 180
    while handle.stage != "layout" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert handle.stage == "layout", handle.stage
    events = manager.engine.client.get_events(jobs.worker.TOPIC)
    pid = next(msg["pid"] for _, msg in reversed(events) if msg.get("job") == handle.job_id and "pid" in msg)
    os.kill(pid, signal.SIGKILL)
    _wait(handle, 60)
    with pytest.raises(
        jobs.WorkerLost,
        match=r"The worker running a UMAP map stopped: it needed more memory than a "
        r"worker's limit \(3GiB\), or it was killed\. Nothing was stored",
    ):
        handle.outcome()
    assert stored == []
    _rescue_check(manager)


def test_jobs_left_running_by_a_dead_process_are_interrupted(engine, tmp_path):
    ws = Workspace(tmp_path / "ws")
    ws.jobs.add("old1", "emb/x", "reduce", title="a map", meta={"owner": f"{os.uname().nodename}:999999"})
    ws.jobs.update("old1", status="running")
    ws.jobs.add("mine", "emb/y", "reduce", meta={"owner": f"{os.uname().nodename}:{os.getppid()}"})  # a live process
    running = JobManager(engine, ws)
    try:
        assert running.interrupted == 1
        assert ws.jobs.get("old1").status == "interrupted"
        assert "stopped before it finished" in ws.jobs.get("old1").error
        assert ws.jobs.get("mine").status == "queued"
    finally:
        running.close()


def test_an_upload_that_needs_more_memory_than_a_worker_ends_that_worker_only(tmp_path, digits, monkeypatch):
    """The worker loading the bomb dies; a job submitted meanwhile, needing an input the cluster holds, still runs.

    featlib's size budget (tests/test_model_budget.py) refuses this file before Keras builds it; the limit is
    raised here, for the workers too, so that the worker's own memory limit is what stops it: the last line
    of defence for what no budget foresaw.
    """
    from featlib import models
    from tests.hostile_corpus import make_keras_memory_bomb

    monkeypatch.setenv("FEATLIB_MAX_MODEL_MB", str(1 << 20))
    bomb = make_keras_memory_bomb(tmp_path)
    assert bomb.stat().st_size < 64 * 1024
    small = jobs.Engine.start(workers=2, memory_limit="1500MiB")
    running = JobManager(small, Workspace(tmp_path / "ws"))
    try:
        held = Input(f"dataset/{digits.fingerprint}", lambda: digits)  # one copy, on whichever worker
        spec = jobs.specs.upload_spec(bomb.name, "bomb", digits.fingerprint, "0-1")
        handle = running.submit(spec, {"data": bomb.read_bytes(), "dataset": held})
        predict = jobs.specs.predict_spec(
            "small-mlp", digits.fingerprint, len(digits.y_test), split="test", input_scale="0-1"
        )
        model = models.model_to_bytes(models.build_mlp((64,), hidden=(16,)))
        meanwhile = running.submit(predict, {"model": model, "dataset": held})
        _wait(handle, 180)
        with pytest.raises(
            jobs.WorkerLost,
            match=r"^loading it needs more memory than a worker's limit \(1500MiB\), "
            r"so it is refused\. Nothing was stored",
        ):
            handle.outcome()
        _wait(meanwhile, 120)
        predicted, confidence = meanwhile.outcome()
        assert predicted.shape == confidence.shape == (len(digits.y_test),)
        _rescue_check(running)
    finally:
        running.close()
        small.close()


# ----------------------------------------------------------------------------- check_upload, inline


def _check_upload(model_bytes: bytes, dataset, scale: str = "0-1") -> dict:
    spec = jobs.specs.upload_spec("mine.keras", "sha", getattr(dataset, "fingerprint", "no-fingerprint"), scale)
    return jobs.run_inline(spec, {"data": model_bytes, "dataset": dataset})


def test_check_upload_of_a_model_that_fits_reports_its_split_and_no_hints(model, digits, workspace):
    from featlib import models
    from featlib.jobs import stored

    output = _check_upload(models.model_to_bytes(model), digits)
    assert output["accuracy"] > 0.85
    assert (output["split"], output["n_images"], output["other_scale_accuracy"], output["hints"]) == (
        "test",
        len(digits.y_test),
        None,
        [],
    )
    assert output["architecture"] == "64-128-64-10 (Sequential, 17,226 params)"
    record = stored.store_upload(
        workspace,
        output,
        name="fits",
        filename="mine.keras",
        dataset="digits",
        dataset_fp=digits.fingerprint,
        input_scale="0-1",
    )
    assert record.test_accuracy == pytest.approx(output["accuracy"])
    assert {k: record.meta[k] for k in ("uploaded_file", "split", "n_images", "other_scale_accuracy", "hints")} == {
        "uploaded_file": "mine.keras",
        "split": "test",
        "n_images": 360,
        "other_scale_accuracy": None,
        "hints": [],
    }


def test_check_upload_near_chance_measures_the_other_scaling_and_says_why(digits, workspace):
    from test_diagnosis import raw_pixel_model_bytes

    from featlib.jobs import stored

    output = _check_upload(raw_pixel_model_bytes(), digits, "0-1")
    assert output["accuracy"] < 0.2 and output["other_scale_accuracy"] > 0.8, output
    assert output["hints"][0].startswith(
        f"Input scaling: with raw 0–255 pixels the accuracy on the test split is {output['other_scale_accuracy']:.2f} "
        f"(against {output['accuracy']:.2f} with pixels / 255): the model expects that scaling"
    )
    assert len(output["hints"]) == 4
    record = stored.store_upload(
        workspace,
        output,
        name="raw",
        filename="raw.keras",
        dataset="digits",
        dataset_fp=digits.fingerprint,
        input_scale="0-1",
    )
    assert record.meta["hints"] == output["hints"]
    assert record.meta["other_scale_accuracy"] == pytest.approx(output["other_scale_accuracy"])
    right = _check_upload(raw_pixel_model_bytes(), digits, "0-255")
    assert right["accuracy"] > 0.8 and right["other_scale_accuracy"] is None and right["hints"] == []


def test_check_upload_on_other_classes_and_on_a_dataset_without_test_split(model, digits):
    from test_diagnosis import TrainOnly, digits_789

    from featlib import models

    data = models.model_to_bytes(model)
    other = _check_upload(data, digits_789(digits))
    assert other["hints"][0].startswith("Classes: the model has 10 outputs but digits-789 has 3 classes")
    assert other["other_scale_accuracy"] is not None  # near chance: the other scaling was measured too
    train_only = _check_upload(data, TrainOnly(digits))
    assert (train_only["split"], train_only["n_images"], train_only["hints"]) == ("train", len(digits.y_train), [])


def test_store_upload_of_an_output_without_the_new_keys_records_the_test_split(model, digits, workspace):
    from featlib import models
    from featlib.jobs import stored

    output = {
        "model": models.model_to_bytes(model),
        "fingerprint": models.fingerprint(model),
        "accuracy": 0.9,
        "architecture": models.architecture_summary(model),
    }
    record = stored.store_upload(
        workspace,
        output,
        name="old",
        filename="old.keras",
        dataset="digits",
        dataset_fp=digits.fingerprint,
        input_scale="0-1",
    )
    assert (record.meta["split"], record.meta["n_images"], record.meta["hints"]) == ("test", None, [])


# Who the cluster answers: featlib only -------------------------------------------------------------------------


def _touch(path: str) -> str:  # what an intruder would run on the workers
    open(path, "w").close()
    return path


def _cluster_processes(engine) -> list:
    import psutil

    root = psutil.Process(engine.cluster.process.pid)
    return [root, *root.children(recursive=True)]


def test_the_local_cluster_s_workers_run_without_the_dashboard_s_monitors(engine):
    """Each worker got featlib.jobs.cluster.IDLE_QUIET from its nanny (bench/idle_cluster.py measures the CPU saved)."""
    from featlib.jobs.cluster import IDLE_QUIET

    def settings() -> dict:
        import dask

        return {key: dask.config.get(key) for key in IDLE_QUIET}

    seen = engine.client.run(settings)
    assert len(seen) == 2 and all(got == IDLE_QUIET for got in seen.values()), seen


def test_the_local_cluster_listens_on_loopback_over_tls_and_serves_no_dashboard(engine):
    from urllib.error import HTTPError
    from urllib.request import urlopen

    assert engine.cluster.address.startswith("tls://127.0.0.1:"), engine.cluster.address
    listening = [c.laddr for p in _cluster_processes(engine) for c in p.net_connections("inet") if c.status == "LISTEN"]
    assert listening and {address.ip for address in listening} == {"127.0.0.1"}, listening
    info = engine.client.scheduler_info()
    http = [info["services"]["dashboard"], *(w["services"]["dashboard"] for w in info["workers"].values())]
    for port, page in [(p, page) for p in http for page in ("/info/main/workers.html", "/health", "/metrics")]:
        with pytest.raises(HTTPError, match="404"):  # Dask's HTTP server answers, but serves no page
            urlopen(f"http://127.0.0.1:{port}{page}", timeout=10)
    assert engine.client.submit(sum, [1, 2]).result(timeout=60) == 3  # featlib's own client is answered


INTRUDER = """
import sys
from distributed import Client
from distributed.security import Security

address, marker, how = sys.argv[1:]
security = Security.temporary() if how == "credentials of its own" else None
with Client(address, timeout="10s", set_as_default=False, security=security) as client:
    client.submit(open, marker, "w").result(timeout=30)
"""
"""What another local account would run: a Dask client that asks the workers to write a file."""


@pytest.mark.parametrize("how", ["no credentials", "credentials of its own", "plain tcp"])
def test_a_local_account_without_the_run_s_credentials_cannot_run_code_on_the_cluster(engine, tmp_path, how):
    import subprocess
    import sys

    marker = tmp_path / "ran"
    address = engine.cluster.address if how != "plain tcp" else engine.cluster.address.replace("tls://", "tcp://")
    intruder = subprocess.run(
        [sys.executable, "-c", INTRUDER, address, str(marker), how], capture_output=True, text=True, timeout=120
    )
    assert intruder.returncode != 0, intruder.stdout + intruder.stderr
    assert not marker.exists()
    assert engine.client.submit(sum, [1, 2]).result(timeout=60) == 3  # featlib's own client still is answered


def test_the_workers_and_nannies_refuse_a_connection_without_the_run_s_credentials(engine):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from distributed.comm import connect
    from distributed.security import Security

    own = Security.temporary().get_connection_args("client")
    info = engine.client.scheduler_info()
    addresses = [*info["workers"], *(w["nanny"] for w in info["workers"].values())]
    assert len(addresses) == 2 * engine.workers()
    for address in addresses:
        with pytest.raises((OSError, TimeoutError)):  # the TLS handshake fails: no message reaches the worker
            with ThreadPoolExecutor(1) as thread:  # a loop of its own, whatever runs in this one
                thread.submit(asyncio.run, _send_one(connect, address, own)).result()


async def _send_one(connect, address: str, connection_args: dict) -> None:
    comm = await connect(address, timeout="5s", **connection_args)
    try:
        await comm.write({"op": "identity"})
        await comm.read()
    finally:
        await comm.close()


def test_a_remote_scheduler_is_reached_over_tls_with_certificates_only(monkeypatch):
    from featlib.errors import ClusterError

    for name in engine_module().TLS_ENV:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ClusterError, match=r"over TLS only .* got 'tcp://127\.0\.0\.1:8786'"):
        jobs.Engine.start(scheduler="tcp://127.0.0.1:8786")
    with pytest.raises(ClusterError, match="FEATLIB_TLS_CA_FILE, FEATLIB_TLS_CERT, FEATLIB_TLS_KEY not set"):
        jobs.Engine.start(scheduler="tls://127.0.0.1:8786")


def engine_module():
    from featlib.jobs import engine as module

    return module


PLANTED = """
import importlib, os, sys
with open({marker!r}, "a") as out:
    out.write(f"{{__name__}} imported by pid {{os.getpid()}} from {{__file__}}\\n")
here = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
del sys.modules[__name__]
real = importlib.import_module(__name__)
sys.modules[__name__] = real
globals().update(real.__dict__)
"""
"""A module another local account plants where Python would import it from: it records that it ran, then hands
over to the real module, so nothing else looks wrong (the red-team review's attack on the local cluster)."""


def test_the_local_cluster_imports_nothing_from_shared_or_working_folders(tmp_path, monkeypatch):
    import tempfile

    marker = tmp_path / "planted-ran"
    shared_tmp = tmp_path / "tmp"  # as a fresh /tmp: anyone may create Dask's default scratch folder there first
    for folder in (shared_tmp / "dask-scratch-space", tmp_path / "cwd"):
        folder.mkdir(parents=True)
        folder.chmod(0o777)
        for name in ("argparse", "csv", "uuid"):
            (folder / f"{name}.py").write_text(PLANTED.format(marker=str(marker)))
    shared_tmp.chmod(0o1777)
    monkeypatch.setenv("TMPDIR", str(shared_tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    monkeypatch.chdir(tmp_path / "cwd")  # featlib started from a folder others can write to
    engine = jobs.Engine.start(workers=1, memory_limit="1500MiB")
    try:
        folder = Path(engine.cluster.folder)
        assert folder.parent == shared_tmp and folder.stat().st_mode & 0o777 == 0o700
        assert engine.client.submit(sum, [1, 2]).result(timeout=120) == 3  # a worker ran a task
        assert engine.client.run(lambda: __import__("argparse").__file__)  # and imported argparse: the real one
        assert not marker.exists(), marker.read_text()
    finally:
        process = engine.cluster.process
        engine.close()
    assert not folder.exists()  # the cluster's own folder goes with it
    assert process.stdin.closed and process.stdout.closed  # nor does it leave its pipes open
