"""The harness of ``featlib bench`` (``make bench``): the product's costs, measured in one run on the same data.

Figures: training the seed MLP, a plain NumPy forward pass up to the layer
(the floor), each extraction method, UMAP cold (a fresh process, Numba
compiling into an empty cache) and warm (the same fit again in that
process), the first map of a fresh process with the machine's compiled code
(:mod:`featlib.maps.compile_cache`) and of a fresh ``python -m featlib embed`` in a
new workspace, the 10-NN accuracy of the 2-D map, the peers a user would pick
instead on the same vectors and a scaling table against them, featlib's t-SNE beside
(``tsne_*``; :mod:`bench.scaling`, with a log–log plot ``scaling.png`` in ``--out``),
and in Chromium the first page and the first map after a server start, the map the server prepares
itself (``first_look_*``), the same map after a later start (``first_look_later_*``), and ``make run``'s, which
prepares it before the server starts (``make_run_*``).
Timings are medians of several runs where a repeat is meaningful.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from bench import scaling as bench_scaling
from featlib.errors import ModelError
from featlib.maps.embed import UMAPParams

_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "linear": lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "softmax": lambda z: (
        np.exp(z - z.max(axis=1, keepdims=True)) / np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)
    ),
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
    raise ModelError(f"No such layer: {layer_name}.")


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

from featlib.maps.compile_cache import enable
from featlib.maps.embed import UMAPParams, umap_embed, warm_up
x = np.load(sys.argv[1])
params = UMAPParams(**json.loads(sys.argv[2]))
init = sys.argv[6] or None
labels = np.load(sys.argv[7]) if sys.argv[7] else None
start = time.perf_counter()
enable(sys.argv[3] or None)
times = {"import_s": time.perf_counter() - start}
if sys.argv[4] == "warm-up":
    start = time.perf_counter()
    warm_up()
    times["warm_up_s"] = time.perf_counter() - start
for name in ("first_s", "again_s"):
    start = time.perf_counter()
    coords = umap_embed(x, params, init=init, labels=labels)
    times[name] = time.perf_counter() - start
np.save(sys.argv[5], coords)
print(json.dumps(times))
"""


def umap_in_fresh_process(
    x: np.ndarray,
    params: UMAPParams,
    numba_cache: Path | None,
    warm: bool = False,
    init: str | None = None,
    labels: np.ndarray | None = None,
) -> tuple[dict, np.ndarray]:
    """Fits UMAP twice in a new Python process using ``numba_cache`` (``None``: the machine's, :mod:`featlib.maps.compile_cache`).

    ``init`` and ``labels`` (which decide ``metric="auto"``) are passed to :func:`featlib.maps.embed.umap_embed`. Returns the
    child's timings (``import_s``, optionally ``warm_up_s`` when ``warm``,
    ``first_s``, ``again_s``) and the map.
    """
    with tempfile.TemporaryDirectory() as folder:
        data, coords = Path(folder) / "x.npy", Path(folder) / "coords.npy"
        np.save(data, x)
        if labels is not None:
            np.save(Path(folder) / "labels.npy", np.asarray(labels))
        repo = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])))
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                _UMAP_CHILD,
                str(data),
                json.dumps(asdict(params)),
                str(numba_cache or ""),
                "warm-up" if warm else "cold",
                str(coords),
                init or "",
                str(Path(folder) / "labels.npy") if labels is not None else "",
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        if done.returncode:
            raise RuntimeError(f"the UMAP child process failed:\n{done.stderr[-2000:]}")
        return json.loads(done.stdout.strip().splitlines()[-1]), np.load(coords)


def umap_defaults(x: np.ndarray, numba_cache: Path | None) -> tuple[dict, np.ndarray]:
    """:func:`umap_in_fresh_process` with umap-learn's defaults: its epochs, a spectral start, no PCA, Euclidean."""
    epochs = 500 if len(x) <= 10_000 else 200  # umap-learn's rule
    params = UMAPParams(n_epochs=epochs, pca_dims=None, metric="euclidean", n_neighbors=15)
    return umap_in_fresh_process(x, params, numba_cache, init="spectral")


