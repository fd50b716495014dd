"""The notebook widget (``featlib.explore``, issue 25 item 1) in a real JupyterLab, driven in Chromium.

This test starts ``jupyter lab`` on loopback with a token, a temporary root folder and temporary Jupyter and
IPython folders (nothing of the user's is read or written), opens a notebook whose first cell calls
``featlib.explore`` on the bundled digits' test split with a workspace where the map is already stored (this
process made it, through the same service), runs it, drags a box on the widget's map, then runs a cell printing
``w.selected``: the indices printed are those of the points inside the box, computed here from the map's
coordinates and the widget's canvas layout (:data:`featlib.notebook.widget.LAYOUT`). A screenshot of the widget
in JupyterLab at 1,440 pixels goes to ``test-artifacts/issue25/notebook-widget-jupyterlab.png``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import featlib
from featlib import models
from featlib.maps import embed
from featlib.notebook.widget import LAYOUT
from featlib.serve import free_port, stop, wait_answering
from featlib.store import Workspace

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "issue25"
TOKEN = "featlib-test-token"


@contextlib.contextmanager
def running_lab(folder: Path, log_path: Path) -> Iterator[str]:
    """``jupyter lab`` on a free loopback port, serving ``folder / "root"``, until the block ends; yields its URL.

    Its configuration, data, runtime, settings and IPython folders are under ``folder``; its kernels import
    this checkout's featlib (``PYTHONPATH``) and run this virtualenv's Python (``PATH``).
    """
    port, root = free_port(), folder / "root"
    dirs = {
        name: folder / name.lower()
        for name in (
            "JUPYTER_CONFIG_DIR",
            "JUPYTER_DATA_DIR",
            "JUPYTER_RUNTIME_DIR",
            "IPYTHONDIR",
            "JUPYTERLAB_SETTINGS_DIR",
            "JUPYTERLAB_WORKSPACES_DIR",
        )
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    # No news or update checks (no network here), and no notification toast over the notebook.
    settings = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    # No autosave: nothing here needs the notebook saved, and a save after two minutes on a loaded machine could
    # open a dialog over the cells.
    docmanager = dirs["JUPYTERLAB_SETTINGS_DIR"] / "@jupyterlab" / "docmanager-extension"
    docmanager.mkdir(parents=True)
    (docmanager / "plugin.jupyterlab-settings").write_text(json.dumps({"autosave": False}))
    env = dict(
        os.environ,
        **{name: str(path) for name, path in dirs.items()},
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
        JUPYTER_PLATFORM_DIRS="1",
    )
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                f"--IdentityProvider.token={TOKEN}",
                "--allow-root",
                "--LabApp.extension_manager=readonly",
                f"--ServerApp.port={port}",
                "--ServerApp.port_retries=0",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.root_dir={root}",
                "--LabApp.news_url=None",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_answering(f"{url}/api/status?token={TOKEN}", process, name="jupyter lab", timeout=120)
            except RuntimeError as error:
                raise RuntimeError(f"{error}: see {log_path}") from None
            yield url
        finally:
            stop(process)


def notebook(workspace: Path) -> dict:
    """A notebook of two cells: the map of the stored workspace, then the selection."""
    explore = (
        "import featlib\n"
        "from featlib import datasets\n"
        "from featlib.maps import embed\n\n"
        f"w = featlib.explore('seed-mlp', datasets.load_digits(), split='test', layer='dense_1', workspace={str(workspace)!r}, params=embed.PCAParams())\n"
        "w"
    )
    cells = [explore, "print('selected:', w.selected)"]
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"cell{i}", "metadata": {}, "outputs": [], "source": s}
            for i, s in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def canvas_positions(coords: np.ndarray) -> np.ndarray:
    """Where ``widget.js`` draws each point on its canvas, in CSS pixels (:data:`featlib.notebook.widget.LAYOUT`)."""
    width, height, margin = LAYOUT["width"], LAYOUT["height"], LAYOUT["margin"]
    low, span = coords.min(axis=0), np.ptp(coords, axis=0)
    span[span == 0] = 1
    x = margin + (coords[:, 0] - low[0]) / span[0] * (width - 2 * margin)
    y = height - margin - (coords[:, 1] - low[1]) / span[1] * (height - 2 * margin)
    return np.stack([x, y], axis=1)


def clear_edge(values: np.ndarray, near: float, gap: float = 2.0) -> float:
    """A whole pixel near ``near`` with no point within ``gap`` pixels of it (a box edge no rounding moves a point over)."""
    for offset in range(200):
        for edge in (round(near) + offset, round(near) - offset):
            if not np.any(np.abs(values - edge) < gap):
                return float(edge)
    raise AssertionError(f"no clear pixel near {near}")


def clear_box(pixels: np.ndarray, fractions: tuple[float, float, float, float]):
    """A box near ``(left, top, right, bottom)`` (fractions of the canvas) whose sides pass no point, and which points
    it holds: ``((x0, y0, x1, y1), inside)``, ``inside`` a bool mask of the points."""
    width, height = LAYOUT["width"], LAYOUT["height"]
    x0, x1 = (clear_edge(pixels[:, 0], f * width) for f in fractions[0::2])
    y0, y1 = (clear_edge(pixels[:, 1], f * height) for f in fractions[1::2])
    inside = (pixels[:, 0] > x0) & (pixels[:, 0] < x1) & (pixels[:, 1] > y0) & (pixels[:, 1] < y1)
    return (x0, y0, x1, y1), inside


def run_cell(page, cell, attempts: int = 3) -> None:
    """Runs a notebook ``cell`` (Shift+Enter in its editor) until its prompt shows it queued or run (``[*]``, ``[1]``).

    A key pressed while JupyterLab is still busy on a loaded machine can be lost; the cell is then asked again.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    prompt, dialog = cell.locator(".jp-InputPrompt"), page.locator(".jp-Dialog")
    for attempt in range(attempts):
        try:
            cell.locator(".cm-content").click(timeout=60_000)
        except PlaywrightTimeout:
            if dialog.count():  # the click waited behind it: say what it says
                pytest.fail(f"JupyterLab showed a dialog over the notebook: {dialog.first.inner_text()!r}")
            raise
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_function(r"p => /\[(\*|\d+)\]/.test(p.textContent)", arg=prompt.element_handle(), timeout=15_000)  # fmt: skip
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise


