"""Concurrent users: N browser sessions run the whole flow against one real server.

Starts one ``streamlit run app.py`` on a free loopback port with a fresh
temporary workspace (``FEATLIB_WORKSPACE``), opens N browser contexts in
Debian's Chromium (``/usr/bin/chromium``, headless) and has every session, all
at the same time, run the dashboard's main flow on the bundled digits:

1. Model: train the seed MLP for ``--epochs`` epochs (every session saves a
   model named ``mlp-digits``; the workspace gives each a unique name);
2. Representations: "Compute dense_1 for 1,437 images";
3. Explore: wait for the map (the "10-NN accuracy of the map" metric and a
   plotly canvas).

It reports the errors (an exception shown in the page, ``stException``; an
error alert, ``stAlertContentError``; any timeout), the server's peak memory
(RSS of the server process and its children, sampled with psutil) and each
session's time to its plot, then the median and the worst. Exit status 1 when
any session failed or the server logged a traceback (an exception some page
showed, perhaps only for a moment). Screenshots of failures and the server log go to
``test-artifacts/load/``.

Usage::

    .venv/bin/python bench/load_test.py --sessions 8
    .venv/bin/python bench/load_test.py --sessions 8 --json   # one JSON object on stdout

``--shared-model`` trains one model first (with the CLI) and has every
session pick it instead of training, so that all sessions use one Keras model
object and the same cache keys at once. ``--app-root DIR`` serves another
checkout's ``app.py`` (a snapshot, say) with this script.

Traffic goes only to the server it starts on 127.0.0.1; it stops by itself
(every wait is bounded by ``--timeout``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # featlib, when run as a script from anywhere
from featlib.serve import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402

ARTIFACTS = ROOT / "test-artifacts" / "load"
ROWS = "1,437 × 64 outputs"  # the digits' train split through dense_1
# Records every exception or error alert that ever shows in the page, even one
# that a later rerun or page switch removes (Streamlit switches pages without
# reloading the document, so the record lasts the whole session).
WATCH_ERRORS = """
window.__featlibErrors = [];
new MutationObserver(() => {
  for (const el of document.querySelectorAll(
      '[data-testid="stException"], [data-testid="stAlertContentError"]')) {
    if (!el.__featlibSeen) { el.__featlibSeen = true; window.__featlibErrors.push(el); }
  }
}).observe(document, {subtree: true, childList: true});
"""
READ_ERRORS = """() => (window.__featlibErrors || []).map(
  el => el.getAttribute('data-testid') + ': ' + el.textContent.replace(/\\s+/g, ' ').slice(0, 400))"""


@dataclass
class Session:
    """One browser session's result."""

    number: int
    ok: bool = False
    error: str = ""
    steps: dict[str, float] = field(default_factory=dict)  # step → seconds it took
    time_to_plot: float | None = None  # from opening the page to the map drawn
    model_name: str = ""


