"""How smoothly a 3-D map of 10,000 points turns in Debian's Chromium, and screenshots of 3-D maps (issue 25, item 4).

Two parts:

- ``--fps`` (the default): the Explore page's figure of a 3-D map (:func:`featlib.plots.scatter_map` of ``(n, 3)``
  coordinates: one ``Scatter3d`` trace per class, WebGL) of ``--points`` points, in a page of its own with the
  plotly.js of plotly's Python package, opened in Chromium by Playwright. The camera is turned about the vertical
  axis by ``Plotly.relayout(el, {"scene.camera.eye": ...})`` in a ``requestAnimationFrame`` loop for ``--seconds``;
  the frames counted give frames per second, with the slowest frame. Then (``drag``) the map is turned as a user
  turns it, dragged with the mouse for as long (plotly's own orbit rotation, no ``relayout`` a frame), the
  browser's animation frames counted meanwhile. The map is a 3-D PCA of Fashion-MNIST's
  10,000 test images when ``keras.datasets`` has them (``make test`` installs ``dataset-fashion-mnist``), else of the
  bundled digits repeated with a little noise.
- ``--screenshots DIR``: the real app (:func:`featlib.serve.running_app`) on a new workspace with the seed MLP trained
  on the bundled digits; Explore's 3-D UMAP map (its toggle on, a point inspected by its index) and Compare's two
  3-D panels side by side, full-page at ``--widths`` (1440 and 1024 pixels) into ``DIR``.

    .venv/bin/python bench/rotate_3d.py [--points 10000] [--seconds 3]
    .venv/bin/python bench/rotate_3d.py --screenshots test-artifacts/issue25

Chromium runs with :data:`featlib.serve.CHROMIUM_ARGS` (``--disable-gpu``: WebGL on its software renderer,
SwiftShader), as in the browser tests; a machine with a GPU turns the map faster. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import plotly  # noqa: E402

from featlib import plots, serve  # noqa: E402
from featlib.serve import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
LONG = 420_000  # ms: a map on a loaded 2-core machine

ROTATE = """async ([seconds]) => {
    const el = document.getElementById('map');
    const eye = el._fullLayout.scene.camera.eye, r = Math.hypot(eye.x, eye.y), z = eye.z;
    const frames = [];
    const start = performance.now();
    await new Promise(done => {
        const step = async now => {
            const angle = (now - start) / 1000 * Math.PI / 2;  // a quarter turn a second
            await Plotly.relayout(el, {'scene.camera.eye': {x: r * Math.cos(angle), y: r * Math.sin(angle), z: z}});
            frames.push(performance.now());
            if (now - start < seconds * 1000) requestAnimationFrame(step); else done();
        };
        requestAnimationFrame(step);
    });
    const gaps = frames.slice(1).map((t, i) => t - frames[i]);
    const webgl = (() => { const c = document.createElement('canvas').getContext('webgl');
        const info = c && c.getExtension('WEBGL_debug_renderer_info');
        return c ? (info ? c.getParameter(info.UNMASKED_RENDERER_WEBGL) : 'webgl') : 'none'; })();
    return {frames: frames.length, seconds: (frames[frames.length - 1] - start) / 1000,
            slowest_ms: Math.max(...gaps), renderer: webgl};
}"""


FRAMES_START = """() => {
    window.__frames = [];
    const tick = now => { window.__frames.push(now); if (window.__counting) requestAnimationFrame(tick); };
    window.__counting = true;
    requestAnimationFrame(tick);
}"""
FRAMES_STOP = """() => {
    window.__counting = false;
    const f = window.__frames, gaps = f.slice(1).map((t, i) => t - f[i]);
    const scene = document.getElementById('map')._fullLayout.scene._scene, eye = scene.getCamera().eye;
    return {frames: f.length, seconds: (f[f.length - 1] - f[0]) / 1000, slowest_ms: Math.max(...gaps),
            eye: [eye.x, eye.y, eye.z]};
}"""


def drag(page, seconds: float) -> dict:
    """Turns the map as a user does, by dragging it with the mouse for ``seconds`` (plotly's own orbit rotation,
    no ``relayout`` per frame), counting the browser's animation frames meanwhile: frames, fps, slowest frame, and
    whether the camera moved."""
    box = page.locator("#map .gl-container canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    before = page.evaluate("() => document.getElementById('map')._fullLayout.scene.camera.eye")
    page.mouse.move(cx - 150, cy)
    page.mouse.down()
    page.evaluate(FRAMES_START)
    start, moves = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        moves += 1
        page.mouse.move(cx - 150 + (moves * 7) % 300, cy + 20 * np.sin(moves / 10))
    page.mouse.up()
    found = page.evaluate(FRAMES_STOP)
    eye = found.pop("eye")
    found["camera_moved"] = bool(np.linalg.norm(np.subtract(eye, [before["x"], before["y"], before["z"]])) > 1e-3)
    found["mouse_moves"] = moves
    found["fps"] = round(found["frames"] / max(found["seconds"], 1e-9), 1)
    found["slowest_ms"] = round(found["slowest_ms"], 1)
    return found


def map_points(n: int) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """``(coords (n, 3) float32, labels (n,), class names, what they are)``: a 3-D PCA of ``n`` real images."""
    from featlib import datasets
    from featlib.maps import embed

    try:
        data = datasets.load_builtin("fashion_mnist")
        images, labels = data.split("test")
        what = "Fashion-MNIST test images"
    except Exception:  # noqa: BLE001  (no Fashion-MNIST files here: the digits, repeated with noise)
        data = datasets.load_digits()
        images, labels = data.x_train, data.y_train
        what = "bundled digits, repeated with noise"
    x = np.asarray(images, dtype="float32").reshape(len(images), -1)
    take = np.arange(n) % len(x)
    x = x[take] + np.random.default_rng(0).normal(scale=0.5, size=(n, x.shape[1])).astype("float32") * (n > len(x))
    return embed.pca_embed(x, dims=3), np.asarray(labels)[take], list(data.class_names), what


def measure_fps(n: int, seconds: float) -> dict:
    """Turns the 3-D map of ``n`` points in Chromium for ``seconds``; the frames, fps and slowest frame."""
    from playwright.sync_api import sync_playwright

    coords, labels, names, what = map_points(n)
    figure = plots.scatter_map(coords, np.arange(n), labels, labels, names, axis_name="PCA", height=520)
    figure.update_layout(width=600)
    plotly_js = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    with tempfile.TemporaryDirectory() as folder:
        page_file = Path(folder) / "map.html"
        page_file.write_text(
            "<html><body><div id='map'></div>"
            f"<script src='{plotly_js.as_uri()}'></script><script>"
            f"const fig = {figure.to_json()}; Plotly.newPlot('map', fig.data, fig.layout);"
            "</script></body></html>"
        )
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 800, "height": 700})
            page.goto(page_file.as_uri())
            page.wait_for_function("() => document.querySelector('#map canvas')", timeout=60_000)
            page.wait_for_timeout(1000)
            found = page.evaluate(ROTATE, [seconds])
            found["drag"] = drag(page, seconds)
            browser.close()
    found.update(points=n, what=what, traces=len(figure.data), fps=round(found["frames"] / found["seconds"], 1))
    found["slowest_ms"] = round(found["slowest_ms"], 1)
    found["seconds"] = round(found["seconds"], 2)
    return found


def shoot(page, folder: Path, name: str, widths: list[int]) -> list[str]:
    """Full-page screenshots of ``page`` at each width into ``folder/<name>-<width>.png``."""
    saved = []
    for width in widths:
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(1500)  # plotly and Streamlit relayout to the new width
        height = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
        page.set_viewport_size({"width": width, "height": min(max(1000, height), 8000)})
        page.wait_for_timeout(1500)
        path = folder / f"{name}-{width}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(str(path))
    return saved


def screenshots(folder: Path, widths: list[int]) -> dict:
    """Explore's and Compare's 3-D maps in the real app, seed MLP on the digits; the screenshot paths."""
    from playwright.sync_api import sync_playwright

    from featlib import datasets, models
    from featlib.store import Workspace

    folder.mkdir(parents=True, exist_ok=True)
    saved: list[str] = []
    with tempfile.TemporaryDirectory() as ws:
        digits = datasets.load_digits()
        model = models.build_mlp((64,), seed=0)
        adapt = lambda x: models.adapt_images(x, model)  # noqa: E731
        models.train(
            model,
            adapt(digits.x_train),
            digits.y_train,
            adapt(digits.x_test),
            digits.y_test,
            optimizer="adam",
            learning_rate=0.01,
            epochs=10,
            batch_size=32,
        )
        record = models.save_model(Workspace(ws), model, "mlp", dataset="digits")
        explore = {"model": record.id, "dataset": "digits", "layer": "dense_1", "reducer": "umap", "dims": "3"}
        compare = {
            "dataset": "digits",
            "sample": "all",
            "p1": f"{record.id}:dense:function:umap",
            "p2": f"{record.id}:dense_1:function:umap",
            "dims": "3",
        }
        with open(folder / "streamlit.log", "w") as log, serve.running_app(ws, log) as (url, _):
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": widths[0], "height": 1000})
                page.set_default_timeout(LONG)
                page.goto(f"{url}/explore?{urlencode(explore)}")
                page.locator(".st-key-explore-map .js-plotly-plot .gl-container canvas").first.wait_for()
                page.get_by_text("10-NN accuracy of the map").first.wait_for()
                serve.settle(page, LONG)
                index = page.evaluate(
                    "() => document.querySelector('.st-key-explore-map .js-plotly-plot')._fullData[0].customdata[0][0]"
                )
                page.get_by_label("Inspect point", exact=True).and_(page.get_by_test_id("stNumberInputField")).fill(
                    str(int(index))
                )
                page.get_by_role("button", name="Inspect", exact=True).click()
                page.get_by_text(f"Point #{int(index)}").first.wait_for()
                serve.settle(page, LONG)
                page.wait_for_timeout(3000)
                saved += shoot(page, folder, "explore-3d", widths)
                page.goto(f"{url}/compare?{urlencode(compare)}")
                page.locator("[data-testid=stPlotlyChart] .gl-container canvas").nth(1).wait_for()
                serve.settle(page, LONG)
                page.wait_for_timeout(3000)
                saved += shoot(page, folder, "compare-3d", widths)
                browser.close()
    return {"screenshots": saved}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000, help="points of the map turned (default 10000)")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long it is turned (default 3)")
    parser.add_argument("--screenshots", default="", help="a folder: take the app's 3-D screenshots instead")
    parser.add_argument("--widths", default="1440,1024", help="the screenshots' widths (default 1440,1024)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    if args.screenshots:
        found = screenshots(Path(args.screenshots), [int(w) for w in args.widths.split(",")])
    else:
        found = measure_fps(args.points, args.seconds)
    found["wall_s"] = round(time.perf_counter() - start, 1)
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
