"""Untrusted text stays text in Chromium, and an 8-image upload goes through every page (issue 11, kinds 1 and 5).

A server of its own gets a workspace where a hostile team member named a
model ``![x](http://127.0.0.1:PORT/beacon)``, a dataset upload
``<img src=http://127.0.0.1:PORT/b2>``, its classes with markdown, HTML and
plotly markup, two layers with emphasis, wrote a note with a
``javascript:`` link and calls themselves by an image. A tiny HTTP server on
PORT counts every request. Every page is visited the way a user would (a
link to the Explore view with selected points, then the sidebar), with the
actions that show more names (follow a point on Layers, a preset on Compare,
an item's details on the Workspace page). Not one request may reach the
counting server, and the names must be visible as written.

The same server then opens an 8-image upload (6 train images) on every page:
no traceback anywhere, a map where the points allow one.
"""

from __future__ import annotations

import http.server
import threading
from urllib.parse import urlencode

import numpy as np
import pytest
from test_browser import goto
from test_hostile_pages import settle
from test_markup_safety import hostile_workspace, payloads

from featlib import datasets, models
from featlib.app import resources
from featlib.maps.embed import PCAParams
from featlib.serve import running_app
from featlib.share.views import View
from featlib.store import Workspace

pytestmark = pytest.mark.e2e

PAGES = ("Model", "Representations", "Explore", "Layers", "Compare", "Workspace", "Jobs")


class Beacon(http.server.BaseHTTPRequestHandler):
    """Counts every request a browser makes to it."""

    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        Beacon.hits.append(self.path)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def beacon():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Beacon)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Beacon.hits = []
    yield server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def hostile_server(chromium_path, beacon, tmp_path_factory):
    """A server whose workspace holds the hostile names (with the beacon's port) and an 8-image upload."""
    root = tmp_path_factory.mktemp("markup-browser-ws")
    made = hostile_workspace(root, beacon)
    x, y = datasets.load_digits().split("train")
    order = [np.flatnonzero(y == i % 8)[i // 8] for i in range(8)]
    eight = datasets.from_arrays(x[order], y[order], name="eight images")  # 6 train + 2 test, as uploaded
    Workspace(root).save_dataset(eight)
    made["eight"] = resources.UPLOAD_PREFIX + eight.fingerprint
    made["mlp"] = models.save_model(Workspace(root), models.build_mlp((64,), seed=0), "mlp", dataset="digits")
    with open(tmp_path_factory.mktemp("markup-browser") / "streamlit.log", "w") as log:
        with running_app(root, log) as (url, _):
            yield {"url": url, "made": made}


def _open(browser, url: str, user: str = ""):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    if user:
        from urllib.parse import quote

        context.add_cookies([{"name": "featlib_user", "value": quote(user), "url": url}])
    page = context.new_page()
    page.set_default_timeout(90_000)
    return context, page


def _shown(locator) -> str:
    """The text a reader sees: ``inner_text`` without the invisible word joiners that keep ``http://`` from linking."""
    return locator.inner_text().replace("\u2060", "")


def _visible(page, text: str) -> bool:
    return text in _shown(page.locator("body"))


def _no_link_or_image_to(page, port: int, where: str) -> None:
    """No element of the page points at the beacon: no link, image or source (a fetch or a click away)."""
    pointing = page.locator(f'[href*="127.0.0.1:{port}"], [src*="127.0.0.1:{port}"], [srcset*="127.0.0.1:{port}"]')
    assert pointing.count() == 0, f"{where}: {pointing.first.evaluate('e => e.outerHTML')}"


def _no_traceback(page, where: str) -> None:
    assert page.get_by_test_id("stException").count() == 0, f"a traceback on {where}"
    assert "Traceback (most recent call last)" not in page.locator("body").inner_text(), where


def _wait_page(page) -> None:
    """Until the run the last action started has ended (the page's jobs included)."""
    settle(page)
    page.locator('[data-testid="stApp"][data-test-script-state="notRunning"]').wait_for()


def test_no_page_fetches_what_a_name_points_to_and_names_read_as_written(browser, hostile_server, beacon, shot):
    made, text = hostile_server["made"], payloads(beacon)
    view = View(
        made["record"].id,
        made["dataset_key"],
        made["layer"],
        sample=None,
        params=PCAParams(),
        selection=tuple(range(12)),
    )
    context, page = _open(browser, hostile_server["url"], user=text["user"])
    try:
        page.goto(f"{hostile_server['url']}/explore?{urlencode(view.to_query())}")
        page.locator("h1").filter(has_text="Explore").wait_for()
        page.get_by_text("12 selected points").wait_for(timeout=180_000)
        _wait_page(page)
        shot(page, "explore")
        sidebar = _shown(page.get_by_test_id("stSidebar"))
        assert text["model"] in sidebar and text["user"] in sidebar, sidebar  # the names, as typed
        assert text["dataset"] in _shown(page.get_by_test_id("stMain"))  # Explore's caption
        _no_traceback(page, "Explore")
        _no_link_or_image_to(page, beacon, "Explore")
        for name in PAGES:
            if name == "Explore":
                continue
            goto(page, name)
            _wait_page(page)
            if name == "Representations" and page.get_by_role("button", name="Compute").count():
                page.get_by_role("button", name="Compute").first.click()
                _wait_page(page)
            if name == "Layers":
                page.get_by_role("button", name="Follow this point").click()
                page.get_by_role("heading", name="Followed points").wait_for(timeout=120_000)
                _wait_page(page)
                assert _visible(page, "x.__bold__")  # a layer's name, not bold "x."
            if name == "Compare":
                page.get_by_role("button", name="Layer by layer").click()
                _wait_page(page)
            if name == "Workspace":
                assert _visible(page, "[link](javascript:alert(1)) **bold**")  # the note, as written
                page.get_by_text("Details, rename, note, delete").first.click()
                _wait_page(page)
            if name == "Model":
                assert _visible(page, f"Current model: {text['model']}")
                page.get_by_text("Sample images per class").click()
                _wait_page(page)
            shot(page, name.lower())
            _no_traceback(page, name)
            _no_link_or_image_to(page, beacon, name)
        page.wait_for_timeout(2_000)  # anything lazily loaded has asked by now
    finally:
        context.close()
    assert Beacon.hits == [], f"the browser fetched {Beacon.hits} from the beacon"


def test_an_eight_image_upload_goes_through_every_page(browser, hostile_server, shot):
    made = hostile_server["made"]
    view = View(made["mlp"].id, made["eight"], "dense_1", sample=None)  # UMAP with the defaults, as a user starts
    context, page = _open(browser, hostile_server["url"])
    try:
        page.goto(f"{hostile_server['url']}/explore?{urlencode(view.to_query())}")
        page.locator("h1").filter(has_text="Explore").wait_for()
        page.get_by_test_id("stPlotlyChart").first.wait_for(timeout=180_000)
        _wait_page(page)
        assert _visible(page, "6 points: n_neighbors is at most 5")
        _no_traceback(page, "Explore")
        shot(page, "eight-explore")
        for name in PAGES:
            goto(page, name)
            _wait_page(page)
            if name == "Compare":
                page.get_by_role("button", name="Layer by layer").click()
                _wait_page(page)
                page.get_by_test_id("stPlotlyChart").first.wait_for()
            if name == "Layers":
                page.get_by_test_id("stPlotlyChart").first.wait_for()
            shot(page, f"eight-{name.lower()}")
            _no_traceback(page, name)
    finally:
        context.close()
