"""The Explore page's point inspector in Chromium: one click on a point shows its image, labels and neighbours."""

from __future__ import annotations

import re
from urllib.parse import urlencode

import pytest

from featlib import embed
from featlib.store import Workspace
from featlib.views import View
from test_browser import goto

pytestmark = pytest.mark.e2e

# The screen position of the map's most isolated point (farthest from the others' centre), and its index.
ISOLATED_POINT = """el => {
    const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis, box = el.getBoundingClientRect();
    const pts = [];
    el._fullData.forEach(t => { for (let i = 0; i < t.x.length; i++) pts.push([t.x[i], t.y[i], t.customdata[i][0]]); });
    const cx = pts.reduce((s, p) => s + p[0], 0) / pts.length, cy = pts.reduce((s, p) => s + p[1], 0) / pts.length;
    const far = pts.reduce((a, p) => (Math.hypot(p[0] - cx, p[1] - cy) > Math.hypot(a[0] - cx, a[1] - cy) ? p : a));
    return [box.left + xa._offset + xa.l2p(far[0]), box.top + ya._offset + ya.l2p(far[1]), far[2]];
}"""


def test_one_click_on_a_point_shows_its_image_labels_confidence_and_neighbours(page, server, shot, workspace_dir):
    goto(page, "Model")
    page.get_by_label("Epochs", exact=True).fill("2")
    page.get_by_label("Save as").first.fill("inspector-mlp")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("test accuracy").wait_for(timeout=120_000)
    [record] = [r for r in Workspace(workspace_dir).list_models() if r.name == "inspector-mlp"]
    view = View(record.id, "digits", "dense_1", params=embed.PCAParams())  # PCA: no UMAP compile in the test
    page.goto(f"{server['url']}/explore?{urlencode(view.to_query())}")

    plot = page.locator(".st-key-map .js-plotly-plot")
    plot.locator("canvas").first.wait_for(timeout=120_000)
    page.get_by_text("10-NN accuracy of the map").wait_for(timeout=120_000)
    plot.scroll_into_view_if_needed()
    x, y, index = plot.evaluate(ISOLATED_POINT)
    page.mouse.click(x, y)

    inspector = page.locator(".st-key-point-inspector")
    inspector.get_by_role("heading", name=f"Point #{int(index)}").wait_for()
    for label in ("true label", "predicted label", "confidence"):
        assert inspector.get_by_test_id("stMetricLabel").filter(has_text=label).count() == 1
    confidence = float(inspector.get_by_test_id("stMetricValue").nth(2).inner_text())
    assert 0.0 < confidence <= 1.0
    inspector.get_by_text("8 nearest neighbours in dense_1's own space").wait_for()
    assert inspector.locator("img").count() == 1 + 8  # the point, large, and its neighbours
    captions = inspector.get_by_test_id("stImageCaption").all_inner_texts()
    assert sum(bool(re.fullmatch(r"#\d+ · \S+( → \S+)? · [\d.e+-]+", c)) for c in captions) == 8, captions
    marked = plot.evaluate("el => el.data.map(t => t.name)")
    assert marked[-1] == f"inspected point #{int(index)}"
    assert "selected points" not in page.locator("h3").all_inner_texts()  # a click selects nothing

    for width in (1280, 1920):
        page.set_viewport_size({"width": width, "height": 1100})
        inspector.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        shot(page, f"{width}")
