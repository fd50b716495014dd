"""Fixtures for browser tests: the real ``streamlit run app.py`` and Debian's Chromium.

Without /usr/bin/chromium the tests skip, naming the package to install; with
``FEATLIB_REQUIRE_BROWSER=1`` (set by CI) they fail instead, so CI never
skips them. Screenshots go to ``test-artifacts/e2e/``.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from urllib.parse import urlparse

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
def _streamlit(workspace: Path, log_dir: Path, log_name: str, **env_extra: str):
    """Runs the app on loopback until the block ends, with its own job cluster; keeps its log as an artefact.

    Not the test process's shared cluster (tests/conftest.py's ``job_cluster``): measured over the whole suite, the
    servers' jobs then queued behind what earlier tests' servers left running or cancelled (a cancel restarts the
    worker), and the suite took longer (24 min 37 s against 22 min 5 s), with no less CPU in the clusters."""
    with open(log_dir / log_name, "w+") as log:
        try:
            with running_app(workspace, log, **env_extra) as (url, process):
                yield {"url": url, "process": process, "log": log, "workspace": workspace}
        finally:
            log.seek(0)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            (ARTIFACTS / log_name).write_text(log.read())


@pytest.fixture(scope="session")
def server(chromium_path, workspace_dir, tmp_path_factory):
    """A real Streamlit server on loopback, with its own empty workspace."""
    with _streamlit(workspace_dir, tmp_path_factory.mktemp("server"), "streamlit.log") as running:
        yield running


SMALL_UPLOAD_LIMIT_MB = 1


@pytest.fixture(scope="session")
def small_limit_workspace_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-small-limit-workspace")


@pytest.fixture(scope="session")
def small_limit_server(chromium_path, small_limit_workspace_dir, tmp_path_factory):
    """A second real server whose featlib upload limit is 1 MiB (``FEATLIB_MAX_UPLOAD_MB=1``).

    Streamlit's own limit stays at 200 MB, so files just over 1 MiB reach
    featlib's checks in code. Started only by the tests that use it.
    """
    with _streamlit(
        small_limit_workspace_dir,
        tmp_path_factory.mktemp("small-limit-server"),
        "streamlit-small-limit.log",
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


class Tab:
    """One browser context and tab, handed from test to test as a new context would give it (:meth:`fresh`).

    A new context per test starts a new renderer that parses and compiles Streamlit's and Plotly's JavaScript
    again: 3.3 Chromium CPU s per Home load and 8.6 per Explore with a map, against 1.0 and 3.6 for the same
    page navigated again (``bench/browser_load_cost.py``). Tests about two users at once, or a link opened in a
    session sharing nothing with the one that made it, keep their own contexts.
    """

    def __init__(self, browser) -> None:
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.page = self.context.new_page()

    def fresh(self, url: str, width: int = 1400, height: int = 1000, timeout_ms: int = 60_000, permissions=()):
        """The tab on ``url`` at ``width`` × ``height`` CSS pixels, with what a new context has: no cookie (so no
        ``featlib_user``: nobody known, :mod:`featlib.app.identity`), no local or session storage, no permission
        but ``permissions`` (granted to ``url``'s origin), the mouse at (0, 0), a new Streamlit session (the
        previous page's websocket closed). Its HTTP cache and renderer are kept. Returns the page (not waited on)."""
        if self.page.is_closed():
            self.page = self.context.new_page()
        page, origin = self.page, "{0.scheme}://{0.netloc}".format(urlparse(url))
        page.goto(origin + "/_stcore/health")  # a plain text page of the same origin: the app's session ends
        page.evaluate("() => { localStorage.clear(); sessionStorage.clear(); }")
        self.context.clear_cookies()
        self.context.clear_permissions()
        if permissions:
            self.context.grant_permissions(list(permissions), origin=origin)
        state = self.context.storage_state()
        assert not state["cookies"] and not any(o["localStorage"] for o in state["origins"]), state
        page.mouse.move(0, 0)
        page.set_viewport_size({"width": width, "height": height})
        page.set_default_timeout(timeout_ms)
        page.goto(url)
        return page

    def blank(self) -> None:
        """Leaves the app (``about:blank``): its Streamlit session and the page's scripts end, as a closed context's."""
        if not self.page.is_closed():
            self.page.goto("about:blank")


@pytest.fixture(scope="session")
def shared_tab(browser):
    """The worker's :class:`Tab`, for a module fixture that calls :meth:`Tab.blank` when done; tests take ``tab``."""
    shared = Tab(browser)
    yield shared
    shared.context.close()


@pytest.fixture
def tab(shared_tab):
    """The worker's :class:`Tab` for one test (``tab.fresh(url)``), left on ``about:blank`` after it."""
    yield shared_tab
    shared_tab.blank()


@pytest.fixture
def page(tab, server):
    """A fresh browser session on the app's home page (:meth:`Tab.fresh`), 1400 × 1000."""
    page = tab.fresh(server["url"])
    page.get_by_role("heading", name="featlib").wait_for()
    return page


@pytest.fixture
def shot(request):
    """``shot(page, step)`` saves a screenshot named after the test and the step."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def take(page, step: str) -> Path:
        path = ARTIFACTS / f"{request.node.name}-{step}.png"
        page.screenshot(path=str(path))
        return path

    return take
