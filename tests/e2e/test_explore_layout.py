"""The Explore page at real screen sizes, in Chromium (issue 28, items 3 and 11).

At 1440×900, 1024×768 and 390×844: the map is the first thing under the page's
title, above its figures (a small table, not six large tiles); no label, button
or table cell is cut (``scrollWidth`` over ``clientWidth``). At 1440×900 a click
on a point opens the point inspector beside the map, in the window without
scrolling, and marks the point in a colour no class has. While a t-SNE map
computes, its PCA preview is shown alone: no earlier map or figure stays under
it. The sidebar's entries are named by their text alone, and the tab's icon is
served by the app (no font server). Screenshots go to
``test-artifacts/e2e/explore-layout-<width>.png``.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode, urlparse

import pytest
from conftest import ARTIFACTS

from featlib import models, plots
from featlib.serve import click_isolated_point, settle
from featlib.store import Workspace

pytestmark = pytest.mark.e2e

SIZES = ((1440, 900), (1024, 768), (390, 844))
PAGES = ("Home", "Model", "Representations", "Explore", "Layers", "Compare", "Workspace", "Jobs")

# Every text that could be cut: labels, buttons, table cells, metric labels and values, captions of images.
# Each element whose content is wider than its box (the page cuts it with an ellipsis) is named.
CUT_TEXTS = """() => {
  const sel = ['[data-testid=stMetricLabel] p', '[data-testid=stMetricValue] div', 'button p',
               '[data-testid=stWidgetLabel] p', '[data-testid=stTable] td', '[data-testid=stTable] th',
               '[data-testid=stImageCaption]', '[data-testid=stMarkdownContainer] p', '.stMarkdownEllipsis'];
  const main = document.querySelector('[data-testid=stMain]');
  return [...main.querySelectorAll(sel.join(','))]
    .filter(e => e.offsetParent !== null && e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1)
    .map(e => `${e.textContent.trim().slice(0, 60)} (${e.scrollWidth} px in ${e.clientWidth} px)`);
}"""


# While the PCA preview is shown: the plots drawn in the page and the map's figures still there (else falsy).
SEEN_WITH_THE_PREVIEW = """() => {
  const main = document.querySelector('[data-testid=stMain]');
  const plots = [...main.querySelectorAll('.js-plotly-plot')].filter(p => p.offsetParent !== null);
  const titles = plots.map(p => [...p.querySelectorAll('.gtitle')].map(t => t.textContent).join(' '));
  if (!titles.some(t => t.startsWith('PCA preview'))) return false;
  const figures = [...main.querySelectorAll('td, [data-testid=stMetricLabel]')]
    .filter(e => e.textContent.includes('10-NN accuracy of the map')).length;
  return {plots: plots.length, figures, titles};
}"""


@pytest.fixture(scope="module")
def explore_link(server, workspace_dir, model) -> dict[str, str]:
    """The query of a PCA map (no Numba compile) of a model in the session server's workspace, 3 points selected."""
    record = models.save_model(Workspace(workspace_dir), model, "layout-mlp", dataset="digits", creator="layout")
    return {"model": record.id, "dataset": "digits", "layer": "dense_1", "reducer": "pca", "selection": "5,17,400"}


def open_explore(tab, server, query: dict[str, str], width: int, height: int):
    page = tab.fresh(f"{server['url']}/explore?{urlencode(query)}", width, height, timeout_ms=120_000)
    page.get_by_text("10-NN accuracy of the map").first.wait_for(timeout=300_000)
    page.locator(".st-key-map .js-plotly-plot canvas").first.wait_for()
    page.wait_for_timeout(800)  # plotly lays the map out to its column
    return page


def box(page, selector: str) -> dict:
    found = page.locator(selector).first
    found.wait_for()
    return found.bounding_box()


