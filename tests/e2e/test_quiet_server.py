"""The server's log as a user running ``make run`` reads it: no TensorFlow start-up lines, no false alarms."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import psutil
import pytest
from log_noise import noise

from featlib.serve import running_app

pytestmark = pytest.mark.e2e
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "e2e"


def test_the_server_log_holds_none_of_the_known_noise(browser, tmp_path, monkeypatch):
    """A server of its own, started without ``TF_CPP_MIN_LOG_LEVEL`` (as ``make run`` from a shell), shows the
    Model page once (the page waits for the server's import of Keras, then uses it); nothing is trained.

    Before anyone asks for a page, the server has begun preparing (:func:`featlib.app.start_up.lifespan`): its
    job cluster starts. Its log keeps Streamlit's own lines and none of :data:`log_noise.NOISE`.
    """
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    log_path = tmp_path / "streamlit-quiet.log"
    start = time.monotonic()
    with open(log_path, "w") as log, running_app(tmp_path / "ws", log) as (url, process):
        assert _cluster_started(process, within=60), "no job cluster before the first page was asked for"
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            page = context.new_page()
            page.set_default_timeout(60_000)
            page.goto(url + "/model")
            page.locator("h1").filter(has_text="Model").wait_for()
            page.get_by_role("button", name="Train", exact=True).wait_for()
            time.sleep(1)  # lines written as the page finished reach the log
        finally:
            context.close()
    text = log_path.read_text()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "streamlit-quiet.log").write_text(text)
    assert "You can now view your Streamlit app in your browser" in text
    assert not noise(text), "\n".join(noise(text))
    assert "Traceback" not in text, text[-3000:]
    assert time.monotonic() - start < 90


def _cluster_started(process, within: float) -> bool:
    """Whether the server ``process`` has started its job cluster (``python -m featlib.jobs.cluster``) within
    ``within`` seconds."""
    server = psutil.Process(process.pid)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for child in server.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "featlib.jobs.cluster" in child.cmdline():
                    return True
        time.sleep(0.2)
    return False
