"""The Compare page in Chromium: epoch 1 against the trained model, with linked selection."""

from __future__ import annotations

import pytest
from test_browser import goto, lasso, model_page_on_digits

pytestmark = pytest.mark.e2e


def trace_names(plot) -> list[str]:
    return plot.evaluate("el => el.data.map(t => t.name)")


def test_compare_epoch_1_with_the_trained_model_and_link_selections(page, shot):
    model_page_on_digits(page)
    page.get_by_label("Epochs", exact=True).fill("2")
    page.get_by_role("textbox", name="Save checkpoints after epoch").fill("1")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Checkpoints saved").wait_for(timeout=120_000)

    goto(page, "Compare")
    page.get_by_test_id("stSelectbox").filter(has_text="Reducer").first.click()
    page.get_by_role("option", name="PCA").click()
    page.get_by_text(", by PCA:").wait_for()  # the quick comparisons now use PCA
    page.get_by_role("button", name="This layer across checkpoints").click()
    page.get_by_role("heading", name="Metrics").wait_for(timeout=120_000)
    plots = page.locator(".js-plotly-plot")
    plots.nth(1).locator("canvas").first.wait_for()
    shot(page, "1-panels")
    titles = [plots.nth(i).evaluate("el => el.layout.title.text") for i in range(2)]
    assert "@epoch1 · dense_1" in titles[0] and "@epoch1" not in titles[1], titles
    assert page.get_by_text("10-NN acc. layer").count() == 2

    assert "highlighted" not in trace_names(plots.nth(1))
    lasso(page, plots.nth(0).locator(".nsewdrag").first)
    page.get_by_role("heading").filter(has_text="highlighted in every panel").wait_for()
    heading = page.get_by_role("heading").filter(has_text="selected points").inner_text()
    assert int(heading.split()[0].replace(",", "")) > 0
    page.wait_for_function(
        "() => { const p = document.querySelectorAll('.js-plotly-plot');"
        " return p.length > 1 && p[1].data && p[1].data.some(t => t.name === 'highlighted'); }"
    )
    assert "highlighted" in trace_names(plots.nth(0))
    shot(page, "2-linked-selection")
