"""Team sharing in Chromium: two users on one server, and a bundle carried to an empty server.

User 1 (alice) trains on the digits and opens a map; user 2 (bob), in another
browser context, finds alice's model on the Workspace page under her name and
opens the link from her "Show link" popover: the plotted points (dataset index,
x, y of every point, read from the plotly figure in the page) are the same.
Alice's bundle, imported on a second server with an empty workspace, shows
the same points again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_browser import goto, model_page_on_digits, upload

from featlib.serve import running_app
from featlib.store import Workspace

pytestmark = pytest.mark.e2e

# Every point of the map as (dataset index, x, y), read from the figure plotly drew.
PLOTTED_POINTS = """() => {
    const plot = document.querySelector('.js-plotly-plot');
    const points = [];
    for (const trace of plot._fullData) {
        if (!trace.customdata) continue;
        for (let i = 0; i < trace.x.length; i++) points.push([trace.customdata[i][0], trace.x[i], trace.y[i]]);
    }
    return points.sort((a, b) => a[0] - b[0]);
}"""


def new_user(browser, url: str, name: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.get_by_role("heading", name="featlib").wait_for()
    page.get_by_role("textbox", name="Your name").fill(name)
    page.get_by_role("button", name="Save name").click()
    page.get_by_text(f"You are {name}").wait_for()
    return context, page


def plotted_points(page) -> list:
    page.get_by_text("10-NN accuracy of the map").wait_for(timeout=300_000)
    page.locator(".js-plotly-plot").first.locator("canvas").first.wait_for()
    return page.evaluate(PLOTTED_POINTS)


@pytest.fixture(scope="module")
def alice(browser, server):
    """Alice trains on the digits and opens the map of dense_1; yields her page, link and points."""
    context, page = new_user(browser, server["url"], "alice")
    model_page_on_digits(page)
    page.get_by_label("Epochs").fill("3")
    page.get_by_label("Save as").first.fill("alice-mlp")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("test accuracy").wait_for(timeout=120_000)
    goto(page, "Explore")
    points = plotted_points(page)
    page.get_by_role("button", name="Show link").click()  # the popover with the whole link ("Copy link" copies it)
    link = page.get_by_test_id("stCode").last.inner_text().strip()
    page.keyboard.press("Escape")
    yield {"page": page, "link": link, "points": points}
    context.close()


def test_two_users_share_a_model_and_a_view(browser, server, alice, shot, workspace_dir):
    assert len(alice["points"]) == 1437 and "model=" in alice["link"]
    shot(alice["page"], "1-alice-map")
    context, bob = new_user(browser, server["url"], "bob")
    try:
        goto(bob, "Workspace")
        bob.get_by_text("alice-mlp").first.wait_for()
        bob.get_by_text("Sort by").wait_for()
        shot(bob, "2-bob-workspace")
        card = bob.locator("[class*='st-key-item-']").filter(has_text="alice-mlp").filter(has_text="Model ·")
        assert "by alice" in card.first.inner_text()
        card.first.get_by_text("Details, rename, note, delete").click()
        card.first.get_by_text("model fingerprint").first.wait_for()  # the provenance is shown
        card.first.get_by_role("button", name="Rename").scroll_into_view_if_needed()
        shot(bob, "2b-model-details")
        bob.goto(alice["link"])
        assert plotted_points(bob) == alice["points"]  # same points, same coordinates
        shot(bob, "3-bob-opens-the-link")
        bob.reload()
        bob.get_by_text("You are bob").wait_for()  # the name survives a reload (cookie)
    finally:
        context.close()
    [model] = [r for r in Workspace(workspace_dir).list_models() if r.name == "alice-mlp"]
    assert model.creator == "alice"


@pytest.fixture(scope="module")
def empty_server(chromium_path, tmp_path_factory):
    """A second server with its own empty workspace and job cluster."""
    workspace = tmp_path_factory.mktemp("e2e-import-workspace")
    with open(tmp_path_factory.mktemp("import-server") / "streamlit.log", "w") as log:
        with running_app(workspace, log) as (url, _):
            yield {"url": url, "workspace": workspace}


def test_a_bundle_shows_the_same_view_on_an_empty_server(browser, alice, empty_server, shot, tmp_path):
    page = alice["page"]
    page.goto(alice["link"])
    plotted_points(page)
    page.get_by_text("Export").last.click()
    page.get_by_role("button", name="Bundle (.zip)").scroll_into_view_if_needed()
    shot(page, "0-export-panel")
    with page.expect_download() as download:
        page.get_by_role("button", name="Bundle (.zip)").click()
    assert download.value.suggested_filename == "alice-mlp-train-view.zip"
    with page.expect_download() as png:
        page.get_by_role("button", name="PNG image").click()
    assert png.value.failure() is None and Path(png.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    path = tmp_path / "view.zip"
    download.value.save_as(path)
    assert Workspace(empty_server["workspace"]).items() == []

    context, carol = new_user(browser, empty_server["url"], "carol")
    try:
        carol.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Workspace", exact=True).click()
        # a fresh server loads TensorFlow and umap-learn before its first page
        carol.locator("h1").filter(has_text="Workspace").wait_for(timeout=300_000)
        carol.get_by_text("Import a bundle").click()
        upload(carol, "Bundle (.zip)", path)
        carol.get_by_role("button", name="Import this bundle").click()
        carol.get_by_text("Imported alice-mlp").wait_for()
        link = carol.get_by_test_id("stCode").last.inner_text().strip()
        carol.get_by_text("alice-mlp").last.wait_for()  # listed at once
        shot(carol, "1-imported")
        carol.goto(link)
        assert plotted_points(carol) == alice["points"]
        shot(carol, "2-imported-view")
    finally:
        context.close()
    items = Workspace(empty_server["workspace"]).items()
    assert {i.kind for i in items} >= {"model", "embedding"}
    model = next(i for i in items if i.kind == "model")
    assert model.creator == "carol" and model.claimed_by == "alice"  # the importer adds it; the maker is a claim


def test_a_link_is_the_first_request_of_a_restarted_server(browser, alice, workspace_dir, shot, tmp_path):
    """After a restart, the link opens its view even as the server's very first request.

    The pages live in the package (``featlib/app/app_pages``), not in a ``pages/`` folder beside ``app.py``, so
    Streamlit has no legacy mode: the first run is ``app.py``'s, whose ``st.navigation`` opens the linked page.
    """
    query = alice["link"].split("?", 1)[1]
    with open(tmp_path / "restarted.log", "w") as log, running_app(workspace_dir, log) as (url, _):
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(300_000)  # a fresh server loads TensorFlow and umap-learn first
        try:
            page.goto(f"{url}/explore?{query}")
            assert plotted_points(page) == alice["points"]
            assert page.locator("h1").filter(has_text="Explore").count() == 1
            shot(page, "restarted-server-link")
        finally:
            context.close()
