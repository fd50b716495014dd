"""The three failures of the jobs issue, replayed against a real server (with its local cluster) in Chromium.

1. A session reloads its page while its UMAP map computes; a second session
   then opens the map of the same model and makes one of its own.
2. A Compare link asks for four t-SNE panels on all 60,000 Fashion-MNIST
   training images (needs Debian's dataset-fashion-mnist).
3. A 19 KB ``.keras`` whose first Dense declares 6 GB of weights is uploaded
   (workers limited to ``--worker-memory``), while a second session trains.

For each it prints what the user reads and how long it took, and whether the
server kept serving. ``.venv/bin/python bench/failures.py [--json]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from featlib.serve import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402


def _session(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(300_000)
    page.goto(url)
    page.get_by_role("heading", name="featlib").wait_for()
    return context, page


def _goto(page, name: str) -> None:
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name=name, exact=True).click()
    page.locator("h1").filter(has_text=name).wait_for()


def _train(page, epochs: int = 3) -> None:
    _goto(page, "Model")
    page.get_by_label("Epochs").fill(str(epochs))
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("test accuracy").wait_for()


def _map_drawn(page) -> None:
    page.get_by_text("10-NN accuracy of the map").wait_for()
    page.locator(".js-plotly-plot").first.locator("canvas").first.wait_for()


def reload_mid_map(browser, url: str) -> dict:
    a_context, a = _session(browser, url)
    _train(a)
    _goto(a, "Explore")
    a.get_by_text("Computing the UMAP map").wait_for()
    a.reload()
    a.locator("h1").filter(has_text="Explore").wait_for()  # a new session on the same page
    reloaded = time.monotonic()
    b_context, b = _session(browser, url)
    _goto(b, "Model")
    b.get_by_role("tab", name="Pick a saved model").click()
    b.get_by_role("button", name="Use this model").click()
    _goto(b, "Explore")
    _map_drawn(b)
    attached = time.monotonic() - reloaded
    b.get_by_label("seed").fill("11")
    b.get_by_role("button", name="Compute the map").click()
    computing = b.get_by_text("Computing the UMAP map")
    computing.wait_for()
    start = time.monotonic()
    computing.wait_for(state="detached")
    _map_drawn(b)
    own = time.monotonic() - start
    a_context.close()
    b_context.close()
    return {"second_session_first_map_s": round(attached, 1), "second_session_own_map_s": round(own, 1)}


def tsne_link(browser, url: str, workspace: Path) -> dict | None:
    from featlib.share.compare import CompareView, Panel
    from featlib.store import Workspace

    env = dict(os.environ, FEATLIB_WORKSPACE=str(workspace))
    done = subprocess.run(
        [sys.executable, "-m", "featlib", "train", "--dataset", "fashion_mnist", "--epochs", "1", "--name", "fm"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        print(f"note: no Fashion-MNIST model: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    model = Workspace(workspace).get_model("fm").id
    view = CompareView(
        "fashion_mnist",
        tuple(Panel(model, layer, "function", "tsne") for layer in ("dense", "activation", "dense_1", "activation_1")),
        sample=None,
    )
    context, page = _session(browser, url)
    start = time.monotonic()
    page.goto(f"{url}/compare?{urlencode(view.to_query())}")
    alert = page.get_by_test_id("stAlertContentError").first
    alert.wait_for()
    seconds = time.monotonic() - start
    text = alert.inner_text()
    context.close()
    return {"message": text, "seconds_to_message": round(seconds, 1)}


def memory_bomb(browser, url: str, folder: Path) -> dict:
    from hostile_corpus import make_keras_memory_bomb

    bomb = make_keras_memory_bomb(folder)
    a_context, a = _session(browser, url)
    b_context, b = _session(browser, url)
    _goto(a, "Model")
    a.get_by_role("tab", name="Upload a model").click()
    a.get_by_test_id("stFileUploader").filter(has_text="Model file").locator("input[type=file]").set_input_files(
        str(bomb)
    )
    a.get_by_text(bomb.name).first.wait_for()
    start = time.monotonic()
    a.get_by_role("button", name="Load this model").click()
    _train(b)  # a second user trains meanwhile
    trained = time.monotonic() - start
    alert = a.get_by_test_id("stAlertContentError").first
    alert.wait_for()
    seconds = time.monotonic() - start
    text = alert.inner_text()
    a_context.close()
    b_context.close()
    return {
        "file_bytes": bomb.stat().st_size,
        "message": text,
        "seconds_to_message": round(seconds, 1),
        "second_session_trained_within_s": round(trained, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker-memory", default="2GiB", help="FEATLIB_WORKER_MEMORY of the server (default 2GiB)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="featlib-failures-"))
    workspace = folder / "ws"
    figures: dict = {}
    with (
        open(folder / "streamlit.log", "w+") as log,
        running_app(workspace, log, FEATLIB_WORKER_MEMORY=args.worker_memory, TF_CPP_MIN_LOG_LEVEL="2") as (
            url,
            server,
        ),
    ):
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            figures["reload_mid_map"] = reload_mid_map(browser, url)
            figures["tsne_link"] = tsne_link(browser, url, workspace)
            figures["memory_bomb"] = memory_bomb(browser, url, folder)
            browser.close()
        figures["server_alive_at_end"] = server.poll() is None
    if args.json:
        print(json.dumps(figures))
    else:
        for name, value in figures.items():
            print(f"{name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
