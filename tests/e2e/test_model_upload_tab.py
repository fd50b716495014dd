"""Issue 28, item 5: picking a model file keeps the user on the "Upload a model" tab, with "Load this model" in view."""

from __future__ import annotations

import pytest
from test_hostile_pages import settle
from test_upload_flow_browser import IMAGES, LABELS, _add_idx_pair, _attach, _write_idx, open_tab

from featlib import datasets, models

pytestmark = pytest.mark.e2e


def test_picking_a_model_file_keeps_the_upload_tab_open(page, shot, tmp_path):
    path = tmp_path / "small-mlp.keras"
    models.build_mlp((64,), seed=0).save(path)
    x, y = datasets.load_digits().split("train")
    _write_idx(tmp_path / IMAGES, x)
    _write_idx(tmp_path / LABELS, y)
    _add_idx_pair(page, tmp_path)  # its notice above the tabs is shown once: the next rerun draws the page without it
    open_tab(page, "Upload a model")
    _attach(page, "Model file", path)
    settle(page)
    page.wait_for_timeout(1_000)  # any rerun the file started has drawn the tabs again
    settle(page)
    tab = page.get_by_role("tab", name="Upload a model", exact=True)
    shot(page, "after-picking-a-file")
    assert tab.get_attribute("aria-selected") == "true", "the tabs jumped back to another tab"
    assert page.get_by_role("button", name="Load this model").is_visible()
    assert page.get_by_text("small-mlp.keras").first.is_visible()
