"""Heavy work as jobs, in Chromium: a closed tab mid-map, another session attaching, cancel, the Jobs page,
and the whole flow on a real Dask scheduler with two workers that stand for other machines."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_browser import goto, model_page_on_digits
from test_sharing import new_user, plotted_points

from featlib import models
from featlib.maps import compile_cache
from featlib.serve import free_port, running_app
from featlib.store import Workspace

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _train(page, name: str, epochs: int = 3) -> None:
    model_page_on_digits(page)
    page.get_by_label("Epochs").fill(str(epochs))
    page.get_by_label("Save as").first.fill(name)
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("test accuracy").wait_for(timeout=180_000)


def _saved(server, model, digits, name: str) -> str:
    """The session's trained MLP saved in ``server``'s workspace as ``name``; its id. (Training in the browser is
    the newcomer's test and the remote flow's below: here it would only make another model like it.)"""
    meta = {"dataset_fingerprint": digits.fingerprint}
    return models.save_model(Workspace(server["workspace"]), model, name, dataset="digits", meta=meta).id


def _use_model(page, name: str) -> None:
    goto(page, "Model")
    page.get_by_role("tab", name="Pick a saved model").click()
    page.get_by_test_id("stSelectbox").filter(has_text="Saved models").click()
    page.get_by_role("option").filter(has_text=name).first.click()
    page.get_by_role("button", name="Use this model").click()
    page.get_by_text(f"Current model: {name}").wait_for()


def _wait_for_job(workspace: Path, *, creator: str, kind: str, timeout_s: float):
    """The first job of ``kind`` by ``creator`` once it has ended, read from the server's job store."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ended = [j for j in Workspace(workspace).jobs.list() if j.creator == creator and j.kind == kind and j.finished]
        if ended:
            return ended[0]
        time.sleep(0.5)
    raise AssertionError(f"no {kind} job by {creator} ended within {timeout_s} s")


def test_a_closed_tab_mid_map_leaves_the_job_running_and_others_attach(browser, server, shot, model, digits):
    context_a, a = new_user(browser, server["url"], "carol")
    model_id = _saved(server, model, digits, "carol-mlp")
    # 3,000 epochs: a map of the digits that runs for seconds (the default one is done in about one)
    slow_map = f"{server['url']}/explore?model={model_id}&dataset=digits&layer=dense_1&n_epochs=3000"
    a.goto(slow_map)
    a.get_by_test_id("stProgress").get_by_text("Computing the UMAP map").wait_for(
        timeout=120_000
    )  # the map's job is queued or running
    shot(a, "1-computing")
    context_a.close()  # the tab closes while the job runs

    context_b, b = new_user(browser, server["url"], "dave")
    try:
        _use_model(b, "carol-mlp")
        b.goto(slow_map)
        assert len(plotted_points(b)) == 1_437  # carol's job, attached to or found stored
        shot(b, "2-attached")
        b.get_by_label("seed", exact=True).fill("7")
        b.get_by_role("button", name="Compute the map").click()
        # A second map right after: nothing is stuck. The server's job record says so; the "Computing" bar may
        # come and go between two screenshots of a loaded machine, so the test does not wait to see it.
        dave_map = _wait_for_job(server["workspace"], creator="dave", kind="reduce", timeout_s=300)
        assert dave_map.status == "done", dave_map
        b.get_by_test_id("stProgress").get_by_text("Computing the UMAP map").wait_for(state="detached", timeout=60_000)
        assert len(plotted_points(b)) == 1_437
        goto(b, "Jobs")
        table = b.get_by_test_id("stDataFrame")
        table.wait_for()
        shot(b, "3-jobs")
        jobs = Workspace(server["workspace"]).jobs.list()
        maps = [j for j in jobs if j.kind == "reduce" and j.creator in ("carol", "dave")]
        assert {j.creator for j in maps} >= {"carol", "dave"} and all(j.status == "done" for j in maps), maps
    finally:
        context_b.close()


def test_cancel_stops_a_map_and_says_so(browser, server, shot, model, digits):
    context, page = new_user(browser, server["url"], "erin")
    try:
        _saved(server, model, digits, "erin-mlp")
        _use_model(page, "erin-mlp")
        goto(page, "Explore")
        plotted_points(page)
        page.get_by_test_id("stRadio").filter(has_text="UMAP").get_by_text("t-SNE").click()
        # While the page reruns after the radio, the t-SNE form may be shown twice (the run's and a stale copy).
        tsne_form = page.get_by_test_id("stForm").filter(has_text="t-SNE settings")
        tsne_form.get_by_role("button", name="Compute the map").first.click()
        page.get_by_role("button", name="Cancel").click()
        page.get_by_text("Cancelled: a t-SNE map was stopped before it finished. Nothing was stored.").wait_for()
        shot(page, "cancelled")
        rows = [j for j in Workspace(server["workspace"]).jobs.list() if j.creator == "erin" and j.kind == "reduce"]
        assert any(j.status == "cancelled" for j in rows), rows
        page.get_by_role("button", name="Run it again").click()
        page.get_by_text("10-NN accuracy of the map").wait_for(timeout=300_000)  # the freed worker maps again
    finally:
        context.close()