def run(
    dataset: str = "digits",
    n_points: int = 10_000,
    layer: str = "dense_1",
    epochs: int = 2,
    browser: bool = True,
    sizes: Sequence[int] | None = bench_scaling.DEFAULT_SIZES,
    dataset_spec: str | None = None,
    plot: str | Path | None = None,
    log: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True),
) -> dict:
    """Measures everything on ``n_points`` images of ``dataset``; returns the figures.

    Images come from the train split, then the test split when more are
    asked for (70,000 takes all of MNIST or Fashion-MNIST).

    Args:
        dataset: a dataset spec or a :class:`~featlib.datasets.Dataset`.
        n_points: images used; layer, epochs: the seed MLP's layer read, after that many epochs.
        browser: also the Chromium figures (``first_page_s``, ``first_plot_s``, ...).
        sizes: the scaling table's sizes (capped at ``n_points``); ``None``: no peers, no scaling.
        dataset_spec: how ``python -m featlib embed --dataset`` names the dataset, for
            ``embed_cli_first_s`` (default: ``dataset`` when it is a string, else the dataset's name
            when it is built in; otherwise that figure is skipped, with the reason).
        plot: where the scaling plot is written (``None``: not written).
        log: called with a line per stage.
    """
    from featlib import metrics, models
    from featlib.datasets import sources as dataset_sources
    from featlib.maps import compile_cache, embed, gpu
    from featlib.read import extract

    data = dataset_sources.load_dataset(dataset)
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
    machine_cache = compile_cache.folder()
    with tempfile.TemporaryDirectory() as empty_cache:
        if browser:
            # The very first server start on a machine: nothing compiled yet (an empty cache for its workers).
            with tempfile.TemporaryDirectory() as empty:
                log("browser: server start with an empty compile cache")
                first.update(
                    _browser_figures(
                        empty,
                        repeat=False,
                        suffix="_empty_cache",
                        env={compile_cache.ENV: str(Path(empty_cache) / "server")},
                    )
                )
        # A cache that starts empty (umap_cold_s), then holds what the first process compiled (umap_cold_cached_s).
        cache = Path(empty_cache) / "bench"
        log("UMAP: cold, cached, after the warm-up")
        cold, coords = umap_in_fresh_process(reps[sample], UMAPParams(), cache, labels=labels[sample])
        cached, _ = umap_in_fresh_process(reps[sample], UMAPParams(), cache, labels=labels[sample])
    # From here on the machine's cache, as every featlib process uses it (filled by the first run if empty).
    after_warm_up, _ = umap_in_fresh_process(reps[sample], UMAPParams(), None, warm=True, labels=labels[sample])
    new_process, _ = umap_in_fresh_process(reps[sample], UMAPParams(), None, labels=labels[sample])
    log("UMAP: umap-learn's defaults")
    defaults, default_coords = umap_defaults(reps[sample], None)
    every = every_defaults = None
    if len(reps) > len(sample):
        every, every_coords = umap_in_fresh_process(reps, UMAPParams(), None, labels=labels)
        every_defaults, every_default_coords = umap_defaults(reps, None)
    log("embed: a fresh CLI process in a new workspace")
    cli = embed_cli_first(model, data, layer, len(sample), _dataset_spec(dataset, data, dataset_spec))
    if browser:
        with tempfile.TemporaryDirectory() as workspace:
            log("browser: server start with the machine's compile cache")
            first.update(_browser_figures(workspace, repeat=True))
        for what, error_key, steps in (
            (
                "the first look on an empty workspace, then later starts on what it prepared",
                "first_look_error",
                (first_look_map, first_look_later_map),
            ),
            (
                "make run on an empty workspace (featlib prepare, then the server)",
                "make_run_error",
                (make_run_first_map,),
            ),
            ("pages of a started server", "page_times_error", (page_times,)),
        ):
            with tempfile.TemporaryDirectory() as workspace:
                log(f"browser: {what}")
                try:
                    for step in steps:
                        first.update(step(workspace))
                except Exception as error:  # the other figures are reported all the same
                    first[error_key] = f"{type(error).__name__}: {str(error)[:200]}"
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
        "umap_backend": gpu.choose("umap"),
        "umap_params": asdict(UMAPParams()),
        "compile_cache": str(machine_cache),
        "umap_points": int(len(sample)),
        "umap_cold_s": cold["first_s"],
        "umap_warm_s": cold["again_s"],
        "umap_cold_cached_s": cached["first_s"],
        "umap_warm_up_s": after_warm_up["warm_up_s"],
        "umap_after_warm_up_s": after_warm_up["first_s"],
        "umap_first_in_new_workspace_s": new_process["first_s"],
        "umap_first_in_new_workspace_import_s": new_process["import_s"],
        "umap_defaults_warm_s": defaults["again_s"],
        "knn_acc_2d": metrics.knn_accuracy(coords, labels[sample]),
        "knn_acc_2d_umap_defaults": metrics.knn_accuracy(default_coords, labels[sample]),
        **cli,
    }
    if every:
        figures.update(
            {
                "umap_all_points_warm_s": every["again_s"],
                "umap_all_points_defaults_warm_s": every_defaults["again_s"],
                "knn_acc_2d_all_points": metrics.knn_accuracy(every_coords, labels),
                "knn_acc_2d_all_points_umap_defaults": metrics.knn_accuracy(every_default_coords, labels),
            }
        )
    if sizes is not None:
        log("peers and scaling, one fresh process per method")
        scaling = bench_scaling.run(reps, labels, sizes, peer_size=len(sample), log=log)
        names = [bench_scaling.FEATLIB, *scaling["peers"]]
        figures.update(
            {
                "peers": scaling["peers"],
                "scaling": scaling["scaling"],
                "scaling_misses": bench_scaling.verdict(scaling["scaling"], names),
            }
        )
        if scaling["peers"].get(bench_scaling.TSNE, {}).get("s") is not None:  # featlib's t-SNE on UMAP's sample
            tsne = scaling["peers"][bench_scaling.TSNE]
            figures.update(
                {"tsne_points": scaling["peer_points"], "tsne_s": tsne["s"], "tsne_knn_acc_2d": tsne["knn_acc_2d"]}
            )
        if bench_scaling.FEATLIB_GPU in scaling["peers"] and scaling["scaling"]:
            last = scaling["scaling"][-1]
            figures.update(
                {
                    "umap_gpu_s": last.get("featlib_gpu_s"),
                    "knn_acc_2d_gpu": last.get("featlib_gpu_knn_acc_2d"),
                    "umap_gpu_points": last["n_points"],
                }
            )
        if plot is not None:
            try:
                figures["scaling_plot"] = str(plot)
                figures["scaling_plot_by"] = bench_scaling.write_plot(scaling["scaling"], names, plot)
            except Exception as error:  # the figures stand without the picture
                figures["scaling_plot"] = None
                figures["scaling_plot_error"] = f"{type(error).__name__}: {str(error)[:200]}"
    figures.update(first)
    return figures


