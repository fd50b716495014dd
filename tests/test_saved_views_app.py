"""AppTest runs: saving a view on Explore and Compare, opening ``?view=<id>`` in a new session, the Workspace row.

Maps are PCA (no Numba compile) of a model stored in a tmp workspace; the
index and the thumbnails are real.
"""

from __future__ import annotations

import io
import re

import pytest
from app_testing import APP, TIMEOUT, no_exception, page_path
from PIL import Image
from streamlit.testing.v1 import AppTest

from featlib import models
from featlib.app import links
from featlib.store import Workspace

USER = "featlib.user_name"  # featlib.app.identity's session key


@pytest.fixture
def stored(tmp_path, monkeypatch, model):
    """A workspace holding the session's trained MLP as "mlp"; returns (workspace, record)."""
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    return ws, models.save_model(ws, model, "mlp", dataset="digits", creator="alice")


def session(query: dict[str, str], page: str, user: str = "") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        at.query_params[key] = value
    if user:
        at.session_state[USER] = user
    at = no_exception(at.run())
    return no_exception(at.switch_page(page).run())


def query_of(at: AppTest) -> dict[str, str]:
    return {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}


def save(at: AppTest, title: str) -> AppTest:
    at.text_input(key=links.SAVE_TITLE).set_value(title)
    at.button(key=links.SAVE_BUTTON).click()
    return no_exception(at.run())


def test_an_explore_view_is_saved_and_its_short_link_opens_it_in_a_new_session(stored):
    ws, record = stored
    long = {
        "model": record.id,
        "dataset": "digits",
        "layer": "dense_1",
        "reducer": "pca",
        "colour": "predicted",
        "selection": "5,17,400",
    }
    at = session(long, page_path("explore"), user="bob")
    assert at.text_input(key=links.SAVE_TITLE).value == "mlp · dense_1 · PCA · coloured by predicted · 3 selected"
    assert query_of(at)["selection"] == "5,17,400"  # not saved yet: the whole view in the URL
    title = "<b>Threes</b> ![x](http://evil/beacon)"
    at = save(at, title)
    [saved] = ws.list_views()
    assert (saved.kind, saved.title, saved.creator) == ("explore", title, "bob")
    assert saved.query["selection"] == "5,17,400" and saved.query["colour"] == "predicted"
    image = Image.open(io.BytesIO(saved.thumbnail))
    assert (image.format, image.size) == ("PNG", (160, 160))
    assert query_of(at) == {"view": saved.id}  # the address bar holds the short link
    line = next(m.value for m in at.markdown if m.value.startswith("Saved as"))
    assert "\\<b\\>Threes\\</b\\> \\!\\[x\\]" in line and f"explore?view={saved.id}`" in line  # plain text, no markup
    assert any("Saved as" in s.value for s in at.success)

    again = save(at, "another title")  # the same view again: the first row, unchanged
    assert any("already saved as" in i.value for i in again.info) and len(ws.list_views()) == 1

    other = session({"view": saved.id}, page_path("explore"))
    assert other.radio(key="map_reducer").value == "pca"
    assert other.selectbox(key="map_colour").value == "predicted"
    assert any("3 selected points" in s.value for s in other.subheader)
    assert query_of(other) == {"view": saved.id}
    assert not other.error

    other.selectbox(key="map_colour").set_value("label")  # another view: not saved, so the whole view in the URL
    other = no_exception(other.run())
    assert query_of(other)["model"] == record.id and "view" not in query_of(other)


@pytest.mark.parametrize(
    ("ident", "message"),
    [
        (
            "zzzzzzzz",
            "No saved view 'zzzzzzzz' in this workspace: it was deleted, or the link comes from another server",
        ),
        ("<b>x</b>", "'<b>x</b>' is not a saved view id: saved views have ids of 8 lowercase letters and digits"),
    ],
)
def test_a_bad_short_link_says_what_was_expected(stored, ident, message):
    at = session({"view": ident}, page_path("explore"))
    assert any(message in e.value.replace("\\", "") for e in at.error), [e.value for e in at.error]


def test_a_comparison_is_saved_and_reopened_and_listed_on_the_workspace_page(stored):
    ws, record = stored
    query = {
        "dataset": "digits",
        "p1": f"{record.id}:dense:function:pca",
        "p2": f"{record.id}:dense_1:function:pca",
        "sample": "300",
    }
    at = session(query, page_path("compare"), user="carol")
    assert at.text_input(key=links.SAVE_TITLE).value == "Compare mlp dense vs mlp dense_1"
    at = save(at, "Two layers")
    [saved] = ws.list_views()
    assert (saved.kind, saved.creator, saved.query["p2"]) == ("compare", "carol", f"{record.id}:dense_1:function:pca")
    assert Image.open(io.BytesIO(saved.thumbnail)).size == (160, 160)
    assert query_of(at) == {"view": saved.id}

    other = session({"view": saved.id}, page_path("compare"))
    assert list(other.dataframe[0].value["layer"]) == ["dense", "dense_1"]
    assert query_of(other) == {"view": saved.id} and not other.error

    wrong_page = session({"view": saved.id}, page_path("explore"))  # a comparison's id on Explore
    assert any(
        f"is a comparison: open it at compare?view={saved.id}" in e.value.replace("\\", "") for e in wrong_page.error
    )

    at = no_exception(at.switch_page(page_path("workspace")).run())
    assert {m.label: m.value for m in at.metric}["saved views"] == "1"
    assert any(m.value.startswith("**Two layers** · Saved view · by **carol**") for m in at.markdown)
    assert any(f"compare?view={saved.id}`" in m.value for m in at.markdown)
    assert len(at.get("image")) >= 1  # the thumbnail
    next(t for t in at.text_input if t.label == "Filter").set_value("mlp dense_1").run()
    assert any(re.match(r"1 of \d+ items", c.value) for c in at.caption)  # the filter reads what the view shows
    at.button(key=next(b.key for b in at.button if b.key and b.key.startswith("open-view-"))).click()
    at = no_exception(at.run())
    assert list(at.dataframe[0].value["layer"]) == ["dense", "dense_1"]  # the Compare page, on the saved view