class MemorySampler(threading.Thread):
    """Samples the RSS of a process and all its children until stopped."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.interval = interval
        self.peak = 0
        self.peak_own = 0  # the server process alone, without its children (the job workers)
        self.samples: list[tuple[float, int]] = []
        self.load: list[float] = []  # the machine's 1-minute load average: other work skews timings
        self._stop_event = threading.Event()

    def rss(self) -> int:
        total = 0
        for proc in [self.process, *self.process.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except psutil.Error:  # a child that just ended
                pass
        return total

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process and its live children."""
        total = 0.0
        for proc in [self.process, *self.process.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass
        return total

    def run(self) -> None:
        start = time.monotonic()
        while not self._stop_event.is_set():
            try:
                value = self.rss()
            except psutil.Error:
                return
            self.peak = max(self.peak, value)
            try:
                self.peak_own = max(self.peak_own, self.process.memory_info().rss)
            except psutil.Error:
                return
            self.samples.append((time.monotonic() - start, value))
            self.load.append(os.getloadavg()[0])
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


class PageError(Exception):
    """An exception or error alert shown in the page."""


async def wait_or_fail(page, locator, step: str, timeout_ms: float) -> None:
    """Waits for ``locator``; fails at once if an exception or error alert shows instead."""
    exception = page.get_by_test_id("stException")
    alert = page.get_by_test_id("stAlertContentError")
    await locator.or_(exception).or_(alert).first.wait_for(timeout=timeout_ms)
    for kind, found in (("exception", exception), ("error alert", alert)):
        if await found.count():
            text = (await found.first.inner_text()).strip().replace("\n", " ")
            raise PageError(f"{kind} at {step}: {text[:400]}")


async def goto(page, name: str, timeout_ms: float) -> None:
    await page.get_by_test_id("stSidebarNavItems").get_by_role("link", name=name, exact=True).click()
    await page.locator("h1").filter(has_text=name).wait_for(timeout=timeout_ms)


async def run_session(
    browser, url: str, number: int, epochs: int, timeout_s: float, start_gate: asyncio.Event, shared_model: bool
) -> Session:
    result = Session(number)
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    await context.add_init_script(WATCH_ERRORS)
    page = await context.new_page()
    timeout_ms = timeout_s * 1000
    page.set_default_timeout(timeout_ms)
    step = "open"
    try:
        await start_gate.wait()
        begin = mark = time.monotonic()

        def lap(name: str) -> None:
            nonlocal mark
            now = time.monotonic()
            result.steps[name] = round(now - mark, 2)
            mark = now

        await page.goto(url)
        await page.get_by_role("heading", name="featlib").wait_for()
        # The Home page as a person sees it: its workspace figures drawn.
        await wait_or_fail(page, page.get_by_test_id("stMetricLabel").filter(has_text="disk"), step, timeout_ms)
        lap("open")

        step = "train"
        await goto(page, "Model", timeout_ms)
        if shared_model:
            step = "pick"
            await page.get_by_role("tab", name="Pick a saved model").click()
            await page.get_by_role("button", name="Use this model").click()
        else:
            await page.get_by_label("Epochs").fill(str(epochs))
            await page.get_by_role("button", name="Train", exact=True).click()
            await wait_or_fail(page, page.get_by_text("test accuracy"), step, timeout_ms)
        current = page.get_by_text("Current model:").first
        await wait_or_fail(page, current, step, timeout_ms)
        result.model_name = (await current.inner_text()).split("Current model:")[1].split("—")[0].strip()
        lap(step)

        step = "representation"
        await goto(page, "Representations", timeout_ms)
        compute = page.get_by_role("button", name="Compute dense_1")
        await wait_or_fail(page, compute.or_(page.get_by_text(ROWS)), step, timeout_ms)
        if await compute.count():  # absent when another session computed it already
            await compute.click()
        await wait_or_fail(page, page.get_by_text(ROWS), step, timeout_ms)
        lap("representation")

        step = "map"
        await goto(page, "Explore", timeout_ms)
        await wait_or_fail(page, page.get_by_text("10-NN accuracy of the map"), step, timeout_ms)
        await page.locator(".js-plotly-plot").first.locator("canvas").first.wait_for()
        lap("map")
        result.time_to_plot = round(time.monotonic() - begin, 2)

        seen = await page.evaluate(READ_ERRORS)
        if seen:  # one shown and gone again on the way, e.g. on the Home page
            raise PageError(f"shown during the flow: {' | '.join(seen)}")
        result.ok = True
    except PageError as error:
        result.error = str(error)
    except Exception as error:  # Playwright's TimeoutError and anything else
        kind = "timeout" if type(error).__name__ == "TimeoutError" else type(error).__name__
        result.error = f"{kind} at {step}: {str(error).splitlines()[0][:300]}"
    if not result.ok:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        try:
            await page.screenshot(path=str(ARTIFACTS / f"session-{number}-failed.png"), full_page=True)
        except Exception:
            pass
    await context.close()
    return result


async def run_sessions(url: str, sessions: int, epochs: int, timeout_s: float, shared_model: bool) -> list[Session]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        gate = asyncio.Event()
        tasks = [
            asyncio.create_task(run_session(browser, url, n + 1, epochs, timeout_s, gate, shared_model))
            for n in range(sessions)
        ]
        await asyncio.sleep(0.5)  # every context created: start them together
        gate.set()
        results = await asyncio.gather(*tasks)
        await browser.close()
    return list(results)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8, help="browser sessions run at once (default 8)")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs per session (default 3)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds any one wait may take (default 900)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument(
        "--shared-model",
        action="store_true",
        help="train one model first (CLI) and have every session pick it instead of training: "
        "all sessions then use one Keras model object at once",
    )
    parser.add_argument(
        "--app-root", type=Path, default=ROOT, help="the checkout whose app.py is served (default: this one)"
    )
    parser.add_argument("--keep-workspace", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args(argv)
    if args.sessions < 1:
        parser.error(f"--sessions must be at least 1; got {args.sessions}")
    if not os.path.exists(CHROMIUM):
        print(f"{CHROMIUM} is missing: install Debian's package 'chromium'", file=sys.stderr)
        return 2

    workspace = Path(tempfile.mkdtemp(prefix="featlib-load-"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / "streamlit.log"
    env = dict(os.environ, FEATLIB_WORKSPACE=str(workspace), TF_CPP_MIN_LOG_LEVEL="2")
    if args.shared_model:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "featlib",
                "train",
                "--dataset",
                "digits",
                "--epochs",
                str(args.epochs),
                "--name",
                "shared",
            ],
            cwd=args.app_root,
            env=env,
            check=True,
            capture_output=True,
        )
    with (
        open(log_path, "w") as log,
        running_app(workspace, log, args.app_root, TF_CPP_MIN_LOG_LEVEL="2") as (url, server),
    ):
        sampler = MemorySampler(server.pid)
        try:
            idle_rss = sampler.rss()
            cpu_before = sampler.cpu_seconds()
            sampler.start()
            started = time.monotonic()
            results = asyncio.run(run_sessions(url, args.sessions, args.epochs, args.timeout, args.shared_model))
            wall = time.monotonic() - started
            sampler.stop()
            server_alive = server.poll() is None
            server_cpu = sampler.cpu_seconds() - cpu_before if server_alive else float("nan")
        finally:
            sampler.stop()

    from featlib.store import Workspace

    saved = [r.name for r in Workspace(workspace).list_models()]
    usage = Workspace(workspace).usage()
    if not args.keep_workspace:
        shutil.rmtree(workspace, ignore_errors=True)
    log_text = log_path.read_text(errors="replace")
    times = [r.time_to_plot for r in results if r.time_to_plot is not None]
    errors = [r for r in results if not r.ok]
    summary = {
        "sessions": args.sessions,
        "epochs": args.epochs,
        "shared_model": args.shared_model,
        "errors": len(errors),
        "error_messages": [f"session {r.number}: {r.error}" for r in errors],
        "server_alive_at_end": server_alive,
        "server_rss_idle_mib": round(idle_rss / 2**20, 1),
        "server_rss_peak_mib": round(sampler.peak / 2**20, 1),
        "server_process_rss_peak_mib": round(sampler.peak_own / 2**20, 1),
        "time_to_plot_median_s": round(statistics.median(times), 2) if times else None,
        "time_to_plot_worst_s": round(max(times), 2) if times else None,
        "wall_s": round(wall, 2),
        "server_cpu_s": round(server_cpu, 1),
        "machine_load_avg_1m": {
            "mean": round(statistics.mean(sampler.load), 2) if sampler.load else None,
            "max": round(max(sampler.load), 2) if sampler.load else None,
        },
        "models_saved": sorted(saved),
        "workspace_usage": usage,
        "tracebacks_in_server_log": log_text.count("Traceback"),
        "cpus": os.cpu_count(),
        "per_session": [asdict(r) for r in results],
        "app_root": str(args.app_root.resolve()),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
    }
    if args.json:
        print(json.dumps(summary))
    else:
        first_step = "pick" if args.shared_model else "train"
        header = ["session", f"{first_step} s", "layer s", "map s", "to plot s"]
        print("  ".join(f"{h:>9}" for h in header) + "  result")
        for r in results:
            cells = [r.steps.get(first_step), r.steps.get("representation"), r.steps.get("map"), r.time_to_plot]
            text = "  ".join(f"{c:9.1f}" if c is not None else f"{'-':>9}" for c in cells)
            print(f"{r.number:>9}  {text}  {'ok ' + r.model_name if r.ok else r.error}")
        print()
        print(f"sessions {args.sessions} · errors {len(errors)} · server alive at end: {server_alive}")
        print(
            f"server RSS (with children): idle {summary['server_rss_idle_mib']} MiB, "
            f"peak {summary['server_rss_peak_mib']} MiB; the server process alone: peak "
            f"{summary['server_process_rss_peak_mib']} MiB"
        )
        if times:
            print(
                f"time to plot: median {summary['time_to_plot_median_s']} s, "
                f"worst {summary['time_to_plot_worst_s']} s ({len(times)} of {args.sessions} sessions "
                f"reached it; wall {summary['wall_s']} s, {os.cpu_count()} CPUs)"
            )
        load = summary["machine_load_avg_1m"]
        print(
            f"server CPU {summary['server_cpu_s']} s; machine load average (1 min) during the run: "
            f"mean {load['mean']}, max {load['max']}"
        )
        print(f"models saved: {', '.join(sorted(saved))}")
        print(f"tracebacks in the server log: {summary['tracebacks_in_server_log']} ({log_path})")
    return 1 if errors or summary["tracebacks_in_server_log"] else 0


if __name__ == "__main__":
    sys.exit(main())
