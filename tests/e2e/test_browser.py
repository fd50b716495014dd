"""The dashboard in Chromium: the main flow, uploads and their error paths."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from featlib import datasets
from featlib.serve import settle
from featlib.store import Workspace

pytestmark = pytest.mark.e2e


def goto(page, name: str) -> None:
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name=name, exact=True).click()
    page.locator("h1").filter(has_text=name).wait_for()


def model_page_on_digits(page) -> None:
    """The Model page with the bundled digits picked: a new session starts on the server's latest model and its
    data (which another test of the shared server may have made an upload with no train split)."""
    goto(page, "Model")
    page.get_by_role("combobox", name="Dataset").click()
    page.get_by_role("option").filter(has_text=datasets.BUILTIN_DATASETS["digits"]).click()
    page.get_by_label("Epochs", exact=True).wait_for()
    settle(page)


def upload(page, label: str, path) -> None:
    uploader = page.get_by_test_id("stFileUploader").filter(has_text=label)
    uploader.locator("input[type=file]").set_input_files(str(path))
    page.get_by_text(path.name).first.wait_for()


def alert_text(page) -> str:
    alert = page.get_by_test_id("stAlertContentError").first
    alert.wait_for()
    return alert.inner_text()


def server_is_up(server) -> bool:
    with urllib.request.urlopen(server["url"] + "/_stcore/health", timeout=5) as response:
        return response.read() == b"ok"


def lasso(page, plot) -> None:
    """Draws a lasso around the middle of a plotly chart (picking its Lasso Select tool first when another is active)."""
    plot.scroll_into_view_if_needed()
    chart = plot.locator("xpath=ancestor::div[contains(@class, 'js-plotly-plot')]").first
    if chart.evaluate("el => el._fullLayout.dragmode") != "lasso":  # the Explore map opens with the zoom tool
        chart.hover()
        chart.locator(".modebar-btn[data-val='lasso']").first.click()
    box = plot.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    w, h = box["width"] * 0.4, box["height"] * 0.4
    corners = [(cx - w, cy - h), (cx + w, cy - h), (cx + w, cy + h), (cx - w, cy + h), (cx - w, cy - h)]
    page.mouse.move(*corners[0])
    page.mouse.down()
    for x, y in corners[1:]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()


def methods_verdict(page, timeout: float = 30_000) -> str:
    """What the Representations page's "Check both methods" says: "agree" or "differ".

    The verdict is drawn after the largest difference, so it is waited for itself, whichever it says.
    """
    verdict = page.get_by_test_id("stMetricValue").filter(has_text=re.compile(r"^(agree|differ)$"))
    verdict.wait_for(timeout=timeout)
    return verdict.inner_text()


def test_main_flow_train_extract_map_select(page, shot, workspace_dir):
    shot(page, "1-home")
    model_page_on_digits(page)
    page.get_by_label("Epochs").fill("5")
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("test accuracy").wait_for(timeout=120_000)
    shot(page, "2-trained")

    goto(page, "Representations")
    page.get_by_role("button", name="Compute dense_1").click()
    page.get_by_text("1,437 × 64 outputs").wait_for()
    page.get_by_role("button", name="Check both methods").click()
    assert methods_verdict(page) == "agree"
    shot(page, "3-representations")

    goto(page, "Explore")
    page.get_by_text("10-NN accuracy of the map").wait_for(timeout=240_000)
    plot = page.locator(".js-plotly-plot").first
    plot.locator("canvas").first.wait_for()
    assert plot.locator(".legendtext").count() == 10
    shot(page, "4-map")

    lasso(page, plot.locator(".nsewdrag").first)
    page.get_by_text("selected points").wait_for()
    heading = page.get_by_role("heading").filter(has_text="selected points").inner_text()
    assert int(heading.split()[0].replace(",", "")) > 0
    page.get_by_test_id("stImage").first.wait_for()
    shot(page, "5-selection")
    usage = Workspace(workspace_dir).usage()
    assert usage["models"] >= 1 and usage["representations"] >= 1 and usage["embeddings"] >= 1


def test_a_reused_tab_forgets_the_user_storage_and_permissions_of_the_test_before(tab, server):
    """The tests share one tab (conftest.Tab): what one test leaves (a user's name in its cookie, local and session
    storage, a clipboard permission, the viewport) is gone for the next, as in a new browser context."""
    page = tab.fresh(server["url"], 800, 600, permissions=["clipboard-read", "clipboard-write"])
    page.get_by_role("textbox", name="Your name").fill("leaky")
    page.get_by_role("button", name="Save name").click()
    page.get_by_text("You are leaky").wait_for()
    page.wait_for_function("() => document.cookie.includes('featlib_user=leaky')")  # set by a component's script
    page.evaluate("() => { localStorage.setItem('leak', '1'); sessionStorage.setItem('leak', '1'); }")
    read = """async () => [document.cookie, localStorage.getItem('leak'), sessionStorage.getItem('leak'), innerWidth,
        (await navigator.permissions.query({name: 'clipboard-read'})).state]"""
    cookie, *left = page.evaluate(read)
    assert "featlib_user=leaky" in cookie and left == ["1", "1", 800, "granted"], (cookie, left)
    page = tab.fresh(server["url"])
    page.get_by_role("textbox", name="Your name").wait_for()  # nobody known: the name is asked again
    assert page.get_by_text("You are leaky").count() == 0
    cookie, *left = page.evaluate(read)
    assert "featlib_user" not in cookie and left == [None, None, 1400, "prompt"], (cookie, left)


def test_the_server_start_up_loads_keras_without_deadlocking_the_pages(page, server):
    """The start-up thread imported Keras while the first page waited for it; its log has no error."""
    goto(page, "Model")  # a page that waits for the start-up's imports, then uses Keras
    page.get_by_role("button", name="Train", exact=True).wait_for()
    log = Path(server["log"].name).read_text()
    assert "featlib start-up" not in log and "DeadlockError" not in log


def test_upload_a_keras_model(page, shot, tmp_path, workspace_dir):
    from featlib.models import build_mlp

    path = tmp_path / "digits-mlp.keras"
    build_mlp((64,), hidden=(32,)).save(path)
    goto(page, "Model")
    page.get_by_role("tab", name="Upload a model").click()
    upload(page, "Model file", path)
    page.get_by_role("button", name="Load this model").click()
    page.get_by_text("Loaded digits-mlp").wait_for()
    shot(page, "uploaded")
    assert "digits-mlp" in [r.name for r in Workspace(workspace_dir).list_models()]


def test_upload_a_dataset(page, shot, tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "blobs.npz"
    np.savez(path, x=rng.integers(0, 256, (300, 10, 10), dtype=np.uint8), y=np.arange(300) % 3)
    goto(page, "Model")
    page.get_by_text("Upload a dataset").click()
    upload(page, "Dataset .npz", path)
    page.get_by_role("button", name="Add this dataset").click()
    page.get_by_text("240 train + 60 test images, 10×10, 3 classes").first.wait_for()
    shot(page, "uploaded")


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("lambda.keras", "Lambda"),
        ("truncated.keras", "not a Keras 3 .keras file"),
        ("empty.keras", "empty"),
        ("wrong-input.keras", "expects flat inputs of 50 values"),
    ],
)
def test_bad_model_uploads_are_explained_and_change_nothing(
    page, shot, server, tmp_path, workspace_dir, kind, expected
):
    import keras

    from featlib.models import build_mlp

    path = tmp_path / kind
    if kind == "lambda.keras":
        inputs = keras.Input((64,))
        keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs)).save(path)
    elif kind == "truncated.keras":
        build_mlp((64,)).save(path)
        path.write_bytes(path.read_bytes()[:2000])
    elif kind == "empty.keras":
        path.write_bytes(b"")
    else:
        build_mlp((50,)).save(path)
    before = Workspace(workspace_dir).list_models()
    goto(page, "Model")
    page.get_by_role("tab", name="Upload a model").click()
    upload(page, "Model file", path)
    page.get_by_role("button", name="Load this model").click()
    assert expected in alert_text(page)
    shot(page, kind)
    assert server_is_up(server)
    assert Workspace(workspace_dir).list_models() == before


def test_a_dataset_with_nan_images_is_refused(page, shot, server, tmp_path, workspace_dir):
    path = tmp_path / "nan.npz"
    x = np.random.default_rng(0).random((100, 8, 8))
    x[3, 2, 2] = np.nan
    np.savez(path, x=x, y=np.arange(100) % 2)
    before = Workspace(workspace_dir).list_datasets()
    goto(page, "Model")
    page.get_by_text("Upload a dataset").click()
    upload(page, "Dataset .npz", path)
    page.get_by_role("button", name="Add this dataset").click()
    assert "NaN" in alert_text(page)
    shot(page, "nan")
    assert server_is_up(server)
    assert Workspace(workspace_dir).list_datasets() == before
