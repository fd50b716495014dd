"""Starting the dashboard on loopback for browser tests, benchmarks and load tests.

Debian's Chromium (``/usr/bin/chromium``) is driven by Playwright; it never
downloads a browser. Without the background-networking flags Chromium keeps
trying to reach Google's hosts, which a closed network refuses.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
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


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, process: subprocess.Popen, timeout: float = 120) -> None:
    """Waits until Streamlit's health endpoint at ``url`` answers ``ok``.

    Raises:
        RuntimeError: the server exited first.
        TimeoutError: no answer within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.read() == b"ok":
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout} s")


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
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