def _dataset_spec(dataset: object, data, spec: str | None) -> str | None:
    """How the CLI names the bench's dataset: ``spec``, ``dataset`` when a string, or a built-in's name."""
    from featlib.datasets import BUILTIN_DATASETS

    if spec:
        return spec
    if isinstance(dataset, str):
        return dataset
    return data.name if data.name in BUILTIN_DATASETS else None


def embed_cli_first(model, data, layer: str, sample: int, spec: str | None, timeout: float = 900) -> dict:
    """``embed_cli_first_s``: a fresh ``python -m featlib embed`` in a new workspace, with the machine's compile cache.

    The model is saved into an empty workspace first; the process then
    loads it, extracts ``layer`` of the train split, maps a stratified
    sample of ``sample`` points (in-process, as the CLI does by default) and
    writes the CSV. Returns the process's wall seconds (``embed_cli_first_s``)
    and the UMAP seconds it logs (``embed_cli_first_umap_s``), or
    ``embed_cli_first_s=None`` and the reason (``embed_cli_first_error``).
    """
    from featlib import models
    from featlib.store import Workspace

    if spec is None:
        return {
            "embed_cli_first_s": None,
            "embed_cli_first_error": f"the CLI cannot name the dataset {data.name!r}: pass dataset_spec",
        }
    with tempfile.TemporaryDirectory() as folder:
        workspace = Workspace(Path(folder) / "workspace")
        models.save_model(workspace, model, "bench", dataset=data.name)
        repo = str(Path(__file__).resolve().parents[1])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [repo, os.environ.get("PYTHONPATH")])))
        command = [
            sys.executable,
            "-m",
            "featlib",
            "--workspace",
            str(workspace.root),
            "embed",
            "bench",
            "--layer",
            layer,
            "--dataset",
            spec,
            "--sample",
            str(sample),
            "--out",
            str(Path(folder) / "map.csv"),
        ]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
        seconds = time.perf_counter() - start
    if done.returncode:
        return {"embed_cli_first_s": None, "embed_cli_first_error": done.stderr[-300:]}
    found = re.search(r"UMAP of [\d,]+ points in ([\d.]+) s", done.stderr)
    return {"embed_cli_first_s": seconds, "embed_cli_first_umap_s": float(found.group(1)) if found else None}


