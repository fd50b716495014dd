"""What one Streamlit page load costs Chromium in CPU seconds, by how the browser tests open pages (issue 24, item 5).

Starts the app (:func:`featlib.serve.running_app`) on a fresh workspace holding one small trained MLP, then loads
Home and Explore (a PCA map of ``dense_1``, 3 points selected) ``--loads`` times each way:

- ``context``: a new browser context per load (a new renderer, empty HTTP and code caches), closed after;
- ``page``: a new page in one warm context per load, closed after;
- ``page-kept``: the same, while another page of the context stays open;
- ``reuse``: one page navigated again (``page.goto``) per load.

Each ``--variant`` (a named set of extra Chromium switches, see :data:`VARIANTS`) gets its own browser launch. The
CPU is sampled with psutil over every Chromium process under this one (renderers, GPU, browser) and the server,
each 0.2 s and just before a context closes. A load ends when the page's text is shown (Explore: the map's canvas
drawn) and then 1.5 s pass, so the renderer's work after it is counted the same way in every case.

    PYTHONPATH=. .venv/bin/python bench/browser_load_cost.py [--loads 3] [--variant base,no-site-isolation,...]

Prints one line per (variant, target, way): Chromium CPU s per load (renderer / GPU / browser; the rest of Chromium is utility processes) and wall s per load.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil  # noqa: E402

from featlib.serve import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402

VARIANTS = {
    "base": [],
    "no-site-isolation": ["--disable-site-isolation-trials", "--disable-features=IsolateOrigins,site-per-process"],
    "process-per-site": ["--process-per-site"],
    "in-process-gpu": ["--in-process-gpu"],
    "no-gpu-at-all": ["--disable-software-rasterizer"],  # no SwiftShader: WebGL off
    "max-opt-1": ["--js-flags=--max-opt=1"],  # V8 up to Sparkplug: no Maglev/TurboFan compiles
    "jitless": ["--js-flags=--jitless"],
}


class Sampler:
    """Keeps every descendant process's latest CPU time (user + system), keyed by (pid, start time)."""

    def __init__(self) -> None:
        self.seen: dict[tuple[int, float], list] = {}
        self.lock = threading.Lock()
        self.running = True
        threading.Thread(target=self._loop, daemon=True).start()

    def sample(self) -> None:
        with self.lock:
            for p in psutil.Process(os.getpid()).children(recursive=True):
                try:
                    key = (p.pid, p.create_time())
                    if key not in self.seen:
                        self.seen[key] = [self._kind(p), 0.0]
                    t = p.cpu_times()
                    self.seen[key][1] = t.user + t.system
                except psutil.Error:
                    pass

    @staticmethod
    def _kind(p: psutil.Process) -> str:
        cmd = " ".join(p.cmdline())
        if "chrom" not in cmd:
            return "server" if "streamlit" in cmd else "other"
        m = re.search(r"--type=(\S+)", cmd)
        return {"renderer": "renderer", "gpu-process": "gpu", "browser": "browser"}.get(
            m.group(1) if m else "browser", "chromium-other"
        )

    def totals(self) -> collections.Counter:
        self.sample()
        with self.lock:
            out: collections.Counter = collections.Counter()
            for kind, cpu in self.seen.values():
                out[kind] += cpu
            return out

    def _loop(self) -> None:
        while self.running:
            self.sample()
            time.sleep(0.2)


def make_workspace(folder: Path) -> dict[str, str]:
    from featlib import models
    from featlib.datasets import load_digits
    from featlib.store import Workspace

    digits = load_digits()
    model = models.build_mlp((64,), seed=0)
    x_train, x_test = models.adapt_images(digits.x_train, model), models.adapt_images(digits.x_test, model)
    models.train(model, x_train, digits.y_train, x_test, digits.y_test, epochs=2, batch_size=32)
    record = models.save_model(Workspace(folder), model, "cost-mlp", dataset="digits", creator="bench")
    return {"model": record.id, "dataset": "digits", "layer": "dense_1", "reducer": "pca", "selection": "5,17,400"}


def load(page, url: str, target: str) -> None:
    page.goto(url)
    if target == "home":
        page.get_by_role("heading", name="featlib").wait_for()
    else:
        page.get_by_text("10-NN accuracy of the map").first.wait_for(timeout=300_000)
        page.locator(".st-key-map .js-plotly-plot canvas").first.wait_for()
    page.wait_for_timeout(1500)


def measure(
    browser, sampler: Sampler, url: str, target: str, way: str, loads: int
) -> tuple[collections.Counter, float]:
    before, start = sampler.totals(), time.monotonic()
    if way == "context":
        for _ in range(loads):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(120_000)
            load(page, url, target)
            sampler.sample()
            context.close()
    else:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = first = context.new_page()
        page.set_default_timeout(120_000)
        load(page, url, target)  # warms the context: not counted
        before, start = sampler.totals(), time.monotonic()
        for _ in range(loads):
            if way in ("page", "page-kept"):  # page-kept: the first page stays open, its renderer alive
                if way == "page" or page is not first:
                    page.close()
                page = context.new_page()
                page.set_default_timeout(120_000)
            load(page, url, target)
            sampler.sample()
        context.close()
    wall = time.monotonic() - start
    after = sampler.totals()
    return collections.Counter({k: after[k] - before.get(k, 0.0) for k in after}), wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=3)
    parser.add_argument("--variant", default="base", help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--targets", default="home,explore")
    parser.add_argument("--ways", default="context,page,reuse")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    sampler = Sampler()
    with tempfile.TemporaryDirectory() as folder:
        query = make_workspace(Path(folder))
        with running_app(folder) as (url, _process), sync_playwright() as playwright:
            urls = {"home": url, "explore": f"{url}/explore?{urlencode(query)}"}
            for variant in args.variant.split(","):
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS + VARIANTS[variant]
                )
                for target in args.targets.split(","):
                    measure(browser, sampler, urls[target], target, "context", 1)  # the server's map and caches
                    for way in args.ways.split(","):
                        cpu, wall = measure(browser, sampler, urls[target], target, way, args.loads)
                        chromium = cpu["renderer"] + cpu["gpu"] + cpu["browser"] + cpu["chromium-other"]
                        print(
                            f"{variant:18s} {target:8s} {way:8s} chromium {chromium / args.loads:5.2f} s/load "
                            f"(renderer {cpu['renderer'] / args.loads:5.2f}, gpu {cpu['gpu'] / args.loads:5.2f}, "
                            f"browser {cpu['browser'] / args.loads:5.2f}) server {cpu['server'] / args.loads:5.2f} "
                            f"wall {wall / args.loads:5.2f} s/load",
                            flush=True,
                        )
                browser.close()
    sampler.running = False


if __name__ == "__main__":
    main()
