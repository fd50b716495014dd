"""The Compare page at real screen sizes, in Chromium (issue 28, item 6).

Three panels of layers of different widths (dense: 128 units, dense_1: 64, the
softmax output: 10 probabilities). Aligned onto panel 1, every panel stays
readable: its points span at least half of its own axes both ways, at 1440×900,
1024×768 and 390×844 (Procrustes "with scale" on shared axes drew the softmax
panel as a few dots in the middle), and no label or button over them is cut. **Align: off** draws every map as its
reducer made it: each panel's points are a map stored in the workspace,
coordinate for coordinate. Screenshots go to ``test-artifacts/e2e/compare-layout-<width>.png``.
"""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
import pytest
from conftest import ARTIFACTS
from test_explore_layout import CUT_TEXTS

from featlib import models, pipeline
from featlib.store import Workspace

pytestmark = pytest.mark.e2e

SIZES = ((1440, 900), (1024, 768), (390, 844))
LAYERS = ("dense_1", "activation_2", "dense")

# Per panel's plot (not What moved's figures under them): its points (dataset index, x, y) and its axes' ranges.
PANELS = """() => [...document.querySelectorAll('[data-testid=stMain] [class*="st-key-cmp_map_"] .js-plotly-plot')].map(plot => {
  const points = [];
  for (const t of plot._fullData) {
    if (!t.customdata || !t.name || !/^\\d+$/.test(t.name)) continue;  // the class traces, not the marks
    for (let i = 0; i < t.x.length; i++) points.push([t.customdata[i][0], t.x[i], t.y[i]]);
  }
  return {points, x: plot._fullLayout.xaxis.range, y: plot._fullLayout.yaxis.range};
})"""


@pytest.fixture(scope="module")
def compare_link(server, workspace_dir, model) -> dict[str, str]:
    record = models.save_model(Workspace(workspace_dir), model, "compare-layout-mlp", dataset="digits", creator="cl")
    panels = {f"p{i + 1}": f"{record.id}:{layer}:function:pca" for i, layer in enumerate(LAYERS)}
    return {"dataset": "digits", "split": "train", "sample": "all", "k": "8", **panels}


def open_compare(tab, server, query: dict[str, str], width: int, height: int):
    page = tab.fresh(f"{server['url']}/compare?{urlencode(query)}", width, height, timeout_ms=120_000)
    page.get_by_role("heading", name="Metrics").wait_for(timeout=300_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=stMain] [class*=\"st-key-cmp_map_\"] .js-plotly-plot')]"
        f".filter(p => p._fullData).length >= {len(LAYERS)}"
    )
    page.wait_for_timeout(800)
    return page


def spans(panel: dict) -> tuple[float, float]:
    """How much of its own axes a panel's points span, across and up (1: all of it)."""
    xy = np.array([p[1:] for p in panel["points"]], dtype=float)
    (x0, x1), (y0, y1) = panel["x"], panel["y"]
    return float(np.ptp(xy[:, 0]) / abs(x1 - x0)), float(np.ptp(xy[:, 1]) / abs(y1 - y0))


@pytest.mark.parametrize("width, height", SIZES, ids=[f"{w}" for w, _ in SIZES])
def test_every_aligned_panel_stays_readable(tab, server, compare_link, width, height):
    page = open_compare(tab, server, compare_link, width, height)
    page.locator(".js-plotly-plot").nth(len(LAYERS) - 1).scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"compare-layout-{width}.png"))
    panels = page.evaluate(PANELS)
    assert len(panels) == len(LAYERS)
    for layer, panel in zip(LAYERS, panels):
        across, up = spans(panel)
        assert min(across, up) >= 0.5, f"{layer} spans {across:.0%} × {up:.0%} of its axes at {width} px"
    cut = page.evaluate(CUT_TEXTS)
    assert not cut, f"cut at {width} px: {cut}"


def stored_maps(workspace_dir) -> list[dict[int, tuple[float, float]]]:
    workspace = Workspace(workspace_dir)
    found = []
    for item in workspace.items():
        if item.kind == "embedding":
            emb = pipeline.load_embedding(workspace, item.id)
            if emb is not None and emb.coords.shape[1] == 2:  # the server's other tests make 3-D maps too
                found.append({int(i): (float(x), float(y)) for i, (x, y) in zip(emb.indices, emb.coords)})
    return found


def is_stored(panel: dict, maps: list[dict]) -> bool:
    drawn = {int(i): (x, y) for i, x, y in panel["points"]}
    return any(
        stored.keys() == drawn.keys() and all(np.allclose(stored[i], drawn[i], atol=1e-4) for i in drawn)
        for stored in maps
    )


def test_alignment_can_be_switched_off(tab, server, compare_link, workspace_dir):
    page = open_compare(tab, server, compare_link, 1440, 900)
    aligned = page.evaluate(PANELS)
    maps = stored_maps(workspace_dir)
    assert is_stored(aligned[0], maps), "panel 1 is the reference: drawn as made"
    page.get_by_text("off", exact=True).click()
    page.get_by_text("not aligned").first.wait_for()
    page.wait_for_function(  # the panels redrawn: panel 2 no longer where the alignment put it
        "([script, before]) => { const now = eval('(' + script + ')')()[1].points;"
        " return now.some((p, i) => !before[i] || Math.abs(p[1] - before[i][1]) > 1e-6); }",
        arg=[PANELS, aligned[1]["points"]],
    )
    page.wait_for_timeout(1000)
    raw = page.evaluate(PANELS)
    matched = [is_stored(panel, maps) for panel in raw]
    assert all(matched), f"with alignment off, every panel is the map as made; {matched}, {len(maps)} maps"
    assert aligned[1]["points"] != raw[1]["points"], "panel 2 was turned onto panel 1 before"
    page.screenshot(path=str(ARTIFACTS / "compare-layout-not-aligned.png"))
