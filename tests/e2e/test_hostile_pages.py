"""The hostile corpus through the Model page in Chromium.

Every file of ``hostile_corpus.CASES`` is uploaded where a user would upload
it (the "Upload a model" tab; the "Upload a dataset" expander's npz or IDX
tab) and its button pressed. The page must answer with an error that holds
the case's fragment (and no traceback), the server must still answer its
health check, no code in the file may have run (canary files), and the
workspace must be unchanged: its models and datasets listings, and its files
on disk (names and sizes; SQLite's -wal/-shm files aside).

One browser page per server is reused across the cases to keep this fast.
Oversize cases run against a second server started with
``FEATLIB_MAX_UPLOAD_MB=1`` (``small_limit_server``).
"""

from __future__ import annotations

import time
import urllib.request
from pathlib import Path

import hostile_corpus as hc
import pytest

from featlib.store import Workspace

pytestmark = pytest.mark.e2e

ALERTS = "stAlertContentError"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, Path]]:
    folder = tmp_path_factory.mktemp("hostile-pages")
    return folder, hc.make_all(folder)


def _model_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.get_by_role("heading", name="featlib").wait_for()
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Model", exact=True).click()
    page.locator("h1").filter(has_text="Model").wait_for()
    # The page's frame (its title) shows while the server's Keras and job cluster start; the cases' answers are
    # timed from an uploader that is there, so a loaded machine's start-up is waited for here, once.
    page.get_by_role("tab", name="Upload a model", exact=True).wait_for(timeout=300_000)
    return context, page


@pytest.fixture(scope="module")
def hostile_page(browser, server):
    """The Model page of the session's server, reused by every case."""
    context, page = _model_page(browser, server["url"])
    yield page
    context.close()


@pytest.fixture(scope="module")
def small_limit_page(browser, small_limit_server):
    """The Model page of the server whose upload limit is 1 MiB."""
    context, page = _model_page(browser, small_limit_server["url"])
    yield page
    context.close()


def snapshot(workspace_dir: Path) -> tuple:
    """The workspace's listings and its files on disk (name, size), once no job of the server runs.

    Jobs started by earlier tests' pages go on after those pages closed and
    store their results when they end: they are waited for first. The index
    is compared by its listings (every model, dataset and array), not by its
    files' sizes: each upload is checked by a job, which the index records.
    """
    workspace = Workspace(workspace_dir)
    deadline = time.monotonic() + 300
    while workspace.jobs.list(statuses=("queued", "running")) and time.monotonic() < deadline:
        time.sleep(0.5)
    listings = (workspace.list_models(), workspace.list_datasets(), workspace.items())
    cache = getattr(workspace, "numba_cache", None)
    files = sorted(
        (str(p.relative_to(workspace_dir)), p.stat().st_size)
        for p in Path(workspace_dir).rglob("*")
        if p.is_file() and not p.name.startswith("index.sqlite") and not (cache and p.is_relative_to(cache))
    )
    return listings, files


def server_is_up(url: str) -> bool:
    with urllib.request.urlopen(url + "/_stcore/health", timeout=5) as response:
        return response.read() == b"ok"


def settle(page) -> None:
    """Waits for the script run that the last action started (if any) to end.

    A file put in an uploader while the app reruns is dropped by Streamlit, so
    every upload waits for the previous rerun to finish.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    busy = page.locator('[data-testid="stApp"]:not([data-test-script-state="notRunning"])')
    try:
        busy.wait_for(timeout=1_000)
    except PlaywrightTimeout:
        return  # it had ended already, or nothing was started
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def upload(page, label: str, path: Path) -> None:
    """Puts ``path`` in the uploader labelled ``label`` (replacing its file) and waits for the rerun."""
    from playwright.sync_api import expect

    uploader = page.get_by_test_id("stFileUploader").filter(
        has=page.get_by_test_id("stWidgetLabel").get_by_text(label, exact=True)
    )
    uploader.locator("input[type=file]").set_input_files(str(path))
    # Long names are shortened on the chip ("lambda...ction.keras"); its title holds the whole name.
    uploader.locator(f'[data-testid="stFileChipName"][title="{path.name}"]').wait_for()
    expect(uploader.get_by_test_id("stFileChipIconSpinner")).to_have_count(0, timeout=60_000)
    settle(page)


def show_dataset_tab(page, tab: str) -> None:
    """Opens the "Upload a dataset" expander (if closed) and picks its npz or IDX tab."""
    tab_button = page.get_by_role("tab", name=tab, exact=True)
    if not tab_button.is_visible():
        page.get_by_text("Upload a dataset").click()
    tab_button.click()


# Streamlit's markdown turns " >= " into " ≥ " (and a few arrows likewise) even in escaped text.
_TYPOGRAPHY = {"≥": ">=", "≤": "<=", "≈": "~=", "↔": "<->", "→": "->", "←": "<-", "—": "--"}


def as_written(text: str) -> str:
    """A message as featlib wrote it, from its rendering in the page."""
    for shown, written in _TYPOGRAPHY.items():
        text = text.replace(shown, written)
    return text


def answer(page) -> str:
    """The text of the error alert that answers the click (the previous one is gone by then)."""
    alert = page.get_by_test_id(ALERTS).first
    alert.wait_for(timeout=45_000)
    return as_written(alert.inner_text())


def submit(page, case: hc.Case, folder: Path, path: Path) -> None:
    """Uploads a case's file(s) where a user would and presses the button."""
    if case.kind == "model":
        page.get_by_role("tab", name="Upload a model").click()
        upload(page, "Model file", path)
        button = page.get_by_role("button", name="Load this model")
    elif case.kind == "npz":
        show_dataset_tab(page, "npz")
        upload(page, "Dataset .npz", path)
        button = page.get_by_role("button", name="Add this dataset")
    else:
        show_dataset_tab(page, "IDX")
        for part, file in hc.idx_companions(case, folder, path).items():
            upload(page, part, file)
        button = page.get_by_role("button", name="Add these IDX files")
    # The upload's rerun has cleared the previous case's answer before the click.
    page.get_by_test_id(ALERTS).first.wait_for(state="detached")
    button.click()


@pytest.mark.parametrize("case", hc.CASES, ids=[case.name for case in hc.CASES])
def test_each_hostile_upload_is_explained_and_changes_nothing(case, corpus, request, shot):
    folder, paths = corpus
    if case.limit_mb:
        assert case.limit_mb == 1  # the small server's FEATLIB_MAX_UPLOAD_MB
        page, url = request.getfixturevalue("small_limit_page"), request.getfixturevalue("small_limit_server")["url"]
        workspace_dir = request.getfixturevalue("small_limit_workspace_dir")
    else:
        page, url = request.getfixturevalue("hostile_page"), request.getfixturevalue("server")["url"]
        workspace_dir = request.getfixturevalue("workspace_dir")
    before = snapshot(workspace_dir)

    try:
        submit(page, case, folder, paths[case.name])
        text = answer(page)
    except Exception:
        shot(page, "failure")
        raise

    shot(page, "answer")
    assert case.expected in text
    assert text.startswith("This model cannot be used" if case.kind == "model" else "This dataset cannot be used")
    assert page.get_by_test_id("stException").count() == 0, "a traceback is shown"
    assert server_is_up(url)
    assert not hc.canary(folder, case.name).exists(), "the file's code ran in the server"
    assert snapshot(workspace_dir) == before
