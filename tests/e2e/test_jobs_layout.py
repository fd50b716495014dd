"""The Jobs page's table at real screen sizes, in Chromium (issue 28, item 11).

At 1440×900 the job table's last columns were cut: its grid scrolled sideways and the headers past the right edge
could not be read. Here the list holds real finished jobs (the reading and the PCA map of a model with a long name,
made through Explore) and a failed one with a long error; at 1440×900 and 1024×768 the grid does not scroll
sideways, every column it draws is in view, and each header's text fits its column. Screenshots go to
``test-artifacts/e2e/jobs-layout-<width>.png``.
"""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from conftest import ARTIFACTS

from featlib import models
from featlib.store import Workspace

pytestmark = pytest.mark.e2e

SIZES = ((1440, 900), (1024, 768))
LONG_NAME = "t10k-images-idx3-ubyte.gz + t10k-labels-idx1-ubyte.gz (MNIST-like IDX, 10 classes, 10,000 images, 28×28)"
"""The default name of an uploaded MNIST (91 characters): the longest "what" a newcomer's jobs have."""

# The grid as glide-data-grid laid it out: its scroller's widths, the headers it wrote for screen readers (only the
# columns in view), and each column's title and width (read from the grid's React props: the headers themselves are
# drawn on a canvas) with the width of its title in the header's font, measured as the grid measures it.
MEASURE = """(frame) => {
  const scroller = frame.querySelector('.dvn-scroller');
  const canvas = frame.querySelector('canvas');
  const fiberKey = Object.keys(canvas).find(k => k.startsWith('__reactFiber$'));
  let fiber = canvas[fiberKey], columns = null;
  for (; fiber && !columns; fiber = fiber.return) {
    const p = fiber.memoizedProps;
    if (p && Array.isArray(p.columns) && p.columns.length
        && p.columns.every(c => c && typeof c.width === 'number' && typeof c.title === 'string')) columns = p.columns;
  }
  const styled = canvas.closest('[style*="--gdg-header-font-style"]') || frame;
  const css = getComputedStyle(styled);
  const font = `${css.getPropertyValue('--gdg-header-font-style').trim()} ${css.getPropertyValue('--gdg-font-family').trim()}`;
  const padding = parseFloat(css.getPropertyValue('--gdg-cell-horizontal-padding')) || 8;
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = font;
  return {
    scroll: scroller.scrollWidth, client: scroller.clientWidth, frame: frame.getBoundingClientRect().width,
    headers: [...frame.querySelectorAll('[role=columnheader]')].map(h => h.textContent),
    columns: (columns || []).filter(c => c.title).map(c => ({
      title: c.title, width: c.width, needs: Math.ceil(ctx.measureText(c.title).width + 2 * padding),
    })),
    font,
  };
}"""


@pytest.fixture(scope="module")
def finished_jobs(shared_tab, server, workspace_dir, model) -> Workspace:
    """The session server's workspace with real finished jobs of a long-named model and a failed one."""
    workspace = Workspace(workspace_dir)
    record = models.save_model(workspace, model, LONG_NAME, dataset="digits", creator="jobs-layout")
    query = {"model": record.id, "dataset": "digits", "layer": "dense_1", "reducer": "pca"}
    page = shared_tab.fresh(f"{server['url']}/explore?{urlencode(query)}", 1440, 900, timeout_ms=120_000)
    page.get_by_text("10-NN accuracy of the map").first.wait_for(timeout=300_000)  # its jobs have run
    shared_tab.blank()
    workspace.jobs.add(
        "jobs-layout-failed",
        f"rep/{record.fingerprint}/digits/train/dense_2/function/0-1",
        "extract",
        title="Reading the outputs of dense_2 on 10,000 images",
        creator="a colleague with a long name",
    )
    workspace.jobs.update(
        "jobs-layout-failed",
        status="failed",
        progress=0.4,
        progress_text="batch 4 of 10",
        error="MemoryError: Unable to allocate 3.8 GiB for an array with shape (10000, 100352) and data type float32",
    )
    assert any(j.status == "done" for j in workspace.jobs.list()), workspace.jobs.list()
    return workspace


@pytest.mark.parametrize("width, height", SIZES, ids=[f"{w}" for w, _ in SIZES])
def test_the_job_table_fits_and_every_header_reads_whole(tab, server, finished_jobs, width, height):
    page = tab.fresh(f"{server['url']}/jobs", width, height)
    page.locator("h1").filter(has_text="Jobs").wait_for()
    table = page.get_by_test_id("stDataFrame").first
    table.locator("[role=columnheader]").first.wait_for(state="attached")
    page.evaluate("() => document.fonts.ready.then(() => true)")
    page.wait_for_timeout(1000)  # the grid sizes its columns to the loaded font
    page.screenshot(path=str(ARTIFACTS / f"jobs-layout-{width}.png"))
    measured = table.evaluate(MEASURE)
    (ARTIFACTS / f"jobs-layout-{width}.txt").write_text(repr(measured))
    columns = measured["columns"]
    assert columns, f"no columns read from the grid: {measured}"
    assert measured["scroll"] <= measured["client"] + 1, (
        f"at {width} px the table scrolls sideways: {measured['scroll']} px wide in {measured['client']} px; "
        f"{[(c['title'], c['width']) for c in columns]}"
    )
    titles = [c["title"] for c in columns]
    assert measured["headers"] == titles, f"at {width} px headers out of view: {measured['headers']} of {titles}"
    cut = [f"{c['title']!r} needs {c['needs']} px, has {c['width']} px" for c in columns if c["width"] < c["needs"]]
    assert not cut, f"at {width} px, cut headers: {cut}"
