"""Fixtures for browser tests: the real ``streamlit run app.py`` and Debian's Chromium.

Without /usr/bin/chromium the tests skip, naming the package to install; with
``FEATLIB_REQUIRE_BROWSER=1`` (set by CI) they fail instead, so CI never
skips them. Screenshots go to ``test-artifacts/e2e/``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from featlib.serve import CHROMIUM, CHROMIUM_ARGS, running_app

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing: install Debian's package 'chromium' (apt-get install chromium)"
        if os.environ.get("FEATLIB_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.fixture(scope="session")
def workspace_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-workspace")


@contextlib.contextmanager
def _streamlit(workspace: Path, log_dir: Path, log_name: str, job_cluster: dict[str, str], **env_extra: str):
    """Runs the app on loopback until the block ends, its jobs on the test process's shared ``job_cluster``
    (tests/conftest.py); keeps its log as an artefact."""
    with open(log_dir / log_name, "w+") as log:
        try:
            with running_app(workspace, log, **{**job_cluster, **env_extra}) as (url, process):
                yield {"url": url, "process": process, "log": log, "workspace": workspace}
        finally:
            log.seek(0)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / log_name).write_text(log.read())


@pytest.fixture(scope="session")
def server(chromium_path, workspace_dir, tmp_path_factory, job_cluster):
    """A real Streamlit server on loopback, with its own empty workspace."""
    with _streamlit(workspace_dir, tmp_path_factory.mktemp("server"), "streamlit.log", job_cluster) as running:
        yield running


SMALL_UPLOAD_LIMIT_MB = 1


@pytest.fixture(scope="session")
def small_limit_workspace_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-small-limit-workspace")


@pytest.fixture(scope="session")
def small_limit_server(chromium_path, small_limit_workspace_dir, tmp_path_factory, job_cluster):
    """A second real server whose featlib upload limit is 1 MiB (``FEATLIB_MAX_UPLOAD_MB=1``).

    Streamlit's own limit stays at 200 MB, so files just over 1 MiB reach
    featlib's checks in code. Started only by the tests that use it.
    """
    with _streamlit(
        small_limit_workspace_dir,
        tmp_path_factory.mktemp("small-limit-server"),
        "streamlit-small-limit.log",
        job_cluster,
        FEATLIB_MAX_UPLOAD_MB=str(SMALL_UPLOAD_LIMIT_MB),
    ) as running:
        yield running


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server, request):
    """A fresh browser session on the app's home page."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(server["url"])
    page.get_by_role("heading", name="featlib").wait_for()
    yield page
    context.close()


@pytest.fixture
def shot(request):
    """``shot(page, step)`` saves a screenshot named after the test and the step."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, step: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{step}.png"
        page.screenshot(path=str(path))
        return path

    return take
