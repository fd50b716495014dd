"""Shared fixtures: the bundled digits, one small trained MLP, the model zoo trained once per run, tmp
workspaces, one job cluster per test process for the AppTest runs and job-queue tests; and the order in which xdist
hands out the test files (longest first).

Everything is real: Keras models, files under tmp_path, SQLite indexes.
Expensive objects (the trained model, its inputs) are session-scoped and
must not be mutated by tests; tests that change weights build their own model.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import types
from collections.abc import Iterator

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow
# The servers and AppTest runs of the tests skip the workers' UMAP warm-up: on two cores it would
# compete with the tests for a minute each time; what it does is tested by test_jobs.
os.environ.setdefault("FEATLIB_WARM_UP", "0")
os.environ.setdefault("FEATLIB_FIRST_LOOK", "0")  # a test server starts on the workspace its test made
# The test process's job cluster (job_cluster below) and the local clusters some tests start of their own have one
# worker process (a server's default is two): each test drives one session at a time, and on two cores shared by
# two test workers a second worker process only adds its start-up (TensorFlow's import, ~7 CPU s) and its idle
# time. Tests of several jobs at once start their own engines with two workers (test_jobs.py).
os.environ.setdefault("FEATLIB_WORKERS", "1")
os.environ.setdefault("FEATLIB_CLUSTER_NICE", "0")  # tests' clusters share the cores with the tests as equals

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TESTS = str(Path(__file__).resolve().parent)
TRAIN_EPOCHS = 3

# --- Slowest files first ------------------------------------------------------------------------------------------
# pytest-xdist's ``--dist=loadfile`` gives each worker whole files from one queue; pytest.ini turns off its own
# ordering (most tests first, which left the long browser files, with one to three tests each, for the end: one
# worker ran them while the other idled). The queue is ordered here instead, longest file first (longest
# processing time first), so the last files handed out are short ones and both workers finish together. A file's
# cost is the sum of its tests' durations at their last run (kept in pytest's cache, ``.pytest_cache``), else
# the figure below (seconds, measured with three workers on an idle 2-core machine), else a guess per test: half a minute in a browser
# file (a page run in Chromium against a server), a quarter of a second elsewhere.
DURATIONS_KEY = "featlib/test-durations"
EXPECTED_FILE_SECONDS = {
    "tests/test_docs.py": 250,
    "tests/e2e/test_jobs_browser.py": 240,
    "tests/e2e/test_model_zoo_browser.py": 220,
    "tests/e2e/test_hostile_pages.py": 200,
    "tests/e2e/test_browser.py": 160,
    "tests/e2e/test_sharing.py": 160,
    "tests/test_jobs.py": 140,
    "tests/test_small_data_pages.py": 130,
    "tests/test_cli.py": 130,
    "tests/e2e/test_newcomer_browser.py": 130,
    "tests/test_app.py": 130,
    "tests/e2e/test_markup_safety_browser.py": 110,
    "tests/e2e/test_explore_layout.py": 110,
    "tests/test_model_zoo.py": 100,
    "tests/test_bench_peers.py": 100,
    "tests/test_quiet.py": 70,
    "tests/test_compare.py": 60,
    "tests/e2e/test_upload_flow_browser.py": 60,
    "tests/test_crash_recovery.py": 60,
    "tests/test_reductions.py": 60,
    "tests/e2e/test_layers_browser.py": 60,
    "tests/test_small_data.py": 60,
    "tests/test_grid_pooling.py": 60,
    "tests/test_layers.py": 60,
    "tests/test_first_look.py": 50,
    "tests/test_metrics.py": 50,
    "tests/e2e/test_compare_layout.py": 50,
    "tests/e2e/test_notebook_browser.py": 50,  # measured alone (-n 0): 45 s, a JupyterLab and its kernel
    "tests/test_model_budget.py": 50,
    "tests/test_embed.py": 50,
    "tests/test_workspace_page.py": 50,
    "tests/test_notebook.py": 20,  # measured alone (-n 0): 17 s, most of it the session's trained model
}
UNMEASURED_TEST_SECONDS = 0.25
UNMEASURED_BROWSER_TEST_SECONDS = 30.0


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_xdist_auto_num_workers(config):
    """``--numprocesses=auto``: one test worker more than the machine has cores (pytest.ini caps it at 4).

    A third of a browser or CLI test's time is spent waiting (a page's rerun, a server's answer, a
    subprocess's start), during which its worker uses no core: with as many workers as cores, an idle 2-core
    machine ran the suite at 151 % CPU; the extra worker runs a test in those waits.
    """
    return (os.cpu_count() or 1) + 1


@pytest.hookimpl(trylast=True)  # after pytest's own grouping by fixtures, which it keeps within each file
def pytest_collection_modifyitems(config, items):
    """Orders the files by their expected cost, longest first; a file's tests keep their order."""
    cache = getattr(config, "cache", None)  # none under -p no:cacheprovider
    known = cache.get(DURATIONS_KEY, {}) if cache is not None else {}
    measured: dict[str, float] = {}
    unmeasured: dict[str, int] = {}
    for item in items:
        seconds = known.get(item.nodeid)
        if seconds is None:
            unmeasured[_file_of(item.nodeid)] = unmeasured.get(_file_of(item.nodeid), 0) + 1
        else:
            measured[_file_of(item.nodeid)] = measured.get(_file_of(item.nodeid), 0.0) + seconds
    cost = {}
    for item in items:
        name = _file_of(item.nodeid)
        if name not in cost:
            fallback = EXPECTED_FILE_SECONDS.get(name)
            if fallback is not None and name not in measured:
                cost[name] = float(fallback)
            else:
                guess = UNMEASURED_BROWSER_TEST_SECONDS if name.startswith("tests/e2e/") else UNMEASURED_TEST_SECONDS
                cost[name] = measured.get(name, 0.0) + guess * unmeasured.get(name, 0)
    first_seen = {name: i for i, name in enumerate(cost)}
    items.sort(key=lambda item: (-cost[_file_of(item.nodeid)], first_seen[_file_of(item.nodeid)]))