@pytest.mark.parametrize("width, height", SIZES, ids=[f"{w}" for w, _ in SIZES])
def test_the_map_comes_first_and_nothing_is_cut(tab, server, explore_link, width, height):
    page = open_explore(tab, server, explore_link, width, height)
    page.screenshot(path=str(ARTIFACTS / f"explore-layout-{width}.png"))
    plot = box(page, ".st-key-map .js-plotly-plot")
    figures = page.get_by_text("10-NN accuracy of the map").first.bounding_box()
    title = box(page, "h1")
    # The map is first under the title; the figures come beside it or under it, never above.
    assert plot["y"] < figures["y"] or plot["x"] + plot["width"] <= figures["x"], (plot, figures)
    assert plot["y"] - (title["y"] + title["height"]) < 120, f"the map starts {plot['y']:.0f} px down"
    assert plot["width"] >= min(width - 40, 560) * 0.85, f"the map is {plot['width']:.0f} px wide"
    if width >= 1024:  # the whole map in the window
        assert plot["y"] + plot["height"] <= height, (plot, height)
    assert page.get_by_test_id("stMetricValue").count() == 0, "the map's figures are a table, not tiles"
    cut = page.evaluate(CUT_TEXTS)
    assert not cut, f"cut at {width} px: {cut}"


def test_a_click_opens_the_inspector_beside_the_map_at_1440(tab, server, explore_link):
    page = open_explore(tab, server, explore_link, 1440, 900)
    index = click_isolated_point(page)
    inspector = page.locator(".st-key-point-inspector")
    inspector.get_by_text(re.compile(r"nearest neighbours in .*'s own space")).wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "explore-layout-inspector-1440.png"))
    plot, panel = box(page, ".st-key-map .js-plotly-plot"), inspector.bounding_box()
    assert panel["x"] >= plot["x"] + plot["width"] - 1, ("the inspector is not beside the map", plot, panel)
    assert 0 <= panel["y"] < 900 - 200, f"the inspector opens {panel['y']:.0f} px down, out of sight"
    marks = page.evaluate(
        "() => document.querySelector('.st-key-map .js-plotly-plot')._fullData"
        ".filter(t => (t.name || '').startsWith('inspected point')).map(t => [t.name, t.marker.color])"
    )
    assert marks and marks[0][0] == f"inspected point #{index}", marks
    colour = str(marks[0][1]).lower()
    assert colour not in {c.lower() for c in plots.DIGIT_COLOURS}, f"the mark is a class's colour: {colour}"
    cut = page.evaluate(CUT_TEXTS)
    assert not cut, f"cut with the inspector open: {cut}"
    page.set_viewport_size({"width": 1024, "height": 768})  # the inspector under the map: nothing cut
    page.wait_for_timeout(800)
    inspector.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "explore-layout-inspector-1024.png"))
    cut = page.evaluate(CUT_TEXTS)
    assert not cut, f"cut with the inspector open at 1024 px: {cut}"


def test_while_tsne_computes_only_its_preview_is_shown(tab, server, explore_link):
    page = open_explore(tab, server, explore_link, 1440, 900)
    page.get_by_test_id("stSidebar").get_by_text("t-SNE", exact=True).click()
    form = page.get_by_test_id("stForm").filter(has_text="t-SNE settings")
    form.wait_for()
    settle(page)  # the rerun after the radio is over: no stale UMAP form to type into
    form.get_by_role("spinbutton", name="Sample size").fill("800")  # seconds of t-SNE: time to see the preview
    form.get_by_role("button", name="Compute the map").click()
    # One look at the page while the preview is up: what else is drawn then (an earlier map, its figures)?
    seen = page.wait_for_function(SEEN_WITH_THE_PREVIEW, polling=100).json_value()
    page.screenshot(path=str(ARTIFACTS / "explore-layout-tsne-preview.png"))
    assert (seen["plots"], seen["figures"]) == (1, 0), f"an earlier map or its figures stay under the preview: {seen}"
    page.get_by_text("10-NN accuracy of the map").first.wait_for(timeout=300_000)  # then the t-SNE map