def _browser_figures(workspace: str | Path, repeat: bool, suffix: str = "", env: dict | None = None) -> dict:
    """:func:`first_plot`'s figures; ``first_page_s=None`` and the reason where Chromium or Playwright is
    missing, ``first_plot_s=None`` and the error when the browser run fails."""
    from featlib.serve import CHROMIUM

    if not os.path.exists(CHROMIUM):
        reason = f"skipped: {CHROMIUM} is missing (Debian's package 'chromium')"
        figures = {"first_page_s": None, "first_plot_s": None, "first_plot_error": reason}
    else:
        try:
            figures = first_plot(workspace, repeat=repeat, env=env)
        except Exception as error:  # report the other figures even when the browser run fails
            figures = {"first_plot_s": None, "first_plot_error": f"{type(error).__name__}: {str(error)[:200]}"}
    return {f"{key}{suffix}": value for key, value in figures.items()}


def first_plot(workspace: str | Path, timeout: float = 300, repeat: bool = True, env: dict | None = None) -> dict:
    """Seconds from server start to the Model page and to the first map in Chromium, for a first-time visitor.

    Starts ``streamlit run app.py`` on a free port on ``workspace`` (with no
    model in it; ``env``: more variables for the server), then takes the
    shortest path with default settings on the offline default dataset:
    Model → Train → Explore (which reads the default layer and computes the
    map). Returns ``first_page_s`` (from starting the server to the Model
    page's main content, its Train button, ready), ``first_preview_s`` (the
    PCA preview drawn) and ``first_plot_s`` (the UMAP map drawn); with
    ``repeat``, also the seconds from opening the map's link to the map
    drawn, in a new session on the same server (``repeat_view_s``) and as the
    first visitor of a restarted server (``repeat_view_after_restart_s``).
    """
    from playwright.sync_api import sync_playwright

    from featlib.serve import CHROMIUM, CHROMIUM_ARGS, running_app

    figures: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        start = time.perf_counter()
        with running_app(workspace, **(env or {})) as (url, _):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(timeout * 1000)
            page.goto(url)
            page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Model", exact=True).click()
            train = page.get_by_role("button", name="Train", exact=True)
            train.wait_for()
            figures["first_page_s"] = time.perf_counter() - start
            train.click()
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
            with running_app(workspace, **(env or {})) as (url, _):
                figures["repeat_view_after_restart_s"] = _open_view(browser, url + link, timeout)
        browser.close()
    return figures


