"""Images and figures in the page's theme (issue 25, item 6): no white tile or toolbar glares from a dark page."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import plotly.graph_objects as go

from featlib import plots

APP = Path(__file__).resolve().parents[1] / "featlib" / "app"


def test_a_montage_is_dark_ink_on_white_or_the_images_themselves_on_black():
    images = np.zeros((3, 4, 4), dtype=np.uint8)
    images[:, 1:3, 1:3] = 255  # a white stroke on black, as MNIST stores it
    light, dark = plots.montage(images, columns=3), plots.montage(images, columns=3, dark=True)
    assert light.shape == dark.shape == (4 + 2, 3 * 5 + 1)
    assert light[0, 0] == 255 and light[2, 2] == 0  # the ground white, the stroke dark
    assert dark[0, 0] == 0 and dark[2, 2] == 255  # the ground black, the stroke light
    np.testing.assert_array_equal(dark, 255 - light)


def test_every_image_the_pages_draw_goes_through_the_theme():
    inverted = [
        f"{path.relative_to(APP)}:{number}"
        for path in APP.rglob("*.py")
        if path.name != "theme.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"255 - ", line)
    ]
    assert not inverted, f"draw images with featlib.app.theme.ink, not by hand: {inverted}"
    montages = [
        f"{path.relative_to(APP)}:{number}"
        for path in APP.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "plots.montage(" in line and "dark=theme.dark()" not in line
    ]
    assert not montages, f"montages in the page's theme: {montages}"


def test_the_toolbar_takes_the_charts_own_background():
    figure = plots.frame(go.Figure(), title="x")
    assert figure.layout.modebar.bgcolor == "rgba(0,0,0,0)"