_durations: dict[str, float] = {}


def pytest_runtest_logreport(report):
    """Adds up each test's set-up, call and tear-down (in xdist's controller, every worker's reports)."""
    _durations[report.nodeid] = _durations.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session):
    """Keeps this run's durations for the next run's order (not from xdist's workers: their controller does it)."""
    cache = getattr(session.config, "cache", None)
    if hasattr(session.config, "workerinput") or cache is None or not _durations:
        return
    known = cache.get(DURATIONS_KEY, {})
    known.update({nodeid: round(seconds, 2) for nodeid, seconds in _durations.items()})
    cache.set(DURATIONS_KEY, known)


@dataclass
class Trained:
    """The session's trained 64-128-64-10 MLP and what training reported."""

    model: object
    result: object
    epochs: int
    epoch_calls: list = field(default_factory=list)


@pytest.fixture(scope="session")
def digits():
    from featlib.datasets import load_digits

    return load_digits()


@pytest.fixture(scope="session")
def trained(digits):
    from featlib import models

    model = models.build_mlp((64,), seed=0)
    x_train = models.adapt_images(digits.x_train, model)
    x_test = models.adapt_images(digits.x_test, model)
    calls: list = []
    result = models.train(
        model,
        x_train,
        digits.y_train,
        x_test,
        digits.y_test,
        optimizer="adam",
        learning_rate=0.01,
        epochs=TRAIN_EPOCHS,
        batch_size=32,
        on_epoch_end=lambda epoch, epochs, logs: calls.append((epoch, epochs, dict(logs))),
    )
    return Trained(model, result, TRAIN_EPOCHS, calls)


@pytest.fixture(scope="session")
def model(trained):
    """The trained model; read-only for tests."""
    return trained.model


@pytest.fixture(scope="session")
def x_digits(digits, model):
    """Model-ready (0-1 scaled, flat 64) digits train inputs."""
    from featlib.models import adapt_images

    return adapt_images(digits.x_train, model)