def first_look_map(workspace: str | Path, timeout: float = 300, env: dict | None = None) -> dict:
    """Seconds from starting the server on an empty ``workspace`` to a map on a first visitor's Explore page.

    The visitor opens the Home page as soon as the server answers, then Explore, with nothing picked: the
    server has been preparing its first model and map since it started (:mod:`featlib.first_look`), and the
    page shows them. Returns ``first_look_map_s`` (server start → a map drawn, Home's or Explore's),
    ``first_look_ready_s`` (→ the page's controls and figures drawn too) and ``first_look_home_s`` (server start →
    Home drawn).
    """
    from playwright.sync_api import sync_playwright

    from featlib.serve import CHROMIUM, CHROMIUM_ARGS, running_app

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        start = time.perf_counter()
        with running_app(workspace, **{"FEATLIB_FIRST_LOOK": "1", **(env or {})}) as (url, _):
            home, drawn, ready = _first_look_visit(browser, url, timeout, start)
        browser.close()
    return {"first_look_home_s": home, "first_look_map_s": drawn, "first_look_ready_s": ready}


def make_run_first_map(workspace: str | Path, timeout: float = 300) -> dict:
    """``make run`` on an empty ``workspace``: ``featlib prepare`` in a fresh process (``make_run_prepare_s``), then
    the server, whose first visitor opens Home as soon as it answers, then Explore (``make_run_map_s``: the server
    answering, when ``make run`` prints its address, → a map drawn, Home's or Explore's; ``make_run_ready_s``: → the
    whole page)."""
    env = dict(os.environ, FEATLIB_WORKSPACE=str(workspace), FEATLIB_FIRST_LOOK="1")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "featlib", "prepare"], env=env, check=True, capture_output=True)
    prepared = time.perf_counter() - start
    later = first_look_later_map(workspace, restarts=1, timeout=timeout)
    return {
        "make_run_prepare_s": prepared,
        "make_run_map_s": later["first_look_later_map_s"],
        "make_run_ready_s": later["first_look_later_ready_s"],
    }


def first_look_later_map(
    workspace: str | Path, restarts: int = 3, timeout: float = 300, env: dict | None = None
) -> dict:
    """Seconds from a restarted server answering to a map on its first visitor's Explore page (issue 24, item 2).

    ``workspace`` holds what a first start prepared (:func:`first_look_map`); the server is started on it
    ``restarts`` times, and each time its first visitor opens Home as soon as it answers its health check, then
    Explore with nothing picked, which shows the stored map (drawn before Keras has loaded,
    :mod:`featlib.app.stored_map`). Returns the medians ``first_look_later_home_s`` (answering → Home drawn),
    ``first_look_later_map_s`` (answering → a map drawn: Home's, else Explore's) and ``first_look_later_ready_s``
    (answering → the page's controls and figures drawn too), and the slowest ``first_look_later_map_worst_s``.
    """
    from playwright.sync_api import sync_playwright

    from featlib.serve import CHROMIUM, CHROMIUM_ARGS, running_app

    visits = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for _ in range(restarts):
            with running_app(workspace, **{"FEATLIB_FIRST_LOOK": "1", **(env or {})}) as (url, _):
                visits.append(_first_look_visit(browser, url, timeout, time.perf_counter()))
        browser.close()
    homes, maps, ready = zip(*visits)
    return {
        "first_look_later_home_s": statistics.median(homes),
        "first_look_later_map_s": statistics.median(maps),
        "first_look_later_ready_s": statistics.median(ready),
        "first_look_later_map_worst_s": max(maps),
    }


