"""Starting the dashboard on loopback for browser tests, benchmarks and load tests, and driving its pages.

Debian's Chromium (``/usr/bin/chromium``) is driven by Playwright; it never
downloads a browser. Without the background-networking flags Chromium keeps
trying to reach Google's hosts, which a closed network refuses. The page
snippets (:data:`SETTLED`, :data:`ISOLATED_POINT`) and :func:`settle` are
shared by the browser tests and the bench's screenshots.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

SETTLED = """() => !document.querySelector('[data-testid=stStatusWidget] button')
  && !document.querySelector('[data-stale=true]')"""
"""A page function, true once the page's script run has ended: no "Running…" status and no element left over
from the run before (Streamlit marks those ``data-stale``). Locators taken before that may point at a copy
about to be replaced."""

ISOLATED_POINT = """el => {
    const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis, box = el.getBoundingClientRect();
    const pts = [];
    el._fullData.forEach(t => { if (t.customdata) for (let i = 0; i < t.x.length; i++) pts.push([t.x[i], t.y[i], t.customdata[i][0]]); });
    const cx = pts.reduce((s, p) => s + p[0], 0) / pts.length, cy = pts.reduce((s, p) => s + p[1], 0) / pts.length;
    const far = pts.reduce((a, p) => (Math.hypot(p[0] - cx, p[1] - cy) > Math.hypot(a[0] - cx, a[1] - cy) ? p : a));
    return [box.left + xa._offset + xa.l2p(far[0]), box.top + ya._offset + ya.l2p(far[1]), far[2]];
}"""
"""A function of a Plotly map's element: the screen position (x, y in CSS pixels) of the map's most isolated
point (the farthest from the points' centre) and its index, ``[x, y, index]``."""


def settle(page, timeout_ms: int = 120_000) -> None:
    """Waits until a Playwright ``page``'s script run has ended (see :data:`SETTLED`).

    Raises:
        playwright.sync_api.TimeoutError: it has not ended within ``timeout_ms`` milliseconds.
    """
    page.wait_for_timeout(200)  # the rerun a click starts has reached the browser
    page.wait_for_function(SETTLED, polling=100, timeout=timeout_ms)


def click_isolated_point(page, timeout_ms: int = 30_000, attempts: int = 3) -> int:
    """Clicks the Explore map's most isolated point (:data:`ISOLATED_POINT`) until the point inspector opens.

    On a loaded machine the first click can land before the chart listens, so it clicks again, up to
    ``attempts`` times. Returns the index of the point the inspector opened on: the clicked point, or one drawn
    over it (points overlap on a map).

    Raises:
        playwright.sync_api.TimeoutError: the inspector did not open within ``timeout_ms`` milliseconds of the
            last click.
    """
    plot = page.locator(".st-key-map .js-plotly-plot")
    heading = page.locator(".st-key-point-inspector").get_by_role("heading", name=re.compile(r"^Point #\d+"))
    for attempt in range(attempts):
        plot.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        x, y, _ = plot.evaluate(ISOLATED_POINT)
        page.mouse.click(x, y)
        try:
            heading.wait_for(timeout=timeout_ms)
        except Exception:
            if attempt == attempts - 1:
                raise
            continue
        return int(heading.inner_text().split("#")[1])
    raise ValueError(f"attempts must be at least 1; got {attempts}")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_answering(
    url: str, process: subprocess.Popen, *, name: str, timeout: float = 120, ok: Callable[[bytes], bool] = bool
) -> None:
    """Waits until a server ``process`` answers a GET of ``url`` with a body that ``ok`` accepts.

    Args:
        url: what to ask (a health or status route); name: the server, for the errors ("streamlit").
        timeout: seconds; ok: the answer's test (default: any non-empty body).

    Raises:
        RuntimeError: the server exited first.
        TimeoutError: no such answer within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if ok(response.read()):
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{name} did not answer at {url} within {timeout} s")


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    """Waits until Streamlit's health endpoint under ``url`` answers ``ok`` (:func:`wait_answering`)."""
    wait_answering(url + "/_stcore/health", process, name="streamlit", timeout=timeout, ok=lambda body: body == b"ok")


@contextlib.contextmanager
def running_app(
    workspace: str | Path,
    log: IO | int = subprocess.DEVNULL,
    app_root: str | Path = ROOT,
    **env: str,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Runs ``streamlit run app.py`` on a free loopback port until the block ends.

    Args:
        workspace: the server's ``FEATLIB_WORKSPACE``.
        log: where the server's output goes.
        app_root: the folder holding ``app.py``.
        **env: more environment variables for the server.

    Yields:
        ``(url, process)`` once the server answers.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
        ],
        cwd=app_root,
        env=dict(os.environ, FEATLIB_WORKSPACE=str(workspace), **env),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(url, process)
        yield url, process
    finally:
        stop(process)


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    """Ends a server ``process`` started here: SIGTERM, then SIGKILL if it has not exited within ``timeout`` s."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
