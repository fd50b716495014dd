"""``python -m featlib bench``: the product's costs, measured in one run on the same data.

Figures: training the seed MLP, a plain NumPy forward pass up to the layer
(the floor), each extraction method, UMAP cold (a fresh process, Numba
compiling) and warm (the same fit again in that process), and the 10-NN
accuracy of the 2-D map. Timings are medians of several runs where a repeat
is meaningful.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from dataclasses import asdict

from featlib.embed import UMAPParams
from featlib.store import Workspace

_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "softmax": lambda z: np.exp(z - z.max(axis=1, keepdims=True))
    / np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True),
}


def numpy_forward(model, layer_name: str, x: np.ndarray) -> np.ndarray:
    """The output of ``layer_name`` computed with NumPy alone from the model's weights.

    Supports the seed MLP's layers (``Dense`` and ``Activation`` with linear,
    ReLU or softmax); it is the floor that extraction methods are compared to.
    """
    out = x.reshape(len(x), -1).astype("float32")
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Dense":
            kernel, bias = layer.get_weights()
            out = _ACTIVATIONS[layer.get_config()["activation"]](out @ kernel + bias)
        elif kind == "Activation":
            out = _ACTIVATIONS[layer.get_config()["activation"]](out)
        elif kind != "InputLayer":
            raise ValueError(f"numpy_forward supports Dense and Activation layers; got {kind} ({layer.name}).")
        if layer.name == layer_name:
            return out
    raise ValueError(f"No such layer: {layer_name}.")


def median_seconds(fn: Callable[[], object], repeats: int = 5) -> float:
    """Median wall time of ``fn()`` over ``repeats`` runs after one warm-up run."""
    fn()
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return float(np.median(runs))


_UMAP_CHILD = """
import json, sys, time
import numpy as np
from dataclasses import asdict

from featlib.embed import UMAPParams, enable_numba_cache, umap_embed, warm_up
x = np.load(sys.argv[1])
params = UMAPParams(**json.loads(sys.argv[2]))
init = sys.argv[6] or None
start = time.perf_counter()
enable_numba_cache(sys.argv[3])
times = {"import_s": time.perf_counter() - start}
if sys.argv[4] == "warm-up":
    start = time.perf_counter()
    warm_up()
    times["warm_up_s"] = time.perf_counter() - start
for name in ("first_s", "again_s"):
    start = time.perf_counter()
    coords = umap_embed(x, params, init=init)
    times[name] = time.perf_counter() - start
np.save(sys.argv[5], coords)
print(json.dumps(times))
"""


def umap_in_fresh_process(
    x: np.ndarray, params: UMAPParams, numba_cache: Path, warm: bool = False, init: str | None = None
) -> tuple[dict, np.ndarray]:
    """Fits UMAP twice in a new Python process using ``numba_cache``.

    ``init`` is passed to :func:`featlib.embed.umap_embed`. Returns the
    child's timings (``import_s``, optionally ``warm_up_s`` when ``warm``,
    ``first_s``, ``again_s``) and the map.
    """
    with tempfile.TemporaryDirectory() as folder:
        data, coords = Path(folder) / "x.npy", Path(folder) / "coords.npy"
        np.save(data, x)
        repo = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])))
        done = subprocess.run(
            [sys.executable, "-c", _UMAP_CHILD, str(data), json.dumps(asdict(params)), str(numba_cache),
             "warm-up" if warm else "cold", str(coords), init or ""],
            capture_output=True, text=True, env=env,
        )  # fmt: skip
        if done.returncode:
            raise RuntimeError(f"the UMAP child process failed:\n{done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1]), np.load(coords)


def umap_defaults(x: np.ndarray, numba_cache: Path) -> tuple[dict, np.ndarray]:
    """:func:`umap_in_fresh_process` with umap-learn's defaults: its epochs, a spectral start, no PCA."""
    epochs = 500 if len(x) <= 10_000 else 200  # umap-learn's rule
    return umap_in_fresh_process(x, UMAPParams(n_epochs=epochs, pca_dims=None), numba_cache, init="spectral")