@pytest.fixture(scope="session")
def zoo_models(tmp_path_factory):
    """``make(name, folder)``: ``tests/model_zoo.py``'s model ``name`` as a file in ``folder``, trained once per run.

    The first call for a name builds and trains it in a folder that xdist's workers share (the parent of their
    temp folders, ``tmp_path_factory``'s documented way), under a lock; every call copies the file into
    ``folder``, so tests/test_model_zoo.py and tests/e2e/test_model_zoo_browser.py train each model once between
    them and no test's file is another's.
    """
    import model_zoo

    from featlib.datasets import load_digits

    root = tmp_path_factory.getbasetemp()
    shared = (root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root) / "zoo-models"
    shared.mkdir(exist_ok=True)

    def make(name: str, folder: Path):
        with open(shared / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            record = shared / f"{name}.json"
            if not record.exists():
                (shared / name).mkdir(exist_ok=True)
                saved = model_zoo.ZOO[name](shared / name, load_digits())
                record.write_text(json.dumps({**dataclasses.asdict(saved), "path": str(saved.path)}))
            fields = json.loads(record.read_text())
        path = Path(shutil.copy2(fields.pop("path"), folder))
        return model_zoo.Saved(path=path, **fields)

    return make


@pytest.fixture
def workspace(tmp_path):
    from featlib.store import Workspace

    return Workspace(tmp_path / "ws")


def numpy_forward(model, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output of the seed MLP computed with NumPy from its weights."""
    out: dict[str, np.ndarray] = {}
    h = np.asarray(x, dtype="float64")
    for layer in model.layers:
        if type(layer).__name__ == "Dense":
            w, b = (np.asarray(v, dtype="float64") for v in layer.get_weights())
            h = h @ w + b
        else:
            activation = layer.get_config()["activation"]
            if activation == "relu":
                h = np.maximum(h, 0.0)
            elif activation == "softmax":
                e = np.exp(h - h.max(axis=1, keepdims=True))
                h = e / e.sum(axis=1, keepdims=True)
            else:  # pragma: no cover - the seed MLP has only these
                raise AssertionError(f"unexpected activation {activation}")
        out[layer.name] = h
    return out


@pytest.fixture(scope="session")
def forward():
    """The NumPy reference forward pass, as a fixture."""
    return numpy_forward


# --- One job cluster per test process -------------------------------------------------------------------------
# The AppTest runs of a test process and its job-queue tests started local Dask clusters of their own, each worker
# importing TensorFlow. They share one instead: a real local cluster
# (featlib.jobs.cluster, as a server starts it: one worker, TLS with credentials made for this run, loopback only),
# reached as a remote scheduler through FEATLIB_SCHEDULER and FEATLIB_TLS_* (the path docs/team-and-cluster.md
# describes). An AppTest engine only connects to it and closes only its client. The browser tests' servers keep
# their own clusters (tests/e2e/conftest.py says why). Tests about the local
# cluster itself (its start, failure, priority, workers, security) start their own: test_jobs.py,
# test_quiet_server.py, the remote-scheduler test of test_jobs_browser.py, and tests marked ``own_cluster``.


@pytest.fixture(scope="session")
def job_cluster(tmp_path_factory) -> Iterator[dict[str, str]]:
    """The test process's shared job cluster, started by the first test that asks: the environment that points an
    engine at it, ``{"FEATLIB_SCHEDULER": "tls://127.0.0.1:PORT", "FEATLIB_TLS_CA_FILE": ...}``.

    One worker process (as ``FEATLIB_WORKERS=1`` gave each server's own), the local cluster's memory limit and
    priority (``FEATLIB_WORKER_MEMORY``, ``FEATLIB_CLUSTER_NICE``). The credentials are PEM files in a folder
    only this account reads; the cluster closes at the end of the session (or when this process ends), and the
    session fails if it had ended before: an engine that reached it must leave it running.
    """
    from featlib.jobs import engine
    from featlib.lazy import distributed

    settings = engine.cluster_settings({**os.environ, engine.WORKERS_ENV: "1"})
    security = engine.temporary_credentials()
    folder = tmp_path_factory.mktemp("job-cluster-tls")
    folder.chmod(0o700)
    env = {}
    for name, field_name in zip(engine.TLS_ENV, ("tls_ca_file", "tls_client_cert", "tls_client_key")):
        path = folder / f"{name.lower()}.pem"
        path.touch(0o600)
        path.write_text(getattr(security, field_name))
        env[name] = str(path)
    cluster = engine._start_local_cluster(1, settings["memory_limit"], security, nice=settings["nice"])
    try:
        yield {engine.SCHEDULER_ENV: cluster.address, **env}
        alive = cluster.process.poll() is None
    finally:
        # The clients of this process still connected (the AppTest engines) close first: once the scheduler has
        # gone they would try to reconnect and print why they cannot.
        for client in list(distributed.Client._instances):
            if client.scheduler is not None and client.scheduler.address == cluster.address:
                client.close()
        cluster.close()
    # Engines that reached it as a remote scheduler closed their clients only, never the cluster.
    assert alive, f"the shared job cluster ended before the session (exit status {cluster.process.returncode})"


def _names_used(code: types.CodeType) -> set[str]:
    """The global and attribute names ``code`` and the functions defined in it use."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _names_used(const)
    return names


def runs_the_app(item: pytest.Item) -> bool:
    """Whether test ``item`` runs the dashboard under AppTest: its function, one of its fixtures, or a function of
    its module that they call (and so on) names ``AppTest``. Its CLI commands and engines are left alone."""
    functions = [getattr(item, "function", None)]
    functions += [d.func for defs in item._fixtureinfo.name2fixturedefs.values() for d in defs]
    seen: set[int] = set()
    while functions:
        function = functions.pop()
        code = getattr(function, "__code__", None)
        if code is None or id(code) in seen or not code.co_filename.startswith(TESTS):
            continue
        seen.add(id(code))
        names = _names_used(code)
        if "AppTest" in names:
            return True
        module_globals = getattr(function, "__globals__", {})
        functions += [module_globals[n] for n in names if isinstance(module_globals.get(n), types.FunctionType)]
    return False


@contextlib.contextmanager
def _pointed_at(cluster_env: dict[str, str]) -> Iterator[None]:
    """The environment of :func:`job_cluster` (its scheduler and TLS files) set until the block ends."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in cluster_env.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(autouse=True)
def _apps_use_the_shared_job_cluster(request) -> Iterator[None]:
    """A test that runs the dashboard under AppTest has :func:`job_cluster`'s environment while it runs, unless it
    is marked ``own_cluster``: the AppTest engine (one per process, :mod:`featlib.app.job_watch`) connects to it."""
    if request.node.get_closest_marker("own_cluster") or not runs_the_app(request.node):
        yield
        return
    with _pointed_at(request.getfixturevalue("job_cluster")):
        yield


@pytest.fixture(scope="module")
def shared_engine(job_cluster) -> Iterator[object]:
    """A :class:`featlib.jobs.Engine` on :func:`job_cluster` (one worker), for a test module's job managers;
    closing it closes its client only."""
    from featlib import jobs

    with _pointed_at(job_cluster):
        engine = jobs.Engine.start()
    assert engine.cluster is None  # reached as a remote scheduler: never closed by a test
    yield engine
    engine.close()


@pytest.fixture
def hold_the_worker():
    """``hold(engine, seconds)``: submits a plain Dask task that keeps ``engine``'s only worker busy for ``seconds``
    and returns its future once the worker runs it, so that the jobs submitted next wait, whatever the machine's
    speed and whether the worker is fresh or has run jobs before."""
    import time

    def hold(engine, seconds: float):
        busy = engine.client.submit(time.sleep, seconds, pure=False, key=f"busy-{time.monotonic_ns()}")
        deadline = time.monotonic() + 300  # after what an earlier test left running there, if anything
        while busy.key not in {key for keys in engine.client.processing().values() for key in keys}:
            assert time.monotonic() < deadline, "the worker did not start the sleeping task within 300 s"
            time.sleep(0.05)
        return busy

    return hold


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The dashboard under Streamlit's AppTest, on an empty workspace of its own."""
    from app_testing import APP, TIMEOUT
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    return AppTest.from_file(APP, default_timeout=TIMEOUT)