def test_the_sidebar_names_pages_by_their_text_and_the_icon_is_the_apps(page, server):
    nav = page.get_by_test_id("stSidebarNavItems")
    for name in PAGES:
        link = nav.get_by_role("link", name=name, exact=True)
        assert link.count() == 1, name
        assert link.inner_text().strip() == name, f"the entry reads {link.inner_text()!r}"
    icons = page.evaluate("() => [...document.querySelectorAll('link[rel*=icon]')].map(l => l.href)")
    assert icons, "no tab icon"
    served = urlparse(server["url"]).netloc
    assert all(urlparse(href).netloc in ("", served) for href in icons), icons


def test_keyboard_shortcuts_select_the_misclassified_and_copy_the_link(tab, server, explore_link):
    """Alt+M selects the misclassified points, Alt+L copies the view's link (:mod:`featlib.app.shortcuts`)."""
    query = {k: v for k, v in explore_link.items() if k != "selection"}
    url = f"{server['url']}/explore?{urlencode(query)}"
    page = tab.fresh(url, 1440, 900, timeout_ms=120_000, permissions=["clipboard-read", "clipboard-write"])
    page.get_by_text("10-NN accuracy of the map").first.wait_for(timeout=300_000)
    settle(page)
    label = page.get_by_role("button", name=re.compile(r"Show the [\d,]+ misclassified")).first.inner_text()
    wrong = int(re.search(r"Show the ([\d,]+) misclassified", label).group(1).replace(",", ""))
    assert wrong > 0
    page.keyboard.press("Alt+M")
    page.wait_for_function("() => new URL(location.href).searchParams.has('selection')")
    settle(page)
    selection = dict(p.split("=", 1) for p in urlparse(page.url).query.split("&"))["selection"]
    assert len(selection.split("%2C")) == wrong or len(selection.split(",")) == wrong
    page.keyboard.press("Alt+L")
    page.locator("[data-copied]").first.wait_for(state="attached")
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert "selection=" in copied and copied.startswith(server["url"])


def test_a_3d_map_turns_in_the_2d_maps_colours_and_opens_the_inspector_by_index(tab, server, explore_link):
    """Issue 25, item 4: the map in 3-D (PCA: no compile) is a WebGL scene of one ``scatter3d`` trace per digit in the
    digits' colours; a drag turns it (the camera moves); an index typed opens the same inspector as a click."""
    page = tab.fresh(f"{server['url']}/explore?{urlencode({**explore_link, 'dims': '3'})}", 1440, 900, 120_000)
    page.get_by_text("10-NN accuracy of the map").first.wait_for(timeout=300_000)
    chart = ".st-key-map-3d .js-plotly-plot"
    page.locator(f"{chart} .gl-container canvas").first.wait_for()
    settle(page)
    read = f"() => {{ const el = document.querySelector('{chart}'); return {{eye: el._fullLayout.scene.camera.eye,"
    read += " traces: el._fullData.filter(t => t.customdata).map(t => [t.type, t.name, t.marker.color])}; }"
    before = page.evaluate(read)
    digits = [t for t in before["traces"] if t[1] in {str(i) for i in range(10)}]
    assert len(digits) == 10 and {t[0] for t in digits} == {"scatter3d"}, before["traces"]
    assert {t[2].lower() for t in digits} == {c.lower() for c in plots.DIGIT_COLOURS[:10]}
    scene = box(page, chart)
    x, y = scene["x"] + scene["width"] / 2, scene["y"] + scene["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):  # a drag of 150 px to the right: a turn about the vertical axis
        page.mouse.move(x + 15 * step, y, steps=2)
    page.mouse.up()
    page.wait_for_timeout(500)
    after = page.evaluate(read)
    assert after["eye"] != before["eye"], f"the drag did not turn the map: {before['eye']} -> {after['eye']}"
    page.get_by_label("Inspect point", exact=True).and_(page.get_by_test_id("stNumberInputField")).fill("17")
    page.get_by_role("button", name="Inspect", exact=True).click()
    page.locator(".st-key-point-inspector").get_by_text("Point #17").wait_for()
    settle(page)
    page.screenshot(path=str(ARTIFACTS / "explore-layout-3d-1440.png"))
    assert page.get_by_text("Contours and class labels are drawn on 2-D maps only.").count() == 1
    assert not page.evaluate(CUT_TEXTS)
