"""The Layers page and Explore's model-aware colours in Chromium, on the bundled digits."""

from __future__ import annotations

import pytest
from test_browser import goto, model_page_on_digits

pytestmark = pytest.mark.e2e


def svg_texts(locator) -> list[str]:
    """The text of SVG elements (plotly's titles and legend entries have no innerText)."""
    return locator.evaluate_all("elements => elements.map(e => e.textContent)")


def small_box(page, plot) -> None:
    """Draws a small lasso (a tenth of the plot's size) at the middle of a plotly panel."""
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    cx, cy, w, h = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"] * 0.1, box["height"] * 0.1
    page.mouse.move(cx - w, cy - h)
    page.mouse.down()
    for x, y in ((cx + w, cy - h), (cx + w, cy + h), (cx - w, cy + h), (cx - w, cy - h)):
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def train(page) -> None:
    model_page_on_digits(page)
    page.get_by_label("Epochs").fill("3")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("test accuracy").wait_for(timeout=120_000)


def test_layers_grid_metrics_cka_and_a_followed_selection(page, shot):
    train(page)
    goto(page, "Layers")
    page.get_by_role("heading", name="Linear CKA between layers").wait_for(timeout=120_000)  # its job's bar says it too
    grid = page.locator(".js-plotly-plot").first
    grid.locator("canvas").first.wait_for()
    titles = svg_texts(grid.locator(".annotation-text"))
    assert any(t.startswith("dense_1 (64 units)") for t in titles)
    assert sum(t.startswith("kNN ") for t in titles) == 7  # a caption of figures under each of the 7 maps
    shot(page, "1-grid")

    scores = page.locator(".js-plotly-plot").nth(1)  # each layer's figures against the input pixels' lines
    scores.locator(".legendtext").first.wait_for(state="attached")
    assert any(t.startswith("input pixels: 10-NN ") for t in svg_texts(scores.locator(".legendtext")))
    cka = page.locator(".st-key-cka .js-plotly-plot")  # by its key: the units' and the layer flow's plots come between
    cka.locator(".hm, canvas, image").first.wait_for(state="attached")
    page.get_by_text("Figures per layer").scroll_into_view_if_needed()
    shot(page, "2-table-and-cka")

    small_box(page, grid.locator(".nsewdrag").nth(6))  # in the softmax output's panel
    page.get_by_role("heading", name="Followed points").wait_for(timeout=60_000)
    page.get_by_text("share its label").first.wait_for()
    assert page.get_by_text("share its label").count() >= 7
    page.get_by_test_id("stImage").locator("img").first.wait_for()
    page.get_by_role("heading", name="Followed points").scroll_into_view_if_needed()
    page.wait_for_timeout(500)  # the images' decoding, for the screenshot only
    shot(page, "3-followed")


def test_explore_misclassified_shortcut_shows_their_images(page, shot):
    train(page)
    goto(page, "Explore")
    page.get_by_text("trustworthiness").first.wait_for(timeout=240_000)
    page.get_by_role("button", name="Show the").click()
    page.get_by_text("Misclassified among them").wait_for()
    assert "colour=correct" in page.url and "selection=" in page.url
    plot = page.locator(".js-plotly-plot").first
    assert "misclassified" in svg_texts(plot.locator(".legendtext"))
    shot(page, "1-misclassified-map")
    page.get_by_text("Misclassified among them").scroll_into_view_if_needed()
    shot(page, "2-misclassified-images")
