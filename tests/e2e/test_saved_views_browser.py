"""Saved views in Chromium: save a view with a title, copy its short link in one click, open it elsewhere.

Dora opens a PCA map (no Numba compile) of a model stored in the session
server's workspace, with a colouring and three selected points, saves it
under a title holding markup, and presses "Copy short link": the clipboard
(read back in the browser, with clipboard permissions granted) holds
``http://127.0.0.1:<port>/explore?view=<id>``. A new browser context opens
that link and sees the same points at the same coordinates, the same layer,
colouring and selection; its Workspace page lists the view with its title
(as text), maker, time and a thumbnail. Screenshots at 1280 and 1920 px.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest
from test_sharing import PLOTTED_POINTS, new_user

from featlib import models
from featlib.store import Workspace

pytestmark = pytest.mark.e2e

TITLE = "Threes <b>& eights</b> [x](http://evil)"
WIDTHS = (1280, 1920)


def map_points(page) -> list:
    page.get_by_text("10-NN accuracy of the map").wait_for(timeout=300_000)
    page.locator(".js-plotly-plot").first.locator("canvas").first.wait_for()
    return page.evaluate(PLOTTED_POINTS)


def shots(page, shot, step: str) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 1000})
        page.wait_for_timeout(300)
        shot(page, f"{step}-{width}")


def test_save_copy_and_open_a_short_link_in_a_new_context(browser, server, workspace_dir, model, shot):
    record = models.save_model(Workspace(workspace_dir), model, "views-mlp", dataset="digits", creator="dora")
    long = {
        "model": record.id,
        "dataset": "digits",
        "layer": "dense_1",
        "reducer": "pca",
        "colour": "predicted",
        "selection": "5,17,400",
    }
    context, page = new_user(browser, server["url"], "dora")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server["url"])
    try:
        page.wait_for_function("document.cookie.includes('featlib_user=')")  # the name outlives the next load
        page.goto(f"{server['url']}/explore?{urlencode(long)}")
        points = map_points(page)
        page.get_by_role("button", name="Save view").click()
        title = page.get_by_role("textbox", name="Title")
        title.fill(TITLE)
        page.locator("[class*='save_view_button'] button").click()  # by its key: its shortcut follows the word
        page.get_by_text("Saved as", exact=False).first.wait_for()
        [saved] = [v for v in Workspace(workspace_dir).list_views() if v.title == TITLE]
        assert saved.creator == "dora" and saved.query["selection"] == "5,17,400"
        page.keyboard.press("Escape")
        copy = page.get_by_role("button", name="Copy short link")
        copy.click()
        page.get_by_text("Copied").wait_for()
        clipboard = page.evaluate("navigator.clipboard.readText()")
        assert clipboard == f"{server['url']}/explore?view={saved.id}"
        assert page.url.endswith(f"/explore?view={saved.id}")  # the address bar holds the short link too
        line = page.get_by_text("Saved as").first.inner_text().replace("\u2060", "")  # plain()'s joiner in "http://"
        assert TITLE in line and "dora" in line and f"/explore?view={saved.id}" in line
        shots(page, shot, "1-saved")
    finally:
        context.close()

    other = browser.new_context(viewport={"width": 1280, "height": 1000})  # nothing shared with dora's session
    bob = other.new_page()
    bob.set_default_timeout(60_000)
    try:
        bob.goto(clipboard)
        assert map_points(bob) == points  # same points, same coordinates
        assert bob.get_by_test_id("stCaptionContainer").filter(has_text="layer dense_1").count() >= 1
        assert bob.get_by_role("radiogroup").filter(has_text="PCA").get_by_role("radio", name="PCA").is_checked()
        bob.get_by_text("3 selected points").first.wait_for()
        assert bob.url.endswith(f"?view={saved.id}")
        shots(bob, shot, "2-opened-in-a-new-context")

        bob.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Workspace", exact=True).click()
        card = bob.locator("[class*='st-key-item-']").filter(has_text="Saved view")
        card.first.wait_for()
        text = card.first.inner_text().replace("\u2060", "")
        assert TITLE in text and "by dora" in text and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", text)
        assert f"/explore?view={saved.id}" in text
        image = card.first.locator("img").first
        image.wait_for()
        assert bob.evaluate("(img) => img.complete && img.naturalWidth", image.element_handle()) == 160  # drawn as made
        assert card.first.locator("b").count() == 0  # the title's markup is shown as text
        card.first.scroll_into_view_if_needed()
        shots(bob, shot, "3-workspace-row")
        card.first.get_by_role("button", name="Open").click()
        bob.locator("h1").filter(has_text="Explore").wait_for()
        assert map_points(bob) == points
    finally:
        other.close()