def _first_look_visit(browser, url: str, timeout: float, start: float) -> tuple[float, float, float]:
    """A first visitor in a new browser session: Home (with the stored map the Explore page opens on, where there
    is one: :func:`featlib.app.stored_map.preview`), then Explore with nothing picked until its map is drawn (the
    stored map while Keras loads, or the page's own), then until the page's own map is. Returns the seconds from
    ``start`` (a ``time.perf_counter()``) to Home drawn, to the first map drawn (Home's, else Explore's) and to
    Explore's whole page."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(timeout * 1000)
    page.goto(url)
    page.locator("h1").filter(has_text="featlib").first.wait_for()
    home = time.perf_counter() - start
    page.get_by_test_id("stMetric").first.wait_for()  # the workspace's figures: Home's last lines, after its map
    drawn = None
    if page.get_by_test_id("stPlotlyChart").count():
        page.locator(".js-plotly-plot canvas").first.wait_for()
        drawn = time.perf_counter() - start
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Explore", exact=True).click()
    page.locator(".js-plotly-plot canvas").first.wait_for()
    drawn = drawn or time.perf_counter() - start
    _wait_for_map(page)
    ready = time.perf_counter() - start
    context.close()
    return home, drawn, ready


def page_times(workspace: str | Path, sessions: int = 5, timeout: float = 120) -> dict:
    """Seconds from a request to a page drawn, on a started server, in fresh Chromium sessions (issue 24).

    Starts ``streamlit run app.py`` on ``workspace`` and waits until it answers its health check; then
    opens the Home page (``home_page_first_s``: the server's first visitor, who starts Keras and the job
    cluster; ``home_page_s``: the median of ``sessions`` fresh sessions, the first included) and the Model
    page (``page_frame_s``: the median of ``sessions`` fresh sessions to its title, the frame drawn while
    Keras and the cluster may still be starting). Each time runs from ``page.goto`` to the page's ``h1``.
    """
    from playwright.sync_api import sync_playwright

    from featlib.serve import CHROMIUM, CHROMIUM_ARGS, running_app

    def seconds(browser, url: str, title: str) -> float:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(timeout * 1000)
        start = time.perf_counter()
        page.goto(url)
        page.locator("h1").filter(has_text=title).first.wait_for()
        took = time.perf_counter() - start
        context.close()
        return took

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        with running_app(workspace) as (url, _):
            home = [seconds(browser, url, "featlib") for _ in range(sessions)]
            model = [seconds(browser, url + "/model", "Model") for _ in range(sessions)]
        browser.close()
    return {
        "home_page_first_s": home[0],
        "home_page_s": statistics.median(home),
        "page_frame_s": statistics.median(model),
    }


def _wait_for_map(page) -> None:
    """Waits until the Explore page has drawn its map (the caption under it, then the WebGL canvas)."""
    page.get_by_text("Click a point to see its image").wait_for()  # the caption under a drawn map
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


TABLES = ("peers", "scaling", "scaling_misses")
"""Figures printed as tables of their own below the two-column one."""


def format_table(figures: dict) -> str:
    """The figures as an aligned two-column table, then the peer and scaling tables and the target's misses."""
    plain = {k: v for k, v in figures.items() if k not in TABLES}
    width = max(len(k) for k in plain)
    lines = []
    for key, value in plain.items():
        text = f"{value:.4f}" if isinstance(value, float) else str(value)
        lines.append(f"{key:<{width}}  {text}")
    if figures.get("peers") is not None:
        own = {"s": figures.get("umap_warm_s"), "knn_acc_2d": figures.get("knn_acc_2d")}
        row = next((r for r in figures.get("scaling", []) if r["n_points"] == figures.get("umap_points")), None)
        if row is not None:  # featlib in the same fresh-process conditions as the peers
            own = {"s": row["featlib_s"], "knn_acc_2d": row["featlib_knn_acc_2d"]}
        lines += [
            "",
            bench_scaling.format_peers(
                {
                    "peers": figures["peers"],
                    "peer_points": figures.get("umap_points", 0),
                    "featlib_at_peer_size": own if own["s"] is not None else None,
                }
            ),
        ]
    if figures.get("scaling"):
        names = [bench_scaling.FEATLIB, *figures.get("peers", {})]
        lines += ["", bench_scaling.format_scaling(figures["scaling"], names)]
    if "scaling_misses" in figures:
        misses = figures["scaling_misses"]
        lines += [
            "",
            "target (featlib faster than every peer at every size, 10-NN accuracy at most 0.5 point "
            "below the best peer's): " + ("met" if not misses else "not met where:"),
        ]
        lines += [f"  - {miss}" for miss in misses]
    return "\n".join(lines)