def test_a_box_dragged_on_the_widget_in_jupyterlab_comes_back_as_w_selected(browser, digits, model, tmp_path):
    workspace = Workspace(tmp_path / "ws")
    models.save_model(workspace, model, "seed-mlp", dataset="digits")
    # The map stored in this process (PCA: instant); the kernel's featlib.explore finds it through the same keys.
    made = featlib.explore(
        "seed-mlp", digits, split="test", layer="dense_1", workspace=workspace, params=embed.PCAParams()
    )
    (tmp_path / "lab" / "root").mkdir(parents=True)
    (tmp_path / "lab" / "root" / "explore.ipynb").write_text(json.dumps(notebook(workspace.root)))

    pixels = canvas_positions(made.coords)
    (x0, y0, x1, y1), inside = clear_box(pixels, (0.30, 0.30, 0.62, 0.66))
    expected = sorted(int(i) for i in np.asarray(made.indices)[inside])
    assert 10 <= len(expected) < len(made.indices)  # a box that tells a selection from none and from all
    lasso, in_lasso = clear_box(pixels, (0.55, 0.12, 0.90, 0.45))  # a lasso drawn along another box's sides
    assert 5 <= in_lasso.sum() != len(expected)

    SHOTS.mkdir(parents=True, exist_ok=True)
    with running_lab(tmp_path / "lab", SHOTS / "jupyterlab.log") as url:
        context = browser.new_context(viewport={"width": 1440, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(120_000)
        try:
            page.goto(f"{url}/lab/tree/explore.ipynb?token={TOKEN}")
            cells = page.locator(".jp-Notebook .jp-CodeCell")
            cells.nth(1).wait_for()
            page.locator(".jp-Notebook-ExecutionIndicator[data-status=idle]").wait_for()  # the kernel is up
            run_cell(page, cells.nth(0))
            overlay = page.locator(".featlib-map-overlay")
            overlay.wait_for(timeout=300_000)  # the kernel imports TensorFlow: a minute on a loaded machine
            page.get_by_text(f"{len(made.indices)} points", exact=True).wait_for()  # drawn, listening

            box = overlay.bounding_box()
            page.mouse.move(box["x"] + x0, box["y"] + y0)
            page.mouse.down()
            for step in range(1, 11):
                page.mouse.move(box["x"] + x0 + (x1 - x0) * step / 10, box["y"] + y0 + (y1 - y0) * step / 10)
            page.mouse.up()
            page.get_by_text(f"{len(expected)} of {len(made.indices)} points selected").wait_for()
            page.locator(".featlib-map-overlay").hover(position={"x": float(pixels[0, 0]), "y": float(pixels[0, 1])})
            page.locator(".featlib-map-root").screenshot(path=str(SHOTS / "notebook-widget.png"))

            run_cell(page, cells.nth(1))
            printed = cells.nth(1).locator(".jp-OutputArea-output").filter(has_text="selected:")
            printed.wait_for()
            text = printed.inner_text()
            page.screenshot(path=str(SHOTS / "notebook-widget-jupyterlab.png"))  # the widget and w.selected

            # A lasso: the polygon the pointer draws, here along the sides of a second box.
            page.get_by_role("button", name="Lasso select").click()
            lx0, ly0, lx1, ly1 = lasso
            corners = [(lx0, ly0), (lx1, ly0), (lx1, ly1), (lx0, ly1), (lx0, ly0)]
            page.mouse.move(box["x"] + lx0, box["y"] + ly0)
            page.mouse.down()
            for (ax, ay), (bx, by) in zip(corners, corners[1:]):
                for step in range(1, 6):
                    page.mouse.move(box["x"] + ax + (bx - ax) * step / 5, box["y"] + ay + (by - ay) * step / 5)
            page.mouse.up()
            page.get_by_text(f"{in_lasso.sum()} of {len(made.indices)} points selected").wait_for()
        finally:
            context.close()
    found = json.loads(re.search(r"selected:\s*(\[.*\])", text, re.S).group(1))
    assert found == expected