def run(
    dataset: str = "digits",
    n_points: int = 10_000,
    layer: str = "dense_1",
    epochs: int = 2,
    browser: bool = True,
) -> dict:
    """Measures everything on ``n_points`` images of ``dataset``; returns the figures.

    Images come from the train split, then the test split when more are
    asked for (70,000 takes all of MNIST or Fashion-MNIST).
    """
    from featlib import datasets, embed, extract, metrics, models

    data = datasets.load_dataset(dataset)
    images = np.concatenate([data.x_train, data.x_test])[:n_points]
    labels = np.concatenate([data.y_train, data.y_test])[:n_points]
    h, w = data.image_shape
    model = models.build_mlp((h * w,), num_classes=data.num_classes)
    x = models.adapt_images(images, model)
    trained = models.train(model, x, labels, x[:1000], labels[:1000], epochs=epochs, batch_size=128)
    floor = median_seconds(lambda: numpy_forward(model, layer, x))
    extractors = {m: extract.Extractor(model, layer, m) for m in extract.METHODS}
    seconds = {m: median_seconds(lambda e=e: e(x)) for m, e in extractors.items()}
    reps = extractors["function"](x)
    sample = embed.stratified_sample(labels, min(len(labels), embed.DEFAULT_SAMPLE))
    first: dict = {}
    if browser:
        # A server whose workspace has no compiled umap-learn code yet: the
        # first start on a fresh machine.
        with tempfile.TemporaryDirectory() as empty:
            first.update(_browser_figures(empty, repeat=False, suffix="_empty_cache"))
    with tempfile.TemporaryDirectory() as workspace:
        # The workspace's Numba cache starts empty (umap_cold_s), then holds
        # what the first process compiled, as on a server that has run before.
        cache = Workspace(workspace).numba_cache
        cold, coords = umap_in_fresh_process(reps[sample], UMAPParams(), cache)
        cached, _ = umap_in_fresh_process(reps[sample], UMAPParams(), cache)
        after_warm_up, _ = umap_in_fresh_process(reps[sample], UMAPParams(), cache, warm=True)
        defaults, default_coords = umap_defaults(reps[sample], cache)
        every = every_defaults = None
        if len(reps) > len(sample):
            every, every_coords = umap_in_fresh_process(reps, UMAPParams(), cache)
            every_defaults, every_default_coords = umap_defaults(reps, cache)
        if browser:
            first.update(_browser_figures(workspace, repeat=True))
    figures = {
        "dataset": data.name,
        "n_points": int(len(x)),
        "layer": layer,
        "units": int(reps.shape[1]),
        "train_s": trained.seconds,
        "train_epochs": epochs,
        "numpy_forward_s": floor,
        "extract_function_s": seconds["function"],
        "extract_submodel_s": seconds["submodel"],
        "function_vs_floor": seconds["function"] / floor,
        "submodel_vs_floor": seconds["submodel"] / floor,
        "max_abs_diff_vs_numpy": float(np.max(np.abs(reps - numpy_forward(model, layer, x)))),
        "umap_points": int(len(sample)),
        "umap_cold_s": cold["first_s"],
        "umap_warm_s": cold["again_s"],
        "umap_cold_cached_s": cached["first_s"],
        "umap_warm_up_s": after_warm_up["warm_up_s"],
        "umap_after_warm_up_s": after_warm_up["first_s"],
        "umap_defaults_warm_s": defaults["again_s"],
        "knn_acc_2d": metrics.knn_accuracy(coords, labels[sample]),
        "knn_acc_2d_umap_defaults": metrics.knn_accuracy(default_coords, labels[sample]),
    }
    if every:
        figures.update({
            "umap_all_points_warm_s": every["again_s"],
            "umap_all_points_defaults_warm_s": every_defaults["again_s"],
            "knn_acc_2d_all_points": metrics.knn_accuracy(every_coords, labels),
            "knn_acc_2d_all_points_umap_defaults": metrics.knn_accuracy(every_default_coords, labels),
        })  # fmt: skip
    figures.update(first)
    return figures


def _browser_figures(workspace: str | Path, repeat: bool, suffix: str = "") -> dict:
    """:func:`first_plot`'s figures, or ``first_plot_s=None`` and the error when the browser run fails."""
    try:
        figures = first_plot(workspace, repeat=repeat)
    except Exception as error:  # report the other figures even when the browser run fails
        figures = {"first_plot_s": None, "first_plot_error": f"{type(error).__name__}: {str(error)[:200]}"}
    return {f"{key}{suffix}": value for key, value in figures.items()}


def first_plot(workspace: str | Path, timeout: float = 300, repeat: bool = True) -> dict:
    """Seconds from server start to the first map in Chromium, for a first-time visitor.

    Starts ``streamlit run app.py`` on ``workspace`` (with no model in it),
    then takes the shortest path with default settings on the offline
    default dataset: Model → Train → Explore (which reads the default layer
    and computes the map). Returns ``first_preview_s`` (the PCA preview
    drawn) and ``first_plot_s`` (the UMAP map drawn); with ``repeat``, also
    the seconds from opening the map's link to the map drawn, in a new
    session on the same server (``repeat_view_s``) and as the first visitor
    of a restarted server (``repeat_view_after_restart_s``).
    """
    from playwright.sync_api import sync_playwright

    from featlib.serve import CHROMIUM, CHROMIUM_ARGS, running_app

    figures: dict = {}
    start = time.perf_counter()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        with running_app(workspace) as (url, _):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(timeout * 1000)
            page.goto(url)
            page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Model", exact=True).click()
            page.get_by_role("button", name="Train", exact=True).click()
            page.get_by_text("test accuracy").wait_for()
            page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Explore", exact=True).click()
            page.locator(".js-plotly-plot canvas").first.wait_for()
            figures["first_preview_s"] = time.perf_counter() - start
            _wait_for_map(page)
            figures["first_plot_s"] = time.perf_counter() - start
            page.wait_for_url("**model=**")  # the view's link, which the page writes into the URL
            link = page.url.removeprefix(url)
            if repeat:
                figures["repeat_view_s"] = _open_view(browser, url + link, timeout)
        if repeat:
            with running_app(workspace) as (url, _):
                figures["repeat_view_after_restart_s"] = _open_view(browser, url + link, timeout)
        browser.close()
    return figures


def _wait_for_map(page) -> None:
    """Waits until the Explore page has drawn its map (the caption under it, then the WebGL canvas)."""
    page.get_by_text("Draw a box or lasso to see the images").wait_for()
    page.locator(".js-plotly-plot canvas").first.wait_for()


def _open_view(browser, link: str, timeout: float) -> float:
    """Seconds from opening ``link`` in a new browser session to its map drawn."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(timeout * 1000)
    start = time.perf_counter()
    page.goto(link)
    _wait_for_map(page)
    seconds = time.perf_counter() - start
    context.close()
    return seconds


def format_table(figures: dict) -> str:
    """The figures as an aligned two-column table."""
    width = max(len(k) for k in figures)
    lines = []
    for key, value in figures.items():
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"{key:<{width}}  {text}")
    return "\n".join(lines)
