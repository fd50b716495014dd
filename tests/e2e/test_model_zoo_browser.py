"""The zoo's odd models through the browser: upload, accuracy as ``model.evaluate``, both methods agree, a map.

The CLI test (``tests/test_model_zoo.py``) takes every model through every
command; here each odd one goes the way a user takes it in Chromium.
"""

from __future__ import annotations

import re

import pytest
from test_browser import goto, methods_verdict
from test_hostile_pages import settle
from test_upload_flow_browser import _attach, open_tab

pytestmark = pytest.mark.e2e

ODD = ["cnn-batchnorm", "keras2-mlp", "two-heads", "fixed-batch", "nested", "rescaling-first", "augmented-resnet"]


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, zoo_models, browser, server):
    folder = tmp_path_factory.mktemp("zoo-browser")  # copies of the run's trained zoo (conftest.zoo_models)
    made = {name: zoo_models(name, folder) for name in ODD}
    # Copies take no time (training them here gave the server time to finish its start): the first upload
    # waits until the server has started, as a user's first page does: the Model page's Train button shows.
    context = browser.new_context()
    try:
        model_page = context.new_page()
        model_page.goto(server["url"] + "/model")
        model_page.get_by_role("button", name="Train", exact=True).wait_for(timeout=300_000)
    finally:
        context.close()
    return made


@pytest.mark.parametrize("name", ODD)
def test_an_odd_model_is_uploaded_scored_and_read_by_both_methods(page, shot, zoo, name):
    saved = zoo[name]
    goto(page, "Model")
    open_tab(page, "Upload a model")
    _attach(page, "Model file", saved.path)
    settle(page)  # the file's rerun gives "Save as" its default from the file name: fill it after
    if saved.scale == "0-255":
        page.get_by_text("raw pixels 0–255", exact=True).click()
        settle(page)
    page.get_by_label("Save as").last.fill(f"zoo-{name}")
    page.get_by_label("Save as").last.press("Enter")
    settle(page)
    page.get_by_role("button", name="Load this model").click()
    try:
        loaded = page.get_by_text(f"Loaded zoo-{name}").inner_text()
    except Exception:
        shot(page, "failure")
        raise
    accuracy = float(re.search(r"Accuracy (\d\.\d{4})", loaded).group(1))
    assert accuracy == pytest.approx(saved.accuracy, abs=1e-4), loaded
    if saved.output:
        page.get_by_text(f"from output {saved.output}").first.wait_for()
    shot(page, "1-loaded")

    goto(page, "Representations")
    page.get_by_role("button", name=re.compile(r"^Compute ")).click()
    page.get_by_text(re.compile(r"1,437 × [\d,]+ outputs")).wait_for(timeout=120_000)
    page.get_by_role("button", name="Check both methods").click()
    assert methods_verdict(page, timeout=120_000) == "agree"
    shot(page, "2-both-methods")

    goto(page, "Explore")
    page.get_by_text("10-NN accuracy of the map").wait_for(timeout=240_000)
    assert page.locator(".js-plotly-plot").first.locator(".legendtext").count() == 10
    shot(page, "3-map")