CERTIFICATES = """
openssl req -x509 -newkey rsa:3072 -nodes -days 30 -subj /CN=featlib-cluster-ca -keyout ca.key -out ca.pem
for who in scheduler worker featlib; do
  openssl req -newkey rsa:3072 -nodes -subj /CN=$who -keyout $who.key -out $who.csr
  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -out $who.pem
done
"""
"""The certificates of the manual's cluster recipe (docs/team-and-cluster.md), made the same way."""


@pytest.fixture(scope="module")
def remote_cluster(tmp_path_factory):
    """A real ``dask scheduler`` and two ``dask worker`` processes as the manual's recipe starts them: TLS with
    certificates from one authority, on one named address (here loopback's), with no dashboard and no HTTP pages;
    each worker with its own HOME and working folder and no workspace (they stand for other machines); featlib
    is on their PYTHONPATH (the scheduler unpickles the jobs' functions too). Each HOME's compile cache starts as
    a copy of this machine's (:mod:`featlib.maps.compile_cache`), as on a machine that has mapped before: a first
    map then loads umap-learn's compiled code instead of compiling it in both workers (a minute or more on two
    loaded cores)."""
    certs = tmp_path_factory.mktemp("certs")
    subprocess.run(["bash", "-ec", CERTIFICATES], cwd=certs, check=True, capture_output=True)
    port = free_port()
    address = f"tls://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("cluster-logs")
    dask = str(Path(sys.executable).with_name("dask"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEATLIB_")}
    env.update(DASK_DISTRIBUTED__SCHEDULER__HTTP__ROUTES="[]", DASK_DISTRIBUTED__WORKER__HTTP__ROUTES="[]")
    tls = lambda who: [
        "--tls-ca-file",
        str(certs / "ca.pem"),
        "--tls-cert",
        str(certs / f"{who}.pem"),
        "--tls-key",
        str(certs / f"{who}.key"),
    ]
    compiled = compile_cache.folder()
    processes = [
        subprocess.Popen(
            [
                dask,
                "scheduler",
                "--host",
                "tls://127.0.0.1",
                "--port",
                str(port),
                *tls("scheduler"),
                "--no-dashboard",
                "--dashboard-address",
                "127.0.0.1:0",
            ],
            env=dict(env, PYTHONPATH=str(ROOT)),
            stdout=open(logs / "scheduler.log", "w"),
            stderr=subprocess.STDOUT,
        )
    ]
    for i in range(2):
        home = tmp_path_factory.mktemp(f"worker-{i}-home")
        if compiled.is_dir():
            shutil.copytree(compiled, home / ".cache" / "featlib" / "numba", ignore=shutil.ignore_patterns("*.lock"))
        worker_env = dict(env, HOME=str(home), PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
        processes.append(
            subprocess.Popen(
                [
                    dask,
                    "worker",
                    address,
                    "--interface",
                    "lo",
                    *tls("worker"),
                    "--nthreads",
                    "1",
                    "--memory-limit",
                    "3GiB",
                    "--no-dashboard",
                    "--name",
                    f"w{i}",
                ],
                cwd=home,
                env=worker_env,
                stdout=open(logs / f"worker-{i}.log", "w"),
                stderr=subprocess.STDOUT,
            )
        )
    from distributed import Client
    from distributed.security import Security

    featlib_tls = {
        "FEATLIB_TLS_CA_FILE": str(certs / "ca.pem"),
        "FEATLIB_TLS_CERT": str(certs / "featlib.pem"),
        "FEATLIB_TLS_KEY": str(certs / "featlib.key"),
    }
    security = Security(
        tls_ca_file=str(certs / "ca.pem"),
        tls_client_cert=str(certs / "featlib.pem"),
        tls_client_key=str(certs / "featlib.key"),
        require_encryption=True,
    )
    with Client(address, timeout="60s", security=security) as client:
        client.wait_for_workers(2, timeout=120)
        homes = client.run(lambda: os.environ["HOME"])
    yield {"address": address, "homes": sorted(homes.values()), "tls": featlib_tls}
    for process in reversed(processes):
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_the_main_flow_runs_on_a_remote_scheduler_with_two_workers(browser, remote_cluster, tmp_path, shot):
    workspace = tmp_path / "ws"
    assert len(set(remote_cluster["homes"])) == 2 and all(str(workspace) not in h for h in remote_cluster["homes"])
    log = open(tmp_path / "streamlit-remote.log", "w+")
    with running_app(workspace, log, FEATLIB_SCHEDULER=remote_cluster["address"], **remote_cluster["tls"]) as (url, _):
        context, page = new_user(browser, url, "frank")
        try:
            _train(page, "remote-mlp")
            goto(page, "Explore")
            assert len(plotted_points(page)) == 1_437
            shot(page, "remote-map")
        finally:
            context.close()
    jobs = Workspace(workspace).jobs.list()
    assert {j.kind for j in jobs} >= {"train", "extract", "reduce"} and all(j.status == "done" for j in jobs), jobs
    for home in remote_cluster["homes"]:  # the workers wrote nothing into the workspace; their caches are their own
        written = [
            p for pattern in ("*.sqlite", "*.keras", "*.npy", "*.npz") for p in Path(home).rglob(pattern) if p.is_file()
        ]
        assert written == [], written
